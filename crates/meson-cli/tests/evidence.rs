//! `meson-cdn evidence verify` as a user runs it, against a real `meson-cdn router` process: a key staked
//! through `meson-cdn wallet` is slashed by the operator (`meson-cdn ledger slash`) for a failed audit signed
//! with it; the slash's evidence, fetched by id, re-verifies and says what it proves; a file with one byte
//! of a signed body changed, a file built on another router's challenge, and a file that is not JSON are
//! each refused with a clear message and a non-zero exit.

mod support;

use std::path::Path;

use meson_core::identity::NodeKey;
use support::*;

/// Runs `meson-cdn ARGS`.
async fn cdn(args: &[&str]) -> Output {
    let mut cmd = command();
    cmd.args(args);
    run(cmd).await
}

/// Runs `meson-cdn ARGS`, which must succeed; what it printed.
async fn ok(args: &[&str]) -> String {
    let out = cdn(args).await;
    assert!(out.status.success(), "{args:?}: {}", out.stderr);
    out.stdout
}

/// Runs `meson-cdn wallet --router ROUTER --key KEY ARGS`, which must succeed.
async fn wallet(router: &str, key: &Path, args: &[&str]) -> String {
    let mut all = vec!["wallet", "--router", router, "--key", key.to_str().unwrap()];
    all.extend_from_slice(args);
    ok(&all).await
}

/// `meson-cdn evidence verify --file FILE --router-id ID`, which must fail; its error.
async fn refused(file: &Path, router_id: &str) -> String {
    let file = file.to_str().unwrap();
    let out = cdn(&[
        "evidence",
        "verify",
        "--file",
        file,
        "--router-id",
        router_id,
    ])
    .await;
    assert!(
        !out.status.success(),
        "{file} should be refused: {}",
        out.stdout
    );
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    out.stderr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_verify_rechecks_a_real_slash_and_refuses_what_does_not_verify() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("router");
    let addr = free_addr();
    let r = RouterProc::start(&addr.to_string(), &data, &[]);
    let router = format!("http://{addr}");
    let token = data.join("operator.token");
    let token = token.to_str().unwrap();

    // A terminal's operator stakes 10 tokens with its node key.
    let key_file = dir.path().join("node.key");
    wallet(&router, &key_file, &["new"]).await;
    let accused =
        NodeKey::from_secret_text(std::fs::read_to_string(&key_file).unwrap().trim()).unwrap();
    let accused_id = accused.id().to_string();
    // One argument: a node id may begin with `-`.
    let owner = format!("--owner={accused_id}");
    ok(&[
        "ledger",
        "mint",
        "--id",
        "1",
        &owner,
        "--amount",
        "20",
        "--router",
        &router,
        "--operator-token",
        token,
    ])
    .await;
    wallet(&router, &key_file, &["stake", "--amount", "10"]).await;

    // The operator slashes it for a failed audit answer signed with that key.
    let router_key = meson_testkit::evidence::router_key(&data);
    assert_eq!(router_key.id().to_string(), r.id);
    let evidence = meson_testkit::evidence::failed_audit(&router_key, &accused, 1);
    let id = hex::encode(evidence.id());
    let file = dir.path().join("evidence.json");
    std::fs::write(&file, evidence.to_canonical()).unwrap();
    let slashed = ok(&[
        "ledger",
        "slash",
        &owner,
        "--amount",
        "4",
        "--claimant",
        "3",
        "--evidence",
        file.to_str().unwrap(),
        "--router",
        &router,
        "--operator-token",
        token,
    ])
    .await;
    assert!(
        slashed.starts_with(&format!("slashed 4 of {accused_id}")),
        "{slashed}"
    );

    // Anyone re-verifies it by id: the router serves the bytes, the CLI checks them offline.
    let verified = ok(&["evidence", "verify", &id, "--router", &router]).await;
    let mut lines = verified.lines();
    assert_eq!(
        lines.next(),
        Some(
            format!(
                "evidence {id} verifies against router {}: audit_failed by terminal {accused_id}",
                r.id
            )
            .as_str()
        ),
        "{verified}"
    );
    let proves = lines.next().unwrap_or_default();
    assert!(
        proves.starts_with(&format!(
            "terminal {accused_id} signed a proof of chunk group 1 of the piece"
        )) && proves.contains("that does not verify"),
        "{verified}"
    );
    // The file the operator used verifies the same with only the router's id.
    let from_file = ok(&[
        "evidence",
        "verify",
        "--file",
        file.to_str().unwrap(),
        "--router-id",
        &r.id,
    ])
    .await;
    assert_eq!(from_file, verified);

    // One byte of the terminal's signed answer changed (a base64 digit of the proof): its signature no
    // longer covers it.
    let mut json: serde_json::Value = serde_json::from_str(&evidence.to_canonical()).unwrap();
    let body = json["answer"]["body"].as_str().unwrap().to_owned();
    let at = body.find("\"proof\":\"").unwrap() + 100;
    let was = body.as_bytes()[at];
    let mut changed = body.into_bytes();
    changed[at] = if was == b'A' { b'B' } else { b'A' };
    json["answer"]["body"] = String::from_utf8(changed).unwrap().into();
    let tampered = dir.path().join("tampered.json");
    std::fs::write(&tampered, json.to_string()).unwrap();
    let why = refused(&tampered, &r.id).await;
    assert!(
        why.contains("the evidence does not verify: the terminal's audit answer does not verify"),
        "{why}"
    );

    // The same failure, but on a challenge another router signed: it proves nothing to this router.
    let other = NodeKey::from_secret_bytes([9; 32]);
    let foreign = dir.path().join("foreign.json");
    std::fs::write(
        &foreign,
        meson_testkit::evidence::failed_audit(&other, &accused, 1).to_canonical(),
    )
    .unwrap();
    let why = refused(&foreign, &r.id).await;
    assert!(
        why.contains(&format!(
            "the evidence does not verify: the challenge was signed by {}, not by the router {}",
            other.id(),
            r.id
        )),
        "{why}"
    );

    // Not JSON at all.
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "this is not evidence\n").unwrap();
    let why = refused(&junk, &r.id).await;
    assert!(
        why.contains(&format!("{} is not evidence", junk.display())),
        "{why}"
    );

    // An id the router does not have is refused as well.
    let unknown = "00".repeat(32);
    let out = cdn(&["evidence", "verify", &unknown, "--router", &router]).await;
    assert!(!out.status.success(), "{}", out.stdout);
    assert!(out.stderr.contains("404"), "{}", out.stderr);
}
