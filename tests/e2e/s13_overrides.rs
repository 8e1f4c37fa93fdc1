//! Scenario 13 (properties without editing files): the real daemon runs from a properties file
//! that names only the processor and a decoy stream and application, with every other setting,
//! and the real stream and application, given as `KCL_PROPERTY_*` variables in their upper-case
//! form. kcl-bootstrap writes the effective file and the exec'd JVM reads it: every record of the
//! real stream reaches the sink, the real application's lease table has every shard checkpointed
//! at its last record, and no lease table was made for the decoy.

use std::time::Duration;

use kcl_e2e::scenario::Scenario;
use kcl_e2e::stack::REGION;

use crate::common::{e2e_consumer, wait_all_in_sink, wait_checkpoints_at_last};

/// `dynamoDBEndpoint` -> `KCL_PROPERTY_DYNAMO_DBENDPOINT`, as a user writes it: an underscore
/// where a lower-case letter meets an upper-case one, everything upper case. kcl-bootstrap matches
/// such names to keys ignoring case and underscores (docs/bootstrap.md).
fn variable_for(key: &str) -> String {
    let mut name = String::from("KCL_PROPERTY_");
    let mut previous_lower = false;
    for c in key.chars() {
        if c.is_ascii_uppercase() && previous_lower {
            name.push('_');
        }
        previous_lower = c.is_ascii_lowercase();
        name.push(c.to_ascii_uppercase());
    }
    name
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s13_properties_from_the_environment_override_the_file() {
    let mut s = Scenario::new("s13-overrides");
    s.clients
        .create_stream(&s.stream, 2)
        .await
        .expect("create stream");
    let produced = s
        .clients
        .produce(&s.stream, "s13", 0, 1_000)
        .await
        .expect("produce");
    s.mark("1,000 records produced");

    let decoy = format!("{}-decoy", s.application);
    let file = s.dir().join("decoy.properties");
    std::fs::write(
        &file,
        format!(
            "executableName = {}\nstreamName = {decoy}\napplicationName = {decoy}\n\
             AwsCredentialsProvider = DefaultCredentialsProvider\n",
            e2e_consumer().display()
        ),
    )
    .expect("write the decoy file");
    let stack = s.stack();
    let settings: Vec<(&str, String)> = vec![
        ("streamName", s.stream.clone()),
        ("applicationName", s.application.clone()),
        ("regionName", REGION.into()),
        ("kinesisEndpoint", stack.kinesis_endpoint.clone()),
        ("dynamoDBEndpoint", stack.moto_endpoint.clone()),
        ("initialPositionInStream", "TRIM_HORIZON".into()),
        ("retrievalMode", "POLLING".into()),
        ("metricsLevel", "NONE".into()),
        ("idleTimeBetweenReadsInMillis", "250".into()),
        ("maxRecords", "1000".into()),
        ("shardSyncIntervalMillis", "1000".into()),
        ("parentShardPollIntervalMillis", "500".into()),
        ("leaseAssignmentIntervalMillis", "1000".into()),
        ("failoverTimeMillis", "5000".into()),
        ("isGracefulLeaseHandoffEnabled", "false".into()),
        ("shutdownGraceMillis", "20000".into()),
        ("taskBackoffTimeMillis", "200".into()),
    ];
    let env: Vec<(String, String)> = settings
        .iter()
        .map(|(key, value)| (variable_for(key), value.clone()))
        .collect();
    assert!(
        env.iter()
            .any(|(k, _)| k == "KCL_PROPERTY_DYNAMO_DBENDPOINT")
    );
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();

    let sink = s.sink("worker");
    let worker = s.start_worker_with_file("worker", &file, Some(&sink), &env_refs);
    wait_all_in_sink(&sink, &produced, Duration::from_secs(240)).await;
    s.mark("all records in the sink");
    wait_checkpoints_at_last(
        &s.clients,
        &s.application,
        &produced,
        Duration::from_secs(60),
    )
    .await;
    s.mark("all checkpoints at the last sequence numbers");
    let decoy_leases = s.clients.leases_by_shard(&decoy).await;
    assert!(
        decoy_leases.is_empty(),
        "the decoy application from the file was used: {decoy_leases:?}"
    );
    drop(worker);
    s.pass();
}
