//! What the validator needs to know about the launch, taken from the lock being launched.

use super::keys::Dialect;
use crate::lock::Lock;
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// What the validator needs to know about the launch.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    cwd: PathBuf,
    path_env: Option<OsString>,
    kcl_major: u32,
    kcl_version: String,
    settings: Option<HashMap<String, String>>,
    dialect: Dialect,
}

impl Context {
    /// The context of launching `lock`'s daemon from `cwd` with `PATH` = `path_env`.
    pub(crate) fn new(lock: &Lock, cwd: PathBuf, path_env: Option<OsString>) -> Context {
        Context {
            cwd,
            path_env,
            kcl_major: lock.major_version(),
            kcl_version: lock.kcl_version.clone(),
            settings: (!lock.settings.is_empty()).then(|| lock.settings.iter().cloned().collect()),
            dialect: Dialect::for_version(&lock.kcl_version),
        }
    }

    /// The daemon's working directory (relative `executableName` paths resolve against it).
    pub(crate) fn cwd(&self) -> &Path {
        &self.cwd
    }

    /// The `PATH` the daemon will search for a bare `executableName`.
    pub(crate) fn path_env(&self) -> Option<&OsString> {
        self.path_env.as_ref()
    }

    /// Major version of the KCL being launched, to flag 3.x-only keys on 2.x when the lock
    /// does not list the settings.
    pub(crate) fn kcl_major(&self) -> u32 {
        self.kcl_major
    }

    /// The launched version, for messages.
    pub(crate) fn kcl_version(&self) -> &str {
        &self.kcl_version
    }

    /// The settings this exact daemon version accepts (bean property name -> Java type), from
    /// its lock; `None` for older locks without them (the built-in table decides).
    pub(crate) fn settings(&self) -> Option<&HashMap<String, String>> {
        self.settings.as_ref()
    }

    /// How that version spells the credential keys and names providers.
    pub(crate) fn dialect(&self) -> Dialect {
        self.dialect
    }
}
