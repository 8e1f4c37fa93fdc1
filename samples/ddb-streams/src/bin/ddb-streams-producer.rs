//! `ddb-streams-producer`: creates the table with a NEW_AND_OLD_IMAGES stream if it is missing,
//! then inserts `--items` items, updates each of them and deletes every third, and prints the
//! stream ARN (the `dynamoDBStreamArn` of the consumer's properties) on stdout.
//!
//! AWS settings come from the standard places (`AWS_REGION`, the credential chain, and
//! `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_DYNAMODB` for a local stack).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, StreamSpecification, StreamViewType, TableStatus,
};
use clap::Parser;

/// Write, update and delete items of a DynamoDB table with a stream (the DynamoDB Streams
/// sample's producer).
#[derive(Debug, Parser)]
#[command(name = "ddb-streams-producer", version)]
struct Args {
    /// Table to write to; created (with a stream) if missing.
    #[arg(
        long,
        env = "DDB_STREAMS_TABLE",
        default_value = "kcl-rs-ddb-streams-sample"
    )]
    table: String,
    /// Number of items.
    #[arg(long, default_value_t = 10)]
    items: u32,
    /// Seconds to wait for a new table to become ACTIVE.
    #[arg(long, default_value_t = 60)]
    wait_secs: u64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    match produce(&args).await {
        Ok(arn) => {
            println!("{arn}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("ddb-streams-producer: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Writes the changes; returns the table's stream ARN.
async fn produce(args: &Args) -> Result<String, String> {
    let config = load_config().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let arn = ensure_table(&client, &args.table, Duration::from_secs(args.wait_secs)).await?;
    let fail = |what: &str, e: &dyn std::fmt::Display| format!("{what} on {}: {e}", args.table);
    for round in 1..=2 {
        for i in 0..args.items {
            client
                .put_item()
                .table_name(&args.table)
                .item("pk", AttributeValue::S(format!("item-{i}")))
                .item("round", AttributeValue::N(round.to_string()))
                .send()
                .await
                .map_err(|e| fail("PutItem", &DisplayErrorContext(e)))?;
        }
    }
    for i in (0..args.items).step_by(3) {
        client
            .delete_item()
            .table_name(&args.table)
            .key("pk", AttributeValue::S(format!("item-{i}")))
            .send()
            .await
            .map_err(|e| fail("DeleteItem", &DisplayErrorContext(e)))?;
    }
    eprintln!(
        "ddb-streams-producer: {} inserts, {} updates, {} deletes on {}",
        args.items,
        args.items,
        args.items.div_ceil(3),
        args.table
    );
    Ok(arn)
}

/// The table's stream ARN, creating the table (and waiting until it is ACTIVE) if needed.
async fn ensure_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    wait: Duration,
) -> Result<String, String> {
    let described = client.describe_table().table_name(table).send().await;
    if described.is_err() {
        client
            .create_table()
            .table_name(table)
            .key_schema(built(
                KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(KeyType::Hash)
                    .build(),
            )?)
            .attribute_definitions(built(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build(),
            )?)
            .billing_mode(BillingMode::PayPerRequest)
            .stream_specification(built(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .build(),
            )?)
            .send()
            .await
            .map_err(|e| format!("CreateTable {table}: {}", DisplayErrorContext(e)))?;
    }
    let deadline = Instant::now() + wait;
    loop {
        let out = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| format!("DescribeTable {table}: {}", DisplayErrorContext(e)))?;
        let description = out.table();
        let active = description.and_then(|t| t.table_status()) == Some(&TableStatus::Active);
        match description.and_then(|t| t.latest_stream_arn()) {
            Some(arn) if active => return Ok(arn.to_owned()),
            None if active => {
                return Err(format!(
                    "table {table} has no stream; enable one (NEW_AND_OLD_IMAGES) or use another --table"
                ));
            }
            _ => {}
        }
        if Instant::now() > deadline {
            return Err(format!("table {table} is not ACTIVE after {wait:?}"));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A model builder's result with its error as text.
fn built<T>(result: Result<T, aws_sdk_dynamodb::error::BuildError>) -> Result<T, String> {
    result.map_err(|e| e.to_string())
}

/// The AWS configuration from the environment (region, credentials, endpoints), with the SDK's
/// hyper 1 / rustls HTTPS client on the ring crypto provider (as samples/basic; it speaks plain
/// HTTP to `http://` endpoints such as a local stack).
async fn load_config() -> aws_config::SdkConfig {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http_client)
        .load()
        .await
}
