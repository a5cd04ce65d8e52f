//! Domain errors: a stable machine code (SPEC §14), the rule it enforces, and a message.

use std::fmt;

/// Stable machine codes of SPEC §14. The string form never changes meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    InputInvalid,
    MoneyInvalidAmount,
    MoneyInsufficient,
    PersonInvalidIdNumber,
    PersonNotFound,
    PersonDuplicate,
    PersonStatus,
    NetworkPromoterNotEligible,
    NetworkMemberNotEligible,
    NetworkOtherArea,
    NetworkSpouseLimit,
    NetworkParentLimit,
    NetworkRelationLimit,
    NetworkAlreadyMember,
    NetworkNotAllowed,
    NetworkNotFound,
    NetworkModelDisabled,
    NetworkRelationNotAllowed,
    TransferIdentityMismatch,
    TransferCodeInvalid,
    SettlementConflict,
    SettlementNotFound,
    SettlementInvalidBill,
    SettlementAlreadyCancelled,
    PolicyInvalid,
    PolicyNotFound,
    CreditDuplicate,
    CreditNotEligible,
    TransferNotEligible,
    NetworkPending,
    AuthForbidden,
    TransferCommitmentRequired,
    AssociationAlreadyBound,
    AssociationNotFound,
    QuotaNotFound,
    QuotaLimit,
    PremiumAlreadyPaid,
    SettlementAmountLimit,
    SettlementDateOutOfRange,
    JobNotDue,
}

impl ErrorCode {
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::InputInvalid,
        ErrorCode::MoneyInvalidAmount,
        ErrorCode::MoneyInsufficient,
        ErrorCode::PersonInvalidIdNumber,
        ErrorCode::PersonNotFound,
        ErrorCode::PersonDuplicate,
        ErrorCode::PersonStatus,
        ErrorCode::NetworkPromoterNotEligible,
        ErrorCode::NetworkMemberNotEligible,
        ErrorCode::NetworkOtherArea,
        ErrorCode::NetworkSpouseLimit,
        ErrorCode::NetworkParentLimit,
        ErrorCode::NetworkRelationLimit,
        ErrorCode::NetworkAlreadyMember,
        ErrorCode::NetworkNotAllowed,
        ErrorCode::NetworkNotFound,
        ErrorCode::NetworkModelDisabled,
        ErrorCode::NetworkRelationNotAllowed,
        ErrorCode::TransferIdentityMismatch,
        ErrorCode::TransferCodeInvalid,
        ErrorCode::SettlementConflict,
        ErrorCode::SettlementNotFound,
        ErrorCode::SettlementInvalidBill,
        ErrorCode::SettlementAlreadyCancelled,
        ErrorCode::PolicyInvalid,
        ErrorCode::PolicyNotFound,
        ErrorCode::CreditDuplicate,
        ErrorCode::CreditNotEligible,
        ErrorCode::TransferNotEligible,
        ErrorCode::NetworkPending,
        ErrorCode::AuthForbidden,
        ErrorCode::TransferCommitmentRequired,
        ErrorCode::AssociationAlreadyBound,
        ErrorCode::AssociationNotFound,
        ErrorCode::QuotaNotFound,
        ErrorCode::QuotaLimit,
        ErrorCode::PremiumAlreadyPaid,
        ErrorCode::SettlementAmountLimit,
        ErrorCode::SettlementDateOutOfRange,
        ErrorCode::JobNotDue,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InputInvalid => "input.invalid",
            ErrorCode::MoneyInvalidAmount => "money.invalid_amount",
            ErrorCode::MoneyInsufficient => "money.insufficient",
            ErrorCode::PersonInvalidIdNumber => "person.invalid_id_number",
            ErrorCode::PersonNotFound => "person.not_found",
            ErrorCode::PersonDuplicate => "person.duplicate",
            ErrorCode::PersonStatus => "person.status",
            ErrorCode::NetworkPromoterNotEligible => "network.promoter_not_eligible",
            ErrorCode::NetworkMemberNotEligible => "network.member_not_eligible",
            ErrorCode::NetworkOtherArea => "network.other_area",
            ErrorCode::NetworkSpouseLimit => "network.spouse_limit",
            ErrorCode::NetworkParentLimit => "network.parent_limit",
            ErrorCode::NetworkRelationLimit => "network.relation_limit",
            ErrorCode::NetworkAlreadyMember => "network.already_member",
            ErrorCode::NetworkNotAllowed => "network.not_allowed",
            ErrorCode::NetworkNotFound => "network.not_found",
            ErrorCode::NetworkModelDisabled => "network.model_disabled",
            ErrorCode::NetworkRelationNotAllowed => "network.relation_not_allowed",
            ErrorCode::TransferIdentityMismatch => "transfer.identity_mismatch",
            ErrorCode::TransferCodeInvalid => "transfer.code_invalid",
            ErrorCode::SettlementConflict => "settlement.conflict",
            ErrorCode::SettlementNotFound => "settlement.not_found",
            ErrorCode::SettlementInvalidBill => "settlement.invalid_bill",
            ErrorCode::SettlementAlreadyCancelled => "settlement.already_cancelled",
            ErrorCode::PolicyInvalid => "policy.invalid",
            ErrorCode::PolicyNotFound => "policy.not_found",
            ErrorCode::CreditDuplicate => "credit.duplicate",
            ErrorCode::CreditNotEligible => "credit.not_eligible",
            ErrorCode::TransferNotEligible => "transfer.not_eligible",
            ErrorCode::NetworkPending => "network.pending",
            ErrorCode::AuthForbidden => "auth.forbidden",
            ErrorCode::TransferCommitmentRequired => "transfer.commitment_required",
            ErrorCode::AssociationAlreadyBound => "association.already_bound",
            ErrorCode::AssociationNotFound => "association.not_found",
            ErrorCode::QuotaNotFound => "quota.not_found",
            ErrorCode::QuotaLimit => "quota.limit",
            ErrorCode::PremiumAlreadyPaid => "premium.already_paid",
            ErrorCode::SettlementAmountLimit => "settlement.amount_limit",
            ErrorCode::SettlementDateOutOfRange => "settlement.date_out_of_range",
            ErrorCode::JobNotDue => "job.not_due",
        }
    }

    pub fn parse(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| c.as_str() == code)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused operation: what went wrong (code), which rule says so, and a human message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainError {
    pub code: ErrorCode,
    /// SPEC rule id such as `N3`, or `""` for input errors that no rule names.
    pub rule: &'static str,
    pub message: String,
}

impl DomainError {
    pub fn new(code: ErrorCode, rule: &'static str, message: impl Into<String>) -> Self {
        DomainError { code, rule, message: message.into() }
    }
}

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rule.is_empty() {
            write!(f, "{}: {}", self.code, self.message)
        } else {
            write!(f, "{} ({}): {}", self.code, self.rule, self.message)
        }
    }
}

impl std::error::Error for DomainError {}

pub type DomainResult<T> = Result<T, DomainError>;
