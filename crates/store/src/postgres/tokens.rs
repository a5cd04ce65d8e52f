//! [`TokensTx`] on PostgreSQL: API tokens (§12).

use super::*;

impl TokensTx for PgTx<'_> {
    fn insert_token(&mut self, token: &NewToken) -> StoreResult<i64> {
        let inserted = self.opt(
            "INSERT INTO api_tokens (token_hash, role, area, institution, person, name, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (token_hash) DO NOTHING RETURNING id",
            &[&token.token_hash, &token.role.as_str(), &token.area, &token.institution, &token.person, &token.name, &token.created_at],
        )?;
        match inserted {
            Some(row) => row.int("id"),
            None => Err(StoreError::AlreadyExists("token hash".into())),
        }
    }

    fn token_by_hash(&mut self, token_hash: &str) -> StoreResult<Option<StoredToken>> {
        let row = self.opt(
            "SELECT id, token_hash, role, area, institution, person, name, created_at, revoked_at FROM api_tokens WHERE token_hash = $1",
            &[&token_hash],
        )?;
        row.as_ref().map(rows::token).transpose()
    }

    fn revoke_token(&mut self, token_id: i64, revoked_at: DateTime<Utc>) -> StoreResult<bool> {
        let changed = self.exec("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL", &[&revoked_at, &token_id])?;
        Ok(changed == 1)
    }

    fn tokens(&mut self) -> StoreResult<Vec<StoredToken>> {
        let rows = self.rows("SELECT id, token_hash, role, area, institution, person, name, created_at, revoked_at FROM api_tokens ORDER BY id", &[])?;
        rows.iter().map(rows::token).collect()
    }
}
