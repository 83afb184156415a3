//! `meson-cdn evidence verify`: re-checks a piece of objective evidence the way the router did, offline,
//! from the signed messages alone and the router's public key, and prints what it proves. Fetched by id
//! from a router (`GET /v1/evidence/{id}`, whose bytes must hash to the id) or read from a file.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use meson_core::evidence::{self, Evidence};
use meson_core::identity::NodeId;
use meson_core::wire::{RouterInfo, ROUTER_INFO_PATH};

use crate::client::{get, get_bytes};

#[derive(Args)]
pub struct EvidenceArgs {
    #[command(subcommand)]
    command: EvidenceCommand,
}

#[derive(Subcommand)]
enum EvidenceCommand {
    /// Verify evidence (by its id on a router, or a file) against the router's key; fails unless it
    /// proves what it says.
    Verify {
        /// The evidence's id (64 hex digits), fetched from the router.
        #[arg(required_unless_present = "file", conflicts_with = "file")]
        id: Option<String>,
        /// A file holding the evidence's JSON instead.
        #[arg(long)]
        file: Option<PathBuf>,
        /// The router (its key is read from /v1/router unless --router-id is given).
        #[arg(long, env = "MESON_ROUTER")]
        router: Option<String>,
        /// The router's node id to trust.
        #[arg(long)]
        router_id: Option<NodeId>,
    },
}

pub fn run(args: EvidenceArgs) -> anyhow::Result<()> {
    let EvidenceCommand::Verify {
        id,
        file,
        router,
        router_id,
    } = args.command;
    let rt = crate::client::runtime()?;
    rt.block_on(async move {
        let router_id = match (router_id, &router) {
            (Some(id), _) => id,
            (None, Some(url)) => get::<RouterInfo>(url, ROUTER_INFO_PATH, None).await?.id,
            (None, None) => {
                bail!("give --router or --router-id: evidence is verified against the router's key")
            }
        };
        let bytes = match (&id, &file) {
            (_, Some(path)) => std::fs::read(path)
                .with_context(|| format!("reading {}", path.display()))?
                .into(),
            (Some(id), None) => {
                let Some(url) = &router else {
                    bail!("give --router to fetch evidence by id");
                };
                let bytes = get_bytes(url, &format!("/v1/evidence/{id}")).await?;
                if hex::encode(blake3::hash(&bytes).as_bytes()) != id.to_ascii_lowercase() {
                    bail!("the router served bytes whose BLAKE3 is not {id}");
                }
                bytes
            }
            (None, None) => bail!("give an evidence id or --file"),
        };
        let e: Evidence = serde_json::from_slice(&bytes).with_context(|| match &file {
            Some(path) => format!("{} is not evidence", path.display()),
            None => "the router served something that is not evidence".into(),
        })?;
        let finding = evidence::verify(&e, &router_id)
            .map_err(|err| anyhow::anyhow!("the evidence does not verify: {err}"))?;
        println!(
            "evidence {} verifies against router {router_id}: {} by terminal {}",
            hex::encode(e.id()),
            finding.kind.as_str(),
            finding.terminal
        );
        println!("{}", finding.proves);
        Ok(())
    })
}
