//! Catching the daemon's silent traps before launch.
//!
//! The daemon ignores unknown and mis-cased keys, turns bad numbers into 0, cannot set some
//! booleans to false, keeps trailing spaces, and defaults to paid enhanced fan-out. Each rule
//! reports one of those with the line it comes from; errors refuse the launch.
//!
//! Linear in the size of the file: keys are looked up in hash maps, and typo suggestions are
//! computed only for keys short enough to be a typo of a known one, with a bounded edit distance.
//! Every piece of the file that a message quotes goes through [`shown`], so a key holding a
//! terminal escape sequence or a megabyte of text is shown harmlessly.

mod credentials;
mod executable;
mod threads;
mod values;

use super::context::Context;
use super::diagnostic::Diagnostic;
use super::keys::{self, KnownKey, Since};
use super::merge;
use super::origin::Setting;
use super::redact;
use crate::display::shown;
use std::collections::HashMap;

/// Checks settings given in precedence order (a later one wins). Findings are sorted:
/// whole-configuration findings first, then by line, then the overrides.
pub(crate) fn validate(settings: &[Setting], ctx: &Context) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    encoding_traps(settings, &mut out);
    let effective = merge::effective(settings, ctx.dialect(), &mut out);
    let resolved: Vec<(&Setting, Option<&'static KnownKey>)> = effective
        .iter()
        .map(|e| (*e, keys::lookup(&e.key, ctx.dialect())))
        .collect();
    let known = Known::new(&resolved);
    required_keys(&known, ctx, &mut out);
    for (e, k) in &resolved {
        check_entry(e, *k, ctx, &mut out);
    }
    cross_key_rules(&known, &mut out);
    threads::check(&known, &mut out);
    out.sort_by_key(Diagnostic::order);
    out
}

/// The effective entry of each known key, by its canonical name.
struct Known<'a>(HashMap<&'static str, &'a Setting>);

impl<'a> Known<'a> {
    fn new(resolved: &[(&'a Setting, Option<&'static KnownKey>)]) -> Known<'a> {
        let mut map = HashMap::new();
        for (e, k) in resolved {
            if let Some(k) = k {
                map.entry(k.name).or_insert(*e);
            }
        }
        Known(map)
    }

    /// The entry for a key, by its table name.
    fn get(&self, name: &str) -> Option<&'a Setting> {
        self.0.get(name).copied()
    }

    /// The entry for a key if its value is not blank.
    fn set(&self, name: &str) -> Option<&'a Setting> {
        self.get(name).filter(|e| !e.value.trim().is_empty())
    }
}

/// Java reads the file as ISO-8859-1: a UTF-8 byte-order mark becomes part of the first key, and
/// UTF-8 text in values turns into mojibake.
fn encoding_traps(settings: &[Setting], out: &mut Vec<Diagnostic>) {
    if let Some(first) = settings.iter().find(|s| s.line().is_some())
        && let Some(real) = first.key.strip_prefix("\u{ef}\u{bb}\u{bf}")
    {
        out.push(Diagnostic::error(
            Some(first.origin.clone()),
            format!(
                "the file starts with a UTF-8 byte-order mark, which Java reads as part of the first key \
                 ('{}' becomes 'ï»¿{}'); save the file without a BOM",
                shown(real),
                shown(real)
            ),
        ));
    }
    for e in settings {
        if values::looks_like_utf8(&e.value) {
            out.push(Diagnostic::warning(
                Some(e.origin.clone()),
                format!(
                    "the value of '{}' contains UTF-8 text, but Java reads properties files as ISO-8859-1, so it \
                     arrives garbled ('{}'); write non-ASCII characters as \\uXXXX escapes",
                    shown(&e.key),
                    redact::shown_value(&e.key, &e.value)
                ),
            ));
        }
    }
}

fn required_keys(known: &Known<'_>, ctx: &Context, out: &mut Vec<Diagnostic>) {
    let get = |name: &str| known.get(name);
    let set = |name: &str| known.set(name);
    for name in ["executableName", "applicationName"] {
        if set(name).is_none() {
            out.push(Diagnostic::error(
                get(name).map(|e| e.origin.clone()),
                format!("'{name}' is required and missing or empty; add `{name} = ...`"),
            ));
        }
    }
    // A DynamoDB Streams lock (its launcher reads dynamoDBStreamArn) needs no Kinesis stream;
    // crate::streams checks its keys.
    let streams_lock = ctx
        .settings()
        .is_some_and(|s| s.contains_key("dynamoDBStreamArn"));
    if !streams_lock && set("streamName").is_none() && set("streamArn").is_none() {
        out.push(Diagnostic::error(
            None,
            "neither 'streamName' nor 'streamArn' is set; add `streamName = <your stream>`".into(),
        ));
    }
    if get("AwsCredentialsProvider").is_none() {
        let (key, example) = match ctx.dialect() {
            keys::Dialect::Kcl2SdkV1 => (
                "AWSCredentialsProvider",
                "DefaultAWSCredentialsProviderChain",
            ),
            keys::Dialect::SdkV2 => ("AwsCredentialsProvider", "DefaultCredentialsProvider"),
        };
        out.push(Diagnostic::error(
            None,
            format!("'{key}' is required (the daemon refuses to start without it); add `{key} = {example}`"),
        ));
    }
}

fn check_entry(e: &Setting, known: Option<&KnownKey>, ctx: &Context, out: &mut Vec<Diagnostic>) {
    match known {
        Some(known) if !values::in_version(known, ctx) => out.push(Diagnostic::warning(
            Some(e.origin.clone()),
            format!(
                "'{}' is not a setting of KCL {} (it comes from a newer release); this daemon ignores it",
                shown(&e.key),
                ctx.kcl_version()
            ),
        )),
        Some(known) => values::check_value(known.ty, known.since, e, ctx, out),
        // A setting of this daemon version that the built-in table does not describe. (A plain
        // guard rather than an `if let` guard: those need Rust 1.95, above the crate's MSRV.)
        None if ctx.settings().is_some_and(|s| s.contains_key(&e.key)) => {
            if let Some(java_type) = ctx.settings().and_then(|s| s.get(&e.key)) {
                values::check_value(values::value_type_of(java_type), Since::Kcl2, e, ctx, out)
            }
        }
        None if keys::NESTED_CLIENT_PREFIXES
            .iter()
            .any(|p| e.key.starts_with(p)) => {}
        None => match keys::near_miss(&e.key) {
            Some(k) => out.push(Diagnostic::error(
                Some(e.origin.clone()),
                format!(
                    "unknown key '{}': did you mean '{}'? The daemon matches keys case-sensitively and \
                     silently ignores this one",
                    shown(&e.key),
                    keys::display_name(k, ctx.dialect())
                ),
            )),
            None => out.push(Diagnostic::warning(
                Some(e.origin.clone()),
                format!("unknown key '{}' is ignored by the daemon", shown(&e.key)),
            )),
        },
    }
}

fn cross_key_rules(known: &Known<'_>, out: &mut Vec<Diagnostic>) {
    let get = |name: &str| known.get(name);
    let set = |name: &str| known.set(name);
    if get("retrievalMode").is_none() {
        out.push(Diagnostic::warning(
            None,
            "no 'retrievalMode': the daemon defaults to enhanced fan-out, which registers a stream consumer \
             that is billed separately; set `retrievalMode = POLLING` unless you want fan-out (then say \
             `retrievalMode = FANOUT`)"
                .into(),
        ));
    }
    let grace = get("shutdownGraceMillis");
    if grace.is_none_or(|e| e.value.trim().parse::<i64>().is_ok_and(|v| v <= 0)) {
        out.push(Diagnostic::warning(
            grace.map(|e| e.origin.clone()),
            "no positive 'shutdownGraceMillis': on SIGTERM/Ctrl-C the daemon does not wait for your processors to \
             checkpoint (graceful shutdown does nothing); set e.g. `shutdownGraceMillis = 30000`"
                .into(),
        ));
    }
    let metrics_off =
        get("metricsLevel").is_some_and(|e| e.value.trim().eq_ignore_ascii_case("NONE"));
    if !metrics_off {
        for name in ["kinesisEndpoint", "dynamoDBEndpoint"] {
            if let Some(e) = get(name).filter(|e| values::is_local_endpoint(&e.value)) {
                out.push(Diagnostic::warning(
                    Some(e.origin.clone()),
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
        && values::is_stream_arn(arn.value.trim())
        && arn.value.trim().rsplit('/').next() != Some(name.value.as_str())
    {
        out.push(Diagnostic::warning(
            Some(name.origin.clone()),
            format!(
                "'streamName' ({}) differs from the stream in 'streamArn' ({}); the daemon uses the ARN's stream",
                shown(&name.value),
                arn.origin
            ),
        ));
    }
    if let (Some(a), Some(b)) = (
        get("initialPositionInStream"),
        get("initialPositionInStreamExtended"),
    ) {
        out.push(Diagnostic::warning(
            Some(b.origin.clone()),
            format!(
                "'initialPositionInStream' ({}) and 'initialPositionInStreamExtended' set the same field and the \
                 daemon applies keys in no fixed order; keep only one",
                a.origin
            ),
        ));
    }
}

#[cfg(test)]
mod tests;
