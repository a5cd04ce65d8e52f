//! The JSON API's handlers. Each parses its request (extractors refuse bad input before any
//! work), then authenticates and calls the engine on the blocking pool through
//! [`AppState::call`], and answers with a wire type or a problem.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use gongji_core::{text, AccountRef, AreaCode, ErrorCode, IdNumber, InsuranceType, Money, Person, PersonStatus};
use gongji_engine::networks::Added;
use gongji_engine::persons::Credit;
use gongji_engine::settlement::SettlementOutcome;
use gongji_engine::Engine;
use gongji_store::{Store, StoredSettlement};

use crate::auth::{Caller, Credentials, Role};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::wire::*;
use crate::AppState;

#[utoipa::path(get, path = "/health", tag = "service", responses((status = 200, body = HealthView)))]
pub async fn health<S: Store + 'static>(State(state): State<AppState<S>>) -> ApiResult<Json<HealthView>> {
    let store = state.blocking(|engine, _| engine.store().describe()).await?;
    Ok(Json(HealthView { status: "ok".into(), store }))
}

#[utoipa::path(get, path = "/openapi.json", tag = "service", responses((status = 200, description = "This API's OpenAPI document")))]
pub async fn openapi_json() -> Response {
    let mut response = crate::openapi::document_json().into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Register a person (P1): an operator of the person's area, or an admin.
#[utoipa::path(post, path = "/api/v1/persons", tag = "persons", request_body = RegisterPersonRequest,
    responses((status = 201, body = RegisteredView), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn register_person<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiJson(request): ApiJson<RegisterPersonRequest>,
) -> ApiResult<(StatusCode, Json<RegisteredView>)> {
    let person = Person {
        psn_no: request.psn_no,
        name: request.name,
        id_number: IdNumber::parse(&request.id_number)?,
        area: AreaCode::parse(&request.area)?,
        insurance: InsuranceType::parse(&request.insurance)
            .ok_or_else(|| ApiError::input(format!("insurance is employee, resident or special, not {:?}", request.insurance)))?,
        phone: request.phone,
        status: PersonStatus::Normal,
    };
    person.validate()?;
    let view = state
        .call(credentials, move |engine, caller, today| {
            caller.may_administer_area(Some(&person.area))?;
            engine.register_person(&caller.context(today), &person)?;
            Ok(RegisteredView { psn_no: person.psn_no })
        })
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Q1: balances, network, role, order and preset of one person.
#[utoipa::path(get, path = "/api/v1/persons/{psn_no}", tag = "persons", params(("psn_no" = String, Path)),
    responses((status = 200, body = PersonView), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_person<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiPath(psn_no): ApiPath<String>,
) -> ApiResult<Json<PersonView>> {
    let view = state
        .call(credentials, move |engine, caller, _| {
            caller.may_ask_about(&psn_no)?;
            let view = found(engine.person_overview(&psn_no))?;
            caller.may_read_person(&psn_no, view.as_ref().map(|v| &v.person.area))?;
            Ok(person_view(&view.ok_or_else(|| not_found(&psn_no))?))
        })
        .await?;
    Ok(Json(view))
}

/// P5: a contribution into CUR or an opening balance into HIS; idempotent by `reference`.
#[utoipa::path(post, path = "/api/v1/persons/{psn_no}/credits", tag = "persons", params(("psn_no" = String, Path)), request_body = CreditRequest,
    responses((status = 200, body = CreditView), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn credit<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiPath(psn_no): ApiPath<String>,
    ApiJson(request): ApiJson<CreditRequest>,
) -> ApiResult<Json<CreditView>> {
    let account = parse_account(&request.account)?;
    let amount = Money::parse_positive(&request.amount)?;
    let view = state
        .call(credentials, move |engine, caller, today| {
            caller.may_administer()?;
            let person = found(engine.person(&psn_no))?;
            caller.may_administer_area(person.as_ref().map(|p| &p.area))?;
            let credit = Credit { psn_no: psn_no.clone(), account, amount, reference: request.reference };
            let credited = engine.credit(&caller.context(today), &credit)?;
            Ok(CreditView { psn_no, account: account.as_str().to_string(), amount: amount.to_string(), credited })
        })
        .await?;
    Ok(Json(view))
}

/// T1: move own money HIS→MUT or MUT→HIS. Nobody moves another person's money (N9).
#[utoipa::path(post, path = "/api/v1/persons/{psn_no}/moves", tag = "transfers", params(("psn_no" = String, Path)), request_body = MoveRequest,
    responses((status = 200, body = MoveView), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn move_money<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiPath(psn_no): ApiPath<String>,
    ApiJson(request): ApiJson<MoveRequest>,
) -> ApiResult<Json<MoveView>> {
    let from = parse_account(&request.from)?;
    let to = parse_account(&request.to)?;
    let amount = Money::parse_positive(&request.amount)?;
    let view = state
        .call(credentials, move |engine, caller, today| {
            caller.may_act_for(&psn_no)?;
            let entry_id = engine.move_mutual_aid(&caller.context(today), &psn_no, from, to, amount)?;
            Ok(MoveView { entry_id, from: from.as_str().into(), to: to.as_str().into(), amount: amount.to_string() })
        })
        .await?;
    Ok(Json(view))
}

/// T2: set (or with `null` clear) the yearly preset HIS→MUT amount.
#[utoipa::path(put, path = "/api/v1/persons/{psn_no}/preset", tag = "transfers", params(("psn_no" = String, Path)), request_body = PresetRequest,
    responses((status = 204), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn set_preset<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiPath(psn_no): ApiPath<String>,
    ApiJson(request): ApiJson<PresetRequest>,
) -> ApiResult<StatusCode> {
    let amount = request.amount.as_deref().map(Money::parse_positive).transpose()?;
    state
        .call(credentials, move |engine, caller, today| {
            caller.may_act_for(&psn_no)?;
            Ok(engine.set_preset(&caller.context(today), &psn_no, amount)?)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Q4: which family money the person could use now for a burden of `amount`, and why not.
#[utoipa::path(post, path = "/api/v1/persons/{psn_no}/explain", tag = "settlement", params(("psn_no" = String, Path)), request_body = ExplainRequest,
    responses((status = 200, body = ExplainView), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn explain<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiPath(psn_no): ApiPath<String>,
    ApiJson(request): ApiJson<ExplainRequest>,
) -> ApiResult<Json<ExplainView>> {
    let visit = parse_visit(&request.visit)?;
    let amount = Money::parse_positive(&request.amount)?;
    let view = state
        .call(credentials, move |engine, caller, today| {
            readable_person(engine, caller, &psn_no)?;
            let explanation = engine.explain(&caller.context(today), &psn_no, visit, amount)?;
            Ok(Naming { patient: &psn_no, redact_family: false }.explanation(&explanation, amount))
        })
        .await?;
    Ok(Json(view))
}

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

/// N10: a member aged 16 or more confirms their own membership.
#[utoipa::path(post, path = "/api/v1/persons/{psn_no}/network/confirm", tag = "networks", params(("psn_no" = String, Path)),
    responses((status = 204), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn confirm_member<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiPath(psn_no): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state
        .call(credentials, move |engine, caller, today| {
            caller.may_act_for(&psn_no)?;
            Ok(engine.confirm_member(&caller.context(today), &psn_no)?)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// N8: a member leaves by themselves; MUT money stays theirs (T3).
#[utoipa::path(post, path = "/api/v1/persons/{psn_no}/network/leave", tag = "networks", params(("psn_no" = String, Path)),
    responses((status = 204), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn leave_network<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiPath(psn_no): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state
        .call(credentials, move |engine, caller, today| {
            caller.may_act_for(&psn_no)?;
            Ok(engine.leave(&caller.context(today), &psn_no)?)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// N1, N4, N5: found a network; the promoter is first in the payment order (N6).
#[utoipa::path(post, path = "/api/v1/networks", tag = "networks", request_body = CreateNetworkRequest,
    responses((status = 201, body = NetworkCreatedView), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create_network<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiJson(request): ApiJson<CreateNetworkRequest>,
) -> ApiResult<(StatusCode, Json<NetworkCreatedView>)> {
    let network_id = state
        .call(credentials, move |engine, caller, today| {
            caller.may_act_for(&request.promoter)?;
            Ok(engine.create_network(&caller.context(today), &request.promoter)?)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(NetworkCreatedView { network_id })))
}

/// N2, N3, N5, N7, N10: the promoter adds a member.
#[utoipa::path(post, path = "/api/v1/networks/{promoter}/members", tag = "networks", params(("promoter" = String, Path)), request_body = AddMemberRequest,
    responses((status = 200, body = MemberAddedView), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn add_member<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiPath(promoter): ApiPath<String>,
    ApiJson(request): ApiJson<AddMemberRequest>,
) -> ApiResult<Json<MemberAddedView>> {
    text::check_psn_no("member", "N2", &request.member)?;
    text::check_text("relation", "N3", &request.relation, text::RELATION_CHARS_MAX)?;
    let added = state
        .call(credentials, move |engine, caller, today| {
            caller.may_act_for(&promoter)?;
            Ok(engine.add_member(&caller.context(today), &promoter, &request.member, &request.relation)?)
        })
        .await?;
    let state = match added {
        Added::Active => "active",
        Added::PendingConfirmation => "pending",
    };
    Ok(Json(MemberAddedView { state: state.into() }))
}

/// N7: the promoter removes a member; MUT money stays the member's (T3).
#[utoipa::path(post, path = "/api/v1/networks/{promoter}/members/{member}/remove", tag = "networks", params(("promoter" = String, Path), ("member" = String, Path)),
    responses((status = 204), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn remove_member<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiPath((promoter, member)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    state
        .call(credentials, move |engine, caller, today| {
            caller.may_act_for(&promoter)?;
            Ok(engine.remove_member(&caller.context(today), &promoter, &member)?)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// N6: only the promoter sets the payment order, naming every member once.
#[utoipa::path(put, path = "/api/v1/networks/{promoter}/order", tag = "networks", params(("promoter" = String, Path)), request_body = ReorderRequest,
    responses((status = 204), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn reorder<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiPath(promoter): ApiPath<String>,
    ApiJson(request): ApiJson<ReorderRequest>,
) -> ApiResult<StatusCode> {
    state
        .call(credentials, move |engine, caller, today| {
            caller.may_act_for(&promoter)?;
            Ok(engine.reorder(&caller.context(today), &promoter, &request.order)?)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// N7: the promoter dissolves the network; every member leaves.
#[utoipa::path(post, path = "/api/v1/networks/{promoter}/dissolve", tag = "networks", params(("promoter" = String, Path)),
    responses((status = 204), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn dissolve<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiPath(promoter): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state
        .call(credentials, move |engine, caller, today| {
            caller.may_act_for(&promoter)?;
            Ok(engine.dissolve(&caller.context(today), &promoter)?)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// ST1–ST7, ST9: settle a bill of the institution; a repeat with the same content returns the
/// first result (ST6).
#[utoipa::path(post, path = "/api/v1/institutions/{institution}/bills", tag = "settlement", params(("institution" = String, Path)), request_body = BillRequest,
    responses((status = 200, body = SettlementView), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn settle<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiPath(institution): ApiPath<String>,
    ApiJson(request): ApiJson<BillRequest>,
) -> ApiResult<Json<SettlementView>> {
    settle_or_presettle(state, credentials, institution, request, true).await.map(Json)
}

/// ST5: exactly what settling would do, committing nothing.
#[utoipa::path(post, path = "/api/v1/institutions/{institution}/presettlements", tag = "settlement", params(("institution" = String, Path)), request_body = BillRequest,
    responses((status = 200, body = SettlementView), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn presettle<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiPath(institution): ApiPath<String>,
    ApiJson(request): ApiJson<BillRequest>,
) -> ApiResult<Json<SettlementView>> {
    settle_or_presettle(state, credentials, institution, request, false).await.map(Json)
}

async fn settle_or_presettle<S: Store + 'static>(
    state: AppState<S>,
    credentials: Credentials,
    institution: String,
    request: BillRequest,
    commit: bool,
) -> ApiResult<SettlementView> {
    let bill = request.to_bill(&institution, state.business_date())?;
    let queue = state.settle_queue.clone();
    state
        .call(credentials, move |engine, caller, today| {
            caller.may_bill_for(&institution)?;
            let ctx = caller.context(today);
            let outcome = if commit { queue.settle(ctx, bill.clone())? } else { engine.presettle(&ctx, &bill)? };
            Ok(naming(caller, &bill.patient).settlement(&outcome))
        })
        .await
}

/// A settled bill of the institution, as stored (with its explanation, ST7).
#[utoipa::path(get, path = "/api/v1/institutions/{institution}/bills/{bill_id}", tag = "settlement", params(("institution" = String, Path), ("bill_id" = String, Path)),
    responses((status = 200, body = SettlementView), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_bill<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiPath((institution, bill_id)): ApiPath<(String, String)>,
) -> ApiResult<Json<SettlementView>> {
    let view = state
        .call(credentials, move |engine, caller, _| {
            caller.may_bill_for(&institution)?;
            let stored = find_settlement(engine, &institution, &bill_id)?;
            stored_settlement_view(&stored, naming(caller, &stored.patient))
        })
        .await?;
    Ok(Json(view))
}

/// ST8: cancel (refund) a settled bill along its original path. An institution cancels its own
/// bills only (§12).
#[utoipa::path(post, path = "/api/v1/institutions/{institution}/bills/{bill_id}/cancel", tag = "settlement", params(("institution" = String, Path), ("bill_id" = String, Path)),
    responses((status = 200, body = CancelView), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn cancel<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiPath((institution, bill_id)): ApiPath<(String, String)>,
) -> ApiResult<Json<CancelView>> {
    let view = state
        .call(credentials, move |engine, caller, today| {
            caller.may_bill_for(&institution)?;
            let patient = find_settlement(engine, &institution, &bill_id)?.patient;
            let outcome = engine.cancel(&caller.context(today), &institution, &bill_id)?;
            Ok(naming(caller, &patient).cancel(&outcome))
        })
        .await?;
    Ok(Json(view))
}

/// Q3: network creations, membership and order changes of an area; JSON pages or CSV.
#[utoipa::path(get, path = "/api/v1/areas/{area}/network-events", tag = "queries", params(("area" = String, Path), BatchQuery),
    responses((status = 200, body = NetworkEventsPage, description = "JSON page, or text/csv with format=csv"), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn network_events<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiPath(area): ApiPath<String>,
    ApiQuery(query): ApiQuery<BatchQuery>,
) -> ApiResult<Response> {
    let (area, from, to, page) = batch_query(&area, &query)?;
    let (rows, total) = state
        .call(credentials, move |engine, caller, _| {
            caller.may_query_area(&area)?;
            let events = engine.network_events(&area, from, to)?;
            let total = events.len();
            Ok((events.iter().skip(page.offset).take(page.limit).map(network_event).collect::<Vec<_>>(), total))
        })
        .await?;
    let next_offset = page.next_offset(rows.len(), total);
    if page.csv {
        return csv_response(&NETWORK_EVENT_CSV_HEADER, rows.iter().map(network_event_row), next_offset);
    }
    Ok(Json(NetworkEventsPage { items: rows, total, offset: page.offset, limit: page.limit, next_offset }).into_response())
}

/// Q3: MUT account movements of an area's persons; JSON pages or CSV.
#[utoipa::path(get, path = "/api/v1/areas/{area}/mut-movements", tag = "queries", params(("area" = String, Path), BatchQuery),
    responses((status = 200, body = MutMovementsPage, description = "JSON page, or text/csv with format=csv"), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn mut_movements<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiPath(area): ApiPath<String>,
    ApiQuery(query): ApiQuery<BatchQuery>,
) -> ApiResult<Response> {
    let (area, from, to, page) = batch_query(&area, &query)?;
    let (rows, total) = state
        .call(credentials, move |engine, caller, _| {
            caller.may_query_area(&area)?;
            let movements = engine.mut_movements(&area, from, to)?;
            let total = movements.len();
            Ok((movements.iter().skip(page.offset).take(page.limit).map(mut_movement).collect::<Vec<_>>(), total))
        })
        .await?;
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

/// §12 (issue 12, item 8): the person `psn_no` for a caller who reads their data, checked in
/// this order: the caller's right that needs no record, the lookup, the right to the person's
/// area, and only then whether they exist, so that a caller without rights learns nothing.
pub(crate) fn readable_person<S: Store>(engine: &Engine<S>, caller: &Caller, psn_no: &str) -> ApiResult<Person> {
    caller.may_ask_about(psn_no)?;
    let person = found(engine.person(psn_no))?;
    caller.may_read_person(psn_no, person.as_ref().map(|p| &p.area))?;
    person.ok_or_else(|| not_found(psn_no))
}

/// A lookup of a person whose absence is held back (`None`) until the caller's right to know
/// is checked.
pub(crate) fn found<T>(lookup: gongji_engine::Result<T>) -> ApiResult<Option<T>> {
    match lookup {
        Ok(value) => Ok(Some(value)),
        Err(err) if err.code() == Some(ErrorCode::PersonNotFound) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

fn not_found(psn_no: &str) -> ApiError {
    gongji_engine::error::not_found(psn_no).into()
}

fn naming<'a>(caller: &Caller, patient: &'a str) -> Naming<'a> {
    Naming { patient, redact_family: caller.role() == Role::Institution }
}

pub(crate) fn find_settlement<S: Store>(engine: &Engine<S>, institution: &str, bill_id: &str) -> ApiResult<StoredSettlement> {
    engine
        .store()
        .read(|tx| tx.settlement(institution, bill_id))?
        // Debug-quoted: a looked-up id is not checked by the text rule (bills settled before it
        // must stay cancellable), so it is shown escaped (issue 12).
        .ok_or_else(|| ApiError::domain(ErrorCode::SettlementNotFound, "ST8", format!("no settled bill {bill_id:?} of {institution:?}")))
}

fn stored_settlement_view(stored: &StoredSettlement, naming: Naming<'_>) -> ApiResult<SettlementView> {
    Ok(naming.settlement_as(&SettlementOutcome::from_stored(stored, true)?, stored.cancelled.is_some()))
}

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

fn batch_query(area: &str, query: &BatchQuery) -> ApiResult<(AreaCode, chrono::NaiveDate, chrono::NaiveDate, Page)> {
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
