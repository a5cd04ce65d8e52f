//! A stored row that does not read back (an unknown status, a value of another type than the
//! column should hold, a NULL where a value must be), as a damaged or hand-edited database
//! would have it, is `StoreError::Corrupt` naming what could not be read: never a panic, and
//! never mistaken for a failure of the database itself. On SQLite always; on PostgreSQL when
//! `GONGJI_TEST_DATABASE_URL` names a server and the `postgres` feature is on (as in
//! `./test.sh`).

use chrono::{NaiveDate, TimeZone, Utc};
use gongji_core::ledger::Provenance;
use gongji_core::settlement::YearTotals;
use gongji_core::states::NotificationKind;
use gongji_core::{Actor, AreaCode, Channel, IdNumber, InsuranceType, Money, Person, PersonStatus, VisitType};
use gongji_store::sqlite::SqliteStore;
use gongji_store::{NewNotification, Store, StoreError, StoreResult};

fn id_number() -> IdNumber {
    IdNumber::compose("330200", NaiveDate::from_ymd_opt(1980, 1, 1).unwrap(), 1).unwrap()
}

fn person(psn_no: &str) -> Person {
    Person {
        psn_no: psn_no.into(),
        name: "张三".into(),
        id_number: id_number(),
        area: AreaCode::parse("330200").unwrap(),
        insurance: InsuranceType::Employee,
        phone: None,
        status: PersonStatus::Normal,
    }
}

fn provenance() -> Provenance {
    Provenance {
        actor: Actor::System("test".into()),
        channel: Channel::Batch,
        business_date: NaiveDate::from_ymd_opt(2024, 3, 1).unwrap(),
        recorded_at: Utc.with_ymd_and_hms(2024, 3, 1, 8, 0, 0).unwrap(),
    }
}

/// Stores person `P` and their year totals of 2024.
fn seed(store: &impl Store) {
    store
        .write(|tx| -> StoreResult<()> {
            tx.insert_person(&person("P"), &provenance())?;
            tx.put_year_totals("P", 2024, VisitType::Outpatient, YearTotals { deductible_used: Money::from_fen(100), fund_paid: Money::from_fen(200) })
        })
        .unwrap();
}

/// Stores one notification of the outbox; returns its id.
fn seed_notification(store: &impl Store) -> i64 {
    store
        .write(|tx| {
            tx.insert_notification(&NewNotification {
                kind: NotificationKind::TransferCode,
                psn_no: "P".into(),
                recipient: "13800000000".into(),
                body: "code {code}".into(),
                secret: Some("123456".into()),
                reference: "relative_transfer:1".into(),
                created_at: Utc.with_ymd_and_hms(2024, 3, 1, 8, 0, 0).unwrap(),
            })
        })
        .unwrap()
}

/// `outcome` is `Corrupt` and its message names `what`.
fn assert_corrupt<T: std::fmt::Debug>(outcome: StoreResult<T>, what: &str) {
    match outcome {
        Err(StoreError::Corrupt(message)) => assert!(message.contains(what), "{message:?} names {what}"),
        other => panic!("expected Corrupt naming {what}, got {other:?}"),
    }
}

#[test]
fn sqlite_rows_that_do_not_read_back_are_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt.db");
    let store = SqliteStore::open(&path).unwrap();
    seed(&store);
    assert_eq!(store.read(|tx| tx.person("P")).unwrap(), Some(person("P")));
    let raw = rusqlite::Connection::open(&path).unwrap();

    // A status no version of gongji writes (behind the CHECK, as a damaged file would be).
    raw.execute_batch("PRAGMA ignore_check_constraints = ON; UPDATE persons SET status = 'frozen' WHERE psn_no = 'P'").unwrap();
    assert_corrupt(store.read(|tx| tx.person("P")), "status");
    raw.execute_batch("UPDATE persons SET status = 'normal' WHERE psn_no = 'P'").unwrap();

    // A blob where the name's text should be: SQLite stores it as given.
    raw.execute("UPDATE persons SET name = X'00FF' WHERE psn_no = 'P'", []).unwrap();
    assert_corrupt(store.read(|tx| tx.person("P")), "column name");
    assert_corrupt(store.read(|tx| tx.persons_in_area(&AreaCode::parse("330200").unwrap(), "", 10)), "column name");

    // A state or kind no version of gongji writes (issue 13: typed seams): the text the store
    // keeps is the enum's, and one it does not know is Corrupt naming the column.
    let id = seed_notification(&store);
    assert_eq!(store.read(|tx| tx.notification(id)).unwrap().unwrap().notification.kind, NotificationKind::TransferCode);
    let kind: String = raw.query_row("SELECT kind FROM notifications WHERE id = ?1", [id], |r| r.get(0)).unwrap();
    assert_eq!(kind, "transfer_code", "stored as text, byte for byte");
    raw.execute("UPDATE notifications SET kind = 'transfer_bogus' WHERE id = ?1", [id]).unwrap();
    assert_corrupt(store.read(|tx| tx.notification(id)), "kind");
    raw.execute("UPDATE notifications SET kind = 'transfer_code', state = 'lost' WHERE id = ?1", [id]).unwrap();
    assert_corrupt(store.read(|tx| tx.notification(id)), "state");
    assert_corrupt(store.read(|tx| tx.notifications(None, 10)), "state");

    // Text in an INTEGER column of money.
    raw.execute("UPDATE year_totals SET deductible_used_fen = 'lots' WHERE psn_no = 'P'", []).unwrap();
    assert_corrupt(store.read(|tx| tx.year_totals("P", 2024, VisitType::Outpatient)), "column deductible_used_fen");
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_rows_that_do_not_read_back_are_corrupt_not_a_panic() {
    use std::str::FromStr;

    use gongji_store::postgres::ScratchDatabase;

    let Some(url) = std::env::var("GONGJI_TEST_DATABASE_URL").ok().filter(|url| !url.is_empty()) else {
        eprintln!("skipped postgres_rows_that_do_not_read_back_are_corrupt_not_a_panic: GONGJI_TEST_DATABASE_URL is not set");
        return;
    };
    let database = ScratchDatabase::create(&url, "gongji_store_test").expect("create a scratch database");
    seed(&database.store().unwrap());
    let notification = seed_notification(&database.store().unwrap());
    let mut config = postgres::Config::from_str(&url).unwrap();
    config.dbname(database.name());
    let mut raw = config.connect(postgres::NoTls).unwrap();
    // Each damage below is read by a fresh store: a connection that prepared a statement before
    // its table changed type would (rightly) fail with a backend error instead.
    let read = |work: &mut dyn FnMut(&mut dyn gongji_store::Tx) -> StoreResult<()>| database.store().unwrap().read(|tx| work(tx));

    // A status no version of gongji writes (behind the CHECK, as a damaged database would be).
    raw.batch_execute("ALTER TABLE persons DROP CONSTRAINT persons_status_check; UPDATE persons SET status = 'frozen' WHERE psn_no = 'P'").unwrap();
    assert_corrupt(read(&mut |tx| tx.person("P").map(drop)), "status");
    assert_corrupt(read(&mut |tx| tx.person_by_id_number(id_number().as_str()).map(drop)), "status");
    raw.batch_execute("UPDATE persons SET status = 'normal' WHERE psn_no = 'P'").unwrap();

    // A NULL where a name must be: Row::get would panic here.
    raw.batch_execute("ALTER TABLE persons ALTER COLUMN name DROP NOT NULL; UPDATE persons SET name = NULL WHERE psn_no = 'P'").unwrap();
    assert_corrupt(read(&mut |tx| tx.person("P").map(drop)), "column name");
    assert_corrupt(read(&mut |tx| tx.persons_in_area(&AreaCode::parse("330200").unwrap(), "", 10).map(drop)), "column name");

    // A kind or state no version of gongji writes (issue 13: typed seams).
    let kind: String = raw.query_one("SELECT kind FROM notifications WHERE id = $1", &[&notification]).unwrap().get(0);
    assert_eq!(kind, "transfer_code", "stored as text, byte for byte");
    raw.execute("UPDATE notifications SET kind = 'transfer_bogus' WHERE id = $1", &[&notification]).unwrap();
    assert_corrupt(read(&mut |tx| tx.notification(notification).map(drop)), "kind");
    raw.batch_execute("ALTER TABLE notifications DROP CONSTRAINT notifications_state_check").unwrap();
    raw.execute("UPDATE notifications SET kind = 'transfer_code', state = 'lost', secret = NULL WHERE id = $1", &[&notification]).unwrap();
    assert_corrupt(read(&mut |tx| tx.notifications(None, 10).map(drop)), "state");

    // An INTEGER where the store reads a BIGINT of money: Row::get would panic here too.
    raw.batch_execute("ALTER TABLE year_totals ALTER COLUMN deductible_used_fen TYPE integer").unwrap();
    assert_corrupt(read(&mut |tx| tx.year_totals("P", 2024, VisitType::Outpatient).map(drop)), "column deductible_used_fen");

    drop(raw);
    drop(database);
}
