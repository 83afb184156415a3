use super::*;

/// A network small enough for a debug build: 40 terminals, small bodies, audits every 15 minutes.
fn small(groups: Vec<(Strategy, usize)>) -> Config {
    Config {
        terminals: 40,
        groups,
        objects: 2_000,
        bodies: 8,
        min_size: 1024,
        max_size: 128 * 1024,
        requests_per_terminal: 50,
        origin_bytes_per_sec: 64 * 1024,
        warmup_epochs: 3,
        epochs: 4,
        ..Config::default()
    }
}

fn report(config: Config, seeds: u64) -> Report {
    let sim = Sim::new(config).unwrap();
    let runs: Vec<SeedRun> = (0..seeds).map(|s| sim.run(s)).collect();
    sim.report(&runs)
}

fn row<'a>(r: &'a Report, label: &str) -> &'a Row {
    r.rows.iter().find(|r| r.label == label).unwrap()
}

#[test]
fn an_honest_network_has_no_false_positives() {
    let r = report(small(Vec::new()), 3);
    let honest = &r.rows[0];
    assert_eq!(honest.terminals, 120);
    assert_eq!(honest.suspended_by_epoch, vec![0.0; 4]);
    assert_eq!(honest.evidence_by_epoch, vec![0.0; 4]);
    let [pass, fail, missing, _, timeout] = honest.audits_per_terminal;
    // Audited about 4 times an hour over 7 hours, less the ticks with no known root.
    assert!(pass > 10.0, "{pass}");
    assert_eq!((fail, missing, timeout), (0.0, 0.0, 0.0));
}

#[test]
fn a_full_corrupter_is_caught_in_its_first_epoch() {
    let r = report(small(vec![(Strategy::Corrupt { fraction: 1.0 }, 5)]), 3);
    let c = row(&r, "corrupt 100%");
    assert_eq!(c.terminals, 15);
    assert!(c.evidence_by_epoch[0] >= 0.9, "{:?}", c.evidence_by_epoch);
    assert_eq!(c.evidence_by_epoch[3], 1.0);
    assert_eq!(c.suspended_in_warmup, 0.0);
    assert_eq!(r.rows[0].evidence_by_epoch[3], 0.0);
    assert_eq!(r.rows[0].suspended_by_epoch[3], 0.0);
}

#[test]
fn suspension_judges_enough_counted_audits_however_many_epochs_they_take() {
    let cheaters = vec![
        (Strategy::Corrupt { fraction: 1.0 }, 5),
        (Strategy::Drop { fraction: 1.0 }, 5),
    ];
    // Four audits an hour: the window reaches back over earlier epochs until it holds the 10 counted
    // audits the rule needs, so a terminal whose every chunk is bad, or that dropped everything it claims
    // (its `missing` answers count, whether the audit drew a piece it claimed or an object it was sent
    // clients for), is out within two epochs.
    let slow = report(small(cheaters.clone()), 2);
    let (corrupt, drop) = (row(&slow, "corrupt 100%"), row(&slow, "drop 100%"));
    assert_eq!(
        corrupt.suspended_by_epoch[1], 1.0,
        "{:?}",
        corrupt.suspended_by_epoch
    );
    assert_eq!(
        drop.suspended_by_epoch[1], 1.0,
        "{:?}",
        drop.suspended_by_epoch
    );
    // Twelve an hour: both are out within two epochs.
    let fast = report(
        Config {
            audit_interval_secs: 300.0,
            ..small(cheaters)
        },
        2,
    );
    assert_eq!(row(&fast, "corrupt 100%").suspended_by_epoch[1], 1.0);
    assert_eq!(row(&fast, "drop 100%").suspended_by_epoch[1], 1.0);
    assert_eq!(fast.rows[0].suspended_by_epoch[3], 0.0);
}

#[test]
fn detection_grows_with_the_corrupted_fraction() {
    let r = report(
        small(vec![
            (Strategy::Corrupt { fraction: 0.02 }, 8),
            (Strategy::Corrupt { fraction: 0.3 }, 8),
        ]),
        4,
    );
    let low = row(&r, "corrupt 2%").evidence_by_epoch[1];
    let high = row(&r, "corrupt 30%").evidence_by_epoch[1];
    assert!(high > low + 0.3, "{low} vs {high}");
}

#[test]
fn droppers_leave_no_evidence_and_inflaters_do() {
    let r = report(
        small(vec![
            (Strategy::Drop { fraction: 1.0 }, 5),
            (
                Strategy::Inflate {
                    share: 0.5,
                    factor: 2.0,
                },
                5,
            ),
        ]),
        2,
    );
    let drop = row(&r, "drop 100%");
    assert_eq!(drop.evidence_by_epoch[3], 0.0);
    assert!(drop.audits_per_terminal[2] > 0.0, "missing audits");
    let inflate = row(&r, "inflate x2 on 50%");
    assert_eq!(inflate.evidence_by_epoch[0], 1.0);
    // It stores and proves honestly: audits never suspend it.
    assert_eq!(inflate.suspended_by_epoch[3], 0.0);
}

#[test]
fn timeouts_never_make_evidence() {
    let r = report(small(vec![(Strategy::Flaky { timeout_rate: 0.5 }, 10)]), 2);
    let flaky = row(&r, "flaky 50% timeouts");
    assert_eq!(*flaky.evidence_by_epoch.last().unwrap(), 0.0);
    assert!(flaky.audits_per_terminal[4] > 0.0);
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let sim = Sim::new(small(vec![
        (Strategy::Corrupt { fraction: 0.1 }, 3),
        (Strategy::Drop { fraction: 0.3 }, 3),
    ]))
    .unwrap();
    assert_eq!(sim.run(7), sim.run(7));
    assert_ne!(sim.run(7), sim.run(8));
}

#[test]
fn impossible_configurations_are_refused() {
    let too_many = small(vec![(Strategy::Corrupt { fraction: 0.1 }, 41)]);
    assert!(matches!(
        Sim::new(too_many),
        Err(ConfigError::TooManyCheaters { .. })
    ));
    let bad_share = small(vec![(Strategy::Drop { fraction: 1.5 }, 1)]);
    assert!(matches!(Sim::new(bad_share), Err(ConfigError::Invalid(_))));
    let big = Config {
        max_size: 5 << 20,
        ..small(Vec::new())
    };
    assert!(Sim::new(big).is_err());
}
