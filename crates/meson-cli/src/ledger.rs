//! `meson-cdn ledger verify` (the operator's commands are in [`crate::operator`]): fetches a router's audit
//! log into memory and its signed head, replays the log from nothing with every check (chain, hashes,
//! invariants after each batch), and checks that the head is signed by the router and describes exactly the
//! replayed state.

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use meson_api::ledger::{LedgerHead, LogPage};
use meson_api::RouterInfo;
use meson_core::identity::NodeId;
use meson_ledger::audit::{Replay, SignedHead};
use meson_ledger::format_amount;

use crate::client::get;

#[derive(Args)]
pub struct LedgerArgs {
    #[command(subcommand)]
    command: LedgerCommand,
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Replay a router's whole audit log and check it against the router's signed head.
    Verify {
        /// The router.
        #[arg(long, env = "MESON_ROUTER")]
        router: String,
        /// The router's node id to trust; without it, the id the router publishes at /v1/router.
        #[arg(long)]
        router_id: Option<NodeId>,
    },
    #[command(flatten)]
    Operator(crate::operator::OperatorCommand),
}

pub fn run(args: LedgerArgs) -> anyhow::Result<()> {
    let rt = crate::client::runtime()?;
    let (router, router_id) = match args.command {
        LedgerCommand::Verify { router, router_id } => (router, router_id),
        LedgerCommand::Operator(command) => return rt.block_on(crate::operator::run(command)),
    };
    rt.block_on(async move {
        let (head, replay) = verify(&router, router_id).await?;
        let l = replay.ledger();
        println!(
            "ledger of network {} verified against the head signed by {}",
            head.head.network, head.signer
        );
        println!("  entries   {}", replay.seq());
        println!("  accounts  {}", l.accounts().count());
        println!("  transfers {}", l.transfer_count());
        println!("  issued    {}", format_amount(l.issued()));
        println!("  burned    {}", format_amount(l.burned()));
        println!("  supply    {}", format_amount(l.supply()));
        println!("  state     {}", head.head.state_digest);
        Ok(())
    })
}

/// Fetches the router's signed head and its log up to the head, replays the log with every check, and
/// checks the head against the replay. `router_id` is the router to trust; by default, the id it publishes.
pub async fn verify(
    router: &str,
    router_id: Option<NodeId>,
) -> anyhow::Result<(SignedHead, Replay)> {
    let trusted = match router_id {
        Some(id) => id,
        None => get::<RouterInfo>(router, "/v1/router", None).await?.id,
    };
    // The head first: entries logged after it are not covered, and the replay stops at its seq.
    let LedgerHead(head) = get(router, "/v1/ledger/head", None).await?;
    head.verify(Some(&trusted))
        .context("the head's signature")?;
    let mut replay = Replay::new();
    while replay.seq() < head.head.seq {
        let page: LogPage = get(
            router,
            &format!("/v1/ledger/log?after={}&limit=1000", replay.seq()),
            None,
        )
        .await?;
        if page.entries.is_empty() {
            bail!(
                "the log ends at entry {} but the head is at {}",
                replay.seq(),
                head.head.seq
            );
        }
        for e in &page.entries {
            if e.seq > head.head.seq {
                break;
            }
            replay.push(e.seq, &e.prev_hash.0, &e.hash.0, &e.body)?;
        }
        eprintln!("replayed {} of {} entries", replay.seq(), head.head.seq);
    }
    replay.matches(&head.head)?;
    Ok((head, replay))
}
