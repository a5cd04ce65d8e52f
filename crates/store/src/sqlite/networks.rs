//! [`NetworksTx`] on SQLite: networks, members, events, MUT movements and presets (§5, T2).

use super::*;

impl SqliteTx<'_> {
    fn load_network(&self, network_id: i64) -> StoreResult<Option<Network>> {
        let header: Option<(String, String)> = self
            .row("SELECT area, promoter FROM networks WHERE id = ?1 AND dissolved_at IS NULL", [network_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(backend)?;
        let Some((area, promoter)) = header else { return Ok(None) };
        let mut stmt = self
            .conn
            .prepare_cached("SELECT psn_no, relation, state FROM network_members WHERE network_id = ?1 AND state <> 'left' ORDER BY position")
            .map_err(backend)?;
        let rows = stmt.query_map([network_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?, r.get::<_, String>(2)?))).map_err(backend)?;
        let mut members = Vec::new();
        for row in rows {
            let (psn_no, relation, state) = row.map_err(backend)?;
            let state = parse_member_state(&state)?;
            members.push(Member { psn_no, relation, state });
        }
        Ok(Some(Network { id: network_id, area: parse_area(&area)?, promoter, members }))
    }
}

impl NetworksTx for SqliteTx<'_> {
    fn insert_network(&mut self, area: &AreaCode, promoter: &str, provenance: &Provenance) -> StoreResult<i64> {
        self.exec(
            "INSERT INTO networks (area, promoter, created_at) VALUES (?1, ?2, ?3)",
            params![area.as_str(), promoter, provenance.recorded_at.to_rfc3339()],
        )
        .map_err(backend)?;
        Ok(self.conn.last_insert_rowid())
    }

    fn network_of(&mut self, psn_no: &str) -> StoreResult<Option<Network>> {
        let id: Option<i64> =
            self.row("SELECT network_id FROM network_members WHERE psn_no = ?1 AND state <> 'left'", [psn_no], |r| r.get(0)).optional().map_err(backend)?;
        match id {
            Some(id) => self.load_network(id),
            None => Ok(None),
        }
    }

    fn network(&mut self, network_id: i64) -> StoreResult<Option<Network>> {
        self.load_network(network_id)
    }

    fn insert_member(&mut self, network_id: i64, psn_no: &str, relation: Option<&str>, state: MemberState, provenance: &Provenance) -> StoreResult<()> {
        let position: i64 = self
            .row("SELECT COALESCE(MAX(position), 0) + 1 FROM network_members WHERE network_id = ?1 AND state <> 'left'", [network_id], |r| r.get(0))
            .map_err(backend)?;
        self.exec(
            "INSERT INTO network_members (network_id, psn_no, relation, state, position, joined_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![network_id, psn_no, relation, state.as_str(), position, provenance.recorded_at.to_rfc3339()],
        )
        .map_err(backend)?;
        Ok(())
    }

    fn set_member_state(&mut self, network_id: i64, psn_no: &str, state: MemberState) -> StoreResult<()> {
        self.exec(
            "UPDATE network_members SET state = ?1 WHERE network_id = ?2 AND psn_no = ?3 AND state <> 'left'",
            params![state.as_str(), network_id, psn_no],
        )
        .map_err(backend)?;
        Ok(())
    }

    fn end_membership(&mut self, network_id: i64, psn_no: &str, provenance: &Provenance) -> StoreResult<()> {
        self.exec(
            "UPDATE network_members SET state = 'left', left_at = ?1 WHERE network_id = ?2 AND psn_no = ?3 AND state <> 'left'",
            params![provenance.recorded_at.to_rfc3339(), network_id, psn_no],
        )
        .map_err(backend)?;
        Ok(())
    }

    fn set_order(&mut self, network_id: i64, order: &[String]) -> StoreResult<()> {
        for (index, psn_no) in order.iter().enumerate() {
            self.exec(
                "UPDATE network_members SET position = ?1 WHERE network_id = ?2 AND psn_no = ?3 AND state <> 'left'",
                params![index as i64 + 1, network_id, psn_no],
            )
            .map_err(backend)?;
        }
        Ok(())
    }

    fn dissolve_network(&mut self, network_id: i64, provenance: &Provenance) -> StoreResult<()> {
        let at = provenance.recorded_at.to_rfc3339();
        self.exec("UPDATE network_members SET state = 'left', left_at = ?1 WHERE network_id = ?2 AND state <> 'left'", params![at, network_id])
            .map_err(backend)?;
        self.exec("UPDATE networks SET dissolved_at = ?1 WHERE id = ?2", params![at, network_id]).map_err(backend)?;
        Ok(())
    }

    fn insert_network_event(&mut self, event: &NewNetworkEvent) -> StoreResult<()> {
        self.exec(
            "INSERT INTO network_events (network_id, area, kind, subject, detail, actor, channel, business_date, recorded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                event.network_id,
                event.area.as_str(),
                event.kind,
                event.subject,
                event.detail,
                event.actor,
                event.channel,
                date_text(event.business_date),
                event.recorded_at.to_rfc3339()
            ],
        )
        .map_err(backend)?;
        Ok(())
    }

    fn network_events(&mut self, area: &AreaCode, from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<NetworkEvent>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, network_id, kind, subject, detail, actor, channel, business_date, recorded_at FROM network_events
                 WHERE area = ?1 AND business_date BETWEEN ?2 AND ?3 ORDER BY id",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map(params![area.as_str(), date_text(from), date_text(to)], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, String>(8)?,
                ))
            })
            .map_err(backend)?;
        let mut events = Vec::new();
        for row in rows {
            let (id, network_id, kind, subject, detail, actor, channel, day, at) = row.map_err(backend)?;
            events.push(NetworkEvent {
                id,
                event: NewNetworkEvent {
                    network_id,
                    area: area.clone(),
                    kind,
                    subject,
                    detail,
                    actor,
                    channel,
                    business_date: parse_date(&day)?,
                    recorded_at: parse_instant(&at)?,
                },
            });
        }
        Ok(events)
    }

    fn mut_movements(&mut self, area: &AreaCode, from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<MutMovement>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT e.id, a.owner, e.kind, e.business_date, p.amount_fen, e.actor, e.channel FROM postings p
                 JOIN accounts a ON a.id = p.account_id JOIN journal_entries e ON e.id = p.entry_id JOIN persons ps ON ps.psn_no = a.owner
                 WHERE a.kind = 'mut' AND ps.area = ?1 AND e.business_date BETWEEN ?2 AND ?3 ORDER BY e.id, p.id",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map(params![area.as_str(), date_text(from), date_text(to)], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                ))
            })
            .map_err(backend)?;
        let mut movements = Vec::new();
        for row in rows {
            let (entry_id, psn_no, kind, day, fen, actor, channel) = row.map_err(backend)?;
            movements.push(MutMovement {
                entry_id,
                psn_no,
                kind: parse_entry_kind(&kind)?,
                business_date: parse_date(&day)?,
                amount: Money::from_fen(fen),
                actor,
                channel,
            });
        }
        Ok(movements)
    }

    fn set_preset(&mut self, psn_no: &str, amount: Option<Money>, provenance: &Provenance) -> StoreResult<()> {
        self.exec(
                "INSERT INTO presets (psn_no, amount_fen, actor, channel, set_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (psn_no) DO UPDATE SET amount_fen = excluded.amount_fen, actor = excluded.actor, channel = excluded.channel, set_at = excluded.set_at",
                params![psn_no, amount.map(Money::fen), actor_text(provenance), provenance.channel.as_str(), provenance.recorded_at.to_rfc3339()],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn preset(&mut self, psn_no: &str) -> StoreResult<Option<Money>> {
        let fen: Option<Option<i64>> = self.row("SELECT amount_fen FROM presets WHERE psn_no = ?1", [psn_no], |r| r.get(0)).optional().map_err(backend)?;
        Ok(fen.flatten().map(Money::from_fen))
    }
}
