//! A fake Maven repository (and HTTP proxy) on 127.0.0.1: it serves, fails, stalls, trickles,
//! redirects and sends HTML as told, and stops deterministically when dropped.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How the fake repository answers one path.
#[derive(Clone, Default)]
pub struct Route {
    /// Bytes served on success.
    pub body: Vec<u8>,
    /// The first `fail_first` requests get `fail_status`.
    pub fail_first: usize,
    /// Status for the failing requests.
    pub fail_status: u16,
    /// The first `truncate_first` (successful) requests announce the full length but send half and close.
    pub truncate_first: usize,
    /// Always answer with this status.
    pub status_always: Option<u16>,
    /// Required `Authorization` header value.
    pub auth: Option<String>,
    /// Delay before answering.
    pub delay: Duration,
    /// Announce the full length, send this many body bytes, then send nothing more (until the
    /// client gives up or the server stops).
    pub stall_after: Option<usize>,
    /// Send the body one byte per interval.
    pub trickle: Option<Duration>,
    /// Read the request and never answer.
    pub stall_headers: bool,
    /// Answer `302 Found` with this `Location`.
    pub redirect: Option<String>,
    /// A `Content-Type` header for the body.
    pub content_type: Option<String>,
}

/// Each request's path and `Authorization` header, in arrival order.
type AuthLog = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A minimal HTTP/1.1 server acting as a Maven repository. Listens on 127.0.0.1 on a free port;
/// stopped (thread joined) when dropped.
pub struct FakeRepo {
    pub base_url: String,
    routes: Arc<Mutex<HashMap<String, Route>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    auth_seen: AuthLog,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

/// What the server threads share.
#[derive(Clone)]
struct Shared {
    routes: Arc<Mutex<HashMap<String, Route>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    auth_seen: AuthLog,
    stop: Arc<AtomicBool>,
}

impl FakeRepo {
    pub fn start(prefix: &str) -> FakeRepo {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Shared {
            routes: Arc::default(),
            hits: Arc::default(),
            auth_seen: Arc::default(),
            stop: Arc::new(AtomicBool::new(false)),
        };
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (sh, conns) = (shared.clone(), connections.clone());
        let handle = std::thread::spawn(move || {
            while !sh.stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let sh = sh.clone();
                        let t = std::thread::spawn(move || serve(stream, &sh));
                        conns.lock().unwrap().push(t);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FakeRepo {
            base_url: format!("http://{addr}{prefix}"),
            routes: shared.routes,
            hits: shared.hits,
            auth_seen: shared.auth_seen,
            stop: shared.stop,
            handle: Some(handle),
            connections,
        }
    }

    /// The `Authorization` header of every request for `path`, in order.
    pub fn auth_seen(&self, path: &str) -> Vec<Option<String>> {
        self.auth_seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, a)| a.clone())
            .collect()
    }

    /// Serves `route` at `path` (which starts with `/`).
    pub fn route(&self, path: &str, route: Route) {
        self.routes.lock().unwrap().insert(path.to_string(), route);
    }

    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    /// Requests for files (proxy tunnels not counted).
    pub fn total_hits(&self) -> usize {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| !k.starts_with("CONNECT "))
            .map(|(_, v)| v)
            .sum()
    }

    /// `host:port` of the server.
    pub fn authority(&self) -> String {
        self.base_url
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap()
            .to_string()
    }
}

impl Drop for FakeRepo {
    fn drop(&mut self) {
        // Every connection thread watches `stop` (stalls and trickles included), so joining
        // them all ends the server deterministically.
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        let threads: Vec<JoinHandle<()>> = self.connections.lock().unwrap().drain(..).collect();
        for t in threads {
            let _ = t.join();
        }
    }
}

/// Sleeps in small steps until `d` passed or the server stops; false if it stopped.
fn pause(stop: &AtomicBool, d: Duration) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10).min(d));
    }
    !stop.load(Ordering::Relaxed)
}

fn serve(stream: TcpStream, shared: &Shared) {
    stream.set_nonblocking(false).ok();
    // Reads time out so that a thread never outlives the server by more than this.
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .ok();
    stream.set_write_timeout(Some(Duration::from_secs(5))).ok();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        let mut request_line = String::new();
        loop {
            match reader.read_line(&mut request_line) {
                Ok(0) => return,
                Ok(_) => break,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    if shared.stop.load(Ordering::Relaxed) {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
        let mut auth = None;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" || line == "\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("authorization")
            {
                auth = Some(v.trim().to_string());
            }
        }
        let mut parts = request_line.split(' ');
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("").to_string();
        if method == "CONNECT" {
            // Act as an HTTP proxy: record the tunnel, then serve the request sent through it.
            *shared
                .hits
                .lock()
                .unwrap()
                .entry(format!("CONNECT {target}"))
                .or_insert(0) += 1;
            let _ = out.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
            continue;
        }
        return answer(&mut out, &target, auth, shared);
    }
}

fn answer(out: &mut TcpStream, path: &str, auth: Option<String>, shared: &Shared) {
    let n = {
        let mut h = shared.hits.lock().unwrap();
        let e = h.entry(path.to_string()).or_insert(0);
        *e += 1;
        *e
    };
    shared
        .auth_seen
        .lock()
        .unwrap()
        .push((path.to_string(), auth.clone()));
    let route = shared.routes.lock().unwrap().get(path).cloned();
    let Some(route) = route else {
        return respond(out, 404, b"not found", None);
    };
    let stop = &shared.stop;
    if !pause(stop, route.delay) {
        return;
    }
    if route.stall_headers {
        while pause(stop, Duration::from_millis(50)) {}
        return;
    }
    if let Some(location) = &route.redirect {
        let head = format!(
            "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let _ = out.write_all(head.as_bytes());
        return;
    }
    if let Some(expected) = &route.auth
        && auth.as_deref() != Some(expected.as_str())
    {
        return respond(out, 401, b"auth", None);
    }
    if let Some(status) = route.status_always {
        return respond(out, status, b"nope", None);
    }
    if n <= route.fail_first {
        return respond(out, route.fail_status, b"fail", None);
    }
    if n <= route.fail_first + route.truncate_first {
        let half = route.body.len() / 2;
        return respond(out, 200, &route.body[..half], Some(route.body.len()));
    }
    let content_type = route
        .content_type
        .as_ref()
        .map(|ct| format!("Content-Type: {ct}\r\n"))
        .unwrap_or_default();
    if let Some(sent) = route.stall_after {
        let head = format!(
            "HTTP/1.1 200 OK\r\n{content_type}Content-Length: {}\r\nConnection: close\r\n\r\n",
            route.body.len()
        );
        let _ = out.write_all(head.as_bytes());
        let _ = out.write_all(&route.body[..sent.min(route.body.len())]);
        let _ = out.flush();
        while pause(stop, Duration::from_millis(50)) {}
        return;
    }
    if let Some(interval) = route.trickle {
        let head = format!(
            "HTTP/1.1 200 OK\r\n{content_type}Content-Length: {}\r\nConnection: close\r\n\r\n",
            route.body.len()
        );
        let _ = out.write_all(head.as_bytes());
        for b in &route.body {
            if out.write_all(&[*b]).and_then(|()| out.flush()).is_err() || !pause(stop, interval) {
                return;
            }
        }
        return;
    }
    respond_typed(out, 200, &route.body, None, &content_type)
}

fn respond(out: &mut TcpStream, status: u16, body: &[u8], announced: Option<usize>) {
    respond_typed(out, status, body, announced, "")
}

fn respond_typed(
    out: &mut TcpStream,
    status: u16,
    body: &[u8],
    announced: Option<usize>,
    content_type: &str,
) {
    let head = format!(
        "HTTP/1.1 {status} X\r\n{content_type}Content-Length: {}\r\nConnection: close\r\n\r\n",
        announced.unwrap_or(body.len())
    );
    let _ = out.write_all(head.as_bytes());
    let _ = out.write_all(body);
    let _ = out.flush();
}
