//! Worker observability for `--supervise --metrics-addr`: the children's reports and the
//! supervisor's events aggregated into one Prometheus endpoint with health probes.
//!
//! - [`report`]: the children's datagrams (`kcl-protocol/REPORTS.md`), parsed;
//! - `receiver`: the report socket in a private 0700 directory and the thread that reads it;
//! - [`daemon_lines`]: what the daemon's log lines say (leases held, scheduler started);
//! - `shards`: per-shard state, the series expiry rule, stalled and unserved shards;
//! - `metrics`: the `prometheus-client` families and their exposition;
//! - `health`: the `/healthz` and `/readyz` rules;
//! - `worker`: all of the above behind one lock;
//! - `http`: the hyper server on its own thread;
//! - `status`, `exposition`: `kcl-bootstrap status`, a per-shard table read from the endpoint.
//!
//! Why these crates: `prometheus-client` is the Prometheus project's own Rust client (OpenMetrics
//! text, label families whose series can be removed, which the expiry rule needs); hyper is the
//! HTTP implementation under axum and the AWS SDK, already in the workspace's tree, and three
//! fixed paths need no router.

mod addr;
pub(crate) mod daemon_lines;
pub(crate) mod exposition;
pub(crate) mod feed;
mod health;
mod http;
mod metrics;
mod receiver;
pub(crate) mod report;
mod shards;
pub(crate) mod status;
mod worker;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub use addr::MetricsAddr;
pub(crate) use addr::parse_metrics_addr;

use receiver::ReportSocket;
use worker::Worker;

/// The environment variable that names the report socket to the children (kcl-protocol's
/// `REPORT_SOCKET_VARIABLE`).
pub(crate) const REPORT_SOCKET_VARIABLE: &str = "KCL_SUPERVISOR_SOCKET";

/// Why the observer could not start, or `status` could not read the endpoint.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ObserveError {
    #[error("cannot resolve --metrics-addr {addr}")]
    Resolve {
        addr: MetricsAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen on --metrics-addr {addr} (is another process using the port?)")]
    Bind {
        addr: MetricsAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create the children's report socket")]
    ReportSocket(#[source] std::io::Error),
    #[error("cannot start the metrics endpoint's threads")]
    Threads(#[source] std::io::Error),
    #[error("cannot read {url} (is `kcl-bootstrap --supervise --metrics-addr` running there?)")]
    Fetch {
        url: String,
        #[source]
        source: Box<ureq::Error>,
    },
    #[error("{url} did not answer with metrics: {problem}")]
    NotMetrics { url: String, problem: String },
    #[error("cannot write the table to stdout")]
    Stdout(#[source] std::io::Error),
}

impl ObserveError {
    /// The process exit code (`--help` lists them).
    pub(crate) fn exit_code(&self) -> i32 {
        use crate::error::code;
        match self {
            ObserveError::Resolve { .. }
            | ObserveError::Bind { .. }
            | ObserveError::ReportSocket(_)
            | ObserveError::Threads(_) => code::USAGE,
            ObserveError::Fetch { .. } | ObserveError::NotMetrics { .. } => code::UNREACHABLE,
            ObserveError::Stdout(_) => code::STDOUT,
        }
    }
}

/// The running endpoint: the report socket's thread and the HTTP server's. Stopped (and the
/// socket's directory removed) when dropped.
pub(crate) struct Endpoint {
    worker: Arc<Mutex<Worker>>,
    socket_path: std::path::PathBuf,
    local_addr: SocketAddr,
    stop: Arc<AtomicBool>,
    receiver: Option<JoinHandle<()>>,
    server: Option<http::Server>,
}

impl Endpoint {
    /// Binds the endpoint on `addr` and the report socket, and starts both threads.
    pub(crate) fn start(
        addr: &MetricsAddr,
        stall_after: Duration,
    ) -> Result<Endpoint, ObserveError> {
        let resolved = addr.resolve().map_err(|source| ObserveError::Resolve {
            addr: addr.clone(),
            source,
        })?;
        let listener = http::bind(resolved).map_err(|source| ObserveError::Bind {
            addr: addr.clone(),
            source,
        })?;
        let local_addr = listener.local_addr().map_err(ObserveError::Threads)?;
        let socket = ReportSocket::bind().map_err(ObserveError::ReportSocket)?;
        let socket_path = socket.path().to_owned();
        let worker = Arc::new(Mutex::new(Worker::new(stall_after)));
        let stop = Arc::new(AtomicBool::new(false));
        let receiver = socket
            .spawn(worker.clone(), stop.clone())
            .map_err(ObserveError::Threads)?;
        let server = match http::Server::start(listener, worker.clone()) {
            Ok(server) => server,
            Err(error) => {
                stop.store(true, Ordering::Relaxed);
                let _ = receiver.join();
                return Err(ObserveError::Threads(error));
            }
        };
        Ok(Endpoint {
            worker,
            socket_path,
            local_addr,
            stop,
            receiver: Some(receiver),
            server: Some(server),
        })
    }

    /// The report socket, for the JVM's environment ([`REPORT_SOCKET_VARIABLE`]).
    pub(crate) fn socket_path(&self) -> &Path {
        &self.socket_path
    }

    /// Where the endpoint listens (the real port when `:0` was asked for).
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The supervisor's observer that feeds this endpoint.
    pub(crate) fn feed(&self) -> std::sync::Arc<dyn crate::supervise::events::Observer> {
        std::sync::Arc::new(feed::Feed::new(self.worker.clone()))
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.server.take();
        self.stop.store(true, Ordering::Relaxed);
        if let Some(receiver) = self.receiver.take() {
            let _ = receiver.join();
        }
    }
}
