//! The benchmark's workloads: batches of a few shapes, in order, and bytes per record.

/// One workload: a shard's worth of batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    /// Short id used on the command line and in the report (`a`, `b`, `c`, `d`).
    pub id: &'static str,
    /// What the workload stands for, for the report.
    pub purpose: &'static str,
    /// The batches in order, as (how many batches, records per batch).
    pub phases: Vec<(usize, usize)>,
    /// Decoded payload bytes per record.
    pub record_bytes: usize,
    /// Also read the child's RSS right after it acknowledged this batch (1-based).
    pub rss_probe_after_batch: Option<usize>,
}

impl Workload {
    /// A workload of `batches` batches of `records_per_batch` records.
    pub fn uniform(
        id: &'static str,
        purpose: &'static str,
        batches: usize,
        records_per_batch: usize,
        record_bytes: usize,
    ) -> Workload {
        Workload {
            id,
            purpose,
            phases: vec![(batches, records_per_batch)],
            record_bytes,
            rss_probe_after_batch: None,
        }
    }

    /// The memory workload: one catch-up batch of `big` records, then `small_batches` batches of
    /// `small` records; RSS is read after the first small batch.
    pub fn catch_up(big: usize, small_batches: usize, small: usize) -> Workload {
        Workload {
            id: "d",
            purpose: "memory after a catch-up batch",
            phases: vec![(1, big), (small_batches, small)],
            record_bytes: 1024,
            rss_probe_after_batch: Some(2),
        }
    }

    /// The four workloads at full size: issue 4's three, and issue 12's memory workload.
    pub fn full() -> Vec<Workload> {
        vec![
            Workload::uniform("a", "throughput", 200, 1000, 1024),
            Workload::uniform("b", "latency", 2000, 1, 100),
            Workload::uniform("c", "big batches", 5, 10_000, 1024),
            Workload::catch_up(10_000, 20, 10),
        ]
    }

    /// The same shapes, small enough for the test suite's correctness check.
    pub fn smoke() -> Vec<Workload> {
        vec![
            Workload::uniform("a", "throughput", 4, 100, 1024),
            Workload::uniform("b", "latency", 20, 1, 100),
            Workload::uniform("c", "big batches", 2, 2000, 1024),
            Workload::catch_up(2000, 4, 10),
        ]
    }

    /// Records per batch, batch by batch.
    pub fn batch_sizes(&self) -> impl Iterator<Item = usize> + '_ {
        self.phases
            .iter()
            .flat_map(|&(batches, records)| std::iter::repeat_n(records, batches))
    }

    /// Number of `processRecords` actions.
    pub fn batches(&self) -> usize {
        self.phases.iter().map(|(batches, _)| batches).sum()
    }

    /// Total number of records delivered.
    pub fn total_records(&self) -> u64 {
        self.batch_sizes().map(|records| records as u64).sum()
    }

    /// Total decoded payload in bytes (what "per GB" refers to).
    pub fn payload_bytes(&self) -> u64 {
        self.total_records() * self.record_bytes as u64
    }

    /// A one-line description such as `(a) 200 x 1000 x 1024 B` or
    /// `(d) 1 x 10000 then 20 x 10 x 1024 B`.
    pub fn describe(&self) -> String {
        let phases: Vec<String> = self
            .phases
            .iter()
            .map(|(batches, records)| format!("{batches} x {records}"))
            .collect();
        format!(
            "({}) {} x {} B",
            self.id,
            phases.join(" then "),
            self.record_bytes
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_workload_is_one_big_batch_then_small_ones() {
        let workload = Workload::catch_up(10_000, 20, 10);
        assert_eq!(workload.batches(), 21);
        assert_eq!(workload.total_records(), 10_200);
        assert_eq!(
            workload.batch_sizes().take(3).collect::<Vec<_>>(),
            [10_000, 10, 10]
        );
        assert_eq!(workload.describe(), "(d) 1 x 10000 then 20 x 10 x 1024 B");
        assert_eq!(
            Workload::uniform("a", "t", 200, 1000, 1024).describe(),
            "(a) 200 x 1000 x 1024 B"
        );
    }
}
