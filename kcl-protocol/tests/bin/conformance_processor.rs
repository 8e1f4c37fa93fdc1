//! A processor whose behaviour is chosen by the environment, used by the process-level tests
//! (`tests/process.rs`) to exercise the real binary over pipes. It also shows the runtime knobs.
//!
//! `KCL_TEST_MODE` is a comma-separated list of:
//! - `println`: print to stdout (with and without a trailing newline) in every callback;
//! - `checkpoint`: checkpoint at the last record of each batch;
//! - `error` / `panic`: fail / panic in `process_records`;
//! - `skip-batch`: `FailurePolicy::SkipBatch` for errors and panics;
//! - `no-guard`: do not guard stdout;
//! - `inherit-signals`: keep the default SIGINT/SIGTERM behaviour;
//! - `list-fds`: in `initialize`, run `ls /proc/self/fd` as a child process and print what it
//!   sees on stderr (the protocol's private stdout must not leak into processes we start);
//! - `sigterm` / `sigint`: send that signal to this process in `process_records` (as a terminal or
//!   supervisor signalling the process group would);
//! - `slow`: sleep 1.2 s in `process_records`.

use kcl_protocol::{
    BoxError, Checkpointer, FailurePolicy, InitializeInput, LeaseLostInput, ProcessRecordsInput,
    Processor, Runner, SignalHandling,
};

struct Scripted {
    modes: Vec<String>,
    /// What descriptor 1 was before the library took it (`pipe:[inode]`): the protocol pipe.
    original_stdout: String,
}

impl Scripted {
    fn has(&self, mode: &str) -> bool {
        self.modes.iter().any(|m| m == mode)
    }

    fn pollute(&self, context: &str) {
        if self.has("println") {
            println!("stray println from {context}");
            print!("a partial line without newline from {context}");
        }
    }
}

impl Processor for Scripted {
    fn initialize(&mut self, input: &InitializeInput) -> Result<(), BoxError> {
        self.pollute("initialize");
        if self.has("list-fds") {
            // What a process started by the processor has open (its stderr is ours).
            let output = std::process::Command::new("ls")
                .args(["-l", "/proc/self/fd/"])
                .stderr(std::process::Stdio::inherit())
                .output()?;
            let listing = String::from_utf8_lossy(&output.stdout);
            let stderr_target = std::fs::read_link("/proc/self/fd/2")?;
            eprintln!(
                "child sees stderr: {}; child sees the protocol pipe: {}",
                listing.contains(&*stderr_target.to_string_lossy()),
                listing.contains(&self.original_stdout)
            );
        }
        tracing::info!(shard = input.shard_id(), "initialized");
        Ok(())
    }

    fn process_records(
        &mut self,
        input: &ProcessRecordsInput,
        checkpointer: &mut Checkpointer<'_>,
    ) -> Result<(), BoxError> {
        self.pollute("process_records");
        for signal in ["sigterm", "sigint"] {
            if self.has(signal) {
                let name = if signal == "sigterm" { "-TERM" } else { "-INT" };
                let status = std::process::Command::new("kill")
                    .arg(name)
                    .arg(std::process::id().to_string())
                    .status()?;
                eprintln!("sent {signal} to myself: {status}");
            }
        }
        if self.has("slow") {
            std::thread::sleep(std::time::Duration::from_millis(1200));
        }
        if self.has("error") {
            return Err(format!("scripted failure on {} records", input.records().len()).into());
        }
        if self.has("panic") {
            panic!("scripted panic on {} records", input.records().len());
        }
        if let (true, Some(last)) = (self.has("checkpoint"), input.records().last()) {
            checkpointer.checkpoint_at_record(last)?;
        }
        Ok(())
    }

    fn lease_lost(&mut self, _input: &LeaseLostInput) -> Result<(), BoxError> {
        self.pollute("lease_lost");
        Ok(())
    }
}

fn main() -> Result<(), kcl_protocol::Error> {
    let modes: Vec<String> = std::env::var("KCL_TEST_MODE")
        .unwrap_or_default()
        .split(',')
        .map(|m| m.trim().to_owned())
        .filter(|m| !m.is_empty())
        .collect();
    kcl_protocol::logging::init().expect("install logging once");
    let original_stdout = std::fs::read_link("/proc/self/fd/1")
        .map(|target| target.to_string_lossy().into_owned())
        .unwrap_or_default();
    let processor = Scripted {
        modes,
        original_stdout,
    };
    let mut runtime = Runner::new();
    if processor.has("skip-batch") {
        runtime = runtime
            .on_error(FailurePolicy::SkipBatch)
            .on_panic(FailurePolicy::SkipBatch);
    }
    if processor.has("no-guard") {
        runtime = runtime.stdout(kcl_protocol::StdoutGuard::Shared);
    }
    if processor.has("inherit-signals") {
        runtime = runtime.signal_handling(SignalHandling::Inherit);
    }
    runtime.run(processor)
}
