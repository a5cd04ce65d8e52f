//! The scenario runner (SPEC §13): a scripted story run against a fresh in-memory store with the
//! real engine and policy files. Agencies use it to rehearse policy changes; the seed examples
//! are tested with it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use gongji_core::settlement::{Bill, BillContent, BillItem, BillSplit, ItemClass};
use gongji_core::{AccountRef, Actor, AreaCode, Channel, IdNumber, InsuranceType, Money, Person, PersonAccount, PersonStatus, VisitType};
use gongji_engine::jobs::{JobHooks, LiquidationReason};
use gongji_engine::persons::Credit;
use gongji_engine::policy_file::{load_policy, preset_book};
use gongji_engine::{Context, Engine, Error};
use gongji_store::postgres::ScratchDatabase;
use gongji_store::sqlite::SqliteStore;
use gongji_store::{Store, StoreResult};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::wire;

/// The institution code used when a step gives none.
pub const DEFAULT_INSTITUTION: &str = "H0001";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    policy: String,
    date: String,
    #[serde(default)]
    persons: BTreeMap<String, PersonSpec>,
    #[serde(default)]
    steps: Vec<StepSpec>,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepSpec {
    #[serde(rename = "do")]
    action: String,
    date: Option<String>,
    expect: Option<ExpectSpec>,
    expect_error: Option<String>,
    promoter: Option<String>,
    member: Option<String>,
    relation: Option<String>,
    order: Option<Vec<String>>,
    person: Option<String>,
    from: Option<String>,
    to: Option<String>,
    amount: Option<String>,
    patient: Option<String>,
    bill: Option<String>,
    institution: Option<String>,
    visit: Option<String>,
    items: Option<Vec<ItemSpec>>,
    split: Option<SplitSpec>,
    status: Option<String>,
    name: Option<String>,
    reason: Option<String>,
    balances: Option<BTreeMap<String, BTreeMap<String, String>>>,
    // Family steps (§7, §8, §15): the other party, a code or time or year of the step.
    relative: Option<String>,
    id_number: Option<String>,
    code: Option<String>,
    time: Option<String>,
    year: Option<i32>,
    payer: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectSpec {
    payments: Option<BTreeMap<String, String>>,
    cash: Option<String>,
    fund_pay: Option<String>,
    /// For `liquidate`: interest to date and the principal paid out (B4).
    interest: Option<String>,
    principal: Option<String>,
    /// For `job`: the total moved or credited.
    amount: Option<String>,
    /// For `add_member`: `active` or `pending` (N10).
    state: Option<String>,
    /// For `cancel`: `"ALIAS"` → amount held for the nightly sync (ST8).
    held: Option<BTreeMap<String, String>>,
    /// For `explain`-like checks on settle: codes that must appear among the steps (ST7).
    step_codes: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemSpec {
    code: String,
    name: Option<String>,
    amount: String,
    class: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SplitSpec {
    fund_pay: Option<String>,
    self_borne: Option<String>,
    first_self_pay: Option<String>,
    self_funded: Option<String>,
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
        for (index, step) in file.steps.iter().enumerate() {
            let number = index + 1;
            if let Some(day) = &step.date {
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
            let failure = match (&outcome, &step.expect_error) {
                (Err(err), Some(code)) if err.code().map(|c| c.as_str()) == Some(code.as_str()) => None,
                (Err(err), Some(code)) => Some(format!("expected error {code}, got {}", describe_error(err))),
                (Ok(_), Some(code)) => Some(format!("expected error {code}, but the step succeeded")),
                (Err(err), None) => Some(format!("failed: {}", describe_error(err))),
                (Ok(result), None) => self.check_expect(step, result).err(),
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

    fn step(&self, step: &StepSpec, day: NaiveDate, today: &mut NaiveDate) -> StepResult {
        let engine = self.engine();
        let as_person = |psn: &str| Context::new(Actor::Person(psn.to_string()), Channel::App, day);
        let field = |value: &Option<String>, name: &str| -> Result<String, Error> {
            value.clone().ok_or_else(|| input_error(format!("step `{}` needs `{name}`", step.action)))
        };
        let alias = |value: &Option<String>, name: &str| -> Result<String, Error> {
            let alias = field(value, name)?;
            if self.aliases.contains(&alias) {
                Ok(alias)
            } else {
                Err(input_error(format!("unknown person alias {alias:?}")))
            }
        };
        match step.action.as_str() {
            "create_network" => {
                let promoter = alias(&step.promoter, "promoter")?;
                let id = engine.create_network(&as_person(&promoter), &promoter)?;
                Ok(json!({"network_id": id}))
            }
            "add_member" => {
                let promoter = alias(&step.promoter, "promoter")?;
                let member = alias(&step.member, "member")?;
                let relation = field(&step.relation, "relation")?;
                let added = engine.add_member(&as_person(&promoter), &promoter, &member, &relation)?;
                Ok(json!({"state": match added { gongji_engine::networks::Added::Active => "active", _ => "pending" }}))
            }
            "confirm_member" => {
                let member = alias(&step.member, "member")?;
                engine.confirm_member(&as_person(&member), &member)?;
                Ok(json!({}))
            }
            "remove_member" => {
                let promoter = alias(&step.promoter, "promoter")?;
                let member = alias(&step.member, "member")?;
                engine.remove_member(&as_person(&promoter), &promoter, &member)?;
                Ok(json!({}))
            }
            "leave" => {
                let member = alias(&step.member, "member")?;
                engine.leave(&as_person(&member), &member)?;
                Ok(json!({}))
            }
            "reorder" => {
                let promoter = alias(&step.promoter, "promoter")?;
                let order = step.order.clone().ok_or_else(|| input_error("step `reorder` needs `order`".into()))?;
                for member in &order {
                    alias(&Some(member.clone()), "order")?;
                }
                engine.reorder(&as_person(&promoter), &promoter, &order)?;
                Ok(json!({}))
            }
            "dissolve" => {
                let promoter = alias(&step.promoter, "promoter")?;
                engine.dissolve(&as_person(&promoter), &promoter)?;
                Ok(json!({}))
            }
            "move" => {
                let person = alias(&step.person, "person")?;
                let from = wire::person_account(&field(&step.from, "from")?)?;
                let to = wire::person_account(&field(&step.to, "to")?)?;
                let amount = Money::parse_positive(&field(&step.amount, "amount")?)?;
                let entry = engine.move_mutual_aid(&as_person(&person), &person, from, to, amount)?;
                Ok(json!({"entry_id": entry}))
            }
            "set_preset" => {
                let person = alias(&step.person, "person")?;
                let amount = match step.amount.as_deref() {
                    None | Some("") => None,
                    Some(text) => Some(Money::parse_positive(text)?),
                };
                engine.set_preset(&as_person(&person), &person, amount)?;
                Ok(json!({}))
            }
            "set_status" => {
                let person = alias(&step.person, "person")?;
                let status = field(&step.status, "status")?;
                let status = PersonStatus::parse(&status).ok_or_else(|| input_error(format!("unknown status {status:?}")))?;
                let area = engine.person(&person)?.area;
                let ctx = Context::new(Actor::Operator { id: "scenario".into(), area }, Channel::Counter, day);
                engine.set_status(&ctx, &person, status, step.reason.as_deref().unwrap_or("scenario"))?;
                Ok(json!({}))
            }
            "settle" | "presettle" => {
                let bill = self.bill(step, day)?;
                let ctx = Context::new(Actor::Institution(bill.institution.clone()), Channel::Api, day);
                let outcome = if step.action == "settle" { engine.settle(&ctx, &bill)? } else { engine.presettle(&ctx, &bill)? };
                Ok(wire::settlement_json(&outcome, &|a| alias_key(a)))
            }
            "cancel" => {
                let bill = field(&step.bill, "bill")?;
                let institution = step.institution.clone().unwrap_or_else(|| DEFAULT_INSTITUTION.to_string());
                let ctx = Context::new(Actor::Institution(institution.clone()), Channel::Api, day);
                let outcome = engine.cancel(&ctx, &institution, &bill)?;
                Ok(wire::cancel_json(&outcome, &|a| alias_key(a)))
            }
            "job" => {
                let name = field(&step.name, "name")?;
                match name.as_str() {
                    "refund_sync" => {
                        let summary = engine.run_refund_sync(day, day, &|_, _| {})?;
                        Ok(wire::job_json(&summary))
                    }
                    "year_end" => Ok(wire::job_json(&engine.run_year_end(day.year(), day, &JobHooks::default())?)),
                    "preset" => Ok(wire::job_json(&engine.run_presets(day, day, &JobHooks::default())?)),
                    other => Err(input_error(format!("unknown job {other:?}: year_end, preset or refund_sync"))),
                }
            }
            "advance" => {
                let date = field(&step.date, "date")?;
                *today = parse_date(&date, "advance date").map_err(input_error)?;
                Ok(json!({"date": date}))
            }
            "check" => {
                let balances = step.balances.as_ref().ok_or_else(|| input_error("step `check` needs `balances`".into()))?;
                let mut diffs = Vec::new();
                for (who, accounts) in balances {
                    alias(&Some(who.clone()), "balances")?;
                    for (account, expected) in accounts {
                        let kind = wire::person_account(account)?;
                        let expected = Money::parse(expected)?;
                        let actual = engine.balance(&AccountRef::person(who, kind))?;
                        if actual != expected {
                            diffs.push(format!("{who}.{account}: expected {expected}, actual {actual}"));
                        }
                    }
                }
                if diffs.is_empty() {
                    Ok(json!({}))
                } else {
                    Err(Error::domain(gongji_core::ErrorCode::InputInvalid, "§13", format!("balances differ: {}", diffs.join("; "))))
                }
            }
            "liquidate" => {
                let person = alias(&step.person, "person")?;
                let reason = field(&step.reason, "reason")?;
                let reason = LiquidationReason::parse(&reason).ok_or_else(|| input_error(format!("reason is death or transfer_out, not {reason:?}")))?;
                let area = engine.person(&person)?.area;
                let payee = step.name.clone().unwrap_or_else(|| if reason == LiquidationReason::TransferOut { "000000".into() } else { "heirs".into() });
                let ctx = Context::new(Actor::Operator { id: "scenario".into(), area }, Channel::Counter, day);
                let record = engine.liquidate(&ctx, &person, reason, &payee)?;
                Ok(json!({"principal": record.principal.to_string(), "interest": record.interest.to_string(), "payee": record.payee}))
            }
            "relative_transfer" | "bind" | "unbind" | "set_quota" | "end_quota" | "pay_premium" | "relay" => {
                let family = crate::family_cli::FamilyStep {
                    action: &step.action,
                    person: step.person.as_deref(),
                    from: step.from.as_deref(),
                    to: step.to.as_deref(),
                    relative: step.relative.as_deref(),
                    relation: step.relation.as_deref(),
                    amount: step.amount.as_deref(),
                    name: step.name.as_deref(),
                    id_number: step.id_number.as_deref(),
                    code: step.code.as_deref(),
                    time: step.time.as_deref(),
                    year: step.year,
                    payer: step.payer.as_deref(),
                };
                crate::family_cli::scenario_step(engine, &family, day, &|alias| self.aliases.iter().any(|a| a == alias))
            }
            other => Err(input_error(format!("unknown step `{other}`"))),
        }
    }

    fn bill(&self, step: &StepSpec, day: NaiveDate) -> Result<Bill, Error> {
        let need = |value: &Option<String>, name: &str| value.clone().ok_or_else(|| input_error(format!("step `{}` needs `{name}`", step.action)));
        let patient = need(&step.patient, "patient")?;
        if !self.aliases.contains(&patient) {
            return Err(input_error(format!("unknown person alias {patient:?}")));
        }
        let visit_text = need(&step.visit, "visit")?;
        let visit = VisitType::parse(&visit_text).ok_or_else(|| input_error(format!("unknown visit type {visit_text:?}")))?;
        let content = match (&step.items, &step.split) {
            (Some(items), None) => {
                let mut parsed = Vec::new();
                for item in items {
                    let class = ItemClass::parse(&item.class)
                        .ok_or_else(|| Error::domain(gongji_core::ErrorCode::SettlementInvalidBill, "ST1", format!("unknown item class {:?}", item.class)))?;
                    parsed.push(BillItem { code: item.code.clone(), name: item.name.clone().unwrap_or_default(), amount: Money::parse(&item.amount)?, class });
                }
                BillContent::Items(parsed)
            }
            (None, Some(split)) => {
                let part = |value: &Option<String>| value.as_deref().map(Money::parse).transpose().map(Option::unwrap_or_default);
                BillContent::Split(BillSplit {
                    fund_pay: part(&split.fund_pay)?,
                    self_borne: part(&split.self_borne)?,
                    first_self_pay: part(&split.first_self_pay)?,
                    self_funded: part(&split.self_funded)?,
                })
            }
            _ => return Err(input_error("a bill gives either `items` or `split`".into())),
        };
        Ok(Bill {
            institution: step.institution.clone().unwrap_or_else(|| DEFAULT_INSTITUTION.to_string()),
            bill_id: need(&step.bill, "bill")?,
            patient,
            visit,
            date: day,
            content,
        })
    }

    fn check_expect(&self, step: &StepSpec, result: &Value) -> Result<(), String> {
        let Some(expect) = &step.expect else { return Ok(()) };
        let mut diffs = String::new();
        let money_eq = |expected: &str, actual: &Value| -> Result<bool, String> {
            let expected = Money::parse(expected).map_err(|e| format!("expect: {e}"))?;
            Ok(actual.as_str().and_then(|a| Money::parse(a).ok()) == Some(expected))
        };
        if let Some(payments) = &expect.payments {
            let actual = result.get("payments").and_then(Value::as_object).cloned().unwrap_or_default();
            let mut expected_normalised = BTreeMap::new();
            for (key, amount) in payments {
                let amount = Money::parse(amount).map_err(|e| format!("expect.payments.{key}: {e}"))?;
                if !amount.is_zero() {
                    expected_normalised.insert(key.clone(), amount.to_string());
                }
            }
            let actual_map: BTreeMap<String, String> = actual.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect();
            if expected_normalised != actual_map {
                let _ = write!(diffs, "\n  payments: expected {expected_normalised:?}\n            actual   {actual_map:?}");
            }
        }
        let money_fields = [
            ("cash", &expect.cash),
            ("fund_pay", &expect.fund_pay),
            ("interest", &expect.interest),
            ("principal", &expect.principal),
            ("amount", &expect.amount),
        ];
        for (name, expected) in money_fields {
            if let Some(expected) = expected {
                let actual = result.get(name).cloned().unwrap_or(Value::Null);
                if !money_eq(expected, &actual)? {
                    let _ = write!(diffs, "\n  {name}: expected {expected}, actual {actual}");
                }
            }
        }
        if let Some(state) = &expect.state {
            let actual = result.get("state").and_then(Value::as_str).unwrap_or("");
            if actual != state {
                let _ = write!(diffs, "\n  state: expected {state}, actual {actual}");
            }
        }
        if let Some(held) = &expect.held {
            let actual: BTreeMap<String, String> = result
                .get("held")
                .and_then(Value::as_object)
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
                .unwrap_or_default();
            let expected: BTreeMap<String, String> = held
                .iter()
                .map(|(k, v)| Ok((k.clone(), Money::parse(v).map_err(|e| format!("expect.held: {e}"))?.to_string())))
                .collect::<Result<_, String>>()?;
            if actual != expected {
                let _ = write!(diffs, "\n  held: expected {expected:?}, actual {actual:?}");
            }
        }
        if let Some(codes) = &expect.step_codes {
            let actual: Vec<String> = result
                .get("steps")
                .and_then(Value::as_array)
                .map(|s| s.iter().filter_map(|x| x.get("code").and_then(Value::as_str).map(str::to_string)).collect())
                .unwrap_or_default();
            for code in codes {
                if !actual.contains(code) {
                    let _ = write!(diffs, "\n  step code {code} missing; steps had {actual:?}");
                }
            }
        }
        if diffs.is_empty() {
            Ok(())
        } else {
            Err(format!("expectation not met:{diffs}"))
        }
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

/// `ALIAS.account` for a person account (aliases are the psn_no in a scenario).
fn alias_key(account: &AccountRef) -> String {
    match account {
        AccountRef::Person { psn_no, kind } => format!("{psn_no}.{kind}"),
        AccountRef::System { .. } => account.key(),
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

fn input_error(message: String) -> Error {
    Error::domain(gongji_core::ErrorCode::InputInvalid, "§13", message)
}

fn describe_error(err: &Error) -> String {
    match err.code() {
        Some(code) => format!("{code} ({}) {err}", err.rule()),
        None => err.to_string(),
    }
}
