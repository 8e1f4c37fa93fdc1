//! Checking one value against the type the daemon converts it to.

use super::super::context::Context;
use super::super::diagnostic::Diagnostic;
use super::super::keys::{KnownKey, Since, ValueType};
use super::super::origin::Setting;
use super::super::redact;
use super::{credentials, executable};
use crate::display::shown;

/// Keys the daemon reads itself (not bean settings), present in every version.
const DAEMON_KEYS: &[&str] = &["executableName", "processingLanguage", "maxActiveThreads"];

pub(super) fn check_value(
    ty: ValueType,
    since: Since,
    e: &Setting,
    ctx: &Context,
    out: &mut Vec<Diagnostic>,
) {
    let err = |message: String| Diagnostic::error(Some(e.origin.clone()), message);
    let warn = |message: String| Diagnostic::warning(Some(e.origin.clone()), message);
    let key = shown(&e.key).to_string();
    let value = e.value.as_str();
    let trimmed = value.trim();
    // A value that looks like a secret is never quoted back.
    let shown_value = redact::shown_value(&e.key, value);

    if since == Since::Kcl3 && ctx.kcl_major() < 3 && ctx.settings().is_none() {
        out.push(warn(format!(
            "'{key}' is a KCL 3.x setting; the KCL {} daemon ignores it",
            ctx.kcl_major()
        )));
    }
    // Trailing whitespace matters for values the daemon does not trim.
    let trims = matches!(ty, ValueType::Int | ValueType::Long | ValueType::Double);
    if !trims && e.key != "executableName" && value != value.trim_end() && !trimmed.is_empty() {
        if e.key == "regionName" {
            // `Region.of("us-east-1 ")` is accepted, then endpoint resolution fails at run time.
            out.push(err(format!(
                "the value of '{key}' ends with whitespace ('{shown_value}'), which breaks AWS endpoint resolution; \
                 remove it"
            )));
        } else {
            out.push(warn(format!(
                "the value of '{key}' ends with whitespace, which the daemon keeps ('{shown_value}'); remove it"
            )));
        }
    }

    match ty {
        ValueType::Int | ValueType::Long => {
            let ok = if ty == ValueType::Int {
                trimmed.parse::<i32>().map(i64::from).ok()
            } else {
                trimmed.parse::<i64>().ok()
            };
            match ok {
                None => out.push(err(format!(
                    "'{key}' must be a whole number{}; the daemon would silently use 0 for '{shown_value}'",
                    if ty == ValueType::Int { " (32-bit)" } else { "" }
                ))),
                Some(0) if e.key == "timeoutInSeconds" => out.push(err(
                    "'timeoutInSeconds = 0' makes the daemon halt the JVM on the very first read from a processor; \
                     remove the key (no timeout) or set a positive number of seconds"
                        .into(),
                )),
                Some(0) => out.push(warn(format!(
                    "'{key} = 0' has no effect: the daemon only copies non-default values, so the KCL default stays"
                ))),
                Some(v) if v < 0 => out.push(warn(format!("'{key}' is negative ({v})"))),
                Some(_) => {}
            }
        }
        ValueType::Double => {
            if trimmed.parse::<f64>().is_err() {
                out.push(err(format!("'{key}' must be a number, not '{shown_value}'")));
            }
        }
        ValueType::PrimitiveBool | ValueType::Bool => match parse_bool(value) {
            None => out.push(err(format!(
                "'{key}' must be true or false, not '{shown_value}': the daemon reads anything else (including a \
                 trailing space) as false"
            ))),
            Some(false) if ty == ValueType::PrimitiveBool => out.push(warn(format!(
                "'{key} = false' has no effect: this setting can only be switched on; remove the line"
            ))),
            Some(_) => {}
        },
        ValueType::Enum(values) => {
            if !values.iter().any(|v| v.eq_ignore_ascii_case(value)) {
                out.push(err(format!(
                    "'{key}' must be one of {} (case does not matter, surrounding spaces do), not '{shown_value}'",
                    values.join(", ")
                )));
            }
        }
        ValueType::Url => {
            if !has_http_scheme(trimmed) || value != trimmed {
                out.push(err(format!(
                    "'{key}' must be a URL with scheme and no surrounding spaces, e.g. http://127.0.0.1:4567, not \
                     '{shown_value}'"
                )));
            }
        }
        ValueType::Credentials => {
            credentials::check_credentials(&key, value, ctx.dialect(), out, &e.origin)
        }
        ValueType::Duration => {
            if !is_iso_duration(trimmed) {
                out.push(err(format!(
                    "'{key}' must be an ISO-8601 duration such as PT12H or P1D, not '{shown_value}'"
                )));
            }
        }
        ValueType::Tags => {
            for pair in trimmed.split(',').filter(|p| !p.trim().is_empty()) {
                if pair.split_once('=').is_none_or(|(k, _)| k.trim().is_empty()) {
                    out.push(warn(format!(
                        "'{key}': '{}' is not a key=value pair; the daemon skips it",
                        shown(pair)
                    )));
                }
            }
        }
        ValueType::StreamArn => {
            if !trimmed.is_empty() && !is_stream_arn(trimmed) {
                out.push(err(format!(
                    "'{key}' must look like arn:aws:kinesis:<region>:<12-digit account>:stream/<name>, not \
                     '{shown_value}'"
                )));
            }
        }
        ValueType::Unsettable => out.push(err(format!(
            "'{key}' cannot be set from a properties file (the daemon has no converter from text for it); remove it"
        ))),
        ValueType::Text => {
            if e.key == "executableName" && !trimmed.is_empty() {
                executable::check_executable(value, ctx, out, &e.origin);
            }
        }
    }
}

/// `http://` or `https://` in any case, followed by something. Compares bytes, so a value with
/// multi-byte characters near the start cannot split one.
fn has_http_scheme(value: &str) -> bool {
    ["http://", "https://"].iter().any(|scheme| {
        value.len() > scheme.len()
            && value.as_bytes()[..scheme.len()].eq_ignore_ascii_case(scheme.as_bytes())
    })
}

/// `Introspector.decapitalize`: the BeanUtils property name of a setter's suffix.
pub(super) fn bean_property(name: &str) -> String {
    let mut chars = name.chars();
    match (chars.next(), chars.next()) {
        (Some(a), Some(b)) if a.is_ascii_uppercase() && b.is_ascii_uppercase() => name.to_string(),
        (Some(a), _) => a.to_ascii_lowercase().to_string() + chars_after_first(name),
        _ => name.to_string(),
    }
}

fn chars_after_first(name: &str) -> &str {
    let mut chars = name.chars();
    chars.next();
    chars.as_str()
}

/// True if the launched version has this setting (always true without a settings list).
pub(super) fn in_version(known: &KnownKey, ctx: &Context) -> bool {
    let Some(settings) = ctx.settings() else {
        return true;
    };
    DAEMON_KEYS.contains(&known.name)
        || known.name.contains('.')
        || known.ty == ValueType::Credentials
        || settings.contains_key(&bean_property(known.name))
}

/// How a value of a setter's Java type is converted (unknown types are not checked).
pub(super) fn value_type_of(java_type: &str) -> ValueType {
    match java_type {
        "int" | "java.lang.Integer" => ValueType::Int,
        "long" | "java.lang.Long" => ValueType::Long,
        "double" | "java.lang.Double" => ValueType::Double,
        "boolean" => ValueType::PrimitiveBool,
        "java.lang.Boolean" => ValueType::Bool,
        _ => ValueType::Text,
    }
}

/// BeanUtils' boolean converter: these words (any case, no spaces) are true; a fixed set is false.
fn parse_bool(value: &str) -> Option<bool> {
    let v = value.to_ascii_lowercase();
    match v.as_str() {
        "true" | "yes" | "y" | "on" | "1" => Some(true),
        "false" | "no" | "n" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// True if the Latin-1-decoded `value` holds a valid multi-byte UTF-8 sequence, i.e. the file
/// was saved as UTF-8 with non-ASCII text.
pub(super) fn looks_like_utf8(value: &str) -> bool {
    if value.is_ascii() || value.chars().any(|c| c as u32 > 0xff) {
        return false;
    }
    let bytes: Vec<u8> = value.chars().map(|c| c as u32 as u8).collect();
    std::str::from_utf8(&bytes).is_ok()
}

pub(super) fn is_local_endpoint(url: &str) -> bool {
    let rest = url.trim().split_once("://").map_or(url.trim(), |(_, r)| r);
    let host_port = rest.split('/').next().unwrap_or("");
    let host = if let Some(stripped) = host_port.strip_prefix('[') {
        stripped.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    let host = host.to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host.starts_with("127.")
        || host == "::1"
        || host == "0.0.0.0"
}

pub(super) fn is_iso_duration(s: &str) -> bool {
    let s = s.strip_prefix(['P', 'p']).unwrap_or("");
    if s.is_empty() || s.starts_with('-') {
        return false;
    }
    let (date, time) = match s.split_once(['T', 't']) {
        Some((date, time)) => (date, Some(time)),
        None => (s, None),
    };
    let units_ok = |part: &str, units: &[char]| -> bool {
        let mut digits = false;
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                digits = true;
            } else if units.contains(&c.to_ascii_uppercase()) && digits {
                digits = false;
            } else {
                return false;
            }
        }
        !digits
    };
    units_ok(date, &['D']) && time.is_none_or(|t| !t.is_empty() && units_ok(t, &['H', 'M', 'S']))
}

pub(super) fn is_stream_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "kinesis"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5]
            .strip_prefix("stream/")
            .is_some_and(|n| !n.is_empty() && !n.contains('/'))
}
