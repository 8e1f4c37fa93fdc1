//! What the daemon's own log lines say about this worker's leases and scheduler.
//!
//! The source of "the leases this worker holds" is the daemon's output, not the lease table: the
//! scheduler logs the leases it holds itself (`Current stream shard assignments: a, b` or
//! `No activities assigned`, KCL 3.1.3 `coordinator/Scheduler.java`, `getShardInfoForAssignments`),
//! which is exactly the view that decides whether a shard consumer (and so a child) runs. The
//! stranded lease of KCL 3's graceful handoff (tests/README.md) is owned in the table *and* listed
//! in that line, with no child. Reading the table instead would need AWS credentials, a DynamoDB
//! client and polling costs in the supervisor, and would show the owner column, which can lag the
//! scheduler's view. The line comes through the `SchedulerLog` throttle: once per minute at INFO
//! (every pass at DEBUG), so the bound for "held without a child" must be longer than a minute
//! (`--stall-after`, default 3m). It needs the `software.amazon.kinesis` logger at INFO, as
//! `properties/logback.xml` sets it.

/// What one daemon line tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DaemonLine {
    /// The leases the scheduler holds now.
    Assignments(Vec<String>),
    /// The scheduler's worker loop has started (`Initialization complete. Starting worker loop.`).
    SchedulerStarted,
    /// A shard consumer (and with it a child process) was created for this shard.
    ConsumerCreated(String),
    Other,
}

const ASSIGNMENTS: &str = "Current stream shard assignments: ";
const NONE_ASSIGNED: &str = "No activities assigned";
const SCHEDULER_STARTED: &str = "Initialization complete. Starting worker loop.";
const CONSUMER_CREATED: &str = "Created new shardConsumer for : ";

impl DaemonLine {
    /// Reads one line of the daemon's output (with whatever logback pattern prefixes it).
    pub(crate) fn parse(line: &str) -> DaemonLine {
        let line = line.trim_end();
        if let Some(at) = line.find(ASSIGNMENTS) {
            let list = &line[at + ASSIGNMENTS.len()..];
            let mut leases: Vec<String> = list
                .split(", ")
                .map(str::trim)
                .filter(|lease| !lease.is_empty())
                .map(lease_shard)
                .collect();
            leases.sort();
            leases.dedup();
            return DaemonLine::Assignments(leases);
        }
        if line.ends_with(NONE_ASSIGNED) {
            return DaemonLine::Assignments(Vec::new());
        }
        if line.ends_with(SCHEDULER_STARTED) {
            return DaemonLine::SchedulerStarted;
        }
        if let Some(at) = line.find(CONSUMER_CREATED) {
            let info = &line[at + CONSUMER_CREATED.len()..];
            if let Some(shard) = field(info, "shardId=") {
                return DaemonLine::ConsumerCreated(shard.to_owned());
            }
        }
        DaemonLine::Other
    }
}

/// The shard id of a lease key: a multi-stream key is `account:stream:creation:shardId`.
fn lease_shard(key: &str) -> String {
    key.rsplit(':').next().unwrap_or(key).to_owned()
}

/// The value of `name` in a Lombok `toString` (`ShardInfo(streamIdentifierSerOpt=..., shardId=X, ...)`).
fn field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let start = text.find(name)? + name.len();
    let rest = &text[start..];
    let end = rest.find([',', ')']).unwrap_or(rest.len());
    Some(rest[..end].trim()).filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedulers_lines_are_read() {
        let prefix = "12:00:01.123 INFO  [main] s.a.kinesis.coordinator.Scheduler - ";
        assert_eq!(
            DaemonLine::parse(&format!(
                "{prefix}Current stream shard assignments: shardId-000000000001, shardId-000000000000"
            )),
            DaemonLine::Assignments(vec![
                "shardId-000000000000".into(),
                "shardId-000000000001".into()
            ])
        );
        assert_eq!(
            DaemonLine::parse(&format!(
                "{prefix}Current stream shard assignments: 123456789012:orders:1700000000:shardId-000000000004"
            )),
            DaemonLine::Assignments(vec!["shardId-000000000004".into()])
        );
        assert_eq!(
            DaemonLine::parse(&format!("{prefix}No activities assigned")),
            DaemonLine::Assignments(Vec::new())
        );
        assert_eq!(
            DaemonLine::parse(&format!(
                "{prefix}Initialization complete. Starting worker loop."
            )),
            DaemonLine::SchedulerStarted
        );
        assert_eq!(
            DaemonLine::parse(&format!(
                "{prefix}Created new shardConsumer for : ShardInfo(streamIdentifierSerOpt=Optional.empty, \
                 shardId=shardId-000000000002, concurrencyToken=abc, parentShardIds=[], checkpoint={{SequenceNumber: TRIM_HORIZON,SubsequenceNumber: 0}})"
            )),
            DaemonLine::ConsumerCreated("shardId-000000000002".into())
        );
        assert_eq!(
            DaemonLine::parse("a child's line mentioning shardId-000000000002"),
            DaemonLine::Other
        );
    }
}
