//! [`JobsTx`] on PostgreSQL: what the batch jobs read and record (§10).

use super::*;

impl JobsTx for PgTx<'_> {
    fn person_areas(&mut self) -> StoreResult<Vec<AreaCode>> {
        // A loose index scan: one probe of persons_area per distinct area, not a pass over
        // every person.
        let rows = self.rows(
            "WITH RECURSIVE areas AS (
                 (SELECT area FROM persons ORDER BY area LIMIT 1)
                 UNION ALL
                 SELECT (SELECT p.area FROM persons p WHERE p.area > areas.area ORDER BY p.area LIMIT 1) FROM areas WHERE areas.area IS NOT NULL
             )
             SELECT area FROM areas WHERE area IS NOT NULL",
            &[],
        )?;
        rows.iter().map(|r| r.area("area")).collect()
    }

    fn set_product(&mut self, account: &AccountRef, product: BalanceProduct) -> StoreResult<()> {
        let fen_days = fen_days_i64(&product)?;
        self.cache.products.remove(&account.key());
        // The whole product goes to the account's lowest shard; the others restart from zero on
        // the same date, so that the sum over shards is `product`.
        self.exec(
            "UPDATE account_balances b SET product_fen_days = CASE WHEN b.shard = first.shard THEN $1::bigint ELSE 0 END, product_as_of = $2
             FROM (SELECT a.id, MIN(x.shard) AS shard FROM accounts a JOIN account_balances x ON x.account_id = a.id WHERE a.account_key = $3 GROUP BY a.id) first
             WHERE b.account_id = first.id",
            &[&fen_days, &product.as_of, &account.key()],
        )?;
        Ok(())
    }

    fn restart_person_products(&mut self, psn_no: &str, as_of: NaiveDate) -> StoreResult<()> {
        self.cache.products.clear();
        self.exec(
            "UPDATE account_balances SET product_fen_days = 0, product_as_of = $2
             WHERE account_id = ANY (ARRAY(SELECT id FROM accounts WHERE account_key = ANY ($1::text[])))",
            &[&person_account_keys(psn_no, PersonAccount::ALL), &as_of],
        )?;
        Ok(())
    }

    fn job_mark(&mut self, job: &str, period: &str, subject: &str) -> StoreResult<Option<String>> {
        self.opt("SELECT outcome FROM job_marks WHERE job = $1 AND period = $2 AND subject = $3", &[&job, &period, &subject])?
            .map(|r| r.text("outcome"))
            .transpose()
    }

    fn insert_job_mark(&mut self, mark: &JobMark) -> StoreResult<()> {
        let inserted = self.opt(
            "INSERT INTO job_marks (job, period, subject, outcome, recorded_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1",
            &[&mark.job, &mark.period, &mark.subject, &mark.outcome, &mark.recorded_at],
        )?;
        match inserted {
            Some(_) => Ok(()),
            None => Err(StoreError::AlreadyExists(format!("job mark {} {} {}", mark.job, mark.period, mark.subject))),
        }
    }

    fn job_marks(&mut self, job: &str, period: &str) -> StoreResult<Vec<JobMark>> {
        let rows = self.rows("SELECT subject, outcome, recorded_at FROM job_marks WHERE job = $1 AND period = $2 ORDER BY subject", &[&job, &period])?;
        rows.iter().map(|r| rows::job_mark(r, job, period)).collect()
    }

    fn presets_in_area(&mut self, area: &AreaCode, after_psn_no: &str, limit: usize) -> StoreResult<Vec<(String, Money)>> {
        let rows = self.rows(
            "SELECT pr.psn_no, pr.amount_fen FROM presets pr JOIN persons p ON p.psn_no = pr.psn_no
             WHERE p.area = $1 AND pr.amount_fen IS NOT NULL AND pr.psn_no > $2 ORDER BY pr.psn_no LIMIT $3",
            &[&area.as_str(), &after_psn_no, &(limit as i64)],
        )?;
        rows.iter().map(rows::preset_of).collect()
    }

    fn insert_liquidation(&mut self, l: &Liquidation) -> StoreResult<()> {
        let inserted = self.opt(
            "INSERT INTO liquidations (psn_no, reason, business_date, principal_fen, interest_fen, payee, entry_id) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT DO NOTHING RETURNING 1",
            &[&l.psn_no, &l.reason, &l.business_date, &l.principal.fen(), &l.interest.fen(), &l.payee, &l.entry_id],
        )?;
        match inserted {
            Some(_) => Ok(()),
            None => Err(StoreError::AlreadyExists(format!("liquidation of {}", l.psn_no))),
        }
    }

    fn liquidation(&mut self, psn_no: &str) -> StoreResult<Option<Liquidation>> {
        let row = self.opt("SELECT reason, business_date, principal_fen, interest_fen, payee, entry_id FROM liquidations WHERE psn_no = $1", &[&psn_no])?;
        row.map(|r| rows::liquidation(&r, psn_no)).transpose()
    }

    // The demo mark (issue 12 item 7)
    fn demo_mark(&mut self) -> StoreResult<Option<DateTime<Utc>>> {
        self.opt("SELECT created_at FROM demo_mark WHERE id = 1", &[])?.map(|row| row.instant("created_at")).transpose()
    }

    fn set_demo_mark(&mut self, at: DateTime<Utc>) -> StoreResult<()> {
        self.exec("INSERT INTO demo_mark (id, created_at) VALUES (1, $1) ON CONFLICT (id) DO NOTHING", &[&at])?;
        Ok(())
    }
}
