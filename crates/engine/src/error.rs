//! The engine's error: a refusal by a rule (with its stable code) or a storage failure.

use gongji_core::{DomainError, ErrorCode};
use gongji_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Domain(#[from] DomainError),
    #[error("storage: {0}")]
    Store(StoreError),
}

impl From<StoreError> for Error {
    /// A balance the store refuses for being outside its admitted range (ST10) is a refusal
    /// of the operation, with a stable code, not a storage failure.
    fn from(err: StoreError) -> Error {
        match err {
            StoreError::BalanceOutOfRange(account) => Error::domain(
                ErrorCode::MoneyInvalidAmount,
                "ST10",
                format!("the balance of {account} would go above {}, the most an account admits", gongji_core::account::PERSON_BALANCE_MAX),
            ),
            other => Error::Store(other),
        }
    }
}

impl Error {
    pub fn domain(code: ErrorCode, rule: &'static str, message: impl Into<String>) -> Error {
        Error::Domain(DomainError::new(code, rule, message))
    }

    /// The stable code (SPEC §14) of a refusal; `None` for storage failures.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Domain(err) => Some(err.code),
            Error::Store(_) => None,
        }
    }

    pub fn rule(&self) -> &'static str {
        match self {
            Error::Domain(err) => err.rule,
            Error::Store(_) => "",
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// `person.not_found` for `psn_no`.
pub fn not_found(psn_no: &str) -> Error {
    Error::domain(ErrorCode::PersonNotFound, "", format!("no person with psn_no {psn_no:?}"))
}
