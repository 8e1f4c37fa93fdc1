//! Getting the locked jars onto disk: cache layout, verification, downloads.
//!
//! Layout: `<cache root>/<kcl version>/<jar file name>`. The cache root is
//! `$KCL_BOOTSTRAP_CACHE_DIR`, else the user cache directory (`~/.cache/kcl-bootstrap` on Linux).
//!
//! Safety rules:
//! - a jar only ever appears under its final name by an atomic rename of a temp file in the same
//!   directory, after its size and SHA-256 matched the lock and it opened as a zip archive;
//! - a mismatch is an error and leaves nothing behind;
//! - everything that writes holds an exclusive file lock (`.lock` in the state directory), so
//!   two bootstraps starting at once download once: the second waits, then finds the jars ready;
//! - after a full verification a marker (`.verified`: the lock's digest plus each jar's size and
//!   modification time) is written atomically. A warm start only compares the marker with
//!   `stat()` results, so it costs well under a millisecond per jar instead of re-hashing ~75 MB;
//!   `--verify` forces the full re-hash.

use crate::digest::{self, StreamingDigest};
use crate::lock::{Lock, LockedJar};
use crate::maven::Repository;
use std::fs::{self, File};
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, UNIX_EPOCH};

/// Environment variable that overrides the cache root.
pub const ENV_CACHE_DIR: &str = "KCL_BOOTSTRAP_CACHE_DIR";

const MARKER_FILE: &str = ".verified";
const LOCK_FILE: &str = ".lock";
const MARKER_HEADER: &str = "kcl-bootstrap verified v1";

/// The cache root: `$KCL_BOOTSTRAP_CACHE_DIR`, else `<user cache dir>/kcl-bootstrap`.
pub fn default_cache_root() -> Result<PathBuf, JarError> {
    if let Some(dir) = std::env::var_os(ENV_CACHE_DIR).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    dirs::cache_dir()
        .map(|d| d.join("kcl-bootstrap"))
        .ok_or_else(|| JarError::Cache {
            path: PathBuf::from("~/.cache"),
            message: format!(
                "no user cache directory is known (HOME is not set); set {ENV_CACHE_DIR} or pass --jar-folder DIR"
            ),
        })
}

/// Where the jars live.
#[derive(Debug, Clone)]
pub enum JarLocation {
    /// `<cache root>/<version>/`, managed by kcl-bootstrap.
    Cache,
    /// A user-provided folder (`--jar-folder`): verified against the lock; missing jars are
    /// downloaded into it unless offline; a jar that does not match is reported, never replaced.
    Folder(PathBuf),
}

/// How downloads report progress on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// A progress bar when stderr is a terminal, plain lines otherwise.
    Auto,
    /// Plain lines.
    Lines,
    /// Nothing except errors.
    Quiet,
}

/// Retries for one jar download.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Total attempts, including the first.
    pub attempts: u32,
    /// Delay before the second attempt; doubled for each further one.
    pub initial_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            initial_backoff: Duration::from_millis(500),
        }
    }
}

/// Options for [`ensure_jars`].
pub struct JarOptions<'a> {
    /// The jars wanted.
    pub lock: &'a Lock,
    /// Cache or user folder.
    pub location: JarLocation,
    /// Cache root (jars for [`JarLocation::Cache`], state files for both).
    pub cache_root: PathBuf,
    /// Never touch the network.
    pub offline: bool,
    /// Re-hash every jar even when the verified marker is current.
    pub verify: bool,
    /// Concurrent downloads.
    pub parallelism: usize,
    /// Retry policy per jar.
    pub retry: RetryPolicy,
    /// Progress output.
    pub progress: ProgressMode,
    /// Chooses the repository; only called when something must be downloaded, so a broken
    /// settings.xml does not stop a warm start.
    pub repository: &'a dyn Fn() -> Result<Repository, String>,
}

/// Why the jars could not be made ready.
#[derive(Debug, thiserror::Error)]
pub enum JarError {
    /// Offline and jars are missing.
    #[error(
        "{count} of {total} jars for KCL {version} are missing from {dir} and --offline forbids downloading \
         (first missing: {first}). Run once without --offline to fill the cache, or stage the jars listed \
         in the lock into --jar-folder DIR"
    )]
    Offline {
        /// Missing jars.
        count: usize,
        /// Jars in the lock.
        total: usize,
        /// KCL version.
        version: String,
        /// Directory searched.
        dir: PathBuf,
        /// First missing file name.
        first: String,
    },
    /// A jar's bytes do not match the lock.
    #[error("{file}: {detail}. {advice}")]
    Mismatch {
        /// The file.
        file: PathBuf,
        /// Expected vs actual.
        detail: String,
        /// What to do.
        advice: String,
    },
    /// A download failed after its retries.
    #[error("downloading {url} failed: {message}")]
    Download {
        /// The URL.
        url: String,
        /// What went wrong and what to do.
        message: String,
    },
    /// The cache or jar folder cannot be read or written.
    #[error("{}: {message}", path.display())]
    Cache {
        /// The path.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The repository choice failed (bad URL or settings.xml).
    #[error("{0}")]
    Repository(String),
    /// Several downloads failed.
    #[error("{} jars could not be downloaded:\n  {}", .0.len(), .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n  "))]
    Many(Vec<JarError>),
}

/// Makes sure every jar of the lock is present and verified, downloading what is missing.
/// Returns the jar paths in the lock's classpath order.
pub fn ensure_jars(opts: &JarOptions<'_>) -> Result<Vec<PathBuf>, JarError> {
    let lock = opts.lock;
    let (dir, state_dir) = match &opts.location {
        JarLocation::Cache => {
            let dir = opts.cache_root.join(&lock.kcl_version);
            (dir.clone(), dir)
        }
        JarLocation::Folder(folder) => {
            if !folder.exists() && !opts.offline {
                // Like the official bootstraps' download folder: created on first use.
                fs::create_dir_all(folder).map_err(|e| JarError::Cache {
                    path: folder.clone(),
                    message: format!("cannot create the jar folder: {e}"),
                })?;
            }
            let canonical = folder.canonicalize().map_err(|e| JarError::Cache {
                path: folder.clone(),
                message: format!("cannot open the jar folder: {e}; create it or fix --jar-folder"),
            })?;
            if !canonical.is_dir() {
                return Err(JarError::Cache {
                    path: folder.clone(),
                    message: "--jar-folder is not a directory".into(),
                });
            }
            let key = digest::hex(&digest::sha256(canonical.as_os_str().as_encoded_bytes()));
            let state = opts.cache_root.join("jar-folders").join(format!(
                "{}-{}",
                &key[..16],
                lock.kcl_version
            ));
            (canonical, state)
        }
    };
    let paths: Vec<PathBuf> = lock.jars.iter().map(|j| dir.join(j.file_name())).collect();

    // Fast path: a current marker and unchanged stat() results. No lock needed: the marker is
    // only ever replaced atomically and only describes files that were fully verified.
    if !opts.verify && marker_is_current(&state_dir.join(MARKER_FILE), lock, &paths) {
        return Ok(paths);
    }

    let writable_state = fs::create_dir_all(&state_dir).is_ok();
    if matches!(opts.location, JarLocation::Cache) && !writable_state {
        return Err(JarError::Cache {
            path: state_dir,
            message: format!(
                "cannot create the jar cache directory; set {ENV_CACHE_DIR} to a writable directory"
            ),
        });
    }
    let guard = if writable_state {
        Some(lock_dir(&state_dir, opts.progress)?)
    } else {
        None
    };
    // Another bootstrap may have finished while we waited for the lock.
    if !opts.verify && marker_is_current(&state_dir.join(MARKER_FILE), lock, &paths) {
        return Ok(paths);
    }

    if guard.is_some() {
        remove_stale_downloads(&dir);
    }
    let is_cache = matches!(opts.location, JarLocation::Cache);
    let mut missing = Vec::new();
    let mut present = Vec::new();
    for (jar, path) in lock.jars.iter().zip(&paths) {
        match fs::metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => missing.push(jar),
            Err(e) => {
                return Err(JarError::Cache {
                    path: path.clone(),
                    message: format!("cannot read: {e}"),
                });
            }
            Ok(_) => present.push((jar, path)),
        }
    }
    for ((jar, path), verdict) in present.iter().zip(verify_all(&present)) {
        match verdict {
            Ok(()) => {}
            Err(detail) if is_cache => {
                note(
                    opts.progress,
                    &format!(
                        "cached {} is damaged ({detail}); downloading it again",
                        jar.file_name()
                    ),
                );
                fs::remove_file(path).map_err(|e| JarError::Cache {
                    path: path.to_path_buf(),
                    message: format!("cannot remove the damaged jar: {e}"),
                })?;
                missing.push(jar);
            }
            Err(detail) => {
                return Err(JarError::Mismatch {
                    file: path.to_path_buf(),
                    detail,
                    advice: format!(
                        "The jar folder must hold exactly the jars of the KCL {} lock: delete or replace this file \
                         (kcl-bootstrap downloads missing jars unless --offline)",
                        lock.kcl_version
                    ),
                });
            }
        }
    }

    if !missing.is_empty() {
        if opts.offline {
            return Err(JarError::Offline {
                count: missing.len(),
                total: lock.jars.len(),
                version: lock.kcl_version.clone(),
                dir,
                first: missing[0].file_name().to_string(),
            });
        }
        let repository = (opts.repository)().map_err(JarError::Repository)?;
        download_all(&missing, &dir, &repository, opts)?;
    }

    if writable_state {
        write_marker(&state_dir, lock, &paths)?;
    }
    Ok(paths)
}

/// Deletes `.<name>.part` files left by a bootstrap that was killed mid-download. Only called
/// while holding the directory's lock, so no live download can be affected.
fn remove_stale_downloads(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.ends_with(".part") {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Verifies files on all cores (hashing ~75 MB is the slow part of a cold start or `--verify`);
/// results come back in input order.
fn verify_all(files: &[(&LockedJar, &PathBuf)]) -> Vec<Result<(), String>> {
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 8)
        .min(files.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<Result<(), String>>>> =
        files.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((jar, path)) = files.get(i) else {
                        return;
                    };
                    let verdict = verify_file(path, jar);
                    if let Ok(mut slot) = results[i].lock() {
                        *slot = Some(verdict);
                    }
                }
            });
        }
    });
    results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .ok()
                .flatten()
                .unwrap_or_else(|| Err("verification did not complete".into()))
        })
        .collect()
}

/// Checks size, SHA-256 and zip structure of one file against the lock.
fn verify_file(path: &Path, jar: &LockedJar) -> Result<(), String> {
    let (size, sha) = digest::file_sha256(path).map_err(|e| format!("cannot read: {e}"))?;
    if size != jar.size {
        return Err(format!("size is {size} bytes, the lock says {}", jar.size));
    }
    if sha != jar.sha256 {
        return Err(format!(
            "SHA-256 is {}, the lock says {}",
            digest::hex(&sha),
            digest::hex(&jar.sha256)
        ));
    }
    digest::check_zip(path).map_err(|e| format!("not a valid jar (zip) file: {e}"))?;
    Ok(())
}

fn stat_line(path: &Path) -> Option<String> {
    let meta = fs::metadata(path).ok()?;
    let mtime = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
    Some(format!("{}\t{}", meta.len(), mtime.as_nanos()))
}

fn marker_text(lock: &Lock, paths: &[PathBuf]) -> Option<String> {
    let mut text = format!("{MARKER_HEADER}\nlock\t{}\n", digest::hex(&lock.digest));
    for path in paths {
        text.push_str(&format!(
            "{}\t{}\n",
            path.file_name()?.to_string_lossy(),
            stat_line(path)?
        ));
    }
    Some(text)
}

fn marker_is_current(marker: &Path, lock: &Lock, paths: &[PathBuf]) -> bool {
    match (fs::read_to_string(marker), marker_text(lock, paths)) {
        (Ok(saved), Some(now)) => saved == now,
        _ => false,
    }
}

fn write_marker(state_dir: &Path, lock: &Lock, paths: &[PathBuf]) -> Result<(), JarError> {
    let Some(text) = marker_text(lock, paths) else {
        return Ok(());
    };
    let target = state_dir.join(MARKER_FILE);
    let tmp = state_dir.join(format!("{MARKER_FILE}.{}.tmp", std::process::id()));
    let cache_err = |e: io::Error| JarError::Cache {
        path: target.clone(),
        message: format!("cannot write the verification marker: {e}"),
    };
    fs::write(&tmp, text).map_err(cache_err)?;
    fs::rename(&tmp, &target).map_err(cache_err)
}

/// Holds the exclusive lock of a state directory until dropped.
struct DirLock(#[allow(dead_code)] File);

fn lock_dir(state_dir: &Path, progress: ProgressMode) -> Result<DirLock, JarError> {
    let path = state_dir.join(LOCK_FILE);
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| JarError::Cache {
            path: path.clone(),
            message: format!("cannot open the cache lock file: {e}"),
        })?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            note(
                progress,
                "another kcl-bootstrap is preparing the same jars; waiting for it",
            );
            file.lock().map_err(|e| JarError::Cache {
                path: path.clone(),
                message: format!("cannot lock the cache: {e}"),
            })?;
        }
        Err(fs::TryLockError::Error(e)) => {
            return Err(JarError::Cache {
                path,
                message: format!("cannot lock the cache: {e}"),
            });
        }
    }
    Ok(DirLock(file))
}

fn note(progress: ProgressMode, message: &str) {
    if progress != ProgressMode::Quiet {
        eprintln!("kcl-bootstrap: {message}");
    }
}

/// Progress reporting shared by the download threads.
enum Reporter {
    Bar(indicatif::ProgressBar),
    Lines { done: AtomicUsize, total: usize },
    Quiet,
}

impl Reporter {
    fn new(mode: ProgressMode, jars: &[&LockedJar]) -> Reporter {
        let bytes: u64 = jars.iter().map(|j| j.size).sum();
        let terminal = io::stderr().is_terminal();
        match mode {
            ProgressMode::Auto if terminal => {
                let bar = indicatif::ProgressBar::with_draw_target(
                    Some(bytes),
                    indicatif::ProgressDrawTarget::stderr(),
                );
                if let Ok(style) = indicatif::ProgressStyle::with_template(
                    "{msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
                ) {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar.set_message(format!("downloading {} jars", jars.len()));
                Reporter::Bar(bar)
            }
            ProgressMode::Quiet => Reporter::Quiet,
            _ => Reporter::Lines {
                done: AtomicUsize::new(0),
                total: jars.len(),
            },
        }
    }

    fn bytes(&self, n: u64) {
        if let Reporter::Bar(bar) = self {
            bar.inc(n);
        }
    }

    /// Undo the bytes of a failed attempt so the bar stays truthful across retries.
    fn rewind(&self, n: u64) {
        if let Reporter::Bar(bar) = self {
            bar.set_position(bar.position().saturating_sub(n));
        }
    }

    fn finished(&self, jar: &LockedJar) {
        if let Reporter::Lines { done, total } = self {
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            eprintln!(
                "kcl-bootstrap: [{n}/{total}] {} ({} KiB)",
                jar.file_name(),
                jar.size.div_ceil(1024)
            );
        }
    }

    fn message(&self, text: &str) {
        match self {
            Reporter::Bar(bar) => bar.println(format!("kcl-bootstrap: {text}")),
            Reporter::Lines { .. } => eprintln!("kcl-bootstrap: {text}"),
            Reporter::Quiet => {}
        }
    }

    fn finish(&self) {
        if let Reporter::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

fn download_all(
    jars: &[&LockedJar],
    dir: &Path,
    repository: &Repository,
    opts: &JarOptions<'_>,
) -> Result<(), JarError> {
    fs::create_dir_all(dir).map_err(|e| JarError::Cache {
        path: dir.to_path_buf(),
        message: format!("cannot create the directory: {e}"),
    })?;
    let total: u64 = jars.iter().map(|j| j.size).sum();
    note(
        opts.progress,
        &format!(
            "downloading {} jars ({:.1} MB) for KCL {} from {} ({}) into {}",
            jars.len(),
            total as f64 / 1e6,
            opts.lock.kcl_version,
            repository.base_url,
            repository.source,
            dir.display()
        ),
    );
    let agent = http_agent();
    let reporter = Reporter::new(opts.progress, jars);
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let errors = Mutex::new(Vec::new());
    let workers = opts.parallelism.clamp(1, 16).min(jars.len());
    let retry = opts.retry;
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(jar) = jars.get(i) else { return };
                    match download_with_retries(
                        &agent, repository, jar, dir, retry, &reporter, &stop,
                    ) {
                        Ok(()) => reporter.finished(jar),
                        Err(e) => {
                            // A missing or wrong jar means the whole set is unusable: stop early.
                            stop.store(true, Ordering::Relaxed);
                            if let Ok(mut errs) = errors.lock() {
                                errs.push(e);
                            }
                        }
                    }
                }
            });
        }
    });
    reporter.finish();
    let mut errors = errors.into_inner().unwrap_or_default();
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => Err(JarError::Many(errors)),
    }
}

fn http_agent() -> ureq::Agent {
    // System trust store (corporate TLS-inspecting proxies install their CA there), proxies from
    // HTTPS_PROXY/HTTP_PROXY/ALL_PROXY with NO_PROXY (ureq's default), statuses handled by us.
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(20)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .timeout_recv_body(Some(Duration::from_secs(600)))
        .user_agent(concat!("kcl-bootstrap/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// One attempt's failure: retry it or give up.
enum Attempt {
    Retry(String),
    Fatal(JarError),
}

fn download_with_retries(
    agent: &ureq::Agent,
    repository: &Repository,
    jar: &LockedJar,
    dir: &Path,
    retry: RetryPolicy,
    reporter: &Reporter,
    stop: &AtomicBool,
) -> Result<(), JarError> {
    let url = repository.url_of(&jar.repository_path);
    let mut backoff = retry.initial_backoff;
    let attempts = retry.attempts.max(1);
    let mut last = String::new();
    for attempt in 1..=attempts {
        match download_once(agent, repository, &url, jar, dir, reporter) {
            Ok(()) => return Ok(()),
            Err(Attempt::Fatal(e)) => return Err(e),
            Err(Attempt::Retry(message)) => {
                last = message;
                if attempt < attempts && !stop.load(Ordering::Relaxed) {
                    reporter.message(&format!(
                        "{}: {last}; retrying in {} ms (attempt {}/{attempts})",
                        jar.file_name(),
                        backoff.as_millis(),
                        attempt + 1
                    ));
                    std::thread::sleep(backoff);
                    backoff = backoff.saturating_mul(2);
                }
            }
        }
    }
    Err(JarError::Download {
        url,
        message: format!(
            "{last} (gave up after {attempts} attempts). Check the network, proxy settings \
             (HTTPS_PROXY, NO_PROXY) or the repository (--maven-repo, ${})",
            crate::maven::ENV_MAVEN_REPO
        ),
    })
}

/// Removes a temp file when dropped unless it was renamed into place.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(p);
        }
    }
}

fn download_once(
    agent: &ureq::Agent,
    repository: &Repository,
    url: &str,
    jar: &LockedJar,
    dir: &Path,
    reporter: &Reporter,
) -> Result<(), Attempt> {
    let mut request = agent.get(url);
    if let Some((user, pass)) = &repository.credentials {
        request = request.header(
            "Authorization",
            format!(
                "Basic {}",
                base64_encode(format!("{user}:{pass}").as_bytes())
            ),
        );
    }
    let response = request.call().map_err(|e| Attempt::Retry(e.to_string()))?;
    let status = response.status().as_u16();
    match status {
        200 => {}
        404 | 410 => {
            return Err(Attempt::Fatal(JarError::Download {
                url: url.to_string(),
                message: format!(
                    "HTTP {status}: the repository ({}) does not have {}. If it is a mirror, make it proxy \
                     Maven Central, or choose another with --maven-repo",
                    repository.source, jar.coordinates
                ),
            }));
        }
        401 | 403 => {
            return Err(Attempt::Fatal(JarError::Download {
                url: url.to_string(),
                message: format!(
                    "HTTP {status}: access denied. Give credentials in the URL (https://USER:PASSWORD@host/path) \
                     or in a settings.xml <server> whose id matches the mirror"
                ),
            }));
        }
        408 | 429 | 500..=599 => return Err(Attempt::Retry(format!("HTTP {status}"))),
        other => {
            return Err(Attempt::Fatal(JarError::Download {
                url: url.to_string(),
                message: format!("unexpected HTTP status {other}"),
            }));
        }
    }

    let tmp_path = dir
        .join(format!(
            ".{}.{}.{:?}.part",
            jar.file_name(),
            std::process::id(),
            std::thread::current().id()
        ))
        .to_path_buf();
    let mut guard = TempFile(Some(tmp_path.clone()));
    let cache_err = |e: io::Error| {
        Attempt::Fatal(JarError::Cache {
            path: tmp_path.clone(),
            message: format!("cannot write: {e}"),
        })
    };
    let mut file = File::create(&tmp_path).map_err(cache_err)?;
    let mut body = response.into_body().into_reader();
    let mut digest = StreamingDigest::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                reporter.rewind(digest.size());
                return Err(Attempt::Retry(format!(
                    "connection broke after {} of {} bytes ({e})",
                    digest.size(),
                    jar.size
                )));
            }
        };
        if digest.size() + n as u64 > jar.size {
            reporter.rewind(digest.size());
            return Err(Attempt::Fatal(mismatch(
                url,
                jar,
                format!(
                    "the server sent more than the {} bytes the lock expects",
                    jar.size
                ),
            )));
        }
        digest.update(&buf[..n]);
        reporter.bytes(n as u64);
        file.write_all(&buf[..n]).map_err(cache_err)?;
    }
    if digest.size() < jar.size {
        reporter.rewind(digest.size());
        return Err(Attempt::Retry(format!(
            "truncated body: got {} of {} bytes",
            digest.size(),
            jar.size
        )));
    }
    let sha = digest.finish();
    if sha != jar.sha256 {
        return Err(Attempt::Fatal(mismatch(
            url,
            jar,
            format!(
                "SHA-256 is {}, the lock says {}",
                digest::hex(&sha),
                digest::hex(&jar.sha256)
            ),
        )));
    }
    file.sync_all().map_err(cache_err)?;
    drop(file);
    digest::check_zip(&tmp_path).map_err(|e| {
        Attempt::Fatal(mismatch(
            url,
            jar,
            format!("not a valid jar (zip) file: {e}"),
        ))
    })?;
    let final_path = dir.join(jar.file_name());
    fs::rename(&tmp_path, &final_path).map_err(|e| {
        Attempt::Fatal(JarError::Cache {
            path: final_path.clone(),
            message: format!("cannot move the verified download into place: {e}"),
        })
    })?;
    guard.0 = None;
    Ok(())
}

fn mismatch(url: &str, jar: &LockedJar, detail: String) -> JarError {
    JarError::Mismatch {
        file: PathBuf::from(url),
        detail,
        advice: format!(
            "Nothing was cached. The repository served different bytes for {} than Maven resolved when the \
             lock was made: check that --maven-repo/mirror proxies Maven Central faithfully",
            jar.coordinates
        ),
    }
}

fn base64_encode(input: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
        ] {
            assert_eq!(base64_encode(i.as_bytes()), o);
        }
        assert_eq!(base64_encode(b"user:pass"), "dXNlcjpwYXNz");
    }
}
