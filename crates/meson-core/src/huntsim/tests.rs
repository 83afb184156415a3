use super::*;

/// A network small enough for a debug build: 100 terminals, a hunter probing every 10 s on average for
/// a day, so each terminal gets about 3.6 probes an hour.
fn small(cheaters: Vec<(Cheater, usize)>, flaky: Vec<(f64, usize)>) -> Config {
    Config {
        terminals: 100,
        cheaters,
        flaky,
        objects: 5_000,
        hours: 24.0,
        ..Config::default()
    }
}

fn to_all(answers: f64) -> Cheater {
    Cheater {
        answers,
        prefixes: 1.0,
    }
}

fn report(config: Config, seeds: u64) -> Report {
    let sim = Sim::new(config).unwrap();
    let runs: Vec<SeedRun> = (0..seeds).map(|s| sim.run(s)).collect();
    sim.report(&runs)
}

fn cheater<'a>(r: &'a Report, label: &str) -> &'a CheaterRow {
    r.cheaters.iter().find(|r| r.label == label).unwrap()
}

#[test]
fn a_full_corrupter_is_claimed_within_the_first_hours_and_every_claim_is_upheld() {
    let r = report(small(vec![(to_all(1.0), 2)], Vec::new()), 20);
    let c = cheater(&r, "corrupt 100% to all");
    assert_eq!(c.terminals, 40);
    assert_eq!(c.claimed.share, 1.0);
    // About 3.6 probes an hour: the first one finds it.
    assert!(c.claimed.median.unwrap() < 0.5, "{:?}", c.claimed);
    assert!(c.claimed.p90.unwrap() < 2.0, "{:?}", c.claimed);
    // Every member's probes are corrupt too: its first claim is upheld and takes it out.
    assert_eq!(c.upheld, c.claimed);
    assert_eq!((c.claims_per_terminal, c.upheld_share), (1.0, 1.0));
    // Honest terminals timing out on 1 % of answers: 2 of 3 probes of a record fail about twice in a
    // hundred records, so the odd claim, never upheld.
    let honest = &r.honest[0];
    assert_eq!(honest.terminals, 1960);
    assert_eq!(honest.upheld, 0);
    assert!(honest.claims > 0);
    assert!(honest.claims_per_terminal_day < 0.03, "{honest:?}");
}

#[test]
fn flaky_honest_terminals_draw_false_claims_that_the_council_does_not_uphold() {
    let r = report(small(Vec::new(), vec![(0.05, 10), (0.2, 10)]), 10);
    let [honest, five, twenty] = &r.honest[..] else {
        panic!("{:?}", r.honest)
    };
    assert_eq!(
        (
            honest.label.as_str(),
            five.label.as_str(),
            twenty.label.as_str()
        ),
        (
            "honest (1% timeouts)",
            "flaky (5% timeouts)",
            "flaky (20% timeouts)"
        )
    );
    assert_eq!(twenty.terminals, 100);
    assert!(
        twenty.claims_per_terminal_day > 5.0 * five.claims_per_terminal_day,
        "{five:?} {twenty:?}"
    );
    assert!(twenty.claims > 100, "{twenty:?}");
    // Each member needs 6 of its 10 probes to fail: with 20 % timeouts, a few in a thousand do.
    assert_eq!((honest.upheld, five.upheld, twenty.upheld), (0, 0, 0));
}

#[test]
fn the_less_a_cheater_corrupts_the_later_it_is_claimed_and_the_less_it_is_upheld() {
    let r = report(
        small(
            vec![(to_all(1.0), 2), (to_all(0.1), 2), (to_all(0.01), 2)],
            Vec::new(),
        ),
        10,
    );
    let (all, tenth, hundredth) = (
        cheater(&r, "corrupt 100% to all"),
        cheater(&r, "corrupt 10% to all"),
        cheater(&r, "corrupt 1% to all"),
    );
    assert!(
        all.claimed.median.unwrap() < tenth.claimed.median.unwrap(),
        "{all:?} {tenth:?}"
    );
    assert!(
        tenth.claimed.share > hundredth.claimed.share,
        "{tenth:?} {hundredth:?}"
    );
    // A member's 10 probes see a 1 % corrupter corrupt about one time in ten: two of three rarely do.
    assert!(tenth.upheld_share > hundredth.upheld_share);
    assert!(hundredth.upheld_share < 0.2, "{hundredth:?}");
}

#[test]
fn a_cheater_that_spares_the_councils_prefixes_is_claimed_but_rarely_upheld() {
    let some = Cheater {
        answers: 1.0,
        prefixes: 0.1,
    };
    let r = report(small(vec![(to_all(1.0), 2), (some, 2)], Vec::new()), 20);
    let (all, targeted) = (
        cheater(&r, "corrupt 100% to all"),
        cheater(&r, "corrupt 100% to 10% of prefixes"),
    );
    // The hunter's 8 prefixes include a targeted one more often than not.
    assert!(targeted.claimed.share > 0.3, "{targeted:?}");
    assert!(targeted.claimed.share < all.claimed.share);
    // Each member probes from its own prefix: two of three are targeted one time in 35.
    assert!(targeted.upheld_share < 0.2, "{targeted:?}");
    assert_eq!(all.upheld_share, 1.0);
}

#[test]
fn without_follow_ups_a_timeout_is_never_filed() {
    let r = report(
        Config {
            follow_ups: 0,
            ..small(vec![(to_all(0.5), 2)], vec![(0.5, 10)])
        },
        3,
    );
    assert!(r.honest.iter().all(|g| g.claims == 0), "{:?}", r.honest);
    assert!(cheater(&r, "corrupt 50% to all").claims_per_terminal > 0.0);
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let sim = Sim::new(small(vec![(to_all(0.1), 3)], vec![(0.2, 5)])).unwrap();
    assert_eq!(sim.run(7), sim.run(7));
    assert_ne!(sim.run(7), sim.run(8));
    assert!(sim.run(7).hunter_probes > 8_000);
}

#[test]
fn impossible_configurations_are_refused() {
    let too_many = small(vec![(to_all(1.0), 60)], vec![(0.1, 41)]);
    assert!(matches!(
        Sim::new(too_many),
        Err(ConfigError::TooManyCheaters {
            cheaters: 101,
            terminals: 100
        })
    ));
    let bad_share = small(vec![(to_all(1.5), 1)], Vec::new());
    assert!(matches!(Sim::new(bad_share), Err(ConfigError::Invalid(_))));
    for bad in [
        Config {
            probes_per_hour: 0.0,
            ..small(Vec::new(), Vec::new())
        },
        Config {
            hunter_prefixes: 0,
            ..small(Vec::new(), Vec::new())
        },
        Config {
            council: Council {
                members: 0,
                ..Config::default().council
            },
            ..small(Vec::new(), Vec::new())
        },
    ] {
        assert!(Sim::new(bad).is_err());
    }
}
