//! Plain records the store hands back, beside the core's own types.

use chrono::{DateTime, NaiveDate, Utc};
use gongji_core::ledger::EntryKind;
use gongji_core::settlement::BillSplit;
use gongji_core::{AccountRef, AreaCode, Money, PersonStatus, VisitType};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub from: PersonStatus,
    pub to: PersonStatus,
    pub reason: String,
    pub actor: String,
    pub channel: String,
    pub business_date: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    pub id: i64,
    pub kind: EntryKind,
    pub business_date: NaiveDate,
    pub recorded_at: DateTime<Utc>,
    pub actor: String,
    pub channel: String,
    pub memo: String,
    pub postings: Vec<(AccountRef, Money)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLine {
    pub entry_id: i64,
    pub kind: EntryKind,
    pub business_date: NaiveDate,
    pub amount: Money,
    pub memo: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceMismatch {
    pub account: String,
    pub stored: Money,
    pub sum_of_postings: Money,
}

/// What `audit` proves (P4): every stored balance equals the sum of its postings, every entry
/// sums to zero, the whole ledger sums to zero, and no guarded balance is negative.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditReport {
    pub accounts: u64,
    pub entries: u64,
    pub postings: u64,
    pub mismatched: Vec<BalanceMismatch>,
    pub unbalanced_entries: Vec<i64>,
    pub negative: Vec<(String, Money)>,
    pub ledger_total: Money,
}

impl AuditReport {
    pub fn is_clean(&self) -> bool {
        self.mismatched.is_empty() && self.unbalanced_entries.is_empty() && self.negative.is_empty() && self.ledger_total.is_zero()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNetworkEvent {
    pub network_id: i64,
    pub area: AreaCode,
    /// `created`, `member_added`, `member_confirmed`, `member_removed`, `member_left`,
    /// `reordered`, `dissolved`.
    pub kind: String,
    pub subject: Option<String>,
    pub detail: String,
    pub actor: String,
    pub channel: String,
    pub business_date: NaiveDate,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkEvent {
    pub id: i64,
    pub event: NewNetworkEvent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MutMovement {
    pub entry_id: i64,
    pub psn_no: String,
    pub kind: EntryKind,
    pub business_date: NaiveDate,
    pub amount: Money,
    pub actor: String,
    pub channel: String,
}

/// One line of a settlement's explanation as stored (ST7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredStep {
    pub account: Option<String>,
    pub role: Option<String>,
    pub amount: Money,
    pub code: String,
    pub rule: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSettlement {
    pub id: i64,
    pub institution: String,
    pub bill_id: String,
    pub patient: String,
    pub visit: VisitType,
    pub bill_date: NaiveDate,
    pub fingerprint: String,
    pub policy_id: String,
    pub policy_effective_from: NaiveDate,
    /// The network whose MUT money could be used, as it was at settlement.
    pub network_id: Option<i64>,
    pub split: BillSplit,
    pub deductible_applied: Money,
    pub cash: Money,
    pub entry_id: i64,
    /// Accounts that paid, with their role in the waterfall, in order.
    pub lines: Vec<(AccountRef, String, Money)>,
    pub steps: Vec<StoredStep>,
    pub cancelled: Option<(i64, NaiveDate)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefundHolding {
    pub owner: String,
    pub area: AreaCode,
    pub amount: Money,
    pub settlement_id: i64,
    pub cancel_entry_id: i64,
    pub created_date: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundHolding {
    pub id: i64,
    pub holding: NewRefundHolding,
}

/// One unit of a batch job's work, recorded in the same transaction as the work itself, so
/// that a rerun after a crash skips exactly what was done (§10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobMark {
    pub job: String,
    /// The job's period: `2024` for year-end, `2025-06-01` for a preset run.
    pub period: String,
    pub subject: String,
    /// `done`, or `skipped: <reason>`.
    pub outcome: String,
    pub recorded_at: DateTime<Utc>,
}

/// A closed personal account (B4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Liquidation {
    pub psn_no: String,
    /// `death` or `transfer_out`.
    pub reason: String,
    pub business_date: NaiveDate,
    pub principal: Money,
    pub interest: Money,
    /// Heirs' name for a death; the receiving planning area for a transfer out.
    pub payee: String,
    /// `None` when there was nothing to pay out.
    pub entry_id: Option<i64>,
}
