//! Running the binary with a bound on its time, and small process helpers.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How a bounded run ended.
pub struct Bounded {
    /// The exit code; `None` if killed at the bound (or by a signal).
    pub code: Option<i32>,
    pub out: String,
    pub err: String,
    pub elapsed: Duration,
    /// True if the bound was reached and the process group was killed.
    pub timed_out: bool,
}

impl Bounded {
    /// Panics with the output unless the run ended by itself with `code`.
    pub fn expect_code(&self, code: i32) {
        assert!(
            !self.timed_out,
            "still running after {:?} (killed):\n{}",
            self.elapsed, self.err
        );
        assert_eq!(self.code, Some(code), "{}", self.err);
    }
}

/// Runs `cmd` in a process group of its own, kills the group after `limit`, and returns what
/// happened. Every hostile test goes through this, so a hang fails the test instead of hanging it.
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> Bounded {
    cmd.stderr(Stdio::piped());
    run_bounded_stdio(cmd, limit)
}

/// Like [`run_bounded`], with the stderr the caller set up (`err` is empty unless piped).
pub fn run_bounded_stdio(cmd: &mut Command, limit: Duration) -> Bounded {
    use std::os::unix::process::CommandExt;
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let out = drain(child.stdout.take().unwrap());
    let err = match child.stderr.take() {
        Some(e) => drain(e),
        None => {
            let (tx, rx) = std::sync::mpsc::channel();
            let _ = tx.send(Vec::new());
            rx
        }
    };
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            timed_out = true;
            kill_group(child.id());
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let elapsed = start.elapsed();
    // Whatever the binary left running belongs to its group.
    kill_group(child.id());
    let text = |rx: std::sync::mpsc::Receiver<Vec<u8>>| {
        String::from_utf8_lossy(&rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default())
            .into_owned()
    };
    Bounded {
        code: status.code(),
        out: text(out),
        err: text(err),
        elapsed,
        timed_out,
    }
}

fn drain(mut r: impl Read + Send + 'static) -> std::sync::mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = r.read_to_end(&mut v);
        let _ = tx.send(v);
    });
    rx
}

pub fn kill_group(pgid: u32) {
    // SAFETY: kill(2) on a process group this test created.
    unsafe {
        libc::kill(-(pgid as i32), libc::SIGKILL);
    }
}

/// True if a process with this PID exists (zombies included).
pub fn process_exists(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Waits up to 10 s for a process to disappear.
pub fn wait_gone(pid: i32) -> bool {
    let end = Instant::now() + Duration::from_secs(10);
    while process_exists(pid) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    !process_exists(pid)
}

/// Makes a FIFO.
pub fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}
