//! Differential test: our properties parser against the real `java.util.Properties.load`.
//!
//! Needs a JDK (`java` running a single-file source program, Java 11+). Without one the test
//! prints a notice and passes; CI has a JDK, so there it always runs.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::Command;

const DUMP_JAVA: &str = r#"
import java.io.*;
import java.util.*;
public class Dump {
    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        try (InputStream in = new FileInputStream(args[0])) { p.load(in); }
        TreeMap<String, String> sorted = new TreeMap<>();
        for (String k : p.stringPropertyNames()) sorted.put(k, p.getProperty(k));
        StringBuilder out = new StringBuilder();
        for (Map.Entry<String, String> e : sorted.entrySet()) {
            out.append(hex(e.getKey())).append(' ').append(hex(e.getValue())).append('\n');
        }
        System.out.print(out);
    }
    static String hex(String s) {
        StringBuilder b = new StringBuilder("x");
        s.codePoints().forEach(c -> b.append(Integer.toHexString(c)).append('.'));
        return b.toString();
    }
}
"#;

fn hex(s: &str) -> String {
    let mut b = String::from("x");
    for c in s.chars() {
        b.push_str(&format!("{:x}.", c as u32));
    }
    b
}

/// Corner cases of the format, including ones that trip hand-written parsers.
const CORPUS: &[u8] = b"# comment\n! bang comment\n   # indented comment \\\nnot.continued = yes\n\
a=b\nc:d\ne f\n  g  =  h  \ni\\ j = k\nl\\=m = n\no\\:p : q\nr==s\nt = = u\nv w = x\nbare\nbare2 =\n\
=novalue\n cont = one \\\n   two \\\n\tthree\neven = x\\\\\nnext = y\nwin = C:\\tools\\app.exe\n\
esc = \\q\\#\\!\\\\\\ \nuni = caf\\u00e9 \\u4e2d\nsurr = \\uD83D\\uDE00\nlatin = caf\xe9\n\
crlf = 1\r\ncr = 2\rff\x0c= 3\ntrail = keep   \ntab\t=\ttabbed\t\nblankcont = a\\\n\n after = blank\n\
dup = first\ndup = second\nhash = a # b\nend = last\\";

#[test]
fn parser_matches_java_util_properties() {
    let java = std::env::var_os("JAVA_HOME")
        .map(|h| std::path::PathBuf::from(h).join("bin").join("java"))
        .filter(|p| p.exists())
        .or_else(|| which::which("java").ok());
    let Some(java) = java else {
        let _ = writeln!(
            std::io::stderr(),
            "NOTICE: parser_matches_java_util_properties skipped: no java found"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("Dump.java");
    std::fs::write(&src, DUMP_JAVA).unwrap();
    let props = dir.path().join("corpus.properties");
    std::fs::write(&props, CORPUS).unwrap();
    let out = Command::new(&java).arg(&src).arg(&props).output().unwrap();
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("compiler") || err.contains("jdk.compiler") {
            let _ = writeln!(
                std::io::stderr(),
                "NOTICE: skipped: {} is a JRE without a compiler",
                java.display()
            );
            return;
        }
        panic!("java failed: {err}");
    }
    let from_java = String::from_utf8(out.stdout).unwrap();

    let mut ours = BTreeMap::new();
    for e in kcl_bootstrap::properties::parse(CORPUS).unwrap() {
        ours.insert(e.key, e.value);
    }
    // Java sorts by UTF-16 code units; for this corpus (BMP keys) that equals char order.
    let ours: String = ours
        .iter()
        .map(|(k, v)| format!("{} {}\n", hex(k), hex(v)))
        .collect();
    assert_eq!(
        ours, from_java,
        "ours (left) vs java.util.Properties (right)"
    );
    assert!(
        from_java.lines().count() > 30,
        "the corpus really exercised the parser"
    );
}
