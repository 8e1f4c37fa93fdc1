//! Test harness: a fake Maven repository on 127.0.0.1, small real jars, a lock for them, fake
//! `java` executables, and a way to run the real `kcl-bootstrap` binary in a clean environment.
#![allow(dead_code)]

mod bounded;
mod repo;

#[allow(unused_imports)]
pub use bounded::*;
#[allow(unused_imports)]
pub use repo::*;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test: `KCL_BOOTSTRAP_TEST_BIN` if set (to run the suite against another
/// build, e.g. the one before a fix), else the one cargo built for this test run.
pub fn bin() -> PathBuf {
    std::env::var_os("KCL_BOOTSTRAP_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_kcl-bootstrap")))
}

/// Whether these tests run from the published package (`cargo package` writes `Cargo.toml.orig`)
/// rather than from the repository: the few tests that compare against the repository's docs
/// (`docs/bootstrap.md`, `README.md`, kcl-protocol's example) then say so and skip that part.
pub fn packaged() -> bool {
    let packaged = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("Cargo.toml.orig")
        .exists();
    if packaged {
        eprintln!(
            "running from the published package: the repository's docs are not here; skipped"
        );
    }
    packaged
}

/// A file of the repository around this crate, e.g. `docs/bootstrap.md`.
pub fn repository_file(relative: &str) -> std::io::Result<String> {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(relative),
    )
}

/// A small real jar (zip) whose content depends on `name`.
pub fn make_jar(name: &str) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        w.start_file(
            "META-INF/MANIFEST.MF",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        w.write_all(format!("Manifest-Version: 1.0\nName: {name}\n").as_bytes())
            .unwrap();
        w.start_file(
            format!("{name}/Data.txt"),
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        w.write_all(name.repeat(200).as_bytes()).unwrap();
        w.finish().unwrap();
    }
    buf.into_inner()
}

/// A test jar set: (repository path, bytes).
pub struct Jars {
    pub jars: Vec<(String, Vec<u8>)>,
}

impl Jars {
    pub fn new(n: usize) -> Jars {
        Jars {
            jars: (0..n)
                .map(|i| {
                    let name = format!("art{i}");
                    (
                        format!("com/example/{name}/1.0/{name}-1.0.jar"),
                        make_jar(&name),
                    )
                })
                .collect(),
        }
    }

    /// Lock text for these jars, version `version`, needing Java `min_java`.
    pub fn lock(&self, version: &str, min_java: u32) -> String {
        let mut s = format!("# test lock\nkcl-version\t{version}\nmin-java\t{min_java}\n");
        for (path, bytes) in &self.jars {
            let name = path.split('/').nth(2).unwrap();
            s.push_str(&format!(
                "jar\tcom.example:{name}:1.0\t{path}\t{}\t{}\t8\n",
                bytes.len(),
                kcl_bootstrap::digest::hex(&kcl_bootstrap::digest::sha256(bytes))
            ));
        }
        s
    }

    pub fn serve_all(&self, repo: &FakeRepo, prefix: &str) {
        for (path, bytes) in &self.jars {
            repo.route(
                &format!("{prefix}/{path}"),
                Route {
                    body: bytes.clone(),
                    ..Route::default()
                },
            );
        }
    }

    pub fn file_name(&self, i: usize) -> String {
        self.jars[i].0.rsplit('/').next().unwrap().to_string()
    }
}

/// A fake `java` that prints a version banner for `-version` and otherwise runs `body`.
pub fn fake_java(dir: &Path, banner: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("java");
    let script = format!(
        "#!/bin/sh\nif [ \"$1\" = -version ]; then\n  echo '{banner}' >&2\n  exit 0\nfi\n{body}\n"
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

pub const JAVA17: &str = "openjdk version \"17.0.15\" 2025-04-15";
pub const JAVA21: &str = "openjdk version \"21.0.2\" 2024-01-16";
pub const JAVA8: &str = "java version \"1.8.0_392\"";

pub const GOOD_PROPERTIES: &str = "executableName = sh\napplicationName = app\nstreamName = s\n\
AwsCredentialsProvider = DefaultCredentialsProvider\nretrievalMode = POLLING\nshutdownGraceMillis = 30000\n";

/// A scratch world: working directory, HOME, cache, properties file, lock file, fake java.
pub struct World {
    pub tmp: tempfile::TempDir,
    pub cwd: PathBuf,
    pub home: PathBuf,
    pub cache: PathBuf,
    pub properties: PathBuf,
    pub lock: PathBuf,
    pub java: PathBuf,
}

impl World {
    pub fn new(lock_text: &str) -> World {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let cwd = root.join("work");
        let home = root.join("home");
        let cache = root.join("cache");
        for d in [&cwd, &home] {
            std::fs::create_dir_all(d).unwrap();
        }
        let properties = cwd.join("app.properties");
        std::fs::write(&properties, GOOD_PROPERTIES).unwrap();
        let lock = root.join("test.lock");
        std::fs::write(&lock, lock_text).unwrap();
        let java = fake_java(&root.join("jdk").join("bin"), JAVA17, "exit 0");
        World {
            tmp,
            cwd,
            home,
            cache,
            properties,
            lock,
            java,
        }
    }

    /// `kcl-bootstrap -p app.properties --lock test.lock --java <fake>` in a clean environment
    /// (no proxies, no KCL_* variables, HOME and the cache inside the world).
    pub fn cmd(&self) -> Command {
        self.cmd_java(&self.java)
    }

    /// Like [`World::cmd`] with another `--java`.
    pub fn cmd_java(&self, java: &Path) -> Command {
        self.cmd_with(java, Path::new("app.properties"))
    }

    /// Like [`World::cmd`] with another `-p`.
    pub fn cmd_properties(&self, properties: &Path) -> Command {
        self.cmd_with(&self.java, properties)
    }

    fn cmd_with(&self, java: &Path, properties: &Path) -> Command {
        let mut c = Command::new(bin());
        c.current_dir(&self.cwd)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("KCL_BOOTSTRAP_CACHE_DIR", &self.cache)
            .arg("-p")
            .arg(properties)
            .arg("--lock")
            .arg(&self.lock)
            .arg("--java")
            .arg(java);
        c
    }

    pub fn write_settings(&self, body: &str) {
        let dir = self.home.join(".m2");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("settings.xml"), body).unwrap();
    }
}

pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().unwrap();
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// Names of the files in a directory (empty if it does not exist).
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A world whose cache already holds the jars of a `n`-jar lock of `version`.
pub fn warm_world(n: usize, version: &str) -> (Jars, World) {
    let jars = Jars::new(n);
    let w = World::new(&jars.lock(version, 8));
    let dir = w.cache.join(version);
    std::fs::create_dir_all(&dir).unwrap();
    for (i, (_, bytes)) in jars.jars.iter().enumerate() {
        std::fs::write(dir.join(jars.file_name(i)), bytes).unwrap();
    }
    (jars, w)
}
