//! The DynamoDB Streams sample: a processor that reads a table's change stream (through
//! `kcl-bootstrap --dynamodb-streams`), logs each change and keeps counts, and checkpoints.
//!
//! Each record's data is one DynamoDB stream record as JSON; [`kcl_protocol::ddb::StreamRecord`]
//! types it. See docs/ddb-streams.md.

mod processor;

pub use processor::{ChangeCounts, ChangeProcessor};
