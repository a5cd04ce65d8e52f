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
        match &self.actor {
            Actor::Person(me) if me == psn_no => Ok(()),
            Actor::Person(_) => Err(Error::domain(ErrorCode::NetworkNotAllowed, "N9", "a person may act only for themselves")),
            Actor::Operator { area: operator_area, .. } => {
                if self.channel != Channel::Counter {
                    return Err(Error::domain(ErrorCode::AuthForbidden, "N11", "operators do family business at the counter only"));
                }
                if operator_area != area {
                    return Err(Error::domain(
                        ErrorCode::NetworkNotAllowed,
                        "N11",
                        format!("counter business for a person of {area} happens at {area}, not {operator_area}"),
                    ));
                }
                Ok(())
            }
            Actor::System(_) | Actor::Admin(_) => Ok(()),
            Actor::Institution(_) => Err(Error::domain(ErrorCode::AuthForbidden, "§12", "institutions only settle bills")),
        }
    }
}
