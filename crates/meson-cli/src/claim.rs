//! `meson-cdn claim`: file a claim with its evidence and a bond, follow it, appeal it, and re-check it.
//!
//! `verify` re-runs, here and offline once fetched, every check the router and the council made: the
//! evidence's BLAKE3 is the claim's id; objective evidence verifies by [`evidence::verify`]; a probe
//! record judges the accused faulty by [`probe::judge`]; each member's vote is signed by that member,
//! names this claim, and says what its own attached record judges; and the votes of each round, counted
//! by [`Tally`], give the decision the claim shows. There is no trusted execution environment here, so
//! this is what stands in for one: every check is deterministic, and anyone holding the stored evidence
//! gets the same answers.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use meson_api::claims::{ClaimDetail, ClaimKind, ClaimList, FileClaim, Outcome, PhaseName};
use meson_api::RouterInfo;
use meson_core::council::{Appeal, APPEAL, VOTE};
use meson_core::evidence::{self, Evidence};
use meson_core::identity::NodeId;
use meson_core::probe;
use meson_core::signed::SignedMessage;
use meson_ledger::claim_life::Tally;
use meson_ledger::claims::claim_id;
use meson_ledger::parse_amount;
use meson_ledger::tx::TxAction;

use crate::client::{get, get_bytes, post};
use crate::wallet::{load_key, signed_tx, KeyHolder};

#[derive(Args)]
pub struct ClaimArgs {
    #[command(flatten)]
    id: KeyHolder,
    #[command(subcommand)]
    command: ClaimCommand,
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    /// Objective evidence (`meson-cdn evidence` kinds): upheld at once when it verifies.
    Objective,
    /// A probe record, for the council.
    Council,
}

#[derive(Subcommand)]
enum ClaimCommand {
    /// File a claim: its evidence and a bond on it from the wallet.
    File {
        #[arg(long, value_enum)]
        kind: Kind,
        /// The evidence as JSON, sent byte for byte (its BLAKE3 is the claim's id).
        #[arg(long)]
        evidence: PathBuf,
        /// The accused terminal's public key.
        #[arg(long)]
        accused: NodeId,
        /// Tokens bonded on the claim (lost if it is rejected).
        #[arg(long, default_value = "1")]
        bond: String,
    },
    /// Claims, oldest first.
    List {
        /// Only those whose verdict has not executed.
        #[arg(long)]
        open: bool,
        #[arg(long, conflicts_with = "open")]
        accused: Option<NodeId>,
        #[arg(long, conflicts_with_all = ["open", "accused"])]
        hunter: Option<NodeId>,
    },
    /// One claim: its phase, count, votes and what its verdict moved.
    Show { claim: String },
    /// Re-run every check of a claim from its stored evidence and votes.
    Verify { claim: String },
    /// Appeal a decided claim (the losing party: the accused's key, or the hunter's).
    Appeal { claim: String },
}

/// File a claim from its evidence text and a bond, as the hunter's wallet.
pub(crate) async fn file(
    router: &str,
    key: &std::path::Path,
    network: &str,
    kind: ClaimKind,
    evidence: String,
    accused: NodeId,
    bond: u128,
) -> anyhow::Result<ClaimDetail> {
    let claim = claim_id(evidence.as_bytes());
    let bond = signed_tx(
        key,
        network,
        TxAction::Bond {
            claim,
            accused,
            amount: bond,
        },
    )?;
    post(
        router,
        "/v1/claims",
        None,
        &FileClaim {
            kind,
            evidence,
            bond,
        },
    )
    .await
}

fn phase_text(c: &ClaimDetail) -> String {
    let p = &c.phase;
    let name = match p.phase {
        PhaseName::Filed => "filed".to_owned(),
        PhaseName::UnderReview => format!("under review (round {})", p.round.unwrap_or(1)),
        PhaseName::Decided => format!(
            "decided {} (round {})",
            outcome_text(p.outcome),
            p.round.unwrap_or(1)
        ),
        PhaseName::Final => format!("final: {}", outcome_text(p.outcome)),
        PhaseName::Expired => "expired (no quorum)".to_owned(),
    };
    match p.until {
        Some(until) => format!("{name} until {until}"),
        None => name,
    }
}

fn outcome_text(o: Option<Outcome>) -> &'static str {
    match o {
        Some(Outcome::Upheld) => "upheld",
        Some(Outcome::Rejected) => "rejected",
        None => "-",
    }
}

fn print(c: &ClaimDetail) {
    let kind = match c.kind {
        ClaimKind::Objective => "objective",
        ClaimKind::Council => "council",
    };
    println!("claim {} ({kind}): {}", c.claim, phase_text(c));
    println!("  accused  {}", c.accused);
    println!("  hunter   {}", c.hunter);
    println!("  bond     {} (filed at {})", c.bond, c.filed_at);
    if let Some(t) = &c.tally {
        println!(
            "  round {}: {} upheld, {} rejected, {} needed of {} eligible{}",
            t.round,
            t.upheld,
            t.rejected,
            t.need,
            t.eligible.len(),
            if t.recused.is_empty() {
                String::new()
            } else {
                format!(
                    " ({} recused: {})",
                    t.recused.len(),
                    t.recused
                        .iter()
                        .map(NodeId::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        );
    }
    for v in &c.votes {
        println!(
            "  vote     round {} {} by {} at {}",
            v.round,
            if v.upheld { "upheld" } else { "rejected" },
            v.member,
            v.at
        );
    }
    if let Some(e) = &c.executed {
        println!(
            "  executed slashed {} ({} refunded, {} to the hunter); bond of {} {}",
            e.slashed,
            e.refunded,
            e.reward,
            e.bond,
            if e.bond_returned {
                "returned"
            } else {
                "forfeited"
            }
        );
    }
}

/// Every check of `c`, re-run on its stored evidence and votes; the problems found.
async fn verify(router: &str, c: &ClaimDetail) -> anyhow::Result<Vec<String>> {
    let router_id = get::<RouterInfo>(router, "/v1/router", None).await?.id;
    let evidence = get_bytes(router, &c.evidence_url).await?;
    let mut problems = Vec::new();
    let id = hex::encode(claim_id(&evidence));
    if id != c.claim {
        problems.push(format!("the evidence's BLAKE3 is {id}, not the claim's id"));
    }
    let text = std::str::from_utf8(&evidence).context("the evidence is not UTF-8")?;
    match c.kind {
        ClaimKind::Objective => {
            let ev: Evidence = serde_json::from_str(text).context("the objective evidence")?;
            match evidence::verify(&ev, &router_id) {
                Ok(f) if f.terminal == c.accused => {
                    println!("evidence: {} proves {}", ev.kind().as_str(), f.proves)
                }
                Ok(f) => problems.push(format!("the evidence accuses {}", f.terminal)),
                Err(e) => problems.push(format!("the evidence does not verify: {e}")),
            }
        }
        ClaimKind::Council => {
            let rec: probe::Record = serde_json::from_str(text).context("the probe record")?;
            let j = probe::judge(&rec, &router_id, &probe::Rule::default())?;
            println!(
                "hunter's record: {} probes of {}{}: {}",
                rec.probes.len(),
                rec.host,
                rec.path,
                j.why
            );
            if !j.faulty || j.accused != c.accused {
                problems.push("the hunter's record does not show the accused faulty".into());
            }
        }
    }
    let mut rounds: std::collections::BTreeMap<u8, (usize, usize)> = Default::default();
    for v in &c.votes {
        let checked = v.signed.verify_signature(VOTE);
        let line = match checked {
            Err(e) => Err(format!("its signature does not verify: {e}")),
            Ok(signed) if signed.signer != v.member => {
                Err(format!("it is signed by {}", signed.signer))
            }
            Ok(signed) if signed.body.claim != c.claim || signed.body.upheld != v.upheld => {
                Err("it names another claim or another vote".to_owned())
            }
            Ok(signed) => serde_json::from_str::<probe::Record>(&signed.body.record)
                .map_err(|e| format!("its record: {e}"))
                .and_then(|rec| {
                    probe::judge(&rec, &router_id, &probe::Rule::default())
                        .map_err(|e| format!("its record: {e}"))
                })
                .and_then(|j| {
                    if j.accused != c.accused {
                        Err(format!("its record is of {}", j.accused))
                    } else if j.faulty != v.upheld {
                        Err(format!("its own record judges otherwise: {}", j.why))
                    } else {
                        Ok(j.why)
                    }
                }),
        };
        match line {
            Ok(why) => {
                let tally = rounds.entry(v.round).or_default();
                if v.upheld {
                    tally.0 += 1;
                } else {
                    tally.1 += 1;
                }
                println!(
                    "vote of {} (round {}): {}, as its record shows: {why}",
                    v.member,
                    v.round,
                    if v.upheld { "upheld" } else { "rejected" }
                );
            }
            Err(why) => problems.push(format!("the vote of {}: {why}", v.member)),
        }
    }
    if let Some(t) = &c.tally {
        let keys: Vec<[u8; 32]> = t.eligible.iter().map(|m| *m.as_bytes()).collect();
        let mut count = Tally::new(&keys, c.accused.as_bytes(), c.hunter.as_bytes());
        for v in c.votes.iter().filter(|v| v.round == t.round) {
            if let Err(e) = count.record(v.member.as_bytes(), v.upheld) {
                problems.push(format!("the vote of {} does not count: {e}", v.member));
            }
        }
        let decides = count.decides();
        println!(
            "round {}: {} of {} needed; the count decides {}",
            t.round,
            count.need(),
            keys.len(),
            match decides {
                Some(meson_ledger::claim_life::Outcome::Upheld) => "upheld",
                Some(meson_ledger::claim_life::Outcome::Rejected) => "rejected",
                None => "nothing",
            }
        );
        let shown = c.phase.outcome;
        use meson_ledger::claim_life::Outcome as Decides;
        let agrees = match (decides, shown, c.phase.phase) {
            (_, _, PhaseName::UnderReview) => decides.is_none(),
            (Some(Decides::Upheld), Some(Outcome::Upheld), _)
            | (Some(Decides::Rejected), Some(Outcome::Rejected), _) => true,
            // Closed at the deadline without two thirds: rejected when enough voted, else expired;
            // never upheld.
            (None, Some(Outcome::Rejected), _) | (None, None, PhaseName::Expired) => true,
            _ => false,
        };
        if !agrees {
            problems.push(format!(
                "the votes decide otherwise than the claim shows ({})",
                phase_text(c)
            ));
        }
    }
    Ok(problems)
}

pub fn run(args: ClaimArgs) -> anyhow::Result<()> {
    let router = args.id.router()?;
    let rt = crate::client::runtime()?;
    rt.block_on(async move {
        match args.command {
            ClaimCommand::File {
                kind,
                evidence,
                accused,
                bond,
            } => {
                let text = std::fs::read_to_string(&evidence)
                    .with_context(|| format!("reading the evidence {}", evidence.display()))?;
                let bond = parse_amount(&bond).with_context(|| format!("--bond {bond:?}"))?;
                let kind = match kind {
                    Kind::Objective => ClaimKind::Objective,
                    Kind::Council => ClaimKind::Council,
                };
                let c = file(
                    &router,
                    &args.id.key,
                    &args.id.network,
                    kind,
                    text,
                    accused,
                    bond,
                )
                .await?;
                print(&c);
            }
            ClaimCommand::List {
                open,
                accused,
                hunter,
            } => {
                let query = match (open, accused, hunter) {
                    (true, _, _) => "?open=true".to_owned(),
                    (_, Some(a), _) => format!("?accused={a}"),
                    (_, _, Some(h)) => format!("?hunter={h}"),
                    _ => String::new(),
                };
                let list: ClaimList = get(&router, &format!("/v1/claims{query}"), None).await?;
                if list.claims.is_empty() {
                    println!("no claims");
                }
                for c in &list.claims {
                    println!("{} {} against {}", c.claim, phase_text(c), c.accused);
                }
            }
            ClaimCommand::Show { claim } => {
                let c: ClaimDetail = get(&router, &format!("/v1/claims/{claim}"), None).await?;
                print(&c);
            }
            ClaimCommand::Verify { claim } => {
                let c: ClaimDetail = get(&router, &format!("/v1/claims/{claim}"), None).await?;
                print(&c);
                let problems = verify(&router, &c).await?;
                if !problems.is_empty() {
                    for p in &problems {
                        eprintln!("problem: {p}");
                    }
                    bail!(
                        "claim {claim} does not check out ({} problems)",
                        problems.len()
                    );
                }
                println!("every check of claim {claim} gives the same answer here");
            }
            ClaimCommand::Appeal { claim } => {
                let key = load_key(&args.id.key)?;
                let msg = SignedMessage::sign(
                    &key,
                    APPEAL,
                    meson_node::unix_now(),
                    rand::random(),
                    &Appeal {
                        network: args.id.network.clone(),
                        claim: claim.clone(),
                    },
                )?;
                let c: ClaimDetail =
                    post(&router, &format!("/v1/claims/{claim}/appeal"), None, &msg).await?;
                print(&c);
            }
        }
        Ok(())
    })
}
