//! What both backends share to write values and read them back: stored text into domain types
//! (areas, account keys, entry kinds, statuses, dates), each failure a [`StoreError::Corrupt`]
//! naming what it could not read.

use chrono::{DateTime, NaiveDate, Utc};
use gongji_core::interest::BalanceProduct;
use gongji_core::ledger::{EntryKind, Provenance};
use gongji_core::network::MemberState;
use gongji_core::{AccountRef, AreaCode, PersonAccount, PersonStatus, VisitType};

use crate::{StoreError, StoreResult};

/// Stored data that does not read back: `what` and the value as stored.
pub(crate) fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what}: {value:?}"))
}

pub(crate) fn parse_area(text: &str) -> StoreResult<AreaCode> {
    AreaCode::parse(text).map_err(|_| corrupt("area", text))
}

pub(crate) fn parse_account(key: &str) -> StoreResult<AccountRef> {
    AccountRef::parse_key(key).ok_or_else(|| corrupt("account key", key))
}

pub(crate) fn parse_entry_kind(text: &str) -> StoreResult<EntryKind> {
    EntryKind::parse(text).ok_or_else(|| corrupt("entry kind", text))
}

pub(crate) fn parse_status(text: &str) -> StoreResult<PersonStatus> {
    PersonStatus::parse(text).ok_or_else(|| corrupt("status", text))
}

pub(crate) fn parse_visit(text: &str) -> StoreResult<VisitType> {
    VisitType::parse(text).ok_or_else(|| corrupt("visit", text))
}

pub(crate) fn parse_member_state(text: &str) -> StoreResult<MemberState> {
    MemberState::parse(text).ok_or_else(|| corrupt("member state", text))
}

/// The kind of a person's account (`cur`, `his`, `mut`).
pub(crate) fn parse_person_account(text: &str) -> StoreResult<PersonAccount> {
    PersonAccount::parse(text).ok_or_else(|| corrupt("account kind", text))
}

/// A business date as SQLite stores it (ISO 8601, `YYYY-MM-DD`).
pub(crate) fn date_text(day: NaiveDate) -> String {
    // NaiveDate's Display is ISO 8601 (YYYY-MM-DD) without parsing a format string each time.
    day.to_string()
}

pub(crate) fn parse_date(text: &str) -> StoreResult<NaiveDate> {
    text.parse::<NaiveDate>().map_err(|_| corrupt("date", text))
}

/// An instant as SQLite stores it (RFC 3339).
pub(crate) fn parse_instant(text: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc)).map_err(|_| corrupt("instant", text))
}

/// Who acted, as recorded (P6).
pub(crate) fn actor_text(provenance: &Provenance) -> String {
    provenance.actor.to_string()
}

/// A daily-balance product as stored (BIGINT fen-days).
pub(crate) fn fen_days_i64(product: &BalanceProduct) -> StoreResult<i64> {
    i64::try_from(product.fen_days).map_err(|_| StoreError::Backend("balance product overflow".into()))
}
