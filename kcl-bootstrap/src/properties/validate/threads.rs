//! `maxActiveThreads`: a positive value makes the daemon's pool fixed, and a fixed pool too small
//! for the worker's children stalls it with no error.
//!
//! From the KCL 3.1.3 multilang source: `MultiLangDaemon` runs the scheduler as one task of that
//! pool for the daemon's whole life; each child's `MultiLangShardRecordProcessor` submits its
//! stderr drain (`DrainChildSTDERRTask`), held for the child's whole life; and every message
//! `MultiLangProtocol` sends is one task writing it (`MessageWriter`) and one reading the answer
//! (`MessageReader.getNextMessageFromSTDOUT`), the read held until the child answers. So a worker
//! owning S shards can have 3 x S + 1 tasks at once; with fewer threads some wait in the queue
//! behind reads that wait for them (measured: 8 shards and 9 threads, the worker stalled).

use super::Known;
use crate::properties::diagnostic::Diagnostic;

/// Threads each child can hold at once: its stderr drain, a message's write, the read of its
/// answer.
pub(super) const THREADS_PER_CHILD: u64 = 3;

/// The scheduler's own task.
const SCHEDULER_THREADS: u64 = 1;

/// The threads a fixed pool needs for `shards` children.
pub(super) fn needed(shards: u64) -> u64 {
    shards
        .saturating_mul(THREADS_PER_CHILD)
        .saturating_add(SCHEDULER_THREADS)
}

/// Warns when a positive `maxActiveThreads` cannot serve the shards the worker may own
/// (`maxLeasesForWorker`, unbounded by default).
pub(super) fn check(known: &Known<'_>, out: &mut Vec<Diagnostic>) {
    let Some(pool) = known.set("maxActiveThreads") else {
        return;
    };
    let Ok(threads) = pool.value.trim().parse::<i64>() else {
        return;
    };
    let Ok(threads) = u64::try_from(threads) else {
        return;
    };
    if threads == 0 {
        return;
    }
    let served = threads.saturating_sub(SCHEDULER_THREADS) / THREADS_PER_CHILD;
    let leases = known
        .set("maxLeasesForWorker")
        .and_then(|e| e.value.trim().parse::<i64>().ok())
        .and_then(|v| u64::try_from(v).ok())
        .filter(|v| *v > 0);
    let rule = format!(
        "a fixed pool of {threads} threads serves at most {served} shards (each child holds up to \
         {THREADS_PER_CHILD} threads, the scheduler 1: 3 x shards + 1)"
    );
    let message = match leases {
        Some(leases) if threads >= needed(leases) => return,
        Some(leases) => format!(
            "'maxActiveThreads' = {threads}: {rule}, but maxLeasesForWorker = {leases} needs {}; \
             the worker stalls once it owns more shards. Set `maxActiveThreads = 0` (a pool that \
             grows) or at least {}",
            needed(leases),
            needed(leases)
        ),
        None => format!(
            "'maxActiveThreads' = {threads}: {rule}, and without 'maxLeasesForWorker' this worker \
             may own any number of shards; it stalls past {served}. Set `maxActiveThreads = 0` (a \
             pool that grows), or `maxLeasesForWorker = {served}`"
        ),
    };
    out.push(Diagnostic::warning(Some(pool.origin.clone()), message));
}

#[cfg(test)]
mod tests {
    use super::super::validate;
    use crate::properties::diagnostic::{Diagnostic, Severity};
    use crate::properties::origin::Setting;
    use crate::properties::{Context, parse};

    const GOOD: &str = "executableName = sh\napplicationName = app\nstreamName = s\n\
        AwsCredentialsProvider = DefaultCredentialsProvider\nretrievalMode = POLLING\n\
        shutdownGraceMillis = 30000\n";

    fn thread_warnings(extra: &str) -> Vec<Diagnostic> {
        let lock = crate::lock::Lock::parse(&format!(
            "kcl-version\t3.1.3\nmin-java\t8\njar\ta:b:1\ta/b-1.jar\t1\t{}\t8\n",
            "0".repeat(64)
        ))
        .unwrap();
        let ctx = Context::new(&lock, std::env::temp_dir(), None);
        let text = format!("{GOOD}{extra}");
        validate(&Setting::from_file(parse(text.as_bytes()).unwrap()), &ctx)
            .into_iter()
            .filter(|d| d.message.contains("fixed pool"))
            .collect()
    }

    #[test]
    fn a_pool_too_small_for_the_leases_is_reported_with_what_to_set() {
        let d = thread_warnings("maxActiveThreads = 9\nmaxLeasesForWorker = 8\n");
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].severity, Severity::Warning);
        assert!(
            d[0].message.contains("serves at most 2 shards"),
            "{}",
            d[0].message
        );
        assert!(d[0].message.contains("at least 25"), "{}", d[0].message);
        assert!(thread_warnings("maxActiveThreads = 25\nmaxLeasesForWorker = 8\n").is_empty());
    }

    #[test]
    fn a_fixed_pool_without_a_lease_bound_is_reported_and_a_growing_one_is_not() {
        let d = thread_warnings("maxActiveThreads = 100\n");
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].message.contains("maxLeasesForWorker = 33"),
            "{}",
            d[0].message
        );
        assert!(thread_warnings("maxActiveThreads = 0\n").is_empty());
        assert!(thread_warnings("maxActiveThreads = -1\n").is_empty());
        assert!(thread_warnings("").is_empty());
    }
}
