//! The notification outbox (TR3) for admins: `GET /api/v1/outbox` lists the text messages the
//! family models queued, with their states and masked phones, never their texts (a text may hold
//! a one-time code). Sending stays a batch job (`gongji outbox drain`), so that no request waits
//! on an SMS gateway.

use axum::extract::State;
use axum::http::Method;
use axum::Json;
use gongji_core::states::NotificationState;
use gongji_engine::outbox::mask_phone;
use gongji_store::{Notification, Store};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::shared::PAGE_LEN_MAX;
use super::table::RouteTable;
use crate::auth::Credentials;
use crate::extract::ApiQuery;
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::AppState;

/// Notifications listed when the caller gives no `limit`.
const OUTBOX_PAGE_DEFAULT: usize = 100;

pub fn routes<S: Store + 'static>() -> RouteTable<S> {
    RouteTable::new().add(Method::GET, "/api/v1/outbox", list_outbox::<S>)
}

/// This module's part of the OpenAPI document ([`crate::openapi`]).
#[derive(OpenApi)]
#[openapi(
    paths(list_outbox),
    components(schemas(NotificationView, OutboxView)),
    tags((name = "outbox", description = "The notification outbox (TR3), for admins; sending is `gongji outbox drain`"))
)]
pub struct OutboxApi;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OutboxQuery {
    /// `pending`, `sending`, `sent`, `failed`, `unknown` or `void`; pending and failed when absent.
    pub state: Option<String>,
    /// Rows at most: 100 by default, 10000 at most.
    pub limit: Option<usize>,
}

/// A text message of the outbox: never its text (it may hold a one-time code), the phone masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    pub id: i64,
    /// `transfer_code`, `transfer_done`.
    pub kind: String,
    pub psn_no: String,
    pub to_masked: String,
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub reference: String,
    pub created_at: String,
    pub finished_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxView {
    pub items: Vec<NotificationView>,
}

/// TR3: the outbox's messages for an admin: pending and failed by default, oldest first; the
/// phone masked, never the text or the code. Sending is `gongji outbox drain`.
#[utoipa::path(get, path = "/api/v1/outbox", tag = "outbox", params(OutboxQuery),
    responses((status = 200, body = OutboxView), (status = "default", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list_outbox<S: Store + 'static>(
    State(state): State<AppState<S>>,
    credentials: Credentials,
    ApiQuery(query): ApiQuery<OutboxQuery>,
) -> ApiResult<Json<OutboxView>> {
    let states: Vec<NotificationState> = match query.state.as_deref() {
        None => vec![NotificationState::Pending, NotificationState::Failed],
        Some(text) => {
            let all: Vec<&str> = NotificationState::ALL.iter().map(|s| s.as_str()).collect();
            vec![NotificationState::parse(text).ok_or_else(|| ApiError::input(format!("state is one of {}, not {text:?}", all.join(", "))))?]
        }
    };
    let limit = query.limit.unwrap_or(OUTBOX_PAGE_DEFAULT);
    if limit == 0 || limit > PAGE_LEN_MAX {
        return Err(ApiError::input(format!("limit is 1..={PAGE_LEN_MAX}")));
    }
    let view = state
        .call(credentials, move |engine, caller, _| {
            caller.require_admin()?;
            let mut rows: Vec<Notification> = Vec::new();
            for state in states {
                rows.extend(engine.notifications(Some(state), limit)?);
            }
            rows.sort_by_key(|n| n.id);
            rows.truncate(limit);
            Ok(OutboxView { items: rows.iter().map(notification_view).collect() })
        })
        .await?;
    Ok(Json(view))
}

fn notification_view(row: &Notification) -> NotificationView {
    let n = &row.notification;
    NotificationView {
        id: row.id,
        kind: n.kind.as_str().to_string(),
        psn_no: n.psn_no.clone(),
        to_masked: mask_phone(&n.recipient),
        state: row.state.as_str().to_string(),
        attempts: row.attempts,
        last_error: row.last_error.clone(),
        reference: n.reference.clone(),
        created_at: n.created_at.to_rfc3339(),
        finished_at: row.finished_at.map(|t| t.to_rfc3339()),
    }
}
