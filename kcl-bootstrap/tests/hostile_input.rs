//! Careless or hostile inputs: non-ASCII values, huge and binary properties files, special
//! files, terminal escapes, shell syntax in `executableName`, planted classes next to the
//! properties file. The binary must answer with findings and documented exit codes, in bounded
//! time, and never run anything it did not verify.

mod common;
use common::*;
use std::time::Duration;

const V: &str = "9.9.9-test";
const LIMIT: Duration = Duration::from_secs(120);

fn with_properties(w: &World, bytes: &[u8]) {
    std::fs::write(&w.properties, bytes).unwrap();
}

#[test]
fn non_ascii_values_are_findings_not_panics() {
    let (_, w) = warm_world(1, V);
    let mut cases: Vec<Vec<u8>> = Vec::new();
    for key in ["kinesisEndpoint", "dynamoDBEndpoint"] {
        for n in 1..12 {
            cases.push(format!("{key} = {}\n", "\\u00e9".repeat(n)).into_bytes());
            let mut latin1 = format!("{key} = ").into_bytes();
            latin1.extend(std::iter::repeat_n(0xe9u8, n));
            latin1.push(b'\n');
            cases.push(latin1);
            cases.push(format!("{key} = {}\n", "é".repeat(n)).into_bytes());
            cases.push(format!("{key} = ht\\u00e9{}\n", "é".repeat(n)).into_bytes());
        }
    }
    // Every setting the daemon has, with a non-ASCII value.
    let lock =
        kcl_bootstrap::lock::Lock::builtin(kcl_bootstrap::lock::DEFAULT_KCL_VERSION).unwrap();
    let mut all = GOOD_PROPERTIES.as_bytes().to_vec();
    for (key, _) in &lock.settings {
        all.extend_from_slice(format!("{key} = h\\u00e9\\u00e9\\u00e9\\u00e9\n").as_bytes());
    }
    cases.push(all);
    for case in cases {
        let mut text = GOOD_PROPERTIES.as_bytes().to_vec();
        text.extend_from_slice(&case);
        with_properties(&w, &text);
        let r = run_bounded(w.cmd().arg("--check"), LIMIT);
        assert!(
            !r.err.contains("panicked"),
            "{}\n{}",
            String::from_utf8_lossy(&case),
            r.err
        );
        r.expect_code(3);
    }
}

#[test]
fn oversized_properties_file_is_refused() {
    let (_, w) = warm_world(1, V);
    let mut big = GOOD_PROPERTIES.as_bytes().to_vec();
    big.resize(17 * 1024 * 1024, b'#');
    with_properties(&w, &big);
    let r = run_bounded(w.cmd().arg("--check"), LIMIT);
    r.expect_code(3);
    assert!(r.err.contains("is larger than 16777216 bytes"), "{}", r.err);
}

#[test]
fn many_keys_and_a_huge_key_are_validated_in_bounded_time() {
    let (_, w) = warm_world(1, V);
    let mut text = GOOD_PROPERTIES.to_string();
    for i in 0..160_000 {
        text.push_str(&format!("custom.setting.{i:06} = {i}\n"));
    }
    text.push_str(&format!("{} = x\n", "k".repeat(1024 * 1024)));
    with_properties(&w, text.as_bytes());
    // Generous: this takes about a second; the quadratic validator took minutes.
    let r = run_bounded(w.cmd().arg("--check"), LIMIT);
    r.expect_code(0);
    let tail: String = r
        .err
        .chars()
        .rev()
        .take(600)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    assert!(r.err.contains("159901 more warning(s) not shown"), "{tail}");
    assert!(
        r.err.len() < 100_000,
        "the findings are capped: {} bytes",
        r.err.len()
    );
    assert!(r.err.contains("is valid"), "{tail}");
}

#[test]
fn special_files_are_refused_at_once() {
    let (_, w) = warm_world(1, V);
    let fifo = w.tmp.path().join("fifo");
    mkfifo(&fifo);
    let expect_refused = |r: Bounded, what: &str| {
        r.expect_code(2);
        assert!(
            r.err.contains("not a regular file (a FIFO)"),
            "{what}: {}",
            r.err
        );
        assert!(
            r.elapsed < Duration::from_secs(20),
            "{what}: {:?}",
            r.elapsed
        );
    };
    let mut bare = std::process::Command::new(bin());
    bare.current_dir(&w.cwd)
        .env("KCL_BOOTSTRAP_CACHE_DIR", &w.cache)
        .arg("-p")
        .arg(&fifo)
        .arg("--lock")
        .arg(&w.lock);
    expect_refused(run_bounded(&mut bare, LIMIT), "-p");
    expect_refused(
        run_bounded(w.cmd().arg("--offline").arg("-l").arg(&fifo), LIMIT),
        "-l",
    );
    let mut lock = std::process::Command::new(bin());
    lock.current_dir(&w.cwd)
        .args(["-p", "app.properties", "--lock"])
        .arg(&fifo);
    expect_refused(run_bounded(&mut lock, LIMIT), "--lock");
    expect_refused(
        run_bounded(
            w.cmd().arg("--offline").arg("--maven-settings").arg(&fifo),
            LIMIT,
        ),
        "--maven-settings",
    );
    let r = run_bounded(w.cmd_properties(&w.cwd).arg("--check"), LIMIT);
    r.expect_code(2);
    assert!(r.err.contains("a directory"), "{}", r.err);
}

#[test]
fn binary_properties_give_findings_and_no_raw_control_characters() {
    let (_, w) = warm_world(1, V);
    let mut bytes: Vec<u8> = (0..=255u8).cycle().take(20_000).collect();
    bytes.extend_from_slice(b"\n\x1b]0;owned\x07\x1b[2J = \x1b[31mred\n");
    with_properties(&w, &bytes);
    let r = run_bounded(w.cmd().arg("--check"), LIMIT);
    r.expect_code(3);
    assert!(
        r.err.contains("\\u{1b}"),
        "escapes are shown escaped: {}",
        r.err
    );
    let raw_controls: Vec<char> = r
        .err
        .chars()
        .filter(|c| c.is_control() && *c != '\n')
        .collect();
    assert!(
        raw_controls.is_empty(),
        "raw control characters on stderr: {raw_controls:?}"
    );
}

#[test]
fn terminal_escapes_in_keys_are_shown_escaped() {
    let (_, w) = warm_world(1, V);
    let mut text = GOOD_PROPERTIES.as_bytes().to_vec();
    text.extend_from_slice(b"\x1b[31mevil\x1b[0m = 1\n");
    with_properties(&w, &text);
    let r = run_bounded(w.cmd().arg("--check"), LIMIT);
    r.expect_code(0);
    assert!(
        r.err.contains("unknown key '\\u{1b}[31mevil\\u{1b}[0m'"),
        "{}",
        r.err
    );
    assert!(!r.err.contains('\u{1b}'), "{}", r.err);
}

#[test]
fn executable_name_mistakes_name_their_cause() {
    let (_, w) = warm_world(1, V);
    std::fs::create_dir_all(w.cwd.join("target/release")).unwrap();
    let base = GOOD_PROPERTIES.replace("executableName = sh\n", "");
    for (exe, cause) in [
        ("sh -c \"echo hi\"", "contains quotes"),
        ("sh -c 'echo hi'", "contains quotes"),
        ("$HOME/bin/processor", "only a shell expands variables"),
        ("~/bin/processor", "starts with '~'"),
        ("./target/release", "is a directory, not a program"),
    ] {
        with_properties(&w, format!("{base}executableName = {exe}\n").as_bytes());
        let r = run_bounded(w.cmd().arg("--check"), LIMIT);
        r.expect_code(3);
        assert!(r.err.contains(cause), "{exe}: {}", r.err);
        assert!(!r.err.contains("not found"), "{exe}: {}", r.err);
    }
}

/// Files that would run inside the daemon if their directory were on the classpath.
fn plant(dir: &std::path::Path) {
    let services = dir.join("META-INF/services");
    std::fs::create_dir_all(&services).unwrap();
    std::fs::write(
        services.join("org.slf4j.spi.SLF4JServiceProvider"),
        "evil.Provider\n",
    )
    .unwrap();
    std::fs::write(dir.join("logback-test.xml"), "<configuration/>").unwrap();
    std::fs::create_dir_all(dir.join("evil")).unwrap();
    std::fs::write(dir.join("evil/Provider.class"), b"\xca\xfe\xba\xbe").unwrap();
}

#[test]
fn planted_classes_next_to_the_properties_never_reach_the_classpath() {
    let (jars, w) = warm_world(2, V);
    let conf = w.tmp.path().join("conf");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::copy(&w.properties, conf.join("app.properties")).unwrap();
    plant(&conf);
    plant(&w.cwd);
    let jar_paths: Vec<String> = (0..2)
        .map(|i| {
            w.cache
                .join(V)
                .join(jars.file_name(i))
                .display()
                .to_string()
        })
        .collect();
    let r = run_bounded(
        w.cmd_properties(&conf.join("app.properties"))
            .arg("--offline")
            .arg("--print-classpath"),
        LIMIT,
    );
    r.expect_code(0);
    assert_eq!(r.out.trim_end(), jar_paths.join(":"));
    let r = run_bounded(w.cmd().arg("--offline"), LIMIT);
    r.expect_code(0);
    assert!(
        r.out.contains(&format!(" -cp {} ", jar_paths.join(":"))),
        "{}",
        r.out
    );
    let r = run_bounded(w.cmd().arg("--check"), LIMIT);
    r.expect_code(0);
    assert!(
        r.err.contains("classpath: the 2 verified jars only"),
        "{}",
        r.err
    );

    // Asked for explicitly, an entry is added last, and said to be unverified.
    let extra = w.tmp.path().join("creds.jar");
    std::fs::write(&extra, b"PK").unwrap();
    let r = run_bounded(
        w.cmd()
            .arg("--offline")
            .arg("--print-classpath")
            .arg("--extra-classpath")
            .arg(&extra),
        LIMIT,
    );
    r.expect_code(0);
    assert_eq!(
        r.out.trim_end(),
        format!("{}:{}", jar_paths.join(":"), extra.display())
    );
    assert!(r.err.contains("unverified"), "{}", r.err);
    let r = run_bounded(
        w.cmd().arg("--check").arg("--extra-classpath").arg(&extra),
        LIMIT,
    );
    assert!(
        r.err.contains("UNVERIFIED (--extra-classpath)"),
        "{}",
        r.err
    );
    let r = run_bounded(
        w.cmd()
            .arg("--check")
            .arg("--extra-classpath")
            .arg("missing.jar"),
        LIMIT,
    );
    r.expect_code(2);
}

#[test]
fn closed_stdout_is_its_own_exit_code() {
    let (_, w) = warm_world(1, V);
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let status = w
        .cmd()
        .arg("--offline")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(6));
    assert!(
        String::from_utf8_lossy(&status.stderr).contains("cannot write to stdout"),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
}
