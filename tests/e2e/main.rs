//! End-to-end scenarios with the real Java MultiLangDaemon, launched by `kcl-bootstrap -e`, against
//! the local AWS stack. Each scenario uses fresh stream and application names and asserts on data
//! (the processor's sink, the lease table, S3); on the worker's log only where the log is under test
//! (scenario 1) or as evidence of a cause the data shows (scenario 10).
//!
//! Run: `cargo test -p kcl-e2e --test e2e -- --test-threads=16` (see tests/README.md). All scenarios
//! share one stack per test process and run in parallel: most of their time is the daemon waiting
//! (lease-table back-off, lease expiry), not CPU.

mod common;
mod s10_stuck_lease;
mod s11_leader_failure;
mod s12_lease_moved_mid_batch;
mod s13_overrides;
mod s13_supervise;
mod s14_observe;
mod s15_ddb_streams;
mod s15_ddb_streams_sample;
mod s1_happy_path;
mod s2_restart;
mod s3_graceful_shutdown;
mod s4_resharding;
mod s5_two_workers;
mod s6_processor_failure;
mod s7_samples;
mod s8_official_properties;
mod s9_kpl_aggregation;
mod s9_kpl_plan;
