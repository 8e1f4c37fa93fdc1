//! Properties from flags and the environment with the real binary: overrides win over the
//! file, the `KCL_PROPERTY_*` form, the origin in every finding, a launch without a file and
//! the effective file it is given, usage errors for a malformed `--set`, and no secret in any
//! output.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const V: &str = "9.9.9-test";

/// `kcl-bootstrap --lock test.lock --java <fake>` without `-p`, in the world's clean
/// environment.
fn file_less(w: &World) -> Command {
    let mut c = Command::new(bin());
    c.current_dir(&w.cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &w.home)
        .env("KCL_BOOTSTRAP_CACHE_DIR", &w.cache)
        .arg("--lock")
        .arg(&w.lock)
        .arg("--java")
        .arg(&w.java);
    c
}

/// The value after `--properties-file` in a printed command (paths here have no blanks).
fn properties_file_of(command_line: &str) -> PathBuf {
    let words: Vec<&str> = command_line.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| *w == "--properties-file")
        .unwrap_or_else(|| panic!("no --properties-file in {command_line}"));
    PathBuf::from(words[at + 1])
}

/// The file's entries as (key, value), in file order.
fn entries_of(path: &Path) -> Vec<(String, String)> {
    let bytes = std::fs::read(path).unwrap();
    kcl_bootstrap::properties::parse(&bytes)
        .unwrap()
        .into_iter()
        .map(|e| (e.key, e.value))
        .collect()
}

fn value_of<'a>(entries: &'a [(String, String)], key: &str) -> Option<&'a str> {
    let mut found = entries.iter().filter(|(k, _)| k == key);
    let first = found.next().map(|(_, v)| v.as_str());
    assert!(found.next().is_none(), "{key} appears twice in {entries:?}");
    first
}

/// The listing's `# origin` comment right above `key = ...`.
fn origin_in_listing<'a>(listing: &'a str, key: &str) -> &'a str {
    let lines: Vec<&str> = listing.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no {key} in\n{listing}"));
    lines[at - 1]
        .strip_prefix("# ")
        .unwrap_or_else(|| panic!("no origin comment above {key}"))
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn flags_beat_the_environment_which_beats_the_file() {
    let (_, w) = warm_world(1, V);
    std::fs::write(
        &w.properties,
        format!("{GOOD_PROPERTIES}maxRecords = 10\nidleTimeBetweenReadsInMillis = 1000\n"),
    )
    .unwrap();
    let (code, out, err) = run(w
        .cmd()
        .arg("--offline")
        .env("KCL_PROPERTY_MAX_RECORDS", "20")
        .env("KCL_PROPERTY_IDLE_TIME_BETWEEN_READS_IN_MILLIS", "500")
        .args(["--set", "maxRecords=30", "--stream", "from-flag"]));
    assert_eq!(code, 0, "{err}");
    let path = properties_file_of(&out);
    assert_ne!(path, w.properties, "the daemon reads the effective file");
    assert!(path.starts_with(&w.cache), "{}", path.display());
    let entries = entries_of(&path);
    assert_eq!(value_of(&entries, "maxRecords"), Some("30"));
    assert_eq!(
        value_of(&entries, "idleTimeBetweenReadsInMillis"),
        Some("500")
    );
    assert_eq!(value_of(&entries, "streamName"), Some("from-flag"));
    assert_eq!(value_of(&entries, "executableName"), Some("sh"));
    assert_eq!(value_of(&entries, "shutdownGraceMillis"), Some("30000"));
    #[cfg(unix)]
    {
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
    }
    // The user's file is untouched.
    assert!(
        std::fs::read_to_string(&w.properties)
            .unwrap()
            .contains("maxRecords = 10")
    );

    // --check lists the same effective values, each with its origin.
    let (code, listing, err) = run(w
        .cmd()
        .arg("--check")
        .env("KCL_PROPERTY_MAX_RECORDS", "20")
        .env("KCL_PROPERTY_IDLE_TIME_BETWEEN_READS_IN_MILLIS", "500")
        .args(["--set", "maxRecords=30", "--stream", "from-flag"]));
    assert_eq!(code, 0, "{err}");
    assert!(listing.contains("\nmaxRecords = 30\n"), "{listing}");
    assert_eq!(origin_in_listing(&listing, "maxRecords"), "--set");
    assert_eq!(origin_in_listing(&listing, "streamName"), "--stream");
    assert_eq!(
        origin_in_listing(&listing, "idleTimeBetweenReadsInMillis"),
        "KCL_PROPERTY_IDLE_TIME_BETWEEN_READS_IN_MILLIS"
    );
    assert_eq!(
        origin_in_listing(&listing, "executableName"),
        "app.properties:1"
    );
    assert!(
        err.contains("app.properties with 4 override(s) is valid"),
        "{err}"
    );
    // Overriding is the point of the flags: no warning about the shadowed file lines.
    assert!(!err.contains("set again"), "{err}");

    // Without overrides the daemon reads the user's file itself, and --check prints nothing.
    let (code, out, err) = run(w.cmd().arg("--offline"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(properties_file_of(&out), w.properties);
    let (code, out, _) = run(w.cmd().arg("--check"));
    assert_eq!(code, 0);
    assert!(out.is_empty(), "{out}");
}

#[test]
fn environment_names_are_matched_to_keys() {
    let (_, w) = warm_world(1, V);
    let (code, listing, err) = run(w
        .cmd()
        .arg("--check")
        .env("KCL_PROPERTY_DYNAMODB_ENDPOINT", "http://127.0.0.1:5000")
        .env("KCL_PROPERTY_METRICS_LEVEL", "NONE")
        .env("KCL_PROPERTY_FANOUT_CONFIG__CONSUMER_NAME", "c1")
        .env("KCL_PROPERTY_kinesisClient__region", "eu-west-1")
        .env("KCL_BOOTSTRAP_QUIET_NOT_A_PROPERTY", "x"));
    assert_eq!(code, 0, "{err}");
    for (key, value, var) in [
        (
            "dynamoDBEndpoint",
            "http://127.0.0.1:5000",
            "KCL_PROPERTY_DYNAMODB_ENDPOINT",
        ),
        ("metricsLevel", "NONE", "KCL_PROPERTY_METRICS_LEVEL"),
        (
            "fanoutConfig.consumerName",
            "c1",
            "KCL_PROPERTY_FANOUT_CONFIG__CONSUMER_NAME",
        ),
        (
            "kinesisClient.region",
            "eu-west-1",
            "KCL_PROPERTY_kinesisClient__region",
        ),
    ] {
        assert!(
            listing.contains(&format!("\n{key} = {value}\n")),
            "{listing}"
        );
        assert_eq!(origin_in_listing(&listing, key), var);
    }
    // Two spellings of one key in the environment have no order: refused.
    let (code, _, err) = run(w
        .cmd()
        .arg("--check")
        .env("KCL_PROPERTY_STREAM_NAME", "a")
        .env("KCL_PROPERTY_streamName", "b"));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("KCL_PROPERTY_STREAM_NAME and KCL_PROPERTY_streamName both set 'streamName'"),
        "{err}"
    );
}

#[test]
fn every_finding_names_its_origin() {
    let (_, w) = warm_world(1, V);
    std::fs::write(
        &w.properties,
        format!("{GOOD_PROPERTIES}maxRecords = ten\n"),
    )
    .unwrap();
    let (code, _, err) = run(w
        .cmd()
        .arg("--check")
        .env("KCL_PROPERTY_TIMEOUT_IN_SECONDS", "0")
        .env("KCL_PROPERTY_METRICS_LEVL", "NONE")
        .args(["--set", "retrievalMode=PULLING", "--region", "us-east-1 "]));
    assert_eq!(code, 3, "{err}");
    for line in [
        "app.properties:7: error: 'maxRecords' must be a whole number",
        "KCL_PROPERTY_TIMEOUT_IN_SECONDS: error: 'timeoutInSeconds = 0'",
        "--set: error: 'retrievalMode' must be one of FANOUT, POLLING, DEFAULT",
        "--region: error: the value of 'regionName' ends with whitespace",
        "KCL_PROPERTY_METRICS_LEVL: error: unknown key 'METRICS_LEVL': did you mean 'metricsLevel'?",
    ] {
        assert!(
            err.lines().any(|l| l.starts_with(line)),
            "no `{line}` in\n{err}"
        );
    }
    assert!(
        err.contains("5 error(s) in app.properties with 4 override(s)"),
        "{err}"
    );
    // A key given twice with --set: the later wins, with a warning naming both.
    let (code, listing, err) =
        run(w
            .cmd()
            .arg("--check")
            .args(["--set", "maxRecords=1", "--set", "maxRecords=2"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("--set: warning: 'maxRecords' is set again by --set; the later value wins"),
        "{err}"
    );
    assert!(listing.contains("\nmaxRecords = 2\n"), "{listing}");
}

#[test]
fn a_launch_without_a_file_gets_the_documented_defaults() {
    let (jars, w) = warm_world(2, V);
    let flags = [
        "--stream",
        "s",
        "--application",
        "app",
        "--region",
        "eu-west-1",
        "--executable",
        "sh",
    ];
    let (code, out, err) = run(file_less(&w).arg("--offline").args(flags));
    assert_eq!(code, 0, "{err}");
    let path = properties_file_of(&out);
    let entries = entries_of(&path);
    for (key, value) in [
        ("streamName", "s"),
        ("applicationName", "app"),
        ("regionName", "eu-west-1"),
        ("executableName", "sh"),
        ("AwsCredentialsProvider", "DefaultCredentialsProvider"),
        ("retrievalMode", "POLLING"),
        ("initialPositionInStream", "TRIM_HORIZON"),
        ("shutdownGraceMillis", "30000"),
        ("processingLanguage", "rust"),
    ] {
        assert_eq!(value_of(&entries, key), Some(value), "{key} in {entries:?}");
    }
    assert_eq!(entries.len(), 9, "{entries:?}");
    // The effective file's comments name each origin.
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("# --stream\nstreamName = s\n"), "{text}");
    assert!(
        text.contains("# kcl-bootstrap default\nretrievalMode = POLLING\n"),
        "{text}"
    );
    // The same configuration is the same file; --set overrides a default.
    let (_, again, _) = run(file_less(&w).arg("--offline").args(flags));
    assert_eq!(properties_file_of(&again), path);
    let (code, out, err) = run(file_less(&w)
        .arg("--offline")
        .args(flags)
        .args(["--set", "retrievalMode=FANOUT"]));
    assert_eq!(code, 0, "{err}");
    let other = properties_file_of(&out);
    assert_ne!(other, path);
    assert_eq!(
        value_of(&entries_of(&other), "retrievalMode"),
        Some("FANOUT")
    );

    let (code, out, err) = run(file_less(&w)
        .arg("--offline")
        .arg("--print-classpath")
        .args(flags));
    assert_eq!(code, 0, "{err}");
    let dir = w.cache.join(V);
    let expected: Vec<String> = (0..2)
        .map(|i| dir.join(jars.file_name(i)).display().to_string())
        .collect();
    assert_eq!(out.trim_end(), expected.join(":"));

    let (code, listing, err) = run(file_less(&w).arg("--check").args(flags));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        origin_in_listing(&listing, "retrievalMode"),
        "kcl-bootstrap default"
    );
    assert_eq!(
        origin_in_listing(&listing, "executableName"),
        "--executable"
    );
    assert!(
        err.contains("the properties from kcl-bootstrap's defaults and 4 flag(s)"),
        "{err}"
    );

    // A required key nobody gave is named, with the way to give it.
    let (code, _, err) = run(file_less(&w).arg("--check").args(["--stream", "s"]));
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("(no properties file): error: 'executableName' is required"),
        "{err}"
    );
}

#[test]
fn kcl_3_1_3_without_a_file_turns_the_graceful_handoff_off() {
    let (_, w) = warm_world(1, V);
    let c = file_less(&w);
    // The built-in 3.1.3 lock instead of the test lock: --check needs no jars.
    let args: Vec<_> = c.get_args().map(|a| a.to_os_string()).collect();
    let mut c = Command::new(c.get_program());
    c.current_dir(&w.cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &w.home)
        .env("KCL_BOOTSTRAP_CACHE_DIR", &w.cache)
        .args(&args[2..])
        .args(["--kcl-version", "3.1.3", "--check"])
        .args(["--stream", "s", "--application", "a", "--executable", "sh"]);
    let (code, listing, err) = run(&mut c);
    assert_eq!(code, 0, "{err}");
    assert!(
        listing.contains("\nisGracefulLeaseHandoffEnabled = false\n"),
        "{listing}"
    );
    let (code, listing, err) = run(c.args(["--set", "isGracefulLeaseHandoffEnabled=true"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        listing.contains("\nisGracefulLeaseHandoffEnabled = true\n"),
        "{listing}"
    );
}

/// The row of the exit-code table in docs/bootstrap.md for `code`.
fn documented_row(code: i32) -> String {
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/bootstrap.md"))
            .unwrap();
    docs.lines()
        .find(|l| l.starts_with(&format!("| {code} |")))
        .unwrap_or_else(|| panic!("no row {code}"))
        .to_string()
}

#[test]
fn a_malformed_set_is_a_usage_error_that_echoes_nothing() {
    let (_, w) = warm_world(1, V);
    let secret = "AKIAIOSFODNN7EXAMPLE";
    for (args, says) in [
        (vec!["--set", secret], "--set number 1 has no '='"),
        (
            vec!["--set", "a=1", "--set", "=x"],
            "--set number 2 has an empty key",
        ),
        (vec!["--set", " streamName=x"], "has blanks around it"),
        (
            vec!["--stream", "a", "--set", "streamName=b"],
            "--stream and --set streamName=... both set 'streamName'",
        ),
    ] {
        let (code, out, err) = run(w.cmd().arg("--offline").args(&args));
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(out.is_empty() && !err.contains(secret), "{err}");
    }
    assert!(documented_row(2).contains("--set"), "{}", documented_row(2));
    // Nothing at all to launch with: a usage error too.
    let (code, _, err) = run(&mut file_less(&w));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("-p/--properties FILE"), "{err}");
}

#[test]
fn no_secret_reaches_any_output() {
    let (_, w) = warm_world(1, V);
    let secrets = [
        "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY",
        "AKIAIOSFODNN7EXAMPLE",
        "s3cr3t-pw",
        "sts-session-name-x",
    ];
    let bad_number = format!("maxRecords={}", secrets[1]);
    let run_with = |extra: &[&str]| {
        run(w
            .cmd()
            .env("KCL_PROPERTY_kinesisClient__secretAccessKey", secrets[0])
            .env("KCL_PROPERTY_workerId", format!("id-{}", secrets[1]))
            .args([
                "--set",
                &format!("kinesisEndpoint=http://user:{}@127.0.0.1:1", secrets[2]),
                "--set",
                &format!(
                    "AwsCredentialsProvider=StsAssumeRoleCredentialsProvider|arn:aws:iam::123456789012:role/r|{}",
                    secrets[3]
                ),
            ])
            .args(extra))
    };
    // A value finding on a secret-looking value.
    let (code, listing, err) = run_with(&["--check", "--set", &bad_number]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("--set: error: 'maxRecords' must be a whole number"),
        "{err}"
    );
    assert!(err.contains("<redacted>"), "{err}");
    let (code, listing_ok, err_ok) = run_with(&["--check"]);
    assert_eq!(code, 0, "{err_ok}");
    assert!(
        listing_ok.contains(
            "AwsCredentialsProvider = StsAssumeRoleCredentialsProvider|<redacted>|<redacted>"
        ),
        "{listing_ok}"
    );
    assert!(
        listing_ok.contains("kinesisClient.secretAccessKey = <redacted>"),
        "{listing_ok}"
    );
    for output in [&listing, &err, &listing_ok, &err_ok] {
        for secret in secrets {
            assert!(!output.contains(secret), "{secret} shown in:\n{output}");
        }
    }
    // The daemon's own file has them, readable by this user only.
    let (code, out, err) = run_with(&["--offline", "--no-validate"]);
    assert_eq!(code, 0, "{err}");
    let path = properties_file_of(&out);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(secrets[0]) && text.contains(secrets[3]),
        "{text}"
    );
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
    for secret in secrets {
        assert!(!out.contains(secret) && !err.contains(secret), "{secret}");
    }
}

#[test]
#[cfg(unix)]
fn the_daemon_reads_the_effective_file_and_holds_it_locked() {
    let (_, w) = warm_world(1, V);
    // The fake JVM prints the properties file it was given (the argument after
    // --properties-file: -e also passes the default logback file after it) and whether an
    // exclusive lock on it is free.
    let body = r#"file=""; take=0
for a; do if [ "$take" = 1 ]; then file="$a"; take=0; fi; [ "$a" = --properties-file ] && take=1; done
cat "$file"
if flock -n -x "$file" true; then echo LOCK-FREE; else echo LOCK-HELD; fi"#;
    let java = fake_java(&w.tmp.path().join("jdk-cat/bin"), JAVA17, body);
    let (code, out, err) =
        run(w
            .cmd_java(&java)
            .args(["--offline", "-e", "-q", "--set", "maxRecords=42"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\nmaxRecords = 42\n"), "{out}");
    assert!(
        out.contains("LOCK-HELD"),
        "the exec'd JVM holds the lock: {out}"
    );
    // Once it has exited, the lock is free.
    let path = std::fs::read_dir(
        w.cache
            .join(format!("properties-{}", unsafe { libc::geteuid() })),
    )
    .unwrap()
    .flatten()
    .map(|e| e.path())
    .find(|p| p.extension().is_some_and(|x| x == "properties"))
    .unwrap();
    let free = Command::new("flock")
        .args(["-n", "-x"])
        .arg(&path)
        .arg("true")
        .status()
        .unwrap();
    assert!(free.success());
}

#[test]
#[cfg(unix)]
fn a_private_directory_others_can_enter_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let (_, w) = warm_world(1, V);
    let dir = w
        .cache
        .join(format!("properties-{}", unsafe { libc::geteuid() }));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (code, out, err) = run(w.cmd().args(["--offline", "--set", "maxRecords=1"]));
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("others may enter it"), "{err}");
    assert!(out.is_empty());
}

/// Prints each key and value that `java.util.Properties.load` reads, as code points in hex.
const DUMP_JAVA: &str = r#"
import java.io.*;
import java.util.*;
public class Dump {
    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        try (InputStream in = new FileInputStream(args[0])) { p.load(in); }
        for (String k : new TreeSet<>(p.stringPropertyNames())) {
            System.out.println(hex(k) + " " + hex(p.getProperty(k)));
        }
    }
    static String hex(String s) {
        StringBuilder b = new StringBuilder("x");
        s.codePoints().forEach(c -> b.append(Integer.toHexString(c)).append('.'));
        return b.toString();
    }
}
"#;

fn hex(s: &str) -> String {
    s.chars().fold(String::from("x"), |mut b, c| {
        b.push_str(&format!("{:x}.", c as u32));
        b
    })
}

/// The effective file, read by the real `java.util.Properties`, holds exactly the values given
/// on the command line and in the environment, however odd. Skipped (with a notice) without a
/// JDK that runs single-file programs.
#[test]
fn java_reads_the_effective_file_back_exactly() {
    let Ok(java) = which::which("java") else {
        eprintln!("NOTICE: java_reads_the_effective_file_back_exactly skipped: no java");
        return;
    };
    let (_, w) = warm_world(1, V);
    let given: Vec<(&str, &str)> = vec![
        ("lead", "  leading and trailing  "),
        ("back", "C:\\tools\\app.exe\\"),
        ("#hash key", "!bang = and : colon"),
        ("k:colon", "=starts with equals"),
        ("uni", "café 中 😀 \u{1b}[31m \u{202e}"),
        ("ctl", "tab\there\nnewline\rcr\u{c}ff"),
        ("empty", ""),
        ("esc", "\\u0041 stays literal"),
    ];
    let mut c = w.cmd();
    c.args(["--offline", "--no-validate"]);
    for (k, v) in &given {
        c.arg("--set").arg(format!("{k}={v}"));
    }
    c.env("KCL_PROPERTY_fromEnv", "ünïcödé from the environment");
    let (code, out, err) = run(&mut c);
    assert_eq!(code, 0, "{err}");
    let path = properties_file_of(&out);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("Dump.java");
    std::fs::write(&src, DUMP_JAVA).unwrap();
    let dumped = Command::new(&java).arg(&src).arg(&path).output().unwrap();
    if !dumped.status.success() {
        let err = String::from_utf8_lossy(&dumped.stderr);
        assert!(err.contains("compiler"), "java failed: {err}");
        eprintln!("NOTICE: skipped: {} has no compiler", java.display());
        return;
    }
    let from_java = String::from_utf8(dumped.stdout).unwrap();
    let mut expected: Vec<(String, String)> = given
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain([(
            "fromEnv".to_string(),
            "ünïcödé from the environment".to_string(),
        )])
        .collect();
    for line in GOOD_PROPERTIES.lines() {
        let (k, v) = line.split_once(" = ").unwrap();
        expected.push((k.to_string(), v.to_string()));
    }
    expected.sort_by(|a, b| {
        let utf16 = |s: &str| s.encode_utf16().collect::<Vec<u16>>();
        utf16(&a.0).cmp(&utf16(&b.0))
    });
    let expected: String = expected
        .iter()
        .map(|(k, v)| format!("{} {}\n", hex(k), hex(v)))
        .collect();
    assert_eq!(
        from_java, expected,
        "java.util.Properties (left) vs given (right)"
    );
}
