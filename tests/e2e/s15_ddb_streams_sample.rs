//! Scenario 15 (sample): `samples/ddb-streams` as shipped. `ddb-streams-producer` creates a table
//! with a stream and inserts, updates and deletes items; `ddb-streams-consumer` runs under
//! `kcl-bootstrap --dynamodb-streams` with `properties/ddb-streams.properties` (only the
//! executable, the application, the ARN and the local endpoints changed): it counts every change
//! kind right and the shard's lease checkpoint reaches the stream's last record.

use std::process::Command;
use std::time::{Duration, Instant};

use kcl_e2e::paths::{profile_dir, repo_root};
use kcl_e2e::scenario::Scenario;

const ITEMS: u32 = 9;

/// Builds the sample's binaries into the test's target directory (the harness builds only the
/// other samples) and returns the profile directory holding them.
fn build_sample() -> std::path::PathBuf {
    let profile = profile_dir();
    let target = profile
        .parent()
        .expect("the profile directory has a parent");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(repo_root())
        .args([
            "build",
            "--bins",
            "-p",
            "kcl-sample-ddb-streams",
            "--target-dir",
        ])
        .arg(target);
    if profile.file_name().is_some_and(|n| n == "release") {
        command.arg("--release");
    }
    let status = command.status().expect("run cargo build");
    assert!(
        status.success(),
        "cargo build -p kcl-sample-ddb-streams failed"
    );
    profile
}

/// One DynamoDB Streams API call to moto (JSON 1.0; moto does not check signatures).
fn streams_call(endpoint: &str, action: &str, body: serde_json::Value) -> serde_json::Value {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut response = agent
        .post(endpoint)
        .header("Content-Type", "application/x-amz-json-1.0")
        .header("X-Amz-Target", &format!("DynamoDBStreams_20120810.{action}"))
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
        )
        .send(body.to_string())
        .unwrap_or_else(|e| panic!("{action}: {e}"));
    let text = response.body_mut().read_to_string().expect("body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{action}: {e}: {text}"))
}

/// The stream's only shard and its last sequence number, read from moto.
fn last_record(endpoint: &str, arn: &str) -> (String, String) {
    let described = streams_call(
        endpoint,
        "DescribeStream",
        serde_json::json!({ "StreamArn": arn }),
    );
    let shard = described["StreamDescription"]["Shards"][0]["ShardId"]
        .as_str()
        .expect("a shard")
        .to_owned();
    let iterator = streams_call(
        endpoint,
        "GetShardIterator",
        serde_json::json!({ "StreamArn": arn, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON" }),
    )["ShardIterator"]
        .as_str()
        .expect("an iterator")
        .to_owned();
    let records = streams_call(
        endpoint,
        "GetRecords",
        serde_json::json!({ "ShardIterator": iterator, "Limit": 1000 }),
    );
    let last = records["Records"]
        .as_array()
        .and_then(|r| r.last())
        .and_then(|r| r["dynamodb"]["SequenceNumber"].as_str())
        .expect("records")
        .to_owned();
    (shard, last)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s15_ddb_streams_sample_counts_every_change_and_checkpoints() {
    let mut s = Scenario::new("s15-ddb-streams-sample");
    let profile = build_sample();
    let moto = s.stack().moto_endpoint.clone();
    let table = format!("{}-table", s.application);
    let produced = Command::new(profile.join("ddb-streams-producer"))
        .args(["--table", &table, "--items", &ITEMS.to_string()])
        .envs(s.stack().env())
        .output()
        .expect("run ddb-streams-producer");
    assert!(
        produced.status.success(),
        "ddb-streams-producer: {}",
        String::from_utf8_lossy(&produced.stderr)
    );
    let arn = String::from_utf8_lossy(&produced.stdout).trim().to_owned();
    let (shard, last) = last_record(&moto, &arn);
    s.mark("produced");

    let shipped = std::fs::read_to_string(repo_root().join("properties/ddb-streams.properties"))
        .expect("read properties/ddb-streams.properties");
    let mut text = String::new();
    for line in shipped.lines() {
        let key = line.split('=').next().unwrap_or_default().trim();
        let replaced = match key {
            "executableName" => Some(profile.join("ddb-streams-consumer").display().to_string()),
            "applicationName" => Some(s.application.clone()),
            "dynamoDBStreamsEndpoint" | "dynamoDBEndpoint" => Some(moto.clone()),
            _ => None,
        };
        match replaced {
            Some(value) => text.push_str(&format!("{key} = {value}\n")),
            None => text.push_str(&format!("{line}\n")),
        }
    }
    text.push_str(&format!(
        "dynamoDBStreamArn = {arn}\nworkerId = s15-sample\n"
    ));
    let path = s.dir().join("sample.properties");
    std::fs::write(&path, text).expect("write the properties");
    let worker = s.start_worker_with_file(
        "sample",
        &path,
        None,
        &[
            ("KCL_BOOTSTRAP_DYNAMODB_STREAMS", "true"),
            ("RUST_LOG", "info"),
        ],
    );

    // The consumer's INFO batch line carries the running counts; the lease reaches the last record.
    let want = format!(
        "inserts={ITEMS} modifies={ITEMS} removes={}",
        ITEMS.div_ceil(3)
    );
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let log = std::fs::read_to_string(worker.log()).unwrap_or_default();
        let leases = s.clients.leases_by_shard(&s.application).await;
        let checkpoint = leases.get(&shard).and_then(|l| l.checkpoint.clone());
        if log.contains(&want) && checkpoint.as_deref() == Some(last.as_str()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after 240 s: counts line {want:?} in the log: {}; lease checkpoint {checkpoint:?}, want {last}; log {}",
            log.contains(&want),
            worker.log().display()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    drop(worker);
    s.pass();
}
