//! SHA-256 and jar-integrity helpers shared by the download and verification paths.

use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// SHA-256 of a byte slice.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Lower-case hex of a digest.
pub fn hex(digest: &[u8]) -> String {
    use std::fmt::Write;
    digest
        .iter()
        .fold(String::with_capacity(digest.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Size and SHA-256 of a file, read in 256 KiB chunks.
pub fn file_sha256(path: &Path) -> io::Result<(u64, [u8; 32])> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((size, hasher.finalize().into()))
}

/// An incremental SHA-256 that also counts bytes, used while streaming a download to disk.
#[derive(Default)]
pub struct StreamingDigest {
    hasher: Sha256,
    size: u64,
}

impl StreamingDigest {
    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
    }

    /// Bytes fed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The final digest.
    pub fn finish(self) -> [u8; 32] {
        self.hasher.finalize().into()
    }
}

/// Why a file is not a usable jar.
#[derive(Debug, thiserror::Error)]
pub enum ZipCheckError {
    /// The file could not be opened.
    #[error("cannot open it ({0})")]
    Open(io::Error),
    /// No readable zip central directory.
    #[error("not a valid jar (zip) file: {0}")]
    NotZip(zip::result::ZipError),
    /// A zip with nothing in it.
    #[error("the archive has no entries")]
    Empty,
}

/// Checks that a file opens as a zip archive (a jar) and reads its central directory; returns
/// the number of entries.
///
/// A jar cut short loses its central directory (it sits at the end of the file), so this catches
/// truncation even where no checksum is known.
pub fn check_zip(path: &Path) -> Result<usize, ZipCheckError> {
    let file = File::open(path).map_err(ZipCheckError::Open)?;
    let archive = zip::ZipArchive::new(io::BufReader::new(file)).map_err(ZipCheckError::NotZip)?;
    if archive.is_empty() {
        return Err(ZipCheckError::Empty);
    }
    Ok(archive.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_sha256_match_known_vector() {
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut s = StreamingDigest::default();
        s.update(b"a");
        s.update(b"bc");
        assert_eq!(s.size(), 3);
        assert_eq!(s.finish(), sha256(b"abc"));
    }

    #[test]
    fn check_zip_rejects_non_zip_and_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.jar");
        std::fs::write(&p, b"not a zip").unwrap();
        assert!(matches!(check_zip(&p), Err(ZipCheckError::NotZip(_))));
        assert!(matches!(
            check_zip(&dir.path().join("missing.jar")),
            Err(ZipCheckError::Open(_))
        ));
        let mut buf = io::Cursor::new(Vec::new());
        {
            let mut w = zip::ZipWriter::new(&mut buf);
            w.start_file("a.txt", zip::write::SimpleFileOptions::default())
                .unwrap();
            io::Write::write_all(&mut w, b"hello").unwrap();
            w.finish().unwrap();
        }
        let bytes = buf.into_inner();
        std::fs::write(&p, &bytes).unwrap();
        assert_eq!(check_zip(&p).unwrap(), 1);
        std::fs::write(&p, &bytes[..bytes.len() - 10]).unwrap();
        assert!(check_zip(&p).is_err());
    }
}
