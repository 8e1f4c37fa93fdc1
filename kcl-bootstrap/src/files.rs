//! Reading input files without hanging on special files and without unbounded memory.
//!
//! A FIFO, a terminal or a device given as `-p` (or planted in the cache) would block `read`
//! forever or never end, so every file kcl-bootstrap reads is opened without blocking, checked
//! to be a regular file, and read up to a size limit.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::path::Path;

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadFileError {
    /// Opening or reading failed.
    #[error(transparent)]
    Io(io::Error),
    /// A FIFO, socket, device or directory.
    #[error("it is not a regular file ({kind})")]
    NotRegular {
        /// What it is instead.
        kind: &'static str,
    },
    /// Larger than the limit for this kind of file.
    #[error("it is larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
}

/// Opens `path` for reading without blocking on a FIFO and checks that it is a regular file.
pub(crate) fn open_regular(path: &Path) -> Result<File, ReadFileError> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Opening a FIFO for reading blocks until a writer appears; O_NONBLOCK returns at once.
        // Only the open is non-blocking in effect: the file is refused unless it is regular.
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(ReadFileError::Io)?;
    let meta = file.metadata().map_err(ReadFileError::Io)?;
    if !meta.is_file() {
        return Err(ReadFileError::NotRegular {
            kind: file_kind(&meta),
        });
    }
    Ok(file)
}

/// Reads a whole regular file of at most `limit` bytes.
pub(crate) fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, ReadFileError> {
    let file = open_regular(path)?;
    let size = file.metadata().map_or(0, |m| m.len());
    // One read for a file that did not grow since the stat, not a dozen doubling ones.
    let mut bytes = Vec::with_capacity(usize::try_from(size.min(limit) + 1).unwrap_or(0));
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadFileError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadFileError::TooLarge { limit });
    }
    Ok(bytes)
}

/// Like [`read_regular`], for UTF-8 text.
pub(crate) fn read_regular_text(path: &Path, limit: u64) -> Result<String, ReadFileError> {
    let bytes = read_regular(path, limit)?;
    String::from_utf8(bytes)
        .map_err(|e| ReadFileError::Io(io::Error::new(io::ErrorKind::InvalidData, e)))
}

impl ReadFileError {
    /// True if the file does not exist.
    pub(crate) fn is_not_found(&self) -> bool {
        matches!(self, ReadFileError::Io(e) if e.kind() == io::ErrorKind::NotFound)
    }
}

/// Checks that `path` names a regular file (following symlinks), without opening it.
pub(crate) fn check_regular(path: &Path) -> Result<(), ReadFileError> {
    let meta = std::fs::metadata(path).map_err(ReadFileError::Io)?;
    if meta.is_file() {
        Ok(())
    } else {
        Err(ReadFileError::NotRegular {
            kind: file_kind(&meta),
        })
    }
}

fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    if meta.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
    }
    "not a plain file"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_special_files_and_oversized_ones() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a.txt");
        std::fs::write(&plain, b"12345").unwrap();
        assert_eq!(read_regular(&plain, 5).unwrap(), b"12345");
        assert!(matches!(
            read_regular(&plain, 4),
            Err(ReadFileError::TooLarge { limit: 4 })
        ));
        assert!(matches!(
            read_regular(dir.path(), 10),
            Err(ReadFileError::NotRegular {
                kind: "a directory"
            })
        ));
        assert!(matches!(
            read_regular(&dir.path().join("missing"), 10),
            Err(ReadFileError::Io(_))
        ));
        #[cfg(unix)]
        {
            let fifo = dir.path().join("fifo");
            let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
            // SAFETY: a valid NUL-terminated path; mkfifo only creates a file.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
            let start = std::time::Instant::now();
            assert!(matches!(
                read_regular(&fifo, 10),
                Err(ReadFileError::NotRegular { kind: "a FIFO" })
            ));
            assert!(start.elapsed() < std::time::Duration::from_secs(5));
            assert!(check_regular(&fifo).is_err());
            assert!(check_regular(&plain).is_ok());
        }
    }
}
