//! SIGTERM stops the real `meson-cdn terminal` gracefully: in-flight responses finish, new connections are
//! refused, the process exits 0, and the next start finds a clean store.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_responses_and_stops_cleanly() {
    let origin = Origin::start().await;
    let quick = pattern(100_000, 1);
    let slow = pattern(3 * 1024 * 1024 + 5, 2);
    origin.set("/quick.bin", Resource::cacheable(quick.clone()));
    origin.set("/slow.bin", Resource::cacheable(slow.clone()));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = ["--shutdown-grace", "20"];
    let mut term = TerminalProc::start(&origin.url(), &data, &args).await;

    let got = get(term.addr, "/quick.bin").await;
    assert_full(&got, "/quick.bin", &quick);
    assert_eq!(got.x_cache(), "MISS");

    // A slow download: ~1.5 s for 3 MiB.
    origin.pace(64 * 1024, Duration::from_millis(30));
    let req = Request::get(format!("http://{}/slow.bin", term.addr))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = tokio::time::timeout(WAIT, client().request(req))
        .await
        .expect("response head in time")
        .expect("response head");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-cache"], "MISS");
    let received = Arc::new(AtomicU64::new(0));
    let r = received.clone();
    let download = tokio::spawn(async move {
        let mut body = resp.into_body();
        let mut out = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("in-flight body cut: {e:?}"))?;
            if let Ok(d) = frame.into_data() {
                out.extend_from_slice(&d);
                r.store(out.len() as u64, Ordering::Relaxed);
            }
        }
        Ok::<_, String>(out)
    });
    eventually("the slow download to be under way", || {
        received.load(Ordering::Relaxed) >= 256 * 1024
    })
    .await;
    assert_eq!(origin.active(), 1, "the fill is mid-way when SIGTERM comes");

    term.wait_sigterm_handler().await;
    term.signal(libc::SIGTERM);
    let deadline = Instant::now() + WAIT;
    loop {
        match tokio::net::TcpStream::connect(term.addr).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
            other => {
                assert!(
                    Instant::now() < deadline,
                    "new connections still accepted after SIGTERM: {other:?}"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    assert!(
        (received.load(Ordering::Relaxed) as usize) < slow.len(),
        "the download finished before the listener closed: the test proves nothing"
    );

    let body = tokio::time::timeout(WAIT, download)
        .await
        .expect("in-flight download finishes")
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}\n{}", term.log_text()));
    assert_eq!(body.len(), slow.len(), "in-flight body length");
    assert!(
        b3(&body) == b3(&slow),
        "in-flight body differs from the origin's"
    );

    let status = term.wait_exit(Duration::from_secs(25)).await;
    assert!(
        status.success(),
        "exit status after SIGTERM: {status:?}\n{}",
        term.log_text()
    );
    assert!(
        !data.join("running").exists(),
        "the running marker is removed on a clean stop"
    );

    origin.pace(64 * 1024, Duration::ZERO);
    let term = TerminalProc::start(&origin.url(), &data, &args).await;
    let log = term.log_text();
    assert!(
        !log.contains("did not stop cleanly"),
        "restart after SIGTERM reports an unclean stop:\n{log}"
    );
    for (path, body) in [("/quick.bin", &quick), ("/slow.bin", &slow)] {
        let got = get(term.addr, path).await;
        assert_full(&got, path, body);
        assert_eq!(got.x_cache(), "HIT", "GET {path} after a clean restart");
    }
    assert_eq!(
        origin.hits("/slow.bin"),
        1,
        "the slow object came from the store"
    );
}

/// A supervisor may stop the terminal as soon as it has said it is serving (both address lines printed):
/// that SIGTERM must be a clean stop too, not the default action that kills the process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_right_after_ready_is_a_clean_stop() {
    let origin = Origin::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for round in 0..30 {
        let mut term = TerminalProc::start(&origin.url(), &data, &[]).await;
        let handled = term.catches(libc::SIGTERM);
        term.signal(libc::SIGTERM);
        let status = term.wait_exit(WAIT).await;
        assert!(
            status.success(),
            "round {round}: SIGTERM right after the ready lines ended the terminal with {status:?} \
             (SIGTERM handler installed when the lines were read: {handled})\n{}",
            term.log_text()
        );
        assert!(
            !data.join("running").exists(),
            "round {round}: the running marker is left behind"
        );
    }
}
