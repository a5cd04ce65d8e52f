//! [`NetworksTx`] on PostgreSQL: networks, members, events, MUT movements and presets (§5, T2).

use super::*;

impl PgTx<'_> {
    /// Bumps a network's revision: two transactions that change one network conflict here.
    fn touch_network(&mut self, network_id: i64) -> StoreResult<()> {
        self.exec("UPDATE networks SET revision = revision + 1 WHERE id = $1", &[&network_id])?;
        Ok(())
    }

    fn load_network(&mut self, network_id: i64) -> StoreResult<Option<Network>> {
        let rows = self.rows(
            "SELECT n.area AS network_area, n.promoter, m.psn_no AS member, m.relation, m.state FROM networks n
             LEFT JOIN network_members m ON m.network_id = n.id AND m.state <> 'left'
             WHERE n.id = $1 AND n.dissolved_at IS NULL ORDER BY m.position, m.id",
            &[&network_id],
        )?;
        network_from_rows(network_id, &rows)
    }
}

/// A network from rows with its network_area and promoter, and a member in each (member,
/// relation, state) unless it has none (member NULL).
fn network_from_rows(network_id: i64, found: &[Row]) -> StoreResult<Option<Network>> {
    let Some(first) = found.first() else { return Ok(None) };
    let mut members = Vec::new();
    for row in found {
        let Some(psn_no) = row.opt_text("member")? else { continue };
        members.push(rows::member(row, psn_no)?);
    }
    Ok(Some(Network { id: network_id, area: first.area("network_area")?, promoter: first.text("promoter")?, members }))
}

impl NetworksTx for PgTx<'_> {
    fn insert_network(&mut self, area: &AreaCode, promoter: &str, provenance: &Provenance) -> StoreResult<i64> {
        let row = self
            .one("INSERT INTO networks (area, promoter, created_at) VALUES ($1, $2, $3) RETURNING id", &[&area.as_str(), &promoter, &provenance.recorded_at])?;
        row.int("id")
    }

    fn network_of(&mut self, psn_no: &str) -> StoreResult<Option<Network>> {
        // The network with each member's person row and MUT balance, in one round trip: the
        // waterfall (ST2) reads them next.
        let rows = self.rows(
            "SELECT n.area AS network_area, n.promoter, m.psn_no AS member, m.relation, m.state, n.id AS network_id,
                    p.psn_no, p.name, p.id_number, p.area, p.insurance, p.phone, p.status, b.balance_fen
             FROM networks n
             LEFT JOIN network_members m ON m.network_id = n.id AND m.state <> 'left'
             LEFT JOIN persons p ON p.psn_no = m.psn_no
             LEFT JOIN accounts a ON a.account_key = 'P:' || m.psn_no || ':mut' -- AccountRef::key of the member's MUT
             LEFT JOIN account_balances b ON b.account_id = a.id
             WHERE n.id = (SELECT network_id FROM network_members WHERE psn_no = $1 AND state <> 'left') AND n.dissolved_at IS NULL
             ORDER BY m.position, m.id",
            &[&psn_no],
        )?;
        let Some(first) = rows.first() else { return Ok(None) };
        let network = network_from_rows(first.int("network_id")?, &rows)?;
        for row in &rows {
            // The member's person row (psn_no, name, … of persons) and MUT balance.
            let Some(member) = row.opt_text("psn_no")? else { continue };
            let key = AccountRef::person(&member, PersonAccount::Mut).key();
            // What this transaction already read (or wrote) stays as it is.
            if let std::collections::hash_map::Entry::Vacant(slot) = self.cache.balances.entry(key) {
                slot.insert(Money::from_fen(row.opt_int("balance_fen")?.unwrap_or(0)));
            }
            if let std::collections::hash_map::Entry::Vacant(slot) = self.cache.persons.entry(member) {
                slot.insert(Some(rows::person(row)?));
            }
        }
        Ok(network)
    }

    fn network(&mut self, network_id: i64) -> StoreResult<Option<Network>> {
        self.load_network(network_id)
    }

    fn insert_member(&mut self, network_id: i64, psn_no: &str, relation: Option<&str>, state: MemberState, provenance: &Provenance) -> StoreResult<()> {
        self.touch_network(network_id)?;
        // Touch the person too: a concurrent status change (N4) of the same person conflicts.
        self.exec("UPDATE persons SET status = status WHERE psn_no = $1", &[&psn_no])?;
        let inserted = self.opt(
            "INSERT INTO network_members (network_id, psn_no, relation, state, position, joined_at)
             VALUES ($1, $2, $3, $4, (SELECT COALESCE(MAX(position), 0) + 1 FROM network_members WHERE network_id = $1 AND state <> 'left'), $5)
             ON CONFLICT (psn_no) WHERE state <> 'left' DO NOTHING RETURNING id",
            &[&network_id, &psn_no, &relation, &state.as_str(), &provenance.recorded_at],
        )?;
        match inserted {
            Some(_) => Ok(()),
            None => Err(StoreError::AlreadyExists(format!("{psn_no} is already in a network"))),
        }
    }

    fn set_member_state(&mut self, network_id: i64, psn_no: &str, state: MemberState) -> StoreResult<()> {
        self.touch_network(network_id)?;
        self.exec("UPDATE network_members SET state = $1 WHERE network_id = $2 AND psn_no = $3 AND state <> 'left'", &[&state.as_str(), &network_id, &psn_no])?;
        Ok(())
    }

    fn end_membership(&mut self, network_id: i64, psn_no: &str, provenance: &Provenance) -> StoreResult<()> {
        self.touch_network(network_id)?;
        self.exec(
            "UPDATE network_members SET state = 'left', left_at = $1 WHERE network_id = $2 AND psn_no = $3 AND state <> 'left'",
            &[&provenance.recorded_at, &network_id, &psn_no],
        )?;
        Ok(())
    }

    fn set_order(&mut self, network_id: i64, order: &[String]) -> StoreResult<()> {
        self.touch_network(network_id)?;
        self.exec(
            "UPDATE network_members m SET position = o.position FROM unnest($2::text[]) WITH ORDINALITY AS o(psn_no, position)
             WHERE m.network_id = $1 AND m.psn_no = o.psn_no AND m.state <> 'left'",
            &[&network_id, &order],
        )?;
        Ok(())
    }

    fn dissolve_network(&mut self, network_id: i64, provenance: &Provenance) -> StoreResult<()> {
        self.touch_network(network_id)?;
        self.exec(
            "UPDATE network_members SET state = 'left', left_at = $1 WHERE network_id = $2 AND state <> 'left'",
            &[&provenance.recorded_at, &network_id],
        )?;
        self.exec("UPDATE networks SET dissolved_at = $1 WHERE id = $2", &[&provenance.recorded_at, &network_id])?;
        Ok(())
    }

    fn insert_network_event(&mut self, event: &NewNetworkEvent) -> StoreResult<()> {
        self.exec(
            "INSERT INTO network_events (network_id, area, kind, subject, detail, actor, channel, business_date, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &event.network_id,
                &event.area.as_str(),
                &event.kind.as_str(),
                &event.subject,
                &event.detail,
                &event.actor,
                &event.channel,
                &event.business_date,
                &event.recorded_at,
            ],
        )?;
        Ok(())
    }

    fn network_events(&mut self, area: &AreaCode, from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<NetworkEvent>> {
        let rows = self.rows(
            "SELECT id, network_id, kind, subject, detail, actor, channel, business_date, recorded_at FROM network_events
             WHERE area = $1 AND business_date BETWEEN $2 AND $3 ORDER BY id",
            &[&area.as_str(), &from, &to],
        )?;
        rows.iter().map(|r| rows::network_event(r, area)).collect()
    }

    fn mut_movements(&mut self, area: &AreaCode, from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<MutMovement>> {
        let rows = self.rows(
            "SELECT e.id AS entry_id, a.owner AS psn_no, e.kind, e.business_date, p.amount_fen, e.actor, e.channel FROM postings p
             JOIN accounts a ON a.id = p.account_id JOIN journal_entries e ON e.id = p.entry_id JOIN persons ps ON ps.psn_no = a.owner
             WHERE a.kind = 'mut' AND ps.area = $1 AND e.business_date BETWEEN $2 AND $3 ORDER BY e.id, p.id",
            &[&area.as_str(), &from, &to],
        )?;
        rows.iter().map(rows::mut_movement).collect()
    }

    fn set_preset(&mut self, psn_no: &str, amount: Option<Money>, provenance: &Provenance) -> StoreResult<()> {
        self.exec(
            "INSERT INTO presets (psn_no, amount_fen, actor, channel, set_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (psn_no) DO UPDATE SET amount_fen = excluded.amount_fen, actor = excluded.actor, channel = excluded.channel, set_at = excluded.set_at",
            &[&psn_no, &amount.map(Money::fen), &actor_text(provenance), &provenance.channel.as_str(), &provenance.recorded_at],
        )?;
        Ok(())
    }

    fn preset(&mut self, psn_no: &str) -> StoreResult<Option<Money>> {
        let row = self.opt("SELECT amount_fen FROM presets WHERE psn_no = $1", &[&psn_no])?;
        let fen = row.map(|r| r.opt_int("amount_fen")).transpose()?;
        Ok(fen.flatten().map(Money::from_fen))
    }
}
