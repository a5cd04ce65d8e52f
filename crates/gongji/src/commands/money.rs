//! The commands that move or would move money: `move` and `preset` (T1, T2), `settle`,
//! `presettle` and `cancel` (§9), and `explain`, the "why not" of a hypothetical bill (Q4).

use std::process::ExitCode;

use anyhow::{bail, Result};
use chrono::NaiveDate;
use gongji_core::settlement::{Bill, BillContent, BillItem, BillSplit, ItemClass};
use gongji_core::{Actor, Channel, Money, VisitType};
use gongji_engine::settlement::SettlementOutcome;
use gongji_engine::{Context, Error};
use gongji_store::Store;
use serde_json::json;

use crate::args::BillArgs;
use crate::session::Session;
use crate::wire::{self, account_name};

/// Moves own money HIS→MUT or MUT→HIS (T1).
pub fn move_money<S: Store>(session: &Session<'_, S>, person: &str, from: &str, to: &str, amount: &str) -> Result<ExitCode> {
    let (from, to) = (wire::person_account(from)?, wire::person_account(to)?);
    let amount = Money::parse_positive(amount).map_err(Error::from)?;
    session.engine.move_mutual_aid(&session.counter_for(person)?, person, from, to, amount)?;
    println!("moved {amount} from {from} to {to} of {person}");
    Ok(ExitCode::SUCCESS)
}

/// Sets the yearly preset HIS→MUT amount, or clears it without one (T2).
pub fn preset<S: Store>(session: &Session<'_, S>, person: &str, amount: Option<&str>) -> Result<ExitCode> {
    let amount = amount.map(Money::parse_positive).transpose().map_err(Error::from)?;
    session.engine.set_preset(&session.counter_for(person)?, person, amount)?;
    match amount {
        Some(amount) => println!("preset of {person} set to {amount}"),
        None => println!("preset of {person} cleared"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Settles a bill as its institution (§9).
pub fn settle<S: Store>(session: &Session<'_, S>, args: &BillArgs) -> Result<ExitCode> {
    let bill = bill_of(args, session.today)?;
    let outcome = session.engine.settle(&institution(session, args), &bill)?;
    print_settlement(&outcome, args.json)
}

/// What settling the bill would do, committing nothing (ST5).
pub fn presettle<S: Store>(session: &Session<'_, S>, args: &BillArgs) -> Result<ExitCode> {
    let bill = bill_of(args, session.today)?;
    let outcome = session.engine.presettle(&institution(session, args), &bill)?;
    print_settlement(&outcome, args.json)
}

/// Cancels a settled bill along its original path (ST8).
pub fn cancel<S: Store>(session: &Session<'_, S>, institution: &str, bill: &str, as_json: bool) -> Result<ExitCode> {
    let ctx = Context::new(Actor::Institution(institution.to_string()), Channel::Api, session.today);
    let outcome = session.engine.cancel(&ctx, institution, bill)?;
    let document = wire::cancel_json(&outcome, &account_name);
    if as_json {
        println!("{}", serde_json::to_string_pretty(&document)?);
    } else {
        println!("cancelled bill {bill} of {institution}: {document}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Which family money the patient could use now for a burden of `amount`, and why not (Q4).
pub fn explain<S: Store>(session: &Session<'_, S>, patient: &str, visit: &str, amount: &str, as_json: bool) -> Result<ExitCode> {
    let visit = VisitType::parse(visit).ok_or_else(|| anyhow::anyhow!("unknown visit type {visit:?}"))?;
    let amount = Money::parse_positive(amount).map_err(Error::from)?;
    let explanation = session.engine.explain(&session.counter_for(patient)?, patient, visit, amount)?;
    if as_json {
        let mut payments = serde_json::Map::new();
        for p in &explanation.payments {
            payments.insert(account_name(&p.account), json!(p.amount.to_string()));
        }
        let document = json!({"patient": patient, "visit": visit.as_str(), "amount": amount.to_string(), "policy": explanation.policy_id, "payments": payments, "cash": explanation.cash.to_string(), "steps": wire::steps_json(&explanation.steps, &account_name)});
        println!("{}", serde_json::to_string_pretty(&document)?);
    } else {
        println!("{patient}, {visit} burden {amount} under policy {}:", explanation.policy_id);
        for step in explanation.steps.iter().skip(1) {
            println!("  [{}] {}", step.code, step.message);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The bill's institution acting through its API channel.
fn institution<S: Store>(session: &Session<'_, S>, args: &BillArgs) -> Context {
    Context::new(Actor::Institution(args.institution.clone()), Channel::Api, session.today)
}

fn print_settlement(outcome: &SettlementOutcome, as_json: bool) -> Result<ExitCode> {
    if as_json {
        let document = wire::settlement_json(outcome, &account_name);
        println!("{}", serde_json::to_string_pretty(&document)?);
    } else {
        println!(
            "bill {} of {}: total {}, fund {}, cash {}{}",
            outcome.bill_id,
            outcome.institution,
            outcome.total(),
            outcome.split.fund_pay,
            outcome.cash,
            if outcome.replayed { " (already settled)" } else { "" }
        );
        for step in &outcome.steps {
            println!("  [{}] {}", step.code, step.message);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn bill_of(args: &BillArgs, date: NaiveDate) -> Result<Bill> {
    let visit = VisitType::parse(&args.visit).ok_or_else(|| anyhow::anyhow!("unknown visit type {:?}", args.visit))?;
    let content = match &args.split {
        Some(split) => {
            let mut parts = BillSplit::default();
            for pair in split.split(',') {
                let (name, amount) = pair.split_once('=').ok_or_else(|| anyhow::anyhow!("split parts are name=amount: {pair:?}"))?;
                let amount = Money::parse(amount.trim()).map_err(Error::from)?;
                match name.trim() {
                    "fund_pay" => parts.fund_pay = amount,
                    "self_borne" => parts.self_borne = amount,
                    "first_self_pay" => parts.first_self_pay = amount,
                    "self_funded" => parts.self_funded = amount,
                    other => bail!("unknown split part {other:?}"),
                }
            }
            BillContent::Split(parts)
        }
        None => {
            let mut items = Vec::new();
            for text in &args.item {
                let fields: Vec<&str> = text.split(',').map(str::trim).collect();
                let [code, name, amount, class] = fields[..] else { bail!("an item is CODE,NAME,AMOUNT,CLASS: {text:?}") };
                let class = ItemClass::parse(class).ok_or_else(|| anyhow::anyhow!("item class is A, B or C: {class:?}"))?;
                items.push(BillItem { code: code.into(), name: name.into(), amount: Money::parse(amount).map_err(Error::from)?, class });
            }
            BillContent::Items(items)
        }
    };
    Ok(Bill { institution: args.institution.clone(), bill_id: args.bill.clone(), patient: args.patient.clone(), visit, date, content })
}
