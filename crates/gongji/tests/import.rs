//! CSV imports (P5): all-or-nothing, every bad line reported, credits never twice.

use std::io::Write;

use gongji::import::{import_credits, import_persons, ImportFailure};
use gongji_core::{AccountRef, Actor, Channel, PersonAccount};
use gongji_engine::policy_file::preset_book;
use gongji_engine::{Context, Engine};
use gongji_store::sqlite::SqliteStore;

fn ctx() -> Context {
    Context::new(Actor::Admin("test".into()), Channel::Counter, chrono::NaiveDate::from_ymd_opt(2024, 3, 1).unwrap())
}

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

const PERSONS: &str = "psn_no,name,id_number,area,insurance,phone,status
P1001,李明,330203197802200011,330200,employee,13800000001,
P1002,陈芳,330203198007070021,330200,employee,,
P1003,李小明,330203201509010015,330200,resident,,normal
";

#[test]
fn p5_a_good_persons_file_then_credits_imported_once() {
    let engine = Engine::new(SqliteStore::in_memory().unwrap(), preset_book());
    let summary = import_persons(&engine, &ctx(), file(PERSONS).path()).unwrap();
    assert_eq!((summary.rows, summary.written), (3, 3));
    let credits = file("psn_no,account,amount,reference\nP1001,his,2000,OPEN-1\nP1001,cur,350.50,C-1\nP1002,his,0.01,OPEN-2\n");
    let first = import_credits(&engine, &ctx(), credits.path()).unwrap();
    assert_eq!((first.written, first.already_done, first.total.to_string().as_str()), (3, 0, "2350.51"));
    let second = import_credits(&engine, &ctx(), credits.path()).unwrap();
    assert_eq!((second.written, second.already_done), (0, 3), "importing the same file twice credits once");
    assert_eq!(engine.balance(&AccountRef::person("P1001", PersonAccount::His)).unwrap().to_string(), "2000.00");
    assert_eq!(engine.balance(&AccountRef::person("P1001", PersonAccount::Cur)).unwrap().to_string(), "350.50");
    assert!(engine.audit().unwrap().is_clean());
}

#[test]
fn p1_p3_a_malformed_persons_file_writes_nothing_and_reports_every_bad_line() {
    let engine = Engine::new(SqliteStore::in_memory().unwrap(), preset_book());
    let text = "psn_no,name,id_number,area,insurance,phone,status
P1,好人,330203197802200011,330200,employee,,
P2,坏号,330203197802200012,330200,employee,,
P3,坏险种,330203198007070021,330200,farmer,,
P4,坏地区,330203201509010015,3302,resident,,
P1,重复,110105194912310038,330200,employee,,
P6,坏电话,11010519491231002X,330200,employee,12345,
";
    let failure = import_persons(&engine, &ctx(), file(text).path()).unwrap_err();
    let ImportFailure::Rows(refused) = failure else { panic!("expected row errors, got {failure}") };
    let lines: Vec<(u64, &str)> = refused.errors.iter().map(|(line, err)| (*line, err.code.as_str())).collect();
    assert_eq!(lines, [(3, "person.invalid_id_number"), (4, "input.invalid"), (5, "input.invalid")], "format errors first, before anything is written");
    assert_eq!(engine.audit().unwrap().entries, 0);
    assert!(engine.person("P1").is_err(), "nothing written");

    // Rows that parse but break a rule at write time (duplicate psn_no, bad phone) are also all reported.
    let text = "psn_no,name,id_number,area,insurance,phone,status
P1,好人,330203197802200011,330200,employee,,
P1,重复,110105194912310038,330200,employee,,
P6,坏电话,11010519491231002X,330200,employee,12345,
";
    let ImportFailure::Rows(refused) = import_persons(&engine, &ctx(), file(text).path()).unwrap_err() else { panic!() };
    let lines: Vec<(u64, &str)> = refused.errors.iter().map(|(line, err)| (*line, err.code.as_str())).collect();
    assert_eq!(lines, [(3, "person.duplicate"), (4, "input.invalid")]);
    assert!(engine.person("P1").is_err(), "the good first row was rolled back too");
}

#[test]
fn p3_p5_a_malformed_credits_file_writes_nothing_and_reports_every_bad_line() {
    let engine = Engine::new(SqliteStore::in_memory().unwrap(), preset_book());
    import_persons(&engine, &ctx(), file(PERSONS).path()).unwrap();
    let text = "psn_no,account,amount,reference
P1001,his,100,OK-1
P1001,his,1.234,BAD-1
P1001,his,1e5,BAD-2
P1001,his,-1,BAD-3
P1001,mut,5,BAD-4
P1001,his,１００,BAD-5
P1001,his,,BAD-6
P1001,his,5
";
    let ImportFailure::Rows(refused) = import_credits(&engine, &ctx(), file(text).path()).unwrap_err() else { panic!() };
    let lines: Vec<(u64, &str)> = refused.errors.iter().map(|(line, err)| (*line, err.code.as_str())).collect();
    assert_eq!(
        lines,
        [
            (3, "money.invalid_amount"),
            (4, "money.invalid_amount"),
            (5, "money.invalid_amount"),
            (6, "input.invalid"),
            (7, "money.invalid_amount"),
            (8, "money.invalid_amount"),
            (9, "input.invalid"),
        ]
    );
    // Rows valid in form but wrong at write time: unknown person, contribution to a resident, repeated reference.
    let text = "psn_no,account,amount,reference\nP1001,his,100,OK-1\nNOBODY,his,1,X-1\nP1003,cur,1,X-2\nP1002,his,1,OK-1\n";
    let ImportFailure::Rows(refused) = import_credits(&engine, &ctx(), file(text).path()).unwrap_err() else { panic!() };
    let lines: Vec<(u64, &str)> = refused.errors.iter().map(|(line, err)| (*line, err.code.as_str())).collect();
    assert_eq!(lines, [(3, "person.not_found"), (4, "credit.not_eligible"), (5, "credit.duplicate")]);
    assert_eq!(engine.audit().unwrap().entries, 0, "nothing was written");
    assert!(matches!(import_credits(&engine, &ctx(), std::path::Path::new("/no/such/file.csv")), Err(ImportFailure::File(_))));
}
