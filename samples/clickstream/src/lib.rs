//! The click-stream KCL sample, in Rust, after the official Node.js click-stream sample.
//!
//! * `clickstream-producer` generates `{"resource","referrer"}` click records and sends them with
//!   `PutRecords` in batches at a set rate, then prints a summary and (optionally) writes a
//!   [`manifest`] of every record it put.
//! * `clickstream-consumer` is the record processor the MultiLangDaemon starts once per shard. It
//!   [buffers](buffer) records up to a size limit (1 MiB by default) or a maximum age, uploads each
//!   buffer to S3 under `<shardId>/<firstSeq>-<lastSeq>` in the background while it keeps
//!   receiving, and lets kcl-protocol checkpoint a record only once its upload succeeded, through
//!   a watermark ([`ClickstreamProcessor`]).
//! * `clickstream-verify` checks that every record in a manifest is in S3 and that the lease
//!   table holds a checkpoint for every shard ([`verify`]).
//!
//! Everything that does not need AWS is in this library and unit-tested; the binaries only wire
//! it to the AWS SDK for Rust ([`aws`]).

pub mod aws;
pub mod buffer;
pub mod click;
pub mod consumer;
pub mod manifest;
pub mod object;
pub mod sink;
pub mod verify;

pub use buffer::{Batch, ShardBuffer};
pub use click::{Click, ClickGenerator};
pub use consumer::{ClickstreamProcessor, ConsumerSettings};
pub use sink::{ObjectSink, S3Sink, UploadRetry};
