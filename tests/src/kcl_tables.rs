//! Writing the daemon's own DynamoDB tables from a test, in the shapes KCL 3.1.3 reads them:
//! a lease table seeded before the first worker starts, a lease the test holds and renews like a
//! live worker would, a worker that exists only as its row in `<app>-WorkerMetricStats`, and the
//! single-item edits scenario 10 makes.
//!
//! Names and shapes come from the KCL 3.1.3 source: lease attributes from
//! `DynamoDBLeaseSerializer` (`leaseKey`, `leaseOwner`, `leaseCounter`, `checkpoint`,
//! `checkpointSubSequenceNumber`, `ownerSwitchesSinceCheckpoint`, `parentShardId` (a string set),
//! `startingHashKey`/`endingHashKey`, `throughputKBps`, `checkpointOwner`); the lease table and its
//! `LeaseOwnerToLeaseKeyIndex` from `DynamoDBLeaseRefresher`; worker rows (`wid`, `lut` in epoch
//! seconds, `sts`, `opr`) from `WorkerMetricStats`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType, TableStatus,
};

use crate::aws::{Clients, HarnessError};
use crate::wait::wait_until;

/// The index KCL 3 queries to find the leases assigned to a worker.
const LEASE_OWNER_INDEX: &str = "LeaseOwnerToLeaseKeyIndex";

/// The lease table and worker-metrics table of one application.
#[derive(Debug, Clone)]
pub struct KclTables {
    dynamodb: aws_sdk_dynamodb::Client,
    application: String,
}

/// A lease row to write before a worker reads it.
#[derive(Debug, Clone)]
pub struct LeaseSeed {
    key: String,
    owner: Option<String>,
    checkpoint: String,
    parents: Vec<String>,
    hash_range: Option<(String, String)>,
    throughput_kbps: Option<f64>,
}

impl LeaseSeed {
    /// A lease for `key` at `checkpoint` (`TRIM_HORIZON`, a sequence number, `SHARD_END`), unowned.
    pub fn new(key: &str, checkpoint: &str) -> Self {
        LeaseSeed {
            key: key.to_owned(),
            owner: None,
            checkpoint: checkpoint.to_owned(),
            parents: Vec::new(),
            hash_range: None,
            throughput_kbps: None,
        }
    }

    /// Assigned to `worker` (what the leader's assignment writes).
    pub fn owner(mut self, worker: &str) -> Self {
        self.owner = Some(worker.to_owned());
        self
    }

    /// Parent leases the shard's consumer waits for (until each is at `SHARD_END`).
    pub fn parent(mut self, key: &str) -> Self {
        self.parents.push(key.to_owned());
        self
    }

    /// The shard's hash key range (decimal strings).
    pub fn hash_range(mut self, start: &str, end: &str) -> Self {
        self.hash_range = Some((start.to_owned(), end.to_owned()));
        self
    }

    /// The throughput the leader's balancing reads for this lease.
    pub fn throughput_kbps(mut self, value: f64) -> Self {
        self.throughput_kbps = Some(value);
        self
    }

    fn item(&self) -> HashMap<String, AttributeValue> {
        let mut item = HashMap::from([
            ("leaseKey".to_owned(), AttributeValue::S(self.key.clone())),
            ("leaseCounter".to_owned(), AttributeValue::N("1".into())),
            (
                "checkpoint".to_owned(),
                AttributeValue::S(self.checkpoint.clone()),
            ),
            (
                "checkpointSubSequenceNumber".to_owned(),
                AttributeValue::N("0".into()),
            ),
            (
                "ownerSwitchesSinceCheckpoint".to_owned(),
                AttributeValue::N("0".into()),
            ),
        ]);
        if let Some(owner) = &self.owner {
            item.insert("leaseOwner".into(), AttributeValue::S(owner.clone()));
        }
        if !self.parents.is_empty() {
            item.insert(
                "parentShardId".into(),
                AttributeValue::Ss(self.parents.clone()),
            );
        }
        if let Some((start, end)) = &self.hash_range {
            item.insert("startingHashKey".into(), AttributeValue::S(start.clone()));
            item.insert("endingHashKey".into(), AttributeValue::S(end.clone()));
        }
        if let Some(value) = self.throughput_kbps {
            item.insert(
                "throughputKBps".into(),
                AttributeValue::N(value.to_string()),
            );
        }
        item
    }
}

impl KclTables {
    /// The tables of `application` (lease table name = application name, the daemon's default).
    pub fn new(clients: &Clients, application: &str) -> Self {
        KclTables {
            dynamodb: clients.dynamodb.clone(),
            application: application.to_owned(),
        }
    }

    fn lease_table(&self) -> &str {
        &self.application
    }

    fn worker_metrics_table(&self) -> String {
        format!("{}-WorkerMetricStats", self.application)
    }

    /// The KCL 3 leader lock: item `key = "Leader"` of `<app>-CoordinatorState`, written by the
    /// DynamoDB lock client (KCL 3.1.3 `DynamoDBLockBasedLeaderDecider`); `None` before any worker
    /// has taken it.
    pub async fn leader_lock(&self) -> Option<LeaderLock> {
        let item = self
            .dynamodb
            .get_item()
            .table_name(format!("{}-CoordinatorState", self.application))
            .key("key", AttributeValue::S("Leader".into()))
            .consistent_read(true)
            .send()
            .await
            .ok()?
            .item?;
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        Some(LeaderLock {
            owner: text("ownerName")?,
            record_version: text("recordVersionNumber").unwrap_or_default(),
            lease_duration_millis: text("leaseDuration").and_then(|v| v.parse().ok()),
            released: item.contains_key("isReleased"),
        })
    }

    /// Creates the lease table as KCL 3.1.3 does (hash key `leaseKey`, on-demand), with the
    /// lease-owner index it would add right after, and waits until it is ACTIVE. The daemon then
    /// finds both and uses them as they are.
    pub async fn create_lease_table(&self) -> Result<(), HarnessError> {
        let string_attribute = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
        };
        let key = |name: &str, key_type: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build()
        };
        let index = GlobalSecondaryIndex::builder()
            .index_name(LEASE_OWNER_INDEX)
            .key_schema(key("leaseOwner", KeyType::Hash)?)
            .key_schema(key("leaseKey", KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::KeysOnly)
                    .build(),
            )
            .build()?;
        self.dynamodb
            .create_table()
            .table_name(self.lease_table())
            .attribute_definitions(string_attribute("leaseKey")?)
            .attribute_definitions(string_attribute("leaseOwner")?)
            .key_schema(key("leaseKey", KeyType::Hash)?)
            .global_secondary_indexes(index)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await?;
        let dynamodb = self.dynamodb.clone();
        let table = self.lease_table().to_owned();
        wait_until(
            "the lease table ACTIVE",
            Duration::from_secs(30),
            Duration::from_millis(200),
            || {
                let (dynamodb, table) = (dynamodb.clone(), table.clone());
                async move {
                    let described = dynamodb.describe_table().table_name(table).send().await;
                    let status = described.ok()?.table()?.table_status()?.clone();
                    (status == TableStatus::Active).then_some(())
                }
            },
        )
        .await
    }

    /// Writes (or overwrites) a lease row, `leaseCounter` 1.
    pub async fn put_lease(&self, seed: &LeaseSeed) -> Result<(), HarnessError> {
        self.dynamodb
            .put_item()
            .table_name(self.lease_table())
            .set_item(Some(seed.item()))
            .send()
            .await?;
        Ok(())
    }

    /// Adds 1 to a lease's `leaseCounter`: what its owner's renewal writes, so the leader keeps
    /// seeing it as alive.
    pub async fn renew(&self, key: &str) -> Result<(), HarnessError> {
        self.update(key, "ADD leaseCounter :one", &[(":one", number(1))])
            .await
    }

    /// Sets a lease's checkpoint (e.g. `SHARD_END`, which lets its children start).
    pub async fn set_checkpoint(&self, key: &str, checkpoint: &str) -> Result<(), HarnessError> {
        self.update(
            key,
            "SET checkpoint = :checkpoint",
            &[(":checkpoint", AttributeValue::S(checkpoint.to_owned()))],
        )
        .await
    }

    /// Makes a lease unassigned: removes `leaseOwner` and `checkpointOwner` and adds 1 to
    /// `leaseCounter`, so its holder's next renewal fails and the leader assigns it afresh.
    pub async fn unassign(&self, key: &str) -> Result<(), HarnessError> {
        self.update(
            key,
            "REMOVE leaseOwner, checkpointOwner ADD leaseCounter :one",
            &[(":one", number(1))],
        )
        .await
    }

    async fn update(
        &self,
        key: &str,
        expression: &str,
        values: &[(&str, AttributeValue)],
    ) -> Result<(), HarnessError> {
        let mut request = self
            .dynamodb
            .update_item()
            .table_name(self.lease_table())
            .key("leaseKey", AttributeValue::S(key.to_owned()))
            .update_expression(expression)
            // Never create a lease by accident: the item must exist.
            .condition_expression("attribute_exists(leaseKey)");
        for (name, value) in values {
            request = request.expression_attribute_values(*name, value.clone());
        }
        request.send().await?;
        Ok(())
    }

    /// A worker's row in `<app>-WorkerMetricStats`, if the worker has reported.
    pub async fn worker_metrics(&self, worker_id: &str) -> Option<HashMap<String, AttributeValue>> {
        self.dynamodb
            .get_item()
            .table_name(self.worker_metrics_table())
            .key("wid", AttributeValue::S(worker_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .ok()?
            .item
    }

    async fn put_worker_metrics(
        &self,
        item: HashMap<String, AttributeValue>,
    ) -> Result<(), HarnessError> {
        self.dynamodb
            .put_item()
            .table_name(self.worker_metrics_table())
            .set_item(Some(item))
            .send()
            .await?;
        Ok(())
    }

    async fn delete_worker_metrics(&self, worker_id: &str) -> Result<(), HarnessError> {
        self.dynamodb
            .delete_item()
            .table_name(self.worker_metrics_table())
            .key("wid", AttributeValue::S(worker_id.to_owned()))
            .send()
            .await?;
        Ok(())
    }
}

/// The leader lock item, as the lock client wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderLock {
    /// `ownerName`: the holder's worker id.
    pub owner: String,
    /// `recordVersionNumber`: rewritten on every heartbeat (every 30 s in KCL 3.1.3).
    pub record_version: String,
    /// `leaseDuration` (milliseconds): how long others wait after the last heartbeat.
    pub lease_duration_millis: Option<u64>,
    /// `isReleased`: the holder gave the lock up (a graceful shutdown does).
    pub released: bool,
}

fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A lease the test holds in place of a live worker: renewed every `every` until dropped.
#[derive(Debug)]
pub struct HeldLease {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl HeldLease {
    /// Starts renewing `key` (which must exist).
    pub fn start(tables: &KclTables, key: &str, every: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (tables, key, flag) = (tables.clone(), key.to_owned(), stop.clone());
        let task = tokio::spawn(async move {
            while !flag.load(Ordering::Relaxed) {
                if let Err(error) = tables.renew(&key).await {
                    panic!("cannot renew the held lease {key}: {error}");
                }
                tokio::time::sleep(every).await;
            }
        });
        HeldLease { stop, task }
    }
}

impl Drop for HeldLease {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.abort();
    }
}

/// A worker that exists only as a fresh row in `<app>-WorkerMetricStats`: the leader counts it as
/// active and assigns leases to it, but nothing ever takes them. [`GhostWorker::kill`] deletes
/// the row, which is what the leader sees when a worker dies.
#[derive(Debug)]
pub struct GhostWorker {
    tables: KclTables,
    worker_id: String,
    stop: Arc<AtomicBool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl GhostWorker {
    /// Starts reporting as `worker_id` every `every`, with the same metric names and operating
    /// ranges as `like` (a real worker's row) and every metric value 0: the least loaded worker.
    pub fn start(
        tables: &KclTables,
        worker_id: &str,
        like: &HashMap<String, AttributeValue>,
        every: Duration,
    ) -> Self {
        let mut template: HashMap<String, AttributeValue> = like
            .iter()
            .filter(|(name, _)| matches!(name.as_str(), "sts" | "opr"))
            .map(|(name, value)| {
                let value = if name == "sts" {
                    zeroed(value)
                } else {
                    value.clone()
                };
                (name.clone(), value)
            })
            .collect();
        template.insert("wid".into(), AttributeValue::S(worker_id.to_owned()));
        let stop = Arc::new(AtomicBool::new(false));
        let (writer, flag) = (tables.clone(), stop.clone());
        let task = tokio::spawn(async move {
            while !flag.load(Ordering::Relaxed) {
                let mut item = template.clone();
                item.insert("lut".into(), number(unix_seconds()));
                if let Err(error) = writer.put_worker_metrics(item).await {
                    panic!("cannot write the ghost worker's metrics: {error}");
                }
                tokio::time::sleep(every).await;
            }
        });
        GhostWorker {
            tables: tables.clone(),
            worker_id: worker_id.to_owned(),
            stop,
            task: Some(task),
        }
    }

    /// Stops reporting and deletes the row: from the leader's next run on, the worker is gone.
    pub async fn kill(mut self) -> Result<(), HarnessError> {
        self.stop.store(true, Ordering::Relaxed);
        // Let a write in flight land first, or it would bring the row back after the delete.
        if let Some(task) = self.task.take() {
            task.await?;
        }
        self.tables.delete_worker_metrics(&self.worker_id).await
    }
}

impl Drop for GhostWorker {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// `sts` (metric name -> list of values) with every value 0.
fn zeroed(stats: &AttributeValue) -> AttributeValue {
    match stats {
        AttributeValue::M(metrics) => AttributeValue::M(
            metrics
                .iter()
                .map(|(name, values)| {
                    let zeros = match values {
                        AttributeValue::L(list) => list.iter().map(|_| number(0)).collect(),
                        _ => vec![number(0)],
                    };
                    (name.clone(), AttributeValue::L(zeros))
                })
                .collect(),
        ),
        other => other.clone(),
    }
}
