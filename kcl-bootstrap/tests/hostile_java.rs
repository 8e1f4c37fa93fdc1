//! `java` executables that hang: the bootstrap must stop them in bounded time, kill what they
//! started, and say so.

mod common;
use common::*;
use std::time::Duration;

const V: &str = "9.9.9-test";

/// A fake `java` whose `-version` runs `script` (with `$PIDS` naming a file for PIDs).
fn odd_java(w: &World, name: &str, script: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let dir = w.tmp.path().join(name).join("bin");
    std::fs::create_dir_all(&dir).unwrap();
    let pids = w.tmp.path().join(format!("{name}.pids"));
    let java = dir.join("java");
    std::fs::write(
        &java,
        format!(
            "#!/bin/sh\nPIDS='{}'\nif [ \"$1\" = -version ]; then\n{script}\nfi\nexit 0\n",
            pids.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&java, std::fs::Permissions::from_mode(0o755)).unwrap();
    (java, pids)
}

fn pids(file: &std::path::Path) -> Vec<i32> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect()
}

#[test]
fn java_hanging_on_version_is_stopped_with_its_children() {
    let (_, w) = warm_world(1, V);
    let (java, pid_file) = odd_java(
        &w,
        "hang",
        "echo $$ >> \"$PIDS\"\nsleep 300 &\necho $! >> \"$PIDS\"\nwait",
    );
    let r = run_bounded(
        w.cmd_java(&java)
            .env("KCL_BOOTSTRAP_JAVA_TIMEOUT", "1s")
            .arg("--offline"),
        Duration::from_secs(60),
    );
    r.expect_code(4);
    assert!(
        r.err.contains("-version` did not finish within 1s") && r.err.contains("--java-timeout"),
        "{}",
        r.err
    );
    assert!(r.elapsed < Duration::from_secs(20), "{:?}", r.elapsed);
    let started = pids(&pid_file);
    assert_eq!(started.len(), 2, "{started:?}");
    for pid in started {
        assert!(
            wait_gone(pid),
            "process {pid} started by `java -version` is still running"
        );
    }
}

#[test]
fn java_leaving_a_child_on_stderr_does_not_hang_the_launch() {
    let (_, w) = warm_world(1, V);
    let (java, pid_file) = odd_java(
        &w,
        "leaky",
        &format!("echo '{JAVA17}' >&2\nsleep 300 &\necho $! >> \"$PIDS\"\nexit 0"),
    );
    let r = run_bounded(w.cmd_java(&java).arg("--offline"), Duration::from_secs(60));
    r.expect_code(0);
    assert!(
        r.out.contains("-Dfile.encoding=UTF-8"),
        "read as Java 17: {}",
        r.out
    );
    assert!(r.elapsed < Duration::from_secs(20), "{:?}", r.elapsed);
    let left = pids(&pid_file);
    assert_eq!(left.len(), 1);
    assert!(
        wait_gone(left[0]),
        "the child holding stderr was not stopped"
    );
}

#[test]
fn java_timeout_flag_and_default_are_documented() {
    let (_, w) = warm_world(1, V);
    let (java, _) = odd_java(&w, "slow", "sleep 300");
    let r = run_bounded(
        w.cmd_java(&java)
            .arg("--java-timeout")
            .arg("300ms")
            .arg("--offline"),
        Duration::from_secs(60),
    );
    r.expect_code(4);
    assert!(r.err.contains("within 300ms"), "{}", r.err);
    let help = run_bounded(
        std::process::Command::new(bin()).arg("--help"),
        Duration::from_secs(30),
    );
    assert!(
        help.out
            .contains("KCL_BOOTSTRAP_JAVA_TIMEOUT=] [default: 20s]"),
        "{}",
        help.out
    );
}
