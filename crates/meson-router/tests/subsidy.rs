//! The bootstrap subsidy end to end: a real router settling real usage from a real network-mode terminal
//! in front of a real origin, with the treasury topping up what the terminal earned from the customer.
//! The subsidy is a transfer out of the treasury (never a mint), within its cap and the treasury's
//! balance, decided once per epoch, and a restart or a later funded treasury never pays it again.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use meson_api::ledger::{
    AccountView, EarnedEpoch, PayoutProof, Payouts, SiteBilling, TerminalEarnings,
};
use meson_ledger::accounts::TREASURY;
use meson_ledger::settlement::BillingConfig;
use meson_ledger::ONE_TOKEN;
use meson_terminal::network::sites::TicketPolicy;
use meson_terminal::Terminal;
use meson_testkit::{get_url_from, Origin, Resource};
use serde_json::json;

const SITE: &str = "cdn.subsidy.example";
/// Base units the treasury pays at most per epoch: far below half of what a MiB earns, far above half
/// of what a kilobyte earns, so one object size is capped and the other is not.
const CAP: u128 = 1_000;
const SMALL: usize = 1_000;
const BIG: usize = 1 << 20;

fn billing() -> BillingConfig {
    BillingConfig {
        epoch_secs: 2,
        price_per_gib: ONE_TOKEN,
        fee_bps: 2_000,
        subsidy_bps: 5_000,
        subsidy_cap: CAP,
        ..BillingConfig::default()
    }
}

async fn router(dir: &Path, listen: Option<SocketAddr>) -> meson_router::Router {
    start(dir, |c| {
        if let Some(a) = listen {
            c.listen = a;
        }
        c.heartbeat = Duration::from_secs(1);
        c.ticket_lifetime_secs = 2;
        c.billing = Some(billing());
    })
    .await
}

async fn node_id(t: &Terminal) -> String {
    standing(t).await["node_id"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

/// Polls until `f` yields a value. The budget is generous: settling waits for tickets to expire and
/// epochs to end, and a loaded machine is slow; nothing here measures speed.
async fn poll<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut f: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A client at `from` fetches `path` through the router and is served by the terminal at `terminal`
/// (retrying while the router still sends it to the origin because the escrow looked empty).
async fn fetch(router: SocketAddr, terminal: SocketAddr, from: &str, path: &str) -> usize {
    let location = poll("the router sends the client to the terminal", || async {
        let r = get_url_from(
            ip(from),
            &format!("http://{router}{path}"),
            &[("host", SITE)],
        )
        .await
        .unwrap();
        assert_eq!(r.status, 302, "{:?}", r.body);
        let l = r.header("location").to_owned();
        l.starts_with(&format!("http://{terminal}/")).then_some(l)
    })
    .await;
    let served = get_url_from(ip(from), &location, &[]).await.unwrap();
    assert_eq!(served.status, 200);
    served.body.len()
}

async fn balance_of(router: SocketAddr, account: u128) -> u128 {
    balance(&get_json::<AccountView>(router, &format!("/v1/ledger/accounts/{account}")).await)
}

/// The terminal's epochs with usage, once `bytes` bytes in all have been accepted and settled.
async fn settled_epochs(router: SocketAddr, node: &str, bytes: u64) -> Vec<EarnedEpoch> {
    poll("every byte's epoch settles", || async {
        let view: TerminalEarnings =
            get_json(router, &format!("/v1/terminals/{node}/earnings?epochs=744")).await;
        let seen: u64 = view.epochs.iter().map(|e| e.bytes).sum();
        let settled = view.epochs.iter().all(|e| e.settled);
        (seen == bytes && settled).then_some(view.epochs)
    })
    .await
}

/// What the epochs earned from customers.
fn earned(epochs: &[EarnedEpoch]) -> u128 {
    epochs.iter().map(|e| tokens(&e.earned)).sum()
}

/// What the treasury added to them.
fn subsidy(epochs: &[EarnedEpoch]) -> u128 {
    epochs.iter().map(|e| tokens(&e.subsidy)).sum()
}

async fn mint(router: SocketAddr, op: &str, id: &str, to: u128, amount: &str) {
    let got = call(
        router,
        "POST",
        "/v1/ledger/mint",
        &[("authorization", op)],
        Some(json!({"id": id, "to": to.to_string(), "amount": amount})),
    )
    .await;
    assert_eq!(got.status, 200, "{:?}", got.json());
}

#[tokio::test]
async fn the_treasury_tops_up_earnings_within_its_cap_once_and_never_mints() {
    let rdir = tempfile::tempdir().unwrap();
    let r = router(rdir.path(), None).await;
    let a = r.addr;
    let origin = Origin::start().await;
    let small = meson_testkit::pattern(SMALL, 1);
    let big = meson_testkit::pattern(BIG, 2);
    origin.set("/small.bin", Resource::cacheable(small));
    origin.set("/big.bin", Resource::cacheable(big));
    let key = account(a).await;
    let site = add_site_for(a, &key, SITE, &origin.url(), "keep").await;
    assert_eq!(site.status, 201, "{:?}", site.json());
    let auth = format!("Bearer {key}");
    let owner = [("authorization", auth.as_str())];
    let site_view: SiteBilling = call(a, "GET", &format!("/v1/sites/{SITE}/billing"), &owner, None)
        .await
        .parse();
    let escrow = site_view.escrow_account;
    let op = std::fs::read_to_string(rdir.path().join("operator.token")).unwrap();
    let op = format!("Bearer {}", op.trim());
    mint(a, &op, "1", escrow, "1").await;

    let tdir = tempfile::tempdir().unwrap();
    let t = network_terminal(a, "127.0.0.30", tdir.path(), TicketPolicy::Bounce).await;
    let node = poll("the terminal joins and is in rotation", || async {
        let node = node_id(&t).await;
        (!node.is_empty() && is_in_rotation(a, &node).await).then_some(node)
    })
    .await;
    let earnings_account =
        get_json::<TerminalEarnings>(a, &format!("/v1/terminals/{node}/earnings"))
            .await
            .account;

    // An empty treasury: the terminal earns what the customer paid, nothing more, and the epoch settles.
    let mut bytes = fetch(a, t.addr, "127.0.0.31", "/small.bin").await as u64;
    let unsubsidised = settled_epochs(a, &node, bytes).await;
    assert!(earned(&unsubsidised) > 0, "{unsubsidised:?}");
    assert_eq!(subsidy(&unsubsidised), 0, "{unsubsidised:?}");
    assert_eq!(balance_of(a, earnings_account).await, earned(&unsubsidised));
    assert_eq!(balance_of(a, TREASURY).await, 0);

    // Funding the treasury now pays nothing for the epochs already settled.
    let treasury_minted = ONE_TOKEN;
    mint(a, &op, "2", TREASURY, "1").await;

    // Under the cap: half of what the terminal earned, exactly.
    bytes += fetch(a, t.addr, "127.0.0.32", "/small.bin").await as u64;
    let epochs = settled_epochs(a, &node, bytes).await;
    let new = &epochs[unsubsidised.len()..];
    assert!(!new.is_empty());
    for e in new {
        let earned = tokens(&e.earned);
        assert_eq!(tokens(&e.subsidy), earned * 5_000 / 10_000, "{e:?}");
        assert!(tokens(&e.subsidy) < CAP, "{e:?}");
    }

    // Over the cap: the treasury pays the cap, per epoch, however much more was earned.
    for (i, from) in ["127.0.0.33", "127.0.0.34", "127.0.0.35"]
        .iter()
        .enumerate()
    {
        assert_eq!(fetch(a, t.addr, from, "/big.bin").await, BIG, "request {i}");
        bytes += BIG as u64;
    }
    let epochs = settled_epochs(a, &node, bytes).await;
    let mut capped = 0;
    for e in &epochs[unsubsidised.len()..] {
        let (earned, subsidy) = (tokens(&e.earned), tokens(&e.subsidy));
        assert_eq!(subsidy, (earned * 5_000 / 10_000).min(CAP), "{e:?}");
        capped += usize::from(subsidy == CAP && earned / 2 > CAP);
    }
    assert!(capped > 0, "some epoch was over the cap: {epochs:?}");

    // Everything the terminal was paid: what the customer paid plus what the treasury added; the
    // treasury fell by exactly the subsidy; and the epoch's payout proof covers both.
    let (earned_all, subsidy_all) = (earned(&epochs), subsidy(&epochs));
    assert!(subsidy_all > 0);
    assert_eq!(
        balance_of(a, earnings_account).await,
        earned_all + subsidy_all
    );
    assert_eq!(balance_of(a, TREASURY).await, treasury_minted - subsidy_all);
    let last = epochs.last().unwrap();
    let epoch = last.epoch;
    let proof: PayoutProof = get_json(
        a,
        &format!("/v1/ledger/payouts/{epoch}/proof/{earnings_account}"),
    )
    .await;
    let paid = tokens(&last.earned) + tokens(&last.subsidy);
    assert_eq!(proof.amount, paid, "{proof:?}");
    let payouts: Payouts = get_json(a, &format!("/v1/ledger/payouts/{epoch}")).await;
    let leaf = meson_ledger::merkle::leaf_hash(&meson_ledger::economics::payout_leaf(
        epoch,
        proof.index,
        earnings_account,
        paid,
    ));
    let path: Vec<[u8; 32]> = proof.path.iter().map(|h| h.0).collect();
    assert!(meson_ledger::merkle::verify_inclusion(
        proof.index,
        proof.size,
        &leaf,
        &path,
        &payouts.root.0,
    ));

    // A transfer, not a mint: supply is what was minted less the fees burned, and every balance adds up to it.
    let fees: u128 = call(
        a,
        "GET",
        &format!("/v1/sites/{SITE}/billing?epochs=744"),
        &owner,
        None,
    )
    .await
    .parse::<SiteBilling>()
    .epochs
    .iter()
    .map(|e| tokens(&e.fee_burned))
    .sum();
    let audited = audit(a).await;
    assert_eq!(audited.ledger().issued(), ONE_TOKEN + treasury_minted);
    assert_eq!(audited.ledger().burned(), fees);
    assert_eq!(
        balance_of(a, escrow).await
            + balance_of(a, earnings_account).await
            + balance_of(a, TREASURY).await,
        ONE_TOKEN + treasury_minted - fees
    );

    // A restart reruns settlement over the past epochs: every settled epoch stays exactly as it was
    // (no subsidy paid twice, none paid late for the epoch the treasury was empty), and new traffic
    // settles with its own subsidy. New traffic settling proves the older epochs were rerun first.
    r.shutdown().await;
    let r = router(rdir.path(), Some(a)).await;
    poll("the terminal is back in rotation", || async {
        is_in_rotation(a, &node).await.then_some(())
    })
    .await;
    bytes += fetch(a, t.addr, "127.0.0.36", "/small.bin").await as u64;
    let after = settled_epochs(a, &node, bytes).await;
    assert_eq!(
        &after[..epochs.len()],
        &epochs[..],
        "settled epochs unchanged"
    );
    let fresh = &after[epochs.len()..];
    let fresh_subsidy = subsidy(fresh);
    assert_eq!(fresh_subsidy, earned(fresh) / 2, "{fresh:?}");
    assert_eq!(
        balance_of(a, earnings_account).await,
        earned(&after) + subsidy(&after)
    );
    assert_eq!(
        balance_of(a, TREASURY).await,
        treasury_minted - subsidy_all - fresh_subsidy
    );
    let audited = audit(a).await;
    assert_eq!(audited.ledger().issued(), ONE_TOKEN + treasury_minted);
    t.shutdown().await;
    r.shutdown().await;
}
