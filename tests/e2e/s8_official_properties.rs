//! Scenario 8: an existing deployment's properties file, in the style of the official Python/Node
//! samples with KCL 3 key names (`tests/fixtures/official-style.properties`), changed only in
//! `executableName` and the local endpoints, passes `kcl-bootstrap --check` and runs our consumer:
//! every record reaches the sink and every shard is checkpointed at its last record.

use std::process::Command;
use std::time::Duration;

use kcl_e2e::paths::{repo_root, workspace_binary};
use kcl_e2e::scenario::Scenario;

use crate::common::{e2e_consumer, wait_all_in_sink, wait_checkpoints_at_last};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s8_official_style_properties_run_our_consumer() {
    let mut s = Scenario::new("s8-official-properties");
    let fixture =
        std::fs::read_to_string(repo_root().join("tests/fixtures/official-style.properties"))
            .expect("read the fixture");
    // The names come from the fixture (the stack is fresh per test process, so they are unique).
    let (stream, application) = ("kclrssample", "RustKCLSample");
    let mut text = String::new();
    let mut replaced = false;
    for line in fixture.lines() {
        if line.starts_with("executableName") {
            text.push_str(&format!("executableName = {}\n", e2e_consumer().display()));
            replaced = true;
        } else {
            text.push_str(line);
            text.push('\n');
        }
    }
    assert!(replaced, "the fixture has an executableName line");
    let stack = s.stack();
    text.push_str(&format!(
        "\n# Local stack (added by scenario 8)\nkinesisEndpoint = {}\ndynamoDBEndpoint = {}\nretrievalMode = POLLING\n",
        stack.kinesis_endpoint, stack.moto_endpoint
    ));
    let path = s.dir().join("official-style.properties");
    std::fs::write(&path, &text).expect("write properties");

    let check = Command::new(workspace_binary("kcl-bootstrap"))
        .arg("-p")
        .arg(&path)
        .arg("--check")
        .output()
        .expect("run kcl-bootstrap --check");
    assert!(
        check.status.success(),
        "kcl-bootstrap --check rejected the official-style file ({}):\n{}",
        check.status,
        String::from_utf8_lossy(&check.stderr)
    );
    s.mark("kcl-bootstrap --check accepted the file");

    s.clients
        .create_stream(stream, 2)
        .await
        .expect("create stream");
    let produced = s
        .clients
        .produce(stream, "s8", 0, 1_000)
        .await
        .expect("produce");
    let sink = s.sink("worker");
    // Start with the file exactly as written above (no template settings mixed in).
    let worker = s.start_worker_with_file("worker", &path, Some(&sink), &[]);
    wait_all_in_sink(&sink, &produced, Duration::from_secs(240)).await;
    wait_checkpoints_at_last(&s.clients, application, &produced, Duration::from_secs(60)).await;
    s.mark("all records in the sink and checkpointed");
    drop(worker);
    s.pass();
}
