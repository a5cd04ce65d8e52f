//! The business operations of gongji. Each public operation is one store transaction: it loads
//! what the rules need, asks the pure core to decide, and writes the outcome (entries, events)
//! or nothing at all.
//!
//! Invariants: no operation moves money except through a balanced [`JournalEntry`]; every change
//! records actor, channel and business date; a refusal leaves the store untouched; no SQL here.
//!
//! [`JournalEntry`]: gongji_core::JournalEntry

pub mod association;
pub mod bulk;
pub mod context;
pub mod error;
pub mod interarea;
pub mod jobs;
pub mod networks;
pub mod outbox;
pub mod persons;
pub mod policy_file;
pub mod queries;
pub mod quota;
pub mod relatives;
pub mod settlement;
pub mod transfers;

pub use context::Context;
pub use error::{Error, Result};

use chrono::NaiveDate;
use gongji_core::{AreaCode, ErrorCode, Person, Policy, PolicyBook};
use gongji_store::{Store, Tx};

/// The engine: a store and the policies it applies.
pub struct Engine<S: Store> {
    store: S,
    policies: PolicyBook,
}

impl<S: Store> Engine<S> {
    pub fn new(store: S, policies: PolicyBook) -> Engine<S> {
        Engine { store, policies }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn policies(&self) -> &PolicyBook {
        &self.policies
    }

    /// The person `ctx` may act for, checked as every operation checks it
    /// ([`load_person_for`]: the caller first, an unknown psn_no answered like a person out of
    /// the caller's reach; issue 12, item 8).
    pub fn person_for(&self, ctx: &Context, psn_no: &str) -> Result<Person> {
        self.store.read(|tx| load_person_for(tx, ctx, psn_no))
    }

    /// The policy in force for `area` on `day` (§4).
    pub fn policy(&self, area: &AreaCode, day: NaiveDate) -> Result<&Policy> {
        self.policies.in_force(area, day).ok_or_else(|| Error::domain(ErrorCode::PolicyNotFound, "§4", format!("no policy in force for area {area} on {day}")))
    }
}

/// Loads a person or refuses with `person.not_found`.
pub(crate) fn load_person(tx: &mut dyn Tx, psn_no: &str) -> Result<Person> {
    tx.person(psn_no)?.ok_or_else(|| error::not_found(psn_no))
}

/// Loads the person `ctx` acts for, the caller checked first (N9, N11, §12; issue 12, item 8):
/// what needs no record is refused before the load, and an unknown psn_no is answered as
/// [`Context::unknown_person`] says, so that a caller without rights learns nothing about
/// whether the person exists.
pub(crate) fn load_person_for(tx: &mut dyn Tx, ctx: &Context, psn_no: &str) -> Result<Person> {
    ctx.authorize_before_load(psn_no)?;
    let person = tx.person(psn_no)?.ok_or_else(|| ctx.unknown_person(psn_no))?;
    ctx.authorize_for(psn_no, &person.area)?;
    Ok(person)
}
