//! A person's own money between their accounts: HIS→MUT and MUT→HIS at once (T1) and the yearly
//! preset HIS→MUT (T2). Nobody moves another person's money (N9).

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::Json;
use gongji_core::Money;
use gongji_store::Store;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::shared::parse_account;
use super::table::RouteTable;
use crate::auth::Credentials;
use crate::extract::{ApiJson, ApiPath};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

pub fn routes<S: Store + 'static>() -> RouteTable<S> {
    RouteTable::new().add(Method::POST, "/api/v1/persons/{psn_no}/moves", move_money::<S>).add(Method::PUT, "/api/v1/persons/{psn_no}/preset", set_preset::<S>)
}

/// This module's part of the OpenAPI document ([`crate::openapi`]).
#[derive(OpenApi)]
#[openapi(
    paths(move_money, set_preset),
    components(schemas(MoveRequest, PresetRequest)),
    tags((name = "transfers", description = "HIS↔MUT moves and presets (T1, T2)"))
)]
pub struct TransfersApi;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveRequest {
    /// `his` or `mut`.
    pub from: String,
    /// `mut` or `his`.
    pub to: String,
    pub amount: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresetRequest {
    /// The yearly HIS→MUT amount (T2); `null` clears it.
    pub amount: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MoveView {
    pub entry_id: i64,
    pub from: String,
    pub to: String,
    pub amount: String,
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
    state.act_for(credentials, psn_no, move |engine, ctx, psn_no| engine.set_preset(ctx, psn_no, amount)).await
}
