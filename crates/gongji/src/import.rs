//! CSV imports (P5): persons, and credits (contributions into CUR, opening balances into HIS).
//! Every row is parsed first; one bad row refuses the whole file with every bad line listed.

use std::path::Path;

use gongji_core::{AreaCode, DomainError, ErrorCode, IdNumber, InsuranceType, Money, Person, PersonAccount, PersonStatus};
use gongji_engine::persons::{Credit, ImportError, ImportRefused, ImportSummary};
use gongji_engine::{Context, Engine};
use gongji_store::Store;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;

/// `psn_no,name,id_number,area,insurance,phone,status`; phone and status may be empty.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonRow {
    psn_no: String,
    name: String,
    id_number: String,
    area: String,
    insurance: String,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

/// `psn_no,account,amount,reference`: account is `cur` or `his`; reference is the voucher number.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreditRow {
    psn_no: String,
    account: String,
    amount: String,
    reference: String,
}

#[derive(Debug)]
pub enum ImportFailure {
    /// The file could not be read at all.
    File(String),
    /// Bad rows, each with its line number; nothing was written.
    Rows(ImportRefused),
    Store(String),
}

impl std::fmt::Display for ImportFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImportFailure::File(message) | ImportFailure::Store(message) => f.write_str(message),
            ImportFailure::Rows(refused) => {
                writeln!(f, "{} bad row(s); nothing was imported:", refused.errors.len())?;
                for (line, err) in &refused.errors {
                    writeln!(f, "  line {line}: {} ({}) {}", err.code, err.rule, err.message)?;
                }
                Ok(())
            }
        }
    }
}

fn bad(code: ErrorCode, rule: &'static str, message: String) -> DomainError {
    DomainError::new(code, rule, message)
}

/// Each data row with its line number, parsed or refused.
type Rows<T> = Vec<(u64, Result<T, DomainError>)>;

fn read_rows<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Rows<T>, ImportFailure> {
    let file_error = |e: csv::Error| ImportFailure::File(format!("{}: {e}", path.display()));
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_path(path).map_err(file_error)?;
    let headers = reader.headers().map_err(file_error)?.clone();
    let mut rows = Vec::new();
    for record in reader.records() {
        match record {
            Ok(record) => {
                let line = record.position().map(|p| p.line()).unwrap_or(0);
                let row = record.deserialize::<T>(Some(&headers)).map_err(|err| bad(ErrorCode::InputInvalid, "P5", format!("unreadable row: {err}")));
                rows.push((line, row));
            }
            Err(err) => {
                let line = err.position().map(|p| p.line()).unwrap_or(0);
                rows.push((line, Err(bad(ErrorCode::InputInvalid, "P5", format!("unreadable row: {err}")))));
            }
        }
    }
    Ok(rows)
}

fn empty_to_none(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

fn person_of(row: PersonRow) -> Result<Person, DomainError> {
    let insurance =
        InsuranceType::parse(&row.insurance).ok_or_else(|| bad(ErrorCode::InputInvalid, "P1", format!("unknown insurance type {:?}", row.insurance)))?;
    let status = match empty_to_none(row.status) {
        Some(text) => PersonStatus::parse(&text).ok_or_else(|| bad(ErrorCode::InputInvalid, "P1", format!("unknown status {text:?}")))?,
        None => PersonStatus::Normal,
    };
    Ok(Person {
        psn_no: row.psn_no,
        name: row.name,
        id_number: IdNumber::parse(&row.id_number)?,
        area: AreaCode::parse(&row.area)?,
        insurance,
        phone: empty_to_none(row.phone),
        status,
    })
}

fn credit_of(row: CreditRow) -> Result<Credit, DomainError> {
    let account = match row.account.as_str() {
        "cur" => PersonAccount::Cur,
        "his" => PersonAccount::His,
        other => return Err(bad(ErrorCode::InputInvalid, "P5", format!("account must be cur or his, not {other:?}"))),
    };
    Ok(Credit { psn_no: row.psn_no, account, amount: Money::parse_positive(&row.amount)?, reference: row.reference })
}

fn progress_bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})").expect("valid template").progress_chars("=> "));
    bar.set_message(what.to_string());
    bar
}

fn run<T, U>(
    rows: Vec<(u64, Result<T, DomainError>)>,
    convert: impl Fn(T) -> Result<U, DomainError>,
    what: &str,
    apply: impl FnOnce(&[(u64, U)], &dyn Fn(u64)) -> Result<ImportSummary, ImportError>,
) -> Result<ImportSummary, ImportFailure> {
    let mut good = Vec::with_capacity(rows.len());
    let mut errors = Vec::new();
    for (line, row) in rows {
        match row.and_then(&convert) {
            Ok(value) => good.push((line, value)),
            Err(err) => errors.push((line, err)),
        }
    }
    if !errors.is_empty() {
        return Err(ImportFailure::Rows(ImportRefused { errors }));
    }
    let bar = progress_bar(good.len() as u64, what);
    let outcome = apply(&good, &|done| bar.set_position(done));
    bar.finish_and_clear();
    outcome.map_err(|err| match err {
        ImportError::Refused(refused) => ImportFailure::Rows(refused),
        ImportError::Store(err) => ImportFailure::Store(err.to_string()),
    })
}

pub fn import_persons<S: Store>(engine: &Engine<S>, ctx: &Context, path: &Path) -> Result<ImportSummary, ImportFailure> {
    let rows = read_rows::<PersonRow>(path)?;
    run(rows, person_of, "persons", |good, progress| engine.import_persons(ctx, good, progress))
}

pub fn import_credits<S: Store>(engine: &Engine<S>, ctx: &Context, path: &Path) -> Result<ImportSummary, ImportFailure> {
    let rows = read_rows::<CreditRow>(path)?;
    run(rows, credit_of, "credits", |good, progress| engine.import_credits(ctx, good, progress))
}
