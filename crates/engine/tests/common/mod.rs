//! Shared helpers for the engine's story tests. Every story is a generic function over the
//! store, run on every backend by `on_every_backend!` (one storage test suite, two backends).
#![allow(dead_code)]

use chrono::NaiveDate;
use gongji_core::settlement::{Bill, BillContent, BillSplit};
use gongji_core::{AccountRef, Actor, AreaCode, Channel, IdNumber, InsuranceType, Money, Person, PersonAccount, PersonStatus, VisitType};
use gongji_engine::persons::Credit;
use gongji_engine::policy_file::preset_book;
use gongji_engine::{Context, Engine};
use gongji_store::postgres::{PgStore, ScratchDatabase};
use gongji_store::sqlite::SqliteStore;
use gongji_store::Store;

pub fn sqlite_engine() -> Engine<SqliteStore> {
    Engine::new(SqliteStore::in_memory().expect("in-memory store"), preset_book())
}

/// The environment variable with the URL of a PostgreSQL server for the tests, e.g.
/// `postgres://postgres@127.0.0.1:5432/postgres` (a database the user may connect to and a role
/// that may `CREATE DATABASE`). Without it the PostgreSQL half of the suite is skipped.
pub const TEST_DATABASE_URL_VAR: &str = "GONGJI_TEST_DATABASE_URL";

/// The PostgreSQL server for the tests, if `GONGJI_TEST_DATABASE_URL` names one; otherwise
/// prints one line saying that `test` was skipped.
pub fn test_database_url(test: &str) -> Option<String> {
    match std::env::var(TEST_DATABASE_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("skipped {test} on PostgreSQL: {TEST_DATABASE_URL_VAR} is not set");
            None
        }
    }
}

/// Runs `story` on an engine over a fresh PostgreSQL database, created for it and dropped
/// afterwards (also when the story panics: the guard drops the database while unwinding).
pub fn on_postgres(test: &str, story: impl FnOnce(Engine<PgStore>)) {
    let Some(url) = test_database_url(test) else { return };
    let database = ScratchDatabase::create(&url, "gongji_test").expect("create a scratch database");
    let engine = Engine::new(database.store().expect("connect to the scratch database"), preset_book());
    story(engine);
    drop(database);
}

/// Runs each named story (a `fn name<S: Store>(engine: Engine<S>)`) on every backend: SQLite
/// in memory, and PostgreSQL on a fresh database when `GONGJI_TEST_DATABASE_URL` is set.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name($crate::common::sqlite_engine()) } )*
        }
        mod postgres {
            $( #[test] fn $name() { $crate::common::on_postgres(stringify!($name), super::$name) } )*
        }
    };
}

pub fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

pub fn yuan(text: &str) -> Money {
    Money::parse(text).unwrap()
}

pub const D: &str = "2024-03-01";

pub fn setup_ctx() -> Context {
    Context::new(Actor::System("test".into()), Channel::Batch, day(D))
}

/// The person acting for themselves in the app on `D`.
pub fn me(psn: &str) -> Context {
    Context::new(Actor::Person(psn.into()), Channel::App, day(D))
}

pub fn counter(area: &str) -> Context {
    Context::new(Actor::Operator { id: "op1".into(), area: AreaCode::parse(area).unwrap() }, Channel::Counter, day(D))
}

pub fn hospital(code: &str) -> Context {
    Context::new(Actor::Institution(code.into()), Channel::Api, day(D))
}

static SEQUENCE: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(1);

pub struct NewPerson<'a> {
    pub psn: &'a str,
    pub insurance: InsuranceType,
    pub birth: &'a str,
    pub area: &'a str,
    pub his: &'a str,
    pub cur: &'a str,
}

pub fn employee<'a>(psn: &'a str, his: &'a str) -> NewPerson<'a> {
    NewPerson { psn, insurance: InsuranceType::Employee, birth: "1980-01-01", area: "330200", his, cur: "0" }
}

pub fn resident<'a>(psn: &'a str, birth: &'a str) -> NewPerson<'a> {
    NewPerson { psn, insurance: InsuranceType::Resident, birth, area: "330200", his: "0", cur: "0" }
}

pub fn register<S: Store>(engine: &Engine<S>, spec: NewPerson<'_>) {
    let sequence = SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 1000;
    let person = Person {
        psn_no: spec.psn.into(),
        name: format!("测试{}", spec.psn),
        id_number: IdNumber::compose(spec.area, day(spec.birth), sequence).unwrap(),
        area: AreaCode::parse(spec.area).unwrap(),
        insurance: spec.insurance,
        phone: Some("13800000000".into()),
        status: PersonStatus::Normal,
    };
    engine.register_person(&setup_ctx(), &person).unwrap();
    for (account, amount) in [(PersonAccount::His, spec.his), (PersonAccount::Cur, spec.cur)] {
        let amount = yuan(amount);
        if amount.is_positive() {
            let reference = format!("open-{}-{account}", spec.psn);
            engine.credit(&setup_ctx(), &Credit { psn_no: spec.psn.into(), account, amount, reference }).unwrap();
        }
    }
}

pub fn balance<S: Store>(engine: &Engine<S>, psn: &str, kind: PersonAccount) -> Money {
    engine.balance(&AccountRef::person(psn, kind)).unwrap()
}

pub fn his<S: Store>(engine: &Engine<S>, psn: &str) -> Money {
    balance(engine, psn, PersonAccount::His)
}

pub fn mutual<S: Store>(engine: &Engine<S>, psn: &str) -> Money {
    balance(engine, psn, PersonAccount::Mut)
}

/// A network of `promoter` with the given (member, relation) pairs, all confirmed.
pub fn network<S: Store>(engine: &Engine<S>, promoter: &str, members: &[(&str, &str)]) {
    engine.create_network(&me(promoter), promoter).unwrap();
    for (member, relation) in members {
        let added = engine.add_member(&me(promoter), promoter, member, relation).unwrap();
        if added == gongji_engine::networks::Added::PendingConfirmation {
            engine.confirm_member(&me(member), member).unwrap();
        }
    }
}

pub fn to_mut<S: Store>(engine: &Engine<S>, psn: &str, amount: &str) {
    engine.move_mutual_aid(&me(psn), psn, PersonAccount::His, PersonAccount::Mut, yuan(amount)).unwrap();
}

pub fn split_bill(bill_id: &str, patient: &str, visit: VisitType, fund: &str, borne: &str) -> Bill {
    Bill {
        institution: "H1".into(),
        bill_id: bill_id.into(),
        patient: patient.into(),
        visit,
        date: day(D),
        content: BillContent::Split(BillSplit { fund_pay: yuan(fund), self_borne: yuan(borne), ..BillSplit::default() }),
    }
}

pub fn assert_clean<S: Store>(engine: &Engine<S>) {
    let report = engine.audit().unwrap();
    assert!(report.is_clean(), "audit not clean: {report:?}");
}

pub fn code(err: gongji_engine::Error) -> &'static str {
    err.code().map(|c| c.as_str()).unwrap_or("store error")
}
