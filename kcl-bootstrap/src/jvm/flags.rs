//! Which setting a JVM option sets, and the options the user already gives the JVM: the
//! `--jvm-arg`s and the `JAVA_TOOL_OPTIONS` family, which the JVM reads on its own. A user option
//! that sets what one of our defaults sets wins: the default is dropped (`super::choose`), so a
//! user never has to know which of ours to cancel, and no pair such as `-Xms16m -Xmx8m` (which the
//! JVM refuses to start with) can arise from mixing theirs and ours.

/// What a default sets; a user option setting the same thing suppresses the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Setting {
    /// The garbage collector.
    Gc,
    /// The heap's sizes (initial, minimum, maximum, or as a share of RAM): a user maximum below
    /// our initial size would stop the JVM from starting.
    HeapSize,
    /// How far the heap shrinks and grows (`Min/MaxHeapFreeRatio`, which must stay ordered).
    HeapFreeRatio,
    /// The JIT tiers.
    Jit,
    /// Netty's number of direct-buffer arenas.
    NettyDirectArenas,
    /// Netty's number of heap-buffer arenas.
    NettyHeapArenas,
    /// Class-data sharing (the AppCDS archive).
    ClassDataSharing,
}

/// The variables the JVM reads options from by itself (`JDK_JAVA_OPTIONS` only by the `java`
/// launcher, JDK 9+; `_JAVA_OPTIONS` is HotSpot's).
pub(crate) const OPTION_VARIABLES: [&str; 3] =
    ["JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS"];

/// Where a user option comes from (shown when it drops a default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    /// `--jvm-arg`.
    JvmArg,
    /// One of [`OPTION_VARIABLES`].
    Variable(&'static str),
}

/// One option the user gives the JVM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserOption {
    /// The option as written.
    pub(crate) text: String,
    /// Where it comes from.
    pub(crate) origin: Origin,
}

impl std::fmt::Display for UserOption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.origin {
            Origin::JvmArg => write!(f, "--jvm-arg={}", self.text),
            Origin::Variable(name) => write!(f, "{} in {name}", self.text),
        }
    }
}

/// The user's options: `jvm_args`, then those of each variable `lookup` finds (split on white
/// space, which is how the JVM splits them when no quotes are used).
pub(crate) fn user_options(
    jvm_args: &[String],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Vec<UserOption> {
    let mut options: Vec<UserOption> = jvm_args
        .iter()
        .map(|text| UserOption {
            text: text.clone(),
            origin: Origin::JvmArg,
        })
        .collect();
    for name in OPTION_VARIABLES {
        if let Some(value) = lookup(name) {
            options.extend(value.split_whitespace().map(|text| UserOption {
                text: text.to_string(),
                origin: Origin::Variable(name),
            }));
        }
    }
    options
}

/// One line for `--check`: the user's options, the `--jvm-arg`s then each option variable (which
/// the JVM reads without being told), secret values hidden; `None` when there are none.
pub(crate) fn describe_user(options: &[UserOption]) -> Option<String> {
    let mut groups: Vec<(Origin, Vec<String>)> = Vec::new();
    for option in options {
        let shown = crate::properties::shown_jvm_option(&option.text);
        match groups.last_mut() {
            Some((origin, texts)) if *origin == option.origin => texts.push(shown),
            _ => groups.push((option.origin.clone(), vec![shown])),
        }
    }
    if groups.is_empty() {
        return None;
    }
    let mut parts = Vec::new();
    let mut variables = Vec::new();
    for (origin, texts) in groups {
        match origin {
            Origin::JvmArg => parts.push(format!("--jvm-arg {}", texts.join(" "))),
            Origin::Variable(name) => variables.push(format!("{name}={}", texts.join(" "))),
        }
    }
    if !variables.is_empty() {
        parts.push(format!("{} (read by the JVM itself)", variables.join("; ")));
    }
    Some(format!("your JVM options: {}", parts.join("; ")))
}

/// The option variables `lookup` finds, as `NAME=value`: the JVM reads them by itself, so they
/// are part of what an AppCDS archive was made for (`super::cds`).
pub(crate) fn variable_values(lookup: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    OPTION_VARIABLES
        .iter()
        .filter_map(|name| lookup(name).map(|value| format!("{name}={value}")))
        .collect()
}

/// What `option` sets among the settings our defaults touch, if any.
pub(crate) fn setting_of(option: &str) -> Option<Setting> {
    let xx = option.strip_prefix("-XX:");
    // `-XX:+Name`, `-XX:-Name` and `-XX:Name=value` all name `Name`.
    let xx_name = xx.map(|rest| {
        let rest = rest.trim_start_matches(['+', '-']);
        rest.split('=').next().unwrap_or(rest)
    });
    if let Some(name) = xx_name {
        return xx_setting(name);
    }
    if ["-Xms", "-Xmx", "-Xmn"]
        .iter()
        .any(|p| option.starts_with(p))
    {
        return Some(Setting::HeapSize);
    }
    if option == "-Xint" || option == "-Xcomp" {
        return Some(Setting::Jit);
    }
    if option.starts_with("-Xshare:") {
        return Some(Setting::ClassDataSharing);
    }
    let property = option
        .strip_prefix("-D")
        .map(|p| p.split('=').next().unwrap_or(p));
    match property {
        Some("io.netty.allocator.numDirectArenas") => Some(Setting::NettyDirectArenas),
        Some("io.netty.allocator.numHeapArenas") => Some(Setting::NettyHeapArenas),
        _ => None,
    }
}

fn xx_setting(name: &str) -> Option<Setting> {
    let gc = name.starts_with("Use") && name.ends_with("GC");
    if gc {
        return Some(Setting::Gc);
    }
    match name {
        "InitialHeapSize"
        | "MaxHeapSize"
        | "MinHeapSize"
        | "MaxRAM"
        | "InitialRAMPercentage"
        | "MaxRAMPercentage"
        | "MinRAMPercentage"
        | "MaxRAMFraction"
        | "InitialRAMFraction"
        | "MinRAMFraction" => Some(Setting::HeapSize),
        "MinHeapFreeRatio" | "MaxHeapFreeRatio" => Some(Setting::HeapFreeRatio),
        "TieredStopAtLevel" | "TieredCompilation" => Some(Setting::Jit),
        "SharedArchiveFile"
        | "ArchiveClassesAtExit"
        | "AutoCreateSharedArchive"
        | "SharedClassListFile"
        | "DumpLoadedClassList"
        | "UseSharedSpaces" => Some(Setting::ClassDataSharing),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_values_name_each_variable_set_in_order() {
        let lookup = |name: &str| match name {
            "_JAVA_OPTIONS" => Some("-Xmx1g".to_string()),
            "JAVA_TOOL_OPTIONS" => Some("-Xshare:off -Xss1m".to_string()),
            _ => None,
        };
        assert_eq!(
            variable_values(&lookup),
            [
                "JAVA_TOOL_OPTIONS=-Xshare:off -Xss1m",
                "_JAVA_OPTIONS=-Xmx1g"
            ]
        );
    }

    #[test]
    fn the_users_options_are_described_by_origin_with_secrets_hidden() {
        let lookup = |name: &str| match name {
            "JAVA_TOOL_OPTIONS" => Some("-Xss512k -Daws.secretAccessKey=s3cr3t".to_string()),
            "_JAVA_OPTIONS" => Some("-Xmx1g".to_string()),
            "JDK_JAVA_OPTIONS" => Some("  ".to_string()),
            _ => None,
        };
        let args = ["-Xmx300m".to_string(), "-Dfoo=1".to_string()];
        assert_eq!(
            describe_user(&user_options(&args, &lookup)).unwrap(),
            "your JVM options: --jvm-arg -Xmx300m -Dfoo=1; JAVA_TOOL_OPTIONS=-Xss512k \
             -Daws.secretAccessKey=<redacted>; _JAVA_OPTIONS=-Xmx1g (read by the JVM itself)"
        );
        assert_eq!(
            describe_user(&user_options(&args, &|_| None)).unwrap(),
            "your JVM options: --jvm-arg -Xmx300m -Dfoo=1"
        );
        assert_eq!(describe_user(&user_options(&[], &|_| None)), None);
    }

    #[test]
    fn options_name_the_setting_they_touch() {
        let cases = [
            ("-XX:+UseG1GC", Some(Setting::Gc)),
            ("-XX:-UseSerialGC", Some(Setting::Gc)),
            ("-XX:+UseZGC", Some(Setting::Gc)),
            ("-Xmx2g", Some(Setting::HeapSize)),
            ("-Xms1g", Some(Setting::HeapSize)),
            ("-XX:MaxRAMPercentage=75", Some(Setting::HeapSize)),
            ("-XX:InitialHeapSize=64m", Some(Setting::HeapSize)),
            ("-XX:MaxHeapFreeRatio=50", Some(Setting::HeapFreeRatio)),
            ("-XX:TieredStopAtLevel=4", Some(Setting::Jit)),
            ("-XX:-TieredCompilation", Some(Setting::Jit)),
            ("-Xint", Some(Setting::Jit)),
            ("-Xshare:off", Some(Setting::ClassDataSharing)),
            (
                "-XX:SharedArchiveFile=/x.jsa",
                Some(Setting::ClassDataSharing),
            ),
            (
                "-XX:+AutoCreateSharedArchive",
                Some(Setting::ClassDataSharing),
            ),
            (
                "-Dio.netty.allocator.numDirectArenas=4",
                Some(Setting::NettyDirectArenas),
            ),
            (
                "-Dio.netty.allocator.numHeapArenas=0",
                Some(Setting::NettyHeapArenas),
            ),
            ("-Dio.netty.allocator.type=unpooled", None),
            ("-Xss512k", None),
            ("-XX:+UseCompressedOops", None),
            ("-XX:MaxMetaspaceSize=128m", None),
            ("-verbose:gc", None),
            ("-Xlog:gc", None),
        ];
        for (option, expected) in cases {
            assert_eq!(setting_of(option), expected, "{option}");
        }
    }

    #[test]
    fn user_options_come_from_the_flags_then_each_variable() {
        let lookup = |name: &str| match name {
            "JAVA_TOOL_OPTIONS" => Some("  -Xmx1g   -XX:+UseG1GC ".to_string()),
            "_JAVA_OPTIONS" => Some("-Xshare:off".to_string()),
            _ => None,
        };
        let options = user_options(&["-Xss1m".to_string()], &lookup);
        let shown: Vec<String> = options.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "--jvm-arg=-Xss1m",
                "-Xmx1g in JAVA_TOOL_OPTIONS",
                "-XX:+UseG1GC in JAVA_TOOL_OPTIONS",
                "-Xshare:off in _JAVA_OPTIONS"
            ]
        );
    }
}
