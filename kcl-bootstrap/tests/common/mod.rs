//! Test harness: a fake Maven repository on 127.0.0.1, small real jars, a lock for them, fake
//! `java` executables, and a way to run the real `kcl-bootstrap` binary in a clean environment.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How the fake repository answers one path.
#[derive(Clone, Default)]
pub struct Route {
    /// Bytes served on success.
    pub body: Vec<u8>,
    /// The first `fail_first` requests get `fail_status`.
    pub fail_first: usize,
    /// Status for the failing requests.
    pub fail_status: u16,
    /// The first `truncate_first` (successful) requests announce the full length but send half and close.
    pub truncate_first: usize,
    /// Always answer with this status.
    pub status_always: Option<u16>,
    /// Required `Authorization` header value.
    pub auth: Option<String>,
    /// Delay before answering.
    pub delay: Duration,
}

/// A minimal HTTP/1.1 server acting as a Maven repository. Listens on 127.0.0.1 on a free port;
/// stopped (thread joined) when dropped.
pub struct FakeRepo {
    pub base_url: String,
    routes: Arc<Mutex<HashMap<String, Route>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl FakeRepo {
    pub fn start(prefix: &str) -> FakeRepo {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let routes: Arc<Mutex<HashMap<String, Route>>> = Arc::default();
        let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (r, h, s) = (routes.clone(), hits.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (r, h) = (r.clone(), h.clone());
                        std::thread::spawn(move || serve(stream, &r, &h));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FakeRepo {
            base_url: format!("http://{addr}{prefix}"),
            routes,
            hits,
            stop,
            handle: Some(handle),
        }
    }

    /// Serves `route` at `path` (which starts with `/`).
    pub fn route(&self, path: &str, route: Route) {
        self.routes.lock().unwrap().insert(path.to_string(), route);
    }

    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    /// Requests for files (proxy tunnels not counted).
    pub fn total_hits(&self) -> usize {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| !k.starts_with("CONNECT "))
            .map(|(_, v)| v)
            .sum()
    }

    /// `host:port` of the server.
    pub fn authority(&self) -> String {
        self.base_url
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap()
            .to_string()
    }
}

impl Drop for FakeRepo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn serve(
    stream: TcpStream,
    routes: &Mutex<HashMap<String, Route>>,
    hits: &Mutex<HashMap<String, usize>>,
) {
    stream.set_nonblocking(false).ok();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut auth = None;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" || line == "\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("authorization")
            {
                auth = Some(v.trim().to_string());
            }
        }
        let mut parts = request_line.split(' ');
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("").to_string();
        if method == "CONNECT" {
            // Act as an HTTP proxy: record the tunnel, then serve the request sent through it.
            *hits
                .lock()
                .unwrap()
                .entry(format!("CONNECT {target}"))
                .or_insert(0) += 1;
            let _ = out.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
            continue;
        }
        return answer(&mut out, &target, auth, routes, hits);
    }
}

fn answer(
    out: &mut TcpStream,
    path: &str,
    auth: Option<String>,
    routes: &Mutex<HashMap<String, Route>>,
    hits: &Mutex<HashMap<String, usize>>,
) {
    let n = {
        let mut h = hits.lock().unwrap();
        let e = h.entry(path.to_string()).or_insert(0);
        *e += 1;
        *e
    };
    let route = routes.lock().unwrap().get(path).cloned();
    let Some(route) = route else {
        return respond(out, 404, b"not found", None);
    };
    std::thread::sleep(route.delay);
    if let Some(expected) = &route.auth
        && auth.as_deref() != Some(expected.as_str())
    {
        return respond(out, 401, b"auth", None);
    }
    if let Some(status) = route.status_always {
        return respond(out, status, b"nope", None);
    }
    if n <= route.fail_first {
        return respond(out, route.fail_status, b"fail", None);
    }
    if n <= route.fail_first + route.truncate_first {
        let half = route.body.len() / 2;
        return respond(out, 200, &route.body[..half], Some(route.body.len()));
    }
    respond(out, 200, &route.body, None)
}

fn respond(out: &mut TcpStream, status: u16, body: &[u8], announced: Option<usize>) {
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        announced.unwrap_or(body.len())
    );
    let _ = out.write_all(head.as_bytes());
    let _ = out.write_all(body);
    let _ = out.flush();
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
        let mut c = Command::new(env!("CARGO_BIN_EXE_kcl-bootstrap"));
        c.current_dir(&self.cwd)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("KCL_BOOTSTRAP_CACHE_DIR", &self.cache)
            .arg("-p")
            .arg("app.properties")
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
