//! Settings from flags and the environment, which override the properties file (12-factor).
//!
//! - `--set KEY=VALUE` (repeatable): `KEY` exactly as in a file (case-sensitive, dots kept),
//!   split at the first `=`; the value is taken as is, with no escapes to undo.
//! - Shortcuts: `--stream`, `--application`, `--region`, `--executable` set `streamName`,
//!   `applicationName`, `regionName`, `executableName`.
//! - `KCL_PROPERTY_<NAME>=VALUE`: environment variable names cannot hold dots and are written
//!   in upper case by convention, so `<NAME>` is matched against the keys this daemon version
//!   knows ignoring case and `_`, with `__` standing for `.`: `KCL_PROPERTY_STREAM_NAME`,
//!   `KCL_PROPERTY_DYNAMODB_ENDPOINT`, `KCL_PROPERTY_FANOUT_CONFIG__CONSUMER_NAME`. A name that
//!   matches no known key is taken as the key itself (case kept, `__` as `.`), so
//!   `KCL_PROPERTY_kinesisClient__region` sets `kinesisClient.region`.
//!
//! Precedence, lowest first: the file, the environment, the flags. Nothing here quotes a value:
//! a malformed `--set` is named by its position, so a pasted secret is not echoed.

use super::context::Context;
use super::keys::{self, Dialect};
use super::origin::{Origin, Setting};
use crate::display::shown_whole;
use std::collections::HashMap;
use std::ffi::OsString;

/// Prefix of the environment variables that set properties.
pub(crate) const ENV_PREFIX: &str = "KCL_PROPERTY_";

/// A flag that sets one key, and its value if given.
pub(crate) struct Shortcut<'a> {
    /// The flag, e.g. `--stream`.
    pub(crate) flag: &'static str,
    /// The key it sets, e.g. `streamName`.
    pub(crate) key: &'static str,
    /// Its value, if the flag was given.
    pub(crate) value: Option<&'a str>,
}

/// Why the overrides cannot be used (a usage error).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum OverrideError {
    /// `--set` without `=`.
    #[error(
        "--set number {index} has no '=' (its text is not shown, it may be a secret); write --set KEY=VALUE"
    )]
    NoEquals {
        /// 1-based position among the `--set` flags.
        index: usize,
    },
    /// `--set =value`.
    #[error("--set number {index} has an empty key; write --set KEY=VALUE")]
    EmptyKey {
        /// 1-based position among the `--set` flags.
        index: usize,
    },
    /// `--set " key =v"`: the daemon would see a different key.
    #[error(
        "--set number {index}: the key '{key}' has blanks around it, which a properties file cannot mean; write \
         --set KEY=VALUE without spaces around KEY"
    )]
    BlankAroundKey {
        /// 1-based position among the `--set` flags.
        index: usize,
        /// The key, shown escaped.
        key: String,
    },
    /// A shortcut flag and `--set` name the same key.
    #[error("{flag} and --set {key}=... both set '{key}'; keep one")]
    FlagConflict {
        /// The shortcut flag.
        flag: &'static str,
        /// The key.
        key: String,
    },
    /// `KCL_PROPERTY_` with nothing after it.
    #[error(
        "the environment variable {ENV_PREFIX} names no key; write {ENV_PREFIX}<KEY>=VALUE or unset it"
    )]
    EnvEmptyName,
    /// A variable whose name or value is not valid Unicode.
    #[error("the environment variable {name} is not valid UTF-8; set it to plain text or unset it")]
    EnvNotUnicode {
        /// The name, shown escaped.
        name: String,
    },
    /// Two variables map to the same key, and the environment has no order.
    #[error("the environment variables {first} and {second} both set '{key}'; unset one")]
    EnvConflict {
        /// One variable.
        first: String,
        /// The other.
        second: String,
        /// The key.
        key: String,
    },
}

/// The override settings, environment first and flags last (the later wins), each with its
/// origin. `env` is the process environment (every variable; only ours are read).
pub(crate) fn overrides(
    sets: &[String],
    shortcuts: &[Shortcut<'_>],
    env: impl IntoIterator<Item = (OsString, OsString)>,
    ctx: &Context,
) -> Result<Vec<Setting>, OverrideError> {
    let mut out = from_env(env, ctx)?;
    let flags_start = out.len();
    for (i, arg) in sets.iter().enumerate() {
        let index = i + 1;
        let (key, value) = arg
            .split_once('=')
            .ok_or(OverrideError::NoEquals { index })?;
        if key.is_empty() {
            return Err(OverrideError::EmptyKey { index });
        }
        if key.trim() != key {
            return Err(OverrideError::BlankAroundKey {
                index,
                key: shown_whole(key),
            });
        }
        out.push(Setting::new(
            key.into(),
            value.into(),
            Origin::Flag("--set"),
        ));
    }
    let dialect = ctx.dialect();
    for shortcut in shortcuts {
        let Some(value) = shortcut.value else {
            continue;
        };
        let same = |s: &Setting| canonical(&s.key, dialect) == canonical(shortcut.key, dialect);
        if let Some(s) = out[flags_start..].iter().find(|s| same(s)) {
            return Err(OverrideError::FlagConflict {
                flag: shortcut.flag,
                key: shown_whole(&s.key),
            });
        }
        out.push(Setting::new(
            shortcut.key.into(),
            value.into(),
            Origin::Flag(shortcut.flag),
        ));
    }
    Ok(out)
}

fn canonical(key: &str, dialect: Dialect) -> &str {
    keys::lookup(key, dialect).map_or(key, |k| k.name)
}

/// `KCL_PROPERTY_*` settings, sorted by variable name (the environment has no order).
fn from_env(
    env: impl IntoIterator<Item = (OsString, OsString)>,
    ctx: &Context,
) -> Result<Vec<Setting>, OverrideError> {
    let names = KeyNames::new(ctx);
    let mut found: Vec<(String, String, String)> = Vec::new();
    for (name, value) in env {
        let prefix_bytes = ENV_PREFIX.as_bytes();
        if !name.as_encoded_bytes().starts_with(prefix_bytes) {
            continue;
        }
        let shown_name = shown_whole(&name.to_string_lossy());
        let not_unicode = || OverrideError::EnvNotUnicode {
            name: shown_name.clone(),
        };
        let name = name.into_string().map_err(|_| not_unicode())?;
        let value = value.into_string().map_err(|_| not_unicode())?;
        let suffix = &name[ENV_PREFIX.len()..];
        if suffix.is_empty() {
            return Err(OverrideError::EnvEmptyName);
        }
        found.push((names.key_for(suffix), name, value));
    }
    found.sort_by(|a, b| a.1.cmp(&b.1));
    let dialect = ctx.dialect();
    let mut by_key: HashMap<String, String> = HashMap::new();
    for (key, name, _) in &found {
        if let Some(first) = by_key.insert(canonical(key, dialect).to_string(), name.clone()) {
            return Err(OverrideError::EnvConflict {
                first: shown_whole(&first),
                second: shown_whole(name),
                key: shown_whole(key),
            });
        }
    }
    Ok(found
        .into_iter()
        .map(|(key, name, value)| Setting::new(key, value, Origin::Env(name)))
        .collect())
}

/// The keys an environment variable name can stand for, by their normalised form.
struct KeyNames(HashMap<String, String>);

impl KeyNames {
    fn new(ctx: &Context) -> KeyNames {
        let mut map = HashMap::new();
        let lock_settings = ctx.settings().into_iter().flat_map(|s| s.keys().cloned());
        let table = keys::KNOWN_KEYS
            .iter()
            .map(|k| keys::display_name(k, ctx.dialect()));
        for key in lock_settings.chain(table) {
            map.insert(normalise_key(&key), key);
        }
        KeyNames(map)
    }

    /// The key for the part of a variable name after the prefix.
    fn key_for(&self, suffix: &str) -> String {
        self.0
            .get(&normalise_env(suffix))
            .cloned()
            .unwrap_or_else(|| suffix.replace("__", "."))
    }
}

/// `fanoutConfig.consumerName` -> `fanoutconfig.consumername`.
fn normalise_key(key: &str) -> String {
    key.to_ascii_lowercase()
}

/// `FANOUT_CONFIG__CONSUMER_NAME` -> `fanoutconfig.consumername`.
fn normalise_env(suffix: &str) -> String {
    suffix
        .split("__")
        .map(|part| part.replace('_', "").to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::Lock;

    fn ctx(version: &str) -> Context {
        let sha = "0".repeat(64);
        let text = format!(
            "kcl-version\t{version}\nmin-java\t8\njar\ta:b:1\ta/b-1.jar\t1\t{sha}\t8\n\
             key\tleaseTableScanTotalSegments\tjava.lang.Integer\n"
        );
        Context::new(&Lock::parse(&text).unwrap(), "/".into(), None)
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }

    fn keys_of(settings: &[Setting]) -> Vec<(&str, &str)> {
        settings
            .iter()
            .map(|s| (s.key.as_str(), s.value.as_str()))
            .collect()
    }

    #[test]
    fn environment_names_map_to_keys() {
        let c = ctx("3.1.3");
        let got = overrides(
            &[],
            &[],
            env(&[
                ("KCL_PROPERTY_STREAM_NAME", "s"),
                ("KCL_PROPERTY_DYNAMODB_ENDPOINT", "http://127.0.0.1:1"),
                ("KCL_PROPERTY_FANOUT_CONFIG__CONSUMER_NAME", "c"),
                (
                    "KCL_PROPERTY_AWS_CREDENTIALS_PROVIDER",
                    "DefaultCredentialsProvider",
                ),
                ("KCL_PROPERTY_maxRecords", "10"),
                ("KCL_PROPERTY_LEASE_TABLE_SCAN_TOTAL_SEGMENTS", "2"),
                ("KCL_PROPERTY_kinesisClient__region", "eu-west-1"),
                ("KCL_PROPERTY_WORKER_METRICS_EMA_ALPHA", "0.5"),
                ("KCL_OTHER", "ignored"),
                ("PATH", "/bin"),
            ]),
            &c,
        )
        .unwrap();
        let mut got = keys_of(&got);
        got.sort();
        assert_eq!(
            got,
            vec![
                ("AwsCredentialsProvider", "DefaultCredentialsProvider"),
                ("dynamoDBEndpoint", "http://127.0.0.1:1"),
                ("fanoutConfig.consumerName", "c"),
                ("kinesisClient.region", "eu-west-1"),
                ("leaseTableScanTotalSegments", "2"),
                ("maxRecords", "10"),
                ("streamName", "s"),
                ("workerMetricsEMAAlpha", "0.5"),
            ]
        );
        // KCL 2 before 2.7 spells the credentials key its own way.
        let old = overrides(
            &[],
            &[],
            env(&[("KCL_PROPERTY_AWS_CREDENTIALS_PROVIDER", "x")]),
            &ctx("2.5.4"),
        )
        .unwrap();
        assert_eq!(old[0].key, "AWSCredentialsProvider");
        assert_eq!(
            old[0].origin,
            Origin::Env("KCL_PROPERTY_AWS_CREDENTIALS_PROVIDER".into())
        );
    }

    #[test]
    fn no_two_known_keys_share_an_environment_name() {
        let mut seen = HashMap::new();
        for k in keys::KNOWN_KEYS {
            assert!(!k.name.contains('_'), "{} has an underscore", k.name);
            if let Some(other) = seen.insert(normalise_key(k.name), k.name) {
                panic!("{} and {other} collide", k.name);
            }
        }
    }

    #[test]
    fn environment_conflicts_and_bad_names_are_usage_errors() {
        let c = ctx("3.1.3");
        let e = overrides(
            &[],
            &[],
            env(&[
                ("KCL_PROPERTY_streamName", "a"),
                ("KCL_PROPERTY_STREAM_NAME", "b"),
            ]),
            &c,
        )
        .unwrap_err();
        assert!(matches!(e, OverrideError::EnvConflict { .. }), "{e}");
        let e = overrides(&[], &[], env(&[("KCL_PROPERTY_", "a")]), &c).unwrap_err();
        assert_eq!(e, OverrideError::EnvEmptyName);
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStringExt;
            let bad = vec![(
                OsString::from("KCL_PROPERTY_streamName"),
                OsString::from_vec(vec![0xff]),
            )];
            let e = overrides(&[], &[], bad, &c).unwrap_err();
            assert!(matches!(e, OverrideError::EnvNotUnicode { .. }), "{e}");
        }
    }

    #[test]
    fn set_flags_parse_and_flags_come_last() {
        let c = ctx("3.1.3");
        let sets = vec![
            "maxRecords=10".to_string(),
            "a.b==x=y ".to_string(),
            "k=".to_string(),
        ];
        let shortcuts = [Shortcut {
            flag: "--stream",
            key: "streamName",
            value: Some("s"),
        }];
        let got = overrides(
            &sets,
            &shortcuts,
            env(&[("KCL_PROPERTY_MAX_RECORDS", "5")]),
            &c,
        )
        .unwrap();
        assert_eq!(
            keys_of(&got),
            vec![
                ("maxRecords", "5"),
                ("maxRecords", "10"),
                ("a.b", "=x=y "),
                ("k", ""),
                ("streamName", "s"),
            ]
        );
        assert_eq!(got[1].origin, Origin::Flag("--set"));
        assert_eq!(got[4].origin, Origin::Flag("--stream"));
        let bad = |arg: &str| overrides(&[arg.to_string()], &[], env(&[]), &c).unwrap_err();
        assert_eq!(
            bad("AKIAIOSFODNN7EXAMPLE"),
            OverrideError::NoEquals { index: 1 }
        );
        assert!(!bad("AKIAIOSFODNN7EXAMPLE").to_string().contains("AKIA"));
        assert_eq!(bad("=v"), OverrideError::EmptyKey { index: 1 });
        assert!(matches!(bad(" k=v"), OverrideError::BlankAroundKey { .. }));
        let conflict = overrides(&["streamName=x".into()], &shortcuts, env(&[]), &c).unwrap_err();
        assert!(matches!(
            conflict,
            OverrideError::FlagConflict {
                flag: "--stream",
                ..
            }
        ));
    }
}
