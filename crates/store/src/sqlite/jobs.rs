//! [`JobsTx`] on SQLite: what the batch jobs read and record (§10).

use super::*;

impl JobsTx for SqliteTx<'_> {
    fn person_areas(&mut self) -> StoreResult<Vec<AreaCode>> {
        self.all("SELECT DISTINCT area FROM persons ORDER BY area", [], |r| r.area("area"))
    }

    fn set_product(&mut self, account: &AccountRef, product: BalanceProduct) -> StoreResult<()> {
        let fen_days = fen_days_i64(&product)?;
        self.exec(
            "UPDATE accounts SET product_fen_days = ?1, product_as_of = ?2 WHERE account_key = ?3",
            params![fen_days, date_text(product.as_of), account.key()],
        )
        .map_err(backend)?;
        Ok(())
    }

    fn restart_person_products(&mut self, psn_no: &str, as_of: NaiveDate) -> StoreResult<()> {
        self.exec("UPDATE accounts SET product_fen_days = 0, product_as_of = ?1 WHERE owner = ?2", params![date_text(as_of), psn_no]).map_err(backend)?;
        Ok(())
    }

    fn job_mark(&mut self, job: &str, period: &str, subject: &str) -> StoreResult<Option<String>> {
        self.first("SELECT outcome FROM job_marks WHERE job = ?1 AND period = ?2 AND subject = ?3", params![job, period, subject], |r| r.text("outcome"))
    }

    fn insert_job_mark(&mut self, mark: &JobMark) -> StoreResult<()> {
        self.exec(
            "INSERT INTO job_marks (job, period, subject, outcome, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![mark.job, mark.period, mark.subject, mark.outcome, mark.recorded_at.to_rfc3339()],
        )
        .map_err(backend)?;
        Ok(())
    }

    fn job_marks(&mut self, job: &str, period: &str) -> StoreResult<Vec<JobMark>> {
        self.all("SELECT subject, outcome, recorded_at FROM job_marks WHERE job = ?1 AND period = ?2 ORDER BY subject", params![job, period], |r| {
            rows::job_mark(r, job, period)
        })
    }

    fn presets_in_area(&mut self, area: &AreaCode, after_psn_no: &str, limit: usize) -> StoreResult<Vec<(String, Money)>> {
        self.all(
            "SELECT pr.psn_no, pr.amount_fen FROM presets pr JOIN persons p ON p.psn_no = pr.psn_no
             WHERE p.area = ?1 AND pr.amount_fen IS NOT NULL AND pr.psn_no > ?2 ORDER BY pr.psn_no LIMIT ?3",
            params![area.as_str(), after_psn_no, limit as i64],
            |r| rows::preset_of(r),
        )
    }

    fn insert_liquidation(&mut self, l: &Liquidation) -> StoreResult<()> {
        self.exec(
            "INSERT INTO liquidations (psn_no, reason, business_date, principal_fen, interest_fen, payee, entry_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![l.psn_no, l.reason, date_text(l.business_date), l.principal.fen(), l.interest.fen(), l.payee, l.entry_id],
        )
        .map_err(backend)?;
        Ok(())
    }

    fn liquidation(&mut self, psn_no: &str) -> StoreResult<Option<Liquidation>> {
        self.first("SELECT reason, business_date, principal_fen, interest_fen, payee, entry_id FROM liquidations WHERE psn_no = ?1", [psn_no], |r| {
            rows::liquidation(r, psn_no)
        })
    }

    // The demo mark (issue 12 item 7)
    fn demo_mark(&mut self) -> StoreResult<Option<DateTime<Utc>>> {
        self.first("SELECT created_at FROM demo_mark WHERE id = 1", [], |r| r.instant("created_at"))
    }

    fn set_demo_mark(&mut self, at: DateTime<Utc>) -> StoreResult<()> {
        self.exec("INSERT INTO demo_mark (id, created_at) VALUES (1, ?1) ON CONFLICT (id) DO NOTHING", params![at.to_rfc3339()]).map_err(backend)?;
        Ok(())
    }
}
