//! `meson-cdn wallet`: a key that holds tokens, and what a router's ledger says about it.
//!
//! `new` makes an ed25519 key (mode 0600); `address` shows its public key and wallet account; `transfer`,
//! `deposit`, `stake`, `unstake` and `council-stake` send transactions signed with it, each with
//! the network's name, the next nonce (kept in `KEY.nonce`, written before the transaction is sent so a
//! nonce is never reused) and an expiry; `balance` shows an account (or a terminal's earnings account and
//! its payouts per epoch); `proof` fetches an epoch's payout for an account with its audit path, and checks
//! it here against the epoch's payout root and the router's signature on that root, so the payout can be
//! claimed elsewhere on that evidence.

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use meson_ledger::economics::{payout_leaf, payout_root_message, PAYOUT_ROOT_DOMAIN};
use std::path::{Path, PathBuf};

use meson_core::identity::{NodeId, NodeKey, Signature};
use meson_core::signed::SignedMessage;
use meson_ledger::accounts::wallet_account;
use meson_ledger::merkle;
use meson_ledger::tx::{Tx, TxAction, TX};
use meson_ledger::{format_amount, parse_amount};

use meson_api::council::CouncilTerm;
use meson_api::ledger::{
    AccountView, History, HolderDividends, PayoutProof, Payouts, TerminalEarnings, TxApplied,
};
use meson_api::{label, RouterInfo};

use crate::client::{get, post};

/// The router, the key that signs and the network: what every command signing for a key holder takes.
#[derive(Args)]
pub struct KeyHolder {
    /// The router.
    #[arg(long, env = "MESON_ROUTER", global = true)]
    pub router: Option<String>,
    /// The key file (a wallet's, or a terminal's `DATA_DIR/node.key`).
    #[arg(
        long,
        env = "MESON_WALLET_KEY",
        global = true,
        default_value = "meson-wallet.key"
    )]
    pub key: PathBuf,
    /// The network the router runs (its `--network`).
    #[arg(
        long,
        env = "MESON_NETWORK",
        global = true,
        default_value = "meson-dev"
    )]
    pub network: String,
}

impl KeyHolder {
    /// The router, required by the command.
    pub fn router(&self) -> anyhow::Result<String> {
        self.router
            .clone()
            .ok_or_else(|| anyhow::anyhow!("--router is required (or MESON_ROUTER)"))
    }
}

#[derive(Args)]
pub struct WalletArgs {
    #[command(flatten)]
    id: KeyHolder,
    #[command(subcommand)]
    command: WalletCommand,
}

#[derive(Subcommand)]
enum WalletCommand {
    /// Make a new key (refuses to overwrite one).
    New,
    /// The key's public key and wallet account id.
    Address,
    #[command(flatten)]
    Remote(Box<RemoteCommand>),
}

/// What needs the router.
#[derive(Subcommand)]
enum RemoteCommand {
    /// Send tokens from the wallet to an account.
    Transfer {
        #[arg(long)]
        to: String,
        /// Tokens, up to 9 decimals.
        #[arg(long)]
        amount: String,
    },
    /// Put tokens from the wallet into a site's escrow, which pays for its traffic.
    Deposit {
        #[arg(long)]
        site: String,
        #[arg(long)]
        amount: String,
    },
    /// Lock tokens at stake (a terminal stakes with `--key DATA_DIR/node.key`).
    Stake {
        #[arg(long)]
        amount: String,
    },
    /// Start returning staked tokens to the wallet; they arrive after the router's unbonding period.
    Unstake {
        #[arg(long)]
        amount: String,
    },
    /// Lock stake for a council term: it returns after the term and the unbonding period.
    CouncilStake {
        #[arg(long)]
        amount: String,
        /// The term (the current one or the next) [default: the current one].
        #[arg(long)]
        term: Option<u64>,
    },
    /// An account's balance, or a terminal's earnings (balance and payouts per epoch).
    Balance {
        /// A ledger account id.
        #[arg(long, conflicts_with = "terminal")]
        account: Option<String>,
        /// A terminal's node id: its earnings account.
        #[arg(long)]
        terminal: Option<NodeId>,
    },
    /// What the key's stake earned from the holders' share of the protocol fee, per epoch.
    Dividends,
    /// The wallet's transfers (or another account's), newest first.
    History {
        /// Another account than the wallet's.
        #[arg(long)]
        account: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Fetch an account's payout of an epoch with its Merkle proof, and verify it.
    Proof {
        #[arg(long)]
        epoch: u64,
        #[arg(long)]
        account: String,
    },
}

pub(crate) fn load_key(path: &Path) -> anyhow::Result<NodeKey> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "reading the wallet key {} (make one with `meson-cdn wallet new`)",
            path.display()
        )
    })?;
    NodeKey::from_secret_text(text.trim()).with_context(|| format!("{}", path.display()))
}

/// The next nonce, recorded before use.
fn next_nonce(key: &Path) -> anyhow::Result<u64> {
    let path = PathBuf::from(format!("{}.nonce", key.display()));
    let last: u64 = match std::fs::read_to_string(&path) {
        Ok(t) => t
            .trim()
            .parse()
            .with_context(|| format!("{} is not a number", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(e).with_context(|| format!("{}", path.display())),
    };
    let next = last + 1;
    std::fs::write(&path, format!("{next}\n")).with_context(|| format!("{}", path.display()))?;
    Ok(next)
}

/// `body` signed by `key` for `purpose`, now, with a fresh nonce.
pub(crate) fn sign<T: serde::Serialize>(
    key: &meson_core::identity::NodeKey,
    purpose: &str,
    body: &T,
) -> anyhow::Result<SignedMessage<T>> {
    Ok(SignedMessage::sign(
        key,
        purpose,
        meson_node::unix_now(),
        rand::random(),
        body,
    )?)
}

/// `action` signed with the wallet's key and the next nonce.
pub(crate) fn signed_tx(
    key_path: &Path,
    network: &str,
    action: TxAction,
) -> anyhow::Result<SignedMessage<Tx>> {
    let key = load_key(key_path)?;
    let now = meson_node::unix_now();
    let tx = Tx {
        network: network.to_owned(),
        nonce: next_nonce(key_path)?,
        expires: now + 300,
        action,
    };
    // The message nonce only has to be unique per signer: the transaction's nonce already is.
    let mut msg_nonce = [0u8; 16];
    msg_nonce.copy_from_slice(&blake3::hash(&tx.nonce.to_le_bytes()).as_bytes()[..16]);
    Ok(SignedMessage::sign(&key, TX, now, msg_nonce, &tx)?)
}

/// Signs `action` with the wallet's key and the next nonce, and submits it.
pub(crate) async fn send(
    router: &str,
    key_path: &Path,
    network: &str,
    action: TxAction,
) -> anyhow::Result<TxApplied> {
    let msg = signed_tx(key_path, network, action)?;
    post(router, "/v1/ledger/tx", None, &msg).await
}

pub fn run(args: WalletArgs) -> anyhow::Result<()> {
    let command = match args.command {
        WalletCommand::New => {
            if args.id.key.exists() {
                bail!(
                    "{} exists: not overwriting a wallet key",
                    args.id.key.display()
                );
            }
            let key = meson_node::load_or_create_node_key(&args.id.key)?;
            println!("new wallet key in {}", args.id.key.display());
            println!("public key {}", key.id());
            println!("account    {}", wallet_account(key.id().as_bytes()));
            return Ok(());
        }
        WalletCommand::Address => {
            let key = load_key(&args.id.key)?;
            println!("public key {}", key.id());
            println!("account    {}", wallet_account(key.id().as_bytes()));
            return Ok(());
        }
        WalletCommand::Remote(command) => *command,
    };
    let router = args.id.router()?;
    let rt = crate::client::runtime()?;
    rt.block_on(async move {
        match command {
            RemoteCommand::Balance { account, terminal } => match (account, terminal) {
                (Some(id), None) => {
                    let a: AccountView = get(&router, &format!("/v1/ledger/accounts/{id}"), None).await?;
                    println!("account {id} ({})", label(&a.kind));
                    println!("  balance   {}", a.balance.as_deref().unwrap_or("-"));
                    println!("  available {}", a.available.as_deref().unwrap_or("-"));
                }
                (None, Some(node)) => {
                    let e: TerminalEarnings = get(&router, &format!("/v1/terminals/{node}/earnings"), None).await?;
                    println!("terminal {node}, earnings account {}", e.account);
                    println!("  balance {}", e.balance.as_ref().and_then(|b| b.balance.as_deref()).unwrap_or("0"));
                    for row in &e.epochs {
                        let subsidy = if row.subsidy != "0" { format!(", subsidy {}", row.subsidy) } else { String::new() };
                        println!(
                            "  epoch {} ({} bytes): earned {}{subsidy} at uptime {:.2} % x audits passed {:.2} %{}",
                            row.epoch,
                            row.bytes,
                            row.earned,
                            f64::from(row.uptime_bps) / 100.0,
                            f64::from(row.audit_pass_bps) / 100.0,
                            if row.settled { "" } else { " (not settled yet)" }
                        );
                    }
                }
                _ => bail!("give --account ID or --terminal NODE_ID"),
            },
            RemoteCommand::Transfer { to, amount } => {
                let to: u128 = to.parse().with_context(|| format!("--to {to:?} is not an account id"))?;
                let amount = parse_amount(&amount).with_context(|| format!("--amount {amount:?}"))?;
                let r = send(&router, &args.id.key, &args.id.network, TxAction::Transfer { to, amount }).await?;
                println!("sent {} to {} (transfer {})", format_amount(amount), r.to, r.transfer);
            }
            RemoteCommand::Deposit { site, amount } => {
                let amount = parse_amount(&amount).with_context(|| format!("--amount {amount:?}"))?;
                let r = send(&router, &args.id.key, &args.id.network, TxAction::Deposit { site: site.clone(), amount }).await?;
                println!("deposited {} into the escrow of {site} (account {})", format_amount(amount), r.to);
            }
            RemoteCommand::Dividends => {
                let key = load_key(&args.id.key)?.id();
                let d: HolderDividends =
                    get(&router, &format!("/v1/holders/{key}/dividends"), None).await?;
                println!(
                    "{} tokens at stake; {} tokens of dividends in all",
                    d.staked, d.total
                );
                for e in &d.epochs {
                    println!("  epoch {}: {} tokens", e.epoch, e.amount);
                }
            }
            RemoteCommand::History { account, limit } => {
                let account = match account {
                    Some(a) => a,
                    None => wallet_account(load_key(&args.id.key)?.id().as_bytes()).to_string(),
                };
                let h: History = get(&router, &format!("/v1/ledger/accounts/{account}/transfers?limit={limit}"), None).await?;
                println!("account {account}");
                for t in &h.transfers {
                    println!(
                        "  {} {:<3} {:>20} {:<10} {}{}",
                        t.at,
                        t.direction.as_str(),
                        t.amount,
                        label(&t.code),
                        t.counterparty,
                        if t.pending { " (pending)" } else { "" }
                    );
                }
            }
            RemoteCommand::Stake { amount } => {
                let amount = parse_amount(&amount).with_context(|| format!("--amount {amount:?}"))?;
                send(&router, &args.id.key, &args.id.network, TxAction::Stake { amount }).await?;
                println!("staked {}", format_amount(amount));
            }
            RemoteCommand::Unstake { amount } => {
                let amount = parse_amount(&amount).with_context(|| format!("--amount {amount:?}"))?;
                send(&router, &args.id.key, &args.id.network, TxAction::Unstake { amount }).await?;
                println!("unstaking {}: it returns to the wallet after the unbonding period", format_amount(amount));
            }
            RemoteCommand::CouncilStake { amount, term } => {
                let amount = parse_amount(&amount).with_context(|| format!("--amount {amount:?}"))?;
                let term = match term {
                    Some(t) => t,
                    None => get::<CouncilTerm>(&router, "/v1/council/term", None).await?.term,
                };
                send(&router, &args.id.key, &args.id.network, TxAction::CouncilStake { term, amount }).await?;
                println!("locked {} for council term {term}", format_amount(amount));
            }
            RemoteCommand::Proof { epoch, account } => {
                let p: PayoutProof = get(&router, &format!("/v1/ledger/payouts/{epoch}/proof/{account}"), None).await?;
                let signed: Payouts = get(&router, &format!("/v1/ledger/payouts/{epoch}"), None).await?;
                let router_id = get::<RouterInfo>(&router, "/v1/router", None).await?.id;
                let (index, size, amount, acct) = (p.index, p.size, p.amount, p.account);
                let root = signed.root.0;
                let path: Vec<[u8; 32]> = p.path.iter().map(|h| h.0).collect();
                let leaf = merkle::leaf_hash(&payout_leaf(epoch, index, acct, amount));
                if !merkle::verify_inclusion(index, size, &leaf, &path, &root) {
                    bail!("the proof does not lead to the epoch's payout root");
                }
                let sig: Signature = signed
                    .signature
                    .parse()
                    .context("the payout root's signature is malformed")?;
                router_id
                    .verify(PAYOUT_ROOT_DOMAIN, &payout_root_message(epoch, size, &root), &sig)
                    .context("the payout root is not signed by the router")?;
                println!("payout verified: epoch {epoch}, account {acct}, amount {} (leaf {index} of {size})", format_amount(amount));
                println!("  root      {}", hex::encode(root));
                println!("  signed by {router_id}");
            }
        }
        Ok(())
    })
}
