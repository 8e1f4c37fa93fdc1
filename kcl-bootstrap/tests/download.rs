//! Downloads against a fake Maven repository on 127.0.0.1, running the real binary.

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

fn cache_dir(w: &World) -> std::path::PathBuf {
    w.cache.join(V)
}

fn no_partial_files(w: &World) {
    let leftovers: Vec<String> = files_in(&cache_dir(w))
        .into_iter()
        .filter(|f| f.ends_with(".part") || f.ends_with(".tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temp files left behind: {leftovers:?}"
    );
}

#[test]
fn happy_path_downloads_verifies_and_prints_the_command() {
    let (jars, w, repo) = setup(5);
    jars.serve_all(&repo, "/maven2");
    let (code, out, err) = run(w.cmd().arg("--maven-repo").arg(&repo.base_url));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("downloading 5 jars"), "{err}");
    // Stderr is not a terminal here: no bar and no line per jar, one summary line at the end.
    let summaries: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("downloaded and verified 5 jars"))
        .collect();
    assert_eq!(summaries.len(), 1, "one summary line: {err}");
    for i in 0..5 {
        assert!(
            !err.contains(&jars.file_name(i)),
            "no line per jar when stderr is not a terminal: {err}"
        );
    }
    assert_eq!(
        out.lines().count(),
        1,
        "stdout holds only the command: {out}"
    );
    for i in 0..5 {
        let path = cache_dir(&w).join(jars.file_name(i));
        assert_eq!(std::fs::read(&path).unwrap(), jars.jars[i].1);
        assert!(out.contains(&path.display().to_string()), "{out}");
    }
    assert!(files_in(&cache_dir(&w)).contains(&".verified".to_string()));
    assert_eq!(repo.total_hits(), 5);

    // Warm start: nothing downloaded, nothing printed on stderr except validation output.
    let (code, out2, err2) = run(w.cmd().arg("--maven-repo").arg(&repo.base_url));
    assert_eq!(code, 0, "{err2}");
    assert_eq!(out2, out);
    assert_eq!(
        repo.total_hits(),
        5,
        "a warm start must not touch the network"
    );
    assert!(!err2.contains("downloading"), "{err2}");
}

#[test]
fn not_found_is_an_error_without_retries_and_caches_nothing() {
    let (jars, w, repo) = setup(3);
    jars.serve_all(&repo, "/maven2");
    let missing = format!("/maven2/{}", jars.jars[1].0);
    repo.route(
        &missing,
        Route {
            status_always: Some(404),
            ..Route::default()
        },
    );
    let (code, out, err) = run(w
        .cmd()
        .arg("--maven-repo")
        .arg(&repo.base_url)
        .arg("--parallel=1"));
    assert_eq!(code, 5, "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains("HTTP 404") && err.contains("com.example:art1:1.0"),
        "{err}"
    );
    assert_eq!(repo.hits(&missing), 1, "404 is not retried");
    assert!(!files_in(&cache_dir(&w)).contains(&jars.file_name(1)));
    assert!(!files_in(&cache_dir(&w)).contains(&".verified".to_string()));
    no_partial_files(&w);
}

#[test]
fn server_errors_are_retried_then_succeed() {
    let (jars, w, repo) = setup(2);
    jars.serve_all(&repo, "/maven2");
    let flaky = format!("/maven2/{}", jars.jars[0].0);
    repo.route(
        &flaky,
        Route {
            body: jars.jars[0].1.clone(),
            fail_first: 2,
            fail_status: 500,
            ..Route::default()
        },
    );
    let (code, _, err) = run(w.cmd().arg("--maven-repo").arg(&repo.base_url));
    assert_eq!(code, 0, "{err}");
    assert_eq!(repo.hits(&flaky), 3);
    assert!(err.contains("HTTP 500; retrying"), "{err}");
    assert_eq!(
        std::fs::read(cache_dir(&w).join(jars.file_name(0))).unwrap(),
        jars.jars[0].1
    );
}

#[test]
fn persistent_server_errors_give_up_after_the_retries() {
    let (jars, w, repo) = setup(1);
    let path = format!("/maven2/{}", jars.jars[0].0);
    repo.route(
        &path,
        Route {
            status_always: Some(503),
            ..Route::default()
        },
    );
    let (code, _, err) = run(w.cmd().arg("--maven-repo").arg(&repo.base_url));
    assert_eq!(code, 5, "{err}");
    assert_eq!(repo.hits(&path), 4);
    assert!(err.contains("gave up after 4 attempts"), "{err}");
    no_partial_files(&w);
}

#[test]
fn truncated_body_is_retried_and_never_cached() {
    let (jars, w, repo) = setup(2);
    jars.serve_all(&repo, "/maven2");
    // Truncated once, then fine.
    let once = format!("/maven2/{}", jars.jars[0].0);
    repo.route(
        &once,
        Route {
            body: jars.jars[0].1.clone(),
            truncate_first: 1,
            ..Route::default()
        },
    );
    // Always truncated.
    let always = format!("/maven2/{}", jars.jars[1].0);
    repo.route(
        &always,
        Route {
            body: jars.jars[1].1.clone(),
            truncate_first: usize::MAX / 2,
            ..Route::default()
        },
    );
    let (code, _, err) = run(w.cmd().arg("--maven-repo").arg(&repo.base_url));
    assert_eq!(code, 5, "{err}");
    assert_eq!(repo.hits(&always), 4, "{err}");
    assert_eq!(repo.hits(&once), 2, "{err}");
    let files = files_in(&cache_dir(&w));
    assert!(!files.contains(&jars.file_name(1)), "{files:?}");
    assert!(!files.contains(&".verified".to_string()));
    no_partial_files(&w);

    // Once the server behaves, the next run completes the set.
    repo.route(
        &always,
        Route {
            body: jars.jars[1].1.clone(),
            ..Route::default()
        },
    );
    let (code, _, err) = run(w.cmd().arg("--maven-repo").arg(&repo.base_url));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        repo.hits(&once),
        2,
        "the jar verified in the first run is kept"
    );
}

#[test]
fn wrong_checksum_is_an_error_and_nothing_is_cached() {
    let (jars, w, repo) = setup(2);
    jars.serve_all(&repo, "/maven2");
    let path = format!("/maven2/{}", jars.jars[0].0);
    // Same size, different bytes: a real zip with another name padded to length would be
    // overkill; flip one byte.
    let mut evil = jars.jars[0].1.clone();
    let mid = evil.len() / 2;
    evil[mid] ^= 0xff;
    repo.route(
        &path,
        Route {
            body: evil,
            ..Route::default()
        },
    );
    let (code, out, err) = run(w.cmd().arg("--maven-repo").arg(&repo.base_url));
    assert_eq!(code, 5, "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains("SHA-256 is") && err.contains("Nothing was cached"),
        "{err}"
    );
    assert_eq!(repo.hits(&path), 1, "a checksum mismatch is not retried");
    assert!(!files_in(&cache_dir(&w)).contains(&jars.file_name(0)));
    no_partial_files(&w);
}

#[test]
fn oversized_body_is_rejected() {
    let (jars, w, repo) = setup(1);
    let mut big = jars.jars[0].1.clone();
    big.extend_from_slice(b"extra bytes");
    repo.route(
        &format!("/maven2/{}", jars.jars[0].0),
        Route {
            body: big,
            ..Route::default()
        },
    );
    let (code, _, err) = run(w.cmd().arg("--maven-repo").arg(&repo.base_url));
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("more than"), "{err}");
    no_partial_files(&w);
}

#[test]
fn damaged_cache_entry_is_downloaded_again() {
    let (jars, w, repo) = setup(2);
    jars.serve_all(&repo, "/maven2");
    assert_eq!(run(w.cmd().arg("--maven-repo").arg(&repo.base_url)).0, 0);
    let victim = cache_dir(&w).join(jars.file_name(1));
    let len = std::fs::metadata(&victim).unwrap().len() as usize;
    std::fs::write(&victim, vec![b'x'; len]).unwrap();
    // Debris of a bootstrap killed mid-download is cleaned up by the next one.
    std::fs::write(
        cache_dir(&w).join(".art0-1.0.jar.4242.ThreadId(3).part"),
        b"half",
    )
    .unwrap();
    let (code, _, err) = run(w.cmd().arg("--maven-repo").arg(&repo.base_url));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("is damaged"), "{err}");
    assert_eq!(std::fs::read(&victim).unwrap(), jars.jars[1].1);
    assert_eq!(repo.hits(&format!("/maven2/{}", jars.jars[1].0)), 2);
    no_partial_files(&w);
}

#[test]
fn verify_flag_rehashes_even_with_a_current_marker() {
    let (jars, w, repo) = setup(2);
    jars.serve_all(&repo, "/maven2");
    assert_eq!(run(w.cmd().arg("--maven-repo").arg(&repo.base_url)).0, 0);
    // Corrupt a jar but restore its size and modification time, so the marker still matches.
    let victim = cache_dir(&w).join(jars.file_name(0));
    let meta = std::fs::metadata(&victim).unwrap();
    let mut bytes = std::fs::read(&victim).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&victim, &bytes).unwrap();
    let f = std::fs::File::options().write(true).open(&victim).unwrap();
    f.set_modified(meta.modified().unwrap()).unwrap();
    drop(f);
    assert_eq!(
        run(w.cmd().arg("--offline")).0,
        0,
        "the cheap check trusts the marker"
    );
    let (code, _, err) = run(w
        .cmd()
        .arg("--verify")
        .arg("--maven-repo")
        .arg(&repo.base_url));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("is damaged"), "{err}");
    assert_eq!(std::fs::read(&victim).unwrap(), jars.jars[0].1);
}

#[test]
fn concurrent_bootstraps_share_the_cache_and_download_once() {
    let (jars, w, repo) = setup(6);
    jars.serve_all(&repo, "/maven2");
    for (path, bytes) in &jars.jars {
        repo.route(
            &format!("/maven2/{path}"),
            Route {
                body: bytes.clone(),
                delay: Duration::from_millis(150),
                ..Route::default()
            },
        );
    }
    let spawn = || {
        w.cmd()
            .arg("--maven-repo")
            .arg(&repo.base_url)
            .arg("--parallel=2")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let a = spawn();
    let b = spawn();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let err = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(a.status.success(), "{}", err(&a));
    assert!(b.status.success(), "{}", err(&b));
    assert_eq!(a.stdout, b.stdout, "both print the same command");
    for (path, _) in &jars.jars {
        assert_eq!(
            repo.hits(&format!("/maven2/{path}")),
            1,
            "{path} downloaded once"
        );
    }
    let waited = err(&a).contains("waiting for it") || err(&b).contains("waiting for it");
    assert!(
        waited,
        "one bootstrap waited for the other:\n{}\n{}",
        err(&a),
        err(&b)
    );
    no_partial_files(&w);
}

#[test]
fn offline_never_touches_the_network() {
    let (jars, w, repo) = setup(3);
    jars.serve_all(&repo, "/maven2");
    let (code, out, err) = run(w
        .cmd()
        .arg("--offline")
        .arg("--maven-repo")
        .arg(&repo.base_url));
    assert_eq!(code, 5, "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains("3 of 3 jars") && err.contains("--offline"),
        "{err}"
    );
    assert_eq!(repo.total_hits(), 0);
    assert_eq!(run(w.cmd().arg("--maven-repo").arg(&repo.base_url)).0, 0);
    let before = repo.total_hits();
    let (code, _, err) = run(w.cmd().arg("--offline"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(repo.total_hits(), before);
}

#[test]
fn jar_folder_with_staged_jars_works_offline_and_is_verified() {
    let (jars, w, _repo) = setup(3);
    let folder = w.tmp.path().join("staged");
    std::fs::create_dir_all(&folder).unwrap();
    for (i, (_, bytes)) in jars.jars.iter().enumerate() {
        std::fs::write(folder.join(jars.file_name(i)), bytes).unwrap();
    }
    std::fs::write(folder.join("unrelated.jar"), b"ignored").unwrap();
    let (code, out, err) = run(w.cmd().arg("--offline").arg("--jar-folder").arg(&folder));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&folder.join(jars.file_name(0)).display().to_string()),
        "{out}"
    );
    assert!(
        !out.contains("unrelated.jar"),
        "only locked jars are on the classpath"
    );
    // Node's spelling works too.
    let (code, _, err) = run(w.cmd().arg("--offline").arg("-c").arg(&folder));
    assert_eq!(code, 0, "{err}");

    // A staged jar that does not match is reported and left alone.
    let bad = folder.join(jars.file_name(2));
    std::fs::write(&bad, b"PK tampered").unwrap();
    let (code, _, err) = run(w.cmd().arg("--offline").arg("--jar-folder").arg(&folder));
    assert_eq!(code, 5, "{err}");
    assert!(
        err.contains(&jars.file_name(2)) && err.contains("size is 11 bytes"),
        "{err}"
    );
    assert_eq!(std::fs::read(&bad).unwrap(), b"PK tampered");

    // A missing jar with --offline names what is missing.
    std::fs::remove_file(&bad).unwrap();
    let (code, _, err) = run(w.cmd().arg("--offline").arg("--jar-folder").arg(&folder));
    assert_eq!(code, 5, "{err}");
    assert!(
        err.contains("1 of 3 jars") && err.contains(&jars.file_name(2)),
        "{err}"
    );
}

#[test]
fn jar_folder_is_filled_from_the_repository_when_online() {
    let (jars, w, repo) = setup(2);
    jars.serve_all(&repo, "/maven2");
    // The folder does not exist yet: it is created, as the official bootstraps do.
    let folder = w.tmp.path().join("jars");
    let (code, _, err) = run(w
        .cmd()
        .arg("--jar-folder")
        .arg(&folder)
        .arg("--maven-repo")
        .arg(&repo.base_url));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read(folder.join(jars.file_name(1))).unwrap(),
        jars.jars[1].1
    );
    assert!(
        !cache_dir(&w).exists(),
        "the cache is not used for jars with --jar-folder"
    );
}

#[test]
fn mirror_from_settings_xml_env_and_flag() {
    let (jars, w, _) = setup(2);
    let settings_repo = FakeRepo::start("/nexus/central");
    let env_repo = FakeRepo::start("/env");
    let flag_repo = FakeRepo::start("/flag");
    jars.serve_all(&settings_repo, "/nexus/central");
    jars.serve_all(&env_repo, "/env");
    jars.serve_all(&flag_repo, "/flag");
    // settings.xml mirror with credentials from the matching <server>.
    for (path, bytes) in &jars.jars {
        settings_repo.route(
            &format!("/nexus/central/{path}"),
            Route {
                body: bytes.clone(),
                auth: Some("Basic dXNlcjpzM2NyZXQ=".into()), // user:s3cret
                ..Route::default()
            },
        );
    }
    w.write_settings(&format!(
        r#"<?xml version="1.0"?>
<settings xmlns="http://maven.apache.org/SETTINGS/1.0.0">
  <servers><server><id>corp</id><username>user</username><password>s3cret</password></server></servers>
  <mirrors><mirror><id>corp</id><mirrorOf>*</mirrorOf><url>{}/</url></mirror></mirrors>
</settings>"#,
        settings_repo.base_url
    ));
    let (code, _, err) = run(&mut w.cmd());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("mirror 'corp'"), "{err}");
    assert_eq!(settings_repo.total_hits(), 2);

    // The environment beats settings.xml; the flag beats the environment.
    let clean = |w: &World| std::fs::remove_dir_all(w.cache.join(V)).unwrap();
    clean(&w);
    let (code, _, err) = run(w.cmd().env("KCL_MVN_REPO_SEARCH_URL", &env_repo.base_url));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("$KCL_MVN_REPO_SEARCH_URL"), "{err}");
    assert_eq!((settings_repo.total_hits(), env_repo.total_hits()), (2, 2));
    clean(&w);
    let (code, _, err) = run(w
        .cmd()
        .env("KCL_MAVEN_REPO", &env_repo.base_url)
        .arg("--maven-repo")
        .arg(&flag_repo.base_url));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        (
            settings_repo.total_hits(),
            env_repo.total_hits(),
            flag_repo.total_hits()
        ),
        (2, 2, 2)
    );
}

#[test]
fn credentials_in_the_url_are_sent_and_401_is_explained() {
    let (jars, w, repo) = setup(1);
    repo.route(
        &format!("/maven2/{}", jars.jars[0].0),
        Route {
            body: jars.jars[0].1.clone(),
            auth: Some("Basic dXNlcjpzM2NyZXQ=".into()),
            ..Route::default()
        },
    );
    let (code, _, err) = run(w.cmd().arg("--maven-repo").arg(&repo.base_url));
    assert_eq!(code, 5);
    assert!(
        err.contains("HTTP 401") && err.contains("USER:PASSWORD"),
        "{err}"
    );
    let with_creds = repo.base_url.replacen("http://", "http://user:s3cret@", 1);
    let (code, _, err) = run(w.cmd().arg("--maven-repo").arg(&with_creds));
    assert_eq!(code, 0, "{err}");
    assert!(
        !err.contains("s3cret"),
        "the password is never printed: {err}"
    );
}

#[test]
fn broken_settings_xml_does_not_block_a_warm_start() {
    let (jars, w, repo) = setup(1);
    jars.serve_all(&repo, "/maven2");
    assert_eq!(run(w.cmd().arg("--maven-repo").arg(&repo.base_url)).0, 0);
    w.write_settings("<settings><mirrors>");
    let (code, _, err) = run(&mut w.cmd());
    assert_eq!(code, 0, "{err}");
    // ...but is reported when a download is needed.
    std::fs::remove_dir_all(w.cache.join(V)).unwrap();
    let (code, _, err) = run(&mut w.cmd());
    // A broken settings.xml is a configuration (usage) error, like a bad --maven-repo.
    assert_eq!(code, 2);
    assert!(err.contains("not valid XML"), "{err}");
}

#[test]
fn proxy_from_the_environment_is_used_and_no_proxy_is_honoured() {
    let (jars, w, proxy) = setup(2);
    // The fake server doubles as the proxy: it accepts CONNECT and serves what comes through.
    jars.serve_all(&proxy, "/maven2");
    let repo_url = "http://repo.invalid/maven2";
    let (code, _, err) = run(w
        .cmd()
        .env("HTTPS_PROXY", format!("http://{}", proxy.authority()))
        .arg("--maven-repo")
        .arg(repo_url));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        proxy.hits("CONNECT repo.invalid:80"),
        2,
        "every download went through the proxy"
    );
    assert_eq!(proxy.total_hits(), 2);

    std::fs::remove_dir_all(w.cache.join(V)).unwrap();
    let (code, _, err) = run(w
        .cmd()
        .env("HTTPS_PROXY", format!("http://{}", proxy.authority()))
        .env("NO_PROXY", "repo.invalid")
        .arg("--parallel=2")
        .arg("--maven-repo")
        .arg(repo_url));
    assert_eq!(
        code, 5,
        "a direct connection to repo.invalid cannot work: {err}"
    );
    assert_eq!(
        proxy.hits("CONNECT repo.invalid:80"),
        2,
        "NO_PROXY bypassed the proxy"
    );
}
