//! AWS SDK for Rust clients pointed at the local stack, and the stream/lease-table operations the
//! scenarios need: create a stream, produce known records, split a shard, read a stream back, scan
//! the lease table.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType, StreamStatus};

use crate::stack::{ACCESS_KEY_ID, LocalStack, REGION, SECRET_ACCESS_KEY};
use crate::wait::wait_until;

/// Boxed error for harness operations.
pub type HarnessError = Box<dyn std::error::Error + Send + Sync>;

/// Clients for the three services, all on the local stack.
#[derive(Debug, Clone)]
pub struct Clients {
    /// Kinesis (kinesis-local).
    pub kinesis: aws_sdk_kinesis::Client,
    /// DynamoDB (moto).
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// S3 (moto, path-style).
    pub s3: aws_sdk_s3::Client,
}

impl Clients {
    /// Builds the clients with dummy static credentials (never the caller's real ones).
    pub fn new(stack: &LocalStack) -> Self {
        let credentials = aws_sdk_kinesis::config::Credentials::new(
            ACCESS_KEY_ID,
            SECRET_ACCESS_KEY,
            None,
            None,
            "kcl-e2e",
        );
        let region = aws_sdk_kinesis::config::Region::new(REGION);
        // The stack is plain HTTP on loopback: no TLS provider needed.
        let http = aws_smithy_http_client::Builder::new().build_http();
        let kinesis = aws_sdk_kinesis::Config::builder()
            .behavior_version_latest()
            .http_client(http.clone())
            .region(region.clone())
            .credentials_provider(credentials.clone())
            .endpoint_url(&stack.kinesis_endpoint)
            .build();
        let dynamodb = aws_sdk_dynamodb::Config::builder()
            .behavior_version_latest()
            .http_client(http.clone())
            .region(aws_sdk_dynamodb::config::Region::new(REGION))
            .credentials_provider(credentials.clone())
            .endpoint_url(&stack.moto_endpoint)
            .build();
        let s3 = aws_sdk_s3::Config::builder()
            .behavior_version_latest()
            .http_client(http.clone())
            .region(aws_sdk_s3::config::Region::new(REGION))
            .credentials_provider(credentials)
            .endpoint_url(&stack.moto_endpoint)
            .force_path_style(true)
            .build();
        Clients {
            kinesis: aws_sdk_kinesis::Client::from_conf(kinesis),
            dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb),
            s3: aws_sdk_s3::Client::from_conf(s3),
        }
    }

    /// Creates a provisioned stream with `shards` shards and waits until it is ACTIVE.
    pub async fn create_stream(&self, name: &str, shards: i32) -> Result<(), HarnessError> {
        self.kinesis
            .create_stream()
            .stream_name(name)
            .shard_count(shards)
            .send()
            .await?;
        self.wait_active(name).await
    }

    /// Waits until the stream is ACTIVE (after create or a split).
    pub async fn wait_active(&self, name: &str) -> Result<(), HarnessError> {
        let kinesis = self.kinesis.clone();
        let name = name.to_owned();
        wait_until(
            "stream ACTIVE",
            Duration::from_secs(30),
            Duration::from_millis(100),
            || {
                let kinesis = kinesis.clone();
                let name = name.clone();
                async move {
                    let summary = kinesis
                        .describe_stream_summary()
                        .stream_name(&name)
                        .send()
                        .await
                        .ok()?;
                    let status = summary
                        .stream_description_summary()?
                        .stream_status()
                        .clone();
                    (status == StreamStatus::Active).then_some(())
                }
            },
        )
        .await
    }

    /// All shards of the stream (open and closed): id, starting hash key, ending hash key, parent.
    pub async fn shards(&self, stream: &str) -> Result<Vec<ShardInfo>, HarnessError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let request = match &token {
                Some(t) => self.kinesis.list_shards().next_token(t),
                None => self.kinesis.list_shards().stream_name(stream),
            };
            let page = request.send().await?;
            for shard in page.shards() {
                let range = shard.hash_key_range();
                out.push(ShardInfo {
                    shard_id: shard.shard_id().to_owned(),
                    starting_hash_key: range
                        .map(|r| r.starting_hash_key().to_owned())
                        .unwrap_or_default(),
                    ending_hash_key: range
                        .map(|r| r.ending_hash_key().to_owned())
                        .unwrap_or_default(),
                    parent_shard_id: shard.parent_shard_id().map(str::to_owned),
                    closed: shard
                        .sequence_number_range()
                        .and_then(|r| r.ending_sequence_number())
                        .is_some(),
                });
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    /// Puts `count` records whose data is `<prefix>-<n>` (n from `first`), spread evenly over the
    /// open shards with explicit hash keys, in PutRecords calls of up to 500. Returns what Kinesis
    /// acknowledged (failed entries are retried until they succeed).
    pub async fn produce(
        &self,
        stream: &str,
        prefix: &str,
        first: u64,
        count: u64,
    ) -> Result<Vec<Produced>, HarnessError> {
        let open: Vec<ShardInfo> = self
            .shards(stream)
            .await?
            .into_iter()
            .filter(|s| !s.closed)
            .collect();
        if open.is_empty() {
            return Err(format!("stream {stream} has no open shard").into());
        }
        let mut pending: Vec<(String, String)> = (first..first + count)
            .map(|n| {
                let shard = &open[(n % open.len() as u64) as usize];
                (format!("{prefix}-{n}"), shard.starting_hash_key.clone())
            })
            .collect();
        let mut produced = Vec::with_capacity(pending.len());
        let mut attempts = 0;
        while !pending.is_empty() {
            attempts += 1;
            if attempts > 50 {
                return Err(format!(
                    "{} records still failing after 50 PutRecords rounds",
                    pending.len()
                )
                .into());
            }
            let mut failed = Vec::new();
            for chunk in pending.chunks(500) {
                let entries = chunk
                    .iter()
                    .map(|(data, hash_key)| {
                        PutRecordsRequestEntry::builder()
                            .data(Blob::new(data.as_bytes()))
                            .partition_key(data)
                            .explicit_hash_key(hash_key)
                            .build()
                            .map_err(|e| HarnessError::from(e.to_string()))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let output = self
                    .kinesis
                    .put_records()
                    .stream_name(stream)
                    .set_records(Some(entries))
                    .send()
                    .await?;
                for (entry, (data, hash_key)) in output.records().iter().zip(chunk) {
                    match (entry.shard_id(), entry.sequence_number()) {
                        (Some(shard_id), Some(seq)) if entry.error_code().is_none() => produced
                            .push(Produced {
                                data: data.clone(),
                                shard_id: shard_id.to_owned(),
                                sequence_number: seq.to_owned(),
                            }),
                        _ => failed.push((data.clone(), hash_key.clone())),
                    }
                }
            }
            pending = failed;
            if !pending.is_empty() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        Ok(produced)
    }

    /// Puts one record with PutRecord (so that records put one after another keep their order on a
    /// shard) with arbitrary bytes as data; the explicit hash key picks the shard.
    pub async fn put_record(
        &self,
        stream: &str,
        partition_key: &str,
        explicit_hash_key: &str,
        data: &[u8],
    ) -> Result<PutResult, HarnessError> {
        let output = self
            .kinesis
            .put_record()
            .stream_name(stream)
            .partition_key(partition_key)
            .explicit_hash_key(explicit_hash_key)
            .data(Blob::new(data))
            .send()
            .await?;
        Ok(PutResult {
            shard_id: output.shard_id().to_owned(),
            sequence_number: output.sequence_number().to_owned(),
        })
    }

    /// Splits `shard_id` in the middle of its hash key range and waits for the stream to be ACTIVE.
    pub async fn split_in_half(&self, stream: &str, shard_id: &str) -> Result<(), HarnessError> {
        let shards = self.shards(stream).await?;
        let shard = shards
            .iter()
            .find(|s| s.shard_id == shard_id)
            .ok_or_else(|| format!("no shard {shard_id} in {stream}"))?;
        let start: u128 = shard.starting_hash_key.parse()?;
        let end: u128 = shard.ending_hash_key.parse()?;
        let middle = start + (end - start) / 2 + 1;
        self.kinesis
            .split_shard()
            .stream_name(stream)
            .shard_to_split(shard_id)
            .new_starting_hash_key(middle.to_string())
            .send()
            .await?;
        self.wait_active(stream).await
    }

    /// Reads every record of every shard from TRIM_HORIZON (for checking what a sample produced);
    /// data as (lossy) text.
    pub async fn read_stream(&self, stream: &str) -> Result<Vec<Produced>, HarnessError> {
        Ok(self
            .read_stream_raw(stream)
            .await?
            .into_iter()
            .map(|record| Produced {
                data: String::from_utf8_lossy(&record.data).into_owned(),
                shard_id: record.shard_id,
                sequence_number: record.sequence_number,
            })
            .collect())
    }

    /// Reads every record of every shard from TRIM_HORIZON, data as the bytes GetRecords returned.
    pub async fn read_stream_raw(&self, stream: &str) -> Result<Vec<StoredRecord>, HarnessError> {
        let mut out = Vec::new();
        for shard in self.shards(stream).await? {
            let mut iterator = self
                .kinesis
                .get_shard_iterator()
                .stream_name(stream)
                .shard_id(&shard.shard_id)
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await?
                .shard_iterator()
                .map(str::to_owned);
            while let Some(it) = iterator {
                let page = self
                    .kinesis
                    .get_records()
                    .shard_iterator(&it)
                    .limit(10_000)
                    .send()
                    .await?;
                for record in page.records() {
                    out.push(StoredRecord {
                        shard_id: shard.shard_id.clone(),
                        sequence_number: record.sequence_number().to_owned(),
                        partition_key: record.partition_key().to_owned(),
                        data: record.data().as_ref().to_vec(),
                    });
                }
                // An open shard's iterator never ends: stop once caught up.
                let caught_up = page.records().is_empty() || page.millis_behind_latest() == Some(0);
                iterator = page.next_shard_iterator().map(str::to_owned);
                if caught_up && !shard.closed {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Every lease in the application's lease table (table name = application name).
    pub async fn leases(&self, table: &str) -> Result<Vec<Lease>, HarnessError> {
        let mut out = Vec::new();
        let mut start: Option<std::collections::HashMap<String, AttributeValue>> = None;
        loop {
            let page = self
                .dynamodb
                .scan()
                .table_name(table)
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await?;
            for item in page.items() {
                let text = |key: &str| item.get(key).and_then(|v| v.as_s().ok()).cloned();
                let number = |key: &str| {
                    item.get(key)
                        .and_then(|v| v.as_n().ok())
                        .and_then(|n| n.parse().ok())
                };
                let Some(lease_key) = text("leaseKey") else {
                    continue;
                };
                out.push(Lease {
                    lease_key,
                    lease_owner: text("leaseOwner"),
                    checkpoint: text("checkpoint"),
                    checkpoint_sub_sequence_number: number("checkpointSubSequenceNumber"),
                    lease_counter: number("leaseCounter"),
                    checkpoint_owner: text("checkpointOwner"),
                });
            }
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(out),
            }
        }
    }

    /// The worker holding the KCL 3 leader lock (the DynamoDB lock client's `ownerName` in
    /// `<application>-CoordinatorState`), if any.
    pub async fn leader(&self, application: &str) -> Option<String> {
        let table = format!("{application}-CoordinatorState");
        let page = self
            .dynamodb
            .scan()
            .table_name(table)
            .consistent_read(true)
            .send()
            .await
            .ok()?;
        page.items()
            .iter()
            .find_map(|item| item.get("ownerName").and_then(|v| v.as_s().ok()).cloned())
    }

    /// Leases keyed by lease key (shard id); empty if the table does not exist yet.
    pub async fn leases_by_shard(&self, table: &str) -> BTreeMap<String, Lease> {
        self.leases(table)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|l| (l.lease_key.clone(), l))
            .collect()
    }
}

/// A shard as ListShards describes it.
#[derive(Debug, Clone)]
pub struct ShardInfo {
    /// `shardId-...`.
    pub shard_id: String,
    /// Start of its hash key range (decimal).
    pub starting_hash_key: String,
    /// End of its hash key range (decimal).
    pub ending_hash_key: String,
    /// The parent after a split.
    pub parent_shard_id: Option<String>,
    /// Whether it is closed (has an ending sequence number).
    pub closed: bool,
}

/// A record Kinesis acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Produced {
    /// Its data (`<prefix>-<n>`).
    pub data: String,
    /// The shard it went to.
    pub shard_id: String,
    /// Its sequence number.
    pub sequence_number: String,
}

/// Where PutRecord put a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutResult {
    /// The shard.
    pub shard_id: String,
    /// Its sequence number.
    pub sequence_number: String,
}

/// A record as GetRecords returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// The shard it was read from.
    pub shard_id: String,
    /// Its sequence number.
    pub sequence_number: String,
    /// Its partition key.
    pub partition_key: String,
    /// Its data, byte for byte.
    pub data: Vec<u8>,
}

/// One row of the KCL lease table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The shard id.
    pub lease_key: String,
    /// The worker id owning it.
    pub lease_owner: Option<String>,
    /// The checkpoint: a sequence number, `TRIM_HORIZON`, `LATEST` or `SHARD_END`.
    pub checkpoint: Option<String>,
    /// The checkpoint's sub-sequence number.
    pub checkpoint_sub_sequence_number: Option<u64>,
    /// Incremented on every renewal.
    pub lease_counter: Option<u64>,
    /// Set while a KCL 3 graceful lease handoff is pending: the worker that still processes the
    /// shard until it has checkpointed (`leaseOwner` already names the next owner).
    pub checkpoint_owner: Option<String>,
}

/// The highest sequence number per shard among `records` (numeric order).
pub fn last_sequence_per_shard(records: &[Produced]) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for record in records {
        let entry = out
            .entry(record.shard_id.clone())
            .or_insert_with(|| record.sequence_number.clone());
        if numeric_cmp(&record.sequence_number, entry).is_gt() {
            *entry = record.sequence_number.clone();
        }
    }
    out
}

/// Compares two digit strings as numbers.
pub fn numeric_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}
