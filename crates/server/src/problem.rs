//! Errors of the HTTP API as `application/problem+json` (RFC 9457, SPEC §14): `type`, `title`,
//! `status`, the stable `code`, the `rule` id and a human `detail`. One table maps each
//! [`ErrorCode`] to an HTTP status; failures that are not refusals (storage, panics) are logged
//! with their cause and answered with an opaque 500.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use gongji_core::{DomainError, ErrorCode};
use gongji_engine::Error as EngineError;
use gongji_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// The HTTP status of every stable error code (SPEC §14). A code missing here answers 422 and
/// a test fails, so the table stays complete.
pub const STATUS_OF_CODE: &[(ErrorCode, u16)] = &[
    (ErrorCode::InputInvalid, 400),
    (ErrorCode::MoneyInvalidAmount, 422),
    (ErrorCode::MoneyInsufficient, 422),
    (ErrorCode::PersonInvalidIdNumber, 422),
    (ErrorCode::PersonNotFound, 404),
    (ErrorCode::PersonDuplicate, 409),
    (ErrorCode::PersonStatus, 422),
    (ErrorCode::NetworkPromoterNotEligible, 422),
    (ErrorCode::NetworkMemberNotEligible, 422),
    (ErrorCode::NetworkOtherArea, 422),
    (ErrorCode::NetworkSpouseLimit, 422),
    (ErrorCode::NetworkParentLimit, 422),
    (ErrorCode::NetworkRelationLimit, 422),
    (ErrorCode::NetworkAlreadyMember, 409),
    (ErrorCode::NetworkNotAllowed, 403),
    (ErrorCode::NetworkNotFound, 404),
    (ErrorCode::NetworkModelDisabled, 422),
    (ErrorCode::NetworkRelationNotAllowed, 422),
    (ErrorCode::TransferIdentityMismatch, 422),
    (ErrorCode::TransferCodeInvalid, 422),
    (ErrorCode::SettlementConflict, 409),
    (ErrorCode::SettlementNotFound, 404),
    (ErrorCode::SettlementInvalidBill, 422),
    (ErrorCode::SettlementAlreadyCancelled, 409),
    (ErrorCode::PolicyInvalid, 422),
    (ErrorCode::PolicyNotFound, 422),
    (ErrorCode::CreditDuplicate, 409),
    (ErrorCode::CreditNotEligible, 422),
    (ErrorCode::TransferNotEligible, 422),
    (ErrorCode::NetworkPending, 409),
    (ErrorCode::AuthForbidden, 403),
    // Family models (§7, §8, §15)
    (ErrorCode::TransferCommitmentRequired, 422),
    (ErrorCode::AssociationAlreadyBound, 409),
    (ErrorCode::AssociationNotFound, 404),
    (ErrorCode::QuotaNotFound, 404),
    (ErrorCode::QuotaLimit, 422),
    (ErrorCode::PremiumAlreadyPaid, 409),
    // Bounds (ST10) and jobs before their time (B1-B3)
    (ErrorCode::SettlementAmountLimit, 422),
    (ErrorCode::SettlementDateOutOfRange, 422),
    (ErrorCode::JobNotDue, 409),
];

/// Codes the HTTP layer adds to SPEC §14; they never come from a business rule.
pub mod http_code {
    /// No bearer token, an unknown (forged) token, or a revoked one (§12).
    pub const UNAUTHENTICATED: &str = "auth.unauthenticated";
    pub const ROUTE_NOT_FOUND: &str = "http.not_found";
    pub const METHOD_NOT_ALLOWED: &str = "http.method_not_allowed";
    /// The request took longer than the server's time limit; a write may or may not have
    /// committed (settlement is idempotent by bill id, ST6, so a retry is safe).
    pub const TIMEOUT: &str = "http.timeout";
    /// The store is busy (a lock held too long by another process); retry.
    pub const BUSY: &str = "service.busy";
    pub const INTERNAL: &str = "internal";
}

pub fn status_of(code: ErrorCode) -> StatusCode {
    STATUS_OF_CODE.iter().find(|(c, _)| *c == code).and_then(|(_, status)| StatusCode::from_u16(*status).ok()).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY)
}

/// The body of every error answer of the JSON API.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// `urn:gongji:problem:<code>`
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// The stable machine code (SPEC §14), e.g. `network.spouse_limit`.
    pub code: String,
    /// The SPEC rule id, e.g. `N3`; empty when no rule names the refusal.
    pub rule: String,
    pub detail: String,
}

/// An error on its way to becoming a problem answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub rule: &'static str,
    pub detail: String,
    /// Logged, never sent: the cause of an unexpected failure.
    cause: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, rule: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError { status, code, rule, detail: detail.into(), cause: None }
    }

    pub fn domain(code: ErrorCode, rule: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(status_of(code), code.as_str(), rule, detail)
    }

    pub fn input(detail: impl Into<String>) -> ApiError {
        ApiError::domain(ErrorCode::InputInvalid, "", detail)
    }

    pub fn forbidden(rule: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::domain(ErrorCode::AuthForbidden, rule, detail)
    }

    pub fn unauthenticated(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, http_code::UNAUTHENTICATED, "§12", detail)
    }

    /// An unexpected failure: the cause is logged, the caller sees an opaque 500.
    pub fn internal(cause: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: http_code::INTERNAL,
            rule: "",
            detail: "internal error; the request id identifies it in the server log".into(),
            cause: Some(cause.into()),
        }
    }

    pub fn problem(&self) -> Problem {
        Problem {
            kind: format!("urn:gongji:problem:{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_string(),
            status: self.status.as_u16(),
            code: self.code.to_string(),
            rule: self.rule.to_string(),
            detail: self.detail.clone(),
        }
    }

    /// Logs what the caller must not see; refusals are logged by code only (no personal data).
    pub fn log(&self) {
        match &self.cause {
            Some(cause) => tracing::error!(code = self.code, status = self.status.as_u16(), cause = ?cause, "request failed"),
            None if self.status.is_server_error() => tracing::warn!(code = self.code, status = self.status.as_u16(), "request failed"),
            None => tracing::info!(code = self.code, rule = self.rule, status = self.status.as_u16(), "request refused"),
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(err: DomainError) -> ApiError {
        ApiError::domain(err.code, err.rule, err.message)
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> ApiError {
        match err {
            StoreError::Busy => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, http_code::BUSY, "", "the store is busy; retry"),
            other => ApiError::internal(format!("storage: {other}")),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> ApiError {
        match err {
            EngineError::Domain(domain) => domain.into(),
            EngineError::Store(store) => store.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_code_of_spec_14_has_an_http_status() {
        for code in ErrorCode::ALL {
            let entries = STATUS_OF_CODE.iter().filter(|(c, _)| c == code).count();
            assert_eq!(entries, 1, "{code} must appear exactly once in STATUS_OF_CODE");
            assert!(status_of(*code).is_client_error(), "{code} is a refusal, a 4xx");
        }
    }

    #[test]
    fn problem_carries_code_rule_and_type() {
        let err = ApiError::domain(ErrorCode::NetworkSpouseLimit, "N3", "a second spouse");
        let problem = err.problem();
        assert_eq!(problem.status, 422);
        assert_eq!(problem.code, "network.spouse_limit");
        assert_eq!(problem.rule, "N3");
        assert_eq!(problem.kind, "urn:gongji:problem:network.spouse_limit");
    }

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let err = ApiError::internal("disk I/O error at /secret/path");
        assert!(!err.problem().detail.contains("secret"));
        assert_eq!(err.problem().status, 500);
    }
}
