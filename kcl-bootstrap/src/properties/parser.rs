//! A `.properties` reader that gives the same keys and values as `java.util.Properties.load(InputStream)`
//! and remembers the line each entry starts on.
//!
//! Rules reproduced (from the `Properties.load` contract and its `LineReader`):
//! - bytes are ISO-8859-1, one byte per `char`; `\uXXXX` escapes give other characters;
//! - natural lines end at `\n`, `\r` or `\r\n`; leading spaces, tabs and form feeds are dropped;
//! - a line whose first non-blank character is `#` or `!` is a comment (and never continues);
//! - an odd number of backslashes at the end continues the line; the continuation's leading
//!   blanks are dropped, and an empty or blank continuation ends the entry;
//! - the key ends at the first unescaped `=`, `:` or blank; blanks around the separator are
//!   skipped (one `=` or `:` may follow blanks); the value keeps trailing whitespace;
//! - escapes `\t \n \r \f` map to control characters, `\X` to `X`; a malformed `\u` is an error
//!   (Java throws `IllegalArgumentException`);
//! - a key that appears twice keeps its last value.

/// One `key = value` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key after unescaping.
    pub key: String,
    /// The value after unescaping, with trailing whitespace kept (as Java does).
    pub value: String,
    /// 1-based line on which the entry starts.
    pub line: usize,
}

/// A syntax error that makes Java's `Properties.load` throw.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based line of the entry.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Parses properties text given as raw bytes (decoded as ISO-8859-1, like `load(InputStream)`).
///
/// Every entry is returned in file order, duplicates included, so callers can report them.
///
/// ```
/// use kcl_bootstrap::properties::parse;
/// let entries = parse(b"# comment\nstreamName = my-stream \nworkerId:w\\\n   1\n").unwrap();
/// assert_eq!(entries[0].value, "my-stream ");
/// assert_eq!((entries[1].key.as_str(), entries[1].value.as_str(), entries[1].line), ("workerId", "w1", 3));
/// ```
pub fn parse(bytes: &[u8]) -> Result<Vec<Entry>, ParseError> {
    // ISO-8859-1 maps each byte to the char of the same value, so the reader works on bytes.
    let mut entries = Vec::new();
    let mut reader = LineReader {
        text: bytes,
        pos: 0,
        line: 1,
    };
    while let Some((logical, line)) = reader.next_logical_line() {
        let (key, value) = split_key_value(&logical);
        let key = unescape(key).map_err(|message| ParseError { line, message })?;
        let value = unescape(value).map_err(|message| ParseError { line, message })?;
        entries.push(Entry { key, value, line });
    }
    Ok(entries)
}

fn is_blank(c: u8) -> bool {
    c == b' ' || c == b'\t' || c == 0x0c
}

struct LineReader<'a> {
    text: &'a [u8],
    pos: usize,
    /// 1-based number of the natural line at `pos`.
    line: usize,
}

impl LineReader<'_> {
    /// Consumes one line terminator (`\n`, `\r` or `\r\n`) at `pos`, if any.
    fn eat_terminator(&mut self) {
        match self.text.get(self.pos) {
            Some(b'\r') => {
                self.pos += 1;
                if self.text.get(self.pos) == Some(&b'\n') {
                    self.pos += 1;
                }
                self.line += 1;
            }
            Some(b'\n') => {
                self.pos += 1;
                self.line += 1;
            }
            _ => {}
        }
    }

    /// Returns the next logical line (continuations joined, comments and blank lines skipped)
    /// and the line it starts on.
    fn next_logical_line(&mut self) -> Option<(Vec<u8>, usize)> {
        loop {
            // Start of a natural line: skip leading blanks.
            while self.pos < self.text.len() && is_blank(self.text[self.pos]) {
                self.pos += 1;
            }
            if self.pos >= self.text.len() {
                return None;
            }
            let c = self.text[self.pos];
            if c == b'\n' || c == b'\r' {
                self.eat_terminator();
                continue;
            }
            if c == b'#' || c == b'!' {
                while self.pos < self.text.len() && !matches!(self.text[self.pos], b'\n' | b'\r') {
                    self.pos += 1;
                }
                self.eat_terminator();
                continue;
            }
            break;
        }
        let start_line = self.line;
        let mut buf = Vec::new();
        loop {
            // Read to the end of this natural line.
            let mut backslashes = 0usize;
            while self.pos < self.text.len() && !matches!(self.text[self.pos], b'\n' | b'\r') {
                let c = self.text[self.pos];
                backslashes = if c == b'\\' { backslashes + 1 } else { 0 };
                buf.push(c);
                self.pos += 1;
            }
            let at_eof = self.pos >= self.text.len();
            if backslashes % 2 == 1 {
                // Drop the continuation backslash.
                buf.pop();
                if at_eof {
                    return Some((buf, start_line));
                }
                self.eat_terminator();
                // Skip the continuation's leading blanks; a blank continuation ends the entry.
                while self.pos < self.text.len() && is_blank(self.text[self.pos]) {
                    self.pos += 1;
                }
                match self.text.get(self.pos) {
                    None => return Some((buf, start_line)),
                    Some(b'\n') | Some(b'\r') => {
                        self.eat_terminator();
                        return Some((buf, start_line));
                    }
                    _ => continue,
                }
            }
            self.eat_terminator();
            return Some((buf, start_line));
        }
    }
}

fn split_key_value(line: &[u8]) -> (&[u8], &[u8]) {
    let mut key_len = 0;
    let mut value_start = line.len();
    let mut has_sep = false;
    let mut preceding_backslash = false;
    while key_len < line.len() {
        let c = line[key_len];
        if (c == b'=' || c == b':') && !preceding_backslash {
            value_start = key_len + 1;
            has_sep = true;
            break;
        } else if is_blank(c) && !preceding_backslash {
            value_start = key_len + 1;
            break;
        }
        preceding_backslash = c == b'\\' && !preceding_backslash;
        key_len += 1;
    }
    while value_start < line.len() {
        let c = line[value_start];
        if !is_blank(c) {
            if !has_sep && (c == b'=' || c == b':') {
                has_sep = true;
            } else {
                break;
            }
        }
        value_start += 1;
    }
    (&line[..key_len], &line[value_start.min(line.len())..])
}

fn hex4(s: &[u8]) -> Option<u32> {
    let digits = std::str::from_utf8(s.get(..4)?).ok()?;
    digits
        .bytes()
        .all(|b| b.is_ascii_hexdigit())
        .then(|| u32::from_str_radix(digits, 16).ok())
        .flatten()
}

fn unescape(s: &[u8]) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        i += 1;
        if c != b'\\' {
            out.push(char::from(c));
            continue;
        }
        let Some(&e) = s.get(i) else {
            break;
        };
        i += 1;
        match e {
            b'u' => {
                let code = hex4(&s[i..]).ok_or_else(|| {
                    "malformed \\uXXXX escape (Java refuses the whole file): write four hex digits, \
                     or \\\\u for a literal backslash-u"
                        .to_string()
                })?;
                i += 4;
                // Java strings are UTF-16: a surrogate pair arrives as two escapes.
                if (0xD800..0xDC00).contains(&code)
                    && s.get(i) == Some(&b'\\')
                    && s.get(i + 1) == Some(&b'u')
                    && let Some(low) = s
                        .get(i + 2..)
                        .and_then(hex4)
                        .filter(|l| (0xDC00..0xE000).contains(l))
                {
                    i += 6;
                    let combined = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                    out.push(char::from_u32(combined).unwrap_or('\u{FFFD}'));
                } else {
                    out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
                }
            }
            b't' => out.push('\t'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b'f' => out.push('\u{c}'),
            other => out.push(char::from(other)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(text: &str) -> Vec<(String, String, usize)> {
        parse(text.as_bytes())
            .unwrap()
            .into_iter()
            .map(|e| (e.key, e.value, e.line))
            .collect()
    }

    fn one(text: &str) -> (String, String) {
        let v = kv(text);
        assert_eq!(v.len(), 1, "{text:?} gave {v:?}");
        (v[0].0.clone(), v[0].1.clone())
    }

    #[test]
    fn separators() {
        assert_eq!(one("a=b"), ("a".into(), "b".into()));
        assert_eq!(one("a:b"), ("a".into(), "b".into()));
        assert_eq!(one("a b"), ("a".into(), "b".into()));
        assert_eq!(one("a \t = \t b"), ("a".into(), "b".into()));
        assert_eq!(one("a  : b"), ("a".into(), "b".into()));
        // Only one separator is eaten: the second '=' belongs to the value.
        assert_eq!(one("a==b"), ("a".into(), "=b".into()));
        assert_eq!(one("a = = b"), ("a".into(), "= b".into()));
        assert_eq!(one("a b = c"), ("a".into(), "b = c".into()));
        assert_eq!(one("key"), ("key".into(), "".into()));
        assert_eq!(one("key ="), ("key".into(), "".into()));
        assert_eq!(one("=value"), ("".into(), "value".into()));
        assert_eq!(one("a\\=b=c"), ("a=b".into(), "c".into()));
        assert_eq!(one("a\\ b c"), ("a b".into(), "c".into()));
        assert_eq!(one("a\\:b:c"), ("a:b".into(), "c".into()));
    }

    #[test]
    fn whitespace_rules() {
        // Leading whitespace of the line and the value is dropped; trailing whitespace kept.
        assert_eq!(
            one("   \t\u{c}key = value  \t"),
            ("key".into(), "value  \t".into())
        );
        assert_eq!(one("key=\\ lead"), ("key".into(), " lead".into()));
    }

    #[test]
    fn comments_and_blank_lines() {
        let v = kv("# c1\n! c2\n   # indented comment\n\n \t \na=1\n#x=2\nb=2 # not a comment\n");
        assert_eq!(
            v,
            vec![
                ("a".into(), "1".into(), 6),
                ("b".into(), "2 # not a comment".into(), 8)
            ]
        );
        // A comment ending in a backslash does not continue.
        assert_eq!(kv("# c \\\na=1"), vec![("a".into(), "1".into(), 2)]);
    }

    #[test]
    fn continuation_lines() {
        assert_eq!(one("a=one\\\n    two"), ("a".into(), "onetwo".into()));
        assert_eq!(
            one("a=one \\\n  two \\\n three"),
            ("a".into(), "one two three".into())
        );
        // Even number of backslashes: no continuation.
        assert_eq!(kv("a=x\\\\\nb=y").len(), 2);
        assert_eq!(kv("a=x\\\\\nb=y")[0].1, "x\\");
        // A continuation line starting with '#' is not a comment.
        assert_eq!(one("a=1\\\n#2"), ("a".into(), "1#2".into()));
        // Empty or blank continuation ends the entry; the next line is a new entry.
        assert_eq!(kv("a=1\\\n\nb=2").len(), 2);
        assert_eq!(kv("a=1\\\n   \nb=2")[1], ("b".into(), "2".into(), 3));
        // Backslash at end of file is dropped.
        assert_eq!(one("a=1\\"), ("a".into(), "1".into()));
        // Line numbers count the physical lines.
        assert_eq!(kv("a=1\\\n2\nb=3")[1].2, 3);
    }

    #[test]
    fn line_terminators() {
        let v = kv("a=1\r\nb=2\rc=3\n\r\nd=4");
        assert_eq!(
            v.iter().map(|e| (e.0.as_str(), e.2)).collect::<Vec<_>>(),
            vec![("a", 1), ("b", 2), ("c", 3), ("d", 5)]
        );
        assert_eq!(one("a=1\\\r\n  2"), ("a".into(), "12".into()));
    }

    #[test]
    fn escapes() {
        assert_eq!(one(r"a=C:\tools\app.exe").1, "C:\toolsapp.exe");
        assert_eq!(one(r"a=x\ty\nz\rw\fv").1, "x\ty\nz\rw\u{c}v");
        assert_eq!(one(r"a=\q\#\!\\").1, "q#!\\");
        assert_eq!(one(r"a=caf\u00e9").1, "café");
        assert_eq!(one(r"\u0041=\u0042").0, "A");
        assert_eq!(one(r"a=\uD83D\uDE00").1, "😀");
        let e = parse(b"x=1\na=\\u00zz").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(parse(br"a=\u12").is_err());
    }

    #[test]
    fn latin1_bytes() {
        let v = parse(b"k=caf\xe9").unwrap();
        assert_eq!(v[0].value, "café");
        // UTF-8 input is read as two Latin-1 characters, as Java does.
        let v = parse("k=café".as_bytes()).unwrap();
        assert_eq!(v[0].value, "cafÃ©");
    }

    #[test]
    fn binary_input_parses_without_panicking() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let entries = parse(&bytes).unwrap();
        assert!(!entries.is_empty());
        // Java's LineReader reads \u escapes as Latin-1 digits only; a non-ASCII byte is no digit.
        assert!(parse(b"a=\\u00\xe9\xe9").is_err());
        assert!(parse(b"a=\\u+123").is_err());
    }

    #[test]
    fn duplicates_are_all_returned_in_order() {
        let v = kv("a=1\na=2");
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].1, "2");
    }
}
