//! The network as processes: `meson-cdn terminal --router` joins, a terminal killed with SIGKILL under
//! traffic is routed around, and `meson-cdn demo` runs a whole network and stops cleanly on Ctrl-C.

mod support;

use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use meson_api::accounts::AccountCreated;
use meson_api::terminals::TerminalList;
use meson_router::{Router, RouterConfig};
use support::*;

const SITE: &str = "cdn.example.com";

async fn api<T: serde::de::DeserializeOwned>(
    router: std::net::SocketAddr,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<serde_json::Value>,
) -> T {
    let got = json_request(router, key, method, path, body).await;
    assert!(
        (200..300).contains(&got.status),
        "{method} {path}: {} {:?}",
        got.status,
        got.body
    );
    got.parse()
}

/// Asks the router for `path` from `from` and follows the redirect; the terminal's address and the body.
async fn fetch(
    router: std::net::SocketAddr,
    from: IpAddr,
    path: &str,
) -> Result<(String, bytes::Bytes), String> {
    let r = get_url_from(from, &format!("http://{router}{path}"), &[("host", SITE)]).await?;
    if r.status != 302 {
        return Err(format!("router answered {}", r.status));
    }
    let location = r.header("location").to_owned();
    let s = get_url_from(from, &location, &[]).await?;
    if s.status != 200 {
        return Err(format!("{location} answered {}", s.status));
    }
    Ok((location.split('/').nth(2).unwrap_or("").to_owned(), s.body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_killed_under_traffic_is_routed_around() {
    let origin = Origin::start().await;
    let body = pattern(20_000, 4);
    for i in 0..50 {
        origin.set(&format!("/f/{i}"), Resource::cacheable(body.clone()));
    }
    let rdir = tempfile::tempdir().unwrap();
    let mut cfg = RouterConfig::new("127.0.0.1:0".parse().unwrap(), rdir.path());
    let heartbeat = Duration::from_secs(1);
    cfg.heartbeat = heartbeat;
    cfg.probe_timeout = Duration::from_millis(500);
    let router = Router::start(cfg).await.unwrap();
    let a = router.addr;
    let key = api::<AccountCreated>(
        a,
        "POST",
        "/v1/accounts",
        None,
        Some(serde_json::json!({"name": "t"})),
    )
    .await
    .api_key;
    api::<meson_api::SiteInfo>(
        a,
        "POST",
        "/v1/sites",
        Some(&key),
        Some(serde_json::json!({"host": SITE, "origin": origin.url()})),
    )
    .await;
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let url = format!("http://{a}");
    let mut victim =
        TerminalProc::spawn(network_terminal(&url, "127.0.0.80", d1.path()), d1.path()).await;
    let survivor =
        TerminalProc::spawn(network_terminal(&url, "127.0.0.81", d2.path()), d2.path()).await;
    eventually_async("both terminals in rotation", || async {
        let v: TerminalList = api(a, "GET", "/v1/terminals", None, None).await;
        v.terminals.iter().filter(|t| t.in_rotation).count() == 2
    })
    .await;

    // Clients keep asking; a failed fetch is retried through the router, as a browser's reload would.
    let stop = Arc::new(AtomicBool::new(false));
    let (served, retried) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let last_victim = Arc::new(std::sync::Mutex::new(None::<Instant>));
    let victim_addr = victim.addr.to_string();
    let mut clients = Vec::new();
    for c in 0..4u8 {
        let (stop, served, retried, last_victim, victim_addr, body) = (
            stop.clone(),
            served.clone(),
            retried.clone(),
            last_victim.clone(),
            victim_addr.clone(),
            body.clone(),
        );
        clients.push(tokio::spawn(async move {
            let from: IpAddr = format!("127.0.0.{}", 90 + c).parse().unwrap();
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let path = format!("/f/{}", (i * 7 + c as usize) % 50);
                i += 1;
                let mut attempt = 0;
                loop {
                    match fetch(a, from, &path).await {
                        Ok((terminal, got)) => {
                            assert_eq!(got, body, "{path} from {terminal}");
                            if terminal == victim_addr {
                                *last_victim.lock().unwrap() = Some(Instant::now());
                            }
                            served.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        Err(e) => {
                            attempt += 1;
                            retried.fetch_add(1, Ordering::Relaxed);
                            // The router promises to stop sending clients to a dead terminal within two
                            // heartbeat intervals (2 s here); retries cover three times that.
                            assert!(attempt < 30, "{path}: still failing after {attempt} tries through the router: {e}");
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                }
            }
        }));
    }
    eventually("traffic flows to the victim", || {
        last_victim.lock().unwrap().is_some()
    })
    .await;
    let killed = Instant::now();
    victim.kill9().await;
    // When the last look that still found the victim in rotation was sent: the router showed it in
    // rotation at some moment after that.
    let seen_in_rotation = std::sync::Mutex::new(killed);
    eventually_async(
        "the router takes the killed terminal out of rotation",
        || async {
            let asked = Instant::now();
            let v: TerminalList = api(a, "GET", "/v1/terminals", None, None).await;
            let out = v
                .terminals
                .iter()
                .any(|t| t.public_url == format!("http://{victim_addr}") && !t.in_rotation);
            if !out {
                *seen_in_rotation.lock().unwrap() = asked;
            }
            out
        },
    )
    .await;
    let out_after = killed.elapsed();
    // The README's promise: a terminal is out of rotation after two heartbeat intervals without a
    // heartbeat. Its last heartbeat came before the kill, so the router may not show it in rotation
    // later than two intervals after the kill.
    let in_rotation_for = seen_in_rotation
        .lock()
        .unwrap()
        .saturating_duration_since(killed);
    assert!(
        in_rotation_for <= 2 * heartbeat,
        "the killed terminal was still in rotation {in_rotation_for:?} after the kill (heartbeat {heartbeat:?})"
    );
    let at = served.load(Ordering::Relaxed);
    eventually("clients keep being served after the failover", || {
        served.load(Ordering::Relaxed) >= at + 40
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await
            .expect("every client request succeeded, retrying through the router if needed");
    }
    let last = last_victim.lock().unwrap().unwrap();
    eprintln!(
        "killed terminal out of rotation after {out_after:?} (heartbeat {heartbeat:?}); its last response {:?} before the kill; {} fetches retried, {} served",
        killed.saturating_duration_since(last),
        retried.load(Ordering::Relaxed),
        served.load(Ordering::Relaxed)
    );
    drop(survivor);
    router.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_a_network_accounts_its_traffic_and_stops_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = command()
        .args([
            "demo",
            "--router-listen",
            "127.0.0.1:0",
            "--rounds",
            "2",
            "--data-dir",
        ])
        .arg(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut out = String::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !out.contains("Press Ctrl-C") {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                out.push_str(&line);
                out.push('\n');
            }
            Err(_) => {
                let _ = child.kill();
                panic!("the demo did not get ready:\n{out}");
            }
        }
    }
    assert!(
        out.contains("each terminal staked 10 tokens with its node key"),
        "{out}"
    );
    assert!(out.contains("3 terminals joined and in rotation"), "{out}");
    assert!(
        out.contains("round 2/2: 72 requests through the router, 72 cache hits"),
        "{out}"
    );
    assert!(out.contains("the router's account agrees"), "{out}");
    assert!(out.contains("settled at 100 tokens per GiB"), "{out}");
    assert!(out.contains("ledger audited:"), "{out}");
    // SAFETY: kill(2) on our own child, not yet reaped.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let status = child.wait().unwrap();
    out.extend(rx.try_iter().map(|l| l + "\n"));
    assert!(status.success(), "{status:?}\n{out}");
    assert!(out.contains("stopped cleanly"), "{out}");
}
