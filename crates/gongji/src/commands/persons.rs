//! `gongji person register|show|status` (P1, Q1).

use std::process::ExitCode;

use anyhow::Result;
use gongji_core::{AreaCode, IdNumber, InsuranceType, Money, Person, PersonStatus};
use gongji_engine::Error;
use gongji_store::{QuotaRecord, Store};
use serde_json::json;

use crate::args::PersonCommand;
use crate::session::Session;

pub fn run<S: Store>(session: &Session<'_, S>, command: &PersonCommand) -> Result<ExitCode> {
    let engine = session.engine;
    match command {
        PersonCommand::Register { psn_no, name, id_number, area, insurance, phone } => {
            let person = Person {
                psn_no: psn_no.clone(),
                name: name.clone(),
                id_number: IdNumber::parse(id_number).map_err(Error::from)?,
                area: AreaCode::parse(area).map_err(Error::from)?,
                insurance: InsuranceType::parse(insurance).ok_or_else(|| anyhow::anyhow!("insurance must be employee, resident or special"))?,
                phone: phone.clone(),
                status: PersonStatus::Normal,
            };
            engine.register_person(&session.agency(), &person)?;
            println!("registered {psn_no}");
        }
        PersonCommand::Show { psn_no, json } => show(session, psn_no, *json)?,
        PersonCommand::Status { psn_no, status, reason } => {
            let status = PersonStatus::parse(status).ok_or_else(|| anyhow::anyhow!("unknown status {status:?}"))?;
            engine.set_status(&session.counter_for(psn_no)?, psn_no, status, reason)?;
            println!("{psn_no} is now {status}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Balances, network, role, order, bindings, quotas and status changes (Q1).
fn show<S: Store>(session: &Session<'_, S>, psn_no: &str, as_json: bool) -> Result<()> {
    let view = session.engine.person_overview(psn_no)?;
    let network = view.network.as_ref().map(|n| {
        json!({
            "network_id": n.network_id,
            "role": if n.is_promoter { "promoter" } else { "member" },
            "promoter": n.promoter,
            "position": n.position,
            "state": n.state.as_str(),
            "relation": n.relation,
            "members": n.members.iter().map(|(psn, relation, state)| json!({"psn_no": psn, "relation": relation, "state": state.as_str()})).collect::<Vec<_>>(),
        })
    });
    if as_json {
        let p = &view.person;
        let document = json!({
            "psn_no": p.psn_no, "name": p.name, "id_number": p.id_number.as_str(), "area": p.area.as_str(),
            "insurance": p.insurance.as_str(), "status": p.status.as_str(),
            "balances": {"cur": view.cur.to_string(), "his": view.his.to_string(), "mut": view.mutual.to_string()},
            "preset": view.preset.map(|m| m.to_string()), "network": network,
            "bindings": view.bindings.iter().map(|b| json!({"binding_id": b.id, "binder": b.association.binder, "relative": b.association.relative,
                "relation": b.association.relation, "since": b.association.business_date.to_string()})).collect::<Vec<_>>(),
            "quotas": view.quotas.iter().map(|q| json!({"uid": q.uid, "side": q.side.as_str(), "state": q.state.as_str(), "donor": q.donor, "donor_area": q.donor_area.as_str(),
                "relative": q.relative, "relative_area": q.relative_area.as_str(), "relation": q.relation, "granted": q.granted.to_string(),
                "used": q.used.to_string(), "returned": q.returned.to_string(), "left": quota_left(q).map(|m| m.to_string())})).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&document)?);
        return Ok(());
    }
    let p = &view.person;
    println!("{} {} ({}), {} {}, area {}, status {}", p.psn_no, p.name, p.id_number.masked(), p.insurance, sex_zh(&p.id_number), p.area, p.status);
    println!("  CUR 当年账户 {:>14}", view.cur);
    println!("  HIS 历年账户 {:>14}", view.his);
    println!("  MUT 共济账户 {:>14}", view.mutual);
    if let Some(preset) = view.preset {
        println!("  preset 预设划入 {preset}");
    }
    match &view.network {
        Some(n) => {
            let role = if n.is_promoter { "promoter 发起人".to_string() } else { format!("member 成员 ({})", n.relation.as_deref().unwrap_or("")) };
            println!("  network {}: {role}, payment order {}, {}", n.network_id, n.position, n.state);
            for (index, (psn, relation, state)) in n.members.iter().enumerate() {
                println!("    {}. {psn} {} {}", index + 1, relation.as_deref().unwrap_or("promoter"), state);
            }
        }
        None => println!("  network: none"),
    }
    for b in &view.bindings {
        let a = &b.association;
        println!("  association 关联 {}: {} lets {} ({}) use HIS above the threshold, since {}", b.id, a.binder, a.relative, a.relation, a.business_date);
    }
    for q in &view.quotas {
        let role = if q.donor == p.psn_no && q.side != gongji_core::states::QuotaSide::Relative { "donor 共济人" } else { "relative 被共济人" };
        let left = quota_left(q).map(|m| m.to_string()).unwrap_or_else(|| format!("known in {}", q.relative_area));
        println!(
            "  quota 共济额度 {} as {role}, {}: {}@{} → {}@{} ({}), granted {}, used {}, returned {}, left {left}",
            q.uid,
            q.state.as_str(),
            q.donor,
            q.donor_area,
            q.relative.as_deref().unwrap_or("?"),
            q.relative_area,
            q.relation,
            q.granted,
            q.used,
            q.returned
        );
    }
    for change in &view.status_changes {
        println!("  status {} → {} on {} by {} ({}): {}", change.from, change.to, change.business_date, change.actor, change.channel, change.reason);
    }
    Ok(())
}

fn sex_zh(id: &IdNumber) -> &'static str {
    match id.sex() {
        gongji_core::id_number::Sex::Male => "男",
        gongji_core::id_number::Sex::Female => "女",
    }
}

/// What is left of a quota where this store knows it (one area, or the relative's side); a
/// donor's side across areas learns the spending only from the return.
fn quota_left(quota: &QuotaRecord) -> Option<Money> {
    (quota.side != gongji_core::states::QuotaSide::Donor).then(|| gongji_engine::quota::remaining(quota))
}
