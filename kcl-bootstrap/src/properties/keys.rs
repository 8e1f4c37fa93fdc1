//! The keys the MultiLangDaemon reads from its properties file, for KCL 2.x and 3.x, with the
//! type BeanUtils converts each value to (reference `multilang-protocol.md` §4).

use std::collections::HashMap;
use std::sync::OnceLock;

/// How the daemon converts a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueType {
    /// Taken as is (not trimmed).
    Text,
    /// `int`/`Integer`: trimmed, an invalid number silently becomes 0.
    Int,
    /// `long`/`Long`: trimmed, an invalid number silently becomes 0.
    Long,
    /// `double`.
    Double,
    /// Primitive `boolean`: only `true`-like values do anything; `false` has no effect.
    PrimitiveBool,
    /// Boxed `Boolean`: true and false both work; anything not `true`-like is false.
    Bool,
    /// Enum name, matched after upper-casing, not trimmed.
    Enum(&'static [&'static str]),
    /// An endpoint URL with scheme.
    Url,
    /// A credentials provider chain (`Name[|arg]*`, comma separated).
    Credentials,
    /// An ISO-8601 duration such as `PT12H`.
    Duration,
    /// `k1=v1,k2=v2`.
    Tags,
    /// A stream ARN.
    StreamArn,
    /// A setter exists but no converter from text: setting it from a file fails.
    Unsettable,
}

/// Which daemon generations read a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Since {
    /// KCL 2.x and 3.x.
    Kcl2,
    /// KCL 3.x only.
    Kcl3,
}

/// A key the daemon understands.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KnownKey {
    /// Exact (case-sensitive) name.
    pub(crate) name: &'static str,
    /// Value conversion.
    pub(crate) ty: ValueType,
    /// First generation that reads it.
    pub(crate) since: Since,
}

use Since::{Kcl2, Kcl3};
use ValueType::*;

const POSITIONS: &[&str] = &["LATEST", "TRIM_HORIZON"];
const METRICS_LEVELS: &[&str] = &["NONE", "SUMMARY", "DETAILED"];
const RETRIEVAL_MODES: &[&str] = &["FANOUT", "POLLING", "DEFAULT"];
const BILLING_MODES: &[&str] = &["PROVISIONED", "PAY_PER_REQUEST"];
const CLIENT_VERSIONS: &[&str] = &[
    "CLIENT_VERSION_CONFIG_COMPATIBLE_WITH_2X_PHASE1",
    "CLIENT_VERSION_CONFIG_COMPATIBLE_WITH_2X",
    "CLIENT_VERSION_CONFIG_3X",
];

const fn k(name: &'static str, ty: ValueType, since: Since) -> KnownKey {
    KnownKey { name, ty, since }
}

/// Every flat key, in the reference's order.
pub(crate) const KNOWN_KEYS: &[KnownKey] = &[
    // Read by the daemon itself.
    k("executableName", Text, Kcl2),
    k("processingLanguage", Text, Kcl2),
    k("maxActiveThreads", Int, Kcl2),
    // Core.
    k("applicationName", Text, Kcl2),
    k("streamName", Text, Kcl2),
    k("streamArn", StreamArn, Kcl2),
    k("AwsCredentialsProvider", Credentials, Kcl2),
    k("AwsCredentialsProviderDynamoDB", Credentials, Kcl2),
    k("AwsCredentialsProviderCloudWatch", Credentials, Kcl2),
    k("regionName", Text, Kcl2),
    k("kinesisEndpoint", Url, Kcl2),
    k("dynamoDBEndpoint", Url, Kcl2),
    k("workerId", Text, Kcl2),
    k("workerIdentifier", Text, Kcl2),
    k("tableName", Text, Kcl2),
    k("initialPositionInStream", Enum(POSITIONS), Kcl2),
    k("initialPositionInStreamExtended", Long, Kcl2),
    k("metricsLevel", Enum(METRICS_LEVELS), Kcl2),
    k("metricsEnabledDimensions", Text, Kcl2),
    k("metricsBufferTimeMillis", Long, Kcl2),
    k("metricsMaxQueueSize", Int, Kcl2),
    k("retrievalMode", Enum(RETRIEVAL_MODES), Kcl2),
    k("timeoutInSeconds", Int, Kcl2),
    k("shutdownGraceMillis", Long, Kcl2),
    k(
        "validateSequenceNumberBeforeCheckpointing",
        PrimitiveBool,
        Kcl2,
    ),
    // Polling.
    k("maxRecords", Int, Kcl2),
    k("idleTimeBetweenReadsInMillis", Long, Kcl2),
    k("millisBehindLatestThresholdForReducedTps", Long, Kcl3),
    k("retryGetRecordsInSeconds", Int, Kcl2),
    k("maxGetRecordsThreadPool", Int, Kcl2),
    // Fan-out (nested only).
    k("fanoutConfig.consumerArn", Text, Kcl2),
    k("fanoutConfig.consumerName", Text, Kcl2),
    k("fanoutConfig.maxDescribeStreamSummaryRetries", Int, Kcl2),
    k("fanoutConfig.maxDescribeStreamConsumerRetries", Int, Kcl2),
    k("fanoutConfig.registerStreamConsumerRetries", Int, Kcl2),
    k("fanoutConfig.retryBackoffMillis", Long, Kcl2),
    // Leases.
    k("failoverTimeMillis", Long, Kcl2),
    k("leaseAssignmentIntervalMillis", Long, Kcl3),
    k("shardSyncIntervalMillis", Long, Kcl2),
    k("listShardsBackoffTimeInMillis", Long, Kcl2),
    k("maxLeasesForWorker", Int, Kcl2),
    k("maxLeasesToStealAtOneTime", Int, Kcl2),
    k("initialLeaseTableReadCapacity", Int, Kcl2),
    k("initialLeaseTableWriteCapacity", Int, Kcl2),
    k("leaseTableScanTotalSegments", Int, Kcl3),
    k("maxLeaseRenewalThreads", Int, Kcl2),
    k("maxListShardsRetryAttempts", Int, Kcl2),
    k("cleanupLeasesUponShardCompletion", PrimitiveBool, Kcl2),
    k("ignoreUnexpectedChildShards", PrimitiveBool, Kcl2),
    k("enablePriorityLeaseAssignment", Bool, Kcl3),
    k("leaseTableDeletionProtectionEnabled", Bool, Kcl3),
    k("leaseTablePitrEnabled", Bool, Kcl3),
    // Coordinator.
    k("parentShardPollIntervalMillis", Long, Kcl2),
    k(
        "skipShardSyncAtWorkerInitializationIfLeasesExist",
        PrimitiveBool,
        Kcl2,
    ),
    k("schedulerInitializationBackoffTimeMillis", Long, Kcl2),
    k("shardPrioritization", Unsettable, Kcl2),
    k("clientVersionConfig", Enum(CLIENT_VERSIONS), Kcl3),
    k("migrateAllEntitiesToLeaseTable", PrimitiveBool, Kcl3),
    k("tableMigrationCompleteBakeTimeSeconds", Long, Kcl3),
    // Processor and lifecycle.
    k(
        "callProcessRecordsEvenForEmptyRecordList",
        PrimitiveBool,
        Kcl2,
    ),
    k("taskBackoffTimeMillis", Long, Kcl2),
    k("logWarningForTaskAfterMillis", Long, Kcl2),
    // KCL 3.x: graceful handoff and worker-utilisation-aware assignment.
    k("gracefulLeaseHandoffTimeoutMillis", Long, Kcl3),
    k("isGracefulLeaseHandoffEnabled", Bool, Kcl3),
    k("inMemoryWorkerMetricsCaptureFrequencyMillis", Long, Kcl3),
    k("workerMetricsReporterFreqInMillis", Long, Kcl3),
    k("noOfPersistedMetricsPerWorkerMetrics", Int, Kcl3),
    k("dampeningPercentage", Int, Kcl3),
    k("reBalanceThresholdPercentage", Int, Kcl3),
    k("varianceBalancingFrequency", Int, Kcl3),
    k("maxThroughputPerHostKBps", Double, Kcl3),
    k("workerMetricsEMAAlpha", Double, Kcl3),
    k("disableWorkerMetrics", Bool, Kcl3),
    k("allowThroughputOvershoot", Bool, Kcl3),
    k("staleWorkerMetricsEntryCleanupDuration", Duration, Kcl3),
    k("workerMetricsTableName", Text, Kcl3),
    k("workerMetricsBillingMode", Enum(BILLING_MODES), Kcl3),
    k("workerMetricsReadCapacity", Long, Kcl3),
    k("workerMetricsWriteCapacity", Long, Kcl3),
    k("workerMetricsPointInTimeRecoveryEnabled", Bool, Kcl3),
    k("workerMetricsDeletionProtectionEnabled", Bool, Kcl3),
    k("workerMetricsTags", Tags, Kcl3),
    k("coordinatorStateTableName", Text, Kcl3),
    k("coordinatorStateBillingMode", Enum(BILLING_MODES), Kcl3),
    k("coordinatorStateReadCapacity", Long, Kcl3),
    k("coordinatorStateWriteCapacity", Long, Kcl3),
    k("coordinatorStatePointInTimeRecoveryEnabled", Bool, Kcl3),
    k("coordinatorStateDeletionProtectionEnabled", Bool, Kcl3),
    k("coordinatorStateTags", Tags, Kcl3),
];

/// Prefixes of nested AWS client builder keys (`kinesisClient.region`, ...), which BeanUtils
/// passes to the SDK builders; their names are not checked.
pub(crate) const NESTED_CLIENT_PREFIXES: &[&str] =
    &["kinesisClient.", "dynamoDbClient.", "cloudWatchClient."];

/// How a KCL version reads the credential keys (the one naming difference between generations,
/// read from the daemons' own classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// KCL 2.x before 2.7 (e.g. 2.5.4): the key is exactly `AWSCredentialsProvider` (bean setter
    /// `setAWSCredentialsProvider`, no case normalisation) and values are AWS SDK for Java v1
    /// provider names such as `DefaultAWSCredentialsProviderChain`.
    Kcl2SdkV1,
    /// KCL 2.7+ and 3.x: `AwsCredentialsProvider` with the prefix in any case, AWS SDK v2
    /// provider names such as `DefaultCredentialsProvider`.
    SdkV2,
}

impl Dialect {
    /// The dialect of a multilang version string such as `3.1.3` or `2.5.4`.
    pub(crate) fn for_version(version: &str) -> Dialect {
        let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        match (parts.next().unwrap_or(3), parts.next().unwrap_or(0)) {
            (major, minor) if major < 2 || (major == 2 && minor < 7) => Dialect::Kcl2SdkV1,
            _ => Dialect::SdkV2,
        }
    }
}

const CREDENTIALS_PREFIX: &str = "AwsCredentialsProvider";
const CREDENTIALS_PREFIX_V1: &str = "AWSCredentialsProvider";

/// The spelling users must write for `known` under `dialect`.
pub(crate) fn display_name(known: &KnownKey, dialect: Dialect) -> String {
    match (dialect, known.name.strip_prefix(CREDENTIALS_PREFIX)) {
        (Dialect::Kcl2SdkV1, Some(suffix)) => format!("{CREDENTIALS_PREFIX_V1}{suffix}"),
        _ => known.name.to_string(),
    }
}

/// The table by exact name, built once: a file can have 100,000s of keys.
fn by_name() -> &'static HashMap<&'static str, &'static KnownKey> {
    static MAP: OnceLock<HashMap<&'static str, &'static KnownKey>> = OnceLock::new();
    MAP.get_or_init(|| KNOWN_KEYS.iter().map(|k| (k.name, k)).collect())
}

/// Looks a key up exactly as the daemon does: case-sensitive, except that with
/// [`Dialect::SdkV2`] a key whose lower-case form starts with `awscredentialsprovider` has that
/// prefix normalised.
pub(crate) fn lookup(key: &str, dialect: Dialect) -> Option<&'static KnownKey> {
    let n = CREDENTIALS_PREFIX.len();
    let has_prefix_any_case = key
        .as_bytes()
        .get(..n)
        .is_some_and(|p| p.eq_ignore_ascii_case(CREDENTIALS_PREFIX.as_bytes()));
    if !has_prefix_any_case {
        return by_name().get(key).copied();
    }
    let exact_v1 = key.starts_with(CREDENTIALS_PREFIX_V1);
    if dialect == Dialect::Kcl2SdkV1 && !exact_v1 {
        return None;
    }
    // The first n bytes are ASCII, so n is a char boundary.
    let normalised = format!("{CREDENTIALS_PREFIX}{}", key.get(n..)?);
    by_name().get(normalised.as_str()).copied()
}

/// Longest known name; a key much longer than that is no typo of one.
fn longest_name() -> usize {
    KNOWN_KEYS.iter().map(|k| k.name.len()).max().unwrap_or(0)
}

/// The known key an unknown key was probably meant to be: equal ignoring case, or within a
/// small edit distance (1 for short names, 2 for names of 8+ characters).
///
/// Linear in the key's length: only keys at most 2 longer than the longest known name are
/// compared, only with names of a length within the distance limit, and only a band around
/// the diagonal of the distance matrix is computed (measured: 190,000 such keys, 10 MB, are
/// checked in well under a second; see `tests/validation_speed.rs`).
pub(crate) fn near_miss(key: &str) -> Option<&'static KnownKey> {
    if key.len() > longest_name() + 2 {
        return None;
    }
    if let Some(k) = KNOWN_KEYS.iter().find(|k| k.name.eq_ignore_ascii_case(key)) {
        return Some(k);
    }
    let lowered: Vec<char> = key.chars().map(|c| c.to_ascii_lowercase()).collect();
    let limit = if lowered.len() >= 8 { 2 } else { 1 };
    let mut rows = Rows::default();
    let mut name = Vec::new();
    KNOWN_KEYS
        .iter()
        .filter(|k| k.name.len().abs_diff(lowered.len()) <= limit)
        .filter_map(|k| {
            name.clear();
            name.extend(k.name.chars().map(|c| c.to_ascii_lowercase()));
            Some((k, rows.banded(&lowered, &name, limit)?))
        })
        .min_by_key(|(_, d)| *d)
        .map(|(k, _)| k)
}

/// Levenshtein distance over chars, ignoring ASCII case; `None` when it exceeds `limit`.
#[cfg(test)]
fn bounded_edit_distance(a: &str, b: &str, limit: usize) -> Option<usize> {
    let a: Vec<char> = a.chars().map(|c| c.to_ascii_lowercase()).collect();
    let b: Vec<char> = b.chars().map(|c| c.to_ascii_lowercase()).collect();
    Rows::default().banded(&a, &b, limit)
}

/// Two rows of the distance matrix, reused across comparisons.
#[derive(Default)]
struct Rows {
    prev: Vec<usize>,
    cur: Vec<usize>,
}

impl Rows {
    /// Only a band of width `2 * limit + 1` around the diagonal is computed: cells outside it
    /// are more than `limit` anyway.
    fn banded(&mut self, a: &[char], b: &[char], limit: usize) -> Option<usize> {
        if a.len().abs_diff(b.len()) > limit {
            return None;
        }
        let far = limit + 1;
        self.prev.clear();
        self.prev.extend((0..=b.len()).map(|j| j.min(far)));
        self.cur.clear();
        self.cur.resize(b.len() + 1, far);
        for i in 1..=a.len() {
            let lo = i.saturating_sub(limit).max(1);
            let hi = (i + limit).min(b.len());
            self.cur.fill(far);
            self.cur[0] = i.min(far);
            let mut best = self.cur[0];
            for j in lo..=hi {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                let d = (self.prev[j - 1] + cost)
                    .min(self.prev[j] + 1)
                    .min(self.cur[j - 1] + 1)
                    .min(far);
                self.cur[j] = d;
                best = best.min(d);
            }
            if best > limit {
                return None;
            }
            std::mem::swap(&mut self.prev, &mut self.cur);
        }
        let d = self.prev[b.len()];
        (d <= limit).then_some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_case_sensitive_except_credentials_prefix() {
        let v2 = Dialect::SdkV2;
        assert!(lookup("streamName", v2).is_some());
        assert!(lookup("StreamName", v2).is_none());
        assert_eq!(
            lookup("AWSCredentialsProvider", v2).unwrap().name,
            "AwsCredentialsProvider"
        );
        assert_eq!(
            lookup("awscredentialsproviderDynamoDB", v2).unwrap().name,
            "AwsCredentialsProviderDynamoDB"
        );
        // The suffix stays case-sensitive.
        assert!(lookup("AwsCredentialsProviderDynamodb", v2).is_none());
        // Non-ASCII near the prefix boundary must not panic.
        assert!(lookup("AwsCredentialsProvidé", v2).is_none());
    }

    #[test]
    fn kcl2_before_2_7_wants_the_exact_sdk_v1_spelling() {
        let v1 = Dialect::for_version("2.5.4");
        assert_eq!(v1, Dialect::Kcl2SdkV1);
        assert_eq!(Dialect::for_version("3.1.3"), Dialect::SdkV2);
        assert_eq!(Dialect::for_version("2.7.0"), Dialect::SdkV2);
        let k = lookup("AWSCredentialsProviderCloudWatch", v1).unwrap();
        assert_eq!(k.name, "AwsCredentialsProviderCloudWatch");
        assert_eq!(display_name(k, v1), "AWSCredentialsProviderCloudWatch");
        assert!(lookup("AwsCredentialsProvider", v1).is_none());
        assert!(lookup("awscredentialsprovider", v1).is_none());
    }

    #[test]
    fn near_misses() {
        assert_eq!(
            near_miss("DynamoDBEndpoint").unwrap().name,
            "dynamoDBEndpoint"
        );
        assert_eq!(near_miss("StreamName").unwrap().name, "streamName");
        assert_eq!(near_miss("kinesisEndpont").unwrap().name, "kinesisEndpoint");
        assert_eq!(
            near_miss("shutdownGraceMilis").unwrap().name,
            "shutdownGraceMillis"
        );
        assert!(near_miss("myCustomSetting").is_none());
        assert!(near_miss("").is_none());
        assert!(near_miss(&"x".repeat(1_000_000)).is_none());
        assert!(near_miss("streamNamé").is_some());
        assert_eq!(bounded_edit_distance("kitten", "sitting", 3), Some(3));
        assert_eq!(bounded_edit_distance("kitten", "sitting", 2), None);
        assert_eq!(bounded_edit_distance("abc", "ABC", 0), Some(0));
        assert_eq!(bounded_edit_distance("", "ab", 2), Some(2));
        assert_eq!(bounded_edit_distance("ab", "", 1), None);
    }

    /// The banded distance agrees with the full Levenshtein matrix wherever it answers.
    #[test]
    fn banded_distance_matches_the_full_matrix() {
        fn full(a: &str, b: &str) -> usize {
            let a: Vec<char> = a.to_ascii_lowercase().chars().collect();
            let b: Vec<char> = b.to_ascii_lowercase().chars().collect();
            let mut prev: Vec<usize> = (0..=b.len()).collect();
            for i in 1..=a.len() {
                let mut cur = vec![i; b.len() + 1];
                for j in 1..=b.len() {
                    let cost = usize::from(a[i - 1] != b[j - 1]);
                    cur[j] = (prev[j - 1] + cost).min(prev[j] + 1).min(cur[j - 1] + 1);
                }
                prev = cur;
            }
            prev[b.len()]
        }
        let words = [
            "",
            "a",
            "ab",
            "ba",
            "abc",
            "acb",
            "streamName",
            "StreamNam",
            "stremName",
            "streamNames",
            "xstreamName",
            "maxRecords",
            "maxRecord",
            "mxRecords",
            "shutdownGraceMillis",
            "shutdownGraceMilis",
            "é",
            "éa",
            "aé",
        ];
        for a in words {
            for b in words {
                let d = full(a, b);
                for limit in 0..4 {
                    let expected = (d <= limit).then_some(d);
                    assert_eq!(
                        bounded_edit_distance(a, b, limit),
                        expected,
                        "{a:?} {b:?} {limit}"
                    );
                }
            }
        }
    }

    #[test]
    fn table_has_no_duplicates() {
        let mut names: Vec<_> = KNOWN_KEYS.iter().map(|k| k.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), KNOWN_KEYS.len());
    }
}
