//! `kcl-e2e`: the harness for the end-to-end scenarios with the real Java MultiLangDaemon.
//!
//! The scenarios (`tests/e2e/`) run `kcl-bootstrap -p FILE -e` (which exec's the daemon's JVM)
//! against the local AWS stack (`scripts/local-stack`: kinesis-local + moto on 127.0.0.1), with the
//! `e2e-consumer` processor (`src/bin/e2e-consumer.rs`) or the samples as the daemon's children, and
//! assert on data: the records in the processor's sink, the lease table's checkpoints, the objects
//! in S3.
//!
//! - [`stack`]: one stack per test process, on free ports, stopped by PID when the process ends;
//! - [`scenario`]: fresh names, a directory and timings per scenario;
//! - [`properties`]: the daemon properties template;
//! - [`spawned`]: the kcl-bootstrap command line, process group and kill-on-drop both kinds share;
//! - [`worker`]: a daemon process in its own process group, killed on drop;
//! - [`supervised`]: `kcl-bootstrap --supervise` and the JVM it runs, killed on drop;
//! - [`proxy`]: a loopback TCP proxy that can refuse connections (dependency outages);
//! - [`aws`]: SDK clients on the stack, producing records, splitting shards, scanning leases;
//! - [`kcl_tables`]: writing the daemon's own tables (seeded leases, a lease the test holds, a
//!   worker that exists only as a metrics row);
//! - [`kpl`]: the KPL aggregated-record format (encoder and decoder);
//! - [`kpl_python`]: the `aws-kinesis-agg` Python package the encoder is cross-checked against;
//! - [`sink`]: what `e2e-consumer` writes and the scenarios read;
//! - [`logs`]: the child log lines `e2e-consumer` writes on request, counted in a worker's log;
//! - [`wait`]: polling with a deadline.

pub mod aws;
pub mod kcl_tables;
pub mod kpl;
pub mod kpl_python;
pub mod logs;
pub mod paths;
pub mod properties;
pub mod proxy;
pub mod scenario;
pub mod sink;
pub mod spawned;
pub mod stack;
pub mod supervised;
pub mod wait;
pub mod worker;
