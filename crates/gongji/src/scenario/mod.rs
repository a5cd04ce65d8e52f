//! The scenario runner (SPEC §13): a scripted story run against a fresh in-memory store with the
//! real engine and policy files. Agencies use it to rehearse policy changes; the seed examples
//! are tested with it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use gongji_core::{AccountRef, Actor, AreaCode, Channel, IdNumber, InsuranceType, Money, Person, PersonAccount, PersonStatus};
use gongji_engine::persons::Credit;
use gongji_engine::policy_file::{load_policy, preset_book};
use gongji_engine::{Context, Engine, Error};
use gongji_store::postgres::ScratchDatabase;
use gongji_store::sqlite::SqliteStore;
use gongji_store::{Store, StoreResult};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::wire;

mod execute;
mod expect;
mod family;
mod steps;

/// The institution code used when a step gives none.
pub use crate::wire::DEFAULT_INSTITUTION;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    policy: String,
    date: String,
    #[serde(default)]
    persons: BTreeMap<String, PersonSpec>,
    /// Read by `steps::parse_steps`.
    #[serde(default)]
    steps: Vec<steps::RawStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonSpec {
    name: String,
    birth: Option<String>,
    id_number: Option<String>,
    insurance: String,
    area: Option<String>,
    phone: Option<String>,
    cur: Option<String>,
    his: Option<String>,
    status: Option<String>,
}

/// The result of a run: the JSON document of §13 and the first failed expectation, if any.
pub struct Report {
    pub document: Value,
    pub failure: Option<String>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// Runs one scenario file.
pub fn run_file(path: &Path) -> Report {
    match std::fs::read_to_string(path) {
        Ok(text) => run_text(&text, path.parent()),
        Err(err) => unreadable(path, err),
    }
}

/// Runs one scenario file on PostgreSQL: on a fresh database created on the server of
/// `admin_url` (e.g. `postgres://postgres@127.0.0.1:5432/postgres`) and dropped afterwards.
pub fn run_file_on_postgres(path: &Path, admin_url: &str) -> Report {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) => return unreadable(path, err),
    };
    match ScratchDatabase::create(admin_url, "gongji_scenario") {
        Ok(database) => run_text_on(&text, path.parent(), || database.store()),
        Err(err) => Report { document: json!({"steps": [], "balances": {}}), failure: Some(format!("store: {err}")) },
    }
}

fn unreadable(path: &Path, err: std::io::Error) -> Report {
    Report { document: json!({"steps": [], "balances": {}}), failure: Some(format!("cannot read {}: {err}", path.display())) }
}

/// Runs a scenario given as text; `base` resolves a relative policy path.
pub fn run_text(text: &str, base: Option<&Path>) -> Report {
    run_text_on(text, base, SqliteStore::in_memory)
}

/// Runs a scenario on the store `open` returns (fresh and empty).
pub fn run_text_on<S: Store>(text: &str, base: Option<&Path>, open: impl FnOnce() -> StoreResult<S>) -> Report {
    let mut runner = Runner { steps_json: Vec::new(), engine: None, aliases: Vec::new() };
    let failure = runner.run(text, base, open).err();
    let balances = runner.balances_json();
    Report { document: json!({"steps": runner.steps_json, "balances": balances}), failure }
}

/// The `*.toml` files of a folder, sorted.
pub fn files_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(dir)?.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "toml")).collect();
    files.sort();
    Ok(files)
}

struct Runner<S: Store> {
    steps_json: Vec<Value>,
    engine: Option<Engine<S>>,
    aliases: Vec<String>,
}

type StepResult = Result<Value, Error>;

impl<S: Store> Runner<S> {
    fn run(&mut self, text: &str, base: Option<&Path>, open: impl FnOnce() -> StoreResult<S>) -> Result<(), String> {
        let file: ScenarioFile = toml::from_str(text).map_err(|e| format!("scenario file: {}", e.to_string().trim_end()))?;
        let steps = steps::parse_steps(text, file.steps).map_err(|e| format!("scenario file: {e}"))?;
        let start = parse_date(&file.date, "date")?;
        let mut book = preset_book();
        let policy_ref = match base {
            Some(dir) if !gongji_engine::policy_file::preset_ids().contains(&file.policy.as_str()) => dir.join(&file.policy).display().to_string(),
            _ => file.policy.clone(),
        };
        let policy = load_policy(&policy_ref).map_err(|e| format!("policy: {e}"))?;
        let default_area = policy.area.clone();
        book.add(policy);
        let store = open().map_err(|e| format!("store: {e}"))?;
        let engine = Engine::new(store, book);
        let setup = Context::new(Actor::System("scenario".into()), Channel::Batch, start);
        for (index, (alias, spec)) in file.persons.iter().enumerate() {
            let person = person_of(alias, spec, index, default_area.as_ref())?;
            engine.register_person(&setup, &person).map_err(|e| format!("person {alias}: {e}"))?;
            for (account, amount) in [(PersonAccount::Cur, &spec.cur), (PersonAccount::His, &spec.his)] {
                let Some(amount) = amount else { continue };
                let amount = Money::parse_non_negative(amount).map_err(|e| format!("person {alias}: {e}"))?;
                if amount.is_zero() {
                    continue;
                }
                let credit = Credit { psn_no: alias.clone(), account, amount, reference: format!("scenario-opening-{alias}-{account}") };
                engine.credit(&setup, &credit).map_err(|e| format!("person {alias} opening {account}: {e}"))?;
            }
            self.aliases.push(alias.clone());
        }
        self.engine = Some(engine);
        let mut today = start;
        for (index, step) in steps.iter().enumerate() {
            let number = index + 1;
            if let Some(day) = &step.common.date {
                today = parse_date(day, &format!("step {number} date"))?;
            }
            let outcome = self.step(step, today, &mut today);
            let mut entry = json!({"index": number, "do": step.action});
            match &outcome {
                Ok(result) => {
                    entry["ok"] = json!(true);
                    entry["result"] = result.clone();
                }
                Err(err) => {
                    entry["ok"] = json!(false);
                    entry["error"] = wire::error_json(err);
                }
            }
            self.steps_json.push(entry);
            let failure = match (&outcome, &step.common.expect_error) {
                (Err(err), Some(code)) if err.code().map(|c| c.as_str()) == Some(code.as_str()) => None,
                (Err(err), Some(code)) => Some(format!("expected error {code}, got {}", describe_error(err))),
                (Ok(_), Some(code)) => Some(format!("expected error {code}, but the step succeeded")),
                (Err(err), None) => Some(format!("failed: {}", describe_error(err))),
                (Ok(result), None) => step.common.expect.as_ref().and_then(|expect| expect::check(expect, result).err()),
            };
            if let Some(failure) = failure {
                return Err(format!("step {number} ({}): {failure}", step.action));
            }
        }
        Ok(())
    }

    fn engine(&self) -> &Engine<S> {
        self.engine.as_ref().expect("engine is set before steps run")
    }

    fn balances_json(&self) -> Value {
        let Some(engine) = &self.engine else { return json!({}) };
        let mut balances = serde_json::Map::new();
        for alias in &self.aliases {
            let mut accounts = serde_json::Map::new();
            for kind in [PersonAccount::Cur, PersonAccount::His, PersonAccount::Mut] {
                let balance = engine.balance(&AccountRef::person(alias, kind)).map(|m| m.to_string()).unwrap_or_else(|e| format!("error: {e}"));
                accounts.insert(kind.as_str().to_string(), json!(balance));
            }
            balances.insert(alias.clone(), Value::Object(accounts));
        }
        Value::Object(balances)
    }
}

fn person_of(alias: &str, spec: &PersonSpec, index: usize, default_area: Option<&AreaCode>) -> Result<Person, String> {
    let area = match (&spec.area, default_area) {
        (Some(area), _) => AreaCode::parse(area).map_err(|e| format!("person {alias}: {e}"))?,
        (None, Some(area)) => area.clone(),
        (None, None) => return Err(format!("person {alias}: give `area`, the policy has none")),
    };
    let id_number = match (&spec.id_number, &spec.birth) {
        (Some(id), _) => IdNumber::parse(id).map_err(|e| format!("person {alias}: {e}"))?,
        (None, Some(birth)) => {
            let birth = parse_date(birth, &format!("person {alias} birth"))?;
            IdNumber::compose(area.as_str(), birth, (index % 1000) as u16).map_err(|e| format!("person {alias}: {e}"))?
        }
        (None, None) => return Err(format!("person {alias}: give `birth` or `id_number`")),
    };
    let insurance = InsuranceType::parse(&spec.insurance).ok_or_else(|| format!("person {alias}: unknown insurance {:?}", spec.insurance))?;
    let status = match &spec.status {
        Some(status) => PersonStatus::parse(status).ok_or_else(|| format!("person {alias}: unknown status {status:?}"))?,
        None => PersonStatus::Normal,
    };
    Ok(Person { psn_no: alias.to_string(), name: spec.name.clone(), id_number, area, insurance, phone: spec.phone.clone(), status })
}

fn parse_date(text: &str, what: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| format!("{what}: not a date YYYY-MM-DD: {text:?}"))
}

/// Reads the fields of one step. A missing field, or an alias that names no person of the file,
/// refuses the step (`input.invalid`, §13) when it runs, not the file.
#[derive(Clone, Copy)]
struct Fields<'a> {
    /// The step's `do`, for the messages.
    action: &'a str,
    aliases: &'a [String],
}

impl Fields<'_> {
    fn need<T: Clone>(&self, value: &Option<T>, name: &str) -> Result<T, Error> {
        value.clone().ok_or_else(|| input_error(format!("step `{}` needs `{name}`", self.action)))
    }

    /// `need`, and the value must be an alias of `[persons]`.
    fn alias(&self, value: &Option<String>, name: &str) -> Result<String, Error> {
        let alias = self.need(value, name)?;
        self.known(&alias)?;
        Ok(alias)
    }

    fn known(&self, alias: &str) -> Result<(), Error> {
        if self.aliases.iter().any(|a| a == alias) {
            Ok(())
        } else {
            Err(input_error(format!("unknown person alias {alias:?}")))
        }
    }
}

fn input_error(message: String) -> Error {
    Error::domain(gongji_core::ErrorCode::InputInvalid, "§13", message)
}

fn describe_error(err: &Error) -> String {
    match err.code() {
        Some(code) => format!("{code} ({}) {err}", err.rule()),
        None => err.to_string(),
    }
}
