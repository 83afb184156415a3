//! `meson-cdn wallet` as a user runs it, against a real `meson-cdn router` process: a key is made and
//! shown, funded by the operator, and then moves tokens with every command (transfer, deposit, stake,
//! unstake, bond, council-stake), reads them back (balance, history, claim), gets clear errors for what
//! cannot be done, and verifies an epoch's payout proof after the router has settled real usage. The
//! operator's side runs as `meson-cdn ledger mint|verdict|correct`.

mod support;

use std::path::Path;
use std::time::Duration;

use meson_core::identity::NodeKey;
use meson_ledger::accounts::wallet_account;
use support::*;

struct Wallet<'a> {
    router: String,
    key: &'a Path,
}

impl Wallet<'_> {
    async fn run(&self, args: &[&str]) -> Output {
        let mut cmd = command();
        cmd.args(["wallet", "--router", &self.router, "--key"])
            .arg(self.key)
            .args(args);
        run(cmd).await
    }

    /// Runs a command that must succeed, and returns what it printed.
    async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert!(out.status.success(), "wallet {args:?}: {}", out.stderr);
        out.stdout
    }

    /// Runs a command that must fail, and returns its error.
    async fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert!(
            !out.status.success(),
            "wallet {args:?} should fail: {}",
            out.stdout
        );
        out.stderr
    }
}

/// Runs `meson-cdn ledger ARGS` as the router's operator; it must succeed.
async fn operator(router: &str, token: &Path, args: &[&str]) -> String {
    let mut cmd = command();
    cmd.arg("ledger")
        .args(args)
        .args(["--router", router, "--operator-token"])
        .arg(token);
    let out = run(cmd).await;
    assert!(out.status.success(), "ledger {args:?}: {}", out.stderr);
    out.stdout
}

fn value(out: &str, label: &str) -> String {
    out.lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .unwrap_or_else(|| panic!("no {label:?} in {out}"))
        .trim()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_moves_tokens_with_every_command_and_verifies_its_payout() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("router");
    let addr = free_addr();
    let listen = addr.to_string();
    let params = [
        "--min-bond",
        "0.5",
        "--council-min-stake",
        "1",
        "--price-per-gib",
        "1000",
        // The network's genesis: billing, turned on below, charges these.
        "--epoch-secs",
        "1",
        "--subsidy-bps",
        "5000",
        "--subsidy-cap",
        "1",
    ];
    let mut r = RouterProc::start(&listen, &data, &params);
    let router = format!("http://{addr}");
    let key = dir.path().join("me.key");
    let w = Wallet {
        router: router.clone(),
        key: &key,
    };

    let made = w.ok(&["new"]).await;
    assert!(
        w.fails(&["new"]).await.contains("not overwriting"),
        "a key is never overwritten"
    );
    let me = NodeKey::from_secret_text(std::fs::read_to_string(&key).unwrap().trim()).unwrap();
    let account = wallet_account(me.id().as_bytes()).to_string();
    assert_eq!(value(&made, "account"), account);
    assert_eq!(
        value(&w.ok(&["address"]).await, "public key"),
        me.id().to_string()
    );
    assert!(w
        .fails(&["balance", "--account", &account])
        .await
        .contains("404"));

    let token = data.join("operator.token");
    let me_id = me.id().to_string();
    let minted = operator(
        &router,
        &token,
        &[
            "mint",
            "--id",
            "1",
            &format!("--owner={me_id}"),
            "--amount",
            "20",
        ],
    )
    .await;
    assert!(
        minted.contains(&format!("minted 20 into account {account}")),
        "{minted}"
    );
    let again = operator(
        &router,
        &token,
        &[
            "mint",
            "--id",
            "1",
            &format!("--owner={me_id}"),
            "--amount",
            "20",
        ],
    )
    .await;
    assert!(
        again.contains("already minted"),
        "the same purchase mints once: {again}"
    );
    assert_eq!(
        value(&w.ok(&["balance", "--account", &account]).await, "balance"),
        "20"
    );

    // A site to deposit into.
    let mut create = command();
    create.args(["account", "create", "--router", &router, "shop"]);
    let out = run(create).await;
    let api_key = value(&out.stdout, "api key");
    let mut add = command();
    add.args(["site", "--router", &router, "--api-key", &api_key])
        .args(["add", "cdn.shop.test", "http://127.0.0.1:9"]);
    assert!(run(add).await.status.success());

    let other = NodeKey::from_secret_bytes([3; 32]);
    let other_account = wallet_account(other.id().as_bytes()).to_string();
    let refused = w
        .fails(&["transfer", "--to", &other_account, "--amount", "1"])
        .await;
    assert!(refused.contains("unknown account"), "{refused}");
    assert!(w
        .fails(&["transfer", "--to", "3", "--amount", "21"])
        .await
        .contains("insufficient funds"));
    assert!(w
        .fails(&["transfer", "--to", "3", "--amount", "0.0000000001"])
        .await
        .contains("--amount"));
    let sent = w.ok(&["transfer", "--to", "3", "--amount", "1.5"]).await;
    let out = w
        .ok(&["deposit", "--site", "cdn.shop.test", "--amount", "10"])
        .await;
    assert!(
        out.contains("deposited 10 into the escrow of cdn.shop.test"),
        "{out}"
    );
    w.ok(&["stake", "--amount", "3"]).await;
    w.ok(&["unstake", "--amount", "1"]).await;
    w.ok(&["council-stake", "--amount", "2"]).await;
    assert!(w
        .fails(&["council-stake", "--amount", "2"])
        .await
        .contains("already locked"));

    // A claim against a staked key, filed with its evidence file.
    let accused = NodeKey::from_secret_bytes([4; 32]);
    let accused_id = accused.id().to_string();
    operator(
        &router,
        &token,
        &[
            "mint",
            "--id",
            "2",
            &format!("--owner={accused_id}"),
            "--amount",
            "1",
        ],
    )
    .await;
    let accused_key = dir.path().join("accused.key");
    std::fs::write(&accused_key, accused.to_secret_text()).unwrap();
    let them = Wallet {
        router: router.clone(),
        key: &accused_key,
    };
    them.ok(&["stake", "--amount", "1"]).await;
    // A hunter's claim against it, filed with objective evidence (a failed audit answer it signed):
    // checked before the bond is taken, then upheld at once.
    let bogus = dir.path().join("bogus.json");
    std::fs::write(&bogus, br#"{"kind":"root_mismatch","object":"/a.bin"}"#).unwrap();
    let evidence = dir.path().join("evidence.json");
    let ev = meson_testkit::evidence::failed_audit(
        &meson_testkit::evidence::router_key(&data),
        &accused,
        1,
    );
    std::fs::write(&evidence, ev.to_canonical()).unwrap();
    let file = |evidence: &Path, bond: &'static str| {
        let (router, key, evidence) = (router.clone(), key.clone(), evidence.to_owned());
        let accused = format!("--accused={accused_id}");
        async move {
            let mut cmd = command();
            cmd.args(["claim", "--router", &router, "--key"])
                .arg(&key)
                .args(["file", "--kind", "objective", "--evidence"])
                .arg(&evidence)
                .args([accused.as_str(), "--bond", bond]);
            run(cmd).await
        }
    };
    let forged = file(&bogus, "0.5").await;
    assert!(
        forged.stderr.contains("not objective evidence"),
        "{}",
        forged.stderr
    );
    let low = file(&evidence, "0.1").await;
    assert!(low.stderr.contains("at least 0.5"), "{}", low.stderr);
    let filed = file(&evidence, "0.5").await;
    assert!(filed.status.success(), "{}", filed.stderr);
    let claim = blake3::hash(&std::fs::read(&evidence).unwrap())
        .to_hex()
        .to_string();
    assert!(
        filed
            .stdout
            .contains(&format!("claim {claim} (objective): final: upheld")),
        "{}",
        filed.stdout
    );
    // 1 at stake, so the slash is 1: half to the hunter, and the bond back.
    assert!(
        filed
            .stdout
            .contains("executed slashed 1 (0 refunded, 0.5 to the hunter); bond of 0.5 returned"),
        "{}",
        filed.stdout
    );

    // 20 - 1.5 transferred - 10 deposited - 3 staked + 0.5 as claimant, with 2 in council reserved.
    let balance = w.ok(&["balance", "--account", &account]).await;
    assert_eq!(value(&balance, "balance"), "6");
    assert_eq!(value(&balance, "available"), "4");
    let history = w.ok(&["history"]).await;
    for code in ["mint", "transfer", "deposit", "stake", "unstake", "bond"] {
        assert!(history.contains(code), "{code} in {history}");
    }
    assert!(history.contains("(pending)"), "{history}");

    // The operator corrects the 1.5 sent to the treasury by mistake.
    let mistake = sent
        .trim()
        .rsplit_once("(transfer ")
        .expect("the transfer's id is printed")
        .1
        .trim_end_matches(')')
        .to_owned();
    let fixed = operator(&router, &token, &["correct", "--reverses", &mistake]).await;
    assert!(fixed.contains("(correction): 1.5 from 3"), "{fixed}");
    let balance = w.ok(&["balance", "--account", &account]).await;
    assert_eq!(value(&balance, "balance"), "7.5");
    assert_eq!(value(&balance, "available"), "5.5");

    // Usage the router accepted for a terminal (its node key reporting 1 MiB served on a ticket from a real
    // redirect), then an epoch settled by the same router with billing and a bootstrap subsidy from a
    // funded treasury.
    operator(
        &router,
        &token,
        &["mint", "--id", "3", "--to", "3", "--amount", "1"],
    )
    .await;
    let terminal =
        SigningTerminal::with_key(NodeKey::from_secret_bytes([8; 32]), "127.0.0.1").await;
    let joined = terminal.register(addr, None).await;
    assert_eq!(joined.status, 200, "{:?}", joined.json());
    assert_eq!(terminal.heartbeat(addr, 0, false).await.status, 200);
    let (location, ticket) = redirect_ticket(addr, "cdn.shop.test", "/a.bin").await;
    assert!(terminal.is_target_of(&location), "{location}");
    // The site's owner tells the router the object's size, without which the usage would be held.
    publish_roots(addr, &api_key, "cdn.shop.test", "/a.bin", 1 << 20).await;
    let receipt = terminal
        .usage(addr, vec![usage_record(&ticket, 1 << 20, 1, 1)])
        .await;
    assert_eq!(
        receipt.parse::<meson_api::UsageReceipt>().accepted,
        1,
        "{:?}",
        receipt.json()
    );
    let accepted_by = unix_now();
    r.kill();
    // Billing settles an epoch (1 s below) once it is over.
    meson_testkit::second_over(accepted_by).await;
    let billing = [&params[..], &["--billing"]].concat();
    let mut r = RouterProc::start(&listen, &data, &billing);
    let node = terminal.node_id();
    let deadline = std::time::Instant::now() + WAIT;
    let earned = loop {
        let out = w.ok(&["balance", &format!("--terminal={node}")]).await;
        if out.contains("earned") && !out.contains("not settled") {
            break out;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the epoch did not settle: {out}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let epoch = earned
        .lines()
        .find_map(|l| l.trim().strip_prefix("epoch "))
        .and_then(|l| l.split_whitespace().next())
        .expect("an epoch line")
        .to_owned();
    assert!(earned.contains(", subsidy "), "{earned}");
    // The site owner sees the spend: 1 MiB at 1000 tokens per GiB.
    let mut billing = command();
    billing
        .args(["site", "--router", &router, "--api-key", &api_key])
        .args(["billing", "cdn.shop.test"]);
    let out = run(billing).await;
    assert!(out.status.success(), "{}", out.stderr);
    let row = out
        .stdout
        .lines()
        .find(|l| l.contains(" 1048576 "))
        .unwrap_or_else(|| panic!("an epoch with the usage: {}", out.stdout));
    assert!(
        row.contains("0.9765625") && !row.contains("not settled"),
        "{row}"
    );
    assert!(out.stdout.contains("balance 9.0234375"), "{}", out.stdout);

    let payee = meson_ledger::accounts::terminal_account(terminal.key.id().as_bytes()).to_string();
    let proof = w
        .ok(&["proof", "--epoch", &epoch, "--account", &payee])
        .await;
    assert!(proof.contains("payout verified"), "{proof}");
    assert!(proof.contains(&format!("signed by {}", r.id)), "{proof}");
    r.kill();
}
