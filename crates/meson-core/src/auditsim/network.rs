//! One seed of the simulation: terminals, the router's knowledge, and the epochs of requests, learning and
//! audits described in the [module documentation](super).

use std::collections::{HashMap, HashSet, VecDeque};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::catalogue::Body;
use super::{SeedRun, Sim, Strategy, TerminalRun};
use crate::audit::holdings::{Claimed, TerminalHoldings};
use crate::audit::plan::{self, Piece};
use crate::audit::{self, Answer, Challenge, Outcome, Reply, Standing, Tally, Verdict};
use crate::content::{self, Root};
use crate::identity::NodeKey;
use crate::signed::SignedMessage;
use crate::sim::{fixed_unit, mix, object_key, Routing};

/// The bytes of a challenge and of the signed answers on the wire, measured on real signed messages.
pub(super) struct WireSizes {
    challenge: u64,
    /// An answer carrying an empty proof: add the proof's base64 length.
    proof_envelope: u64,
    not_held: u64,
}

impl WireSizes {
    pub fn measure() -> Self {
        let router = NodeKey::from_secret_bytes([1; 32]);
        let terminal = NodeKey::from_secret_bytes([2; 32]);
        let challenge = Challenge {
            terminal: terminal.id(),
            root: Root([0xab; 32]),
            size: 4 << 20,
            group: 255,
            expires: 1_800_000_011,
        };
        let signed = SignedMessage::sign(
            &router,
            audit::CHALLENGE,
            1_800_000_000,
            [7; 16],
            &challenge,
        )
        .expect("a challenge serialises");
        let answer = |reply| {
            let a = Answer {
                challenge: signed.clone(),
                reply,
            };
            let msg = SignedMessage::sign(&terminal, audit::ANSWER, 1_800_000_001, [8; 16], &a)
                .expect("an answer serialises");
            serde_json::to_vec(&msg).map_or(0, |v| v.len() as u64)
        };
        WireSizes {
            challenge: serde_json::to_vec(&signed).map_or(0, |v| v.len() as u64),
            proof_envelope: answer(Reply::Proof(String::new())),
            not_held: answer(Reply::NotHeld),
        }
    }
}

const NEVER: u32 = u32::MAX;

/// Salts of the per-object draws, so corruption and dropping are independent.
const CORRUPT: u64 = 1;
const DROP: u64 = 2;

struct Terminal {
    id: [u8; 32],
    strategy: Strategy,
    /// What the router samples of it.
    holdings: TerminalHoldings,
    /// What it stored (objects), and what it will report held at its next heartbeat.
    stored: HashSet<u32>,
    unreported: Vec<Claimed>,
    passed: u64,
    /// Its tallies of the epochs it was audited in within [`audit::WINDOW_EPOCHS`], newest first.
    tallies: VecDeque<(u64, Tally)>,
    weight: u32,
    run: TerminalRun,
}

pub(super) struct Network<'a> {
    sim: &'a Sim,
    seed: u64,
    rng: StdRng,
    terminals: Vec<Terminal>,
    epoch: u64,
    /// Where requests go, with the weights of the epoch's start.
    routing: Routing,
    /// Ground truth: the epoch each object was last learned in (NEVER: its size and root are unknown).
    learned: Vec<u32>,
    /// Usage held per object for want of its size (terminal, bytes claimed), in the order wanted.
    held: HashMap<u32, Vec<(u32, u64)>>,
    wanted: VecDeque<u32>,
    /// Every redirect, for draws by popularity, and the count per object.
    redirects: Vec<u32>,
    redirect_count: Vec<u32>,
    /// Origin bytes the learner may still fetch (negative: over budget, carried over).
    credit: i64,
    next_audit: f64,
    out: SeedRun,
}

impl<'a> Network<'a> {
    pub fn new(sim: &'a Sim, seed: u64) -> Self {
        let c = &sim.config;
        let mut rng = StdRng::seed_from_u64(seed);
        let strategies = c
            .groups
            .iter()
            .enumerate()
            .flat_map(|(i, (s, n))| std::iter::repeat_n((i + 1, *s), *n))
            .chain(std::iter::repeat((0, Strategy::Honest)));
        let initial = weight(
            &audit::standing(0, &Tally::default(), &c.rules),
            c.vetted_weight,
        );
        let terminals = strategies
            .take(c.terminals)
            .map(|(group, strategy)| Terminal {
                id: rng.random(),
                strategy,
                holdings: TerminalHoldings::default(),
                stored: HashSet::new(),
                unreported: Vec::new(),
                passed: 0,
                tallies: VecDeque::new(),
                weight: initial,
                run: TerminalRun {
                    group,
                    suspended: None,
                    evidence: None,
                    outcomes: [0; 5],
                },
            })
            .collect();
        let objects = sim.catalogue.objects() as usize;
        let next_audit = plan::next_gap(c.audit_interval_secs, c.terminals, &mut rng);
        Network {
            sim,
            seed,
            rng,
            terminals,
            epoch: 0,
            routing: Routing::new("audit-sim", objects as u64),
            learned: vec![NEVER; objects],
            held: HashMap::new(),
            wanted: VecDeque::new(),
            redirects: Vec::new(),
            redirect_count: vec![0; objects],
            credit: 0,
            next_audit,
            out: SeedRun {
                seed,
                terminals: Vec::new(),
                skipped_audits: 0,
                challenge_bytes: 0,
                answer_bytes: 0,
                origin_bytes: 0,
                sampled_bytes: 0,
                unserved: 0,
                held_records: 0,
            },
        }
    }

    pub fn run(mut self) -> SeedRun {
        let c = &self.sim.config;
        for epoch in 0..c.warmup_epochs + c.epochs {
            self.epoch = epoch;
            self.requests();
            self.learn();
            self.audits();
        }
        self.out.held_records = self.held.values().map(|v| v.len() as u64).sum();
        self.out.terminals = self.terminals.into_iter().map(|t| t.run).collect();
        self.out
    }

    fn cheating(&self) -> bool {
        self.epoch >= self.sim.config.warmup_epochs
    }

    /// A draw for (terminal, object, chunk group) that is the same whenever it is asked.
    fn fixed_draw(&self, salt: u64, terminal: usize, object: u32, group: u64) -> f64 {
        fixed_unit(self.seed, salt, &[terminal as u64, object as u64, group])
    }

    fn body(&self, object: u32) -> &'a Body {
        let bodies = &self.sim.catalogue.bodies;
        &bodies[(mix(self.seed ^ mix(object as u64)) % bodies.len() as u64) as usize]
    }

    fn known(&self, object: u32) -> bool {
        self.learned[object as usize] != NEVER
    }

    fn evidence(&mut self, terminal: usize) {
        let epoch = self.epoch;
        self.terminals[terminal].run.evidence.get_or_insert(epoch);
    }

    /// Puts terminals in rotation with the weights of their standings.
    fn route(&mut self) {
        self.routing
            .route(self.terminals.iter().map(|t| (t.id, t.weight)));
    }

    fn requests(&mut self) {
        self.route();
        let cheating = self.cheating();
        for _ in 0..self.sim.config.requests_per_terminal * self.terminals.len() as u64 {
            let object = self.sim.catalogue.draw(&mut self.rng);
            let Some(t) = self.routing.owner(object) else {
                self.out.unserved += 1;
                continue;
            };
            let body = self.body(object);
            let size = body.size();
            self.out.sampled_bytes += size;
            self.redirects.push(object);
            self.redirect_count[object as usize] += 1;
            let key = object_key(object);
            let term = &mut self.terminals[t];
            term.holdings.routed(key, &mut self.rng);
            if term.stored.insert(object) {
                term.unreported.push(Claimed {
                    object: key,
                    root: body.root,
                    len: size,
                });
            }
            let bytes = match term.strategy {
                Strategy::Inflate { share, factor } if cheating && self.rng.random_bool(share) => {
                    (size as f64 * factor).ceil() as u64
                }
                _ => size,
            };
            // Usage intake: judged against the size if known, else held until the learner fetches it.
            if self.known(object) {
                if bytes > size {
                    self.evidence(t);
                }
            } else {
                let held = self.held.entry(object).or_default();
                if held.is_empty() {
                    self.wanted.push_back(object);
                }
                held.push((t as u32, bytes));
            }
        }
        // Heartbeats: what each terminal stored since the last one.
        for term in &mut self.terminals {
            let added = std::mem::take(&mut term.unreported);
            term.holdings.report(added, &[], &mut self.rng);
        }
    }

    /// The learner's next object: one whose usage is held, else one drawn by redirects among those not
    /// fetched this epoch (`due` of them, by redirect count); None when there is none.
    fn next_to_learn(&mut self, due: u64) -> Option<u32> {
        while let Some(object) = self.wanted.pop_front() {
            // Learned meanwhile by a draw: no longer wanted.
            if self.held.contains_key(&object) {
                return Some(object);
            }
        }
        if due == 0 {
            return None;
        }
        let epoch = self.epoch as u32;
        loop {
            let object = self.redirects[self.rng.random_range(0..self.redirects.len())];
            if self.learned[object as usize] != epoch {
                return Some(object);
            }
        }
    }

    fn learn(&mut self) {
        let c = &self.sim.config;
        let budget = c.origin_bytes_per_sec.saturating_mul(c.epoch_secs);
        self.credit = self.credit.min(0) + i64::try_from(budget).unwrap_or(i64::MAX);
        let epoch = self.epoch as u32;
        let mut due = self.redirects.len() as u64;
        while self.credit > 0 {
            let Some(object) = self.next_to_learn(due) else {
                // Idle: the budget is a rate, not credit saved up.
                self.credit = 0;
                break;
            };
            let size = self.body(object).size();
            self.credit -= size as i64;
            self.out.origin_bytes += size;
            if self.learned[object as usize] != epoch {
                due -= u64::from(self.redirect_count[object as usize]).min(due);
                self.learned[object as usize] = epoch;
            }
            for (t, bytes) in self.held.remove(&object).unwrap_or_default() {
                if bytes > size {
                    self.evidence(t as usize);
                }
            }
        }
    }

    fn audits(&mut self) {
        let c = &self.sim.config;
        let end = ((self.epoch + 1) * c.epoch_secs) as f64;
        while self.next_audit < end {
            let t = self.rng.random_range(0..self.terminals.len());
            self.audit(t);
            self.next_audit +=
                plan::next_gap(c.audit_interval_secs, self.terminals.len(), &mut self.rng);
        }
    }

    fn audit(&mut self, t: usize) {
        let Some(target) = self.terminals[t].holdings.pick(&mut self.rng) else {
            self.out.skipped_audits += 1;
            return;
        };
        let object = u32::from_le_bytes(target.object()[..4].try_into().unwrap_or_default());
        let versions = match self.known(object) {
            true => {
                let b = self.body(object);
                vec![vec![(b.root, b.size())]]
            }
            false => Vec::new(),
        };
        let holdings = &self.terminals[t].holdings;
        let Some(piece) =
            plan::choose_piece(target, &versions, |r| holdings.claims(r), &mut self.rng)
        else {
            self.out.skipped_audits += 1;
            return;
        };
        let group = plan::chunk_group(piece.len, &mut self.rng);
        self.out.challenge_bytes += self.sim.wire.challenge;
        let verdict = self.answer(t, object, &piece, group);
        let outcome = plan::recheck(
            plan::classify(verdict.as_ref(), piece.claimed),
            self.terminals[t].holdings.claims(&piece.root),
        );
        self.record(t, outcome);
    }

    /// The terminal's answer, as the router judges it: None for no answer in time.
    fn answer(&mut self, t: usize, object: u32, piece: &Piece, group: u64) -> Option<Verdict> {
        let cheating = self.cheating();
        let term = &self.terminals[t];
        let timeouts = match term.strategy {
            Strategy::Flaky { timeout_rate } => timeout_rate,
            _ => self.sim.config.honest_timeout_rate,
        };
        if self.rng.random_bool(timeouts) {
            return None;
        }
        let dropped = match term.strategy {
            Strategy::Drop { fraction } => {
                cheating && self.fixed_draw(DROP, t, object, 0) < fraction
            }
            _ => false,
        };
        if !term.stored.contains(&object) || dropped {
            self.out.answer_bytes += self.sim.wire.not_held;
            return Some(Verdict::NotHeld);
        }
        let body = self.body(object);
        let data = body.group(group);
        let corrupt = match term.strategy {
            Strategy::Corrupt { fraction } => {
                cheating
                    && !data.is_empty()
                    && self.fixed_draw(CORRUPT, t, object, group) < fraction
            }
            _ => false,
        };
        let proof = if corrupt {
            let mut bad = data.to_vec();
            bad[0] ^= 1;
            content::encode_chunk_group_as_stored(body.size(), &body.outboard, group, &bad)
        } else {
            content::encode_chunk_group_as_stored(body.size(), &body.outboard, group, data)
        }
        .ok()?;
        self.out.answer_bytes +=
            self.sim.wire.proof_envelope + (proof.len() as u64).div_ceil(3) * 4;
        Some(audit::check_proof(&piece.root, piece.len, group, &proof))
    }

    /// Records an audit and recomputes the terminal's standing, as the router does after each one.
    fn record(&mut self, t: usize, outcome: Outcome) {
        let epoch = self.epoch;
        let rules = self.sim.config.rules;
        let vetted_weight = self.sim.config.vetted_weight;
        let term = &mut self.terminals[t];
        if let Some(i) = Outcome::ALL.iter().position(|o| *o == outcome) {
            term.run.outcomes[i] += 1;
        }
        if term.tallies.front().is_none_or(|(e, _)| *e != epoch) {
            term.tallies.push_front((epoch, Tally::default()));
            term.tallies
                .retain(|(e, _)| e + audit::WINDOW_EPOCHS > epoch);
        }
        if let Some((_, tally)) = term.tallies.front_mut() {
            tally.record(outcome);
        }
        if outcome == Outcome::Pass {
            term.passed += 1;
        }
        let standing = audit::standing(
            term.passed,
            &audit::recent(term.tallies.iter().copied(), epoch, rules.min_audits),
            &rules,
        );
        term.weight = weight(&standing, vetted_weight);
        if matches!(standing, Standing::Suspended { .. }) {
            term.run.suspended.get_or_insert(epoch);
        }
        if outcome == Outcome::Fail {
            self.evidence(t);
        }
    }
}

/// A terminal's scheduling weight for its standing: out of rotation while suspended, a small share while
/// vetting.
fn weight(standing: &Standing, vetted: u32) -> u32 {
    match standing {
        Standing::Suspended { .. } => 0,
        Standing::Vetting { .. } => 1,
        Standing::Vetted => vetted,
    }
}
