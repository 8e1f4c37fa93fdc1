//! The AppCDS archive with the real `java` (skipped, saying so, when no JDK with `javac` is
//! found): a stand-in daemon (a main class of the daemon's name, compiled here at test time)
//! is launched with `-e`; the archive it writes at exit is used on the next start, a lock change
//! or another JDK gets an archive of its own, a corrupted or foreign archive is refused with
//! one line and the launch goes on without it, and the thin dump of a run that ended before it
//! processed a shard is discarded rather than promoted.

mod common;
use common::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);

/// Set for a launch: the stand-in exits before it starts a shard's processor.
const EXIT_EARLY: &str = "STAND_IN_EXIT_BEFORE_SHARD";

/// The stand-in daemon: says it is up, starts a "shard's processor" unless [`EXIT_EARLY`] is
/// set, then exits cleanly (the JVM writes `-XX:ArchiveClassesAtExit` archives at exit). Like
/// the real daemon's factory, its main class names `MultiLangShardRecordProcessor` whether or
/// not a shard runs; only a started processor loads `MultiLangProtocol` (kcl-bootstrap's marker).
const DAEMON: &str = "package software.amazon.kinesis.multilang;\n\
public class MultiLangDaemon { public static void main(String[] args) {\n\
  System.out.println(\"daemon up \" + java.util.concurrent.ThreadLocalRandom.current().nextInt(1));\n\
  if (System.getenv(\"STAND_IN_EXIT_BEFORE_SHARD\") == null) {\n\
    new MultiLangShardRecordProcessor().initialize(); }\n\
  System.exit(0); } }\n";

/// The fixtures of the multilang classes a shard's processor loads (same binary names).
const PROCESSOR: &str = "package software.amazon.kinesis.multilang;\n\
public class MultiLangShardRecordProcessor { public void initialize() {\n\
  System.out.println(\"shard \" + new MultiLangProtocol().name()); } }\n";
const PROTOCOL: &str = "package software.amazon.kinesis.multilang;\n\
public class MultiLangProtocol { public String name() { return \"started\"; } }\n";

/// A JDK: `bin/java` with a `bin/javac` next to it.
fn jdk_of(java: &Path) -> Option<PathBuf> {
    let java = std::fs::canonicalize(java).ok()?;
    let javac = java.with_file_name("javac");
    javac.exists().then_some(java)
}

/// The JDK to test with: `JAVA_HOME`, else `java` on PATH.
fn first_jdk() -> Option<PathBuf> {
    let from_home = std::env::var_os("JAVA_HOME").map(|h| PathBuf::from(h).join("bin/java"));
    let from_path = which_java();
    from_home
        .into_iter()
        .chain(from_path)
        .find_map(|j| jdk_of(&j))
}

fn which_java() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("java"))
            .find(|j| j.exists())
    })
}

/// Another JDK of version 13+ (dynamic archives) under /usr/lib/jvm, if there is one.
fn second_jdk(first: &Path) -> Option<PathBuf> {
    let mut homes: Vec<PathBuf> = std::fs::read_dir("/usr/lib/jvm")
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path().join("bin/java"))
        .filter_map(|j| jdk_of(&j))
        .filter(|j| j != first)
        .collect();
    homes.sort();
    homes.dedup();
    homes.into_iter().next()
}

/// The stand-in daemon's jar, compiled with the `javac` next to `java`.
fn daemon_jar(java: &Path, dir: &Path) -> Vec<u8> {
    let package = "software/amazon/kinesis/multilang";
    let src = dir.join("src").join(package);
    std::fs::create_dir_all(&src).unwrap();
    let sources = [
        ("MultiLangDaemon", DAEMON),
        ("MultiLangShardRecordProcessor", PROCESSOR),
        ("MultiLangProtocol", PROTOCOL),
    ];
    for (name, text) in sources {
        std::fs::write(src.join(format!("{name}.java")), text).unwrap();
    }
    let classes = dir.join("classes");
    let status = Command::new(java.with_file_name("javac"))
        .args(["--release", "11", "-d"])
        .arg(&classes)
        .args(sources.map(|(name, _)| src.join(format!("{name}.java"))))
        .status()
        .unwrap();
    assert!(status.success(), "javac failed");
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut buf);
    for (name, _) in sources {
        let class = format!("{package}/{name}.class");
        let bytes = std::fs::read(classes.join(&class)).unwrap();
        zip.start_file(class, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(&bytes).unwrap();
    }
    zip.finish().unwrap();
    buf.into_inner()
}

/// A lock of the daemon's jar (and `more` extra jars), its jars already in `w`'s cache.
fn lock_with(w: &World, version: &str, daemon: &[u8], more: usize) -> String {
    let mut jars = Jars::new(more);
    jars.jars.insert(
        0,
        (
            "com/example/daemon/1.0/daemon-1.0.jar".to_string(),
            daemon.to_vec(),
        ),
    );
    let dir = w.cache.join(version);
    std::fs::create_dir_all(&dir).unwrap();
    for (i, (_, bytes)) in jars.jars.iter().enumerate() {
        std::fs::write(dir.join(jars.file_name(i)), bytes).unwrap();
    }
    jars.lock(version, 11)
}

/// Runs the stand-in daemon of `lock` with `-e`; returns stderr and whether the daemon's class
/// came from the archive.
fn launch(w: &World, java: &Path, lock: &str) -> String {
    launch_run(w, java, lock, false)
}

/// [`launch`], the stand-in exiting before a shard's processor when `early`; also says whether
/// the processor's class came from the archive.
fn launch_run(w: &World, java: &Path, lock: &str, early: bool) -> String {
    std::fs::write(&w.lock, lock).unwrap();
    let mut cmd = w.cmd_java(java);
    cmd.args(["--offline", "-e", "--jvm-arg=-Xlog:class+load=info"]);
    if early {
        cmd.env(EXIT_EARLY, "1");
    }
    let r = run_bounded(&mut cmd, LIMIT);
    r.expect_code(0);
    assert!(r.out.contains("daemon up"), "{}", r.out);
    assert_eq!(r.out.contains("shard started"), !early, "{}", r.out);
    let from_archive = |class: &str| {
        r.out.lines().any(|l| {
            l.contains(&format!(
                "multilang.{class} source: shared objects file (top)"
            ))
        })
    };
    format!(
        "{}\nshared={}\nprocessor shared={}",
        r.err,
        from_archive("MultiLangDaemon"),
        from_archive("MultiLangShardRecordProcessor")
    )
}

/// The key directories under the cache's `cds/`, and the files each holds.
fn archives(w: &World) -> Vec<(String, Vec<String>)> {
    files_in(&w.cache.join("cds"))
        .into_iter()
        .map(|key| {
            let files = files_in(&w.cache.join("cds").join(&key));
            (key, files)
        })
        .collect()
}

#[test]
fn the_archive_is_made_used_rebuilt_on_a_change_and_refused_when_it_does_not_match() {
    let Some(java) = first_jdk() else {
        eprintln!("no JDK with javac found (JAVA_HOME, PATH): skipped");
        return;
    };
    let w = World::new("");
    let daemon = daemon_jar(&java, &w.tmp.path().join("build"));
    let lock = lock_with(&w, "9.9.1-test", &daemon, 0);

    // First start: no archive yet; the daemon writes one at exit.
    let first = launch(&w, &java, &lock);
    assert!(first.contains("shared=false"), "{first}");
    let made = archives(&w);
    assert_eq!(made.len(), 1, "{made:?}");
    assert!(made[0].1.iter().any(|f| f.starts_with("dump-")), "{made:?}");

    // Second start: verified, promoted and used.
    let second = launch(&w, &java, &lock);
    assert!(second.contains("shared=true"), "{second}");
    assert!(!second.contains("AppCDS"), "nothing to say: {second}");
    let key = made[0].0.clone();
    assert_eq!(
        archives(&w),
        [(
            key.clone(),
            vec!["daemon.jsa".into(), "daemon.jsa.verified".into()]
        )]
    );
    assert!(launch(&w, &java, &lock).contains("shared=true"));

    // Another lock (one more jar): an archive of its own; the first stays.
    let other_lock = lock_with(&w, "9.9.2-test", &daemon, 1);
    assert!(launch(&w, &java, &other_lock).contains("shared=false"));
    assert!(launch(&w, &java, &other_lock).contains("shared=true"));
    assert_eq!(archives(&w).len(), 2, "{:?}", archives(&w));

    // A corrupted archive: refused in one line, removed, the launch goes on and writes anew.
    let archive = w.cache.join("cds").join(&key).join("daemon.jsa");
    let mut bytes = std::fs::read(&archive).unwrap();
    let middle = bytes.len() / 2;
    bytes.truncate(middle);
    std::fs::remove_file(&archive).unwrap();
    std::fs::write(&archive, &bytes).unwrap();
    let refused = launch(&w, &java, &lock);
    assert!(refused.contains("shared=false"), "{refused}");
    let note: Vec<&str> = refused.lines().filter(|l| l.contains("AppCDS")).collect();
    assert_eq!(note.len(), 1, "{refused}");
    assert!(
        note[0].contains("does not match") && note[0].contains("starting without it"),
        "{refused}"
    );
    assert!(launch(&w, &java, &lock).contains("shared=true"), "rebuilt");

    // Another JDK: its own key; a foreign archive (this one's, put in the first JDK's place)
    // is refused by the first JDK's check.
    let Some(other_java) = second_jdk(&java) else {
        eprintln!("no second JDK under /usr/lib/jvm: the Java-change part is skipped");
        return;
    };
    assert!(launch(&w, &other_java, &lock).contains("shared=false"));
    assert!(launch(&w, &other_java, &lock).contains("shared=true"));
    let keys = archives(&w);
    assert_eq!(keys.len(), 3, "{keys:?}");
    let foreign = keys
        .iter()
        .map(|(k, _)| w.cache.join("cds").join(k).join("daemon.jsa"))
        .find(|p| {
            p != &archive
                && std::fs::read(p).is_ok_and(|b| b != std::fs::read(&archive).unwrap_or_default())
        })
        .unwrap();
    let foreign_bytes = std::fs::read(&foreign).unwrap();
    std::fs::remove_file(&archive).unwrap();
    std::fs::write(&archive, &foreign_bytes).unwrap();
    let refused = launch(&w, &java, &lock);
    assert!(refused.contains("shared=false"), "{refused}");
    assert!(refused.contains("does not match"), "{refused}");
}

#[test]
fn the_dump_of_a_run_that_ended_before_a_shard_is_discarded_and_a_full_one_promoted() {
    let Some(java) = first_jdk() else {
        eprintln!("no JDK with javac found (JAVA_HOME, PATH): skipped");
        return;
    };
    let w = World::new("");
    let daemon = daemon_jar(&java, &w.tmp.path().join("build"));
    let lock = lock_with(&w, "9.9.3-test", &daemon, 0);
    let dumps = |w: &World| -> Vec<String> {
        let made = archives(w);
        assert_eq!(made.len(), 1, "{made:?}");
        made[0].1.clone()
    };

    // A run that ends before a shard: it dumps at exit, as any run without an archive.
    let first = launch_run(&w, &java, &lock, true);
    assert!(first.contains("shared=false"), "{first}");
    let thin = dumps(&w);
    assert!(thin.len() == 1 && thin[0].starts_with("dump-"), "{thin:?}");

    // The next start: that thin dump is removed, not promoted, in one line; this run dumps anew.
    for early in [true, false] {
        let before = dumps(&w);
        let next = launch_run(&w, &java, &lock, early);
        assert!(next.contains("shared=false"), "{next}");
        let notes: Vec<&str> = next.lines().filter(|l| l.contains("AppCDS")).collect();
        assert_eq!(notes.len(), 1, "{next}");
        assert!(
            notes[0].contains("note: discarded the AppCDS dump of an earlier run that ended before it processed a shard")
                && notes[0].contains(&before[0])
                && notes[0].ends_with("this run writes a new one at exit"),
            "{next}"
        );
        let after = dumps(&w);
        assert!(!after.contains(&"daemon.jsa".to_string()), "{after:?}");
        assert!(
            !after.contains(&before[0]),
            "the thin dump is removed: {after:?}"
        );
        // A dump of this launch's own: it was started with -XX:ArchiveClassesAtExit.
        assert!(
            after.len() == 1 && after[0].starts_with("dump-"),
            "{after:?}"
        );
    }

    // The full run's dump is promoted and used, the processor's classes with it.
    let full = launch_run(&w, &java, &lock, false);
    assert!(
        full.contains("shared=true") && full.contains("processor shared=true"),
        "{full}"
    );
    assert!(!full.contains("AppCDS"), "nothing to say: {full}");
    assert_eq!(dumps(&w), ["daemon.jsa", "daemon.jsa.verified"]);
    // A promoted archive stands: a run that ends early no longer touches it.
    assert!(launch_run(&w, &java, &lock, true).contains("shared=true"));
    assert!(launch(&w, &java, &lock).contains("processor shared=true"));
}
