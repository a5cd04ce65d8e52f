//! Settlement (§9, ST1–ST9) and the "why not" question (Q4), on every backend.

mod common;

use common::*;
use gongji_core::settlement::{Bill, BillContent, BillItem, BillSplit, ItemClass};
use gongji_core::{AccountRef, AreaCode, Money, PersonAccount, PersonStatus, SystemAccount, VisitType};
use gongji_engine::Engine;
use gongji_store::Store;

fn items_bill(bill_id: &str, patient: &str, visit: VisitType, items: &[(&str, ItemClass)]) -> Bill {
    Bill {
        institution: "H1".into(),
        bill_id: bill_id.into(),
        patient: patient.into(),
        visit,
        date: day(D),
        content: BillContent::Items(
            items
                .iter()
                .enumerate()
                .map(|(i, (amount, class))| BillItem { code: format!("X{i}"), name: "药".into(), amount: yuan(amount), class: *class })
                .collect(),
        ),
    }
}

fn st1_benefit_split_from_the_policy_in_force<S: Store>(engine: Engine<S>) {
    // 330200 inpatient: deductible 800, fund ratio 0.85, class-B self-pay 10% (policies/330200.toml).
    register(&engine, employee("P", "10000"));
    let bill = items_bill("i1", "P", VisitType::Inpatient, &[("3000", ItemClass::A), ("2000", ItemClass::B), ("500", ItemClass::C)]);
    let outcome = engine.settle(&hospital("H1"), &bill).unwrap();
    // 自理 = 200; in-scope = 4800; above deductible 4000 × 0.85 = 3400; 自负 = 1400; 自费 = 500.
    assert_eq!(outcome.split, BillSplit { fund_pay: yuan("3400"), self_borne: yuan("1400"), first_self_pay: yuan("200"), self_funded: yuan("500") });
    assert_eq!(outcome.policy_id, "330200");
    assert_eq!(outcome.paid_by(&AccountRef::person("P", PersonAccount::His)), yuan("2100"));
    // The deductible is used up for the year: a second bill gets the ratio from the first fen.
    let second = engine.settle(&hospital("H1"), &items_bill("i2", "P", VisitType::Inpatient, &[("100", ItemClass::A)])).unwrap();
    assert_eq!(second.split.fund_pay, yuan("85"));
    assert_eq!(second.split.self_borne, yuan("15"));
    assert_clean(&engine);
}

fn st1_bad_bills_are_refused<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "100"));
    let negative = items_bill("b", "P", VisitType::Outpatient, &[("-1", ItemClass::A)]);
    assert_eq!(code(engine.settle(&hospital("H1"), &negative).unwrap_err()), "money.invalid_amount");
    let unknown = split_bill("b", "Nobody", VisitType::Outpatient, "1", "1");
    assert_eq!(code(engine.settle(&hospital("H1"), &unknown).unwrap_err()), "person.not_found");
    let empty = Bill { content: BillContent::Items(vec![]), ..split_bill("b", "P", VisitType::Outpatient, "1", "1") };
    assert_eq!(code(engine.settle(&hospital("H1"), &empty).unwrap_err()), "settlement.invalid_bill");
    assert_eq!(engine.audit().unwrap().entries, 1, "only the opening balance was written");
}

fn st2_seed003_example_four<S: Store>(engine: Engine<S>) {
    register(&engine, employee("A", "2000"));
    register(&engine, employee("B", "150"));
    register(&engine, employee("C", "0"));
    network(&engine, "A", &[("B", "spouse"), ("C", "child")]);
    to_mut(&engine, "A", "1000");
    to_mut(&engine, "B", "50");
    let outcome = engine.settle(&hospital("H1"), &split_bill("b-1", "B", VisitType::Outpatient, "800", "200")).unwrap();
    assert_eq!(outcome.payments.len(), 2);
    assert_eq!(outcome.paid_by(&AccountRef::person("B", PersonAccount::His)), yuan("100"));
    assert_eq!(outcome.paid_by(&AccountRef::person("B", PersonAccount::Mut)), yuan("50"));
    assert_eq!(outcome.cash, yuan("50"));
    assert_eq!((his(&engine, "A"), mutual(&engine, "A")), (yuan("1000"), yuan("1000")));
    assert_clean(&engine);
}

fn st3_one_mut_per_settlement_seed003_li_family<S: Store>(engine: Engine<S>) {
    register(&engine, employee("Li", "1500"));
    register(&engine, employee("Chen", "5000"));
    register(&engine, resident("Son", "2015-09-01"));
    network(&engine, "Li", &[("Chen", "spouse"), ("Son", "child")]);
    to_mut(&engine, "Li", "1000");
    to_mut(&engine, "Chen", "5000");
    let outcome = engine.settle(&hospital("H1"), &split_bill("inp-1", "Son", VisitType::Inpatient, "7000", "3000")).unwrap();
    assert_eq!(outcome.payments.len(), 1);
    assert_eq!(outcome.paid_by(&AccountRef::person("Li", PersonAccount::Mut)), yuan("1000"));
    assert_eq!(outcome.cash, yuan("2000"));
    assert!(outcome.steps.iter().any(|s| s.code == "skip.one_mut" && s.account.as_deref() == Some("P:Chen:mut")), "ST7 explains why Chen's MUT was not used");
    assert_eq!(mutual(&engine, "Chen"), yuan("5000"));
}

fn st2_order_and_next_visit_seed003_answer_9<S: Store>(engine: Engine<S>) {
    register(&engine, employee("Wife", "600"));
    register(&engine, NewPerson { birth: "1955-10-01", ..employee("Father", "1") });
    register(&engine, employee("Husband", "10"));
    network(&engine, "Wife", &[("Father", "parent"), ("Husband", "spouse")]);
    engine.reorder(&me("Wife"), "Wife", &["Father".into(), "Wife".into(), "Husband".into()]).unwrap();
    to_mut(&engine, "Wife", "400");
    to_mut(&engine, "Father", "1");
    let first = engine.settle(&hospital("H1"), &split_bill("v-1", "Husband", VisitType::Outpatient, "80", "20")).unwrap();
    assert_eq!(first.paid_by(&AccountRef::person("Husband", PersonAccount::His)), yuan("10"));
    assert_eq!(first.paid_by(&AccountRef::person("Father", PersonAccount::Mut)), yuan("1"));
    assert_eq!(first.cash, yuan("9"));
    let second = engine.settle(&hospital("H1"), &split_bill("v-2", "Husband", VisitType::Outpatient, "80", "20")).unwrap();
    assert_eq!(second.paid_by(&AccountRef::person("Wife", PersonAccount::Mut)), yuan("20"));
    assert_eq!(second.cash, Money::ZERO);
    assert!(second.steps.iter().any(|s| s.code == "skip.zero_balance" && s.account.as_deref() == Some("P:Father:mut")));
}

fn st2_scope_cur_pays_outpatient_not_inpatient<S: Store>(engine: Engine<S>) {
    register(&engine, NewPerson { cur: "500", ..employee("P", "1000") });
    let outpatient = engine.settle(&hospital("H1"), &split_bill("o", "P", VisitType::Outpatient, "0", "100")).unwrap();
    assert_eq!(outpatient.paid_by(&AccountRef::person("P", PersonAccount::Cur)), yuan("100"));
    let inpatient = engine.settle(&hospital("H1"), &split_bill("i", "P", VisitType::Inpatient, "0", "100")).unwrap();
    assert_eq!(inpatient.paid_by(&AccountRef::person("P", PersonAccount::Cur)), Money::ZERO);
    assert_eq!(inpatient.paid_by(&AccountRef::person("P", PersonAccount::His)), yuan("100"));
    assert!(inpatient.steps.iter().any(|s| s.code == "skip.scope" && s.rule == "ST2"));
}

fn st4_accounts_of_owners_not_normal_are_never_used<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "1000"));
    register(&engine, employee("S", "1000"));
    register(&engine, resident("Kid", "2015-01-01"));
    network(&engine, "P", &[("S", "spouse"), ("Kid", "child")]);
    to_mut(&engine, "P", "500");
    to_mut(&engine, "S", "500");
    engine.set_status(&counter("330200"), "P", PersonStatus::Suspended, "card lost").unwrap();
    let outcome = engine.settle(&hospital("H1"), &split_bill("k", "Kid", VisitType::Outpatient, "0", "50")).unwrap();
    assert_eq!(outcome.paid_by(&AccountRef::person("P", PersonAccount::Mut)), Money::ZERO);
    assert_eq!(outcome.paid_by(&AccountRef::person("S", PersonAccount::Mut)), yuan("50"));
    assert!(outcome.steps.iter().any(|s| s.code == "skip.status" && s.rule == "ST4"));
    // The suspended patient's own accounts are not used either.
    let own = engine.settle(&hospital("H1"), &split_bill("p", "P", VisitType::Outpatient, "0", "50")).unwrap();
    assert_eq!(own.paid_by(&AccountRef::person("P", PersonAccount::His)), Money::ZERO);
}

fn st5_presettlement_is_exact_and_commits_nothing<S: Store>(engine: Engine<S>) {
    register(&engine, employee("A", "2000"));
    register(&engine, employee("B", "150"));
    network(&engine, "A", &[("B", "spouse")]);
    to_mut(&engine, "A", "1000");
    let before = engine.audit().unwrap();
    let bill = split_bill("x", "B", VisitType::Inpatient, "100", "400");
    let pre = engine.presettle(&hospital("H1"), &bill).unwrap();
    assert_eq!(engine.audit().unwrap(), before, "ST5: nothing written");
    assert_eq!(his(&engine, "B"), yuan("150"));
    let real = engine.settle(&hospital("H1"), &bill).unwrap();
    assert_eq!(pre, real);
}

fn st6_a_bill_settles_once<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "1000"));
    let bill = split_bill("once", "P", VisitType::Outpatient, "100", "100");
    let first = engine.settle(&hospital("H1"), &bill).unwrap();
    let again = engine.settle(&hospital("H1"), &bill).unwrap();
    assert!(again.replayed && !first.replayed);
    assert_eq!(again.payments, first.payments);
    assert_eq!(his(&engine, "P"), yuan("900"), "paid once");
    let changed = split_bill("once", "P", VisitType::Outpatient, "100", "101");
    assert_eq!(code(engine.settle(&hospital("H1"), &changed).unwrap_err()), "settlement.conflict");
    // The same bill id at another institution is another bill.
    let other = Bill { institution: "H2".into(), ..bill };
    assert!(!engine.settle(&hospital("H2"), &other).unwrap().replayed);
    assert_eq!(his(&engine, "P"), yuan("800"));
}

fn st7_every_settlement_explains_every_account<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "0"));
    register(&engine, employee("Promoter", "100"));
    register(&engine, NewPerson { birth: "1960-01-01", ..employee("Pending", "100") });
    network(&engine, "Promoter", &[("P", "child")]);
    engine.add_member(&me("Promoter"), "Promoter", "Pending", "parent").unwrap();
    to_mut(&engine, "Promoter", "100");
    let outcome = engine.settle(&hospital("H1"), &split_bill("e", "P", VisitType::Outpatient, "0", "30")).unwrap();
    let codes: Vec<(&str, Option<&str>)> = outcome.steps.iter().map(|s| (s.code.as_str(), s.account.as_deref())).collect();
    assert_eq!(
        codes,
        [
            ("paid.fund", None),
            ("skip.zero_balance", Some("P:P:cur")),
            ("skip.zero_balance", Some("P:P:his")),
            ("skip.zero_balance", Some("P:P:mut")),
            ("paid.account", Some("P:Promoter:mut")),
            ("skip.nothing_left", Some("P:Pending:mut")),
            ("paid.cash", None),
        ]
    );
    assert!(outcome.steps.iter().all(|s| !s.message.is_empty()));
}

fn st8_cancel_reverses_along_the_original_path<S: Store>(engine: Engine<S>) {
    register(&engine, NewPerson { cur: "50", ..employee("P", "100") });
    register(&engine, employee("S", "500"));
    network(&engine, "P", &[("S", "spouse")]);
    to_mut(&engine, "S", "500");
    let fund = AccountRef::system(&AreaCode::parse("330200").unwrap(), SystemAccount::PooledFund);
    let fund_before = engine.balance(&fund).unwrap();
    engine.settle(&hospital("H1"), &split_bill("c", "P", VisitType::Outpatient, "300", "400")).unwrap();
    assert_eq!((balance(&engine, "P", PersonAccount::Cur), his(&engine, "P"), mutual(&engine, "S")), (yuan("0"), yuan("0"), yuan("250")));
    let cancel = engine.cancel(&hospital("H1"), "H1", "c").unwrap();
    assert!(cancel.held.is_empty());
    assert_eq!((balance(&engine, "P", PersonAccount::Cur), his(&engine, "P"), mutual(&engine, "S")), (yuan("50"), yuan("100"), yuan("500")));
    assert_eq!(engine.balance(&fund).unwrap(), fund_before);
    // Repeating the cancel changes nothing; an unknown bill is not found.
    assert!(engine.cancel(&hospital("H1"), "H1", "c").unwrap().replayed);
    assert_eq!(mutual(&engine, "S"), yuan("500"));
    assert_eq!(code(engine.cancel(&hospital("H1"), "H1", "nope").unwrap_err()), "settlement.not_found");
    // A correction is a cancel and a new bill: the yearly totals were given back.
    let again = engine.settle(&hospital("H1"), &items_bill("c2", "P", VisitType::Outpatient, &[("50", ItemClass::A)])).unwrap();
    assert_eq!(again.split.fund_pay, Money::ZERO, "deductible 1000 still unused");
    assert_clean(&engine);
}

fn st8_refund_to_a_member_who_left_waits_for_the_nightly_job<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "100"));
    register(&engine, resident("A", "1990-06-06"));
    register(&engine, employee("B", "500"));
    network(&engine, "P", &[("B", "spouse"), ("A", "child")]);
    to_mut(&engine, "B", "500");
    engine.settle(&hospital("H1"), &split_bill("r-1", "A", VisitType::Outpatient, "300", "200")).unwrap();
    engine.leave(&me("B"), "B").unwrap();
    let mut next_day = hospital("H1");
    next_day.business_date = day("2024-03-05");
    let cancel = engine.cancel(&next_day, "H1", "r-1").unwrap();
    assert_eq!(cancel.held, vec![("B".to_string(), yuan("200"))]);
    assert_eq!((his(&engine, "B"), mutual(&engine, "B")), (yuan("0"), yuan("300")));
    let repeat = engine.cancel(&next_day, "H1", "r-1").unwrap();
    assert!(repeat.replayed);
    assert_eq!(repeat.held, cancel.held, "a repeated cancel answers with what the first did");
    // The job of the same day does not pick it up yet; the next night's does, once.
    assert_eq!(engine.run_refund_sync(day("2024-03-05"), day("2024-03-05"), &|_, _| {}).unwrap().accounts, 0);
    let summary = engine.run_refund_sync(day("2024-03-06"), day("2024-03-06"), &|_, _| {}).unwrap();
    assert_eq!((summary.accounts, summary.amount), (1, yuan("200")));
    assert_eq!((his(&engine, "B"), mutual(&engine, "B")), (yuan("200"), yuan("300")));
    assert_eq!(engine.run_refund_sync(day("2024-03-07"), day("2024-03-07"), &|_, _| {}).unwrap().accounts, 0, "B3 is idempotent");
    let holding = AccountRef::system(&AreaCode::parse("330200").unwrap(), SystemAccount::RefundHolding);
    assert_eq!(engine.balance(&holding).unwrap(), Money::ZERO);
    assert_clean(&engine);
}

fn q4_why_not_before_any_bill<S: Store>(engine: Engine<S>) {
    register(&engine, employee("Wife", "600"));
    register(&engine, employee("Husband", "0"));
    register(&engine, NewPerson { birth: "1950-01-01", ..employee("Father", "10") });
    network(&engine, "Wife", &[("Husband", "spouse")]);
    engine.add_member(&me("Wife"), "Wife", "Father", "parent").unwrap();
    to_mut(&engine, "Wife", "100");
    let answer = engine.explain(&me("Husband"), "Husband", VisitType::Outpatient, yuan("200")).unwrap();
    assert_eq!(answer.cash, yuan("100"));
    assert_eq!(answer.payments.len(), 1);
    let father = answer.steps.iter().find(|s| s.account.as_deref() == Some("P:Father:mut")).unwrap();
    // seeds/003 ❼: "bound but cannot use": the father never confirmed his membership (N10).
    assert_eq!(father.code, "skip.pending_consent");
    engine.confirm_member(&me("Father"), "Father").unwrap();
    engine.move_mutual_aid(&me("Father"), "Father", gongji_core::PersonAccount::His, gongji_core::PersonAccount::Mut, yuan("10")).unwrap();
    let answer = engine.explain(&me("Husband"), "Husband", VisitType::Outpatient, yuan("200")).unwrap();
    let father = answer.steps.iter().find(|s| s.account.as_deref() == Some("P:Father:mut")).unwrap();
    assert_eq!(father.code, "skip.one_mut", "ST3: the wife's MUT, first in order, was used");
    let entries = engine.audit().unwrap().entries;
    let before_wife = engine.explain(&me("Husband"), "Husband", VisitType::Outpatient, yuan("50")).unwrap();
    assert_eq!(before_wife.cash, Money::ZERO);
    assert_eq!(engine.audit().unwrap().entries, entries, "Q4 commits nothing");
    assert_eq!(code(engine.explain(&me("Husband"), "Husband", VisitType::Outpatient, Money::ZERO).unwrap_err()), "money.invalid_amount");
}

fn st6_group_commit_keeps_each_bills_result<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "100"));
    register(&engine, employee("Q", "100"));
    engine.settle(&hospital("H1"), &split_bill("old", "P", VisitType::Outpatient, "0", "10")).unwrap();
    let bills = vec![
        split_bill("g1", "P", VisitType::Outpatient, "0", "30"),
        split_bill("g2", "Nobody", VisitType::Outpatient, "0", "30"),
        split_bill("old", "P", VisitType::Outpatient, "0", "99"),
        split_bill("g3", "Q", VisitType::Outpatient, "0", "40"),
        split_bill("g1", "P", VisitType::Outpatient, "0", "30"),
    ];
    let results = engine.settle_many(&hospital("H1"), &bills).unwrap();
    assert_eq!(results.len(), 5);
    assert!(results[0].as_ref().is_ok_and(|o| !o.replayed));
    let codes: Vec<Option<&str>> = results.iter().map(|r| r.as_ref().err().and_then(|e| e.code()).map(|c| c.as_str())).collect();
    assert_eq!(codes, [None, Some("person.not_found"), Some("settlement.conflict"), None, None]);
    assert!(results[3].is_ok());
    assert!(results[4].as_ref().is_ok_and(|o| o.replayed), "ST6 inside one group too");
    assert_eq!((his(&engine, "P"), his(&engine, "Q")), (yuan("60"), yuan("60")));
    assert_clean(&engine);
}

fn bulk_runs_many_operations_in_one_transaction_or_none<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "100"));
    register(&engine, employee("S", "100"));
    let before = engine.audit().unwrap();
    let refused = engine.bulk(|bulk| {
        bulk.create_network(&me("P"), "P")?;
        bulk.add_member(&me("P"), "P", "S", "spouse")?;
        bulk.move_mutual_aid(&me("S"), "S", PersonAccount::His, PersonAccount::Mut, yuan("10"))
    });
    assert_eq!(code(refused.unwrap_err()), "transfer.not_eligible", "S has not confirmed yet");
    assert_eq!(engine.audit().unwrap(), before, "nothing of the batch was kept");
    assert!(engine.person_overview("P").unwrap().network.is_none());
    engine
        .bulk(|bulk| {
            bulk.create_network(&me("P"), "P")?;
            bulk.add_member(&me("P"), "P", "S", "spouse")?;
            bulk.confirm_member(&me("S"), "S")?;
            bulk.move_mutual_aid(&me("S"), "S", PersonAccount::His, PersonAccount::Mut, yuan("10"))
        })
        .unwrap();
    assert_eq!(mutual(&engine, "S"), yuan("10"));
}

on_every_backend!(
    st6_group_commit_keeps_each_bills_result,
    bulk_runs_many_operations_in_one_transaction_or_none,
    st1_benefit_split_from_the_policy_in_force,
    st1_bad_bills_are_refused,
    st2_seed003_example_four,
    st3_one_mut_per_settlement_seed003_li_family,
    st2_order_and_next_visit_seed003_answer_9,
    st2_scope_cur_pays_outpatient_not_inpatient,
    st4_accounts_of_owners_not_normal_are_never_used,
    st5_presettlement_is_exact_and_commits_nothing,
    st6_a_bill_settles_once,
    st7_every_settlement_explains_every_account,
    st8_cancel_reverses_along_the_original_path,
    st8_refund_to_a_member_who_left_waits_for_the_nightly_job,
    q4_why_not_before_any_bill,
);
