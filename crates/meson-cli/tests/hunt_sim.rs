//! `meson-cdn hunt-sim`: seeded networks with cheating and flaky terminals, a hunter and a council; a
//! table or JSON out.

mod support;

use serde_json::Value;
use support::*;

/// A network a debug build runs in a second: 200 terminals, a day, 10 per flaky group.
const SMALL: [&str; 12] = [
    "--terminals",
    "200",
    "--objects",
    "10000",
    "--hours",
    "24",
    "--flaky-terminals",
    "10",
    "--seeds",
    "6",
    "--threads",
    "2",
];

/// Runs the small network with `extra` flags, each replacing the small network's value of that flag.
async fn sim(extra: &[&str]) -> Output {
    run_with("hunt-sim", &SMALL, extra).await
}

/// The table's row for `label`, split into the label's columns after it.
fn columns<'a>(table: &'a str, label: &str, n: usize) -> Vec<&'a str> {
    let line = table
        .lines()
        .find(|l| l.starts_with(&format!("{label} ")))
        .unwrap_or_else(|| panic!("no row {label:?} in:\n{table}"));
    let words: Vec<&str> = line[label.len()..].split_whitespace().collect();
    assert_eq!(words.len(), n, "{line}");
    words
}

#[tokio::test]
async fn the_table_has_a_row_per_scenario_and_group_with_its_headline_numbers() {
    let out = sim(&[]).await;
    assert!(out.status.success(), "{out:?}");
    assert!(out.stderr.contains("6/6 seeds"), "progress: {}", out.stderr);
    let table = &out.stdout;
    assert!(
        table.starts_with("hunt-sim: 6 seeds x 200 terminals over 24 h"),
        "{table}"
    );
    let scenarios = [
        "corrupt 100% to all",
        "corrupt 100% to 10% of prefixes",
        "corrupt 10% to all",
        "corrupt 10% to 10% of prefixes",
        "corrupt 1% to all",
        "corrupt 1% to 10% of prefixes",
    ];
    let groups = [
        "honest (1% timeouts)",
        "flaky (5% timeouts)",
        "flaky (20% timeouts)",
    ];
    // Sections, and rows in the order of the flags.
    let at = |text: &str| {
        table
            .find(text)
            .unwrap_or_else(|| panic!("no {text:?} in:\n{table}"))
    };
    let order: Vec<usize> = std::iter::once("cheaters: hours until")
        .chain(scenarios)
        .chain(["honest terminals: false claims"])
        .chain(groups)
        .chain(["per seed:"])
        .map(at)
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{table}");
    // scenario: n, claimed, median, p90, upheld, median, p90, claims, upheld%, probes.
    let full = columns(table, "corrupt 100% to all", 10);
    assert_eq!(
        (full[0], full[1], full[4], full[7], full[8]),
        ("6", "100.0%", "100.0%", "1.00", "100.0%"),
        "{table}"
    );
    let first: f64 = full[2].parse().unwrap();
    assert!(first < 2.0, "median hours until claimed: {table}");
    // group: n, days, probes/day, claims, per day, upheld, upheld%.
    for g in groups {
        let row = columns(table, g, 7);
        assert_eq!(row[5], "0", "upheld false claims: {table}");
    }
    let twenty = columns(table, "flaky (20% timeouts)", 7);
    assert_eq!((twenty[0], twenty[1]), ("60", "60"));
    assert!(twenty[3].parse::<u64>().unwrap() > 0, "{table}");
}

#[tokio::test]
async fn json_is_the_same_on_any_number_of_threads() {
    let flags = [
        "--json",
        "--corrupt",
        "1",
        "--prefixes",
        "1",
        "--flaky",
        "0.2",
        "--seeds",
        "3",
    ];
    let one = sim(&[&flags[..], &["--threads", "1"]].concat()).await;
    assert!(one.status.success(), "{one:?}");
    let report: Value = serde_json::from_str(&one.stdout).unwrap();
    assert_eq!(report["seeds"], 3);
    let cheaters = report["cheaters"].as_array().unwrap();
    assert_eq!(cheaters.len(), 1);
    assert_eq!(cheaters[0]["label"], "corrupt 100% to all");
    assert_eq!(cheaters[0]["claimed"]["share"], 1.0);
    assert_eq!(cheaters[0]["upheld_share"], 1.0);
    let honest = report["honest"].as_array().unwrap();
    assert_eq!(honest.len(), 2);
    assert!(honest.iter().all(|g| g["upheld"] == 0), "{honest:?}");
    assert!(report["hunter_probes"].as_f64().unwrap() > 8_000.0);

    let two = sim(&[&flags[..], &["--threads", "3"]].concat()).await;
    assert!(two.status.success(), "{two:?}");
    assert_eq!(two.stdout, one.stdout);
}

#[tokio::test]
async fn an_impossible_network_is_refused() {
    let out = sim(&["--flaky-terminals", "100"]).await;
    assert!(!out.status.success());
    assert!(out.stderr.contains("do not fit in 200"), "{}", out.stderr);
    let out = sim(&["--hunter-prefixes", "0"]).await;
    assert!(!out.status.success());
    assert!(out.stderr.contains("at least one prefix"), "{}", out.stderr);
    let mut cmd = command();
    cmd.args(["hunt-sim", "--help"]);
    let help = run(cmd).await;
    for opt in [
        "--seeds",
        "--corrupt",
        "--prefixes",
        "--flaky",
        "--probes-per-hour",
        "--council-probes",
        "--hours",
        "--json",
    ] {
        assert!(help.stdout.contains(opt), "hunt-sim --help lacks {opt}");
    }
}
