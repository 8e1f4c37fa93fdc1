//! How the driver writes a line to the child's stdin: as the JDK does, or in one call.
//!
//! The daemon's writer stack (KCL 3.1.3 `MessageWriter`): `BufferedWriter(OutputStreamWriter(
//! process.getOutputStream()))`, one `write` of the JSON, one of the line separator, a `flush`.
//! `OutputStreamWriter`'s encoder (`sun.nio.cs.StreamEncoder`) fills an 8 KiB byte buffer and hands
//! it on whenever it is full; the process's stdin (`ProcessImpl.ProcessPipeOutputStream`) is a
//! `BufferedOutputStream` of the default 8 KiB, which passes writes of at least its size straight
//! to the pipe. For the ASCII JSON of the protocol a line of L bytes therefore reaches the pipe as
//! L / 8192 writes of 8 KiB and one of the rest (the newline in it), not as one write: a 14 MB
//! `processRecords` line is ~1,700 writes, so a child reading it sees ~1,700 pipe wake-ups.

use std::io::Write;

/// The size of the JDK's pipe writes (the `StreamEncoder` and `BufferedOutputStream` defaults).
pub const JDK_PIPE_WRITE: usize = 8192;

/// How each line is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// 8 KiB writes and the rest, as the daemon's JVM writes: the headline.
    JdkChunks,
    /// The whole line in one write call (what a plain `write_all` of the line does).
    WholeLine,
}

impl WriteMode {
    /// Both modes, the daemon-matching one first.
    pub const ALL: [WriteMode; 2] = [WriteMode::JdkChunks, WriteMode::WholeLine];

    /// Its id on the command line and in the report.
    pub fn id(self) -> &'static str {
        match self {
            WriteMode::JdkChunks => "jdk",
            WriteMode::WholeLine => "line",
        }
    }

    /// What it is, for the report.
    pub fn describe(self) -> &'static str {
        match self {
            WriteMode::JdkChunks => "8 KiB writes (as the JVM)",
            WriteMode::WholeLine => "one write per line",
        }
    }

    /// The mode with this id.
    pub fn from_id(id: &str) -> Option<WriteMode> {
        WriteMode::ALL.into_iter().find(|mode| mode.id() == id)
    }
}

/// Writes `line` (its newline included) to `out` the way `mode` says, then flushes.
pub fn write_line(out: &mut impl Write, line: &[u8], mode: WriteMode) -> std::io::Result<()> {
    match mode {
        WriteMode::JdkChunks => {
            for chunk in line.chunks(JDK_PIPE_WRITE) {
                out.write_all(chunk)?;
            }
        }
        WriteMode::WholeLine => out.write_all(line)?,
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records the size of every write call.
    #[derive(Default)]
    struct Calls(Vec<usize>);

    impl Write for Calls {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.push(buf.len());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn jdk_mode_writes_8_kib_pieces_and_the_rest() {
        let line = vec![b'x'; 2 * JDK_PIPE_WRITE + 100];
        let mut calls = Calls::default();
        write_line(&mut calls, &line, WriteMode::JdkChunks).unwrap();
        assert_eq!(calls.0, vec![JDK_PIPE_WRITE, JDK_PIPE_WRITE, 100]);
        let mut calls = Calls::default();
        write_line(&mut calls, &line, WriteMode::WholeLine).unwrap();
        assert_eq!(calls.0, vec![line.len()]);
    }

    #[test]
    fn ids_round_trip() {
        for mode in WriteMode::ALL {
            assert_eq!(WriteMode::from_id(mode.id()), Some(mode));
        }
        assert_eq!(WriteMode::from_id("other"), None);
    }
}
