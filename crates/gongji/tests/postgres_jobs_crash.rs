//! §10 on PostgreSQL: a year-end job killed with SIGKILL at any point (its transaction open on
//! the server) and run again gives exactly the balances and postings of one uninterrupted run,
//! and the audit is clean; a third run changes nothing. The PostgreSQL twin of jobs_crash.rs.
//! Runs when `GONGJI_TEST_DATABASE_URL` names a PostgreSQL server; otherwise it prints that it
//! was skipped.

use std::process::Command;

use chrono::NaiveDate;
use gongji_core::{AccountRef, Actor, AreaCode, Channel, IdNumber, InsuranceType, Money, Person, PersonAccount, PersonStatus, SystemAccount};
use gongji_engine::persons::Credit;
use gongji_engine::policy_file::preset_book;
use gongji_engine::{Context, Engine};
use gongji_store::postgres::ScratchDatabase;

const PERSONS: usize = 60;
const BATCH: &str = "7";

fn psn(i: usize) -> String {
    format!("Y{i:04}")
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn build(database: &ScratchDatabase) {
    let engine = Engine::new(database.store().unwrap(), preset_book());
    for i in 0..PERSONS {
        let ctx = Context::new(Actor::System("setup".into()), Channel::Batch, day(2024, 1 + (i % 12) as u32, 1 + (i % 28) as u32));
        let person = Person {
            psn_no: psn(i),
            name: format!("某{i}"),
            id_number: IdNumber::compose("330200", day(1960 + (i % 40) as i32, 1, 1), i as u16).unwrap(),
            area: AreaCode::parse("330200").unwrap(),
            insurance: InsuranceType::Employee,
            phone: None,
            status: PersonStatus::Normal,
        };
        engine.register_person(&ctx, &person).unwrap();
        let his = Money::from_fen(10_000 + (i as i64 * 7_919) % 500_000);
        engine.credit(&ctx, &Credit { psn_no: psn(i), account: PersonAccount::His, amount: his, reference: format!("h{i}") }).unwrap();
        let cur = Money::from_fen(1 + (i as i64 * 3_571) % 90_000);
        engine.credit(&ctx, &Credit { psn_no: psn(i), account: PersonAccount::Cur, amount: cur, reference: format!("c{i}") }).unwrap();
    }
    // Some networks with MUT money, so that the sweep step has work.
    for promoter in (0..PERSONS).step_by(6) {
        let ctx = Context::new(Actor::Person(psn(promoter)), Channel::App, day(2024, 6, 1));
        engine.create_network(&ctx, &psn(promoter)).unwrap();
        engine.move_mutual_aid(&ctx, &psn(promoter), PersonAccount::His, PersonAccount::Mut, Money::from_fen(5_000)).unwrap();
    }
}

fn run_year_end(database: &ScratchDatabase, kill_at: Option<u64>) -> std::process::ExitStatus {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gongji"));
    command.args(["--database-url", &database.url(), "job", "run", "year-end", "--year", "2024", "--batch", BATCH]);
    if let Some(n) = kill_at {
        command.env("GONGJI_KILL_AT_SUBJECT", n.to_string());
    }
    command.output().unwrap().status
}

/// Every account's balance and every posting (kind, date, amount), in order.
fn ledger_picture(database: &ScratchDatabase) -> Vec<String> {
    let engine = Engine::new(database.store().unwrap(), preset_book());
    let report = engine.audit().unwrap();
    assert!(report.is_clean(), "{report:?}");
    let area = AreaCode::parse("330200").unwrap();
    let mut accounts: Vec<AccountRef> =
        (0..PERSONS).flat_map(|i| [PersonAccount::Cur, PersonAccount::His, PersonAccount::Mut].map(|k| AccountRef::person(&psn(i), k))).collect();
    accounts.push(AccountRef::system(&area, SystemAccount::InterestExpense));
    let mut picture = Vec::new();
    for account in accounts {
        picture.push(format!("{account} = {}", engine.balance(&account).unwrap()));
        for line in engine.statement(&account, day(2000, 1, 1), day(2100, 1, 1)).unwrap() {
            picture.push(format!("  {} {} {}", line.kind, line.business_date, line.amount));
        }
    }
    picture
}

#[test]
fn year_end_on_postgres_killed_at_any_point_then_rerun_equals_one_uninterrupted_run() {
    let Ok(url) = std::env::var("GONGJI_TEST_DATABASE_URL") else {
        eprintln!("skipped year_end_on_postgres_killed_at_any_point_then_rerun_equals_one_uninterrupted_run: GONGJI_TEST_DATABASE_URL is not set");
        return;
    };
    let fresh = || {
        let database = ScratchDatabase::create(&url, "gongji_test_crash").unwrap();
        build(&database);
        database
    };
    let reference = fresh();
    assert!(run_year_end(&reference, None).success());
    let expected = ledger_picture(&reference);
    assert!(expected.iter().any(|line| line.contains("interest")), "the run did post interest");

    // Kill points: inside the first batch, on a batch boundary, mid-run, in the last subject.
    for kill_at in [1u64, 8, 23, PERSONS as u64] {
        let database = fresh();
        let status = run_year_end(&database, Some(kill_at));
        assert!(!status.success(), "the process was killed at subject {kill_at}");
        assert!(run_year_end(&database, None).success());
        assert_eq!(ledger_picture(&database), expected, "after a kill at subject {kill_at}");
        assert!(run_year_end(&database, None).success());
        assert_eq!(ledger_picture(&database), expected);
    }
}
