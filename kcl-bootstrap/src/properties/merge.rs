//! Which setting of each key the daemon gets: the last one in precedence order (defaults, the
//! file, the environment, flags), keys of the built-in table compared by the name the daemon
//! resolves them to (so `--set AWSCredentialsProvider=...` replaces the file's
//! `AwsCredentialsProvider`), other keys exactly.

use super::diagnostic::Diagnostic;
use super::keys::{self, Dialect};
use super::origin::{Origin, Setting};
use crate::display::shown;
use std::collections::HashMap;

/// The name two settings are compared by.
pub(crate) fn canonical(key: &str, dialect: Dialect) -> &str {
    keys::lookup(key, dialect).map_or(key, |k| k.name)
}

/// The winning setting of each key, in the order the keys first appear. A setting shadowed by
/// a later one of the same kind of source (the file twice, `--set` twice) is reported as a
/// warning into `out`; one shadowed by an override or shadowing a default is the point.
pub(crate) fn effective<'a>(
    settings: &'a [Setting],
    dialect: Dialect,
    out: &mut Vec<Diagnostic>,
) -> Vec<&'a Setting> {
    // (first index, winning index) per key; one pass, so 100,000s of keys stay linear.
    let mut seen: HashMap<&str, (usize, usize)> = HashMap::with_capacity(settings.len());
    for (i, s) in settings.iter().enumerate() {
        seen.entry(canonical(&s.key, dialect))
            .and_modify(|(_, won)| *won = i)
            .or_insert((i, i));
    }
    let mut effective = Vec::with_capacity(seen.len());
    for (i, s) in settings.iter().enumerate() {
        let (first, won) = seen[canonical(&s.key, dialect)];
        if won == i {
            // Each key where it first appeared, so the effective file reads like the user's.
            effective.push((first, s));
            continue;
        }
        let later = &settings[won].origin;
        if later.same_source(&s.origin) {
            let place = match later {
                Origin::Line(line) => format!("on line {line}"),
                other => format!("by {other}"),
            };
            out.push(Diagnostic::warning(
                Some(s.origin.clone()),
                format!(
                    "'{}' is set again {place}; the later value wins and this one is ignored",
                    shown(&s.key)
                ),
            ));
        }
    }
    effective.sort_by_key(|(first, _)| *first);
    effective.into_iter().map(|(_, s)| s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(key: &str, value: &str, origin: Origin) -> Setting {
        Setting::new(key.into(), value.into(), origin)
    }

    #[test]
    fn the_last_source_wins_by_the_name_the_daemon_resolves() {
        let settings = vec![
            setting("retrievalMode", "POLLING", Origin::Default),
            setting("AwsCredentialsProvider", "A", Origin::Line(1)),
            setting("custom.key", "1", Origin::Line(2)),
            setting("retrievalMode", "FANOUT", Origin::Line(3)),
            setting("custom.key", "2", Origin::Line(4)),
            setting(
                "awscredentialsprovider",
                "B",
                Origin::Env("KCL_PROPERTY_X".into()),
            ),
            setting("Custom.key", "3", Origin::Flag("--set")),
            setting("AWSCredentialsProvider", "C", Origin::Flag("--set")),
        ];
        let mut out = Vec::new();
        let effective = effective(&settings, Dialect::SdkV2, &mut out);
        let got: Vec<(&str, &str)> = effective
            .iter()
            .map(|s| (s.key.as_str(), s.value.as_str()))
            .collect();
        // Each key where it first appeared; other keys (not in the table) compare exactly.
        assert_eq!(
            got,
            vec![
                ("retrievalMode", "FANOUT"),
                ("AWSCredentialsProvider", "C"),
                ("custom.key", "2"),
                ("Custom.key", "3"),
            ]
        );
        // Only the file's own duplicate is worth a warning, on the shadowed line.
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].origin, Some(Origin::Line(2)));
        assert!(
            out[0].message.contains("set again on line 4"),
            "{}",
            out[0].message
        );
    }
}
