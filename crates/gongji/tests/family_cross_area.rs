//! X2 across two planning areas, each with its own store (two SQLite files): the `gongji`
//! process that relays the messages is killed (SIGKILL) between the two sides — after the
//! sending side committed and before the receiving side applied, and after the receiving side
//! applied and before the sending side recorded the answer — and run again. Money is conserved
//! across both stores, nothing is applied twice, and both agencies' clearing records agree.

use std::path::Path;
use std::process::{Command, ExitStatus};

use chrono::{NaiveDate, TimeZone, Utc};
use gongji_core::settlement::{Bill, BillContent, BillSplit};
use gongji_core::{AccountRef, Actor, AreaCode, Channel, IdNumber, InsuranceType, Money, Person, PersonAccount, PersonStatus, SystemAccount, VisitType};
use gongji_engine::interarea::reconcile;
use gongji_engine::persons::Credit;
use gongji_engine::policy_file::preset_book;
use gongji_engine::quota::QuotaGrant;
use gongji_engine::{Context, Engine};
use gongji_store::sqlite::SqliteStore;

const BEIJING: &str = "110100";
const CHENGDU: &str = "510100";

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 3, 1).unwrap()
}

fn open(path: &Path) -> Engine<SqliteStore> {
    Engine::new(SqliteStore::open(path).unwrap(), preset_book())
}

/// A person acting in the app at noon, China time (X3 allows transfers then).
fn at_noon(psn: &str) -> Context {
    let mut ctx = Context::new(Actor::Person(psn.into()), Channel::App, day());
    ctx.now = Utc.with_ymd_and_hms(2024, 3, 1, 4, 0, 0).unwrap();
    ctx
}

fn register(engine: &Engine<SqliteStore>, psn: &str, name: &str, area: &str, insurance: InsuranceType, his: i64) -> Person {
    let setup = Context::new(Actor::System("setup".into()), Channel::Batch, day());
    let person = Person {
        psn_no: psn.into(),
        name: name.into(),
        id_number: IdNumber::compose(area, NaiveDate::from_ymd_opt(1990, 5, 5).unwrap(), 7).unwrap(),
        area: AreaCode::parse(area).unwrap(),
        insurance,
        phone: None,
        status: PersonStatus::Normal,
    };
    engine.register_person(&setup, &person).unwrap();
    if his > 0 {
        let credit = Credit { psn_no: psn.into(), account: PersonAccount::His, amount: Money::yuan(his), reference: format!("open-{psn}") };
        engine.credit(&setup, &credit).unwrap();
    }
    person
}

/// `gongji quota relay` between the two files, optionally killing itself at `kill_at`.
fn relay(a: &Path, b: &Path, kill_at: Option<&str>) -> ExitStatus {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gongji"));
    command.args(["--database", a.to_str().unwrap(), "--date", "2024-03-01", "quota", "relay", "--peer", b.to_str().unwrap()]);
    if let Some(point) = kill_at {
        command.env(gongji::family_cli::KILL_RELAY_VAR, point);
    }
    command.output().unwrap().status
}

fn money(engine: &Engine<SqliteStore>, account: AccountRef) -> Money {
    engine.balance(&account).unwrap()
}

fn clearing(engine: &Engine<SqliteStore>, area: &str) -> Money {
    money(engine, AccountRef::system(&AreaCode::parse(area).unwrap(), SystemAccount::InterAreaClearing))
}

/// Both stores' audits are clean, the clearing accounts cancel out across them, and the
/// agencies' clearing records agree with nothing left in transit.
fn assert_consistent(a: &Engine<SqliteStore>, b: &Engine<SqliteStore>) {
    for engine in [a, b] {
        let audit = engine.audit().unwrap();
        assert!(audit.is_clean(), "{audit:?}");
    }
    assert_eq!(clearing(a, BEIJING).plus(clearing(b, CHENGDU)), Money::ZERO, "clearing cancels out across the two stores");
    let report = reconcile(a, b).unwrap();
    assert!(report.agrees() && report.in_transit.is_empty(), "{report:?}");
}

#[test]
fn x2_a_relay_killed_between_the_two_stores_and_run_again_applies_everything_once() {
    let dir = tempfile::tempdir().unwrap();
    let (a_path, b_path) = (dir.path().join("beijing.db"), dir.path().join("chengdu.db"));
    let (beijing, chengdu) = (open(&a_path), open(&b_path));
    register(&beijing, "D", "丁", BEIJING, InsuranceType::Employee, 3000);
    let relative = register(&chengdu, "R", "任", CHENGDU, InsuranceType::Resident, 0);
    let d_his = || money(&beijing, AccountRef::person("D", PersonAccount::His));
    let r_quota = || money(&chengdu, AccountRef::person("R", PersonAccount::Quota));

    // The donor's area commits the grant: HIS → clearing, and a message in its outbox.
    let grant = QuotaGrant {
        donor: "D".into(),
        relative_name: relative.name.clone(),
        relative_id_number: relative.id_number.as_str().into(),
        relative_area: AreaCode::parse(CHENGDU).unwrap(),
        relation: "grandchild".into(),
        amount: Money::yuan(500),
    };
    let granted = beijing.grant_quota(&at_noon("D"), &grant).unwrap();
    let message_id = granted.message_id.unwrap();
    assert_eq!((d_his(), r_quota()), (Money::yuan(2500), Money::ZERO));

    // Killed after the sender committed, before the receiver applied: nothing arrived.
    assert!(!relay(&a_path, &b_path, Some("before_apply")).success());
    assert_eq!(r_quota(), Money::ZERO);
    assert_eq!(beijing.area_outbox(gongji_core::states::AreaMessageState::Pending).unwrap().len(), 1);

    // Killed after the receiver applied, before the sender recorded the answer.
    assert!(!relay(&a_path, &b_path, Some("after_apply")).success());
    assert_eq!(r_quota(), Money::yuan(500));
    assert_eq!(beijing.area_outbox(gongji_core::states::AreaMessageState::Pending).unwrap()[0].message.id, message_id, "the sender does not know yet");

    // Run again: the message is sent again and answered from the receiver's inbox, not applied twice.
    assert!(relay(&a_path, &b_path, None).success());
    assert_eq!((d_his(), r_quota()), (Money::yuan(2500), Money::yuan(500)));
    assert!(beijing.area_outbox(gongji_core::states::AreaMessageState::Pending).unwrap().is_empty());
    let grants_in = chengdu.clearing_records().unwrap().into_iter().filter(|r| r.message_id == message_id).count();
    assert_eq!(grants_in, 1, "one clearing record in the relative's area");
    assert_consistent(&beijing, &chengdu);

    // The relative spends 120 at a Chengdu hospital.
    let bill = Bill {
        institution: "H1".into(),
        bill_id: "r-1".into(),
        patient: "R".into(),
        visit: VisitType::Outpatient,
        date: day(),
        content: BillContent::Split(BillSplit { self_borne: Money::yuan(120), ..BillSplit::default() }),
    };
    let settled = chengdu.settle(&Context::new(Actor::Institution("H1".into()), Channel::Api, day()), &bill).unwrap();
    assert_eq!(settled.paid_by(&AccountRef::person("R", PersonAccount::Quota)), Money::yuan(120));

    // The donor ends it. The end reaches Chengdu, whose return reaches Beijing; the process is
    // killed after Beijing applied the return and before Chengdu recorded the answer.
    beijing.end_quota(&at_noon("D"), "D", &granted.uid).unwrap();
    assert!(!relay(&a_path, &b_path, Some("after_apply:quota_return")).success());
    assert_eq!(d_his(), Money::yuan(2880), "2500 + the unused 380");
    assert_eq!(chengdu.area_outbox(gongji_core::states::AreaMessageState::Pending).unwrap().len(), 1, "Chengdu does not know yet");
    assert!(relay(&a_path, &b_path, None).success());
    assert!(relay(&a_path, &b_path, None).success(), "a relay with nothing to do");
    assert_eq!((d_his(), r_quota()), (Money::yuan(2880), Money::ZERO), "the return was not applied twice");

    // Money is conserved across both stores: the donor's 3000 is now 2880 in HIS and the 120
    // the relative spent; the clearing accounts say what Beijing owes Chengdu for it.
    assert_eq!(clearing(&beijing, BEIJING), Money::yuan(120));
    assert_eq!(d_his().plus(settled.paid_by(&AccountRef::person("R", PersonAccount::Quota))), Money::yuan(3000));
    assert_consistent(&beijing, &chengdu);
    let report = reconcile(&beijing, &chengdu).unwrap();
    assert_eq!(report.matched.len(), 2, "the grant and the return, each booked once on each side");
}
