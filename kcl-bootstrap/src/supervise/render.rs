//! Writing the worker's log: the daemon's lines as they came (text) or one JSON object per line
//! (json), and the supervisor's own lines in the same form.
//!
//! Text: the JVM's stdout and stderr lines go to kcl-bootstrap's stdout and stderr unchanged
//! (bytes included), the supervisor's lines to stderr as `kcl-bootstrap: [error: |warning: ]...`. JSON: everything
//! goes to stdout, one object per line with the keys `time`, `level`, `source` (`daemon`,
//! `child` or `supervisor`), then `shard`, `logger`, `thread` when known, `message`, and `lines`
//! for a supervisor message that quotes the daemon's last lines.
//!
//! Writes block: a stalled reader of our output stalls the reading of the daemon's, exactly as
//! if the daemon wrote there itself (as with `-e`), and no line is lost. Write errors (a closed
//! pipe) are ignored so that the supervisor keeps supervising.

use std::io::Write;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use super::LogFormat;
use super::lines::{Level, LogLine, Stream};

/// The worker's log output.
pub(crate) struct Output {
    format: LogFormat,
    quiet: Quiet,
    /// Serialises writes, so that lines of different threads never interleave.
    lock: Mutex<()>,
}

/// Whether the supervisor's INFO lines are written (`-q` leaves warnings and errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quiet {
    /// Everything.
    No,
    /// Only warnings and errors of the supervisor.
    Yes,
}

impl Output {
    /// Output in `format`.
    pub(crate) fn new(format: LogFormat, quiet: Quiet) -> Output {
        Output {
            format,
            quiet,
            lock: Mutex::new(()),
        }
    }

    /// One line of the JVM's `stream`: `raw` as read (text) or `parsed` (json).
    pub(crate) fn daemon_line(&self, stream: Stream, raw: &[u8], parsed: &LogLine) {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        match (self.format, stream) {
            (LogFormat::Text, Stream::Stdout) => write_line(&mut std::io::stdout().lock(), raw),
            (LogFormat::Text, Stream::Stderr) => write_line(&mut std::io::stderr().lock(), raw),
            (LogFormat::Json, _) => {
                let json = to_json(parsed, &[], SystemTime::now());
                write_line(&mut std::io::stdout().lock(), json.as_bytes());
            }
        }
    }

    /// A line of the supervisor's, followed by `quoted` lines of the daemon (text: one per
    /// line, `kcl-bootstrap: | ...`; json: the `lines` array).
    pub(crate) fn supervisor(&self, level: Level, message: &str, quoted: &[String]) {
        if self.quiet == Quiet::Yes && level == Level::Info {
            return;
        }
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        match self.format {
            LogFormat::Text => {
                // The same prefixes as kcl-bootstrap's other messages.
                let severity = match level {
                    Level::Error => "error: ",
                    Level::Warn => "warning: ",
                    _ => "",
                };
                let mut err = std::io::stderr().lock();
                let text = format!("kcl-bootstrap: {severity}{message}");
                write_line(&mut err, text.as_bytes());
                for line in quoted {
                    write_line(&mut err, format!("kcl-bootstrap: | {line}").as_bytes());
                }
            }
            LogFormat::Json => {
                let line = LogLine::supervisor(level, message.to_string());
                let json = to_json(&line, quoted, SystemTime::now());
                write_line(&mut std::io::stdout().lock(), json.as_bytes());
            }
        }
    }
}

fn write_line(out: &mut impl Write, bytes: &[u8]) {
    let mut buffer = Vec::with_capacity(bytes.len() + 1);
    buffer.extend_from_slice(bytes);
    buffer.push(b'\n');
    let _ = out.write_all(&buffer).and_then(|()| out.flush());
}

/// The JSON object of `line` (without a line end); `now` when the line carries no time.
pub(crate) fn to_json(line: &LogLine, quoted: &[String], now: SystemTime) -> String {
    let time = line
        .time()
        .map_or_else(|| rfc3339(now), ToString::to_string);
    let mut json = String::with_capacity(128 + line.message().len());
    json.push_str("{\"time\":");
    push_string(&mut json, &time);
    json.push_str(",\"level\":");
    push_string(&mut json, line.level().as_str());
    json.push_str(",\"source\":");
    push_string(&mut json, line.source().as_str());
    for (key, value) in [
        ("shard", line.shard()),
        ("logger", line.logger()),
        ("thread", line.thread()),
    ] {
        if let Some(value) = value {
            json.push_str(",\"");
            json.push_str(key);
            json.push_str("\":");
            push_string(&mut json, value);
        }
    }
    json.push_str(",\"message\":");
    push_string(&mut json, line.message());
    if !quoted.is_empty() {
        json.push_str(",\"lines\":");
        json.push_str(&serde_json::to_string(quoted).unwrap_or_else(|_| "[]".into()));
    }
    json.push('}');
    json
}

fn push_string(json: &mut String, value: &str) {
    // Serialising a &str cannot fail; "" keeps the object valid if it ever did.
    json.push_str(&serde_json::to_string(value).unwrap_or_else(|_| "\"\"".into()));
}

/// RFC 3339 UTC with milliseconds: `2026-12-02T05:00:00.123Z`.
pub(crate) fn rfc3339(now: SystemTime) -> String {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since.as_secs();
    let (days, of_day) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60,
        since.subsec_millis()
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervise::lines::LineParser;
    use std::time::Duration;

    #[test]
    fn times() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        // 2024-02-29T23:59:59.999Z: a leap day.
        let leap = UNIX_EPOCH + Duration::from_millis(1_709_251_199_999);
        assert_eq!(rfc3339(leap), "2024-02-29T23:59:59.999Z");
        let later = UNIX_EPOCH + Duration::from_secs(4_102_444_800);
        assert_eq!(rfc3339(later), "2100-01-01T00:00:00.000Z");
    }

    #[test]
    fn json_objects_parse_back_with_every_field() {
        let mut parser = LineParser::new(Stream::Stderr);
        let line = parser
            .parse("2026-11-21T22:09:42.186Z  WARN [shardId-000000000001] app: say \"hi\"\tnow é");
        let json = to_json(&line, &[], UNIX_EPOCH);
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["time"], "2026-11-21T22:09:42.186Z");
        assert_eq!(value["level"], "WARN");
        assert_eq!(value["source"], "child");
        assert_eq!(value["shard"], "shardId-000000000001");
        assert_eq!(value["logger"], "app");
        assert_eq!(value["message"], "say \"hi\"\tnow é");
        assert!(value.get("thread").is_none());
        assert!(json.starts_with("{\"time\":"), "{json}");

        let own = LogLine::supervisor(Level::Error, "gave up".into());
        let json = to_json(&own, &["a".into(), "b\nc".into()], UNIX_EPOCH);
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["time"], "1970-01-01T00:00:00.000Z");
        assert_eq!(value["source"], "supervisor");
        assert_eq!(value["lines"][1], "b\nc");
    }
}
