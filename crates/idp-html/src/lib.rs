//! HTML text escaping, shared by the gateway's error page, the demo page and the mock OpenID
//! provider's pages. The crates.io escapers write `'` as `&#x27;` (and some escape `/`); this
//! one keeps the pages' `&#39;`, which the tests read back.

/// Escapes text for HTML element content and double-quoted or single-quoted attributes:
/// `&`, `<`, `>`, `"` and `'` become character references.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn leaves_other_text_alone() {
        assert_eq!(escape("plain text, é ✓"), "plain text, é ✓");
        assert_eq!(escape(""), "");
    }
}
