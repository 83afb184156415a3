//! `meson-cdn council`: a member's process, the council as it stands, and ballots in its elections.
//!
//! `run` watches the router's open claims. For each council claim under review in which this member is
//! eligible and has not voted, it re-probes the accused itself (containment, as Storj re-audits a node
//! before a failure counts): it asks the router for a ticket to the accused for the claim's object from
//! its own address (`POST /v1/claims/{id}/probe`), fetches it `--probes` times exactly as a client does,
//! judges its own record with [`probe::judge`] (the code the hunter and the router ran), and votes what
//! that record shows, the record attached and the vote signed. A member whose key is the accused's or
//! the hunter's is not eligible: it recuses, and says so once.

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use meson_api::claims::{ClaimDetail, ClaimKind, ClaimList, PhaseName, ProbeTicketIssued};
use meson_api::council::{BallotAccepted, CouncilView, ElectionView};
use meson_api::RouterInfo;
use meson_core::council::{Ballot, ProbeTicket, Vote, BALLOT, PROBE_TICKET, VOTE};
use meson_core::identity::{NodeId, NodeKey};
use meson_core::probe::{self, Record};

use crate::client::{get, get_bytes, post};
use crate::probing::{self, Prober};
use crate::signals::Stop;
use crate::wallet::{load_key, sign, KeyHolder};

#[derive(Args)]
pub struct CouncilArgs {
    #[command(flatten)]
    id: KeyHolder,
    #[command(subcommand)]
    command: CouncilCommand,
}

#[derive(Subcommand)]
enum CouncilCommand {
    /// Serve as a member: re-probe the accused of each claim under review and vote.
    Run {
        /// An address re-probes leave from (each ticket is for the address that asked for it); repeat
        /// to spread a claim's probes over several client prefixes, as a terminal may cheat only some.
        #[arg(long = "source", value_name = "IP")]
        sources: Vec<IpAddr>,
        /// Fetches of the accused per claim.
        #[arg(long, default_value_t = 3)]
        probes: usize,
        /// Seconds between looks at the open claims.
        #[arg(long, default_value_t = 5)]
        interval_secs: u64,
        /// Seconds the accused has to answer a fetch.
        #[arg(long, default_value_t = 5)]
        timeout_secs: u64,
    },
    /// The seated council and the election of the next term.
    Show,
    /// Vote in the election of a term's council: approve up to the number of seats.
    Ballot {
        /// The term whose council is elected [default: the next one].
        #[arg(long)]
        term: Option<u64>,
        /// A candidate's public key; repeat for each.
        #[arg(long = "candidate", required = true)]
        candidates: Vec<NodeId>,
    },
}

struct Member {
    router: String,
    network: String,
    key: NodeKey,
    router_id: NodeId,
    /// One per source address; a claim's probes go round them.
    probers: Vec<Prober>,
    probes: usize,
    recused: HashSet<String>,
}

impl Member {
    /// Re-probes the accused of `c` and votes what the record shows; Ok(false) when not eligible.
    async fn review(&mut self, c: &ClaimDetail, round: u8) -> anyhow::Result<bool> {
        let me = self.key.id();
        let id = &c.claim;
        let evidence = get_bytes(&self.router, &c.evidence_url).await?;
        let hunter: Record = serde_json::from_slice(&evidence).context("the claim's record")?;
        let known = probing::known(&self.router, &hunter.host, &hunter.path).await;
        let mut probes = Vec::new();
        for i in 0..self.probes.max(1) {
            let prober = &self.probers[i % self.probers.len()];
            let ask = sign(
                &self.key,
                PROBE_TICKET,
                &ProbeTicket {
                    network: self.network.clone(),
                    claim: id.clone(),
                },
            )?;
            let ticket: ProbeTicketIssued = prober
                .post(&self.router, &format!("/v1/claims/{id}/probe"), &ask)
                .await?;
            probes.push(prober.probe(ticket.terminal, &ticket.url).await);
        }
        let record = Record {
            host: hunter.host,
            path: hunter.path,
            known,
            probes,
        };
        let judged = probe::judge(&record, &self.router_id, &probe::Rule::default())?;
        let vote = sign(
            &self.key,
            VOTE,
            &Vote {
                network: self.network.clone(),
                claim: id.clone(),
                round,
                upheld: judged.faulty,
                record: serde_json::to_string(&record)?,
            },
        )?;
        let after: ClaimDetail =
            post(&self.router, &format!("/v1/claims/{id}/votes"), None, &vote).await?;
        eprintln!(
            "{me} voted {} on claim {id} (round {round}): {}; the claim is now {:?}",
            if judged.faulty { "upheld" } else { "rejected" },
            judged.why,
            after.phase.phase
        );
        Ok(true)
    }

    async fn pass(&mut self) -> anyhow::Result<()> {
        let me = self.key.id();
        let open: ClaimList = get(&self.router, "/v1/claims?open=true", None).await?;
        for c in open.claims {
            if c.kind != ClaimKind::Council || c.phase.phase != PhaseName::UnderReview {
                continue;
            }
            let Some(t) = &c.tally else { continue };
            if c.votes.iter().any(|v| v.member == me && v.round == t.round) {
                continue;
            }
            if !t.eligible.contains(&me) {
                if t.recused.contains(&me) && self.recused.insert(c.claim.clone()) {
                    eprintln!(
                        "{me} recuses from claim {}: it is a party to it (the accused's or the hunter's key)",
                        c.claim
                    );
                }
                continue;
            }
            if let Err(e) = self.review(&c, t.round).await {
                eprintln!("{me} could not review claim {}: {e:#}", c.claim);
            }
        }
        Ok(())
    }
}

pub fn run(args: CouncilArgs) -> anyhow::Result<()> {
    let router = args.id.router()?;
    let rt = crate::client::runtime()?;
    rt.block_on(async move {
        match args.command {
            CouncilCommand::Run {
                sources,
                probes,
                interval_secs,
                timeout_secs,
            } => {
                let stop = Stop::install()?;
                let key = load_key(&args.id.key)?;
                let timeout = Duration::from_secs(timeout_secs.max(1));
                let router_id = get::<RouterInfo>(&router, "/v1/router", None).await?.id;
                eprintln!("council member {} watching {router}", key.id());
                let mut member = Member {
                    router,
                    network: args.id.network,
                    key,
                    router_id,
                    probers: if sources.is_empty() {
                        vec![Prober::new(None, timeout)]
                    } else {
                        sources
                            .iter()
                            .map(|s| Prober::new(Some(*s), timeout))
                            .collect()
                    },
                    probes,
                    recused: HashSet::new(),
                };
                let stopped = stop.wait();
                tokio::pin!(stopped);
                loop {
                    if let Err(e) = member.pass().await {
                        eprintln!("cannot read the open claims: {e:#}");
                    }
                    tokio::select! {
                        _ = &mut stopped => break,
                        _ = tokio::time::sleep(Duration::from_secs(interval_secs.max(1))) => {}
                    }
                }
            }
            CouncilCommand::Show => {
                let c: CouncilView = get(&router, "/v1/council", None).await?;
                println!(
                    "term {} ({} to {}), {} seats",
                    c.term, c.start, c.end, c.seats
                );
                match &c.members {
                    Some(m) if !m.is_empty() => {
                        for s in m {
                            println!("  seated {} (elected with {})", s.member, s.approval);
                        }
                    }
                    Some(_) => println!("  nobody seated this term"),
                    None => println!("  not seated yet"),
                }
                print_election(&c.next);
            }
            CouncilCommand::Ballot { term, candidates } => {
                let key = load_key(&args.id.key)?;
                let term = match term {
                    Some(t) => t,
                    None => get::<CouncilView>(&router, "/v1/council", None).await?.term + 1,
                };
                let msg = sign(
                    &key,
                    BALLOT,
                    &Ballot {
                        network: args.id.network.clone(),
                        term,
                        candidates,
                    },
                )?;
                let r: BallotAccepted = post(
                    &router,
                    &format!("/v1/council/elections/{term}/ballots"),
                    None,
                    &msg,
                )
                .await?;
                println!(
                    "ballot for term {} counted with {} tokens of voting power for {} candidates",
                    r.term,
                    r.power,
                    r.candidates.len()
                );
            }
        }
        Ok(())
    })
}

fn print_election(e: &ElectionView) {
    println!(
        "election of term {}: ballots from {} to {}, {} seats",
        e.term, e.opens_at, e.closes_at, e.seats
    );
    match (e.opened_at, &e.snapshot_digest) {
        (Some(at), Some(digest)) => println!(
            "  snapshot of {} voters taken at {at} (BLAKE3 {digest}); {} ballots",
            e.voters, e.ballots
        ),
        _ => println!("  not opened yet"),
    }
    for c in &e.count {
        println!(
            "  {} approval {} locked {}{}",
            c.candidate,
            c.approval,
            c.locked,
            if c.seated {
                " (seated by the count so far)"
            } else {
                ""
            }
        );
    }
}
