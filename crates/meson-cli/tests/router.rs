//! `meson-cdn router` as a process: it serves, keeps its identity across restarts, and stops on SIGTERM.

mod support;

use std::time::{Duration, Instant};

use meson_api::accounts::AccountCreated;
use meson_api::{RouterInfo, SiteInfo};
use support::*;

fn start_router(data_dir: &std::path::Path) -> RouterProc {
    RouterProc::start("127.0.0.1:0", data_dir, &[])
}

#[tokio::test]
async fn the_router_serves_keeps_its_identity_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = start_router(dir.path());
    let info = get(r.addr, "/v1/router").await;
    assert_eq!(info.status, 200);
    assert_eq!(info.parse::<RouterInfo>().id.to_string(), r.id);

    let account = admin_request(
        r.addr,
        "",
        "POST",
        "/v1/accounts",
        Some(serde_json::json!({ "name": "shop" })),
    )
    .await;
    assert_eq!(account.status, 201);
    let key = account.parse::<AccountCreated>().api_key;
    let site = serde_json::json!({ "host": "cdn.shop.test", "origin": "http://127.0.0.1:9" });
    assert_eq!(
        admin_request(r.addr, &key, "POST", "/v1/sites", Some(site))
            .await
            .status,
        201
    );
    // No terminal has joined yet: a client is told so instead of being sent nowhere.
    let redirect = get(r.addr, "/s/cdn.shop.test/a.mp4").await;
    assert_eq!(redirect.status, 503);

    libc_kill(r.child.id() as i32, libc::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = r.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "router did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status:?}");

    let again = start_router(dir.path());
    assert_eq!(again.id, r.id, "the router's identity survives a restart");
    let sites = admin_request(again.addr, &key, "GET", "/v1/sites", None).await;
    assert_eq!(sites.status, 200);
    let sites: Vec<SiteInfo> = sites.parse();
    assert!(
        sites.iter().any(|s| s.host == "cdn.shop.test"),
        "sites persist in the store: {sites:?}"
    );
}

fn libc_kill(pid: i32, sig: i32) {
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
}

#[tokio::test]
async fn a_business_user_manages_sites_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let r = start_router(dir.path());
    let router = format!("http://{}", r.addr);

    let mut create = command();
    create.args(["account", "create", "--router", &router, "shop"]);
    let out = run(create).await;
    assert!(out.status.success(), "{}", out.stderr);
    let key = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("api key "))
        .expect("the key is printed")
        .to_string();

    let site = |args: &[&str]| {
        let mut cmd = command();
        cmd.args(["site", "--router", &router, "--api-key", &key])
            .args(args);
        cmd
    };
    let out = run(site(&[
        "add",
        "cdn.shop.test",
        "http://127.0.0.1:9",
        "--default-ttl",
        "60",
    ]))
    .await;
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        out.stdout
            .contains("added cdn.shop.test -> http://127.0.0.1:9"),
        "{}",
        out.stdout
    );

    let out = run(site(&["add", "cdn.shop.test", "http://127.0.0.1:9"])).await;
    assert!(!out.status.success(), "a host is registered once");
    assert!(
        out.stderr.contains("409"),
        "the router's refusal is shown: {}",
        out.stderr
    );

    let out = run(site(&["list"])).await;
    assert!(
        out.status.success() && out.stdout.contains("cdn.shop.test") && out.stdout.contains("60"),
        "{}",
        out.stdout
    );

    let out = run(site(&["stats", "cdn.shop.test", "--hours", "3"])).await;
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("total") && l.split_whitespace().nth(1) == Some("0")),
        "{}",
        out.stdout
    );
    let out = run(site(&["stats", "nowhere.test"])).await;
    assert!(
        !out.status.success() && out.stderr.contains("404"),
        "{}",
        out.stderr
    );

    let out = run(site(&["rm", "cdn.shop.test"])).await;
    assert!(out.status.success(), "{}", out.stderr);
    let out = run(site(&["list"])).await;
    assert!(!out.stdout.contains("cdn.shop.test"), "{}", out.stdout);

    let mut wrong = command();
    wrong.args([
        "site",
        "--router",
        &router,
        "--api-key",
        "msk_wrong",
        "list",
    ]);
    let out = run(wrong).await;
    assert!(
        !out.status.success() && out.stderr.contains("401"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn an_owner_publishes_roots_and_an_operator_reads_a_terminals_audits() {
    let dir = tempfile::tempdir().unwrap();
    let r = RouterProc::start(
        "127.0.0.1:0",
        dir.path(),
        &["--audit-interval-secs", "1", "--audit-timeout-secs", "2"],
    );
    let router = format!("http://{}", r.addr);
    let mut create = command();
    create.args(["account", "create", "--router", &router, "shop"]);
    let out = run(create).await;
    let key = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("api key "))
        .unwrap()
        .to_owned();
    let mut add = command();
    add.args(["site", "--router", &router, "--api-key", &key])
        .args(["add", "cdn.shop.test", "http://127.0.0.1:9"]);
    assert!(run(add).await.status.success());

    // A terminal that registers but answers no audit (its public port knows only the health path).
    let t = SigningTerminal::start().await;
    assert_eq!(t.register(r.addr, None).await.status, 200);
    let (location, _) = redirect_ticket(r.addr, "cdn.shop.test", "/a.bin").await;
    assert!(t.is_target_of(&location));

    // The owner publishes the object's roots from the file it serves.
    let file = dir.path().join("a.bin");
    let body = pattern(5 << 20, 1);
    std::fs::write(&file, &body).unwrap();
    let mut roots = command();
    roots
        .args(["site", "--router", &router, "--api-key", &key])
        .args(["roots", "cdn.shop.test", "/a.bin"])
        .arg(&file);
    let out = run(roots).await;
    assert!(out.status.success(), "{}", out.stderr);
    let want = meson_core::content::object_roots(&body);
    assert!(
        out.stdout.contains(&format!(
            "{} bytes, root {}, 2 slice roots",
            body.len(),
            want.root
        )),
        "{}",
        out.stdout
    );

    // The auditor challenges the terminal on what it was sent clients for; it never answers.
    let show = || async {
        let mut audits = command();
        // After `--`: a node id may begin with `-`.
        audits.args([
            "terminal",
            "audits",
            "--router",
            &router,
            "--",
            &t.node_id(),
        ]);
        let out = run(audits).await;
        assert!(out.status.success(), "{}", out.stderr);
        out.stdout
    };
    eventually_async("the terminal's audits time out", || async {
        show().await.contains("timeout  root")
    })
    .await;
    let shown = show().await;
    assert!(
        shown.contains(&format!("terminal {}: vetting", t.node_id())),
        "{shown}"
    );
}
