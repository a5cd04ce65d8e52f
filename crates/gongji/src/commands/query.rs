//! `gongji query …`: an area's network events and MUT movements (Q3, also as CSV), and an
//! account's statement (Q2).

use std::process::ExitCode;

use anyhow::Result;
use gongji_core::{AccountRef, AreaCode};
use gongji_engine::Error;
use gongji_store::Store;

use crate::args::QueryCommand;
use crate::session::Session;
use crate::wire;

pub fn run<S: Store>(session: &Session<'_, S>, command: &QueryCommand) -> Result<ExitCode> {
    let engine = session.engine;
    let mut out = csv::Writer::from_writer(std::io::stdout());
    match command {
        QueryCommand::NetworkEvents { area, from, to, csv } => {
            let events = engine.network_events(&AreaCode::parse(area).map_err(Error::from)?, *from, *to)?;
            if *csv {
                out.write_record(["id", "network_id", "business_date", "kind", "subject", "detail", "actor", "channel", "recorded_at"])?;
            }
            for e in &events {
                let row = [
                    e.id.to_string(),
                    e.event.network_id.to_string(),
                    e.event.business_date.to_string(),
                    e.event.kind.as_str().to_string(),
                    e.event.subject.clone().unwrap_or_default(),
                    e.event.detail.clone(),
                    e.event.actor.clone(),
                    e.event.channel.clone(),
                    e.event.recorded_at.to_rfc3339(),
                ];
                if *csv {
                    out.write_record(&row)?;
                } else {
                    println!("{}", row.join("  "));
                }
            }
        }
        QueryCommand::MutMovements { area, from, to, csv } => {
            let movements = engine.mut_movements(&AreaCode::parse(area).map_err(Error::from)?, *from, *to)?;
            if *csv {
                out.write_record(["entry_id", "business_date", "psn_no", "kind", "amount", "actor", "channel"])?;
            }
            for m in &movements {
                let row = [
                    m.entry_id.to_string(),
                    m.business_date.to_string(),
                    m.psn_no.clone(),
                    m.kind.to_string(),
                    m.amount.to_string(),
                    m.actor.clone(),
                    m.channel.clone(),
                ];
                if *csv {
                    out.write_record(&row)?;
                } else {
                    println!("{}", row.join("  "));
                }
            }
        }
        QueryCommand::Statement { person, account, from, to } => {
            let kind = wire::person_account(account)?;
            for line in engine.statement(&AccountRef::person(person, kind), *from, *to)? {
                println!("{}  {:>8}  {:<22} {:>14}  {}", line.business_date, line.entry_id, line.kind, line.amount, line.memo);
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
