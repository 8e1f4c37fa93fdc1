//! Credentials provider names: SDK v1 names on a KCL that loads SDK v2 providers, and the reverse.

use super::super::diagnostic::{Diagnostic, Severity};
use super::super::keys;
use super::super::origin::Origin;
use crate::display::shown;

/// SDK v1 credential provider names that KCL 2.x/3.x (SDK v2) cannot load, with the v2 name.
const SDK_V1_PROVIDERS: &[(&str, &str)] = &[
    (
        "DefaultAWSCredentialsProviderChain",
        "DefaultCredentialsProvider",
    ),
    ("AWSStaticCredentialsProvider", "StaticCredentialsProvider"),
    (
        "EC2ContainerCredentialsProviderWrapper",
        "ContainerCredentialsProvider",
    ),
    (
        "SystemPropertiesCredentialsProvider",
        "SystemPropertyCredentialsProvider",
    ),
    (
        "ClasspathPropertiesFileCredentialsProvider",
        "ProfileCredentialsProvider",
    ),
    (
        "PropertiesFileCredentialsProvider",
        "ProfileCredentialsProvider",
    ),
    (
        "STSAssumeRoleSessionCredentialsProvider",
        "StsAssumeRoleCredentialsProvider",
    ),
    (
        "WebIdentityTokenCredentialsProvider",
        "WebIdentityTokenFileCredentialsProvider",
    ),
    (
        "EnvironmentVariableCredentialsProvider",
        "EnvironmentVariableCredentialsProvider",
    ),
];

/// AWS SDK for Java v2 provider names, which a KCL 2.x daemon before 2.7 cannot load.
const SDK_V2_ONLY_PROVIDERS: &[(&str, &str)] = &[
    (
        "DefaultCredentialsProvider",
        "DefaultAWSCredentialsProviderChain",
    ),
    ("StaticCredentialsProvider", "AWSStaticCredentialsProvider"),
    (
        "SystemPropertyCredentialsProvider",
        "SystemPropertiesCredentialsProvider",
    ),
    (
        "WebIdentityTokenFileCredentialsProvider",
        "WebIdentityTokenCredentialsProvider",
    ),
    (
        "ContainerCredentialsProvider",
        "EC2ContainerCredentialsProviderWrapper",
    ),
    (
        "StsAssumeRoleCredentialsProvider",
        "STSAssumeRoleSessionCredentialsProvider",
    ),
];

pub(super) fn check_credentials(
    key: &str,
    value: &str,
    dialect: keys::Dialect,
    out: &mut Vec<Diagnostic>,
    origin: &Origin,
) {
    let mut push = |severity: Severity, message: String| {
        out.push(match severity {
            Severity::Error => Diagnostic::error(Some(origin.clone()), message),
            Severity::Warning => Diagnostic::warning(Some(origin.clone()), message),
        })
    };
    for element in value.split(',') {
        let raw_name = element.trim().split('|').next().unwrap_or("").trim();
        if raw_name.is_empty() {
            continue;
        }
        let name = shown(raw_name).to_string();
        let name = name.as_str();
        let simple = raw_name.rsplit('.').next().unwrap_or(raw_name);
        match dialect {
            keys::Dialect::SdkV2 => {
                let v1_package = raw_name.starts_with("com.amazonaws.auth.");
                let hit = SDK_V1_PROVIDERS.iter().find(|(v1, _)| *v1 == simple);
                if let Some((_, v2)) = hit.filter(|(v1, v2)| v1 != v2 || v1_package) {
                    push(
                        Severity::Warning,
                        format!(
                            "'{key}': '{name}' is an AWS SDK for Java v1 provider, which this KCL cannot load (it only \
                             warns and builds an empty chain); use '{v2}'"
                        ),
                    );
                } else if v1_package {
                    push(
                        Severity::Warning,
                        format!(
                            "'{key}': '{name}' is in the AWS SDK for Java v1 package com.amazonaws.auth, which this KCL \
                             cannot load; use an SDK v2 provider such as DefaultCredentialsProvider"
                        ),
                    );
                }
            }
            keys::Dialect::Kcl2SdkV1 => {
                let v2_package = raw_name.starts_with("software.amazon.awssdk.");
                if let Some((v2, v1)) = SDK_V2_ONLY_PROVIDERS.iter().find(|(v2, _)| *v2 == simple) {
                    push(
                        Severity::Error,
                        format!(
                            "'{key}': '{v2}' is an AWS SDK for Java v2 provider, but this KCL 2.x daemon loads SDK v1 \
                             providers and fails with \"No credential providers specified\"; use '{v1}'"
                        ),
                    );
                } else if v2_package {
                    push(
                        Severity::Error,
                        format!(
                            "'{key}': '{name}' is an AWS SDK for Java v2 class, but this KCL 2.x daemon loads SDK v1 \
                             providers; use e.g. DefaultAWSCredentialsProviderChain"
                        ),
                    );
                }
            }
        }
    }
}
