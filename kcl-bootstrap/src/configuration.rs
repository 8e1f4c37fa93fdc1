//! The daemon's configuration: the user's properties file (if any), overridden by
//! `KCL_PROPERTY_*` variables and then by flags, or kcl-bootstrap's defaults when no file is
//! given; its validation, its listing for `--check`, and the file the daemon is given.

use crate::display::shown_path;
use crate::effective_file::EffectiveFile;
use crate::error::Error;
use crate::properties::{self, Context, Diagnostic, Setting, Severity, Shortcut};
use crate::{Cli, files, launch, output};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Findings printed per severity; the rest are counted. A generated file can have 100,000s.
const MAX_PRINTED_FINDINGS: usize = 100;

/// What messages call the configuration when there is no file.
const NO_FILE_LABEL: &str = "(no properties file)";

/// The properties file as given (for messages), as an absolute path (for the daemon), and its
/// bytes.
pub(crate) struct PropertiesFile {
    given: PathBuf,
    path: PathBuf,
    bytes: Vec<u8>,
}

/// Reads `-p FILE`, if given: a regular file of at most [`properties::MAX_PROPERTIES_BYTES`].
pub(crate) fn read_properties(cli: &Cli, cwd: &Path) -> Result<Option<PropertiesFile>, Error> {
    let Some(given) = cli.properties.clone() else {
        return Ok(None);
    };
    let path = launch::absolute(&given, cwd);
    let bytes =
        files::read_regular(&path, properties::MAX_PROPERTIES_BYTES).map_err(
            |source| match source {
                files::ReadFileError::TooLarge { limit } => Error::PropertiesTooLarge {
                    path: path.clone(),
                    limit,
                },
                source => Error::PropertiesUnreadable {
                    path: path.clone(),
                    source,
                },
            },
        )?;
    Ok(Some(PropertiesFile { given, path, bytes }))
}

/// The daemon's key for how long its graceful shutdown may take.
const SHUTDOWN_GRACE_KEY: &str = "shutdownGraceMillis";

/// The daemon settings kcl-bootstrap itself needs: `timeoutInSeconds` (passed to the children as
/// `KCL_TIMEOUT_IN_SECONDS`) and `shutdownGraceMillis` (the supervisor's stop deadline); `None`
/// when no source sets one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LauncherSettings {
    timeout_in_seconds: Option<String>,
    shutdown_grace_millis: Option<String>,
}

impl LauncherSettings {
    pub(crate) fn timeout_in_seconds(&self) -> Option<&str> {
        self.timeout_in_seconds.as_deref()
    }

    pub(crate) fn shutdown_grace_millis(&self) -> Option<&str> {
        self.shutdown_grace_millis.as_deref()
    }
}

/// Which file the daemon reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DaemonReads {
    /// The user's file, unchanged (no overrides).
    TheUsersFile,
    /// A file written from the effective settings.
    AGeneratedFile,
}

/// The settings from every source, in precedence order, and which file the daemon reads.
pub(crate) struct Configuration {
    file: Option<PropertiesFile>,
    /// Empty when nothing needs them (the user's file with `--no-validate`).
    settings: Vec<Setting>,
    reads: DaemonReads,
}

impl Configuration {
    /// Gathers `file`, the `KCL_PROPERTY_*` variables of `env` and the flags of `cli`; parses the
    /// file when it is validated or overridden.
    pub(crate) fn gather(
        cli: &Cli,
        file: Option<PropertiesFile>,
        env: impl IntoIterator<Item = (OsString, OsString)>,
        ctx: &Context,
    ) -> Result<Configuration, Error> {
        let shortcuts = [
            shortcut("--stream", "streamName", &cli.stream),
            shortcut("--application", "applicationName", &cli.application),
            shortcut("--region", "regionName", &cli.region),
            shortcut("--executable", "executableName", &cli.executable),
        ];
        let overrides = properties::overrides(&cli.set, &shortcuts, env, ctx)?;
        let reads = if file.is_some() && overrides.is_empty() {
            DaemonReads::TheUsersFile
        } else {
            DaemonReads::AGeneratedFile
        };
        let mut settings = match &file {
            None if overrides.is_empty() => return Err(Error::NoProperties),
            None => properties::defaults(ctx),
            Some(_) if reads == DaemonReads::TheUsersFile && cli.no_validate => Vec::new(),
            Some(file) => parse_file(file)?,
        };
        settings.extend(overrides);
        Ok(Configuration {
            file,
            settings,
            reads,
        })
    }

    /// How findings name the configuration: the file as given, or [`NO_FILE_LABEL`].
    fn label(&self) -> String {
        self.file
            .as_ref()
            .map_or_else(|| NO_FILE_LABEL.to_string(), |f| shown_path(&f.given))
    }

    /// What the configuration is, for the one-line verdicts: `app.properties`,
    /// `app.properties with 2 overrides`, `the properties from 3 flags and variables`.
    pub(crate) fn description(&self) -> String {
        let overrides = self
            .settings
            .iter()
            .filter(|s| s.origin.is_override())
            .count();
        match (&self.file, self.reads) {
            (Some(_), DaemonReads::TheUsersFile) => self.label(),
            (Some(_), DaemonReads::AGeneratedFile) => {
                format!("{} with {overrides} override(s)", self.label())
            }
            (None, _) => format!(
                "the properties from kcl-bootstrap's defaults and {overrides} flag(s) and variable(s)"
            ),
        }
    }

    /// Validates the effective settings, prints the findings, and refuses errors.
    pub(crate) fn validate(&self, quiet: bool, ctx: &Context) -> Result<(), Error> {
        let findings = properties::validate(&self.settings, ctx);
        print_findings(&findings, &self.label(), quiet);
        let errors = findings
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        if errors > 0 {
            return Err(Error::Properties {
                what: self.description(),
                count: errors,
            });
        }
        Ok(())
    }

    /// The effective settings as properties text, each after a comment naming its origin;
    /// secrets redacted unless the text is for the daemon.
    fn text(&self, ctx: &Context, purpose: Purpose) -> String {
        let mut ignored = Vec::new();
        let effective = properties::effective(&self.settings, ctx.dialect(), &mut ignored);
        let header: Vec<String> = match purpose {
            Purpose::ForTheDaemon => vec![
                "Written by kcl-bootstrap for one launch: the effective properties, each after a comment".into(),
                "naming its origin. Do not edit: it is rewritten from the properties file, the --set and".into(),
                "shortcut flags and the KCL_PROPERTY_* variables at every launch.".into(),
            ],
            Purpose::ForTheReader => vec![format!(
                "Effective properties ({}); the origin of each value is in the comment above it; secrets \
                 are shown as <redacted>.",
                self.description()
            )],
        };
        let dialect = ctx.dialect();
        let value_of = |s: &Setting| match purpose {
            Purpose::ForTheDaemon => s.value.clone(),
            Purpose::ForTheReader => properties::listed_value(&s.key, &s.value, dialect),
        };
        properties::properties_text(&effective, &header, &self.label(), &value_of)
    }

    /// The settings kcl-bootstrap acts on itself, as the daemon will read them (trimmed, as the
    /// daemon trims them): one merge of every source in precedence order.
    pub(crate) fn launcher_settings(&self, ctx: &Context) -> LauncherSettings {
        self.with_effective_values(ctx, |value| LauncherSettings {
            timeout_in_seconds: value(launch::TIMEOUT_KEY),
            shutdown_grace_millis: value(SHUTDOWN_GRACE_KEY),
        })
    }

    /// Calls `f` with a lookup of the effective value of a key (trimmed, as the daemon trims
    /// them), from one merge of every source in precedence order (`--dynamodb-streams` checks
    /// its keys with it too).
    pub(crate) fn with_effective_values<T>(
        &self,
        ctx: &Context,
        f: impl FnOnce(&dyn Fn(&str) -> Option<String>) -> T,
    ) -> T {
        let parsed;
        let settings = if self.settings.is_empty() {
            // The user's file alone with `--no-validate`: it was not parsed; one that does not
            // parse has no value (the daemon will say why).
            parsed = self
                .file
                .as_ref()
                .and_then(|f| properties::parse(&f.bytes).ok())
                .map(Setting::from_file)
                .unwrap_or_default();
            &parsed
        } else {
            &self.settings
        };
        let mut ignored = Vec::new();
        let dialect = ctx.dialect();
        let effective = properties::effective(settings, dialect, &mut ignored);
        let value = |key: &str| {
            let wanted = properties::canonical(key, dialect);
            effective
                .iter()
                .find(|s| properties::canonical(&s.key, dialect) == wanted)
                .map(|s| s.value.trim().to_string())
        };
        f(&value)
    }

    /// `--check`: prints the effective settings on stdout when they are not just the user's file.
    pub(crate) fn print_listing(&self, ctx: &Context) -> Result<(), Error> {
        if self.reads == DaemonReads::TheUsersFile {
            return Ok(());
        }
        crate::steps::emit(self.text(ctx, Purpose::ForTheReader).trim_end())
    }

    /// The file to give the daemon: the user's, or the effective settings written privately
    /// under `cache_root` (held, so that no clean-up removes it while this process or the JVM
    /// it becomes runs).
    pub(crate) fn daemon_file(
        &self,
        cache_root: &Path,
        ctx: &Context,
    ) -> Result<(PathBuf, Option<EffectiveFile>), Error> {
        match (&self.file, self.reads) {
            (Some(file), DaemonReads::TheUsersFile) => Ok((file.path.clone(), None)),
            _ => {
                let written =
                    EffectiveFile::write(cache_root, &self.text(ctx, Purpose::ForTheDaemon))?;
                Ok((written.path().to_path_buf(), Some(written)))
            }
        }
    }
}

/// Who the properties text is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// The daemon: every value as it is.
    ForTheDaemon,
    /// A person or a log: secrets redacted.
    ForTheReader,
}

fn shortcut<'a>(flag: &'static str, key: &'static str, value: &'a Option<String>) -> Shortcut<'a> {
    Shortcut {
        flag,
        key,
        value: value.as_deref(),
    }
}

/// Parses the file; a syntax error Java would throw on is printed and refuses the launch.
fn parse_file(file: &PropertiesFile) -> Result<Vec<Setting>, Error> {
    let entries = properties::parse(&file.bytes).map_err(|e| {
        output::line(format!(
            "{}:{}: error: {}",
            shown_path(&file.given),
            e.line,
            e.message
        ));
        Error::Properties {
            what: shown_path(&file.given),
            count: 1,
        }
    })?;
    Ok(Setting::from_file(entries))
}

/// Prints the findings in order, at most [`MAX_PRINTED_FINDINGS`] of each severity (warnings
/// not with `--quiet`), then how many were left out.
fn print_findings(findings: &[Diagnostic], label: &str, quiet: bool) {
    let (mut errors, mut warnings) = (0usize, 0usize);
    for d in findings {
        let count = match d.severity {
            Severity::Error => &mut errors,
            Severity::Warning if quiet => continue,
            Severity::Warning => &mut warnings,
        };
        *count += 1;
        if *count <= MAX_PRINTED_FINDINGS {
            output::line(d.render(label));
        }
    }
    let hidden_errors = errors.saturating_sub(MAX_PRINTED_FINDINGS);
    let hidden_warnings = warnings.saturating_sub(MAX_PRINTED_FINDINGS);
    if hidden_errors + hidden_warnings > 0 {
        output::line(format!(
            "{label}: {hidden_errors} more error(s) and {hidden_warnings} more warning(s) not shown"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn settings(args: &[&str], file: &str, env: &[(&str, &str)]) -> LauncherSettings {
        let cli = Cli::try_parse_from(std::iter::once("kcl-bootstrap").chain(args.iter().copied()))
            .expect("valid flags");
        let lock = crate::lock::Lock::builtin("3.1.3").expect("the built-in lock");
        let ctx = Context::new(&lock, PathBuf::from("/"), None);
        let file = PropertiesFile {
            given: PathBuf::from("app.properties"),
            path: PathBuf::from("/app.properties"),
            bytes: file.as_bytes().to_vec(),
        };
        let env = env
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        Configuration::gather(&cli, Some(file), env, &ctx)
            .expect("a valid configuration")
            .launcher_settings(&ctx)
    }

    const FILE: &str = "streamName = s\napplicationName = a\nexecutableName = /bin/true\n\
                        timeoutInSeconds = 30\nshutdownGraceMillis =  9000 \n";

    #[test]
    fn launcher_settings_come_from_the_file_trimmed() {
        let launcher = settings(&["-p", "app.properties"], FILE, &[]);
        assert_eq!(launcher.timeout_in_seconds(), Some("30"));
        assert_eq!(launcher.shutdown_grace_millis(), Some("9000"));
    }

    #[test]
    fn launcher_settings_follow_variables_and_flags_in_precedence_order() {
        let launcher = settings(
            &["-p", "app.properties", "--set", "timeoutInSeconds=45"],
            FILE,
            &[
                ("KCL_PROPERTY_TIMEOUT_IN_SECONDS", "40"),
                ("KCL_PROPERTY_SHUTDOWN_GRACE_MILLIS", "12000"),
            ],
        );
        assert_eq!(launcher.timeout_in_seconds(), Some("45"));
        assert_eq!(launcher.shutdown_grace_millis(), Some("12000"));
    }

    #[test]
    fn unparsed_file_under_no_validate_still_gives_its_settings() {
        let launcher = settings(&["-p", "app.properties", "--no-validate"], FILE, &[]);
        assert_eq!(launcher.timeout_in_seconds(), Some("30"));
        let launcher = settings(
            &["-p", "app.properties", "--no-validate"],
            "streamName = s\n",
            &[],
        );
        assert_eq!(launcher, LauncherSettings::default());
    }
}
