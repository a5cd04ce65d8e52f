//! [`LedgerTx`] on SQLite: balances, postings, entries, statements, daily-balance products,
//! audit (P4, B1).

use super::*;

impl LedgerTx for SqliteTx<'_> {
    fn balance(&mut self, account: &AccountRef) -> StoreResult<Money> {
        let balance = self.first("SELECT balance_fen FROM accounts WHERE account_key = ?1", [account.key()], |r| r.fen("balance_fen"))?;
        Ok(balance.unwrap_or(Money::ZERO))
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
            let known = self.first(
                "SELECT id, balance_fen, may_go_negative, product_fen_days, product_as_of FROM accounts WHERE account_key = ?1",
                [posting.account.key()],
                |r| Ok((r.int("id")?, r.int("balance_fen")?, column::<bool>(r, "may_go_negative")?, rows::product(r)?)),
            )?;
            let (account_id, balance, may_go_negative, product) = match known {
                Some(row) => row,
                None => {
                    let id = self.account_id(&posting.account, provenance.business_date)?;
                    (id, 0, posting.account.may_go_negative(), BalanceProduct { fen_days: 0, as_of: provenance.business_date })
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
        self.first("SELECT id FROM journal_entries WHERE idempotency_key = ?1", [key], |r| r.int("id"))
    }

    fn entry(&mut self, entry_id: i64) -> StoreResult<Option<StoredEntry>> {
        let header = "SELECT kind, business_date, recorded_at, actor, channel, memo FROM journal_entries WHERE id = ?1";
        let Some(mut entry) = self.first(header, [entry_id], |r| rows::entry(r, entry_id))? else { return Ok(None) };
        entry.postings = self.all(
            "SELECT a.account_key, p.amount_fen FROM postings p JOIN accounts a ON a.id = p.account_id WHERE p.entry_id = ?1 ORDER BY p.id",
            [entry_id],
            |r| rows::posting(r),
        )?;
        Ok(Some(entry))
    }

    fn statement(&mut self, account: &AccountRef, from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<StatementLine>> {
        self.all(
            "SELECT e.id AS entry_id, e.kind, e.business_date, p.amount_fen, e.memo FROM postings p
             JOIN accounts a ON a.id = p.account_id JOIN journal_entries e ON e.id = p.entry_id
             WHERE a.account_key = ?1 AND e.business_date BETWEEN ?2 AND ?3 ORDER BY e.id",
            params![account.key(), date_text(from), date_text(to)],
            |r| rows::statement_line(r),
        )
    }

    fn balance_product(&mut self, account: &AccountRef) -> StoreResult<Option<BalanceProduct>> {
        self.first("SELECT product_fen_days, product_as_of FROM accounts WHERE account_key = ?1", [account.key()], |r| rows::product(r))
    }

    fn person_account_states(&mut self, psn_no: &str) -> StoreResult<Vec<(PersonAccount, Money, BalanceProduct)>> {
        self.all("SELECT kind, balance_fen, product_fen_days, product_as_of FROM accounts WHERE owner = ?1 ORDER BY kind", [psn_no], |r| {
            Ok((parse_person_account(&r.text("kind")?)?, r.fen("balance_fen")?, rows::product(r)?))
        })
    }

    fn audit(&mut self) -> StoreResult<AuditReport> {
        let count = |sql: &str| -> StoreResult<u64> { self.one(sql, [], |r| r.int("n")).map(|n| n as u64) };
        let mut report = AuditReport {
            accounts: count("SELECT COUNT(*) AS n FROM accounts")?,
            entries: count("SELECT COUNT(*) AS n FROM journal_entries")?,
            postings: count("SELECT COUNT(*) AS n FROM postings")?,
            ..AuditReport::default()
        };
        // The audit runs rarely: its statements are not kept prepared.
        let mut stmt = self
            .conn
            .prepare(
                "SELECT a.account_key, a.balance_fen, COALESCE(s.total, 0) AS sum_fen FROM accounts a
                 LEFT JOIN (SELECT account_id, SUM(amount_fen) AS total FROM postings GROUP BY account_id) s ON s.account_id = a.id
                 WHERE a.balance_fen <> COALESCE(s.total, 0) ORDER BY a.account_key",
            )
            .map_err(backend)?;
        report.mismatched = read_all(&mut stmt, [], |r| {
            Ok(BalanceMismatch { account: r.text("account_key")?, stored: r.fen("balance_fen")?, sum_of_postings: r.fen("sum_fen")? })
        })?;
        let mut stmt = self.conn.prepare("SELECT entry_id FROM postings GROUP BY entry_id HAVING SUM(amount_fen) <> 0 ORDER BY entry_id").map_err(backend)?;
        report.unbalanced_entries = read_all(&mut stmt, [], |r| r.int("entry_id"))?;
        let mut stmt = self.conn.prepare("SELECT account_key, balance_fen FROM accounts WHERE may_go_negative = 0 AND balance_fen < 0").map_err(backend)?;
        report.negative = read_all(&mut stmt, [], |r| Ok((r.text("account_key")?, r.fen("balance_fen")?)))?;
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
        report.out_of_range = read_all(&mut stmt, [], |r| Ok((r.text("account_key")?, r.fen("balance_fen")?, r.int("product_fen_days")?)))?;
        report.ledger_total = self.one("SELECT COALESCE(SUM(amount_fen), 0) AS total FROM postings", [], |r| r.fen("total"))?;
        Ok(report)
    }

    fn first_entry_date(&mut self) -> StoreResult<Option<NaiveDate>> {
        self.one("SELECT MIN(business_date) AS first FROM journal_entries", [], |r| r.opt_date("first"))
    }
}
