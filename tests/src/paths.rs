//! Where things are: the repository, the cargo target directory, the binaries the scenarios run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The repository root (the workspace directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent directory")
        .to_path_buf()
}

/// The directory holding this build's binaries (`<target>/debug` or `<target>/release`), found from
/// the running test executable (`<target>/<profile>/deps/e2e-...`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable has a path");
    let deps = exe.parent().expect("the test executable is in a directory");
    if deps.file_name().is_some_and(|n| n == "deps") {
        deps.parent().expect("deps/ has a parent").to_path_buf()
    } else {
        deps.to_path_buf()
    }
}

/// Per-run scratch space under `<repo>/.local/e2e/` (git-ignored), unique per test process.
pub fn run_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let dir = repo_root()
            .join(".local")
            .join("e2e")
            .join(format!("run-{stamp}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("cannot create the e2e run directory under .local/");
        dir
    })
}

/// The workspace binaries the scenarios launch besides `e2e-consumer`.
pub const WORKSPACE_BINARIES: &[&str] = &[
    "kcl-bootstrap",
    "basic-producer",
    "basic-consumer",
    "clickstream-producer",
    "clickstream-consumer",
];

/// Path of a workspace binary in this build's profile directory. The first call makes sure all of
/// [`WORKSPACE_BINARIES`] are built: it runs `cargo build --bins` for their packages into the same
/// target directory (a no-op when they are fresh), because `cargo test -p kcl-e2e` only builds
/// this crate's own binaries.
pub fn workspace_binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let built = BUILT.get_or_init(build_workspace_binaries);
    if let Err(error) = built {
        panic!("{error}");
    }
    let path = profile_dir().join(name);
    assert!(
        path.is_file(),
        "{} is missing after the build; build it with `cargo build --bins -p kcl-bootstrap -p kcl-sample-basic -p kcl-sample-clickstream`",
        path.display()
    );
    path
}

fn build_workspace_binaries() -> Result<(), String> {
    let profile = profile_dir();
    let target_dir = profile
        .parent()
        .ok_or("the profile directory has no parent")?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    // Drop the variables cargo sets for the test process (CARGO_PKG_*, CARGO_MANIFEST_DIR, ...) so
    // the nested build sees the same environment as a shell build and reuses its artifacts.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("CARGO_") && key != "CARGO_HOME" && key != "CARGO_TARGET_DIR" {
            command.env_remove(&key);
        }
    }
    command
        .current_dir(repo_root())
        .args([
            "build",
            "--bins",
            "-p",
            "kcl-bootstrap",
            "-p",
            "kcl-sample-basic",
            "-p",
            "kcl-sample-clickstream",
        ])
        .arg("--target-dir")
        .arg(target_dir);
    if profile.file_name().is_some_and(|n| n == "release") {
        command.arg("--release");
    }
    let status = command.status().map_err(|e| {
        format!("cannot run cargo to build the sample binaries and kcl-bootstrap: {e}")
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "building kcl-bootstrap and the samples failed ({status}); run `cargo build --bins -p kcl-bootstrap -p kcl-sample-basic -p kcl-sample-clickstream` to see why"
        ))
    }
}
