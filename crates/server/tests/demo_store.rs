//! The demo mark (issue 12 item 7): `serve --demo` creates and marks a demo store, accepts it
//! again, and refuses a store that has persons but no mark; the web pages' one-click sign-in
//! works only on a marked store, whatever the configuration says. The store-level stories run
//! on SQLite and, when `GONGJI_TEST_DATABASE_URL` is set, on PostgreSQL.

mod common;

use chrono::NaiveDate;
use common::TestApp;
use gongji_core::{Actor, AreaCode, Channel, IdNumber, InsuranceType, Money, Person, PersonAccount, PersonStatus};
use gongji_engine::persons::Credit;
use gongji_engine::policy_file::preset_book;
use gongji_engine::{Context, Engine};
use gongji_server::demo::{self, DemoError, Prepared};
use gongji_server::ServerConfig;
use gongji_store::postgres::ScratchDatabase;
use gongji_store::sqlite::SqliteStore;
use gongji_store::Store;

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

/// Registers a real person (with money) the way an import does.
fn register_real_person<S: Store>(engine: &Engine<S>, psn_no: &str, area: &str) {
    let ctx = Context::new(Actor::System("import".into()), Channel::Batch, day("2024-01-02"));
    let person = Person {
        psn_no: psn_no.into(),
        name: "真实参保人".into(),
        id_number: IdNumber::compose(area, day("1966-04-04"), 7).unwrap(),
        area: AreaCode::parse(area).unwrap(),
        insurance: InsuranceType::Employee,
        phone: None,
        status: PersonStatus::Normal,
    };
    engine.register_person(&ctx, &person).unwrap();
    let credit = Credit { psn_no: psn_no.into(), account: PersonAccount::His, amount: Money::yuan(8000), reference: format!("opening-{psn_no}") };
    assert!(engine.credit(&ctx, &credit).unwrap());
}

fn demo_person_count<S: Store>(engine: &Engine<S>) -> usize {
    let area = AreaCode::parse(demo::DEMO_AREA).unwrap();
    engine.store().read(|tx| tx.persons_in_area(&area, "", 1000)).unwrap().len()
}

/// A store with a real person in the demo area: `--demo` refuses it and changes nothing.
fn refuses_a_store_with_a_real_person<S: Store>(engine: Engine<S>) {
    register_real_person(&engine, "REAL1", demo::DEMO_AREA);
    assert!(matches!(demo::prepare(&engine), Err(DemoError::RealStore)));
    assert!(matches!(demo::prepare(&engine), Err(DemoError::RealStore)), "refused again, not marked by the first refusal");
    assert_eq!(demo::mark(engine.store()).unwrap(), None);
    assert!(engine.person("A1").is_err(), "no demo family was loaded");
    assert_eq!(demo_person_count(&engine), 1);
}

/// Before, only the demo area was looked at: a store with persons elsewhere got the demo.
fn refuses_a_store_with_persons_in_another_area<S: Store>(engine: Engine<S>) {
    register_real_person(&engine, "REAL2", "330100");
    assert!(matches!(demo::prepare(&engine), Err(DemoError::RealStore)));
    assert_eq!(demo::mark(engine.store()).unwrap(), None);
    assert_eq!(demo_person_count(&engine), 0);
}

/// A new store is marked and loaded; the second `--demo` keeps it as it is.
fn creates_marks_and_accepts_a_demo_store_twice<S: Store>(engine: Engine<S>) {
    assert_eq!(demo::mark(engine.store()).unwrap(), None);
    assert_eq!(demo::prepare(&engine).unwrap(), Prepared::Loaded);
    let marked = demo::mark(engine.store()).unwrap().expect("the demo store is marked");
    let persons = demo_person_count(&engine);
    assert_eq!(persons, 12, "the four families of seeds/003");
    let a1_his = engine.store().read(|tx| tx.balance(&gongji_core::AccountRef::person("A1", PersonAccount::His))).unwrap();
    assert_eq!(demo::prepare(&engine).unwrap(), Prepared::Kept);
    assert_eq!(demo::prepare(&engine).unwrap(), Prepared::Kept);
    assert_eq!(demo::mark(engine.store()).unwrap(), Some(marked), "marked once");
    assert_eq!(demo_person_count(&engine), persons, "nothing loaded twice");
    assert_eq!(engine.store().read(|tx| tx.balance(&gongji_core::AccountRef::person("A1", PersonAccount::His))).unwrap(), a1_his);
    assert!(engine.store().read(|tx| tx.audit()).unwrap().is_clean());
}

/// A demo store into which a real person was imported since is a real store: refused, and its
/// one-click sign-in closed (issue 12 item 7).
fn refuses_a_demo_store_into_which_real_persons_were_imported<S: Store>(engine: Engine<S>) {
    assert_eq!(demo::prepare(&engine).unwrap(), Prepared::Loaded);
    assert!(demo::is_demo_store(engine.store()).unwrap());
    register_real_person(&engine, "REAL3", "330100");
    assert!(!demo::is_demo_store(engine.store()).unwrap());
    assert!(matches!(demo::prepare(&engine), Err(DemoError::RealStore)));
}

/// A mark whose first run stopped before its first person: the families are loaded then.
fn loads_a_marked_store_that_has_no_demo_person_yet<S: Store>(engine: Engine<S>) {
    engine.store().write(|tx| tx.set_demo_mark(chrono::Utc::now())).unwrap();
    assert_eq!(demo::prepare(&engine).unwrap(), Prepared::Loaded);
    assert_eq!(demo_person_count(&engine), 12);
}

fn sqlite() -> Engine<SqliteStore> {
    Engine::new(SqliteStore::in_memory().unwrap(), preset_book())
}

fn on_postgres(test: &str, story: impl FnOnce(Engine<gongji_store::postgres::PgStore>)) {
    let url = match std::env::var("GONGJI_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => return eprintln!("skipped {test} on PostgreSQL: GONGJI_TEST_DATABASE_URL is not set"),
    };
    let database = ScratchDatabase::create(&url, "gongji_test").expect("a scratch database");
    story(Engine::new(database.store().expect("connect"), preset_book()));
    drop(database);
}

macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(super::sqlite()) } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::on_postgres(stringify!($name), super::$name) } )*
        }
    };
}

// issue 12 item 7
on_every_backend!(
    refuses_a_store_with_a_real_person,
    refuses_a_store_with_persons_in_another_area,
    creates_marks_and_accepts_a_demo_store_twice,
    loads_a_marked_store_that_has_no_demo_person_yet,
    refuses_a_demo_store_into_which_real_persons_were_imported,
);

fn form(app: &mut TestApp, path: &str, body: &str) -> gongji_server::client::HttpResponse {
    app.client.send("POST", path, &[("Content-Type", "application/x-www-form-urlencoded")], body.as_bytes()).unwrap()
}

// issue 12 item 7, defence in depth: `demo: true` in the configuration of a server whose store
// has no demo mark (real persons) shows no demo list and signs nobody in without a token.
#[test]
fn issue12_item7_one_click_sign_in_is_refused_on_a_store_without_the_demo_mark() {
    let mut app = TestApp::start_with(ServerConfig { demo: true, business_date: Some(day("2024-03-01")), ..ServerConfig::default() });
    register_real_person(&app.engine, "A1", demo::DEMO_AREA);
    let page = app.client.send("GET", "/web/sign-in", &[], b"").unwrap();
    assert_eq!(page.status, 200);
    assert!(!page.text().contains("演示 Demo") && !page.text().contains("/web/demo-sign-in"), "no one-click list on a real store");
    for who in ["operator", "A1"] {
        let refused = form(&mut app, "/web/demo-sign-in", &format!("who={who}"));
        assert_eq!(refused.status, 403, "{who}: {}", refused.text());
        assert!(refused.header("set-cookie").is_none_or(|c| !c.contains("gj_")), "no token for {who}");
        assert!(refused.text().contains("data-code=\"auth.forbidden\""));
    }
    assert!(!gongji_server::auth::list(app.engine.store()).unwrap().iter().any(|t| t.spec.name.starts_with("web-demo-")), "no demo token was issued");
}

// issue 12 item 7: on a store that `--demo` created the one-click sign-in works.
#[test]
fn issue12_item7_one_click_sign_in_works_on_the_demo_store() {
    let mut app = TestApp::start_with(ServerConfig { demo: true, business_date: Some(day("2024-03-01")), ..ServerConfig::default() });
    assert_eq!(demo::prepare(&app.engine).unwrap(), Prepared::Loaded);
    let page = app.client.send("GET", "/web/sign-in", &[], b"").unwrap();
    assert!(page.text().contains("演示 Demo") && page.text().contains("data-demo=\"A1\""), "{}", page.text());
    let signed_in = form(&mut app, "/web/demo-sign-in", "who=operator");
    assert_eq!((signed_in.status, signed_in.header("location")), (303, Some("/web/counter")), "{}", signed_in.text());
    assert!(signed_in.header("set-cookie").unwrap().starts_with("gongji_session=gj_"));

    // Without --demo the same store signs nobody in.
    let mut plain = TestApp::start("2024-03-01");
    assert_eq!(demo::prepare(&plain.engine).unwrap(), Prepared::Loaded);
    assert_eq!(form(&mut plain, "/web/demo-sign-in", "who=operator").status, 403);
}
