//! Money safety at the edges (issue 12): a cancelled bill settles again as a new settlement
//! and never replays as paid (ST6, ST8); bills are bounded in amount and date (ST10); balances
//! stay inside their admitted range and system accounts keep no daily-balance product (B1). On
//! every backend.

mod common;

use common::*;
use gongji_core::account::PERSON_BALANCE_MAX;
use gongji_core::settlement::BillContent;
use gongji_core::{AccountRef, AreaCode, Money, PersonAccount, SystemAccount, VisitType};
use gongji_engine::persons::Credit;
use gongji_engine::{Context, Engine};
use gongji_store::Store;

fn area() -> AreaCode {
    AreaCode::parse("330200").unwrap()
}

/// What the patient's own accounts and the family's MUT hold together.
fn family_money<S: Store>(engine: &Engine<S>) -> Money {
    ["P", "K"].iter().flat_map(|p| [PersonAccount::Cur, PersonAccount::His, PersonAccount::Mut].map(|k| balance(engine, p, k))).sum()
}

/// ST6, ST8: settle, cancel, settle the same bill with the same content again (a HIS sends
/// 2207, 2208, 2207 for one visit). The third call is a NEW settlement that charges the
/// accounts anew; before the fix it answered the old payments and charged nobody.
fn st6_a_cancelled_bill_settles_again_as_a_new_settlement<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "2000"));
    register(&engine, resident("K", "2015-01-01"));
    network(&engine, "P", &[("K", "child")]);
    to_mut(&engine, "P", "1000");
    let bill = split_bill("b1", "K", VisitType::Outpatient, "100", "600");
    let before = family_money(&engine);

    let first = engine.settle(&hospital("H1"), &bill).unwrap();
    assert_eq!((first.settlement_id.as_str(), first.attempt, first.replayed), ("b1", 1, false));
    assert_eq!(first.paid_by(&AccountRef::person("P", PersonAccount::Mut)), yuan("600"));
    let cancelled = engine.cancel(&hospital("H1"), "H1", "b1").unwrap();
    assert_eq!(cancelled.settlement_id, "b1");
    assert_eq!(family_money(&engine), before, "the cancel gave everything back");

    let again = engine.settle(&hospital("H1"), &bill).unwrap();
    assert_eq!((again.settlement_id.as_str(), again.attempt, again.replayed), ("b1#2", 2, false), "a new settlement, not a replay");
    assert_eq!(again.paid_by(&AccountRef::person("P", PersonAccount::Mut)), yuan("600"));
    assert_eq!(family_money(&engine), before.minus(yuan("600")), "ST6: the accounts are charged anew: every answered payment is posted");

    // A repeat of the new settlement replays it; the earlier one stays cancelled.
    let repeat = engine.settle(&hospital("H1"), &bill).unwrap();
    assert_eq!((repeat.settlement_id.as_str(), repeat.replayed), ("b1#2", true));
    assert_eq!(repeat.payments, again.payments);
    assert_eq!(family_money(&engine), before.minus(yuan("600")), "a replay charges nobody");
    let earlier = engine.store().read(|tx| tx.settlement_attempt("H1", "b1", 1)).unwrap().unwrap();
    assert!(earlier.cancelled.is_some(), "the earlier settlement is kept, cancelled");

    // The HIS cancels by settlement id: the old id answers its old cancel and leaves the new
    // settlement standing; the new id cancels the new one.
    let old = engine.cancel_settlement(&hospital("H1"), "H1", "b1").unwrap();
    assert!(old.replayed);
    assert_eq!(family_money(&engine), before.minus(yuan("600")));
    let new = engine.cancel_settlement(&hospital("H1"), "H1", "b1#2").unwrap();
    assert!(!new.replayed);
    assert_eq!(family_money(&engine), before);
    // A correction (改账, ST8): the bill comes back with other content, as a third settlement.
    let corrected = engine.settle(&hospital("H1"), &split_bill("b1", "K", VisitType::Outpatient, "100", "500")).unwrap();
    assert_eq!((corrected.settlement_id.as_str(), corrected.replayed), ("b1#3", false));
    assert_eq!(family_money(&engine), before.minus(yuan("500")));
    // Other content while a settlement stands is still a conflict (ST6).
    let conflict = engine.settle(&hospital("H1"), &split_bill("b1", "K", VisitType::Outpatient, "100", "400")).unwrap_err();
    assert_eq!(code(conflict), "settlement.conflict");
    assert_clean(&engine);
}

/// ST6: a bill id may not contain '#', which separates the attempt in a settlement id.
fn st6_bill_ids_never_collide_with_settlement_ids<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "100"));
    let err = engine.settle(&hospital("H1"), &split_bill("b1#2", "P", VisitType::Outpatient, "10", "10")).unwrap_err();
    assert_eq!(code(err), "settlement.invalid_bill");
    assert_clean(&engine);
}

/// ST10: a split bill with fund_pay 9999999999999.99 was accepted; a thousand of them then
/// overflowed the pooled fund's daily-balance product and every later settlement of the area
/// failed. Now the bill is refused, whether as a split or as items, and nothing is written.
fn st10_a_bill_above_the_visit_types_maximum_is_refused<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "100"));
    let mut absurd = split_bill("x1", "P", VisitType::Outpatient, "9999999999999.99", "1");
    let err = engine.settle(&hospital("H1"), &absurd).unwrap_err();
    assert_eq!(code(err), "settlement.amount_limit");
    assert_eq!(err_rule(&engine, &absurd), "ST10");
    absurd.content = BillContent::Items(vec![gongji_core::settlement::BillItem {
        code: "X".into(),
        name: "药".into(),
        amount: yuan("500000.01"),
        class: gongji_core::settlement::ItemClass::A,
    }]);
    assert_eq!(code(engine.settle(&hospital("H1"), &absurd).unwrap_err()), "settlement.amount_limit", "items are bounded too");
    assert_eq!(code(engine.presettle(&hospital("H1"), &absurd).unwrap_err()), "settlement.amount_limit", "and pre-settlement (ST5)");
    // At the maximum (330200 outpatient: 500,000.00) the bill settles.
    let at_max = split_bill("x2", "P", VisitType::Outpatient, "499900", "100");
    assert!(engine.settle(&hospital("H1"), &at_max).is_ok());
    assert_eq!(his(&engine, "P"), yuan("0"));
    assert_clean(&engine);
}

fn err_rule<S: Store>(engine: &Engine<S>, bill: &gongji_core::settlement::Bill) -> &'static str {
    engine.settle(&hospital("H1"), bill).unwrap_err().rule()
}

/// B1, ST10: the pooled fund and the other system accounts keep no daily-balance product, so
/// no number of bills can overflow one; the area keeps settling, cancels included.
fn b1_system_accounts_keep_no_product_and_the_area_keeps_settling<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "100"));
    for (n, date) in ["2024-03-01", "2024-03-02", "2024-03-05"].iter().enumerate() {
        let mut bill = split_bill(&format!("big{n}"), "P", VisitType::Inpatient, "4999999", "1");
        bill.date = day(date);
        let ctx = Context::new(gongji_core::Actor::Institution("H1".into()), gongji_core::Channel::Api, day(date));
        engine.settle(&ctx, &bill).unwrap();
    }
    let fund = AccountRef::system(&area(), SystemAccount::PooledFund);
    assert_eq!(engine.balance(&fund).unwrap(), yuan("-14999997"));
    let product = engine.store().read(|tx| tx.balance_product(&fund)).unwrap().unwrap();
    assert_eq!(product.fen_days, 0, "the pooled fund earns no interest, so keeps no product");
    let own = engine.store().read(|tx| tx.balance_product(&AccountRef::person("P", PersonAccount::His))).unwrap().unwrap();
    assert!(own.fen_days > 0, "a person's HIS keeps its product (B1)");
    assert!(engine.cancel(&hospital("H1"), "H1", "big0").is_ok());
    assert_clean(&engine);
}

/// ST10: a bill dated 2099-12-31 was accepted and opened a fresh deductible and annual cap for
/// that year. A bill may not be dated after the business date, nor before the policy's window.
fn st10_bill_dates_are_bounded_by_the_business_date_and_the_window<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "1000"));
    let dated = |id: &str, date: &str| {
        let mut bill = split_bill(id, "P", VisitType::Outpatient, "0", "10");
        bill.date = day(date);
        bill
    };
    for (id, date) in [("f1", "2099-12-31"), ("f2", "2024-03-02"), ("o1", "2023-03-01"), ("o2", "1900-01-01")] {
        let err = engine.settle(&hospital("H1"), &dated(id, date)).unwrap_err();
        assert_eq!(code(err), "settlement.date_out_of_range", "{date}");
    }
    // The business date itself and the first day of the 365-day window (330200) are admitted.
    assert!(engine.settle(&hospital("H1"), &dated("ok1", D)).is_ok());
    assert!(engine.settle(&hospital("H1"), &dated("ok2", "2023-03-02")).is_ok());
    assert_eq!(his(&engine, "P"), yuan("980"));
    assert_clean(&engine);
}

/// ST10, P3: no credit may take a person's account above the most an account admits, and a
/// refused credit writes nothing; the person's later business still works.
fn st10_a_balance_never_leaves_its_admitted_range<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "0"));
    let credit = |reference: &str, amount: Money| Credit { psn_no: "P".into(), account: PersonAccount::His, amount, reference: reference.into() };
    assert!(engine.credit(&setup_ctx(), &credit("c1", PERSON_BALANCE_MAX)).unwrap());
    let err = engine.credit(&setup_ctx(), &credit("c2", Money::from_fen(1))).unwrap_err();
    assert_eq!(code(err), "money.invalid_amount");
    assert_eq!(his(&engine, "P"), PERSON_BALANCE_MAX);
    assert!(engine.settle(&hospital("H1"), &split_bill("b", "P", VisitType::Outpatient, "0", "10")).is_ok());
    assert!(engine.credit(&setup_ctx(), &credit("c3", yuan("10"))).unwrap(), "back at the maximum, allowed");
    assert_clean(&engine);
}

on_every_backend!(
    st6_a_cancelled_bill_settles_again_as_a_new_settlement,
    st6_bill_ids_never_collide_with_settlement_ids,
    st10_a_bill_above_the_visit_types_maximum_is_refused,
    b1_system_accounts_keep_no_product_and_the_area_keeps_settling,
    st10_bill_dates_are_bounded_by_the_business_date_and_the_window,
    st10_a_balance_never_leaves_its_admitted_range,
);

/// ST10, B1: `audit` reports an account whose balance or product is outside its admitted range
/// (here written into the SQLite file behind the store's back, as a damaged store would be).
#[test]
fn st10_audit_reports_balances_and_products_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let engine = Engine::new(gongji_store::sqlite::SqliteStore::open(&path).unwrap(), gongji_engine::policy_file::preset_book());
    register(&engine, employee("P", "100"));
    engine.settle(&hospital("H1"), &split_bill("b", "P", VisitType::Outpatient, "50", "10")).unwrap();
    assert_clean(&engine);
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute("UPDATE accounts SET product_fen_days = 12345 WHERE account_key = 'S:330200:pooled_fund'", []).unwrap();
    let report = engine.audit().unwrap();
    assert!(!report.is_clean());
    assert_eq!(report.out_of_range.iter().map(|(k, _, _)| k.as_str()).collect::<Vec<_>>(), ["S:330200:pooled_fund"]);
    raw.execute("UPDATE accounts SET product_fen_days = 0 WHERE account_key = 'S:330200:pooled_fund'", []).unwrap();
    // A balance above the maximum, with a matching posting so that only the range is wrong.
    let over = PERSON_BALANCE_MAX.fen() + 1 - 9000;
    raw.execute("UPDATE accounts SET balance_fen = balance_fen + ?1 WHERE account_key = 'P:P:his'", [over]).unwrap();
    raw.execute("UPDATE postings SET amount_fen = amount_fen + ?1 WHERE id = (SELECT p.id FROM postings p JOIN accounts a ON a.id = p.account_id WHERE a.account_key = 'P:P:his' LIMIT 1)", [over]).unwrap();
    let report = engine.audit().unwrap();
    assert!(report.out_of_range.iter().any(|(k, balance, _)| k == "P:P:his" && *balance > PERSON_BALANCE_MAX), "{report:?}");
}
