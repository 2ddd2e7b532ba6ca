//! Meaning-preserving text normalisation applied to every rendered input and output.
//!
//! Unicode NFC, CR LF and lone CR to LF, then trimming of leading and trailing whitespace
//! (Python's `str.isspace()` set, so U+001C–U+001F count too). Nothing is ever truncated and
//! no inner whitespace is touched: runs of spaces inside a text are kept as the source had them.

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

/// Python's `str.isspace()` (upstream-renderings.md, Appendix A.1).
pub fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

pub fn normalize_text(s: &str) -> String {
    let unified: std::borrow::Cow<str> = if s.contains('\r') {
        std::borrow::Cow::Owned(s.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        std::borrow::Cow::Borrowed(s)
    };
    let trimmed = unified.trim_matches(is_py_space);
    match is_nfc_quick(trimmed.chars()) {
        IsNormalized::Yes => trimmed.to_string(),
        _ => trimmed.nfc().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nfc_line_endings_trim() {
        assert_eq!(normalize_text("  a\r\nb\rc \u{a0}\n"), "a\nb\nc");
        // e + combining acute -> é (NFC)
        assert_eq!(normalize_text("Caf\u{65}\u{301}"), "Caf\u{e9}");
        assert_eq!(normalize_text("\u{1f}x\u{1c}"), "x");
        // inner runs kept, nothing truncated
        assert_eq!(normalize_text("a  \n\n  b"), "a  \n\n  b");
        // multilingual text is untouched apart from NFC
        assert_eq!(
            normalize_text(" 質問: 正しい答えは A です "),
            "質問: 正しい答えは A です"
        );
        assert_eq!(normalize_text("Привет, мир\r\n"), "Привет, мир");
    }
}
