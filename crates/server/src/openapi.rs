//! The OpenAPI document, generated from the handlers' annotations (utoipa) and served at
//! `GET /openapi.json`. Each module of [`crate::routes`] documents its own routes, shapes and
//! tag (`PersonsApi`, `NetworksApi`, …); [`document`] merges them into this module's
//! [`ApiDoc`] (title, the bearer scheme, `/openapi.json` itself). A test checks that every route
//! of [`crate::route_table`] is in it, and nothing else.

use std::sync::OnceLock;

use axum::http::{header, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use gongji_store::Store;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::problem;
use crate::routes::table::RouteTable;
use crate::routes::{family, fsi, jobs, networks, outbox, persons, queries, service, settlement, transfers};

pub fn routes<S: Store + 'static>() -> RouteTable<S> {
    RouteTable::new().add(Method::GET, "/openapi.json", openapi_json)
}

#[derive(OpenApi)]
#[openapi(
    info(title = "gongji (共济)", description = "Family mutual aid of medical-insurance personal accounts, and settlement against them. \
        Money is a decimal string with at most two decimals (P3). Errors are application/problem+json with a stable `code` (SPEC §14) and the `rule` id."),
    paths(openapi_json),
    components(schemas(problem::Problem)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("gj_<64 hex>").build()));
    }
}

/// The whole document: [`ApiDoc`] and every module's part, whose tags keep this order.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut document = ApiDoc::openapi();
    for part in [
        persons::PersonsApi::openapi(),
        networks::NetworksApi::openapi(),
        transfers::TransfersApi::openapi(),
        settlement::SettlementApi::openapi(),
        queries::QueriesApi::openapi(),
        jobs::JobsApi::openapi(),
        fsi::FsiApi::openapi(),
        service::ServiceApi::openapi(),
        family::FamilyApi::openapi(),
        outbox::OutboxApi::openapi(),
    ] {
        document.merge(part);
    }
    document
}

/// The document as JSON, built once.
pub fn document_json() -> String {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| document().to_pretty_json().expect("the OpenAPI document serialises")).clone()
}

#[utoipa::path(get, path = "/openapi.json", tag = "service", responses((status = 200, description = "This API's OpenAPI document")))]
pub async fn openapi_json() -> Response {
    let mut response = document_json().into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
