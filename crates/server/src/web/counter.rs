//! The counter's pages for an operator (or an admin): find a person by ID number and open their
//! pages to do network business on their behalf (N11, the operator recorded, P6); run and watch
//! the batch jobs (§10); the batch queries of the operator's area with CSV download (Q3).

use axum::body::to_bytes;
use axum::extract::State;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use gongji_core::{ErrorCode, IdNumber};
use gongji_store::Store;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

use super::layout::{confirm_form, refusal, refusal_parts, yuan, Page};
use super::messages::{channel_zh, entry_kind_zh, job_state_zh, job_zh, network_event_zh};
use super::{html_page, see_other, viewer, Session, Viewer, WebError, WebForm, WebQuery, WebResult};
use crate::auth::Role;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::jobs::{self, JobKind};
use crate::problem::{ApiError, Problem};
use crate::routes::jobs::{self as job_routes, JobRequest, JobView};
use crate::routes::queries::{self, AreaQuery};
use crate::routes::shared::parse_date;
use crate::routes::RouteTable;
use crate::state::AppState;

/// Rows per page of a batch query on screen (the CSV has them all, up to the API's limit).
const QUERY_PAGE_LEN: usize = 50;

pub fn routes<S: Store + 'static>() -> RouteTable<S> {
    RouteTable::new()
        .add(Method::GET, "/web/counter", counter_home::<S>)
        .add(Method::POST, "/web/counter", find::<S>)
        .add(Method::GET, "/web/counter/jobs", jobs_page::<S>)
        .add(Method::POST, "/web/counter/jobs", start_job::<S>)
        .add(Method::GET, "/web/counter/jobs/{id}", job_page::<S>)
        .add(Method::GET, "/web/counter/jobs/{id}/progress", job_progress::<S>)
        .add(Method::GET, "/web/counter/queries", queries_page::<S>)
        .add(Method::GET, "/web/counter/queries/csv", queries_csv::<S>)
}

/// The counter pages are for operators and admins; the API checks each action again.
async fn counter_viewer<S: Store + 'static>(state: &AppState<S>, session: &Session) -> Result<Viewer, WebError> {
    let viewer = viewer(state, session).await?;
    if !viewer.at_counter() {
        return Err(viewer.refused(ApiError::forbidden("§12", "the counter pages are for the agency's operators")));
    }
    Ok(viewer)
}

fn counter_page(viewer: &Viewer, title: &str, status: StatusCode, head: Option<Markup>, body: Markup) -> Response {
    html_page(status, Page { title, viewer: Some(viewer), head, body }.render())
}

// ---- find a person by ID number ----

#[derive(Deserialize, Default)]
struct FindForm {
    #[serde(default)]
    id_number: String,
}

async fn counter_home<S: Store + 'static>(State(state): State<AppState<S>>, session: Session) -> WebResult {
    let viewer = counter_viewer(&state, &session).await?;
    Ok(home(&viewer, &FindForm::default(), None))
}

fn home(viewer: &Viewer, form: &FindForm, refused: Option<&ApiError>) -> Response {
    let body = html! {
        h1 { "经办窗口 Counter" }
        @if let Some(err) = refused { (refusal(err)) }
        section.card {
            h2 { "查找参保人" }
            form.find method="post" action="/web/counter" {
                label for="id-number" { "身份证号码（18 位）" }
                input #id-number name="id_number" value=(form.id_number) maxlength="18" autocomplete="off" required inputmode="text" spellcheck="false";
                button.primary type="submit" { "查找" }
            }
            p.hint {
                "找到后打开这位参保人的页面，代为办理家庭共济网业务（组建、添加和删除成员、确认、调整支付顺序、退出、撤销）和历年↔共济划转。"
                "家庭共济网业务只在发起人参保地的经办窗口办理，本人持社会保障卡在场，不能代办（N9、N11）；每笔业务记录操作员编号 "
                strong { (viewer.name) } "（P6）。"
            }
        }
        section.card {
            h2 { "批处理与查询" }
            ul {
                li { a href="/web/counter/jobs" { "批处理作业：年末结算、预设划入、退费同步" } }
                li { a href="/web/counter/queries" { "批量查询：共济网建网与变更、共济账户变动（可下载 CSV）" } }
            }
        }
    };
    counter_page(viewer, "经办窗口", refused.map(|e| e.status).unwrap_or(StatusCode::OK), None, body)
}

/// Finds the person by the ID number typed (a lookup by key), checks with the API's own rule
/// that this operator may serve them (§12, N11), and opens their pages.
async fn find<S: Store + 'static>(State(state): State<AppState<S>>, session: Session, WebForm(form): WebForm<FindForm>) -> WebResult {
    let viewer = counter_viewer(&state, &session).await?;
    let typed = form.id_number.trim().to_ascii_uppercase();
    let found = match IdNumber::parse(&typed) {
        Err(err) => Err(ApiError::from(err)),
        Ok(id_number) => {
            state
                .call(session.credentials(), move |engine, caller, _| {
                    caller.may_find_persons()?;
                    let person = engine.store().read(|tx| tx.person_by_id_number(id_number.as_str()))?;
                    // An operator hears the same for a number registered in another area and
                    // for one registered nowhere (issue 12, item 8).
                    caller.may_administer_area(person.as_ref().map(|p| &p.area))?;
                    let person = person
                        .ok_or_else(|| ApiError::domain(ErrorCode::PersonNotFound, "P1", format!("no insured person with ID number {}", id_number.masked())))?;
                    Ok(person.psn_no)
                })
                .await
        }
    };
    match found {
        Ok(psn_no) => Ok(see_other(&format!("/web/persons/{psn_no}"))),
        Err(err) if err.status == StatusCode::UNAUTHORIZED => Err(WebError::SignIn),
        Err(err) => {
            err.log();
            Ok(home(&viewer, &form, Some(&err)))
        }
    }
}

// ---- batch jobs (§10) ----

#[derive(Deserialize, Default)]
struct JobForm {
    #[serde(default)]
    job: String,
    #[serde(default)]
    year: String,
    #[serde(default)]
    date: String,
    confirmed: Option<String>,
}

async fn jobs_page<S: Store + 'static>(State(state): State<AppState<S>>, session: Session) -> WebResult {
    let viewer = counter_viewer(&state, &session).await?;
    jobs_response(&state, &session, &viewer, &JobForm::default(), None).await
}

async fn jobs_response<S: Store + 'static>(state: &AppState<S>, session: &Session, viewer: &Viewer, form: &JobForm, refused: Option<&ApiError>) -> WebResult {
    let list = job_routes::list_jobs(State(state.clone()), session.credentials()).await.map_err(|e| viewer.refused(e))?.0;
    let today = state.business_date();
    // B1: the year offered is the one whose year-end may run now.
    let default_year = state
        .call(session.credentials(), |engine, caller, today| {
            caller.may_run_jobs()?;
            jobs::year_end_year(engine, today)
        })
        .await
        .map_err(|e| viewer.refused(e))?
        .to_string();
    let value = |kind: &str, field: &str, default: String| -> String {
        if form.job == kind {
            let typed = if field == "year" { &form.year } else { &form.date };
            typed.clone()
        } else {
            default
        }
    };
    let body = html! {
        h1 { "批处理作业 Jobs" }
        @if let Some(err) = refused { (refusal(err)) }
        p.hint { "作业对所有统筹区运行；同一期间重复运行不会重复记账（幂等），中断后再运行会从断点继续（§10）。同一时间只运行一个作业。" }
        div.job-forms {
            form.card method="post" action="/web/counter/jobs" {
                h2 { (job_zh("year_end")) }
                input type="hidden" name="job" value="year_end";
                label for="year" { "年度" }
                input #year name="year" value=(value("year_end", "year", default_year.clone())) inputmode="numeric" required;
                button.primary type="submit" { "运行…" }
            }
            form.card method="post" action="/web/counter/jobs" {
                h2 { (job_zh("preset")) }
                input type="hidden" name="job" value="preset";
                label for="preset-date" { "划入日期（政策的预设日）" }
                input #preset-date type="date" name="date" value=(value("preset", "date", today.to_string())) required;
                button.primary type="submit" { "运行…" }
            }
            form.card method="post" action="/web/counter/jobs" {
                h2 { (job_zh("refund_sync")) }
                input type="hidden" name="job" value="refund_sync";
                label for="sync-date" { "同步日期（前一天及以前的暂存退款）" }
                input #sync-date type="date" name="date" value=(value("refund_sync", "date", today.to_string())) required;
                button.primary type="submit" { "运行…" }
            }
        }
        section.card {
            h2 { "本次服务启动以来的作业" }
            @if list.items.is_empty() {
                p.hint { "还没有运行过作业。" }
            } @else {
                table.jobs {
                    thead { tr { th { "编号" } th { "作业" } th { "期间" } th { "状态" } th.num { "已处理" } th { "启动人" } } }
                    tbody {
                        @for job in &list.items {
                            tr data-job=(job.id) data-state=(job.state) {
                                td { a href={ "/web/counter/jobs/" (job.id) } { "#" (job.id) } }
                                td { (job_zh(&job.job)) }
                                td { (period(job)) }
                                td { (job_state_zh(&job.state)) }
                                td.num { (job.done) }
                                td { (job.started_by) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(counter_page(viewer, "批处理作业", refused.map(|e| e.status).unwrap_or(StatusCode::OK), None, body))
}

/// An RFC 3339 time as `2024-06-01 08:00:00 UTC`.
fn moment(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339).map(|t| t.naive_utc().format("%Y-%m-%d %H:%M:%S UTC").to_string()).unwrap_or_else(|_| rfc3339.to_string())
}

fn period(job: &JobView) -> String {
    match (job.year, &job.date) {
        (Some(year), _) => format!("{year} 年"),
        (None, Some(date)) => date.clone(),
        (None, None) => String::new(),
    }
}

async fn start_job<S: Store + 'static>(State(state): State<AppState<S>>, session: Session, WebForm(form): WebForm<JobForm>) -> WebResult {
    let viewer = counter_viewer(&state, &session).await?;
    let kind = JobKind::parse(&form.job);
    let parsed = match kind {
        None => Err(ApiError::input("choose a job")),
        Some(JobKind::YearEnd) => {
            form.year.trim().parse::<i32>().map(|y| (Some(y), None)).map_err(|_| ApiError::input(format!("the year is a number, not {:?}", form.year)))
        }
        Some(_) => parse_date(form.date.trim(), "date").map(|d| (None, Some(d))),
    };
    let (year, date) = match parsed {
        Ok(values) => values,
        Err(err) => return jobs_response(&state, &session, &viewer, &form, Some(&err)).await,
    };
    let kind = kind.unwrap_or(JobKind::RefundSync);
    if form.confirmed.as_deref() != Some("yes") {
        // B1–B3: a job that is not due is refused before anyone confirms it (the API refuses
        // it again when started).
        let due = state
            .call(session.credentials(), move |engine, caller, today| {
                caller.may_run_jobs()?;
                jobs::check_due(engine, kind, year, date, today)
            })
            .await;
        if let Err(err) = due {
            if err.status == StatusCode::UNAUTHORIZED {
                return Err(WebError::SignIn);
            }
            return jobs_response(&state, &session, &viewer, &form, Some(&err)).await;
        }
        let summary = html! {
            p { "运行 " strong { (job_zh(kind.as_str())) } "，期间 " strong { (year.map(|y| format!("{y} 年")).or(date.map(|d| d.to_string())).unwrap_or_default()) } "？" }
            @match kind {
                JobKind::YearEnd => {
                    p.hint { "对所有统筹区的每个人：共济账户余额划回历年账户，按积数法计息记入历年账户，当年账户结转历年账户（B1）。会动用账户资金。年终结算在当年 12 月 31 日及以后才能运行，并且按年份逐年进行。" }
                }
                JobKind::Preset => { p.hint { "预设日为这一天的统筹区：把每位成员的预设金额从历年账户划入共济账户；余额不足或状态不正常的跳过并记录原因（B2、T2）。会动用账户资金。" } }
                JobKind::RefundSync => { p.hint { "把退费时暂存的共济账户款项（成员已退出共济网）返还到本人历年账户（B3、ST8）。会动用账户资金。" } }
            }
        };
        let mut fields = vec![("job", kind.as_str().to_string())];
        if let Some(y) = year {
            fields.push(("year", y.to_string()));
        }
        if let Some(d) = date {
            fields.push(("date", d.to_string()));
        }
        let body = confirm_form("/web/counter/jobs", &fields, "确认运行", "/web/counter/jobs", summary);
        return Ok(counter_page(&viewer, "确认运行作业", StatusCode::OK, None, body));
    }
    let request = JobRequest { job: kind.as_str().to_string(), year, date: date.map(|d| d.to_string()) };
    match job_routes::start_job(State(state.clone()), session.credentials(), ApiJson(request)).await {
        Ok((_, Json(view))) => Ok(see_other(&format!("/web/counter/jobs/{}", view.id))),
        Err(err) if err.status == StatusCode::UNAUTHORIZED => Err(WebError::SignIn),
        Err(err) => {
            err.log();
            jobs_response(&state, &session, &viewer, &form, Some(&err)).await
        }
    }
}

async fn job_page<S: Store + 'static>(State(state): State<AppState<S>>, session: Session, ApiPath(id): ApiPath<u64>) -> WebResult {
    let viewer = counter_viewer(&state, &session).await?;
    let job = job_routes::get_job(State(state.clone()), session.credentials(), ApiPath(id)).await.map_err(|e| viewer.refused(e))?.0;
    let running = job.state == "running";
    // Without JavaScript, the page refreshes itself while the job runs.
    let head = running.then(|| html! { noscript { meta http-equiv="refresh" content="2"; } });
    let body = html! {
        h1 { "作业 #" (job.id) " · " (job_zh(&job.job)) }
        section.card #job data-job-id=(job.id) data-state=(job.state) data-progress={ "/web/counter/jobs/" (job.id) "/progress" } {
            p { "期间 " (period(&job)) " · 启动人 " (job.started_by) " · 开始 " (moment(&job.started_at)) @if let Some(end) = &job.finished_at { " · 结束 " (moment(end)) } }
            p.state { "状态：" strong #job-state { (job_state_zh(&job.state)) } }
            @match (running, job.total) {
                (true, Some(total)) => { progress #job-progress max=(total) value=(job.done) { (job.done) "/" (total) } }
                (true, None) => { progress #job-progress {} }
                (false, _) => { progress #job-progress max="1" value="1" {} }
            }
            p { "已处理 " strong #job-done { (job.done) } @if let Some(total) = job.total { " / " (total) } " 个" }
            @if let Some(summary) = &job.summary {
                h2 { "结果" }
                table.summary {
                    tr { th { "入账的账户" } td #job-accounts { (summary.accounts) } }
                    tr { th { "金额" } td { (yuan(&summary.amount)) } }
                    tr { th { "以前已完成（这次跳过）" } td { (summary.already_done) } }
                    tr { th { "跳过" } td { (summary.skipped.len()) } }
                    tr { th { "用时" } td { (summary.elapsed_ms) " 毫秒" } }
                }
                @if !summary.skipped.is_empty() {
                    h3 { "跳过的原因" }
                    ul.skipped { @for s in &summary.skipped { li { strong { (s.subject) } "：" (s.reason) } } }
                }
            }
            @if let Some(problem) = &job.error { (problem_box(problem)) }
        }
        p { a href="/web/counter/jobs" { "返回作业列表" } }
    };
    Ok(counter_page(&viewer, "作业进度", StatusCode::OK, head, body))
}

fn problem_box(problem: &Problem) -> Markup {
    refusal_parts(&problem.code, &problem.rule, &problem.detail)
}

/// The job's progress as JSON (the API's own view), for the page's script.
async fn job_progress<S: Store + 'static>(State(state): State<AppState<S>>, session: Session, ApiPath(id): ApiPath<u64>) -> Response {
    match job_routes::get_job(State(state.clone()), session.credentials(), ApiPath(id)).await {
        Ok(view) => view.into_response(),
        Err(err) => err.into_response(),
    }
}

// ---- batch queries (Q3) ----

#[derive(Deserialize, Default)]
struct QueryForm {
    kind: Option<String>,
    area: Option<String>,
    from: Option<String>,
    to: Option<String>,
    offset: Option<usize>,
}

const KINDS: [(&str, &str); 2] = [("network-events", "共济网建网与变更查询"), ("mut-movements", "共济账户变动查询")];

impl QueryForm {
    fn kind(&self) -> &'static str {
        match self.kind.as_deref() {
            Some("mut-movements") => "mut-movements",
            _ => "network-events",
        }
    }

    fn area(&self, viewer: &Viewer) -> String {
        match viewer.role {
            Role::Operator => viewer.area.clone().unwrap_or_default(),
            _ => self.area.clone().unwrap_or_default().trim().to_string(),
        }
    }
}

/// Calls the API's batch query handler: JSON page, or the CSV document.
async fn run_query<S: Store + 'static>(state: &AppState<S>, session: &Session, form: &QueryForm, area: String, csv: bool) -> Result<Response, ApiError> {
    let query = AreaQuery {
        from: form.from.clone().unwrap_or_default(),
        to: form.to.clone().unwrap_or_default(),
        limit: if csv { None } else { Some(QUERY_PAGE_LEN) },
        offset: if csv { None } else { form.offset },
        format: Some(if csv { "csv" } else { "json" }.to_string()),
    };
    match form.kind() {
        "mut-movements" => queries::mut_movements(State(state.clone()), session.credentials(), ApiPath(area), ApiQuery(query)).await,
        _ => queries::network_events(State(state.clone()), session.credentials(), ApiPath(area), ApiQuery(query)).await,
    }
}

async fn queries_page<S: Store + 'static>(State(state): State<AppState<S>>, session: Session, WebQuery(form): WebQuery<QueryForm>) -> WebResult {
    let viewer = counter_viewer(&state, &session).await?;
    let area = form.area(&viewer);
    let today = state.business_date();
    let asked = form.from.is_some() && form.to.is_some();
    let mut refused = None;
    let mut page: Option<Value> = None;
    if asked {
        match run_query(&state, &session, &form, area.clone(), false).await {
            Ok(response) => match to_bytes(response.into_body(), usize::MAX).await.ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok()) {
                Some(value) => page = Some(value),
                None => refused = Some(ApiError::internal("the batch query's answer could not be read")),
            },
            Err(err) if err.status == StatusCode::UNAUTHORIZED => return Err(WebError::SignIn),
            Err(err) => {
                err.log();
                refused = Some(err);
            }
        }
    }
    let kind = form.kind();
    let from = form.from.clone().unwrap_or_else(|| format!("{}-01-01", chrono::Datelike::year(&today)));
    let to = form.to.clone().unwrap_or_else(|| today.to_string());
    let csv_link = format!("/web/counter/queries/csv?kind={kind}&area={area}&from={from}&to={to}");
    let body = html! {
        h1 { "批量查询 Q3" }
        @if let Some(err) = &refused { (refusal(err)) }
        form.card.query method="get" action="/web/counter/queries" {
            label for="kind" { "查询" }
            select #kind name="kind" {
                @for (value, label) in KINDS { option value=(value) selected[value == kind] { (label) } }
            }
            label for="area" { "统筹区" }
            @if viewer.role == Role::Operator {
                input #area name="area" value=(area) readonly;
            } @else {
                input #area name="area" value=(area) inputmode="numeric" maxlength="6" required;
            }
            label for="from" { "从" }
            input #from type="date" name="from" value=(from) required;
            label for="to" { "到" }
            input #to type="date" name="to" value=(to) required;
            button.primary type="submit" { "查询" }
        }
        @if let Some(page) = &page {
            @let total = page["total"].as_u64().unwrap_or(0);
            @let offset = page["offset"].as_u64().unwrap_or(0);
            @let items = page["items"].as_array().cloned().unwrap_or_default();
            section.card.results {
                div.heading {
                    h2 { "共 " span #total { (total) } " 条" @if total > 0 { "，第 " (offset + 1) "–" (offset + items.len() as u64) " 条" } }
                    a.button #csv href=(csv_link) download { "下载 CSV" }
                }
                @if kind == "network-events" { (events_table(&items)) } @else { (movements_table(&items)) }
                nav.pages {
                    @if offset > 0 {
                        a href={ "/web/counter/queries?kind=" (kind) "&area=" (area) "&from=" (from) "&to=" (to) "&offset=" (offset.saturating_sub(QUERY_PAGE_LEN as u64)) } { "‹ 上一页" }
                    }
                    @if let Some(next) = page["next_offset"].as_u64() {
                        a href={ "/web/counter/queries?kind=" (kind) "&area=" (area) "&from=" (from) "&to=" (to) "&offset=" (next) } { "下一页 ›" }
                    }
                }
            }
        }
    };
    Ok(counter_page(&viewer, "批量查询", refused.as_ref().map(|e| e.status).unwrap_or(StatusCode::OK), None, body))
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn events_table(items: &[Value]) -> Markup {
    html! {
        table.events {
            thead { tr { th { "日期" } th { "事件" } th { "共济网" } th { "对象" } th { "说明" } th { "办理人" } th { "渠道" } } }
            tbody {
                @for e in items {
                    tr data-kind=(text(&e["kind"])) {
                        td.date { (text(&e["business_date"])) }
                        td { (network_event_zh(&text(&e["kind"]))) }
                        td.num { (text(&e["network_id"])) }
                        td { (text(&e["subject"])) }
                        td { small { (text(&e["detail"])) } }
                        td { (text(&e["actor"])) }
                        td { (channel_zh(&text(&e["channel"]))) }
                    }
                }
            }
        }
    }
}

fn movements_table(items: &[Value]) -> Markup {
    html! {
        table.movements {
            thead { tr { th { "日期" } th { "个人编号" } th { "类型" } th.num { "金额（元）" } th { "办理人" } th { "渠道" } } }
            tbody {
                @for m in items {
                    tr {
                        td.date { (text(&m["business_date"])) }
                        td { (text(&m["psn_no"])) }
                        td { (entry_kind_zh(&text(&m["kind"]))) }
                        td.num { (text(&m["amount"])) }
                        td { (text(&m["actor"])) }
                        td { (channel_zh(&text(&m["channel"]))) }
                    }
                }
            }
        }
    }
}

/// The CSV of the API, as a download.
async fn queries_csv<S: Store + 'static>(State(state): State<AppState<S>>, session: Session, WebQuery(form): WebQuery<QueryForm>) -> WebResult {
    let viewer = counter_viewer(&state, &session).await?;
    let area = form.area(&viewer);
    let mut response = run_query(&state, &session, &form, area.clone(), true).await.map_err(|e| viewer.refused(e))?;
    let name = format!(
        "attachment; filename=\"{}-{}-{}-{}.csv\"",
        form.kind(),
        area.chars().filter(char::is_ascii_digit).collect::<String>(),
        form.from.as_deref().unwrap_or("").chars().filter(|c| c.is_ascii_digit() || *c == '-').collect::<String>(),
        form.to.as_deref().unwrap_or("").chars().filter(|c| c.is_ascii_digit() || *c == '-').collect::<String>()
    );
    if let Ok(value) = HeaderValue::from_str(&name) {
        response.headers_mut().insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
