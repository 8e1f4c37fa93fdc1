//! Checking files on disk against the lock: size, SHA-256, zip structure.

use super::error::Mismatch;
use crate::digest;
use crate::lock::LockedJar;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Verifies files on all cores (hashing ~75 MB is the slow part of a cold start or `--verify`);
/// results come back in input order.
pub(crate) fn verify_all(files: &[(&LockedJar, &PathBuf)]) -> Vec<Result<(), Mismatch>> {
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 8)
        .min(files.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<Result<(), Mismatch>>>> =
        files.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((jar, path)) = files.get(i) else {
                        return;
                    };
                    let verdict = verify_file(path, jar);
                    if let Ok(mut slot) = results[i].lock() {
                        *slot = Some(verdict);
                    }
                }
            });
        }
    });
    results
        .into_iter()
        .map(|m| {
            m.into_inner().ok().flatten().unwrap_or_else(|| {
                Err(Mismatch::Unreadable(std::io::Error::other(
                    "verification did not complete",
                )))
            })
        })
        .collect()
}

/// Checks size, SHA-256 and zip structure of one file against the lock.
pub(crate) fn verify_file(path: &Path, jar: &LockedJar) -> Result<(), Mismatch> {
    // The cache may have been tampered with: never block on a FIFO planted under a jar's name,
    // and never hash gigabytes planted under it either (the size is known before reading).
    crate::files::check_regular(path)
        .map_err(|e| Mismatch::Unreadable(std::io::Error::other(e.to_string())))?;
    let on_disk = std::fs::metadata(path).map_err(Mismatch::Unreadable)?.len();
    if on_disk != jar.size {
        return Err(Mismatch::Size {
            actual: on_disk,
            expected: jar.size,
        });
    }
    let (size, sha) = digest::file_sha256(path).map_err(Mismatch::Unreadable)?;
    if size != jar.size {
        return Err(Mismatch::Size {
            actual: size,
            expected: jar.size,
        });
    }
    if sha != jar.sha256 {
        return Err(Mismatch::Sha256 {
            actual: sha,
            expected: jar.sha256,
        });
    }
    digest::check_zip(path).map_err(Mismatch::Zip)?;
    Ok(())
}
