//! Batch jobs over HTTP (§10: B1 year-end, B2 presets, B3 refund sync), for the agency's
//! operators and admins. `POST /api/v1/jobs` starts a job on a background thread of its own and
//! answers at once (202) with the job's id; `GET /api/v1/jobs/{id}` shows its progress and, once
//! finished, its summary (accounts, amount, skipped with reasons, time) or its error.
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

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use gongji_engine::jobs::{JobHooks, JobSummary};
use gongji_engine::Engine;
use gongji_store::Store;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Credentials;
use crate::extract::{ApiJson, ApiPath};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::wire::parse_date;
use crate::AppState;

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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    /// `year_end` (B1, needs `year`), `preset` (B2) or `refund_sync` (B3); the last two run for
    /// `date`, the server's business date when absent.
    pub job: String,
    pub year: Option<i32>,
    /// `YYYY-MM-DD`.
    pub date: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SkippedView {
    /// The person (psn_no) or planning area skipped.
    pub subject: String,
    pub reason: String,
}

/// What a finished job did (§10: accounts touched, amounts, skipped with reasons, time).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobSummaryView {
    pub accounts: u64,
    pub amount: String,
    pub skipped: Vec<SkippedView>,
    /// Subjects an earlier (possibly interrupted) run of the same period had done.
    pub already_done: u64,
    pub elapsed_ms: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobView {
    pub id: u64,
    /// `year_end`, `preset` or `refund_sync`.
    pub job: String,
    pub year: Option<i32>,
    pub date: Option<String>,
    /// `running`, `done` or `failed`.
    pub state: String,
    /// Subjects (persons, holdings) done so far.
    pub done: u64,
    /// Subjects in all, when the job knows it in advance (refund sync); otherwise `null`.
    pub total: Option<u64>,
    /// Role and name of the token that started it.
    pub started_by: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub summary: Option<JobSummaryView>,
    pub error: Option<Problem>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobListView {
    /// Newest first.
    pub items: Vec<JobView>,
}

enum Outcome {
    Running,
    Done(JobSummaryView),
    Failed(Problem),
}

/// One run of a job, shared between its thread and the readers of its progress.
pub struct JobRun {
    id: u64,
    kind: JobKind,
    year: Option<i32>,
    date: Option<NaiveDate>,
    /// The business date the job was started on (B1–B3: nothing runs before its day).
    today: NaiveDate,
    started_by: String,
    started_at: DateTime<Utc>,
    done: AtomicU64,
    total: AtomicU64,
    finish: Mutex<(Outcome, Option<DateTime<Utc>>)>,
}

impl JobRun {
    fn is_running(&self) -> bool {
        matches!(lock(&self.finish).0, Outcome::Running)
    }

    fn progress(&self, done: u64, total: u64) {
        self.done.store(done, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
    }

    pub fn view(&self) -> JobView {
        let finish = lock(&self.finish);
        let total = self.total.load(Ordering::Relaxed);
        let (state, summary, error) = match &finish.0 {
            Outcome::Running => ("running", None, None),
            Outcome::Done(summary) => ("done", Some(summary.clone()), None),
            Outcome::Failed(problem) => ("failed", None, Some(problem.clone())),
        };
        JobView {
            id: self.id,
            job: self.kind.as_str().into(),
            year: self.year,
            date: self.date.map(|d| d.to_string()),
            state: state.into(),
            done: self.done.load(Ordering::Relaxed),
            total: (total > 0).then_some(total),
            started_by: self.started_by.clone(),
            started_at: self.started_at.to_rfc3339(),
            finished_at: finish.1.map(|t| t.to_rfc3339()),
            summary,
            error,
        }
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
            finish: Mutex::new((Outcome::Running, None)),
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
                        tracing::info!(accounts = summary.accounts, skipped = summary.skipped.len(), elapsed_ms = summary.elapsed_ms, "job done");
                        Outcome::Done(summary)
                    }
                    Err(err) => {
                        err.log();
                        Outcome::Failed(err.problem())
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

fn execute<S: Store>(engine: &Engine<S>, run: &JobRun) -> ApiResult<JobSummaryView> {
    let progress = |done: u64, total: u64| run.progress(done, total);
    let hooks = JobHooks { progress: &progress, ..JobHooks::default() };
    let summary: JobSummary = match run.kind {
        JobKind::YearEnd => engine.run_year_end(run.year.ok_or_else(|| ApiError::input("year_end needs a year"))?, run.today, &hooks)?,
        JobKind::Preset => engine.run_presets(run.date.ok_or_else(|| ApiError::input("preset needs a date"))?, run.today, &hooks)?,
        JobKind::RefundSync => engine.run_refund_sync(run.date.ok_or_else(|| ApiError::input("refund_sync needs a date"))?, run.today, &progress)?,
    };
    Ok(JobSummaryView {
        accounts: summary.accounts,
        amount: summary.amount.to_string(),
        skipped: summary.skipped.into_iter().map(|(subject, reason)| SkippedView { subject, reason }).collect(),
        already_done: summary.already_done,
        elapsed_ms: summary.elapsed.as_millis() as u64,
    })
}

/// B1–B3: start a batch job on a background thread; poll `GET /api/v1/jobs/{id}` for progress.
#[utoipa::path(post, path = "/api/v1/jobs", tag = "jobs", request_body = JobRequest,
    responses((status = 202, body = JobView), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn start_job<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiJson(request): ApiJson<JobRequest>,
) -> ApiResult<(StatusCode, Json<JobView>)> {
    let kind = JobKind::parse(&request.job).ok_or_else(|| ApiError::input(format!("job is year_end, preset or refund_sync, not {:?}", request.job)))?;
    let date = request.date.as_deref().map(|d| parse_date(d, "date")).transpose()?;
    let (year, date) = match kind {
        JobKind::YearEnd => {
            if date.is_some() {
                return Err(ApiError::input("year_end takes a year, not a date"));
            }
            let year = request.year.ok_or_else(|| ApiError::input("year_end needs a year"))?;
            if NaiveDate::from_ymd_opt(year, 12, 31).is_none() {
                return Err(ApiError::input(format!("no such year {year}")));
            }
            (Some(year), None)
        }
        JobKind::Preset | JobKind::RefundSync => {
            if request.year.is_some() {
                return Err(ApiError::input(format!("{} takes a date, not a year", kind.as_str())));
            }
            (None, Some(date.unwrap_or_else(|| state.business_date())))
        }
    };
    let engine = state.engine.clone();
    let registry = state.jobs.clone();
    let view = state
        .call(credentials, move |engine_ref, caller, today| {
            caller.may_run_jobs()?;
            // B1–B3: a job that is not due is refused here, before a thread starts.
            check_due(engine_ref, kind, year, date, today)?;
            let started_by = format!("{} {}", caller.role().as_str(), caller.spec.name);
            Ok(registry.start(engine, kind, year, date, today, started_by)?.view())
        })
        .await?;
    Ok((StatusCode::ACCEPTED, Json(view)))
}

/// The jobs started since the server started, newest first.
#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs",
    responses((status = 200, body = JobListView), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list_jobs<S: Store + 'static>(State(state): State<AppState<S>>, credentials: Credentials) -> ApiResult<Json<JobListView>> {
    let registry = state.jobs.clone();
    let view = state
        .call(credentials, move |_, caller, _| {
            caller.may_run_jobs()?;
            Ok(JobListView { items: registry.list().iter().map(|r| r.view()).collect() })
        })
        .await?;
    Ok(Json(view))
}

/// One job: progress while it runs; its summary or error when it has finished.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "jobs", params(("id" = u64, Path)),
    responses((status = 200, body = JobView), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_job<S: Store + 'static>(State(state): State<AppState<S>>, credentials: Credentials, ApiPath(id): ApiPath<u64>) -> ApiResult<Json<JobView>> {
    let registry = state.jobs.clone();
    let view = state
        .call(credentials, move |_, caller, _| {
            caller.may_run_jobs()?;
            let run = registry
                .get(id)
                .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, job_code::NOT_FOUND, "", format!("no job {id} since the server started")))?;
            Ok(run.view())
        })
        .await?;
    Ok(Json(view))
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
