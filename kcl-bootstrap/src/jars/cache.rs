//! Where jars and state files live.
//!
//! Layout: `<cache root>/<kcl version>/<jar file name>`, with the state files (`.lock`,
//! `.verified`) next to the jars. A `--jar-folder` keeps only jars; its state files live in
//! `<cache root>/jar-folders/<digest of the folder path>-<version>/`, so a read-only folder works.
//! The version and file names come from a lock whose parser allows only plain names, so nothing
//! here can leave the cache root.

use super::error::JarError;
use crate::digest;
use crate::lock::Lock;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

/// Environment variable that overrides the cache root.
pub(crate) const ENV_CACHE_DIR: &str = "KCL_BOOTSTRAP_CACHE_DIR";

/// The cache root: `$KCL_BOOTSTRAP_CACHE_DIR` (made absolute against `cwd`, because the jar
/// paths derived from it end up in a classpath used from another directory), else
/// `<user cache dir>/kcl-bootstrap`.
pub(crate) fn cache_root(env_value: Option<OsString>, cwd: &Path) -> Result<PathBuf, JarError> {
    if let Some(dir) = env_value.filter(|v| !v.is_empty()) {
        return Ok(crate::launch::absolute(Path::new(&dir), cwd));
    }
    dirs::cache_dir()
        .map(|d| crate::launch::absolute(&d.join("kcl-bootstrap"), cwd))
        .ok_or_else(|| {
            JarError::cache(
                "~/.cache",
                format!(
                    "no user cache directory is known (HOME is not set); set {ENV_CACHE_DIR} or pass --jar-folder DIR"
                ),
                std::io::Error::from(std::io::ErrorKind::NotFound),
            )
        })
}

/// Where the jars of one lock go, and where the state files that describe them go.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// The jars.
    pub(crate) jar_dir: PathBuf,
    /// `.lock` and `.verified`.
    pub(crate) state_dir: PathBuf,
    /// True for the managed cache, false for a user's `--jar-folder`.
    pub(crate) managed: bool,
}

impl Layout {
    /// The managed cache of `lock` under `cache_root`.
    pub(crate) fn cache(cache_root: &Path, lock: &Lock) -> Layout {
        let jar_dir = cache_root.join(&lock.kcl_version);
        Layout {
            state_dir: jar_dir.clone(),
            jar_dir,
            managed: true,
        }
    }

    /// A user's jar folder: created when missing (unless offline), like the official bootstraps'
    /// download folder, and resolved to its canonical path.
    pub(crate) fn folder(
        folder: &Path,
        cache_root: &Path,
        lock: &Lock,
        offline: bool,
    ) -> Result<Layout, JarError> {
        if !folder.exists() && !offline {
            fs::create_dir_all(folder)
                .map_err(|e| JarError::cache(folder, "cannot create the jar folder", e))?;
        }
        let canonical = folder.canonicalize().map_err(|e| {
            JarError::cache(
                folder,
                "cannot open the jar folder; create it or fix --jar-folder",
                e,
            )
        })?;
        if !canonical.is_dir() {
            return Err(JarError::cache(
                folder,
                "--jar-folder is not a directory",
                std::io::Error::from(std::io::ErrorKind::NotADirectory),
            ));
        }
        let key = digest::hex(&digest::sha256(canonical.as_os_str().as_encoded_bytes()));
        let state_dir =
            cache_root
                .join("jar-folders")
                .join(format!("{}-{}", &key[..16], lock.kcl_version));
        Ok(Layout {
            jar_dir: canonical,
            state_dir,
            managed: false,
        })
    }

    /// The path of every jar of `lock`, in classpath order.
    pub(crate) fn jar_paths(&self, lock: &Lock) -> Vec<PathBuf> {
        lock.jars
            .iter()
            .map(|j| self.jar_dir.join(j.file_name()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relative_cache_root_is_made_absolute() {
        let root = cache_root(Some("rel/cache".into()), Path::new("/work/dir")).unwrap();
        assert_eq!(root, PathBuf::from("/work/dir/rel/cache"));
        let root = cache_root(Some("./c".into()), Path::new("/w")).unwrap();
        assert_eq!(root, PathBuf::from("/w/c"));
        let root = cache_root(Some("/abs".into()), Path::new("/w")).unwrap();
        assert_eq!(root, PathBuf::from("/abs"));
        if let Ok(root) = cache_root(None, Path::new("/w")) {
            assert!(root.is_absolute());
        }
    }
}
