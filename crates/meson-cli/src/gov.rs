//! `meson-cdn gov`: the parameters in force, proposals, votes, vetoes, the timelock queue, the council's
//! delay and the shutdown. Every message is signed with the key holder's key; vetoes and shutdown locks
//! are wallet transactions, so their tokens stay the holder's and come back when the proposal or the
//! shutdown ends.

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use meson_api::gov::{ParamsView, ProposalList, ProposalView, ShutdownStatus};
use meson_core::identity::NodeId;
use meson_ledger::governance::{
    Action, Choice, DelayBody, ProposalBody, ShutdownBody, VoteBody, COUNCIL_DELAY,
    COUNCIL_SHUTDOWN, PROPOSAL, VOTE,
};
use meson_ledger::tx::TxAction;
use meson_ledger::{format_amount, parse_amount};

use crate::client::{get, post};
use crate::wallet::{load_key, send, sign, KeyHolder};

#[derive(Args)]
pub struct GovArgs {
    #[command(flatten)]
    id: KeyHolder,
    #[command(subcommand)]
    command: GovCommand,
}

#[derive(Clone, Copy, ValueEnum)]
enum VoteChoice {
    For,
    Against,
    Abstain,
}

#[derive(Subcommand)]
enum GovCommand {
    /// Every parameter in force: value, unit, hard bounds, the most one proposal moves it.
    Params,
    /// File a proposal (its deposit is reserved from your wallet, returned unless a veto cancels it).
    Propose {
        #[arg(long)]
        title: String,
        /// `NAME=VALUE` in the parameter's unit (`gov params`); repeat for several.
        #[arg(long = "set", value_name = "NAME=VALUE")]
        sets: Vec<String>,
        /// `KEY=TOKENS`: pay from the treasury to a key's wallet.
        #[arg(long = "spend", value_name = "KEY=TOKENS")]
        spends: Vec<String>,
        /// Tokens from the treasury to the holders, paid to stakers pro rata at the next settlement.
        #[arg(long, value_name = "TOKENS")]
        distribute: Option<String>,
        /// Seat a key on the current council.
        #[arg(long = "seat", value_name = "KEY")]
        seats: Vec<NodeId>,
        /// Remove a key from the current council.
        #[arg(long = "unseat", value_name = "KEY")]
        unseats: Vec<NodeId>,
    },
    /// Vote on a proposal with the power your key had when it was filed.
    Vote {
        proposal: String,
        #[arg(value_enum)]
        choice: VoteChoice,
    },
    /// Lock tokens in a proposal's veto escrow until it ends: past the first threshold it waits longer,
    /// past the second it is cancelled.
    Veto {
        proposal: String,
        #[arg(long, value_name = "TOKENS")]
        amount: String,
    },
    /// The passed proposals waiting in the timelock queue, with when each may execute.
    Queue,
    /// One proposal: its actions, tally, veto and timing.
    Show { proposal: String },
    /// Proposals, newest first.
    List {
        /// Only this phase: voting, queued, executed, defeated, cancelled, failed.
        #[arg(long)]
        phase: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// As a council member: delay a queued proposal to the end of its window (two thirds must sign).
    Delay { proposal: String },
    /// The shutdown: show it, lock tokens toward it, or (a council member) signal for it.
    Shutdown {
        /// Lock this many tokens in the open round's escrow (returned when that shutdown expires).
        #[arg(long, value_name = "TOKENS", conflicts_with = "signal")]
        lock: Option<String>,
        /// Sign the council's shutdown signal for the open round.
        #[arg(long)]
        signal: bool,
    },
}

fn tokens(field: &str, text: &str) -> anyhow::Result<u128> {
    parse_amount(text).with_context(|| format!("{field} {text:?}"))
}

fn actions(
    sets: Vec<String>,
    spends: Vec<String>,
    distribute: Option<String>,
    seats: Vec<NodeId>,
    unseats: Vec<NodeId>,
) -> anyhow::Result<Vec<Action>> {
    let mut out = Vec::new();
    for s in sets {
        let (param, value) = s
            .split_once('=')
            .with_context(|| format!("--set {s:?}: NAME=VALUE"))?;
        let value = value.parse().with_context(|| {
            format!("--set {s:?}: the value is a whole number in the parameter's unit")
        })?;
        out.push(Action::Set {
            param: param.into(),
            value,
        });
    }
    for s in spends {
        let (to, amount) = s
            .split_once('=')
            .with_context(|| format!("--spend {s:?}: KEY=TOKENS"))?;
        out.push(Action::Spend {
            to: to
                .parse()
                .with_context(|| format!("--spend {s:?}: the key"))?,
            amount: tokens("--spend", amount)?,
        });
    }
    if let Some(d) = distribute {
        out.push(Action::Distribute {
            amount: tokens("--distribute", &d)?,
        });
    }
    out.extend(seats.into_iter().map(|member| Action::Seat { member }));
    out.extend(unseats.into_iter().map(|member| Action::Unseat { member }));
    anyhow::ensure!(
        !out.is_empty(),
        "a proposal does something: --set, --spend, --distribute, --seat or --unseat"
    );
    Ok(out)
}

fn print_proposal(p: &ProposalView) {
    println!("proposal {} (#{}) {}: {}", p.id, p.number, p.phase, p.title);
    println!(
        "  by {}, deposit {} tokens, filed at {}",
        p.proposer, p.deposit, p.filed_at
    );
    for a in &p.actions {
        match a {
            Action::Set { param, value } => println!("  set {param} = {value}"),
            Action::Spend { to, amount } => {
                println!("  spend {} tokens to {to}", format_amount(*amount))
            }
            Action::Distribute { amount } => {
                println!("  distribute {} tokens to stakers", format_amount(*amount))
            }
            Action::Seat { member } => println!("  seat {member}"),
            Action::Unseat { member } => println!("  unseat {member}"),
        }
    }
    println!(
        "  votes: for {} against {} abstain {} of {} ({} voters; quorum {} bps {}, majority above {} bps); vote ends at {}",
        p.tally.yes,
        p.tally.against,
        p.tally.abstain,
        p.total_power,
        p.voters,
        p.quorum_bps,
        if p.quorum_reached { "reached" } else { "not reached" },
        p.majority_bps,
        p.voting_ends
    );
    println!(
        "  veto: {} tokens locked (delays from {}, cancels from {}){}",
        p.veto,
        p.veto_delay_at,
        p.veto_cancel_at,
        if p.council_delayed {
            "; delayed by the council"
        } else {
            ""
        }
    );
    if let Some(eta) = p.eta {
        println!("  may execute from {eta}");
    }
    if !p.detail.is_empty() {
        println!("  {}", p.detail);
    }
}

pub fn run(args: GovArgs) -> anyhow::Result<()> {
    let router = args.id.router()?;
    let network = args.id.network.clone();
    crate::client::runtime()?.block_on(async move {
        match args.command {
            GovCommand::Params => {
                let v: ParamsView = get(&router, "/v1/gov/params", None).await?;
                println!("parameters in force in epoch {}", v.epoch);
                for p in &v.params {
                    println!(
                        "  {:<24} {:>28} {:<20} [{} .. {}] step {}",
                        p.name, p.value, p.unit, p.min, p.max, p.step
                    );
                }
                for c in &v.changes {
                    let values: Vec<String> =
                        c.values.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    println!("  from epoch {}: {}", c.epoch, values.join(", "));
                }
            }
            GovCommand::Propose {
                title,
                sets,
                spends,
                distribute,
                seats,
                unseats,
            } => {
                let key = load_key(&args.id.key)?;
                let body = ProposalBody {
                    network,
                    title,
                    actions: actions(sets, spends, distribute, seats, unseats)?,
                };
                let p: ProposalView = post(
                    &router,
                    "/v1/gov/proposals",
                    None,
                    &sign(&key, PROPOSAL, &body)?,
                )
                .await?;
                print_proposal(&p);
            }
            GovCommand::Vote { proposal, choice } => {
                let key = load_key(&args.id.key)?;
                let choice = match choice {
                    VoteChoice::For => Choice::For,
                    VoteChoice::Against => Choice::Against,
                    VoteChoice::Abstain => Choice::Abstain,
                };
                let body = VoteBody {
                    network,
                    proposal: proposal.clone(),
                    choice,
                };
                let p: ProposalView = post(
                    &router,
                    &format!("/v1/gov/proposals/{proposal}/votes"),
                    None,
                    &sign(&key, VOTE, &body)?,
                )
                .await?;
                print_proposal(&p);
            }
            GovCommand::Veto { proposal, amount } => {
                let mut id = [0u8; 32];
                hex::decode_to_slice(&proposal, &mut id)
                    .with_context(|| format!("{proposal:?} is not a proposal id"))?;
                let amount = tokens("--amount", &amount)?;
                let r = send(
                    &router,
                    &args.id.key,
                    &network,
                    TxAction::Veto {
                        proposal: id,
                        amount,
                    },
                )
                .await?;
                println!(
                    "{} tokens locked against proposal {proposal} (transfer {})",
                    format_amount(amount),
                    r.transfer
                );
            }
            GovCommand::Queue => {
                let l: ProposalList =
                    get(&router, "/v1/gov/proposals?phase=queued&limit=500", None).await?;
                if l.proposals.is_empty() {
                    println!("the queue is empty");
                }
                for p in &l.proposals {
                    println!(
                        "{} (#{}) may execute from {}; veto {} of {} to cancel{}: {}",
                        p.id,
                        p.number,
                        p.eta.map_or("-".into(), |e| e.to_string()),
                        p.veto,
                        p.veto_cancel_at,
                        if p.council_delayed {
                            ", delayed by the council"
                        } else {
                            ""
                        },
                        p.title
                    );
                }
            }
            GovCommand::Show { proposal } => {
                let p: ProposalView =
                    get(&router, &format!("/v1/gov/proposals/{proposal}"), None).await?;
                print_proposal(&p);
            }
            GovCommand::List { phase, limit } => {
                let mut path = format!("/v1/gov/proposals?limit={limit}");
                if let Some(phase) = phase {
                    path.push_str(&format!("&phase={phase}"));
                }
                let l: ProposalList = get(&router, &path, None).await?;
                for p in &l.proposals {
                    println!("{} #{} {:<9} {}", p.id, p.number, p.phase, p.title);
                }
            }
            GovCommand::Delay { proposal } => {
                let key = load_key(&args.id.key)?;
                let body = DelayBody {
                    network,
                    proposal: proposal.clone(),
                };
                let p: ProposalView = post(
                    &router,
                    &format!("/v1/gov/proposals/{proposal}/delay"),
                    None,
                    &sign(&key, COUNCIL_DELAY, &body)?,
                )
                .await?;
                print_proposal(&p);
            }
            GovCommand::Shutdown { lock, signal } => {
                let status: ShutdownStatus = get(&router, "/v1/gov/shutdown", None).await?;
                let status = if let Some(amount) = lock {
                    let amount = tokens("--lock", &amount)?;
                    let round = status.open_round;
                    send(
                        &router,
                        &args.id.key,
                        &network,
                        TxAction::Shutdown { round, amount },
                    )
                    .await?;
                    get(&router, "/v1/gov/shutdown", None).await?
                } else if signal {
                    let key = load_key(&args.id.key)?;
                    let body = ShutdownBody {
                        network,
                        round: status.open_round,
                    };
                    post(
                        &router,
                        "/v1/gov/shutdown",
                        None,
                        &sign(&key, COUNCIL_SHUTDOWN, &body)?,
                    )
                    .await?
                } else {
                    status
                };
                match &status.active {
                    Some(s) => println!(
                        "shut down since {} until {} (round {}, by {})",
                        s.since,
                        s.until,
                        s.round,
                        if s.by_council { "the council" } else { "stake" }
                    ),
                    None => println!("no shutdown in force"),
                }
                println!(
                    "round {}: {} of {} tokens locked, {} council signals",
                    status.open_round, status.locked, status.needed, status.signals
                );
            }
        }
        Ok(())
    })
}
