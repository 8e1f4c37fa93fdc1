//! A loopback TCP proxy that can simulate an outage of what it fronts: [`OutageProxy::refuse`]
//! closes its listening socket (new connections get ECONNREFUSED, as from a dead server) and cuts
//! every open connection; [`OutageProxy::accept_again`] listens on the same port again.
//! Protocol-agnostic (plain TCP), so it fronts moto's HTTP/1.1 and kinesis-local's h2c alike.
//! Threads only; stopped when dropped.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
struct Shared {
    refusing: AtomicBool,
    listening: AtomicBool,
    stop: AtomicBool,
    accepted: AtomicU64,
    /// Both ends of every forwarded connection, to cut them at an outage.
    open: Mutex<Vec<TcpStream>>,
}

impl Shared {
    fn cut_all(&self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        for stream in open.drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// A proxy on `127.0.0.1:<free port>` in front of one target.
#[derive(Debug)]
pub struct OutageProxy {
    port: u16,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl OutageProxy {
    /// Starts a proxy to `target_endpoint` (`http://127.0.0.1:<port>`).
    pub fn start(target_endpoint: &str) -> io::Result<OutageProxy> {
        let target: SocketAddr = target_endpoint
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{e}")))?;
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared::default());
        shared.listening.store(true, Ordering::SeqCst);
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("outage-proxy".into())
            .spawn(move || accept_loop(listener, port, target, &thread_shared))?;
        Ok(OutageProxy {
            port,
            shared,
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts the outage; returns once the port refuses connections (bounded: 5 s).
    pub fn refuse(&self) {
        self.shared.refusing.store(true, Ordering::SeqCst);
        self.shared.cut_all();
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.shared.listening.load(Ordering::SeqCst) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.shared.cut_all();
    }

    /// Ends the outage; returns once the port listens again (bounded: 5 s).
    pub fn accept_again(&self) {
        self.shared.refusing.store(false, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.shared.listening.load(Ordering::SeqCst) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether the port listens now.
    pub fn is_listening(&self) -> bool {
        self.shared.listening.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for OutageProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.cut_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn accept_loop(first: TcpListener, port: u16, target: SocketAddr, shared: &Arc<Shared>) {
    let mut listener = Some(first);
    while !shared.stop.load(Ordering::SeqCst) {
        if shared.refusing.load(Ordering::SeqCst) {
            // Closing the socket is what makes connect() fail with ECONNREFUSED.
            listener = None;
            shared.listening.store(false, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        let Some(active) = &listener else {
            // std sets SO_REUSEADDR, so the port can be bound again at once.
            match TcpListener::bind(("127.0.0.1", port)).and_then(|l| {
                l.set_nonblocking(true)?;
                Ok(l)
            }) {
                Ok(l) => {
                    listener = Some(l);
                    shared.listening.store(true, Ordering::SeqCst);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
            continue;
        };
        match active.accept() {
            Ok((client, _)) => {
                shared.accepted.fetch_add(1, Ordering::SeqCst);
                let shared = shared.clone();
                let _ = std::thread::Builder::new()
                    .name("outage-proxy-conn".into())
                    .spawn(move || forward(client, target, &shared));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn forward(client: TcpStream, target: SocketAddr, shared: &Shared) {
    let _ = client.set_nonblocking(false);
    let Ok(server) = TcpStream::connect_timeout(&target, Duration::from_secs(5)) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let clones = (client.try_clone(), server.try_clone());
    let (Ok(client_reader), Ok(server_reader)) = clones else {
        return;
    };
    {
        let mut open = shared.open.lock().unwrap_or_else(|p| p.into_inner());
        open.retain(|s| s.peer_addr().is_ok());
        if let (Ok(a), Ok(b)) = (client.try_clone(), server.try_clone()) {
            open.push(a);
            open.push(b);
        }
    }
    let upstream = std::thread::Builder::new()
        .name("outage-proxy-up".into())
        .spawn(move || copy(client_reader, server));
    copy(server_reader, client);
    if let Ok(handle) = upstream {
        let _ = handle.join();
    }
}

/// Copies until either side closes, then closes both directions.
fn copy(mut from: TcpStream, mut to: TcpStream) {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwards_then_refuses_then_forwards_again_on_the_same_port() {
        let echo = TcpListener::bind("127.0.0.1:0").unwrap();
        let echo_port = echo.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for mut stream in echo.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut buffer = [0u8; 64];
                    while let Ok(n) = stream.read(&mut buffer) {
                        if n == 0 || stream.write_all(&buffer[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let proxy = OutageProxy::start(&format!("http://127.0.0.1:{echo_port}")).unwrap();
        let address = proxy.endpoint().trim_start_matches("http://").to_string();
        let round_trip = |stream: &mut TcpStream| {
            stream.write_all(b"ping").unwrap();
            let mut answer = [0u8; 4];
            stream.read_exact(&mut answer).unwrap();
            assert_eq!(&answer, b"ping");
        };
        let mut open = TcpStream::connect(&address).unwrap();
        open.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        round_trip(&mut open);

        proxy.refuse();
        assert!(!proxy.is_listening());
        let refused = TcpStream::connect(&address).unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
        // The connection that was open is cut.
        let mut buffer = [0u8; 4];
        let cut = open
            .write_all(b"ping")
            .and_then(|()| open.read(&mut buffer));
        assert!(matches!(cut, Ok(0) | Err(_)), "{cut:?}");

        proxy.accept_again();
        let mut again = TcpStream::connect(&address).unwrap();
        again
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        round_trip(&mut again);
        assert_eq!(proxy.accepted(), 2);
    }
}
