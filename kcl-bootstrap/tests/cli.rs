//! Command-line behaviour of the real binary: printed command, exec, exit codes, Java
//! discovery with fake `java` executables, validation output.

mod common;
use common::*;
use std::process::Command;

const V: &str = "9.9.9-test";

/// A world whose cache already holds the jars (staged through --jar-folder semantics: we copy
/// them into the cache layout and let the first run verify them offline).
fn warm_world(min_java: u32) -> (Jars, World) {
    let jars = Jars::new(3);
    let w = World::new(&jars.lock(V, min_java));
    let dir = w.cache.join(V);
    std::fs::create_dir_all(&dir).unwrap();
    for (i, (_, bytes)) in jars.jars.iter().enumerate() {
        std::fs::write(dir.join(jars.file_name(i)), bytes).unwrap();
    }
    (jars, w)
}

/// Splits a printed command line the way `sh` would, by asking `sh`.
fn sh_split(line: &str) -> Vec<String> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("for a in {line}; do printf '%s\\0' \"$a\"; done"))
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split('\0')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn prints_a_pasteable_command_with_the_documented_layout() {
    let (jars, w) = warm_world(8);
    // A working directory with a space and a quote exercises the quoting.
    let odd = w.tmp.path().join("my 'odd' dir");
    std::fs::create_dir_all(&odd).unwrap();
    std::fs::copy(&w.properties, odd.join("app.properties")).unwrap();
    let (code, out, err) = run(w
        .cmd()
        .current_dir(&odd)
        .arg("--offline")
        .arg("--jvm-arg=-Xmx1g")
        .arg("--jvm-arg")
        .arg("-Dx=a b"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 1);
    let argv = sh_split(out.trim_end());
    let jar_paths: Vec<String> = (0..3)
        .map(|i| {
            w.cache
                .join(V)
                .join(jars.file_name(i))
                .display()
                .to_string()
        })
        .collect();
    // Only the verified jars: neither the properties file's directory nor the working directory
    // (a class or META-INF/services file there would run inside the daemon).
    let cp = jar_paths.clone();
    let expected = vec![
        w.java.display().to_string(),
        "-Dfile.encoding=UTF-8".into(),
        "-Xmx1g".into(),
        "-Dx=a b".into(),
        "-cp".into(),
        cp.join(":"),
        "software.amazon.kinesis.multilang.MultiLangDaemon".into(),
        "--properties-file".into(),
        odd.join("app.properties").display().to_string(),
    ];
    assert_eq!(argv, expected);
}

#[test]
fn java_18_and_newer_get_no_file_encoding_flag() {
    let (_, w) = warm_world(8);
    let java21 = fake_java(&w.tmp.path().join("jdk21/bin"), JAVA21, "exit 0");
    let (code, out, err) = run(w.cmd_java(&java21).arg("--offline"));
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("file.encoding"), "{out}");
    assert!(out.starts_with(&java21.display().to_string()));
}

#[test]
fn log_configuration_is_passed_and_checked() {
    let (_, w) = warm_world(8);
    std::fs::write(w.cwd.join("logback.xml"), "<configuration/>").unwrap();
    let (code, out, err) = run(w.cmd().arg("--offline").arg("-l").arg("logback.xml"));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.trim_end().ends_with(&format!(
            "--log-configuration {}",
            w.cwd.join("logback.xml").display()
        )),
        "{out}"
    );
    let (code, _, err) = run(w.cmd().arg("--offline").arg("-l").arg("missing.xml"));
    assert_eq!(code, 2);
    assert!(
        err.contains("missing.xml") && err.contains("does not exist"),
        "{err}"
    );
}

#[test]
fn print_classpath_prints_only_the_classpath() {
    let (jars, w) = warm_world(8);
    let (code, out, err) = run(w.cmd().arg("--offline").arg("--print-classpath"));
    assert_eq!(code, 0, "{err}");
    let entries: Vec<&str> = out.trim_end().split(':').collect();
    let expected: Vec<String> = (0..3)
        .map(|i| {
            w.cache
                .join(V)
                .join(jars.file_name(i))
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(entries, expected, "only the verified jars, in lock order");
}

#[test]
fn execute_replaces_the_process_and_returns_the_daemons_exit_code() {
    let (_, w) = warm_world(8);
    let marker = w.tmp.path().join("pid-and-args");
    let java = fake_java(
        &w.tmp.path().join("jdk-exec/bin"),
        JAVA17,
        &format!("echo \"$$ $*\" > '{}'\nexit 7", marker.display()),
    );
    let mut child = w
        .cmd_java(&java)
        .arg("--offline")
        .arg("-e")
        .spawn()
        .unwrap();
    let pid = child.id();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(7), "the daemon's exit code is ours");
    let recorded = std::fs::read_to_string(&marker).unwrap();
    let (recorded_pid, args) = recorded.trim().split_once(' ').unwrap();
    assert_eq!(
        recorded_pid,
        pid.to_string(),
        "exec: the JVM runs in our process"
    );
    assert!(
        args.contains("software.amazon.kinesis.multilang.MultiLangDaemon --properties-file"),
        "{args}"
    );
}

#[test]
fn sigterm_reaches_the_daemon() {
    let (_, w) = warm_world(8);
    let ready = w.tmp.path().join("ready");
    // The fake daemon exits 42 on SIGTERM, like a JVM running its shutdown hooks.
    let java = fake_java(
        &w.tmp.path().join("jdk-sig/bin"),
        JAVA17,
        &format!(
            "trap 'exit 42' TERM\ntouch '{}'\nwhile :; do sleep 0.05; done",
            ready.display()
        ),
    );
    let mut child = w
        .cmd_java(&java)
        .arg("--offline")
        .arg("-e")
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !ready.exists() {
        assert!(start.elapsed().as_secs() < 20, "fake daemon did not start");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let killed = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(child.wait().unwrap().code(), Some(42));
}

#[test]
fn java_discovery_order_flag_then_java_home_then_path() {
    let (_, w) = warm_world(8);
    let home_java = fake_java(&w.tmp.path().join("home-jdk/bin"), JAVA21, "exit 0");
    let path_dir = w.tmp.path().join("pathbin");
    let path_java = fake_java(&path_dir, JAVA17, "exit 0");
    let base = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kcl-bootstrap"));
        c.current_dir(&w.cwd)
            .env_clear()
            .env("HOME", &w.home)
            .env("KCL_BOOTSTRAP_CACHE_DIR", &w.cache)
            .env("PATH", format!("{}:/usr/bin:/bin", path_dir.display()))
            .args(["-p", "app.properties", "--offline", "--lock"])
            .arg(&w.lock);
        c
    };
    // PATH only.
    let (code, out, err) = run(&mut base());
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with(&path_java.display().to_string()), "{out}");
    // JAVA_HOME beats PATH.
    let (code, out, err) = run(base().env("JAVA_HOME", w.tmp.path().join("home-jdk")));
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with(&home_java.display().to_string()), "{out}");
    // --java beats JAVA_HOME.
    let (code, out, _) = run(base()
        .env("JAVA_HOME", w.tmp.path().join("home-jdk"))
        .arg("--java")
        .arg(&w.java));
    assert_eq!(code, 0);
    assert!(out.starts_with(&w.java.display().to_string()), "{out}");
    // A JAVA_HOME without bin/java is an error that names it.
    let (code, _, err) = run(base().env("JAVA_HOME", w.tmp.path().join("nowhere")));
    assert_eq!(code, 4);
    assert!(
        err.contains("JAVA_HOME") && err.contains("nowhere"),
        "{err}"
    );
    // Nothing at all.
    let (code, _, err) = run(base()
        .env("PATH", w.tmp.path().join("empty"))
        .arg("--no-validate"));
    assert_eq!(code, 4);
    assert!(err.contains("no Java found"), "{err}");
}

#[test]
fn java_too_old_or_broken_is_a_clear_error() {
    let (_, w) = warm_world(11);
    let java8 = fake_java(&w.tmp.path().join("jdk8/bin"), JAVA8, "exit 0");
    let (code, out, err) = run(w.cmd_java(&java8).arg("--offline"));
    assert_eq!(code, 4, "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains("is Java 8, but KCL 9.9.9-test needs Java 11"),
        "{err}"
    );
    let garbage = fake_java(&w.tmp.path().join("jdkx/bin"), "this is not java", "exit 0");
    let (code, _, err) = run(w.cmd_java(&garbage).arg("--offline"));
    assert_eq!(code, 4);
    assert!(err.contains("no version line"), "{err}");
    let missing = w.tmp.path().join("no/java");
    let (code, _, err) = run(w.cmd_java(&missing).arg("--offline"));
    assert_eq!(code, 4);
    assert!(
        err.contains("--java") && err.contains("does not exist"),
        "{err}"
    );
}

#[test]
fn java_version_is_remembered_until_the_executable_changes() {
    let (_, w) = warm_world(8);
    let counter = w.tmp.path().join("version-calls");
    let dir = w.tmp.path().join("jdk-count/bin");
    std::fs::create_dir_all(&dir).unwrap();
    let java = dir.join("java");
    let write = |banner: &str| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(
            &java,
            format!(
                "#!/bin/sh\nif [ \"$1\" = -version ]; then echo x >> '{}'; echo '{banner}' >&2; exit 0; fi\nexit 0\n",
                counter.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&java, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    write(JAVA17);
    for _ in 0..3 {
        assert_eq!(run(w.cmd_java(&java).arg("--offline")).0, 0);
    }
    assert_eq!(
        std::fs::read_to_string(&counter).unwrap().lines().count(),
        1
    );
    // A different executable (new size and mtime) is asked again.
    std::thread::sleep(std::time::Duration::from_millis(20));
    write("openjdk version \"21.0.10\"     ");
    let (code, out, _) = run(w.cmd_java(&java).arg("--offline"));
    assert_eq!(code, 0);
    assert!(!out.contains("file.encoding"), "re-read as Java 21: {out}");
    assert_eq!(
        std::fs::read_to_string(&counter).unwrap().lines().count(),
        2
    );
}

#[test]
fn invalid_properties_exit_3_with_file_and_line() {
    let (_, w) = warm_world(8);
    std::fs::write(
        &w.properties,
        format!("{GOOD_PROPERTIES}DynamoDBEndpoint = http://localhost:8000\ntimeoutInSeconds = 0\nfoo = bar\n"),
    )
    .unwrap();
    let (code, out, err) = run(w.cmd().arg("--offline"));
    assert_eq!(code, 3, "{err}");
    assert!(out.is_empty());
    assert!(err.contains("app.properties:7: error: unknown key 'DynamoDBEndpoint': did you mean 'dynamoDBEndpoint'"), "{err}");
    assert!(
        err.contains("app.properties:8: error: 'timeoutInSeconds = 0'"),
        "{err}"
    );
    assert!(
        err.contains("app.properties:9: warning: unknown key 'foo'"),
        "{err}"
    );
    assert!(
        err.contains("2 error(s)") && err.contains("--no-validate"),
        "{err}"
    );
    // The escape hatch.
    let (code, out, err) = run(w.cmd().arg("--offline").arg("--no-validate"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("MultiLangDaemon"));
    assert!(!err.contains("DynamoDBEndpoint"), "{err}");
}

#[test]
fn warnings_do_not_block_and_quiet_hides_them() {
    let (_, w) = warm_world(8);
    std::fs::write(&w.properties, "executableName = sh\napplicationName = a\nstreamName = s\nAwsCredentialsProvider = DefaultAWSCredentialsProviderChain\n").unwrap();
    let (code, _, err) = run(w.cmd().arg("--offline"));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("app.properties:4: warning:") && err.contains("DefaultCredentialsProvider"),
        "{err}"
    );
    assert!(
        err.contains("app.properties: warning: no 'retrievalMode'"),
        "{err}"
    );
    let (code, _, err) = run(w.cmd().arg("--offline").arg("-q"));
    assert_eq!(code, 0);
    assert!(err.is_empty(), "{err}");
}

#[test]
fn check_mode_validates_without_jars() {
    let jars = Jars::new(1);
    let w = World::new(&jars.lock(V, 8));
    let (code, out, err) = run(w.cmd().arg("--check"));
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty());
    assert!(err.contains("is valid; Java 17"), "{err}");
    assert!(!w.cache.join(V).exists(), "--check downloads nothing");
}

#[test]
fn usage_errors_exit_2() {
    let jars = Jars::new(1);
    let w = World::new(&jars.lock(V, 8));
    let bin = env!("CARGO_BIN_EXE_kcl-bootstrap");
    let (code, _, err) = run(Command::new(bin).env_clear());
    assert_eq!(code, 2);
    assert!(err.contains("--properties"), "{err}");
    let (code, _, err) =
        run(Command::new(bin).args(["-p", "x.properties", "--kcl-version", "1.0.0"]));
    assert_eq!(code, 2);
    assert!(
        err.contains("no built-in lock for KCL 1.0.0") && err.contains("scripts/update-lock"),
        "{err}"
    );
    let (code, _, err) = run(Command::new(bin)
        .current_dir(&w.cwd)
        .args(["-p", "nope.properties", "--lock"])
        .arg(&w.lock));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot read the properties file"), "{err}");
    let (code, _, err) = run(w.cmd().arg("--offline").arg("--maven-repo").arg("ftp://x"));
    assert_eq!(code, 2, "{err}");
    let bad_lock = w.tmp.path().join("bad.lock");
    std::fs::write(&bad_lock, "kcl-version\t1\nmin-java\tx\n").unwrap();
    let (code, _, err) = run(Command::new(bin)
        .current_dir(&w.cwd)
        .args(["-p", "app.properties", "--lock"])
        .arg(&bad_lock));
    assert_eq!(code, 2);
    assert!(err.contains("lock line 2"), "{err}");
}

#[test]
fn list_versions_and_help() {
    let bin = env!("CARGO_BIN_EXE_kcl-bootstrap");
    let (code, out, _) = run(Command::new(bin).arg("--list-versions"));
    assert_eq!(code, 0);
    assert!(
        out.contains(&format!(
            "KCL multilang {} (",
            kcl_bootstrap::lock::DEFAULT_KCL_VERSION
        )) && out.contains("(default)"),
        "{out}"
    );
    assert!(
        out.lines().any(|l| l.starts_with("KCL multilang 2.")),
        "{out}"
    );
    let (code, out, _) = run(Command::new(bin).arg("--help"));
    assert_eq!(code, 0);
    for flag in [
        "--properties",
        "--execute",
        "--java",
        "--jar-folder",
        "--jar-path",
        "--log-configuration",
        "--kcl-version",
        "--maven-repo",
        "--offline",
        "--jvm-arg",
        "--print-classpath",
        "--no-validate",
        "--verify",
        "KCL_MAVEN_REPO",
        "KCL_MVN_REPO_SEARCH_URL",
        "KCL_BOOTSTRAP_CACHE_DIR",
        "Exit codes",
    ] {
        assert!(out.contains(flag), "--help lacks {flag}");
    }
}

#[test]
fn documented_help_is_the_real_help() {
    let (code, help, _) = run(Command::new(env!("CARGO_BIN_EXE_kcl-bootstrap")).arg("--help"));
    assert_eq!(code, 0);
    if packaged() {
        return;
    }
    let docs: Vec<String> = ["docs/bootstrap.md", "README.md"]
        .iter()
        .filter_map(|f| repository_file(f).ok())
        .collect();
    assert!(
        docs.iter().any(|d| d.contains(help.trim_end())),
        "docs/bootstrap.md (or README.md) must show the current `kcl-bootstrap --help` verbatim; regenerate it"
    );
}
