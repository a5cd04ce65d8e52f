//! Settlement (§9): settling a bill of an institution through the group commit
//! ([`crate::settle_queue`], ST1–ST7, ST9), pre-settling it (ST5), reading it as stored, and
//! cancelling it (ST8); and Q4, which family money a patient could use now, and why not.
//! Answers name accounts by [`Naming`]: an institution sees another family member's account only
//! as `family.<kind>` (§12).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::Method;
use axum::Json;
use chrono::NaiveDate;
use gongji_core::settlement::{Bill, BillContent, BillItem, BillSplit, ItemClass};
use gongji_core::{AccountRef, ErrorCode, Money};
use gongji_engine::settlement::{CancelOutcome, Explanation, Payment, SettlementOutcome, Step};
use gongji_engine::Engine;
use gongji_store::{Store, StoredSettlement};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::shared::{account_name, family_account_name, parse_date, parse_visit, readable_person, FAMILY};
use super::table::RouteTable;
use crate::auth::{Caller, Credentials, Role};
use crate::extract::{ApiJson, ApiPath};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::AppState;

pub fn routes<S: Store + 'static>() -> RouteTable<S> {
    RouteTable::new()
        .add(Method::POST, "/api/v1/persons/{psn_no}/explain", explain::<S>)
        .add(Method::POST, "/api/v1/institutions/{institution}/bills", settle::<S>)
        .add(Method::POST, "/api/v1/institutions/{institution}/presettlements", presettle::<S>)
        .add(Method::GET, "/api/v1/institutions/{institution}/bills/{bill_id}", get_bill::<S>)
        .add(Method::POST, "/api/v1/institutions/{institution}/bills/{bill_id}/cancel", cancel::<S>)
}

/// This module's part of the OpenAPI document ([`crate::openapi`]).
#[derive(OpenApi)]
#[openapi(
    paths(explain, settle, presettle, get_bill, cancel),
    components(schemas(ExplainRequest, BillRequest, ItemRequest, SplitRequest, SettlementView, StepView, CancelView, ExplainView)),
    tags((name = "settlement", description = "Settlement, pre-settlement, cancel, why-not (§9, Q4)"))
)]
pub struct SettlementApi;

// ---- requests ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplainRequest {
    pub visit: String,
    /// The hypothetical personal burden.
    pub amount: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BillRequest {
    /// Unique per institution (ST6).
    pub bill_id: String,
    pub patient: String,
    /// `outpatient`, `emergency`, `inpatient`, `pharmacy`, `community`, `vaccination`.
    pub visit: String,
    /// The bill date; the server's business date when absent.
    pub date: Option<String>,
    /// Items priced by the institution; gongji computes the split (ST1). Give items or split.
    pub items: Option<Vec<ItemRequest>>,
    /// A split already computed upstream.
    pub split: Option<SplitRequest>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemRequest {
    pub code: String,
    pub name: Option<String>,
    pub amount: String,
    /// `A`, `B` or `C`.
    pub class: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitRequest {
    pub fund_pay: Option<String>,
    pub self_borne: Option<String>,
    pub first_self_pay: Option<String>,
    pub self_funded: Option<String>,
}

// ---- responses ----

#[derive(Debug, Serialize, ToSchema)]
pub struct StepView {
    pub code: String,
    pub rule: String,
    /// `PSN.account`; `null` for the fund and cash steps; `family.<kind>` for another member's account shown to an institution.
    pub account: Option<String>,
    pub role: Option<String>,
    pub amount: String,
    pub message: String,
}

/// A settlement or pre-settlement (ST1–ST7).
#[derive(Debug, Serialize, ToSchema)]
pub struct SettlementView {
    pub institution: String,
    pub bill_id: String,
    /// ST6: this settlement's id: the bill id for a bill's first settlement, `<bill id>#<n>`
    /// for the n-th (a bill whose settlement was cancelled settles again as a new one).
    pub settlement_id: String,
    pub patient: String,
    pub visit: String,
    pub policy: String,
    pub total: String,
    pub fund_pay: String,
    pub self_borne: String,
    pub first_self_pay: String,
    pub self_funded: String,
    /// `PSN.account` → amount, only accounts that paid. Shown to an institution, another
    /// family member's account is `family.mut`.
    pub payments: BTreeMap<String, String>,
    pub cash: String,
    /// True when this answers a repeat of a bill already settled (ST6).
    pub replayed: bool,
    /// Whether this settlement was cancelled since (ST8); an answer to a settle never is.
    pub cancelled: bool,
    pub steps: Vec<StepView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CancelView {
    pub institution: String,
    pub bill_id: String,
    /// The settlement that was cancelled (ST6, ST8).
    pub settlement_id: String,
    /// Returned straight to the accounts that paid.
    pub returned: BTreeMap<String, String>,
    /// Held for a former network member, moved to their HIS by the nightly job (ST8, B3).
    pub held: BTreeMap<String, String>,
    pub fund_pay: String,
    pub cash: String,
    pub replayed: bool,
}

/// Q4: which family money a patient could use now, and why not.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExplainView {
    pub patient: String,
    pub visit: String,
    pub amount: String,
    pub policy: String,
    pub payments: BTreeMap<String, String>,
    pub cash: String,
    pub steps: Vec<StepView>,
}

// ---- handlers ----

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

fn naming<'a>(caller: &Caller, patient: &'a str) -> Naming<'a> {
    Naming { patient, redact_family: caller.role() == Role::Institution }
}

fn find_settlement<S: Store>(engine: &Engine<S>, institution: &str, bill_id: &str) -> ApiResult<StoredSettlement> {
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

// ---- conversions ----

impl BillRequest {
    /// The core's bill, checked by [`Bill::validate`]; money parsed by `Money::parse` (P3).
    pub fn to_bill(&self, institution: &str, business_date: NaiveDate) -> Result<Bill, ApiError> {
        let visit = parse_visit(&self.visit)?;
        let date = match &self.date {
            Some(text) => parse_date(text, "date")?,
            None => business_date,
        };
        let content = match (&self.items, &self.split) {
            (Some(items), None) => {
                let mut parsed = Vec::with_capacity(items.len());
                for item in items {
                    let class = ItemClass::parse(&item.class).ok_or_else(|| ApiError::input(format!("item class is A, B or C, not {:?}", item.class)))?;
                    parsed.push(BillItem { code: item.code.clone(), name: item.name.clone().unwrap_or_default(), amount: Money::parse(&item.amount)?, class });
                }
                BillContent::Items(parsed)
            }
            (None, Some(split)) => {
                let part = |value: &Option<String>| -> Result<Money, ApiError> { Ok(value.as_deref().map(Money::parse).transpose()?.unwrap_or_default()) };
                BillContent::Split(BillSplit {
                    fund_pay: part(&split.fund_pay)?,
                    self_borne: part(&split.self_borne)?,
                    first_self_pay: part(&split.first_self_pay)?,
                    self_funded: part(&split.self_funded)?,
                })
            }
            _ => return Err(ApiError::input("a bill gives either `items` or `split`")),
        };
        let bill = Bill { institution: institution.to_string(), bill_id: self.bill_id.clone(), patient: self.patient.clone(), visit, date, content };
        // The ids and item texts by the one text rule (issue 12), before the engine sees it.
        bill.validate()?;
        Ok(bill)
    }
}

/// How accounts are named to a caller: `PSN.account` for everyone but institutions, which see
/// the patient's own accounts by name and another family member's only as `family.<kind>`
/// (personal data beyond what a settlement needs stays with the agency, §12).
#[derive(Debug, Clone, Copy)]
pub struct Naming<'a> {
    pub patient: &'a str,
    pub redact_family: bool,
}

impl Naming<'_> {
    pub fn name(&self, account: &AccountRef) -> Option<String> {
        match account {
            AccountRef::Person { psn_no, kind } if self.redact_family && psn_no != self.patient => Some(family_account_name(*kind)),
            AccountRef::Person { psn_no, kind } => Some(account_name(psn_no, *kind)),
            AccountRef::System { .. } if self.redact_family => None,
            AccountRef::System { .. } => Some(account.key()),
        }
    }

    fn name_or_key(&self, account: &AccountRef) -> String {
        self.name(account).unwrap_or_else(|| "system".into())
    }

    pub fn payments(&self, payments: &[Payment]) -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        for payment in payments {
            add_money(&mut map, self.name_or_key(&payment.account), payment.amount);
        }
        map
    }

    pub fn steps(&self, steps: &[Step]) -> Vec<StepView> {
        steps
            .iter()
            .map(|s| StepView {
                code: s.code.clone(),
                rule: s.rule.clone(),
                account: s.account.as_deref().and_then(AccountRef::parse_key).and_then(|a| self.name(&a)),
                role: s.role.clone(),
                amount: s.amount.to_string(),
                message: s.message.clone(),
            })
            .collect()
    }

    /// A settlement answered as paid: one that stands, never cancelled (ST6).
    pub fn settlement(&self, outcome: &SettlementOutcome) -> SettlementView {
        self.settlement_as(outcome, false)
    }

    /// A settlement with whether it was cancelled since (the stored bill, Q2).
    pub fn settlement_as(&self, outcome: &SettlementOutcome, cancelled: bool) -> SettlementView {
        SettlementView {
            institution: outcome.institution.clone(),
            bill_id: outcome.bill_id.clone(),
            settlement_id: outcome.settlement_id.clone(),
            patient: outcome.patient.clone(),
            visit: outcome.visit.as_str().to_string(),
            policy: outcome.policy_id.clone(),
            total: outcome.total().to_string(),
            fund_pay: outcome.split.fund_pay.to_string(),
            self_borne: outcome.split.self_borne.to_string(),
            first_self_pay: outcome.split.first_self_pay.to_string(),
            self_funded: outcome.split.self_funded.to_string(),
            payments: self.payments(&outcome.payments),
            cash: outcome.cash.to_string(),
            replayed: outcome.replayed,
            cancelled,
            steps: self.steps(&outcome.steps),
        }
    }

    pub fn cancel(&self, outcome: &CancelOutcome) -> CancelView {
        let mut returned = BTreeMap::new();
        for (account, amount) in &outcome.returned {
            add_money(&mut returned, self.name_or_key(account), *amount);
        }
        let mut held = BTreeMap::new();
        for (owner, amount) in &outcome.held {
            // A replayed cancel does not know the owner any more (the engine reports "").
            let name = if self.redact_family || owner.is_empty() { FAMILY.to_string() } else { owner.clone() };
            add_money(&mut held, name, *amount);
        }
        CancelView {
            institution: outcome.institution.clone(),
            bill_id: outcome.bill_id.clone(),
            settlement_id: outcome.settlement_id.clone(),
            returned,
            held,
            fund_pay: outcome.fund.to_string(),
            cash: outcome.cash.to_string(),
            replayed: outcome.replayed,
        }
    }

    pub fn explanation(&self, explanation: &Explanation, amount: Money) -> ExplainView {
        ExplainView {
            patient: explanation.patient.clone(),
            visit: explanation.visit.as_str().to_string(),
            amount: amount.to_string(),
            policy: explanation.policy_id.clone(),
            payments: self.payments(&explanation.payments),
            cash: explanation.cash.to_string(),
            steps: self.steps(&explanation.steps),
        }
    }
}

fn add_money(map: &mut BTreeMap<String, String>, key: String, amount: Money) {
    let before = map.get(&key).and_then(|m| Money::parse(m).ok()).unwrap_or_default();
    map.insert(key, before.plus(amount).to_string());
}
