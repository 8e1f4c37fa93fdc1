//! Mirrors from the user's Maven `settings.xml`.

use super::url::{self, Credentials, UrlError};
use super::{Repository, RepositorySource};
use crate::display::shown_path;
use crate::files::{self, ReadFileError};
use std::path::{Path, PathBuf};

/// Largest settings file read; real ones are a few KiB.
const MAX_SETTINGS_BYTES: u64 = 4 * 1024 * 1024;

/// A settings file that cannot give a repository.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SettingsError {
    /// Unreadable.
    #[error("cannot read Maven settings {}", shown_path(.path))]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: ReadFileError,
    },
    /// Not XML.
    #[error("Maven settings {} is not valid XML; fix it or pass --maven-repo URL", shown_path(.path))]
    Xml {
        /// The file.
        path: PathBuf,
        /// The parser's complaint.
        #[source]
        source: roxmltree::Error,
    },
    /// A matching mirror without `<url>`.
    #[error("mirror '{id}' in {} has no <url>; fix it or pass --maven-repo URL", shown_path(.path))]
    NoUrl {
        /// The file.
        path: PathBuf,
        /// The mirror's id.
        id: String,
    },
    /// A matching mirror with a bad `<url>`.
    #[error("mirror '{id}' in {}", shown_path(.path))]
    Url {
        /// The file.
        path: PathBuf,
        /// The mirror's id.
        id: String,
        /// What is wrong with the URL.
        #[source]
        source: UrlError,
    },
    /// `{...}` passwords need Maven's master password.
    #[error(
        "the password of server '{id}' in {} is Maven-encrypted, which kcl-bootstrap cannot decrypt; \
         put the credentials in the URL instead: --maven-repo https://USER:PASSWORD@host/path",
        shown_path(.path)
    )]
    Encrypted {
        /// The file.
        path: PathBuf,
        /// The server's id.
        id: String,
    },
}

/// Reads the first `<mirror>` whose `<mirrorOf>` covers `central` from a Maven settings file.
///
/// `mirrorOf` is a comma list; `central`, `*` and `external:*` match, and an entry `!central`
/// excludes central. Credentials come from the `<server>` with the mirror's `<id>`; Maven-encrypted
/// passwords (`{...}`) cannot be decrypted here and are reported as an error.
pub(crate) fn mirror_from_settings(path: &Path) -> Result<Option<Repository>, SettingsError> {
    let text = files::read_regular_text(path, MAX_SETTINGS_BYTES).map_err(|source| {
        SettingsError::Read {
            path: path.to_path_buf(),
            source,
        }
    })?;
    let doc = roxmltree::Document::parse(&text).map_err(|source| SettingsError::Xml {
        path: path.to_path_buf(),
        source,
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
        .find(|m| child_text(*m, "mirrorOf").is_some_and(|of| mirrors_central(&of)))
    else {
        return Ok(None);
    };
    let raw_id = child_text(mirror, "id").unwrap_or_default();
    let id = crate::display::shown(&raw_id).to_string();
    let url_text = child_text(mirror, "url").ok_or_else(|| SettingsError::NoUrl {
        path: path.to_path_buf(),
        id: id.clone(),
    })?;
    let parsed = url::parse(&url_text).map_err(|source| SettingsError::Url {
        path: path.to_path_buf(),
        id: id.clone(),
        source,
    })?;
    let mut credentials = parsed.credentials;
    if let Some(server) = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "server")
        .find(|s| child_text(*s, "id").as_deref() == Some(raw_id.as_str()))
        && let Some(user) = child_text(server, "username")
    {
        let password = child_text(server, "password").unwrap_or_default();
        if password.starts_with('{') && password.ends_with('}') {
            return Err(SettingsError::Encrypted {
                path: path.to_path_buf(),
                id,
            });
        }
        credentials = Some(Credentials::new(user, password));
    }
    Ok(Some(Repository {
        base_url: parsed.base,
        source: RepositorySource::Settings {
            path: path.to_path_buf(),
            mirror_id: id,
        },
        credentials,
    }))
}

fn mirrors_central(mirror_of: &str) -> bool {
    let items: Vec<&str> = mirror_of.split(',').map(str::trim).collect();
    !items.contains(&"!central")
        && items
            .iter()
            .any(|i| *i == "central" || *i == "*" || *i == "external:*")
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let e = mirror_from_settings(&p).unwrap_err();
        assert!(e.to_string().contains("not valid XML"), "{e}");
        write(
            r#"<settings><mirrors><mirror><id>e</id><mirrorOf>central</mirrorOf><url>http://e</url></mirror></mirrors>
                 <servers><server><id>e</id><username>u</username><password>{abc=}</password></server></servers></settings>"#,
        );
        let e = mirror_from_settings(&p).unwrap_err();
        assert!(e.to_string().contains("encrypted"), "{e}");
    }

    #[test]
    fn a_bad_mirror_url_never_shows_its_password() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.xml");
        std::fs::write(
            &p,
            r#"<settings><mirrors><mirror><id>m</id><mirrorOf>*</mirrorOf>
               <url>ftp://user:hunter2@nexus/x</url></mirror></mirrors></settings>"#,
        )
        .unwrap();
        let e = mirror_from_settings(&p).unwrap_err();
        let chain = format!("{e}: {}", std::error::Error::source(&e).unwrap());
        assert!(
            chain.contains("mirror 'm'") && chain.contains("only http"),
            "{chain}"
        );
        assert!(!chain.contains("hunter2"), "{chain}");
    }
}
