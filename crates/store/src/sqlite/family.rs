//! [`FamilyTx`] on SQLite: the family models: outbox, relative transfers, associations, quotas,
//! messages and clearing between areas (§7, §8, §15).

use super::*;
use gongji_core::states::{AreaMessageState, ClearingDirection, ClearingState, NotificationState, QuotaSide, RelativeTransferState};

impl FamilyTx for SqliteTx<'_> {
    fn insert_notification(&mut self, n: &NewNotification) -> StoreResult<i64> {
        self.conn
            .execute(
                "INSERT INTO notifications (kind, psn_no, recipient, body, secret, reference, state, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7)",
                params![n.kind.as_str(), n.psn_no, n.recipient, n.body, n.secret, n.reference, n.created_at.to_rfc3339()],
            )
            .map_err(backend)?;
        Ok(self.conn.last_insert_rowid())
    }

    fn notification(&mut self, id: i64) -> StoreResult<Option<Notification>> {
        self.first(&format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE id = ?1"), [id], |r| rows::notification(r))
    }

    fn notifications(&mut self, state: Option<NotificationState>, limit: usize) -> StoreResult<Vec<Notification>> {
        let sql = format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE ?1 IS NULL OR state = ?1 ORDER BY id LIMIT ?2");
        self.all(&sql, params![state.map(NotificationState::as_str), limit as i64], |r| rows::notification(r))
    }

    fn claim_notifications(&mut self, claim: &str, at: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Notification>> {
        self.conn
            .execute(
                "UPDATE notifications SET state = 'sending', claim = ?1, claimed_at = ?2
                 WHERE id IN (SELECT id FROM notifications WHERE state = 'pending' ORDER BY id LIMIT ?3)",
                params![claim, at.to_rfc3339(), limit as i64],
            )
            .map_err(backend)?;
        let sql = format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE state = 'sending' AND claim = ?1 ORDER BY id");
        self.all(&sql, [claim], |r| rows::notification(r))
    }

    fn update_notification(
        &mut self,
        id: i64,
        expected_state: NotificationState,
        expected_claim: Option<&str>,
        update: &NotificationUpdate,
    ) -> StoreResult<bool> {
        let changed = self
            .conn
            .execute(
                "UPDATE notifications SET state = ?1, attempts = ?2, last_error = ?3, finished_at = ?4,
                        secret = CASE WHEN ?5 THEN NULL ELSE secret END
                 WHERE id = ?6 AND state = ?7 AND (?8 IS NULL OR claim = ?8)",
                params![
                    update.state.as_str(),
                    update.attempts,
                    update.last_error,
                    update.at.to_rfc3339(),
                    update.clear_secret,
                    id,
                    expected_state.as_str(),
                    expected_claim
                ],
            )
            .map_err(backend)?;
        Ok(changed == 1)
    }

    fn insert_relative_transfer(&mut self, r: &NewRelativeTransfer) -> StoreResult<i64> {
        self.conn
            .execute(
                "INSERT INTO relative_transfers (authoriser, beneficiary, relation, amount_fen, code_salt, code_hash, expires_at, state, notification_id,
                    commitment_accepted_at, actor, channel, business_date, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?9, ?10, ?11, ?12, ?13)",
                params![
                    r.authoriser,
                    r.beneficiary,
                    r.relation,
                    r.amount.fen(),
                    r.code_salt,
                    r.code_hash,
                    r.expires_at.to_rfc3339(),
                    r.notification_id,
                    r.commitment_accepted_at.to_rfc3339(),
                    r.actor,
                    r.channel,
                    date_text(r.business_date),
                    r.created_at.to_rfc3339()
                ],
            )
            .map_err(backend)?;
        Ok(self.conn.last_insert_rowid())
    }

    fn relative_transfer(&mut self, id: i64) -> StoreResult<Option<RelativeTransferRecord>> {
        self.first(
            "SELECT authoriser, beneficiary, relation, amount_fen, code_salt, code_hash, expires_at, attempts, state, notification_id, entry_id,
                    commitment_accepted_at, actor, channel, business_date, created_at, finished_at
             FROM relative_transfers WHERE id = ?1",
            [id],
            |r| rows::relative_transfer(r, id),
        )
    }

    fn update_relative_transfer(&mut self, id: i64, state: RelativeTransferState, attempts: u32, entry_id: Option<i64>, at: DateTime<Utc>) -> StoreResult<()> {
        let finished = (state != RelativeTransferState::Pending).then(|| at.to_rfc3339());
        self.conn
            .execute(
                "UPDATE relative_transfers SET state = ?1, attempts = ?2, entry_id = COALESCE(?3, entry_id), finished_at = ?4 WHERE id = ?5",
                params![state.as_str(), attempts, entry_id, finished, id],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn insert_association(&mut self, a: &NewAssociation) -> StoreResult<i64> {
        self.conn
            .execute(
                "INSERT INTO associations (binder, relative, relation, area, actor, channel, business_date, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![a.binder, a.relative, a.relation, a.area.as_str(), a.actor, a.channel, date_text(a.business_date), a.recorded_at.to_rfc3339()],
            )
            .map_err(backend)?;
        Ok(self.conn.last_insert_rowid())
    }

    fn end_association(&mut self, id: i64, provenance: &Provenance) -> StoreResult<bool> {
        let changed = self
            .conn
            .execute(
                "UPDATE associations SET ended_by = ?1, ended_channel = ?2, ended_date = ?3, ended_at = ?4 WHERE id = ?5 AND ended_at IS NULL",
                params![actor_text(provenance), provenance.channel.as_str(), date_text(provenance.business_date), provenance.recorded_at.to_rfc3339(), id],
            )
            .map_err(backend)?;
        Ok(changed == 1)
    }

    fn associations_of(&mut self, psn_no: &str) -> StoreResult<Vec<Association>> {
        self.all(
            "SELECT id, binder, relative, relation, area, actor, channel, business_date, recorded_at FROM associations
             WHERE (binder = ?1 OR relative = ?1) AND ended_at IS NULL ORDER BY id",
            [psn_no],
            |r| rows::association(r),
        )
    }

    fn insert_quota(&mut self, q: &QuotaRecord) -> StoreResult<i64> {
        self.conn
            .execute(
                "INSERT INTO quotas (uid, side, donor, donor_area, relative, relative_area, relative_name, relative_id_number, relation, state,
                    granted_fen, used_fen, returned_fen, actor, channel, business_date, created_at, ended_at, end_reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
                params![
                    q.uid,
                    q.side.as_str(),
                    q.donor,
                    q.donor_area.as_str(),
                    q.relative,
                    q.relative_area.as_str(),
                    q.relative_name,
                    q.relative_id_number,
                    q.relation,
                    q.state.as_str(),
                    q.granted.fen(),
                    q.used.fen(),
                    q.returned.fen(),
                    q.actor,
                    q.channel,
                    date_text(q.business_date),
                    q.created_at.to_rfc3339(),
                    q.ended_at.map(|t| t.to_rfc3339()),
                    q.end_reason
                ],
            )
            .map_err(backend)?;
        Ok(self.conn.last_insert_rowid())
    }

    fn quota(&mut self, uid: &str, side: QuotaSide) -> StoreResult<Option<QuotaRecord>> {
        self.first(&format!("SELECT {QUOTA_COLUMNS} FROM quotas WHERE uid = ?1 AND side = ?2"), [uid, side.as_str()], |r| rows::quota(r))
    }

    fn quotas_of(&mut self, psn_no: &str) -> StoreResult<Vec<QuotaRecord>> {
        let sql = format!(
            "SELECT {QUOTA_COLUMNS} FROM quotas WHERE (donor = ?1 AND side IN ('local', 'donor')) OR (relative = ?1 AND side IN ('local', 'relative')) ORDER BY id"
        );
        self.all(&sql, [psn_no], |r| rows::quota(r))
    }

    fn update_quota(&mut self, q: &QuotaRecord) -> StoreResult<()> {
        let changed = self
            .conn
            .execute(
                "UPDATE quotas SET relative = ?1, state = ?2, granted_fen = ?3, used_fen = ?4, returned_fen = ?5, ended_at = ?6, end_reason = ?7
                 WHERE uid = ?8 AND side = ?9",
                params![
                    q.relative,
                    q.state.as_str(),
                    q.granted.fen(),
                    q.used.fen(),
                    q.returned.fen(),
                    q.ended_at.map(|t| t.to_rfc3339()),
                    q.end_reason,
                    q.uid,
                    q.side.as_str()
                ],
            )
            .map_err(backend)?;
        if changed != 1 {
            return Err(StoreError::Backend(format!("no quota {} ({})", q.uid, q.side)));
        }
        Ok(())
    }

    fn insert_quota_event(&mut self, e: &QuotaEvent) -> StoreResult<()> {
        self.conn
            .execute(
                "INSERT INTO quota_events (quota_uid, side, kind, amount_fen, reference, local_date, entry_id, actor, channel, business_date, recorded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    e.quota_uid,
                    e.side.as_str(),
                    e.kind.as_str(),
                    e.amount.fen(),
                    e.reference,
                    date_text(e.local_date),
                    e.entry_id,
                    e.actor,
                    e.channel,
                    date_text(e.business_date),
                    e.recorded_at.to_rfc3339()
                ],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn quota_events(&mut self, reference: &str) -> StoreResult<Vec<QuotaEvent>> {
        self.all(
            "SELECT quota_uid, side, kind, amount_fen, reference, local_date, entry_id, actor, channel, business_date, recorded_at
             FROM quota_events WHERE reference = ?1 ORDER BY id",
            [reference],
            |r| rows::quota_event(r),
        )
    }

    fn quota_grants_on(&mut self, donor: &str, local_date: NaiveDate) -> StoreResult<u32> {
        let count = self.one(
            "SELECT COUNT(*) AS n FROM quota_events e JOIN quotas q ON q.uid = e.quota_uid AND q.side = e.side
             WHERE e.kind = 'grant' AND e.local_date = ?1 AND q.donor = ?2 AND q.side IN ('local', 'donor')",
            params![date_text(local_date), donor],
            |r| r.int("n"),
        )?;
        Ok(count as u32)
    }

    fn insert_area_message(&mut self, m: &AreaMessage) -> StoreResult<()> {
        self.conn
            .execute(
                "INSERT INTO area_outbox (id, from_area, to_area, kind, quota_uid, amount_fen, donor, donor_area, relative, relative_name, relative_id_number,
                    relation, reason, business_date, created_at, state)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 'pending')",
                params![
                    m.id,
                    m.from_area.as_str(),
                    m.to_area.as_str(),
                    m.kind.as_str(),
                    m.quota_uid,
                    m.amount.fen(),
                    m.donor,
                    m.donor_area.as_str(),
                    m.relative,
                    m.relative_name,
                    m.relative_id_number,
                    m.relation,
                    m.reason,
                    date_text(m.business_date),
                    m.created_at.to_rfc3339()
                ],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn area_messages(&mut self, state: AreaMessageState, limit: usize) -> StoreResult<Vec<OutboxMessage>> {
        let sql = format!("SELECT {AREA_MESSAGE_COLUMNS} FROM area_outbox WHERE state = ?1 ORDER BY seq LIMIT ?2");
        self.all(&sql, params![state.as_str(), limit as i64], |r| rows::area_message(r))
    }

    fn area_message(&mut self, id: &str) -> StoreResult<Option<OutboxMessage>> {
        self.first(&format!("SELECT {AREA_MESSAGE_COLUMNS} FROM area_outbox WHERE id = ?1"), [id], |r| rows::area_message(r))
    }

    fn answer_area_message(&mut self, id: &str, state: AreaMessageState, answer: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let changed = self
            .conn
            .execute(
                "UPDATE area_outbox SET state = ?1, answer = ?2, answered_at = ?3 WHERE id = ?4 AND state = 'pending'",
                params![state.as_str(), answer, at.to_rfc3339(), id],
            )
            .map_err(backend)?;
        Ok(changed == 1)
    }

    fn inbox_record(&mut self, message_id: &str) -> StoreResult<Option<InboxRecord>> {
        self.first("SELECT from_area, kind, outcome, code, detail, relative, applied_at FROM area_inbox WHERE message_id = ?1", [message_id], |r| {
            rows::inbox_record(r, message_id)
        })
    }

    fn insert_inbox_record(&mut self, r: &InboxRecord) -> StoreResult<()> {
        self.conn
            .execute(
                "INSERT INTO area_inbox (message_id, from_area, kind, outcome, code, detail, relative, applied_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![r.message_id, r.from_area.as_str(), r.kind.as_str(), r.outcome.as_str(), r.code, r.detail, r.relative, r.applied_at.to_rfc3339()],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn insert_clearing(&mut self, c: &ClearingRecord) -> StoreResult<()> {
        self.conn
            .execute(
                "INSERT INTO clearing (message_id, direction, area, counterparty, kind, quota_uid, amount_fen, state, entry_id, business_date, recorded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    c.message_id,
                    c.direction.as_str(),
                    c.area.as_str(),
                    c.counterparty.as_str(),
                    c.kind.as_str(),
                    c.quota_uid,
                    c.amount.fen(),
                    c.state.as_str(),
                    c.entry_id,
                    date_text(c.business_date),
                    c.recorded_at.to_rfc3339()
                ],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn settle_clearing(&mut self, message_id: &str, direction: ClearingDirection, state: ClearingState) -> StoreResult<bool> {
        let changed = self
            .conn
            .execute(
                "UPDATE clearing SET state = ?1 WHERE message_id = ?2 AND direction = ?3 AND state = 'pending'",
                params![state.as_str(), message_id, direction.as_str()],
            )
            .map_err(backend)?;
        Ok(changed == 1)
    }

    fn clearing_records(&mut self) -> StoreResult<Vec<ClearingRecord>> {
        self.all(
            "SELECT message_id, direction, area, counterparty, kind, quota_uid, amount_fen, state, entry_id, business_date, recorded_at
             FROM clearing ORDER BY recorded_at, message_id, direction",
            [],
            |r| rows::clearing_record(r),
        )
    }
}

/// The columns [`rows::notification`] reads.
const NOTIFICATION_COLUMNS: &str =
    "id, kind, psn_no, recipient, body, secret, reference, state, attempts, last_error, claim, claimed_at, finished_at, created_at";

/// The columns [`rows::quota`] reads.
const QUOTA_COLUMNS: &str = "id, uid, side, donor, donor_area, relative, relative_area, relative_name, relative_id_number, relation, state,
    granted_fen, used_fen, returned_fen, actor, channel, business_date, created_at, ended_at, end_reason";

/// The columns [`rows::area_message`] reads.
const AREA_MESSAGE_COLUMNS: &str = "id, from_area, to_area, kind, quota_uid, amount_fen, donor, donor_area, relative, relative_name, relative_id_number,
    relation, reason, business_date, created_at, state, answer, answered_at";
