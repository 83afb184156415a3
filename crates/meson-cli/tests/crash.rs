//! Crash safety of the real `meson-cdn terminal` process: SIGKILL while fills are in progress, and bodies
//! damaged on disk after an unclean stop, must never lead to a wrong byte being served.

mod support;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use support::*;

const MIB: usize = 1 << 20;
const SLICE: usize = MIB;

/// ~40 sizes from 1 byte to 6 MiB, around the 16 KiB chunk group, the 64 KiB inline limit and the 1 MiB
/// slice size.
const SIZES: [usize; 40] = [
    1, 2, 7, 17, 255, 1000, 4095, 4096, 4097, 16383, 16384, 16385, 65535, 65536, 65537, 100_000,
    123_456, 200_000, 300_001, 500_000, 777_777, 1_000_000, 1_048_575, 1_048_576, 1_048_577,
    1_300_000, 1_572_864, 2_000_000, 2_097_152, 2_500_001, 3_000_000, 3_145_728, 3_500_000,
    4_000_000, 4_194_305, 4_500_000, 5_000_000, 5_500_000, 6_000_000, 6_291_456,
];

fn path_of(j: usize) -> String {
    format!("/obj/{j:02}-{}.bin", SIZES[j])
}

fn publish_catalogue(origin: &Origin) {
    for (j, &len) in SIZES.iter().enumerate() {
        origin.set(
            &path_of(j),
            Resource::cacheable(pattern(len, 1000 + j as u64)),
        );
    }
}

/// One client request of the load fired before a kill.
#[derive(Clone)]
struct Req {
    path: String,
    range: Option<(usize, usize)>,
}

/// The requests of kill cycle `cycle`: every object, some as a Range, some under a new query (a new key).
fn load(origin: &Origin, cycle: usize) -> Vec<Req> {
    (0..SIZES.len())
        .map(|j| {
            let len = SIZES[j];
            let path = if cycle > 0 && j % 3 == 0 {
                format!("{}?c={cycle}", path_of(j))
            } else {
                path_of(j)
            };
            assert_eq!(origin.body(&path).len(), len);
            let range = match (j + cycle) % 4 {
                1 if len >= 3 => Some((len / 3, 2 * len / 3)),
                3 if len >= 2 => Some((len / 2 + 1, len - 1)),
                _ => None,
            };
            Req { path, range }
        })
        .collect()
}

/// Fires `reqs` concurrently; SIGKILLs the terminal once half of them completed while the origin is still
/// streaming at least three bodies. Every response that did complete must be exactly right.
async fn fire_and_kill(term: &mut TerminalProc, origin: &Arc<Origin>, reqs: &[Req]) {
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for r in reqs.iter().cloned() {
        let (addr, done) = (term.addr, done.clone());
        let origin = origin.clone();
        tasks.push(tokio::spawn(async move {
            let got = match r.range {
                None => try_request(addr, "GET", &r.path, &[]).await,
                Some((a, b)) => {
                    let v = format!("bytes={a}-{b}");
                    try_request(addr, "GET", &r.path, &[("range", &v)]).await
                }
            };
            if let Ok(got) = &got {
                // A response cut by the kill is an error (Content-Length not reached), never Ok.
                let body = origin.body(&r.path);
                match r.range {
                    None => assert_full(got, &r.path, &body),
                    Some((a, b)) => assert_range(got, &r.path, a, b, &body),
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let half = reqs.len() / 2;
    let deadline = Instant::now() + WAIT;
    loop {
        let (d, active) = (done.load(Ordering::Relaxed), origin.active());
        if d >= half && active >= 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "load never reached the kill point: {d} of {} responses complete, {active} origin bodies streaming",
            reqs.len()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let active = origin.active();
    term.kill9().await;
    // The clients see resets now; whatever completed before the kill was checked in its task.
    for t in tasks {
        if let Err(e) = tokio::time::timeout(WAIT, t)
            .await
            .expect("client task hangs")
        {
            if e.is_panic() {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    }
    assert!(
        term.data_dir.join("running").exists(),
        "the running marker must survive a SIGKILL"
    );
    let partial = std::fs::read_dir(term.data_dir.join("tmp"))
        .unwrap()
        .count();
    assert!(
        partial > 0,
        "no partial fill in DATA_DIR/tmp at the kill ({active} origin bodies were streaming): the kill came too late to test anything"
    );
}

/// After the last crash: every object (and every key used) is served exactly, ranges included; the store
/// then holds every slice with the right root and length, and serves it all as HIT.
async fn verify_everything(term: &TerminalProc, origin: &Origin, keys: &BTreeSet<String>) {
    // Whatever survived the crashes, as the restarted terminal lists it, must match the origin.
    let survivors = check_listing(&term.objects().await, origin, SLICE);
    assert!(
        !survivors.is_empty(),
        "nothing the terminal committed before the kills survived them"
    );

    let addr = term.addr;
    futures_util::stream::iter(keys.iter().cloned())
        .map(|pq| async move {
            let body = origin.body(&pq);
            let len = body.len();
            let mut ranges = vec![(len / 2, len - 1), (0, 0), (len - 1, len - 1)];
            if len > SLICE + 10 {
                ranges.push((SLICE - 10, SLICE + 10));
                ranges.push((SLICE, len - 1));
            }
            // Ranges first: after an unclean stop the first read of a slice is the one that must check it.
            for (a, b) in ranges {
                assert_range(&get_range(addr, &pq, a, b).await, &pq, a, b, &body);
            }
            assert_full(&get(addr, &pq).await, &pq, &body);
        })
        .buffer_unordered(6)
        .collect::<Vec<()>>()
        .await;

    // Every key is now stored whole, each slice with the root of exactly its bytes.
    let want: HashMap<String, usize> = keys
        .iter()
        .map(|k| (k.clone(), slice_count(origin.body(k).len(), SLICE)))
        .collect();
    wait_stored(term, origin, SLICE, &want).await;

    for pq in keys {
        let got = get(addr, pq).await;
        assert_full(&got, pq, &origin.body(pq));
        assert_eq!(got.x_cache(), "HIT", "GET {pq} after it was stored whole");
    }
}

async fn kill9_during_fills(fsync: &str, scrub_rate: &str) {
    let origin = Arc::new(Origin::start().await);
    publish_catalogue(&origin);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = [
        "--slice-size",
        "1MiB",
        "--fsync",
        fsync,
        "--scrub-rate",
        scrub_rate,
    ];
    // Slow enough that a 1 MiB slice takes ~0.5 s to fill.
    origin.pace(32 * 1024, Duration::from_millis(15));
    let mut keys = BTreeSet::new();
    for cycle in 0..2 {
        let mut term = TerminalProc::start(&origin.url(), &data, &args).await;
        if cycle > 0 {
            let survivors = check_listing(&term.objects().await, &origin, SLICE);
            assert!(!survivors.is_empty(), "nothing survived the first kill");
        }
        let reqs = load(&origin, cycle);
        keys.extend(reqs.iter().map(|r| r.path.clone()));
        fire_and_kill(&mut term, &origin, &reqs).await;
    }
    keys.extend((0..SIZES.len()).map(path_of));

    origin.pace(64 * 1024, Duration::ZERO);
    let mut term = TerminalProc::start(&origin.url(), &data, &args).await;
    verify_everything(&term, &origin, &keys).await;
    term.stop().await;
    assert!(
        !data.join("running").exists(),
        "a clean stop removes the running marker"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_during_fills_fsync_never() {
    kill9_during_fills("never", "0").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_during_fills_fsync_always() {
    kill9_during_fills("always", "8MiB").await;
}

/// Objects for the corruption tests: inline-sized, streamed, and sliced.
const DAMAGE: [(&str, usize); 6] = [
    ("/small-flip.bin", 30_000),
    ("/medium-truncate.bin", 300_000),
    ("/medium-zero-tail.bin", 400_000),
    ("/sliced-flip.bin", 2 * MIB + 12_345),
    ("/intact-small.bin", 20_000),
    ("/intact-sliced.bin", MIB + 777),
];

/// Fills every DAMAGE object, SIGKILLs the terminal, and damages four stored bodies.
async fn fill_kill_and_damage(origin: &Origin, data: &Path, args: &[&str]) {
    for (i, (path, len)) in DAMAGE.iter().enumerate() {
        origin.set(path, Resource::cacheable(pattern(*len, 77 + i as u64)));
    }
    let mut term = TerminalProc::start(&origin.url(), data, args).await;
    for (path, _) in DAMAGE {
        assert_full(&get(term.addr, path).await, path, &origin.body(path));
    }
    let want: HashMap<String, usize> = DAMAGE
        .iter()
        .map(|(p, len)| (p.to_string(), slice_count(*len, SLICE)))
        .collect();
    wait_stored(&term, origin, SLICE, &want).await;
    term.kill9().await;

    flip_middle_byte(&body_file(data, "/small-flip.bin", 0));
    truncate_half(&body_file(data, "/medium-truncate.bin", 0));
    zero_tail(&body_file(data, "/medium-zero-tail.bin", 0));
    flip_middle_byte(&body_file(data, "/sliced-flip.bin", 1));
}

/// After a SIGKILL, a flipped byte, a truncated body and a zeroed tail are found before anything is served:
/// clients get the origin's bytes, and the store ends up holding the right ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corruption_after_unclean_stop_is_never_served() {
    let origin = Origin::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // No scrub: the check before first use must catch it by itself.
    let args = ["--slice-size", "1MiB", "--scrub-rate", "0"];
    fill_kill_and_damage(&origin, &data, &args).await;

    let mut term = TerminalProc::start(&origin.url(), &data, &args).await;
    let addr = term.addr;
    // A small range in the middle of each body first (the damaged bytes), then the whole body.
    for (path, len) in DAMAGE {
        let body = origin.body(path);
        let (a, b) = if len > 2 * MIB {
            (MIB + (len - MIB) / 2 - 2, MIB + (len - MIB) / 2 + 2)
        } else {
            (len / 2 - 2, len / 2 + 2)
        };
        assert_range(&get_range(addr, path, a, b).await, path, a, b, &body);
    }
    for (path, _) in DAMAGE {
        let got = get(addr, path).await;
        assert_full(&got, path, &origin.body(path));
        if path.starts_with("/intact") {
            assert_eq!(got.x_cache(), "HIT", "GET {path}: undamaged, stored");
        }
    }
    let want: HashMap<String, usize> = DAMAGE
        .iter()
        .map(|(p, len)| (p.to_string(), slice_count(*len, SLICE)))
        .collect();
    wait_stored(&term, &origin, SLICE, &want).await;
    for (path, _) in DAMAGE {
        let got = get(addr, path).await;
        assert_full(&got, path, &origin.body(path));
        assert_eq!(got.x_cache(), "HIT", "GET {path} once stored again");
    }
    // The damaged files themselves are gone.
    for (key, slice, file) in stored_bodies(&data) {
        let pq = key_path(&key);
        let body = origin.body(pq);
        let s = if body.len() > SLICE {
            SLICE
        } else {
            body.len()
        };
        let start = slice as usize * s;
        let end = (start + s).min(body.len());
        assert_eq!(
            b3(&std::fs::read(&file).unwrap()),
            b3(&body[start..end]),
            "{} still holds wrong bytes",
            file.display()
        );
    }
    term.stop().await;
}

/// Damage done before an unclean stop must still be caught when the next run, which never read the
/// damaged bodies, stops cleanly: that clean stop vouches only for what that run checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corruption_is_caught_after_crash_then_clean_restart() {
    let origin = Origin::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = ["--slice-size", "1MiB", "--scrub-rate", "0"];
    fill_kill_and_damage(&origin, &data, &args).await;

    // A run that reads nothing and stops cleanly.
    let mut term = TerminalProc::start(&origin.url(), &data, &args).await;
    let (status, _) = term.admin_get("/v1/admin/objects").await;
    assert_eq!(status, 200);
    term.stop().await;

    let mut term = TerminalProc::start(&origin.url(), &data, &args).await;
    for (path, _) in DAMAGE {
        let got = get(term.addr, path).await;
        assert_full(&got, path, &origin.body(path));
    }
    term.stop().await;
}
