//! [`SettlementsTx`] on SQLite: settlements, year totals, refund holdings and savepoints (§9, ST8).

use super::*;

impl SqliteTx<'_> {
    /// The one settlement that `condition` (SQL after `WHERE`, over `params`) selects, with its
    /// lines and steps.
    fn settlement_where<P: Params>(&self, condition: &str, params: P) -> StoreResult<Option<StoredSettlement>> {
        let sql = format!(
            "SELECT id, institution, bill_id, attempt, patient, visit, bill_date, fingerprint, policy_id, policy_effective_from, network_id,
                    fund_pay_fen, self_borne_fen, first_self_pay_fen, self_funded_fen, deductible_applied_fen, cash_fen,
                    entry_id, cancel_entry_id, cancel_date
             FROM settlements WHERE {condition}"
        );
        let Some(mut settlement) = self.first(&sql, params, |r| rows::settlement(r))? else { return Ok(None) };
        settlement.lines =
            self.all("SELECT account_key, role, amount_fen FROM settlement_lines WHERE settlement_id = ?1 ORDER BY seq", [settlement.id], |r| {
                rows::settlement_line(r)
            })?;
        settlement.steps = self.all(
            "SELECT account_key, role, amount_fen, code, rule, message FROM settlement_steps WHERE settlement_id = ?1 ORDER BY seq",
            [settlement.id],
            |r| rows::settlement_step(r),
        )?;
        Ok(Some(settlement))
    }
}

impl SettlementsTx for SqliteTx<'_> {
    fn settlement(&mut self, institution: &str, bill_id: &str) -> StoreResult<Option<StoredSettlement>> {
        self.settlement_where("institution = ?1 AND bill_id = ?2 ORDER BY attempt DESC LIMIT 1", params![institution, bill_id])
    }

    fn settlement_attempt(&mut self, institution: &str, bill_id: &str, attempt: u32) -> StoreResult<Option<StoredSettlement>> {
        self.settlement_where("institution = ?1 AND bill_id = ?2 AND attempt = ?3", params![institution, bill_id, attempt])
    }

    fn insert_settlement(&mut self, s: &StoredSettlement) -> StoreResult<i64> {
        self.exec(
            "INSERT INTO settlements (institution, bill_id, patient, visit, bill_date, fingerprint, policy_id, policy_effective_from, network_id,
                    fund_pay_fen, self_borne_fen, first_self_pay_fen, self_funded_fen, deductible_applied_fen, cash_fen, entry_id, attempt)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
            params![
                s.institution,
                s.bill_id,
                s.patient,
                s.visit.as_str(),
                date_text(s.bill_date),
                s.fingerprint,
                s.policy_id,
                date_text(s.policy_effective_from),
                s.network_id,
                s.split.fund_pay.fen(),
                s.split.self_borne.fen(),
                s.split.first_self_pay.fen(),
                s.split.self_funded.fen(),
                s.deductible_applied.fen(),
                s.cash.fen(),
                s.entry_id,
                s.attempt
            ],
        )
        .map_err(backend)?;
        let id = self.conn.last_insert_rowid();
        for (seq, (account, role, amount)) in s.lines.iter().enumerate() {
            self.exec(
                "INSERT INTO settlement_lines (settlement_id, seq, account_key, role, amount_fen) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, seq as i64, account.key(), role.key(), amount.fen()],
            )
            .map_err(backend)?;
        }
        for (seq, step) in s.steps.iter().enumerate() {
            self.exec(
                "INSERT INTO settlement_steps (settlement_id, seq, account_key, role, amount_fen, code, rule, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![id, seq as i64, step.account, step.role, step.amount.fen(), step.code, step.rule, step.message],
            )
            .map_err(backend)?;
        }
        Ok(id)
    }

    fn mark_cancelled(&mut self, settlement_id: i64, cancel_entry_id: i64, cancel_date: NaiveDate) -> StoreResult<()> {
        let changed = self
            .exec(
                "UPDATE settlements SET cancel_entry_id = ?1, cancel_date = ?2 WHERE id = ?3 AND cancel_entry_id IS NULL",
                params![cancel_entry_id, date_text(cancel_date), settlement_id],
            )
            .map_err(backend)?;
        if changed != 1 {
            return Err(StoreError::AlreadyExists(format!("settlement {settlement_id} already cancelled")));
        }
        Ok(())
    }

    fn year_totals(&mut self, psn_no: &str, year: i32, visit: VisitType) -> StoreResult<YearTotals> {
        let totals = self.first(
            "SELECT deductible_used_fen, fund_paid_fen FROM year_totals WHERE psn_no = ?1 AND year = ?2 AND visit = ?3",
            params![psn_no, year, visit.as_str()],
            |r| rows::year_totals(r),
        )?;
        Ok(totals.unwrap_or_default())
    }

    fn put_year_totals(&mut self, psn_no: &str, year: i32, visit: VisitType, totals: YearTotals) -> StoreResult<()> {
        self.exec(
            "INSERT INTO year_totals (psn_no, year, visit, deductible_used_fen, fund_paid_fen) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (psn_no, year, visit) DO UPDATE SET deductible_used_fen = excluded.deductible_used_fen, fund_paid_fen = excluded.fund_paid_fen",
            params![psn_no, year, visit.as_str(), totals.deductible_used.fen(), totals.fund_paid.fen()],
        )
        .map_err(backend)?;
        Ok(())
    }

    fn insert_refund_holding(&mut self, h: &NewRefundHolding) -> StoreResult<i64> {
        self.exec(
            "INSERT INTO refund_holdings (owner, area, amount_fen, settlement_id, cancel_entry_id, created_date) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![h.owner, h.area.as_str(), h.amount.fen(), h.settlement_id, h.cancel_entry_id, date_text(h.created_date)],
        )
        .map_err(backend)?;
        Ok(self.conn.last_insert_rowid())
    }

    fn refund_holdings_due(&mut self, day: NaiveDate) -> StoreResult<Vec<RefundHolding>> {
        self.all(
            "SELECT id, owner, area, amount_fen, settlement_id, cancel_entry_id, created_date FROM refund_holdings
             WHERE synced_entry_id IS NULL AND created_date < ?1 ORDER BY id",
            [date_text(day)],
            |r| rows::refund_holding(r),
        )
    }

    fn mark_holding_synced(&mut self, holding_id: i64, entry_id: i64) -> StoreResult<()> {
        let changed = self
            .exec("UPDATE refund_holdings SET synced_entry_id = ?1 WHERE id = ?2 AND synced_entry_id IS NULL", params![entry_id, holding_id])
            .map_err(backend)?;
        if changed != 1 {
            return Err(StoreError::AlreadyExists(format!("refund holding {holding_id} already synced")));
        }
        Ok(())
    }

    fn savepoint(&mut self) -> StoreResult<()> {
        self.conn.execute_batch("SAVEPOINT item").map_err(backend)
    }

    fn release_savepoint(&mut self) -> StoreResult<()> {
        self.conn.execute_batch("RELEASE item").map_err(backend)
    }

    fn rollback_to_savepoint(&mut self) -> StoreResult<()> {
        self.conn.execute_batch("ROLLBACK TO item; RELEASE item").map_err(backend)
    }
}
