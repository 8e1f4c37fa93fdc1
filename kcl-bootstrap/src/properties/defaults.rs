//! The settings a launch without a properties file starts from; flags and the environment
//! override each of them. Each is what `properties/sample.properties` sets, for the reason
//! given, and none of them costs money or loses records by surprise.

use super::context::Context;
use super::keys::Dialect;
use super::origin::{Origin, Setting};

/// The defaults for launching `ctx`'s daemon without a file.
pub(crate) fn defaults(ctx: &Context) -> Vec<Setting> {
    let mut out = Vec::new();
    let mut add = |key: &str, value: &str| {
        out.push(Setting::new(key.into(), value.into(), Origin::Default));
    };
    // Required by the daemon. The SDK's default chain (environment, profile, web identity,
    // container, instance metadata) is what every official template uses; KCL 2 before 2.7
    // loads SDK v1 providers under the older key spelling.
    match ctx.dialect() {
        Dialect::SdkV2 => add("AwsCredentialsProvider", "DefaultCredentialsProvider"),
        Dialect::Kcl2SdkV1 => add(
            "AWSCredentialsProvider",
            "DefaultAWSCredentialsProviderChain",
        ),
    }
    // The daemon's default is enhanced fan-out, a stream consumer billed per shard-hour and GB
    // on top of the stream; polling costs nothing extra (and is all kinesis-local supports).
    add("retrievalMode", "POLLING");
    // KCL's default, LATEST, makes a new application skip every record already in the stream;
    // TRIM_HORIZON (the official templates' choice) delivers them.
    add("initialPositionInStream", "TRIM_HORIZON");
    // The daemon's default, 0, skips graceful shutdown: on SIGTERM no processor gets
    // shutdownRequested or a chance to checkpoint. 30 s is above KCL 3's default
    // failoverTimeMillis (10 s), which it waits for leases to be released before exiting.
    add("shutdownGraceMillis", "30000");
    // Only logged and put into the user agent.
    add("processingLanguage", "rust");
    if strands_leases_on_handoff(ctx.kcl_version()) {
        // KCL 3.0.0-3.4.2 strands a lease whose graceful handoff reaches a consumer waiting
        // for its parent shards (tests/e2e scenario 10; fixed in 3.4.3): see sample.properties.
        add("isGracefulLeaseHandoffEnabled", "false");
    }
    out
}

/// KCL 3.0.0 up to 3.4.2: the versions with the stranded-lease bug of graceful handoff.
fn strands_leases_on_handoff(version: &str) -> bool {
    let mut parts = version.split(['.', '-']).map(|p| p.parse::<u32>().ok());
    let (Some(Some(major)), Some(Some(minor)), patch) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let patch = patch.flatten().unwrap_or(0);
    major == 3 && (minor, patch) < (4, 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handoff_is_turned_off_exactly_on_the_affected_versions() {
        for (version, affected) in [
            ("3.1.3", true),
            ("3.0.0", true),
            ("3.4.2", true),
            ("3.4.3", false),
            ("3.5.0", false),
            ("2.5.4", false),
            ("4.0.0", false),
            ("x", false),
        ] {
            assert_eq!(strands_leases_on_handoff(version), affected, "{version}");
        }
    }
}
