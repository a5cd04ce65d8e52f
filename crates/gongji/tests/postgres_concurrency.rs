//! ST9 on PostgreSQL, across connections and processes: threads of this process (some sharing
//! one store's pool, one with a store of its own, one settling in groups) and two child `gongji`
//! processes settle and cancel bills of members of one family at once, all competing for the
//! promoter's MUT money, while the promoter moves money HIS↔MUT. Afterwards no MUT was
//! overdrawn, the audit is clean, no settlement was lost, and the family's money plus what its
//! live settlements took from it is exactly what it started with.
//!
//! Runs when `GONGJI_TEST_DATABASE_URL` names a PostgreSQL server (see README); otherwise it
//! prints that it was skipped.

use std::process::Command;
use std::sync::Arc;

use chrono::NaiveDate;
use gongji_core::settlement::{Bill, BillContent, BillSplit};
use gongji_core::{AccountRef, Actor, AreaCode, Channel, IdNumber, InsuranceType, Money, Person, PersonAccount, PersonStatus, VisitType};
use gongji_engine::persons::Credit;
use gongji_engine::policy_file::preset_book;
use gongji_engine::{Context, Engine};
use gongji_store::postgres::{PgStore, ScratchDatabase};
use gongji_store::Store;

const MEMBERS: [&str; 4] = ["K1", "K2", "K3", "K4"];
const BILLS_PER_THREAD: usize = 30;
const BILLS_PER_CHILD: usize = 12;
const BILL_BORNE: &str = "17.77";

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 3, 1).unwrap()
}

fn money(text: &str) -> Money {
    Money::parse(text).unwrap()
}

fn hospital(code: &str) -> Context {
    Context::new(Actor::Institution(code.into()), Channel::Api, day())
}

fn me(psn: &str) -> Context {
    Context::new(Actor::Person(psn.into()), Channel::App, day())
}

fn bill(institution: &str, bill_id: &str, patient: &str) -> Bill {
    Bill {
        institution: institution.into(),
        bill_id: bill_id.into(),
        patient: patient.into(),
        visit: VisitType::Outpatient,
        date: day(),
        content: BillContent::Split(BillSplit { fund_pay: money("10"), self_borne: money(BILL_BORNE), ..BillSplit::default() }),
    }
}

fn register<S: Store>(engine: &Engine<S>, psn: &str, insurance: InsuranceType, birth: (i32, u32, u32), sequence: u16, his: &str) {
    let setup = Context::new(Actor::System("test".into()), Channel::Batch, day());
    let person = Person {
        psn_no: psn.into(),
        name: format!("测试{psn}"),
        id_number: IdNumber::compose("330200", NaiveDate::from_ymd_opt(birth.0, birth.1, birth.2).unwrap(), sequence).unwrap(),
        area: AreaCode::parse("330200").unwrap(),
        insurance,
        phone: None,
        status: PersonStatus::Normal,
    };
    engine.register_person(&setup, &person).unwrap();
    if money(his).is_positive() {
        engine.credit(&setup, &Credit { psn_no: psn.into(), account: PersonAccount::His, amount: money(his), reference: format!("open-{psn}") }).unwrap();
    }
}

/// Settles `count` bills of `member` one by one, cancelling every third; returns the bill ids.
fn settle_and_cancel(engine: &Engine<PgStore>, member: &str, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for n in 0..count {
        let id = format!("{member}-{n}");
        let outcome = engine.settle(&hospital("H1"), &bill("H1", &id, member)).unwrap();
        let paid: Money = outcome.payments.iter().map(|p| p.amount).sum();
        assert_eq!(paid.plus(outcome.cash), money(BILL_BORNE), "the burden is paid exactly once");
        if n % 3 == 2 {
            engine.cancel(&hospital("H1"), "H1", &id).unwrap();
        }
        ids.push(id);
    }
    ids
}

#[test]
fn st9_settlements_from_threads_and_processes_never_overdraw_a_mut() {
    let Ok(url) = std::env::var("GONGJI_TEST_DATABASE_URL") else {
        eprintln!("skipped st9_settlements_from_threads_and_processes_never_overdraw_a_mut: GONGJI_TEST_DATABASE_URL is not set");
        return;
    };
    let database = ScratchDatabase::create(&url, "gongji_test_race").unwrap();
    let engine = Arc::new(Engine::new(database.store().unwrap(), preset_book()));
    register(&engine, "P", InsuranceType::Employee, (1980, 1, 1), 1, "1000");
    for (i, member) in MEMBERS.iter().enumerate() {
        register(&engine, member, InsuranceType::Resident, (2015, 1, 1), 10 + i as u16, "0");
    }
    engine.create_network(&me("P"), "P").unwrap();
    for member in MEMBERS {
        engine.add_member(&me("P"), "P", member, "child").unwrap();
    }
    engine.move_mutual_aid(&me("P"), "P", PersonAccount::His, PersonAccount::Mut, money("1000")).unwrap();

    let mut bill_ids: Vec<(String, String)> = Vec::new();
    std::thread::scope(|scope| {
        // Two processes, each settling (and cancelling some) through the CLI, one connection each.
        let children: Vec<_> = ["K3", "K4"]
            .into_iter()
            .map(|member| {
                let url = database.url();
                scope.spawn(move || {
                    let mut ids = Vec::new();
                    for n in 0..BILLS_PER_CHILD {
                        let id = format!("cli-{member}-{n}");
                        let settle = Command::new(env!("CARGO_BIN_EXE_gongji"))
                            .args(["--database-url", &url, "--date", "2024-03-01", "settle", "--institution", "H2", "--bill", &id, "--patient", member])
                            .args(["--visit", "outpatient", "--split", &format!("fund_pay=10,self_borne={BILL_BORNE}")])
                            .output()
                            .unwrap();
                        assert!(settle.status.success(), "settle {id}: {}", String::from_utf8_lossy(&settle.stderr));
                        if n % 4 == 1 {
                            let cancel = Command::new(env!("CARGO_BIN_EXE_gongji"))
                                .args(["--database-url", &url, "--date", "2024-03-01", "cancel", "--institution", "H2", "--bill", &id])
                                .output()
                                .unwrap();
                            assert!(cancel.status.success(), "cancel {id}: {}", String::from_utf8_lossy(&cancel.stderr));
                        }
                        ids.push(("H2".to_string(), id));
                    }
                    ids
                })
            })
            .collect();
        // Threads sharing this process's pool.
        let shared: Vec<_> = ["K1", "K2"]
            .into_iter()
            .map(|member| {
                let engine = engine.clone();
                scope.spawn(move || settle_and_cancel(&engine, member, BILLS_PER_THREAD))
            })
            .collect();
        // A thread with a store (and connections) of its own, settling in groups of five.
        let grouped = scope.spawn(|| {
            let own = Engine::new(database.store().unwrap(), preset_book());
            let mut ids = Vec::new();
            for group in 0..4 {
                let bills: Vec<Bill> = (0..5).map(|n| bill("H1", &format!("G-{group}-{n}"), MEMBERS[(group + n) % 4])).collect();
                for result in own.settle_many(&hospital("H1"), &bills).unwrap() {
                    let outcome = result.unwrap();
                    let paid: Money = outcome.payments.iter().map(|p| p.amount).sum();
                    assert_eq!(paid.plus(outcome.cash), money(BILL_BORNE));
                }
                ids.extend(bills.iter().map(|b| b.bill_id.clone()));
            }
            ids
        });
        // The owner moves money out and back meanwhile (net zero).
        let mover = scope.spawn(|| {
            for _ in 0..25 {
                if engine.move_mutual_aid(&me("P"), "P", PersonAccount::Mut, PersonAccount::His, money("1")).is_ok() {
                    engine.move_mutual_aid(&me("P"), "P", PersonAccount::His, PersonAccount::Mut, money("1")).unwrap();
                }
            }
        });
        for child in children {
            bill_ids.extend(child.join().unwrap());
        }
        for thread in shared {
            bill_ids.extend(thread.join().unwrap().into_iter().map(|id| ("H1".to_string(), id)));
        }
        bill_ids.extend(grouped.join().unwrap().into_iter().map(|id| ("H1".to_string(), id)));
        mover.join().unwrap();
    });

    let report = engine.audit().unwrap();
    assert!(report.is_clean(), "{report:?}");
    let promoter_mut = AccountRef::person("P", PersonAccount::Mut);
    let left = engine.balance(&promoter_mut).unwrap();
    assert!(!left.is_negative(), "MUT overdrawn: {left}");
    // Every bill is stored; what live (not cancelled) settlements took from the family's
    // accounts plus what the family holds now is the 1000 it started with.
    let mut taken = Money::ZERO;
    let mut live = 0;
    for (institution, bill_id) in &bill_ids {
        let stored = engine.store().read(|tx| tx.settlement(institution, bill_id)).unwrap().unwrap_or_else(|| panic!("settlement {bill_id} lost"));
        if stored.cancelled.is_none() {
            live += 1;
            taken = taken.plus(stored.lines.iter().map(|(_, _, amount)| *amount).sum::<Money>());
        }
    }
    assert_eq!(bill_ids.len(), 2 * BILLS_PER_CHILD + 2 * BILLS_PER_THREAD + 20, "every bill was settled");
    assert!(live > 0);
    let mut family = Money::ZERO;
    for psn in std::iter::once("P").chain(MEMBERS) {
        for kind in [PersonAccount::Cur, PersonAccount::His, PersonAccount::Mut] {
            family = family.plus(engine.balance(&AccountRef::person(psn, kind)).unwrap());
        }
    }
    assert_eq!(family.plus(taken), money("1000"), "no fen created or lost");
    // The live bills alone ask for more than the MUT ever held: the race was for real money.
    assert!(Money::from_fen(money(BILL_BORNE).fen() * live) > money("1000"));
    assert!(taken.is_positive());
    drop(engine);
    drop(database);
}
