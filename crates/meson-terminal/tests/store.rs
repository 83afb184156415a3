//! The disk store: persistence across restarts, corruption, eviction within the budget, a full disk, scrub.

mod support;

use meson_core::eviction::PolicyKind;
use support::*;

#[tokio::test]
async fn the_index_survives_a_clean_restart() {
    let origin = Origin::start().await;
    origin.set(
        "/p",
        Resource::new(
            pattern(100_000, 1),
            &[
                ("cache-control", "max-age=600"),
                ("vary", "accept-encoding"),
            ],
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let t = terminal(config(&origin, dir.path())).await;
    request(t.addr, "GET", "/p", &[("accept-encoding", "gzip")]).await;
    t.shutdown().await;
    assert!(
        !dir.path().join("running").exists(),
        "a clean stop is recorded"
    );

    let t = terminal(config(&origin, dir.path())).await;
    let r = request(t.addr, "GET", "/p", &[("accept-encoding", "gzip")]).await;
    assert_eq!(
        (r.x_cache(), blake3::hash(&r.body)),
        ("HIT", blake3::hash(&pattern(100_000, 1)))
    );
    assert_eq!(
        request(t.addr, "GET", "/p", &[("accept-encoding", "br")])
            .await
            .x_cache(),
        "MISS"
    );
    assert_eq!(origin.hits("/p"), 2);
    t.shutdown().await;
}

#[tokio::test]
async fn corrupt_or_partial_files_are_never_served_after_an_unclean_stop() {
    let origin = Origin::start().await;
    for i in 0..4 {
        origin.set(
            &format!("/o{i}"),
            Resource::new(
                pattern(50_000 + i, i as u64),
                &[("cache-control", "max-age=600")],
            ),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let t = terminal(config(&origin, dir.path())).await;
    for i in 0..4 {
        get(t.addr, &format!("/o{i}")).await;
    }
    // An unclean stop: the process is gone without shutdown (the `running` marker stays).
    t.shutdown().await;
    std::fs::write(dir.path().join("running"), "1").unwrap();
    let mut files = body_files(dir.path());
    files.sort();
    assert_eq!(files.len(), 4);
    flip_byte(&files[0], 1000);
    truncate_to(&files[1], 10);
    std::fs::write(dir.path().join("tmp").join("999-0"), b"partial fill").unwrap();

    let t = terminal(config(&origin, dir.path())).await;
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0,
        "partial fills removed"
    );
    for i in 0..4 {
        let r = get(t.addr, &format!("/o{i}")).await;
        assert_eq!(
            r.body,
            pattern(50_000 + i, i as u64),
            "object {i} is exactly the origin's"
        );
    }
    // The truncated slice was dropped at start-up, the flipped one when it was first read: both refetched.
    assert_eq!(
        (1..4)
            .chain([0])
            .map(|i| origin.hits(&format!("/o{i}")))
            .sum::<usize>(),
        6
    );
    t.shutdown().await;
}

/// A store of ten 100 kB objects: `/e0` is requested four times, then twenty cold objects once each.
/// Returns the running terminal after the scan, and what `/e0` is then served as.
async fn hot_object_then_a_scan(
    origin: &Origin,
    dir: &std::path::Path,
    policy: PolicyKind,
) -> (meson_terminal::Terminal, String) {
    for i in 0..=20 {
        origin.set(
            &format!("/e{i}"),
            Resource::new(pattern(100_000, i), &[("cache-control", "max-age=600")]),
        );
    }
    let mut cfg = config(origin, dir);
    cfg.capacity = 1_000_000;
    cfg.policy = policy;
    let t = terminal(cfg).await;
    for _ in 0..4 {
        get(t.addr, "/e0").await;
        settle(&t).await;
    }
    // The scan alone is twice the budget, and every object in it is newer than `/e0`'s last use.
    for i in 1..=20 {
        get(t.addr, &format!("/e{i}")).await;
        settle(&t).await;
    }
    let hot = get(t.addr, "/e0").await.x_cache().to_owned();
    (t, hot)
}

#[tokio::test]
async fn eviction_keeps_the_store_within_its_budget() {
    let origin = Origin::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (t, hot) = hot_object_then_a_scan(&origin, dir.path(), PolicyKind::DEFAULT).await;
    assert_eq!(
        hot, "HIT",
        "the frequent object survives a scan of cold ones"
    );
    settle(&t).await;
    let used = t.cache.index().used_bytes();
    assert!(used <= 1_000_000, "used {used}");
    let on_disk: u64 = body_files(dir.path())
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert_eq!(on_disk, used, "evicted files are deleted");
    let (_, metrics) = admin(&t, "GET", "/metrics", None).await;
    let metrics = String::from_utf8_lossy(&metrics);
    assert!(
        metrics.contains("meson_terminal_evictions_total"),
        "{metrics}"
    );
    t.shutdown().await;
}

/// The access pattern above tells the policies apart: recency alone evicts the frequent object.
#[tokio::test]
async fn plain_lru_loses_the_frequent_object_to_the_same_scan() {
    let origin = Origin::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (t, hot) = hot_object_then_a_scan(&origin, dir.path(), PolicyKind::Lru).await;
    assert_eq!(hot, "MISS");
    t.shutdown().await;
}

#[tokio::test]
async fn a_full_disk_keeps_serving_and_stops_admitting() {
    let origin = Origin::start().await;
    origin.set(
        "/old",
        Resource::new("cached before", &[("cache-control", "max-age=600")]),
    );
    origin.set(
        "/new",
        Resource::new("arrived after", &[("cache-control", "max-age=600")]),
    );
    let dir = tempfile::tempdir().unwrap();
    let t = terminal(config(&origin, dir.path())).await;
    get(t.addr, "/old").await;
    t.shutdown().await;

    // No file system has this much free space: the terminal must consider its disk full.
    let mut cfg = config(&origin, dir.path());
    cfg.min_free_disk = u64::MAX;
    let t = terminal(cfg).await;
    assert!(t.cache.disk_full());
    let old = get(t.addr, "/old").await;
    assert_eq!((old.status, old.x_cache()), (200, "HIT"));
    let new = get(t.addr, "/new").await;
    assert_eq!(
        (new.status, new.x_cache(), &new.body[..]),
        (200, "BYPASS", &b"arrived after"[..])
    );
    assert_eq!(get(t.addr, "/new").await.x_cache(), "BYPASS");
    let (_, health) = admin(&t, "GET", "/healthz", None).await;
    assert!(String::from_utf8_lossy(&health).contains("\"disk_full\":true"));
    // The Prometheus recorder is process-wide and other tests' terminals set the same gauge; the
    // process-level tests in meson-cli check the metric itself.
    let (_, metrics) = admin(&t, "GET", "/metrics", None).await;
    assert!(String::from_utf8_lossy(&metrics).contains("meson_terminal_disk_full"));
    t.shutdown().await;
}

#[tokio::test]
async fn the_scrub_finds_and_removes_a_corrupted_object() {
    let origin = Origin::start().await;
    origin.set(
        "/s",
        Resource::new(pattern(200_000, 9), &[("cache-control", "max-age=600")]),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&origin, dir.path());
    cfg.scrub_rate = 64 << 20;
    let t = terminal(cfg).await;
    get(t.addr, "/s").await;
    settle(&t).await;
    let files = body_files(dir.path());
    flip_byte(&files[0], 12345);
    eventually_within(BACKGROUND, "scrub removes the corrupt slice", || {
        t.cache.index().object_count() == 0
    })
    .await;
    assert!(!files[0].exists());
    let r = get(t.addr, "/s").await;
    assert_eq!((r.x_cache(), r.body.clone()), ("MISS", pattern(200_000, 9)));
    let (_, metrics) = admin(&t, "GET", "/metrics", None).await;
    let metrics = String::from_utf8_lossy(&metrics);
    let corrupt = metrics
        .lines()
        .find_map(|l| l.strip_prefix("meson_terminal_corrupt_slices_total "))
        .and_then(|v| v.trim().parse::<f64>().ok());
    assert!(corrupt.is_some_and(|n| n >= 1.0), "{metrics}");
    t.shutdown().await;
}
