//! [`PersonsTx`] on PostgreSQL: persons and their status changes (P1, P6).

use super::*;

impl PersonsTx for PgTx<'_> {
    fn insert_person(&mut self, person: &Person, provenance: &Provenance) -> StoreResult<()> {
        self.cache.persons.remove(&person.psn_no);
        let inserted = self.opt(
            "INSERT INTO persons (psn_no, name, id_number, area, insurance, phone, status, created_at, created_by, channel)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING RETURNING 1",
            &[
                &person.psn_no,
                &person.name,
                &person.id_number.as_str(),
                &person.area.as_str(),
                &person.insurance.as_str(),
                &person.phone,
                &person.status.as_str(),
                &provenance.recorded_at,
                &actor_text(provenance),
                &provenance.channel.as_str(),
            ],
        )?;
        match inserted {
            Some(_) => Ok(()),
            None => Err(StoreError::AlreadyExists(format!("person {} or ID number", person.psn_no))),
        }
    }

    fn person(&mut self, psn_no: &str) -> StoreResult<Option<Person>> {
        if let Some(person) = self.cache.persons.get(psn_no) {
            return Ok(person.clone());
        }
        // The person with the balance and product of each of their accounts, in one round trip.
        let rows = self.rows(
            "SELECT p.psn_no, p.name, p.id_number, p.area, p.insurance, p.phone, p.status, a.account_key, b.balance_fen, b.product_fen_days, b.product_as_of
             FROM persons p LEFT JOIN accounts a ON a.account_key = ANY ($2::text[]) LEFT JOIN account_balances b ON b.account_id = a.id
             WHERE p.psn_no = $1",
            &[&psn_no, &person_account_keys(psn_no, &PERSON_ACCOUNTS)],
        )?;
        let Some(first) = rows.first() else {
            self.cache.persons.insert(psn_no.to_string(), None);
            return Ok(None);
        };
        let person = rows::person(first)?;
        let mut products: HashMap<String, Vec<(i64, BalanceProduct)>> = HashMap::new();
        for row in &rows {
            let (Some(key), Some(balance)) = (row.opt_text("account_key")?, row.opt_int("balance_fen")?) else { continue };
            products.entry(key).or_default().push((balance, rows::product(row)?));
        }
        for kind in PERSON_ACCOUNTS {
            let key = AccountRef::person(psn_no, kind).key();
            let rows = products.remove(&key).unwrap_or_default();
            self.cache.balances.insert(key.clone(), Money::from_fen(rows.iter().map(|(balance, _)| balance).sum()));
            self.cache.products.insert(key, sum_products(&rows));
        }
        self.cache.persons.insert(psn_no.to_string(), Some(person.clone()));
        Ok(Some(person))
    }

    fn person_by_id_number(&mut self, id_number: &str) -> StoreResult<Option<Person>> {
        let row = self.opt("SELECT psn_no, name, id_number, area, insurance, phone, status FROM persons WHERE id_number = $1", &[&id_number])?;
        row.as_ref().map(rows::person).transpose()
    }

    fn set_person_status(&mut self, psn_no: &str, status: PersonStatus, reason: &str, provenance: &Provenance) -> StoreResult<()> {
        self.cache.persons.remove(psn_no);
        let row = self.one(
            "WITH old AS (SELECT status FROM persons WHERE psn_no = $1 FOR UPDATE)
             UPDATE persons p SET status = $2 FROM old WHERE p.psn_no = $1 RETURNING old.status",
            &[&psn_no, &status.as_str()],
        )?;
        let from = row.text("status")?;
        self.exec(
            "INSERT INTO person_status_changes (psn_no, from_status, to_status, reason, actor, channel, business_date, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &psn_no,
                &from,
                &status.as_str(),
                &reason,
                &actor_text(provenance),
                &provenance.channel.as_str(),
                &provenance.business_date,
                &provenance.recorded_at,
            ],
        )?;
        Ok(())
    }

    fn status_changes(&mut self, psn_no: &str) -> StoreResult<Vec<StatusChange>> {
        let rows = self.rows(
            "SELECT from_status, to_status, reason, actor, channel, business_date FROM person_status_changes WHERE psn_no = $1 ORDER BY id",
            &[&psn_no],
        )?;
        rows.iter().map(rows::status_change).collect()
    }

    fn persons_in_area(&mut self, area: &AreaCode, after_psn_no: &str, limit: usize) -> StoreResult<Vec<Person>> {
        let rows = self.rows(
            "SELECT psn_no, name, id_number, area, insurance, phone, status FROM persons WHERE area = $1 AND psn_no > $2 ORDER BY psn_no LIMIT $3",
            &[&area.as_str(), &after_psn_no, &(limit as i64)],
        )?;
        rows.iter().map(rows::person).collect()
    }
}
