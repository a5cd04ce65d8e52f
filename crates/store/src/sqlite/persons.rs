//! [`PersonsTx`] on SQLite: persons and their status changes (P1, P6).

use super::*;

type PersonRow = (String, String, String, String, String, Option<String>, String);

const PERSON_COLUMNS: &str = "psn_no, name, id_number, area, insurance, phone, status";

fn person_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<PersonRow> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?))
}

fn person_from_row(row: PersonRow) -> StoreResult<Person> {
    let (psn_no, name, id_number, area, insurance, phone, status) = row;
    Ok(Person {
        id_number: IdNumber::parse(&id_number).map_err(|_| corrupt("id number of", &psn_no))?,
        area: parse_area(&area)?,
        insurance: InsuranceType::parse(&insurance).ok_or_else(|| corrupt("insurance", &insurance))?,
        status: parse_status(&status)?,
        psn_no,
        name,
        phone,
    })
}

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
        let sql = format!("SELECT {PERSON_COLUMNS} FROM persons WHERE psn_no = ?1");
        let row = self.row(&sql, [psn_no], person_row).optional().map_err(backend)?;
        row.map(person_from_row).transpose()
    }

    fn person_by_id_number(&mut self, id_number: &str) -> StoreResult<Option<Person>> {
        let sql = format!("SELECT {PERSON_COLUMNS} FROM persons WHERE id_number = ?1");
        let row = self.row(&sql, [id_number], person_row).optional().map_err(backend)?;
        row.map(person_from_row).transpose()
    }

    fn set_person_status(&mut self, psn_no: &str, status: PersonStatus, reason: &str, provenance: &Provenance) -> StoreResult<()> {
        let from: String = self.row("SELECT status FROM persons WHERE psn_no = ?1", [psn_no], |r| r.get(0)).map_err(backend)?;
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
        let mut stmt = self
            .conn
            .prepare_cached("SELECT from_status, to_status, reason, actor, channel, business_date FROM person_status_changes WHERE psn_no = ?1 ORDER BY id")
            .map_err(backend)?;
        let rows = stmt
            .query_map([psn_no], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get::<_, String>(5)?)))
            .map_err(backend)?;
        let mut changes = Vec::new();
        for row in rows {
            let (from, to, reason, actor, channel, day) = row.map_err(backend)?;
            changes.push(StatusChange { from: parse_status(&from)?, to: parse_status(&to)?, reason, actor, channel, business_date: parse_date(&day)? });
        }
        Ok(changes)
    }

    fn persons_in_area(&mut self, area: &AreaCode, after_psn_no: &str, limit: usize) -> StoreResult<Vec<Person>> {
        let sql = format!("SELECT {PERSON_COLUMNS} FROM persons WHERE area = ?1 AND psn_no > ?2 ORDER BY psn_no LIMIT ?3");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(backend)?;
        let rows = stmt.query_map(params![area.as_str(), after_psn_no, limit as i64], person_row).map_err(backend)?;
        rows.map(|row| row.map_err(backend).and_then(person_from_row)).collect()
    }

    fn psn_nos_in_area(&mut self, area: &AreaCode, after_psn_no: &str, limit: usize) -> StoreResult<Vec<String>> {
        let mut stmt = self.conn.prepare_cached("SELECT psn_no FROM persons WHERE area = ?1 AND psn_no > ?2 ORDER BY psn_no LIMIT ?3").map_err(backend)?;
        let rows = stmt.query_map(params![area.as_str(), after_psn_no, limit as i64], |r| r.get(0)).map_err(backend)?;
        rows.map(|row| row.map_err(backend)).collect()
    }
}
