use super::*;

const ISSUANCE: u128 = 1;
const BURN: u128 = 2;
const ALICE: u128 = 10;
const BOB: u128 = 11;
const ESCROW: u128 = 12;

fn tokens(n: u128) -> Amount {
    n * ONE_TOKEN
}

fn new_account(id: u128, kind: AccountKind) -> NewAccount {
    NewAccount {
        id,
        kind,
        owner: None,
        user_data: 0,
    }
}

/// Issuance, burn, and three holders; Alice holds 100 tokens.
fn ledger() -> Ledger {
    let mut l = Ledger::new();
    let results = l.create_accounts(
        &[
            new_account(ISSUANCE, AccountKind::Issuance),
            new_account(BURN, AccountKind::Burn),
            new_account(ALICE, AccountKind::Customer),
            new_account(BOB, AccountKind::Terminal),
            new_account(ESCROW, AccountKind::Escrow),
        ],
        100,
    );
    assert!(results.iter().all(|r| *r == Ok(Outcome::Created)));
    let mint = Transfer::new(1000, ISSUANCE, ALICE, tokens(100), TransferCode::Mint);
    assert_eq!(one(&mut l, mint, 100), Ok(Outcome::Created));
    l
}

fn one(l: &mut Ledger, t: Transfer, now: u64) -> Result<Outcome, TransferError> {
    let results = l.create_transfers(&[t], now);
    assert_eq!(results.len(), 1);
    l.check_invariants().expect("invariants hold");
    results[0]
}

fn pay(id: u128, from: u128, to: u128, amount: Amount) -> Transfer {
    Transfer::new(id, from, to, amount, TransferCode::Transfer)
}

fn pending(id: u128, from: u128, to: u128, amount: Amount, timeout_secs: u64) -> Transfer {
    let mut t = pay(id, from, to, amount);
    t.flags.pending = true;
    t.timeout_secs = timeout_secs;
    t
}

fn post(id: u128, pending_id: u128, amount: Amount) -> Transfer {
    let mut t = pay(id, 0, 0, amount);
    t.pending_id = pending_id;
    t.flags.post_pending = true;
    t
}

fn void(id: u128, pending_id: u128) -> Transfer {
    let mut t = pay(id, 0, 0, 0);
    t.pending_id = pending_id;
    t.flags.void_pending = true;
    t
}

fn linked(mut t: Transfer) -> Transfer {
    t.flags.linked = true;
    t
}

fn balance(l: &Ledger, id: u128) -> Amount {
    l.account(id).unwrap().balance().unwrap()
}

// ---- amounts ----

#[test]
fn parse_amount_reads_exact_decimals() {
    assert_eq!(parse_amount("12.5"), Ok(12_500_000_000));
    assert_eq!(parse_amount("0.000000001"), Ok(1));
    assert_eq!(parse_amount("3"), Ok(3_000_000_000));
    assert_eq!(parse_amount("0"), Ok(0));
    assert_eq!(parse_amount("007.50"), Ok(7_500_000_000));
    assert_eq!(parse_amount("1.123456789"), Ok(1_123_456_789));
    assert_eq!(
        parse_amount("340282366920938463463374607431.768211455"),
        Ok(u128::MAX)
    );
}

#[test]
fn parse_amount_refuses_what_is_not_an_exact_amount() {
    use AmountError as E;
    for (text, err) in [
        ("", E::Empty),
        ("-1", E::Sign),
        ("+1", E::Sign),
        ("1.0000000000", E::TooManyDecimals),
        ("0.0000000001", E::TooManyDecimals),
        ("1.", E::Malformed),
        (".5", E::Malformed),
        ("1.2.3", E::Malformed),
        (" 1", E::Malformed),
        ("1 ", E::Malformed),
        ("1e9", E::Malformed),
        ("1_000", E::Malformed),
        ("1,5", E::Malformed),
        ("NaN", E::Malformed),
        ("340282366920938463463374607431.768211456", E::Overflow),
        ("340282366920938463463374607432", E::Overflow),
        ("9999999999999999999999999999999999999999", E::Overflow),
    ] {
        assert_eq!(parse_amount(text), Err(err), "{text:?}");
    }
}

#[test]
fn format_amount_has_no_trailing_zeros_and_round_trips() {
    assert_eq!(format_amount(12_500_000_000), "12.5");
    assert_eq!(format_amount(1), "0.000000001");
    assert_eq!(format_amount(3_000_000_000), "3");
    assert_eq!(format_amount(0), "0");
    assert_eq!(format_amount(1_000_000_010), "1.00000001");
    for v in [
        0,
        1,
        10,
        ONE_TOKEN - 1,
        ONE_TOKEN,
        123_456_789_012,
        u128::MAX,
    ] {
        assert_eq!(parse_amount(&format_amount(v)), Ok(v));
    }
}

// ---- JSON ----

#[test]
fn u128_fields_are_decimal_strings_in_json() {
    let mut t = pay(u128::MAX, 2, 3, u128::MAX - 1);
    t.user_data = 1 << 100;
    let json = serde_json::to_value(t).unwrap();
    assert_eq!(json["id"], "340282366920938463463374607431768211455");
    assert_eq!(json["amount"], "340282366920938463463374607431768211454");
    assert_eq!(json["pending_id"], "0");
    assert_eq!(json["code"], "transfer");
    assert_eq!(serde_json::from_value::<Transfer>(json).unwrap(), t);
}

#[test]
fn transfer_json_accepts_integers_and_omitted_defaults_but_not_other_spellings() {
    let t: Transfer = serde_json::from_str(
        r#"{"id":"7","debit_account":1,"credit_account":"2","amount":"5","code":"mint"}"#,
    )
    .unwrap();
    assert_eq!(t, Transfer::new(7, 1, 2, 5, TransferCode::Mint));
    for bad in [
        r#""+5""#, r#""-1""#, r#""1.5""#, r#""""#, r#"" 5""#, "-1", "1.5",
    ] {
        let json = format!(r#"{{"id":{bad},"amount":"1","code":"mint"}}"#);
        assert!(serde_json::from_str::<Transfer>(&json).is_err(), "{bad}");
    }
    let too_big = r#"{"id":"340282366920938463463374607431768211456","amount":"1","code":"mint"}"#;
    assert!(serde_json::from_str::<Transfer>(too_big).is_err());
}

#[test]
fn owner_is_base64_in_json() {
    let mut a = new_account(5, AccountKind::Terminal);
    a.owner = Some([0xfb; 32]);
    let json = serde_json::to_value(a).unwrap();
    let text = json["owner"].as_str().unwrap();
    assert_eq!(text.len(), 43);
    assert_eq!(serde_json::from_value::<NewAccount>(json).unwrap(), a);
    let none: NewAccount = serde_json::from_str(r#"{"id":"5","kind":"stake"}"#).unwrap();
    assert_eq!(none, new_account(5, AccountKind::Stake));
    assert!(
        serde_json::from_str::<NewAccount>(r#"{"id":"5","kind":"stake","owner":"AAAA"}"#).is_err()
    );
}

#[test]
fn transfer_codes_have_stable_numbers() {
    for (i, code) in TransferCode::ALL.into_iter().enumerate() {
        assert_eq!(code.as_u16() as usize, i + 1);
        assert_eq!(TransferCode::from_u16(code.as_u16()), Some(code));
    }
    assert_eq!(TransferCode::from_u16(0), None);
    for (i, kind) in AccountKind::ALL.into_iter().enumerate() {
        assert_eq!(kind.code() as usize, i + 1);
    }
}

// ---- accounts ----

#[test]
fn accounts_open_with_the_flags_of_their_kind() {
    let l = ledger();
    let iss = l.account(ISSUANCE).unwrap();
    assert!(!iss.flags.debits_must_not_exceed_credits && !iss.flags.credits_only);
    let burn = l.account(BURN).unwrap();
    assert!(burn.flags.debits_must_not_exceed_credits && burn.flags.credits_only);
    for kind in AccountKind::ALL {
        let f = kind.flags();
        assert_eq!(
            f.debits_must_not_exceed_credits,
            kind != AccountKind::Issuance
        );
        assert_eq!(f.credits_only, kind == AccountKind::Burn);
    }
    assert_eq!(l.account(BOB).unwrap().created_at, 100);
    assert_eq!(iss.balance(), None);
    let ids: Vec<u128> = l.accounts().map(|a| a.id).collect();
    assert_eq!(ids, [ISSUANCE, BURN, ALICE, BOB, ESCROW]);
}

#[test]
fn account_ids_are_non_zero_and_idempotent() {
    let mut l = ledger();
    let mut owned = new_account(ALICE, AccountKind::Customer);
    let mut other_data = owned;
    other_data.user_data = 9;
    owned.owner = Some([1; 32]);
    let results = l.create_accounts(
        &[
            new_account(0, AccountKind::Customer),
            new_account(ALICE, AccountKind::Customer),
            new_account(ALICE, AccountKind::Terminal),
            owned,
            other_data,
            new_account(20, AccountKind::Hunter),
            new_account(20, AccountKind::Hunter),
        ],
        200,
    );
    use AccountError as E;
    assert_eq!(
        results,
        [
            Err(E::IdZero),
            Ok(Outcome::Exists),
            Err(E::ExistsWithDifferentFields),
            Err(E::ExistsWithDifferentFields),
            Err(E::ExistsWithDifferentFields),
            Ok(Outcome::Created),
            Ok(Outcome::Exists),
        ]
    );
    assert_eq!(l.account(ALICE).unwrap().created_at, 100);
    assert_eq!(l.account(ALICE).unwrap().kind, AccountKind::Customer);
}

#[test]
fn ledger_time_never_runs_backwards() {
    let mut l = ledger();
    l.create_accounts(&[new_account(30, AccountKind::Council)], 50);
    assert_eq!(l.account(30).unwrap().created_at, 100);
    assert_eq!(l.now(), 100);
    one(&mut l, pay(5, ALICE, BOB, 1), 7).unwrap();
    assert_eq!(l.transfer(5).unwrap().timestamp, 100);
}

// ---- plain transfers ----

#[test]
fn a_transfer_moves_money() {
    let mut l = ledger();
    assert_eq!(
        one(&mut l, pay(1, ALICE, BOB, tokens(30)), 101),
        Ok(Outcome::Created)
    );
    assert_eq!(balance(&l, ALICE), tokens(70));
    assert_eq!(balance(&l, BOB), tokens(30));
    let c = l.transfer(1).unwrap();
    assert_eq!(
        (c.debit_account, c.credit_account, c.amount, c.timestamp),
        (ALICE, BOB, tokens(30), 101)
    );
    assert_eq!(l.transfer_count(), 2);
    assert_eq!(l.supply(), tokens(100));
}

#[test]
fn transfers_are_refused_for_each_basic_rule() {
    use TransferError as E;
    let mut l = ledger();
    let before = l.state_digest();
    let mut with_pending_id = pay(7, ALICE, BOB, 1);
    with_pending_id.pending_id = 1000;
    let mut with_timeout = pay(7, ALICE, BOB, 1);
    with_timeout.timeout_secs = 5;
    let mut both = pending(7, ALICE, BOB, 1, 0);
    both.flags.void_pending = true;
    let mut post_and_void = post(7, 1000, 0);
    post_and_void.flags.void_pending = true;
    for (t, err) in [
        (pay(0, ALICE, BOB, 1), E::IdZero),
        (pay(7, ALICE, ALICE, 1), E::SameAccount),
        (pay(7, ALICE, BOB, 0), E::AmountZero),
        (pending(7, ALICE, BOB, 0, 0), E::AmountZero),
        (pay(7, 99, BOB, 1), E::DebitAccountNotFound),
        (pay(7, 0, BOB, 1), E::DebitAccountNotFound),
        (pay(7, ALICE, 99, 1), E::CreditAccountNotFound),
        (pay(7, ALICE, BOB, tokens(100) + 1), E::ExceedsCredits),
        (pay(7, BOB, ALICE, 1), E::ExceedsCredits),
        (with_pending_id, E::PendingIdMustBeZero),
        (with_timeout, E::TimeoutReservedForPending),
        (both, E::FlagsAreMutuallyExclusive),
        (post_and_void, E::FlagsAreMutuallyExclusive),
    ] {
        assert_eq!(one(&mut l, t, 101), Err(err), "{t:?}");
    }
    assert_eq!(l.state_digest(), before);
    assert!(l.transfer(7).is_none());
}

#[test]
fn an_account_can_spend_exactly_its_balance() {
    let mut l = ledger();
    assert_eq!(
        one(&mut l, pay(1, ALICE, BOB, tokens(100)), 101),
        Ok(Outcome::Created)
    );
    assert_eq!(balance(&l, ALICE), 0);
    assert_eq!(
        one(&mut l, pay(2, ALICE, BOB, 1), 101),
        Err(TransferError::ExceedsCredits)
    );
}

#[test]
fn mint_and_burn_are_the_only_ways_supply_changes() {
    use TransferError as E;
    let mut l = ledger();
    let code = |mut t: Transfer, c| {
        t.code = c;
        t
    };
    for (t, err) in [
        (
            code(pay(7, ALICE, BOB, 1), TransferCode::Mint),
            E::MintMustDebitIssuance,
        ),
        (pay(7, ISSUANCE, BOB, 1), E::IssuanceRequiresMint),
        (
            code(pay(7, ISSUANCE, BOB, 1), TransferCode::Burn),
            E::IssuanceRequiresMint,
        ),
        (pay(7, ALICE, ISSUANCE, 1), E::IssuanceCannotBeCredited),
        (
            code(pay(7, ALICE, ISSUANCE, 1), TransferCode::Mint),
            E::IssuanceCannotBeCredited,
        ),
        (
            code(pay(7, ALICE, BOB, 1), TransferCode::Burn),
            E::BurnMustCreditBurnAccount,
        ),
        (pay(7, ALICE, BURN, 1), E::BurnAccountRequiresBurn),
        (
            code(pay(7, ISSUANCE, BURN, 1), TransferCode::Mint),
            E::BurnAccountRequiresBurn,
        ),
        (
            code(pending(7, ALICE, BOB, 1, 0), TransferCode::Mint),
            E::MintMustDebitIssuance,
        ),
    ] {
        assert_eq!(one(&mut l, t, 101), Err(err), "{t:?}");
    }
    let burn = Transfer::new(8, ALICE, BURN, tokens(30), TransferCode::Burn);
    assert_eq!(one(&mut l, burn, 101), Ok(Outcome::Created));
    assert_eq!(
        (l.issued(), l.burned(), l.supply()),
        (tokens(100), tokens(30), tokens(70))
    );
    assert_eq!(balance(&l, BURN), tokens(30));
    // A second issuance account is still never credited, even by a mint.
    l.create_accounts(&[new_account(3, AccountKind::Issuance)], 101);
    let mint_between = Transfer::new(9, ISSUANCE, 3, 1, TransferCode::Mint);
    assert_eq!(
        one(&mut l, mint_between, 101),
        Err(E::IssuanceCannotBeCredited)
    );
}

#[test]
fn the_burn_account_can_never_be_debited() {
    let mut l = ledger();
    one(
        &mut l,
        Transfer::new(1, ALICE, BURN, tokens(5), TransferCode::Burn),
        101,
    )
    .unwrap();
    for t in [
        pay(2, BURN, ALICE, 1),
        pending(2, BURN, ALICE, 1, 0),
        Transfer::new(2, BURN, ALICE, 1, TransferCode::Correction),
    ] {
        assert_eq!(
            one(&mut l, t, 101),
            Err(TransferError::DebitAccountIsCreditsOnly)
        );
    }
}

#[test]
fn sums_that_would_overflow_are_refused() {
    let mut l = Ledger::new();
    l.create_accounts(
        &[
            new_account(ISSUANCE, AccountKind::Issuance),
            new_account(ALICE, AccountKind::Customer),
            new_account(BOB, AccountKind::Customer),
        ],
        0,
    );
    let mint = |id, to, amount| Transfer::new(id, ISSUANCE, to, amount, TransferCode::Mint);
    assert_eq!(
        one(&mut l, mint(1, ALICE, u128::MAX - 1), 0),
        Ok(Outcome::Created)
    );
    // Issuance's debits would overflow, and so would the ledger's total, though Bob's credits would not.
    assert_eq!(
        one(&mut l, mint(2, BOB, 2), 0),
        Err(TransferError::Overflow)
    );
    let mut pend = mint(3, BOB, 1);
    pend.flags.pending = true;
    assert_eq!(one(&mut l, pend, 0), Ok(Outcome::Created));
    // Posted plus pending is full: nothing more, pending or not.
    assert_eq!(
        one(&mut l, mint(4, BOB, 1), 0),
        Err(TransferError::Overflow)
    );
    assert_eq!(
        l.create_transfers(&[post(5, 3, 0)], 0),
        [Err(TransferError::PendingCodeMismatch)]
    );
    let mut p = post(5, 3, 0);
    p.code = TransferCode::Mint;
    assert_eq!(one(&mut l, p, 0), Ok(Outcome::Created));
    assert_eq!(l.supply(), u128::MAX);
    // Every posted amount counts towards the ledger's lifetime volume, which is now full as well.
    assert_eq!(
        one(&mut l, pay(6, ALICE, BOB, 5), 0),
        Err(TransferError::Overflow)
    );
}

#[test]
fn a_timeout_past_the_end_of_time_is_an_overflow() {
    let mut l = ledger();
    assert_eq!(
        one(&mut l, pending(1, ALICE, BOB, 1, u64::MAX), 101),
        Err(TransferError::Overflow)
    );
}

// ---- idempotency ----

#[test]
fn a_resubmitted_transfer_applies_once() {
    let mut l = ledger();
    let t = pay(1, ALICE, BOB, tokens(10));
    assert_eq!(
        l.create_transfers(&[t, t], 101),
        [Ok(Outcome::Created), Ok(Outcome::Exists)]
    );
    let digest = l.state_digest();
    for now in [101, 500] {
        assert_eq!(one(&mut l, t, now), Ok(Outcome::Exists));
    }
    assert_eq!(l.state_digest(), digest);
    assert_eq!(balance(&l, BOB), tokens(10));
    assert_eq!(l.transfer_count(), 2);
    assert_eq!(l.transfer(1).unwrap().timestamp, 101);
}

#[test]
fn a_resubmission_is_recognised_even_when_it_would_now_be_refused() {
    let mut l = ledger();
    let all = pay(1, ALICE, BOB, tokens(100));
    one(&mut l, all, 101).unwrap();
    assert_eq!(one(&mut l, all, 102), Ok(Outcome::Exists));
    one(&mut l, pending(2, BOB, ALICE, 5, 10), 102).unwrap();
    let p = post(3, 2, 0);
    one(&mut l, p, 103).unwrap();
    assert_eq!(l.expire_pending(1000), Vec::<u128>::new());
    assert_eq!(one(&mut l, p, 1000), Ok(Outcome::Exists));
}

#[test]
fn reusing_an_id_with_any_field_changed_is_an_error() {
    let mut l = ledger();
    let t = pay(1, ALICE, BOB, 10);
    one(&mut l, t, 101).unwrap();
    let changes: [fn(&mut Transfer); 8] = [
        |t| t.amount += 1,
        |t| t.credit_account = ESCROW,
        |t| t.debit_account = BOB,
        |t| t.code = TransferCode::Fee,
        |t| t.user_data = 1,
        |t| t.flags.linked = true,
        |t| t.flags.pending = true,
        |t| t.timeout_secs = 1,
    ];
    for change in changes {
        let mut other = t;
        change(&mut other);
        // A second transfer closes the chain when the change is `linked`.
        assert_eq!(
            l.create_transfers(&[other, pay(2, ALICE, BOB, 1)], 101)[0],
            Err(TransferError::ExistsWithDifferentFields)
        );
    }
    // The mint that opened Alice's balance has id 1000: a transfer id, whatever it was.
    assert_eq!(
        one(&mut l, pay(1000, ALICE, BOB, 1), 101),
        Err(TransferError::ExistsWithDifferentFields)
    );
}

// ---- two-phase ----

#[test]
fn a_pending_transfer_reserves_without_moving() {
    let mut l = ledger();
    assert_eq!(
        one(&mut l, pending(1, ALICE, ESCROW, tokens(60), 0), 101),
        Ok(Outcome::Created)
    );
    let a = *l.account(ALICE).unwrap();
    assert_eq!(
        (a.debits_pending, a.balance(), a.available()),
        (tokens(60), Some(tokens(100)), Some(tokens(40)))
    );
    assert_eq!(l.account(ESCROW).unwrap().credits_pending, tokens(60));
    assert_eq!(balance(&l, ESCROW), 0);
    assert_eq!(
        l.pending_status(1),
        Some(PendingStatus::Pending { expires_at: None })
    );
    // The reservation counts against Alice's funds, for plain and pending transfers alike.
    assert_eq!(
        one(&mut l, pay(2, ALICE, BOB, tokens(41)), 101),
        Err(TransferError::ExceedsCredits)
    );
    assert_eq!(
        one(&mut l, pending(2, ALICE, BOB, tokens(41), 0), 101),
        Err(TransferError::ExceedsCredits)
    );
    assert_eq!(
        one(&mut l, pay(2, ALICE, BOB, tokens(40)), 101),
        Ok(Outcome::Created)
    );
    // Promised credits cannot be spent before they are posted.
    assert_eq!(
        one(&mut l, pay(3, ESCROW, BOB, 1), 101),
        Err(TransferError::ExceedsCredits)
    );
    assert_eq!(l.pending_status(2), None);
}

#[test]
fn posting_with_amount_zero_posts_everything() {
    let mut l = ledger();
    one(&mut l, pending(1, ALICE, ESCROW, tokens(60), 50), 101).unwrap();
    assert_eq!(one(&mut l, post(2, 1, 0), 149), Ok(Outcome::Created));
    assert_eq!(balance(&l, ALICE), tokens(40));
    assert_eq!(balance(&l, ESCROW), tokens(60));
    let (a, e) = (l.account(ALICE).unwrap(), l.account(ESCROW).unwrap());
    assert_eq!((a.debits_pending, e.credits_pending), (0, 0));
    assert_eq!(l.pending_status(1), Some(PendingStatus::Posted { by: 2 }));
    let c = l.transfer(2).unwrap();
    assert_eq!(
        (c.debit_account, c.credit_account, c.amount),
        (ALICE, ESCROW, tokens(60))
    );
    assert_eq!(l.expire_pending(10_000), Vec::<u128>::new());
}

#[test]
fn a_partial_post_releases_the_rest() {
    let mut l = ledger();
    one(&mut l, pending(1, ALICE, ESCROW, tokens(60), 0), 101).unwrap();
    assert_eq!(
        one(&mut l, post(2, 1, tokens(60) + 1), 101),
        Err(TransferError::ExceedsPendingAmount)
    );
    let mut explicit = post(2, 1, tokens(25));
    explicit.debit_account = ALICE;
    explicit.credit_account = ESCROW;
    assert_eq!(one(&mut l, explicit, 101), Ok(Outcome::Created));
    assert_eq!(balance(&l, ALICE), tokens(75));
    assert_eq!(l.account(ALICE).unwrap().debits_pending, 0);
    assert_eq!(balance(&l, ESCROW), tokens(25));
    assert_eq!(l.transfer(2).unwrap().amount, tokens(25));
}

#[test]
fn a_void_releases_everything() {
    let mut l = ledger();
    let before = *l.account(ALICE).unwrap();
    one(&mut l, pending(1, ALICE, ESCROW, tokens(60), 0), 101).unwrap();
    let mut wrong = void(2, 1);
    wrong.amount = tokens(59);
    assert_eq!(
        one(&mut l, wrong, 101),
        Err(TransferError::VoidAmountMismatch)
    );
    let mut exact = void(2, 1);
    exact.amount = tokens(60);
    assert_eq!(one(&mut l, exact, 101), Ok(Outcome::Created));
    let after = *l.account(ALICE).unwrap();
    assert_eq!(
        (after.debits_pending, after.debits_posted),
        (before.debits_pending, before.debits_posted)
    );
    assert_eq!(l.account(ESCROW).unwrap().credits_pending, 0);
    assert_eq!(l.pending_status(1), Some(PendingStatus::Voided { by: 2 }));
    assert_eq!(l.transfer(2).unwrap().amount, tokens(60));
}

#[test]
fn a_pending_transfer_resolves_only_once() {
    use TransferError as E;
    let mut l = ledger();
    one(&mut l, pending(1, ALICE, ESCROW, 10, 0), 101).unwrap();
    one(&mut l, pending(2, ALICE, ESCROW, 10, 0), 101).unwrap();
    one(&mut l, post(3, 1, 4), 101).unwrap();
    one(&mut l, void(4, 2), 101).unwrap();
    assert_eq!(
        one(&mut l, post(5, 1, 0), 101),
        Err(E::PendingAlreadyPosted)
    );
    assert_eq!(one(&mut l, void(5, 1), 101), Err(E::PendingAlreadyPosted));
    assert_eq!(
        one(&mut l, post(5, 2, 0), 101),
        Err(E::PendingAlreadyVoided)
    );
    assert_eq!(one(&mut l, void(5, 2), 101), Err(E::PendingAlreadyVoided));
}

#[test]
fn posts_and_voids_must_name_a_matching_pending_transfer() {
    use TransferError as E;
    let mut l = ledger();
    one(&mut l, pending(1, ALICE, ESCROW, 10, 0), 101).unwrap();
    one(&mut l, pay(2, ALICE, BOB, 10), 101).unwrap();
    let with = |mut t: Transfer, f: fn(&mut Transfer)| {
        f(&mut t);
        t
    };
    for (t, err) in [
        (post(9, 0, 0), E::PendingIdRequired),
        (void(9, 0), E::PendingIdRequired),
        (post(9, 77, 0), E::PendingNotFound),
        (post(9, 9, 0), E::PendingNotFound),
        (post(9, 2, 0), E::NotPending),
        (void(9, 3), E::PendingNotFound),
        (
            with(post(9, 1, 0), |t| t.debit_account = BOB),
            E::PendingAccountsMismatch,
        ),
        (
            with(void(9, 1), |t| t.credit_account = ALICE),
            E::PendingAccountsMismatch,
        ),
        (
            with(post(9, 1, 0), |t| t.code = TransferCode::Charge),
            E::PendingCodeMismatch,
        ),
        (
            with(post(9, 1, 0), |t| t.timeout_secs = 3),
            E::TimeoutReservedForPending,
        ),
    ] {
        assert_eq!(one(&mut l, t, 101), Err(err), "{t:?}");
    }
    assert_eq!(
        l.pending_status(1),
        Some(PendingStatus::Pending { expires_at: None })
    );
}

#[test]
fn an_expired_pending_transfer_cannot_be_posted_and_is_released_by_expiry() {
    let mut l = ledger();
    one(&mut l, pending(1, ALICE, ESCROW, tokens(10), 10), 100).unwrap();
    assert_eq!(
        l.pending_status(1),
        Some(PendingStatus::Pending {
            expires_at: Some(110)
        })
    );
    assert_eq!(l.next_expiry(), Some(110));
    assert_eq!(l.expire_pending(109), Vec::<u128>::new());
    assert_eq!(
        one(&mut l, post(2, 1, 0), 110),
        Err(TransferError::PendingExpired)
    );
    assert_eq!(
        one(&mut l, void(2, 1), 110),
        Err(TransferError::PendingExpired)
    );
    // Still reserved until expiry runs.
    assert_eq!(l.account(ALICE).unwrap().debits_pending, tokens(10));
    assert_eq!(l.expire_pending(110), [1]);
    assert_eq!(l.next_expiry(), None);
    l.check_invariants().unwrap();
    assert_eq!(l.pending_status(1), Some(PendingStatus::Expired));
    assert_eq!(l.account(ALICE).unwrap().debits_pending, 0);
    assert_eq!(l.account(ESCROW).unwrap().credits_pending, 0);
    assert_eq!(
        one(&mut l, post(2, 1, 0), 111),
        Err(TransferError::PendingExpired)
    );
    assert_eq!(l.expire_pending(200), Vec::<u128>::new());
}

#[test]
fn a_pending_transfer_can_be_posted_until_its_last_second() {
    let mut l = ledger();
    one(&mut l, pending(1, ALICE, ESCROW, tokens(10), 10), 100).unwrap();
    assert_eq!(one(&mut l, post(2, 1, 0), 109), Ok(Outcome::Created));
}

#[test]
fn expiry_releases_in_order_of_time_then_id_and_never_touches_timeout_zero() {
    let mut l = ledger();
    l.create_transfers(
        &[
            pending(5, ALICE, BOB, 1, 20),
            pending(3, ALICE, BOB, 1, 20),
            pending(4, ALICE, BOB, 1, 5),
            pending(6, ALICE, BOB, 1, 0),
            pending(7, ALICE, BOB, 1, 30),
        ],
        100,
    );
    assert_eq!(l.expire_pending(125), [4, 3, 5]);
    assert_eq!(l.expire_pending(u64::MAX), [7]);
    assert_eq!(
        l.pending_status(6),
        Some(PendingStatus::Pending { expires_at: None })
    );
    l.check_invariants().unwrap();
}

#[test]
fn a_pending_mint_changes_supply_only_when_posted() {
    let mut l = ledger();
    let mut m = Transfer::new(1, ISSUANCE, BOB, tokens(8), TransferCode::Mint);
    m.flags.pending = true;
    one(&mut l, m, 101).unwrap();
    assert_eq!(l.supply(), tokens(100));
    let mut p = post(2, 1, tokens(3));
    p.code = TransferCode::Mint;
    one(&mut l, p, 101).unwrap();
    assert_eq!((l.issued(), l.supply()), (tokens(103), tokens(103)));

    let mut b = Transfer::new(3, BOB, BURN, tokens(2), TransferCode::Burn);
    b.flags.pending = true;
    one(&mut l, b, 101).unwrap();
    assert_eq!(l.supply(), tokens(103));
    let mut v = void(4, 3);
    v.code = TransferCode::Burn;
    one(&mut l, v, 101).unwrap();
    assert_eq!((l.burned(), l.supply()), (0, tokens(103)));
}

// ---- linked chains ----

#[test]
fn a_linked_chain_commits_together_and_sees_its_own_effects() {
    let mut l = ledger();
    let results = l.create_transfers(
        &[
            linked(Transfer::new(
                1,
                ISSUANCE,
                BOB,
                tokens(5),
                TransferCode::Mint,
            )),
            linked(pay(2, BOB, ESCROW, tokens(5))),
            Transfer::new(3, ESCROW, BURN, tokens(1), TransferCode::Burn),
        ],
        101,
    );
    assert_eq!(results, [Ok(Outcome::Created); 3]);
    assert_eq!(balance(&l, ESCROW), tokens(4));
    l.check_invariants().unwrap();
}

#[test]
fn a_failure_in_a_chain_applies_none_of_it() {
    let mut l = ledger();
    let before = l.state_digest();
    let results = l.create_transfers(
        &[
            linked(pending(1, ALICE, ESCROW, tokens(10), 5)),
            linked(post(2, 1, 0)),
            linked(Transfer::new(
                3,
                ISSUANCE,
                BOB,
                tokens(5),
                TransferCode::Mint,
            )),
            pay(4, BOB, ALICE, tokens(6)),
        ],
        101,
    );
    use TransferError as E;
    assert_eq!(
        results,
        [
            Err(E::LinkedEventFailed),
            Err(E::LinkedEventFailed),
            Err(E::LinkedEventFailed),
            Err(E::ExceedsCredits),
        ]
    );
    assert_eq!(l.state_digest(), before);
    l.check_invariants().unwrap();
    for id in 1..=4 {
        assert!(l.transfer(id).is_none());
        assert_eq!(l.pending_status(id), None);
    }
    // The rolled-back reservation left nothing in the expiry index.
    assert_eq!(l.expire_pending(1000), Vec::<u128>::new());
    // The same ids are free to use afterwards.
    assert_eq!(
        one(&mut l, pending(1, ALICE, ESCROW, tokens(10), 5), 101),
        Ok(Outcome::Created)
    );
}

#[test]
fn a_failed_chain_does_not_touch_its_neighbours() {
    let mut l = ledger();
    let results = l.create_transfers(
        &[
            pay(1, ALICE, BOB, 1),
            linked(pay(2, ALICE, BOB, 1)),
            pay(3, ALICE, ALICE, 1),
            linked(pay(4, ALICE, BOB, 1)),
            pay(5, ALICE, BOB, 1),
            pay(6, ALICE, BOB, 1),
        ],
        101,
    );
    use TransferError as E;
    assert_eq!(
        results,
        [
            Ok(Outcome::Created),
            Err(E::LinkedEventFailed),
            Err(E::SameAccount),
            Ok(Outcome::Created),
            Ok(Outcome::Created),
            Ok(Outcome::Created),
        ]
    );
    assert_eq!(balance(&l, BOB), 4);
}

#[test]
fn a_chain_left_open_at_the_end_of_a_batch_fails() {
    let mut l = ledger();
    let before = l.state_digest();
    let results = l.create_transfers(
        &[
            pay(1, ALICE, BOB, 1),
            linked(pay(2, ALICE, BOB, 1)),
            linked(pay(3, ALICE, BOB, 1)),
        ],
        101,
    );
    use TransferError as E;
    assert_eq!(
        results,
        [
            Ok(Outcome::Created),
            Err(E::LinkedEventFailed),
            Err(E::LinkedEventChainOpen)
        ]
    );
    assert_eq!(l.transfer_count(), 2);
    assert_ne!(l.state_digest(), before);
    assert_eq!(
        l.create_transfers(&[linked(pay(4, ALICE, BOB, 1))], 101),
        [Err(E::LinkedEventChainOpen)]
    );
    assert!(l.transfer(4).is_none());
    assert_eq!(l.create_transfers(&[], 101), []);
}

#[test]
fn a_resubmitted_chain_reports_exists_for_each_transfer() {
    let mut l = ledger();
    let chain = [linked(pay(1, ALICE, BOB, 1)), pay(2, ALICE, BOB, 1)];
    assert_eq!(l.create_transfers(&chain, 101), [Ok(Outcome::Created); 2]);
    assert_eq!(l.create_transfers(&chain, 102), [Ok(Outcome::Exists); 2]);
    // A chain mixing a committed transfer with a new one applies the new one.
    let grown = [linked(pay(1, ALICE, BOB, 1)), pay(3, ALICE, BOB, 1)];
    assert_eq!(
        l.create_transfers(&grown, 102),
        [Ok(Outcome::Exists), Ok(Outcome::Created)]
    );
    assert_eq!(balance(&l, BOB), 3);
}

// ---- digest and replay ----

#[test]
fn the_digest_covers_accounts_and_the_transfer_count() {
    let mut l = ledger();
    let d0 = l.state_digest();
    assert_eq!(d0, ledger().state_digest());
    one(&mut l, pending(1, ALICE, BOB, 1, 0), 101).unwrap();
    let d1 = l.state_digest();
    one(&mut l, void(2, 1), 101).unwrap();
    // Balances are back where they were, but two transfers were committed.
    let d2 = l.state_digest();
    assert!(d0 != d1 && d1 != d2 && d0 != d2);
    let mut owned = ledger();
    let mut other = ledger();
    let mut a = new_account(50, AccountKind::Customer);
    owned.create_accounts(&[a], 100);
    a.owner = Some([0; 32]);
    other.create_accounts(&[a], 100);
    assert_ne!(owned.state_digest(), other.state_digest());
}

#[test]
fn a_logged_batch_sequence_replays_to_the_same_state() {
    let batches = vec![
        Batch::CreateAccounts {
            now: 10,
            accounts: vec![
                new_account(ISSUANCE, AccountKind::Issuance),
                new_account(BURN, AccountKind::Burn),
                new_account(ALICE, AccountKind::Customer),
                new_account(BOB, AccountKind::Stake),
            ],
        },
        Batch::CreateTransfers {
            now: 11,
            transfers: vec![
                Transfer::new(1, ISSUANCE, ALICE, 1000, TransferCode::Mint),
                pending(2, ALICE, BOB, 300, 5),
                pending(3, ALICE, BOB, 300, 50),
                Transfer::new(4, ALICE, BURN, 100, TransferCode::Burn),
            ],
        },
        Batch::ExpirePending { now: 16 },
        Batch::CreateTransfers {
            now: 17,
            transfers: vec![post(5, 3, 200), post(6, 2, 0)],
        },
    ];
    let mut live = Ledger::new();
    let results: Vec<BatchResults> = batches.iter().map(|b| live.apply(b)).collect();
    assert_eq!(results[2], BatchResults::Expired(vec![2]));
    assert_eq!(
        results[3],
        BatchResults::Transfers(vec![
            Ok(Outcome::Created),
            Err(TransferError::PendingExpired)
        ])
    );
    live.check_invariants().unwrap();
    assert_eq!((live.supply(), balance(&live, BOB)), (900, 200));

    let log = serde_json::to_string(&batches).unwrap();
    let read: Vec<Batch> = serde_json::from_str(&log).unwrap();
    assert_eq!(read, batches);
    let replayed = Ledger::replay(&read);
    assert_eq!(replayed.state_digest(), live.state_digest());
    let results_json = serde_json::to_value(&results).unwrap();
    assert_eq!(results_json[2], serde_json::json!({ "expired": ["2"] }));
    assert_eq!(
        serde_json::from_value::<Vec<BatchResults>>(results_json).unwrap(),
        results
    );
}

#[test]
fn errors_read_as_sentences() {
    assert_eq!(
        TransferError::ExceedsCredits.to_string(),
        "insufficient funds: the debit would exceed the account's credits"
    );
    assert_eq!(
        serde_json::to_value(TransferError::LinkedEventFailed).unwrap(),
        "linked_event_failed"
    );
    assert_eq!(
        AccountError::IdZero.to_string(),
        "account id must not be zero"
    );
}
