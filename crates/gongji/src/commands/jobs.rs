//! `gongji job run` (B1-B3) and `gongji liquidate` (B4).

use std::process::ExitCode;

use anyhow::{bail, Result};
use chrono::NaiveDate;
use gongji_engine::jobs::{JobHooks, LiquidationReason};
use gongji_store::Store;

use crate::session::Session;

/// The crash tests' hook: the process kills itself (SIGKILL) while working on the Nth subject,
/// inside an open transaction.
const KILL_AT_SUBJECT_VAR: &str = "GONGJI_KILL_AT_SUBJECT";

/// Runs the batch job `name`: `year-end` for `year`, `preset` or `refund-sync` for `for_date`
/// (or the global `--date`); `batch_len` persons per transaction.
pub fn run<S: Store>(session: &Session<'_, S>, name: &str, year: Option<i32>, for_date: Option<NaiveDate>, batch_len: usize) -> Result<ExitCode> {
    let engine = session.engine;
    let date = for_date.or(session.date);
    let today = session.today;
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(indicatif::ProgressStyle::with_template("{spinner} {msg} {pos} done ({elapsed})").expect("valid template"));
    bar.set_message(name.to_string());
    let progress = |done: u64, _total: u64| bar.set_position(done);
    let kill_at: Option<u64> = std::env::var(KILL_AT_SUBJECT_VAR).ok().and_then(|v| v.parse().ok());
    let on_subject = |n: u64| {
        if Some(n) == kill_at {
            let _ = std::process::Command::new("kill").args(["-9", &std::process::id().to_string()]).status();
            std::thread::sleep(std::time::Duration::from_secs(60));
        }
    };
    let hooks = JobHooks { progress: &progress, on_subject: &on_subject, batch_len: batch_len.max(1) };
    let need_date = || date.ok_or_else(|| anyhow::anyhow!("{name} needs --for-date (or the global --date)"));
    let summary = match name {
        "year-end" | "year_end" => engine.run_year_end(year.ok_or_else(|| anyhow::anyhow!("year-end needs --year"))?, today, &hooks)?,
        "preset" => engine.run_presets(need_date()?, today, &hooks)?,
        "refund-sync" | "refund_sync" => engine.run_refund_sync(need_date()?, today, &progress)?,
        other => bail!("unknown job {other:?}: year-end, preset or refund-sync"),
    };
    bar.finish_and_clear();
    println!(
        "job {} for {}: {} account(s), {} moved, {} skipped, {} already done before, {} ms",
        summary.job,
        summary.date.map(|d| d.to_string()).unwrap_or_default(),
        summary.accounts,
        summary.amount,
        summary.skipped.len(),
        summary.already_done,
        summary.elapsed.as_millis()
    );
    if let Some(kib) = crate::bench::peak_memory_kib() {
        println!("  peak memory {kib} KiB");
    }
    for (who, why) in &summary.skipped {
        println!("  skipped {who}: {why}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Closes a person's accounts on death or transfer out, paid to `payee` (B4).
pub fn liquidate<S: Store>(session: &Session<'_, S>, person: &str, reason: &str, payee: &str) -> Result<ExitCode> {
    let reason = LiquidationReason::parse(reason).ok_or_else(|| anyhow::anyhow!("reason is death or transfer_out"))?;
    let record = session.engine.liquidate(&session.counter_for(person)?, person, reason, payee)?;
    println!(
        "{person} liquidated ({}): principal {}, interest {}, payable to {}; status cancelled",
        record.reason, record.principal, record.interest, record.payee
    );
    Ok(ExitCode::SUCCESS)
}
