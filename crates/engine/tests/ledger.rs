//! The ledger (P4–P6): credits, idempotency, audit, conservation of money (a property test)
//! and races for the same MUT money (ST9).

mod common;

use std::sync::Arc;

use common::*;
use gongji_core::{AccountRef, AreaCode, Money, PersonAccount, SystemAccount, VisitType};
use gongji_engine::persons::Credit;
use gongji_engine::policy_file::preset_book;
use gongji_engine::Engine;
use gongji_store::sqlite::SqliteStore;
use gongji_store::Store;
use proptest::prelude::*;

fn p5_credits_enter_cur_and_his_once<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "0"));
    register(&engine, resident("R", "1990-01-01"));
    let credit = |account, amount: &str, reference: &str| Credit { psn_no: "P".into(), account, amount: yuan(amount), reference: reference.into() };
    assert!(engine.credit(&setup_ctx(), &credit(PersonAccount::Cur, "350.25", "V-1")).unwrap());
    assert!(engine.credit(&setup_ctx(), &credit(PersonAccount::His, "1000", "V-2")).unwrap());
    assert!(!engine.credit(&setup_ctx(), &credit(PersonAccount::Cur, "350.25", "V-1")).unwrap(), "same reference credits once");
    assert_eq!(balance(&engine, "P", PersonAccount::Cur), yuan("350.25"));
    assert_eq!(his(&engine, "P"), yuan("1000"));
    let to_mut = credit(PersonAccount::Mut, "1", "V-3");
    assert_eq!(code(engine.credit(&setup_ctx(), &to_mut).unwrap_err()), "input.invalid");
    let resident_cur = Credit { psn_no: "R".into(), account: PersonAccount::Cur, amount: yuan("1"), reference: "V-4".into() };
    assert_eq!(code(engine.credit(&setup_ctx(), &resident_cur).unwrap_err()), "credit.not_eligible");
    let nobody = Credit { psn_no: "X".into(), ..credit(PersonAccount::His, "1", "V-5") };
    assert_eq!(code(engine.credit(&setup_ctx(), &nobody).unwrap_err()), "person.not_found");
    let inflow = AccountRef::system(&AreaCode::parse("330200").unwrap(), SystemAccount::ContributionInflow);
    assert_eq!(engine.balance(&inflow).unwrap(), yuan("-350.25"), "P4: the other side of the entry");
    assert_clean(&engine);
}

fn p4_p6_every_entry_records_who_how_and_when<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "100"));
    network(&engine, "P", &[]);
    to_mut(&engine, "P", "40");
    let lines = engine.statement(&AccountRef::person("P", PersonAccount::Mut), day(D), day(D)).unwrap();
    assert_eq!(lines.len(), 1);
    let entry = engine.store().read(|tx| tx.entry(lines[0].entry_id)).unwrap().unwrap();
    assert_eq!((entry.actor.as_str(), entry.channel.as_str(), entry.business_date), ("person:P", "app", day(D)));
    assert_eq!(entry.postings.iter().map(|(_, amount)| amount.fen()).sum::<i64>(), 0);
    let report = engine.audit().unwrap();
    assert!(report.is_clean());
    assert_eq!(report.entries, 2);
}

fn p1_duplicate_persons_are_refused<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "0"));
    let mut twin = engine.person("P").unwrap();
    assert_eq!(code(engine.register_person(&setup_ctx(), &twin).unwrap_err()), "person.duplicate");
    twin.psn_no = "Q".into();
    assert_eq!(code(engine.register_person(&setup_ctx(), &twin).unwrap_err()), "person.duplicate", "same ID number");
}

on_every_backend!(p5_credits_enter_cur_and_his_once, p4_p6_every_entry_records_who_how_and_when, p1_duplicate_persons_are_refused);

/// One random operation of the conservation property.
#[derive(Debug, Clone)]
enum Op {
    Credit { person: usize, his: bool, fen: i64 },
    ToMut { person: usize, fen: i64 },
    ToHis { person: usize, fen: i64 },
    Settle { patient: usize, fund_fen: i64, borne_fen: i64, inpatient: bool },
    Cancel { nth: usize },
    Leave { person: usize },
    RefundSync,
}

const PEOPLE: [&str; 4] = ["P", "S", "F", "K"];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..4usize, any::<bool>(), 1..100_000i64).prop_map(|(person, his, fen)| Op::Credit { person, his, fen }),
        (0..4usize, 1..80_000i64).prop_map(|(person, fen)| Op::ToMut { person, fen }),
        (0..4usize, 1..80_000i64).prop_map(|(person, fen)| Op::ToHis { person, fen }),
        (0..4usize, 0..50_000i64, 1..90_000i64, any::<bool>()).prop_map(|(patient, fund_fen, borne_fen, inpatient)| Op::Settle {
            patient,
            fund_fen,
            borne_fen,
            inpatient
        }),
        (0..20usize).prop_map(|nth| Op::Cancel { nth }),
        (1..4usize).prop_map(|person| Op::Leave { person }),
        Just(Op::RefundSync),
    ]
}

/// All money that belongs to persons: their accounts plus what the refund holding keeps for them.
fn person_money<S: Store>(engine: &Engine<S>) -> Money {
    let area = AreaCode::parse("330200").unwrap();
    let mut total = engine.balance(&AccountRef::system(&area, SystemAccount::RefundHolding)).unwrap();
    for psn in PEOPLE {
        for kind in [PersonAccount::Cur, PersonAccount::His, PersonAccount::Mut] {
            total = total.plus(balance(engine, psn, kind));
        }
    }
    total
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// P4: random credits, transfers, settlements, cancels, departures and refund syncs never
    /// create or lose a fen, never make a guarded balance negative, and `audit` holds after
    /// every step.
    #[test]
    fn p4_money_is_conserved_by_every_sequence_of_operations(ops in proptest::collection::vec(op(), 1..40)) {
        let engine = sqlite_engine();
        register(&engine, employee("P", "500"));
        register(&engine, employee("S", "300"));
        register(&engine, employee("F", "0"));
        register(&engine, resident("K", "2015-01-01"));
        network(&engine, "P", &[("S", "spouse"), ("F", "parent"), ("K", "child")]);
        let mut expected = yuan("800");
        let mut settled: Vec<(String, bool)> = Vec::new();
        let mut reference = 0;
        for (index, op) in ops.iter().enumerate() {
            let ctx = me(PEOPLE[0]);
            match op {
                Op::Credit { person, his, fen } => {
                    reference += 1;
                    let account = if *his { PersonAccount::His } else { PersonAccount::Cur };
                    let credit = Credit { psn_no: PEOPLE[*person].into(), account, amount: Money::from_fen(*fen), reference: format!("R{reference}") };
                    if engine.credit(&setup_ctx(), &credit).is_ok() {
                        expected = expected.plus(Money::from_fen(*fen));
                    }
                }
                Op::ToMut { person, fen } => {
                    let psn = PEOPLE[*person];
                    let _ = engine.move_mutual_aid(&me(psn), psn, PersonAccount::His, PersonAccount::Mut, Money::from_fen(*fen));
                }
                Op::ToHis { person, fen } => {
                    let psn = PEOPLE[*person];
                    let _ = engine.move_mutual_aid(&me(psn), psn, PersonAccount::Mut, PersonAccount::His, Money::from_fen(*fen));
                }
                Op::Settle { patient, fund_fen, borne_fen, inpatient } => {
                    let visit = if *inpatient { VisitType::Inpatient } else { VisitType::Outpatient };
                    let bill_id = format!("b{index}");
                    let mut bill = split_bill(&bill_id, PEOPLE[*patient], visit, "0", "1");
                    bill.content = gongji_core::settlement::BillContent::Split(gongji_core::settlement::BillSplit {
                        fund_pay: Money::from_fen(*fund_fen), self_borne: Money::from_fen(*borne_fen), ..Default::default()
                    });
                    let outcome = engine.settle(&hospital("H1"), &bill).unwrap();
                    let paid: Money = outcome.payments.iter().map(|p| p.amount).sum();
                    prop_assert_eq!(paid.plus(outcome.cash), Money::from_fen(*borne_fen), "the burden is paid exactly once");
                    expected = expected.minus(paid);
                    settled.push((bill_id, false));
                }
                Op::Cancel { nth } => {
                    if let Some((bill_id, cancelled)) = settled.get_mut(*nth) {
                        let outcome = engine.cancel(&hospital("H1"), "H1", bill_id).unwrap();
                        if !*cancelled {
                            let back: Money = outcome.returned.iter().map(|(_, m)| *m).chain(outcome.held.iter().map(|(_, m)| *m)).sum();
                            expected = expected.plus(back);
                        }
                        prop_assert_eq!(outcome.replayed, *cancelled);
                        *cancelled = true;
                    }
                }
                Op::Leave { person } => {
                    let psn = PEOPLE[*person];
                    let _ = engine.leave(&me(psn), psn);
                }
                Op::RefundSync => {
                    engine.run_refund_sync(day("2099-01-01"), day("2099-01-01"), &|_, _| {}).unwrap();
                }
            }
            let _ = ctx;
            let report = engine.audit().unwrap();
            prop_assert!(report.is_clean(), "audit after step {}: {:?}", index, report);
            prop_assert_eq!(person_money(&engine), expected, "after step {} ({:?})", index, op);
        }
    }
}

/// One operation on a few bills of one institution (ST6, ST8).
#[derive(Debug, Clone)]
enum BillOp {
    /// Settle bill `bill` with one of two contents (a correction changes the content).
    Settle {
        bill: usize,
        content: usize,
    },
    /// Cancel the bill's latest settlement (the JSON API).
    Cancel {
        bill: usize,
    },
    /// Cancel one settlement of the bill by its id (the HIS dialect's 2208).
    CancelById {
        bill: usize,
        attempt: u32,
    },
    /// The member whose MUT pays leaves, so a later cancel holds that money (ST8, B3).
    Leave,
    RefundSync,
}

fn bill_op() -> impl Strategy<Value = BillOp> {
    prop_oneof![
        4 => (0..3usize, 0..2usize).prop_map(|(bill, content)| BillOp::Settle { bill, content }),
        2 => (0..3usize).prop_map(|bill| BillOp::Cancel { bill }),
        1 => (0..3usize, 1..4u32).prop_map(|(bill, attempt)| BillOp::CancelById { bill, attempt }),
        1 => Just(BillOp::Leave),
        1 => Just(BillOp::RefundSync),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// ST6, ST8 (issue 12): over random settle / cancel / resettle / repeat sequences, the sum
    /// of every payment answered by a new settlement minus every refund answered by a new
    /// cancel equals what the persons lost; a replay answers exactly the settlement that stands
    /// (posted, not cancelled); and the audit stays clean.
    #[test]
    fn st6_every_answered_payment_is_posted_and_every_refund_returned(ops in proptest::collection::vec(bill_op(), 1..30)) {
        let engine = sqlite_engine();
        register(&engine, employee("P", "3000"));
        register(&engine, employee("S", "800"));
        network(&engine, "P", &[("S", "spouse")]);
        to_mut(&engine, "S", "800");
        let start = person_money(&engine);
        let mut answered_paid = Money::ZERO;
        let mut answered_refunded = Money::ZERO;
        for (index, op) in ops.iter().enumerate() {
            match op {
                BillOp::Settle { bill, content } => {
                    let borne = ["300", "450.55"][*content];
                    let bill_id = format!("b{bill}");
                    match engine.settle(&hospital("H1"), &split_bill(&bill_id, "P", VisitType::Outpatient, "100", borne)) {
                        Ok(outcome) => {
                            let paid: Money = outcome.payments.iter().map(|p| p.amount).sum();
                            prop_assert_eq!(paid.plus(outcome.cash), yuan(borne));
                            let standing = engine.store().read(|tx| tx.settlement("H1", &bill_id)).unwrap().unwrap();
                            prop_assert!(standing.cancelled.is_none(), "an answer never reports a cancelled settlement as paid");
                            prop_assert_eq!(standing.attempt, outcome.attempt);
                            let posted: Vec<Money> = standing.lines.iter().map(|(_, _, m)| *m).collect();
                            prop_assert_eq!(posted, outcome.payments.iter().map(|p| p.amount).collect::<Vec<_>>());
                            if !outcome.replayed {
                                answered_paid = answered_paid.plus(paid);
                            }
                        }
                        Err(err) => prop_assert_eq!(code(err), "settlement.conflict"),
                    }
                }
                BillOp::Cancel { bill } | BillOp::CancelById { bill, .. } => {
                    let bill_id = format!("b{bill}");
                    let answer = match op {
                        BillOp::CancelById { attempt, .. } => {
                            let id = gongji_engine::settlement::settlement_id(&bill_id, *attempt);
                            engine.cancel_settlement(&hospital("H1"), "H1", &id)
                        }
                        _ => engine.cancel(&hospital("H1"), "H1", &bill_id),
                    };
                    match answer {
                        Ok(outcome) => {
                            if !outcome.replayed {
                                let back: Money = outcome.returned.iter().map(|(_, m)| *m).chain(outcome.held.iter().map(|(_, m)| *m)).sum();
                                answered_refunded = answered_refunded.plus(back);
                            }
                        }
                        Err(err) => prop_assert_eq!(code(err), "settlement.not_found"),
                    }
                }
                BillOp::Leave => {
                    let _ = engine.leave(&me("S"), "S");
                }
                BillOp::RefundSync => {
                    engine.run_refund_sync(day("2099-01-01"), day("2099-01-01"), &|_, _| {}).unwrap();
                }
            }
            prop_assert_eq!(start.minus(person_money(&engine)), answered_paid.minus(answered_refunded), "after step {} ({:?})", index, op);
            let report = engine.audit().unwrap();
            prop_assert!(report.is_clean(), "audit after step {}: {:?}", index, report);
        }
    }
}

/// ST9: settlements from several threads, each with its own connection to one database file,
/// compete for the same MUT money while the owner moves money in and out; the MUT is never
/// overdrawn, no posting is lost, and the audit is clean.
#[test]
fn st9_racing_settlements_never_overdraw_a_mut() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("race.db");
    let open = || Engine::new(SqliteStore::open(&path).unwrap(), preset_book());
    let setup = open();
    register(&setup, employee("P", "1000"));
    let members = ["K1", "K2", "K3", "K4"];
    for member in members {
        register(&setup, resident(member, "2015-01-01"));
    }
    network(&setup, "P", &members.iter().map(|m| (*m, "child")).collect::<Vec<_>>());
    to_mut(&setup, "P", "1000");
    drop(setup);

    let bills_per_thread = 40;
    let paid_from_mut = Arc::new(std::sync::Mutex::new(Money::ZERO));
    let mut threads = Vec::new();
    for member in members {
        let (path, paid_from_mut) = (path.clone(), paid_from_mut.clone());
        threads.push(std::thread::spawn(move || {
            let engine = Engine::new(SqliteStore::open(&path).unwrap(), preset_book());
            for n in 0..bills_per_thread {
                let bill = split_bill(&format!("{member}-{n}"), member, VisitType::Outpatient, "10", "7.77");
                let outcome = engine.settle(&hospital("H1"), &bill).unwrap();
                let paid = outcome.paid_by(&AccountRef::person("P", PersonAccount::Mut));
                assert_eq!(paid.plus(outcome.cash), yuan("7.77"));
                let mut total = paid_from_mut.lock().unwrap();
                *total = total.plus(paid);
            }
        }));
    }
    // The owner moves money back and forth meanwhile (net zero).
    let mover = {
        let path = path.clone();
        std::thread::spawn(move || {
            let engine = Engine::new(SqliteStore::open(&path).unwrap(), preset_book());
            for _ in 0..30 {
                if engine.move_mutual_aid(&me("P"), "P", PersonAccount::Mut, PersonAccount::His, yuan("1")).is_ok() {
                    engine.move_mutual_aid(&me("P"), "P", PersonAccount::His, PersonAccount::Mut, yuan("1")).unwrap();
                }
            }
        })
    };
    for thread in threads {
        thread.join().unwrap();
    }
    mover.join().unwrap();
    let engine = open();
    let left = mutual(&engine, "P");
    assert!(!left.is_negative());
    assert_eq!(left.plus(*paid_from_mut.lock().unwrap()).plus(his(&engine, "P")), yuan("1000"), "no fen created or lost");
    assert_eq!(left, Money::ZERO, "demand (4 × 40 × 7.77) exceeds the 1000 in MUT, so it is used up");
    let report = engine.audit().unwrap();
    assert!(report.is_clean(), "{report:?}");
    let clearing = AccountRef::system(&AreaCode::parse("330200").unwrap(), SystemAccount::InstitutionClearing);
    let settlements = engine.statement(&clearing, day(D), day(D)).unwrap();
    assert_eq!(settlements.len(), members.len() * bills_per_thread, "no settlement lost");
    assert_eq!(engine.balance(&clearing).unwrap(), Money::from_fen(1777 * (members.len() * bills_per_thread) as i64));
}
