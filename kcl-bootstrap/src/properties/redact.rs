//! Keeping secrets out of messages and out of `--check`'s listing.
//!
//! A properties file rarely holds a secret, but an override is where one arrives
//! (`--set kinesisClient.credentials...`, a provider's arguments, a URL with a password). A
//! value is treated as secret when its key names a secret, when it holds an AWS access key id,
//! or when it is a URL with a password; credential provider arguments (after `|`) are always
//! hidden. Such values are shown as [`REDACTED`].

use super::keys::{self, Dialect, ValueType};
use crate::display::shown;

/// What is shown instead of a secret.
pub(crate) const REDACTED: &str = "<redacted>";

/// Parts of key names (compared in lower case) that say the value is a secret.
const SECRET_KEY_WORDS: &[&str] = &[
    "secret",
    "password",
    "passwd",
    "token",
    "accesskey",
    "apikey",
    "privatekey",
    "sessionkey",
];

/// More parts of a JVM system property's name (`-Dname=value`) that hide its value: the names
/// are any library's (`aws.credentials...`, `signing.key`), and hiding a harmless value (a
/// `keyStore` path) costs a line's detail where showing a secret puts it in a log.
const PROPERTY_WORDS: &[&str] = &["credential", "key"];

/// Prefixes of AWS access key ids (long-term `AKIA`, temporary `ASIA`), followed by 16
/// upper-case letters or digits.
const ACCESS_KEY_PREFIXES: &[&str] = &["AKIA", "ASIA"];

/// True if `value` (of `key`) must not be shown.
pub(crate) fn is_secret(key: &str, value: &str) -> bool {
    let lowered = key.to_ascii_lowercase();
    SECRET_KEY_WORDS.iter().any(|w| lowered.contains(w))
        || holds_access_key_id(value)
        || has_url_password(value)
}

/// The value for a finding: escaped and cut as usual, or [`REDACTED`].
pub(crate) fn shown_value(key: &str, value: &str) -> String {
    if is_secret(key, value) {
        REDACTED.to_string()
    } else {
        shown(value).to_string()
    }
}

/// The value for `--check`'s listing: whole, or [`REDACTED`], or for a credentials provider
/// chain its provider names with each argument redacted.
pub(crate) fn listed_value(key: &str, value: &str, dialect: Dialect) -> String {
    if is_secret(key, value) {
        return REDACTED.to_string();
    }
    let is_credentials = keys::lookup(key, dialect).is_some_and(|k| k.ty == ValueType::Credentials);
    if !is_credentials || !value.contains('|') {
        return value.to_string();
    }
    value
        .split(',')
        .map(|element| {
            let mut parts = element.split('|');
            let name = parts.next().unwrap_or("");
            let hidden = parts.count();
            let mut shown = name.to_string();
            for _ in 0..hidden {
                shown.push('|');
                shown.push_str(REDACTED);
            }
            shown
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A JVM option for a message, escaped and cut: a `-Dname=value` whose value may be a secret
/// keeps its name (`-Daws.secretAccessKey=<redacted>`); any other option that looks like one
/// (a secret's word, an access key id, a URL with a password) is [`REDACTED`] whole.
pub(crate) fn shown_jvm_option(option: &str) -> String {
    if let Some((name, value)) = option.strip_prefix("-D").and_then(|p| p.split_once('=')) {
        let lowered = name.to_ascii_lowercase();
        if is_secret(name, value) || PROPERTY_WORDS.iter().any(|w| lowered.contains(w)) {
            return format!("-D{}={REDACTED}", shown(name));
        }
    } else if is_secret(option, option) {
        return REDACTED.to_string();
    }
    shown(option).to_string()
}

fn holds_access_key_id(value: &str) -> bool {
    let bytes = value.as_bytes();
    ACCESS_KEY_PREFIXES.iter().any(|prefix| {
        value.match_indices(prefix).any(|(at, _)| {
            let rest = &bytes[at + prefix.len()..];
            rest.len() >= 16
                && rest[..16]
                    .iter()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        })
    })
}

/// `scheme://user:password@host`: a `:` in the user-info before the first `@` of the authority.
fn has_url_password(value: &str) -> bool {
    let Some((_, rest)) = value.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority
        .rsplit_once('@')
        .is_some_and(|(user_info, _)| user_info.contains(':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_recognised_by_key_and_by_value() {
        assert!(is_secret("kinesisClient.secretAccessKey", "x"));
        assert!(is_secret("myPassword", "x"));
        assert!(is_secret("sessionToken", "x"));
        assert!(is_secret("workerId", "id-AKIAABCDEFGHIJKLMNOP"));
        assert!(is_secret("kinesisEndpoint", "https://u:p@host:443/x"));
        assert!(!is_secret("kinesisEndpoint", "https://host:443/x"));
        assert!(!is_secret("kinesisEndpoint", "https://user@host"));
        assert!(!is_secret("workerId", "AKIA-short"));
        assert!(!is_secret("streamName", "my-stream"));
        assert_eq!(shown_value("password", "hunter2"), REDACTED);
        assert_eq!(shown_value("streamName", "s\u{1b}"), "s\\u{1b}");
    }

    #[test]
    fn jvm_options_hide_secret_property_values_and_secret_looking_options() {
        for (option, expected) in [
            ("-Xmx300m", "-Xmx300m"),
            ("-Dfoo=1", "-Dfoo=1"),
            (
                "-Djavax.net.ssl.trustStorePassword=hunter2",
                "-Djavax.net.ssl.trustStorePassword=<redacted>",
            ),
            (
                "-Daws.secretAccessKey=abc",
                "-Daws.secretAccessKey=<redacted>",
            ),
            ("-Daws.accessKeyId=abc", "-Daws.accessKeyId=<redacted>"),
            ("-Daws.sessionToken=abc", "-Daws.sessionToken=<redacted>"),
            ("-Dmy.credentials=abc", "-Dmy.credentials=<redacted>"),
            ("-Dsigning.key=abc", "-Dsigning.key=<redacted>"),
            ("-Dworker=AKIAABCDEFGHIJKLMNOP", "-Dworker=<redacted>"),
            ("-javaagent:a.jar=token=abc", "<redacted>"),
            ("-Dproxy=http://u:p@h", "-Dproxy=<redacted>"),
            ("-Dx=\u{1b}[31m", "-Dx=\\u{1b}[31m"),
        ] {
            assert_eq!(shown_jvm_option(option), expected, "{option}");
        }
    }

    #[test]
    fn provider_arguments_are_hidden_in_listings() {
        let v2 = Dialect::SdkV2;
        assert_eq!(
            listed_value(
                "AwsCredentialsProvider",
                "StsAssumeRoleCredentialsProvider|arn:aws:iam::1:role/r|s,DefaultCredentialsProvider",
                v2
            ),
            "StsAssumeRoleCredentialsProvider|<redacted>|<redacted>,DefaultCredentialsProvider"
        );
        assert_eq!(
            listed_value("AwsCredentialsProvider", "DefaultCredentialsProvider", v2),
            "DefaultCredentialsProvider"
        );
        assert_eq!(listed_value("streamName", "a|b", v2), "a|b");
        assert_eq!(listed_value("token", "abc", v2), REDACTED);
    }
}
