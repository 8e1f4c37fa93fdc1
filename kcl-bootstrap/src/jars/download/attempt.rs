//! One download attempt: the request (redirects followed by hand), the answer's status and
//! headers, and the body streamed into a temp file while being hashed and timed.

use super::speed::SpeedCheck;
use super::{Timeouts, Transient};
use crate::digest::{self, StreamingDigest};
use crate::jars::error::{DownloadProblem, JarError, Mismatch};
use crate::jars::progress::Reporter;
use crate::jars::temp::TempFile;
use crate::lock::LockedJar;
use crate::maven::Repository;
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// Redirects followed per request (Maven repositories use one at most).
const MAX_REDIRECTS: usize = 5;

/// Bytes of a body looked at to recognise an HTML page.
const SNIFF_BYTES: usize = 512;

/// An attempt's failure: retry it or give up, and where redirects had led.
pub(super) struct Failure {
    pub(super) kind: FailureKind,
    pub(super) final_url: Option<String>,
}

pub(super) enum FailureKind {
    Retry(Transient),
    Fatal(Box<FatalKind>),
}

pub(super) enum FatalKind {
    Problem(DownloadProblem),
    Mismatch(Mismatch),
    Cache(JarError),
}

/// The HTTP client with its timeouts.
pub(super) struct Http {
    agent: ureq::Agent,
    timeouts: Timeouts,
}

impl Http {
    pub(super) fn new(timeouts: Timeouts) -> Http {
        // System trust store (corporate TLS-inspecting proxies install their CA there), proxies
        // from HTTPS_PROXY/HTTP_PROXY/ALL_PROXY with NO_PROXY (ureq's default), statuses and
        // redirects handled here (so that credentials only go to the repository's own origin).
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::PlatformVerifier)
            .build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_resolve(Some(timeouts.connect))
            .timeout_connect(Some(timeouts.connect))
            .timeout_send_request(Some(timeouts.read))
            .timeout_recv_response(Some(timeouts.read))
            .timeout_per_read(Some(timeouts.read))
            .timeout_per_write(Some(timeouts.read))
            .user_agent(concat!("kcl-bootstrap/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Http { agent, timeouts }
    }

    pub(super) fn timeouts(&self) -> Timeouts {
        self.timeouts
    }
}

fn fatal(kind: FatalKind, final_url: &Option<String>) -> Failure {
    Failure {
        kind: FailureKind::Fatal(Box::new(kind)),
        final_url: final_url.clone(),
    }
}

fn retry(transient: Transient, final_url: &Option<String>) -> Failure {
    Failure {
        kind: FailureKind::Retry(transient),
        final_url: final_url.clone(),
    }
}

/// Downloads `url` into `dir` under the jar's name if it matches the lock; within `time_left`.
pub(super) fn fetch(
    http: &Http,
    repository: &Repository,
    url: &str,
    jar: &LockedJar,
    dir: &Path,
    reporter: &Reporter,
    time_left: Duration,
) -> Result<(), Failure> {
    let (response, final_url) = request(http, repository, url, time_left)?;
    let status = response.status().as_u16();
    // After a redirect to another origin no credentials were sent (see `request`).
    let sent_credentials = repository.credentials.is_some()
        && final_url
            .as_deref()
            .is_none_or(|u| same_origin(u, &repository.base_url));
    let problem = match status {
        200 => None,
        404 | 410 => Some(DownloadProblem::NotFound {
            status,
            source_name: repository.source.to_string(),
            coordinates: jar.coordinates.clone(),
        }),
        401 | 403 if sent_credentials => Some(DownloadProblem::CredentialsRefused {
            status,
            source_name: repository.source.to_string(),
        }),
        401 | 403 if repository.credentials.is_some() => {
            Some(DownloadProblem::RedirectedWithoutCredentials { status })
        }
        401 | 403 => Some(DownloadProblem::NeedsCredentials { status }),
        408 | 429 | 500..=599 => return Err(retry(Transient::Status(status), &final_url)),
        other => Some(DownloadProblem::Status(other)),
    };
    if let Some(problem) = problem {
        return Err(fatal(FatalKind::Problem(problem), &final_url));
    }
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    if let Some(ct) = &content_type
        && (ct.starts_with("text/html") || ct.starts_with("application/xhtml"))
    {
        let problem = DownloadProblem::Html {
            content_type: format!("Content-Type {}", crate::display::shown(ct)),
        };
        return Err(fatal(FatalKind::Problem(problem), &final_url));
    }
    let announced = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match announced {
        Some(n) if n > jar.size => {
            let m = Mismatch::Longer { expected: jar.size };
            return Err(fatal(FatalKind::Mismatch(m), &final_url));
        }
        Some(n) if n < jar.size => {
            let m = Mismatch::Shorter {
                announced: n,
                expected: jar.size,
            };
            return Err(fatal(FatalKind::Mismatch(m), &final_url));
        }
        _ => {}
    }
    let body = response.into_body().into_reader();
    receive(http, body, jar, dir, reporter, content_type.as_deref())
        .map_err(|kind| Failure { kind, final_url })
}

/// Sends the GET, following up to [`MAX_REDIRECTS`] redirects. Credentials go only to the
/// repository's own scheme, host and port; a redirect from https to http is refused.
fn request(
    http: &Http,
    repository: &Repository,
    first: &str,
    time_left: Duration,
) -> Result<(ureq::http::Response<ureq::Body>, Option<String>), Failure> {
    let start = Instant::now();
    let mut current = first.to_string();
    let mut final_url: Option<String> = None;
    for _ in 0..=MAX_REDIRECTS {
        let left = time_left.saturating_sub(start.elapsed());
        let mut request = http
            .agent
            .get(&current)
            .config()
            .timeout_global(Some(left))
            .build();
        if let Some(credentials) = &repository.credentials
            && same_origin(&current, &repository.base_url)
        {
            request = request.header("Authorization", credentials.basic_auth());
        }
        let response = request
            .call()
            .map_err(|e| retry(Transient::from_ureq(e, http.timeouts), &final_url))?;
        let status = response.status().as_u16();
        if !matches!(status, 301 | 302 | 303 | 307 | 308) {
            return Ok((response, final_url));
        }
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let next = location
            .as_deref()
            .and_then(|l| url::Url::parse(&current).ok()?.join(l).ok());
        let Some(mut next) = next.filter(|n| matches!(n.scheme(), "http" | "https")) else {
            let problem = DownloadProblem::Redirect(format!(
                "HTTP {status} without a usable Location header"
            ));
            return Err(fatal(FatalKind::Problem(problem), &final_url));
        };
        let _ = next.set_username("");
        let _ = next.set_password(None);
        if current.starts_with("https:") && next.scheme() == "http" {
            let problem = DownloadProblem::Redirect(format!(
                "the repository redirected from https to plain http ({}); refused, so that neither \
                 credentials nor jars travel unencrypted",
                crate::display::shown_whole(next.as_str())
            ));
            return Err(fatal(FatalKind::Problem(problem), &final_url));
        }
        current = next.to_string();
        final_url = Some(current.clone());
    }
    let problem = DownloadProblem::Redirect(format!("more than {MAX_REDIRECTS} redirects"));
    Err(fatal(FatalKind::Problem(problem), &final_url))
}

fn same_origin(a: &str, b: &str) -> bool {
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => {
            a.scheme() == b.scheme()
                && a.host_str() == b.host_str()
                && a.port_or_known_default() == b.port_or_known_default()
        }
        _ => false,
    }
}

/// Streams the body into a temp file; renames it into place when it matches the lock.
fn receive(
    http: &Http,
    mut body: impl Read,
    jar: &LockedJar,
    dir: &Path,
    reporter: &Reporter,
    content_type: Option<&str>,
) -> Result<(), FailureKind> {
    let cache_err = |path: &Path, e| {
        FailureKind::Fatal(Box::new(FatalKind::Cache(JarError::cache(
            path,
            "cannot write",
            e,
        ))))
    };
    let (tmp, mut file) = TempFile::create(dir, jar.file_name()).map_err(|e| cache_err(dir, e))?;
    let timeouts = http.timeouts;
    let mut speed = SpeedCheck::new(Instant::now(), timeouts.read, timeouts.min_speed);
    let mut digest = StreamingDigest::default();
    let mut head: Vec<u8> = Vec::with_capacity(SNIFF_BYTES);
    let mut buf = vec![0u8; 64 * 1024];
    let failed = |digest: &StreamingDigest, kind| {
        reporter.rewind(digest.size());
        kind
    };
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                let t = Transient::from_body_error(e, digest.size(), jar.size, timeouts);
                return Err(failed(&digest, FailureKind::Retry(t)));
            }
        };
        if digest.size() + n as u64 > jar.size {
            let m = Mismatch::Longer { expected: jar.size };
            return Err(failed(
                &digest,
                FailureKind::Fatal(Box::new(FatalKind::Mismatch(m))),
            ));
        }
        if head.len() < SNIFF_BYTES {
            let take = n.min(SNIFF_BYTES - head.len());
            head.extend_from_slice(&buf[..take]);
            if looks_like_a_page(&head) {
                let problem = DownloadProblem::Html {
                    content_type: content_type.map_or("no Content-Type".into(), |ct| {
                        format!("Content-Type {}", crate::display::shown(ct))
                    }),
                };
                return Err(failed(
                    &digest,
                    FailureKind::Fatal(Box::new(FatalKind::Problem(problem))),
                ));
            }
        }
        digest.update(&buf[..n]);
        reporter.bytes(n as u64);
        file.write_all(&buf[..n])
            .map_err(|e| failed(&digest, cache_err(tmp.path(), e)))?;
        if let Err(slow) = speed.record(Instant::now(), n as u64) {
            let t = Transient::TooSlow {
                slow,
                min_speed: timeouts.min_speed,
            };
            return Err(failed(&digest, FailureKind::Retry(t)));
        }
    }
    if digest.size() < jar.size {
        let t = Transient::Truncated {
            got: digest.size(),
            expected: jar.size,
        };
        return Err(failed(&digest, FailureKind::Retry(t)));
    }
    let sha = digest.finish();
    if sha != jar.sha256 {
        let m = Mismatch::Sha256 {
            actual: sha,
            expected: jar.sha256,
        };
        return Err(FailureKind::Fatal(Box::new(FatalKind::Mismatch(m))));
    }
    file.flush().map_err(|e| cache_err(tmp.path(), e))?;
    if let Err(e) = digest::check_zip(tmp.path()) {
        return Err(FailureKind::Fatal(Box::new(FatalKind::Mismatch(
            Mismatch::Zip(e),
        ))));
    }
    let target = dir.join(jar.file_name());
    tmp.persist(file, &target).map_err(|e| {
        FailureKind::Fatal(Box::new(FatalKind::Cache(JarError::cache(
            &target,
            "cannot move the verified download into place",
            e,
        ))))
    })
}

/// A jar starts with `PK`; a body starting with `<` is a web page (HTML, or an XML error).
fn looks_like_a_page(head: &[u8]) -> bool {
    let text = head
        .strip_prefix(b"\xef\xbb\xbf")
        .unwrap_or(head)
        .trim_ascii_start();
    text.first() == Some(&b'<')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_recognised_jars_are_not() {
        assert!(looks_like_a_page(b"<!DOCTYPE html><html>"));
        assert!(looks_like_a_page(b"\r\n  <html>"));
        assert!(looks_like_a_page(b"\xef\xbb\xbf<?xml version"));
        assert!(!looks_like_a_page(b"PK\x03\x04"));
        assert!(!looks_like_a_page(b""));
        assert!(!looks_like_a_page(b"   "));
    }

    #[test]
    fn credentials_stay_on_the_repository_origin() {
        let base = "https://nexus.example/repo";
        assert!(same_origin("https://nexus.example/repo/a.jar", base));
        assert!(same_origin("https://nexus.example:443/other/a.jar", base));
        assert!(!same_origin("https://cdn.example/a.jar", base));
        assert!(!same_origin("http://nexus.example/repo/a.jar", base));
        assert!(!same_origin("https://nexus.example:8443/repo/a.jar", base));
    }
}
