//! `gongji migrate`, `import` and `audit`: the agency's store as a whole.

use std::process::ExitCode;

use anyhow::Result;
use gongji_store::Store;

use crate::args::ImportCommand;
use crate::import;
use crate::session::Session;

/// Opening the store has applied the migrations already.
pub fn migrate<S: Store>(session: &Session<'_, S>) -> Result<ExitCode> {
    println!("database {} is up to date", session.engine.store().describe());
    Ok(ExitCode::SUCCESS)
}

pub fn import<S: Store>(session: &Session<'_, S>, command: &ImportCommand) -> Result<ExitCode> {
    let ctx = session.agency();
    let (what, outcome) = match command {
        ImportCommand::Persons { file } => ("persons", import::import_persons(session.engine, &ctx, file)),
        ImportCommand::Credits { file } => ("credits", import::import_credits(session.engine, &ctx, file)),
    };
    match outcome {
        Ok(summary) => {
            println!(
                "imported {what}: {} row(s), {} written, {} already imported before, total {}",
                summary.rows, summary.written, summary.already_done, summary.total
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(failure) => {
            eprint!("{failure}");
            Ok(ExitCode::from(2))
        }
    }
}

/// Exits 1 unless every balance equals the sum of its postings and the ledger sums to zero.
pub fn audit<S: Store>(session: &Session<'_, S>) -> Result<ExitCode> {
    let engine = session.engine;
    let report = engine.audit()?;
    println!(
        "audit of {}: {} accounts, {} entries, {} postings, ledger total {}",
        engine.store().describe(),
        report.accounts,
        report.entries,
        report.postings,
        report.ledger_total
    );
    for m in &report.mismatched {
        println!("  MISMATCH {}: stored {}, sum of postings {}", m.account, m.stored, m.sum_of_postings);
    }
    for entry in &report.unbalanced_entries {
        println!("  UNBALANCED entry {entry}");
    }
    for (account, balance) in &report.negative {
        println!("  NEGATIVE {account}: {balance}");
    }
    for (account, balance, product) in &report.out_of_range {
        println!("  OUT OF RANGE {account}: balance {balance}, daily-balance product {product} fen-days (ST10, B1)");
    }
    if report.is_clean() {
        println!("clean");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("NOT clean");
        Ok(ExitCode::from(1))
    }
}
