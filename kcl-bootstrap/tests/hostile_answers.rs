//! A mirror that lies: HTML pages with status 200, redirects, refusals, and repository URLs with
//! credentials in every shape. Errors must say what happened, and no password may ever appear.

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

fn jar_route(jars: &Jars, i: usize) -> String {
    format!("/maven2/{}", jars.jars[i].0)
}

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn html_page_with_status_200_is_named_as_such_and_not_retried() {
    let (jars, w, repo) = setup(1);
    let path = jar_route(&jars, 0);
    repo.route(
        &path,
        Route {
            body: b"<!DOCTYPE html><html><body>Please log in</body></html>".to_vec(),
            content_type: Some("text/html; charset=utf-8".into()),
            ..Route::default()
        },
    );
    let r = run_bounded(w.cmd().arg("--maven-repo").arg(&repo.base_url), LIMIT);
    r.expect_code(5);
    assert!(
        r.err.contains("answered with an HTML page") && r.err.contains("text/html"),
        "{}",
        r.err
    );
    assert!(!r.err.contains("truncated"), "{}", r.err);
    assert_eq!(repo.hits(&path), 1, "an HTML page is not retried");
}

#[test]
fn html_page_without_content_type_is_recognised() {
    let (jars, w, repo) = setup(1);
    let path = jar_route(&jars, 0);
    // Same length as the jar, so only the content gives it away.
    let mut page = b"\n  <html><head><title>Portal</title></head>".to_vec();
    page.resize(jars.jars[0].1.len(), b' ');
    repo.route(
        &path,
        Route {
            body: page,
            ..Route::default()
        },
    );
    let r = run_bounded(w.cmd().arg("--maven-repo").arg(&repo.base_url), LIMIT);
    r.expect_code(5);
    assert!(
        r.err.contains("answered with an HTML page") && r.err.contains("no Content-Type"),
        "{}",
        r.err
    );
}

#[test]
fn redirected_download_errors_name_the_final_url() {
    let (jars, w, repo) = setup(1);
    let elsewhere = FakeRepo::start("/cdn");
    let path = jar_route(&jars, 0);
    let target = format!("{}/{}", elsewhere.base_url, jars.jars[0].0);
    repo.route(
        &path,
        Route {
            redirect: Some(target.clone()),
            ..Route::default()
        },
    );
    elsewhere.route(
        &format!("/cdn/{}", jars.jars[0].0),
        Route {
            status_always: Some(503),
            ..Route::default()
        },
    );
    let r = run_bounded(w.cmd().arg("--maven-repo").arg(&repo.base_url), LIMIT);
    r.expect_code(5);
    assert!(
        r.err.contains(&format!("(redirected to {target})")) && r.err.contains("HTTP 503"),
        "{}",
        r.err
    );
}

#[test]
fn redirects_are_followed_and_credentials_stay_with_the_repository() {
    let (jars, w, repo) = setup(1);
    let elsewhere = FakeRepo::start("/cdn");
    let path = jar_route(&jars, 0);
    let cdn_path = format!("/cdn/{}", jars.jars[0].0);
    repo.route(
        &path,
        Route {
            redirect: Some(format!("http://{}{cdn_path}", elsewhere.authority())),
            ..Route::default()
        },
    );
    elsewhere.route(
        &cdn_path,
        Route {
            body: jars.jars[0].1.clone(),
            ..Route::default()
        },
    );
    let with_creds = repo.base_url.replacen("http://", "http://user:s3cret@", 1);
    let r = run_bounded(w.cmd().arg("--maven-repo").arg(&with_creds), LIMIT);
    r.expect_code(0);
    assert_eq!(
        repo.auth_seen(&path),
        vec![Some("Basic dXNlcjpzM2NyZXQ=".to_string())]
    );
    assert_eq!(
        elsewhere.auth_seen(&cdn_path),
        vec![None],
        "credentials are never sent to another host"
    );
}

#[test]
fn http_403_with_credentials_says_they_were_refused() {
    let (jars, w, repo) = setup(1);
    repo.route(
        &jar_route(&jars, 0),
        Route {
            status_always: Some(403),
            ..Route::default()
        },
    );
    let with_creds = repo.base_url.replacen("http://", "http://user:s3cret@", 1);
    let r = run_bounded(w.cmd().arg("--maven-repo").arg(&with_creds), LIMIT);
    r.expect_code(5);
    assert!(
        r.err.contains("HTTP 403") && r.err.contains("refused the credentials from --maven-repo"),
        "{}",
        r.err
    );
    assert!(!r.err.contains("Give credentials"), "{}", r.err);
    assert!(!r.err.contains("s3cret"), "{}", r.err);
}

#[test]
fn password_with_a_slash_is_refused_and_never_printed() {
    let (jars, w, repo) = setup(1);
    jars.serve_all(&repo, "/maven2");
    let bad = repo.base_url.replacen("http://", "http://deploy:pa/ss@", 1);
    let check = |r: &Bounded| {
        r.expect_code(2);
        assert!(r.err.contains("percent-encode"), "{}", r.err);
        assert!(
            !r.err.contains("pa/ss") && !r.err.contains("deploy:pa"),
            "{}",
            r.err
        );
    };
    check(&run_bounded(w.cmd().arg("--maven-repo").arg(&bad), LIMIT));
    check(&run_bounded(w.cmd().env("KCL_MAVEN_REPO", &bad), LIMIT));
    w.write_settings(&format!(
        "<settings><mirrors><mirror><id>m</id><mirrorOf>*</mirrorOf><url>{bad}</url></mirror></mirrors></settings>"
    ));
    check(&run_bounded(&mut w.cmd(), LIMIT));
    assert_eq!(repo.total_hits(), 0, "nothing was sent anywhere");
}

#[test]
fn percent_encoded_credentials_work_and_never_appear() {
    let (jars, w, repo) = setup(2);
    for (i, (path, bytes)) in jars.jars.iter().enumerate() {
        repo.route(
            &format!("/maven2/{path}"),
            Route {
                body: bytes.clone(),
                // user:pa/ss@1
                auth: Some("Basic dXNlcjpwYS9zc0Ax".into()),
                status_always: (i == 1).then_some(404),
                ..Route::default()
            },
        );
    }
    let url = repo
        .base_url
        .replacen("http://", "http://user:pa%2Fss%401@", 1);
    let r = run_bounded(
        w.cmd().arg("--parallel=1").arg("--maven-repo").arg(&url),
        LIMIT,
    );
    r.expect_code(5);
    assert!(r.err.contains("HTTP 404"), "{}", r.err);
    assert!(
        r.err.contains(&repo.base_url),
        "the URL is shown without credentials: {}",
        r.err
    );
    for secret in ["pa/ss", "pa%2Fss", "user:", "dXNlcjpwYS9zc0Ax"] {
        assert!(!r.err.contains(secret), "{secret} leaked: {}", r.err);
    }
    assert!(
        files_in(&w.cache.join(V)).contains(&jars.file_name(0)),
        "the credentials were sent"
    );
}

#[test]
fn bad_repository_url_exits_2_from_every_source() {
    let (jars, w, repo) = setup(1);
    jars.serve_all(&repo, "/maven2");
    let check = |r: Bounded| {
        r.expect_code(2);
        assert!(r.err.contains("only http:// and https://"), "{}", r.err);
        assert!(!r.err.contains("hunter2"), "{}", r.err);
    };
    let bad = "ftp://me:hunter2@mirror.example/maven2";
    check(run_bounded(w.cmd().arg("--maven-repo").arg(bad), LIMIT));
    check(run_bounded(w.cmd().env("KCL_MAVEN_REPO", bad), LIMIT));
    check(run_bounded(
        w.cmd().env("KCL_MVN_REPO_SEARCH_URL", bad),
        LIMIT,
    ));
    w.write_settings(&format!(
        "<settings><mirrors><mirror><id>m</id><mirrorOf>central</mirrorOf><url>{bad}</url></mirror></mirrors></settings>"
    ));
    check(run_bounded(&mut w.cmd(), LIMIT));
}

#[test]
fn refusal_after_a_redirect_to_another_host_says_no_credentials_went_there() {
    let (jars, w, repo) = setup(1);
    let elsewhere = FakeRepo::start("/cdn");
    let cdn_path = format!("/cdn/{}", jars.jars[0].0);
    repo.route(
        &jar_route(&jars, 0),
        Route {
            redirect: Some(format!("http://{}{cdn_path}", elsewhere.authority())),
            ..Route::default()
        },
    );
    elsewhere.route(
        &cdn_path,
        Route {
            status_always: Some(401),
            ..Route::default()
        },
    );
    let with_creds = repo.base_url.replacen("http://", "http://user:s3cret@", 1);
    let r = run_bounded(w.cmd().arg("--maven-repo").arg(&with_creds), LIMIT);
    r.expect_code(5);
    assert!(
        r.err.contains("after a redirect to another host") && r.err.contains("redirected to"),
        "{}",
        r.err
    );
    assert_eq!(elsewhere.auth_seen(&cdn_path), vec![None]);
}
