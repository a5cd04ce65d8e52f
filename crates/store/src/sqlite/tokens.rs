//! [`TokensTx`] on SQLite: API tokens (§12).

use super::*;

impl TokensTx for SqliteTx<'_> {
    fn insert_token(&mut self, token: &NewToken) -> StoreResult<i64> {
        self.exec(
            "INSERT INTO api_tokens (token_hash, role, area, institution, person, name, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![token.token_hash, token.role.as_str(), token.area, token.institution, token.person, token.name, token.created_at.to_rfc3339()],
        )
        .map_err(backend)?;
        Ok(self.conn.last_insert_rowid())
    }

    fn token_by_hash(&mut self, token_hash: &str) -> StoreResult<Option<StoredToken>> {
        self.first(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = ?1"), [token_hash], |r| rows::token(r))
    }

    fn revoke_token(&mut self, token_id: i64, revoked_at: DateTime<Utc>) -> StoreResult<bool> {
        let changed = self
            .exec("UPDATE api_tokens SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL", params![revoked_at.to_rfc3339(), token_id])
            .map_err(backend)?;
        Ok(changed == 1)
    }

    fn tokens(&mut self) -> StoreResult<Vec<StoredToken>> {
        self.all(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY id"), [], |r| rows::token(r))
    }
}

/// The columns [`rows::token`] reads.
const TOKEN_COLUMNS: &str = "id, token_hash, role, area, institution, person, name, created_at, revoked_at";
