//! The non-blocking datagram socket that reports go out on.

use std::io;
use std::path::{Path, PathBuf};

/// Sends datagrams to the supervisor's socket, dropping them whenever it cannot at once.
pub(crate) struct Sender {
    #[cfg(unix)]
    socket: std::os::unix::net::UnixDatagram,
    path: PathBuf,
    /// Whether the socket is connected to `path` (connected once, again after the receiver was
    /// gone: a supervisor that restarted binds a new socket at the same path).
    connected: bool,
}

impl Sender {
    #[cfg(unix)]
    pub(crate) fn new(path: &Path) -> io::Result<Sender> {
        let socket = std::os::unix::net::UnixDatagram::unbound()?;
        socket.set_nonblocking(true)?;
        Ok(Sender {
            socket,
            path: path.to_owned(),
            connected: false,
        })
    }

    #[cfg(not(unix))]
    pub(crate) fn new(_path: &Path) -> io::Result<Sender> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "Unix datagram sockets need a Unix system",
        ))
    }

    /// Sends `datagram` if the receiver's queue has room; otherwise it is lost (never waits).
    #[cfg(unix)]
    pub(crate) fn send(&mut self, datagram: &[u8]) {
        if !self.connected {
            if self.socket.connect(&self.path).is_err() {
                // No receiver (yet, or any more): this sample is lost, the next send tries again.
                return;
            }
            self.connected = true;
        }
        match self.socket.send(datagram) {
            Ok(_) => {}
            // The receiver's queue is full: drop the sample rather than wait.
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            // The receiver is gone (ECONNREFUSED) or the socket broke: connect again next time.
            Err(_) => self.connected = false,
        }
    }

    #[cfg(not(unix))]
    pub(crate) fn send(&mut self, _datagram: &[u8]) {
        let _ = (&self.path, self.connected);
    }
}
