//! `--supervise` with fake daemons (shell scripts in place of `java`): signals, exit statuses,
//! restarts, the start-up report, log formats, the environment and the default logback file,
//! and that nothing of the daemon's process group (or its orphans) is left behind.
//! The real daemon is exercised in tests/e2e scenario 13.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const V: &str = "9.9.9-test";

/// A scratch world with warm jars and `properties` as app.properties.
fn world(properties: &str) -> World {
    let (_, w) = warm_world(3, V);
    std::fs::write(&w.properties, properties).unwrap();
    w
}

fn properties(extra: &str) -> String {
    format!("{GOOD_PROPERTIES}timeoutInSeconds = 45\n{extra}")
}

/// A running supervised kcl-bootstrap whose stdout and stderr go to files.
struct Supervised {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Supervised {
    fn start(w: &World, java: &Path, args: &[&str]) -> Supervised {
        use std::os::unix::process::CommandExt;
        let out = w.tmp.path().join(format!("out-{}", args.len()));
        let err = w.tmp.path().join(format!("err-{}", args.len()));
        let child = w
            .cmd_java(java)
            .arg("--offline")
            .arg("--supervise")
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .process_group(0)
            .spawn()
            .unwrap();
        Supervised { child, out, err }
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on the child this test started.
        unsafe {
            libc::kill(self.child.id() as i32, signal);
        }
    }

    /// Waits (bounded) for the exit code.
    fn wait(&mut self, limit: Duration) -> i32 {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(
                start.elapsed() < limit,
                "kcl-bootstrap still running after {limit:?}; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        kill_group(self.child.id());
        let _ = self.child.wait();
    }
}

fn wait_for_file(path: &Path) -> String {
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && text.ends_with('\n')
        {
            return text;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn pids(text: &str) -> Vec<i32> {
    text.split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect()
}

/// A fake daemon that records its argv and environment, leaves a child in its group and an
/// escapee in a session of its own, says it is ready, and runs `on_term` on SIGTERM, SIGINT and
/// SIGHUP (as a JVM runs its shutdown hooks on each).
fn daemon_with_leftovers(w: &World, on_term: &str) -> (PathBuf, PathBuf, PathBuf) {
    let dir = w.tmp.path();
    let (ready, recorded) = (dir.join("ready"), dir.join("recorded"));
    let java = fake_java(
        &dir.join("jdk/bin"),
        JAVA17,
        &format!(
            "echo \"$* KCL_TIMEOUT_IN_SECONDS=$KCL_TIMEOUT_IN_SECONDS\" > '{recorded}'\n\
             trap '{on_term}' TERM INT HUP\n\
             sleep 300 & in_group=$!\n\
             setsid sleep 300 & escapee=$!\n\
             echo \"$in_group $escapee\" > '{ready}'\n\
             while :; do sleep 0.05; done",
            recorded = recorded.display(),
            ready = ready.display(),
        ),
    );
    (java, ready, recorded)
}

#[test]
fn sigterm_is_a_graceful_stop_exit_0_and_nothing_is_left_behind() {
    let w = world(&properties(""));
    let (java, ready, recorded) = daemon_with_leftovers(&w, "echo stopping; exit 143");
    let mut s = Supervised::start(&w, &java, &[]);
    let leftovers = pids(&wait_for_file(&ready));
    s.signal(libc::SIGTERM);
    assert_eq!(s.wait(Duration::from_secs(30)), 0, "{}", s.stderr());
    for pid in leftovers {
        assert!(
            wait_gone(pid),
            "process {pid} of the daemon's was left running"
        );
    }
    let err = s.stderr();
    assert!(err.contains("stopped gracefully after SIGTERM"), "{err}");
    assert!(err.contains("were still running after it exited"), "{err}");
    // The daemon got the timeout variable and kcl-bootstrap's default logback file.
    let recorded = std::fs::read_to_string(&recorded).unwrap();
    assert!(recorded.contains("KCL_TIMEOUT_IN_SECONDS=45"), "{recorded}");
    let logback = recorded
        .split_whitespace()
        .skip_while(|a| *a != "--log-configuration")
        .nth(1)
        .expect("a --log-configuration argument");
    assert!(logback.starts_with(&w.cache.join("logback").display().to_string()));
    let xml = std::fs::read_to_string(logback).unwrap();
    assert!(
        xml.contains("DrainChildSTDERRTask\" level=\"OFF\""),
        "{xml}"
    );
    // The daemon's own stdout line passed through on stdout, as written.
    assert!(s.stdout().contains("stopping\n"), "{}", s.stdout());
}

#[test]
fn a_second_sigterm_kills_the_group_and_a_status_that_is_not_graceful_is_kept() {
    // The fake daemon ignores SIGTERM; shutdownGraceMillis is long, so only escalation ends it.
    let w = world(&properties("shutdownGraceMillis = 600000\n"));
    let (java, ready, _) = daemon_with_leftovers(&w, "");
    let mut s = Supervised::start(&w, &java, &[]);
    let leftovers = pids(&wait_for_file(&ready));
    s.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(300));
    let start = Instant::now();
    s.signal(libc::SIGINT);
    let code = s.wait(Duration::from_secs(30));
    assert_eq!(code, 137, "SIGKILL: 128 + 9; {}", s.stderr());
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
    for pid in leftovers {
        assert!(wait_gone(pid), "process {pid} was left running");
    }
    let err = s.stderr();
    assert!(err.contains("second SIGINT"), "{err}");
    assert!(err.contains("killing the daemon's process group"), "{err}");
}

#[test]
fn a_stop_past_the_grace_is_enforced() {
    let w = world(&properties("shutdownGraceMillis = 1\n"));
    let (java, ready, _) = daemon_with_leftovers(&w, "");
    let mut s = Supervised::start(&w, &java, &[]);
    wait_for_file(&ready);
    let start = Instant::now();
    s.signal(libc::SIGHUP);
    assert_eq!(s.wait(Duration::from_secs(40)), 137, "{}", s.stderr());
    // shutdownGraceMillis + the 10 s margin, then SIGKILL.
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(9) && took < Duration::from_secs(25),
        "{took:?}"
    );
    assert!(
        s.stderr().contains("graceful shutdown took longer than"),
        "{}",
        s.stderr()
    );
}

#[test]
fn sigquit_is_forwarded_and_does_not_stop_the_daemon() {
    let w = world(&properties(""));
    let dir = w.tmp.path();
    let (ready, dumped) = (dir.join("ready"), dir.join("dumped"));
    let java = fake_java(
        &dir.join("jdk/bin"),
        JAVA17,
        &format!(
            "trap 'echo dump > {dumped}' QUIT\ntrap 'exit 143' TERM\necho go > '{ready}'\n\
             while :; do sleep 0.05; done",
            dumped = dumped.display(),
            ready = ready.display()
        ),
    );
    let mut s = Supervised::start(&w, &java, &[]);
    wait_for_file(&ready);
    s.signal(libc::SIGQUIT);
    wait_for_file(&dumped);
    assert!(s.child.try_wait().unwrap().is_none(), "SIGQUIT stopped it");
    s.signal(libc::SIGTERM);
    assert_eq!(s.wait(Duration::from_secs(30)), 0, "{}", s.stderr());
}

/// A daemon that fails at once, after a child's error line, and counts its starts.
fn failing_daemon(w: &World, status: i32) -> (PathBuf, PathBuf) {
    let dir = w.tmp.path();
    let starts = dir.join("starts");
    let java = fake_java(
        &dir.join("jdk/bin"),
        JAVA17,
        &format!(
            "echo start >> '{starts}'\n\
             echo '2026-12-02T05:00:00.123Z  INFO software.amazon.kinesis.coordinator.Scheduler [main] - Initializing'\n\
             echo '2026-12-02T05:00:01.000Z ERROR [shardId-000000000003] my_processor: cannot parse record 17' >&2\n\
             exit {status}",
            starts = starts.display()
        ),
    );
    (java, starts)
}

#[test]
fn a_crash_loop_backs_off_and_gives_up_naming_the_shard_and_the_error() {
    let w = world(&properties(""));
    let (java, starts) = failing_daemon(&w, 1);
    let start = Instant::now();
    let mut s = Supervised::start(
        &w,
        &java,
        &[
            "--restart",
            "on-failure",
            "--max-restarts",
            "2",
            "--restart-delay",
            "400ms",
        ],
    );
    assert_eq!(s.wait(Duration::from_secs(30)), 8, "{}", s.stderr());
    let took = start.elapsed();
    let runs = std::fs::read_to_string(&starts).unwrap().lines().count();
    assert_eq!(runs, 3, "the first start and 2 restarts");
    // 400 ms then 800 ms of back-off: no hot loop.
    assert!(took >= Duration::from_millis(1200), "{took:?}");
    let err = s.stderr();
    let gave_up = err
        .lines()
        .find(|l| l.contains("giving up"))
        .unwrap_or_else(|| panic!("no give-up line:\n{err}"));
    assert!(
        gave_up.contains("during start-up")
            && gave_up.contains("exit 1")
            && gave_up.contains("[shardId-000000000003] my_processor: cannot parse record 17")
            && gave_up.contains("--max-restarts 2"),
        "{gave_up}"
    );
    assert!(err.contains("restarting in 400ms"), "{err}");
    assert!(err.contains("restarting in 800ms"), "{err}");
    assert!(
        err.contains("kcl-bootstrap: | 2026-12-02T05:00:01.000Z ERROR"),
        "{err}"
    );
}

#[test]
fn without_restarts_the_daemons_status_is_kept_and_its_last_lines_are_quoted() {
    let w = world(&properties(""));
    let (java, starts) = failing_daemon(&w, 3);
    let mut s = Supervised::start(&w, &java, &[]);
    assert_eq!(s.wait(Duration::from_secs(30)), 3, "{}", s.stderr());
    assert_eq!(std::fs::read_to_string(&starts).unwrap().lines().count(), 1);
    let err = s.stderr();
    assert!(
        err.contains("exited during start-up") && err.contains("exit status 3"),
        "{err}"
    );
    assert!(
        err.contains("kcl-bootstrap: | 2026-12-02T05:00:00.123Z  INFO"),
        "{err}"
    );
}

#[test]
fn a_stop_during_the_back_off_does_not_restart() {
    let w = world(&properties(""));
    let (java, starts) = failing_daemon(&w, 1);
    let mut s = Supervised::start(
        &w,
        &java,
        &["--restart", "always", "--restart-delay", "60s"],
    );
    let start = Instant::now();
    while !s.stderr().contains("restarting in 60s") {
        assert!(start.elapsed() < Duration::from_secs(30), "{}", s.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    s.signal(libc::SIGTERM);
    assert_eq!(s.wait(Duration::from_secs(10)), 1, "{}", s.stderr());
    assert_eq!(std::fs::read_to_string(&starts).unwrap().lines().count(), 1);
}

#[test]
fn json_lines_carry_level_source_shard_and_message() {
    let w = world(&properties(""));
    let java = fake_java(
        &w.tmp.path().join("jdk/bin"),
        JAVA17,
        "echo '2026-12-02T05:00:00.123Z  WARN software.amazon.kinesis.coordinator.Scheduler [main] - lease \"x\" lost'\n\
         echo '2026-12-02T05:00:01.000Z  INFO [shardId-000000000001] my_processor: batch done records=500' >&2\n\
         echo '[shardId-000000000001] second line' >&2\n\
         echo 'plain child text' >&2\n\
         exit 0",
    );
    let mut s = Supervised::start(&w, &java, &["--log-format", "json"]);
    assert_eq!(s.wait(Duration::from_secs(30)), 0, "{}", s.stderr());
    let objects: Vec<serde_json::Value> = s
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let find = |message: &str| {
        objects
            .iter()
            .find(|o| o["message"].as_str().is_some_and(|m| m.contains(message)))
            .unwrap_or_else(|| panic!("no {message:?} in {objects:#?}"))
    };
    let daemon = find("lease \"x\" lost");
    assert_eq!(daemon["level"], "WARN");
    assert_eq!(daemon["source"], "daemon");
    assert_eq!(
        daemon["logger"],
        "software.amazon.kinesis.coordinator.Scheduler"
    );
    assert_eq!(daemon["thread"], "main");
    assert_eq!(daemon["time"], "2026-12-02T05:00:00.123Z");
    let child = find("batch done");
    assert_eq!(child["source"], "child");
    assert_eq!(child["shard"], "shardId-000000000001");
    assert_eq!(child["logger"], "my_processor");
    assert_eq!(child["message"], "batch done records=500");
    assert_eq!(find("second line")["shard"], "shardId-000000000001");
    let plain = find("plain child text");
    assert_eq!(
        (plain["source"].as_str(), plain["level"].as_str()),
        (Some("child"), Some("INFO"))
    );
    assert!(plain["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    let own = find("started the daemon");
    assert_eq!(own["source"], "supervisor");
    // Every line once, nothing on stderr after the start.
    assert_eq!(
        objects
            .iter()
            .filter(|o| o["message"] == "second line")
            .count(),
        1
    );
    assert!(!s.stderr().contains("batch done"), "{}", s.stderr());
}

#[test]
fn execute_passes_the_timeout_and_the_default_logback_file_but_printing_does_not() {
    let w = world(&properties(""));
    let recorded = w.tmp.path().join("recorded");
    let java = fake_java(
        &w.tmp.path().join("jdk-e/bin"),
        JAVA17,
        &format!(
            "echo \"$* T=$KCL_TIMEOUT_IN_SECONDS\" > '{}'",
            recorded.display()
        ),
    );
    let (code, _, err) = run(w.cmd_java(&java).arg("--offline").arg("-e"));
    assert_eq!(code, 0, "{err}");
    let line = std::fs::read_to_string(&recorded).unwrap();
    assert!(line.contains("T=45"), "{line}");
    assert!(
        line.contains("--log-configuration") && line.contains("logback/default-"),
        "{line}"
    );
    // A user's -l wins.
    std::fs::write(w.cwd.join("mine.xml"), "<configuration/>").unwrap();
    let (code, _, err) = run(w
        .cmd_java(&java)
        .args(["--offline", "-e", "-l", "mine.xml"]));
    assert_eq!(code, 0, "{err}");
    let line = std::fs::read_to_string(&recorded).unwrap();
    assert!(
        line.contains("mine.xml") && !line.contains("logback/default-"),
        "{line}"
    );
    // The printed command is unchanged.
    let (code, out, err) = run(w.cmd().arg("--offline"));
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("--log-configuration"), "{out}");
}

#[test]
fn supervised_flags_need_supervise_and_exclude_execute() {
    let w = world(&properties(""));
    let (code, _, err) = run(w.cmd().args(["--offline", "--restart", "always"]));
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(w.cmd().args(["--offline", "--supervise", "-e"]));
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(w
        .cmd()
        .args(["--offline", "--supervise", "--restart", "sometimes"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("on-failure"), "{err}");
}

#[test]
fn a_supervisor_killed_with_sigkill_leaves_a_daemon_that_stops_gracefully() {
    let w = world(&properties(""));
    let dir = w.tmp.path();
    let (ready, stopped) = (dir.join("ready"), dir.join("stopped"));
    let java = fake_java(
        &dir.join("jdk/bin"),
        JAVA17,
        &format!(
            "trap 'echo graceful > {stopped}; exit 143' TERM\necho \"$$\" > '{ready}'\n\
             while :; do sleep 0.05; done",
            stopped = stopped.display(),
            ready = ready.display()
        ),
    );
    let mut s = Supervised::start(&w, &java, &[]);
    let daemon = pids(&wait_for_file(&ready))[0];
    s.signal(libc::SIGKILL);
    assert_eq!(s.wait(Duration::from_secs(10)), -1, "killed");
    assert_eq!(wait_for_file(&stopped).trim(), "graceful");
    assert!(
        wait_gone(daemon),
        "the daemon {daemon} outlived its supervisor"
    );
}
