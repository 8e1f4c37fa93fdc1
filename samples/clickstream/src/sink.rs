//! Where buffers go: the [`ObjectSink`] trait, the S3 implementation, and the upload retry policy.

use std::time::Duration;

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use kcl_protocol::BoxError;

/// Stores one object. The consumer marks the object's records done (and so lets the library
/// checkpoint them) only after `put` returned `Ok`, so an implementation must return `Ok` only
/// once the object is durably stored.
///
/// Uploads run on a task of their own while the consumer keeps receiving, so the sink and its
/// futures are `Send`.
pub trait ObjectSink: Send + 'static {
    /// Stores `body` under `key`, replacing any object already there (uploads are idempotent:
    /// a batch read again after a restart has the same key and content).
    fn put(&mut self, key: &str, body: &[u8]) -> impl Future<Output = Result<(), BoxError>> + Send;
}

/// How often and how patiently a failed upload is retried before the consumer gives up and
/// returns the error (which makes kcl-protocol's failure policy apply: no checkpoint, so the
/// records are read again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadRetry {
    /// Attempts in all, at least 1.
    pub attempts: u32,
    /// Wait after the first failure; doubled after each further one.
    pub initial_backoff: Duration,
    /// Longest wait between two attempts.
    pub max_backoff: Duration,
}

impl Default for UploadRetry {
    fn default() -> Self {
        UploadRetry {
            attempts: 6,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl UploadRetry {
    /// The wait after failed attempt number `attempt` (1-based).
    pub fn backoff_after(&self, attempt: u32) -> Duration {
        self.initial_backoff
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
            .min(self.max_backoff)
    }

    /// Puts `body` under `key` on `sink`, retrying failures; returns the last error if every
    /// attempt failed.
    pub async fn put<S: ObjectSink>(
        &self,
        sink: &mut S,
        key: &str,
        body: &[u8],
    ) -> Result<(), BoxError> {
        let attempts = self.attempts.max(1);
        let mut attempt = 1;
        loop {
            match sink.put(key, body).await {
                Ok(()) => return Ok(()),
                Err(error) if attempt < attempts => {
                    let wait = self.backoff_after(attempt);
                    tracing::warn!(key, attempt, ?wait, "upload failed: {error}; retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(error) => {
                    return Err(format!("upload of {key} failed {attempts} times: {error}").into());
                }
            }
        }
    }
}

/// An [`ObjectSink`] that writes to one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Sink {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Sink {
    /// A sink for `bucket` through `client`.
    pub fn new(client: aws_sdk_s3::Client, bucket: String) -> Self {
        S3Sink { client, bucket }
    }

    /// The bucket this sink writes to.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Creates the bucket unless it exists (see [`crate::aws::ensure_bucket`]).
    pub async fn ensure_bucket(&self) -> Result<bool, BoxError> {
        crate::aws::ensure_bucket(&self.client, &self.bucket)
            .await
            .map_err(Into::into)
    }
}

impl ObjectSink for S3Sink {
    async fn put(&mut self, key: &str, body: &[u8]) -> Result<(), BoxError> {
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/x-ndjson")
            .body(ByteStream::from(body.to_vec()));
        request.send().await.map(|_| ()).map_err(|e| {
            format!(
                "PutObject s3://{}/{key}: {}",
                self.bucket,
                DisplayErrorContext(&e)
            )
            .into()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Flaky {
        failures_left: u32,
        calls: u32,
    }

    impl ObjectSink for Flaky {
        async fn put(&mut self, _key: &str, _body: &[u8]) -> Result<(), BoxError> {
            self.calls += 1;
            if self.failures_left > 0 {
                self.failures_left -= 1;
                Err("503 Slow Down".into())
            } else {
                Ok(())
            }
        }
    }

    fn quick(attempts: u32) -> UploadRetry {
        UploadRetry {
            attempts,
            initial_backoff: Duration::ZERO,
            max_backoff: Duration::ZERO,
        }
    }

    #[tokio::test]
    async fn failures_are_retried_until_success() {
        let mut sink = Flaky {
            failures_left: 2,
            calls: 0,
        };
        quick(3).put(&mut sink, "k", b"x").await.unwrap();
        assert_eq!(sink.calls, 3);
    }

    #[tokio::test]
    async fn the_last_error_is_returned_when_attempts_run_out() {
        let mut sink = Flaky {
            failures_left: 10,
            calls: 0,
        };
        let error = quick(3)
            .put(&mut sink, "shardId-1/1-2", b"x")
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(sink.calls, 3);
        assert!(
            error.contains("shardId-1/1-2") && error.contains("503 Slow Down"),
            "{error}"
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let retry = UploadRetry {
            attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(500),
        };
        let waits: Vec<_> = (1..=5)
            .map(|a| retry.backoff_after(a).as_millis())
            .collect();
        assert_eq!(waits, [100, 200, 400, 500, 500]);
    }
}
