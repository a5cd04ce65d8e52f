//! Statements and the agency's queries: Q2 (one account's postings in a date range), Q3 (the
//! network events and MUT movements of an area, as JSON pages or CSV), P4 (the audit, for
//! admins).

use axum::extract::State;
use axum::http::{header, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDate;
use gongji_core::{AccountRef, AreaCode};
use gongji_engine::Engine;
use gongji_store::{MutMovement, NetworkEvent, StatementLine, Store};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::shared::{parse_account, parse_date, readable_person, PAGE_LEN_DEFAULT, PAGE_LEN_MAX};
use super::table::RouteTable;
use crate::auth::Credentials;
use crate::extract::{ApiPath, ApiQuery};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::AppState;

pub fn routes<S: Store + 'static>() -> RouteTable<S> {
    RouteTable::new()
        .add(Method::GET, "/api/v1/persons/{psn_no}/statement", statement::<S>)
        .add(Method::GET, "/api/v1/areas/{area}/network-events", network_events::<S>)
        .add(Method::GET, "/api/v1/areas/{area}/mut-movements", mut_movements::<S>)
        .add(Method::GET, "/api/v1/audit", audit::<S>)
}

/// This module's part of the OpenAPI document ([`crate::openapi`]).
#[derive(OpenApi)]
#[openapi(
    paths(statement, network_events, mut_movements, audit),
    components(schemas(StatementView, StatementLineView, NetworkEventsPage, NetworkEventView, MutMovementsPage, MutMovementView, AuditView)),
    tags((name = "queries", description = "Statements and batch queries (Q2, Q3), audit (P4)"))
)]
pub struct QueriesApi;

// ---- requests ----

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatementQuery {
    /// `cur`, `his` or `mut`.
    pub account: String,
    /// First day, `YYYY-MM-DD`.
    pub from: String,
    /// Last day, `YYYY-MM-DD`.
    pub to: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AreaQuery {
    /// First day, `YYYY-MM-DD`.
    pub from: String,
    /// Last day, `YYYY-MM-DD`.
    pub to: String,
    /// Rows per page: 100 by default for JSON, everything up to 10000 for CSV.
    pub limit: Option<usize>,
    /// Rows to skip (the `next_offset` of the previous page).
    pub offset: Option<usize>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

// ---- responses ----

#[derive(Debug, Serialize, ToSchema)]
pub struct StatementLineView {
    pub entry_id: i64,
    pub kind: String,
    pub business_date: String,
    pub amount: String,
    pub memo: String,
}

/// Q2: postings of one account in a date range.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatementView {
    pub psn_no: String,
    pub account: String,
    pub from: String,
    pub to: String,
    pub lines: Vec<StatementLineView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NetworkEventView {
    pub id: i64,
    pub network_id: i64,
    pub business_date: String,
    /// `created`, `member_added`, `member_confirmed`, `member_removed`, `member_left`, `reordered`, `dissolved`.
    pub kind: String,
    pub subject: Option<String>,
    pub detail: String,
    pub actor: String,
    pub channel: String,
    pub recorded_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NetworkEventsPage {
    pub items: Vec<NetworkEventView>,
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    /// The `offset` of the next page; `null` on the last page.
    pub next_offset: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MutMovementView {
    pub entry_id: i64,
    pub business_date: String,
    pub psn_no: String,
    pub kind: String,
    pub amount: String,
    pub actor: String,
    pub channel: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MutMovementsPage {
    pub items: Vec<MutMovementView>,
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    pub next_offset: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub accounts: u64,
    pub entries: u64,
    pub postings: u64,
    pub ledger_total: String,
    pub mismatched: usize,
    pub unbalanced_entries: usize,
    pub negative: usize,
    /// ST10, B1: accounts whose balance or daily-balance product is outside its admitted range.
    pub out_of_range: usize,
    pub clean: bool,
}

// ---- handlers ----

/// Q2: postings of one of the person's accounts in a date range.
#[utoipa::path(get, path = "/api/v1/persons/{psn_no}/statement", tag = "queries", params(("psn_no" = String, Path), StatementQuery),
    responses((status = 200, body = StatementView), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn statement<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiPath(psn_no): ApiPath<String>,
    ApiQuery(query): ApiQuery<StatementQuery>,
) -> ApiResult<Json<StatementView>> {
    let account = parse_account(&query.account)?;
    let from = parse_date(&query.from, "from")?;
    let to = parse_date(&query.to, "to")?;
    let view = state
        .call(credentials, move |engine, caller, _| {
            readable_person(engine, caller, &psn_no)?;
            let lines = engine.statement(&AccountRef::person(&psn_no, account), from, to)?;
            Ok(StatementView {
                psn_no,
                account: account.as_str().into(),
                from: from.to_string(),
                to: to.to_string(),
                lines: lines.iter().map(statement_line).collect(),
            })
        })
        .await?;
    Ok(Json(view))
}

/// Q3: network creations, membership and order changes of an area; JSON pages or CSV.
#[utoipa::path(get, path = "/api/v1/areas/{area}/network-events", tag = "queries", params(("area" = String, Path), AreaQuery),
    responses((status = 200, body = NetworkEventsPage, description = "JSON page, or text/csv with format=csv"), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn network_events<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiPath(area): ApiPath<String>,
    ApiQuery(query): ApiQuery<AreaQuery>,
) -> ApiResult<Response> {
    let (rows, total, page) =
        area_page(&state, credentials, &area, &query, |engine, area, from, to| engine.network_events(area, from, to), network_event).await?;
    let next_offset = page.next_offset(rows.len(), total);
    if page.csv {
        return csv_response(&NETWORK_EVENT_CSV_HEADER, rows.iter().map(network_event_row), next_offset);
    }
    Ok(Json(NetworkEventsPage { items: rows, total, offset: page.offset, limit: page.limit, next_offset }).into_response())
}

/// Q3: MUT account movements of an area's persons; JSON pages or CSV.
#[utoipa::path(get, path = "/api/v1/areas/{area}/mut-movements", tag = "queries", params(("area" = String, Path), AreaQuery),
    responses((status = 200, body = MutMovementsPage, description = "JSON page, or text/csv with format=csv"), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn mut_movements<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiPath(area): ApiPath<String>,
    ApiQuery(query): ApiQuery<AreaQuery>,
) -> ApiResult<Response> {
    let (rows, total, page) =
        area_page(&state, credentials, &area, &query, |engine, area, from, to| engine.mut_movements(area, from, to), mut_movement).await?;
    let next_offset = page.next_offset(rows.len(), total);
    if page.csv {
        return csv_response(&MUT_MOVEMENT_CSV_HEADER, rows.iter().map(mut_movement_row), next_offset);
    }
    Ok(Json(MutMovementsPage { items: rows, total, offset: page.offset, limit: page.limit, next_offset }).into_response())
}

/// P4: every stored balance equals the sum of its postings; the ledger sums to zero. Admin only.
#[utoipa::path(get, path = "/api/v1/audit", tag = "queries",
    responses((status = 200, body = AuditView), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn audit<S: Store + 'static>(State(state): State<AppState<S>>, credentials: Credentials) -> ApiResult<Json<AuditView>> {
    let view = state
        .call(credentials, move |engine, caller, _| {
            caller.require_admin()?;
            let report = engine.audit()?;
            Ok(AuditView {
                accounts: report.accounts,
                entries: report.entries,
                postings: report.postings,
                ledger_total: report.ledger_total.to_string(),
                mismatched: report.mismatched.len(),
                unbalanced_entries: report.unbalanced_entries.len(),
                negative: report.negative.len(),
                out_of_range: report.out_of_range.len(),
                clean: report.is_clean(),
            })
        })
        .await?;
    Ok(Json(view))
}

// ---- paging and conversions ----

#[derive(Debug, Clone, Copy)]
struct Page {
    offset: usize,
    limit: usize,
    csv: bool,
}

impl Page {
    fn next_offset(&self, returned: usize, total: usize) -> Option<usize> {
        let next = self.offset + returned;
        (returned > 0 && next < total).then_some(next)
    }
}

/// What an area query loads: the rows of an area in a date range.
type AreaRows<S, R> = fn(&Engine<S>, &AreaCode, NaiveDate, NaiveDate) -> gongji_engine::Result<Vec<R>>;

/// Q3: one page of an area's rows, for a caller who may query that area (§12, checked before
/// anything is loaded): the rows of the page as `view` shows them, how many in all, and the page.
async fn area_page<S: Store + 'static, R: 'static, V: Send + 'static>(
    state: &AppState<S>,
    credentials: Credentials,
    area: &str,
    query: &AreaQuery,
    load: AreaRows<S, R>,
    view: fn(&R) -> V,
) -> ApiResult<(Vec<V>, usize, Page)> {
    let (area, from, to, page) = area_query(area, query)?;
    let (rows, total) = state
        .call(credentials, move |engine, caller, _| {
            caller.may_query_area(&area)?;
            let all = load(engine, &area, from, to)?;
            Ok((all.iter().skip(page.offset).take(page.limit).map(view).collect::<Vec<_>>(), all.len()))
        })
        .await?;
    Ok((rows, total, page))
}

fn area_query(area: &str, query: &AreaQuery) -> ApiResult<(AreaCode, NaiveDate, NaiveDate, Page)> {
    let area = AreaCode::parse(area)?;
    let from = parse_date(&query.from, "from")?;
    let to = parse_date(&query.to, "to")?;
    if from > to {
        return Err(ApiError::input("from is after to"));
    }
    let csv = match query.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => return Err(ApiError::input(format!("format is json or csv, not {other:?}"))),
    };
    let limit = query.limit.unwrap_or(if csv { PAGE_LEN_MAX } else { PAGE_LEN_DEFAULT });
    if limit == 0 || limit > PAGE_LEN_MAX {
        return Err(ApiError::input(format!("limit is 1..={PAGE_LEN_MAX}")));
    }
    Ok((area, from, to, Page { offset: query.offset.unwrap_or(0), limit, csv }))
}

fn csv_response<const N: usize>(header: &[&str; N], rows: impl Iterator<Item = [String; N]>, next_offset: Option<usize>) -> ApiResult<Response> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let csv_error = |err: csv::Error| ApiError::internal(format!("csv: {err}"));
    writer.write_record(header).map_err(csv_error)?;
    for row in rows {
        writer.write_record(&row).map_err(csv_error)?;
    }
    let body = writer.into_inner().map_err(|err| ApiError::internal(format!("csv: {err}")))?;
    let mut response = body.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Some(next) = next_offset {
        if let Ok(value) = HeaderValue::from_str(&next.to_string()) {
            response.headers_mut().insert("x-next-offset", value);
        }
    }
    Ok(response)
}

pub fn statement_line(line: &StatementLine) -> StatementLineView {
    StatementLineView {
        entry_id: line.entry_id,
        kind: line.kind.to_string(),
        business_date: line.business_date.to_string(),
        amount: line.amount.to_string(),
        memo: line.memo.clone(),
    }
}

pub fn network_event(event: &NetworkEvent) -> NetworkEventView {
    let e = &event.event;
    NetworkEventView {
        id: event.id,
        network_id: e.network_id,
        business_date: e.business_date.to_string(),
        kind: e.kind.as_str().to_string(),
        subject: e.subject.clone(),
        detail: e.detail.clone(),
        actor: e.actor.clone(),
        channel: e.channel.clone(),
        recorded_at: e.recorded_at.to_rfc3339(),
    }
}

pub fn mut_movement(m: &MutMovement) -> MutMovementView {
    MutMovementView {
        entry_id: m.entry_id,
        business_date: m.business_date.to_string(),
        psn_no: m.psn_no.clone(),
        kind: m.kind.to_string(),
        amount: m.amount.to_string(),
        actor: m.actor.clone(),
        channel: m.channel.clone(),
    }
}

pub const NETWORK_EVENT_CSV_HEADER: [&str; 9] = ["id", "network_id", "business_date", "kind", "subject", "detail", "actor", "channel", "recorded_at"];

pub fn network_event_row(v: &NetworkEventView) -> [String; 9] {
    [
        v.id.to_string(),
        v.network_id.to_string(),
        v.business_date.clone(),
        v.kind.clone(),
        v.subject.clone().unwrap_or_default(),
        v.detail.clone(),
        v.actor.clone(),
        v.channel.clone(),
        v.recorded_at.clone(),
    ]
}

pub const MUT_MOVEMENT_CSV_HEADER: [&str; 7] = ["entry_id", "business_date", "psn_no", "kind", "amount", "actor", "channel"];

pub fn mut_movement_row(v: &MutMovementView) -> [String; 7] {
    [v.entry_id.to_string(), v.business_date.clone(), v.psn_no.clone(), v.kind.clone(), v.amount.clone(), v.actor.clone(), v.channel.clone()]
}
