use super::*;
use crate::ONE_TOKEN;

#[test]
fn every_default_lies_within_its_bounds_and_the_defaults_agree() {
    for p in Param::ALL {
        let s = p.spec();
        assert!(s.min <= s.default && s.default <= s.max, "{}", s.name);
        assert_eq!(Param::named(s.name), Some(p));
    }
    Params::default().consistent().unwrap();
    let mut names: Vec<_> = Param::ALL.iter().map(|p| p.name()).collect();
    names.dedup();
    assert_eq!(names.len(), Param::ALL.len());
}

#[test]
fn a_value_out_of_bounds_names_the_bound() {
    let p = Params::default();
    let err = p
        .check_changes(&[(Key::Param(Param::FeeBps), 6_000)])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "fee_bps = 6000 basis points is out of bounds: the hard maximum is 5000 basis points"
    );
    let err = p
        .check_changes(&[(Key::Param(Param::QuorumBps), 50)])
        .unwrap_err();
    assert!(err.to_string().contains("the hard minimum is 100"), "{err}");
    let mut seeded = Params::default();
    assert!(seeded
        .seed(Key::Param(Param::TimelockSecs), 86_401)
        .is_err());
    seeded
        .seed(Key::Param(Param::TimelockSecs), 86_400)
        .unwrap();
}

#[test]
fn one_proposal_moves_a_parameter_by_at_most_its_step() {
    let p = Params::default();
    let fee = Key::Param(Param::FeeBps);
    p.check_changes(&[(fee.clone(), 1_000)]).unwrap();
    let err = p.check_changes(&[(fee.clone(), 999)]).unwrap_err();
    assert!(
        matches!(err, ParamError::StepTooLarge { ref limit, .. } if limit == "1000 basis points"),
        "{err}"
    );
    // Two changes of one parameter in one proposal each step from the value before the proposal.
    assert!(p.check_changes(&[(fee.clone(), 1_000), (fee, 0)]).is_err());
    let price = Key::Param(Param::PricePerGib);
    p.check_changes(&[(price.clone(), ONE_TOKEN / 5)]).unwrap();
    assert!(p
        .check_changes(&[(price.clone(), ONE_TOKEN / 5 + 1)])
        .is_err());
    p.check_changes(&[(price.clone(), ONE_TOKEN / 20)]).unwrap();
    assert!(p.check_changes(&[(price, ONE_TOKEN / 20 - 1)]).is_err());
    let epoch = Key::Param(Param::EpochSecs);
    assert_eq!(
        p.check_changes(&[(epoch, 3600)]).unwrap_err(),
        ParamError::Fixed {
            name: "epoch_secs".into()
        }
    );
}

#[test]
fn changes_that_break_a_rule_between_parameters_are_refused() {
    let p = Params::default();
    let err = p
        .check_changes(&[(Key::Param(Param::VetoDelayBps), 600)])
        .unwrap();
    assert_eq!(err.get(Param::VetoDelayBps), 600);
    let mut high = Params::default();
    high.seed(Key::Param(Param::VetoDelayBps), 900).unwrap();
    let err = high
        .check_changes(&[(Key::Param(Param::VetoCancelBps), 900)])
        .unwrap_err();
    assert!(matches!(err, ParamError::Inconsistent(_)), "{err}");
    let err = p
        .check_changes(&[(Key::Param(Param::ReviewSecs), 2 * 86_400)])
        .unwrap_err();
    assert!(err.to_string().contains("unbonding_secs"), "{err}");
}

#[test]
fn region_prices_are_keys_of_their_own_bounded_as_the_base_price() {
    let p = Params::default();
    let key = Key::parse("region_price.eu/west").unwrap();
    assert_eq!(key, Key::RegionPrice("eu/west".into()));
    let next = p.check_changes(&[(key.clone(), ONE_TOKEN / 5)]).unwrap();
    assert_eq!(
        next.region_prices(),
        vec![("eu/west".into(), ONE_TOKEN / 5)]
    );
    assert!(p.check_changes(&[(key, ONE_TOKEN)]).is_err());
    assert!(Key::parse("region_price.").is_err());
    assert!(matches!(Key::parse("fee"), Err(ParamError::Unknown { .. })));
}

#[test]
fn values_round_trip_through_json_by_name() {
    let mut p = Params::default();
    p.seed(Key::parse("region_price.na").unwrap(), 7).unwrap();
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["fee_bps"], "2000");
    assert_eq!(json["region_price.na"], "7");
    assert_eq!(serde_json::from_value::<Params>(json).unwrap(), p);
}
