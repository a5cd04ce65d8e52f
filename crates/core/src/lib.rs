//! The pure domain core of gongji: money, identity numbers, persons, accounts, the ledger,
//! policy, and the rules of networks and settlement.
//!
//! Invariants: no I/O, no async, no SQL, no HTTP, no serde on these types; every refusal is a
//! [`DomainError`] naming its SPEC rule. Everything else depends on this crate, never the reverse.

pub mod account;
pub mod error;
pub mod id_number;
pub mod interest;
pub mod ledger;
pub mod money;
pub mod network;
pub mod person;
pub mod policy;
pub mod settlement;
pub mod states;
pub(crate) mod string_enum;
pub mod text;

#[cfg(test)]
pub(crate) mod testing;

pub use account::{AccountRef, PersonAccount, SystemAccount};
pub use error::{DomainError, DomainResult, ErrorCode};
pub use id_number::IdNumber;
pub use ledger::{EntryKind, JournalEntry, Posting, Provenance};
pub use money::{Money, Ratio};
pub use person::{Actor, AreaCode, Channel, InsuranceType, Person, PersonStatus};
pub use policy::{Policy, PolicyBook, VisitType};
