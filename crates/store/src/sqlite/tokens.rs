//! [`TokensTx`] on SQLite: API tokens (§12).

use super::*;

impl TokensTx for SqliteTx<'_> {
    // Tokens (§12)
    fn insert_token(&mut self, token: &NewToken) -> StoreResult<i64> {
        self.exec(
            "INSERT INTO api_tokens (token_hash, role, area, institution, person, name, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![token.token_hash, token.role, token.area, token.institution, token.person, token.name, token.created_at.to_rfc3339()],
        )
        .map_err(backend)?;
        Ok(self.conn.last_insert_rowid())
    }

    fn token_by_hash(&mut self, token_hash: &str) -> StoreResult<Option<StoredToken>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = ?1");
        let row = self.row(&sql, [token_hash], token_row).optional().map_err(backend)?;
        row.map(token_from_row).transpose()
    }

    fn revoke_token(&mut self, token_id: i64, revoked_at: DateTime<Utc>) -> StoreResult<bool> {
        let changed = self
            .exec("UPDATE api_tokens SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL", params![revoked_at.to_rfc3339(), token_id])
            .map_err(backend)?;
        Ok(changed == 1)
    }

    fn tokens(&mut self) -> StoreResult<Vec<StoredToken>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY id");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(backend)?;
        let rows = stmt.query_map([], token_row).map_err(backend)?;
        rows.map(|row| row.map_err(backend).and_then(token_from_row)).collect()
    }
}

// Tokens (§12)
const TOKEN_COLUMNS: &str = "id, token_hash, role, area, institution, person, name, created_at, revoked_at";

type TokenRow = (i64, String, String, Option<String>, Option<String>, Option<String>, String, String, Option<String>);

fn token_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRow> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?, row.get(7)?, row.get(8)?))
}

fn token_from_row(row: TokenRow) -> StoreResult<StoredToken> {
    let (id, token_hash, role, area, institution, person, name, created_at, revoked_at) = row;
    Ok(StoredToken {
        id,
        token: NewToken { token_hash, role, area, institution, person, name, created_at: parse_instant(&created_at)? },
        revoked_at: revoked_at.as_deref().map(parse_instant).transpose()?,
    })
}
