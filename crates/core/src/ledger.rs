//! Double-entry journal entries (P4, P6).

use chrono::{DateTime, NaiveDate, Utc};

use crate::account::AccountRef;
use crate::error::{DomainError, DomainResult, ErrorCode};
use crate::money::Money;
use crate::person::{Actor, Channel};
use crate::string_enum::string_enum;

/// What a journal entry is for. One meaning per word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    Contribution,
    OpeningBalance,
    /// HIS↔MUT of one person (T1) or the yearly preset (T2).
    MutualAidTransfer,
    Settlement,
    SettlementCancel,
    RefundSync,
    Interest,
    YearEndSweep,
    RollOver,
    /// The year-end closing of one person's accounts (B1): MUT→HIS, interest, CUR→HIS.
    YearEnd,
    Liquidation,
    RelativeTransfer,
    /// Quota money set aside, topped up, or returned between a donor and a relative (X2).
    Quota,
    /// A resident-insurance premium paid from account money (X4).
    Premium,
}

string_enum!(EntryKind {
    Contribution => "contribution",
    OpeningBalance => "opening_balance",
    MutualAidTransfer => "mutual_aid_transfer",
    Settlement => "settlement",
    SettlementCancel => "settlement_cancel",
    RefundSync => "refund_sync",
    Interest => "interest",
    YearEndSweep => "year_end_sweep",
    RollOver => "roll_over",
    YearEnd => "year_end",
    Liquidation => "liquidation",
    RelativeTransfer => "relative_transfer",
    Quota => "quota",
    Premium => "premium",
});

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub account: AccountRef,
    /// Positive credits the account, negative debits it.
    pub amount: Money,
}

/// Who, through which channel, when, and on which business date (P6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    pub actor: Actor,
    pub channel: Channel,
    pub business_date: NaiveDate,
    pub recorded_at: DateTime<Utc>,
}

/// A balanced set of postings: the only way money moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    pub kind: EntryKind,
    pub postings: Vec<Posting>,
    pub provenance: Provenance,
    /// When set, the store refuses a second entry with the same key (imports, jobs).
    pub idempotency_key: Option<String>,
    pub memo: String,
}

/// No entry has more postings than this (a settlement touches at most a handful of accounts).
pub const POSTINGS_PER_ENTRY_MAX: usize = 64;

impl JournalEntry {
    /// Builds an entry, merging postings to the same account and dropping zero ones. Refuses
    /// entries that do not sum to zero or have fewer than two postings left (P4): that is a
    /// programmer error in the caller, reported as a domain error so that nothing is written.
    pub fn new(
        kind: EntryKind,
        postings: Vec<Posting>,
        provenance: Provenance,
        idempotency_key: Option<String>,
        memo: impl Into<String>,
    ) -> DomainResult<JournalEntry> {
        let mut merged: Vec<Posting> = Vec::with_capacity(postings.len());
        for posting in postings {
            match merged.iter_mut().find(|p| p.account == posting.account) {
                Some(existing) => existing.amount = existing.amount.checked_add(posting.amount).ok_or_else(overflow)?,
                None => merged.push(posting),
            }
        }
        merged.retain(|p| !p.amount.is_zero());
        let mut total = Money::ZERO;
        for posting in &merged {
            total = total.checked_add(posting.amount).ok_or_else(overflow)?;
        }
        if !total.is_zero() {
            return Err(DomainError::new(ErrorCode::InputInvalid, "P4", format!("journal entry does not balance: off by {total}")));
        }
        if merged.len() < 2 || merged.len() > POSTINGS_PER_ENTRY_MAX {
            return Err(DomainError::new(
                ErrorCode::InputInvalid,
                "P4",
                format!("journal entry needs 2..={POSTINGS_PER_ENTRY_MAX} non-zero postings, has {}", merged.len()),
            ));
        }
        Ok(JournalEntry { kind, postings: merged, provenance, idempotency_key, memo: memo.into() })
    }

    /// A two-posting entry moving `amount` (> 0) from one account to another.
    pub fn transfer(
        kind: EntryKind,
        from: AccountRef,
        to: AccountRef,
        amount: Money,
        provenance: Provenance,
        idempotency_key: Option<String>,
        memo: impl Into<String>,
    ) -> DomainResult<JournalEntry> {
        JournalEntry::new(kind, vec![Posting { account: from, amount: amount.neg() }, Posting { account: to, amount }], provenance, idempotency_key, memo)
    }
}

fn overflow() -> DomainError {
    DomainError::new(ErrorCode::MoneyInvalidAmount, "P3", "amount overflow")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::{PersonAccount, SystemAccount};
    use crate::person::AreaCode;

    fn provenance() -> Provenance {
        Provenance {
            actor: Actor::System("test".into()),
            channel: Channel::Batch,
            business_date: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
            recorded_at: DateTime::from_timestamp(0, 0).unwrap(),
        }
    }

    #[test]
    fn p4_entries_must_balance() {
        let area = AreaCode::parse("330200").unwrap();
        let his = AccountRef::person("a", PersonAccount::His);
        let fund = AccountRef::system(&area, SystemAccount::OpeningBalance);
        let ok = JournalEntry::transfer(EntryKind::OpeningBalance, fund.clone(), his.clone(), Money::yuan(5), provenance(), None, "").unwrap();
        assert_eq!(ok.postings.len(), 2);
        let unbalanced = JournalEntry::new(
            EntryKind::OpeningBalance,
            vec![Posting { account: fund.clone(), amount: Money::yuan(-5) }, Posting { account: his.clone(), amount: Money::yuan(4) }],
            provenance(),
            None,
            "",
        );
        assert_eq!(unbalanced.unwrap_err().rule, "P4");
        // Postings to one account are merged; an entry that nets out to nothing is refused.
        let nothing = JournalEntry::transfer(EntryKind::MutualAidTransfer, his.clone(), his, Money::yuan(1), provenance(), None, "");
        assert!(nothing.is_err());
    }
}
