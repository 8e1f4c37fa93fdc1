//! Which Maven repository to download from: the flag, the environment, the user's Maven
//! `settings.xml` mirrors, or Maven Central.

use std::fmt;
use std::path::{Path, PathBuf};

/// Maven Central, the repository the official bootstraps use.
pub const MAVEN_CENTRAL: &str = "https://repo1.maven.org/maven2";

/// Environment variable naming a repository or mirror URL (same meaning as `--maven-repo`).
pub const ENV_MAVEN_REPO: &str = "KCL_MAVEN_REPO";

/// The Python KCL's variable for the same purpose, honoured so existing setups keep working.
pub const ENV_PYTHON_MAVEN_REPO: &str = "KCL_MVN_REPO_SEARCH_URL";

/// Where the chosen repository came from (shown to the user so a wrong mirror is easy to spot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepositorySource {
    /// `--maven-repo`.
    Flag,
    /// An environment variable, by name.
    Env(&'static str),
    /// A `<mirror>` in a Maven settings file.
    Settings {
        /// The settings file.
        path: PathBuf,
        /// The mirror's `<id>`.
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
                write!(f, "mirror '{mirror_id}' in {}", path.display())
            }
            RepositorySource::Default => f.write_str("default"),
        }
    }
}

/// A repository to download jars from.
#[derive(Clone, PartialEq, Eq)]
pub struct Repository {
    /// Base URL without a trailing slash and without credentials.
    pub base_url: String,
    /// Where it came from.
    pub source: RepositorySource,
    /// Basic-auth credentials, from the URL's user-info or a matching settings.xml `<server>`.
    pub credentials: Option<(String, String)>,
}

impl fmt::Debug for Repository {
    // Never print a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Repository")
            .field("base_url", &self.base_url)
            .field("source", &self.source)
            .field("credentials", &self.credentials.as_ref().map(|(u, _)| u))
            .finish()
    }
}

impl Repository {
    /// Builds a repository from a URL given by the user, splitting off `user:password@`.
    pub fn from_url(url: &str, source: RepositorySource) -> Result<Repository, String> {
        let url = url.trim();
        let (scheme, rest) = url.split_once("://").ok_or_else(|| {
            format!("'{url}' is not a URL: expected http:// or https:// followed by a host")
        })?;
        if scheme != "http" && scheme != "https" {
            return Err(format!(
                "'{url}' uses '{scheme}://': only http:// and https:// repositories are supported"
            ));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (credentials, host) = match authority.rsplit_once('@') {
            Some((userinfo, host)) => {
                let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                (Some((percent_decode(user), percent_decode(pass))), host)
            }
            None => (None, authority),
        };
        if host.is_empty() {
            return Err(format!("'{url}' has no host name"));
        }
        Ok(Repository {
            base_url: format!("{scheme}://{host}{}", path.trim_end_matches('/')),
            source,
            credentials,
        })
    }

    /// The download URL of a file below the repository root.
    pub fn url_of(&self, repository_path: &str) -> String {
        format!("{}/{}", self.base_url, repository_path)
    }
}

/// Chooses the repository: `--maven-repo`, then `$KCL_MAVEN_REPO`, then `$KCL_MVN_REPO_SEARCH_URL`,
/// then a `settings.xml` mirror of `central` (or `*`), then Maven Central.
///
/// `env` looks up environment variables (injected for tests); `settings` is the Maven settings
/// file to read, if any.
pub fn choose_repository(
    flag: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    settings: Option<&Path>,
) -> Result<Repository, String> {
    if let Some(url) = flag {
        return Repository::from_url(url, RepositorySource::Flag)
            .map_err(|e| format!("--maven-repo: {e}"));
    }
    for name in [ENV_MAVEN_REPO, ENV_PYTHON_MAVEN_REPO] {
        if let Some(url) = env(name).filter(|v| !v.trim().is_empty()) {
            return Repository::from_url(&url, RepositorySource::Env(name))
                .map_err(|e| format!("${name}: {e}"));
        }
    }
    if let Some(path) = settings
        && let Some(repo) = mirror_from_settings(path)?
    {
        return Ok(repo);
    }
    Repository::from_url(MAVEN_CENTRAL, RepositorySource::Default)
}

/// The default Maven settings file: `~/.m2/settings.xml`, if it exists.
pub fn default_settings_path() -> Option<PathBuf> {
    let path = dirs::home_dir()?.join(".m2").join("settings.xml");
    path.is_file().then_some(path)
}

/// Reads the first `<mirror>` whose `<mirrorOf>` covers `central` from a Maven settings file.
///
/// `mirrorOf` is a comma list; `central`, `*` and `external:*` match, and an entry `!central`
/// excludes central. Credentials come from the `<server>` with the mirror's `<id>`; Maven-encrypted
/// passwords (`{...}`) cannot be decrypted here and are reported as an error.
pub fn mirror_from_settings(path: &Path) -> Result<Option<Repository>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read Maven settings {}: {e}", path.display()))?;
    let doc = roxmltree::Document::parse(&text).map_err(|e| {
        format!(
            "Maven settings {} is not valid XML: {e}; fix it or pass --maven-repo URL",
            path.display()
        )
    })?;
    let child_text = |node: roxmltree::Node, name: &str| -> Option<String> {
        node.children()
            .find(|c| c.tag_name().name() == name)
            .and_then(|c| c.text())
            .map(|t| t.trim().to_string())
    };
    let Some(mirror) = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "mirror")
        .find(|m| {
            child_text(*m, "mirrorOf").is_some_and(|of| {
                let items: Vec<&str> = of.split(',').map(str::trim).collect();
                !items.contains(&"!central")
                    && items
                        .iter()
                        .any(|i| *i == "central" || *i == "*" || *i == "external:*")
            })
        })
    else {
        return Ok(None);
    };
    let id = child_text(mirror, "id").unwrap_or_default();
    let url = child_text(mirror, "url").ok_or_else(|| {
        format!(
            "mirror '{id}' in {} has no <url>; fix it or pass --maven-repo URL",
            path.display()
        )
    })?;
    let mut repo = Repository::from_url(
        &url,
        RepositorySource::Settings {
            path: path.to_path_buf(),
            mirror_id: id.clone(),
        },
    )
    .map_err(|e| format!("mirror '{id}' in {}: {e}", path.display()))?;
    if let Some(server) = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "server")
        .find(|s| child_text(*s, "id").as_deref() == Some(id.as_str()))
        && let Some(user) = child_text(server, "username")
    {
        let pass = child_text(server, "password").unwrap_or_default();
        if pass.starts_with('{') && pass.ends_with('}') {
            return Err(format!(
                "the password of server '{id}' in {} is Maven-encrypted, which kcl-bootstrap cannot \
                 decrypt; put the credentials in the URL instead: --maven-repo https://USER:PASSWORD@host/path",
                path.display()
            ));
        }
        repo.credentials = Some((user, pass));
    }
    Ok(Some(repo))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex_val(bytes[i + 1]), hex_val(bytes[i + 2]))
        {
            let b = h * 16 + l;
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
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
        assert_eq!(r.credentials, Some(("u".into(), "p".into())));
        assert!(
            matches!(r.source, RepositorySource::Settings { ref mirror_id, .. } if mirror_id == "corp")
        );
    }

    #[test]
    fn settings_mirror_rules() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.xml");
        let write = |body: &str| std::fs::write(&p, body).unwrap();
        write(
            r#"<settings xmlns="http://maven.apache.org/SETTINGS/1.0.0"><mirrors><mirror><id>a</id><mirrorOf>other</mirrorOf><url>http://a</url></mirror>
                 <mirror><id>b</id><mirrorOf>*,!central</mirrorOf><url>http://b</url></mirror>
                 <mirror><id>c</id><mirrorOf>snap, central</mirrorOf><url>http://c/</url></mirror></mirrors></settings>"#,
        );
        let r = mirror_from_settings(&p).unwrap().unwrap();
        assert_eq!(r.base_url, "http://c");
        write("<settings><mirrors/></settings>");
        assert!(mirror_from_settings(&p).unwrap().is_none());
        write("<settings><mirrors>");
        assert!(
            mirror_from_settings(&p)
                .unwrap_err()
                .contains("not valid XML")
        );
        write(
            r#"<settings><mirrors><mirror><id>e</id><mirrorOf>central</mirrorOf><url>http://e</url></mirror></mirrors>
                 <servers><server><id>e</id><username>u</username><password>{abc=}</password></server></servers></settings>"#,
        );
        assert!(mirror_from_settings(&p).unwrap_err().contains("encrypted"));
    }

    #[test]
    fn url_parsing() {
        let r = Repository::from_url("https://me:p%40ss@host:8081/repo/", RepositorySource::Flag)
            .unwrap();
        assert_eq!(r.base_url, "https://host:8081/repo");
        assert_eq!(r.credentials, Some(("me".into(), "p@ss".into())));
        assert!(!format!("{r:?}").contains("p@ss"));
        assert_eq!(r.url_of("a/b.jar"), "https://host:8081/repo/a/b.jar");
        assert!(Repository::from_url("ftp://x/y", RepositorySource::Flag).is_err());
        assert!(Repository::from_url("host/path", RepositorySource::Flag).is_err());
    }
}
