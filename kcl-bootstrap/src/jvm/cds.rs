//! The AppCDS archive: the daemon's classes (those of the lock's jars as well as the JDK's),
//! parsed once and mapped from a file on later starts.
//!
//! The archive lives in `<cache root>/cds/<key>/daemon.jsa`. The key digests everything that
//! makes an archive invalid: the lock's digest, the classpath, every JVM option of the launch
//! (ours, the user's and those of the `JAVA_TOOL_OPTIONS` family), the `java` path once symlinks
//! are resolved, and that JDK's `release` file (version and vendor) with the size and time of
//! its `java` and `libjvm`, so an upgraded JDK at the same path gets a new key. A change gives a
//! new directory; directories unused for [`PRUNE_AFTER`] are removed, and once a directory has its
//! archive the dumps of daemons that have exited are removed from it.
//!
//! How the first archive is made: the daemon itself writes it when it exits
//! (`-XX:ArchiveClassesAtExit`, JDK 13+; the JVM dumps on `System.exit` and on SIGTERM, not on
//! SIGKILL), into a file of its own (`dump-<pid>.jsa`), so no separate training run is needed and
//! the archive holds the classes a real worker loads. `-XX:+AutoCreateSharedArchive` (JDK 19+)
//! would do the same but writes the shared file in place; a private dump renamed into place
//! serves JDK 17 too and keeps two workers from writing one file.
//!
//! Before use, an archive is verified once: the same `java` with the same options and classpath
//! runs `-version` with `-Xshare:on`, which refuses an archive made by another JVM, for another
//! classpath or a truncated one (measured: ~0.1 s). A verified archive is renamed to
//! `daemon.jsa` (atomic; the first of two kcl-bootstraps wins, the other uses it) and its size and
//! time are recorded in `daemon.jsa.verified`; an archive that fails is removed and the launch
//! goes on without one, saying so in one line. The JVM checks the archive's header again on every
//! start and ignores one that does not match (`-Xshare:auto`, the default).
//!
//! A dump is promoted only if its daemon got as far as running a shard's record processor
//! ([`SHARD_MARKER`]): a daemon that ended early (bad properties, no credentials, stopped during
//! start-up) dumps only its start-up classes, and such a thin archive, once promoted, would stay
//! until the key changes. A thin dump is removed and the launch writes a new one at exit.

use crate::digest;
use crate::process::run_bounded;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The archive's file name in its key directory.
const ARCHIVE: &str = "daemon.jsa";

/// Records the size and time of the archive that passed the check.
const STAMP: &str = "daemon.jsa.verified";

/// Key directories not used for this long are removed (a lock or Java no longer run here).
const PRUNE_AFTER: Duration = Duration::from_secs(30 * 86400);

/// Bytes found only in the dump of a daemon that started a shard's record processor: an archive
/// stores class names as plain UTF-8. `MultiLangProtocol` is loaded, and named, only by
/// `MultiLangShardRecordProcessor`, the processor that runs a shard's child; the DynamoDB
/// Streams launcher (`java/.../KclRsDynamoDbStreamsDaemon.java`) wraps the processors of the
/// same multilang factory, so it loads it too. Not the processor's own name: the factory, loaded
/// at start-up, names it, and the 37 MB dump of a daemon that never reached a shard (endpoints
/// unreachable, KCL 3.1.3) holds it; that dump lacks this marker, a full one (57 MB) holds it.
const SHARD_MARKER: &[u8] = b"software/amazon/kinesis/multilang/MultiLangProtocol";

/// What the JVM that runs a launch is.
pub(crate) struct Launch<'a> {
    /// The cache root (`<root>/cds/` holds the archives).
    pub(crate) cache_root: &'a Path,
    /// The `java` executable.
    pub(crate) java: &'a Path,
    /// The lock's digest.
    pub(crate) lock_digest: &'a [u8; 32],
    /// The classpath.
    pub(crate) classpath: &'a OsString,
    /// Every JVM option of the launch before `-cp`, in order.
    pub(crate) options: &'a [String],
    /// The values of the option variables (`JAVA_TOOL_OPTIONS`, ...), which the JVM also reads.
    pub(crate) variables: &'a [String],
    /// The bound of the check run.
    pub(crate) timeout: Duration,
}

/// The options that use or make the archive, and a line to show when an archive was refused.
#[derive(Debug, Default)]
pub(crate) struct ArchiveOptions {
    /// Options to add to the daemon's command.
    pub(crate) options: Vec<String>,
    /// One line saying why no archive is used this time, if one was refused.
    pub(crate) note: Option<String>,
}

/// The archive for `launch`: its path when a verified one exists, else the option that makes the
/// daemon write one at exit.
pub(crate) fn prepare(launch: &Launch<'_>) -> ArchiveOptions {
    let root = launch.cache_root.join("cds");
    let key = key(launch);
    let dir = root.join(&key);
    if let Err(e) = fs::create_dir_all(&dir) {
        return ArchiveOptions {
            options: Vec::new(),
            note: Some(format!(
                "note: AppCDS off: cannot create {} ({e}); starting without an archive",
                crate::display::shown_path(&dir)
            )),
        };
    }
    touch(&dir);
    prune(&root, &key);
    let archive = dir.join(ARCHIVE);
    if is_stamped(&archive, &dir.join(STAMP)) {
        remove_finished_dumps(&dir);
        return use_archive(&archive, None);
    }
    let mut note = None;
    let mut thin = None;
    for candidate in candidates(&dir) {
        // `daemon.jsa` is only ever a promoted dump; its check below stands as before.
        if candidate != archive && !ran_a_shard(&candidate) {
            let _ = fs::remove_file(&candidate);
            thin = Some(format!(
                "note: discarded the AppCDS dump of an earlier run that ended before it processed \
                 a shard ({}); this run writes a new one at exit",
                crate::display::shown_path(&candidate)
            ));
            continue;
        }
        match verify(launch, &candidate) {
            Ok(()) => {
                if candidate != archive && fs::rename(&candidate, &archive).is_err() {
                    // Another kcl-bootstrap promoted this dump first: use what it promoted.
                    if verify(launch, &archive).is_err() {
                        continue;
                    }
                }
                stamp(&archive, &dir.join(STAMP));
                // Dumps of other daemons that exited (two workers started without an archive)
                // are as large as the archive and would never be read again.
                remove_finished_dumps(&dir);
                return use_archive(&archive, note);
            }
            Err(reason) => {
                let _ = fs::remove_file(&candidate);
                note = Some(format!(
                    "note: the AppCDS archive {} does not match this Java, jars or options \
                     ({reason}); starting without it (a new one is written when the daemon exits)",
                    crate::display::shown_path(&candidate)
                ));
            }
        }
    }
    let dump = dir.join(format!("dump-{}.jsa", std::process::id()));
    ArchiveOptions {
        options: vec![
            format!("-XX:ArchiveClassesAtExit={}", dump.display()),
            // The dump's warnings about classes it skips would land in the worker's log.
            "-Xlog:cds=off".to_string(),
            "-Xlog:cds+dynamic=off".to_string(),
        ],
        // One line: a refused archive says more than a thin dump.
        note: note.or(thin),
    }
}

/// Whether the dump at `path` holds [`SHARD_MARKER`]. A dump that cannot be read counts as
/// holding it: the check that follows refuses it if it is unusable, as before the marker.
fn ran_a_shard(path: &Path) -> bool {
    super::scan::file_contains(path, SHARD_MARKER).unwrap_or(true)
}

fn use_archive(archive: &Path, note: Option<String>) -> ArchiveOptions {
    ArchiveOptions {
        options: vec![format!("-XX:SharedArchiveFile={}", archive.display())],
        note,
    }
}

/// The key directory's name for `launch`.
pub(crate) fn key(launch: &Launch<'_>) -> String {
    let mut text = String::from("kcl-bootstrap AppCDS 1\n");
    text.push_str(&format!("lock {}\n", digest::hex(launch.lock_digest)));
    text.push_str(&format!(
        "classpath {}\n",
        launch.classpath.to_string_lossy()
    ));
    for option in launch.options {
        text.push_str(&format!("option {option}\n"));
    }
    for value in launch.variables {
        text.push_str(&format!("variable {value}\n"));
    }
    let java = fs::canonicalize(launch.java).unwrap_or_else(|_| launch.java.to_path_buf());
    text.push_str(&format!("java {}\n", java.display()));
    text.push_str(&format!("java file {}\n", file_identity(&java)));
    if let Some(home) = java.parent().and_then(Path::parent) {
        let release = crate::files::read_regular_text(&home.join("release"), 64 * 1024);
        text.push_str(&format!("release {}\n", release.unwrap_or_default()));
        let libjvm = home.join("lib").join("server").join("libjvm.so");
        text.push_str(&format!("libjvm {}\n", file_identity(&libjvm)));
    }
    digest::hex(&digest::sha256(text.as_bytes()))[..16].to_string()
}

/// A file's size and modification time, or `-` when it cannot be read.
fn file_identity(path: &Path) -> String {
    fs::metadata(path).map_or_else(
        |_| "-".to_string(),
        |m| format!("{} {}", m.len(), nanos(m.modified().ok())),
    )
}

fn nanos(time: Option<SystemTime>) -> u128 {
    time.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos())
}

/// Whether `archive` is the file that passed the check (same size and time as recorded).
fn is_stamped(archive: &Path, stamp: &Path) -> bool {
    let Ok(recorded) = fs::read_to_string(stamp) else {
        return false;
    };
    fs::metadata(archive).is_ok() && recorded.trim() == file_identity(archive)
}

/// Records `archive` as checked (temp + rename: a reader never sees half a stamp).
fn stamp(archive: &Path, stamp: &Path) {
    let tmp = stamp.with_extension(format!("{}.part", std::process::id()));
    if fs::write(&tmp, file_identity(archive)).is_ok() && fs::rename(&tmp, stamp).is_err() {
        let _ = fs::remove_file(&tmp);
    }
}

/// The dumps in `dir` that no running daemon may still be writing, with their times: those of
/// exited processes, and a leftover of this process's id (a daemon of ours that exited).
fn finished_dumps(dir: &Path) -> Vec<(SystemTime, PathBuf)> {
    fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name.strip_prefix("dump-")?.strip_suffix(".jsa")?;
            let pid: u32 = pid.parse().ok()?;
            // A running daemon may be writing its dump right now.
            if pid != std::process::id() && pid_alive(pid) {
                return None;
            }
            let modified = entry.metadata().ok()?.modified().ok()?;
            Some((modified, entry.path()))
        })
        .collect()
}

/// Removes the finished dumps in `dir` (once an archive is in place they are never read).
fn remove_finished_dumps(dir: &Path) {
    for (_, dump) in finished_dumps(dir) {
        let _ = fs::remove_file(dump);
    }
}

/// Archives to check, newest first: the dumps of daemons that have exited, then an unchecked
/// `daemon.jsa`.
fn candidates(dir: &Path) -> Vec<PathBuf> {
    let mut dumps = finished_dumps(dir);
    dumps.sort_by_key(|d| std::cmp::Reverse(d.0));
    let mut paths: Vec<PathBuf> = dumps.into_iter().map(|(_, path)| path).collect();
    let archive = dir.join(ARCHIVE);
    if archive.exists() {
        paths.push(archive);
    }
    paths
}

/// Runs `java -Xshare:on -XX:SharedArchiveFile=<candidate> -cp <classpath> -version` with the
/// launch's options: the JVM refuses to start with an archive it cannot map.
fn verify(launch: &Launch<'_>, candidate: &Path) -> Result<(), String> {
    let mut command = Command::new(launch.java);
    command
        .args(launch.options)
        .arg("-Xshare:on")
        .arg(format!("-XX:SharedArchiveFile={}", candidate.display()))
        .arg("-cp")
        .arg(launch.classpath)
        .arg("-version");
    let captured = run_bounded(command, launch.timeout).map_err(|e| e.to_string())?;
    if captured.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&captured.stderr);
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
    Err(last.map_or_else(
        || format!("the JVM refused it: {}", captured.status),
        |l| crate::display::shown(l.trim()).to_string(),
    ))
}

/// Whether a daemon with this pid may still be writing its dump; when that cannot be told, the
/// dump counts as finished (it is checked before use all the same).
fn pid_alive(pid: u32) -> bool {
    crate::process::process_exists(pid).unwrap_or(false)
}

/// Marks `dir` as used now (its time is what pruning reads).
fn touch(dir: &Path) {
    if let Ok(file) = fs::File::open(dir) {
        let _ = file.set_modified(SystemTime::now());
    }
}

/// Removes the key directories other than `keep` that were not used for [`PRUNE_AFTER`].
fn prune(root: &Path, keep: &str) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.filter_map(Result::ok) {
        if entry.file_name().to_string_lossy() == keep {
            continue;
        }
        let old = entry
            .metadata()
            .ok()
            .filter(fs::Metadata::is_dir)
            .and_then(|m| m.modified().ok())
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > PRUNE_AFTER);
        if old {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launch<'a>(
        root: &'a Path,
        java: &'a Path,
        classpath: &'a OsString,
        options: &'a [String],
    ) -> Launch<'a> {
        Launch {
            cache_root: root,
            java,
            lock_digest: &[7; 32],
            classpath,
            options,
            variables: &[],
            timeout: Duration::from_secs(5),
        }
    }

    /// An archive in `l`'s key directory, stamped as checked: (the directory, the archive).
    fn stamped_archive(l: &Launch<'_>) -> (PathBuf, PathBuf) {
        let dir = l.cache_root.join("cds").join(key(l));
        fs::create_dir_all(&dir).unwrap();
        let archive = dir.join(ARCHIVE);
        fs::write(&archive, "archive").unwrap();
        stamp(&archive, &dir.join(STAMP));
        (dir, archive)
    }

    #[test]
    fn the_key_changes_with_the_classpath_the_options_and_the_java() {
        let tmp = tempfile::tempdir().unwrap();
        let java = tmp.path().join("java");
        fs::write(&java, "x").unwrap();
        let cp = OsString::from("/a.jar");
        let other_cp = OsString::from("/a.jar:/b.jar");
        let options = vec!["-Xms16m".to_string()];
        let base = key(&launch(tmp.path(), &java, &cp, &options));
        assert_eq!(base, key(&launch(tmp.path(), &java, &cp, &options)));
        assert_ne!(base, key(&launch(tmp.path(), &java, &other_cp, &options)));
        assert_ne!(base, key(&launch(tmp.path(), &java, &cp, &[])));
        let mut other_lock = launch(tmp.path(), &java, &cp, &options);
        other_lock.lock_digest = &[8; 32];
        assert_ne!(base, key(&other_lock));
        fs::write(&java, "a longer java").unwrap();
        assert_ne!(base, key(&launch(tmp.path(), &java, &cp, &options)));
    }

    #[test]
    fn without_an_archive_the_daemon_is_asked_to_write_one() {
        let tmp = tempfile::tempdir().unwrap();
        let java = Path::new("/nonexistent/java");
        let cp = OsString::from("/a.jar");
        let made = prepare(&launch(tmp.path(), java, &cp, &[]));
        assert!(made.note.is_none());
        assert!(made.options[0].starts_with("-XX:ArchiveClassesAtExit="));
        assert!(made.options[0].ends_with(&format!("dump-{}.jsa", std::process::id())));
    }

    #[test]
    fn a_stamped_archive_is_used_and_a_changed_one_is_checked_again() {
        let tmp = tempfile::tempdir().unwrap();
        let java = Path::new("/nonexistent/java");
        let cp = OsString::from("/a.jar");
        let l = launch(tmp.path(), java, &cp, &[]);
        let (_, archive) = stamped_archive(&l);
        let used = prepare(&l);
        assert_eq!(
            used.options,
            [format!("-XX:SharedArchiveFile={}", archive.display())]
        );
        // Rewritten behind our back: checked again, and this java cannot run, so it is refused.
        fs::write(&archive, "another archive").unwrap();
        let refused = prepare(&l);
        assert!(refused.options[0].starts_with("-XX:ArchiveClassesAtExit="));
        let note = refused.note.unwrap();
        assert!(
            note.contains("does not match") && !note.contains('\n'),
            "{note}"
        );
        assert!(!archive.exists(), "a refused archive is removed");
    }

    #[cfg(unix)]
    #[test]
    fn once_an_archive_is_in_place_the_dumps_of_exited_daemons_are_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let java = Path::new("/nonexistent/java");
        let cp = OsString::from("/a.jar");
        let l = launch(tmp.path(), java, &cp, &[]);
        let (dir, _) = stamped_archive(&l);
        // pid 1 runs (a daemon still writing); no process has the largest pid_t.
        let running = dir.join("dump-1.jsa");
        let exited = dir.join(format!("dump-{}.jsa", libc::pid_t::MAX));
        fs::write(&running, "writing").unwrap();
        fs::write(&exited, "a second worker's dump").unwrap();
        let used = prepare(&l);
        assert!(used.options[0].starts_with("-XX:SharedArchiveFile="));
        assert!(!exited.exists(), "an exited daemon's dump is removed");
        assert!(running.exists(), "a running daemon's dump is left alone");
    }

    #[cfg(unix)]
    #[test]
    fn a_dump_without_the_shard_marker_is_removed_and_one_with_it_is_checked() {
        let tmp = tempfile::tempdir().unwrap();
        let java = Path::new("/nonexistent/java");
        let cp = OsString::from("/a.jar");
        let l = launch(tmp.path(), java, &cp, &[]);
        let dir = tmp.path().join("cds").join(key(&l));
        fs::create_dir_all(&dir).unwrap();
        let dump = dir.join(format!("dump-{}.jsa", libc::pid_t::MAX));
        fs::write(
            &dump,
            "software/amazon/kinesis/multilang/MultiLangShardRecordProcessor",
        )
        .unwrap();
        let thin = prepare(&l);
        assert!(thin.options[0].starts_with("-XX:ArchiveClassesAtExit="));
        let note = thin.note.unwrap();
        assert!(
            note.contains("ended before it processed a shard") && !note.contains('\n'),
            "{note}"
        );
        assert!(!dump.exists(), "a thin dump is removed");
        assert!(!dir.join(ARCHIVE).exists());

        // With the marker the dump goes to the check, which this java cannot pass.
        let mut full = b"classes ".to_vec();
        full.extend_from_slice(SHARD_MARKER);
        fs::write(&dump, full).unwrap();
        let checked = prepare(&l);
        let note = checked.note.unwrap();
        assert!(note.contains("does not match"), "{note}");
    }

    #[test]
    fn unused_key_directories_are_pruned() {
        let tmp = tempfile::tempdir().unwrap();
        let old = tmp.path().join("old");
        let recent = tmp.path().join("recent");
        fs::create_dir_all(&old).unwrap();
        fs::create_dir_all(&recent).unwrap();
        let long_ago = SystemTime::now() - PRUNE_AFTER - Duration::from_secs(60);
        fs::File::open(&old)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        prune(tmp.path(), "current");
        assert!(!old.exists() && recent.exists());
    }
}
