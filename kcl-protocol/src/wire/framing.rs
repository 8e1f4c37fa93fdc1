//! Line framing: [`LineReader`] reads the daemon's lines over any reader with one reusable
//! buffer, and [`Excerpt`] shows a line in a log or error message.

use std::fmt;
use std::io;

/// Reads lines from the daemon with one reusable buffer.
///
/// Bytes are read through a small staging buffer (at most [`STAGING_MAX`]) and appended to the
/// line buffer, and line ends are found with a SIMD search. Reading straight into the line buffer
/// looks cheaper but is not under a pipe: the kernel then copies into a multi-megabyte buffer that
/// is not in cache, and that copy (`_copy_to_iter`) took 29% of a child's CPU on the throughput
/// workload; through a 64 KiB buffer that stays in cache it is ~2%, and the extra user-space
/// `memcpy` is cheaper than what it saves (measured with kcl-bench under the real pipe).
/// Lines are handed out as `&str` borrowed from the line buffer when they are valid UTF-8
/// (the normal case); otherwise a lossy copy is made. The line buffer grows to the longest line
/// seen, by at most 1/32 at a time so that it stays close to that line's size (peak memory matters
/// with 14 MB batches), and is given back when lines are short again ([`Self::release_excess`]).
pub(crate) struct LineReader<R> {
    inner: R,
    /// Bytes read so far; `buffer[start..]` is not consumed yet.
    buffer: Vec<u8>,
    start: usize,
    /// Where the search for the next `\n` continues (everything before it was searched).
    scanned: usize,
    /// Where the kernel writes; starts small (an idle child touches as little memory as possible)
    /// and grows to [`STAGING_MAX`] once a read fills it.
    staging: Vec<u8>,
    /// The current line: `buffer[line.0..line.1]`, without its line ending.
    line: (usize, usize),
    /// The current line decoded lossily, when it was not valid UTF-8.
    lossy: Option<String>,
    /// `next_line` hands out the current line again instead of reading (see [`Self::unread`]).
    replay: bool,
    eof: bool,
    lossy_warned: bool,
}

/// The smallest growth of the line buffer once lines get long.
const MIN_GROWTH: usize = 8 * 1024;
/// Line-buffer capacity that is never given back (see [`LineReader::release_excess`]).
const RELEASE_ABOVE: usize = 1024 * 1024;
/// The first staging buffer: enough for every message but `processRecords`.
const STAGING_MIN: usize = 4 * 1024;
/// The largest staging buffer: the default pipe capacity on Linux, and small enough to stay in
/// the L2 cache.
const STAGING_MAX: usize = 64 * 1024;

impl<R: io::Read> LineReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        LineReader {
            inner,
            buffer: Vec::new(),
            start: 0,
            scanned: 0,
            staging: Vec::new(),
            line: (0, 0),
            lossy: None,
            replay: false,
            eof: false,
            lossy_warned: false,
        }
    }

    /// The next line without its line ending, or `Ok(None)` at end of input.
    pub(crate) fn next_line(&mut self) -> io::Result<Option<&str>> {
        if self.replay {
            self.replay = false;
            return Ok(Some(self.current()));
        }
        self.lossy = None;
        let (line_start, line_end) = loop {
            if let Some(offset) = memchr::memchr(b'\n', &self.buffer[self.scanned..]) {
                let newline = self.scanned + offset;
                let line = (self.start, newline);
                self.start = newline + 1;
                self.scanned = self.start;
                break line;
            }
            self.scanned = self.buffer.len();
            if self.eof {
                if self.start == self.buffer.len() {
                    return Ok(None);
                }
                // A last line without a line ending.
                let line = (self.start, self.buffer.len());
                self.start = self.buffer.len();
                break line;
            }
            self.fill()?;
        };
        let mut end = line_end;
        if end > line_start && self.buffer[end - 1] == b'\r' {
            end -= 1;
        }
        self.line = (line_start, end);
        match std::str::from_utf8(&self.buffer[line_start..end]) {
            // Valid UTF-8 (the normal case): borrowed from the buffer, validated once.
            Ok(text) => Ok(Some(text)),
            Err(_) => {
                if !self.lossy_warned {
                    self.lossy_warned = true;
                    tracing::warn!(
                        "the daemon sent invalid UTF-8; decoding it lossily (U+FFFD). If partition \
                         keys are non-ASCII, run the daemon with -Dfile.encoding=UTF-8 or Java 18+"
                    );
                }
                let text = String::from_utf8_lossy(&self.buffer[line_start..end]).into_owned();
                Ok(Some(self.lossy.insert(text)))
            }
        }
    }

    fn current(&self) -> &str {
        match &self.lossy {
            Some(text) => text,
            // Valid (checked in `next_line`); checked again only on replays, which are rare.
            None => std::str::from_utf8(&self.buffer[self.line.0..self.line.1]).unwrap_or_default(),
        }
    }

    /// Reads more bytes into the staging buffer and appends them to the line buffer, first moving
    /// unconsumed bytes to the front.
    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            // Usually nothing or a few bytes: the daemon writes one message and then waits.
            let unconsumed = self.buffer.len() - self.start;
            self.buffer.copy_within(self.start.., 0);
            self.buffer.truncate(unconsumed);
            self.scanned -= self.start;
            self.line = (0, 0);
            self.start = 0;
        }
        if self.staging.is_empty() {
            self.staging.resize(STAGING_MIN, 0);
        }
        let count = loop {
            match self.inner.read(&mut self.staging) {
                Ok(count) => break count,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            }
        };
        if count == 0 {
            self.eof = true;
            return Ok(());
        }
        let free = self.buffer.capacity() - self.buffer.len();
        if free < count {
            // Grow by at least MIN_GROWTH, and by 1/32 of the line for long lines (exactly, so the
            // buffer stays close to the longest line instead of doubling past it).
            let growth = MIN_GROWTH.max(self.buffer.len() / 32).max(count);
            self.buffer.reserve_exact(growth);
        }
        self.buffer.extend_from_slice(&self.staging[..count]);
        if count == self.staging.len() && self.staging.len() < STAGING_MAX {
            // A long message is arriving: read in bigger steps from now on.
            self.staging.resize(STAGING_MAX, 0);
        }
        Ok(())
    }

    /// Makes the next [`next_line`](Self::next_line) return the current line again: a message that
    /// arrived where it could not be handled is kept for the engine instead of being lost.
    pub(crate) fn unread(&mut self) {
        self.replay = true;
    }

    /// Gives back line-buffer memory a much longer line left behind, once the current line (of
    /// `line_len` bytes) is no longer needed: after a catch-up batch of 15 MB, the buffer shrinks
    /// at the next ordinary batch. Returns whether memory was released.
    ///
    /// Only well past the current need (more than 4x, and more than [`RELEASE_ABOVE`]), so steady
    /// batch sizes never reallocate, and what is kept still fits a line of `line_len` without
    /// growing again.
    #[inline]
    pub(crate) fn release_excess(&mut self, line_len: usize) -> bool {
        let wanted = line_len.max(self.buffer.len() - self.start) + MIN_GROWTH;
        if self.replay || self.buffer.capacity() <= RELEASE_ABOVE.max(4 * wanted) {
            return false;
        }
        self.compact_and_shrink(wanted)
    }

    #[cold]
    fn compact_and_shrink(&mut self, wanted: usize) -> bool {
        // The current line is consumed: keep only what follows it.
        let unconsumed = self.buffer.len() - self.start;
        self.buffer.copy_within(self.start.., 0);
        self.buffer.truncate(unconsumed);
        self.scanned -= self.start;
        self.start = 0;
        self.line = (0, 0);
        self.lossy = None;
        self.buffer.shrink_to(wanted);
        true
    }
}

/// A short, printable excerpt of a line for error messages.
pub(crate) struct Excerpt<'a>(pub(crate) &'a str);

impl fmt::Display for Excerpt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX: usize = 200;
        let line = self.0;
        if line.len() <= MAX {
            write!(f, "{line:?}")
        } else {
            let mut end = MAX;
            while !line.is_char_boundary(end) {
                end -= 1;
            }
            write!(f, "{:?}… ({} bytes)", &line[..end], line.len())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn line_reader_handles_endings_replay_and_invalid_utf8() {
        let input: &[u8] = b"a\r\n\nb\nc\xff\xfed\nlast";
        let mut reader = LineReader::new(input);
        assert_eq!(reader.next_line().unwrap(), Some("a"));
        assert_eq!(reader.next_line().unwrap(), Some(""));
        assert_eq!(reader.next_line().unwrap(), Some("b"));
        reader.unread();
        assert_eq!(reader.next_line().unwrap(), Some("b"));
        assert_eq!(reader.next_line().unwrap(), Some("c\u{fffd}\u{fffd}d"));
        assert_eq!(reader.next_line().unwrap(), Some("last"));
        assert_eq!(reader.next_line().unwrap(), None);
        assert_eq!(reader.next_line().unwrap(), None);
    }

    #[test]
    fn a_long_line_is_given_back_once_lines_are_short_and_what_follows_is_kept() {
        let mut input = vec![b'x'; 3 * 1024 * 1024];
        input.extend_from_slice(b"\nshort\nnext\n");
        let mut reader = LineReader::new(input.as_slice());
        assert_eq!(
            reader.next_line().unwrap().map(str::len),
            Some(3 * 1024 * 1024)
        );
        // Still needed (the line is as long as the buffer): nothing to give back.
        assert!(!reader.release_excess(3 * 1024 * 1024));
        assert_eq!(reader.next_line().unwrap(), Some("short"));
        assert!(reader.release_excess(5));
        assert!(reader.buffer.capacity() < RELEASE_ABOVE);
        assert!(!reader.release_excess(5), "once is enough");
        assert_eq!(reader.next_line().unwrap(), Some("next"));
        assert_eq!(reader.next_line().unwrap(), None);
    }

    #[test]
    fn a_line_kept_for_replay_is_not_released() {
        let mut input = vec![b'x'; 3 * 1024 * 1024];
        input.extend_from_slice(b"\nshort\n");
        let mut reader = LineReader::new(input.as_slice());
        reader.next_line().unwrap();
        assert_eq!(reader.next_line().unwrap(), Some("short"));
        reader.unread();
        assert!(!reader.release_excess(5));
        assert_eq!(reader.next_line().unwrap(), Some("short"));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn line_reader_never_fails_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut reader = LineReader::new(bytes.as_slice());
            let mut lines = 0;
            while let Some(line) = reader.next_line().unwrap() {
                prop_assert!(!line.contains('\n'));
                lines += 1;
            }
            prop_assert_eq!(lines, bytes.split(|&b| b == b'\n').filter(|_| true).count()
                - usize::from(bytes.is_empty() || bytes.last() == Some(&b'\n')));
        }
    }
}
