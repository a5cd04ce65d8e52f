//! Batch jobs (§10). Each is idempotent for its date: every movement carries an idempotency
//! key derived from what it settles, so a rerun (or a run after a crash) posts nothing twice.

use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate};
use gongji_core::interest::BalanceProduct;
use gongji_core::ledger::{EntryKind, JournalEntry, Posting};
use gongji_core::network::MemberState;
use gongji_core::policy::YearEndStep;
use gongji_core::{AccountRef, AreaCode, ErrorCode, Money, PersonAccount, PersonStatus, Policy, SystemAccount};
use gongji_store::{JobMark, Liquidation, Store, Tx};

use crate::{load_person, persons::set_status_in, Context, Engine, Error, Result};

/// Persons per transaction in the batch jobs: large enough to amortise the durable commit,
/// small enough that a crash redoes little and writers of the day are not held up long.
pub const JOB_BATCH_LEN_DEFAULT: usize = 500;

/// How a job run reports and may be interrupted.
pub struct JobHooks<'a> {
    /// Called after each batch commits: (subjects done, subjects in all, where known).
    pub progress: &'a dyn Fn(u64, u64),
    /// Called for each subject inside its batch's transaction, before the commit: lets the
    /// crash tests kill the process at any point of a run.
    pub on_subject: &'a dyn Fn(u64),
    pub batch_len: usize,
}

impl Default for JobHooks<'_> {
    fn default() -> Self {
        JobHooks { progress: &|_, _| {}, on_subject: &|_| {}, batch_len: JOB_BATCH_LEN_DEFAULT }
    }
}

/// Why a person is closed (B4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiquidationReason {
    Death,
    TransferOut,
}

impl LiquidationReason {
    pub fn parse(text: &str) -> Option<LiquidationReason> {
        match text {
            "death" => Some(LiquidationReason::Death),
            "transfer_out" => Some(LiquidationReason::TransferOut),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LiquidationReason::Death => "death",
            LiquidationReason::TransferOut => "transfer_out",
        }
    }
}

/// What a job run did (B1–B4: accounts, amounts, skipped with reasons, time).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobSummary {
    pub job: String,
    pub date: Option<NaiveDate>,
    pub accounts: u64,
    pub amount: Money,
    pub skipped: Vec<(String, String)>,
    pub elapsed: Duration,
    /// Subjects already done by an earlier (possibly interrupted) run of the same period.
    pub already_done: u64,
}

/// The job mark that says a year's year-end finished for every area (B1: the next year may run).
const YEAR_END_COMPLETED: &str = "year_end_completed";

/// B1–B3: a job for a day after the business date would count days that have not happened.
fn not_after_today(job: &str, date: NaiveDate, today: NaiveDate) -> Result<()> {
    if date > today {
        return Err(Error::domain(ErrorCode::JobNotDue, "B1", format!("{job} for {date} may not run before that day; the business date is {today}")));
    }
    Ok(())
}

/// B1: whether the year-end of `year` finished for every area.
fn year_end_completed(tx: &mut dyn Tx, year: i32) -> Result<bool> {
    Ok(tx.job_mark(YEAR_END_COMPLETED, &year.to_string(), "")?.is_some())
}

/// B1: the first year whose year-end is not done, counting from the year of the store's first
/// money and looking no further than `until`; `None` when the store holds no money.
fn first_year_not_done(tx: &mut dyn Tx, until: i32) -> Result<Option<i32>> {
    let Some(first) = tx.first_entry_date()? else { return Ok(None) };
    let mut year = first.year().min(until);
    while year < until && year_end_completed(tx, year)? {
        year += 1;
    }
    Ok(Some(year))
}

impl<S: Store> Engine<S> {
    /// B1: whether the year-end of `year` may run on the business date `today`: only on
    /// `year`-12-31 or later, one year at a time and in order (the year before done first,
    /// unless the store holds no money from before `year`). A year already done may run again
    /// (it changes nothing). Refused with `job.not_due`, naming the year that may run now.
    pub fn year_end_due(&self, year: i32, today: NaiveDate) -> Result<()> {
        let last_day = NaiveDate::from_ymd_opt(year, 12, 31).ok_or_else(|| Error::domain(ErrorCode::InputInvalid, "B1", format!("no such year {year}")))?;
        self.store.read(|tx| {
            if year_end_completed(tx, year)? {
                return Ok(());
            }
            let next = first_year_not_done(tx, year)?.unwrap_or(year);
            let now = match NaiveDate::from_ymd_opt(next, 12, 31) {
                Some(last) if last <= today => format!("the year-end that may run now is {next}'s"),
                _ => format!("no year-end may run before {next}-12-31"),
            };
            if today < last_day {
                return Err(Error::domain(
                    ErrorCode::JobNotDue,
                    "B1",
                    format!("the year-end of {year} runs on {last_day} or later; the business date is {today}, so {now}"),
                ));
            }
            if next < year {
                return Err(Error::domain(
                    ErrorCode::JobNotDue,
                    "B1",
                    format!("year-ends run one year at a time, in order: the year-end of {next} is not done; {now}"),
                ));
            }
            Ok(())
        })
    }

    /// B1: the year whose year-end may run on `today`, if any: the first year not done since
    /// the store's money starts, when its last day has come. (The counter page offers it.)
    pub fn year_end_next(&self, today: NaiveDate) -> Result<Option<i32>> {
        // A year after this one cannot be done yet, so the search ends there.
        let next = self.store.read(|tx| first_year_not_done(tx, today.year() + 1))?;
        Ok(next.filter(|year| NaiveDate::from_ymd_opt(*year, 12, 31).is_some_and(|last| last <= today)))
    }

    /// B2, B3: a preset run or a refund sync for `date` may not run before that day.
    pub fn job_date_due(&self, job: &str, date: NaiveDate, today: NaiveDate) -> Result<()> {
        not_after_today(job, date, today)
    }

    /// B3: moves what cancels left in the refund holding (ST8) to each owner's HIS, for every
    /// holding created before `date` (the nightly run of `date` picks up the day before). Not
    /// for a `date` after the business date `today`.
    pub fn run_refund_sync(&self, date: NaiveDate, today: NaiveDate, progress: &dyn Fn(u64, u64)) -> Result<JobSummary> {
        not_after_today("refund_sync", date, today)?;
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

impl<S: Store> Engine<S> {
    /// B1: year-end for `year` in every area, in the steps and order of the policy in force on
    /// 31 December: MUT→HIS sweep; interest on HIS + MUT (and CUR at its own rate) by the
    /// daily-balance product, half-up to the fen, from the interest-expense account; CUR→HIS
    /// roll-over. Each person is done once per year (a job mark in the same transaction), so a
    /// rerun or a run after a crash posts nothing twice. Runs only when due on the business
    /// date `today` ([`Engine::year_end_due`]); when every area is done, the year is marked
    /// completed, so that the next year may run.
    pub fn run_year_end(&self, year: i32, today: NaiveDate, hooks: &JobHooks<'_>) -> Result<JobSummary> {
        self.year_end_due(year, today)?;
        let started = Instant::now();
        let last_day = NaiveDate::from_ymd_opt(year, 12, 31).ok_or_else(|| Error::domain(ErrorCode::InputInvalid, "B1", format!("no such year {year}")))?;
        let ctx = Context::batch("year_end", last_day);
        let period = year.to_string();
        let mut summary = JobSummary { job: "year_end".into(), date: Some(last_day), ..JobSummary::default() };
        let areas = self.store.read(|tx| Ok::<_, Error>(tx.person_areas()?))?;
        let mut done: u64 = 0;
        // Who an earlier, interrupted run already did: read once, not once per person. The
        // entries' idempotency keys still refuse a double posting should another run race this one.
        let done_before: std::collections::HashMap<String, String> =
            self.store.read(|tx| Ok::<_, Error>(tx.job_marks("year_end", &period)?))?.into_iter().map(|mark| (mark.subject, mark.outcome)).collect();
        for area in areas {
            let policy = self.policy(&area, last_day)?.clone();
            self.for_each_batch(
                &area,
                hooks,
                &mut done,
                |tx, psn_no| {
                    if let Some(outcome) = done_before.get(psn_no) {
                        return Ok(Subject::AlreadyDone(outcome.clone()));
                    }
                    let moved = year_end_for(tx, &ctx, &policy, &area, psn_no, year)?;
                    tx.insert_job_mark(&JobMark {
                        job: "year_end".into(),
                        period: period.clone(),
                        subject: psn_no.to_string(),
                        outcome: format!("done: {moved}"),
                        recorded_at: ctx.now,
                    })?;
                    Ok(Subject::Done(moved))
                },
                &mut summary,
            )?;
        }
        self.store.write(|tx| {
            if !year_end_completed(tx, year)? {
                let outcome = format!("done: {} persons", done);
                tx.insert_job_mark(&JobMark { job: YEAR_END_COMPLETED.into(), period: period.clone(), subject: String::new(), outcome, recorded_at: ctx.now })?;
            }
            Ok::<_, Error>(())
        })?;
        summary.elapsed = started.elapsed();
        Ok(summary)
    }

    /// B2, T2: on each area's preset date, moves every member's preset HIS→MUT; skips (and
    /// records why) when HIS is below the preset, the status is not normal, or the person is no
    /// longer a confirmed network member. Areas whose policy date is another day are skipped.
    /// Not for a `date` after the business date `today`.
    pub fn run_presets(&self, date: NaiveDate, today: NaiveDate, hooks: &JobHooks<'_>) -> Result<JobSummary> {
        not_after_today("preset", date, today)?;
        let started = Instant::now();
        let ctx = Context::batch("preset", date);
        let period = date.to_string();
        let mut summary = JobSummary { job: "preset".into(), date: Some(date), ..JobSummary::default() };
        let areas = self.store.read(|tx| Ok::<_, Error>(tx.person_areas()?))?;
        let mut done: u64 = 0;
        for area in areas {
            let policy = self.policy(&area, date)?;
            if !policy.models.network {
                continue;
            }
            if policy.preset_date != (date.month(), date.day()) {
                summary
                    .skipped
                    .push((area.to_string(), format!("the preset date of {} is {:02}-{:02}", policy.id, policy.preset_date.0, policy.preset_date.1)));
                continue;
            }
            let mut after = String::new();
            loop {
                let page = self.store.read(|tx| Ok::<_, Error>(tx.presets_in_area(&area, &after, hooks.batch_len)?))?;
                let Some((last, _)) = page.last() else { break };
                after = last.clone();
                let outcomes = self.store.write(|tx| {
                    let mut outcomes = Vec::with_capacity(page.len());
                    for (psn_no, preset) in &page {
                        done += 1;
                        (hooks.on_subject)(done);
                        if let Some(outcome) = tx.job_mark("preset", &period, psn_no)? {
                            outcomes.push((psn_no.clone(), Subject::AlreadyDone(outcome)));
                            continue;
                        }
                        let outcome = preset_for(tx, &ctx, psn_no, *preset)?;
                        let text = match &outcome {
                            Subject::Done(amount) => format!("done: {amount}"),
                            Subject::Skipped(reason) => format!("skipped: {reason}"),
                            Subject::AlreadyDone(text) => text.clone(),
                        };
                        tx.insert_job_mark(&JobMark {
                            job: "preset".into(),
                            period: period.clone(),
                            subject: psn_no.clone(),
                            outcome: text,
                            recorded_at: ctx.now,
                        })?;
                        outcomes.push((psn_no.clone(), outcome));
                    }
                    Ok::<_, Error>(outcomes)
                })?;
                for (psn_no, outcome) in outcomes {
                    summary.count(&psn_no, outcome);
                }
                (hooks.progress)(done, 0);
            }
        }
        summary.elapsed = started.elapsed();
        Ok(summary)
    }

    /// B4: closes a person's accounts on death or transfer out: interest to date on HIS + MUT
    /// (and CUR), everything moved to the liquidation payable for the heirs or the receiving
    /// area (`payee`), the person `cancelled`, and their network left or dissolved (N4).
    pub fn liquidate(&self, ctx: &Context, psn_no: &str, reason: LiquidationReason, payee: &str) -> Result<Liquidation> {
        if payee.trim().is_empty() {
            return Err(Error::domain(ErrorCode::InputInvalid, "B4", "name the heirs, or the planning area the person moves to"));
        }
        gongji_core::text::check_text("payee", "B4", payee, gongji_core::text::LABEL_CHARS_MAX)?;
        self.store.write(|tx| {
            let person = load_person(tx, psn_no)?;
            if tx.liquidation(psn_no)?.is_some() || person.status == PersonStatus::Cancelled {
                return Err(Error::domain(ErrorCode::PersonStatus, "B4", format!("{psn_no} is already cancelled")));
            }
            if reason == LiquidationReason::TransferOut && AreaCode::parse(payee).is_err() {
                return Err(Error::domain(ErrorCode::InputInvalid, "B4", "a transfer out names the receiving planning area (6 digits)"));
            }
            let policy = self.policy(&person.area, ctx.business_date)?;
            let accounts = [PersonAccount::Cur, PersonAccount::His, PersonAccount::Mut].map(|kind| AccountRef::person(psn_no, kind));
            let mut principal = Money::ZERO;
            let mut products = Vec::new();
            let mut postings = Vec::new();
            for account in &accounts {
                let balance = tx.balance(account)?;
                products.push(product_through(tx, account, ctx.business_date)?);
                principal = principal.plus(balance);
                postings.push(Posting { account: account.clone(), amount: balance.neg() });
            }
            let historical = BalanceProduct { fen_days: products[1].fen_days + products[2].fen_days, as_of: ctx.business_date };
            let interest = historical.interest(policy.interest_rate_his).plus(products[0].interest(policy.interest_rate_cur));
            let payable = AccountRef::system(&person.area, SystemAccount::LiquidationPayable);
            postings.push(Posting { account: AccountRef::system(&person.area, SystemAccount::InterestExpense), amount: interest.neg() });
            postings.push(Posting { account: payable, amount: principal.plus(interest) });
            // A person with nothing left gets no entry; the record and the status change stand.
            let entry_id = if principal.is_zero() && interest.is_zero() {
                None
            } else {
                let memo = format!("{} to {payee}", reason.as_str());
                Some(tx.post(&JournalEntry::new(EntryKind::Liquidation, postings, ctx.provenance(), Some(format!("liquidate:{psn_no}")), memo)?)?)
            };
            for account in &accounts {
                tx.set_product(account, BalanceProduct::start(ctx.business_date))?;
            }
            let record = Liquidation {
                psn_no: psn_no.to_string(),
                reason: reason.as_str().to_string(),
                business_date: ctx.business_date,
                principal,
                interest,
                payee: payee.to_string(),
                entry_id,
            };
            tx.insert_liquidation(&record)?;
            set_status_in(tx, ctx, psn_no, PersonStatus::Cancelled, &format!("liquidated: {}", reason.as_str()))?;
            Ok(record)
        })
    }

    /// Runs `work` for every person of `area`, `hooks.batch_len` persons per transaction.
    fn for_each_batch(
        &self,
        area: &AreaCode,
        hooks: &JobHooks<'_>,
        done: &mut u64,
        mut work: impl FnMut(&mut dyn Tx, &str) -> Result<Subject>,
        summary: &mut JobSummary,
    ) -> Result<()> {
        let mut after = String::new();
        loop {
            let page = self.store.read(|tx| Ok::<_, Error>(tx.psn_nos_in_area(area, &after, hooks.batch_len)?))?;
            let Some(last) = page.last() else { return Ok(()) };
            after = last.clone();
            let outcomes = self.store.write(|tx| {
                let mut outcomes = Vec::with_capacity(page.len());
                for (index, psn_no) in page.iter().enumerate() {
                    (hooks.on_subject)(*done + index as u64 + 1);
                    outcomes.push((psn_no.clone(), work(tx, psn_no)?));
                }
                Ok::<_, Error>(outcomes)
            })?;
            *done += outcomes.len() as u64;
            for (psn_no, outcome) in outcomes {
                summary.count(&psn_no, outcome);
            }
            (hooks.progress)(*done, 0);
        }
    }
}

/// What a job did for one subject.
enum Subject {
    Done(Money),
    Skipped(String),
    AlreadyDone(String),
}

impl JobSummary {
    fn count(&mut self, subject: &str, outcome: Subject) {
        match outcome {
            Subject::Done(amount) => {
                if amount.is_positive() {
                    self.accounts += 1;
                    self.amount = self.amount.plus(amount);
                }
            }
            Subject::Skipped(reason) => self.skipped.push((subject.to_string(), reason)),
            Subject::AlreadyDone(_) => self.already_done += 1,
        }
    }
}

/// One account during year-end, worked out in memory.
struct YearEndAccount {
    kind: PersonAccount,
    balance: Money,
    /// Fen-days of the closed year (up to 1 January).
    year_fen_days: i128,
    /// Fen-days of the new year already accrued by postings dated after 31 December.
    carried_fen_days: i128,
}

/// The year-end steps for one person, in the policy's order, as ONE journal entry (kind
/// `year_end`): MUT→HIS, interest from the interest-expense account, CUR→HIS. The person's
/// accounts are read once and every step is worked out in memory; returns the interest.
/// Moves dated 31 December count for that last day: they shift one day of balance between the
/// accounts, which matters when HIS and CUR earn different rates.
fn year_end_for(tx: &mut dyn Tx, ctx: &Context, policy: &Policy, area: &AreaCode, psn: &str, year: i32) -> Result<Money> {
    let new_year = NaiveDate::from_ymd_opt(year + 1, 1, 1).expect("valid date");
    let mut accounts = Vec::with_capacity(3);
    for (kind, balance, product) in tx.person_account_states(psn)? {
        let (year_fen_days, carried_fen_days) = if product.as_of <= new_year {
            (product.accrue_to(balance, new_year).fen_days, 0)
        } else {
            // Postings of the new year came first: rebuild the year's product from them.
            let through = product_through(tx, &AccountRef::person(psn, kind), new_year)?;
            (through.fen_days, product.fen_days - through.fen_days)
        };
        accounts.push(YearEndAccount { kind, balance, year_fen_days, carried_fen_days });
    }
    if accounts.is_empty() {
        return Ok(Money::ZERO);
    }
    for kind in [PersonAccount::Cur, PersonAccount::His, PersonAccount::Mut] {
        if !accounts.iter().any(|a| a.kind == kind) {
            accounts.push(YearEndAccount { kind, balance: Money::ZERO, year_fen_days: 0, carried_fen_days: 0 });
        }
    }
    let index = |kind| accounts.iter().position(|a| a.kind == kind).expect("all three present");
    let (cur, his, mutual) = (index(PersonAccount::Cur), index(PersonAccount::His), index(PersonAccount::Mut));
    let mut postings = Vec::new();
    let mut parts = Vec::new();
    let mut interest = Money::ZERO;
    let move_on_last_day = |accounts: &mut Vec<YearEndAccount>, from: usize, to: usize, postings: &mut Vec<Posting>| {
        let amount = accounts[from].balance;
        if amount.is_positive() {
            accounts[from].balance = Money::ZERO;
            accounts[from].year_fen_days -= amount.fen() as i128;
            accounts[to].balance = accounts[to].balance.plus(amount);
            accounts[to].year_fen_days += amount.fen() as i128;
            postings.push(Posting { account: AccountRef::person(psn, accounts[from].kind), amount: amount.neg() });
            postings.push(Posting { account: AccountRef::person(psn, accounts[to].kind), amount });
        }
        amount
    };
    for step in &policy.year_end_steps {
        match step {
            YearEndStep::SweepMutToHis => {
                let amount = move_on_last_day(&mut accounts, mutual, his, &mut postings);
                parts.push(format!("MUT→HIS {amount}"));
            }
            YearEndStep::Interest => {
                // seeds/003 七 (二): interest on the historical money, HIS and MUT together.
                let historical = BalanceProduct { fen_days: accounts[his].year_fen_days + accounts[mutual].year_fen_days, as_of: new_year };
                let current = BalanceProduct { fen_days: accounts[cur].year_fen_days, as_of: new_year };
                interest = historical.interest(policy.interest_rate_his).plus(current.interest(policy.interest_rate_cur));
                if interest.is_positive() {
                    postings.push(Posting { account: AccountRef::system(area, SystemAccount::InterestExpense), amount: interest.neg() });
                    postings.push(Posting { account: AccountRef::person(psn, PersonAccount::His), amount: interest });
                    accounts[his].balance = accounts[his].balance.plus(interest);
                }
                parts.push(format!("interest {interest}"));
            }
            YearEndStep::RollOverCurToHis => {
                let amount = move_on_last_day(&mut accounts, cur, his, &mut postings);
                parts.push(format!("CUR→HIS {amount}"));
            }
        }
    }
    if !postings.is_empty() {
        let memo = format!("year-end {year}: {}", parts.join(", "));
        let key = Some(format!("year_end:{year}:{psn}"));
        tx.post(&JournalEntry::new(EntryKind::YearEnd, postings, ctx.provenance(), key, memo)?)?;
    }
    // Next year's products start on 1 January (keeping days of the new year already accrued).
    if accounts.iter().all(|a| a.carried_fen_days == 0) {
        tx.restart_person_products(psn, new_year)?;
    } else {
        for account in &accounts {
            let ref_ = AccountRef::person(psn, account.kind);
            let stored = tx.balance_product(&ref_)?.unwrap_or(BalanceProduct::start(new_year));
            tx.set_product(&ref_, BalanceProduct { fen_days: account.carried_fen_days, as_of: stored.as_of.max(new_year) })?;
        }
    }
    Ok(interest)
}

/// The account's daily-balance product for the days before `day`: the stored product accrued
/// forward to `day`, or, when postings dated `day` or later were already accrued, the stored
/// product less those days (each day's closing balance rebuilt from the postings since).
fn product_through(tx: &mut dyn Tx, account: &AccountRef, day: NaiveDate) -> Result<BalanceProduct> {
    let balance = tx.balance(account)?;
    let Some(stored) = tx.balance_product(account)? else { return Ok(BalanceProduct::start(day)) };
    if stored.as_of <= day {
        return Ok(stored.accrue_to(balance, day));
    }
    let later = tx.statement(account, day, NaiveDate::from_ymd_opt(9999, 12, 31).expect("valid date"))?;
    let mut extra: i128 = 0;
    let mut current = day;
    while current < stored.as_of {
        let closing = balance.fen() - later.iter().filter(|line| line.business_date > current).map(|line| line.amount.fen()).sum::<i64>();
        extra += closing as i128;
        current = current.succ_opt().expect("date in range");
    }
    Ok(BalanceProduct { fen_days: stored.fen_days - extra, as_of: day })
}

fn preset_for(tx: &mut dyn Tx, ctx: &Context, psn_no: &str, preset: Money) -> Result<Subject> {
    let person = load_person(tx, psn_no)?;
    if person.status != PersonStatus::Normal {
        return Ok(Subject::Skipped(format!("status is {} (T2)", person.status)));
    }
    let member = tx.network_of(psn_no)?.and_then(|n| n.member(psn_no).map(|m| m.state));
    if member != Some(MemberState::Active) {
        return Ok(Subject::Skipped("no longer a confirmed network member (T2)".into()));
    }
    let his = AccountRef::person(psn_no, PersonAccount::His);
    let available = tx.balance(&his)?;
    if available < preset {
        return Ok(Subject::Skipped(format!("HIS {available} is below the preset {preset} (T2)")));
    }
    let key = Some(format!("preset:{}:{psn_no}", ctx.business_date));
    tx.post(&JournalEntry::transfer(
        EntryKind::MutualAidTransfer,
        his,
        AccountRef::person(psn_no, PersonAccount::Mut),
        preset,
        ctx.provenance(),
        key,
        "preset HIS→MUT",
    )?)?;
    Ok(Subject::Done(preset))
}
