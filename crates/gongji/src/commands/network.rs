//! `gongji network …`: family network business at the counter (§5, N1-N11).

use std::process::ExitCode;

use anyhow::Result;
use gongji_engine::networks::Added;
use gongji_store::Store;

use crate::args::NetworkCommand;
use crate::session::Session;

pub fn run<S: Store>(session: &Session<'_, S>, command: &NetworkCommand) -> Result<ExitCode> {
    let engine = session.engine;
    match command {
        NetworkCommand::Create { promoter } => {
            let id = engine.create_network(&session.counter_for(promoter)?, promoter)?;
            println!("network {id} created by {promoter}");
        }
        NetworkCommand::Add { promoter, member, relation } => {
            let added = engine.add_member(&session.counter_for(promoter)?, promoter, member, relation)?;
            println!("{member} added as {relation}: {}", if added == Added::Active { "active" } else { "pending their own confirmation (N10)" });
        }
        NetworkCommand::Confirm { member } => {
            engine.confirm_member(&session.counter_for(member)?, member)?;
            println!("{member} confirmed");
        }
        NetworkCommand::Remove { promoter, member } => {
            engine.remove_member(&session.counter_for(promoter)?, promoter, member)?;
            println!("{member} removed");
        }
        NetworkCommand::Leave { member } => {
            engine.leave(&session.counter_for(member)?, member)?;
            println!("{member} left the network");
        }
        NetworkCommand::Reorder { promoter, order } => {
            engine.reorder(&session.counter_for(promoter)?, promoter, order)?;
            println!("payment order: {}", order.join(" → "));
        }
        NetworkCommand::Dissolve { promoter } => {
            engine.dissolve(&session.counter_for(promoter)?, promoter)?;
            println!("network of {promoter} dissolved");
        }
    }
    Ok(ExitCode::SUCCESS)
}
