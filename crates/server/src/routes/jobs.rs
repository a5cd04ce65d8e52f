//! Batch jobs over HTTP (§10: B1 year-end, B2 presets, B3 refund sync), for the agency's
//! operators and admins. `POST /api/v1/jobs` starts a job on a background thread of its own
//! ([`crate::jobs`]) and answers at once (202) with the job's id; `GET /api/v1/jobs/{id}` shows
//! its progress and, once finished, its summary (accounts, amount, skipped with reasons, time)
//! or its error.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::Json;
use chrono::NaiveDate;
use gongji_engine::jobs::JobSummary;
use gongji_store::Store;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::shared::parse_date;
use super::table::RouteTable;
use crate::auth::Credentials;
use crate::extract::{ApiJson, ApiPath};
use crate::jobs::{check_due, job_code, JobKind, JobOutcome, JobRun};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::AppState;

pub fn routes<S: Store + 'static>() -> RouteTable<S> {
    RouteTable::new().add(Method::POST, "/api/v1/jobs", start_job::<S>).add(Method::GET, "/api/v1/jobs", list_jobs::<S>).add(
        Method::GET,
        "/api/v1/jobs/{id}",
        get_job::<S>,
    )
}

/// This module's part of the OpenAPI document ([`crate::openapi`]).
#[derive(OpenApi)]
#[openapi(
    paths(start_job, list_jobs, get_job),
    components(schemas(JobRequest, JobView, JobListView, JobSummaryView, SkippedView)),
    tags((name = "jobs", description = "Batch jobs: year-end, presets, refund sync (B1-B3), with progress"))
)]
pub struct JobsApi;

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

/// A run as answered: its progress and, once finished, its summary or its problem.
pub fn job_view(run: &JobRun) -> JobView {
    let progress = run.progress();
    let (state, summary, error) = match progress.outcome {
        JobOutcome::Running => ("running", None, None),
        JobOutcome::Done(summary) => ("done", Some(summary_view(summary)), None),
        JobOutcome::Failed(problem) => ("failed", None, Some(problem)),
    };
    JobView {
        id: run.id,
        job: run.kind.as_str().into(),
        year: run.year,
        date: run.date.map(|d| d.to_string()),
        state: state.into(),
        done: progress.done,
        total: (progress.total > 0).then_some(progress.total),
        started_by: run.started_by.clone(),
        started_at: run.started_at.to_rfc3339(),
        finished_at: progress.finished_at.map(|t| t.to_rfc3339()),
        summary,
        error,
    }
}

fn summary_view(summary: JobSummary) -> JobSummaryView {
    JobSummaryView {
        accounts: summary.accounts,
        amount: summary.amount.to_string(),
        skipped: summary.skipped.into_iter().map(|(subject, reason)| SkippedView { subject, reason }).collect(),
        already_done: summary.already_done,
        elapsed_ms: summary.elapsed.as_millis() as u64,
    }
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
            Ok(job_view(&*registry.start(engine, kind, year, date, today, started_by)?))
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
            Ok(JobListView { items: registry.list().iter().map(|r| job_view(r)).collect() })
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
            Ok(job_view(&run))
        })
        .await?;
    Ok(Json(view))
}
