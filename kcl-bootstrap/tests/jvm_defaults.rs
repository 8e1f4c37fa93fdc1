//! `--jvm-defaults` with fake `java` scripts that record their arguments: the defaults are on in
//! `-e` and `--supervise`, absent with `none` and from the printed command, and a user option for
//! the same setting (a `--jvm-arg` or one of the `JAVA_TOOL_OPTIONS` family) drops ours.
//! tests/jvm_archive.rs runs the real `java` for the AppCDS archive.

mod common;
use common::*;
use std::path::PathBuf;
use std::time::Duration;

const V: &str = "9.9.9-test";
const LIMIT: Duration = Duration::from_secs(60);

/// A world with warm jars and a fake java that writes its arguments to the returned file.
fn recording_world() -> (World, PathBuf, PathBuf) {
    let (_, w) = warm_world(3, V);
    let recorded = w.tmp.path().join("recorded");
    let java = fake_java(
        &w.tmp.path().join("jdk-rec/bin"),
        JAVA17,
        &format!("echo \"$*\" > '{}'", recorded.display()),
    );
    (w, java, recorded)
}

fn launched_args(cmd: &mut std::process::Command, recorded: &std::path::Path) -> String {
    let _ = std::fs::remove_file(recorded);
    let r = run_bounded(cmd, LIMIT);
    assert_eq!(r.code, Some(0), "{}", r.err);
    std::fs::read_to_string(recorded).unwrap()
}

const TUNED: [&str; 7] = [
    "-XX:+UseSerialGC",
    "-Xms16m",
    "-XX:MinHeapFreeRatio=10",
    "-XX:MaxHeapFreeRatio=30",
    "-XX:TieredStopAtLevel=1",
    "-Dio.netty.allocator.numDirectArenas=1",
    "-Dio.netty.allocator.numHeapArenas=1",
];

#[test]
fn the_defaults_are_on_in_execute_and_supervise_and_before_the_users_options() {
    let (w, java, recorded) = recording_world();
    for mode in ["-e", "--supervise"] {
        let args = launched_args(
            w.cmd_java(&java)
                .args(["--offline", "-q", mode, "--jvm-arg=-Xss512k"]),
            &recorded,
        );
        for option in TUNED {
            assert!(args.contains(option), "{mode}: {option} missing in {args}");
        }
        assert!(args.contains("-XX:ArchiveClassesAtExit="), "{mode}: {args}");
        let ours = args.find("-XX:+UseSerialGC").unwrap();
        let theirs = args.find("-Xss512k").unwrap();
        assert!(
            ours < theirs && theirs < args.find(" -cp ").unwrap(),
            "{args}"
        );
    }
}

#[test]
fn none_gives_plain_java_and_the_printed_command_is_unchanged() {
    let (w, java, recorded) = recording_world();
    let plain = launched_args(
        w.cmd_java(&java)
            .args(["--offline", "-e", "--jvm-defaults", "none"]),
        &recorded,
    );
    let from_env = launched_args(
        w.cmd_java(&java)
            .env("KCL_BOOTSTRAP_JVM_DEFAULTS", "none")
            .args(["--offline", "--supervise"]),
        &recorded,
    );
    for args in [&plain, &from_env] {
        assert!(
            !args.contains("-XX:") && !args.contains("-Xms") && !args.contains("netty"),
            "{args}"
        );
        assert!(
            args.starts_with("-Dfile.encoding=UTF-8 -cp "),
            "plain java, as before: {args}"
        );
    }
    let r = run_bounded(w.cmd_java(&java).arg("--offline"), LIMIT);
    assert_eq!(r.code, Some(0), "{}", r.err);
    assert!(
        !r.out.contains("-XX:") && !r.out.contains("-Xms"),
        "{}",
        r.out
    );
    assert!(!w.cache.join("cds").exists(), "no archive work without -e");
}

#[test]
fn a_user_option_for_the_same_setting_drops_only_that_default() {
    let (w, java, recorded) = recording_world();
    let args = launched_args(
        w.cmd_java(&java).args([
            "--offline",
            "-e",
            "-q",
            "--jvm-arg=-Xmx8m",
            "--jvm-arg=-XX:+UseG1GC",
        ]),
        &recorded,
    );
    assert!(
        !args.contains("-Xms16m") && !args.contains("UseSerialGC"),
        "{args}"
    );
    assert!(args.contains("-XX:TieredStopAtLevel=1"), "{args}");
    for (variable, value, gone, kept) in [
        (
            "JAVA_TOOL_OPTIONS",
            "-Xshare:off",
            "ArchiveClassesAtExit",
            "UseSerialGC",
        ),
        (
            "JDK_JAVA_OPTIONS",
            "-XX:TieredStopAtLevel=4",
            "TieredStopAtLevel=1",
            "-Xms16m",
        ),
        (
            "_JAVA_OPTIONS",
            "-Dio.netty.allocator.numDirectArenas=8",
            "numDirectArenas=1",
            "numHeapArenas=1",
        ),
    ] {
        let args = launched_args(
            w.cmd_java(&java)
                .env(variable, value)
                .args(["--offline", "-e", "-q"]),
            &recorded,
        );
        assert!(!args.contains(gone), "{variable}={value}: {args}");
        assert!(args.contains(kept), "{variable}={value}: {args}");
    }
}

#[test]
fn check_lists_the_options_and_why_a_default_was_dropped() {
    let (w, java, _) = recording_world();
    let r = run_bounded(
        w.cmd_java(&java)
            .env("JAVA_TOOL_OPTIONS", "-XX:+UseParallelGC")
            .args(["--check", "--jvm-arg=-Xmx1g"]),
        LIMIT,
    );
    assert_eq!(r.code, Some(0), "{}", r.err);
    assert!(
        r.err.contains("JVM defaults: -XX:MinHeapFreeRatio=10"),
        "{}",
        r.err
    );
    assert!(
        r.err
            .contains("dropped -XX:+UseSerialGC (you set -XX:+UseParallelGC in JAVA_TOOL_OPTIONS)"),
        "{}",
        r.err
    );
    assert!(
        r.err.contains("dropped -Xms16m (you set --jvm-arg=-Xmx1g)"),
        "{}",
        r.err
    );
    let r = run_bounded(
        w.cmd_java(&java).args(["--check", "--jvm-defaults=none"]),
        LIMIT,
    );
    assert!(r.err.contains("JVM defaults: none"), "{}", r.err);
}

#[test]
fn check_lists_the_users_own_jvm_options_with_secret_values_hidden() {
    let (w, java, _) = recording_world();
    let r = run_bounded(
        w.cmd_java(&java)
            .env(
                "JAVA_TOOL_OPTIONS",
                "-Xss512k -Daws.secretAccessKey=tool-s3cr3t",
            )
            .env("_JAVA_OPTIONS", "-Dfoo.bar=2")
            .args([
                "--check",
                "--jvm-arg=-Xmx300m",
                "--jvm-arg=-Djavax.net.ssl.trustStorePassword=arg-s3cr3t",
                "--jvm-arg=-Dfoo=1",
            ]),
        LIMIT,
    );
    assert_eq!(r.code, Some(0), "{}", r.err);
    let lines: Vec<&str> = r.err.lines().collect();
    let defaults = lines
        .iter()
        .position(|l| l.contains("JVM defaults: "))
        .unwrap();
    assert_eq!(
        lines[defaults + 1],
        "kcl-bootstrap: your JVM options: --jvm-arg -Xmx300m \
         -Djavax.net.ssl.trustStorePassword=<redacted> -Dfoo=1; JAVA_TOOL_OPTIONS=-Xss512k \
         -Daws.secretAccessKey=<redacted>; _JAVA_OPTIONS=-Dfoo.bar=2 (read by the JVM itself)",
        "{}",
        r.err
    );
    for output in [&r.err, &r.out] {
        assert!(!output.contains("s3cr3t"), "a secret shown: {output}");
    }

    // Only what is there; nothing at all without options.
    let r = run_bounded(
        w.cmd_java(&java)
            .env("JDK_JAVA_OPTIONS", "-Xss1m")
            .arg("--check"),
        LIMIT,
    );
    assert!(
        r.err.contains(
            "kcl-bootstrap: your JVM options: JDK_JAVA_OPTIONS=-Xss1m (read by the JVM itself)\n"
        ),
        "{}",
        r.err
    );
    let r = run_bounded(w.cmd_java(&java).arg("--check"), LIMIT);
    assert_eq!(r.code, Some(0), "{}", r.err);
    assert!(r.err.contains("JVM defaults: "), "{}", r.err);
    assert!(!r.err.contains("your JVM options"), "{}", r.err);
}

#[test]
fn check_warns_when_the_thread_pool_is_too_small_for_the_leases() {
    let (w, java, _) = recording_world();
    std::fs::write(
        &w.properties,
        format!("{GOOD_PROPERTIES}maxActiveThreads = 9\nmaxLeasesForWorker = 8\n"),
    )
    .unwrap();
    let r = run_bounded(w.cmd_java(&java).arg("--check"), LIMIT);
    assert_eq!(r.code, Some(0), "a warning, not an error: {}", r.err);
    assert!(r.err.contains("serves at most 2 shards"), "{}", r.err);
    assert!(r.err.contains("`maxActiveThreads = 0`"), "{}", r.err);
    assert!(r.err.contains("at least 25"), "{}", r.err);
}

#[test]
fn before_java_13_the_flags_apply_without_the_archive_options_it_would_refuse() {
    let (w, _, recorded) = recording_world();
    let java8 = fake_java(
        &w.tmp.path().join("jdk8/bin"),
        JAVA8,
        &format!("echo \"$*\" > '{}'", recorded.display()),
    );
    let args = launched_args(
        w.cmd_java(&java8).args(["--offline", "-q", "-e"]),
        &recorded,
    );
    assert!(args.contains("-XX:+UseSerialGC"), "{args}");
    assert!(
        !args.contains("ArchiveClassesAtExit") && !args.contains("-Xlog"),
        "{args}"
    );
    assert!(!w.cache.join("cds").exists(), "no archive work on Java 8");
}
