//! The HTTP endpoint: `/metrics`, `/healthz`, `/readyz`, served by hyper (HTTP/1) on a
//! current-thread tokio runtime in a thread of its own.
//!
//! It shares nothing with the shards but the worker's lock, which the report thread takes for
//! microseconds per report and a scrape for the time of one exposition; the children never wait
//! on either (their sends are non-blocking). Connections are bounded in number and in how long
//! their request headers may take, so a slow or hostile client cannot hold the endpoint.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{Semaphore, oneshot};

use super::health::Verdict;
use super::metrics::CONTENT_TYPE as METRICS_CONTENT_TYPE;
use super::worker::Worker;

/// Connections served at once; more wait in the listen queue (Prometheus and the kubelet use
/// one or two each).
const MAX_CONNECTIONS: usize = 32;

/// How long a client may take to send its request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The running server; stopped when dropped.
pub(crate) struct Server {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves `worker` on `listener` (already bound, so that bind errors surface to the caller).
    pub(crate) fn start(
        listener: TcpListener,
        worker: Arc<Mutex<Worker>>,
    ) -> std::io::Result<Server> {
        listener.set_nonblocking(true)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let (stop, stopped) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("kcl-metrics-http".into())
            .spawn(move || {
                runtime.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => {
                            tokio::spawn(accept(listener, worker));
                            // Returning drops the runtime, which cancels every connection.
                            let _ = stopped.await;
                        }
                        Err(error) => crate::output::say(&format!(
                            "warning: the metrics endpoint could not start: {error}"
                        )),
                    }
                });
            })?;
        Ok(Server {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept(listener: tokio::net::TcpListener, worker: Arc<Mutex<Worker>>) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _peer)) => stream,
            Err(_) => {
                // Out of descriptors or similar: wait instead of spinning.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let worker = worker.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let worker = worker.clone();
                async move { Ok::<_, Infallible>(respond(&request, &worker)) }
            });
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(permit);
        });
    }
}

fn respond(request: &Request<Incoming>, worker: &Mutex<Worker>) -> Response<Full<Bytes>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET and HEAD are served\n".to_owned(),
        );
    }
    let worker = || worker.lock().unwrap_or_else(PoisonError::into_inner);
    match request.uri().path() {
        "/metrics" => {
            let body = worker().exposition();
            let mut response = Response::new(Full::new(Bytes::from(body)));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(METRICS_CONTENT_TYPE));
            response
        }
        "/healthz" => probe(worker().health(Instant::now())),
        "/readyz" => probe(worker().readiness()),
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: the endpoint serves /metrics, /healthz and /readyz\n".to_owned(),
        ),
    }
}

fn probe(verdict: Verdict) -> Response<Full<Bytes>> {
    match verdict {
        Verdict::Pass(line) => text(StatusCode::OK, line + "\n"),
        Verdict::Fail(line) => text(StatusCode::SERVICE_UNAVAILABLE, line + "\n"),
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Binds the endpoint's listener (std, so the error is the caller's to report).
pub(crate) fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr)
}
