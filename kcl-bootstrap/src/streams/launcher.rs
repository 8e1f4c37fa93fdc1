//! The Java entry point for DynamoDB Streams, compiled at first use and cached.
//!
//! The source is embedded in this binary (`kcl-bootstrap/java/`); no class file is shipped. The
//! first launch compiles it with the `javac` next to the `java` that will run it, against the
//! verified jars, and packs the classes into one jar (a jar, not a directory, because the
//! classpath holds only files whose content was checked: see `launch`). The jar lives in
//! `<cache root>/ddb-streams-launcher/<key>/` where the key digests the source, the Java major
//! version and the lock it is compiled against, so an edited source, another Java or other jars
//! compile again; a `.verified` file
//! records the jar's SHA-256, checked on every launch like the locked jars.

use crate::digest;
use crate::process::{RunError, run_bounded};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The launcher's source.
pub(crate) const SOURCE: &str = include_str!(
    "../../java/software/amazon/kinesis/multilang/config/KclRsDynamoDbStreamsDaemon.java"
);

/// Its main class.
pub(crate) const MAIN_CLASS: &str =
    "software.amazon.kinesis.multilang.config.KclRsDynamoDbStreamsDaemon";

/// Where the source goes for javac (the path must match the package).
const SOURCE_PATH: &str =
    "software/amazon/kinesis/multilang/config/KclRsDynamoDbStreamsDaemon.java";

/// The compiled jar's file name.
const JAR_NAME: &str = "kcl-rs-ddb-streams-launcher.jar";

/// How long javac may take. Measured: a first launch (javac + pack) took 1.17-1.28 s wall over
/// 3 runs on this 2-core machine, JDK 17, 134 locked jars on the classpath (a cached one: under
/// 10 ms); the bound leaves room for a loaded machine.
const JAVAC_TIMEOUT: Duration = Duration::from_secs(180);

/// Why the launcher jar is not available.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LauncherError {
    /// Only a JRE: no compiler next to `java`.
    #[error(
        "--dynamodb-streams compiles its Java launcher at first use, but there is no javac next to {} \
         (a JRE without a JDK); install a JDK of the same version or pass one with --java / JAVA_HOME",
        crate::display::shown_path(.java)
    )]
    NoJavac {
        /// The `java` that would run it.
        java: PathBuf,
    },
    /// javac failed.
    #[error("javac could not compile the DynamoDB Streams launcher: {message}")]
    Compile {
        /// Its first error line, or what stopped it.
        message: String,
    },
    /// The cache directory could not be written.
    #[error("cannot write the DynamoDB Streams launcher under {}", crate::display::shown_path(.path))]
    Cache {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The launcher jar for `java` (major version `java_major`), compiled against `jars` (those of
/// the lock whose digest is `lock_digest`) if the cache has no verified one yet.
pub(crate) fn ensure(
    cache_root: &Path,
    java: &Path,
    java_major: u32,
    lock_digest: &[u8; 32],
    jars: &[PathBuf],
) -> Result<PathBuf, LauncherError> {
    let dir =
        cache_root
            .join("ddb-streams-launcher")
            .join(cache_key(SOURCE, java_major, lock_digest));
    let jar = dir.join(JAR_NAME);
    let marker = dir.join(".verified");
    if is_verified(&jar, &marker) {
        return Ok(jar);
    }
    let javac = javac_next_to(java).ok_or_else(|| LauncherError::NoJavac {
        java: java.to_path_buf(),
    })?;
    let cache = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LauncherError::Cache { path, source }
    };
    fs::create_dir_all(&dir).map_err(cache(&dir))?;
    // A private work directory per process: two first launches at once do not mix their files.
    let work = dir.join(format!(".build-{}", std::process::id()));
    let _ = fs::remove_dir_all(&work);
    let built = build(&javac, &work, jars).and_then(|bytes| {
        let tmp = dir.join(format!(".{JAR_NAME}.{}.part", std::process::id()));
        fs::write(&tmp, &bytes).map_err(cache(&tmp))?;
        fs::rename(&tmp, &jar).map_err(cache(&jar))?;
        fs::write(&marker, digest::hex(&digest::sha256(&bytes))).map_err(cache(&marker))
    });
    let _ = fs::remove_dir_all(&work);
    built.map(|()| jar)
}

/// The cache key: the source's digest, the Java major version (class files are compiled for the
/// Java that runs them) and the lock's digest (the classes link against its jars).
pub(crate) fn cache_key(source: &str, java_major: u32, lock_digest: &[u8; 32]) -> String {
    let mut bytes = source.as_bytes().to_vec();
    bytes.extend_from_slice(format!("\0java {java_major}\0lock ").as_bytes());
    bytes.extend_from_slice(lock_digest);
    digest::hex(&digest::sha256(&bytes))[..16].to_string()
}

/// Whether `jar` exists and its SHA-256 is the one `marker` recorded when it was built.
fn is_verified(jar: &Path, marker: &Path) -> bool {
    let Ok(recorded) = fs::read_to_string(marker) else {
        return false;
    };
    match digest::file_sha256(jar) {
        Ok((_, sha)) => digest::hex(&sha) == recorded.trim(),
        Err(_) => false,
    }
}

/// `javac` in the directory of `java` once symlinks are resolved (`/usr/bin/java` is usually a
/// link into the JDK or JRE), so the compiler is the runtime's own.
pub(crate) fn javac_next_to(java: &Path) -> Option<PathBuf> {
    let name = if cfg!(windows) { "javac.exe" } else { "javac" };
    let real = fs::canonicalize(java).unwrap_or_else(|_| java.to_path_buf());
    let javac = real.parent()?.join(name);
    javac.is_file().then_some(javac)
}

/// Compiles the source in `work` and returns the jar's bytes.
fn build(javac: &Path, work: &Path, jars: &[PathBuf]) -> Result<Vec<u8>, LauncherError> {
    let cache = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LauncherError::Cache { path, source }
    };
    let src = work.join("src").join(SOURCE_PATH);
    let classes = work.join("classes");
    if let Some(parent) = src.parent() {
        fs::create_dir_all(parent).map_err(cache(parent))?;
    }
    fs::create_dir_all(&classes).map_err(cache(&classes))?;
    fs::write(&src, SOURCE).map_err(cache(&src))?;
    let sep = if cfg!(windows) { ";" } else { ":" };
    let classpath = jars
        .iter()
        .map(|j| j.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(sep);
    let mut cmd = Command::new(javac);
    cmd.arg("-nowarn")
        .args(["-encoding", "UTF-8", "-d"])
        .arg(&classes)
        .arg("-cp")
        .arg(classpath)
        .arg(&src);
    let out = run_bounded(cmd, JAVAC_TIMEOUT).map_err(|e| LauncherError::Compile {
        message: match e {
            RunError::Spawn(io) => format!("cannot run {}: {io}", javac.display()),
            timed_out => timed_out.to_string(),
        },
    })?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stderr);
        let first = text
            .lines()
            .find(|l| l.contains("error"))
            .or_else(|| text.lines().next())
            .unwrap_or("no output");
        return Err(LauncherError::Compile {
            message: format!("{} ({})", crate::display::shown(first.trim()), out.status),
        });
    }
    pack(&classes).map_err(cache(&classes))
}

/// The `.class` files under `classes` as a stored (uncompressed) jar with fixed timestamps, in
/// name order, so the same classes always give the same bytes.
fn pack(classes: &Path) -> std::io::Result<Vec<u8>> {
    let mut files = Vec::new();
    collect(classes, classes, &mut files)?;
    files.sort();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for name in files {
        zip.start_file(name.as_str(), options)
            .map_err(std::io::Error::other)?;
        zip.write_all(&fs::read(classes.join(&name))?)?;
    }
    Ok(zip.finish().map_err(std::io::Error::other)?.into_inner())
}

/// Relative `/`-separated paths of the class files under `dir`.
fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "class")
            && let Ok(rel) = path.strip_prefix(root)
        {
            let parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(parts.join("/"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_changes_with_the_source_the_java_version_and_the_lock() {
        let lock = [1u8; 32];
        let a = cache_key("class A {}", 17, &lock);
        assert_eq!(a.len(), 16);
        assert_eq!(a, cache_key("class A {}", 17, &lock));
        assert_ne!(a, cache_key("class A { }", 17, &lock));
        assert_ne!(a, cache_key("class A {}", 21, &lock));
        assert_ne!(a, cache_key("class A {}", 17, &[2u8; 32]));
    }

    #[test]
    fn a_jre_without_javac_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let java = dir.path().join("java");
        fs::write(&java, "").unwrap();
        assert!(javac_next_to(&java).is_none());
        let err = ensure(dir.path(), &java, 17, &[0; 32], &[]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("no javac next to"), "{text}");
        assert!(text.contains("JDK"), "{text}");
        fs::write(dir.path().join("javac"), "").unwrap();
        assert_eq!(javac_next_to(&java), Some(dir.path().join("javac")));
    }

    #[test]
    fn a_changed_jar_is_not_verified() {
        let dir = tempfile::tempdir().unwrap();
        let jar = dir.path().join("x.jar");
        let marker = dir.path().join(".verified");
        fs::write(&jar, b"abc").unwrap();
        assert!(!is_verified(&jar, &marker));
        fs::write(&marker, digest::hex(&digest::sha256(b"abc"))).unwrap();
        assert!(is_verified(&jar, &marker));
        fs::write(&jar, b"abd").unwrap();
        assert!(!is_verified(&jar, &marker));
    }

    #[test]
    fn packing_is_deterministic_and_keeps_only_classes() {
        let dir = tempfile::tempdir().unwrap();
        let pkg = dir.path().join("a/b");
        fs::create_dir_all(&pkg).unwrap();
        fs::write(pkg.join("C.class"), b"\xca\xfe\xba\xbe").unwrap();
        fs::write(pkg.join("C$1.class"), b"\xca\xfe\xba\xbe").unwrap();
        fs::write(pkg.join("notes.txt"), b"x").unwrap();
        let one = pack(dir.path()).unwrap();
        assert_eq!(one, pack(dir.path()).unwrap());
        let archive = zip::ZipArchive::new(std::io::Cursor::new(one)).unwrap();
        let names: Vec<&str> = archive.file_names().collect();
        assert_eq!(names.len(), 2);
        assert!(names.contains(&"a/b/C.class") && names.contains(&"a/b/C$1.class"));
    }
}
