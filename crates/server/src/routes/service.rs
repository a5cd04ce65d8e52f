//! The service itself: `GET /health` (no token). Its OpenAPI part also names the `service`
//! tag, which `/openapi.json` ([`crate::openapi`]) shares.

use axum::extract::State;
use axum::http::Method;
use axum::Json;
use gongji_store::Store;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::table::RouteTable;
use crate::problem::ApiResult;
use crate::state::AppState;

pub fn routes<S: Store + 'static>() -> RouteTable<S> {
    RouteTable::new().add(Method::GET, "/health", health::<S>)
}

/// This module's part of the OpenAPI document ([`crate::openapi`]).
#[derive(OpenApi)]
#[openapi(paths(health), components(schemas(HealthView)), tags((name = "service", description = "Health and this document")))]
pub struct ServiceApi;

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthView {
    pub status: String,
    pub store: String,
}

#[utoipa::path(get, path = "/health", tag = "service", responses((status = 200, body = HealthView)))]
pub async fn health<S: Store + 'static>(State(state): State<AppState<S>>) -> ApiResult<Json<HealthView>> {
    let store = state.blocking(|engine, _| engine.store().describe()).await?;
    Ok(Json(HealthView { status: "ok".into(), store }))
}
