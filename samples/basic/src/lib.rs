//! The basic KCL sample, in Rust: what the official SDKs' `basic_sample` does.
//!
//! * `basic-producer` creates the stream if it is missing, waits until it is `ACTIVE`, and puts
//!   sensor-style JSON records `{"time", "sensor", "reading"}` with the sensor as partition key.
//! * `basic-consumer` is the record processor the MultiLangDaemon starts once per shard: it logs
//!   every record to stderr and checkpoints after every batch, at shard end and when the worker
//!   shuts down.
//!
//! The pure parts live here so that they can be unit-tested without AWS or Java:
//! [`sensor`] generates the records, [`processor`] is the consumer's logic, and [`stream`] holds
//! the producer's stream set-up.

pub mod processor;
pub mod sensor;
pub mod stream;

pub use processor::BasicProcessor;
pub use sensor::{SensorGenerator, SensorReading};
