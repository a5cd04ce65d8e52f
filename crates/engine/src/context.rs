//! Who acts, through which channel, on which business date (P6), and what they may do (§12, N9, N11).

use chrono::{DateTime, NaiveDate, Utc};
use gongji_core::ledger::Provenance;
use gongji_core::{Actor, AreaCode, Channel, ErrorCode};

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub actor: Actor,
    pub channel: Channel,
    pub business_date: NaiveDate,
    pub now: DateTime<Utc>,
}

impl Context {
    pub fn new(actor: Actor, channel: Channel, business_date: NaiveDate) -> Context {
        Context { actor, channel, business_date, now: Utc::now() }
    }

    /// A batch job acting on `business_date`.
    pub fn batch(job: &str, business_date: NaiveDate) -> Context {
        Context::new(Actor::System(job.to_string()), Channel::Batch, business_date)
    }

    pub fn provenance(&self) -> Provenance {
        Provenance { actor: self.actor.clone(), channel: self.channel, business_date: self.business_date, recorded_at: self.now }
    }

    /// May this caller act for person `psn_no`, insured in `area`? An insured person acts only
    /// for themselves (N9); an operator only at the counter of their own area with the person
    /// present (N9, N11); the system and admins act for anyone. The promoter-only rules
    /// (N7, N8) are checked by the network operations on top of this.
    pub fn authorize_for(&self, psn_no: &str, area: &AreaCode) -> Result<()> {
        self.authorize_before_load(psn_no)?;
        match &self.actor {
            Actor::Operator { area: operator_area, .. } if operator_area != area => Err(outside_area(operator_area)),
            _ => Ok(()),
        }
    }

    /// Everything of [`Context::authorize_for`] that needs no record (issue 12, item 8): run
    /// before the person is loaded, so that a caller who may not act for `psn_no` hears the
    /// same whether that person exists or not.
    pub fn authorize_before_load(&self, psn_no: &str) -> Result<()> {
        match &self.actor {
            Actor::Person(me) if me == psn_no => Ok(()),
            Actor::Person(_) => Err(Error::domain(ErrorCode::NetworkNotAllowed, "N9", "a person may act only for themselves")),
            Actor::Operator { .. } if self.channel != Channel::Counter => {
                Err(Error::domain(ErrorCode::AuthForbidden, "N11", "operators do family business at the counter only"))
            }
            Actor::Operator { .. } | Actor::System(_) | Actor::Admin(_) => Ok(()),
            Actor::Institution(_) => Err(Error::domain(ErrorCode::AuthForbidden, "§12", "institutions only settle bills")),
        }
    }

    /// The answer for a psn_no that names nobody. An operator cannot tell an unknown psn_no from
    /// a person of another area, and must not learn which it is (§12: a role never acts outside
    /// its scope), so it hears what it hears for a person of another area; everyone else, who
    /// may act for any person of any area, hears `person.not_found`.
    pub fn unknown_person(&self, psn_no: &str) -> Error {
        match &self.actor {
            Actor::Operator { area, .. } => outside_area(area),
            _ => crate::error::not_found(psn_no),
        }
    }
}

/// N11: the same words for a person of another area and for an unknown psn_no, telling neither
/// the person's area nor whether they exist.
fn outside_area(operator_area: &AreaCode) -> Error {
    Error::domain(
        ErrorCode::NetworkNotAllowed,
        "N11",
        format!("an operator of {operator_area} does counter business for persons insured in {operator_area} only"),
    )
}
