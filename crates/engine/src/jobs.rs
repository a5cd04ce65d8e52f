//! Batch jobs (§10). Each is idempotent for its date: every movement carries an idempotency
//! key derived from what it settles, so a rerun (or a run after a crash) posts nothing twice.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use gongji_core::ledger::{EntryKind, JournalEntry};
use gongji_core::{AccountRef, Money, PersonAccount, SystemAccount};
use gongji_store::Store;

use crate::{Context, Engine, Result};

/// What a job run did (B1–B4: accounts, amounts, skipped with reasons, time).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobSummary {
    pub job: String,
    pub date: Option<NaiveDate>,
    pub accounts: u64,
    pub amount: Money,
    pub skipped: Vec<(String, String)>,
    pub elapsed: Duration,
}

impl<S: Store> Engine<S> {
    /// B3: moves what cancels left in the refund holding (ST8) to each owner's HIS, for every
    /// holding created before `date` (the nightly run of `date` picks up the day before).
    pub fn run_refund_sync(&self, date: NaiveDate, progress: &dyn Fn(u64, u64)) -> Result<JobSummary> {
        let started = Instant::now();
        let ctx = Context::batch("refund_sync", date);
        let mut summary = JobSummary { job: "refund_sync".into(), date: Some(date), ..JobSummary::default() };
        let due = self.store.read(|tx| Ok::<_, crate::Error>(tx.refund_holdings_due(date)?))?;
        let total = due.len() as u64;
        // One transaction per holding: a crash loses at most the one in flight, which the
        // next run picks up again because it is still unsynced.
        for (done, holding) in due.iter().enumerate() {
            let moved = self.store.write(|tx| {
                let key = format!("refund_sync:{}", holding.id);
                if tx.entry_by_key(&key)?.is_some() {
                    return Ok::<_, crate::Error>(false);
                }
                let entry = JournalEntry::transfer(
                    EntryKind::RefundSync,
                    AccountRef::system(&holding.holding.area, SystemAccount::RefundHolding),
                    AccountRef::person(&holding.holding.owner, PersonAccount::His),
                    holding.holding.amount,
                    ctx.provenance(),
                    Some(key),
                    format!("refund of settlement {} to HIS", holding.holding.settlement_id),
                )?;
                let entry_id = tx.post(&entry)?;
                tx.mark_holding_synced(holding.id, entry_id)?;
                Ok(true)
            })?;
            if moved {
                summary.accounts += 1;
                summary.amount = summary.amount.plus(holding.holding.amount);
            } else {
                summary.skipped.push((holding.holding.owner.clone(), "already synced".into()));
            }
            progress(done as u64 + 1, total);
        }
        summary.elapsed = started.elapsed();
        Ok(summary)
    }
}
