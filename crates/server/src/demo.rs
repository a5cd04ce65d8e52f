//! `gongji serve --demo`: the four families of the seed examples (seeds/003, as in the
//! scenario files `seed003_*.toml`), loaded into an empty store up to the moment before their
//! bills, so that a new user can settle them over HTTP and see the seeds' answers; and a set
//! of tokens to try with.
//!
//! The demo mark (issue 12 item 7): the web pages' one-click sign-in hands out an operator
//! token to anyone, so it exists only on a store that `--demo` itself created. [`prepare`] marks
//! a store in the same transaction that finds it without persons (before the families are
//! loaded: each engine operation is a transaction of its own), keeps a store marked before, and
//! refuses any other store that has persons ([`DemoError::RealStore`]).

use chrono::{DateTime, NaiveDate, Utc};
use gongji_core::{Actor, AreaCode, Channel, IdNumber, InsuranceType, Money, Person, PersonAccount, PersonStatus};
use gongji_engine::persons::Credit;
use gongji_engine::{Context, Engine};
use gongji_store::{Store, StoreError};

use crate::auth::{self, Role, TokenSpec};
use crate::problem::ApiError;

pub const DEMO_AREA: &str = "330200";
pub const DEMO_INSTITUTION: &str = "H0001";
/// The seeds' business date; the demo families are built on it.
pub const DEMO_SETUP_DATE: &str = "2024-03-01";

struct DemoPerson {
    psn_no: &'static str,
    name: &'static str,
    birth: &'static str,
    insurance: InsuranceType,
    his: i64,
}

enum Step {
    Create(&'static str),
    Add(&'static str, &'static str, &'static str),
    Confirm(&'static str),
    Reorder(&'static str, &'static [&'static str]),
    Move(&'static str, i64),
}

struct Family {
    story: &'static str,
    persons: &'static [DemoPerson],
    steps: &'static [Step],
}

const fn person(psn_no: &'static str, name: &'static str, birth: &'static str, insurance: InsuranceType, his: i64) -> DemoPerson {
    DemoPerson { psn_no, name, birth, insurance, his }
}

use InsuranceType::{Employee, Resident};

const FAMILIES: &[Family] = &[
    Family {
        story: "seeds/003 四: A1 holds 1000 HIS + 1000 MUT, B1 100 HIS + 50 MUT. Settle B1's bill of 1000 (200 borne): B1.his 100, B1.mut 50, cash 50 (ST3)",
        persons: &[
            person("A1", "甲", "1970-05-01", Employee, 2000),
            person("B1", "乙", "1972-08-15", Employee, 150),
            person("C1", "丙", "1998-11-30", Employee, 0),
        ],
        steps: &[
            Step::Create("A1"),
            Step::Add("A1", "B1", "spouse"),
            Step::Confirm("B1"),
            Step::Add("A1", "C1", "child"),
            Step::Confirm("C1"),
            Step::Move("A1", 1000),
            Step::Move("B1", 50),
        ],
    },
    Family {
        story: "seeds/003 ❹: the son's inpatient burden of 3000 uses Li's 1000 MUT only; Chen's 5000, second in order, is not touched (ST2, ST3)",
        persons: &[
            person("LI", "李先生", "1978-02-20", Employee, 1500),
            person("CHEN", "陈女士", "1980-07-07", Employee, 5000),
            person("SON", "小李", "2015-09-01", Resident, 0),
        ],
        steps: &[
            Step::Create("LI"),
            Step::Add("LI", "CHEN", "spouse"),
            Step::Confirm("CHEN"),
            Step::Add("LI", "SON", "child"),
            Step::Reorder("LI", &["LI", "CHEN", "SON"]),
            Step::Move("LI", 1000),
            Step::Move("CHEN", 5000),
        ],
    },
    Family {
        story: "seeds/003 ❾: the husband's HIS pays first, then only the father's 1.00 MUT (first in order); at the next visit the wife's MUT pays",
        persons: &[
            person("WIFE", "王女士", "1985-03-12", Employee, 600),
            person("FATHER", "王父", "1955-10-01", Employee, 1),
            person("HUSBAND", "张先生", "1984-01-25", Employee, 10),
        ],
        steps: &[
            Step::Create("WIFE"),
            Step::Add("WIFE", "FATHER", "parent"),
            Step::Confirm("FATHER"),
            Step::Add("WIFE", "HUSBAND", "spouse"),
            Step::Confirm("HUSBAND"),
            Step::Reorder("WIFE", &["FATHER", "WIFE", "HUSBAND"]),
            Step::Move("WIFE", 400),
            Step::Move("FATHER", 1),
        ],
    },
    Family {
        story: "seeds/003 六: A4's bill uses B4's MUT; B4 leaves; the refund waits in the holding account for the nightly job (ST8, B3)",
        persons: &[
            person("P4", "赵某", "1960-01-01", Employee, 100),
            person("A4", "钱某", "1990-06-06", Resident, 0),
            person("B4", "孙某", "1962-02-02", Employee, 500),
        ],
        steps: &[
            Step::Create("P4"),
            Step::Add("P4", "B4", "spouse"),
            Step::Confirm("B4"),
            Step::Add("P4", "A4", "child"),
            Step::Confirm("A4"),
            Step::Move("B4", 500),
        ],
    },
];

/// What [`prepare`] did with the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prepared {
    /// The store had no persons (or was marked by a run that stopped before its first person):
    /// it is marked as the demo's and the demo families are loaded.
    Loaded,
    /// The store is one that `--demo` created before: kept as it is.
    Kept,
}

/// Why [`prepare`] did not prepare the store.
#[derive(Debug)]
pub enum DemoError {
    /// The store has persons and no demo mark: a real store. `--demo` refuses it, because the
    /// one-click sign-in would give anyone an operator of real persons' money.
    RealStore,
    /// Reading, marking or loading failed.
    Failed(ApiError),
}

impl std::fmt::Display for DemoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DemoError::RealStore => write!(
                f,
                "拒绝以 --demo 启动：这个数据库有不是 --demo 创建的参保人（演示模式让任何人一键以操作员身份登录）。\
                 请用新的数据库文件试用，例如 --database demo.db；正式服务请去掉 --demo。\n\
                 refusing --demo: this store has persons that --demo did not create (the demo lets anyone sign in \
                 as an operator with one click); try the demo on a new file (e.g. --database demo.db), or serve this \
                 store without --demo"
            ),
            DemoError::Failed(err) => write!(f, "{}: {}", err.code, err.detail),
        }
    }
}

impl std::error::Error for DemoError {}

impl From<ApiError> for DemoError {
    fn from(err: ApiError) -> DemoError {
        DemoError::Failed(err)
    }
}

/// Prepares the store for `serve --demo` (issue 12 item 7): a store without persons is marked
/// as the demo's and gets the demo families; a store marked before is kept (a second
/// `serve --demo` works); any other store, one with persons but no mark, is refused.
pub fn prepare<S: Store>(engine: &Engine<S>) -> Result<Prepared, DemoError> {
    enum Found {
        Marked,
        MarkedNow,
        RealStore,
    }
    let found = engine
        .store()
        .write(|tx| -> Result<Found, StoreError> {
            if tx.demo_mark()?.is_some() {
                // A demo store into which real persons were imported since is a real store
                // now: the one-click operator would reach their money.
                return Ok(if only_demo_persons(tx)? { Found::Marked } else { Found::RealStore });
            }
            // `person_areas` is empty exactly when the store has no person at all.
            if !tx.person_areas()?.is_empty() {
                return Ok(Found::RealStore);
            }
            tx.set_demo_mark(Utc::now())?;
            Ok(Found::MarkedNow)
        })
        .map_err(ApiError::from)?;
    match found {
        Found::RealStore => Err(DemoError::RealStore),
        Found::MarkedNow => {
            load_families(engine)?;
            Ok(Prepared::Loaded)
        }
        Found::Marked => {
            // Marked, but nobody in the demo area: a first run that stopped between the mark
            // and its first person. The store has only what `--demo` put there; load them now.
            let area = AreaCode::parse(DEMO_AREA).map_err(ApiError::from)?;
            if engine.store().read(|tx| tx.persons_in_area(&area, "", 1)).map_err(ApiError::from)?.is_empty() {
                load_families(engine)?;
                return Ok(Prepared::Loaded);
            }
            Ok(Prepared::Kept)
        }
    }
}

/// Whether every person in the store is one of the demo's families.
fn only_demo_persons(tx: &mut dyn gongji_store::Tx) -> Result<bool, StoreError> {
    let demo: Vec<&str> = FAMILIES.iter().flat_map(|f| f.persons.iter().map(|p| p.psn_no)).collect();
    for area in tx.person_areas()? {
        let mut after = String::new();
        loop {
            let page = tx.psn_nos_in_area(&area, &after, 500)?;
            let Some(last) = page.last() else { break };
            if page.iter().any(|psn_no| !demo.contains(&psn_no.as_str())) {
                return Ok(false);
            }
            after = last.clone();
        }
    }
    Ok(true)
}

/// Whether this is a demo store: marked by `--demo`, and holding no person the demo did not
/// create (the web pages' one-click sign-in asks this on every use).
pub fn is_demo_store<S: Store>(store: &S) -> Result<bool, ApiError> {
    Ok(store.read(|tx| -> Result<bool, StoreError> { Ok(tx.demo_mark()?.is_some() && only_demo_persons(tx)?) })?)
}

/// When `serve --demo` created this store, if it did (the demo mark).
pub fn mark<S: Store>(store: &S) -> Result<Option<DateTime<Utc>>, ApiError> {
    Ok(store.read(|tx| tx.demo_mark())?)
}

/// Loads the demo families through the engine, on a store that [`prepare`] marked.
fn load_families<S: Store>(engine: &Engine<S>) -> Result<(), ApiError> {
    let area = AreaCode::parse(DEMO_AREA)?;
    let day = NaiveDate::parse_from_str(DEMO_SETUP_DATE, "%Y-%m-%d").expect("a valid date");
    let agency = Context::new(Actor::System("demo".into()), Channel::Batch, day);
    let as_person = |psn: &str| Context::new(Actor::Person(psn.to_string()), Channel::App, day);
    let mut sequence = 0u16;
    for family in FAMILIES {
        for p in family.persons {
            sequence += 1;
            let birth = NaiveDate::parse_from_str(p.birth, "%Y-%m-%d").expect("a valid date");
            let person = Person {
                psn_no: p.psn_no.into(),
                name: p.name.into(),
                id_number: IdNumber::compose(DEMO_AREA, birth, sequence)?,
                area: area.clone(),
                insurance: p.insurance,
                phone: None,
                status: PersonStatus::Normal,
            };
            engine.register_person(&agency, &person)?;
            if p.his > 0 {
                let credit = Credit {
                    psn_no: p.psn_no.into(),
                    account: PersonAccount::His,
                    amount: Money::yuan(p.his),
                    reference: format!("demo-opening-{}", p.psn_no),
                };
                engine.credit(&agency, &credit)?;
            }
        }
        for step in family.steps {
            match step {
                Step::Create(promoter) => {
                    engine.create_network(&as_person(promoter), promoter)?;
                }
                Step::Add(promoter, member, relation) => {
                    engine.add_member(&as_person(promoter), promoter, member, relation)?;
                }
                Step::Confirm(member) => engine.confirm_member(&as_person(member), member)?,
                Step::Reorder(promoter, order) => {
                    let order: Vec<String> = order.iter().map(|s| s.to_string()).collect();
                    engine.reorder(&as_person(promoter), promoter, &order)?;
                }
                Step::Move(psn_no, yuan) => {
                    engine.move_mutual_aid(&as_person(psn_no), psn_no, PersonAccount::His, PersonAccount::Mut, Money::yuan(*yuan))?;
                }
            }
        }
    }
    Ok(())
}

/// The demo families for the web sign-in list: each story with its persons (psn_no, name),
/// the promoter first.
pub fn families() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    FAMILIES.iter().map(|f| (f.story, f.persons.iter().map(|p| (p.psn_no, p.name)).collect())).collect()
}

/// The stories of the demo families, one line each.
pub fn stories() -> Vec<&'static str> {
    FAMILIES.iter().map(|f| f.story).collect()
}

/// Issues a token for each role to try with: (what it is, token).
pub fn issue_tokens<S: Store>(store: &S) -> Result<Vec<(String, String)>, ApiError> {
    let area = AreaCode::parse(DEMO_AREA)?;
    let specs = [
        ("admin", TokenSpec { role: Role::Admin, area: None, institution: None, person: None, name: "demo-admin".into() }),
        (
            "institution H0001 (settles, pre-settles, cancels its bills; the hospital dialect, FSI)",
            TokenSpec { role: Role::Institution, area: None, institution: Some(DEMO_INSTITUTION.into()), person: None, name: "demo-hospital".into() },
        ),
        (
            "operator of 330200 (counter business, batch queries)",
            TokenSpec { role: Role::Operator, area: Some(area), institution: None, person: None, name: "demo-operator".into() },
        ),
        ("insured A1 (promoter of A1, B1, C1)", TokenSpec { role: Role::Insured, area: None, institution: None, person: Some("A1".into()), name: "A1".into() }),
        ("insured B1 (member of A1's network)", TokenSpec { role: Role::Insured, area: None, institution: None, person: Some("B1".into()), name: "B1".into() }),
    ];
    let mut tokens = Vec::new();
    for (what, spec) in specs {
        let (_, token) = auth::issue(store, &spec)?;
        tokens.push((what.to_string(), token));
    }
    Ok(tokens)
}
