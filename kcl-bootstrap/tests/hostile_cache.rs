//! Caches, jar folders, locks and stderr that are not what they should be: a damaged jar with
//! `--offline`, an unusable cache root, user files in a jar folder, a lock whose version points
//! outside the cache, a relative cache directory, a closed or full stderr.

mod common;
use common::*;
use std::time::Duration;

const V: &str = "9.9.9-test";

fn setup(n: usize) -> (Jars, World, FakeRepo) {
    let jars = Jars::new(n);
    let world = World::new(&jars.lock(V, 8));
    let repo = FakeRepo::start("/maven2");
    (jars, world, repo)
}

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn offline_damaged_jar_is_reported_and_kept() {
    let (jars, w) = warm_world(2, V);
    let victim = w.cache.join(V).join(jars.file_name(1));
    let len = jars.jars[1].1.len();
    std::fs::write(&victim, vec![b'x'; len]).unwrap();
    let r = run_bounded(w.cmd().arg("--offline"), LIMIT);
    r.expect_code(5);
    assert!(
        r.err.contains("is damaged") && r.err.contains("--offline forbids downloading it again"),
        "{}",
        r.err
    );
    assert!(!r.err.contains("); downloading it again"), "{}", r.err);
    assert_eq!(
        std::fs::read(&victim).unwrap(),
        vec![b'x'; len],
        "kept as it was"
    );
}

#[test]
fn unusable_cache_shows_the_os_error() {
    let (jars, w, repo) = setup(1);
    jars.serve_all(&repo, "/maven2");
    // The cache root is a plain file: nothing can be created below it.
    let not_a_dir = w.tmp.path().join("cache-file");
    std::fs::write(&not_a_dir, b"x").unwrap();
    let r = run_bounded(
        w.cmd()
            .env("KCL_BOOTSTRAP_CACHE_DIR", &not_a_dir)
            .arg("--maven-repo")
            .arg(&repo.base_url),
        LIMIT,
    );
    r.expect_code(5);
    assert!(
        r.err.contains("cannot create the jar cache directory") && r.err.contains("os error"),
        "{}",
        r.err
    );
}

#[test]
fn jar_folder_keeps_files_that_are_not_ours() {
    let (jars, w, repo) = setup(2);
    jars.serve_all(&repo, "/maven2");
    let folder = w.tmp.path().join("jars");
    std::fs::create_dir_all(&folder).unwrap();
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    let users = [".mydata.part", ".notes.txt.part", ".art0-1.0.jar.part"];
    for name in users {
        std::fs::write(folder.join(name), b"precious").unwrap();
    }
    let ours_dead = format!(".kcl-bootstrap.{dead}.0.art0-1.0.jar.part");
    std::fs::write(folder.join(&ours_dead), b"left over").unwrap();
    let r = run_bounded(
        w.cmd()
            .arg("--jar-folder")
            .arg(&folder)
            .arg("--maven-repo")
            .arg(&repo.base_url),
        LIMIT,
    );
    r.expect_code(0);
    for name in users {
        assert_eq!(
            std::fs::read(folder.join(name)).unwrap(),
            b"precious",
            "{name}"
        );
    }
    assert!(
        !folder.join(&ours_dead).exists(),
        "our own debris is cleaned up"
    );
}

#[test]
fn closed_stderr_does_not_stop_a_download() {
    let (jars, w, repo) = setup(3);
    jars.serve_all(&repo, "/maven2");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let r = run_bounded_stdio(
        w.cmd()
            .arg("--maven-repo")
            .arg(&repo.base_url)
            .stderr(writer),
        LIMIT,
    );
    assert!(!r.timed_out);
    assert_eq!(r.code, Some(0), "exit status with a closed stderr");
    assert!(r.out.contains("MultiLangDaemon"), "{}", r.out);
}

#[test]
fn full_stderr_does_not_stop_a_download() {
    let (jars, w, repo) = setup(4);
    jars.serve_all(&repo, "/maven2");
    let (reader, mut writer) = std::io::pipe().unwrap();
    fill_pipe(&mut writer);
    let r = run_bounded_stdio(
        w.cmd()
            .arg("--maven-repo")
            .arg(&repo.base_url)
            .stderr(writer),
        Duration::from_secs(30),
    );
    drop(reader);
    assert!(!r.timed_out, "blocked on a full stderr for {:?}", r.elapsed);
    assert_eq!(r.code, Some(0));
    assert!(r.out.contains("MultiLangDaemon"), "{}", r.out);
    assert_eq!(
        files_in(&w.cache.join(V)).len(),
        4 + 2,
        "jars, .lock and .verified"
    );
}

/// Writes into a pipe until it is full, leaving it blocking.
fn fill_pipe(writer: &mut std::io::PipeWriter) {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    let fd = writer.as_raw_fd();
    // SAFETY: fcntl on a pipe this test owns; the flags are restored before the child uses it.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        while writer.write(&[b'#'; 4096]).is_ok() {}
        while writer.write(b"#").is_ok() {}
        libc::fcntl(fd, libc::F_SETFL, flags);
    }
}

#[test]
fn lock_version_cannot_escape_the_cache() {
    let jars = Jars::new(1);
    let w = World::new("");
    let repo = FakeRepo::start("/maven2");
    jars.serve_all(&repo, "/maven2");
    let outside = w.tmp.path().join("outside");
    for version in ["../escaped".to_string(), outside.display().to_string()] {
        let text = jars.lock(V, 8).replace(V, &version);
        std::fs::write(&w.lock, text).unwrap();
        let r = run_bounded(
            w.cmd()
                .arg("--no-validate")
                .arg("--maven-repo")
                .arg(&repo.base_url),
            LIMIT,
        );
        assert!(
            !w.tmp.path().join("escaped").exists(),
            "wrote outside the cache"
        );
        assert!(!outside.exists(), "wrote outside the cache");
        r.expect_code(2);
        assert!(r.err.contains("kcl-version"), "{}", r.err);
    }
    assert_eq!(repo.total_hits(), 0);
}

#[test]
fn relative_cache_dir_gives_absolute_classpath_entries() {
    let (jars, w, repo) = setup(2);
    jars.serve_all(&repo, "/maven2");
    let r = run_bounded(
        w.cmd()
            .env("KCL_BOOTSTRAP_CACHE_DIR", "rel-cache")
            .arg("--print-classpath")
            .arg("--maven-repo")
            .arg(&repo.base_url),
        LIMIT,
    );
    r.expect_code(0);
    let entries: Vec<&str> = r.out.trim_end().split(':').collect();
    let expected: Vec<String> = (0..2)
        .map(|i| {
            w.cwd
                .join("rel-cache")
                .join(V)
                .join(jars.file_name(i))
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(entries, expected);
}
