//! `meson-cdn ledger mint|slash|verdict|correct`: what the router's operator does to the ledger, with the
//! operator token the router wrote into its data directory. Each is one call to the router's API; the
//! router checks the token, applies the transfers once (ids come from the purchase, the evidence, the
//! claim or the corrected transfer, so a command run twice changes nothing twice) and says why it refuses.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use meson_core::identity::NodeId;
use serde_json::{json, Value};

use crate::site::call;

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
    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let token = std::fs::read_to_string(&self.operator_token).with_context(|| {
            format!(
                "reading the operator token {} (the router's DATA_DIR/operator.token)",
                self.operator_token.display()
            )
        })?;
        call(&self.router, "POST", path, Some(token.trim()), Some(body)).await
    }
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
    /// Operator, until the council judges: uphold a claim (slashing the accused) or reject it (its bond
    /// goes to the treasury).
    Verdict {
        #[command(flatten)]
        op: Operator,
        /// The claim's id (64 hex digits).
        claim: String,
        /// Uphold the claim and slash this many tokens of the accused's stake.
        #[arg(
            long,
            value_name = "TOKENS",
            conflicts_with = "reject",
            required_unless_present = "reject"
        )]
        uphold: Option<String>,
        /// Reject the claim.
        #[arg(long)]
        reject: bool,
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
        OperatorCommand::Mint {
            op,
            id,
            to,
            owner,
            amount,
        } => {
            let mut body = json!({"id": id.to_string(), "amount": amount});
            match (to, owner) {
                (Some(to), None) => body["to"] = json!(to.to_string()),
                (None, Some(owner)) => body["owner"] = json!(owner),
                _ => bail!("give --to ACCOUNT or --owner PUBLIC_KEY"),
            }
            let r = op.post("/v1/ledger/mint", body).await?;
            let outcome = r["outcome"].as_str().unwrap_or("");
            println!(
                "minted {} into account {}{}",
                r["amount"].as_str().unwrap_or(""),
                r["account"].as_str().unwrap_or(""),
                if outcome == "exists" {
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
            let evidence: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", evidence.display()))?;
            let body = json!({"owner": owner, "amount": amount, "claimant": claimant.to_string(), "evidence": evidence});
            let r = op.post("/v1/ledger/slash", body).await?;
            println!(
                "slashed {} of {owner}: {} to the claimant, {} burned, {} to the treasury",
                r["slashed"].as_str().unwrap_or(""),
                r["claimant"].as_str().unwrap_or(""),
                r["burned"].as_str().unwrap_or(""),
                r["treasury"].as_str().unwrap_or("")
            );
        }
        OperatorCommand::Verdict {
            op,
            claim,
            uphold,
            reject,
        } => {
            let body = match (uphold, reject) {
                (Some(tokens), false) => json!({"upheld": true, "slash": tokens}),
                (None, true) => json!({"upheld": false}),
                _ => bail!("give --uphold TOKENS or --reject"),
            };
            let r = op
                .post(&format!("/v1/ledger/claims/{claim}/verdict"), body)
                .await?;
            if r["verdict"] == "upheld" {
                let slashed = match &r["slashed"] {
                    Value::Object(o) => format!(
                        "slashed {} ({} to the hunter)",
                        o["amount"].as_str().unwrap_or(""),
                        o["claimant"].as_str().unwrap_or("")
                    ),
                    other => format!("slashed nothing ({})", other.as_str().unwrap_or("")),
                };
                println!(
                    "claim {claim} upheld: {slashed}; bond of {} returned",
                    r["bond_returned"].as_str().unwrap_or("")
                );
            } else {
                println!(
                    "claim {claim} rejected: bond of {} forfeited to the treasury",
                    r["forfeited"].as_str().unwrap_or("")
                );
            }
        }
        OperatorCommand::Correct {
            op,
            reverses,
            amount,
        } => {
            let mut body = json!({"reverses": reverses.to_string()});
            if let Some(a) = amount {
                body["amount"] = json!(a);
            }
            let r = op.post("/v1/ledger/correct", body).await?;
            println!(
                "transfer {reverses} corrected by {} ({}): {} from {} to {}",
                r["transfer"].as_str().unwrap_or(""),
                r["code"].as_str().unwrap_or(""),
                r["amount"].as_str().unwrap_or(""),
                r["from"].as_str().unwrap_or(""),
                r["to"].as_str().unwrap_or("")
            );
        }
    }
    Ok(())
}
