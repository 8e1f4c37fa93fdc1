//! Waiting for a condition with a deadline: every scenario step that depends on the daemon waits
//! this way, never with a fixed sleep.

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `probe` every `every` until it returns `Some`, or fails after `timeout` with a message
/// naming `what`.
pub async fn wait_until<T, F, Fut>(
    what: &str,
    timeout: Duration,
    every: Duration,
    mut probe: F,
) -> Result<T, Box<dyn std::error::Error + Send + Sync>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = probe().await {
            return Ok(value);
        }
        if start.elapsed() >= timeout {
            return Err(format!("timed out after {timeout:?} waiting for {what}").into());
        }
        tokio::time::sleep(every).await;
    }
}
