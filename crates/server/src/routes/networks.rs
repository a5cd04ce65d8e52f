//! Family networks (§5, N1–N12): founding, members added, confirmed, removed, leaving, the
//! payment order and dissolving. The engine decides N1–N10; an insured person acts only for
//! themselves (N9), checked before anything is loaded.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::Json;
use gongji_core::text;
use gongji_engine::networks::Added;
use gongji_store::Store;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::table::RouteTable;
use crate::auth::Credentials;
use crate::extract::{ApiJson, ApiPath};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

pub fn routes<S: Store + 'static>() -> RouteTable<S> {
    RouteTable::new()
        .add(Method::POST, "/api/v1/persons/{psn_no}/network/confirm", confirm_member::<S>)
        .add(Method::POST, "/api/v1/persons/{psn_no}/network/leave", leave_network::<S>)
        .add(Method::POST, "/api/v1/networks", create_network::<S>)
        .add(Method::POST, "/api/v1/networks/{promoter}/members", add_member::<S>)
        .add(Method::POST, "/api/v1/networks/{promoter}/members/{member}/remove", remove_member::<S>)
        .add(Method::PUT, "/api/v1/networks/{promoter}/order", reorder::<S>)
        .add(Method::POST, "/api/v1/networks/{promoter}/dissolve", dissolve::<S>)
}

/// This module's part of the OpenAPI document ([`crate::openapi`]).
#[derive(OpenApi)]
#[openapi(
    paths(confirm_member, leave_network, create_network, add_member, remove_member, reorder, dissolve),
    components(schemas(CreateNetworkRequest, AddMemberRequest, ReorderRequest)),
    tags((name = "networks", description = "Family networks (§5, N1-N12)"))
)]
pub struct NetworksApi;

// ---- requests ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNetworkRequest {
    pub promoter: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    pub member: String,
    /// `spouse`, `parent`, `child` (or another relation the policy allows).
    pub relation: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReorderRequest {
    /// Every member's psn_no once, in the new payment order (N6).
    pub order: Vec<String>,
}

// ---- responses ----

#[derive(Debug, Serialize, ToSchema)]
pub struct NetworkCreatedView {
    pub network_id: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberAddedView {
    /// `active`, or `pending` until the member confirms (N10).
    pub state: String,
}

// ---- handlers ----

/// N10: a member aged 16 or more confirms their own membership.
#[utoipa::path(post, path = "/api/v1/persons/{psn_no}/network/confirm", tag = "networks", params(("psn_no" = String, Path)),
    responses((status = 204), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn confirm_member<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiPath(psn_no): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.act_for(credentials, psn_no, move |engine, ctx, psn_no| engine.confirm_member(ctx, psn_no)).await
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
    state.act_for(credentials, psn_no, move |engine, ctx, psn_no| engine.leave(ctx, psn_no)).await
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
    state.act_for(credentials, promoter, move |engine, ctx, promoter| engine.remove_member(ctx, promoter, &member)).await
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
    state.act_for(credentials, promoter, move |engine, ctx, promoter| engine.reorder(ctx, promoter, &request.order)).await
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
    state.act_for(credentials, promoter, move |engine, ctx, promoter| engine.dissolve(ctx, promoter)).await
}
