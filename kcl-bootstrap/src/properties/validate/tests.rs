use super::values::{
    bean_property, in_version, is_iso_duration, is_local_endpoint, is_stream_arn, value_type_of,
};
use super::*;
use crate::lock::Lock;
use crate::properties::diagnostic::Severity;
use crate::properties::keys::ValueType;
use crate::properties::origin::Setting;
use crate::properties::parse;
use std::path::PathBuf;

/// A lock of `version` listing `settings` (none: the built-in key table decides).
fn lock(version: &str, settings: &[(&str, &str)]) -> Lock {
    let sha = "0".repeat(64);
    let mut text =
        format!("kcl-version\t{version}\nmin-java\t8\njar\ta:b:1\ta/b-1.jar\t1\t{sha}\t8\n");
    for (key, java_type) in settings {
        text.push_str(&format!("key\t{key}\t{java_type}\n"));
    }
    Lock::parse(&text).unwrap()
}

fn ctx_with(version: &str, settings: &[(&str, &str)], cwd: PathBuf) -> Context {
    Context::new(&lock(version, settings), cwd, std::env::var_os("PATH"))
}

fn ctx() -> Context {
    ctx_with("3.1.3", &[], std::env::temp_dir())
}

const GOOD: &str = "executableName = sh\napplicationName = app\nstreamName = s\n\
    AwsCredentialsProvider = DefaultCredentialsProvider\nretrievalMode = POLLING\nshutdownGraceMillis = 30000\n";

fn check(extra: &str) -> Vec<Diagnostic> {
    check_with(&format!("{GOOD}{extra}"), &ctx())
}

fn check_with(text: &str, ctx: &Context) -> Vec<Diagnostic> {
    validate(&Setting::from_file(parse(text.as_bytes()).unwrap()), ctx)
}

fn has(diags: &[Diagnostic], sev: Severity, line: Option<usize>, needle: &str) -> bool {
    diags
        .iter()
        .any(|d| d.severity == sev && d.line() == line && d.message.contains(needle))
}

#[test]
fn a_good_file_is_clean() {
    assert_eq!(check(""), vec![]);
}

#[test]
fn missing_required_keys() {
    let d = check_with("regionName = us-east-1\napplicationName =   \n", &ctx());
    assert!(has(
        &d,
        Severity::Error,
        None,
        "'executableName' is required"
    ));
    assert!(has(
        &d,
        Severity::Error,
        Some(2),
        "'applicationName' is required"
    ));
    assert!(has(&d, Severity::Error, None, "streamName"));
    assert!(has(
        &d,
        Severity::Error,
        None,
        "'AwsCredentialsProvider' is required"
    ));
    // streamArn alone is enough, and the credentials prefix is case-insensitive.
    let d = check_with(
        "executableName=sh\napplicationName=a\nstreamArn=arn:aws:kinesis:us-east-1:123456789012:stream/x\n\
         AWSCredentialsProvider=DefaultCredentialsProvider\n",
        &ctx(),
    );
    assert!(d.iter().all(|d| d.severity == Severity::Warning), "{d:?}");
}

#[test]
fn executable_checks() {
    let dir = tempfile::tempdir().unwrap();
    let c = ctx_with("3.1.3", &[], dir.path().to_path_buf());
    let base =
        "applicationName=a\nstreamName=s\nAwsCredentialsProvider=DefaultCredentialsProvider\n";
    let d = check_with(&format!("{base}executableName = ./missing --flag\n"), &c);
    assert!(has(
        &d,
        Severity::Error,
        Some(4),
        "program './missing' not found"
    ));
    let d = check_with(&format!("{base}executableName = no-such-program-kcl\n"), &c);
    assert!(has(&d, Severity::Error, Some(4), "looked up on PATH"));
    // A path with a space.
    std::fs::create_dir(dir.path().join("my app")).unwrap();
    let prog = dir.path().join("my app").join("proc");
    std::fs::write(&prog, "#!/bin/sh\n").unwrap();
    let d = check_with(&format!("{base}executableName = {}\n", prog.display()), &c);
    assert!(
        has(&d, Severity::Error, Some(4), "contains a space"),
        "{d:?}"
    );
    // Not executable.
    let plain = dir.path().join("plain");
    std::fs::write(&plain, "x").unwrap();
    let d = check_with(&format!("{base}executableName = ./plain\n"), &c);
    assert!(
        has(&d, Severity::Error, Some(4), "is not executable"),
        "{d:?}"
    );
    // Executable, relative to the working directory, with arguments.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o755)).unwrap();
        let d = check_with(&format!("{base}executableName = ./plain  -v x\n"), &c);
        assert!(
            !d.iter().any(|d| d.message.contains("executableName")),
            "{d:?}"
        );
    }
}

#[test]
fn near_miss_is_error_other_unknown_is_warning() {
    let d = check("DynamoDBEndpoint = http://localhost:8000\nmyOwnSetting = 1\n");
    assert!(has(
        &d,
        Severity::Error,
        Some(7),
        "did you mean 'dynamoDBEndpoint'"
    ));
    assert!(has(
        &d,
        Severity::Warning,
        Some(8),
        "unknown key 'myOwnSetting'"
    ));
    assert!(check("kinesisClient.region = us-west-2\n").is_empty());
}

#[test]
fn values_that_do_not_parse() {
    let d = check(
        "failoverTimeMillis = 100nf\nmaxRecords = 99999999999\ncleanupLeasesUponShardCompletion = maybe\n\
         metricsLevel = SUMMARY \ninitialPositionInStream = AT_TIMESTAMP\nkinesisEndpoint = localhost:4567\n\
         streamArn = arn:aws:kinesis:us-east-1:123:stream/x\nstaleWorkerMetricsEntryCleanupDuration = 12h\n\
         maxThroughputPerHostKBps = fast\n",
    );
    for (line, needle) in [
        (7, "'failoverTimeMillis' must be a whole number"),
        (8, "(32-bit)"),
        (9, "must be true or false"),
        (10, "must be one of NONE, SUMMARY, DETAILED"),
        (11, "must be one of LATEST, TRIM_HORIZON"),
        (12, "must be a URL"),
        (13, "12-digit account"),
        (14, "ISO-8601"),
        (15, "must be a number"),
    ] {
        assert!(
            has(&d, Severity::Error, Some(line), needle),
            "{line} {needle}: {d:?}"
        );
    }
    assert!(
        check("metricsLevel = summary\nstaleWorkerMetricsEntryCleanupDuration = PT12H\n")
            .is_empty()
    );
}

#[test]
fn timeout_zero_is_error() {
    let d = check("timeoutInSeconds = 0\n");
    assert!(has(&d, Severity::Error, Some(7), "halt the JVM"));
    assert!(check("timeoutInSeconds = 30\n").is_empty());
}

#[test]
fn warnings() {
    let d = check_with(
        "executableName = sh\napplicationName = app \nstreamName = s\n\
         AwsCredentialsProvider = DefaultAWSCredentialsProviderChain\n\
         kinesisEndpoint = http://127.0.0.1:4567\ncleanupLeasesUponShardCompletion = false\nstreamName = t\n",
        &ctx(),
    );
    assert!(has(&d, Severity::Warning, None, "no 'retrievalMode'"));
    assert!(has(&d, Severity::Warning, None, "shutdownGraceMillis"));
    assert!(has(&d, Severity::Warning, Some(2), "ends with whitespace"));
    assert!(has(
        &d,
        Severity::Warning,
        Some(4),
        "use 'DefaultCredentialsProvider'"
    ));
    assert!(has(&d, Severity::Warning, Some(5), "metricsLevel = NONE"));
    assert!(has(
        &d,
        Severity::Warning,
        Some(6),
        "can only be switched on"
    ));
    assert!(has(&d, Severity::Warning, Some(3), "set again on line 7"));
    assert!(d.iter().all(|d| d.severity == Severity::Warning), "{d:?}");
    // metricsLevel = NONE silences the local-endpoint warning.
    assert!(check("kinesisEndpoint = http://localhost:4567\nmetricsLevel = NONE\n").is_empty());
    let d = check(
        "AwsCredentialsProviderDynamoDB = com.amazonaws.auth.InstanceProfileCredentialsProvider\n",
    );
    assert!(has(&d, Severity::Warning, Some(7), "com.amazonaws.auth"));
}

#[test]
fn encoding_traps() {
    let mut bom = b"\xef\xbb\xbf".to_vec();
    bom.extend_from_slice(GOOD.as_bytes());
    let d = validate(&Setting::from_file(parse(&bom).unwrap()), &ctx());
    assert!(
        has(&d, Severity::Error, Some(1), "byte-order mark"),
        "{d:?}"
    );
    let d = validate(
        &Setting::from_file(parse(format!("{GOOD}workerId = caf\u{e9}\n").as_bytes()).unwrap()),
        &ctx(),
    );
    assert!(has(&d, Severity::Warning, Some(7), "ISO-8859-1"), "{d:?}");
    // A real Latin-1 byte (or a \\u escape) is what Java expects: no warning.
    let mut latin1 = GOOD.as_bytes().to_vec();
    latin1.extend_from_slice(b"workerId = caf\xe9\n");
    assert!(validate(&Setting::from_file(parse(&latin1).unwrap()), &ctx()).is_empty());
    assert!(check("workerId = caf\\u00e9\n").is_empty());
}

#[test]
fn region_with_trailing_space_and_arn_mismatch() {
    let d = check("regionName = us-east-1 \n");
    assert!(
        has(&d, Severity::Error, Some(7), "endpoint resolution"),
        "{d:?}"
    );
    let d = check("streamArn = arn:aws:kinesis:us-east-1:123456789012:stream/other\n");
    assert!(
        has(&d, Severity::Warning, Some(3), "uses the ARN's stream"),
        "{d:?}"
    );
    assert!(check("streamArn = arn:aws:kinesis:us-east-1:123456789012:stream/s\n").is_empty());
}

#[test]
fn kcl2_before_2_7_credentials() {
    let c = ctx_with("2.5.4", &[], std::env::temp_dir());
    let base = "executableName = sh\napplicationName = a\nstreamName = s\nretrievalMode = POLLING\n\
                shutdownGraceMillis = 1000\n";
    // The 3.x spelling is not read by 2.5.4: a near miss, and the key counts as missing.
    let d = check_with(
        &format!("{base}AwsCredentialsProvider = DefaultAWSCredentialsProviderChain\n"),
        &c,
    );
    assert!(
        has(
            &d,
            Severity::Error,
            Some(6),
            "did you mean 'AWSCredentialsProvider'"
        ),
        "{d:?}"
    );
    assert!(
        has(
            &d,
            Severity::Error,
            None,
            "`AWSCredentialsProvider = DefaultAWSCredentialsProviderChain`"
        ),
        "{d:?}"
    );
    // SDK v2 names fail on 2.5.4.
    let d = check_with(
        &format!("{base}AWSCredentialsProvider = DefaultCredentialsProvider\n"),
        &c,
    );
    assert!(
        has(
            &d,
            Severity::Error,
            Some(6),
            "use 'DefaultAWSCredentialsProviderChain'"
        ),
        "{d:?}"
    );
    // The right spelling and name: clean.
    let d = check_with(
        &format!("{base}AWSCredentialsProvider = DefaultAWSCredentialsProviderChain\n"),
        &c,
    );
    assert!(d.is_empty(), "{d:?}");
}

#[test]
fn settings_from_the_lock_decide_what_this_version_reads() {
    let c = ctx_with(
        "3.1.3",
        &[
            ("applicationName", "java.lang.String"),
            ("streamName", "java.lang.String"),
            (
                "retrievalMode",
                "software.amazon.kinesis.multilang.config.RetrievalMode",
            ),
            ("shutdownGraceMillis", "long"),
            ("brandNewSetting", "int"),
            ("awsCredentialsProvider", "java.lang.String"),
        ],
        std::env::temp_dir(),
    );
    // A key from the table that this version lacks (3.5's leaseTableScanTotalSegments on 3.1.3).
    let d = check_with(&format!("{GOOD}leaseTableScanTotalSegments = 4\n"), &c);
    assert!(
        has(&d, Severity::Warning, Some(7), "not a setting of KCL 3.1.3"),
        "{d:?}"
    );
    // A setting of this version missing from the table is accepted and type-checked.
    assert!(check_with(&format!("{GOOD}brandNewSetting = 3\n"), &c).is_empty());
    let d = check_with(&format!("{GOOD}brandNewSetting = three\n"), &c);
    assert!(has(&d, Severity::Error, Some(7), "whole number"), "{d:?}");
    assert_eq!(
        bean_property("AwsCredentialsProvider"),
        "awsCredentialsProvider"
    );
    assert_eq!(
        bean_property("AWSCredentialsProvider"),
        "AWSCredentialsProvider"
    );
}

#[test]
fn key_table_agrees_with_the_daemons_own_setters() {
    // The lock's settings come from javap of the real daemon classes.
    for version in crate::lock::supported_versions() {
        let lock = crate::lock::Lock::builtin(version).unwrap();
        let settings: HashMap<String, String> = lock.settings.iter().cloned().collect();
        let c = Context::new(&lock, std::env::temp_dir(), None);
        for known in keys::KNOWN_KEYS {
            let present = in_version(known, &c);
            if known.since == Since::Kcl2 {
                assert!(
                    present,
                    "{} is marked KCL 2.x but {version} lacks it",
                    known.name
                );
            }
            if let Some(java_type) = settings.get(&bean_property(known.name))
                && matches!(
                    value_type_of(java_type),
                    ValueType::Int
                        | ValueType::Long
                        | ValueType::Bool
                        | ValueType::PrimitiveBool
                        | ValueType::Double
                )
            {
                assert_eq!(
                    known.ty,
                    value_type_of(java_type),
                    "{} in {version}",
                    known.name
                );
            }
        }
        // Every setting of the daemon is described by the table, so typos of any of them are caught.
        for property in settings.keys() {
            let described = keys::KNOWN_KEYS.iter().any(|k| {
                bean_property(k.name) == *property || k.name.eq_ignore_ascii_case(property)
            });
            assert!(
                described,
                "{version}: setting {property} is missing from the key table"
            );
        }
    }
}

#[test]
fn kcl3_keys_on_kcl2() {
    // A 2.x daemon that speaks SDK v2 (2.7+), from an older lock without a settings list.
    let c = ctx_with("2.7.0", &[], std::env::temp_dir());
    let d = check_with(
        &format!("{GOOD}clientVersionConfig = CLIENT_VERSION_CONFIG_3X\n"),
        &c,
    );
    assert!(has(&d, Severity::Warning, Some(7), "KCL 3.x setting"));
}

#[test]
fn helpers() {
    assert!(is_local_endpoint("http://localhost:4567"));
    assert!(is_local_endpoint("https://127.0.0.1"));
    assert!(is_local_endpoint("http://[::1]:80/"));
    assert!(!is_local_endpoint(
        "https://kinesis.us-east-1.amazonaws.com"
    ));
    assert!(is_iso_duration("PT12H") && is_iso_duration("P1DT2H3M4.5S") && is_iso_duration("P2D"));
    assert!(!is_iso_duration("-PT1H") && !is_iso_duration("PT") && !is_iso_duration("12h"));
    assert!(is_stream_arn(
        "arn:aws-cn:kinesis:cn-north-1:123456789012:stream/a"
    ));
}

/// Random files made of the characters that matter (separators, escapes, non-ASCII bytes,
/// control characters, key fragments): parsing and validating never panics.
#[test]
fn random_input_never_panics() {
    let fragments: &[&[u8]] = &[
        b"=",
        b":",
        b" ",
        b"\\",
        b"\\u",
        b"\\u00e9",
        b"\\uD83D",
        b"\n",
        b"\r",
        b"\t",
        b"#",
        b"!",
        b"\xe9",
        b"\xc3\xa9",
        b"\xef\xbb\xbf",
        b"\x1b[",
        b"\x00",
        b"\xff",
        b"http://",
        b"https://",
        b"executableName",
        b"kinesisEndpoint",
        b"dynamoDBEndpoint",
        b"streamArn",
        b"arn:aws:kinesis:",
        b"AwsCredentialsProvider",
        b"awscredentialsprovid",
        b"timeoutInSeconds",
        b"PT",
        b"0",
        b"-1",
        b"99999999999999999999",
        b"true",
        b"sh ",
        b"\"",
        b"'",
        b"$",
        b"~",
        b"/",
        b"|",
        b"metricsLevel",
        b"workerMetricsTags",
        b"a=b,",
        b",",
        b"regionName",
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for version in ["3.1.3", "2.5.4"] {
        let c = ctx_with(version, &[("brandNewSetting", "int")], std::env::temp_dir());
        for _ in 0..2000 {
            let mut bytes = Vec::new();
            for _ in 0..(next() % 40) {
                bytes.extend_from_slice(fragments[(next() % fragments.len() as u64) as usize]);
            }
            if let Ok(entries) = parse(&bytes) {
                for d in validate(&Setting::from_file(entries), &c) {
                    assert!(!d.message.contains('\u{1b}'), "{:?}", d.message);
                }
            }
        }
    }
}
