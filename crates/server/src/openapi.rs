//! The OpenAPI document, generated from the handlers' annotations (utoipa) and served at
//! `GET /openapi.json`. A test checks that every route of [`crate::route_table`] is in it.

use std::sync::OnceLock;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{api, his, jobs, problem, wire};

#[derive(OpenApi)]
#[openapi(
    info(title = "gongji (共济)", description = "Family mutual aid of medical-insurance personal accounts, and settlement against them. \
        Money is a decimal string with at most two decimals (P3). Errors are application/problem+json with a stable `code` (SPEC §14) and the `rule` id."),
    paths(
        api::health,
        api::openapi_json,
        api::register_person,
        api::get_person,
        api::credit,
        api::move_money,
        api::set_preset,
        api::explain,
        api::statement,
        api::confirm_member,
        api::leave_network,
        api::create_network,
        api::add_member,
        api::remove_member,
        api::reorder,
        api::dissolve,
        api::settle,
        api::presettle,
        api::get_bill,
        api::cancel,
        api::network_events,
        api::mut_movements,
        api::audit,
        jobs::start_job,
        jobs::list_jobs,
        jobs::get_job,
        his::call_service,
    ),
    components(schemas(
        problem::Problem,
        wire::RegisterPersonRequest,
        wire::CreditRequest,
        wire::CreateNetworkRequest,
        wire::AddMemberRequest,
        wire::ReorderRequest,
        wire::MoveRequest,
        wire::PresetRequest,
        wire::ExplainRequest,
        wire::BillRequest,
        wire::ItemRequest,
        wire::SplitRequest,
        wire::PersonView,
        wire::Balances,
        wire::NetworkView,
        wire::MemberView,
        wire::SettlementView,
        wire::StepView,
        wire::CancelView,
        wire::ExplainView,
        wire::StatementView,
        wire::StatementLineView,
        wire::NetworkEventsPage,
        wire::NetworkEventView,
        wire::MutMovementsPage,
        wire::MutMovementView,
        wire::AuditView,
        wire::HealthView,
        his::HisAnswer,
        jobs::JobRequest,
        jobs::JobView,
        jobs::JobListView,
        jobs::JobSummaryView,
        jobs::SkippedView,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "persons", description = "Persons and their accounts (P1, P5, Q1)"),
        (name = "networks", description = "Family networks (§5, N1-N12)"),
        (name = "transfers", description = "HIS↔MUT moves and presets (T1, T2)"),
        (name = "settlement", description = "Settlement, pre-settlement, cancel, why-not (§9, Q4)"),
        (name = "queries", description = "Statements and batch queries (Q2, Q3), audit (P4)"),
        (name = "jobs", description = "Batch jobs: year-end, presets, refund sync (B1-B3), with progress"),
        (name = "his", description = "The national hospital (HIS) dialect (§16)"),
        (name = "service", description = "Health and this document"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("gj_<64 hex>").build()));
    }
}

/// The document as JSON, built once.
pub fn document_json() -> String {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT
        .get_or_init(|| {
            let mut document = ApiDoc::openapi();
            // The family models' routes document themselves in their module (issue 8).
            document.merge(crate::family_api::FamilyApiDoc::openapi());
            document.to_pretty_json().expect("the OpenAPI document serialises")
        })
        .clone()
}
