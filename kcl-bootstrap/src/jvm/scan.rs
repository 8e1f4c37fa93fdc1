//! Whether a file holds a byte string, read in chunks: an AppCDS dump is 10-60 MB and only one
//! marker is looked for (`super::cds`), so the file is streamed through a buffer of [`CHUNK`]
//! bytes instead of read whole.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Bytes read at a time.
const CHUNK: usize = 64 * 1024;

/// Whether the file at `path` contains `needle`.
pub(crate) fn file_contains(path: &Path, needle: &[u8]) -> io::Result<bool> {
    contains(File::open(path)?, needle, CHUNK)
}

/// Whether `reader`'s bytes contain `needle`, reading `chunk` bytes at a time. The last
/// `needle.len() - 1` bytes of each read are kept in front of the next one, so a match that
/// straddles two reads is found; memory stays at `chunk + needle.len()` bytes.
pub(crate) fn contains(mut reader: impl Read, needle: &[u8], chunk: usize) -> io::Result<bool> {
    let Some(keep) = needle.len().checked_sub(1) else {
        return Ok(true);
    };
    let mut buffer = vec![0u8; keep + chunk.max(1)];
    let mut filled = 0;
    loop {
        let read = match reader.read(&mut buffer[filled..]) {
            Ok(0) => return Ok(false),
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        filled += read;
        if find(&buffer[..filled], needle) {
            return Ok(true);
        }
        // After this, at most `keep` bytes are kept: the next read has at least `chunk` free.
        let tail = filled.saturating_sub(keep);
        buffer.copy_within(tail..filled, 0);
        filled -= tail;
    }
}

/// Whether `haystack` contains `needle` (not empty): each occurrence of its first byte is
/// compared (a byte scan, then one comparison, instead of one comparison per position).
fn find(haystack: &[u8], needle: &[u8]) -> bool {
    let first = needle[0];
    let mut from = 0;
    while let Some(at) = haystack[from..].iter().position(|&b| b == first) {
        let start = from + at;
        if haystack[start..].starts_with(needle) {
            return true;
        }
        from = start + 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that returns at most `step` bytes per read (as a pipe or a slow disk may).
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(out.len()).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    const NEEDLE: &[u8] = b"software/amazon/kinesis/multilang/MultiLangProtocol";

    #[test]
    fn a_marker_is_found_wherever_it_lies_across_chunk_boundaries() {
        let chunk = 16;
        for at in 0..4 * chunk {
            let mut data = vec![b'x'; at];
            data.extend_from_slice(NEEDLE);
            data.extend_from_slice(&[b'y'; 7]);
            assert!(contains(&data[..], NEEDLE, chunk).unwrap(), "at {at}");
            let trickle = Trickle {
                data: &data,
                step: 5,
            };
            assert!(
                contains(trickle, NEEDLE, chunk).unwrap(),
                "at {at}, short reads"
            );
        }
    }

    #[test]
    fn an_absent_or_cut_marker_is_not_found() {
        let chunk = 16;
        // Near misses: the marker without its last byte, at the end and followed by others.
        let cut = &NEEDLE[..NEEDLE.len() - 1];
        let mut data = b"software/amazon/kinesis/multilang/MultiLangDaemon ".repeat(9);
        data.extend_from_slice(cut);
        data.push(b'X');
        data.extend_from_slice(cut);
        assert!(!contains(&data[..], NEEDLE, chunk).unwrap());
        assert!(!contains(&b""[..], NEEDLE, chunk).unwrap());
    }

    #[test]
    fn a_file_is_scanned() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("dump.jsa");
        let mut data = vec![0u8; CHUNK - 10];
        data.extend_from_slice(NEEDLE);
        std::fs::write(&path, &data).unwrap();
        assert!(file_contains(&path, NEEDLE).unwrap());
        std::fs::write(&path, &data[..data.len() - 1]).unwrap();
        assert!(!file_contains(&path, NEEDLE).unwrap());
        assert!(file_contains(&tmp.path().join("missing"), NEEDLE).is_err());
    }
}
