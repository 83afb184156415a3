//! Graceful stops on SIGTERM and SIGINT for the long-running subcommands.

use anyhow::Context;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// Handlers installed before a server says it is serving, so a SIGTERM that arrives right after is
/// still a graceful stop and never the default action.
pub struct Stop {
    term: Signal,
    int: Signal,
}

impl Stop {
    pub fn install() -> anyhow::Result<Stop> {
        Ok(Stop {
            term: signal(SignalKind::terminate()).context("installing SIGTERM handler")?,
            int: signal(SignalKind::interrupt()).context("installing SIGINT handler")?,
        })
    }

    pub async fn wait(mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}
