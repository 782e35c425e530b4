//! Score lines, one at a time, in a buffer that never grows past a limit: a line longer than
//! that (a file without newlines, say) is kept only up to the limit and the rest of it is
//! skipped as it streams by, so memory stays bounded whatever the file holds.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// What one read found.
#[derive(Debug, PartialEq)]
pub(crate) enum LineRead {
    /// The end of the file.
    End,
    /// A line of this many bytes (its newline included) is in the buffer.
    Line(u64),
    /// A line of this many bytes, longer than the limit: only its first bytes are in the
    /// buffer, and it is not one to use.
    TooLong(u64),
}

/// Reads the next line into `line` (cleared first), newline included. At most `max_bytes + 1`
/// bytes of it are buffered (one past the limit tells a line over it); what follows, up to the
/// next newline, is read and dropped.
pub(crate) async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
    max_bytes: usize,
) -> std::io::Result<LineRead> {
    line.clear();
    let kept_at_most = max_bytes.saturating_add(1);
    let mut consumed = 0u64;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            break;
        }
        let (taken, ends_line) = match available.iter().position(|b| *b == b'\n') {
            Some(newline) => (newline + 1, true),
            None => (available.len(), false),
        };
        let keep = taken.min(kept_at_most - line.len());
        if keep > 0 {
            reserve_within(line, keep, kept_at_most);
            line.extend_from_slice(&available[..keep]);
        }
        reader.consume(taken);
        consumed += taken as u64;
        if ends_line {
            break;
        }
    }
    Ok(match consumed {
        0 => LineRead::End,
        _ if line.len() > max_bytes => LineRead::TooLong(consumed),
        _ => LineRead::Line(consumed),
    })
}

/// Room for `more` bytes, growing by doubling as a `Vec` does, but never past `cap`.
fn reserve_within(line: &mut Vec<u8>, more: usize, cap: usize) {
    let needed = line.len() + more;
    if needed > line.capacity() {
        let target = (line.capacity() * 2).max(needed).min(cap);
        line.reserve_exact(target - line.len());
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use tokio::io::{AsyncRead, BufReader, ReadBuf};

    use super::*;

    const LIMIT: usize = 1024 * 1024;

    /// A body of `length` bytes of `x` and then `tail`, made as it is read (so the test itself
    /// holds none of it).
    struct Generated {
        length: usize,
        tail: std::io::Cursor<Vec<u8>>,
    }

    impl AsyncRead for Generated {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            if self.length == 0 {
                return Pin::new(&mut self.tail).poll_read(cx, buf);
            }
            let n = self.length.min(buf.remaining());
            buf.put_slice(&vec![b'x'; n]);
            self.length -= n;
            Poll::Ready(Ok(()))
        }
    }

    fn reader(length: usize, tail: &str) -> BufReader<Generated> {
        BufReader::with_capacity(
            256 * 1024,
            Generated {
                length,
                tail: std::io::Cursor::new(tail.as_bytes().to_vec()),
            },
        )
    }

    #[tokio::test]
    async fn a_line_of_five_mib_without_a_newline_never_grows_the_buffer_past_the_limit() {
        let five_mib = 5 * 1024 * 1024;
        let mut lines = reader(five_mib, "");
        let mut line = Vec::new();
        assert_eq!(
            read_line(&mut lines, &mut line, LIMIT).await.unwrap(),
            LineRead::TooLong(five_mib as u64)
        );
        assert!(
            line.capacity() <= LIMIT + 1,
            "the buffer grew to {} bytes",
            line.capacity()
        );
        assert_eq!(
            read_line(&mut lines, &mut line, LIMIT).await.unwrap(),
            LineRead::End
        );
    }

    #[tokio::test]
    async fn the_line_after_a_long_one_is_read_whole() {
        let mut lines = reader(3 * LIMIT, "\n{\"ok\":1}\nlast");
        let mut line = Vec::new();
        assert_eq!(
            read_line(&mut lines, &mut line, LIMIT).await.unwrap(),
            LineRead::TooLong(3 * LIMIT as u64 + 1)
        );
        assert_eq!(
            read_line(&mut lines, &mut line, LIMIT).await.unwrap(),
            LineRead::Line(9)
        );
        assert_eq!(line, b"{\"ok\":1}\n");
        assert_eq!(
            read_line(&mut lines, &mut line, LIMIT).await.unwrap(),
            LineRead::Line(4)
        );
        assert_eq!(line, b"last");
        assert!(line.capacity() <= LIMIT + 1);
    }

    #[tokio::test]
    async fn a_line_at_the_limit_is_kept() {
        // The limit counts the newline, as the line's bytes in the file.
        let mut lines = reader(LIMIT - 1, "\n");
        let mut line = Vec::new();
        assert_eq!(
            read_line(&mut lines, &mut line, LIMIT).await.unwrap(),
            LineRead::Line(LIMIT as u64)
        );
        let mut over = reader(LIMIT, "\n");
        assert_eq!(
            read_line(&mut over, &mut line, LIMIT).await.unwrap(),
            LineRead::TooLong(LIMIT as u64 + 1)
        );
    }
}
