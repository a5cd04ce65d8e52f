//! [`FamilyTx`] on SQLite: the family models: outbox, relative transfers, associations, quotas, messages and clearing between areas (§7, §8, §15).

use super::*;

impl FamilyTx for SqliteTx<'_> {
    // Family models (§7, §8, §15)
    fn insert_notification(&mut self, n: &NewNotification) -> StoreResult<i64> {
        self.conn
            .execute(
                "INSERT INTO notifications (kind, psn_no, recipient, body, secret, reference, state, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7)",
                params![n.kind, n.psn_no, n.recipient, n.body, n.secret, n.reference, n.created_at.to_rfc3339()],
            )
            .map_err(backend)?;
        Ok(self.conn.last_insert_rowid())
    }

    fn notification(&mut self, id: i64) -> StoreResult<Option<Notification>> {
        let sql = format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE id = ?1");
        let row = self.conn.query_row(&sql, [id], notification_row).optional().map_err(backend)?;
        row.map(notification_from_row).transpose()
    }

    fn notifications(&mut self, state: Option<&str>, limit: usize) -> StoreResult<Vec<Notification>> {
        let sql = format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE ?1 IS NULL OR state = ?1 ORDER BY id LIMIT ?2");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(backend)?;
        let rows = stmt.query_map(params![state, limit as i64], notification_row).map_err(backend)?;
        rows.map(|row| row.map_err(backend).and_then(notification_from_row)).collect()
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
        let mut stmt = self.conn.prepare_cached(&sql).map_err(backend)?;
        let rows = stmt.query_map([claim], notification_row).map_err(backend)?;
        rows.map(|row| row.map_err(backend).and_then(notification_from_row)).collect()
    }

    fn update_notification(&mut self, id: i64, expected_state: &str, expected_claim: Option<&str>, update: &NotificationUpdate) -> StoreResult<bool> {
        let changed = self
            .conn
            .execute(
                "UPDATE notifications SET state = ?1, attempts = ?2, last_error = ?3, finished_at = ?4,
                        secret = CASE WHEN ?5 THEN NULL ELSE secret END
                 WHERE id = ?6 AND state = ?7 AND (?8 IS NULL OR claim = ?8)",
                params![update.state, update.attempts, update.last_error, update.at.to_rfc3339(), update.clear_secret, id, expected_state, expected_claim],
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
        type Row = (
            String,
            String,
            String,
            i64,
            String,
            String,
            String,
            i64,
            String,
            Option<i64>,
            Option<i64>,
            String,
            String,
            String,
            String,
            String,
            Option<String>,
        );
        let row: Option<Row> = self
            .conn
            .query_row(
                "SELECT authoriser, beneficiary, relation, amount_fen, code_salt, code_hash, expires_at, attempts, state, notification_id, entry_id,
                        commitment_accepted_at, actor, channel, business_date, created_at, finished_at
                 FROM relative_transfers WHERE id = ?1",
                [id],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                        r.get(9)?,
                        r.get(10)?,
                        r.get(11)?,
                        r.get(12)?,
                        r.get(13)?,
                        r.get(14)?,
                        r.get(15)?,
                        r.get(16)?,
                    ))
                },
            )
            .optional()
            .map_err(backend)?;
        let Some((
            authoriser,
            beneficiary,
            relation,
            fen,
            salt,
            hash,
            expires,
            attempts,
            state,
            notification_id,
            entry_id,
            accepted,
            actor,
            channel,
            day,
            at,
            finished,
        )) = row
        else {
            return Ok(None);
        };
        Ok(Some(RelativeTransferRecord {
            id,
            request: NewRelativeTransfer {
                authoriser,
                beneficiary,
                relation,
                amount: Money::from_fen(fen),
                code_salt: salt,
                code_hash: hash,
                expires_at: parse_instant(&expires)?,
                notification_id,
                commitment_accepted_at: parse_instant(&accepted)?,
                actor,
                channel,
                business_date: parse_date(&day)?,
                created_at: parse_instant(&at)?,
            },
            attempts: attempts as u32,
            state,
            entry_id,
            finished_at: finished.as_deref().map(parse_instant).transpose()?,
        }))
    }

    fn update_relative_transfer(&mut self, id: i64, state: &str, attempts: u32, entry_id: Option<i64>, at: DateTime<Utc>) -> StoreResult<()> {
        let finished = (state != "pending").then(|| at.to_rfc3339());
        self.conn
            .execute(
                "UPDATE relative_transfers SET state = ?1, attempts = ?2, entry_id = COALESCE(?3, entry_id), finished_at = ?4 WHERE id = ?5",
                params![state, attempts, entry_id, finished, id],
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
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, binder, relative, relation, area, actor, channel, business_date, recorded_at FROM associations
                 WHERE (binder = ?1 OR relative = ?1) AND ended_at IS NULL ORDER BY id",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map([psn_no], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, String>(8)?,
                ))
            })
            .map_err(backend)?;
        let mut bindings = Vec::new();
        for row in rows {
            let (id, binder, relative, relation, area, actor, channel, day, at) = row.map_err(backend)?;
            bindings.push(Association {
                id,
                association: NewAssociation {
                    binder,
                    relative,
                    relation,
                    area: parse_area(&area)?,
                    actor,
                    channel,
                    business_date: parse_date(&day)?,
                    recorded_at: parse_instant(&at)?,
                },
                ended: None,
            });
        }
        Ok(bindings)
    }

    fn insert_quota(&mut self, q: &QuotaRecord) -> StoreResult<i64> {
        self.conn
            .execute(
                "INSERT INTO quotas (uid, side, donor, donor_area, relative, relative_area, relative_name, relative_id_number, relation, state,
                    granted_fen, used_fen, returned_fen, actor, channel, business_date, created_at, ended_at, end_reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
                params![
                    q.uid,
                    q.side,
                    q.donor,
                    q.donor_area.as_str(),
                    q.relative,
                    q.relative_area.as_str(),
                    q.relative_name,
                    q.relative_id_number,
                    q.relation,
                    q.state,
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

    fn quota(&mut self, uid: &str, side: &str) -> StoreResult<Option<QuotaRecord>> {
        let sql = format!("SELECT {QUOTA_COLUMNS} FROM quotas WHERE uid = ?1 AND side = ?2");
        let row = self.conn.query_row(&sql, [uid, side], quota_row).optional().map_err(backend)?;
        row.map(quota_from_row).transpose()
    }

    fn quotas_of(&mut self, psn_no: &str) -> StoreResult<Vec<QuotaRecord>> {
        let sql = format!(
            "SELECT {QUOTA_COLUMNS} FROM quotas WHERE (donor = ?1 AND side IN ('local', 'donor')) OR (relative = ?1 AND side IN ('local', 'relative')) ORDER BY id"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(backend)?;
        let rows = stmt.query_map([psn_no], quota_row).map_err(backend)?;
        rows.map(|row| row.map_err(backend).and_then(quota_from_row)).collect()
    }

    fn update_quota(&mut self, q: &QuotaRecord) -> StoreResult<()> {
        let changed = self
            .conn
            .execute(
                "UPDATE quotas SET relative = ?1, state = ?2, granted_fen = ?3, used_fen = ?4, returned_fen = ?5, ended_at = ?6, end_reason = ?7
                 WHERE uid = ?8 AND side = ?9",
                params![q.relative, q.state, q.granted.fen(), q.used.fen(), q.returned.fen(), q.ended_at.map(|t| t.to_rfc3339()), q.end_reason, q.uid, q.side],
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
                    e.side,
                    e.kind,
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
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT quota_uid, side, kind, amount_fen, reference, local_date, entry_id, actor, channel, business_date, recorded_at
                 FROM quota_events WHERE reference = ?1 ORDER BY id",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map([reference], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, Option<i64>>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, String>(8)?,
                    r.get::<_, String>(9)?,
                    r.get::<_, String>(10)?,
                ))
            })
            .map_err(backend)?;
        let mut events = Vec::new();
        for row in rows {
            let (quota_uid, side, kind, fen, reference, local, entry_id, actor, channel, day, at) = row.map_err(backend)?;
            events.push(QuotaEvent {
                quota_uid,
                side,
                kind,
                amount: Money::from_fen(fen),
                reference,
                local_date: parse_date(&local)?,
                entry_id,
                actor,
                channel,
                business_date: parse_date(&day)?,
                recorded_at: parse_instant(&at)?,
            });
        }
        Ok(events)
    }

    fn quota_grants_on(&mut self, donor: &str, local_date: NaiveDate) -> StoreResult<u32> {
        let count: i64 = self
            .conn
            .query_row(
                "SELECT COUNT(*) FROM quota_events e JOIN quotas q ON q.uid = e.quota_uid AND q.side = e.side
                 WHERE e.kind = 'grant' AND e.local_date = ?1 AND q.donor = ?2 AND q.side IN ('local', 'donor')",
                params![date_text(local_date), donor],
                |r| r.get(0),
            )
            .map_err(backend)?;
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
                    m.kind,
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

    fn area_messages(&mut self, state: &str, limit: usize) -> StoreResult<Vec<OutboxMessage>> {
        let sql = format!("SELECT {AREA_MESSAGE_COLUMNS} FROM area_outbox WHERE state = ?1 ORDER BY seq LIMIT ?2");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(backend)?;
        let rows = stmt.query_map(params![state, limit as i64], area_message_row).map_err(backend)?;
        rows.map(|row| row.map_err(backend).and_then(area_message_from_row)).collect()
    }

    fn area_message(&mut self, id: &str) -> StoreResult<Option<OutboxMessage>> {
        let sql = format!("SELECT {AREA_MESSAGE_COLUMNS} FROM area_outbox WHERE id = ?1");
        let row = self.conn.query_row(&sql, [id], area_message_row).optional().map_err(backend)?;
        row.map(area_message_from_row).transpose()
    }

    fn answer_area_message(&mut self, id: &str, state: &str, answer: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let changed = self
            .conn
            .execute(
                "UPDATE area_outbox SET state = ?1, answer = ?2, answered_at = ?3 WHERE id = ?4 AND state = 'pending'",
                params![state, answer, at.to_rfc3339(), id],
            )
            .map_err(backend)?;
        Ok(changed == 1)
    }

    fn inbox_record(&mut self, message_id: &str) -> StoreResult<Option<InboxRecord>> {
        let row: Option<(String, String, String, Option<String>, String, Option<String>, String)> = self
            .conn
            .query_row("SELECT from_area, kind, outcome, code, detail, relative, applied_at FROM area_inbox WHERE message_id = ?1", [message_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
            })
            .optional()
            .map_err(backend)?;
        row.map(|(from_area, kind, outcome, code, detail, relative, at)| {
            Ok(InboxRecord {
                message_id: message_id.to_string(),
                from_area: parse_area(&from_area)?,
                kind,
                outcome,
                code,
                detail,
                relative,
                applied_at: parse_instant(&at)?,
            })
        })
        .transpose()
    }

    fn insert_inbox_record(&mut self, r: &InboxRecord) -> StoreResult<()> {
        self.conn
            .execute(
                "INSERT INTO area_inbox (message_id, from_area, kind, outcome, code, detail, relative, applied_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![r.message_id, r.from_area.as_str(), r.kind, r.outcome, r.code, r.detail, r.relative, r.applied_at.to_rfc3339()],
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
                    c.direction,
                    c.area.as_str(),
                    c.counterparty.as_str(),
                    c.kind,
                    c.quota_uid,
                    c.amount.fen(),
                    c.state,
                    c.entry_id,
                    date_text(c.business_date),
                    c.recorded_at.to_rfc3339()
                ],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn settle_clearing(&mut self, message_id: &str, direction: &str, state: &str) -> StoreResult<bool> {
        let changed = self
            .conn
            .execute("UPDATE clearing SET state = ?1 WHERE message_id = ?2 AND direction = ?3 AND state = 'pending'", params![state, message_id, direction])
            .map_err(backend)?;
        Ok(changed == 1)
    }

    fn clearing_records(&mut self) -> StoreResult<Vec<ClearingRecord>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT message_id, direction, area, counterparty, kind, quota_uid, amount_fen, state, entry_id, business_date, recorded_at
                 FROM clearing ORDER BY recorded_at, message_id, direction",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, Option<i64>>(8)?,
                    r.get::<_, String>(9)?,
                    r.get::<_, String>(10)?,
                ))
            })
            .map_err(backend)?;
        let mut records = Vec::new();
        for row in rows {
            let (message_id, direction, area, counterparty, kind, quota_uid, fen, state, entry_id, day, at) = row.map_err(backend)?;
            records.push(ClearingRecord {
                message_id,
                direction,
                area: parse_area(&area)?,
                counterparty: parse_area(&counterparty)?,
                kind,
                quota_uid,
                amount: Money::from_fen(fen),
                state,
                entry_id,
                business_date: parse_date(&day)?,
                recorded_at: parse_instant(&at)?,
            });
        }
        Ok(records)
    }
}

// Family models (§7, §8, §15)
const NOTIFICATION_COLUMNS: &str =
    "id, kind, psn_no, recipient, body, secret, reference, state, attempts, last_error, claim, claimed_at, finished_at, created_at";

type NotificationRow =
    (i64, String, String, String, String, Option<String>, String, String, i64, Option<String>, Option<String>, Option<String>, Option<String>, String);

fn notification_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<NotificationRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
        r.get(12)?,
        r.get(13)?,
    ))
}

fn notification_from_row(row: NotificationRow) -> StoreResult<Notification> {
    let (id, kind, psn_no, recipient, body, secret, reference, state, attempts, last_error, claim, claimed_at, finished_at, created_at) = row;
    Ok(Notification {
        id,
        notification: NewNotification { kind, psn_no, recipient, body, secret, reference, created_at: parse_instant(&created_at)? },
        state,
        attempts: attempts as u32,
        last_error,
        claim,
        claimed_at: claimed_at.as_deref().map(parse_instant).transpose()?,
        finished_at: finished_at.as_deref().map(parse_instant).transpose()?,
    })
}

const QUOTA_COLUMNS: &str = "id, uid, side, donor, donor_area, relative, relative_area, relative_name, relative_id_number, relation, state,
    granted_fen, used_fen, returned_fen, actor, channel, business_date, created_at, ended_at, end_reason";

/// A quota row as read, before its text is checked.
struct QuotaRow {
    id: i64,
    /// uid, side, donor, donor_area, relative_area, relative_name, relative_id_number, relation,
    /// state, actor, channel, business_date, created_at
    text: [String; 13],
    relative: Option<String>,
    /// granted, used, returned
    fen: [i64; 3],
    ended_at: Option<String>,
    end_reason: Option<String>,
}

fn quota_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<QuotaRow> {
    Ok(QuotaRow {
        id: r.get(0)?,
        text: [
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(6)?,
            r.get(7)?,
            r.get(8)?,
            r.get(9)?,
            r.get(10)?,
            r.get(14)?,
            r.get(15)?,
            r.get(16)?,
            r.get(17)?,
        ],
        relative: r.get(5)?,
        fen: [r.get(11)?, r.get(12)?, r.get(13)?],
        ended_at: r.get(18)?,
        end_reason: r.get(19)?,
    })
}

fn quota_from_row(row: QuotaRow) -> StoreResult<QuotaRecord> {
    let [uid, side, donor, donor_area, relative_area, relative_name, relative_id_number, relation, state, actor, channel, day, created_at] = row.text;
    Ok(QuotaRecord {
        id: row.id,
        donor_area: parse_area(&donor_area)?,
        relative_area: parse_area(&relative_area)?,
        relative: row.relative,
        granted: Money::from_fen(row.fen[0]),
        used: Money::from_fen(row.fen[1]),
        returned: Money::from_fen(row.fen[2]),
        business_date: parse_date(&day)?,
        created_at: parse_instant(&created_at)?,
        ended_at: row.ended_at.as_deref().map(parse_instant).transpose()?,
        end_reason: row.end_reason,
        uid,
        side,
        donor,
        relative_name,
        relative_id_number,
        relation,
        state,
        actor,
        channel,
    })
}

const AREA_MESSAGE_COLUMNS: &str = "id, from_area, to_area, kind, quota_uid, amount_fen, donor, donor_area, relative, relative_name, relative_id_number,
    relation, reason, business_date, created_at, state, answer, answered_at";

/// An outbox row as read: text columns in order (relative, answer and answered_at apart).
struct AreaMessageRow {
    /// id, from_area, to_area, kind, quota_uid, donor, donor_area, relative_name,
    /// relative_id_number, relation, reason, business_date, created_at, state
    text: [String; 14],
    amount_fen: i64,
    relative: Option<String>,
    answer: Option<String>,
    answered_at: Option<String>,
}

fn area_message_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AreaMessageRow> {
    Ok(AreaMessageRow {
        text: [
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(6)?,
            r.get(7)?,
            r.get(9)?,
            r.get(10)?,
            r.get(11)?,
            r.get(12)?,
            r.get(13)?,
            r.get(14)?,
            r.get(15)?,
        ],
        amount_fen: r.get(5)?,
        relative: r.get(8)?,
        answer: r.get(16)?,
        answered_at: r.get(17)?,
    })
}

fn area_message_from_row(row: AreaMessageRow) -> StoreResult<OutboxMessage> {
    let [id, from_area, to_area, kind, quota_uid, donor, donor_area, relative_name, relative_id_number, relation, reason, day, created_at, state] = row.text;
    let area = |text: &str| parse_area(text);
    Ok(OutboxMessage {
        message: AreaMessage {
            from_area: area(&from_area)?,
            to_area: area(&to_area)?,
            donor_area: area(&donor_area)?,
            amount: Money::from_fen(row.amount_fen),
            relative: row.relative,
            business_date: parse_date(&day)?,
            created_at: parse_instant(&created_at)?,
            id,
            kind,
            quota_uid,
            donor,
            relative_name,
            relative_id_number,
            relation,
            reason,
        },
        state,
        answer: row.answer,
        answered_at: row.answered_at.as_deref().map(parse_instant).transpose()?,
    })
}
