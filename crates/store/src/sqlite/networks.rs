//! [`NetworksTx`] on SQLite: networks, members, events, MUT movements and presets (§5, T2).

use super::*;

impl SqliteTx<'_> {
    fn load_network(&self, network_id: i64) -> StoreResult<Option<Network>> {
        let header = self.first("SELECT area, promoter FROM networks WHERE id = ?1 AND dissolved_at IS NULL", [network_id], |r| {
            Ok((r.text("area")?, r.text("promoter")?))
        })?;
        let Some((area, promoter)) = header else { return Ok(None) };
        let members =
            self.all("SELECT psn_no, relation, state FROM network_members WHERE network_id = ?1 AND state <> 'left' ORDER BY position", [network_id], |r| {
                rows::member(r, r.text("psn_no")?)
            })?;
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
        let id = self.first("SELECT network_id FROM network_members WHERE psn_no = ?1 AND state <> 'left'", [psn_no], |r| r.int("network_id"))?;
        match id {
            Some(id) => self.load_network(id),
            None => Ok(None),
        }
    }

    fn network(&mut self, network_id: i64) -> StoreResult<Option<Network>> {
        self.load_network(network_id)
    }

    fn insert_member(&mut self, network_id: i64, psn_no: &str, relation: Option<&str>, state: MemberState, provenance: &Provenance) -> StoreResult<()> {
        let position =
            self.one("SELECT COALESCE(MAX(position), 0) + 1 AS position FROM network_members WHERE network_id = ?1 AND state <> 'left'", [network_id], |r| {
                r.int("position")
            })?;
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
                event.kind.as_str(),
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
        self.all(
            "SELECT id, network_id, kind, subject, detail, actor, channel, business_date, recorded_at FROM network_events
             WHERE area = ?1 AND business_date BETWEEN ?2 AND ?3 ORDER BY id",
            params![area.as_str(), date_text(from), date_text(to)],
            |r| rows::network_event(r, area),
        )
    }

    fn mut_movements(&mut self, area: &AreaCode, from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<MutMovement>> {
        self.all(
            "SELECT e.id AS entry_id, a.owner AS psn_no, e.kind, e.business_date, p.amount_fen, e.actor, e.channel FROM postings p
             JOIN accounts a ON a.id = p.account_id JOIN journal_entries e ON e.id = p.entry_id JOIN persons ps ON ps.psn_no = a.owner
             WHERE a.kind = 'mut' AND ps.area = ?1 AND e.business_date BETWEEN ?2 AND ?3 ORDER BY e.id, p.id",
            params![area.as_str(), date_text(from), date_text(to)],
            |r| rows::mut_movement(r),
        )
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
        let fen = self.first("SELECT amount_fen FROM presets WHERE psn_no = ?1", [psn_no], |r| r.opt_int("amount_fen"))?;
        Ok(fen.flatten().map(Money::from_fen))
    }
}
