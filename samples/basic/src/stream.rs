//! Stream set-up for the producer: the AWS configuration, and creating the stream if it is missing and waiting for `ACTIVE`.

use std::time::{Duration, Instant};

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::error::{DisplayErrorContext, SdkError};
use aws_sdk_kinesis::types::StreamStatus;

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

/// Creates `stream` with `shards` shards unless it exists, then waits until it is `ACTIVE`.
///
/// Returns `true` when this call created the stream. An existing stream keeps its shard count.
pub async fn ensure_active(
    client: &Client,
    stream: &str,
    shards: i32,
    timeout: Duration,
) -> Result<bool, String> {
    let created = match client
        .describe_stream_summary()
        .stream_name(stream)
        .send()
        .await
    {
        Ok(_) => false,
        Err(SdkError::ServiceError(e)) if e.err().is_resource_not_found_exception() => {
            match client
                .create_stream()
                .stream_name(stream)
                .shard_count(shards)
                .send()
                .await
            {
                Ok(_) => true,
                // Someone else created it between our two calls: fine.
                Err(SdkError::ServiceError(e)) if e.err().is_resource_in_use_exception() => false,
                Err(e) => {
                    return Err(format!(
                        "cannot create stream {stream}: {}",
                        DisplayErrorContext(&e)
                    ));
                }
            }
        }
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
