//! Writing settings back as properties text that `java.util.Properties.load` reads into exactly
//! the same keys and values (checked against this crate's Java-exact parser, and against Java
//! itself in `tests/java_properties.rs`).
//!
//! The output is ASCII: everything outside printable ASCII is a `\uXXXX` escape (UTF-16 code
//! units, so a character beyond U+FFFF is two), control characters use `\t \n \r \f` or
//! `\uXXXX`, and backslashes are doubled. In keys, the separators `=`, `:` and blanks and the
//! comment characters `#` and `!` are escaped; in values only leading blanks are (Java drops
//! them), so values stay readable. Each setting is preceded by a comment naming its origin.

use super::origin::Setting;

/// The properties text for `settings`, each after a `# <origin>` comment, below `header`
/// (comment lines, `# ` added).
pub(crate) fn properties_text(
    settings: &[&Setting],
    header: &[String],
    file_label: &str,
    value_of: &dyn Fn(&Setting) -> String,
) -> String {
    let mut out = String::new();
    for line in header {
        out.push_str("# ");
        out.push_str(&ascii_comment(line));
        out.push('\n');
    }
    for s in settings {
        out.push_str("# ");
        out.push_str(&ascii_comment(&s.origin.place(file_label)));
        out.push('\n');
        out.push_str(&escape(&s.key, Part::Key));
        out.push_str(" = ");
        out.push_str(&escape(&value_of(s), Part::Value));
        out.push('\n');
    }
    out
}

/// Which part of an entry is escaped.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Key,
    Value,
}

/// A comment line cannot end early: no line breaks (nor other controls), ASCII only.
fn ascii_comment(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .collect()
}

fn escape(text: &str, part: Part) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut leading = true;
    for c in text.chars() {
        let blank = matches!(c, ' ' | '\t' | '\u{c}');
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{c}' => out.push_str("\\f"),
            ' ' if part == Part::Key || leading => out.push_str("\\ "),
            '=' | ':' | '#' | '!' if part == Part::Key => {
                out.push('\\');
                out.push(c);
            }
            c if (' '..='~').contains(&c) => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
        }
        leading = leading && blank;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::origin::Origin;
    use super::super::parse;
    use super::*;

    #[test]
    fn what_is_written_reads_back_identically() {
        let cases = [
            ("streamName", "my-stream"),
            ("", ""),
            ("k", "  leading and trailing  "),
            ("#not a comment", "!nor this"),
            ("a=b:c d", "x=y:z"),
            ("tab\tkey", "line\nbreak\rcr\u{c}ff\ttab"),
            ("back\\slash", "C:\\tools\\app.exe\\"),
            ("café", "😀 and \u{1b}[31m and \u{202e}"),
            ("k", "\\u0041 is not an escape here"),
            ("k", "ends with backslash-continuation \\"),
        ];
        let settings: Vec<Setting> = cases
            .iter()
            .map(|(k, v)| Setting::new(k.to_string(), v.to_string(), Origin::Flag("--set")))
            .collect();
        let refs: Vec<&Setting> = settings.iter().collect();
        let text = properties_text(&refs, &["header\nwith a break".into()], "x", &|s| {
            s.value.clone()
        });
        assert!(text.is_ascii(), "{text}");
        assert!(
            text.starts_with("# header?with a break\n# --set\n"),
            "{text}"
        );
        let parsed = parse(text.as_bytes()).unwrap();
        let got: Vec<(String, String)> = parsed.into_iter().map(|e| (e.key, e.value)).collect();
        let want: Vec<(String, String)> = cases
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(got, want);
    }
}
