//! What each terminal should hold, as the auditor draws from it: one bounded sample per terminal
//! ([`meson_core::audit::holdings`], shared with the audit simulator) of the objects it was sent clients
//! for and the pieces it reports holding in its heartbeats.

use std::collections::HashMap;
use std::sync::Mutex;

use meson_core::audit::holdings::{Claimed, Target, TerminalHoldings};
use meson_core::content::Root;
use meson_core::wire::HeldPiece;

#[derive(Default)]
pub(crate) struct Holdings(Mutex<HashMap<[u8; 32], TerminalHoldings>>);

impl Holdings {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], TerminalHoldings>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Clients were sent to `terminal` for `object`.
    pub fn routed(&self, terminal: [u8; 32], object: [u8; 16]) {
        self.lock()
            .entry(terminal)
            .or_default()
            .routed(object, &mut rand::rng());
    }

    /// `terminal` reports holding `added` and no longer holding the pieces with roots `evicted`. Pieces
    /// whose object is not 32 hex digits are ignored.
    pub fn report(&self, terminal: [u8; 32], added: &[HeldPiece], evicted: &[Root]) {
        if added.is_empty() && evicted.is_empty() {
            return;
        }
        let added = added.iter().filter_map(|p| {
            let mut object = [0u8; 16];
            hex::decode_to_slice(&p.object, &mut object).ok()?;
            Some(Claimed {
                object,
                root: p.root,
                len: p.len,
            })
        });
        self.lock()
            .entry(terminal)
            .or_default()
            .report(added, evicted, &mut rand::rng());
    }

    /// A target drawn at random: a claimed piece or a routed object, each list with even odds when both
    /// have entries.
    pub fn pick(&self, terminal: &[u8; 32]) -> Option<Target> {
        self.lock().get(terminal)?.pick(&mut rand::rng())
    }

    /// Whether `terminal` still claims the piece with `root` (it has not reported it evicted).
    pub fn claims(&self, terminal: &[u8; 32], root: &Root) -> bool {
        self.lock().get(terminal).is_some_and(|t| t.claims(root))
    }

    /// How many entries the sample of `terminal` holds (routed, claimed).
    pub fn sizes(&self, terminal: &[u8; 32]) -> (usize, usize) {
        self.lock()
            .get(terminal)
            .map_or((0, 0), TerminalHoldings::sizes)
    }
}

#[cfg(test)]
mod tests {
    use meson_core::audit::holdings::SAMPLE;

    use super::*;

    #[test]
    fn samples_stay_bounded_and_evictions_leave_them() {
        let h = Holdings::default();
        let t = [1; 32];
        for i in 0..10_000u32 {
            let mut object = [0; 16];
            object[..4].copy_from_slice(&i.to_le_bytes());
            h.routed(t, object);
        }
        assert_eq!(h.sizes(&t), (SAMPLE, 0));
        let c = HeldPiece {
            object: "02".repeat(16),
            root: Root([3; 32]),
            len: 10,
            version: None,
        };
        h.report(t, &[c.clone(), c.clone()], &[]);
        assert_eq!(h.sizes(&t).1, 1);
        assert_eq!(
            h.lock()[&t].claimed(),
            [Claimed {
                object: [2; 16],
                root: Root([3; 32]),
                len: 10
            }]
        );
        h.report(t, &[], &[c.root]);
        assert_eq!(h.sizes(&t).1, 0);
        assert!(matches!(h.pick(&t), Some(Target::Routed(_))));
        assert_eq!(h.pick(&[9; 32]), None);
    }
}
