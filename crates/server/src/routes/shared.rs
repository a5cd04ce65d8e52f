//! What several resources of the JSON API share, and nothing above it: parsing of the values
//! every module takes (dates, person accounts, visit types), the page limits, how accounts are
//! named in answers, and the §12 lookup of a person whose data is read. It depends on the core,
//! the engine, [`crate::auth`] and [`crate::problem`] only, never on a resource module.

use chrono::NaiveDate;
use gongji_core::{AccountRef, ErrorCode, Person, PersonAccount, VisitType};
use gongji_engine::Engine;
use gongji_store::Store;

use crate::auth::Caller;
use crate::problem::{ApiError, ApiResult};

/// Rows per page when the caller gives no `limit` (JSON).
pub const PAGE_LEN_DEFAULT: usize = 100;
/// Rows per page at most (JSON and CSV).
pub const PAGE_LEN_MAX: usize = 10_000;

pub fn parse_date(text: &str, what: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| ApiError::input(format!("{what} must be a date YYYY-MM-DD, not {text:?}")))
}

pub fn parse_account(text: &str) -> Result<PersonAccount, ApiError> {
    PersonAccount::parse(text).ok_or_else(|| ApiError::input(format!("account is cur, his or mut, not {text:?}")))
}

pub fn parse_visit(text: &str) -> Result<VisitType, ApiError> {
    VisitType::parse(text).ok_or_else(|| ApiError::input(format!("unknown visit type {text:?}")))
}

// ---- account names ----

/// The owner part of [`family_account_name`]: another family member, not named (§12).
pub const FAMILY: &str = "family";

/// A person's account as every answer names it: `PSN.account` (`A1.mut`).
pub fn account_name(psn_no: &str, kind: PersonAccount) -> String {
    format!("{psn_no}.{kind}")
}

/// Another family member's account as an institution sees it: `family.<kind>` (`family.mut`),
/// never their psn_no (§12).
pub fn family_account_name(kind: PersonAccount) -> String {
    account_name(FAMILY, kind)
}

/// The owner and the kind of an account name (`A1.mut` → `("A1", "mut")`, `family.mut` →
/// `("family", "mut")`); `None` for a name without an owner (a system account's key).
pub fn split_account_name(name: &str) -> Option<(&str, &str)> {
    name.split_once('.')
}

/// An account named for a caller who may see whose it is: `PSN.account` for a person's, the
/// ledger key for a system account.
pub fn public_account_name(account: &AccountRef) -> String {
    match account {
        AccountRef::Person { psn_no, kind } => account_name(psn_no, *kind),
        AccountRef::System { .. } => account.key(),
    }
}

// ---- reading a person (§12) ----

/// §12 (issue 12, item 8): the person `psn_no` for a caller who reads their data, checked in
/// this order: the caller's right that needs no record, the lookup, the right to the person's
/// area, and only then whether they exist, so that a caller without rights learns nothing.
pub fn readable_person<S: Store>(engine: &Engine<S>, caller: &Caller, psn_no: &str) -> ApiResult<Person> {
    caller.may_ask_about(psn_no)?;
    let person = found(engine.person(psn_no))?;
    caller.may_read_person(psn_no, person.as_ref().map(|p| &p.area))?;
    person.ok_or_else(|| person_not_found(psn_no))
}

/// A lookup of a person whose absence is held back (`None`) until the caller's right to know
/// is checked.
pub fn found<T>(lookup: gongji_engine::Result<T>) -> ApiResult<Option<T>> {
    match lookup {
        Ok(value) => Ok(Some(value)),
        Err(err) if err.code() == Some(ErrorCode::PersonNotFound) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// The engine's `person.not_found` for `psn_no`.
pub fn person_not_found(psn_no: &str) -> ApiError {
    gongji_engine::error::not_found(psn_no).into()
}
