//! User text echoed in messages: a value read from a file (a header, a cell, a class name) can
//! be megabytes long, and an error message repeats it into a terminal and a run record. Every
//! stage cuts such values with [`excerpt`] before putting them into an error.

use std::borrow::Cow;

/// The most characters of one user value an error message repeats.
pub const MAX_EXCERPT_CHARS: usize = 200;

/// `s` itself when it has at most `max_chars` characters; otherwise its first `max_chars`
/// characters (cut on a character boundary, never inside one) followed by `…[+N chars]`, `N`
/// being how many characters were cut.
///
/// ```
/// use esteira_core::excerpt;
/// assert_eq!(excerpt("renda", 10), "renda");
/// assert_eq!(excerpt("ADMINISTRAÇÃO", 11), "ADMINISTRAÇ…[+2 chars]");
/// let header = "x".repeat(1 << 20);
/// assert_eq!(excerpt(&header, 3), "xxx…[+1048573 chars]");
/// ```
pub fn excerpt(s: &str, max_chars: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max_chars) {
        None => Cow::Borrowed(s),
        Some((cut, _)) => {
            let rest = s[cut..].chars().count();
            Cow::Owned(format!("{}…[+{rest} chars]", &s[..cut]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_borrowed_unchanged() {
        assert!(matches!(excerpt("abc", 3), Cow::Borrowed("abc")));
        assert!(matches!(excerpt("", 0), Cow::Borrowed("")));
    }

    #[test]
    fn long_text_is_cut_on_a_char_boundary_and_says_how_much() {
        // Multi-byte characters on both sides of the cut.
        assert_eq!(excerpt("çãõé", 2), "çã…[+2 chars]");
        assert_eq!(excerpt("abc", 0), "…[+3 chars]");
        let long = "é".repeat(1_000_000);
        let cut = excerpt(&long, MAX_EXCERPT_CHARS);
        assert!(cut.len() < 500, "{} bytes", cut.len());
        assert!(cut.ends_with("…[+999800 chars]"), "{cut}");
    }
}
