//! Catching the daemon's silent traps before launch.
//!
//! The daemon ignores unknown and mis-cased keys, turns bad numbers into 0, cannot set some
//! booleans to false, keeps trailing spaces, and defaults to paid enhanced fan-out. Each rule
//! below reports one of those with the line it comes from; errors refuse the launch.

use super::keys::{self, KnownKey, Since, ValueType};
use super::parser::Entry;
use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Works, but probably not as intended.
    Warning,
    /// The daemon would fail or silently misbehave: launch refused.
    Error,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// 1-based line, or `None` for whole-file findings (e.g. a missing key).
    pub line: Option<usize>,
    /// What is wrong and what to do.
    pub message: String,
}

impl Diagnostic {
    /// Formats as `file:line: error: message`.
    pub fn render(&self, file: &Path) -> String {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match self.line {
            Some(line) => format!("{}:{line}: {sev}: {}", file.display(), self.message),
            None => format!("{}: {sev}: {}", file.display(), self.message),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// What the validator needs to know about the launch.
#[derive(Debug, Clone)]
pub struct Context {
    /// The daemon's working directory (relative `executableName` paths resolve against it).
    pub cwd: PathBuf,
    /// The `PATH` the daemon will search for a bare `executableName`.
    pub path_env: Option<OsString>,
    /// Major version of the KCL being launched (2 or 3), to flag 3.x-only keys on 2.x when
    /// `settings` is not known.
    pub kcl_major: u32,
    /// The launched version, for messages.
    pub kcl_version: String,
    /// The settings this exact daemon version accepts (bean property name -> Java type), from
    /// its lock; `None` falls back to the built-in table.
    pub settings: Option<HashMap<String, String>>,
    /// How that version spells the credential keys and names providers.
    pub dialect: keys::Dialect,
}

/// SDK v1 credential provider names that KCL 2.x/3.x (SDK v2) cannot load, with the v2 name.
const SDK_V1_PROVIDERS: &[(&str, &str)] = &[
    (
        "DefaultAWSCredentialsProviderChain",
        "DefaultCredentialsProvider",
    ),
    ("AWSStaticCredentialsProvider", "StaticCredentialsProvider"),
    (
        "EC2ContainerCredentialsProviderWrapper",
        "ContainerCredentialsProvider",
    ),
    (
        "SystemPropertiesCredentialsProvider",
        "SystemPropertyCredentialsProvider",
    ),
    (
        "ClasspathPropertiesFileCredentialsProvider",
        "ProfileCredentialsProvider",
    ),
    (
        "PropertiesFileCredentialsProvider",
        "ProfileCredentialsProvider",
    ),
    (
        "STSAssumeRoleSessionCredentialsProvider",
        "StsAssumeRoleCredentialsProvider",
    ),
    (
        "WebIdentityTokenCredentialsProvider",
        "WebIdentityTokenFileCredentialsProvider",
    ),
    (
        "EnvironmentVariableCredentialsProvider",
        "EnvironmentVariableCredentialsProvider",
    ),
];

/// Checks parsed entries. Findings are sorted by line, whole-file findings first.
pub fn validate(entries: &[Entry], ctx: &Context) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let err = |line, message: String| Diagnostic {
        severity: Severity::Error,
        line,
        message,
    };
    let warn = |line, message: String| Diagnostic {
        severity: Severity::Warning,
        line,
        message,
    };

    // The effective value of each key is its last occurrence (Hashtable.put).
    // Java reads the file as ISO-8859-1: a UTF-8 byte-order mark becomes part of the first key,
    // and UTF-8 text in values turns into mojibake.
    if let Some(first) = entries.first()
        && let Some(real) = first.key.strip_prefix("\u{ef}\u{bb}\u{bf}")
    {
        out.push(err(
            Some(first.line),
            format!(
                "the file starts with a UTF-8 byte-order mark, which Java reads as part of the first key \
                 ('{real}' becomes 'ï»¿{real}'); save the file without a BOM"
            ),
        ));
    }
    for e in entries {
        if looks_like_utf8(&e.value) {
            out.push(warn(
                Some(e.line),
                format!(
                    "the value of '{}' contains UTF-8 text, but Java reads properties files as ISO-8859-1, so it \
                     arrives garbled ('{}'); write non-ASCII characters as \\uXXXX escapes",
                    e.key, e.value
                ),
            ));
        }
    }

    let mut effective: Vec<&Entry> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if let Some(later) = entries[i + 1..].iter().find(|l| l.key == e.key) {
            out.push(warn(
                Some(e.line),
                format!(
                    "'{}' is set again on line {}; the later value wins and this one is ignored",
                    e.key, later.line
                ),
            ));
        } else {
            effective.push(e);
        }
    }
    let get = |name: &str| -> Option<&Entry> {
        effective
            .iter()
            .copied()
            .find(|e| keys::lookup(&e.key, ctx.dialect).is_some_and(|k| k.name == name))
    };
    let set = |name: &str| get(name).filter(|e| !e.value.trim().is_empty());

    // Required keys.
    for name in ["executableName", "applicationName"] {
        if set(name).is_none() {
            out.push(err(
                get(name).map(|e| e.line),
                format!("'{name}' is required and missing or empty; add `{name} = ...`"),
            ));
        }
    }
    if set("streamName").is_none() && set("streamArn").is_none() {
        out.push(err(
            None,
            "neither 'streamName' nor 'streamArn' is set; add `streamName = <your stream>`".into(),
        ));
    }
    if get("AwsCredentialsProvider").is_none() {
        let (key, example) = match ctx.dialect {
            keys::Dialect::Kcl2SdkV1 => (
                "AWSCredentialsProvider",
                "DefaultAWSCredentialsProviderChain",
            ),
            keys::Dialect::SdkV2 => ("AwsCredentialsProvider", "DefaultCredentialsProvider"),
        };
        out.push(err(
            None,
            format!("'{key}' is required (the daemon refuses to start without it); add `{key} = {example}`"),
        ));
    }

    for e in &effective {
        match keys::lookup(&e.key, ctx.dialect) {
            Some(known) if !in_version(known, ctx) => out.push(warn(
                Some(e.line),
                format!(
                    "'{}' is not a setting of KCL {} (it comes from a newer release); this daemon ignores it",
                    e.key, ctx.kcl_version
                ),
            )),
            Some(known) => check_value(&e.key, known.ty, known.since, e, ctx, &mut out),
            None if let Some(java_type) = ctx.settings.as_ref().and_then(|s| s.get(&e.key)) => {
                // A setting of this daemon version that the built-in table does not describe.
                check_value(&e.key, value_type_of(java_type), Since::Kcl2, e, ctx, &mut out)
            }
            None if keys::NESTED_CLIENT_PREFIXES.iter().any(|p| e.key.starts_with(p)) => {}
            None => match keys::near_miss(&e.key) {
                Some(k) => out.push(err(
                    Some(e.line),
                    format!(
                        "unknown key '{}': did you mean '{}'? The daemon matches keys case-sensitively and \
                         silently ignores this one",
                        e.key,
                        keys::display_name(k, ctx.dialect)
                    ),
                )),
                None => out.push(warn(
                    Some(e.line),
                    format!("unknown key '{}' is ignored by the daemon", e.key),
                )),
            },
        }
    }

    // Cross-key rules.
    if get("retrievalMode").is_none() {
        out.push(warn(
            None,
            "no 'retrievalMode': the daemon defaults to enhanced fan-out, which registers a stream consumer \
             that is billed separately; set `retrievalMode = POLLING` unless you want fan-out (then say \
             `retrievalMode = FANOUT`)"
                .into(),
        ));
    }
    let grace = get("shutdownGraceMillis");
    if grace.is_none_or(|e| e.value.trim().parse::<i64>().is_ok_and(|v| v <= 0)) {
        out.push(warn(
            grace.map(|e| e.line),
            "no positive 'shutdownGraceMillis': on SIGTERM/Ctrl-C the daemon does not wait for your processors to \
             checkpoint (graceful shutdown does nothing); set e.g. `shutdownGraceMillis = 30000`"
                .into(),
        ));
    }
    let metrics_off =
        get("metricsLevel").is_some_and(|e| e.value.trim().eq_ignore_ascii_case("NONE"));
    if !metrics_off {
        for name in ["kinesisEndpoint", "dynamoDBEndpoint"] {
            if let Some(e) = get(name).filter(|e| is_local_endpoint(&e.value)) {
                out.push(warn(
                    Some(e.line),
                    format!(
                        "'{name}' points at a local endpoint but metrics are on: there is no CloudWatch endpoint key, so \
                         the daemon sends metrics to real CloudWatch (or fails to); set `metricsLevel = NONE`"
                    ),
                ));
                break;
            }
        }
    }
    if let (Some(name), Some(arn)) = (set("streamName"), set("streamArn"))
        && is_stream_arn(arn.value.trim())
        && arn.value.trim().rsplit('/').next() != Some(name.value.as_str())
    {
        out.push(warn(
            Some(name.line),
            format!(
                "'streamName' ({}) differs from the stream in 'streamArn' (line {}); the daemon uses the ARN's stream",
                name.value, arn.line
            ),
        ));
    }
    if let (Some(a), Some(b)) = (
        get("initialPositionInStream"),
        get("initialPositionInStreamExtended"),
    ) {
        out.push(warn(
            Some(b.line),
            format!(
                "'initialPositionInStream' (line {}) and 'initialPositionInStreamExtended' set the same field and the \
                 daemon applies keys in no fixed order; keep only one",
                a.line
            ),
        ));
    }

    out.sort_by_key(|d| d.line.unwrap_or(0));
    out
}

fn check_value(
    key: &str,
    ty: ValueType,
    since: Since,
    e: &Entry,
    ctx: &Context,
    out: &mut Vec<Diagnostic>,
) {
    let err = |message: String| Diagnostic {
        severity: Severity::Error,
        line: Some(e.line),
        message,
    };
    let warn = |message: String| Diagnostic {
        severity: Severity::Warning,
        line: Some(e.line),
        message,
    };
    let value = e.value.as_str();
    let trimmed = value.trim();

    if since == Since::Kcl3 && ctx.kcl_major < 3 && ctx.settings.is_none() {
        out.push(warn(format!(
            "'{key}' is a KCL 3.x setting; the KCL {} daemon ignores it",
            ctx.kcl_major
        )));
    }
    // Trailing whitespace matters for values the daemon does not trim.
    let trims = matches!(ty, ValueType::Int | ValueType::Long | ValueType::Double);
    if !trims && key != "executableName" && value != value.trim_end() && !trimmed.is_empty() {
        if key == "regionName" {
            // `Region.of("us-east-1 ")` is accepted, then endpoint resolution fails at run time.
            out.push(err(format!(
                "the value of '{key}' ends with whitespace ('{value}'), which breaks AWS endpoint resolution; remove it"
            )));
        } else {
            out.push(warn(format!(
                "the value of '{key}' ends with whitespace, which the daemon keeps ('{value}'); remove it"
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
                    "'{key}' must be a whole number{}; the daemon would silently use 0 for '{value}'",
                    if ty == ValueType::Int { " (32-bit)" } else { "" }
                ))),
                Some(0) if key == "timeoutInSeconds" => out.push(err(
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
                out.push(err(format!("'{key}' must be a number, not '{value}'")));
            }
        }
        ValueType::PrimitiveBool | ValueType::Bool => match parse_bool(value) {
            None => out.push(err(format!(
                "'{key}' must be true or false, not '{value}': the daemon reads anything else (including a trailing \
                 space) as false"
            ))),
            Some(false) if ty == ValueType::PrimitiveBool => out.push(warn(format!(
                "'{key} = false' has no effect: this setting can only be switched on; remove the line"
            ))),
            Some(_) => {}
        },
        ValueType::Enum(values) => {
            if !values.iter().any(|v| v.eq_ignore_ascii_case(value)) {
                out.push(err(format!(
                    "'{key}' must be one of {} (case does not matter, surrounding spaces do), not '{value}'",
                    values.join(", ")
                )));
            }
        }
        ValueType::Url => {
            let ok = ["http://", "https://"]
                .iter()
                .any(|s| trimmed.len() > s.len() && trimmed[..s.len()].eq_ignore_ascii_case(s));
            if !ok || value != trimmed {
                out.push(err(format!(
                    "'{key}' must be a URL with scheme and no surrounding spaces, e.g. http://127.0.0.1:4567, not '{value}'"
                )));
            }
        }
        ValueType::Credentials => check_credentials(&e.key, value, ctx.dialect, out, e.line),
        ValueType::Duration => {
            if !is_iso_duration(trimmed) {
                out.push(err(format!(
                    "'{key}' must be an ISO-8601 duration such as PT12H or P1D, not '{value}'"
                )));
            }
        }
        ValueType::Tags => {
            for pair in trimmed.split(',').filter(|p| !p.trim().is_empty()) {
                if pair.split_once('=').is_none_or(|(k, _)| k.trim().is_empty()) {
                    out.push(warn(format!(
                        "'{key}': '{pair}' is not a key=value pair; the daemon skips it"
                    )));
                }
            }
        }
        ValueType::StreamArn => {
            if !trimmed.is_empty() && !is_stream_arn(trimmed) {
                out.push(err(format!(
                    "'{key}' must look like arn:aws:kinesis:<region>:<12-digit account>:stream/<name>, not '{value}'"
                )));
            }
        }
        ValueType::Unsettable => out.push(err(format!(
            "'{key}' cannot be set from a properties file (the daemon has no converter from text for it); remove it"
        ))),
        ValueType::Text => {
            if key == "executableName" && !trimmed.is_empty() {
                check_executable(value, ctx, out, e.line);
            }
        }
    }
}

/// Keys the daemon reads itself (not bean settings), present in every version.
const DAEMON_KEYS: &[&str] = &["executableName", "processingLanguage", "maxActiveThreads"];

/// `Introspector.decapitalize`: the BeanUtils property name of a setter's suffix.
fn bean_property(name: &str) -> String {
    let mut chars = name.chars();
    match (chars.next(), chars.next()) {
        (Some(a), Some(b)) if a.is_ascii_uppercase() && b.is_ascii_uppercase() => name.to_string(),
        (Some(a), _) => a.to_ascii_lowercase().to_string() + &name[a.len_utf8()..],
        _ => name.to_string(),
    }
}

/// True if the launched version has this setting (always true without a settings list).
fn in_version(known: &KnownKey, ctx: &Context) -> bool {
    let Some(settings) = &ctx.settings else {
        return true;
    };
    DAEMON_KEYS.contains(&known.name)
        || known.name.contains('.')
        || known.ty == ValueType::Credentials
        || settings.contains_key(&bean_property(known.name))
}

/// How a value of a setter's Java type is converted (unknown types are not checked).
fn value_type_of(java_type: &str) -> ValueType {
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

/// AWS SDK for Java v2 provider names, which a KCL 2.x daemon before 2.7 cannot load.
const SDK_V2_ONLY_PROVIDERS: &[(&str, &str)] = &[
    (
        "DefaultCredentialsProvider",
        "DefaultAWSCredentialsProviderChain",
    ),
    ("StaticCredentialsProvider", "AWSStaticCredentialsProvider"),
    (
        "SystemPropertyCredentialsProvider",
        "SystemPropertiesCredentialsProvider",
    ),
    (
        "WebIdentityTokenFileCredentialsProvider",
        "WebIdentityTokenCredentialsProvider",
    ),
    (
        "ContainerCredentialsProvider",
        "EC2ContainerCredentialsProviderWrapper",
    ),
    (
        "StsAssumeRoleCredentialsProvider",
        "STSAssumeRoleSessionCredentialsProvider",
    ),
];

fn check_credentials(
    key: &str,
    value: &str,
    dialect: keys::Dialect,
    out: &mut Vec<Diagnostic>,
    line: usize,
) {
    let mut push = |severity, message| {
        out.push(Diagnostic {
            severity,
            line: Some(line),
            message,
        })
    };
    for element in value.split(',') {
        let name = element.trim().split('|').next().unwrap_or("").trim();
        if name.is_empty() {
            continue;
        }
        let simple = name.rsplit('.').next().unwrap_or(name);
        match dialect {
            keys::Dialect::SdkV2 => {
                let v1_package = name.starts_with("com.amazonaws.auth.");
                let hit = SDK_V1_PROVIDERS.iter().find(|(v1, _)| *v1 == simple);
                if let Some((_, v2)) = hit.filter(|(v1, v2)| v1 != v2 || v1_package) {
                    push(
                        Severity::Warning,
                        format!(
                            "'{key}': '{name}' is an AWS SDK for Java v1 provider, which this KCL cannot load (it only \
                             warns and builds an empty chain); use '{v2}'"
                        ),
                    );
                } else if v1_package {
                    push(
                        Severity::Warning,
                        format!(
                            "'{key}': '{name}' is in the AWS SDK for Java v1 package com.amazonaws.auth, which this KCL \
                             cannot load; use an SDK v2 provider such as DefaultCredentialsProvider"
                        ),
                    );
                }
            }
            keys::Dialect::Kcl2SdkV1 => {
                let v2_package = name.starts_with("software.amazon.awssdk.");
                if let Some((v2, v1)) = SDK_V2_ONLY_PROVIDERS.iter().find(|(v2, _)| *v2 == simple) {
                    push(
                        Severity::Error,
                        format!(
                            "'{key}': '{v2}' is an AWS SDK for Java v2 provider, but this KCL 2.x daemon loads SDK v1 \
                             providers and fails with \"No credential providers specified\"; use '{v1}'"
                        ),
                    );
                } else if v2_package {
                    push(
                        Severity::Error,
                        format!(
                            "'{key}': '{name}' is an AWS SDK for Java v2 class, but this KCL 2.x daemon loads SDK v1 \
                             providers; use e.g. DefaultAWSCredentialsProviderChain"
                        ),
                    );
                }
            }
        }
    }
}

/// True if the Latin-1-decoded `value` holds a valid multi-byte UTF-8 sequence, i.e. the file
/// was saved as UTF-8 with non-ASCII text.
fn looks_like_utf8(value: &str) -> bool {
    if value.chars().any(|c| c as u32 > 0xff) || value.is_ascii() {
        return false;
    }
    let bytes: Vec<u8> = value.chars().map(|c| c as u32 as u8).collect();
    std::str::from_utf8(&bytes).is_ok()
}

fn is_local_endpoint(url: &str) -> bool {
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

fn is_iso_duration(s: &str) -> bool {
    let s = s.strip_prefix(['P', 'p']).unwrap_or("");
    if s.is_empty() || s.starts_with('-') {
        return false;
    }
    let (date, time) = match s.find(['T', 't']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
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

fn is_stream_arn(s: &str) -> bool {
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

/// Checks `executableName` the way the daemon will start it: split on runs of spaces, no shell,
/// a name with `/` relative to the working directory, a bare name on `PATH`.
fn check_executable(value: &str, ctx: &Context, out: &mut Vec<Diagnostic>, line: usize) {
    let err = |message: String| Diagnostic {
        severity: Severity::Error,
        line: Some(line),
        message,
    };
    let words: Vec<&str> = value.split(' ').filter(|w| !w.is_empty()).collect();
    let Some(program) = words.first() else { return };
    if value.contains('\t') {
        out.push(Diagnostic {
            severity: Severity::Warning,
            line: Some(line),
            message: "'executableName' contains a tab: the daemon splits only on spaces, so the tab stays inside an \
                      argument"
                .into(),
        });
    }
    if let Some(found) = resolve_program(program, ctx) {
        if !crate::java::is_executable(&found) {
            out.push(err(format!(
                "'executableName': {} is not executable; run `chmod +x {}` or point at the built binary",
                found.display(),
                found.display()
            )));
        }
        return;
    }
    // Not found: is it a path with spaces that the daemon would cut apart?
    for n in 2..=words.len() {
        let joined = words[..n].join(" ");
        if resolve_program(&joined, ctx).is_some() || Path::new(&joined).is_dir() {
            out.push(err(format!(
                "'executableName': the path '{joined}' contains a space, but the daemon splits executableName on \
                 spaces (no quoting) and would try to run '{program}'; move the program or link it from a path \
                 without spaces"
            )));
            return;
        }
    }
    let hint = if program.contains('/') {
        format!(
            "relative paths resolve against the working directory, {}",
            ctx.cwd.display()
        )
    } else {
        "a bare name is looked up on PATH; use ./name or an absolute path for a program in the current directory"
            .into()
    };
    out.push(err(format!(
        "'executableName': program '{program}' not found ({hint}). Build your processor (cargo build --release) and \
         point executableName at it"
    )));
}

fn resolve_program(program: &str, ctx: &Context) -> Option<PathBuf> {
    if program.contains('/') {
        let p = ctx.cwd.join(program);
        p.is_file().then_some(p)
    } else {
        which::which_in(program, ctx.path_env.as_ref(), &ctx.cwd).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::properties::parse;

    fn ctx() -> Context {
        Context {
            cwd: std::env::temp_dir(),
            path_env: std::env::var_os("PATH"),
            kcl_major: 3,
            kcl_version: "3.1.3".into(),
            settings: None,
            dialect: keys::Dialect::SdkV2,
        }
    }

    const GOOD: &str = "executableName = sh\napplicationName = app\nstreamName = s\n\
        AwsCredentialsProvider = DefaultCredentialsProvider\nretrievalMode = POLLING\nshutdownGraceMillis = 30000\n";

    fn check(extra: &str) -> Vec<Diagnostic> {
        check_with(&format!("{GOOD}{extra}"), &ctx())
    }

    fn check_with(text: &str, ctx: &Context) -> Vec<Diagnostic> {
        validate(&parse(text.as_bytes()).unwrap(), ctx)
    }

    fn has(diags: &[Diagnostic], sev: Severity, line: Option<usize>, needle: &str) -> bool {
        diags
            .iter()
            .any(|d| d.severity == sev && d.line == line && d.message.contains(needle))
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
        let c = Context {
            cwd: dir.path().to_path_buf(),
            ..ctx()
        };
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
        let d = validate(&parse(&bom).unwrap(), &ctx());
        assert!(
            has(&d, Severity::Error, Some(1), "byte-order mark"),
            "{d:?}"
        );
        let d = validate(
            &parse(format!("{GOOD}workerId = caf\u{e9}\n").as_bytes()).unwrap(),
            &ctx(),
        );
        assert!(has(&d, Severity::Warning, Some(7), "ISO-8859-1"), "{d:?}");
        // A real Latin-1 byte (or a \\u escape) is what Java expects: no warning.
        let mut latin1 = GOOD.as_bytes().to_vec();
        latin1.extend_from_slice(b"workerId = caf\xe9\n");
        assert!(validate(&parse(&latin1).unwrap(), &ctx()).is_empty());
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
        let c = Context {
            kcl_major: 2,
            dialect: keys::Dialect::Kcl2SdkV1,
            ..ctx()
        };
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
        let settings: HashMap<String, String> = [
            ("applicationName", "java.lang.String"),
            ("streamName", "java.lang.String"),
            (
                "retrievalMode",
                "software.amazon.kinesis.multilang.config.RetrievalMode",
            ),
            ("shutdownGraceMillis", "long"),
            ("brandNewSetting", "int"),
            ("awsCredentialsProvider", "java.lang.String"),
        ]
        .into_iter()
        .map(|(k, t)| (k.to_string(), t.to_string()))
        .collect();
        let c = Context {
            settings: Some(settings),
            ..ctx()
        };
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
            let c = Context {
                settings: Some(settings.clone()),
                ..ctx()
            };
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
        let c = Context {
            kcl_major: 2,
            dialect: keys::Dialect::SdkV2,
            ..ctx()
        };
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
        assert!(
            is_iso_duration("PT12H") && is_iso_duration("P1DT2H3M4.5S") && is_iso_duration("P2D")
        );
        assert!(!is_iso_duration("-PT1H") && !is_iso_duration("PT") && !is_iso_duration("12h"));
        assert!(is_stream_arn(
            "arn:aws-cn:kinesis:cn-north-1:123456789012:stream/a"
        ));
    }
}
