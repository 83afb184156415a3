//! `meson-cdn wallet`: read balances, earnings and payout proofs from a router's ledger.
//!
//! `balance` shows an account (or a terminal's earnings account and its payouts per epoch); `proof` fetches
//! an epoch's payout for an account with its audit path, and checks it here against the epoch's payout
//! root and the router's signature on that root, so the payout can be claimed elsewhere on that evidence.

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use meson_core::economics::{payout_leaf, payout_root_message, PAYOUT_ROOT_DOMAIN};
use meson_core::identity::{NodeId, Signature};
use meson_core::merkle;

use crate::site::call;

#[derive(Args)]
pub struct WalletArgs {
    /// The router.
    #[arg(long, env = "MESON_ROUTER", global = true)]
    router: Option<String>,
    #[command(subcommand)]
    command: WalletCommand,
}

#[derive(Subcommand)]
enum WalletCommand {
    /// An account's balance, or a terminal's earnings (balance and payouts per epoch).
    Balance {
        /// A ledger account id.
        #[arg(long, conflicts_with = "terminal")]
        account: Option<String>,
        /// A terminal's node id: its earnings account.
        #[arg(long)]
        terminal: Option<NodeId>,
    },
    /// Fetch an account's payout of an epoch with its Merkle proof, and verify it.
    Proof {
        #[arg(long)]
        epoch: u64,
        #[arg(long)]
        account: String,
    },
}

fn hash32(v: &serde_json::Value, what: &str) -> anyhow::Result<[u8; 32]> {
    v.as_str()
        .and_then(|t| hex::decode(t).ok())
        .and_then(|b| b.try_into().ok())
        .with_context(|| format!("{what} is not 32 hex bytes"))
}

fn number(v: &serde_json::Value, what: &str) -> anyhow::Result<u128> {
    v.as_str()
        .and_then(|t| t.parse().ok())
        .with_context(|| format!("{what} is not a number"))
}

pub fn run(args: WalletArgs) -> anyhow::Result<()> {
    let Some(router) = args.router else {
        bail!("--router is required (or MESON_ROUTER)");
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        match args.command {
            WalletCommand::Balance { account, terminal } => match (account, terminal) {
                (Some(id), None) => {
                    let a = call(&router, "GET", &format!("/v1/ledger/accounts/{id}"), None, None).await?;
                    println!("account {id} ({})", a["kind"].as_str().unwrap_or(""));
                    println!("  balance   {}", a["balance"].as_str().unwrap_or("-"));
                    println!("  available {}", a["available"].as_str().unwrap_or("-"));
                }
                (None, Some(node)) => {
                    let e = call(&router, "GET", &format!("/v1/terminals/{node}/earnings"), None, None).await?;
                    println!("terminal {node}, earnings account {}", e["account"].as_str().unwrap_or(""));
                    println!("  balance {}", e["balance"]["balance"].as_str().unwrap_or("0"));
                    for row in e["epochs"].as_array().into_iter().flatten() {
                        println!(
                            "  epoch {} ({} bytes): earned {}{}",
                            row["epoch"],
                            row["bytes"],
                            row["earned"].as_str().unwrap_or("0"),
                            if row["settled"] == true { "" } else { " (not settled yet)" }
                        );
                    }
                }
                _ => bail!("give --account ID or --terminal NODE_ID"),
            },
            WalletCommand::Proof { epoch, account } => {
                let p = call(&router, "GET", &format!("/v1/ledger/payouts/{epoch}/proof/{account}"), None, None).await?;
                let signed = call(&router, "GET", &format!("/v1/ledger/payouts/{epoch}"), None, None).await?;
                let router_id: NodeId = serde_json::from_value(call(&router, "GET", "/v1/router", None, None).await?["id"].clone())
                    .context("reading the router's id")?;
                let index = p["index"].as_u64().context("no index")?;
                let size = p["size"].as_u64().context("no size")?;
                let amount = number(&p["amount"], "amount")?;
                let acct = number(&p["account"], "account")?;
                let root = hash32(&signed["root"], "root")?;
                let path = p["path"]
                    .as_array()
                    .context("no path")?
                    .iter()
                    .map(|h| hash32(h, "path hash"))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let leaf = merkle::leaf_hash(&payout_leaf(epoch, index, acct, amount));
                if !merkle::verify_inclusion(index, size, &leaf, &path, &root) {
                    bail!("the proof does not lead to the epoch's payout root");
                }
                let sig: Signature = signed["signature"]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .context("no signature on the payout root")?;
                router_id
                    .verify(PAYOUT_ROOT_DOMAIN, &payout_root_message(epoch, size, &root), &sig)
                    .context("the payout root is not signed by the router")?;
                println!("payout verified: epoch {epoch}, account {acct}, amount {} (leaf {index} of {size})", meson_core::ledger::format_amount(amount));
                println!("  root      {}", hex::encode(root));
                println!("  signed by {router_id}");
            }
        }
        Ok(())
    })
}
