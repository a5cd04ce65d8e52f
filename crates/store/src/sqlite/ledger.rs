//! [`LedgerTx`] on SQLite: balances, postings, entries, statements, daily-balance products, audit (P4, B1).

use super::*;

impl LedgerTx for SqliteTx<'_> {
    fn balance(&mut self, account: &AccountRef) -> StoreResult<Money> {
        let fen: Option<i64> =
            self.row("SELECT balance_fen FROM accounts WHERE account_key = ?1", [account.key()], |r| r.get(0)).optional().map_err(backend)?;
        Ok(Money::from_fen(fen.unwrap_or(0)))
    }

    fn post(&mut self, entry: &JournalEntry) -> StoreResult<i64> {
        // The entry was checked when built; check again here, on the path that writes (P4).
        let total: i64 = entry.postings.iter().map(|p| p.amount.fen()).sum();
        assert_eq!(total, 0, "unbalanced journal entry reached the store");
        let provenance = &entry.provenance;
        let inserted = self.exec(
            "INSERT INTO journal_entries (kind, idempotency_key, actor, channel, business_date, recorded_at, memo) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                entry.kind.as_str(),
                entry.idempotency_key,
                actor_text(provenance),
                provenance.channel.as_str(),
                date_text(provenance.business_date),
                provenance.recorded_at.to_rfc3339(),
                entry.memo
            ],
        );
        match inserted {
            Ok(_) => {}
            Err(rusqlite::Error::SqliteFailure(failure, _)) if failure.code == rusqlite::ErrorCode::ConstraintViolation => {
                return Err(StoreError::DuplicateKey(entry.idempotency_key.clone().unwrap_or_default()));
            }
            Err(err) => return Err(backend(err)),
        }
        let entry_id = self.conn.last_insert_rowid();
        for posting in &entry.postings {
            // One lookup by key gives the row and its state; a first posting creates the account.
            let known: Option<(i64, i64, bool, i64, String)> = self
                .row(
                    "SELECT id, balance_fen, may_go_negative, product_fen_days, product_as_of FROM accounts WHERE account_key = ?1",
                    [posting.account.key()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .optional()
                .map_err(backend)?;
            let (account_id, balance, may_go_negative, fen_days, as_of) = match known {
                Some(row) => row,
                None => {
                    let id = self.account_id(&posting.account, provenance.business_date)?;
                    (id, 0, posting.account.may_go_negative(), 0, date_text(provenance.business_date))
                }
            };
            let new_balance = balance.checked_add(posting.amount.fen()).ok_or_else(|| StoreError::Backend("balance overflow".into()))?;
            if new_balance < 0 && !may_go_negative {
                return Err(StoreError::NegativeBalance(posting.account.key()));
            }
            let (low, high) = posting.account.admitted_balance();
            if new_balance > high.fen() || (new_balance < low.fen() && may_go_negative) {
                return Err(StoreError::BalanceOutOfRange(posting.account.key()));
            }
            // Only accounts that earn interest keep a product (B1); the others keep 0 and the
            // date of their first posting.
            let product = BalanceProduct { fen_days: fen_days as i128, as_of: parse_date(&as_of)? };
            let product = if posting.account.earns_interest() { product.accrue_to(Money::from_fen(balance), provenance.business_date) } else { product };
            let fen_days = fen_days_i64(&product)?;
            self.exec(
                "UPDATE accounts SET balance_fen = ?1, product_fen_days = ?2, product_as_of = ?3 WHERE id = ?4",
                params![new_balance, fen_days, date_text(product.as_of), account_id],
            )
            .map_err(backend)?;
            self.exec("INSERT INTO postings (entry_id, account_id, amount_fen) VALUES (?1, ?2, ?3)", params![entry_id, account_id, posting.amount.fen()])
                .map_err(backend)?;
        }
        Ok(entry_id)
    }

    fn entry_by_key(&mut self, key: &str) -> StoreResult<Option<i64>> {
        self.row("SELECT id FROM journal_entries WHERE idempotency_key = ?1", [key], |r| r.get(0)).optional().map_err(backend)
    }

    fn entry(&mut self, entry_id: i64) -> StoreResult<Option<StoredEntry>> {
        let header: Option<(String, String, String, String, String, String)> = self
            .row("SELECT kind, business_date, recorded_at, actor, channel, memo FROM journal_entries WHERE id = ?1", [entry_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
            })
            .optional()
            .map_err(backend)?;
        let Some((kind, day, at, actor, channel, memo)) = header else { return Ok(None) };
        let mut stmt = self
            .conn
            .prepare_cached("SELECT a.account_key, p.amount_fen FROM postings p JOIN accounts a ON a.id = p.account_id WHERE p.entry_id = ?1 ORDER BY p.id")
            .map_err(backend)?;
        let rows = stmt.query_map([entry_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))).map_err(backend)?;
        let mut postings = Vec::new();
        for row in rows {
            let (key, fen) = row.map_err(backend)?;
            postings.push((parse_account(&key)?, Money::from_fen(fen)));
        }
        Ok(Some(StoredEntry {
            id: entry_id,
            kind: parse_entry_kind(&kind)?,
            business_date: parse_date(&day)?,
            recorded_at: parse_instant(&at)?,
            actor,
            channel,
            memo,
            postings,
        }))
    }

    fn statement(&mut self, account: &AccountRef, from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<StatementLine>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT e.id, e.kind, e.business_date, p.amount_fen, e.memo FROM postings p
                 JOIN accounts a ON a.id = p.account_id JOIN journal_entries e ON e.id = p.entry_id
                 WHERE a.account_key = ?1 AND e.business_date BETWEEN ?2 AND ?3 ORDER BY e.id",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map(params![account.key(), date_text(from), date_text(to)], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?, r.get::<_, String>(4)?))
            })
            .map_err(backend)?;
        let mut lines = Vec::new();
        for row in rows {
            let (entry_id, kind, day, fen, memo) = row.map_err(backend)?;
            lines.push(StatementLine { entry_id, kind: parse_entry_kind(&kind)?, business_date: parse_date(&day)?, amount: Money::from_fen(fen), memo });
        }
        Ok(lines)
    }

    fn balance_product(&mut self, account: &AccountRef) -> StoreResult<Option<BalanceProduct>> {
        let row: Option<(i64, String)> = self
            .row("SELECT product_fen_days, product_as_of FROM accounts WHERE account_key = ?1", [account.key()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(backend)?;
        row.map(|(fen_days, as_of)| Ok(BalanceProduct { fen_days: fen_days as i128, as_of: parse_date(&as_of)? })).transpose()
    }

    fn person_account_states(&mut self, psn_no: &str) -> StoreResult<Vec<(PersonAccount, Money, BalanceProduct)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT kind, balance_fen, product_fen_days, product_as_of FROM accounts WHERE owner = ?1 ORDER BY kind")
            .map_err(backend)?;
        let rows =
            stmt.query_map([psn_no], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?, r.get::<_, String>(3)?))).map_err(backend)?;
        let mut states = Vec::new();
        for row in rows {
            let (kind, balance, fen_days, as_of) = row.map_err(backend)?;
            let kind = parse_person_account(&kind)?;
            states.push((kind, Money::from_fen(balance), BalanceProduct { fen_days: fen_days as i128, as_of: parse_date(&as_of)? }));
        }
        Ok(states)
    }

    fn audit(&mut self) -> StoreResult<AuditReport> {
        let count = |sql: &str| -> StoreResult<u64> { self.row(sql, [], |r| r.get::<_, i64>(0)).map(|n| n as u64).map_err(backend) };
        let mut report = AuditReport {
            accounts: count("SELECT COUNT(*) FROM accounts")?,
            entries: count("SELECT COUNT(*) FROM journal_entries")?,
            postings: count("SELECT COUNT(*) FROM postings")?,
            ..AuditReport::default()
        };
        let mut stmt = self
            .conn
            .prepare(
                "SELECT a.account_key, a.balance_fen, COALESCE(s.total, 0) FROM accounts a
                 LEFT JOIN (SELECT account_id, SUM(amount_fen) AS total FROM postings GROUP BY account_id) s ON s.account_id = a.id
                 WHERE a.balance_fen <> COALESCE(s.total, 0) ORDER BY a.account_key",
            )
            .map_err(backend)?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))).map_err(backend)?;
        for row in rows {
            let (account, stored, sum) = row.map_err(backend)?;
            report.mismatched.push(BalanceMismatch { account, stored: Money::from_fen(stored), sum_of_postings: Money::from_fen(sum) });
        }
        let mut stmt = self.conn.prepare("SELECT entry_id FROM postings GROUP BY entry_id HAVING SUM(amount_fen) <> 0 ORDER BY entry_id").map_err(backend)?;
        report.unbalanced_entries = stmt.query_map([], |r| r.get(0)).map_err(backend)?.collect::<Result<_, _>>().map_err(backend)?;
        let mut stmt = self.conn.prepare("SELECT account_key, balance_fen FROM accounts WHERE may_go_negative = 0 AND balance_fen < 0").map_err(backend)?;
        report.negative =
            stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, Money::from_fen(r.get(1)?)))).map_err(backend)?.collect::<Result<_, _>>().map_err(backend)?;
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT account_key, balance_fen, product_fen_days FROM accounts
                 WHERE (owner IS NOT NULL AND balance_fen > {person_max})
                    OR (owner IS NULL AND ABS(balance_fen) > {system_max})
                    OR product_fen_days < 0
                    OR (product_fen_days <> 0 AND (owner IS NULL OR kind NOT IN ('cur', 'his', 'mut')))
                 ORDER BY account_key",
                person_max = gongji_core::account::PERSON_BALANCE_MAX.fen(),
                system_max = gongji_core::account::SYSTEM_BALANCE_MAX.fen(),
            ))
            .map_err(backend)?;
        report.out_of_range = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, Money::from_fen(r.get(1)?), r.get::<_, i64>(2)?)))
            .map_err(backend)?
            .collect::<Result<_, _>>()
            .map_err(backend)?;
        let total: i64 = self.row("SELECT COALESCE(SUM(amount_fen), 0) FROM postings", [], |r| r.get(0)).map_err(backend)?;
        report.ledger_total = Money::from_fen(total);
        Ok(report)
    }

    fn first_entry_date(&mut self) -> StoreResult<Option<NaiveDate>> {
        let first: Option<String> = self.row("SELECT MIN(business_date) FROM journal_entries", [], |r| r.get(0)).map_err(backend)?;
        first.as_deref().map(parse_date).transpose()
    }
}
