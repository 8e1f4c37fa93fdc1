//! The real endpoint over real HTTP (ureq), with the real library (kcl-protocol's engine driven
//! by its fake daemon) reporting into the real socket.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use kcl_protocol::testing::{FakeDaemon, TestRecord};
use kcl_protocol::{BoxError, Checkpointer, ProcessRecordsInput, Processor, Runner};

use super::Scraped;
use crate::observe::{Endpoint, feed, parse_metrics_addr, status};
use crate::supervise::events::Event;
use crate::supervise::lines::{LineParser, Stream};

/// Checkpoints after each batch, like the samples.
struct Checkpointing;

impl Processor for Checkpointing {
    fn process_records(
        &mut self,
        _input: &ProcessRecordsInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        checkpointer.checkpoint()?;
        Ok(())
    }
}

fn start() -> (Endpoint, String) {
    let addr = parse_metrics_addr("127.0.0.1:0").unwrap();
    let endpoint = Endpoint::start(&addr, Duration::from_secs(180)).unwrap();
    let base = format!("http://{}", endpoint.local_addr());
    (endpoint, base)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into()
}

/// Status code, content type and body.
fn get(agent: &ureq::Agent, url: &str) -> (u16, String, String) {
    let mut response = agent.get(url).call().unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (
        status,
        content_type,
        response.body_mut().read_to_string().unwrap(),
    )
}

/// Scrapes until `done` holds (the reports cross a socket and a thread), at most 20 s.
fn scrape_until(agent: &ureq::Agent, base: &str, done: impl Fn(&Scraped) -> bool) -> Scraped {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, _, body) = get(agent, &format!("{base}/metrics"));
        let scraped = Scraped::parse(&body);
        if done(&scraped) || Instant::now() > deadline {
            return scraped;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_endpoint_serves_what_the_library_reports_and_the_probes_follow_the_daemon() {
    let (endpoint, base) = start();
    let agent = agent();
    let feed = endpoint.feed();
    assert_eq!(get(&agent, &format!("{base}/readyz")).0, 503);
    assert_eq!(get(&agent, &format!("{base}/healthz")).0, 503);
    feed.observe(&Event::DaemonStarted { pid: 1, run: 1 });
    assert_eq!(get(&agent, &format!("{base}/healthz")).0, 200);
    assert_eq!(get(&agent, &format!("{base}/readyz")).0, 503);

    let transcript = FakeDaemon::new("shardId-000000000005")
        .process_records_behind(
            [TestRecord::new("1", "aa"), TestRecord::new("2", "bbb")],
            Some(700),
        )
        .process_records_behind([TestRecord::new("3", "c")], Some(0))
        .shard_ended()
        .run_with(
            Runner::new().report_socket(Some(endpoint.socket_path().to_owned())),
            Checkpointing,
        );
    assert!(transcript.completed(), "{transcript}");
    let scraped = scrape_until(&agent, &base, |s| s.value("kcl_reports", &[]) == Some(4.0));
    let shard = [("shard_id", "shardId-000000000005")];
    assert_eq!(scraped.value("kcl_records", &shard), Some(3.0));
    assert_eq!(scraped.value("kcl_bytes", &shard), Some(6.0));
    assert_eq!(scraped.value("kcl_batches", &shard), Some(2.0));
    assert_eq!(scraped.value("kcl_millis_behind_latest", &shard), Some(0.0));
    // Two batch checkpoints and the SHARD_END one.
    assert_eq!(
        scraped.value("kcl_checkpoints", &[shard[0], ("result", "ok")]),
        Some(3.0)
    );
    assert_eq!(
        scraped.value(
            "kcl_callback_duration_seconds",
            &[("action", "processRecords")]
        ),
        Some(2.0)
    );
    // A child initialised: ready.
    let (status, content_type, body) = get(&agent, &format!("{base}/readyz"));
    assert_eq!((status, body.as_str()), (200, "ready\n"));
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let (_, content_type, text) = get(&agent, &format!("{base}/metrics"));
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let table = status::render(
        &base,
        &crate::observe::exposition::samples(&text),
        "ok",
        "ready",
        now,
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("shardId-000000000005") && l.contains("3 ok")),
        "{table}"
    );

    // The daemon's scheduler line, as the supervisor's reader parses it.
    let mut parser = LineParser::new(Stream::Stderr);
    let line = parser.parse(
        "12:00:00.000 INFO  [main] s.a.k.coordinator.Scheduler - Current stream shard assignments: shardId-000000000009",
    );
    feed.observe(&Event::Line {
        pid: 1,
        line: &line,
    });
    let scraped = scrape_until(&agent, &base, |s| {
        s.value("kcl_shard_leases", &[]) == Some(1.0)
    });
    assert_eq!(scraped.value("kcl_shard_leases", &[]), Some(1.0));

    // The daemon exits for good: unhealthy with its reason, not ready.
    let status = std::process::Command::new("false").status().unwrap();
    feed.observe(&Event::DaemonExited {
        pid: 1,
        status,
        ran_for: Duration::from_secs(30),
        stop_requested: false,
    });
    feed.observe(&Event::GaveUp { restarts: 5 });
    let (status, _, body) = get(&agent, &format!("{base}/healthz"));
    assert_eq!(status, 503);
    assert!(
        body.contains("gave up") && body.lines().count() == 1,
        "{body}"
    );
    assert_eq!(get(&agent, &format!("{base}/readyz")).0, 503);
    assert_eq!(get(&agent, &format!("{base}/nothing-here")).0, 404);
    assert_eq!(
        agent
            .post(&format!("{base}/metrics"))
            .send("x")
            .unwrap()
            .status()
            .as_u16(),
        405
    );
}

#[test]
fn the_endpoint_answers_while_children_flood_the_socket() {
    let (endpoint, base) = start();
    let agent = agent();
    let path = endpoint.socket_path().to_owned();
    let flood = std::thread::spawn(move || {
        let socket = UnixDatagram::unbound().unwrap();
        socket.set_nonblocking(true).unwrap();
        let mut sent = 0u64;
        let until = Instant::now() + Duration::from_secs(3);
        let mut seq = 0;
        while Instant::now() < until {
            seq += 1;
            let report = format!(
                "{{\"version\":1,\"pid\":{},\"seq\":{seq},\"shard_id\":\"shardId-{}\",\"action\":\"processRecords\",\
                 \"records\":1,\"bytes\":1,\"millis_behind_latest\":0,\"duration_micros\":1,\"checkpoints\":{{\"ok\":1}},\
                 \"retries\":0,\"failure\":null,\"acknowledged\":true}}",
                std::process::id(),
                seq % 16
            );
            if socket.send_to(report.as_bytes(), &path).is_ok() {
                sent += 1;
            }
        }
        sent
    });
    let mut scrapes = 0;
    while !flood.is_finished() {
        let started = Instant::now();
        let (status, _, body) = get(&agent, &format!("{base}/metrics"));
        assert_eq!(status, 200);
        Scraped::parse(&body);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "a scrape took {:?}",
            started.elapsed()
        );
        scrapes += 1;
    }
    let sent = flood.join().unwrap();
    assert!(scrapes >= 3, "only {scrapes} scrapes in 3 s");
    let scraped = scrape_until(&agent, &base, |s| {
        s.value("kcl_reports", &[]) == Some(sent as f64)
    });
    // What was sent arrived (a sender sees a full queue as an error and does not count it).
    assert_eq!(scraped.value("kcl_reports", &[]), Some(sent as f64));
    assert_eq!(scraped.sum("kcl_records"), sent as f64);
}

#[test]
fn events_without_meaning_for_the_endpoint_are_ignored() {
    let mut parser = LineParser::new(Stream::Stdout);
    let line = parser.parse("2026-11-21T22:09:42.186Z  INFO software.amazon.kinesis.coordinator.Scheduler [main] - Sleeping ...");
    assert_eq!(
        feed::translate(&Event::Line {
            pid: 1,
            line: &line
        }),
        None
    );
    let started = parser.parse(
        "2026-11-21T22:09:42.186Z  INFO software.amazon.kinesis.coordinator.Scheduler [main] - Initialization complete. Starting worker loop.",
    );
    assert!(
        feed::translate(&Event::Line {
            pid: 1,
            line: &started
        })
        .is_some()
    );
}
