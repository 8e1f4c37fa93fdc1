//! The AWS side of the sample, on the AWS SDK for Rust: configuration, stream and bucket set-up,
//! and the reads the verifier needs.
//!
//! Configuration comes from the standard places only: `AWS_REGION`, the default credential chain,
//! and the endpoint variables `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_KINESIS`,
//! `AWS_ENDPOINT_URL_S3` and `AWS_ENDPOINT_URL_DYNAMODB` for a local stack.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_kinesis::types::StreamStatus;
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};

use crate::verify::Checkpoint;

/// The AWS configuration from the environment (region, credentials, endpoints), with the SDK's
/// hyper 1 / rustls HTTPS client on the ring crypto provider (Cargo.toml says why not aws-lc).
pub async fn load_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http_client())
        .load()
        .await
}

/// The SDK's HTTPS client (it speaks plain HTTP to `http://` endpoints, such as a local stack).
pub fn http_client() -> aws_sdk_kinesis::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// Whether a custom S3 endpoint is configured through the environment (a local stack, MinIO…).
pub fn custom_s3_endpoint() -> bool {
    ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .any(|name| std::env::var(name).is_ok_and(|v| !v.trim().is_empty()))
}

/// An S3 client. Path-style addressing (`http://host/bucket/key`) is used when `path_style` says
/// so, and by default whenever a custom S3 endpoint is set, because local emulators do not serve
/// virtual-host buckets (`http://bucket.host/key`).
pub fn s3_client(config: &aws_config::SdkConfig, path_style: Option<bool>) -> aws_sdk_s3::Client {
    let path_style = path_style.unwrap_or_else(custom_s3_endpoint);
    let s3_config = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(path_style)
        .build();
    aws_sdk_s3::Client::from_conf(s3_config)
}

/// Creates `bucket` unless it exists; returns `true` when this call created it. Safe when several
/// consumers (one per shard) start at once.
pub async fn ensure_bucket(client: &aws_sdk_s3::Client, bucket: &str) -> Result<bool, String> {
    if client.head_bucket().bucket(bucket).send().await.is_ok() {
        return Ok(false);
    }
    let mut request = client.create_bucket().bucket(bucket);
    // us-east-1 is the one region that rejects an explicit location constraint.
    if let Some(region) = client.config().region().map(|r| r.as_ref().to_owned())
        && region != "us-east-1"
    {
        request = request.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region.as_str()))
                .build(),
        );
    }
    match request.send().await {
        Ok(_) => Ok(true),
        Err(SdkError::ServiceError(e)) if e.err().is_bucket_already_owned_by_you() => Ok(false),
        Err(e) => Err(format!(
            "cannot create bucket {bucket}: {} (choose another name with CLICKSTREAM_BUCKET, or \
             check AWS_REGION, credentials and AWS_ENDPOINT_URL_S3)",
            DisplayErrorContext(&e)
        )),
    }
}

/// Creates `stream` with `shards` shards unless it exists, then waits until it is `ACTIVE`.
/// Returns `true` when this call created the stream; an existing stream keeps its shard count.
pub async fn ensure_stream(
    client: &aws_sdk_kinesis::Client,
    stream: &str,
    shards: i32,
    timeout: Duration,
) -> Result<bool, String> {
    use aws_sdk_kinesis::error::{DisplayErrorContext, SdkError};
    let created = match client
        .describe_stream_summary()
        .stream_name(stream)
        .send()
        .await
    {
        Ok(_) => false,
        Err(SdkError::ServiceError(e)) if e.err().is_resource_not_found_exception() => match client
            .create_stream()
            .stream_name(stream)
            .shard_count(shards)
            .send()
            .await
        {
            Ok(_) => true,
            Err(SdkError::ServiceError(e)) if e.err().is_resource_in_use_exception() => false,
            Err(e) => {
                return Err(format!(
                    "cannot create stream {stream}: {}",
                    DisplayErrorContext(&e)
                ));
            }
        },
        Err(e) => {
            return Err(format!(
                "cannot describe stream {stream}: {} (check AWS_REGION, credentials and \
                 AWS_ENDPOINT_URL_KINESIS)",
                DisplayErrorContext(&e)
            ));
        }
    };
    let deadline = Instant::now() + timeout;
    loop {
        let summary = client
            .describe_stream_summary()
            .stream_name(stream)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "cannot describe stream {stream}: {}",
                    DisplayErrorContext(&e)
                )
            })?;
        let status = summary
            .stream_description_summary()
            .map(|s| s.stream_status().clone());
        if status == Some(StreamStatus::Active) {
            return Ok(created);
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "stream {stream} is not ACTIVE after {timeout:?} (status {status:?})"
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every shard id of `stream`, open or closed.
pub async fn list_shards(
    client: &aws_sdk_kinesis::Client,
    stream: &str,
) -> Result<Vec<String>, String> {
    use aws_sdk_kinesis::error::DisplayErrorContext;
    let mut shards = Vec::new();
    let mut next_token: Option<String> = None;
    loop {
        // ListShards takes either the stream name or a continuation token, never both.
        let request = match &next_token {
            Some(token) => client.list_shards().next_token(token),
            None => client.list_shards().stream_name(stream),
        };
        let output = request.send().await.map_err(|e| {
            format!(
                "cannot list the shards of {stream}: {}",
                DisplayErrorContext(&e)
            )
        })?;
        shards.extend(output.shards().iter().map(|s| s.shard_id().to_owned()));
        match output.next_token() {
            Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
            _ => return Ok(shards),
        }
    }
}

/// Every object key under `prefix` in `bucket` (none if the bucket does not exist yet).
pub async fn list_keys(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<String>, String> {
    let mut keys = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(page) => page,
            // The consumer creates the bucket with its first upload: until then nothing is stored.
            Err(SdkError::ServiceError(e)) if e.err().is_no_such_bucket() => return Ok(keys),
            Err(e) => {
                return Err(format!(
                    "cannot list s3://{bucket}/{prefix}: {}",
                    DisplayErrorContext(&e)
                ));
            }
        };
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
    }
    Ok(keys)
}

/// The body of one object.
pub async fn get_object(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Vec<u8>, String> {
    let output = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| {
            format!(
                "cannot read s3://{bucket}/{key}: {}",
                DisplayErrorContext(&e)
            )
        })?;
    let bytes = output
        .body
        .collect()
        .await
        .map_err(|e| format!("cannot read s3://{bucket}/{key}: {e}"))?;
    Ok(bytes.into_bytes().to_vec())
}

/// The checkpoint of every shard lease in the KCL lease table `table` (named after the
/// application unless `tableName` is set). Other items (KCL 3's coordinator and worker-metrics
/// entities) are skipped. A table that does not exist yet gives an empty map.
pub async fn lease_checkpoints(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<BTreeMap<String, Checkpoint>, String> {
    use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
    let mut checkpoints = BTreeMap::new();
    let mut pages = client.scan().table_name(table).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(page) => page,
            Err(SdkError::ServiceError(e)) if e.err().is_resource_not_found_exception() => {
                return Ok(checkpoints);
            }
            Err(e) => {
                return Err(format!(
                    "cannot scan lease table {table}: {}",
                    DisplayErrorContext(&e)
                ));
            }
        };
        for item in page.items() {
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
            if let (Some(lease_key), Some(checkpoint)) = (text("leaseKey"), text("checkpoint"))
                && lease_key.starts_with("shardId-")
            {
                checkpoints.insert(lease_key, checkpoint);
            }
        }
    }
    Ok(checkpoints)
}
