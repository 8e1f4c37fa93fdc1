//! Showing untrusted text (property keys and values, paths, lock fields, server answers) in a
//! terminal without letting it act on the terminal.
//!
//! Control characters (C0, DEL, C1), which include the ESC of terminal escape sequences, and the
//! Unicode bidirectional overrides are written as `\u{..}` escapes; very long text is cut, so a
//! 1 MB key cannot flood the screen.

use std::fmt;
use std::path::Path;

/// Characters shown before a long text is cut.
const MAX_SHOWN_CHARS: usize = 120;

/// Untrusted text, displayed escaped and cut to [`MAX_SHOWN_CHARS`].
pub(crate) struct Shown<'a>(&'a str);

/// Wraps `text` for display.
pub(crate) fn shown(text: &str) -> Shown<'_> {
    Shown(text)
}

/// A path for display: lossy UTF-8, escaped, not cut (paths are needed whole to act on them).
pub(crate) fn shown_path(path: &Path) -> String {
    shown_whole(&path.to_string_lossy())
}

/// Text that is needed whole to act on (a URL, a jar's name), escaped but not cut.
pub(crate) fn shown_whole(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_char(&mut out, c);
    }
    out
}

fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn push_char(out: &mut String, c: char) {
    if needs_escape(c) {
        out.push_str(&format!("\\u{{{:x}}}", c as u32));
    } else {
        out.push(c);
    }
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        let mut shown_chars = 0usize;
        let mut rest = self.0.chars();
        for c in rest.by_ref() {
            push_char(&mut out, c);
            shown_chars += 1;
            if shown_chars == MAX_SHOWN_CHARS {
                break;
            }
        }
        let left = rest.count();
        f.write_str(&out)?;
        if left > 0 {
            write!(f, "...({left} more characters)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls_and_bidi_overrides() {
        let text = "a\u{1b}[31mred\u{7}\u{9b}x\u{202e}y\ttab";
        let s = shown(text).to_string();
        assert_eq!(s, "a\\u{1b}[31mred\\u{7}\\u{9b}x\\u{202e}y\\u{9}tab", "{s}");
        assert!(!s.chars().any(needs_escape));
        assert_eq!(shown("café ok").to_string(), "café ok");
        assert_eq!(shown_path(Path::new("/tmp/\u{1b}]0;x")), "/tmp/\\u{1b}]0;x");
    }

    #[test]
    fn long_text_is_cut_with_a_count() {
        let long = "é".repeat(1_000_000);
        let s = shown(&long).to_string();
        assert!(s.starts_with(&"é".repeat(MAX_SHOWN_CHARS)));
        assert!(
            s.ends_with("...(999880 more characters)"),
            "{}",
            &s[s.len() - 40..]
        );
        assert_eq!(
            shown(&"a".repeat(MAX_SHOWN_CHARS)).to_string().len(),
            MAX_SHOWN_CHARS
        );
    }
}
