//! Which Maven repository to download from: the flag, the environment, the user's Maven
//! `settings.xml` mirrors, or Maven Central.

mod settings;
mod url;

pub(crate) use settings::SettingsError;
pub(crate) use url::{Credentials, UrlError};

use crate::display::shown_path;
use std::fmt;
use std::path::{Path, PathBuf};

/// Maven Central, the repository the official bootstraps use.
pub(crate) const MAVEN_CENTRAL: &str = "https://repo1.maven.org/maven2";

/// Environment variable naming a repository or mirror URL (same meaning as `--maven-repo`).
pub(crate) const ENV_MAVEN_REPO: &str = "KCL_MAVEN_REPO";

/// The Python KCL's variable for the same purpose, honoured so existing setups keep working.
pub(crate) const ENV_PYTHON_MAVEN_REPO: &str = "KCL_MVN_REPO_SEARCH_URL";

/// Where the chosen repository came from (shown to the user so a wrong mirror is easy to spot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RepositorySource {
    /// `--maven-repo`.
    Flag,
    /// An environment variable, by name.
    Env(&'static str),
    /// A `<mirror>` in a Maven settings file.
    Settings {
        /// The settings file.
        path: PathBuf,
        /// The mirror's `<id>` (display-safe).
        mirror_id: String,
    },
    /// No override: Maven Central.
    Default,
}

impl fmt::Display for RepositorySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RepositorySource::Flag => f.write_str("--maven-repo"),
            RepositorySource::Env(name) => write!(f, "${name}"),
            RepositorySource::Settings { path, mirror_id } => {
                write!(f, "mirror '{mirror_id}' in {}", shown_path(path))
            }
            RepositorySource::Default => f.write_str("default"),
        }
    }
}

/// A repository to download jars from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Repository {
    /// Base URL without a trailing slash and without credentials: safe to show.
    pub(crate) base_url: String,
    /// Where it came from.
    pub(crate) source: RepositorySource,
    /// Basic-auth credentials, from the URL's user-info or a matching settings.xml `<server>`;
    /// their `Debug` is redacted.
    pub(crate) credentials: Option<Credentials>,
}

/// The repository could not be chosen.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RepositoryError {
    /// A URL from the flag or the environment is malformed.
    #[error("{origin}")]
    Url {
        /// `--maven-repo` or `$NAME`.
        origin: String,
        /// What is wrong.
        #[source]
        source: UrlError,
    },
    /// The settings file cannot give a repository.
    #[error(transparent)]
    Settings(#[from] SettingsError),
}

impl Repository {
    /// Builds a repository from a URL given by the user, splitting off `user:password@`.
    pub(crate) fn from_url(text: &str, source: RepositorySource) -> Result<Repository, UrlError> {
        let parsed = url::parse(text)?;
        Ok(Repository {
            base_url: parsed.base,
            source,
            credentials: parsed.credentials,
        })
    }

    /// The download URL of a file below the repository root.
    pub(crate) fn url_of(&self, repository_path: &str) -> String {
        format!("{}/{}", self.base_url, repository_path)
    }
}

/// Chooses the repository: `--maven-repo`, then `$KCL_MAVEN_REPO`, then `$KCL_MVN_REPO_SEARCH_URL`,
/// then a `settings.xml` mirror of `central` (or `*`), then Maven Central.
///
/// `env` looks up environment variables (injected for tests); `settings` is the Maven settings
/// file to read, if any.
pub(crate) fn choose_repository(
    flag: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    settings: Option<&Path>,
) -> Result<Repository, RepositoryError> {
    if let Some(text) = flag {
        return Repository::from_url(text, RepositorySource::Flag).map_err(|source| {
            RepositoryError::Url {
                origin: "--maven-repo".into(),
                source,
            }
        });
    }
    for name in [ENV_MAVEN_REPO, ENV_PYTHON_MAVEN_REPO] {
        if let Some(text) = env(name).filter(|v| !v.trim().is_empty()) {
            return Repository::from_url(&text, RepositorySource::Env(name)).map_err(|source| {
                RepositoryError::Url {
                    origin: format!("${name}"),
                    source,
                }
            });
        }
    }
    if let Some(path) = settings
        && let Some(repo) = settings::mirror_from_settings(path)?
    {
        return Ok(repo);
    }
    Ok(Repository {
        base_url: MAVEN_CENTRAL.into(),
        source: RepositorySource::Default,
        credentials: None,
    })
}

/// The default Maven settings file: `~/.m2/settings.xml`, if it exists.
pub(crate) fn default_settings_path() -> Option<PathBuf> {
    let path = dirs::home_dir()?.join(".m2").join("settings.xml");
    path.exists().then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn default_is_central() {
        let r = choose_repository(None, &no_env, None).unwrap();
        assert_eq!(r.base_url, MAVEN_CENTRAL);
        assert_eq!(r.source, RepositorySource::Default);
    }

    #[test]
    fn flag_beats_env_beats_settings() {
        let dir = tempfile::tempdir().unwrap();
        let settings = dir.path().join("settings.xml");
        std::fs::write(
            &settings,
            r#"<settings><mirrors><mirror><id>corp</id><mirrorOf>*</mirrorOf>
               <url>https://nexus.example/repo/</url></mirror></mirrors>
               <servers><server><id>corp</id><username>u</username><password>p</password></server></servers></settings>"#,
        )
        .unwrap();
        let env =
            |n: &str| (n == ENV_PYTHON_MAVEN_REPO).then(|| "http://py.example/m2/".to_string());
        let r = choose_repository(Some("https://flag.example/x"), &env, Some(&settings)).unwrap();
        assert_eq!(
            (r.base_url.as_str(), r.source),
            ("https://flag.example/x", RepositorySource::Flag)
        );
        let r = choose_repository(None, &env, Some(&settings)).unwrap();
        assert_eq!(r.base_url, "http://py.example/m2");
        assert_eq!(r.source, RepositorySource::Env(ENV_PYTHON_MAVEN_REPO));
        let both = |n: &str| Some(format!("http://{n}.example"));
        assert_eq!(
            choose_repository(None, &both, None).unwrap().source,
            RepositorySource::Env(ENV_MAVEN_REPO)
        );
        let r = choose_repository(None, &no_env, Some(&settings)).unwrap();
        assert_eq!(r.base_url, "https://nexus.example/repo");
        assert_eq!(r.credentials, Some(Credentials::new("u", "p")));
        assert!(
            matches!(r.source, RepositorySource::Settings { ref mirror_id, .. } if mirror_id == "corp")
        );
    }

    #[test]
    fn url_errors_name_their_origin() {
        let env = |n: &str| (n == ENV_MAVEN_REPO).then(|| "ftp://u:pw@x".to_string());
        let e = choose_repository(None, &env, None).unwrap_err();
        assert_eq!(e.to_string(), "$KCL_MAVEN_REPO");
        let source = std::error::Error::source(&e).unwrap().to_string();
        assert!(
            source.contains("only http") && !source.contains("pw"),
            "{source}"
        );
        let e = choose_repository(Some("host/path"), &no_env, None).unwrap_err();
        assert_eq!(e.to_string(), "--maven-repo");
        let r = Repository::from_url("https://me:p%40ss@host:8081/repo/", RepositorySource::Flag)
            .unwrap();
        assert_eq!(r.url_of("a/b.jar"), "https://host:8081/repo/a/b.jar");
        assert!(!format!("{r:?}").contains("p@ss"));
    }
}
