//! The logback configuration `-e` and `--supervise` give the daemon when the user names none
//! (`-l`): embedded in the binary, written once to a private file in the cache and passed by
//! path (never through a classpath directory: see [`crate::launch`]).
//!
//! The file name holds the content's digest, so bootstraps of different versions share a cache
//! without overwriting each other's file, and an existing file is used only if its bytes are
//! exactly the embedded ones.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{digest, jars};

/// The configuration (see the comment at its top for what it does and why).
pub(crate) const XML: &str = include_str!("default-logback.xml");

/// Writes (if needed) and returns `<cache_root>/logback/default-<digest>.xml`, readable by this
/// user only.
pub(crate) fn ensure(cache_root: &Path) -> std::io::Result<PathBuf> {
    let dir = cache_root.join("logback");
    create_private_dir(&dir)?;
    let hash = digest::hex(&digest::sha256(XML.as_bytes()));
    let path = dir.join(format!("default-{}.xml", &hash[..16]));
    if std::fs::read(&path).is_ok_and(|bytes| bytes == XML.as_bytes()) {
        return Ok(path);
    }
    let (temp, mut file) = jars::TempFile::create(&dir, "default-logback.xml")?;
    file.write_all(XML.as_bytes())?;
    set_private(temp.path(), 0o600)?;
    temp.persist(file, &path)?;
    Ok(path)
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        // Recursive: an existing directory is fine (its mode is left as the user set it).
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

fn set_private(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_once_private_and_repaired_when_changed() {
        let cache = tempfile::tempdir().unwrap();
        let path = ensure(cache.path()).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), XML);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
        std::fs::write(&path, "<configuration/>").unwrap();
        assert_eq!(ensure(cache.path()).unwrap(), path);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), XML);
    }

    #[test]
    fn the_configuration_keeps_child_lines_once() {
        assert!(XML.contains(
            r#"<logger name="software.amazon.kinesis.multilang.DrainChildSTDERRTask" level="OFF"/>"#
        ));
        assert!(roxmltree::Document::parse(XML).is_ok());
    }
}
