//! Accounts: the three personal accounts of an insured person (P2) and the system accounts
//! that money comes from and goes to (P4).

use std::fmt;

use crate::money::Money;
use crate::person::AreaCode;
use crate::string_enum::string_enum;

/// The largest balance a person's account may hold (ST10, P3): 10,000,000,000.00 yuan, far above
/// any real personal account (the whole fund of a large city is of this order). With it, an
/// account's daily-balance product (balance × days, B1) fits an `i64` for more than 25,000
/// years, so no admitted balance can overflow the product the store keeps.
pub const PERSON_BALANCE_MAX: Money = Money::from_fen(1_000_000_000_000);

/// The largest magnitude a system account's balance may reach: 10^15 yuan, a thousand times
/// the yearly spending of China's whole medical insurance. With bills bounded per visit type
/// (ST10), reaching it takes more than ten million bills each at the largest amount a policy
/// may admit; `audit` reports an account beyond it.
pub const SYSTEM_BALANCE_MAX: Money = Money::from_fen(100_000_000_000_000_000);

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

    /// B1: only a person's CUR, HIS and MUT earn interest, so only they keep a daily-balance
    /// product; the system accounts (moved by every bill of an area) keep none.
    pub fn earns_interest(&self) -> bool {
        matches!(self, AccountRef::Person { kind: PersonAccount::Cur | PersonAccount::His | PersonAccount::Mut, .. })
    }

    /// ST10: the range a balance of this account is admitted in; `audit` reports any outside.
    pub fn admitted_balance(&self) -> (Money, Money) {
        match self {
            AccountRef::Person { .. } => (Money::ZERO, PERSON_BALANCE_MAX),
            _ if !self.may_go_negative() => (Money::ZERO, SYSTEM_BALANCE_MAX),
            _ => (SYSTEM_BALANCE_MAX.neg(), SYSTEM_BALANCE_MAX),
        }
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
    fn b1_st10_only_person_accounts_earn_interest_and_balances_have_a_range() {
        let area = AreaCode::parse("330200").unwrap();
        for kind in [PersonAccount::Cur, PersonAccount::His, PersonAccount::Mut] {
            assert!(AccountRef::person("a", kind).earns_interest());
            assert_eq!(AccountRef::person("a", kind).admitted_balance(), (Money::ZERO, PERSON_BALANCE_MAX));
        }
        assert!(!AccountRef::person("a", PersonAccount::Quota).earns_interest());
        assert!(!AccountRef::system(&area, SystemAccount::PooledFund).earns_interest());
        assert_eq!(AccountRef::system(&area, SystemAccount::PooledFund).admitted_balance().0, SYSTEM_BALANCE_MAX.neg());
        assert_eq!(AccountRef::system(&area, SystemAccount::RefundHolding).admitted_balance().0, Money::ZERO);
        // The product of the largest balance over 25,000 years still fits an i64 (B1).
        assert!((PERSON_BALANCE_MAX.fen() as i128) * 366 * 25_000 < i64::MAX as i128);
    }

    #[test]
    fn p2_person_accounts_never_go_negative() {
        let area = AreaCode::parse("330200").unwrap();
        assert!(!AccountRef::person("a", PersonAccount::His).may_go_negative());
        assert!(!AccountRef::system(&area, SystemAccount::RefundHolding).may_go_negative());
        assert!(AccountRef::system(&area, SystemAccount::PooledFund).may_go_negative());
    }
}
