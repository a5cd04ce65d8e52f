//! [`SettlementsTx`] on PostgreSQL: settlements, year totals, refund holdings and savepoints
//! (§9, ST8).

use super::*;

impl PgTx<'_> {
    /// A settlement header row with its lines and steps.
    fn settlement_of(&mut self, row: Option<Row>) -> StoreResult<Option<StoredSettlement>> {
        let Some(header) = row else { return Ok(None) };
        let mut settlement = rows::settlement(&header)?;
        let id = settlement.id;
        let lines = self.rows("SELECT account_key, role, amount_fen FROM settlement_lines WHERE settlement_id = $1 ORDER BY seq", &[&id])?;
        settlement.lines = lines.iter().map(rows::settlement_line).collect::<StoreResult<_>>()?;
        let steps =
            self.rows("SELECT account_key, role, amount_fen, code, rule, message FROM settlement_steps WHERE settlement_id = $1 ORDER BY seq", &[&id])?;
        settlement.steps = steps.iter().map(rows::settlement_step).collect::<StoreResult<_>>()?;
        Ok(Some(settlement))
    }
}

const SETTLEMENT_INSERT_SQL: &str = "
WITH header AS (
    INSERT INTO settlements (institution, bill_id, patient, visit, bill_date, fingerprint, policy_id, policy_effective_from, network_id,
        fund_pay_fen, self_borne_fen, first_self_pay_fen, self_funded_fen, deductible_applied_fen, cash_fen, entry_id, attempt)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $26)
    ON CONFLICT DO NOTHING
    RETURNING id
),
lines AS (
    INSERT INTO settlement_lines (settlement_id, seq, account_key, role, amount_fen)
    SELECT header.id, (t.ord - 1)::int, t.account_key, t.role, t.amount_fen
    FROM header, unnest($17::text[], $18::text[], $19::bigint[]) WITH ORDINALITY AS t(account_key, role, amount_fen, ord)
),
steps AS (
    INSERT INTO settlement_steps (settlement_id, seq, account_key, role, amount_fen, code, rule, message)
    SELECT header.id, (t.ord - 1)::int, t.account_key, t.role, t.amount_fen, t.code, t.rule, t.message
    FROM header, unnest($20::text[], $21::text[], $22::bigint[], $23::text[], $24::text[], $25::text[])
        WITH ORDINALITY AS t(account_key, role, amount_fen, code, rule, message, ord)
)
SELECT id FROM header";

impl SettlementsTx for PgTx<'_> {
    fn settlement(&mut self, institution: &str, bill_id: &str) -> StoreResult<Option<StoredSettlement>> {
        let row = self.opt(
            "SELECT id, institution, bill_id, attempt, patient, visit, bill_date, fingerprint, policy_id, policy_effective_from, network_id,
                    fund_pay_fen, self_borne_fen, first_self_pay_fen, self_funded_fen, deductible_applied_fen, cash_fen,
                    entry_id, cancel_entry_id, cancel_date
             FROM settlements WHERE institution = $1 AND bill_id = $2 ORDER BY attempt DESC LIMIT 1",
            &[&institution, &bill_id],
        )?;
        self.settlement_of(row)
    }

    fn settlement_attempt(&mut self, institution: &str, bill_id: &str, attempt: u32) -> StoreResult<Option<StoredSettlement>> {
        let attempt = i32::try_from(attempt).map_err(|_| StoreError::Backend(format!("attempt {attempt} out of range")))?;
        let row = self.opt(
            "SELECT id, institution, bill_id, attempt, patient, visit, bill_date, fingerprint, policy_id, policy_effective_from, network_id,
                    fund_pay_fen, self_borne_fen, first_self_pay_fen, self_funded_fen, deductible_applied_fen, cash_fen,
                    entry_id, cancel_entry_id, cancel_date
             FROM settlements WHERE institution = $1 AND bill_id = $2 AND attempt = $3",
            &[&institution, &bill_id, &attempt],
        )?;
        self.settlement_of(row)
    }

    fn insert_settlement(&mut self, s: &StoredSettlement) -> StoreResult<i64> {
        let line_keys: Vec<String> = s.lines.iter().map(|(account, _, _)| account.key()).collect();
        let line_roles: Vec<String> = s.lines.iter().map(|(_, role, _)| role.key()).collect();
        let line_amounts: Vec<i64> = s.lines.iter().map(|(_, _, amount)| amount.fen()).collect();
        let step_accounts: Vec<Option<&str>> = s.steps.iter().map(|step| step.account.as_deref()).collect();
        let step_roles: Vec<Option<&str>> = s.steps.iter().map(|step| step.role.as_deref()).collect();
        let step_amounts: Vec<i64> = s.steps.iter().map(|step| step.amount.fen()).collect();
        let step_codes: Vec<&str> = s.steps.iter().map(|step| step.code.as_str()).collect();
        let step_rules: Vec<&str> = s.steps.iter().map(|step| step.rule.as_str()).collect();
        let step_messages: Vec<&str> = s.steps.iter().map(|step| step.message.as_str()).collect();
        let attempt = i32::try_from(s.attempt).map_err(|_| StoreError::Backend(format!("attempt {} out of range", s.attempt)))?;
        let inserted = self.opt(
            SETTLEMENT_INSERT_SQL,
            &[
                &s.institution,
                &s.bill_id,
                &s.patient,
                &s.visit.as_str(),
                &s.bill_date,
                &s.fingerprint,
                &s.policy_id,
                &s.policy_effective_from,
                &s.network_id,
                &s.split.fund_pay.fen(),
                &s.split.self_borne.fen(),
                &s.split.first_self_pay.fen(),
                &s.split.self_funded.fen(),
                &s.deductible_applied.fen(),
                &s.cash.fen(),
                &s.entry_id,
                &line_keys,
                &line_roles,
                &line_amounts,
                &step_accounts,
                &step_roles,
                &step_amounts,
                &step_codes,
                &step_rules,
                &step_messages,
                &attempt,
            ],
        )?;
        match inserted {
            Some(row) => row.int("id"),
            None => Err(StoreError::AlreadyExists(format!("settlement {} {}", s.institution, s.bill_id))),
        }
    }

    fn mark_cancelled(&mut self, settlement_id: i64, cancel_entry_id: i64, cancel_date: NaiveDate) -> StoreResult<()> {
        let changed = self.exec(
            "UPDATE settlements SET cancel_entry_id = $1, cancel_date = $2 WHERE id = $3 AND cancel_entry_id IS NULL",
            &[&cancel_entry_id, &cancel_date, &settlement_id],
        )?;
        if changed != 1 {
            return Err(StoreError::AlreadyExists(format!("settlement {settlement_id} already cancelled")));
        }
        Ok(())
    }

    fn year_totals(&mut self, psn_no: &str, year: i32, visit: VisitType) -> StoreResult<YearTotals> {
        let row = self.opt(
            "SELECT deductible_used_fen, fund_paid_fen FROM year_totals WHERE psn_no = $1 AND year = $2 AND visit = $3",
            &[&psn_no, &year, &visit.as_str()],
        )?;
        Ok(row.as_ref().map(rows::year_totals).transpose()?.unwrap_or_default())
    }

    fn put_year_totals(&mut self, psn_no: &str, year: i32, visit: VisitType, totals: YearTotals) -> StoreResult<()> {
        self.exec(
            "INSERT INTO year_totals (psn_no, year, visit, deductible_used_fen, fund_paid_fen) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (psn_no, year, visit) DO UPDATE SET deductible_used_fen = excluded.deductible_used_fen, fund_paid_fen = excluded.fund_paid_fen",
            &[&psn_no, &year, &visit.as_str(), &totals.deductible_used.fen(), &totals.fund_paid.fen()],
        )?;
        Ok(())
    }

    fn insert_refund_holding(&mut self, h: &NewRefundHolding) -> StoreResult<i64> {
        let row = self.one(
            "INSERT INTO refund_holdings (owner, area, amount_fen, settlement_id, cancel_entry_id, created_date) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[&h.owner, &h.area.as_str(), &h.amount.fen(), &h.settlement_id, &h.cancel_entry_id, &h.created_date],
        )?;
        row.int("id")
    }

    fn refund_holdings_due(&mut self, day: NaiveDate) -> StoreResult<Vec<RefundHolding>> {
        let rows = self.rows(
            "SELECT id, owner, area, amount_fen, settlement_id, cancel_entry_id, created_date FROM refund_holdings
             WHERE synced_entry_id IS NULL AND created_date < $1 ORDER BY id",
            &[&day],
        )?;
        rows.iter().map(rows::refund_holding).collect()
    }

    fn mark_holding_synced(&mut self, holding_id: i64, entry_id: i64) -> StoreResult<()> {
        let changed = self.exec("UPDATE refund_holdings SET synced_entry_id = $1 WHERE id = $2 AND synced_entry_id IS NULL", &[&entry_id, &holding_id])?;
        if changed != 1 {
            return Err(StoreError::AlreadyExists(format!("refund holding {holding_id} already synced")));
        }
        Ok(())
    }

    // Savepoints (group commit). A serialisation failure inside a savepoint still retries the
    // whole transaction (the flag stays set), so every item gets a true result.
    fn savepoint(&mut self) -> StoreResult<()> {
        self.conn.client.batch_execute("SAVEPOINT item").map_err(|e| self.fail(e))
    }

    fn release_savepoint(&mut self) -> StoreResult<()> {
        self.conn.client.batch_execute("RELEASE SAVEPOINT item").map_err(|e| self.fail(e))
    }

    fn rollback_to_savepoint(&mut self) -> StoreResult<()> {
        self.cache = TxCache::default();
        self.conn.client.batch_execute("ROLLBACK TO SAVEPOINT item; RELEASE SAVEPOINT item").map_err(|e| self.fail(e))
    }
}
