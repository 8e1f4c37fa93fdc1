//! Every row of the exit-code table in `docs/bootstrap.md` (and `--help`), produced by the real
//! binary. Row 70 (internal error) cannot be provoked from outside; its mapping is unit-tested
//! in `src/lib.rs` and `src/error.rs`.

mod common;
use common::*;
use std::process::Command;
use std::time::Duration;

const V: &str = "9.9.9-test";
const LIMIT: Duration = Duration::from_secs(60);

/// The codes of the table's rows, read from the docs.
fn documented_codes() -> Vec<i32> {
    let docs = repository_file("docs/bootstrap.md").unwrap();
    let table = docs
        .split("\n### Exit codes")
        .nth(1)
        .expect("docs/bootstrap.md has an Exit codes section");
    table
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(' ').next()?.parse().ok())
        .collect()
}

/// One way to get each code, with what it demonstrates.
fn scenarios(w: &World, repo: &FakeRepo) -> Vec<(i32, &'static str, Command)> {
    let bare = || {
        let mut c = Command::new(bin());
        c.current_dir(&w.cwd)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &w.home)
            .env("KCL_BOOTSTRAP_CACHE_DIR", &w.cache);
        c
    };
    let bad_lock = w.tmp.path().join("bad.lock");
    std::fs::write(&bad_lock, "kcl-version\t1\nmin-java\tx\n").unwrap();
    std::fs::write(w.cwd.join("invalid.properties"), "timeoutInSeconds = 0\n").unwrap();
    std::fs::write(w.cwd.join("syntax.properties"), "a = \\u00zz\n").unwrap();
    let old_java = fake_java(
        &w.tmp.path().join("jdk7/bin"),
        "java version \"1.7.0_80\"",
        "exit 0",
    );
    let mut v = Vec::new();
    let mut c = w.cmd();
    c.arg("--offline");
    v.push((0, "the command is printed", c));
    let mut c = bare();
    c.arg("--bogus-flag");
    v.push((2, "an unknown flag", c));
    let mut c = bare();
    c.args(["-p", "nope.properties", "--lock"]).arg(&w.lock);
    v.push((2, "-p names no file", c));
    let mut c = bare();
    c.args(["-p", "app.properties", "--kcl-version", "1.0.0"]);
    v.push((2, "an unknown --kcl-version", c));
    let mut c = bare();
    c.args(["-p", "app.properties", "--lock"]).arg(&bad_lock);
    v.push((2, "a lock that does not parse", c));
    let mut c = w.cmd();
    c.args(["--offline", "-l", "missing.xml"]);
    v.push((2, "-l names no file", c));
    let mut c = w.cmd();
    c.args(["--maven-repo", "ftp://x"]);
    v.push((2, "a bad --maven-repo", c));
    let mut c = w.cmd();
    c.env("KCL_BOOTSTRAP_CACHE_DIR", w.tmp.path().join("empty-cache"))
        .env("KCL_MAVEN_REPO", "ftp://x");
    v.push((2, "a bad $KCL_MAVEN_REPO", c));
    let mut c = w.cmd_properties(std::path::Path::new("invalid.properties"));
    c.arg("--offline");
    v.push((3, "validation errors", c));
    let mut c = w.cmd_properties(std::path::Path::new("syntax.properties"));
    c.arg("--offline");
    v.push((3, "a syntax error Java would throw on", c));
    let mut c = w.cmd_java(&w.tmp.path().join("no/java"));
    c.arg("--offline");
    v.push((4, "--java names nothing", c));
    let mut c = w.cmd_java(&old_java);
    c.arg("--offline");
    v.push((4, "Java too old", c));
    let mut c = w.cmd();
    c.env("KCL_BOOTSTRAP_CACHE_DIR", w.tmp.path().join("other-cache"))
        .arg("--offline");
    v.push((5, "--offline with jars missing", c));
    let mut c = w.cmd();
    c.env("KCL_BOOTSTRAP_CACHE_DIR", w.tmp.path().join("third-cache"))
        .arg("--maven-repo")
        .arg(&repo.base_url);
    v.push((5, "the repository does not have a jar (404)", c));
    let failing_java = fake_java(&w.tmp.path().join("jdk-fail/bin"), JAVA17, "exit 1");
    let mut c = w.cmd_java(&failing_java);
    c.args([
        "--offline",
        "--supervise",
        "--restart",
        "on-failure",
        "--max-restarts",
        "0",
    ]);
    v.push((8, "--supervise gave up restarting", c));
    // 1: `status` cannot read the endpoint (a port that nothing listens on any more).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap();
    let mut c = bare();
    c.args(["status", "--metrics-addr", &format!("127.0.0.1:{port}")]);
    v.push((1, "status without an endpoint", c));
    v
}

#[test]
fn every_row_of_the_exit_code_table() {
    let (_, w) = warm_world(1, V);
    let repo = FakeRepo::start("/maven2");
    let mut tested: Vec<i32> = Vec::new();
    for (code, what, mut cmd) in scenarios(&w, &repo) {
        let r = run_bounded(&mut cmd, LIMIT);
        assert!(!r.timed_out, "{what}: still running after {:?}", r.elapsed);
        assert_eq!(r.code, Some(code), "{what}:\n{}", r.err);
        if code != 0 {
            assert!(r.err.contains("error"), "{what} says why: {}", r.err);
        }
        tested.push(code);
    }
    // 6: stdout closed.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let status = w.cmd().arg("--offline").stdout(writer).status().unwrap();
    assert_eq!(status.code(), Some(6), "closed stdout");
    tested.push(6);
    // 70 is unit-tested (it needs a bug to happen).
    tested.push(70);
    tested.sort();
    tested.dedup();
    if packaged() {
        return;
    }
    let mut documented = documented_codes();
    documented.sort();
    assert_eq!(
        documented, tested,
        "the docs' table and the tested rows differ"
    );
}

#[test]
fn with_execute_the_exit_status_is_the_daemons() {
    let (_, w) = warm_world(1, V);
    let java = fake_java(&w.tmp.path().join("jdk-exit/bin"), JAVA17, "exit 42");
    let r = run_bounded(w.cmd_java(&java).arg("--offline").arg("-e"), LIMIT);
    r.expect_code(42);
}
