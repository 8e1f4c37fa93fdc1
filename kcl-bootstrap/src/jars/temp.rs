//! Temporary files this program creates, and only those, with names it can recognise later.
//!
//! A download is written to `.kcl-bootstrap.<pid>.<n>.<jar>.part` in the jar's directory and
//! renamed into place when verified. A bootstrap killed mid-download leaves such a file behind;
//! the next one removes it, but only if the name is exactly one of ours and its process is gone
//! (or, in the managed cache, whose lock guarantees no live writer, whoever wrote it). Files a
//! user keeps in a `--jar-folder` are never touched, whatever they are called.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

const PREFIX: &str = ".kcl-bootstrap.";
const SUFFIX: &str = ".part";

/// A file being written; removed when dropped unless [`TempFile::persist`] moved it into place.
pub(crate) struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl TempFile {
    /// Creates a new, empty temp file in `dir` whose name mentions `label`, and opens it for
    /// writing. Never opens an existing file or follows a symlink (`O_EXCL`).
    pub(crate) fn create(dir: &Path, label: &str) -> io::Result<(TempFile, File)> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let label = label.trim_start_matches('.');
        let path = dir.join(format!(
            "{PREFIX}{}.{n}.{label}{SUFFIX}",
            std::process::id()
        ));
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok((TempFile { path, armed: true }, file))
    }

    /// The temp file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes and closes `file` (the one [`TempFile::create`] returned) and renames the temp
    /// file to `target` (atomic within a directory).
    pub(crate) fn persist(mut self, file: File, target: &Path) -> io::Result<()> {
        file.sync_all()?;
        drop(file);
        fs::rename(&self.path, target)?;
        self.armed = false;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// The owner PID of a temp-file name of ours: the current form, or the form earlier versions
/// used (`.<jar>.<pid>.ThreadId(<n>).part`).
fn owner_of(name: &str) -> Option<u32> {
    let body = name.strip_suffix(SUFFIX)?;
    if let Some(rest) = body.strip_prefix(PREFIX) {
        let mut fields = rest.splitn(3, '.');
        let pid = fields.next()?.parse().ok()?;
        fields.next()?.parse::<u64>().ok()?;
        fields.next().filter(|label| !label.is_empty())?;
        return Some(pid);
    }
    let rest = body.strip_prefix('.')?;
    let (before, thread) = rest.rsplit_once(".ThreadId(")?;
    thread.strip_suffix(')')?.parse::<u64>().ok()?;
    let (jar, pid) = before.rsplit_once('.')?;
    jar.ends_with(".jar").then_some(())?;
    pid.parse().ok()
}

/// Which left-over temp files may be removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owners {
    /// Ours, whatever process wrote them (the caller holds the lock of a managed directory).
    Any,
    /// Ours, written by a process that no longer exists.
    Gone,
}

/// Removes temp files of ours left in `dir` by killed bootstraps.
pub(crate) fn remove_stale(dir: &Path, owners: Owners) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let me = std::process::id();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(owner_of) else {
            continue;
        };
        let removable = pid != me && (owners == Owners::Any || !owner_runs(pid));
        if removable && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Whether the bootstrap that wrote a temp file still runs; when that cannot be told, keep the
/// file: a stray temp file costs disk, not data.
fn owner_runs(pid: u32) -> bool {
    crate::process::process_exists(pid).unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_only_its_own_names() {
        assert_eq!(owner_of(".kcl-bootstrap.123.4.a-1.0.jar.part"), Some(123));
        assert_eq!(owner_of(".art0-1.0.jar.4242.ThreadId(3).part"), Some(4242));
        for foreign in [
            ".mydata.part",
            ".notes.txt.part",
            ".kcl-bootstrap.x.4.a.jar.part",
            ".kcl-bootstrap.1.2..part",
            ".kcl-bootstrap.1.part",
            "kcl-bootstrap.1.2.a.part",
            ".a.txt.12.ThreadId(3).part",
            ".kcl-bootstrap.123.4.a-1.0.jar",
            "a.jar",
        ] {
            assert_eq!(owner_of(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn temp_files_vanish_unless_persisted() {
        let dir = tempfile::tempdir().unwrap();
        let (t, mut f) = TempFile::create(dir.path(), "x.jar").unwrap();
        io::Write::write_all(&mut f, b"abc").unwrap();
        let name = t.path().file_name().unwrap().to_str().unwrap().to_string();
        assert_eq!(owner_of(&name), Some(std::process::id()));
        drop((t, f));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        let (t, mut f) = TempFile::create(dir.path(), ".verified").unwrap();
        io::Write::write_all(&mut f, b"abc").unwrap();
        t.persist(f, &dir.path().join("done")).unwrap();
        assert_eq!(fs::read(dir.path().join("done")).unwrap(), b"abc");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn stale_files_of_dead_processes_go_the_rest_stays() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let parent = std::os::unix::process::parent_id();
        let names = [
            format!(".kcl-bootstrap.{dead}.0.a.jar.part"),
            format!(".kcl-bootstrap.{parent}.0.b.jar.part"),
            ".mydata.part".to_string(),
            ".notes.txt.part".to_string(),
        ];
        for n in &names {
            fs::write(dir.path().join(n), b"x").unwrap();
        }
        remove_stale(dir.path(), Owners::Gone);
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        let mut expected = names[1..].to_vec();
        expected.sort();
        assert_eq!(left, expected);
        remove_stale(dir.path(), Owners::Any);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
