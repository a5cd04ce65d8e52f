//! The JSON API of the other family models (issue 8): relative transfer (§7, TR1–TR4),
//! association (§8, S1–S2), near-relative quotas and the resident premium (§15, X1–X4); the
//! notification outbox they write to is listed by [`super::outbox`]. As in every module of
//! [`crate::routes`], each handler parses its request completely (money by `Money::parse`, ID
//! numbers by `IdNumber::parse`, unknown fields refused), then authenticates and calls one
//! engine operation on the blocking pool.
//!
//! Roles (§12), as in the rest of the API:
//! - `insured` acts only for themselves: the `{psn_no}` of the path (for a premium paid by a
//!   relative, the `payer`) must be the token's person, checked here before anything is loaded,
//!   so that the answer does not tell whether another person exists (403 `network.not_allowed`,
//!   N9, by `Caller::may_act_for`). Reads of another person are 403 `auth.forbidden`, as for
//!   `GET /persons/{psn_no}` (`shared::readable_person`).
//! - `operator` does this business at the counter of the person's own area, with the person
//!   present: the engine checks the area against the person's (N9, N11), and answers an unknown
//!   psn_no as it answers a person of another area (issue 12, item 8).
//! - `institution` never does family business (403 `auth.forbidden`); `admin` acts for anyone.
//!
//! The one-time code of a relative transfer (TR3) reaches the authoriser only through the
//! outbox, as a text message to the registered phone: no answer of this API carries it, and the
//! outbox listing shows neither codes nor texts, only masked phones. Draining the outbox (sending)
//! stays a CLI/batch job (`gongji outbox drain`), so that no request waits on an SMS gateway.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::Json;
use chrono::Datelike;
use gongji_core::person::mask_name;
use gongji_core::states::QuotaSide;
use gongji_core::{text, AreaCode, IdNumber, Money};
use gongji_engine::quota::{self, QuotaGrant};
use gongji_engine::relatives::{self, CODE_DIGITS, CODE_TRIES_MAX, CODE_VALID_SECS};
use gongji_store::{Association, QuotaRecord, Store};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::shared::{public_account_name, readable_person};
use super::table::RouteTable;
use crate::auth::Credentials;
use crate::extract::{ApiJson, ApiPath};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::AppState;

pub fn routes<S: Store + 'static>() -> RouteTable<S> {
    RouteTable::new()
        .add(Method::POST, "/api/v1/persons/{psn_no}/relative-transfers", request_relative_transfer::<S>)
        .add(Method::POST, "/api/v1/persons/{psn_no}/relative-transfers/{request_id}/confirm", confirm_relative_transfer::<S>)
        .add(Method::POST, "/api/v1/persons/{psn_no}/bindings", bind::<S>)
        .add(Method::GET, "/api/v1/persons/{psn_no}/bindings", bindings::<S>)
        .add(Method::POST, "/api/v1/persons/{psn_no}/bindings/{other}/unbind", unbind::<S>)
        .add(Method::POST, "/api/v1/persons/{psn_no}/quotas", grant_quota::<S>)
        .add(Method::GET, "/api/v1/persons/{psn_no}/quotas", quotas::<S>)
        .add(Method::POST, "/api/v1/persons/{psn_no}/quotas/{uid}/end", end_quota::<S>)
        .add(Method::POST, "/api/v1/persons/{psn_no}/premiums", pay_premium::<S>)
}

/// This module's part of the OpenAPI document ([`crate::openapi`]).
#[derive(OpenApi)]
#[openapi(
    paths(
        request_relative_transfer,
        confirm_relative_transfer,
        bind,
        bindings,
        unbind,
        grant_quota,
        quotas,
        end_quota,
        pay_premium,
    ),
    components(schemas(
        RelativeTransferRequest,
        ConfirmCodeRequest,
        TransferRequestedView,
        TransferDoneView,
        BindRequest,
        BindingCreatedView,
        BindingView,
        BindingsView,
        QuotaGrantRequest,
        QuotaGrantedView,
        QuotaEndedView,
        QuotaView,
        QuotasView,
        PremiumRequest,
        PremiumPaidView,
    )),
    tags((name = "family", description = "Relative transfer (§7, TR1-TR4), association (§8, S1-S2), near-relative quotas and premiums (§15, X1-X4)"))
)]
pub struct FamilyApi;

// ---- requests ----

/// TR1–TR3: what the authoriser enters (seeds/001 第三步 to 第五步).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RelativeTransferRequest {
    /// The authoriser has read and accepts the commitment letter (承诺书, TR3).
    pub commitment_accepted: bool,
    /// Relation of the beneficiary to the authoriser: `spouse`, `parent`, `child` in 330100 (the
    /// policy's list).
    pub relation: String,
    /// The beneficiary's name as registered (TR2).
    pub beneficiary_name: String,
    /// The beneficiary's 18-digit resident ID number (P1, TR2).
    pub beneficiary_id_number: String,
    /// Decimal string, at most the authoriser's HIS balance (TR1).
    pub amount: String,
}

/// TR3: the 6-digit one-time code the authoriser received by text message.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmCodeRequest {
    pub code: String,
}

/// S1: the binder lets `relative` use the part of the binder's HIS above the threshold.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BindRequest {
    /// The relative's psn_no (same planning area).
    pub relative: String,
    /// `spouse`, `parent`, `child` in 440300 (the policy's list).
    pub relation: String,
}

/// X1–X3: a quota for a near relative, named by name and ID number as in TR2.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaGrantRequest {
    pub relative_name: String,
    /// The relative's 18-digit resident ID number (P1).
    pub relative_id_number: String,
    /// The relative's planning area; the donor's own when absent. Another area goes through
    /// the area outbox (`gongji quota relay`).
    pub relative_area: Option<String>,
    /// A near relative of the policy (X1): `spouse`, `parent`, `child`, `sibling`,
    /// `grandparent`, `grandchild` in the national preset.
    pub relation: String,
    /// Decimal string; the policy's limits apply (X3).
    pub amount: String,
}

/// X4: a resident's yearly premium, from their quota money, or with `payer` and `relation` from
/// a near relative's HIS (代缴).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PremiumRequest {
    pub amount: String,
    /// The premium year; the business date's year when absent.
    pub year: Option<i32>,
    /// The near relative who pays from their HIS (psn_no); give `relation` with it.
    pub payer: Option<String>,
    /// The insured person's relation to the payer.
    pub relation: Option<String>,
}

// ---- responses ----

/// TR3: the request waits for its code, which went to the registered phone through the outbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransferRequestedView {
    /// Give it back with the code to confirm.
    pub request_id: i64,
    pub authoriser: String,
    pub relation: String,
    pub beneficiary_name_masked: String,
    pub amount: String,
    /// Where the code was sent, masked (`139****0001`).
    pub phone_masked: String,
    /// RFC 3339; the code is valid 5 minutes.
    pub expires_at: String,
    /// Wrong codes allowed before the request is locked.
    pub tries: u32,
}

/// TR2, TR4: the money moved HIS → HIS in one journal entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransferDoneView {
    pub request_id: i64,
    pub entry_id: i64,
    pub authoriser: String,
    pub beneficiary: String,
    pub amount: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BindingCreatedView {
    pub binding_id: i64,
    pub binder: String,
    pub relative: String,
    pub relation: String,
}

/// S1: a binding in force. The relative may use the binder's HIS above the threshold (S2).
#[derive(Debug, Serialize, ToSchema)]
pub struct BindingView {
    pub binding_id: i64,
    /// Whose account is used (被使用人).
    pub binder: String,
    /// Who may use it (使用人).
    pub relative: String,
    pub relation: String,
    /// The person's side: `binder` or `relative`.
    pub role: String,
    /// Business date of the binding.
    pub since: String,
    pub actor: String,
    pub channel: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BindingsView {
    pub psn_no: String,
    pub items: Vec<BindingView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaGrantedView {
    /// The relationship's id (give it to end the quota).
    pub uid: String,
    /// Added to a relationship already in force.
    pub top_up: bool,
    /// The relative lives in another area: the money travels through the area outbox.
    pub cross_area: bool,
    pub amount: String,
    pub entry_id: i64,
    /// The message to the relative's area (cross-area only).
    pub message_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaEndedView {
    pub uid: String,
    /// Returned to the donor's HIS now (in one area); across areas it comes with the answer.
    pub returned: String,
    /// The message carrying the end or the return to the other area, if any.
    pub message_id: Option<String>,
}

/// X2: one side of a quota relationship.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaView {
    pub uid: String,
    /// `local` (one area), `donor` or `relative` (the two sides across areas).
    pub side: String,
    /// The person's part: `donor` or `relative`.
    pub role: String,
    /// `active`, `ending`, `ended`, `rejected`.
    pub state: String,
    pub donor: String,
    pub donor_area: String,
    pub relative: Option<String>,
    pub relative_area: String,
    pub relative_name_masked: String,
    pub relation: String,
    pub granted: String,
    pub used: String,
    pub returned: String,
    /// What the relative may still spend; `null` on a donor's side across areas, where the
    /// spending is known in the relative's area.
    pub left: Option<String>,
    /// Business date of the grant.
    pub since: String,
    pub ended_at: Option<String>,
    pub end_reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuotasView {
    pub psn_no: String,
    /// Every relationship of the person, in any state, oldest first.
    pub items: Vec<QuotaView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PremiumPaidView {
    pub entry_id: i64,
    pub insured: String,
    pub year: i32,
    pub amount: String,
    /// `PSN.quota` or the payer's `PSN.his`.
    pub paid_from: String,
}

// ---- handlers ----

/// TR1–TR3: checks the transfer and sends a 6-digit one-time code to the authoriser's
/// registered phone through the outbox. The answer never carries the code.
#[utoipa::path(post, path = "/api/v1/persons/{psn_no}/relative-transfers", tag = "family", params(("psn_no" = String, Path, description = "The authoriser")),
    request_body = RelativeTransferRequest,
    responses((status = 201, body = TransferRequestedView), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn request_relative_transfer<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiPath(psn_no): ApiPath<String>,
    ApiJson(body): ApiJson<RelativeTransferRequest>,
) -> ApiResult<(StatusCode, Json<TransferRequestedView>)> {
    let amount = Money::parse_positive(&body.amount)?;
    let id_number = IdNumber::parse(&body.beneficiary_id_number)?;
    parse_relation(&body.relation, "TR1")?;
    let request = relatives::RelativeTransferRequest {
        authoriser: psn_no.clone(),
        relation: body.relation,
        beneficiary_name: parse_name(&body.beneficiary_name, "beneficiary_name", "TR2")?,
        beneficiary_id_number: id_number.as_str().to_string(),
        amount,
        commitment_accepted: body.commitment_accepted,
    };
    let view = state
        .call(credentials, move |engine, caller, today| {
            caller.may_act_for(&psn_no)?;
            let ticket = engine.request_relative_transfer(&caller.context(today), &request)?;
            Ok(TransferRequestedView {
                request_id: ticket.request_id,
                authoriser: psn_no,
                relation: request.relation,
                beneficiary_name_masked: mask_name(&request.beneficiary_name),
                amount: amount.to_string(),
                phone_masked: ticket.phone_masked,
                expires_at: ticket.expires_at.to_rfc3339(),
                tries: CODE_TRIES_MAX,
            })
        })
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// TR2–TR4: with the code from the text message, moves the money HIS → the beneficiary's HIS.
/// A wrong code uses up one of 5 tries; an expired (5 minutes), locked or used request refuses
/// every code (`transfer.code_invalid`).
#[utoipa::path(post, path = "/api/v1/persons/{psn_no}/relative-transfers/{request_id}/confirm", tag = "family",
    params(("psn_no" = String, Path, description = "The authoriser"), ("request_id" = i64, Path)),
    request_body = ConfirmCodeRequest,
    responses((status = 200, body = TransferDoneView), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn confirm_relative_transfer<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiPath((psn_no, request_id)): ApiPath<(String, i64)>,
    ApiJson(body): ApiJson<ConfirmCodeRequest>,
) -> ApiResult<Json<TransferDoneView>> {
    // Not a code at all (a typo in the length, letters): refused before it costs a try.
    if body.code.len() != CODE_DIGITS as usize || !body.code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::input(format!("the one-time code is {CODE_DIGITS} digits (valid {} minutes)", CODE_VALID_SECS / 60)));
    }
    let view = state
        .call(credentials, move |engine, caller, today| {
            caller.may_act_for(&psn_no)?;
            let done = engine.confirm_relative_transfer(&caller.context(today), &psn_no, request_id, &body.code)?;
            Ok(TransferDoneView {
                request_id: done.request_id,
                entry_id: done.entry_id,
                authoriser: done.authoriser,
                beneficiary: done.beneficiary,
                amount: done.amount.to_string(),
            })
        })
        .await?;
    Ok(Json(view))
}

/// S1: the person (binder) binds a relative of the same area, who may then use the part of the
/// binder's HIS above the policy threshold in settlement (S2).
#[utoipa::path(post, path = "/api/v1/persons/{psn_no}/bindings", tag = "family", params(("psn_no" = String, Path, description = "The binder")),
    request_body = BindRequest,
    responses((status = 201, body = BindingCreatedView), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn bind<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiPath(psn_no): ApiPath<String>,
    ApiJson(body): ApiJson<BindRequest>,
) -> ApiResult<(StatusCode, Json<BindingCreatedView>)> {
    text::check_psn_no("relative", "S1", &body.relative)?;
    parse_relation(&body.relation, "S1")?;
    let view = state
        .call(credentials, move |engine, caller, today| {
            caller.may_act_for(&psn_no)?;
            let binding_id = engine.bind(&caller.context(today), &psn_no, &body.relative, &body.relation)?;
            Ok(BindingCreatedView { binding_id, binder: psn_no, relative: body.relative, relation: body.relation })
        })
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// S1: either side ends the binding between the person and `other`.
#[utoipa::path(post, path = "/api/v1/persons/{psn_no}/bindings/{other}/unbind", tag = "family",
    params(("psn_no" = String, Path, description = "Who acts: binder or relative"), ("other" = String, Path, description = "The other side")),
    responses((status = 204), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn unbind<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiPath((psn_no, other)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    text::check_psn_no("other", "S1", &other)?;
    state.act_for(credentials, psn_no, move |engine, ctx, psn_no| engine.unbind(ctx, psn_no, &other)).await
}

/// S1, Q1: the bindings in force in which the person is binder or relative.
#[utoipa::path(get, path = "/api/v1/persons/{psn_no}/bindings", tag = "family", params(("psn_no" = String, Path)),
    responses((status = 200, body = BindingsView), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn bindings<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiPath(psn_no): ApiPath<String>,
) -> ApiResult<Json<BindingsView>> {
    let view = state
        .call(credentials, move |engine, caller, _| {
            readable_person(engine, caller, &psn_no)?;
            let items = engine.associations(&psn_no)?.iter().map(|b| binding_view(&psn_no, b)).collect();
            Ok(BindingsView { psn_no, items })
        })
        .await?;
    Ok(Json(view))
}

/// X1–X3: the person (donor) sets money of their HIS aside for a near relative, or tops up the
/// quota in force between them. The donor can no longer spend it; the relative spends it in
/// settlement and on their resident premium (X4).
#[utoipa::path(post, path = "/api/v1/persons/{psn_no}/quotas", tag = "family", params(("psn_no" = String, Path, description = "The donor")),
    request_body = QuotaGrantRequest,
    responses((status = 201, body = QuotaGrantedView), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn grant_quota<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiPath(psn_no): ApiPath<String>,
    ApiJson(body): ApiJson<QuotaGrantRequest>,
) -> ApiResult<(StatusCode, Json<QuotaGrantedView>)> {
    let amount = Money::parse_positive(&body.amount)?;
    let id_number = IdNumber::parse(&body.relative_id_number)?;
    let relative_name = parse_name(&body.relative_name, "relative_name", "X1")?;
    parse_relation(&body.relation, "X1")?;
    let relative_area = body.relative_area.as_deref().map(AreaCode::parse).transpose()?;
    let view = state
        .call(credentials, move |engine, caller, today| {
            caller.may_act_for(&psn_no)?;
            let ctx = caller.context(today);
            let relative_area = match relative_area {
                Some(area) => area,
                None => engine.person_for(&ctx, &psn_no)?.area,
            };
            let grant =
                QuotaGrant { donor: psn_no, relative_name, relative_id_number: id_number.as_str().to_string(), relative_area, relation: body.relation, amount };
            let granted = engine.grant_quota(&ctx, &grant)?;
            Ok(QuotaGrantedView {
                uid: granted.uid,
                top_up: granted.top_up,
                cross_area: granted.cross_area,
                amount: amount.to_string(),
                entry_id: granted.entry_id,
                message_id: granted.message_id,
            })
        })
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// X2: donor or relative ends a quota in force; what is unused returns to the donor.
#[utoipa::path(post, path = "/api/v1/persons/{psn_no}/quotas/{uid}/end", tag = "family",
    params(("psn_no" = String, Path, description = "Who acts: donor or relative"), ("uid" = String, Path, description = "The quota's id")),
    responses((status = 200, body = QuotaEndedView), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn end_quota<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiPath((psn_no, uid)): ApiPath<(String, String)>,
) -> ApiResult<Json<QuotaEndedView>> {
    let view = state
        .call(credentials, move |engine, caller, today| {
            caller.may_act_for(&psn_no)?;
            let ended = engine.end_quota(&caller.context(today), &psn_no, &uid)?;
            Ok(QuotaEndedView { uid: ended.uid, returned: ended.returned.to_string(), message_id: ended.message_id })
        })
        .await?;
    Ok(Json(view))
}

/// X2, Q1: every quota relationship of the person (any state), as donor or relative.
#[utoipa::path(get, path = "/api/v1/persons/{psn_no}/quotas", tag = "family", params(("psn_no" = String, Path)),
    responses((status = 200, body = QuotasView), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn quotas<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiPath(psn_no): ApiPath<String>,
) -> ApiResult<Json<QuotasView>> {
    let view = state
        .call(credentials, move |engine, caller, _| {
            readable_person(engine, caller, &psn_no)?;
            let items = engine.quotas(&psn_no)?.iter().map(|q| quota_view(&psn_no, q)).collect();
            Ok(QuotasView { psn_no, items })
        })
        .await?;
    Ok(Json(view))
}

/// X4: pays the resident `{psn_no}`'s yearly premium, once a year: from the quota money near
/// relatives set aside for them, or with `payer` from that near relative's HIS.
#[utoipa::path(post, path = "/api/v1/persons/{psn_no}/premiums", tag = "family", params(("psn_no" = String, Path, description = "The insured resident")),
    request_body = PremiumRequest,
    responses((status = 201, body = PremiumPaidView), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn pay_premium<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiPath(psn_no): ApiPath<String>,
    ApiJson(body): ApiJson<PremiumRequest>,
) -> ApiResult<(StatusCode, Json<PremiumPaidView>)> {
    let amount = Money::parse_positive(&body.amount)?;
    if body.payer.is_some() != body.relation.is_some() {
        return Err(ApiError::input("payer and relation go together: both for a relative's HIS, neither for the quota money"));
    }
    if let Some(year) = body.year.filter(|y| !(2000..=2100).contains(y)) {
        return Err(ApiError::input(format!("year {year} is not a premium year")));
    }
    if let (Some(payer), Some(relation)) = (&body.payer, &body.relation) {
        text::check_psn_no("payer", "X4", payer)?;
        parse_relation(relation, "X4")?;
    }
    let view = state
        .call(credentials, move |engine, caller, today| {
            let acting = body.payer.as_deref().unwrap_or(&psn_no);
            caller.may_act_for(acting)?;
            let year = body.year.unwrap_or(today.year());
            let payer = body.payer.as_deref().zip(body.relation.as_deref());
            let paid = engine.pay_premium(&caller.context(today), &psn_no, payer, amount, year)?;
            Ok(PremiumPaidView {
                entry_id: paid.entry_id,
                insured: paid.insured,
                year,
                amount: paid.amount.to_string(),
                paid_from: public_account_name(&paid.from),
            })
        })
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

// ---- conversions ----

/// A relative's name as typed, trimmed, then by the one text rule (issue 12).
fn parse_name(typed: &str, what: &str, rule: &'static str) -> ApiResult<String> {
    let name = typed.trim();
    text::check_text(what, rule, name, text::NAME_CHARS_MAX)?;
    Ok(name.to_string())
}

/// A relation as typed: the policy's list decides which are allowed; the text rule refuses
/// what could never be one (issue 12).
fn parse_relation(typed: &str, rule: &'static str) -> ApiResult<()> {
    Ok(text::check_text("relation", rule, typed, text::RELATION_CHARS_MAX)?)
}

/// A binding as seen by `psn_no` (Q1 and the bindings list).
pub fn binding_view(psn_no: &str, binding: &Association) -> BindingView {
    let a = &binding.association;
    BindingView {
        binding_id: binding.id,
        binder: a.binder.clone(),
        relative: a.relative.clone(),
        relation: a.relation.clone(),
        role: if a.binder == psn_no { "binder".into() } else { "relative".into() },
        since: a.business_date.to_string(),
        actor: a.actor.clone(),
        channel: a.channel.clone(),
    }
}

/// A quota record as seen by `psn_no` (Q1 and the quotas list).
pub fn quota_view(psn_no: &str, q: &QuotaRecord) -> QuotaView {
    let as_donor = q.donor == psn_no && q.side != QuotaSide::Relative;
    QuotaView {
        uid: q.uid.clone(),
        side: q.side.as_str().to_string(),
        role: if as_donor { "donor".into() } else { "relative".into() },
        state: q.state.as_str().to_string(),
        donor: q.donor.clone(),
        donor_area: q.donor_area.as_str().to_string(),
        relative: q.relative.clone(),
        relative_area: q.relative_area.as_str().to_string(),
        relative_name_masked: mask_name(&q.relative_name),
        relation: q.relation.clone(),
        granted: q.granted.to_string(),
        used: q.used.to_string(),
        returned: q.returned.to_string(),
        left: (q.side != QuotaSide::Donor).then(|| quota::remaining(q).to_string()),
        since: q.business_date.to_string(),
        ended_at: q.ended_at.map(|t| t.to_rfc3339()),
        end_reason: q.end_reason.clone(),
    }
}
