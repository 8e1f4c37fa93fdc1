//! The children under test, and where each one is found.
//!
//! Every child does the same work: decode every record's data, sum the lengths, checkpoint at the
//! last record of each batch, checkpoint at shard end, and print
//! `kcl-bench-child records=<n> bytes=<n>` on stderr at shard end.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Pinned version of the official Python SDK (`kcl-bench/anchors/requirements.txt`).
pub const KCLPY_VERSION: &str = "3.2.0";
/// Pinned version of the official Node SDK (`kcl-bench/anchors/package.json`).
pub const AWS_KCL_VERSION: &str = "2.3.2";

/// How to start one child.
#[derive(Debug, Clone)]
pub struct ChildSpec {
    /// Short id used on the command line and in the report: `kcl`, `naive`, `python`, `node`.
    pub id: &'static str,
    /// What it is, for the report.
    pub label: String,
    /// Program to run.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Extra environment variables.
    pub env: Vec<(OsString, OsString)>,
}

/// Where the children live on this machine.
#[derive(Debug, Clone)]
pub struct Locations {
    /// The repository root (holds `.local/bench-venv` and `kcl-bench/anchors`).
    pub repo_root: PathBuf,
    /// Directory holding the Rust children (`bench-child-kcl`, `bench-child-naive`).
    pub bin_dir: PathBuf,
    /// A `bench-child-kcl` built from an earlier kcl-protocol, and which revision that is: the
    /// `kcl-before` child, for before/after comparisons within one run.
    pub baseline: Option<(PathBuf, String)>,
    /// The report socket of `--reports`: the `kcl-reports` child reports to it.
    pub report_socket: Option<PathBuf>,
}

/// The child ids run by default (when installed), in the report's order.
pub const ALL_IDS: [&str; 4] = ["kcl", "naive", "python", "node"];

/// Every child id in the report's order, the optional `kcl-before` included.
pub const REPORT_ORDER: [&str; 6] = [
    "kcl",
    "kcl-reports",
    "kcl-before",
    "naive",
    "python",
    "node",
];

impl Locations {
    /// The repository root this crate was built from, and the directory of the running binary.
    pub fn from_build() -> Locations {
        let repo_root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let bin_dir = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from("."));
        Locations {
            repo_root,
            bin_dir,
            baseline: None,
            report_socket: None,
        }
    }

    /// The bench venv holding the pinned `amazon_kclpy`.
    pub fn venv(&self) -> PathBuf {
        self.repo_root.join(".local/bench-venv")
    }

    /// The directory holding the Node and Python processor scripts and the npm install.
    pub fn anchors(&self) -> PathBuf {
        self.repo_root.join("kcl-bench/anchors")
    }

    /// The child with this id, or why it cannot run here.
    pub fn child(&self, id: &str) -> Result<ChildSpec, String> {
        match id {
            "kcl" => self.rust_child("kcl", "bench-child-kcl", "kcl-protocol (ours)"),
            "kcl-before" => {
                let (dir, revision) = self.baseline.as_ref().ok_or(
                    "kcl-before needs --baseline-bin-dir (scripts/bench --baseline REV builds it)",
                )?;
                Locations {
                    bin_dir: dir.clone(),
                    ..self.clone()
                }
                .rust_child(
                    "kcl-before",
                    "bench-child-kcl",
                    &format!("kcl-protocol before ({revision})"),
                )
            }
            "kcl-reports" => {
                let socket = self
                    .report_socket
                    .as_ref()
                    .ok_or("kcl-reports needs --reports (a socket the bench drains)")?;
                let mut child = self.rust_child(
                    "kcl-reports",
                    "bench-child-kcl",
                    "kcl-protocol (ours), reporting to a supervisor",
                )?;
                child.env.push((
                    crate::reports::REPORT_SOCKET_VARIABLE.into(),
                    socket.clone().into_os_string(),
                ));
                Ok(child)
            }
            "naive" => self.rust_child(
                "naive",
                "bench-child-naive",
                "naive Rust (serde_json + base64, no SDK)",
            ),
            "python" => self.python_child(),
            "node" => self.node_child(),
            other => Err(format!(
                "unknown child {other:?}; choose from {}",
                REPORT_ORDER.join(", ")
            )),
        }
    }

    fn rust_child(&self, id: &'static str, binary: &str, label: &str) -> Result<ChildSpec, String> {
        let program = self.bin_dir.join(binary);
        if !program.is_file() {
            return Err(format!(
                "{} not found; build it with `cargo build --release -p kcl-bench` (or pass --bin-dir)",
                program.display()
            ));
        }
        Ok(ChildSpec {
            id,
            label: label.to_string(),
            program,
            args: Vec::new(),
            env: Vec::new(),
        })
    }

    fn python_child(&self) -> Result<ChildSpec, String> {
        let python = self.venv().join("bin/python");
        let installed = std::fs::read_dir(self.venv().join("lib"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|dir| {
                dir.path()
                    .join("site-packages/amazon_kclpy/kcl.py")
                    .is_file()
            });
        if !python.is_file() || !installed {
            return Err(format!(
                "amazon_kclpy is not installed in {}; run `scripts/bench --install-anchors`",
                self.venv().display()
            ));
        }
        Ok(ChildSpec {
            id: "python",
            label: format!("Python SDK amazon_kclpy {KCLPY_VERSION}"),
            program: python,
            args: vec![self.anchors().join("kclpy_child.py").into()],
            env: Vec::new(),
        })
    }

    fn node_child(&self) -> Result<ChildSpec, String> {
        let package = self.anchors().join("node_modules/aws-kcl/package.json");
        if !package.is_file() {
            return Err(format!(
                "{} is missing; run `scripts/bench --install-anchors`",
                package.display()
            ));
        }
        let node = find_on_path("node").ok_or("`node` is not on PATH")?;
        Ok(ChildSpec {
            id: "node",
            label: format!("Node SDK aws-kcl {AWS_KCL_VERSION}"),
            program: node,
            args: vec![self.anchors().join("aws_kcl_child.js").into()],
            env: Vec::new(),
        })
    }
}

/// The first executable file called `name` in `PATH`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}
