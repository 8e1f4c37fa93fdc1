//! The child's side of the format: exactly two messages, `status` and `checkpoint`, byte-exact
//! and pure ASCII (see the [module docs](super)).

use std::io::{self, Write};

/// Writes the child's messages, each with one `write_all` and a `flush`.
pub(crate) struct MessageWriter<W> {
    inner: W,
    buffer: Vec<u8>,
    leading_newline: LeadingNewline,
}

/// Whether each message starts with a `\n`, which the daemon skips as an empty line. It protects
/// the message when something else may have left a partial line on the same pipe
/// ([`Runner::leading_newline`](crate::Runner::leading_newline)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeadingNewline {
    /// Start every message with `\n`.
    Write,
    /// Write messages as they are.
    Omit,
}

/// How [`push_json_string`] writes characters outside ASCII.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Escaping {
    /// `\uXXXX` (UTF-16): survives a daemon that reads the pipe as US-ASCII. For the child's
    /// messages.
    AsciiOnly,
    /// Raw UTF-8, as the daemon's Jackson writes them. For the daemon's side (tests).
    #[cfg_attr(not(any(test, feature = "testing")), allow(dead_code))]
    Utf8,
}

impl<W: Write> MessageWriter<W> {
    pub(crate) fn new(inner: W, leading_newline: LeadingNewline) -> Self {
        MessageWriter {
            inner,
            buffer: Vec::with_capacity(128),
            leading_newline,
        }
    }

    /// `{"action":"status","responseFor":"<action>"}`
    pub(crate) fn write_status(&mut self, response_for: &str) -> io::Result<()> {
        self.start();
        self.buffer
            .extend_from_slice(br#"{"action":"status","responseFor":"#);
        push_json_string(&mut self.buffer, response_for, Escaping::AsciiOnly);
        self.buffer.push(b'}');
        self.finish()
    }

    /// `{"action":"checkpoint","sequenceNumber":<string|null>,"subSequenceNumber":<number|null>}`
    pub(crate) fn write_checkpoint(
        &mut self,
        sequence_number: Option<&str>,
        sub_sequence_number: Option<u64>,
    ) -> io::Result<()> {
        self.start();
        self.buffer
            .extend_from_slice(br#"{"action":"checkpoint","sequenceNumber":"#);
        match sequence_number {
            Some(digits) => push_json_string(&mut self.buffer, digits, Escaping::AsciiOnly),
            None => self.buffer.extend_from_slice(b"null"),
        }
        self.buffer.extend_from_slice(br#","subSequenceNumber":"#);
        match sub_sequence_number {
            Some(number) => {
                // Avoids a formatter: a u64 has at most 20 digits.
                let mut digits = [0u8; 20];
                let mut at = digits.len();
                let mut rest = number;
                loop {
                    at -= 1;
                    digits[at] = b'0' + (rest % 10) as u8;
                    rest /= 10;
                    if rest == 0 {
                        break;
                    }
                }
                self.buffer.extend_from_slice(&digits[at..]);
            }
            None => self.buffer.extend_from_slice(b"null"),
        }
        self.buffer.push(b'}');
        self.finish()
    }

    fn start(&mut self) {
        self.buffer.clear();
        if self.leading_newline == LeadingNewline::Write {
            self.buffer.push(b'\n');
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        self.buffer.push(b'\n');
        self.inner.write_all(&self.buffer)?;
        self.inner.flush()
    }
}

/// Appends `text` as a JSON string, non-ASCII characters written as `escaping` says. Control
/// characters use the short escapes where JSON has them and `\u00XX` with uppercase hex otherwise
/// (Jackson's style).
pub(crate) fn push_json_string(out: &mut Vec<u8>, text: &str, escaping: Escaping) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let push_u = |out: &mut Vec<u8>, unit: u16| {
        out.extend_from_slice(b"\\u");
        for shift in [12, 8, 4, 0] {
            out.push(HEX[usize::from((unit >> shift) & 0xF)]);
        }
    };
    out.push(b'"');
    // Fast path: action names and sequence numbers need no escaping at all.
    if text
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
        return;
    }
    for ch in text.chars() {
        match ch {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            c if (c as u32) < 0x20 => push_u(out, c as u16),
            c if c.is_ascii() || escaping == Escaping::Utf8 => {
                let mut utf8 = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            }
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    push_u(out, *unit);
                }
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::daemon_side::{ChildLine, parse_child_line};
    use proptest::prelude::*;

    fn write_with(f: impl FnOnce(&mut MessageWriter<&mut Vec<u8>>) -> io::Result<()>) -> String {
        let mut out = Vec::new();
        f(&mut MessageWriter::new(&mut out, LeadingNewline::Omit)).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn status_and_checkpoint_are_byte_exact() {
        assert_eq!(
            write_with(|w| w.write_status("initialize")),
            "{\"action\":\"status\",\"responseFor\":\"initialize\"}\n"
        );
        assert_eq!(
            write_with(|w| w.write_checkpoint(None, None)),
            "{\"action\":\"checkpoint\",\"sequenceNumber\":null,\"subSequenceNumber\":null}\n"
        );
        assert_eq!(
            write_with(|w| w.write_checkpoint(Some("123"), Some(18446744073709551615))),
            "{\"action\":\"checkpoint\",\"sequenceNumber\":\"123\",\"subSequenceNumber\":18446744073709551615}\n"
        );
        assert_eq!(
            write_with(|w| w.write_checkpoint(Some("7"), Some(0))),
            "{\"action\":\"checkpoint\",\"sequenceNumber\":\"7\",\"subSequenceNumber\":0}\n"
        );
        let mut out = Vec::new();
        MessageWriter::new(&mut out, LeadingNewline::Write)
            .write_status("leaseLost")
            .unwrap();
        assert_eq!(
            out,
            b"\n{\"action\":\"status\",\"responseFor\":\"leaseLost\"}\n"
        );
    }

    #[test]
    fn outbound_strings_are_ascii_json() {
        let mut out = Vec::new();
        push_json_string(&mut out, "a\"b\\c\n\u{b}é😀\u{7f}", Escaping::AsciiOnly);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#""a\"b\\c\n\u000B\u00E9\uD83D\uDE00"#.to_owned() + "\u{7f}\""
        );
    }

    #[test]
    fn our_output_is_what_the_daemon_accepts() {
        for (line, expected) in [
            (
                write_with(|w| w.write_status("processRecords")),
                ChildLine::Status(Some("processRecords".into())),
            ),
            (
                write_with(|w| w.write_checkpoint(Some("5"), None)),
                ChildLine::Checkpoint(Some("5".into()), None),
            ),
            (
                write_with(|w| w.write_status("weird \"name\" é")),
                ChildLine::Status(Some("weird \"name\" é".into())),
            ),
        ] {
            assert_eq!(parse_child_line(line.trim_end_matches('\n')), expected);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn every_status_we_write_is_ascii_and_accepted_by_the_daemon(name in any::<String>()) {
            let mut out = Vec::new();
            MessageWriter::new(&mut out, LeadingNewline::Omit).write_status(&name).unwrap();
            prop_assert!(out.is_ascii());
            prop_assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
            let line = std::str::from_utf8(&out).unwrap().trim_end_matches('\n');
            prop_assert_eq!(parse_child_line(line), ChildLine::Status(Some(name)));
        }

        #[test]
        fn every_checkpoint_we_write_is_accepted_by_the_daemon(seq in proptest::option::of("[0-9]{1,56}"), sub in proptest::option::of(any::<u64>())) {
            let mut out = Vec::new();
            MessageWriter::new(&mut out, LeadingNewline::Omit).write_checkpoint(seq.as_deref(), sub).unwrap();
            let line = std::str::from_utf8(&out).unwrap().trim_end_matches('\n');
            prop_assert_eq!(parse_child_line(line), ChildLine::Checkpoint(seq, sub));
        }
    }
}
