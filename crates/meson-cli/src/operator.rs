//! `meson-cdn ledger mint|slash|correct|withheld`: what the router's operator does to the ledger, with the
//! operator token the router wrote into its data directory. Each is one call to the router's API; the
//! router checks the token, applies the transfers once (ids come from the purchase, the evidence, the
//! claim or the corrected transfer, so a command run twice changes nothing twice) and says why it refuses.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use meson_api::ledger::{CorrectRequest, Corrected, MintRequest, Minted, SlashRequest, Slashed};
use meson_api::traffic::{GroupReviewRequest, ReviewAction, ReviewRequest, Reviewed, WithheldList};
use meson_core::identity::NodeId;
use meson_ledger::Outcome;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::client::{get, post};

#[derive(Args)]
pub struct Operator {
    /// The router.
    #[arg(long, env = "MESON_ROUTER")]
    router: String,
    /// The router's operator token (written by the router into DATA_DIR/operator.token).
    #[arg(
        long,
        env = "MESON_OPERATOR_TOKEN",
        default_value = "meson-router-data/operator.token"
    )]
    operator_token: PathBuf,
}

impl Operator {
    fn token(&self) -> anyhow::Result<String> {
        let token = std::fs::read_to_string(&self.operator_token).with_context(|| {
            format!(
                "reading the operator token {} (the router's DATA_DIR/operator.token)",
                self.operator_token.display()
            )
        })?;
        Ok(token.trim().to_owned())
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> anyhow::Result<T> {
        post(&self.router, path, Some(&self.token()?), body).await
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        get(&self.router, path, Some(&self.token()?)).await
    }
}

/// What to do with usage the share cap withheld.
#[derive(Subcommand)]
pub enum WithheldCommand {
    /// List withheld usage, the latest epoch first.
    List {
        /// withheld (awaiting review), released, rejected or all.
        #[arg(long, default_value = "withheld")]
        state: String,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Pay it, in the current epoch: by serial, or everything one epoch withheld of a terminal for a site.
    Release(Selection),
    /// Never pay it (nothing is slashed: concentrated traffic is not evidence).
    Reject(Selection),
}

/// One record by its serial, or one (site, terminal, epoch).
#[derive(Args)]
pub struct Selection {
    /// The record's ticket serial.
    #[arg(conflicts_with_all = ["site", "node", "epoch"], required_unless_present_all = ["site", "node", "epoch"])]
    serial: Option<u64>,
    /// The site's host (or its id, if it was removed).
    #[arg(long, requires_all = ["node", "epoch"])]
    site: Option<String>,
    /// The terminal's node id.
    #[arg(long)]
    node: Option<String>,
    /// The epoch whose settlement withheld it.
    #[arg(long)]
    epoch: Option<u64>,
}

impl Selection {
    async fn review(self, op: &Operator, action: ReviewAction) -> anyhow::Result<Reviewed> {
        match (self.serial, self.site, self.node, self.epoch) {
            (Some(serial), ..) => {
                op.post(
                    &format!("/v1/usage/withheld/{serial}"),
                    &ReviewRequest { action },
                )
                .await
            }
            (None, Some(site), Some(node_id), Some(epoch)) => {
                let body = GroupReviewRequest {
                    action,
                    site,
                    node_id,
                    epoch,
                };
                op.post("/v1/usage/withheld", &body).await
            }
            _ => bail!("give a serial, or --site, --node and --epoch"),
        }
    }
}

async fn withheld(op: Operator, command: WithheldCommand) -> anyhow::Result<()> {
    let (selection, action) = match command {
        WithheldCommand::List { state, limit } => {
            let list: WithheldList = op
                .get(&format!("/v1/usage/withheld?state={state}&limit={limit}"))
                .await?;
            println!(
                "{:>20} {:>8} {:<10} {:<30} {:<64} {:<18} {:>14}",
                "serial", "epoch", "state", "site", "terminal", "prefix", "bytes"
            );
            for r in &list.records {
                println!(
                    "{:>20} {:>8} {:<10} {:<30} {:<64} {:<18} {:>14}",
                    r.serial, r.epoch, r.state, r.site, r.node_id, r.prefix, r.bytes
                );
            }
            if let Some(r) = list.records.first() {
                println!("why: {}", r.reason);
            }
            return Ok(());
        }
        WithheldCommand::Release(s) => (s, ReviewAction::Release),
        WithheldCommand::Reject(s) => (s, ReviewAction::Reject),
    };
    let r = selection.review(&op, action).await?;
    println!(
        "{}: {} records ({} bytes) now; {} were already, {} were decided the other way and stay so",
        meson_api::label(&r.action),
        r.changed,
        r.bytes,
        r.already,
        r.other
    );
    Ok(())
}

#[derive(Subcommand)]
pub enum OperatorCommand {
    /// Operator: mint tokens a customer bought into an account or a key's wallet.
    Mint {
        #[command(flatten)]
        op: Operator,
        /// The purchase's id (a number): the same id mints once.
        #[arg(long)]
        id: u128,
        /// An account id.
        #[arg(long, conflicts_with = "owner", required_unless_present = "owner")]
        to: Option<u128>,
        /// A public key: its wallet account.
        #[arg(long)]
        owner: Option<NodeId>,
        /// Tokens, up to 9 decimals.
        #[arg(long)]
        amount: String,
    },
    /// Operator: slash a staker for objective evidence (a JSON file); one piece of evidence slashes once.
    Slash {
        #[command(flatten)]
        op: Operator,
        /// The staker's public key.
        #[arg(long)]
        owner: NodeId,
        /// Tokens of the stake to slash (at most what is at stake is taken).
        #[arg(long)]
        amount: String,
        /// The account paid the claimant's share.
        #[arg(long)]
        claimant: u128,
        /// The evidence, a JSON file.
        #[arg(long)]
        evidence: PathBuf,
    },
    /// Operator: review usage withheld because too much of a terminal's traffic for a site came from a
    /// few client prefixes: list it, release it (paid now) or reject it (never paid).
    Withheld {
        #[command(flatten)]
        op: Operator,
        #[command(subcommand)]
        command: WithheldCommand,
    },
    /// Operator: fix a mistaken transfer with one the other way (a burn, for a mint).
    Correct {
        #[command(flatten)]
        op: Operator,
        /// The mistaken transfer's id.
        #[arg(long)]
        reverses: u128,
        /// Tokens to move back [default: all it moved].
        #[arg(long)]
        amount: Option<String>,
    },
}

pub async fn run(command: OperatorCommand) -> anyhow::Result<()> {
    match command {
        OperatorCommand::Withheld { op, command } => withheld(op, command).await?,
        OperatorCommand::Mint {
            op,
            id,
            to,
            owner,
            amount,
        } => {
            if to.is_some() == owner.is_some() {
                bail!("give --to ACCOUNT or --owner PUBLIC_KEY");
            }
            let body = MintRequest {
                id,
                to,
                owner,
                amount,
            };
            let r: Minted = op.post("/v1/ledger/mint", &body).await?;
            println!(
                "minted {} into account {}{}",
                r.amount,
                r.account,
                if r.outcome == Outcome::Exists {
                    " (purchase already minted: nothing new)"
                } else {
                    ""
                }
            );
        }
        OperatorCommand::Slash {
            op,
            owner,
            amount,
            claimant,
            evidence,
        } => {
            let text = std::fs::read_to_string(&evidence)
                .with_context(|| format!("reading the evidence {}", evidence.display()))?;
            let evidence: meson_core::evidence::Evidence = serde_json::from_str(&text)
                .with_context(|| format!("{} is not evidence", evidence.display()))?;
            let body = SlashRequest {
                owner,
                amount,
                claimant,
                evidence,
            };
            let r: Slashed = op.post("/v1/ledger/slash", &body).await?;
            println!(
                "slashed {} of {owner}: {} refunded to the cheated sites, {} to the claimant, {} burned, {} to the treasury",
                r.slashed, r.refunded, r.claimant, r.burned, r.treasury
            );
        }
        OperatorCommand::Correct {
            op,
            reverses,
            amount,
        } => {
            let body = CorrectRequest { reverses, amount };
            let r: Corrected = op.post("/v1/ledger/correct", &body).await?;
            println!(
                "transfer {reverses} corrected by {} ({}): {} from {} to {}",
                r.transfer,
                meson_api::label(&r.code),
                r.amount,
                r.from,
                r.to
            );
        }
    }
    Ok(())
}
