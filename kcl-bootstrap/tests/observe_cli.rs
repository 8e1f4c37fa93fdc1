//! The observability flags and `kcl-bootstrap status` from the command line: their usage errors
//! and what `status` says when the endpoint is missing or is not a metrics endpoint. (The endpoint
//! itself is tested in `src/observe/tests/`, and with the real daemon in e2e scenario 14.)

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

const BOUND: Duration = Duration::from_secs(30);

#[test]
fn metrics_addr_needs_supervise_and_a_valid_address() {
    let run = run_bounded(
        Command::new(bin()).args(["-p", "x.properties", "--metrics-addr", "9100"]),
        BOUND,
    );
    run.expect_code(2);
    assert!(run.err.contains("--supervise"), "{}", run.err);
    let run = run_bounded(
        Command::new(bin()).args(["status", "--metrics-addr", "host:99999"]),
        BOUND,
    );
    run.expect_code(2);
    assert!(run.err.contains("not a port number"), "{}", run.err);
    let run = run_bounded(
        Command::new(bin()).args(["status", "--metrics-addr", "9100", "-p", "x.properties"]),
        BOUND,
    );
    run.expect_code(2);
}

#[test]
fn status_says_in_one_line_when_no_endpoint_answers() {
    // A port that was free a moment ago: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let run = run_bounded(
        Command::new(bin()).args(["status", "--metrics-addr", &addr]),
        BOUND,
    );
    run.expect_code(1);
    assert_eq!(run.err.trim().lines().count(), 1, "{}", run.err);
    assert!(
        run.err
            .contains(&format!("cannot read http://{addr}/metrics")),
        "{}",
        run.err
    );
    assert!(run.out.is_empty(), "{}", run.out);
}

#[test]
fn status_refuses_an_endpoint_that_serves_no_kcl_metrics() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        // Answer every request with a page that is not the worker's metrics.
        for stream in listener.incoming().take(3) {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello",
            );
        }
    });
    let run = run_bounded(
        Command::new(bin()).args(["status", "--metrics-addr", &addr]),
        BOUND,
    );
    run.expect_code(1);
    assert!(
        run.err.contains("did not answer with metrics"),
        "{}",
        run.err
    );
    assert_eq!(run.err.trim().lines().count(), 1, "{}", run.err);
}
