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
fn canonical(key: &str, dialect: Dialect) -> &str {
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
