//! What the router verifies, from the command line: `site roots` publishes an object's size and roots,
//! computed here from the file the site serves, and `terminal audits` shows a terminal's spot checks.

use std::io::Read;
use std::path::Path;

use anyhow::Context;
use meson_api::verification::{RootsRecorded, RootsRequest, TerminalAudits};
use meson_core::content::ObjectHasher;
use meson_core::identity::NodeId;

use crate::client::{get, post};

/// Hashes `file` as terminals store it and tells the router these are the roots of `path` on `host`.
pub(crate) async fn push_roots(
    router: &str,
    key: Option<&str>,
    host: &str,
    path: String,
    file: &Path,
    version: String,
) -> anyhow::Result<()> {
    let mut f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let mut hasher = ObjectHasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("reading {}", file.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let roots = hasher.finalize();
    let body = RootsRequest {
        path,
        size: roots.size,
        root: roots.root.to_string(),
        slice_roots: roots.slices.iter().map(ToString::to_string).collect(),
        version,
    };
    let done: RootsRecorded = post(router, &format!("/v1/sites/{host}/roots"), key, &body).await?;
    println!(
        "{} {}: {} bytes, root {}, {} slice roots",
        host,
        done.object.path,
        done.object.size,
        done.object.root,
        done.object.slice_roots.len()
    );
    if done.released + done.inflated > 0 {
        println!(
            "held usage settled: {} records counted, {} refused as over the size",
            done.released, done.inflated
        );
    }
    Ok(())
}

/// Prints a terminal's standing from its audits, per epoch, and its latest audits.
pub(crate) async fn show_audits(router: &str, node: &NodeId, epochs: u64) -> anyhow::Result<()> {
    let a: TerminalAudits = get(
        router,
        &format!("/v1/terminals/{node}/audits?epochs={epochs}"),
        None,
    )
    .await?;
    let rate = a
        .pass_rate
        .map_or("-".to_owned(), |r| format!("{:.1} %", r * 100.0));
    println!(
        "terminal {}: {}, {} audits passed since it joined, pass rate {rate} (latest audits)",
        a.node_id, a.standing, a.passed
    );
    if let Some(why) = &a.suspended {
        println!("{why}");
    }
    println!(
        "{:>10} {:>6} {:>6} {:>8} {:>9} {:>8}",
        "epoch", "pass", "fail", "missing", "not held", "timeout"
    );
    for e in &a.epochs {
        println!(
            "{:>10} {:>6} {:>6} {:>8} {:>9} {:>8}",
            e.epoch, e.pass, e.fail, e.missing, e.not_held, e.timeout
        );
    }
    for r in &a.recent {
        println!(
            "{} {:<8} root {} group {}: {}{}",
            r.at,
            r.outcome,
            r.root,
            r.group,
            r.detail,
            if r.evidence.is_some() {
                " (signed answer kept as evidence)"
            } else {
                ""
            }
        );
    }
    Ok(())
}
