//! Messages and clearing between planning areas (X2): a quota whose donor and relative are
//! insured in different areas, each area with its own store.
//!
//! The saga. Every step is one local transaction that books the money, the quota record, a
//! clearing record and, where the other area must act, a message in this area's outbox:
//!
//! 1. Donor's area: HIS → inter-area clearing; quota record (donor side); `quota_grant`.
//! 2. Relative's area applies it: clearing → the relative's quota account; quota record
//!    (relative side); clearing record `in`. Or refuses it (unknown person, other area, ended).
//! 3. Donor's area takes the answer: the clearing record is confirmed; a refusal is compensated
//!    (clearing → the donor's HIS, record reversed).
//! 4. Ending on the donor's side sends `quota_end`; the relative's area ends its side, moves what
//!    is unused quota → clearing and sends `quota_return`; the donor's area books clearing → HIS.
//!    Ending on the relative's side starts at the return.
//!
//! Exactly once: a message stays `pending` in the sender's outbox until the receiver's answer is
//! recorded, so after a crash at any point it is sent again; the receiver records each message id
//! in its inbox in the transaction that applies it, and answers a repeat with the stored answer
//! without applying it again. Every message kind is therefore applied once and answered once.
//!
//! Clearing: both agencies keep one record per money movement, `out` at the sender and `in` at
//! the receiver, under the message id; [`reconcile`] pairs them, and checks that each area's
//! clearing account equals its records (out − in).

use std::collections::BTreeSet;

use gongji_core::ledger::{EntryKind, JournalEntry};
use gongji_core::states::{AreaMessageKind, AreaMessageState, ClearingDirection, ClearingState, InboxOutcome, QuotaEventKind, QuotaSide, QuotaState};
use gongji_core::{AccountRef, AreaCode, ErrorCode, IdNumber, Money, Person, PersonAccount, SystemAccount};
use gongji_store::{AreaMessage, ClearingRecord, InboxRecord, OutboxMessage, QuotaRecord, Store, StoreError, Tx};

use crate::outbox::random_hex;
use crate::quota::{self, QuotaGrant, QuotaGranted};
use crate::{Context, Engine, Error, Result};

/// Test hooks of [`relay`]: called around the receiver's transaction for each message, so that
/// the crash tests can stop the process between the two sides.
pub struct RelayHooks<'a> {
    pub before_apply: &'a dyn Fn(&AreaMessage),
    pub after_apply: &'a dyn Fn(&AreaMessage),
}

impl Default for RelayHooks<'_> {
    fn default() -> Self {
        RelayHooks { before_apply: &|_| {}, after_apply: &|_| {} }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RelaySummary {
    /// Messages answered (applied or refused) and acknowledged.
    pub delivered: u64,
    pub refused: u64,
    /// Of those, repeats the receiver had applied before (after a crash).
    pub repeats: u64,
}

/// One area's clearing account against its clearing records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearingPosition {
    pub area: AreaCode,
    /// Balance of the area's inter-area clearing account.
    pub ledger: Money,
    /// Records out (not reversed) minus records in.
    pub booked: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReconcileReport {
    /// Message ids booked out by one agency and in by the other, same amount.
    pub matched: BTreeSet<String>,
    /// Sent and not yet answered: fine while a relay is due.
    pub in_transit: BTreeSet<String>,
    /// Records that do not agree: for the two agencies to resolve.
    pub problems: BTreeSet<String>,
    pub positions: Vec<ClearingPosition>,
}

impl ReconcileReport {
    /// Nothing disagrees (messages still in transit are allowed).
    pub fn agrees(&self) -> bool {
        self.problems.is_empty() && self.positions.iter().all(|p| p.ledger == p.booked)
    }
}

impl<S: Store> Engine<S> {
    /// Messages of this store's outbox in `state` (`pending`, `delivered`, `rejected`).
    pub fn area_outbox(&self, state: AreaMessageState) -> Result<Vec<OutboxMessage>> {
        self.store.read(|tx| Ok(tx.area_messages(state, i64::MAX as usize)?))
    }

    /// The planning areas this store serves: those of its registered persons.
    pub fn served_areas(&self) -> Result<Vec<AreaCode>> {
        self.store.read(|tx| Ok(tx.person_areas()?))
    }

    /// Receiving side: applies a message from another area once. A repeat (same id) gets the
    /// stored answer and changes nothing (the flag says so). A refusal by a rule is an answer,
    /// not an error.
    pub fn apply_area_message(&self, ctx: &Context, message: &AreaMessage) -> Result<(InboxRecord, bool)> {
        self.store.write(|tx| {
            if let Some(record) = tx.inbox_record(&message.id)? {
                return Ok((record, true));
            }
            tx.savepoint()?;
            let applied = match message.kind {
                AreaMessageKind::QuotaGrant => self.apply_grant(tx, ctx, message),
                AreaMessageKind::QuotaEnd => apply_end(tx, ctx, message),
                AreaMessageKind::QuotaReturn => apply_return(tx, ctx, message),
            };
            let record = match applied {
                Ok(relative) => {
                    tx.release_savepoint()?;
                    InboxRecord {
                        message_id: message.id.clone(),
                        from_area: message.from_area.clone(),
                        kind: message.kind,
                        outcome: InboxOutcome::Applied,
                        code: None,
                        detail: String::new(),
                        relative,
                        applied_at: ctx.now,
                    }
                }
                Err(Error::Domain(refusal)) => {
                    tx.rollback_to_savepoint()?;
                    InboxRecord {
                        message_id: message.id.clone(),
                        from_area: message.from_area.clone(),
                        kind: message.kind,
                        outcome: InboxOutcome::Rejected,
                        code: Some(refusal.code.as_str().to_string()),
                        detail: refusal.message,
                        relative: None,
                        applied_at: ctx.now,
                    }
                }
                Err(failure) => return Err(failure),
            };
            tx.insert_inbox_record(&record)?;
            Ok((record, false))
        })
    }

    /// Sending side: records the receiver's answer once; a refused grant is paid back to the
    /// donor. `false` when the answer had been recorded before.
    pub fn acknowledge_area_message(&self, ctx: &Context, message_id: &str, answer: &InboxRecord) -> Result<bool> {
        self.store.write(|tx| {
            let sent =
                tx.area_message(message_id)?.ok_or_else(|| Error::domain(ErrorCode::InputInvalid, "X2", format!("no message {message_id} in this outbox")))?;
            match sent.state {
                AreaMessageState::Pending => {}
                AreaMessageState::Delivered | AreaMessageState::Rejected => return Ok(false),
            }
            let message = sent.message;
            let text = match &answer.code {
                Some(code) => format!("{} {code}: {}", answer.outcome, answer.detail),
                None => answer.outcome.to_string(),
            };
            match answer.outcome {
                InboxOutcome::Applied => {
                    tx.answer_area_message(message_id, AreaMessageState::Delivered, &text, ctx.now)?;
                    tx.settle_clearing(message_id, ClearingDirection::Out, ClearingState::Confirmed)?;
                    match message.kind {
                        AreaMessageKind::QuotaGrant => {
                            if let (Some(relative), Some(mut donor_side)) = (&answer.relative, tx.quota(&message.quota_uid, QuotaSide::Donor)?) {
                                if donor_side.relative.is_none() {
                                    donor_side.relative = Some(relative.clone());
                                    tx.update_quota(&donor_side)?;
                                }
                            }
                        }
                        AreaMessageKind::QuotaEnd | AreaMessageKind::QuotaReturn => {}
                    }
                }
                InboxOutcome::Rejected => {
                    tx.answer_area_message(message_id, AreaMessageState::Rejected, &text, ctx.now)?;
                    match message.kind {
                        AreaMessageKind::QuotaGrant => compensate_grant(tx, ctx, &message, &text)?,
                        AreaMessageKind::QuotaEnd => {
                            if let Some(mut donor_side) = tx.quota(&message.quota_uid, QuotaSide::Donor)? {
                                if donor_side.state == QuotaState::Ending {
                                    donor_side.state = QuotaState::Ended;
                                    donor_side.ended_at = Some(ctx.now);
                                    tx.update_quota(&donor_side)?;
                                }
                            }
                        }
                        // A refused return keeps its clearing record pending: money sits in the
                        // relative's area's clearing account until the agencies resolve it, and
                        // `reconcile` shows it.
                        AreaMessageKind::QuotaReturn => {}
                    }
                }
            }
            Ok(true)
        })
    }

    /// Every clearing record of this store.
    pub fn clearing_records(&self) -> Result<Vec<ClearingRecord>> {
        self.store.read(|tx| Ok(tx.clearing_records()?))
    }

    /// Each area's clearing account against its records.
    pub fn clearing_positions(&self) -> Result<Vec<ClearingPosition>> {
        self.store.read(|tx| {
            let records = tx.clearing_records()?;
            let areas: BTreeSet<AreaCode> = records.iter().map(|r| r.area.clone()).collect();
            let mut positions = Vec::new();
            for area in areas {
                let booked = records
                    .iter()
                    .filter(|r| r.area == area && r.state != ClearingState::Reversed)
                    .map(|r| match r.direction {
                        ClearingDirection::Out => r.amount,
                        ClearingDirection::In => r.amount.neg(),
                    })
                    .sum();
                let ledger = tx.balance(&AccountRef::system(&area, SystemAccount::InterAreaClearing))?;
                positions.push(ClearingPosition { area, ledger, booked });
            }
            Ok(positions)
        })
    }

    fn apply_grant(&self, tx: &mut dyn Tx, ctx: &Context, message: &AreaMessage) -> Result<Option<String>> {
        let id_number = IdNumber::parse(&message.relative_id_number)?;
        let relative = quota::find_relative(tx, &message.relative_name, &id_number, &message.to_area, "X2")?;
        let policy = self.policy(&relative.area, ctx.business_date)?;
        if !policy.models.quota {
            return Err(Error::domain(ErrorCode::NetworkModelDisabled, "§4", format!("policy {} of area {} has no quota model", policy.id, relative.area)));
        }
        let mut record = match tx.quota(&message.quota_uid, QuotaSide::Relative)? {
            Some(record) if record.state != QuotaState::Active => {
                return Err(Error::domain(ErrorCode::QuotaNotFound, "X2", format!("quota {} has ended in area {}", record.uid, record.relative_area)));
            }
            Some(record) => record,
            None => {
                let record = QuotaRecord {
                    id: 0,
                    uid: message.quota_uid.clone(),
                    side: QuotaSide::Relative,
                    donor: message.donor.clone(),
                    donor_area: message.donor_area.clone(),
                    relative: Some(relative.psn_no.clone()),
                    relative_area: relative.area.clone(),
                    relative_name: relative.name.clone(),
                    relative_id_number: relative.id_number.as_str().to_string(),
                    relation: message.relation.clone(),
                    state: QuotaState::Active,
                    granted: Money::ZERO,
                    used: Money::ZERO,
                    returned: Money::ZERO,
                    actor: ctx.actor.to_string(),
                    channel: ctx.channel.as_str().to_string(),
                    business_date: ctx.business_date,
                    created_at: ctx.now,
                    ended_at: None,
                    end_reason: None,
                };
                tx.insert_quota(&record)?;
                record
            }
        };
        let entry = JournalEntry::transfer(
            EntryKind::Quota,
            AccountRef::system(&relative.area, SystemAccount::InterAreaClearing),
            AccountRef::person(&relative.psn_no, PersonAccount::Quota),
            message.amount,
            ctx.provenance(),
            Some(format!("area-in:{}", message.id)),
            format!("quota {} from area {}", message.quota_uid, message.from_area),
        )?;
        let entry_id = tx.post(&entry)?;
        record.granted = record.granted.plus(message.amount);
        tx.update_quota(&record)?;
        quota::record_event(tx, ctx, &record, QuotaEventKind::Grant, message.amount, &message.id, Some(entry_id))?;
        tx.insert_clearing(&clearing(ctx, message, &relative.area, &message.from_area, ClearingDirection::In, ClearingState::Confirmed, Some(entry_id)))?;
        Ok(Some(relative.psn_no))
    }
}

/// Donor's side of a grant or top-up to another area (step 1). Checks are the caller's.
pub(crate) fn send_grant(tx: &mut dyn Tx, ctx: &Context, donor: &Person, grant: &QuotaGrant, id_number: &IdNumber) -> Result<QuotaGranted> {
    let existing = tx.quotas_of(&donor.psn_no)?.into_iter().find(|q| {
        q.side == QuotaSide::Donor && q.state == QuotaState::Active && q.relative_area == grant.relative_area && q.relative_id_number == id_number.as_str()
    });
    let top_up = existing.is_some();
    let mut record = match existing {
        Some(record) => record,
        None => {
            let mut record = quota::new_record(ctx, QuotaSide::Donor, donor, &grant.relative_area, grant, quota::random_uid()?);
            record.relative_id_number = id_number.as_str().to_string();
            tx.insert_quota(&record)?;
            record
        }
    };
    let message = AreaMessage {
        id: random_message_id()?,
        from_area: donor.area.clone(),
        to_area: grant.relative_area.clone(),
        kind: AreaMessageKind::QuotaGrant,
        quota_uid: record.uid.clone(),
        amount: grant.amount,
        donor: donor.psn_no.clone(),
        donor_area: donor.area.clone(),
        relative: record.relative.clone(),
        relative_name: record.relative_name.clone(),
        relative_id_number: record.relative_id_number.clone(),
        relation: record.relation.clone(),
        reason: String::new(),
        business_date: ctx.business_date,
        created_at: ctx.now,
    };
    let entry = JournalEntry::transfer(
        EntryKind::Quota,
        AccountRef::person(&donor.psn_no, PersonAccount::His),
        AccountRef::system(&donor.area, SystemAccount::InterAreaClearing),
        grant.amount,
        ctx.provenance(),
        Some(format!("area-out:{}", message.id)),
        format!("quota {} to area {}", record.uid, grant.relative_area),
    )?;
    let entry_id = tx.post(&entry)?;
    record.granted = record.granted.plus(grant.amount);
    tx.update_quota(&record)?;
    quota::record_event(tx, ctx, &record, QuotaEventKind::Grant, grant.amount, &message.id, Some(entry_id))?;
    tx.insert_area_message(&message)?;
    tx.insert_clearing(&clearing(ctx, &message, &donor.area, &grant.relative_area, ClearingDirection::Out, ClearingState::Pending, Some(entry_id)))?;
    Ok(QuotaGranted { uid: record.uid, top_up, cross_area: true, entry_id, message_id: Some(message.id) })
}

/// Donor's side asks the relative's area to end a quota (step 4).
pub(crate) fn send_end(tx: &mut dyn Tx, ctx: &Context, record: &QuotaRecord, reason: &str) -> Result<String> {
    let message = message_about(ctx, record, AreaMessageKind::QuotaEnd, &record.donor_area, &record.relative_area, Money::ZERO, reason)?;
    tx.insert_area_message(&message)?;
    Ok(message.id)
}

/// Relative's side sends `amount` back to the donor's area (step 4): quota → clearing, a
/// clearing record and the message. Sent with a zero amount too, so that the donor's side
/// learns that the quota ended.
pub(crate) fn send_return(tx: &mut dyn Tx, ctx: &Context, record: &QuotaRecord, relative: &str, amount: Money) -> Result<String> {
    let reason = record.end_reason.clone().unwrap_or_default();
    let message = message_about(ctx, record, AreaMessageKind::QuotaReturn, &record.relative_area, &record.donor_area, amount, &reason)?;
    if amount.is_positive() {
        let entry = JournalEntry::transfer(
            EntryKind::Quota,
            AccountRef::person(relative, PersonAccount::Quota),
            AccountRef::system(&record.relative_area, SystemAccount::InterAreaClearing),
            amount,
            ctx.provenance(),
            Some(format!("area-out:{}", message.id)),
            format!("quota {} returned to area {}", record.uid, record.donor_area),
        )?;
        let entry_id = tx.post(&entry)?;
        quota::record_event(tx, ctx, record, QuotaEventKind::Return, amount, &message.id, Some(entry_id))?;
        tx.insert_clearing(&clearing(
            ctx,
            &message,
            &record.relative_area,
            &record.donor_area,
            ClearingDirection::Out,
            ClearingState::Pending,
            Some(entry_id),
        ))?;
    }
    tx.insert_area_message(&message)?;
    Ok(message.id)
}

fn message_about(
    ctx: &Context,
    record: &QuotaRecord,
    kind: AreaMessageKind,
    from: &AreaCode,
    to: &AreaCode,
    amount: Money,
    reason: &str,
) -> Result<AreaMessage> {
    Ok(AreaMessage {
        id: random_message_id()?,
        from_area: from.clone(),
        to_area: to.clone(),
        kind,
        quota_uid: record.uid.clone(),
        amount,
        donor: record.donor.clone(),
        donor_area: record.donor_area.clone(),
        relative: record.relative.clone(),
        relative_name: record.relative_name.clone(),
        relative_id_number: record.relative_id_number.clone(),
        relation: record.relation.clone(),
        reason: reason.to_string(),
        business_date: ctx.business_date,
        created_at: ctx.now,
    })
}

fn random_message_id() -> Result<String> {
    Ok(format!("M{}", random_hex(16)?))
}

fn clearing(
    ctx: &Context,
    message: &AreaMessage,
    area: &AreaCode,
    counterparty: &AreaCode,
    direction: ClearingDirection,
    state: ClearingState,
    entry_id: Option<i64>,
) -> ClearingRecord {
    ClearingRecord {
        message_id: message.id.clone(),
        area: area.clone(),
        counterparty: counterparty.clone(),
        direction,
        kind: message.kind,
        quota_uid: message.quota_uid.clone(),
        amount: message.amount,
        state,
        entry_id,
        business_date: ctx.business_date,
        recorded_at: ctx.now,
    }
}

/// Relative's area: the donor's area asks to end the quota.
fn apply_end(tx: &mut dyn Tx, ctx: &Context, message: &AreaMessage) -> Result<Option<String>> {
    let record = tx
        .quota(&message.quota_uid, QuotaSide::Relative)?
        .ok_or_else(|| Error::domain(ErrorCode::QuotaNotFound, "X2", format!("no quota {} in area {}", message.quota_uid, message.to_area)))?;
    let relative = record.relative.clone();
    if record.state == QuotaState::Active {
        quota::end_in(tx, ctx, record, &message.reason)?;
    }
    // Ended here before: its return message is on its way already.
    Ok(relative)
}

/// Donor's area: what was unused comes back.
fn apply_return(tx: &mut dyn Tx, ctx: &Context, message: &AreaMessage) -> Result<Option<String>> {
    let mut record = tx
        .quota(&message.quota_uid, QuotaSide::Donor)?
        .ok_or_else(|| Error::domain(ErrorCode::QuotaNotFound, "X2", format!("no quota {} given from area {}", message.quota_uid, message.to_area)))?;
    if message.amount.is_positive() {
        let destination = quota::donor_destination(tx, &record.donor, &record.donor_area)?;
        let entry = JournalEntry::transfer(
            EntryKind::Quota,
            AccountRef::system(&record.donor_area, SystemAccount::InterAreaClearing),
            destination,
            message.amount,
            ctx.provenance(),
            Some(format!("area-in:{}", message.id)),
            format!("quota {} returned from area {}", record.uid, message.from_area),
        )?;
        let entry_id = tx.post(&entry)?;
        record.returned = record.returned.plus(message.amount);
        quota::record_event(tx, ctx, &record, QuotaEventKind::Return, message.amount, &message.id, Some(entry_id))?;
        tx.insert_clearing(&clearing(ctx, message, &record.donor_area, &message.from_area, ClearingDirection::In, ClearingState::Confirmed, Some(entry_id)))?;
    }
    if record.state != QuotaState::Ended {
        record.state = QuotaState::Ended;
        record.ended_at = Some(ctx.now);
        if record.end_reason.is_none() {
            record.end_reason = Some(message.reason.clone());
        }
    }
    tx.update_quota(&record)?;
    Ok(record.relative.clone())
}

/// Donor's area: the relative's area refused a grant; the money goes back to the donor.
fn compensate_grant(tx: &mut dyn Tx, ctx: &Context, message: &AreaMessage, why: &str) -> Result<()> {
    let mut record = tx
        .quota(&message.quota_uid, QuotaSide::Donor)?
        .ok_or_else(|| StoreError::Corrupt(format!("quota {} of message {} is missing", message.quota_uid, message.id)))?;
    let destination = quota::donor_destination(tx, &record.donor, &record.donor_area)?;
    let entry = JournalEntry::transfer(
        EntryKind::Quota,
        AccountRef::system(&record.donor_area, SystemAccount::InterAreaClearing),
        destination,
        message.amount,
        ctx.provenance(),
        Some(format!("area-compensate:{}", message.id)),
        format!("quota {} refused by area {}: paid back", record.uid, message.to_area),
    )?;
    let entry_id = tx.post(&entry)?;
    tx.settle_clearing(&message.id, ClearingDirection::Out, ClearingState::Reversed)?;
    record.granted = record.granted.minus(message.amount);
    if record.granted.is_zero() && record.returned.is_zero() && record.state == QuotaState::Active {
        record.state = QuotaState::Rejected;
        record.ended_at = Some(ctx.now);
        record.end_reason = Some(why.to_string());
    }
    tx.update_quota(&record)?;
    quota::record_event(tx, ctx, &record, QuotaEventKind::Compensate, message.amount, &message.id, Some(entry_id))
}

/// Delivers every pending message between two stores, both ways, until none is left: each
/// message is applied by the receiver, then acknowledged by the sender. The areas a store
/// serves are those of its persons. `a` and `b` may be the same store (one database for
/// several areas).
pub fn relay<A: Store, B: Store>(a: &Engine<A>, b: &Engine<B>, ctx: &Context, hooks: &RelayHooks<'_>) -> Result<RelaySummary> {
    let (areas_a, areas_b) = (a.served_areas()?, b.served_areas()?);
    let mut summary = RelaySummary::default();
    loop {
        let moved = deliver(a, b, &areas_b, ctx, hooks, &mut summary)? + deliver(b, a, &areas_a, ctx, hooks, &mut summary)?;
        if moved == 0 {
            return Ok(summary);
        }
    }
}

fn deliver<F: Store, T: Store>(
    from: &Engine<F>,
    to: &Engine<T>,
    to_areas: &[AreaCode],
    ctx: &Context,
    hooks: &RelayHooks<'_>,
    summary: &mut RelaySummary,
) -> Result<u64> {
    let mut moved = 0;
    for sent in from.area_outbox(AreaMessageState::Pending)? {
        let message = &sent.message;
        if !to_areas.contains(&message.to_area) {
            continue;
        }
        (hooks.before_apply)(message);
        let (answer, repeat) = to.apply_area_message(ctx, message)?;
        (hooks.after_apply)(message);
        if repeat {
            summary.repeats += 1;
        }
        if from.acknowledge_area_message(ctx, &message.id, &answer)? {
            moved += 1;
            summary.delivered += 1;
            match answer.outcome {
                InboxOutcome::Rejected => summary.refused += 1,
                InboxOutcome::Applied => {}
            }
        }
    }
    Ok(moved)
}

/// Compares the clearing records of two agencies (X2): every movement booked `out` by one must
/// be booked `in` by the other with the same amount, unless it is still in transit or was
/// refused and paid back; and each area's clearing account must equal its records.
pub fn reconcile<A: Store, B: Store>(a: &Engine<A>, b: &Engine<B>) -> Result<ReconcileReport> {
    let (records_a, records_b) = (a.clearing_records()?, b.clearing_records()?);
    let mut report = ReconcileReport::default();
    for (mine, theirs) in [(&records_a, &records_b), (&records_b, &records_a)] {
        for record in mine {
            let want = record.direction.opposite();
            let counterpart = theirs.iter().find(|r| r.message_id == record.message_id && r.direction == want);
            let id = &record.message_id;
            let what = format!("{} {} {} {}→{}", record.kind, id, record.amount, record.area, record.counterparty);
            use ClearingDirection::{In, Out};
            match (record.direction, record.state, counterpart) {
                (_, _, Some(other)) if other.amount != record.amount => {
                    report.problems.insert(format!("{what}: booked {} on the other side", other.amount));
                }
                (Out, ClearingState::Reversed, None) => {}
                (Out, ClearingState::Reversed, Some(_)) => {
                    report.problems.insert(format!("{what}: paid back here but booked in there"));
                }
                (Out, ClearingState::Pending, _) => {
                    report.in_transit.insert(what);
                }
                (Out, ClearingState::Confirmed, Some(_)) => {
                    report.matched.insert(id.clone());
                }
                (Out, ClearingState::Confirmed, None) => {
                    report.problems.insert(format!("{what}: confirmed here, missing there"));
                }
                (In, _, Some(other)) if other.state == ClearingState::Reversed => {
                    report.problems.insert(format!("{what}: booked in here, paid back there"));
                }
                (In, _, Some(_)) => {}
                (In, _, None) => {
                    report.problems.insert(format!("{what}: booked in here, never sent there"));
                }
            }
        }
    }
    report.positions = a.clearing_positions()?;
    for position in b.clearing_positions()? {
        if !report.positions.contains(&position) {
            report.positions.push(position);
        }
    }
    Ok(report)
}
