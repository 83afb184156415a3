//! `meson-cdn ledger mint|slash|verdict|correct`: what the router's operator does to the ledger, with the
//! operator token the router wrote into its data directory. Each is one call to the router's API; the
//! router checks the token, applies the transfers once (ids come from the purchase, the evidence, the
//! claim or the corrected transfer, so a command run twice changes nothing twice) and says why it refuses.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use meson_api::claims::{NoSlash, Verdict, VerdictRequest, VerdictSlash};
use meson_api::ledger::{CorrectRequest, Corrected, MintRequest, Minted, SlashRequest, Slashed};
use meson_core::identity::NodeId;
use meson_ledger::Outcome;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::client::post;

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
    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> anyhow::Result<T> {
        let token = std::fs::read_to_string(&self.operator_token).with_context(|| {
            format!(
                "reading the operator token {} (the router's DATA_DIR/operator.token)",
                self.operator_token.display()
            )
        })?;
        post(&self.router, path, Some(token.trim()), body).await
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
        OperatorCommand::Verdict {
            op,
            claim,
            uphold,
            reject,
        } => {
            let body = match (uphold, reject) {
                (Some(tokens), false) => VerdictRequest {
                    upheld: true,
                    slash: Some(tokens),
                },
                (None, true) => VerdictRequest {
                    upheld: false,
                    slash: None,
                },
                _ => bail!("give --uphold TOKENS or --reject"),
            };
            let r: Verdict = op
                .post(&format!("/v1/ledger/claims/{claim}/verdict"), &body)
                .await?;
            match r {
                Verdict::Upheld {
                    slashed,
                    bond_returned,
                } => {
                    let slashed = match slashed {
                        VerdictSlash::Slashed(s) => {
                            format!("slashed {} ({} to the hunter)", s.amount, s.claimant)
                        }
                        VerdictSlash::Not(NoSlash::Before) => "slashed nothing (before)".into(),
                        VerdictSlash::Not(NoSlash::NothingAtStake) => {
                            "slashed nothing (nothing at stake)".into()
                        }
                    };
                    println!("claim {claim} upheld: {slashed}; bond of {bond_returned} returned");
                }
                Verdict::Rejected { forfeited, .. } => println!(
                    "claim {claim} rejected: bond of {forfeited} forfeited to the treasury"
                ),
            }
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
