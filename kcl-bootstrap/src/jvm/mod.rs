//! The JVM options kcl-bootstrap adds when it launches the daemon (`-e`, `--supervise`), chosen by
//! measurement (docs/bootstrap.md, "JVM defaults"), and which of them a user option drops.
//!
//! Measured with Native Memory Tracking on plain `java` (Java 17, one worker, 8 shards, 10,000
//! records of 1 KB, once every shard was checkpointed): 497 MiB committed, of which the heap 320,
//! G1's own structures 50, metaspace 38, Netty's direct buffers and other malloc 16, the code cache
//! 15, the JIT's arenas 12.5 and the thread stacks 12. Each default below targets one of those;
//! with all of them 195 MiB were committed, the JVM peaked at 219 MiB RSS instead of 377 and used
//! 2.8 s of CPU instead of 5.6, with the same drain time (`scripts/bench --worker`, medians of 3,
//! BENCHMARKS.md).
//!
//! `flags` says what a user option sets; [`choose`] drops each default whose setting the user
//! sets; `cds` keeps the AppCDS archive (`scan` looks for its marker in a dump).

pub(crate) mod cds;
pub(crate) mod flags;
mod scan;

use crate::launch::LaunchSpec;
use flags::{Setting, UserOption};
use std::path::Path;
use std::time::Duration;

/// `--jvm-defaults`: whether kcl-bootstrap adds its JVM options to a launched daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum JvmDefaults {
    /// The measured defaults (docs/bootstrap.md, "JVM defaults").
    Tuned,
    /// Plain `java`, as the official bootstraps run it.
    None,
}

/// One default: what it sets and the options that set it.
#[derive(Debug)]
struct Default {
    setting: Setting,
    options: &'static [&'static str],
}

/// The tuned defaults other than AppCDS (which `cds` adds with its archive's path).
const TUNED: [Default; 6] = [
    // G1's remembered sets and regions cost ~50 MiB; with 8 shards the daemon's live heap is a
    // few tens of MiB, which the serial collector handles with pauses of a few ms.
    Default {
        setting: Setting::Gc,
        options: &["-XX:+UseSerialGC"],
    },
    // The default initial heap is 1/64 of RAM and the heap only grows from there; starting small
    // lets it settle at what the worker uses (320 MiB committed with plain java).
    Default {
        setting: Setting::HeapSize,
        options: &["-Xms16m"],
    },
    // Give memory back after a burst (a large batch): the heap keeps 10-30 % free.
    Default {
        setting: Setting::HeapFreeRatio,
        options: &["-XX:MinHeapFreeRatio=10", "-XX:MaxHeapFreeRatio=30"],
    },
    // C1 only: the daemon moves bytes between pipes and HTTP; C2's arenas and code cost ~16 MiB
    // (code cache 15 -> 9, arenas 12.5 -> 2.3) and much of the JVM's CPU (5.6 -> 2.8 s with all
    // defaults).
    Default {
        setting: Setting::Jit,
        options: &["-XX:TieredStopAtLevel=1"],
    },
    // Netty makes 2 x cores arenas of 16 MiB chunks; one worker's traffic needs one (NMT's
    // "Other", its direct buffers: 16 -> 4 MiB).
    Default {
        setting: Setting::NettyDirectArenas,
        options: &["-Dio.netty.allocator.numDirectArenas=1"],
    },
    Default {
        setting: Setting::NettyHeapArenas,
        options: &["-Dio.netty.allocator.numHeapArenas=1"],
    },
];

/// The first Java whose JVM writes an archive at exit (`-XX:ArchiveClassesAtExit`, JEP 350); an
/// older JVM refuses to start with that option, so below it no archive is used.
pub(crate) const FIRST_ARCHIVING_JAVA: u32 = 13;

/// A default that a user option dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dropped {
    /// The default's options, space-separated.
    pub(crate) default: String,
    /// The user option that sets the same thing.
    pub(crate) by: UserOption,
}

/// The defaults that apply to one launch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chosen {
    options: Vec<String>,
    dropped: Vec<Dropped>,
    wants_archive: bool,
    /// Java's major version, below [`FIRST_ARCHIVING_JAVA`] no archive is used.
    java_major: u32,
}

/// The defaults `defaults` asks for on Java `java_major`, minus those a `user` option sets.
pub(crate) fn choose(defaults: JvmDefaults, user: &[UserOption], java_major: u32) -> Chosen {
    let mut chosen = Chosen {
        options: Vec::new(),
        dropped: Vec::new(),
        wants_archive: false,
        java_major,
    };
    if defaults == JvmDefaults::None {
        return chosen;
    }
    let setter = |setting| {
        user.iter()
            .find(|o| flags::setting_of(&o.text) == Some(setting))
    };
    for default in &TUNED {
        match setter(default.setting) {
            Some(by) => chosen.dropped.push(Dropped {
                default: default.options.join(" "),
                by: by.clone(),
            }),
            None => chosen
                .options
                .extend(default.options.iter().map(|o| (*o).to_string())),
        }
    }
    match setter(Setting::ClassDataSharing) {
        Some(by) => chosen.dropped.push(Dropped {
            default: "AppCDS archive".to_string(),
            by: by.clone(),
        }),
        None => chosen.wants_archive = java_major >= FIRST_ARCHIVING_JAVA,
    }
    chosen
}

impl Chosen {
    /// The options to add (before the user's `--jvm-arg`s), AppCDS aside.
    #[cfg(test)]
    pub(crate) fn options(&self) -> &[String] {
        &self.options
    }

    /// The defaults a user option dropped.
    #[cfg(test)]
    pub(crate) fn dropped(&self) -> &[Dropped] {
        &self.dropped
    }

    /// Whether the AppCDS archive is used (no user option touches class-data sharing).
    #[cfg(test)]
    pub(crate) fn wants_archive(&self) -> bool {
        self.wants_archive
    }

    /// One line for `--check`: the options and why any default was dropped.
    pub(crate) fn describe(&self, defaults: JvmDefaults) -> String {
        if defaults == JvmDefaults::None {
            return "JVM defaults: none (--jvm-defaults none): plain java".to_string();
        }
        let mut line = format!("JVM defaults: {}", self.options.join(" "));
        if self.wants_archive {
            line.push_str(" + an AppCDS archive for these jars and this Java");
        } else if self.java_major < FIRST_ARCHIVING_JAVA {
            line.push_str(&format!(
                "; no AppCDS archive (Java {} cannot write one; {FIRST_ARCHIVING_JAVA}+ can)",
                self.java_major
            ));
        }
        for dropped in &self.dropped {
            line.push_str(&format!(
                "; dropped {} (you set {})",
                dropped.default, dropped.by
            ));
        }
        line
    }
}

/// What a launch's archive depends on besides the command.
pub(crate) struct ArchivePlace<'a> {
    /// The cache root.
    pub(crate) cache_root: &'a Path,
    /// The lock's digest.
    pub(crate) lock_digest: &'a [u8; 32],
    /// The bound of the archive's check run (`--java-timeout`).
    pub(crate) timeout: Duration,
}

/// Adds `chosen` to a launched daemon's command, with the AppCDS archive when it applies;
/// returns a line to show when an archive was refused. `variables` are the values of
/// [`flags::OPTION_VARIABLES`] (the JVM reads them, so they are part of the archive's key).
pub(crate) fn add_to(
    spec: &mut LaunchSpec,
    chosen: &Chosen,
    place: &ArchivePlace<'_>,
    variables: &[String],
) -> Option<String> {
    spec.add_default_jvm_args(chosen.options.iter().cloned());
    if !chosen.wants_archive {
        return None;
    }
    let classpath = spec.classpath();
    let options = spec.jvm_options();
    let archive = cds::prepare(&cds::Launch {
        cache_root: place.cache_root,
        java: spec.java(),
        lock_digest: place.lock_digest,
        classpath: &classpath,
        options: &options,
        variables,
        timeout: place.timeout,
    });
    spec.add_default_jvm_args(archive.options);
    archive.note
}

#[cfg(test)]
mod tests {
    use super::flags::{Origin, user_options};
    use super::*;

    fn user(args: &[&str], tool_options: Option<&str>) -> Vec<UserOption> {
        let args: Vec<String> = args.iter().map(|a| (*a).to_string()).collect();
        let value = tool_options.map(str::to_string);
        user_options(&args, &move |name| {
            (name == "JAVA_TOOL_OPTIONS")
                .then(|| value.clone())
                .flatten()
        })
    }

    #[test]
    fn tuned_gives_every_default_and_the_archive() {
        let chosen = choose(JvmDefaults::Tuned, &user(&[], None), 17);
        assert_eq!(
            chosen.options().join(" "),
            "-XX:+UseSerialGC -Xms16m -XX:MinHeapFreeRatio=10 -XX:MaxHeapFreeRatio=30 \
             -XX:TieredStopAtLevel=1 -Dio.netty.allocator.numDirectArenas=1 \
             -Dio.netty.allocator.numHeapArenas=1"
        );
        assert!(chosen.wants_archive());
        assert!(chosen.dropped().is_empty());
    }

    #[test]
    fn none_gives_plain_java() {
        let chosen = choose(JvmDefaults::None, &user(&[], None), 17);
        assert!(chosen.options().is_empty() && !chosen.wants_archive());
        assert!(chosen.describe(JvmDefaults::None).contains("plain java"));
    }

    #[test]
    fn a_user_option_drops_the_default_for_the_same_setting_only() {
        let chosen = choose(
            JvmDefaults::Tuned,
            &user(&["-Xmx8m", "-Xss512k"], Some("-XX:+UseG1GC -Xshare:off")),
            17,
        );
        let options = chosen.options().join(" ");
        assert!(!options.contains("-Xms16m"), "{options}");
        assert!(!options.contains("UseSerialGC"), "{options}");
        assert!(options.contains("-XX:TieredStopAtLevel=1"), "{options}");
        assert!(!chosen.wants_archive());
        let dropped: Vec<(&str, &Origin)> = chosen
            .dropped()
            .iter()
            .map(|d| (d.default.as_str(), &d.by.origin))
            .collect();
        assert_eq!(
            dropped,
            [
                ("-XX:+UseSerialGC", &Origin::Variable("JAVA_TOOL_OPTIONS")),
                ("-Xms16m", &Origin::JvmArg),
                ("AppCDS archive", &Origin::Variable("JAVA_TOOL_OPTIONS")),
            ]
        );
        let line = chosen.describe(JvmDefaults::Tuned);
        assert!(
            line.contains("dropped -Xms16m (you set --jvm-arg=-Xmx8m)"),
            "{line}"
        );
        assert!(
            line.contains("dropped AppCDS archive (you set -Xshare:off in JAVA_TOOL_OPTIONS)"),
            "{line}"
        );
    }

    #[test]
    fn one_ratio_drops_both_so_they_stay_ordered() {
        let chosen = choose(
            JvmDefaults::Tuned,
            &user(&["-XX:MaxHeapFreeRatio=5"], None),
            17,
        );
        assert!(!chosen.options().iter().any(|o| o.contains("HeapFreeRatio")));
        let netty = choose(
            JvmDefaults::Tuned,
            &user(&["-Dio.netty.allocator.numDirectArenas=4"], None),
            17,
        );
        let options = netty.options().join(" ");
        assert!(!options.contains("numDirectArenas"), "{options}");
        assert!(options.contains("numHeapArenas=1"), "{options}");
    }

    #[test]
    fn before_java_13_the_flags_apply_but_no_archive_is_made() {
        let chosen = choose(JvmDefaults::Tuned, &user(&[], None), 11);
        assert!(!chosen.wants_archive());
        assert_eq!(chosen.options().len(), 7);
        let line = chosen.describe(JvmDefaults::Tuned);
        assert!(line.contains("no AppCDS archive (Java 11"), "{line}");
        assert!(choose(JvmDefaults::Tuned, &user(&[], None), 13).wants_archive());
    }
}
