//! [`PersonsTx`] on SQLite: persons and their status changes (P1, P6).

use super::*;

/// The columns [`rows::person`] reads.
const PERSON_COLUMNS: &str = "psn_no, name, id_number, area, insurance, phone, status";

impl PersonsTx for SqliteTx<'_> {
    fn insert_person(&mut self, person: &Person, provenance: &Provenance) -> StoreResult<()> {
        self.exec(
            "INSERT INTO persons (psn_no, name, id_number, area, insurance, phone, status, created_at, created_by, channel)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                person.psn_no,
                person.name,
                person.id_number.as_str(),
                person.area.as_str(),
                person.insurance.as_str(),
                person.phone,
                person.status.as_str(),
                provenance.recorded_at.to_rfc3339(),
                actor_text(provenance),
                provenance.channel.as_str()
            ],
        )
        .map_err(backend)?;
        Ok(())
    }

    fn person(&mut self, psn_no: &str) -> StoreResult<Option<Person>> {
        self.first(&format!("SELECT {PERSON_COLUMNS} FROM persons WHERE psn_no = ?1"), [psn_no], |r| rows::person(r))
    }

    fn person_by_id_number(&mut self, id_number: &str) -> StoreResult<Option<Person>> {
        self.first(&format!("SELECT {PERSON_COLUMNS} FROM persons WHERE id_number = ?1"), [id_number], |r| rows::person(r))
    }

    fn set_person_status(&mut self, psn_no: &str, status: PersonStatus, reason: &str, provenance: &Provenance) -> StoreResult<()> {
        let from = self.one("SELECT status FROM persons WHERE psn_no = ?1", [psn_no], |r| r.text("status"))?;
        self.exec("UPDATE persons SET status = ?1 WHERE psn_no = ?2", params![status.as_str(), psn_no]).map_err(backend)?;
        self.exec(
            "INSERT INTO person_status_changes (psn_no, from_status, to_status, reason, actor, channel, business_date, recorded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                psn_no,
                from,
                status.as_str(),
                reason,
                actor_text(provenance),
                provenance.channel.as_str(),
                date_text(provenance.business_date),
                provenance.recorded_at.to_rfc3339()
            ],
        )
        .map_err(backend)?;
        Ok(())
    }

    fn status_changes(&mut self, psn_no: &str) -> StoreResult<Vec<StatusChange>> {
        self.all(
            "SELECT from_status, to_status, reason, actor, channel, business_date FROM person_status_changes WHERE psn_no = ?1 ORDER BY id",
            [psn_no],
            |r| rows::status_change(r),
        )
    }

    fn persons_in_area(&mut self, area: &AreaCode, after_psn_no: &str, limit: usize) -> StoreResult<Vec<Person>> {
        let sql = format!("SELECT {PERSON_COLUMNS} FROM persons WHERE area = ?1 AND psn_no > ?2 ORDER BY psn_no LIMIT ?3");
        self.all(&sql, params![area.as_str(), after_psn_no, limit as i64], |r| rows::person(r))
    }

    fn psn_nos_in_area(&mut self, area: &AreaCode, after_psn_no: &str, limit: usize) -> StoreResult<Vec<String>> {
        self.all(
            "SELECT psn_no FROM persons WHERE area = ?1 AND psn_no > ?2 ORDER BY psn_no LIMIT ?3",
            params![area.as_str(), after_psn_no, limit as i64],
            |r| r.text("psn_no"),
        )
    }
}
