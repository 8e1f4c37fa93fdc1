//! The independent KPL implementation the harness's encoder is checked against: AWS's
//! `aws-kinesis-agg` Python package, pinned with hashes in `tests/requirements-kpl.txt`, installed
//! into the stack's venv (`.local/venv`, created by `scripts/local-stack install`), driven by
//! `tests/python/kpl_crosscheck.py` with JSON on stdin and stdout.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::aws::HarnessError;
use crate::kpl::UserRecord;
use crate::paths;

/// What the Python deaggregator made of one Kinesis record's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deaggregated {
    /// Whether it recognised an aggregate (magic, MD5 and protobuf all valid).
    pub aggregated: bool,
    /// The user records with their sub-sequence numbers, in order.
    pub records: Vec<(u64, UserRecord)>,
}

/// Runs the cross-check script: deaggregates each of `decode` and aggregates each of `encode`
/// (explicit hash keys and data only: the package writes no tags). Returns (deaggregated, encoded).
pub fn crosscheck(
    decode: &[Vec<u8>],
    encode: &[Vec<UserRecord>],
) -> Result<(Vec<Deaggregated>, Vec<Vec<u8>>), HarnessError> {
    let python = venv_python()?;
    let request = json!({
        "decode": decode.iter().map(|d| to_hex(d)).collect::<Vec<_>>(),
        "encode": encode.iter().map(|records| records.iter().map(|r| json!({
            "partition_key": r.partition_key,
            "explicit_hash_key": r.explicit_hash_key,
            "data": to_hex(&r.data),
        })).collect::<Vec<_>>()).collect::<Vec<_>>(),
    });
    let script = paths::repo_root()
        .join("tests")
        .join("python")
        .join("kpl_crosscheck.py");
    let mut child = Command::new(python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or("no stdin pipe to the Python script")?;
    let body = request.to_string();
    // The request can be larger than a pipe buffer: write it from a thread while the output is read.
    let writer = std::thread::spawn(move || stdin.write_all(body.as_bytes()));
    let output = child.wait_with_output()?;
    writer
        .join()
        .map_err(|_| "the thread writing to the Python script panicked")??;
    if !output.status.success() {
        return Err(format!(
            "{} failed ({}): {}",
            script.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into());
    }
    let response: Value = serde_json::from_slice(&output.stdout)?;
    let decoded = response["decoded"]
        .as_array()
        .ok_or("no `decoded` array in the script's answer")?
        .iter()
        .map(parse_deaggregated)
        .collect::<Result<Vec<_>, _>>()?;
    let encoded = response["encoded"]
        .as_array()
        .ok_or("no `encoded` array in the script's answer")?
        .iter()
        .map(|h| from_hex(h.as_str().unwrap_or("?")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((decoded, encoded))
}

fn parse_deaggregated(value: &Value) -> Result<Deaggregated, HarnessError> {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let records = value["records"]
        .as_array()
        .ok_or("no `records` array")?
        .iter()
        .map(|r| {
            let tags = r["tags"]
                .as_array()
                .ok_or("no `tags` array")?
                .iter()
                .map(|t| Ok((text(&t[0]).ok_or("tag without key")?, text(&t[1]))))
                .collect::<Result<Vec<_>, HarnessError>>()?;
            let record = UserRecord {
                partition_key: text(&r["partition_key"]).ok_or("no partition_key")?,
                explicit_hash_key: text(&r["explicit_hash_key"]),
                data: from_hex(r["data"].as_str().ok_or("no data")?)?,
                tags,
            };
            let sub = r["sub_sequence_number"]
                .as_u64()
                .ok_or("no sub_sequence_number")?;
            Ok((sub, record))
        })
        .collect::<Result<Vec<_>, HarnessError>>()?;
    Ok(Deaggregated {
        aggregated: value["aggregated"].as_bool().ok_or("no `aggregated`")?,
        records,
    })
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: &str) -> Result<Vec<u8>, HarnessError> {
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| HarnessError::from(format!("bad hex from the script: {text:.40}")))
        })
        .collect()
}

/// The venv's python with `tests/requirements-kpl.txt` installed (once per test process).
fn venv_python() -> Result<PathBuf, HarnessError> {
    static READY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    READY
        .get_or_init(install)
        .clone()
        .map_err(HarnessError::from)
}

fn install() -> Result<PathBuf, String> {
    let root = paths::repo_root();
    let local = root.join(".local");
    // Creates the venv (and the emulators) if needed; a no-op when installed.
    let status = Command::new(root.join("scripts").join("local-stack"))
        .arg("install")
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run scripts/local-stack install: {e}"))?;
    if !status.success() {
        return Err(format!("scripts/local-stack install failed ({status})"));
    }
    let python = local.join("venv").join("bin").join("python");
    // Under the lock scripts/local-stack installs under, so that two test processes (or a stack
    // install) never run pip in the venv at once. A no-op taking ~0.4 s once installed.
    let status = Command::new("flock")
        .arg(local.join("install.lock"))
        .arg(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--require-hashes",
            "--no-deps",
            "--only-binary",
            ":all:",
            "-r",
        ])
        .arg(root.join("tests").join("requirements-kpl.txt"))
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run flock/pip: {e}"))?;
    if !status.success() {
        return Err(format!(
            "pip install -r tests/requirements-kpl.txt failed ({status}); see its output above"
        ));
    }
    Ok(python)
}
