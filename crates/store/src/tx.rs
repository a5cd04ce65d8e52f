//! What a transaction can do, by business area: one capability trait per area, and [`Tx`],
//! the transaction, which is all of them. Every trait is object-safe, so that the engine's
//! operations take `&mut dyn Tx`; a default method calls only its own trait's methods.
//!
//! A backend implements each capability in its own file (`sqlite/persons.rs`,
//! `postgres/persons.rs`, …); [`Tx`] comes with them through the blanket impl.

use chrono::{DateTime, NaiveDate, Utc};
use gongji_core::interest::BalanceProduct;
use gongji_core::ledger::{JournalEntry, Provenance};
use gongji_core::network::{MemberState, Network};
use gongji_core::settlement::YearTotals;
use gongji_core::states::{AreaMessageState, ClearingDirection, ClearingState, NotificationState, QuotaSide, RelativeTransferState};
use gongji_core::{AccountRef, AreaCode, Money, Person, PersonAccount, PersonStatus, VisitType};

use crate::*;

/// A transaction: every capability. Implemented for whatever implements them all.
pub trait Tx: PersonsTx + LedgerTx + NetworksTx + SettlementsTx + JobsTx + TokensTx + FamilyTx {}

impl<T: PersonsTx + LedgerTx + NetworksTx + SettlementsTx + JobsTx + TokensTx + FamilyTx + ?Sized> Tx for T {}

/// Persons and their status changes (P1, P6).
pub trait PersonsTx {
    fn insert_person(&mut self, person: &Person, provenance: &Provenance) -> StoreResult<()>;
    fn person(&mut self, psn_no: &str) -> StoreResult<Option<Person>>;
    fn person_by_id_number(&mut self, id_number: &str) -> StoreResult<Option<Person>>;
    fn set_person_status(&mut self, psn_no: &str, status: PersonStatus, reason: &str, provenance: &Provenance) -> StoreResult<()>;
    fn status_changes(&mut self, psn_no: &str) -> StoreResult<Vec<StatusChange>>;
    fn persons_in_area(&mut self, area: &AreaCode, after_psn_no: &str, limit: usize) -> StoreResult<Vec<Person>>;
    /// Only the psn_no of [`PersonsTx::persons_in_area`]: batch jobs page through millions of persons.
    fn psn_nos_in_area(&mut self, area: &AreaCode, after_psn_no: &str, limit: usize) -> StoreResult<Vec<String>> {
        Ok(self.persons_in_area(area, after_psn_no, limit)?.into_iter().map(|p| p.psn_no).collect())
    }
}

/// The ledger (P4): balances, postings, entries, statements, daily-balance products, audit.
pub trait LedgerTx {
    fn balance(&mut self, account: &AccountRef) -> StoreResult<Money>;
    /// Posts a balanced entry: refuses a used idempotency key and any balance that must not go
    /// negative; keeps each account's daily-balance product current (B1). Returns the entry id.
    fn post(&mut self, entry: &JournalEntry) -> StoreResult<i64>;
    fn entry_by_key(&mut self, key: &str) -> StoreResult<Option<i64>>;
    fn entry(&mut self, entry_id: i64) -> StoreResult<Option<StoredEntry>>;
    fn statement(&mut self, account: &AccountRef, from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<StatementLine>>;
    fn balance_product(&mut self, account: &AccountRef) -> StoreResult<Option<BalanceProduct>>;
    /// Balance and daily-balance product of each of a person's accounts that exists, in one go
    /// (year-end reads these for every person). Backends may answer with one query.
    fn person_account_states(&mut self, psn_no: &str) -> StoreResult<Vec<(PersonAccount, Money, BalanceProduct)>> {
        let mut states = Vec::new();
        for kind in [PersonAccount::Cur, PersonAccount::His, PersonAccount::Mut] {
            let account = AccountRef::person(psn_no, kind);
            if let Some(product) = self.balance_product(&account)? {
                states.push((kind, self.balance(&account)?, product));
            }
        }
        Ok(states)
    }
    fn audit(&mut self) -> StoreResult<AuditReport>;
    /// The business date of the earliest journal entry, if any (B1: which year-end comes first).
    fn first_entry_date(&mut self) -> StoreResult<Option<NaiveDate>>;
}

/// Networks (§5): networks, members, events, MUT movements, and presets (T2).
pub trait NetworksTx {
    fn insert_network(&mut self, area: &AreaCode, promoter: &str, provenance: &Provenance) -> StoreResult<i64>;
    /// The network the person is in now (pending or active), if any (N5).
    fn network_of(&mut self, psn_no: &str) -> StoreResult<Option<Network>>;
    fn network(&mut self, network_id: i64) -> StoreResult<Option<Network>>;
    /// Appends the member at the end of the payment order.
    fn insert_member(&mut self, network_id: i64, psn_no: &str, relation: Option<&str>, state: MemberState, provenance: &Provenance) -> StoreResult<()>;
    fn set_member_state(&mut self, network_id: i64, psn_no: &str, state: MemberState) -> StoreResult<()>;
    /// Ends a membership; the row stays, marked left (nothing is deleted).
    fn end_membership(&mut self, network_id: i64, psn_no: &str, provenance: &Provenance) -> StoreResult<()>;
    fn set_order(&mut self, network_id: i64, order: &[String]) -> StoreResult<()>;
    fn dissolve_network(&mut self, network_id: i64, provenance: &Provenance) -> StoreResult<()>;
    fn insert_network_event(&mut self, event: &NewNetworkEvent) -> StoreResult<()>;
    fn network_events(&mut self, area: &AreaCode, from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<NetworkEvent>>;
    /// MUT movements of persons of an area in a date range (Q3).
    fn mut_movements(&mut self, area: &AreaCode, from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<MutMovement>>;

    // Presets (T2)
    fn set_preset(&mut self, psn_no: &str, amount: Option<Money>, provenance: &Provenance) -> StoreResult<()>;
    fn preset(&mut self, psn_no: &str) -> StoreResult<Option<Money>>;
}

/// Settlements (§9) with the year totals they move, refund holdings (ST8, B3), and savepoints.
pub trait SettlementsTx {
    // Settlements (§9)
    /// The latest settlement of the bill (the one that is not cancelled, if any: ST6).
    fn settlement(&mut self, institution: &str, bill_id: &str) -> StoreResult<Option<StoredSettlement>>;
    /// The `attempt`-th settlement of the bill (ST6).
    fn settlement_attempt(&mut self, institution: &str, bill_id: &str, attempt: u32) -> StoreResult<Option<StoredSettlement>>;
    /// Stores a settlement; `AlreadyExists` when the bill already has this attempt or a
    /// settlement that is not cancelled.
    fn insert_settlement(&mut self, settlement: &StoredSettlement) -> StoreResult<i64>;
    fn mark_cancelled(&mut self, settlement_id: i64, cancel_entry_id: i64, cancel_date: NaiveDate) -> StoreResult<()>;
    fn year_totals(&mut self, psn_no: &str, year: i32, visit: VisitType) -> StoreResult<YearTotals>;
    fn put_year_totals(&mut self, psn_no: &str, year: i32, visit: VisitType, totals: YearTotals) -> StoreResult<()>;

    // Refund holding (ST8, B3)
    fn insert_refund_holding(&mut self, holding: &NewRefundHolding) -> StoreResult<i64>;
    /// Holdings not yet synced and created before `day`.
    fn refund_holdings_due(&mut self, day: NaiveDate) -> StoreResult<Vec<RefundHolding>>;
    fn mark_holding_synced(&mut self, holding_id: i64, entry_id: i64) -> StoreResult<()>;

    // Savepoints: one refused item of a group commit rolls back alone (ST6 group commit).
    /// Opens a savepoint inside the transaction.
    fn savepoint(&mut self) -> StoreResult<()>;
    /// Keeps the work since the last savepoint and closes it.
    fn release_savepoint(&mut self) -> StoreResult<()>;
    /// Undoes the work since the last savepoint and closes it.
    fn rollback_to_savepoint(&mut self) -> StoreResult<()>;
}

/// Batch jobs (§10): areas, product restarts, job marks, presets by area, liquidations.
pub trait JobsTx {
    /// Every planning area that has persons.
    fn person_areas(&mut self) -> StoreResult<Vec<AreaCode>>;
    /// Replaces an account's daily-balance product (restarted after year-end interest, B1).
    fn set_product(&mut self, account: &AccountRef, product: BalanceProduct) -> StoreResult<()>;
    /// Restarts the products of all of a person's accounts at `as_of` (B1). Backends may do it
    /// in one statement.
    fn restart_person_products(&mut self, psn_no: &str, as_of: NaiveDate) -> StoreResult<()> {
        for kind in [PersonAccount::Cur, PersonAccount::His, PersonAccount::Mut] {
            self.set_product(&AccountRef::person(psn_no, kind), BalanceProduct::start(as_of))?;
        }
        Ok(())
    }
    /// The recorded outcome of `job` for `period` and `subject`, if that work was done (resume).
    fn job_mark(&mut self, job: &str, period: &str, subject: &str) -> StoreResult<Option<String>>;
    /// Records that `job` for `period` did its work for `subject`, with its outcome.
    fn insert_job_mark(&mut self, mark: &JobMark) -> StoreResult<()>;
    fn job_marks(&mut self, job: &str, period: &str) -> StoreResult<Vec<JobMark>>;
    /// Persons of an area with a preset (T2), by psn_no after `after_psn_no`.
    fn presets_in_area(&mut self, area: &AreaCode, after_psn_no: &str, limit: usize) -> StoreResult<Vec<(String, Money)>>;
    fn insert_liquidation(&mut self, liquidation: &Liquidation) -> StoreResult<()>;
    fn liquidation(&mut self, psn_no: &str) -> StoreResult<Option<Liquidation>>;

    // The demo mark (issue 12 item 7)
    /// When `serve --demo` created this store, if it did; `None` for every other store.
    fn demo_mark(&mut self) -> StoreResult<Option<DateTime<Utc>>>;
    /// Marks this store as created by `serve --demo` (once; a second call keeps the first time).
    /// The caller writes it in the transaction that found the store without persons.
    fn set_demo_mark(&mut self, at: DateTime<Utc>) -> StoreResult<()>;
}

/// API tokens (§12).
pub trait TokensTx {
    /// Stores a new API token (only its hash); returns its id.
    fn insert_token(&mut self, token: &NewToken) -> StoreResult<i64>;
    /// The token with this hash, revoked or not.
    fn token_by_hash(&mut self, token_hash: &str) -> StoreResult<Option<StoredToken>>;
    /// Marks a token revoked; `false` when there is no such token or it was revoked before.
    fn revoke_token(&mut self, token_id: i64, revoked_at: DateTime<Utc>) -> StoreResult<bool>;
    /// Every token ever issued, oldest first.
    fn tokens(&mut self) -> StoreResult<Vec<StoredToken>>;
}

/// Family models (§7, §8, §15): the notification outbox, relative transfers, associations,
/// quotas, and messages and clearing between planning areas.
pub trait FamilyTx {
    // Family models (§7, §8, §15)
    // The notification outbox (TR3)
    fn insert_notification(&mut self, notification: &NewNotification) -> StoreResult<i64>;
    fn notification(&mut self, id: i64) -> StoreResult<Option<Notification>>;
    /// Oldest first, at most `limit`; only those in `state` when given.
    fn notifications(&mut self, state: Option<NotificationState>, limit: usize) -> StoreResult<Vec<Notification>>;
    /// Marks up to `limit` pending notifications `sending` under `claim` (oldest first) and
    /// returns them: a sender owns what it claimed, so no two senders send one message.
    fn claim_notifications(&mut self, claim: &str, at: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Notification>>;
    /// Applies `update` if the notification is in `expected_state` (and, when given, held by
    /// `expected_claim`); `false` when it was not.
    fn update_notification(
        &mut self,
        id: i64,
        expected_state: NotificationState,
        expected_claim: Option<&str>,
        update: &NotificationUpdate,
    ) -> StoreResult<bool>;

    // Relative transfers (TR1-TR4)
    fn insert_relative_transfer(&mut self, request: &NewRelativeTransfer) -> StoreResult<i64>;
    fn relative_transfer(&mut self, id: i64) -> StoreResult<Option<RelativeTransferRecord>>;
    fn update_relative_transfer(&mut self, id: i64, state: RelativeTransferState, attempts: u32, entry_id: Option<i64>, at: DateTime<Utc>) -> StoreResult<()>;

    // Association (S1, S2)
    fn insert_association(&mut self, association: &NewAssociation) -> StoreResult<i64>;
    /// Marks a binding ended (nothing is deleted); `false` when it had ended before.
    fn end_association(&mut self, id: i64, provenance: &Provenance) -> StoreResult<bool>;
    /// Bindings not ended in which the person is binder or relative, oldest first.
    fn associations_of(&mut self, psn_no: &str) -> StoreResult<Vec<Association>>;

    // Quotas (X2-X4)
    /// Stores a new quota side; `(uid, side)` is unique. Returns its id.
    fn insert_quota(&mut self, quota: &QuotaRecord) -> StoreResult<i64>;
    fn quota(&mut self, uid: &str, side: QuotaSide) -> StoreResult<Option<QuotaRecord>>;
    /// Every quota side (any state) in which the person is donor or relative, oldest first.
    fn quotas_of(&mut self, psn_no: &str) -> StoreResult<Vec<QuotaRecord>>;
    /// Writes the relative, state, amounts and end of the quota side `(uid, side)`.
    fn update_quota(&mut self, quota: &QuotaRecord) -> StoreResult<()>;
    fn insert_quota_event(&mut self, event: &QuotaEvent) -> StoreResult<()>;
    /// Events with this reference, oldest first.
    fn quota_events(&mut self, reference: &str) -> StoreResult<Vec<QuotaEvent>>;
    /// X3: grants and top-ups by `donor` on the local day `local_date`.
    fn quota_grants_on(&mut self, donor: &str, local_date: NaiveDate) -> StoreResult<u32>;

    // Messages and clearing between planning areas (X2)
    fn insert_area_message(&mut self, message: &AreaMessage) -> StoreResult<()>;
    /// Outbox messages in `state`, oldest first, at most `limit`.
    fn area_messages(&mut self, state: AreaMessageState, limit: usize) -> StoreResult<Vec<OutboxMessage>>;
    fn area_message(&mut self, id: &str) -> StoreResult<Option<OutboxMessage>>;
    /// Records the receiver's answer if the message is still pending; `false` when it was not.
    fn answer_area_message(&mut self, id: &str, state: AreaMessageState, answer: &str, at: DateTime<Utc>) -> StoreResult<bool>;
    fn inbox_record(&mut self, message_id: &str) -> StoreResult<Option<InboxRecord>>;
    /// Refuses (`AlreadyExists`) a message id seen before: the receiver applies each once.
    fn insert_inbox_record(&mut self, record: &InboxRecord) -> StoreResult<()>;
    fn insert_clearing(&mut self, record: &ClearingRecord) -> StoreResult<()>;
    /// Moves the record `(message_id, direction)` from `pending` to `state`; `false` if it was not pending.
    fn settle_clearing(&mut self, message_id: &str, direction: ClearingDirection, state: ClearingState) -> StoreResult<bool>;
    /// Every clearing record, oldest first.
    fn clearing_records(&mut self) -> StoreResult<Vec<ClearingRecord>>;
}
