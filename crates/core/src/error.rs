//! Domain errors: a stable machine code (SPEC §14), the rule it enforces, and a message.

use std::fmt;

crate::string_enum::string_enum! {
    /// Stable machine codes of SPEC §14. The string form never changes meaning.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum ErrorCode {
        InputInvalid => "input.invalid",
        MoneyInvalidAmount => "money.invalid_amount",
        MoneyInsufficient => "money.insufficient",
        PersonInvalidIdNumber => "person.invalid_id_number",
        PersonNotFound => "person.not_found",
        PersonDuplicate => "person.duplicate",
        PersonStatus => "person.status",
        NetworkPromoterNotEligible => "network.promoter_not_eligible",
        NetworkMemberNotEligible => "network.member_not_eligible",
        NetworkOtherArea => "network.other_area",
        NetworkSpouseLimit => "network.spouse_limit",
        NetworkParentLimit => "network.parent_limit",
        NetworkRelationLimit => "network.relation_limit",
        NetworkAlreadyMember => "network.already_member",
        NetworkNotAllowed => "network.not_allowed",
        NetworkNotFound => "network.not_found",
        NetworkModelDisabled => "network.model_disabled",
        NetworkRelationNotAllowed => "network.relation_not_allowed",
        TransferIdentityMismatch => "transfer.identity_mismatch",
        TransferCodeInvalid => "transfer.code_invalid",
        SettlementConflict => "settlement.conflict",
        SettlementNotFound => "settlement.not_found",
        SettlementInvalidBill => "settlement.invalid_bill",
        SettlementAlreadyCancelled => "settlement.already_cancelled",
        PolicyInvalid => "policy.invalid",
        PolicyNotFound => "policy.not_found",
        CreditDuplicate => "credit.duplicate",
        CreditNotEligible => "credit.not_eligible",
        TransferNotEligible => "transfer.not_eligible",
        NetworkPending => "network.pending",
        AuthForbidden => "auth.forbidden",
        TransferCommitmentRequired => "transfer.commitment_required",
        AssociationAlreadyBound => "association.already_bound",
        AssociationNotFound => "association.not_found",
        QuotaNotFound => "quota.not_found",
        QuotaLimit => "quota.limit",
        PremiumAlreadyPaid => "premium.already_paid",
        SettlementAmountLimit => "settlement.amount_limit",
        SettlementDateOutOfRange => "settlement.date_out_of_range",
        JobNotDue => "job.not_due",
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
