//! [`FamilyTx`] on PostgreSQL: the family models: outbox, relative transfers, associations,
//! quotas, messages and clearing between areas (§7, §8, §15).

use super::*;
use gongji_core::states::{AreaMessageState, ClearingDirection, ClearingState, NotificationState, QuotaSide, RelativeTransferState};

impl FamilyTx for PgTx<'_> {
    // Family models (§7, §8, §15)
    fn insert_notification(&mut self, n: &NewNotification) -> StoreResult<i64> {
        let row = self.one(
            "INSERT INTO notifications (kind, psn_no, recipient, body, secret, reference, state, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7) RETURNING id",
            &[&n.kind.as_str(), &n.psn_no, &n.recipient, &n.body, &n.secret, &n.reference, &n.created_at],
        )?;
        row.int("id")
    }

    fn notification(&mut self, id: i64) -> StoreResult<Option<Notification>> {
        let row = self.opt(
            "SELECT id, kind, psn_no, recipient, body, secret, reference, state, attempts, last_error, claim, claimed_at, finished_at, created_at
             FROM notifications WHERE id = $1",
            &[&id],
        )?;
        row.as_ref().map(rows::notification).transpose()
    }

    fn notifications(&mut self, state: Option<NotificationState>, limit: usize) -> StoreResult<Vec<Notification>> {
        let rows = self.rows(
            "SELECT id, kind, psn_no, recipient, body, secret, reference, state, attempts, last_error, claim, claimed_at, finished_at, created_at
             FROM notifications WHERE $1::text IS NULL OR state = $1 ORDER BY id LIMIT $2",
            &[&state.map(NotificationState::as_str), &limit_i64(limit)],
        )?;
        rows.iter().map(rows::notification).collect()
    }

    fn claim_notifications(&mut self, claim: &str, at: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Notification>> {
        // Rows another sender is claiming right now are skipped, not waited for; a row claimed
        // and committed after this snapshot makes the update a serialisation failure (retried).
        let rows = self.rows(
            "UPDATE notifications SET state = 'sending', claim = $1, claimed_at = $2
             WHERE id IN (SELECT id FROM notifications WHERE state = 'pending' ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
             RETURNING id, kind, psn_no, recipient, body, secret, reference, state, attempts, last_error, claim, claimed_at, finished_at, created_at",
            &[&claim, &at, &limit_i64(limit)],
        )?;
        let mut claimed = rows.iter().map(rows::notification).collect::<StoreResult<Vec<_>>>()?;
        claimed.sort_by_key(|n| n.id);
        Ok(claimed)
    }

    fn update_notification(
        &mut self,
        id: i64,
        expected_state: NotificationState,
        expected_claim: Option<&str>,
        update: &NotificationUpdate,
    ) -> StoreResult<bool> {
        let attempts = i32::try_from(update.attempts).unwrap_or(i32::MAX);
        let changed = self.exec(
            "UPDATE notifications SET state = $1, attempts = $2, last_error = $3, finished_at = $4,
                    secret = CASE WHEN $5 THEN NULL ELSE secret END
             WHERE id = $6 AND state = $7 AND ($8::text IS NULL OR claim = $8)",
            &[&update.state.as_str(), &attempts, &update.last_error, &update.at, &update.clear_secret, &id, &expected_state.as_str(), &expected_claim],
        )?;
        Ok(changed == 1)
    }

    fn insert_relative_transfer(&mut self, r: &NewRelativeTransfer) -> StoreResult<i64> {
        let row = self.one(
            "INSERT INTO relative_transfers (authoriser, beneficiary, relation, amount_fen, code_salt, code_hash, expires_at, state, notification_id,
                commitment_accepted_at, actor, channel, business_date, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9, $10, $11, $12, $13) RETURNING id",
            &[
                &r.authoriser,
                &r.beneficiary,
                &r.relation,
                &r.amount.fen(),
                &r.code_salt,
                &r.code_hash,
                &r.expires_at,
                &r.notification_id,
                &r.commitment_accepted_at,
                &r.actor,
                &r.channel,
                &r.business_date,
                &r.created_at,
            ],
        )?;
        row.int("id")
    }

    fn relative_transfer(&mut self, id: i64) -> StoreResult<Option<RelativeTransferRecord>> {
        let row = self.opt(
            "SELECT authoriser, beneficiary, relation, amount_fen, code_salt, code_hash, expires_at, attempts, state, notification_id, entry_id,
                    commitment_accepted_at, actor, channel, business_date, created_at, finished_at
             FROM relative_transfers WHERE id = $1",
            &[&id],
        )?;
        row.map(|r| rows::relative_transfer(&r, id)).transpose()
    }

    fn update_relative_transfer(&mut self, id: i64, state: RelativeTransferState, attempts: u32, entry_id: Option<i64>, at: DateTime<Utc>) -> StoreResult<()> {
        let finished = (state != RelativeTransferState::Pending).then_some(at);
        let attempts = i32::try_from(attempts).unwrap_or(i32::MAX);
        self.exec(
            "UPDATE relative_transfers SET state = $1, attempts = $2, entry_id = COALESCE($3, entry_id), finished_at = $4 WHERE id = $5",
            &[&state.as_str(), &attempts, &entry_id, &finished, &id],
        )?;
        Ok(())
    }

    fn insert_association(&mut self, a: &NewAssociation) -> StoreResult<i64> {
        let row = self.opt(
            "INSERT INTO associations (binder, relative, relation, area, actor, channel, business_date, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING id",
            &[&a.binder, &a.relative, &a.relation, &a.area.as_str(), &a.actor, &a.channel, &a.business_date, &a.recorded_at],
        )?;
        match row {
            Some(row) => row.int("id"),
            None => Err(StoreError::AlreadyExists(format!("binding of {} by {}", a.relative, a.binder))),
        }
    }

    fn end_association(&mut self, id: i64, provenance: &Provenance) -> StoreResult<bool> {
        let changed = self.exec(
            "UPDATE associations SET ended_by = $1, ended_channel = $2, ended_date = $3, ended_at = $4 WHERE id = $5 AND ended_at IS NULL",
            &[&actor_text(provenance), &provenance.channel.as_str(), &provenance.business_date, &provenance.recorded_at, &id],
        )?;
        Ok(changed == 1)
    }

    fn associations_of(&mut self, psn_no: &str) -> StoreResult<Vec<Association>> {
        let rows = self.rows(
            "SELECT id, binder, relative, relation, area, actor, channel, business_date, recorded_at FROM associations
             WHERE (binder = $1 OR relative = $1) AND ended_at IS NULL ORDER BY id",
            &[&psn_no],
        )?;
        rows.iter().map(rows::association).collect()
    }

    fn insert_quota(&mut self, q: &QuotaRecord) -> StoreResult<i64> {
        let row = self.opt(
            "INSERT INTO quotas (uid, side, donor, donor_area, relative, relative_area, relative_name, relative_id_number, relation, state,
                granted_fen, used_fen, returned_fen, actor, channel, business_date, created_at, ended_at, end_reason)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
             ON CONFLICT (uid, side) DO NOTHING RETURNING id",
            &[
                &q.uid,
                &q.side.as_str(),
                &q.donor,
                &q.donor_area.as_str(),
                &q.relative,
                &q.relative_area.as_str(),
                &q.relative_name,
                &q.relative_id_number,
                &q.relation,
                &q.state.as_str(),
                &q.granted.fen(),
                &q.used.fen(),
                &q.returned.fen(),
                &q.actor,
                &q.channel,
                &q.business_date,
                &q.created_at,
                &q.ended_at,
                &q.end_reason,
            ],
        )?;
        match row {
            Some(row) => row.int("id"),
            None => Err(StoreError::AlreadyExists(format!("quota {} ({})", q.uid, q.side))),
        }
    }

    fn quota(&mut self, uid: &str, side: QuotaSide) -> StoreResult<Option<QuotaRecord>> {
        let row = self.opt(
            "SELECT id, uid, side, donor, donor_area, relative, relative_area, relative_name, relative_id_number, relation, state,
                    granted_fen, used_fen, returned_fen, actor, channel, business_date, created_at, ended_at, end_reason
             FROM quotas WHERE uid = $1 AND side = $2",
            &[&uid, &side.as_str()],
        )?;
        row.as_ref().map(rows::quota).transpose()
    }

    fn quotas_of(&mut self, psn_no: &str) -> StoreResult<Vec<QuotaRecord>> {
        let rows = self.rows(
            "SELECT id, uid, side, donor, donor_area, relative, relative_area, relative_name, relative_id_number, relation, state,
                    granted_fen, used_fen, returned_fen, actor, channel, business_date, created_at, ended_at, end_reason
             FROM quotas WHERE (donor = $1 AND side IN ('local', 'donor')) OR (relative = $1 AND side IN ('local', 'relative')) ORDER BY id",
            &[&psn_no],
        )?;
        rows.iter().map(rows::quota).collect()
    }

    fn update_quota(&mut self, q: &QuotaRecord) -> StoreResult<()> {
        let changed = self.exec(
            "UPDATE quotas SET relative = $1, state = $2, granted_fen = $3, used_fen = $4, returned_fen = $5, ended_at = $6, end_reason = $7
             WHERE uid = $8 AND side = $9",
            &[&q.relative, &q.state.as_str(), &q.granted.fen(), &q.used.fen(), &q.returned.fen(), &q.ended_at, &q.end_reason, &q.uid, &q.side.as_str()],
        )?;
        if changed != 1 {
            return Err(StoreError::Backend(format!("no quota {} ({})", q.uid, q.side)));
        }
        Ok(())
    }

    fn insert_quota_event(&mut self, e: &QuotaEvent) -> StoreResult<()> {
        self.exec(
            "INSERT INTO quota_events (quota_uid, side, kind, amount_fen, reference, local_date, entry_id, actor, channel, business_date, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            &[
                &e.quota_uid,
                &e.side.as_str(),
                &e.kind.as_str(),
                &e.amount.fen(),
                &e.reference,
                &e.local_date,
                &e.entry_id,
                &e.actor,
                &e.channel,
                &e.business_date,
                &e.recorded_at,
            ],
        )?;
        Ok(())
    }

    fn quota_events(&mut self, reference: &str) -> StoreResult<Vec<QuotaEvent>> {
        let rows = self.rows(
            "SELECT quota_uid, side, kind, amount_fen, reference, local_date, entry_id, actor, channel, business_date, recorded_at
             FROM quota_events WHERE reference = $1 ORDER BY id",
            &[&reference],
        )?;
        rows.iter().map(rows::quota_event).collect()
    }

    fn quota_grants_on(&mut self, donor: &str, local_date: NaiveDate) -> StoreResult<u32> {
        let row = self.one(
            "SELECT COUNT(*) AS n FROM quota_events e JOIN quotas q ON q.uid = e.quota_uid AND q.side = e.side
             WHERE e.kind = 'grant' AND e.local_date = $1 AND q.donor = $2 AND q.side IN ('local', 'donor')",
            &[&local_date, &donor],
        )?;
        Ok(row.int("n")?.max(0) as u32)
    }

    fn insert_area_message(&mut self, m: &AreaMessage) -> StoreResult<()> {
        let row = self.opt(
            "INSERT INTO area_outbox (id, from_area, to_area, kind, quota_uid, amount_fen, donor, donor_area, relative, relative_name, relative_id_number,
                relation, reason, business_date, created_at, state)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 'pending') ON CONFLICT (id) DO NOTHING RETURNING 1",
            &[
                &m.id,
                &m.from_area.as_str(),
                &m.to_area.as_str(),
                &m.kind.as_str(),
                &m.quota_uid,
                &m.amount.fen(),
                &m.donor,
                &m.donor_area.as_str(),
                &m.relative,
                &m.relative_name,
                &m.relative_id_number,
                &m.relation,
                &m.reason,
                &m.business_date,
                &m.created_at,
            ],
        )?;
        match row {
            Some(_) => Ok(()),
            None => Err(StoreError::AlreadyExists(format!("message {}", m.id))),
        }
    }

    fn area_messages(&mut self, state: AreaMessageState, limit: usize) -> StoreResult<Vec<OutboxMessage>> {
        let rows = self.rows(
            "SELECT id, from_area, to_area, kind, quota_uid, amount_fen, donor, donor_area, relative, relative_name, relative_id_number,
                    relation, reason, business_date, created_at, state, answer, answered_at
             FROM area_outbox WHERE state = $1 ORDER BY seq LIMIT $2",
            &[&state.as_str(), &limit_i64(limit)],
        )?;
        rows.iter().map(rows::area_message).collect()
    }

    fn area_message(&mut self, id: &str) -> StoreResult<Option<OutboxMessage>> {
        let row = self.opt(
            "SELECT id, from_area, to_area, kind, quota_uid, amount_fen, donor, donor_area, relative, relative_name, relative_id_number,
                    relation, reason, business_date, created_at, state, answer, answered_at
             FROM area_outbox WHERE id = $1",
            &[&id],
        )?;
        row.as_ref().map(rows::area_message).transpose()
    }

    fn answer_area_message(&mut self, id: &str, state: AreaMessageState, answer: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let changed = self.exec(
            "UPDATE area_outbox SET state = $1, answer = $2, answered_at = $3 WHERE id = $4 AND state = 'pending'",
            &[&state.as_str(), &answer, &at, &id],
        )?;
        Ok(changed == 1)
    }

    fn inbox_record(&mut self, message_id: &str) -> StoreResult<Option<InboxRecord>> {
        let row = self.opt("SELECT from_area, kind, outcome, code, detail, relative, applied_at FROM area_inbox WHERE message_id = $1", &[&message_id])?;
        row.map(|r| rows::inbox_record(&r, message_id)).transpose()
    }

    fn insert_inbox_record(&mut self, r: &InboxRecord) -> StoreResult<()> {
        let row = self.opt(
            "INSERT INTO area_inbox (message_id, from_area, kind, outcome, code, detail, relative, applied_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (message_id) DO NOTHING RETURNING 1",
            &[&r.message_id, &r.from_area.as_str(), &r.kind.as_str(), &r.outcome.as_str(), &r.code, &r.detail, &r.relative, &r.applied_at],
        )?;
        match row {
            Some(_) => Ok(()),
            None => Err(StoreError::AlreadyExists(format!("message {} applied before", r.message_id))),
        }
    }

    fn insert_clearing(&mut self, c: &ClearingRecord) -> StoreResult<()> {
        let row = self.opt(
            "INSERT INTO clearing (message_id, direction, area, counterparty, kind, quota_uid, amount_fen, state, entry_id, business_date, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (message_id, direction) DO NOTHING RETURNING 1",
            &[
                &c.message_id,
                &c.direction.as_str(),
                &c.area.as_str(),
                &c.counterparty.as_str(),
                &c.kind.as_str(),
                &c.quota_uid,
                &c.amount.fen(),
                &c.state.as_str(),
                &c.entry_id,
                &c.business_date,
                &c.recorded_at,
            ],
        )?;
        match row {
            Some(_) => Ok(()),
            None => Err(StoreError::AlreadyExists(format!("clearing record {} {}", c.message_id, c.direction))),
        }
    }

    fn settle_clearing(&mut self, message_id: &str, direction: ClearingDirection, state: ClearingState) -> StoreResult<bool> {
        let changed = self.exec(
            "UPDATE clearing SET state = $1 WHERE message_id = $2 AND direction = $3 AND state = 'pending'",
            &[&state.as_str(), &message_id, &direction.as_str()],
        )?;
        Ok(changed == 1)
    }

    fn clearing_records(&mut self) -> StoreResult<Vec<ClearingRecord>> {
        let rows = self.rows(
            "SELECT message_id, direction, area, counterparty, kind, quota_uid, amount_fen, state, entry_id, business_date, recorded_at
             FROM clearing ORDER BY recorded_at, message_id, direction",
            &[],
        )?;
        rows.iter().map(rows::clearing_record).collect()
    }
}

/// A `LIMIT` parameter (BIGINT).
fn limit_i64(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}
