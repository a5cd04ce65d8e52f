//! Batch jobs started over HTTP (§10: B1 year-end, B2 presets, B3 refund sync): each run on a
//! thread of its own, with its progress and its outcome kept for the readers of
//! `GET /api/v1/jobs/{id}` (the routes are [`crate::routes::jobs`]).
//!
//! Decisions:
//! - The engine runs each job over every planning area (the jobs are agency-wide, as in the
//!   CLI); operators of any area and admins may start them. A job is idempotent for its period
//!   and resumable (job marks, idempotency keys), so whoever starts it, and however often, the
//!   ledger ends the same.
//! - One job runs at a time: a second start while one is running is refused with 409
//!   `job.running` (naming the running job), so that two people at two counters do not start the
//!   same year-end twice by accident and progress stays readable.
//! - The list of runs lives in memory (the last [`JOB_RUNS_KEPT`]). A job interrupted by a restart
//!   is simply started again: it skips what its earlier run committed.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use gongji_engine::jobs::{JobHooks, JobSummary};
use gongji_engine::Engine;
use gongji_store::Store;

use crate::problem::{ApiError, ApiResult, Problem};

/// Finished runs kept for `GET /api/v1/jobs`.
pub const JOB_RUNS_KEPT: usize = 100;

/// Codes the jobs endpoints add to SPEC §14.
pub mod job_code {
    /// Another job is still running.
    pub const RUNNING: &str = "job.running";
    /// No job with this id since the server started.
    pub const NOT_FOUND: &str = "job.not_found";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// B1, for a year.
    YearEnd,
    /// B2 (T2), for a date.
    Preset,
    /// B3 (ST8), for a date.
    RefundSync,
}

impl JobKind {
    pub const ALL: [JobKind; 3] = [JobKind::YearEnd, JobKind::Preset, JobKind::RefundSync];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::YearEnd => "year_end",
            JobKind::Preset => "preset",
            JobKind::RefundSync => "refund_sync",
        }
    }

    /// `year_end`, `preset`, `refund_sync` (the CLI's `year-end` and `refund-sync` too).
    pub fn parse(text: &str) -> Option<JobKind> {
        match text {
            "year_end" | "year-end" => Some(JobKind::YearEnd),
            "preset" => Some(JobKind::Preset),
            "refund_sync" | "refund-sync" => Some(JobKind::RefundSync),
            _ => None,
        }
    }
}

/// How a run stands: running, done with what the engine reports, or failed with its problem.
#[derive(Debug, Clone)]
pub enum JobOutcome {
    Running,
    Done(JobSummary),
    Failed(Problem),
}

/// A run at one moment: its outcome so far, when it finished, and its progress counters.
#[derive(Debug, Clone)]
pub struct JobProgress {
    pub outcome: JobOutcome,
    pub finished_at: Option<DateTime<Utc>>,
    /// Subjects (persons, holdings) done so far.
    pub done: u64,
    /// Subjects in all where the job knows it in advance (refund sync), else 0.
    pub total: u64,
}

/// One run of a job, shared between its thread and the readers of its progress.
pub struct JobRun {
    pub id: u64,
    pub kind: JobKind,
    pub year: Option<i32>,
    pub date: Option<NaiveDate>,
    /// The business date the job was started on (B1–B3: nothing runs before its day).
    pub today: NaiveDate,
    /// Role and name of the token that started it.
    pub started_by: String,
    pub started_at: DateTime<Utc>,
    done: AtomicU64,
    total: AtomicU64,
    finish: Mutex<(JobOutcome, Option<DateTime<Utc>>)>,
}

impl JobRun {
    fn is_running(&self) -> bool {
        matches!(lock(&self.finish).0, JobOutcome::Running)
    }

    fn advance(&self, done: u64, total: u64) {
        self.done.store(done, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
    }

    /// Where the run stands now.
    pub fn progress(&self) -> JobProgress {
        let finish = lock(&self.finish);
        let total = self.total.load(Ordering::Relaxed);
        JobProgress { outcome: finish.0.clone(), finished_at: finish.1, done: self.done.load(Ordering::Relaxed), total }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The runs since the server started (the last [`JOB_RUNS_KEPT`]).
#[derive(Default)]
pub struct JobRegistry {
    runs: Mutex<VecDeque<Arc<JobRun>>>,
    next_id: AtomicU64,
}

impl JobRegistry {
    /// Starts `kind` on a thread of its own, unless a job is running.
    pub fn start<S: Store + 'static>(
        &self,
        engine: Arc<Engine<S>>,
        kind: JobKind,
        year: Option<i32>,
        date: Option<NaiveDate>,
        today: NaiveDate,
        started_by: String,
    ) -> ApiResult<Arc<JobRun>> {
        let mut runs = lock(&self.runs);
        if let Some(running) = runs.iter().find(|r| r.is_running()) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                job_code::RUNNING,
                "§10",
                format!("job {} ({}) is still running; start another when it has finished", running.id, running.kind.as_str()),
            ));
        }
        let run = Arc::new(JobRun {
            id: self.next_id.fetch_add(1, Ordering::Relaxed) + 1,
            kind,
            year,
            date,
            today,
            started_by,
            started_at: Utc::now(),
            done: AtomicU64::new(0),
            total: AtomicU64::new(0),
            finish: Mutex::new((JobOutcome::Running, None)),
        });
        let worker = run.clone();
        let span = tracing::info_span!("job", id = run.id, job = kind.as_str());
        std::thread::Builder::new()
            .name(format!("gongji-job-{}", run.id))
            .spawn(move || {
                let _entered = span.enter();
                tracing::info!(started_by = ?worker.started_by, "job started");
                let result = std::panic::catch_unwind(AssertUnwindSafe(|| execute(&engine, &worker)))
                    .unwrap_or_else(|_| Err(ApiError::internal("the job's thread panicked")));
                let outcome = match result {
                    Ok(summary) => {
                        tracing::info!(
                            accounts = summary.accounts,
                            skipped = summary.skipped.len(),
                            elapsed_ms = summary.elapsed.as_millis() as u64,
                            "job done"
                        );
                        JobOutcome::Done(summary)
                    }
                    Err(err) => {
                        err.log();
                        JobOutcome::Failed(err.problem())
                    }
                };
                *lock(&worker.finish) = (outcome, Some(Utc::now()));
            })
            .map_err(|err| ApiError::internal(format!("cannot start a job thread: {err}")))?;
        runs.push_front(run.clone());
        while runs.len() > JOB_RUNS_KEPT {
            runs.pop_back();
        }
        Ok(run)
    }

    pub fn get(&self, id: u64) -> Option<Arc<JobRun>> {
        lock(&self.runs).iter().find(|r| r.id == id).cloned()
    }

    /// Newest first.
    pub fn list(&self) -> Vec<Arc<JobRun>> {
        lock(&self.runs).iter().cloned().collect()
    }
}

fn execute<S: Store>(engine: &Engine<S>, run: &JobRun) -> ApiResult<JobSummary> {
    let progress = |done: u64, total: u64| run.advance(done, total);
    let hooks = JobHooks { progress: &progress, ..JobHooks::default() };
    Ok(match run.kind {
        JobKind::YearEnd => engine.run_year_end(run.year.ok_or_else(|| ApiError::input("year_end needs a year"))?, run.today, &hooks)?,
        JobKind::Preset => engine.run_presets(run.date.ok_or_else(|| ApiError::input("preset needs a date"))?, run.today, &hooks)?,
        JobKind::RefundSync => engine.run_refund_sync(run.date.ok_or_else(|| ApiError::input("refund_sync needs a date"))?, run.today, &progress)?,
    })
}

/// B1–B3: whether the job may run on the business date `today` (`job.not_due` if not).
pub fn check_due<S: Store>(engine: &Engine<S>, kind: JobKind, year: Option<i32>, date: Option<NaiveDate>, today: NaiveDate) -> ApiResult<()> {
    match (kind, year, date) {
        (JobKind::YearEnd, Some(year), _) => engine.year_end_due(year, today)?,
        (_, _, Some(date)) => engine.job_date_due(kind.as_str(), date, today)?,
        _ => {}
    }
    Ok(())
}

/// The year a year-end run is for on `today`: the one that may run now (B1: the first year not
/// done), or else the last full year before `today`.
pub fn year_end_year<S: Store>(engine: &Engine<S>, today: NaiveDate) -> ApiResult<i32> {
    Ok(engine.year_end_next(today)?.unwrap_or(today.year() - 1))
}
