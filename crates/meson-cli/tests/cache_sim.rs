//! `meson-cdn cache-sim`: replays a trace and prints one row per policy.

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use support::*;

const POLICIES: [&str; 3] = ["lru", "s3fifo", "wtinylfu"];

fn trace(dir: &Path, name: &str, rows: &[(&str, u64)]) -> PathBuf {
    let mut text = String::from("timestamp,key,size\n");
    for (i, (key, size)) in rows.iter().enumerate() {
        text += &format!("{},{key},{size}\n", i + 1);
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

async fn sim(trace: &Path, capacity: &str, policy: Option<&str>) -> Output {
    let mut cmd = command();
    cmd.arg("cache-sim")
        .arg("--trace")
        .arg(trace)
        .args(["--capacity", capacity]);
    if let Some(p) = policy {
        cmd.args(["--policy", p]);
    }
    run(cmd).await
}

/// The result table: policy → column → value, read by the header's column names.
fn table(stdout: &str) -> HashMap<String, HashMap<String, String>> {
    let mut lines = stdout
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("policy"));
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_else(|| panic!("no header row in:\n{stdout}"))
        .split_whitespace()
        .collect();
    let mut out = HashMap::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells.len(), header.len(), "row {line:?} under {header:?}");
        let row: HashMap<String, String> = header
            .iter()
            .zip(&cells)
            .map(|(h, c)| (h.to_string(), c.to_string()))
            .collect();
        assert!(
            out.insert(cells[0].to_string(), row).is_none(),
            "policy {} twice",
            cells[0]
        );
    }
    out
}

fn num(row: &HashMap<String, String>, col: &str) -> f64 {
    row.get(col)
        .unwrap_or_else(|| panic!("no column {col} in {row:?}"))
        .parse()
        .unwrap_or_else(|_| panic!("column {col} is not a number in {row:?}"))
}

fn assert_ratio(row: &HashMap<String, String>, col: &str, want: f64) {
    let got = num(row, col);
    assert!(
        (got - want).abs() < 1e-4 + 1e-9,
        "{col}: got {got}, want {want:.6} ({row:?})"
    );
}

#[tokio::test]
async fn every_policy_reported_with_exact_lru_ratios() {
    let dir = tempfile::tempdir().unwrap();
    // a,b × 50, then c once: 101 requests; misses are the first a, the first b and c.
    let mut rows = Vec::new();
    for _ in 0..50 {
        rows.push(("a", 1000));
        rows.push(("b", 3000));
    }
    rows.push(("c", 100_000));
    let path = trace(dir.path(), "ab.csv", &rows);
    let out = sim(&path, "1MiB", None).await;
    assert!(out.status.success(), "{out:?}");
    let t = table(&out.stdout);
    let mut names: Vec<&str> = t.keys().map(|s| s.as_str()).collect();
    names.sort();
    assert_eq!(names, ["lru", "s3fifo", "wtinylfu"], "{}", out.stdout);
    for p in POLICIES {
        let row = &t[p];
        assert_eq!(num(row, "requests"), 101.0, "{p}");
        assert_eq!(num(row, "bytes_requested"), 300_000.0, "{p}");
        for col in ["object_hit", "byte_hit"] {
            let v = num(row, col);
            assert!((0.0..=1.0).contains(&v), "{p} {col} = {v}");
        }
    }
    let lru = &t["lru"];
    assert_ratio(lru, "object_hit", 98.0 / 101.0);
    assert_ratio(lru, "byte_hit", 196_000.0 / 300_000.0);
    assert_eq!(num(lru, "evictions"), 0.0);
}

#[tokio::test]
async fn lru_misses_every_request_of_a_loop_larger_than_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    // a,b,c cycling through room for two: LRU always evicts the next one asked for.
    let rows: Vec<(&str, u64)> = (0..60).map(|i| (["a", "b", "c"][i % 3], 1000)).collect();
    let path = trace(dir.path(), "loop.csv", &rows);
    let out = sim(&path, "2KiB", Some("lru")).await;
    assert!(out.status.success(), "{out:?}");
    let t = table(&out.stdout);
    assert_eq!(t.len(), 1, "--policy lru prints lru only:\n{}", out.stdout);
    let lru = &t["lru"];
    assert_eq!(num(lru, "requests"), 60.0);
    assert_ratio(lru, "object_hit", 0.0);
    assert_ratio(lru, "byte_hit", 0.0);
    assert_eq!(num(lru, "evictions"), 58.0);

    // The same loop with room for all three: only the first three miss.
    let out = sim(&path, "3000", Some("LRU")).await;
    assert!(out.status.success(), "{out:?}");
    let t = table(&out.stdout);
    assert_eq!(t.len(), 1);
    assert_ratio(&t["lru"], "object_hit", 57.0 / 60.0);
    assert_eq!(num(&t["lru"], "evictions"), 0.0);
}

#[tokio::test]
async fn a_bad_line_fails_naming_its_number() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.csv");
    std::fs::write(&path, "timestamp,key,size\n1,a,10\n2,b,20\nx,y,z\n4,a,10\n").unwrap();
    let out = sim(&path, "1MiB", None).await;
    assert!(!out.status.success(), "{out:?}");
    assert!(out.stderr.contains("line 4"), "{out:?}");

    std::fs::write(&path, "timestamp,key,size\n1,a,10\n2,b,zz\n").unwrap();
    let out = sim(&path, "1MiB", Some("lru")).await;
    assert!(!out.status.success(), "{out:?}");
    assert!(out.stderr.contains("line 3"), "{out:?}");
    assert!(out.stderr.contains("zz"), "{out:?}");

    let out = sim(&dir.path().join("missing.csv"), "1MiB", None).await;
    assert!(!out.status.success(), "{out:?}");
    assert!(out.stderr.contains("missing.csv"), "{out:?}");
}

#[tokio::test]
async fn an_unknown_policy_fails_listing_the_valid_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = trace(dir.path(), "t.csv", &[("a", 1)]);
    let out = sim(&path, "1MiB", Some("nope")).await;
    assert!(!out.status.success(), "{out:?}");
    assert!(out.stderr.contains("nope"), "{out:?}");
    for p in POLICIES {
        assert!(out.stderr.contains(p), "stderr lacks {p}: {out:?}");
    }
    let out = sim(&path, "12XB", None).await;
    assert!(!out.status.success(), "{out:?}");
    assert!(out.stderr.contains("unit"), "{out:?}");
}
