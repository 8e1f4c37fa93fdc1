//! Getting the locked jars onto disk: cache layout, verification, downloads.
//!
//! Safety rules:
//! - a jar only ever appears under its final name by an atomic rename of a temp file of ours in
//!   the same directory, after its size and SHA-256 matched the lock and it opened as a zip
//!   archive; a mismatch is an error and leaves nothing behind;
//! - everything that writes holds the exclusive lock of its state directory, so two bootstraps
//!   starting at once download once; the second waits, for a bounded time, then finds the jars
//!   ready;
//! - only files this program created are ever deleted: its own temp files, and damaged jars in
//!   the managed cache (never in a user's `--jar-folder`, never with `--offline`);
//! - after a full verification a marker is written (see [`marker`]), so a warm start costs a
//!   `stat()` per jar; `--verify` forces the full re-hash.

mod cache;
mod dir_lock;
mod download;
mod error;
mod marker;
mod progress;
mod temp;
mod verify;

pub(crate) use cache::{ENV_CACHE_DIR, cache_root};
pub(crate) use download::{RetryPolicy, Timeouts};
pub(crate) use error::JarError;
pub(crate) use progress::ProgressMode;
pub(crate) use temp::TempFile;

use crate::lock::{Lock, LockedJar};
use crate::maven::{Repository, RepositoryError};
use cache::Layout;
use dir_lock::DirLock;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the jars live.
#[derive(Debug, Clone)]
pub(crate) enum JarLocation {
    /// `<cache root>/<version>/`, managed by kcl-bootstrap.
    Cache,
    /// A user-provided folder (`--jar-folder`): verified against the lock; missing jars are
    /// downloaded into it unless offline; a jar that does not match is reported, never replaced.
    Folder(PathBuf),
}

/// Options for [`ensure_jars`].
pub(crate) struct JarOptions<'a> {
    /// The jars wanted.
    pub(crate) lock: &'a Lock,
    /// Cache or user folder.
    pub(crate) location: JarLocation,
    /// Cache root (jars for [`JarLocation::Cache`], state files for both); absolute.
    pub(crate) cache_root: PathBuf,
    /// Never touch the network.
    pub(crate) offline: bool,
    /// Re-hash every jar even when the verified marker is current.
    pub(crate) verify: bool,
    /// Concurrent downloads.
    pub(crate) parallelism: usize,
    /// Retry policy per jar.
    pub(crate) retry: RetryPolicy,
    /// Download time bounds.
    pub(crate) timeouts: Timeouts,
    /// Longest wait for another bootstrap holding the cache lock.
    pub(crate) lock_timeout: Duration,
    /// Progress output.
    pub(crate) progress: ProgressMode,
    /// Chooses the repository; only called when something must be downloaded, so a broken
    /// settings.xml does not stop a warm start.
    pub(crate) repository: &'a dyn Fn() -> Result<Repository, RepositoryError>,
}

struct Notice(ProgressMode);

impl dir_lock::WaitNotice for Notice {
    fn waiting(&self, message: &str) {
        progress::note(self.0, message);
    }
}

/// Makes sure every jar of the lock is present and verified, downloading what is missing.
/// Returns the jar paths in the lock's classpath order.
pub(crate) fn ensure_jars(opts: &JarOptions<'_>) -> Result<Vec<PathBuf>, JarError> {
    let lock = opts.lock;
    let layout = match &opts.location {
        JarLocation::Cache => Layout::cache(&opts.cache_root, lock),
        JarLocation::Folder(folder) => {
            Layout::folder(folder, &opts.cache_root, lock, opts.offline)?
        }
    };
    let paths = layout.jar_paths(lock);

    // Fast path: a current marker and unchanged stat() results. No lock needed: the marker is
    // only ever replaced atomically and only describes files that were fully verified.
    if !opts.verify && marker::is_current(&layout.state_dir, lock, &paths) {
        return Ok(paths);
    }

    let state_created = fs::create_dir_all(&layout.state_dir);
    let guard = match state_created {
        Ok(()) => Some(DirLock::acquire(
            &layout.state_dir,
            opts.lock_timeout,
            &Notice(opts.progress),
        )?),
        Err(e) if layout.managed => {
            return Err(JarError::cache(
                &layout.state_dir,
                format!(
                    "cannot create the jar cache directory; set {ENV_CACHE_DIR} to a writable directory"
                ),
                e,
            ));
        }
        // A read-only cache root with a complete jar folder still works, unlocked and unmarked.
        Err(_) => None,
    };
    let writable_state = guard.is_some();
    // Another bootstrap may have finished while we waited for the lock.
    if writable_state && !opts.verify && marker::is_current(&layout.state_dir, lock, &paths) {
        return Ok(paths);
    }
    if writable_state {
        let owners = if layout.managed {
            temp::Owners::Any
        } else {
            temp::Owners::Gone
        };
        temp::remove_stale(&layout.jar_dir, owners);
    }

    let missing = check_present(lock, &paths, &layout, opts)?;
    if !missing.is_empty() {
        if opts.offline {
            return Err(JarError::Offline {
                count: missing.len(),
                total: lock.jars.len(),
                version: lock.kcl_version.clone(),
                dir: layout.jar_dir.clone(),
                first: missing[0].file_name().to_string(),
            });
        }
        let repository = (opts.repository)()?;
        let plan = download::DownloadPlan {
            repository: &repository,
            kcl_version: &lock.kcl_version,
            parallelism: opts.parallelism,
            retry: opts.retry,
            timeouts: opts.timeouts,
            progress: opts.progress,
        };
        download::download_all(&missing, &layout.jar_dir, &plan)?;
    }

    if writable_state {
        marker::write(&layout.state_dir, lock, &paths)?;
    }
    Ok(paths)
}

/// Verifies the jars already there; returns those still needed. A damaged jar in the managed
/// cache is removed (and counted as missing) unless offline; anywhere else it is an error.
fn check_present<'a>(
    lock: &'a Lock,
    paths: &[PathBuf],
    layout: &Layout,
    opts: &JarOptions<'_>,
) -> Result<Vec<&'a LockedJar>, JarError> {
    let mut missing = Vec::new();
    let mut present = Vec::new();
    for (jar, path) in lock.jars.iter().zip(paths) {
        match fs::symlink_metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => missing.push(jar),
            Err(e) => return Err(JarError::cache(path, "cannot read", e)),
            Ok(_) => present.push((jar, path)),
        }
    }
    for ((jar, path), verdict) in present.iter().zip(verify::verify_all(&present)) {
        let Err(detail) = verdict else { continue };
        if !layout.managed {
            return Err(JarError::Mismatch {
                file: crate::display::shown_path(path),
                detail,
                advice: format!(
                    "The jar folder must hold exactly the jars of the KCL {} lock: delete or replace this file \
                     (kcl-bootstrap downloads missing jars unless --offline)",
                    lock.kcl_version
                ),
            });
        }
        if opts.offline {
            return Err(JarError::OfflineDamaged {
                file: path.to_path_buf(),
                detail,
            });
        }
        progress::note(
            opts.progress,
            &format!(
                "cached {} is damaged ({}); downloading it again",
                crate::display::shown_whole(jar.file_name()),
                crate::error::with_sources(&detail)
            ),
        );
        remove_damaged(path)?;
        missing.push(jar);
    }
    Ok(missing)
}

fn remove_damaged(path: &Path) -> Result<(), JarError> {
    // A directory (or anything else) planted under a jar's name is not ours to delete.
    let is_file_or_link = fs::symlink_metadata(path).is_ok_and(|m| !m.is_dir());
    if !is_file_or_link {
        return Err(JarError::cache(
            path,
            "is not a jar file; remove it from the cache",
            io::Error::from(io::ErrorKind::IsADirectory),
        ));
    }
    fs::remove_file(path).map_err(|e| JarError::cache(path, "cannot remove the damaged jar", e))
}
