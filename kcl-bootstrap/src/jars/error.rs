//! Why the jars could not be made ready.

use crate::digest::{self, ZipCheckError};
use crate::display::{shown_path, shown_whole};
use crate::maven::RepositoryError;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// How a file's bytes differ from what the lock says.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Mismatch {
    /// Wrong size.
    #[error("size is {actual} bytes, the lock says {expected}")]
    Size {
        /// Bytes found.
        actual: u64,
        /// Bytes locked.
        expected: u64,
    },
    /// Wrong digest.
    #[error("SHA-256 is {}, the lock says {}", digest::hex(.actual), digest::hex(.expected))]
    Sha256 {
        /// Digest found.
        actual: [u8; 32],
        /// Digest locked.
        expected: [u8; 32],
    },
    /// Right bytes, but no readable zip (only possible with a bad lock).
    #[error("{0}")]
    Zip(ZipCheckError),
    /// The file could not be read back.
    #[error("cannot read it ({0})")]
    Unreadable(io::Error),
    /// A server sent, or announced, more bytes than the jar has.
    #[error("the server sent more than the {expected} bytes the lock expects")]
    Longer {
        /// Bytes locked.
        expected: u64,
    },
    /// A server announced fewer bytes than the jar has.
    #[error("the server announced {announced} bytes, but the lock expects {expected}")]
    Shorter {
        /// Content-Length announced.
        announced: u64,
        /// Bytes locked.
        expected: u64,
    },
}

/// Why one jar could not be downloaded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DownloadProblem {
    /// 404 or 410.
    #[error(
        "HTTP {status}: the repository ({source_name}) does not have {}. If it is a mirror, make it proxy \
         Maven Central, or choose another with --maven-repo", shown_whole(.coordinates)
    )]
    NotFound {
        /// The status.
        status: u16,
        /// Where the repository came from.
        source_name: String,
        /// The jar.
        coordinates: String,
    },
    /// 401 or 403 without credentials.
    #[error(
        "HTTP {status}: access denied. Give credentials in the URL (https://USER:PASSWORD@host/path) \
         or in a settings.xml <server> whose id matches the mirror"
    )]
    NeedsCredentials {
        /// The status.
        status: u16,
    },
    /// 401 or 403 although credentials were sent.
    #[error(
        "HTTP {status}: the repository refused the credentials from {source_name}; check the user name, \
         the password or token, and that this account may read the repository"
    )]
    CredentialsRefused {
        /// The status.
        status: u16,
        /// Where the repository (and its credentials) came from.
        source_name: String,
    },
    /// 401 or 403 from another origin the repository redirected to.
    #[error(
        "HTTP {status} after a redirect to another host: credentials are only sent to the repository's \
         own host, so make the repository serve the jar itself (or point --maven-repo at the other host)"
    )]
    RedirectedWithoutCredentials {
        /// The status.
        status: u16,
    },
    /// A status that is neither success, redirect nor a known failure.
    #[error("unexpected HTTP status {0}")]
    Status(u16),
    /// An HTML page where the jar should be.
    #[error(
        "the repository answered with an HTML page (HTTP 200, {content_type}) instead of the jar: probably a \
         login, error or portal page of a proxy; check --maven-repo and the proxy settings"
    )]
    Html {
        /// What the server said it sent.
        content_type: String,
    },
    /// Redirects that cannot be followed.
    #[error("{0}")]
    Redirect(String),
    /// Transient failures until the attempts ran out.
    #[error(
        "{last} (gave up after {attempts} attempts). Check the network, proxy settings (HTTPS_PROXY, \
         NO_PROXY) or the repository (--maven-repo, ${})",
        crate::maven::ENV_MAVEN_REPO
    )]
    GaveUp {
        /// The last failure.
        last: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The per-jar time bound ran out.
    #[error(
        "{last} (gave up after {} for this jar, --jar-timeout)", crate::cli::show_duration(*.after)
    )]
    OutOfTime {
        /// The last failure.
        last: String,
        /// The bound.
        after: Duration,
    },
}

/// Why the jars could not be made ready.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JarError {
    /// Offline and jars are missing.
    #[error(
        "{count} of {total} jars for KCL {version} are missing from {} and --offline forbids downloading \
         (first missing: {}). Run once without --offline to fill the cache, or stage the jars listed \
         in the lock into --jar-folder DIR", shown_path(.dir), shown_whole(.first)
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
    /// Offline and a cached jar is damaged: it is kept, not downloaded again.
    #[error(
        "cached {} is damaged ({detail}) and --offline forbids downloading it again; run once without \
         --offline to replace it", shown_path(.file)
    )]
    OfflineDamaged {
        /// The cached file (left in place).
        file: PathBuf,
        /// How it differs.
        detail: Mismatch,
    },
    /// A jar's bytes do not match the lock.
    #[error("{}: {detail}. {advice}", shown_whole(.file))]
    Mismatch {
        /// The file or URL (display-safe).
        file: String,
        /// Expected vs actual.
        detail: Mismatch,
        /// What to do.
        advice: String,
    },
    /// A download failed.
    #[error("downloading {}{} failed: {problem}", shown_whole(.url), redirected_to(.final_url))]
    Download {
        /// The URL asked for (no credentials).
        url: String,
        /// Where redirects ended, if elsewhere.
        final_url: Option<String>,
        /// What went wrong.
        problem: DownloadProblem,
    },
    /// The cache or jar folder cannot be read or written.
    #[error("{}: {action}", shown_path(.path))]
    Cache {
        /// The path.
        path: PathBuf,
        /// What was tried, and what to do.
        action: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Another bootstrap held the cache lock for too long.
    #[error(
        "another kcl-bootstrap ({holder}) has been preparing the jars in {} for longer than {} \
         (--lock-timeout); stop it if it is stuck, or wait longer", shown_path(.dir),
         crate::cli::show_duration(*.waited)
    )]
    LockTimeout {
        /// The locked directory.
        dir: PathBuf,
        /// Who holds the lock, as far as known.
        holder: String,
        /// How long this process waited.
        waited: Duration,
    },
    /// The repository choice failed (bad URL or settings.xml).
    #[error(transparent)]
    Repository(#[from] RepositoryError),
    /// Several downloads failed.
    #[error("{} jars could not be downloaded:\n  {}", .0.len(), .0.iter().map(|e| crate::error::with_sources(e)).collect::<Vec<_>>().join("\n  "))]
    Many(Vec<JarError>),
}

fn redirected_to(final_url: &Option<String>) -> String {
    match final_url {
        Some(url) => format!(" (redirected to {})", shown_whole(url)),
        None => String::new(),
    }
}

impl JarError {
    /// A cache error: `action` says what failed (and what to do), `source` why.
    pub(crate) fn cache(
        path: impl Into<PathBuf>,
        action: impl Into<String>,
        source: io::Error,
    ) -> JarError {
        JarError::Cache {
            path: path.into(),
            action: action.into(),
            source,
        }
    }
}
