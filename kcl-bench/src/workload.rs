//! The benchmark's workloads: how many batches, records per batch and bytes per record.

/// One workload: a shard's worth of batches, all of the same shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    /// Short id used on the command line and in the report (`a`, `b`, `c`).
    pub id: &'static str,
    /// What the workload stands for, for the report.
    pub purpose: &'static str,
    /// Number of `processRecords` actions.
    pub batches: usize,
    /// Records in each batch.
    pub records_per_batch: usize,
    /// Decoded payload bytes per record.
    pub record_bytes: usize,
}

impl Workload {
    /// The three workloads of issue 4, at full size.
    pub fn full() -> Vec<Workload> {
        vec![
            Workload {
                id: "a",
                purpose: "throughput",
                batches: 200,
                records_per_batch: 1000,
                record_bytes: 1024,
            },
            Workload {
                id: "b",
                purpose: "latency",
                batches: 2000,
                records_per_batch: 1,
                record_bytes: 100,
            },
            Workload {
                id: "c",
                purpose: "big batches",
                batches: 5,
                records_per_batch: 10_000,
                record_bytes: 1024,
            },
        ]
    }

    /// The same shapes, small enough for the test suite's correctness check.
    pub fn smoke() -> Vec<Workload> {
        vec![
            Workload {
                id: "a",
                purpose: "throughput",
                batches: 4,
                records_per_batch: 100,
                record_bytes: 1024,
            },
            Workload {
                id: "b",
                purpose: "latency",
                batches: 20,
                records_per_batch: 1,
                record_bytes: 100,
            },
            Workload {
                id: "c",
                purpose: "big batches",
                batches: 2,
                records_per_batch: 2000,
                record_bytes: 1024,
            },
        ]
    }

    /// Total number of records delivered.
    pub fn total_records(&self) -> u64 {
        (self.batches * self.records_per_batch) as u64
    }

    /// Total decoded payload in bytes (what "per GB" refers to).
    pub fn payload_bytes(&self) -> u64 {
        self.total_records() * self.record_bytes as u64
    }

    /// A one-line description such as `(a) 200 x 1000 x 1024 B`.
    pub fn describe(&self) -> String {
        format!(
            "({}) {} x {} x {} B",
            self.id, self.batches, self.records_per_batch, self.record_bytes
        )
    }
}
