//! `meson-cdn audit-sim`: seeded networks with cheating terminals, a table or JSON out.

mod support;

use serde_json::Value;
use support::*;

/// A network a debug build runs in a few seconds.
const SMALL: [&str; 18] = [
    "--terminals",
    "30",
    "--cheaters-per-strategy",
    "3",
    "--objects",
    "2000",
    "--bodies",
    "6",
    "--max-size",
    "64KiB",
    "--requests-per-terminal",
    "50",
    "--warmup-epochs",
    "3",
    "--epochs",
    "3",
    "--seeds",
    "3",
];

/// Runs the small network with `extra` flags, each replacing the small network's value of that flag.
async fn sim(extra: &[&str]) -> Output {
    run_with("audit-sim", &SMALL, extra).await
}

fn row<'a>(report: &'a Value, label: &str) -> &'a Value {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["label"] == label)
        .unwrap_or_else(|| panic!("no row {label} in {report}"))
}

#[tokio::test]
async fn json_reports_every_strategy_and_is_the_same_on_any_number_of_threads() {
    let out = sim(&["--json", "--threads", "1"]).await;
    assert!(out.status.success(), "{out:?}");
    assert!(out.stderr.contains("3/3 seeds"), "progress: {}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["seeds"], 3);
    let labels: Vec<&str> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "honest",
            "corrupt 1%",
            "corrupt 10%",
            "corrupt 100%",
            "drop 10%",
            "drop 100%",
            "inflate x2 on 1%",
            "inflate x2 on 10%",
            "flaky 5% timeouts",
            "flaky 20% timeouts"
        ]
    );
    // 30 terminals, 9 groups of 3 cheaters: 3 honest per seed.
    let honest = row(&report, "honest");
    assert_eq!(honest["terminals"], 9);
    assert_eq!(
        honest["evidence_by_epoch"],
        serde_json::json!([0.0, 0.0, 0.0])
    );
    assert_eq!(
        honest["suspended_by_epoch"],
        serde_json::json!([0.0, 0.0, 0.0])
    );
    assert_eq!(row(&report, "corrupt 100%")["evidence_by_epoch"][2], 1.0);
    assert!(report["traffic"]["answer_share"].as_f64().unwrap() > 0.0);

    let again = sim(&["--json", "--threads", "2"]).await;
    assert!(again.status.success(), "{again:?}");
    assert_eq!(again.stdout, out.stdout);
}

#[tokio::test]
async fn the_table_names_strategies_and_epochs() {
    let out = sim(&["--corrupt", "0.5", "--drop", "--inflate", "--flaky"]).await;
    assert!(out.status.success(), "{out:?}");
    for text in [
        "suspended",
        "objective evidence",
        "corrupt 50%",
        "e3",
        "traffic per seed",
    ] {
        assert!(out.stdout.contains(text), "no {text:?} in:\n{}", out.stdout);
    }
    assert!(!out.stdout.contains("drop"), "{}", out.stdout);
}

#[tokio::test]
async fn an_impossible_network_is_refused() {
    let out = sim(&["--cheaters-per-strategy", "10"]).await;
    assert!(!out.status.success());
    assert!(out.stderr.contains("do not fit in 30"), "{}", out.stderr);
    let mut cmd = command();
    cmd.args(["audit-sim", "--help"]);
    let help = run(cmd).await;
    for opt in ["--seeds", "--corrupt", "--audit-interval-secs", "--json"] {
        assert!(help.stdout.contains(opt), "audit-sim --help lacks {opt}");
    }
}
