//! The family steps of the scenario runner (§7, §8, §15): `relative_transfer` (the code is read
//! from the outbox), `bind`, `unbind`, `set_quota`, `end_quota`, `pay_premium` and `relay`. Each
//! acts as the insured person through the app, at the step's local `time` (noon by default), and
//! delivers the messages between areas at once, as the agencies' relay would.

use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};
use gongji_core::{Actor, Channel, ErrorCode, Money};
use gongji_engine::interarea::{self, RelayHooks, RelaySummary};
use gongji_engine::quota::{QuotaGrant, LOCAL_UTC_OFFSET_SECS};
use gongji_engine::relatives::RelativeTransferRequest;
use gongji_engine::{Context, Engine, Error};
use gongji_store::Store;
use serde_json::json;

use super::steps::{PremiumSpec, QuotaSpec, RelativeTransferSpec};
use super::{input_error, Fields, StepResult};
use crate::wire::account_name;

/// One family step: the engine, its fields, its business date and local time.
pub(super) struct FamilyStep<'a, S: Store> {
    engine: &'a Engine<S>,
    fields: Fields<'a>,
    day: NaiveDate,
    time: NaiveTime,
}

impl<'a, S: Store> FamilyStep<'a, S> {
    /// Reads the step's `time` (`HH:MM`) first, as every family step does.
    pub fn new(engine: &'a Engine<S>, fields: Fields<'a>, day: NaiveDate, time: Option<&str>) -> Result<Self, Error> {
        let time = match time {
            Some(text) => NaiveTime::parse_from_str(text, "%H:%M").map_err(|_| input_error(format!("time is HH:MM, not {text:?}")))?,
            None => NaiveTime::from_hms_opt(12, 0, 0).expect("noon"),
        };
        Ok(FamilyStep { engine, fields, day, time })
    }

    pub fn relative_transfer(&self, spec: &RelativeTransferSpec) -> StepResult {
        let engine = self.engine;
        let from = self.fields.alias(&spec.from, "from")?;
        let to = self.fields.alias(&spec.to, "to")?;
        let beneficiary = engine.person(&to)?;
        let request = RelativeTransferRequest {
            authoriser: from.clone(),
            relation: self.fields.need(&spec.relation, "relation")?,
            beneficiary_name: spec.name.clone().unwrap_or(beneficiary.name),
            beneficiary_id_number: spec.id_number.clone().unwrap_or_else(|| beneficiary.id_number.as_str().to_string()),
            amount: Money::parse_positive(&self.fields.need(&spec.amount, "amount")?)?,
            commitment_accepted: true,
        };
        let ctx = self.acting(&from);
        let ticket = engine.request_relative_transfer(&ctx, &request)?;
        let sent = engine
            .notification(ticket.notification_id)?
            .and_then(|row| row.notification.secret)
            .ok_or_else(|| input_error("the one-time code is not in the outbox".into()))?;
        let code = match spec.code.as_deref() {
            // A code other than the one sent, whatever that was.
            Some("wrong") => format!("{:06}", (sent.parse::<u32>().unwrap_or(0) + 1) % 1_000_000),
            Some(code) => code.to_string(),
            None => sent,
        };
        let done = engine.confirm_relative_transfer(&ctx, &from, ticket.request_id, &code)?;
        Ok(json!({"request_id": done.request_id, "entry_id": done.entry_id, "beneficiary": done.beneficiary, "amount": done.amount.to_string()}))
    }

    pub fn bind(&self, person: &Option<String>, relative: &Option<String>, relation: &Option<String>) -> StepResult {
        let person = self.fields.alias(person, "person")?;
        let relative = self.fields.alias(relative, "relative")?;
        let id = self.engine.bind(&self.acting(&person), &person, &relative, &self.fields.need(relation, "relation")?)?;
        Ok(json!({"binding_id": id}))
    }

    pub fn unbind(&self, person: &Option<String>, relative: &Option<String>) -> StepResult {
        let person = self.fields.alias(person, "person")?;
        let relative = self.fields.alias(relative, "relative")?;
        self.engine.unbind(&self.acting(&person), &person, &relative)?;
        Ok(json!({}))
    }

    pub fn set_quota(&self, spec: &QuotaSpec) -> StepResult {
        let engine = self.engine;
        let donor = self.fields.alias(&spec.person, "person")?;
        let relative = engine.person(&self.fields.alias(&spec.relative, "relative")?)?;
        let grant = QuotaGrant {
            donor: donor.clone(),
            relative_name: spec.name.clone().unwrap_or(relative.name),
            relative_id_number: spec.id_number.clone().unwrap_or_else(|| relative.id_number.as_str().to_string()),
            relative_area: relative.area,
            relation: self.fields.need(&spec.relation, "relation")?,
            amount: Money::parse_positive(&self.fields.need(&spec.amount, "amount")?)?,
        };
        let ctx = self.acting(&donor);
        let granted = engine.grant_quota(&ctx, &grant)?;
        let relayed = self.relay_all()?;
        // Quota ids are random (unique across areas): results leave them out, so that a run
        // reads the same on every backend.
        Ok(json!({"top_up": granted.top_up, "cross_area": granted.cross_area, "amount": grant.amount.to_string(), "refused": relayed.refused}))
    }

    pub fn end_quota(&self, person: &Option<String>, relative: &Option<String>) -> StepResult {
        let engine = self.engine;
        let person = self.fields.alias(person, "person")?;
        let other = self.fields.alias(relative, "relative")?;
        let quota = engine
            .quotas(&person)?
            .into_iter()
            .find(|q| {
                q.state == gongji_core::states::QuotaState::Active
                    && ((q.donor == person && q.relative.as_deref() == Some(other.as_str()))
                        || (q.donor == other && q.relative.as_deref() == Some(person.as_str())))
            })
            .ok_or_else(|| Error::domain(ErrorCode::QuotaNotFound, "X2", format!("no quota in force between {person} and {other}")))?;
        let ctx = self.acting(&person);
        engine.end_quota(&ctx, &person, &quota.uid)?;
        self.relay_all()?;
        // What came back to the donor, once every message is delivered.
        let returned = engine
            .quotas(&quota.donor)?
            .into_iter()
            .find(|q| q.uid == quota.uid && q.side != gongji_core::states::QuotaSide::Relative)
            .map(|q| q.returned)
            .unwrap_or_default();
        Ok(json!({"relation": quota.relation, "amount": returned.to_string()}))
    }

    pub fn pay_premium(&self, spec: &PremiumSpec) -> StepResult {
        let insured = self.fields.alias(&spec.person, "person")?;
        let payer = match &spec.payer {
            Some(_) => Some(self.fields.alias(&spec.payer, "payer")?),
            None => None,
        };
        let relation = match &payer {
            Some(_) => Some(self.fields.need(&spec.relation, "relation")?),
            None => None,
        };
        let amount = Money::parse_positive(&self.fields.need(&spec.amount, "amount")?)?;
        let ctx = self.acting(payer.as_deref().unwrap_or(&insured));
        let year = spec.year.unwrap_or(chrono::Datelike::year(&self.day));
        let paid = self.engine.pay_premium(&ctx, &insured, payer.as_deref().zip(relation.as_deref()), amount, year)?;
        Ok(json!({"amount": paid.amount.to_string(), "from": account_name(&paid.from)}))
    }

    pub fn relay(&self) -> StepResult {
        let summary = self.relay_all()?;
        Ok(json!({"delivered": summary.delivered, "refused": summary.refused}))
    }

    /// The person through the app, at the step's local time.
    fn acting(&self, psn: &str) -> Context {
        let mut ctx = Context::new(Actor::Person(psn.to_string()), Channel::App, self.day);
        let local = self.day.and_time(self.time) - chrono::Duration::seconds(LOCAL_UTC_OFFSET_SECS as i64);
        ctx.now = Utc.from_utc_datetime(&local);
        ctx
    }

    /// Messages between areas are delivered at once: the agencies' relay, run by the agency.
    fn relay_all(&self) -> Result<RelaySummary, Error> {
        let mut ctx = Context::batch("relay", self.day);
        ctx.now = self.acting("relay").now;
        interarea::relay(self.engine, self.engine, &ctx, &RelayHooks::default())
    }
}
