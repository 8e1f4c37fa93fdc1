//! The report socket: a Unix datagram socket in a private directory, read by a thread of its own.
//!
//! The thread does nothing but receive and aggregate, so that the children's queue (the kernel's
//! `net.unix.max_dgram_qlen` datagrams, 10 by default on Linux, before a sender's report is
//! dropped) drains as fast as the reports come. It also ticks the worker once a second (children's
//! processes, series expiry, the health clocks).

use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use super::worker::Worker;

/// How often the worker is ticked (and how soon the thread sees the stop flag).
const TICK: Duration = Duration::from_secs(1);

/// Largest datagram read; reports are about 300 bytes (a failure message adds at most 512).
const MAX_DATAGRAM: usize = 64 * 1024;

/// Unix socket paths are limited to 108 bytes (`sun_path`).
const MAX_SOCKET_PATH: usize = 100;

/// The private directory and the bound socket in it; both removed when dropped.
pub(crate) struct ReportSocket {
    dir: PathBuf,
    path: PathBuf,
    socket: UnixDatagram,
}

impl ReportSocket {
    /// Creates a directory only this user can enter (mode 0700, under `$TMPDIR` or `/tmp`) and
    /// binds `reports.sock` in it.
    pub(crate) fn bind() -> io::Result<ReportSocket> {
        let mut base = std::env::temp_dir();
        if base.as_os_str().len() > MAX_SOCKET_PATH - 40 {
            base = PathBuf::from("/tmp");
        }
        let dir = private_dir(&base)?;
        let path = dir.join("reports.sock");
        match UnixDatagram::bind(&path) {
            Ok(socket) => Ok(ReportSocket { dir, path, socket }),
            Err(error) => {
                let _ = std::fs::remove_dir(&dir);
                Err(error)
            }
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Starts the receiving thread; it stops when `stop` is set (within [`TICK`]).
    pub(crate) fn spawn(
        self,
        worker: Arc<Mutex<Worker>>,
        stop: Arc<AtomicBool>,
    ) -> io::Result<JoinHandle<()>> {
        self.socket.set_read_timeout(Some(TICK))?;
        std::thread::Builder::new()
            .name("kcl-reports".into())
            .spawn(move || self.receive(&worker, &stop))
    }

    fn receive(self, worker: &Mutex<Worker>, stop: &AtomicBool) {
        let mut buffer = vec![0; MAX_DATAGRAM];
        let mut next_tick = Instant::now() + TICK;
        while !stop.load(Ordering::Relaxed) {
            match self.socket.recv(&mut buffer) {
                Ok(length) => {
                    let mut worker = worker.lock().unwrap_or_else(PoisonError::into_inner);
                    worker.datagram(&buffer[..length], Instant::now(), SystemTime::now());
                }
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                // Nothing else is expected of a bound datagram socket; do not spin on it.
                Err(_) => std::thread::sleep(TICK),
            }
            let now = Instant::now();
            if now >= next_tick {
                next_tick = now + TICK;
                let mut worker = worker.lock().unwrap_or_else(PoisonError::into_inner);
                worker.tick(now, &process_alive);
            }
        }
    }
}

impl Drop for ReportSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// A new directory `kcl-bootstrap-PID-N` with mode 0700 (never an existing one).
fn private_dir(base: &Path) -> io::Result<PathBuf> {
    let pid = std::process::id();
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.subsec_nanos());
    let mut last_error = None;
    for attempt in 0..16u32 {
        let dir = base.join(format!(
            "kcl-bootstrap-{pid}-{:x}",
            nanos.wrapping_add(attempt)
        ));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => last_error = Some(error),
            Err(error) => return Err(error),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no free directory name")))
}

/// Whether a process runs (or is a zombie not yet reaped by the daemon).
fn process_alive(pid: u32) -> bool {
    crate::process::process_exists(pid).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_socket_lives_in_a_private_directory_that_goes_away() {
        let socket = ReportSocket::bind().unwrap();
        let dir = socket.path().parent().unwrap().to_owned();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        assert!(socket.path().as_os_str().len() <= MAX_SOCKET_PATH + 8);
        drop(socket);
        assert!(!dir.exists());
    }

    #[test]
    fn this_process_is_alive_and_an_unused_pid_is_not() {
        assert!(process_alive(std::process::id()));
        assert!(!process_alive(0));
        assert!(!process_alive(u32::MAX));
    }
}
