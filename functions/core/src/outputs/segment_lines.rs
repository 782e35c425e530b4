//! Batch segment output lines (`{"input": …, "output": {"usersList": [...]}, "error": …}`),
//! read as a stream: a line naming five million users is never whole in memory. Each user is
//! handed over as it is read, with the line's input when it came before them (both backends
//! write it first); the line's input, error and scores (the reference container's, Personalize
//! gives none) come back when it ends.
//!
//! The users member is `usersList`, as Personalize writes it; `recommendedUsers`, as AWS's page
//! of examples shows it, is read too.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, BufRead, Read};

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// What a line said besides its users.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SegmentLine {
    pub input: serde_json::Value,
    /// The line's `error`, when it carries one (it then has no output).
    pub error: Option<String>,
    /// Users the line listed.
    pub users: u64,
    /// One per user, when the line gives scores.
    pub scores: Option<Vec<f64>>,
    /// Whether the line had an `output` object.
    pub answered: bool,
}

/// What one read found.
#[derive(Debug, PartialEq)]
pub enum LineRead {
    /// The end of the input.
    End,
    Line(SegmentLine),
    /// A line that is not one (its reason); the users already handed over for it are void.
    Unreadable(String),
}

/// What a line's users are handed to: `(input, user_id, rank)`, best first (rank 0 first); the
/// input is `Null` when the line gives it after its users.
pub type OnUser<'a> = dyn FnMut(&serde_json::Value, &str, u64) + 'a;

/// Reads the next non-blank line of `reader`, calling `on_user` for each user it lists. The
/// reader is left at the start of the following line.
pub fn read_segment_line<R: BufRead>(reader: &mut R, on_user: &mut OnUser<'_>) -> io::Result<LineRead> {
    if !skip_blank_lines(reader)? {
        return Ok(LineRead::End);
    }
    let mut line = OneLine {
        inner: reader,
        done: false,
    };
    let mut de = serde_json::Deserializer::from_reader(&mut line);
    let parsed = LineSeed { on_user }
        .deserialize(&mut de)
        .and_then(|line| de.end().map(|()| line));
    // The rest of the line, whatever became of it, so the next read starts at the next line.
    io::copy(&mut line, &mut io::sink())?;
    Ok(match parsed {
        Ok(line) => LineRead::Line(line),
        Err(e) if e.is_io() => return Err(e.into()),
        Err(e) => LineRead::Unreadable(format!("not a batch segment line: {e}")),
    })
}

/// Consumes whitespace-only lines; `false` at the end of the input.
fn skip_blank_lines<R: BufRead>(reader: &mut R) -> io::Result<bool> {
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(false);
        }
        match available.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => {
                // Leading spaces of the line itself go too; JSON allows them anyway.
                reader.consume(i);
                return Ok(true);
            }
            None => {
                let all = available.len();
                reader.consume(all);
            }
        }
    }
}

/// The rest of the current line (its newline included), as a reader.
struct OneLine<'a, R> {
    inner: &'a mut R,
    done: bool,
}

impl<R: BufRead> Read for OneLine<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        let available = self.inner.fill_buf()?;
        if available.is_empty() {
            self.done = true;
            return Ok(0);
        }
        // Only as far as the caller takes (the JSON reader takes a byte at a time).
        let window = &available[..available.len().min(buf.len())];
        let (take, done) = match window.iter().position(|b| *b == b'\n') {
            Some(newline) => (newline + 1, true),
            None => (window.len(), false),
        };
        buf[..take].copy_from_slice(&window[..take]);
        self.inner.consume(take);
        self.done = done;
        Ok(take)
    }
}

struct LineSeed<'a, 'f> {
    on_user: &'a mut OnUser<'f>,
}

impl<'de> DeserializeSeed<'de> for LineSeed<'_, '_> {
    type Value = SegmentLine;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<SegmentLine, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for LineSeed<'_, '_> {
    type Value = SegmentLine;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(r#"an object {"input", "output", "error"}"#)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SegmentLine, A::Error> {
        let mut line = SegmentLine::default();
        while let Some(key) = map.next_key::<Cow<str>>()? {
            match key.as_ref() {
                "input" => line.input = map.next_value()?,
                "error" => {
                    line.error = map
                        .next_value::<Option<serde_json::Value>>()?
                        .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_owned))
                }
                "output" => {
                    let output = map.next_value_seed(OutputSeed {
                        input: &line.input,
                        on_user: &mut *self.on_user,
                    })?;
                    if let Some((users, scores)) = output {
                        line.answered = true;
                        line.users = users;
                        line.scores = scores;
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(line)
    }
}

/// `output`: `null`, or an object with the users (and perhaps scores).
struct OutputSeed<'a, 'f> {
    input: &'a serde_json::Value,
    on_user: &'a mut OnUser<'f>,
}

type Output = Option<(u64, Option<Vec<f64>>)>;

impl<'de> DeserializeSeed<'de> for OutputSeed<'_, '_> {
    type Value = Output;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Output, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for OutputSeed<'_, '_> {
    type Value = Output;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(r#"null or an object {"usersList": [...]}"#)
    }

    fn visit_none<E>(self) -> Result<Output, E> {
        Ok(None)
    }

    fn visit_unit<E>(self) -> Result<Output, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Output, D::Error> {
        deserializer.deserialize_map(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Output, A::Error> {
        let (mut users, mut scores) = (0, None);
        while let Some(key) = map.next_key::<Cow<str>>()? {
            match key.as_ref() {
                "usersList" | "recommendedUsers" => {
                    users = map.next_value_seed(UsersSeed {
                        input: self.input,
                        on_user: &mut *self.on_user,
                    })?
                }
                "scores" => scores = Some(map.next_value::<Vec<f64>>()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some((users, scores)))
    }
}

/// The users, each handed over as it is read; how many.
struct UsersSeed<'a, 'f> {
    input: &'a serde_json::Value,
    on_user: &'a mut OnUser<'f>,
}

impl<'de> DeserializeSeed<'de> for UsersSeed<'_, '_> {
    type Value = u64;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<u64, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for UsersSeed<'_, '_> {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of user ids")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
        let mut rank = 0;
        while let Some(user) = seq.next_element::<Cow<str>>()? {
            (self.on_user)(self.input, &user, rank);
            rank += 1;
        }
        Ok(rank)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &str) -> Vec<(LineRead, Vec<(String, u64)>)> {
        let mut reader = io::BufReader::with_capacity(16, text.as_bytes());
        let mut lines = Vec::new();
        loop {
            let mut users = Vec::new();
            let read = read_segment_line(&mut reader, &mut |input, user, rank| {
                assert!(!input.is_null(), "the input comes first");
                users.push((user.to_owned(), rank))
            })
            .unwrap();
            if read == LineRead::End {
                return lines;
            }
            lines.push((read, users));
        }
    }

    #[test]
    fn personalize_s_lines_and_the_container_s_stream_their_users_in_rank_order() {
        let lines = read_all(concat!(
            r#"{"input":{"itemId":"i042"},"output":{"usersList":["u7","u3"]},"error":null}"#,
            "\n\n  \r\n",
            r#"{"input":{"itemId":"i1"},"output":{"scores":[0.5,0.25],"recommendedUsers":["u\"2","u1"]},"error":null}"#,
            "\n",
            r#"{"input":{"itemAttributes":"ITEMS.A = \"x\""},"output":null,"error":"No item matches"}"#,
        ));
        assert_eq!(lines.len(), 3);
        let LineRead::Line(first) = &lines[0].0 else {
            panic!("{:?}", lines[0])
        };
        assert_eq!(first.input, serde_json::json!({"itemId": "i042"}));
        assert_eq!(
            (first.users, first.scores.as_ref(), first.answered),
            (2, None, true)
        );
        assert_eq!(lines[0].1, [("u7".to_owned(), 0), ("u3".to_owned(), 1)]);
        let LineRead::Line(second) = &lines[1].0 else {
            panic!()
        };
        assert_eq!(second.scores.as_deref(), Some(&[0.5, 0.25][..]));
        assert_eq!(lines[1].1[0].0, "u\"2");
        let LineRead::Line(third) = &lines[2].0 else {
            panic!()
        };
        assert_eq!(
            (third.error.as_deref(), third.answered),
            (Some("No item matches"), false)
        );
    }

    #[test]
    fn a_broken_line_is_reported_and_the_next_one_is_read() {
        let lines = read_all(concat!(
            r#"{"input":{"itemId":"i1"},"output":{"usersList":["u1","u2", 3]}}"#,
            "\nnot json at all\n[1]\n",
            r#"{"input":{"itemId":"i2"},"output":{"usersList":["u9"]}} trailing"#,
            "\n",
            r#"{"input":{"itemId":"i3"},"output":{"usersList":["u5"]},"error":null}"#,
        ));
        assert_eq!(lines.len(), 5);
        for (read, _) in &lines[..4] {
            assert!(matches!(read, LineRead::Unreadable(_)), "{read:?}");
        }
        // Users handed over before the break are reported; the caller drops them.
        assert_eq!(lines[0].1.len(), 2);
        let LineRead::Line(last) = &lines[4].0 else {
            panic!()
        };
        assert_eq!(last.input["itemId"], "i3");
        assert_eq!(lines[4].1, [("u5".to_owned(), 0)]);
    }

    #[test]
    fn a_line_of_many_users_is_read_through_a_small_buffer() {
        let users: Vec<String> = (0..50_000).map(|u| format!("user-{u}")).collect();
        let text = serde_json::json!({"input": {"itemId": "i"}, "output": {"usersList": users}}).to_string();
        let mut reader = io::BufReader::with_capacity(4096, text.as_bytes());
        let mut count = 0;
        let read = read_segment_line(&mut reader, &mut |_, _, rank| {
            assert_eq!(rank, count);
            count += 1;
        })
        .unwrap();
        assert!(matches!(read, LineRead::Line(SegmentLine { users: 50_000, .. })));
        assert_eq!(count, 50_000);
    }
}
