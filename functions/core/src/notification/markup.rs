//! Slack text: what comes from forms, data files and services is never markup. Slack reads
//! `<...>` as mentions (`<!channel>`) and links (`<https://x|label>`) and `&` as an entity, in
//! `text` and in blocks; its documented escaping (`&` `<` `>` as `&amp;` `&lt;` `&gt;`) makes such
//! text show as written. Every message builder passes outside text through [`escape`] (or
//! [`code`] inside a code block); only recoflow's own words and links are left as they are.

/// Slack shows at most 3000 characters in a section's text.
pub const MAX_SECTION_CHARS: usize = 2_900;

/// Outside text as Slack shows it literally.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Outside text shortened to `max` characters (before escaping, so an entity is never cut).
pub fn escape_short(text: &str, max: usize) -> String {
    escape(&shorten(text, max))
}

/// Outside text for a ``` code block: escaped, and a run of backticks that would end the block
/// early replaced.
pub fn code(text: &str, max: usize) -> String {
    escape_short(&text.replace("```", "'''"), max)
}

/// Escaped text (or recoflow's own markup around it) cut to `max` characters without cutting an
/// entity in two.
pub fn fit(escaped: &str, max: usize) -> String {
    if escaped.chars().count() <= max {
        return escaped.to_owned();
    }
    let mut kept: String = escaped.chars().take(max.saturating_sub(1)).collect();
    if let Some(amp) = kept.rfind('&') {
        if !kept[amp..].contains(';') {
            kept.truncate(amp);
        }
    }
    format!("{kept}…")
}

pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// A measured value, for people: at most four decimals, no trailing zeros (`0.05`, `1200`,
/// `0.3333`).
pub fn number(value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    let text = format!("{value:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// How long, for people: `3 min 20 s`.
pub fn human_duration(seconds: u64) -> String {
    match seconds {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_links_and_entities_show_as_written() {
        assert_eq!(
            escape("<!channel> <https://evil.example|click> & co"),
            "&lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; co"
        );
        assert_eq!(escape("plain text"), "plain text");
        // Shortened before escaping: no half entity at the end.
        assert_eq!(escape_short("<<<<", 3), "&lt;&lt;…");
        assert_eq!(code("a ``` b <x>", 100), "a ''' b &lt;x&gt;");
        assert_eq!(fit("ab&lt;cd", 5), "ab…");
        assert_eq!(fit("ab&lt;cd", 7), "ab&lt;…");
    }

    #[test]
    fn numbers_read_as_written() {
        assert_eq!(number(0.05), "0.05");
        assert_eq!(number(1200.0), "1200");
        assert_eq!(number(1.0 / 3.0), "0.3333");
        assert_eq!(number(-0.00001), "0");
        assert_eq!(number(f64::INFINITY), "inf");
    }
}
