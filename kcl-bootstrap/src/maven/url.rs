//! Repository URLs given by users: parsed with a real URL parser, credentials split off and
//! never shown.
//!
//! Every URL in a message goes through [`redact`] (for text that may not even parse) or is the
//! parsed base URL without user-info, so a password never reaches stderr, whatever its shape.

use base64::Engine as _;
use percent_encoding::percent_decode_str;
use std::fmt;

/// Basic-auth credentials. `Debug` shows neither part.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Credentials {
    user: Vec<u8>,
    password: Vec<u8>,
}

impl Credentials {
    /// Credentials from their decoded bytes.
    pub(crate) fn new(user: impl Into<Vec<u8>>, password: impl Into<Vec<u8>>) -> Credentials {
        Credentials {
            user: user.into(),
            password: password.into(),
        }
    }

    /// The `Authorization` header value.
    pub(crate) fn basic_auth(&self) -> String {
        let mut pair = self.user.clone();
        pair.push(b':');
        pair.extend_from_slice(&self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials(<redacted>)")
    }
}

/// A repository URL: the base without user-info, query or trailing slash, and its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RepoUrl {
    /// `scheme://host[:port][/path]`, safe to show.
    pub(crate) base: String,
    /// From the URL's user-info, percent-decoded.
    pub(crate) credentials: Option<Credentials>,
}

/// Why a repository URL is refused. Each variant holds the URL already redacted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum UrlError {
    /// No `scheme://`.
    #[error("'{0}' is not a URL: expected http:// or https:// followed by a host")]
    NoScheme(String),
    /// Not http or https.
    #[error("'{shown}' uses '{scheme}://': only http:// and https:// repositories are supported")]
    Scheme {
        /// The URL, redacted.
        shown: String,
        /// The scheme found.
        scheme: String,
    },
    /// A `/`, `?`, `#` or `\` inside the user-info makes the host ambiguous.
    #[error(
        "'{0}': the user name or password seems to contain '/', '?', '#' or '\\', which cut the URL \
         short; percent-encode them (%2F, %3F, %23, %5C, and %40 for '@')"
    )]
    AmbiguousUserInfo(String),
    /// The URL parser refused it.
    #[error("'{shown}' is not a valid URL ({reason})")]
    Invalid {
        /// The URL, redacted.
        shown: String,
        /// The parser's reason.
        reason: String,
    },
    /// No host.
    #[error("'{0}' has no host name")]
    NoHost(String),
    /// A query or fragment cannot be combined with jar paths.
    #[error("'{0}' has a query or fragment; give the repository's base URL")]
    QueryOrFragment(String),
}

/// Parses a repository URL such as `https://USER:PASS@nexus.example/repository/central/`.
pub(crate) fn parse(text: &str) -> Result<RepoUrl, UrlError> {
    let text = text.trim();
    let shown = redact(text);
    let Some((scheme, rest)) = text.split_once("://") else {
        return Err(UrlError::NoScheme(shown));
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(UrlError::Scheme {
            scheme: crate::display::shown(scheme).to_string(),
            shown,
        });
    }
    // `https://user:pa/ss@host/` parses as host `user`, port `pa`: the password would be sent
    // to DNS as a host name. An '@' after the end of the authority means exactly that mistake.
    let authority_end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    if !rest[..authority_end].contains('@') && rest[authority_end..].contains('@') {
        return Err(UrlError::AmbiguousUserInfo(shown));
    }
    let mut url = url::Url::parse(text).map_err(|e| UrlError::Invalid {
        shown: shown.clone(),
        reason: e.to_string(),
    })?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(UrlError::NoHost(shown));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(UrlError::QueryOrFragment(shown));
    }
    let credentials = (!url.username().is_empty() || url.password().is_some()).then(|| {
        Credentials::new(
            percent_decode_str(url.username()).collect::<Vec<u8>>(),
            percent_decode_str(url.password().unwrap_or("")).collect::<Vec<u8>>(),
        )
    });
    // Infallible for http(s) URLs with a host.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    let base = url.as_str().trim_end_matches('/').to_string();
    Ok(RepoUrl { base, credentials })
}

/// `text` (a URL that may not parse) with anything that could be user-info replaced by `***`,
/// and control characters escaped.
pub(crate) fn redact(text: &str) -> String {
    let (prefix, rest) = match text.find("://") {
        Some(i) => text.split_at(i + 3),
        None => ("", text),
    };
    let redacted = match rest.rfind('@') {
        Some(at) => format!("{prefix}***@{}", &rest[at + 1..]),
        None => text.to_string(),
    };
    crate::display::shown_whole(&redacted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_decodes_credentials() {
        let r = parse(" https://me:p%40ss%2Fw@host:8081/repo/ ").unwrap();
        assert_eq!(r.base, "https://host:8081/repo");
        assert_eq!(r.credentials, Some(Credentials::new("me", "p@ss/w")));
        assert!(!format!("{r:?}").contains("p@ss"));
        assert_eq!(
            Credentials::new("user", "pass").basic_auth(),
            "Basic dXNlcjpwYXNz"
        );
        assert_eq!(Credentials::new("", "").basic_auth(), "Basic Og==");
        let r = parse("http://h").unwrap();
        assert_eq!((r.base.as_str(), r.credentials), ("http://h", None));
        // The last '@' of the authority separates the host, as browsers do.
        let r = parse("https://a@b:c@host/x").unwrap();
        assert_eq!(r.base, "https://host/x");
        assert_eq!(r.credentials, Some(Credentials::new("a@b", "c")));
    }

    #[test]
    fn refuses_bad_urls_without_showing_the_password() {
        let secret = "s3cr/et";
        for (text, check) in [
            ("ftp://u:s3cr/et@x/y", "only http"),
            ("u:s3cr/et@host/path", "not a URL"),
            ("https://u:s3cr/et@host/path", "percent-encode"),
            ("https://u:s3cr?et@host/path", "percent-encode"),
            ("https://u:s3cr\\et@host/path", "percent-encode"),
            ("https://u:s3cr/et@/path", "percent-encode"),
            ("https://u:s3cr/et@", "percent-encode"),
            ("https://u:s3cr%et@host:99999/", "not a valid URL"),
            ("http://u:s3cr/et@host/p?x=1", "percent-encode"),
            ("https://host/p?token=1", "query"),
            ("https://", "not a valid URL"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(check), "{text}: {e}");
            assert!(!e.contains(secret) && !e.contains("s3cr"), "{text}: {e}");
        }
    }

    #[test]
    fn redaction() {
        assert_eq!(redact("https://u:p/w@h/x"), "https://***@h/x");
        assert_eq!(redact("u:p@h/x"), "***@h/x");
        assert_eq!(redact("https://h/x"), "https://h/x");
        assert_eq!(redact("https://h/\u{1b}[2J"), "https://h/\\u{1b}[2J");
    }
}
