//! The effective properties file: what the daemon reads when flags, the environment or the
//! defaults of a file-less launch change the user's properties.
//!
//! The daemon only takes a properties *file* (`--properties-file PATH`, read once at start-up
//! by `MultiLangDaemonConfig`, as a classpath resource first and then from the file system;
//! an absolute path is never a resource). So the effective settings are written to
//! `<cache>/properties-<uid>/effective-<hash>.properties`: a directory only this user can
//! enter (0700, checked, not a symlink), a file only this user can read (0600), named by the
//! SHA-256 of its content so that the same configuration reuses the same file.
//!
//! Clean-up: whoever launches with a file holds a shared `flock` on it, and the lock survives
//! `exec` into the JVM (the descriptor is inherited), so a running daemon's file is never
//! removed; any launch removes the effective files of others that are unlocked and unused
//! for [`RETENTION`] (a printed command holds no lock: its file stays that long after its last
//! use), and temp files of killed launches.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How long an unlocked effective file survives its last use: a printed command is usually run
/// at once (`eval "$(kcl-bootstrap ...)"`), but may be kept in a script for a while; a file is
/// a few KiB, so a week of them costs nothing.
pub(crate) const RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Temp files older than this belong to a killed launch (writing one takes milliseconds).
const TEMP_RETENTION: Duration = Duration::from_secs(3600);

const PREFIX: &str = "effective-";
const SUFFIX: &str = ".properties";
const TEMP_PREFIX: &str = ".effective-";

/// Attempts at writing and locking the file when a concurrent clean-up removed it in between.
const ATTEMPTS: usize = 3;

/// An effective properties file, locked (shared) for as long as this value lives, and across
/// `exec`.
#[derive(Debug)]
pub(crate) struct EffectiveFile {
    path: PathBuf,
    _held: File,
}

/// Why the effective properties file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the effective properties file in {}", crate::display::shown_path(.dir))]
pub(crate) struct EffectiveFileError {
    dir: PathBuf,
    #[source]
    source: io::Error,
}

impl EffectiveFile {
    /// Writes `text` (or reuses the identical file) under `cache_root`, cleans up stale files,
    /// and locks the file.
    pub(crate) fn write(
        cache_root: &Path,
        text: &str,
    ) -> Result<EffectiveFile, EffectiveFileError> {
        let dir = private_dir(cache_root);
        let fail = |source| EffectiveFileError {
            dir: dir.clone(),
            source,
        };
        make_private_dir(cache_root, &dir).map_err(fail)?;
        let hash = crate::digest::hex(&crate::digest::sha256(text.as_bytes()));
        let name = format!("{PREFIX}{}{SUFFIX}", &hash[..16]);
        let path = dir.join(&name);
        remove_stale(&dir, &name);
        let mut last = io::Error::other("no attempt made");
        for _ in 0..ATTEMPTS {
            match write_and_hold(&dir, &path, text) {
                Ok(held) => return Ok(EffectiveFile { path, _held: held }),
                Err(e) => last = e,
            }
        }
        Err(fail(last))
    }

    /// The file's absolute path, for `--properties-file`.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// `<cache>/properties-<uid>`: per user, so a cache shared between users still works.
pub(crate) fn private_dir(cache_root: &Path) -> PathBuf {
    #[cfg(unix)]
    {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let uid = unsafe { libc::geteuid() };
        cache_root.join(format!("properties-{uid}"))
    }
    #[cfg(not(unix))]
    {
        cache_root.join("properties")
    }
}

fn make_private_dir(cache_root: &Path, dir: &Path) -> io::Result<()> {
    fs::create_dir_all(cache_root)?;
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    match builder.create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let meta = fs::symlink_metadata(dir)?;
    if !meta.is_dir() {
        return Err(io::Error::other(
            "it is not a directory (a symlink or a file); remove it",
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: as above.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me || meta.mode() & 0o077 != 0 {
            return Err(io::Error::other(
                "it belongs to another user or others may enter it; remove it (it is recreated private)",
            ));
        }
    }
    Ok(())
}

/// Makes `path` hold `text`, opens it and takes the shared lock, and checks that the locked
/// file is still the one at `path` (a clean-up may have removed it between open and lock).
fn write_and_hold(dir: &Path, path: &Path, text: &str) -> io::Result<File> {
    let current = fs::read(path)
        .ok()
        .is_some_and(|bytes| bytes == text.as_bytes());
    if !current {
        write_atomically(dir, path, text)?;
    }
    let file = OpenOptions::new().read(true).write(true).open(path)?;
    file.lock_shared()?;
    if !same_file(&file, path) {
        return Err(io::Error::other("removed by a concurrent clean-up"));
    }
    // Marks the use, for the retention of unlocked files.
    file.set_modified(SystemTime::now())?;
    inherit_across_exec(&file)?;
    Ok(file)
}

fn write_atomically(dir: &Path, path: &Path, text: &str) -> io::Result<()> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let temp = dir.join(format!("{TEMP_PREFIX}{}.{n}.tmp", std::process::id()));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = options.open(&temp).and_then(|mut f| {
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        fs::rename(&temp, path)
    });
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

fn same_file(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), fs::symlink_metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        path.is_file()
    }
}

/// Clears close-on-exec, so that after `exec` the JVM holds the lock for as long as it runs.
fn inherit_across_exec(file: &File) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let fd = file.as_raw_fd();
        // SAFETY: fcntl on a descriptor this function borrows; F_GETFD/F_SETFD only read and
        // change its close-on-exec flag.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

/// Removes, in `dir`, effective files other than `keep` that are unlocked and unused for
/// [`RETENTION`], and temp files older than [`TEMP_RETENTION`]. Failures are ignored: a file
/// left behind is harmless.
fn remove_stale(dir: &Path, keep: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        let retention = if is_effective_name(name) && name != keep {
            RETENTION
        } else if name.starts_with(TEMP_PREFIX) && name.ends_with(".tmp") {
            TEMP_RETENTION
        } else {
            continue;
        };
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        let age = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok());
        if !meta.is_file() || age.is_none_or(|age| age < retention) {
            continue;
        }
        let path = entry.path();
        let Ok(file) = File::open(&path) else {
            continue;
        };
        // A launched daemon holds a shared lock: its file stays.
        if file.try_lock().is_ok() && same_file(&file, &path) {
            let _ = fs::remove_file(&path);
        }
    }
}

/// `effective-<16 hex digits>.properties`.
fn is_effective_name(name: &str) -> bool {
    name.strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_suffix(SUFFIX))
        .is_some_and(|hash| hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn age(path: &Path, by: Duration) {
        let file = File::options().write(true).open(path).unwrap();
        file.set_modified(SystemTime::now() - by).unwrap();
    }

    #[test]
    fn written_private_reused_and_cleaned_up_unless_locked() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("cache");
        let a = EffectiveFile::write(&root, "a = 1\n").unwrap();
        assert_eq!(fs::read_to_string(a.path()).unwrap(), "a = 1\n");
        let dir = a.path().parent().unwrap().to_path_buf();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(a.path()), 0o600);
            assert_eq!(mode(&dir), 0o700);
        }
        // The same content is the same file.
        let again = EffectiveFile::write(&root, "a = 1\n").unwrap();
        assert_eq!(again.path(), a.path());
        drop(again);
        // Old and unlocked: removed by the next launch; old but locked: kept.
        let b = EffectiveFile::write(&root, "b = 2\n").unwrap();
        let b_path = b.path().to_path_buf();
        drop(b);
        age(&b_path, RETENTION + Duration::from_secs(60));
        age(a.path(), RETENTION + Duration::from_secs(60));
        let stray = dir.join("effective-notours.properties");
        fs::write(&stray, "x").unwrap();
        age(&stray, RETENTION * 2);
        let c = EffectiveFile::write(&root, "c = 3\n").unwrap();
        assert!(!b_path.exists(), "an old unlocked file is removed");
        assert!(a.path().exists(), "a locked file stays");
        assert!(stray.exists(), "a name that is not ours stays");
        assert!(c.path().exists());
    }

    #[test]
    #[cfg(unix)]
    fn a_directory_others_can_enter_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = private_dir(tmp.path());
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let e = EffectiveFile::write(tmp.path(), "a = 1\n").unwrap_err();
        assert!(
            crate::error::with_sources(&e).contains("others may enter it"),
            "{e}"
        );
        fs::remove_dir(&dir).unwrap();
        std::os::unix::fs::symlink(tmp.path(), &dir).unwrap();
        let e = EffectiveFile::write(tmp.path(), "a = 1\n").unwrap_err();
        assert!(
            crate::error::with_sources(&e).contains("not a directory"),
            "{e}"
        );
    }
}
