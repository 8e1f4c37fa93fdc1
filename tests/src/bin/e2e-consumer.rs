//! `e2e-consumer`: the record processor the end-to-end scenarios run under the real daemon.
//!
//! It appends every delivered record to `$E2E_SINK_DIR/records/<shardId>` (fsync'ed) and only then
//! checkpoints the batch, so the sink is always a superset of what the lease table says is done.
//! Lifecycle events go to `$E2E_SINK_DIR/events/<shardId>` (see `kcl_e2e::sink`). On
//! `shutdownRequested` it checkpoints at the latest delivered record; on `shardEnded` at SHARD_END.
//!
//! Every checkpoint is made the way the samples teach, `RetryPolicy::retry(..)?`. A refused one is
//! first logged as a `checkpointRefused <error name>` event. A refusal with `ShutdownException`
//! (the lease has moved to another worker) is not a failure for kcl-protocol: it acknowledges the
//! batch and keeps the child until the daemon ends it; the next owner resumes from the last
//! checkpoint (duplicates, never a loss). With `isGracefulLeaseHandoffEnabled = false`
//! (scenario 10) every rebalancing move does this to the old owner's batch in flight; before
//! kcl-protocol handled it, `FailurePolicy::Exit` ended the child and the daemon `System.exit(1)`ed
//! the whole worker (seen in scenario 5: a lease moved off worker b, whose JVM exited 1).
//!
//! Failure injection (scenario 6), all optional:
//! - `E2E_FAIL_AFTER_BATCHES=N`: fail on the first non-empty batch after N batches of this process,
//!   *before* writing it to the sink;
//! - `E2E_FAIL_SHARD=<shardId>`: only on this shard (default: any);
//! - `E2E_FAIL_MODE=error|panic` (default `error`): return `Err` or panic;
//! - `E2E_FAIL_MARKER=<path>`: fail only if this file does not exist yet (it is created atomically
//!   first), so exactly one child of the whole run fails and the restarted worker runs clean.
//!
//! The failure goes through kcl-protocol's default policy (`FailurePolicy::Exit`): the action is not
//! acknowledged and the process exits non-zero.
//!
//! Log lines (scenario 1, the worker's log shape), optional:
//! - `E2E_STDERR_LINES=N`: on `initialize`, log N lines through `kcl_protocol::logging` (stderr),
//!   alternately at WARN and ERROR, each carrying `kcl_e2e::logs::child_line_marker(pid, n)`, so
//!   that a scenario can count how often each appears in the worker's log.
//!
//! Checkpoint and stop (scenario 9, KPL aggregates), optional:
//! - `E2E_STOP_AT_DATA=<data>`: when the record with this data arrives, sink the batch up to and
//!   including it, checkpoint at its sequence *and sub-sequence* number
//!   (`checkpoint_at_sub_sequence`), log `stopCheckpoint <sequence>/<sub>`, and from then on sink
//!   and checkpoint nothing more in this process: later batches are acknowledged unprocessed and
//!   `shutdownRequested` is acknowledged without a checkpoint (`stoppedShutdown`). The lease then
//!   holds exactly that position, in the middle of an aggregate, for the next worker to resume from.
//!
//! Hold a batch while the lease moves (the lease-moved scenario), optional:
//! - `E2E_GATE_DIR=<dir>`: on the first non-empty batch of the whole run (claimed by creating
//!   `<dir>/inside` atomically), sink the batch, then wait inside `process_records` until
//!   `<dir>/open` exists (at most [`GATE_WAIT`]) before checkpointing. The scenario moves the lease
//!   to another owner in between, so the checkpoint is refused with `ShutdownException`. The
//!   checkpoint is still made the way the samples teach (`RetryPolicy::retry(..)?`); a refusal is
//!   logged as a `checkpointRefused` event first.
//! - `E2E_GATE_AFTER_BATCHES=N` (with `E2E_GATE_DIR`): only a batch after this process handled N
//!   batches can claim the gate (scenario 14: a shard that was behind stops taking batches).

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use kcl_e2e::sink::{SINK_DIR_ENV, SinkWriter};
use kcl_protocol::{
    BoxError, CheckpointError, Checkpointer, InitializeInput, LeaseLostInput, ProcessRecordsInput,
    Processor, RetryPolicy, ShardEndedInput, ShutdownRequestedInput,
};

/// Where and when to fail, read once from the environment.
#[derive(Debug, Default)]
struct FailureInjection {
    after_batches: Option<u64>,
    shard_id: Option<String>,
    panic: bool,
    marker: Option<PathBuf>,
}

impl FailureInjection {
    fn from_env() -> Self {
        FailureInjection {
            after_batches: std::env::var("E2E_FAIL_AFTER_BATCHES")
                .ok()
                .and_then(|v| v.parse().ok()),
            shard_id: std::env::var("E2E_FAIL_SHARD")
                .ok()
                .filter(|v| !v.is_empty()),
            panic: std::env::var("E2E_FAIL_MODE").is_ok_and(|v| v == "panic"),
            marker: std::env::var_os("E2E_FAIL_MARKER").map(PathBuf::from),
        }
    }

    /// Whether this batch must fail; claims the marker file if one is configured.
    fn should_fail(&self, shard_id: &str, batches_done: u64) -> bool {
        let Some(after) = self.after_batches else {
            return false;
        };
        if batches_done != after || self.shard_id.as_deref().is_some_and(|s| s != shard_id) {
            return false;
        }
        match &self.marker {
            None => true,
            Some(path) => OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .is_ok(),
        }
    }
}

/// The longest a gated batch waits for `<dir>/open`: the scenario opens it within seconds, and
/// this stays below the e2e properties' `timeoutInSeconds` (60), after which the daemon would halt.
const GATE_WAIT: Duration = Duration::from_secs(45);

/// `E2E_GATE_AFTER_BATCHES`: batches handled before the gate can be claimed (default 0).
fn gate_after_batches() -> u64 {
    std::env::var("E2E_GATE_AFTER_BATCHES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// `E2E_GATE_DIR`: hold the run's first batch until the scenario has moved the lease.
#[derive(Debug)]
struct Gate {
    dir: PathBuf,
}

impl Gate {
    fn from_env() -> Option<Gate> {
        std::env::var_os("E2E_GATE_DIR")
            .filter(|v| !v.is_empty())
            .map(|dir| Gate { dir: dir.into() })
    }

    /// Claims the gate (once per run, across processes): true for exactly one batch.
    fn claim(&self) -> bool {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.dir.join("inside"))
            .is_ok()
    }

    /// Waits until the scenario creates `<dir>/open`, polling; gives up after [`GATE_WAIT`].
    fn wait_open(&self) -> Result<(), BoxError> {
        let open: &Path = &self.dir.join("open");
        let start = Instant::now();
        while !open.exists() {
            if start.elapsed() > GATE_WAIT {
                return Err(
                    format!("{} did not appear within {GATE_WAIT:?}", open.display()).into(),
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }
}

struct E2eProcessor {
    sink_dir: PathBuf,
    writer: Option<SinkWriter>,
    batches: u64,
    failure: FailureInjection,
    /// `E2E_STOP_AT_DATA`: the data of the record to checkpoint at and stop after.
    stop_at_data: Option<Vec<u8>>,
    /// Set once the stop record was checkpointed.
    stopped: bool,
    /// `E2E_GATE_DIR`.
    gate: Option<Gate>,
    /// `E2E_STDERR_LINES`: log lines to write on `initialize`.
    stderr_lines: u32,
}

impl E2eProcessor {
    fn writer(&self) -> Result<&SinkWriter, BoxError> {
        self.writer
            .as_ref()
            .ok_or_else(|| "a callback arrived before initialize".into())
    }
}

impl Processor for E2eProcessor {
    fn initialize(&mut self, input: &InitializeInput) -> Result<(), BoxError> {
        let writer = SinkWriter::new(&self.sink_dir, input.shard_id())?;
        let checkpoint = input
            .checkpoint()
            .map(ToString::to_string)
            .unwrap_or_else(|| "none".into());
        writer.event("initialize", &checkpoint)?;
        self.writer = Some(writer);
        for n in 0..self.stderr_lines {
            let line = kcl_e2e::logs::child_line_marker(std::process::id(), n);
            if n % 2 == 0 {
                tracing::warn!("{line}");
            } else {
                tracing::error!("{line}");
            }
        }
        Ok(())
    }

    fn process_records(
        &mut self,
        input: &ProcessRecordsInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        let records = input.records();
        if records.is_empty() || self.stopped {
            return Ok(());
        }
        let writer = self.writer()?;
        if self.failure.should_fail(writer.shard_id(), self.batches) {
            let mode = if self.failure.panic { "panic" } else { "error" };
            writer.event("fail", mode)?;
            if self.failure.panic {
                panic!(
                    "injected panic on batch {} of {}",
                    self.batches + 1,
                    writer.shard_id()
                );
            }
            return Err(format!(
                "injected failure on batch {} of {}",
                self.batches + 1,
                writer.shard_id()
            )
            .into());
        }
        let stop_at = self
            .stop_at_data
            .as_deref()
            .and_then(|data| records.iter().position(|r| r.data() == data));
        let done = match stop_at {
            Some(position) => &records[..=position],
            None => records,
        };
        writer.append_records(done.iter().map(|r| {
            (
                r.sequence_number().as_str(),
                r.sub_sequence_number(),
                r.partition_key(),
                r.data(),
            )
        }))?;
        let last = &done[done.len() - 1];
        if stop_at.is_some() {
            RetryPolicy::default().retry(|| {
                checkpointer
                    .checkpoint_at_sub_sequence(last.sequence_number(), last.sub_sequence_number())
            })?;
            writer.event(
                "stopCheckpoint",
                &last.extended_sequence_number().to_string(),
            )?;
            self.stopped = true;
            return Ok(());
        }
        let gate_due = self.batches >= gate_after_batches();
        if let Some(gate) = self.gate.as_ref().filter(|gate| gate_due && gate.claim()) {
            writer.event("gateHeld", last.sequence_number().as_str())?;
            gate.wait_open()?;
        }
        let result = RetryPolicy::default().retry(|| checkpointer.checkpoint_at_record(last));
        note_refusal(writer, &result)?;
        // The pattern the samples teach: a refused checkpoint propagates with `?`.
        result?;
        writer.event("checkpoint", last.sequence_number().as_str())?;
        self.batches += 1;
        Ok(())
    }

    fn lease_lost(&mut self, _input: &LeaseLostInput) -> Result<(), BoxError> {
        self.writer()?.event("leaseLost", "")?;
        Ok(())
    }

    fn shard_ended(
        &mut self,
        _input: &ShardEndedInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        let writer = self.writer()?;
        writer.event("shardEnded", "")?;
        RetryPolicy::default().retry(|| checkpointer.checkpoint())?;
        writer.event("shardEndCheckpoint", "SHARD_END")?;
        Ok(())
    }

    fn shutdown_requested(
        &mut self,
        _input: &ShutdownRequestedInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        let writer = self.writer()?;
        writer.event("shutdownRequested", "")?;
        if self.stopped {
            writer.event("stoppedShutdown", "")?;
            return Ok(());
        }
        let result = RetryPolicy::default().retry(|| checkpointer.checkpoint());
        note_refusal(writer, &result)?;
        result?;
        writer.event("shutdownCheckpoint", "")?;
        Ok(())
    }
}

/// Logs a refused checkpoint as `checkpointRefused <daemon error name>` before the caller
/// propagates it with `?`.
fn note_refusal(writer: &SinkWriter, result: &Result<(), CheckpointError>) -> Result<(), BoxError> {
    if let Err(error) = result {
        writer.event("checkpointRefused", error.daemon_name().unwrap_or("none"))?;
    }
    Ok(())
}

fn main() -> ExitCode {
    if let Err(error) = kcl_protocol::logging::init() {
        eprintln!("e2e-consumer: cannot set up logging: {error}");
    }
    let Some(sink_dir) = std::env::var_os(SINK_DIR_ENV).map(PathBuf::from) else {
        eprintln!("e2e-consumer: set {SINK_DIR_ENV} to the directory the records are written to");
        return ExitCode::from(2);
    };
    let processor = E2eProcessor {
        sink_dir,
        writer: None,
        batches: 0,
        failure: FailureInjection::from_env(),
        stop_at_data: std::env::var_os("E2E_STOP_AT_DATA")
            .map(|v| v.into_encoded_bytes())
            .filter(|v| !v.is_empty()),
        stopped: false,
        gate: Gate::from_env(),
        stderr_lines: std::env::var("E2E_STDERR_LINES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    };
    match kcl_protocol::run(processor) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("e2e-consumer: stopped: {error}");
            ExitCode::FAILURE
        }
    }
}
