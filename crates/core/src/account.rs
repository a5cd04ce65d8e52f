//! Accounts: the three personal accounts of an insured person (P2) and the system accounts
//! that money comes from and goes to (P4).

use std::fmt;

use crate::person::{string_enum, AreaCode};

/// The personal accounts of P2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PersonAccount {
    /// 当年账户: this year's contributions.
    Cur,
    /// 历年账户: carried over from earlier years.
    His,
    /// 共济健康账户: filled from own HIS, still owned by the person.
    Mut,
    /// 共济额度 (X2): quota money that near relatives set aside for this person. Only this
    /// person spends it (settlement, resident premium); what is unused returns to the donors.
    Quota,
}

string_enum!(PersonAccount { Cur => "cur", His => "his", Mut => "mut", Quota => "quota" });

/// The system accounts of P4, one of each per planning area.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SystemAccount {
    /// 统筹基金: pays the reimbursed part of bills.
    PooledFund,
    /// Monthly contributions (划账) come from here.
    ContributionInflow,
    /// Opening balances migrated from a legacy system come from here.
    OpeningBalance,
    /// Year-end interest comes from here.
    InterestExpense,
    /// Refunds waiting for the nightly sync to a former network member's HIS (ST8, B3).
    RefundHolding,
    /// Liquidated balances owed to heirs or another planning area (B4).
    LiquidationPayable,
    /// What patients paid in cash at the institution.
    PatientCash,
    /// What the agency owes institutions for settled bills.
    InstitutionClearing,
    /// Money sent to (positive) or received from (negative) other planning areas (X2 clearing).
    InterAreaClearing,
    /// Resident-insurance premiums paid from personal-account money (X4).
    ResidentPremium,
}

string_enum!(SystemAccount {
    PooledFund => "pooled_fund",
    ContributionInflow => "contribution_inflow",
    OpeningBalance => "opening_balance",
    InterestExpense => "interest_expense",
    RefundHolding => "refund_holding",
    LiquidationPayable => "liquidation_payable",
    PatientCash => "patient_cash",
    InstitutionClearing => "institution_clearing",
    InterAreaClearing => "interarea_clearing",
    ResidentPremium => "resident_premium",
});

/// One account of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AccountRef {
    Person { psn_no: String, kind: PersonAccount },
    System { area: AreaCode, kind: SystemAccount },
}

impl AccountRef {
    pub fn person(psn_no: &str, kind: PersonAccount) -> AccountRef {
        AccountRef::Person { psn_no: psn_no.to_string(), kind }
    }

    pub fn system(area: &AreaCode, kind: SystemAccount) -> AccountRef {
        AccountRef::System { area: area.clone(), kind }
    }

    /// Balances of person accounts and of the refund holding never go negative (P2, ST8);
    /// the other system accounts are sources and sinks and may.
    pub fn may_go_negative(&self) -> bool {
        match self {
            AccountRef::Person { .. } => false,
            AccountRef::System { kind, .. } => !matches!(kind, SystemAccount::RefundHolding | SystemAccount::LiquidationPayable),
        }
    }

    /// A stable text key, unique per account: `P:<psn_no>:his`, `S:<area>:pooled_fund`.
    pub fn key(&self) -> String {
        match self {
            AccountRef::Person { psn_no, kind } => format!("P:{psn_no}:{kind}"),
            AccountRef::System { area, kind } => format!("S:{area}:{kind}"),
        }
    }

    pub fn parse_key(key: &str) -> Option<AccountRef> {
        let mut parts = key.splitn(3, ':');
        let (tag, middle, kind) = (parts.next()?, parts.next()?, parts.next()?);
        match tag {
            "P" => Some(AccountRef::person(middle, PersonAccount::parse(kind)?)),
            "S" => Some(AccountRef::system(&AreaCode::parse(middle).ok()?, SystemAccount::parse(kind)?)),
            _ => None,
        }
    }

    pub fn owner(&self) -> Option<&str> {
        match self {
            AccountRef::Person { psn_no, .. } => Some(psn_no),
            AccountRef::System { .. } => None,
        }
    }
}

impl fmt::Display for AccountRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p4_account_keys_round_trip() {
        let area = AreaCode::parse("330200").unwrap();
        for account in [AccountRef::person("A-1", PersonAccount::Mut), AccountRef::system(&area, SystemAccount::RefundHolding)] {
            assert_eq!(AccountRef::parse_key(&account.key()), Some(account.clone()));
        }
        assert_eq!(AccountRef::parse_key("X:1:his"), None);
    }

    #[test]
    fn p2_person_accounts_never_go_negative() {
        let area = AreaCode::parse("330200").unwrap();
        assert!(!AccountRef::person("a", PersonAccount::His).may_go_negative());
        assert!(!AccountRef::system(&area, SystemAccount::RefundHolding).may_go_negative());
        assert!(AccountRef::system(&area, SystemAccount::PooledFund).may_go_negative());
    }
}
