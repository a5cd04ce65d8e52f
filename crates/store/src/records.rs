//! Plain records the store hands back, beside the core's own types.

use chrono::{DateTime, NaiveDate, Utc};
use gongji_core::ledger::EntryKind;
use gongji_core::settlement::{BillSplit, SourceRole};
use gongji_core::states::{
    AreaMessageKind, AreaMessageState, ClearingDirection, ClearingState, InboxOutcome, NetworkEventKind, NotificationKind, NotificationState, QuotaEventKind,
    QuotaSide, QuotaState, RelativeTransferState,
};
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
    /// ST10, B1: accounts whose balance is outside its admitted range
    /// ([`gongji_core::AccountRef::admitted_balance`]), or whose daily-balance product is
    /// negative or kept although the account earns no interest: (account, balance, product).
    pub out_of_range: Vec<(String, Money, i64)>,
    pub ledger_total: Money,
}

impl AuditReport {
    pub fn is_clean(&self) -> bool {
        self.mismatched.is_empty()
            && self.unbalanced_entries.is_empty()
            && self.negative.is_empty()
            && self.out_of_range.is_empty()
            && self.ledger_total.is_zero()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNetworkEvent {
    pub network_id: i64,
    pub area: AreaCode,
    pub kind: NetworkEventKind,
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
    /// ST6: this is the n-th settlement of the bill (1 for the first; a bill whose settlement
    /// was cancelled settles again as the next attempt).
    pub attempt: u32,
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
    pub lines: Vec<(AccountRef, SourceRole, Money)>,
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

// Family models (§7, §8, §15)

/// A message waiting in the notification outbox (TR3): an SMS to a registered phone. `body`
/// holds `{code}` where the one-time `secret` goes; the secret is cleared once the message is
/// sent, given up or void, so that no readable code outlives its delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    pub kind: NotificationKind,
    pub psn_no: String,
    /// The registered phone (personal data: never log it unmasked).
    pub recipient: String,
    pub body: String,
    pub secret: Option<String>,
    /// What it is about, e.g. `relative_transfer:12`.
    pub reference: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: i64,
    pub notification: NewNotification,
    pub state: NotificationState,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub claim: Option<String>,
    pub claimed_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A change of a notification's state, applied only if it is still in the expected state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationUpdate {
    pub state: NotificationState,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub clear_secret: bool,
    pub at: DateTime<Utc>,
}

/// A relative transfer waiting for its one-time code (TR1–TR3). Only a salted hash of the
/// code is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRelativeTransfer {
    pub authoriser: String,
    pub beneficiary: String,
    pub relation: String,
    pub amount: Money,
    pub code_salt: String,
    pub code_hash: String,
    pub expires_at: DateTime<Utc>,
    pub notification_id: Option<i64>,
    /// When the authoriser accepted the commitment letter (承诺书, TR3).
    pub commitment_accepted_at: DateTime<Utc>,
    pub actor: String,
    pub channel: String,
    pub business_date: NaiveDate,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelativeTransferRecord {
    pub id: i64,
    pub request: NewRelativeTransfer,
    /// Wrong codes entered so far.
    pub attempts: u32,
    pub state: RelativeTransferState,
    pub entry_id: Option<i64>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A binding of the association model (S1): the binder's account above the threshold may pay
/// the relative's burden (S2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAssociation {
    pub binder: String,
    pub relative: String,
    pub relation: String,
    pub area: AreaCode,
    pub actor: String,
    pub channel: String,
    pub business_date: NaiveDate,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Association {
    pub id: i64,
    pub association: NewAssociation,
    /// Who ended it, through which channel, on which business date, when.
    pub ended: Option<(String, String, NaiveDate, DateTime<Utc>)>,
}

/// One side of a quota relationship (X2). A quota between two persons of one area is one
/// `local` record; a quota across areas has a `donor` record in the donor's store and a
/// `relative` record in the relative's store, with the same `uid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaRecord {
    pub id: i64,
    pub uid: String,
    pub side: QuotaSide,
    pub donor: String,
    pub donor_area: AreaCode,
    /// The relative's psn_no in their own area; `None` on a donor side until the relative's
    /// area has answered.
    pub relative: Option<String>,
    pub relative_area: AreaCode,
    pub relative_name: String,
    pub relative_id_number: String,
    pub relation: String,
    pub state: QuotaState,
    pub granted: Money,
    /// Spent by the relative (known on the local and relative sides).
    pub used: Money,
    pub returned: Money,
    pub actor: String,
    pub channel: String,
    pub business_date: NaiveDate,
    pub created_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub end_reason: Option<String>,
}

/// What happened to a quota: `grant`, `use`, `unuse`, `premium`, `return`, `compensate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaEvent {
    pub quota_uid: String,
    pub side: QuotaSide,
    pub kind: QuotaEventKind,
    pub amount: Money,
    /// The settlement (`settle:<institution>:<bill>`), premium or message it belongs to.
    pub reference: String,
    /// The local calendar day (X3 counts grants per day).
    pub local_date: NaiveDate,
    pub entry_id: Option<i64>,
    pub actor: String,
    pub channel: String,
    pub business_date: NaiveDate,
    pub recorded_at: DateTime<Utc>,
}

/// A message from one planning area to another (X2), kept in the sender's outbox until the
/// receiver has answered. The receiver applies each message id once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AreaMessage {
    pub id: String,
    pub from_area: AreaCode,
    pub to_area: AreaCode,
    pub kind: AreaMessageKind,
    pub quota_uid: String,
    pub amount: Money,
    pub donor: String,
    pub donor_area: AreaCode,
    pub relative: Option<String>,
    pub relative_name: String,
    pub relative_id_number: String,
    pub relation: String,
    pub reason: String,
    pub business_date: NaiveDate,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    pub message: AreaMessage,
    pub state: AreaMessageState,
    pub answer: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
}

/// What the receiving area did with a message, kept so that a repeat gets the same answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxRecord {
    pub message_id: String,
    pub from_area: AreaCode,
    pub kind: AreaMessageKind,
    pub outcome: InboxOutcome,
    /// The refusal's code when rejected.
    pub code: Option<String>,
    pub detail: String,
    /// The relative's psn_no, when the receiver knows it.
    pub relative: Option<String>,
    pub applied_at: DateTime<Utc>,
}

/// One money movement between two planning areas as one agency books it (X2 clearing): the
/// sender has an `out` record, the receiver an `in` record with the same message id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearingRecord {
    pub message_id: String,
    pub area: AreaCode,
    pub counterparty: AreaCode,
    pub direction: ClearingDirection,
    /// `quota_grant` or `quota_return`.
    pub kind: AreaMessageKind,
    pub quota_uid: String,
    pub amount: Money,
    pub state: ClearingState,
    pub entry_id: Option<i64>,
    pub business_date: NaiveDate,
    pub recorded_at: DateTime<Utc>,
}
