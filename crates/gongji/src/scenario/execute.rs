//! Running one scenario step: an exhaustive `match` on `Step`, each arm reading its fields (a
//! missing one refuses the step), calling the engine, and answering the step's JSON result.

use chrono::{Datelike, NaiveDate};
use gongji_core::settlement::{Bill, BillContent, BillItem, BillSplit, ItemClass};
use gongji_core::{AccountRef, Actor, Channel, ErrorCode, Money, PersonStatus, VisitType};
use gongji_engine::jobs::{JobHooks, LiquidationReason};
use gongji_engine::networks::Added;
use gongji_engine::{Context, Error};
use gongji_store::Store;
use serde_json::json;

use super::family::FamilyStep;
use super::steps::{BillSpec, Step, StepEntry};
use super::{input_error, parse_date, Fields, Runner, StepResult, DEFAULT_INSTITUTION};
use crate::wire::{self, account_name};

impl<S: Store> Runner<S> {
    /// Runs `entry` on business date `day`; `advance` moves `today`.
    pub(super) fn step(&self, entry: &StepEntry, day: NaiveDate, today: &mut NaiveDate) -> StepResult {
        let engine = self.engine();
        let fields = Fields { action: &entry.action, aliases: &self.aliases };
        let as_person = |psn: &str| Context::new(Actor::Person(psn.to_string()), Channel::App, day);
        let family = |time: &Option<String>| FamilyStep::new(engine, fields, day, time.as_deref());
        match &entry.step {
            Step::CreateNetwork { promoter } => {
                let promoter = fields.alias(promoter, "promoter")?;
                let id = engine.create_network(&as_person(&promoter), &promoter)?;
                Ok(json!({"network_id": id}))
            }
            Step::AddMember { promoter, member, relation } => {
                let promoter = fields.alias(promoter, "promoter")?;
                let member = fields.alias(member, "member")?;
                let relation = fields.need(relation, "relation")?;
                let added = engine.add_member(&as_person(&promoter), &promoter, &member, &relation)?;
                Ok(json!({"state": match added { Added::Active => "active", _ => "pending" }}))
            }
            Step::ConfirmMember { member } => {
                let member = fields.alias(member, "member")?;
                engine.confirm_member(&as_person(&member), &member)?;
                Ok(json!({}))
            }
            Step::RemoveMember { promoter, member } => {
                let promoter = fields.alias(promoter, "promoter")?;
                let member = fields.alias(member, "member")?;
                engine.remove_member(&as_person(&promoter), &promoter, &member)?;
                Ok(json!({}))
            }
            Step::Leave { member } => {
                let member = fields.alias(member, "member")?;
                engine.leave(&as_person(&member), &member)?;
                Ok(json!({}))
            }
            Step::Reorder { promoter, order } => {
                let promoter = fields.alias(promoter, "promoter")?;
                let order = fields.need(order, "order")?;
                for member in &order {
                    fields.known(member)?;
                }
                engine.reorder(&as_person(&promoter), &promoter, &order)?;
                Ok(json!({}))
            }
            Step::Dissolve { promoter } => {
                let promoter = fields.alias(promoter, "promoter")?;
                engine.dissolve(&as_person(&promoter), &promoter)?;
                Ok(json!({}))
            }
            Step::Move { person, from, to, amount } => {
                let person = fields.alias(person, "person")?;
                let from = wire::person_account(&fields.need(from, "from")?)?;
                let to = wire::person_account(&fields.need(to, "to")?)?;
                let amount = Money::parse_positive(&fields.need(amount, "amount")?)?;
                let entry = engine.move_mutual_aid(&as_person(&person), &person, from, to, amount)?;
                Ok(json!({"entry_id": entry}))
            }
            Step::SetPreset { person, amount } => {
                let person = fields.alias(person, "person")?;
                let amount = match amount.as_deref() {
                    None | Some("") => None,
                    Some(text) => Some(Money::parse_positive(text)?),
                };
                engine.set_preset(&as_person(&person), &person, amount)?;
                Ok(json!({}))
            }
            Step::SetStatus { person, status, reason } => {
                let person = fields.alias(person, "person")?;
                let status = fields.need(status, "status")?;
                let status = PersonStatus::parse(&status).ok_or_else(|| input_error(format!("unknown status {status:?}")))?;
                let ctx = self.counter_for(&person, day)?;
                engine.set_status(&ctx, &person, status, reason.as_deref().unwrap_or("scenario"))?;
                Ok(json!({}))
            }
            Step::Settle(spec) => {
                let bill = bill_of(fields, spec, day)?;
                let outcome = engine.settle(&institution(&bill, day), &bill)?;
                Ok(wire::settlement_json(&outcome, &account_name))
            }
            Step::Presettle(spec) => {
                let bill = bill_of(fields, spec, day)?;
                let outcome = engine.presettle(&institution(&bill, day), &bill)?;
                Ok(wire::settlement_json(&outcome, &account_name))
            }
            Step::Cancel { bill, institution } => {
                let bill = fields.need(bill, "bill")?;
                let institution = institution.clone().unwrap_or_else(|| DEFAULT_INSTITUTION.to_string());
                let ctx = Context::new(Actor::Institution(institution.clone()), Channel::Api, day);
                let outcome = engine.cancel(&ctx, &institution, &bill)?;
                Ok(wire::cancel_json(&outcome, &account_name))
            }
            Step::Job { name } => {
                let name = fields.need(name, "name")?;
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
            Step::Liquidate { person, reason, name } => {
                let person = fields.alias(person, "person")?;
                let reason = fields.need(reason, "reason")?;
                let reason = LiquidationReason::parse(&reason).ok_or_else(|| input_error(format!("reason is death or transfer_out, not {reason:?}")))?;
                let ctx = self.counter_for(&person, day)?;
                let payee = name.clone().unwrap_or_else(|| if reason == LiquidationReason::TransferOut { "000000".into() } else { "heirs".into() });
                let record = engine.liquidate(&ctx, &person, reason, &payee)?;
                Ok(json!({"principal": record.principal.to_string(), "interest": record.interest.to_string(), "payee": record.payee}))
            }
            Step::Advance {} => {
                let date = fields.need(&entry.common.date, "date")?;
                *today = parse_date(&date, "advance date").map_err(input_error)?;
                Ok(json!({"date": date}))
            }
            Step::Check { balances } => {
                let balances = fields.need(balances, "balances")?;
                let mut diffs = Vec::new();
                for (who, accounts) in &balances {
                    fields.known(who)?;
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
                    Err(Error::domain(ErrorCode::InputInvalid, "§13", format!("balances differ: {}", diffs.join("; "))))
                }
            }
            Step::RelativeTransfer(spec) => family(&spec.time)?.relative_transfer(spec),
            Step::Bind { person, relative, relation, time } => family(time)?.bind(person, relative, relation),
            Step::Unbind { person, relative, time } => family(time)?.unbind(person, relative),
            Step::SetQuota(spec) => family(&spec.time)?.set_quota(spec),
            Step::EndQuota { person, relative, time } => family(time)?.end_quota(person, relative),
            Step::PayPremium(spec) => family(&spec.time)?.pay_premium(spec),
            Step::Relay { time } => family(time)?.relay(),
            Step::Unknown => Err(input_error(format!("unknown step `{}`", entry.action))),
        }
    }

    /// An operator at the counter of the person's own area (status changes, liquidation).
    fn counter_for(&self, person: &str, day: NaiveDate) -> Result<Context, Error> {
        let area = self.engine().person(person)?.area;
        Ok(Context::new(Actor::Operator { id: "scenario".into(), area }, Channel::Counter, day))
    }
}

/// The bill's institution acting through its API channel.
fn institution(bill: &Bill, day: NaiveDate) -> Context {
    Context::new(Actor::Institution(bill.institution.clone()), Channel::Api, day)
}

fn bill_of(fields: Fields<'_>, spec: &BillSpec, day: NaiveDate) -> Result<Bill, Error> {
    let patient = fields.alias(&spec.patient, "patient")?;
    let visit_text = fields.need(&spec.visit, "visit")?;
    let visit = VisitType::parse(&visit_text).ok_or_else(|| input_error(format!("unknown visit type {visit_text:?}")))?;
    let content = match (&spec.items, &spec.split) {
        (Some(items), None) => {
            let mut parsed = Vec::new();
            for item in items {
                let class = ItemClass::parse(&item.class)
                    .ok_or_else(|| Error::domain(ErrorCode::SettlementInvalidBill, "ST1", format!("unknown item class {:?}", item.class)))?;
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
        institution: spec.institution.clone().unwrap_or_else(|| DEFAULT_INSTITUTION.to_string()),
        bill_id: fields.need(&spec.bill, "bill")?,
        patient,
        visit,
        date: day,
        content,
    })
}
