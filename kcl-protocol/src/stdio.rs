//! The process's stdio and signals, set up once before user code runs.
//!
//! **Private protocol stdout (Unix).** The daemon reads the child's stdout as the protocol channel,
//! so a stray `println!` (from the processor or any dependency) can corrupt it: a stray line is
//! logged and skipped, a stray status misaligns the protocol. [`protocol_output`] duplicates the
//! real stdout to a new descriptor (close-on-exec, so processes the processor starts do not inherit
//! the protocol pipe and cannot hold it open), then points descriptor 1 at stderr. From then on
//! `println!` lands in the daemon's log (the daemon logs every stderr line) and only the library
//! writes protocol messages.
//!
//! **Signals (Unix).** A Ctrl-C in a terminal, or a supervisor signalling the whole process group,
//! also reaches every child. If the child died then, the daemon could not run its graceful shutdown
//! (`shutdownRequested` → checkpoint → `leaseLost`). With [`SignalHandling::Ignore`] the child
//! ignores SIGINT and SIGTERM and ends when the daemon closes its stdin. Ignored dispositions are
//! inherited by processes the processor starts.

use std::fs::File;
use std::io::{self, Write};

/// What the child does with SIGINT and SIGTERM (Unix only; elsewhere nothing is changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SignalHandling {
    /// Ignore SIGINT and SIGTERM, and exit when the daemon closes stdin (the default). This lets
    /// the daemon run its graceful shutdown when the whole process group is signalled. SIGKILL
    /// still works.
    #[default]
    Ignore,
    /// Leave the signal dispositions as they were inherited: a SIGINT or SIGTERM ends the child
    /// at once, and the daemon then stops the whole worker with `System.exit(1)`.
    Inherit,
}

/// Whether [`Runner::run`](crate::Runner::run) moves the protocol's stdout out of everyone else's
/// reach ([`Runner::stdout`](crate::Runner::stdout); default [`StdoutGuard::Private`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StdoutGuard {
    /// A private duplicate of stdout for the protocol; file descriptor 1 points at stderr (Unix),
    /// so that `println!` from any code ends up in the daemon's log instead of corrupting the
    /// protocol.
    #[default]
    Private,
    /// The process's stdout, shared with everything else that prints.
    Shared,
}

/// Where protocol messages go.
pub(crate) enum ProtocolOutput {
    /// A private duplicate of the original stdout.
    Private(File),
    /// The process's stdout, shared with everything else that prints.
    Shared(io::Stdout),
}

impl ProtocolOutput {
    /// Whether nothing else can write to the protocol pipe.
    pub(crate) fn is_private(&self) -> bool {
        matches!(self, ProtocolOutput::Private(_))
    }
}

impl Write for ProtocolOutput {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self {
            ProtocolOutput::Private(file) => file.write(bytes),
            ProtocolOutput::Shared(stdout) => stdout.write(bytes),
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            ProtocolOutput::Private(file) => file.write_all(bytes),
            // One lock for the whole message, so another thread's print cannot land inside it.
            ProtocolOutput::Shared(stdout) => stdout.lock().write_all(bytes),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            ProtocolOutput::Private(file) => file.flush(),
            ProtocolOutput::Shared(stdout) => stdout.flush(),
        }
    }
}

/// Returns the channel for protocol messages; with [`StdoutGuard::Private`] (Unix), first moves
/// stdout out of everyone else's reach as described in the module docs. Safe to call more than
/// once: the original stdout is saved the first time and duplicated again afterwards.
pub(crate) fn protocol_output(guard: StdoutGuard) -> io::Result<ProtocolOutput> {
    if guard == StdoutGuard::Shared {
        return Ok(ProtocolOutput::Shared(io::stdout()));
    }
    #[cfg(unix)]
    {
        unix::private_stdout().map(ProtocolOutput::Private)
    }
    #[cfg(not(unix))]
    {
        Ok(ProtocolOutput::Shared(io::stdout()))
    }
}

/// Applies the signal policy (Unix; a no-op elsewhere).
pub(crate) fn apply_signal_handling(signals: SignalHandling) -> io::Result<()> {
    match signals {
        SignalHandling::Inherit => Ok(()),
        SignalHandling::Ignore => {
            #[cfg(unix)]
            {
                unix::ignore_termination_signals()
            }
            #[cfg(not(unix))]
            {
                Ok(())
            }
        }
    }
}

#[cfg(unix)]
mod unix {
    use std::fs::File;
    use std::io::{self, Write};
    use std::os::fd::{FromRawFd, OwnedFd, RawFd};
    use std::sync::Mutex;

    /// The saved original stdout (close-on-exec), once the guard was installed.
    static SAVED_STDOUT: Mutex<Option<RawFd>> = Mutex::new(None);

    /// Duplicates `fd` to a new close-on-exec descriptor numbered 3 or above.
    fn duplicate(fd: RawFd) -> io::Result<RawFd> {
        // SAFETY: fcntl(F_DUPFD_CLOEXEC) only reads the descriptor table; it does not touch memory.
        let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
        if copy < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(copy)
        }
    }

    pub(super) fn private_stdout() -> io::Result<File> {
        let mut saved = SAVED_STDOUT
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let original = match *saved {
            Some(fd) => fd,
            None => {
                // Anything already printed goes out on the real stdout before the switch.
                io::stdout().lock().flush()?;
                let fd = duplicate(1).map_err(|error| {
                    io::Error::new(
                        error.kind(),
                        format!("cannot duplicate stdout (descriptor 1): {error}"),
                    )
                })?;
                // SAFETY: dup2 atomically replaces descriptor 1 with a copy of descriptor 2; no
                // memory is involved, and Rust's `Stdout` keeps using descriptor 1 by number.
                if unsafe { libc::dup2(2, 1) } < 0 {
                    let error = io::Error::last_os_error();
                    // SAFETY: `fd` was created above and is not shared yet.
                    unsafe { libc::close(fd) };
                    return Err(io::Error::new(
                        error.kind(),
                        format!("cannot point stdout (descriptor 1) at stderr: {error}"),
                    ));
                }
                *saved = Some(fd);
                fd
            }
        };
        let copy = duplicate(original)?;
        // SAFETY: `copy` is a fresh descriptor that nothing else owns.
        Ok(File::from(unsafe { OwnedFd::from_raw_fd(copy) }))
    }

    pub(super) fn ignore_termination_signals() -> io::Result<()> {
        for signal in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: installing SIG_IGN runs no code of ours in signal context.
            if unsafe { libc::signal(signal, libc::SIG_IGN) } == libc::SIG_ERR {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }
}
