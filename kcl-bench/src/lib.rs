//! `kcl-bench`: what one shard's child process costs, for `kcl-protocol` and for the official SDKs.
//!
//! The Java MultiLangDaemon runs one child process per shard, so CPU per gigabyte and memory per
//! child are what users pay for. This crate replays transcripts byte for byte as the daemon writes
//! them ([`transcript`]), drives a child over its stdin/stdout the way the daemon does ([`driver`]),
//! measures it with `wait4` and `/proc`, and reports medians over several alternating rounds
//! ([`report`], [`chart`]).
//!
//! Run it with `scripts/bench` from the repository root; `BENCHMARKS.md` explains the figures.

pub mod bar_panels;
pub mod chart;
mod child_line;
pub mod children;
pub mod document;
pub mod driver;
pub mod idle;
pub mod machine;
pub mod overhead;
pub mod pipe_section;
pub mod pipe_writes;
pub mod report;
pub mod reports;
pub mod sections;
pub mod transcript;
pub mod watchdog;
pub mod worker_chart;
pub mod worker_memory;
pub mod worker_results;
pub mod worker_section;
pub mod worker_summary;
pub mod workload;
