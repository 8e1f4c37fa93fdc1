//! A mirror on 127.0.0.1 that stalls, trickles or never answers, a connect that hangs, and a
//! bootstrap stuck holding the cache lock: the real binary must give up within the documented
//! time bounds (shortened here through their environment variables) and say which bound hit.
//!
//! Every run goes through `run_bounded`, so a hang fails the test instead of hanging the suite.

mod common;
use common::*;
use std::time::Duration;

const V: &str = "9.9.9-test";

fn setup(n: usize) -> (Jars, World, FakeRepo) {
    let jars = Jars::new(n);
    let world = World::new(&jars.lock(V, 8));
    let repo = FakeRepo::start("/maven2");
    (jars, world, repo)
}

fn jar_route(jars: &Jars, i: usize) -> String {
    format!("/maven2/{}", jars.jars[i].0)
}

fn temp_files(dir: &std::path::Path) -> Vec<String> {
    files_in(dir)
        .into_iter()
        .filter(|f| f.ends_with(".part") || f.ends_with(".tmp"))
        .collect()
}

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn stalled_body_is_given_up_after_the_read_timeout_and_the_retries() {
    let (jars, w, repo) = setup(1);
    let path = jar_route(&jars, 0);
    repo.route(
        &path,
        Route {
            body: jars.jars[0].1.clone(),
            stall_after: Some(100),
            ..Route::default()
        },
    );
    let r = run_bounded(
        w.cmd()
            .env("KCL_BOOTSTRAP_READ_TIMEOUT", "1s")
            .arg("--maven-repo")
            .arg(&repo.base_url),
        LIMIT,
    );
    r.expect_code(5);
    assert!(
        r.err.contains("no data for 1s (--read-timeout)")
            && r.err.contains("gave up after 4 attempts"),
        "{}",
        r.err
    );
    assert_eq!(repo.hits(&path), 4);
    // 4 attempts of 1 s plus pauses of 0.5 + 1 + 2 s.
    assert!(r.elapsed < Duration::from_secs(30), "{:?}", r.elapsed);
    assert!(temp_files(&w.cache.join(V)).is_empty());
}

#[test]
fn trickling_body_fails_the_minimum_speed() {
    let (jars, w, repo) = setup(1);
    let path = jar_route(&jars, 0);
    // About 50 bytes per second, each byte well within the read timeout.
    repo.route(
        &path,
        Route {
            body: jars.jars[0].1.clone(),
            trickle: Some(Duration::from_millis(20)),
            ..Route::default()
        },
    );
    let r = run_bounded(
        w.cmd()
            .env("KCL_BOOTSTRAP_READ_TIMEOUT", "1s")
            .env("KCL_BOOTSTRAP_MIN_SPEED", "1k")
            .arg("--maven-repo")
            .arg(&repo.base_url),
        LIMIT,
    );
    r.expect_code(5);
    assert!(
        r.err.contains("slower than --min-speed 1024 bytes/s"),
        "{}",
        r.err
    );
    assert!(r.elapsed < Duration::from_secs(30), "{:?}", r.elapsed);
}

#[test]
fn jar_timeout_bounds_all_attempts_together() {
    let (jars, w, repo) = setup(1);
    let path = jar_route(&jars, 0);
    repo.route(
        &path,
        Route {
            body: jars.jars[0].1.clone(),
            stall_after: Some(10),
            ..Route::default()
        },
    );
    let r = run_bounded(
        w.cmd()
            .env("KCL_BOOTSTRAP_READ_TIMEOUT", "2s")
            .env("KCL_BOOTSTRAP_JAR_TIMEOUT", "3s")
            .arg("--maven-repo")
            .arg(&repo.base_url),
        LIMIT,
    );
    r.expect_code(5);
    assert!(
        r.err
            .contains("gave up after 3s for this jar, --jar-timeout"),
        "{}",
        r.err
    );
    assert!(repo.hits(&path) <= 2, "{}", repo.hits(&path));
    assert!(r.elapsed < Duration::from_secs(15), "{:?}", r.elapsed);
}

#[test]
fn timeout_flags_beat_the_environment() {
    let (jars, w, repo) = setup(1);
    repo.route(
        &jar_route(&jars, 0),
        Route {
            stall_headers: true,
            ..Route::default()
        },
    );
    let r = run_bounded(
        w.cmd()
            .env("KCL_BOOTSTRAP_READ_TIMEOUT", "1h")
            .arg("--read-timeout=300ms")
            .arg("--jar-timeout=5s")
            .arg("--maven-repo")
            .arg(&repo.base_url),
        LIMIT,
    );
    r.expect_code(5);
    assert!(r.err.contains("no data for 300ms"), "{}", r.err);
    let r = run_bounded(w.cmd().arg("--read-timeout=0s"), LIMIT);
    r.expect_code(2);
    assert!(r.err.contains("--read-timeout"), "{}", r.err);
}

#[test]
fn unanswered_request_is_given_up() {
    let (jars, w, repo) = setup(1);
    let path = jar_route(&jars, 0);
    repo.route(
        &path,
        Route {
            stall_headers: true,
            ..Route::default()
        },
    );
    let r = run_bounded(
        w.cmd()
            .env("KCL_BOOTSTRAP_READ_TIMEOUT", "500ms")
            .arg("--maven-repo")
            .arg(&repo.base_url),
        LIMIT,
    );
    r.expect_code(5);
    assert!(
        r.err.contains("no data for 500ms (--read-timeout)"),
        "{}",
        r.err
    );
    assert!(r.elapsed < Duration::from_secs(30), "{:?}", r.elapsed);
}

/// A listener whose accept queue is full: the kernel drops further SYNs, so a connect hangs.
struct FullListener {
    _listener: std::net::TcpListener,
    _queued: Vec<std::net::TcpStream>,
    port: u16,
}

fn full_listener() -> FullListener {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a socket this function owns; the fd is handed to a
    // TcpListener, which closes it.
    let listener = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0);
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(
            libc::bind(fd, &addr as *const _ as *const libc::sockaddr, len),
            0
        );
        assert_eq!(libc::listen(fd, 0), 0);
        std::net::TcpListener::from_raw_fd(fd)
    };
    let port = listener.local_addr().unwrap().port();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut queued = Vec::new();
    for _ in 0..8 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(s) => queued.push(s),
            Err(_) => break,
        }
    }
    FullListener {
        _listener: listener,
        _queued: queued,
        port,
    }
}

#[test]
fn connect_that_hangs_is_given_up_after_the_connect_timeout() {
    let jars = Jars::new(1);
    let w = World::new(&jars.lock(V, 8));
    let full = full_listener();
    let r = run_bounded(
        w.cmd()
            .env("KCL_BOOTSTRAP_CONNECT_TIMEOUT", "1s")
            .arg("--maven-repo")
            .arg(format!("http://127.0.0.1:{}/maven2", full.port)),
        LIMIT,
    );
    r.expect_code(5);
    assert!(
        r.err
            .contains("could not connect within 1s (--connect-timeout)"),
        "{}",
        r.err
    );
    assert!(r.elapsed < Duration::from_secs(30), "{:?}", r.elapsed);
}

#[test]
fn waiting_bootstrap_names_the_holder_and_gives_up() {
    use std::os::unix::process::CommandExt;
    let (jars, w, repo) = setup(1);
    let path = jar_route(&jars, 0);
    repo.route(
        &path,
        Route {
            body: jars.jars[0].1.clone(),
            stall_after: Some(10),
            ..Route::default()
        },
    );
    // The holder: stuck on a stalled body, with a long read timeout.
    let mut holder = w
        .cmd()
        .env("KCL_BOOTSTRAP_READ_TIMEOUT", "60s")
        .arg("--maven-repo")
        .arg(&repo.base_url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while repo.hits(&path) == 0 && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let waiter = run_bounded(
        w.cmd()
            .env("KCL_BOOTSTRAP_LOCK_TIMEOUT", "1s")
            .arg("--maven-repo")
            .arg(&repo.base_url),
        Duration::from_secs(30),
    );
    kill_group(holder.id());
    let _ = holder.wait();
    waiter.expect_code(5);
    let who = format!("PID {}", holder.id());
    assert!(
        waiter.err.contains(&who) && waiter.err.contains("waiting for it"),
        "the waiter says whom it waits for: {}",
        waiter.err
    );
    assert!(waiter.err.contains("--lock-timeout"), "{}", waiter.err);
    assert!(
        waiter.elapsed < Duration::from_secs(15),
        "{:?}",
        waiter.elapsed
    );
}
