//! Shared helpers for the engine's story tests. Every story is a generic function over the
//! store, run on every backend by `on_every_backend!` (one storage test suite, two backends).
#![allow(dead_code)]

use chrono::NaiveDate;
use gongji_core::settlement::{Bill, BillContent, BillSplit};
use gongji_core::{AccountRef, Actor, AreaCode, Channel, IdNumber, InsuranceType, Money, Person, PersonAccount, PersonStatus, VisitType};
use gongji_engine::persons::Credit;
use gongji_engine::policy_file::preset_book;
use gongji_engine::{Context, Engine};
use gongji_store::sqlite::SqliteStore;
use gongji_store::Store;

pub fn sqlite_engine() -> Engine<SqliteStore> {
    Engine::new(SqliteStore::in_memory().expect("in-memory store"), preset_book())
}

/// Runs each named story (a `fn name<S: Store>(engine: Engine<S>)`) on every backend.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name($crate::common::sqlite_engine()) } )*
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
