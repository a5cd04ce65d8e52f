//! [`LedgerTx`] on PostgreSQL: balances, postings, entries, statements, daily-balance products,
//! audit (P4, B1).

use super::*;

/// The balance changes of one entry, one per account (postings to the same account summed),
/// in account-key order so that concurrent entries lock balance rows in one order.
struct Moves {
    keys: Vec<String>,
    owners: Vec<Option<String>>,
    kinds: Vec<String>,
    may_go_negative: Vec<bool>,
    deltas: Vec<i64>,
    shards: Vec<i16>,
    earns_interest: Vec<bool>,
    /// The admitted maximum of a person's account (ST10); `None` for system accounts, whose
    /// balance is the sum of several rows and is watched by `audit`.
    balance_max: Vec<Option<i64>>,
}

fn moves_of(entry: &JournalEntry, shard: i16) -> StoreResult<Moves> {
    let mut by_key: Vec<(String, &AccountRef, i64)> = Vec::new();
    for posting in &entry.postings {
        let key = posting.account.key();
        match by_key.iter_mut().find(|(k, _, _)| *k == key) {
            Some((_, _, delta)) => *delta = delta.checked_add(posting.amount.fen()).ok_or_else(|| StoreError::Backend("amount overflow".into()))?,
            None => by_key.push((key, &posting.account, posting.amount.fen())),
        }
    }
    by_key.sort_by(|a, b| a.0.cmp(&b.0));
    let mut moves = Moves {
        keys: Vec::new(),
        owners: Vec::new(),
        kinds: Vec::new(),
        may_go_negative: Vec::new(),
        deltas: Vec::new(),
        shards: Vec::new(),
        earns_interest: Vec::new(),
        balance_max: Vec::new(),
    };
    for (key, account, delta) in by_key {
        let (owner, kind) = match account {
            AccountRef::Person { psn_no, kind } => (Some(psn_no.clone()), kind.as_str().to_string()),
            AccountRef::System { kind, .. } => (None, kind.as_str().to_string()),
        };
        let may_go_negative = account.may_go_negative();
        moves.keys.push(key);
        moves.owners.push(owner);
        moves.kinds.push(kind);
        moves.may_go_negative.push(may_go_negative);
        moves.deltas.push(delta);
        moves.shards.push(if may_go_negative { shard } else { 0 });
        moves.earns_interest.push(account.earns_interest());
        moves.balance_max.push(matches!(account, AccountRef::Person { .. }).then(|| account.admitted_balance().1.fen()));
    }
    Ok(moves)
}

/// Moves the balances of one entry and records its postings, in one statement: creates the
/// accounts used for the first time, accrues each balance row's daily-balance product to the
/// entry's business date before changing the balance (as `BalanceProduct::accrue_to`: a
/// back-dated posting accrues nothing), and inserts the postings in their order.
const POST_MOVES_SQL: &str = "
WITH input AS (
    SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::bool[], $6::bigint[], $7::smallint[], $11::bool[], $12::bigint[])
        AS t(account_key, owner, kind, may_go_negative, delta_fen, shard, earns_interest, balance_max)
),
created AS (
    INSERT INTO accounts (account_key, owner, kind, may_go_negative)
    SELECT account_key, owner, kind, may_go_negative FROM input ORDER BY account_key
    ON CONFLICT (account_key) DO NOTHING
    RETURNING id, account_key
),
ids AS (
    SELECT i.account_key, COALESCE(c.id, a.id) AS account_id, i.may_go_negative, i.delta_fen, i.shard, i.earns_interest, i.balance_max
    FROM input i
    LEFT JOIN created c ON c.account_key = i.account_key
    LEFT JOIN accounts a ON a.account_key = i.account_key
),
moved AS (
    UPDATE account_balances b SET
        balance_fen = b.balance_fen + ids.delta_fen,
        -- B1: only accounts that earn interest keep a product; the others would overflow it
        product_fen_days = b.product_fen_days
            + CASE WHEN ids.earns_interest AND $8::date > b.product_as_of THEN b.balance_fen * ($8::date - b.product_as_of) ELSE 0 END,
        product_as_of = CASE WHEN ids.earns_interest THEN GREATEST(b.product_as_of, $8::date) ELSE b.product_as_of END
    FROM ids
    WHERE b.account_id = ids.account_id AND b.shard = ids.shard
    RETURNING b.account_id, b.balance_fen > COALESCE(ids.balance_max, b.balance_fen) AS over_max
),
opened AS (
    -- first movement of the account (or of this shard of it): the row starts with the entry
    INSERT INTO account_balances (account_id, shard, may_go_negative, balance_fen, product_fen_days, product_as_of)
    SELECT account_id, shard, may_go_negative, delta_fen, 0, $8::date FROM ids
    WHERE NOT EXISTS (SELECT 1 FROM account_balances x WHERE x.account_id = ids.account_id AND x.shard = ids.shard)
    RETURNING account_id, balance_fen
),
posted AS (
    INSERT INTO postings (entry_id, account_id, amount_fen)
    SELECT $1, ids.account_id, p.amount_fen
    FROM unnest($9::text[], $10::bigint[]) WITH ORDINALITY AS p(account_key, amount_fen, ord)
    JOIN ids ON ids.account_key = p.account_key
    ORDER BY p.ord
    RETURNING id
)
SELECT (SELECT count(*) FROM moved) + (SELECT count(*) FROM opened) AS moved, (SELECT count(*) FROM posted) AS posted,
    -- ST10: balances this entry took above their account's admitted maximum
    (SELECT count(*) FROM moved WHERE over_max)
        + (SELECT count(*) FROM opened o JOIN ids ON ids.account_id = o.account_id WHERE o.balance_fen > ids.balance_max) AS over_max";

impl LedgerTx for PgTx<'_> {
    fn balance(&mut self, account: &AccountRef) -> StoreResult<Money> {
        if let AccountRef::Person { psn_no, kind } = account {
            if PERSON_ACCOUNTS.contains(kind) {
                self.person(psn_no)?;
            }
        }
        if let Some(balance) = self.cache.balances.get(&account.key()) {
            return Ok(*balance);
        }
        let row = self.one(
            "SELECT COALESCE(SUM(b.balance_fen), 0)::bigint AS balance_fen FROM accounts a JOIN account_balances b ON b.account_id = a.id WHERE a.account_key = $1",
            &[&account.key()],
        )?;
        row.fen("balance_fen")
    }

    fn post(&mut self, entry: &JournalEntry) -> StoreResult<i64> {
        // The entry was checked when built; check again here, on the path that writes (P4).
        let total: i64 = entry.postings.iter().map(|p| p.amount.fen()).sum();
        assert_eq!(total, 0, "unbalanced journal entry reached the store");
        let provenance = &entry.provenance;
        let inserted = self.opt(
            "INSERT INTO journal_entries (kind, idempotency_key, actor, channel, business_date, recorded_at, memo)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
            &[
                &entry.kind.as_str(),
                &entry.idempotency_key,
                &actor_text(provenance),
                &provenance.channel.as_str(),
                &provenance.business_date,
                &provenance.recorded_at,
                &entry.memo,
            ],
        )?;
        let Some(row) = inserted else { return Err(StoreError::DuplicateKey(entry.idempotency_key.clone().unwrap_or_default())) };
        for posting in &entry.postings {
            self.cache.forget_account(&posting.account.key());
        }
        let entry_id = row.int("id")?;
        let moves = moves_of(entry, self.conn.shard)?;
        let posting_keys: Vec<String> = entry.postings.iter().map(|p| p.account.key()).collect();
        let posting_amounts: Vec<i64> = entry.postings.iter().map(|p| p.amount.fen()).collect();
        let counts = self.one(
            POST_MOVES_SQL,
            &[
                &entry_id,
                &moves.keys,
                &moves.owners,
                &moves.kinds,
                &moves.may_go_negative,
                &moves.deltas,
                &moves.shards,
                &provenance.business_date,
                &posting_keys,
                &posting_amounts,
                &moves.earns_interest,
                &moves.balance_max,
            ],
        );
        let counts = match counts {
            Err(StoreError::NegativeBalance(_)) => {
                // Name the guarded account(s) this entry debited: one of them went below zero.
                let debited: Vec<&str> = moves
                    .keys
                    .iter()
                    .zip(&moves.deltas)
                    .zip(&moves.may_go_negative)
                    .filter(|((_, d), m)| **d < 0 && !**m)
                    .map(|((k, _), _)| k.as_str())
                    .collect();
                return Err(StoreError::NegativeBalance(debited.join(",")));
            }
            other => other?,
        };
        let (moved, posted, over_max) = (counts.int("moved")?, counts.int("posted")?, counts.int("over_max")?);
        if over_max > 0 {
            let credited: Vec<&str> = moves
                .keys
                .iter()
                .zip(&moves.deltas)
                .zip(&moves.balance_max)
                .filter(|((_, d), m)| **d > 0 && m.is_some())
                .map(|((k, _), _)| k.as_str())
                .collect();
            return Err(StoreError::BalanceOutOfRange(credited.join(",")));
        }
        if moved as usize != moves.keys.len() || posted as usize != entry.postings.len() {
            return Err(StoreError::Backend(format!("entry {entry_id}: {moved} balances moved, {posted} postings written")));
        }
        Ok(entry_id)
    }

    fn entry_by_key(&mut self, key: &str) -> StoreResult<Option<i64>> {
        self.opt("SELECT id FROM journal_entries WHERE idempotency_key = $1", &[&key])?.map(|r| r.int("id")).transpose()
    }

    fn entry(&mut self, entry_id: i64) -> StoreResult<Option<StoredEntry>> {
        let Some(header) = self.opt("SELECT kind, business_date, recorded_at, actor, channel, memo FROM journal_entries WHERE id = $1", &[&entry_id])? else {
            return Ok(None);
        };
        let mut entry = rows::entry(&header, entry_id)?;
        let rows = self.rows(
            "SELECT a.account_key, p.amount_fen FROM postings p JOIN accounts a ON a.id = p.account_id WHERE p.entry_id = $1 ORDER BY p.id",
            &[&entry_id],
        )?;
        entry.postings = rows.iter().map(rows::posting).collect::<StoreResult<_>>()?;
        Ok(Some(entry))
    }

    fn statement(&mut self, account: &AccountRef, from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<StatementLine>> {
        let rows = self.rows(
            "SELECT e.id AS entry_id, e.kind, e.business_date, p.amount_fen, e.memo FROM postings p
             JOIN accounts a ON a.id = p.account_id JOIN journal_entries e ON e.id = p.entry_id
             WHERE a.account_key = $1 AND e.business_date BETWEEN $2 AND $3 ORDER BY e.id, p.id",
            &[&account.key(), &from, &to],
        )?;
        rows.iter().map(rows::statement_line).collect()
    }

    fn balance_product(&mut self, account: &AccountRef) -> StoreResult<Option<BalanceProduct>> {
        if let AccountRef::Person { psn_no, kind } = account {
            if PERSON_ACCOUNTS.contains(kind) {
                self.person(psn_no)?;
            }
        }
        if let Some(product) = self.cache.products.get(&account.key()) {
            return Ok(*product);
        }
        let rows = self.rows(
            "SELECT b.balance_fen, b.product_fen_days, b.product_as_of FROM accounts a JOIN account_balances b ON b.account_id = a.id WHERE a.account_key = $1",
            &[&account.key()],
        )?;
        let shards = rows.iter().map(|r| Ok((r.int("balance_fen")?, rows::product(r)?))).collect::<StoreResult<Vec<_>>>()?;
        Ok(sum_products(&shards))
    }

    fn person_account_states(&mut self, psn_no: &str) -> StoreResult<Vec<(PersonAccount, Money, BalanceProduct)>> {
        let rows = self.rows(
            // LATERAL (fenced by OFFSET 0) keeps the plan an index lookup per account whatever
            // the statistics say (a generic plan chose a scan of every balance row per person).
            "SELECT a.kind, b.balance_fen, b.product_fen_days, b.product_as_of FROM accounts a
             CROSS JOIN LATERAL (SELECT x.balance_fen, x.product_fen_days, x.product_as_of, x.shard FROM account_balances x WHERE x.account_id = a.id OFFSET 0) b
             WHERE a.account_key = ANY ($1::text[]) ORDER BY a.kind, b.shard",
            &[&person_account_keys(psn_no, PersonAccount::ALL)],
        )?;
        let mut states: Vec<(PersonAccount, Vec<(i64, BalanceProduct)>)> = Vec::new();
        for row in &rows {
            let kind = parse_person_account(&row.text("kind")?)?;
            let shard = (row.int("balance_fen")?, rows::product(row)?);
            match states.last_mut() {
                Some((last, shards)) if *last == kind => shards.push(shard),
                _ => states.push((kind, vec![shard])),
            }
        }
        Ok(states
            .into_iter()
            .filter_map(|(kind, shards)| {
                let balance = Money::from_fen(shards.iter().map(|(fen, _)| fen).sum());
                sum_products(&shards).map(|product| (kind, balance, product))
            })
            .collect())
    }

    fn audit(&mut self) -> StoreResult<AuditReport> {
        let counts = self.one(
            "SELECT (SELECT count(*) FROM accounts) AS accounts, (SELECT count(*) FROM journal_entries) AS entries, (SELECT count(*) FROM postings) AS postings",
            &[],
        )?;
        let mut report = AuditReport {
            accounts: counts.int("accounts")? as u64,
            entries: counts.int("entries")? as u64,
            postings: counts.int("postings")? as u64,
            ..AuditReport::default()
        };
        report.mismatched = self
            .rows(
                "SELECT a.account_key, COALESCE(b.total, 0)::bigint AS balance_fen, COALESCE(s.total, 0)::bigint AS sum_fen FROM accounts a
                 LEFT JOIN (SELECT account_id, SUM(balance_fen) AS total FROM account_balances GROUP BY account_id) b ON b.account_id = a.id
                 LEFT JOIN (SELECT account_id, SUM(amount_fen) AS total FROM postings GROUP BY account_id) s ON s.account_id = a.id
                 WHERE COALESCE(b.total, 0) <> COALESCE(s.total, 0) ORDER BY a.account_key",
                &[],
            )?
            .iter()
            .map(|r| Ok(BalanceMismatch { account: r.text("account_key")?, stored: r.fen("balance_fen")?, sum_of_postings: r.fen("sum_fen")? }))
            .collect::<StoreResult<_>>()?;
        report.unbalanced_entries = self
            .rows("SELECT entry_id FROM postings GROUP BY entry_id HAVING SUM(amount_fen) <> 0 ORDER BY entry_id", &[])?
            .iter()
            .map(|r| r.int("entry_id"))
            .collect::<StoreResult<_>>()?;
        report.negative = self
            .rows(
                "SELECT a.account_key, SUM(b.balance_fen)::bigint AS balance_fen FROM accounts a JOIN account_balances b ON b.account_id = a.id
                 WHERE NOT a.may_go_negative GROUP BY a.account_key HAVING SUM(b.balance_fen) < 0 ORDER BY a.account_key",
                &[],
            )?
            .iter()
            .map(|r| Ok((r.text("account_key")?, r.fen("balance_fen")?)))
            .collect::<StoreResult<_>>()?;
        let (person_max, system_max) = (gongji_core::account::PERSON_BALANCE_MAX.fen(), gongji_core::account::SYSTEM_BALANCE_MAX.fen());
        report.out_of_range = self
            .rows(
                "SELECT a.account_key, SUM(b.balance_fen)::bigint AS balance_fen, SUM(b.product_fen_days)::bigint AS product_fen_days
                 FROM accounts a JOIN account_balances b ON b.account_id = a.id
                 GROUP BY a.account_key, a.owner, a.kind
                 HAVING (a.owner IS NOT NULL AND SUM(b.balance_fen) > $1::bigint)
                     OR (a.owner IS NULL AND ABS(SUM(b.balance_fen)) > $2::bigint)
                     OR MIN(b.product_fen_days) < 0
                     OR (MAX(ABS(b.product_fen_days)) <> 0 AND (a.owner IS NULL OR a.kind NOT IN ('cur', 'his', 'mut')))
                 ORDER BY a.account_key",
                &[&person_max, &system_max],
            )?
            .iter()
            .map(|r| Ok((r.text("account_key")?, r.fen("balance_fen")?, r.int("product_fen_days")?)))
            .collect::<StoreResult<_>>()?;
        let total = self.one("SELECT COALESCE(SUM(amount_fen), 0)::bigint AS total FROM postings", &[])?;
        report.ledger_total = total.fen("total")?;
        Ok(report)
    }

    fn first_entry_date(&mut self) -> StoreResult<Option<NaiveDate>> {
        let row = self.one("SELECT MIN(business_date) AS first FROM journal_entries", &[])?;
        row.opt_date("first")
    }
}
