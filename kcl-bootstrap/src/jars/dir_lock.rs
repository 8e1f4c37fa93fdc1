//! The exclusive lock of a state directory, held while anything in it is written.
//!
//! Two bootstraps that start together download once: the second waits for the first, saying
//! whom it waits for (the holder writes its PID and start time into the lock file), and gives
//! up after a bound instead of waiting forever behind a stuck process. The lock is an OS file
//! lock (`flock`), so a killed holder releases it at once.

use super::error::JarError;
use std::fs::{self, File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const LOCK_FILE: &str = ".lock";

/// How often a waiting process retries the lock.
const POLL: Duration = Duration::from_millis(100);

/// How often a waiting process repeats whom it waits for.
const REMIND_EVERY: Duration = Duration::from_secs(30);

/// Holds the exclusive lock of a state directory until dropped.
pub(crate) struct DirLock {
    _file: File,
}

/// What a waiting process is told.
pub(crate) trait WaitNotice {
    /// Called when the lock is busy, then every [`REMIND_EVERY`].
    fn waiting(&self, message: &str);
}

impl DirLock {
    /// Takes the lock of `state_dir`, waiting at most `bound` for another holder.
    pub(crate) fn acquire(
        state_dir: &Path,
        bound: Duration,
        notice: &dyn WaitNotice,
    ) -> Result<DirLock, JarError> {
        let path = state_dir.join(LOCK_FILE);
        let mut file = open_lock_file(&path)
            .map_err(|e| JarError::cache(&path, "cannot open the cache lock file", e))?;
        let start = Instant::now();
        let mut next_notice = start;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => {
                    return Err(JarError::cache(&path, "cannot lock the cache", e));
                }
            }
            let waited = start.elapsed();
            let holder = describe_holder(&mut file);
            if waited >= bound {
                return Err(JarError::LockTimeout {
                    dir: state_dir.to_path_buf(),
                    holder,
                    waited: bound,
                });
            }
            if Instant::now() >= next_notice {
                notice.waiting(&format!(
                    "another kcl-bootstrap ({holder}) is preparing the same jars; waiting for it (waited {} s, \
                     giving up after {}, --lock-timeout)",
                    waited.as_secs(),
                    crate::cli::show_duration(bound)
                ));
                next_notice += REMIND_EVERY;
            }
            std::thread::sleep(POLL.min(bound - waited));
        }
        // Tell later waiters who we are. Only advisory: failing to write costs a vaguer message.
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let _ = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "pid {} since {started}", std::process::id()));
        Ok(DirLock { _file: file })
    }
}

fn open_lock_file(path: &Path) -> std::io::Result<File> {
    let mut options = fs::OpenOptions::new();
    options.create(true).truncate(false).read(true).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // A symlink planted as `.lock` must not make us write the PID line into its target.
        options.custom_flags(libc::O_NOFOLLOW);
    }
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("the lock file is not a regular file"));
    }
    Ok(file)
}

/// `PID 123, holding the lock for 42 s`, from the holder's line, or `PID unknown`.
fn describe_holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file
        .rewind()
        .and_then(|()| file.take(200).read_to_string(&mut text));
    let mut words = text.split_whitespace();
    let parsed = match (words.next(), words.next(), words.next(), words.next()) {
        (Some("pid"), Some(pid), Some("since"), Some(since)) => {
            pid.parse::<u32>().ok().zip(since.parse::<u64>().ok())
        }
        _ => None,
    };
    match parsed {
        Some((pid, since)) => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            format!(
                "PID {pid}, holding the lock for {} s",
                now.saturating_sub(since)
            )
        }
        None => "PID unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Notes(Mutex<Vec<String>>);

    impl WaitNotice for Notes {
        fn waiting(&self, message: &str) {
            self.0.lock().unwrap().push(message.to_string());
        }
    }

    #[test]
    fn a_second_holder_waits_names_the_first_and_gives_up() {
        let dir = tempfile::tempdir().unwrap();
        let notes = Notes::default();
        let first = DirLock::acquire(dir.path(), Duration::from_secs(5), &notes).unwrap();
        assert!(notes.0.lock().unwrap().is_empty());
        let start = Instant::now();
        let err = DirLock::acquire(dir.path(), Duration::from_millis(300), &notes)
            .err()
            .unwrap();
        assert!(start.elapsed() >= Duration::from_millis(300));
        assert!(start.elapsed() < Duration::from_secs(10));
        let me = format!("PID {}", std::process::id());
        assert!(err.to_string().contains(&me), "{err}");
        assert!(err.to_string().contains("--lock-timeout"), "{err}");
        let said = notes.0.lock().unwrap().join("\n");
        assert!(
            said.contains(&me) && said.contains("waiting for it"),
            "{said}"
        );
        drop(first);
        assert!(DirLock::acquire(dir.path(), Duration::from_millis(300), &notes).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_symlink_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join(LOCK_FILE)).unwrap();
        let notes = Notes::default();
        assert!(DirLock::acquire(dir.path(), Duration::from_millis(100), &notes).is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }
}
