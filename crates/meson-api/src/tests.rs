use meson_ledger::AccountKind;
use serde_json::json;

use crate::claims::{Outcome, PhaseName, PhaseView};
use crate::ledger::{AccountView, LogPage};
use crate::sites::{HourUsage, JobView, PurgeRequest, SiteStats, Usage};
use crate::Hash32;

#[test]
fn a_claims_phase_names_only_what_it_has() {
    let filed = PhaseView {
        phase: PhaseName::Filed,
        round: None,
        outcome: None,
        since: 5,
        until: None,
    };
    assert_eq!(
        serde_json::to_value(&filed).unwrap(),
        json!({"phase": "filed", "since": 5})
    );
    let decided = PhaseView {
        phase: PhaseName::Decided,
        round: Some(2),
        outcome: Some(Outcome::Rejected),
        since: 5,
        until: Some(9),
    };
    let sent = serde_json::to_value(&decided).unwrap();
    assert_eq!(
        sent,
        json!({"phase": "decided", "round": 2, "outcome": "rejected", "since": 5, "until": 9})
    );
    assert_eq!(serde_json::from_value::<PhaseView>(sent).unwrap(), decided);
}

#[test]
fn stats_carry_the_totals_beside_the_hours() {
    let usage = Usage {
        tickets: 1,
        requests: 2,
        hits: 1,
        hit_ratio: 0.5,
        bytes: 10,
    };
    let stats = SiteStats {
        host: "a.example".into(),
        from: 0,
        to: 3600,
        total: usage.clone(),
        hours: vec![HourUsage {
            hour_start: 0,
            usage,
        }],
    };
    let sent = serde_json::to_value(&stats).unwrap();
    assert_eq!(
        sent,
        json!({"host": "a.example", "from": 0, "to": 3600, "tickets": 1, "requests": 2, "hits": 1,
               "hit_ratio": 0.5, "bytes": 10,
               "hours": [{"hour_start": 0, "tickets": 1, "requests": 2, "hits": 1, "hit_ratio": 0.5,
                          "bytes": 10}]})
    );
    assert_eq!(serde_json::from_value::<SiteStats>(sent).unwrap(), stats);
}

#[test]
fn ids_and_base_units_travel_as_decimal_strings() {
    let a = AccountView {
        id: u128::MAX,
        kind: AccountKind::Escrow,
        balance: Some("1.5".into()),
        available: None,
        debits_posted: 1 << 100,
        credits_posted: 0,
        debits_pending: 0,
        credits_pending: 0,
    };
    let sent = serde_json::to_value(&a).unwrap();
    assert_eq!(sent["id"], json!(u128::MAX.to_string()));
    assert_eq!(sent["debits_posted"], json!((1u128 << 100).to_string()));
    assert_eq!(sent["kind"], json!("escrow"));
    assert_eq!(sent["available"], json!(null));
    assert_eq!(serde_json::from_value::<AccountView>(sent).unwrap(), a);
}

#[test]
fn an_answer_missing_a_field_is_refused_not_defaulted() {
    let job = json!({"id": 1, "site": "a.example", "action": {"purge": "all"}, "created": 5,
                     "complete": false, "failed": 0, "terminals": []});
    let e = serde_json::from_value::<JobView>(job).unwrap_err();
    assert!(e.to_string().contains("confirmed"), "{e}");
    let page = json!({"entries": [{"seq": 1, "prev_hash": "00", "hash": "11".repeat(32), "body": "{}"}],
                      "next": null});
    assert!(serde_json::from_value::<LogPage>(page).is_err());
}

#[test]
fn hashes_are_64_hex_digits() {
    let h = Hash32([0xab; 32]);
    let text = serde_json::to_value(h).unwrap();
    assert_eq!(text, json!("ab".repeat(32)));
    assert_eq!(serde_json::from_value::<Hash32>(text).unwrap(), h);
    for bad in ["ab".repeat(31), "zz".repeat(32), "é".repeat(32)] {
        assert!(
            serde_json::from_value::<Hash32>(json!(bad)).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn a_purge_names_only_its_scope() {
    let all = PurgeRequest {
        all: true,
        ..Default::default()
    };
    assert_eq!(serde_json::to_value(&all).unwrap(), json!({"all": true}));
    let tag = PurgeRequest {
        tag: Some("t".into()),
        ..Default::default()
    };
    assert_eq!(serde_json::to_value(&tag).unwrap(), json!({"tag": "t"}));
    assert!(serde_json::from_value::<PurgeRequest>(json!({"everything": true})).is_err());
}
