//! One seed of the simulation: terminals, the hunter's probes and records, and the council's reviews
//! described in the [module documentation](super).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{Cheater, SeedRun, Sim, TerminalRun};
use crate::audit::plan;
use crate::council::two_thirds;
use crate::probe::{ProbeVerdict, Rule, Tally};
use crate::sim::{fixed_unit, Routing};

/// Salt of the cheaters' fixed draw of the client prefixes they target.
const TARGETED: u64 = 3;

struct Terminal {
    id: [u8; 32],
    timeout_rate: f64,
    cheater: Option<Cheater>,
    /// Disqualified by an upheld claim: out of rotation.
    out: bool,
    run: TerminalRun,
}

/// A record the hunter is still adding to: a timeout's follow-ups.
struct Open {
    terminal: usize,
    tally: Tally,
    /// Follow-ups still to make.
    left: u32,
}

pub(super) struct Network<'a> {
    sim: &'a Sim,
    seed: u64,
    rng: StdRng,
    /// What the router at filing and every member judge records by.
    rule: Rule,
    terminals: Vec<Terminal>,
    routing: Routing,
    /// The hunter's client prefixes, and each member's.
    hunter: Vec<u64>,
    members: Vec<Vec<u64>>,
    open: Option<Open>,
    out: SeedRun,
}

impl<'a> Network<'a> {
    pub fn new(sim: &'a Sim, seed: u64) -> Self {
        let c = &sim.config;
        let mut rng = StdRng::seed_from_u64(seed);
        let flaky = c
            .flaky
            .iter()
            .enumerate()
            .flat_map(|(i, &(rate, n))| std::iter::repeat_n((i + 1, rate, None), n));
        let cheaters = c
            .cheaters
            .iter()
            .enumerate()
            .flat_map(|(i, &(cheater, n))| {
                std::iter::repeat_n((1 + c.flaky.len() + i, c.timeout_rate, Some(cheater)), n)
            });
        let terminals: Vec<Terminal> = flaky
            .chain(cheaters)
            .chain(std::iter::repeat((0, c.timeout_rate, None)))
            .take(c.terminals)
            .map(|(group, timeout_rate, cheater)| Terminal {
                id: rng.random(),
                timeout_rate,
                cheater,
                out: false,
                run: TerminalRun {
                    group,
                    probes: 0,
                    claims: 0,
                    unreachable_claims: 0,
                    upheld: 0,
                    first_claim: None,
                    first_upheld: None,
                },
            })
            .collect();
        let hunter = (0..c.hunter_prefixes).map(|_| rng.random()).collect();
        let members = (0..c.council.members)
            .map(|_| (0..c.council.prefixes).map(|_| rng.random()).collect())
            .collect();
        let mut net = Network {
            sim,
            seed,
            rng,
            rule: Rule::default(),
            terminals,
            routing: Routing::new("hunt-sim", c.objects),
            hunter,
            members,
            open: None,
            out: SeedRun {
                seed,
                terminals: Vec::new(),
                hunter_probes: 0,
                council_probes: 0,
                unserved: 0,
            },
        };
        net.route();
        net
    }

    pub fn run(mut self) -> SeedRun {
        let c = &self.sim.config;
        let (gap, horizon) = (3600.0 / c.probes_per_hour, c.hours * 3600.0);
        let mut now = 0.0;
        loop {
            now += plan::next_gap(gap, 1, &mut self.rng);
            if now >= horizon {
                break;
            }
            self.probe(now / 3600.0);
        }
        self.out.terminals = self.terminals.into_iter().map(|t| t.run).collect();
        self.out
    }

    /// Terminals in rotation with equal weights, the disqualified out.
    fn route(&mut self) {
        self.routing
            .route(self.terminals.iter().map(|t| (t.id, u32::from(!t.out))));
    }

    /// The hunter's probe at `hour`: a follow-up of its open record, else a new target.
    fn probe(&mut self, hour: f64) {
        let (t, mut tally, left) = match self.open.take() {
            Some(o) => (o.terminal, o.tally, o.left),
            None => {
                let object = self.sim.targets.draw(&mut self.rng);
                let Some(t) = self.routing.owner(object) else {
                    self.out.unserved += 1;
                    return;
                };
                (t, Tally::default(), self.sim.config.follow_ups)
            }
        };
        self.out.hunter_probes += 1;
        self.terminals[t].run.probes += 1;
        let prefix = self.hunter[self.rng.random_range(0..self.hunter.len())];
        tally.add(&self.answer(t, prefix));
        if tally.corrupt == 0 && tally.unreachable() > 0 && left > 0 {
            self.open = Some(Open {
                terminal: t,
                tally,
                left: left - 1,
            });
        } else if self.rule.faulty(&tally) {
            self.file(t, &tally, hour);
        }
    }

    /// Terminal `t`'s answer to a client in `prefix`, as a probe's verdict.
    fn answer(&mut self, t: usize, prefix: u64) -> ProbeVerdict {
        let term = &self.terminals[t];
        if self.rng.random_bool(term.timeout_rate) {
            return ProbeVerdict::Failed;
        }
        match term.cheater {
            Some(c)
                if fixed_unit(self.seed, TARGETED, &[t as u64, prefix]) < c.prefixes
                    && self.rng.random_bool(c.answers) =>
            {
                ProbeVerdict::Corrupt { why: String::new() }
            }
            _ => ProbeVerdict::Good,
        }
    }

    /// The hunter files `tally`'s record against `t`; the council reviews it.
    fn file(&mut self, t: usize, tally: &Tally, hour: f64) {
        let members = self.members.len();
        let votes = (0..members).filter(|&m| self.reprobe(m, t)).count();
        let upheld = votes >= two_thirds(members);
        let term = &mut self.terminals[t];
        term.run.claims += 1;
        if tally.corrupt == 0 {
            term.run.unreachable_claims += 1;
        }
        term.run.first_claim.get_or_insert(hour);
        if upheld {
            term.run.upheld += 1;
            term.run.first_upheld = Some(hour);
            term.out = true;
            self.route();
        }
    }

    /// Whether member `m`'s own probes of `t` show it faulty.
    fn reprobe(&mut self, m: usize, t: usize) -> bool {
        let mut tally = Tally::default();
        for _ in 0..self.sim.config.council.probes {
            let prefixes = &self.members[m];
            let prefix = prefixes[self.rng.random_range(0..prefixes.len())];
            tally.add(&self.answer(t, prefix));
        }
        self.out.council_probes += u64::from(self.sim.config.council.probes);
        self.rule.faulty(&tally)
    }
}
