//! One scenario's context: its directory, fresh stream and application names, clients, workers,
//! and its wall-time report.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::aws::Clients;
use crate::paths;
use crate::properties::Properties;
use crate::sink::{SINK_DIR_ENV, Sink};
use crate::stack::{self, LocalStack};
use crate::worker::Worker;

/// A running scenario. Create one per test with [`Scenario::new`]; call [`Scenario::pass`] at the end.
#[derive(Debug)]
pub struct Scenario {
    name: String,
    dir: PathBuf,
    stack: &'static LocalStack,
    /// Clients on the shared stack.
    pub clients: Clients,
    /// The scenario's own stream.
    pub stream: String,
    /// The scenario's own application (and lease table) name.
    pub application: String,
    started: Instant,
    marks: Vec<(String, Duration)>,
}

impl Scenario {
    /// Starts the shared stack if needed and makes fresh names and a directory for `name`.
    pub fn new(name: &str) -> Scenario {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let stack = stack::shared();
        let started = Instant::now();
        let unique = format!(
            "{name}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let dir = paths::run_dir().join(name);
        std::fs::create_dir_all(&dir).expect("cannot create the scenario directory");
        eprintln!("[{name}] directory {}", dir.display());
        Scenario {
            name: name.to_owned(),
            dir,
            stack,
            clients: Clients::new(stack),
            stream: format!("e2e-{unique}"),
            application: format!("e2e-app-{unique}"),
            started,
            marks: Vec::new(),
        }
    }

    /// The scenario's directory (properties, logs, sinks).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The shared stack.
    pub fn stack(&self) -> &'static LocalStack {
        self.stack
    }

    /// The e2e template properties for `executable`, this scenario's stream and application.
    pub fn properties(&self, executable: &Path) -> Properties {
        Properties::fast(self.stack, executable, &self.stream, &self.application)
    }

    /// A sink directory for `tag` (one per worker run, or shared by several).
    pub fn sink(&self, tag: &str) -> Sink {
        Sink::new(self.dir.join(format!("sink-{tag}")))
    }

    /// Writes `properties` to `<dir>/<worker>.properties` and starts the worker with the stack's
    /// environment, `E2E_SINK_DIR` = `sink` and `extra_env`.
    pub fn start_worker(
        &self,
        worker: &str,
        properties: &Properties,
        sink: Option<&Sink>,
        extra_env: &[(&str, &str)],
    ) -> Worker {
        let path = self.dir.join(format!("{worker}.properties"));
        properties
            .write(&path)
            .expect("cannot write the properties file");
        self.start_worker_with_file(worker, &path, sink, extra_env)
    }

    /// Starts a worker on an existing properties file (not rendered from the template).
    pub fn start_worker_with_file(
        &self,
        worker: &str,
        properties: &Path,
        sink: Option<&Sink>,
        extra_env: &[(&str, &str)],
    ) -> Worker {
        let mut env = self.stack.env();
        if let Some(sink) = sink {
            env.push((SINK_DIR_ENV.to_owned(), sink.dir().display().to_string()));
        }
        env.extend(
            extra_env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let log = self.dir.join(format!("{worker}.log"));
        let started = Worker::start(worker, properties, &log, &env)
            .unwrap_or_else(|e| panic!("cannot start worker {worker}: {e}"));
        eprintln!(
            "[{}] worker {worker} started, pid {}, log {}",
            self.name,
            started.pid(),
            log.display()
        );
        started
    }

    /// Records a named point in time (reported with the wall time).
    pub fn mark(&mut self, what: &str) {
        let at = self.started.elapsed();
        eprintln!("[{}] {:>6.1}s {what}", self.name, at.as_secs_f64());
        self.marks.push((what.to_owned(), at));
    }

    /// Reports the scenario's wall time (stderr and `<run dir>/timings.txt`).
    pub fn pass(self) {
        let wall = self.started.elapsed();
        let mut line = format!("{} PASS {:.1}s", self.name, wall.as_secs_f64());
        for (what, at) in &self.marks {
            line.push_str(&format!(" | {what} @{:.1}s", at.as_secs_f64()));
        }
        eprintln!("[{}] {line}", self.name);
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(paths::run_dir().join("timings.txt"))
        {
            let _ = writeln!(file, "{line}");
        }
    }
}
