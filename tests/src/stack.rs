//! The local AWS stack (kinesis-local + moto) shared by every scenario of one test process.
//!
//! Started once, on first use, through `scripts/local-stack up` with free ports and a run directory
//! of its own. Stopped by PID when the test process ends, whatever way it ends: a small reaper
//! process holds the read end of a pipe whose write end only this process has; when this process
//! exits (normally, by panic or by a signal) the pipe closes and the reaper runs
//! `scripts/local-stack down`.

use std::collections::HashMap;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use crate::paths;

/// Endpoints of the running stack.
#[derive(Debug, Clone)]
pub struct LocalStack {
    /// `http://127.0.0.1:<port>` of kinesis-local's plain (h2c) port.
    pub kinesis_endpoint: String,
    /// `http://127.0.0.1:<port>` of moto (DynamoDB and S3).
    pub moto_endpoint: String,
    /// The stack's run directory (PID files, server logs).
    pub run_dir: PathBuf,
}

/// The region every client and the daemon use (kinesis-local namespaces streams by region).
pub const REGION: &str = "us-east-1";
/// The dummy access key (kinesis-local also namespaces by account; a non-12-digit key maps to its default).
pub const ACCESS_KEY_ID: &str = "dummy";
/// The dummy secret key.
pub const SECRET_ACCESS_KEY: &str = "dummy";

static REAPER_PIPE: Mutex<Option<ChildStdin>> = Mutex::new(None);

/// The shared stack, started on first call. Panics with the script's output if it cannot start.
pub fn shared() -> &'static LocalStack {
    static STACK: OnceLock<LocalStack> = OnceLock::new();
    STACK.get_or_init(|| start().unwrap_or_else(|e| panic!("{e}")))
}

fn start() -> Result<LocalStack, String> {
    let run_dir = paths::run_dir().join("stack");
    let script = paths::repo_root().join("scripts").join("local-stack");
    let output = Command::new(&script)
        .arg("up")
        .env("LOCAL_STACK_RUN_DIR", &run_dir)
        .env("KINESIS_PORT", "0")
        .env("KINESIS_TLS_PORT", "0")
        .env("MOTO_PORT", "0")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    // Arm the reaper before looking at the result: a half-started stack is stopped too.
    arm_reaper(&script, &run_dir)?;
    if !output.status.success() {
        return Err(format!(
            "`scripts/local-stack up` failed ({}); see its output above",
            output.status
        ));
    }
    let env: HashMap<String, String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let get = |key: &str| {
        env.get(key)
            .cloned()
            .ok_or_else(|| format!("`scripts/local-stack up` printed no {key}"))
    };
    Ok(LocalStack {
        kinesis_endpoint: get("KINESIS_ENDPOINT")?,
        moto_endpoint: get("DYNAMODB_ENDPOINT")?,
        run_dir,
    })
}

fn arm_reaper(script: &std::path::Path, run_dir: &std::path::Path) -> Result<(), String> {
    let child = Command::new("sh")
        .arg("-c")
        .arg("cat >/dev/null; exec \"$0\" down >/dev/null 2>&1")
        .arg(script)
        .env("LOCAL_STACK_RUN_DIR", run_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group: a Ctrl-C to `cargo test` must not kill it before it cleans up.
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start the stack reaper: {e}"))?;
    let stdin = child.stdin.ok_or("the reaper has no stdin pipe")?;
    *REAPER_PIPE.lock().unwrap_or_else(|p| p.into_inner()) = Some(stdin);
    Ok(())
}

impl LocalStack {
    /// The environment every process talking to the stack gets: dummy credentials, the region and
    /// the standard `AWS_ENDPOINT_URL_*` variables (used by the samples).
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY),
            ("AWS_REGION", REGION),
            ("AWS_DEFAULT_REGION", REGION),
            ("AWS_ENDPOINT_URL_KINESIS", &self.kinesis_endpoint),
            ("AWS_ENDPOINT_URL_DYNAMODB", &self.moto_endpoint),
            ("AWS_ENDPOINT_URL_S3", &self.moto_endpoint),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }
}
