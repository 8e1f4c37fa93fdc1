//! Embeds every lock in `locks/` (written by `scripts/update-lock`), so adding a KCL version is
//! "run the script, rebuild": no list to edit by hand. The newest version becomes the default.

use std::fmt::Write;
use std::path::Path;

fn version_key(v: &str) -> Vec<u64> {
    v.split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("locks");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut versions: Vec<String> = std::fs::read_dir(&dir)
        .expect("kcl-bootstrap/locks must exist")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            println!("cargo:rerun-if-changed={}", e.path().display());
            name.strip_suffix(".lock").map(str::to_string)
        })
        .collect();
    assert!(!versions.is_empty(), "no lock in {}", dir.display());
    versions.sort_by_key(|v| std::cmp::Reverse(version_key(v)));
    let mut code = String::new();
    writeln!(
        code,
        "/// The KCL version used when `--kcl-version` is not given: the newest built-in lock."
    )
    .unwrap();
    writeln!(
        code,
        "pub const DEFAULT_KCL_VERSION: &str = {:?};",
        versions[0]
    )
    .unwrap();
    writeln!(
        code,
        "/// Built-in locks, newest first: (version, lock text)."
    )
    .unwrap();
    writeln!(code, "const BUILTIN: &[(&str, &str)] = &[").unwrap();
    for v in &versions {
        let path = dir.join(format!("{v}.lock"));
        writeln!(
            code,
            "    ({v:?}, include_str!({:?})),",
            path.display().to_string()
        )
        .unwrap();
    }
    writeln!(code, "];").unwrap();
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("builtin_locks.rs");
    std::fs::write(out, code).unwrap();
}
