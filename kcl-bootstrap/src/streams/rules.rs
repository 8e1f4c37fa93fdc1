//! The settings that apply to a DynamoDB stream, checked before launch (on top of the daemon's
//! own validation). Each finding is one line; errors refuse the launch.

use super::{STREAM_ARN_KEY, STREAMS_ENDPOINT_KEY, StreamsError};
use crate::display::shown;

/// The most records one DynamoDB Streams GetRecords call returns (API reference); the launcher
/// caps `maxRecords` there.
const MAX_RECORDS_PER_CALL: u64 = 1000;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Severity {
    /// Refuses the launch.
    Error,
    /// Printed unless `-q`.
    Warning,
}

/// Checks the effective settings (`value` looks one up) for the streams mode; prints the
/// findings on stderr.
pub(crate) fn check(
    value: &dyn Fn(&str) -> Option<String>,
    quiet: bool,
) -> Result<(), StreamsError> {
    let findings = findings(value);
    let mut errors = 0;
    for (severity, message) in &findings {
        match severity {
            Severity::Error => {
                errors += 1;
                crate::output::say(&format!("error: {message}"));
            }
            Severity::Warning if !quiet => crate::output::say(&format!("warning: {message}")),
            Severity::Warning => {}
        }
    }
    if errors > 0 {
        return Err(StreamsError::Settings { count: errors });
    }
    Ok(())
}

/// The findings for the effective settings that `value` returns.
pub(crate) fn findings(value: impl Fn(&str) -> Option<String>) -> Vec<(Severity, String)> {
    let set = |key: &str| {
        value(key)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let mut out = Vec::new();
    let mut error = |m: String| out.push((Severity::Error, m));
    match set(STREAM_ARN_KEY) {
        None => error(format!(
            "'{STREAM_ARN_KEY}' is required with --dynamodb-streams; add `{STREAM_ARN_KEY} = <the table's \
             LatestStreamArn>`"
        )),
        Some(arn) if !is_stream_arn(&arn) => error(format!(
            "'{STREAM_ARN_KEY}' ({}) is not a DynamoDB stream ARN \
             (arn:aws:dynamodb:REGION:ACCOUNT:table/TABLE/stream/LABEL)",
            shown(&arn)
        )),
        Some(_) => {}
    }
    for key in ["streamName", "streamArn"] {
        if set(key).is_some() {
            error(format!(
                "'{key}' names a Kinesis stream and does not apply with --dynamodb-streams (the stream is \
                 '{STREAM_ARN_KEY}'); remove it"
            ));
        }
    }
    if set("initialPositionInStreamExtended").is_some()
        || set("initialPositionInStream").is_some_and(|v| v.eq_ignore_ascii_case("AT_TIMESTAMP"))
    {
        error(
            "a DynamoDB stream starts at TRIM_HORIZON or LATEST only (the adapter refuses AT_TIMESTAMP); set \
             `initialPositionInStream = TRIM_HORIZON` or `LATEST`"
                .into(),
        );
    }
    if set("retrievalMode").is_some_and(|v| v.eq_ignore_ascii_case("FANOUT")) {
        error(
            "DynamoDB Streams has no enhanced fan-out: the launcher always polls; set `retrievalMode = POLLING` or \
             remove it"
                .into(),
        );
    }
    if let Some(endpoint) = set(STREAMS_ENDPOINT_KEY)
        && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
    {
        error(format!(
            "'{STREAMS_ENDPOINT_KEY}' ({}) must be an http:// or https:// URL",
            shown(&endpoint)
        ));
    }
    if let Some(max) = set("maxRecords").and_then(|v| v.parse::<u64>().ok())
        && max > MAX_RECORDS_PER_CALL
    {
        out.push((
            Severity::Warning,
            format!(
                "'maxRecords' = {max}, but DynamoDB Streams returns at most {MAX_RECORDS_PER_CALL} records per call; \
                 the launcher uses {MAX_RECORDS_PER_CALL}"
            ),
        ));
    }
    out
}

/// `arn:aws[-partition]:dynamodb:REGION:ACCOUNT(12 digits):table/TABLE/stream/LABEL`, the
/// pattern the adapter checks (its `KinesisMapperUtil`).
pub(crate) fn is_stream_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return false;
    };
    let Some((table, label)) = resource
        .strip_prefix("table/")
        .and_then(|r| r.split_once("/stream/"))
    else {
        return false;
    };
    prefix == "arn"
        && partition.starts_with("aws")
        && service == "dynamodb"
        && !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && !table.is_empty()
        && !table.contains('/')
        && !label.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const ARN: &str =
        "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-12-02T09:43:43.686";

    fn run(pairs: &[(&str, &str)]) -> Vec<(Severity, String)> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        findings(|k| map.get(k).cloned())
    }

    #[test]
    fn a_stream_arn_alone_passes() {
        assert!(
            run(&[
                (STREAM_ARN_KEY, ARN),
                ("initialPositionInStream", "TRIM_HORIZON")
            ])
            .is_empty()
        );
    }

    #[test]
    fn stream_arns_are_checked_like_the_adapter_does() {
        assert!(is_stream_arn(ARN));
        assert!(is_stream_arn(
            "arn:aws-cn:dynamodb:cn-north-1:123456789012:table/t/stream/x"
        ));
        for bad in [
            "arn:aws:kinesis:us-east-1:123456789012:stream/orders",
            "arn:aws:dynamodb:us-east-1:1234:table/orders/stream/x",
            "arn:aws:dynamodb:us-east-1:123456789012:table/orders",
            "arn:aws:dynamodb:us-east-1:123456789012:table//stream/x",
            "arn:aws:dynamodb:US:123456789012:table/t/stream/x",
            "",
        ] {
            assert!(!is_stream_arn(bad), "{bad}");
        }
    }

    #[test]
    fn each_trap_is_one_error_naming_its_key() {
        let errors = |pairs: &[(&str, &str)]| -> Vec<String> {
            run(pairs)
                .into_iter()
                .filter(|(s, _)| *s == Severity::Error)
                .map(|(_, m)| m)
                .collect()
        };
        let missing = errors(&[]);
        assert_eq!(missing.len(), 1);
        assert!(missing[0].contains("'dynamoDBStreamArn' is required"));
        assert!(errors(&[(STREAM_ARN_KEY, "orders")])[0].contains("not a DynamoDB stream ARN"));
        let kinesis = errors(&[
            (STREAM_ARN_KEY, ARN),
            ("streamName", "s"),
            ("streamArn", "a"),
        ]);
        assert_eq!(kinesis.len(), 2);
        assert!(kinesis[0].contains("'streamName'") && kinesis[1].contains("'streamArn'"));
        assert!(
            errors(&[
                (STREAM_ARN_KEY, ARN),
                ("initialPositionInStream", "at_timestamp")
            ])[0]
                .contains("TRIM_HORIZON or LATEST")
        );
        assert!(
            errors(&[(STREAM_ARN_KEY, ARN), ("retrievalMode", "FANOUT")])[0].contains("fan-out")
        );
        assert!(
            errors(&[
                (STREAM_ARN_KEY, ARN),
                (STREAMS_ENDPOINT_KEY, "localhost:5000")
            ])[0]
                .contains("http://")
        );
        for message in missing.iter().chain(&kinesis) {
            assert!(!message.contains('\n'));
        }
    }

    #[test]
    fn too_many_records_per_call_is_a_warning() {
        let found = run(&[(STREAM_ARN_KEY, ARN), ("maxRecords", "10000")]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, Severity::Warning);
        assert!(run(&[(STREAM_ARN_KEY, ARN), ("maxRecords", "1000")]).is_empty());
    }
}
