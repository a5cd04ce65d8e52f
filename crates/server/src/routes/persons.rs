//! Persons and their accounts: registering (P1), contributions and opening balances (P5), and
//! Q1, a person's balances, network, role, order, preset, bindings and quotas.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::Json;
use gongji_core::{AreaCode, IdNumber, InsuranceType, Money, Person, PersonStatus};
use gongji_engine::persons::Credit;
use gongji_engine::queries::PersonOverview;
use gongji_store::Store;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::family::{binding_view, quota_view, BindingView, QuotaView};
use super::shared::{found, parse_account, person_not_found};
use super::table::RouteTable;
use crate::auth::Credentials;
use crate::extract::{ApiJson, ApiPath};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::AppState;

pub fn routes<S: Store + 'static>() -> RouteTable<S> {
    RouteTable::new().add(Method::POST, "/api/v1/persons", register_person::<S>).add(Method::GET, "/api/v1/persons/{psn_no}", get_person::<S>).add(
        Method::POST,
        "/api/v1/persons/{psn_no}/credits",
        credit::<S>,
    )
}

/// This module's part of the OpenAPI document ([`crate::openapi`]).
#[derive(OpenApi)]
#[openapi(
    paths(register_person, get_person, credit),
    components(schemas(RegisterPersonRequest, CreditRequest, PersonView, Balances, NetworkView, MemberView)),
    tags((name = "persons", description = "Persons and their accounts (P1, P5, Q1)"))
)]
pub struct PersonsApi;

// ---- requests ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterPersonRequest {
    pub psn_no: String,
    pub name: String,
    /// 18-digit resident ID number (GB 11643, P1).
    pub id_number: String,
    /// 6-digit planning area.
    pub area: String,
    /// `employee`, `resident` or `special`.
    pub insurance: String,
    pub phone: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditRequest {
    /// `cur` (contribution) or `his` (opening balance), P5.
    pub account: String,
    /// Decimal string, e.g. `"1000"` or `"12.50"`.
    pub amount: String,
    /// The agency's voucher number; the idempotency key of the credit.
    pub reference: String,
}

// ---- responses ----

#[derive(Debug, Serialize, ToSchema)]
pub struct Balances {
    pub cur: String,
    pub his: String,
    #[serde(rename = "mut")]
    pub mutual: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    pub psn_no: String,
    pub relation: Option<String>,
    /// `pending` or `active` (N10).
    pub state: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NetworkView {
    pub network_id: i64,
    /// `promoter` or `member`.
    pub role: String,
    pub promoter: String,
    /// 1-based place in the payment order (N6).
    pub position: u32,
    pub state: String,
    pub relation: Option<String>,
    pub members: Vec<MemberView>,
}

/// Q1: a person's accounts, network and role. The ID number is always masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonView {
    pub psn_no: String,
    pub name: String,
    pub id_number_masked: String,
    pub area: String,
    pub insurance: String,
    pub status: String,
    pub balances: Balances,
    pub preset: Option<String>,
    pub network: Option<NetworkView>,
    /// Association bindings in force, as binder or relative (S1).
    pub bindings: Vec<BindingView>,
    /// Quota relationships in force, as donor or relative, with what is left (X2).
    pub quotas: Vec<QuotaView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegisteredView {
    pub psn_no: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreditView {
    pub psn_no: String,
    pub account: String,
    pub amount: String,
    /// False when this reference was credited before (nothing credited twice, P5).
    pub credited: bool,
}

// ---- handlers ----

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
            Ok(person_view(&view.ok_or_else(|| person_not_found(&psn_no))?))
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

// ---- conversions ----

pub fn person_view(view: &PersonOverview) -> PersonView {
    let p = &view.person;
    PersonView {
        psn_no: p.psn_no.clone(),
        name: p.name.clone(),
        id_number_masked: p.id_number.masked(),
        area: p.area.as_str().to_string(),
        insurance: p.insurance.as_str().to_string(),
        status: p.status.as_str().to_string(),
        balances: Balances { cur: view.cur.to_string(), his: view.his.to_string(), mutual: view.mutual.to_string() },
        preset: view.preset.map(|m| m.to_string()),
        network: view.network.as_ref().map(|n| NetworkView {
            network_id: n.network_id,
            role: if n.is_promoter { "promoter".into() } else { "member".into() },
            promoter: n.promoter.clone(),
            position: n.position,
            state: n.state.as_str().to_string(),
            relation: n.relation.clone(),
            members: n
                .members
                .iter()
                .map(|(psn_no, relation, state)| MemberView { psn_no: psn_no.clone(), relation: relation.clone(), state: state.as_str().to_string() })
                .collect(),
        }),
        bindings: view.bindings.iter().map(|b| binding_view(&p.psn_no, b)).collect(),
        quotas: view.quotas.iter().map(|q| quota_view(&p.psn_no, q)).collect(),
    }
}
