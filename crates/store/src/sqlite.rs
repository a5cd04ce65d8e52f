//! The SQLite store: one file in WAL mode with `synchronous=FULL` (a commit survives power
//! loss), or an in-memory database for scenario runs and tests. Writers are serialised with
//! `BEGIN IMMEDIATE`; several processes may share one file (busy timeout).

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use gongji_core::interest::BalanceProduct;
use gongji_core::ledger::{EntryKind, JournalEntry, Provenance};
use gongji_core::network::{Member, MemberState, Network};
use gongji_core::settlement::{BillSplit, YearTotals};
use gongji_core::{AccountRef, AreaCode, IdNumber, InsuranceType, Money, Person, PersonAccount, PersonStatus, VisitType};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::*;

/// Migrations embedded in the binary, applied in order, each once.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../migrations/sqlite/0002_tokens.sql")),
    (3, include_str!("../migrations/sqlite/0003_jobs.sql")),
    (4, include_str!("../migrations/sqlite/0004_family_models.sql")),
    (5, include_str!("../migrations/sqlite/0005_resettlement.sql")),
];

/// SQLite page cache per connection, in KiB (negative `cache_size` means KiB).
const PAGE_CACHE_KIB: i64 = -65_536;

/// Bytes of the database file read through mmap.
const MMAP_BYTES: i64 = 256 * 1024 * 1024;

/// Distinct statements kept prepared; the store has about a hundred.
const STATEMENT_CACHE_CAPACITY: usize = 256;

/// How long a writer waits for another process's transaction before reporting `Busy`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

pub struct SqliteStore {
    conn: Mutex<Connection>,
    description: String,
}

impl SqliteStore {
    /// Opens (creating if needed) a database file and applies pending migrations.
    pub fn open(path: &Path) -> StoreResult<SqliteStore> {
        let conn = Connection::open(path).map_err(backend)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(backend)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(backend)?;
        // A larger page cache and memory-mapped reads: the hot pages (system accounts, recent
        // entries) stay in memory instead of being copied from the OS cache on every read.
        conn.pragma_update(None, "cache_size", PAGE_CACHE_KIB).map_err(backend)?;
        conn.pragma_update(None, "mmap_size", MMAP_BYTES).map_err(backend)?;
        // Savepoints (group commit) keep their statement journal in memory, not in a temp file.
        conn.pragma_update(None, "temp_store", "MEMORY").map_err(backend)?;
        SqliteStore::prepare(conn, format!("sqlite:{}", path.display()))
    }

    /// A fresh private in-memory database (scenario runs, tests).
    pub fn in_memory() -> StoreResult<SqliteStore> {
        SqliteStore::prepare(Connection::open_in_memory().map_err(backend)?, "sqlite::memory:".into())
    }

    fn prepare(mut conn: Connection, description: String) -> StoreResult<SqliteStore> {
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
        // Migrations run with foreign keys off, as SQLite documents for rebuilding a table
        // (0005), and are checked afterwards: a migration that broke a reference fails here.
        conn.pragma_update(None, "foreign_keys", "OFF").map_err(backend)?;
        migrate(&mut conn)?;
        let broken: Option<String> = conn.query_row("PRAGMA foreign_key_check", [], |r| r.get(0)).optional().map_err(backend)?;
        if let Some(table) = broken {
            return Err(StoreError::Corrupt(format!("a reference of table {table} points nowhere after the migrations")));
        }
        conn.pragma_update(None, "foreign_keys", "ON").map_err(backend)?;
        Ok(SqliteStore { conn: Mutex::new(conn), description })
    }

    fn run<R, E: From<StoreError>>(&self, behavior: TransactionBehavior, commit: bool, mut work: impl FnMut(&mut dyn Tx) -> Result<R, E>) -> Result<R, E> {
        // A panic inside `work` poisons the mutex; the transaction was rolled back on unwind,
        // so the connection itself is still sound.
        let mut conn = self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let transaction = conn.transaction_with_behavior(behavior).map_err(backend)?;
        let mut tx = SqliteTx { conn: &transaction };
        let outcome = work(&mut tx);
        match outcome {
            Ok(value) if commit => {
                transaction.commit().map_err(backend)?;
                Ok(value)
            }
            other => {
                transaction.rollback().map_err(backend)?;
                other
            }
        }
    }
}

impl Store for SqliteStore {
    fn write<R, E: From<StoreError>>(&self, work: impl FnMut(&mut dyn Tx) -> Result<R, E>) -> Result<R, E> {
        self.run(TransactionBehavior::Immediate, true, work)
    }

    fn read<R, E: From<StoreError>>(&self, work: impl FnMut(&mut dyn Tx) -> Result<R, E>) -> Result<R, E> {
        self.run(TransactionBehavior::Deferred, false, work)
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)").map_err(backend)?;
    for (version, sql) in MIGRATIONS {
        let applied: bool = tx.query_row("SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?1)", [version], |r| r.get(0)).map_err(backend)?;
        if !applied {
            tx.execute_batch(sql).map_err(backend)?;
            tx.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)", params![version, Utc::now().to_rfc3339()]).map_err(backend)?;
        }
    }
    tx.commit().map_err(backend)
}

struct SqliteTx<'a> {
    conn: &'a Connection,
}

fn backend(err: rusqlite::Error) -> StoreError {
    match &err {
        rusqlite::Error::SqliteFailure(failure, message) => match failure.code {
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked => StoreError::Busy,
            rusqlite::ErrorCode::ConstraintViolation => StoreError::AlreadyExists(message.clone().unwrap_or_else(|| "constraint violation".into())),
            _ => StoreError::Backend(err.to_string()),
        },
        _ => StoreError::Backend(err.to_string()),
    }
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what}: {value:?}"))
}

fn date_text(day: NaiveDate) -> String {
    // NaiveDate's Display is ISO 8601 (YYYY-MM-DD) without parsing a format string each time.
    day.to_string()
}

fn parse_date(text: &str) -> StoreResult<NaiveDate> {
    text.parse::<NaiveDate>().map_err(|_| corrupt("date", text))
}

fn parse_instant(text: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc)).map_err(|_| corrupt("instant", text))
}

fn parse_account(key: &str) -> StoreResult<AccountRef> {
    AccountRef::parse_key(key).ok_or_else(|| corrupt("account key", key))
}

fn parse_entry_kind(text: &str) -> StoreResult<EntryKind> {
    EntryKind::parse(text).ok_or_else(|| corrupt("entry kind", text))
}

fn actor_text(provenance: &Provenance) -> String {
    provenance.actor.to_string()
}

type PersonRow = (String, String, String, String, String, Option<String>, String);

const PERSON_COLUMNS: &str = "psn_no, name, id_number, area, insurance, phone, status";

fn person_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<PersonRow> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?))
}

fn person_from_row(row: PersonRow) -> StoreResult<Person> {
    let (psn_no, name, id_number, area, insurance, phone, status) = row;
    Ok(Person {
        id_number: IdNumber::parse(&id_number).map_err(|_| corrupt("id number of", &psn_no))?,
        area: AreaCode::parse(&area).map_err(|_| corrupt("area", &area))?,
        insurance: InsuranceType::parse(&insurance).ok_or_else(|| corrupt("insurance", &insurance))?,
        status: PersonStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        psn_no,
        name,
        phone,
    })
}

impl SqliteTx<'_> {
    /// Runs a statement through the connection's statement cache: preparing SQL costs more
    /// than running it, and every statement here runs many times a second.
    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.conn.prepare_cached(sql)?.execute(params)
    }

    /// One row through the statement cache.
    fn row<T, P: rusqlite::Params, F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T> {
        self.conn.prepare_cached(sql)?.query_row(params, f)
    }

    /// The account's row id, creating the account on first use.
    fn account_id(&self, account: &AccountRef, day: NaiveDate) -> StoreResult<i64> {
        let key = account.key();
        if let Some(id) = self.row("SELECT id FROM accounts WHERE account_key = ?1", [&key], |r| r.get(0)).optional().map_err(backend)? {
            return Ok(id);
        }
        let (owner, kind) = match account {
            AccountRef::Person { psn_no, kind } => (Some(psn_no.as_str()), kind.as_str()),
            AccountRef::System { kind, .. } => (None, kind.as_str()),
        };
        self.exec(
            "INSERT INTO accounts (account_key, owner, kind, may_go_negative, product_as_of) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![key, owner, kind, account.may_go_negative(), date_text(day)],
        )
        .map_err(backend)?;
        Ok(self.conn.last_insert_rowid())
    }

    /// The one settlement that `condition` (SQL after `WHERE`, over `params`) selects, with its
    /// lines and steps. Columns are read by name.
    fn settlement_where<P: rusqlite::Params>(&self, condition: &str, params: P) -> StoreResult<Option<StoredSettlement>> {
        let sql = format!(
            "SELECT id, institution, bill_id, attempt, patient, visit, bill_date, fingerprint, policy_id, policy_effective_from, network_id,
                    fund_pay_fen, self_borne_fen, first_self_pay_fen, self_funded_fen, deductible_applied_fen, cash_fen,
                    entry_id, cancel_entry_id, cancel_date
             FROM settlements WHERE {condition}"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(backend)?;
        let mut rows = stmt.query(params).map_err(backend)?;
        let Some(r) = rows.next().map_err(backend)? else { return Ok(None) };
        let text = |name: &str| r.get::<_, String>(name).map_err(backend);
        let fen = |name: &str| r.get::<_, i64>(name).map(Money::from_fen).map_err(backend);
        let id: i64 = r.get("id").map_err(backend)?;
        let visit = text("visit")?;
        let attempt: i64 = r.get("attempt").map_err(backend)?;
        let cancelled = match (r.get::<_, Option<i64>>("cancel_entry_id").map_err(backend)?, r.get::<_, Option<String>>("cancel_date").map_err(backend)?) {
            (Some(entry), Some(day)) => Some((entry, parse_date(&day)?)),
            (None, None) => None,
            _ => return Err(StoreError::Corrupt(format!("settlement {id} has half a cancel"))),
        };
        let mut settlement = StoredSettlement {
            id,
            institution: text("institution")?,
            bill_id: text("bill_id")?,
            attempt: u32::try_from(attempt).map_err(|_| corrupt("attempt", &attempt.to_string()))?,
            patient: text("patient")?,
            visit: VisitType::parse(&visit).ok_or_else(|| corrupt("visit", &visit))?,
            bill_date: parse_date(&text("bill_date")?)?,
            fingerprint: text("fingerprint")?,
            policy_id: text("policy_id")?,
            policy_effective_from: parse_date(&text("policy_effective_from")?)?,
            network_id: r.get("network_id").map_err(backend)?,
            split: BillSplit {
                fund_pay: fen("fund_pay_fen")?,
                self_borne: fen("self_borne_fen")?,
                first_self_pay: fen("first_self_pay_fen")?,
                self_funded: fen("self_funded_fen")?,
            },
            deductible_applied: fen("deductible_applied_fen")?,
            cash: fen("cash_fen")?,
            entry_id: r.get("entry_id").map_err(backend)?,
            lines: Vec::new(),
            steps: Vec::new(),
            cancelled,
        };
        drop(rows);
        let mut stmt =
            self.conn.prepare_cached("SELECT account_key, role, amount_fen FROM settlement_lines WHERE settlement_id = ?1 ORDER BY seq").map_err(backend)?;
        let rows =
            stmt.query_map([id], |r| Ok((r.get::<_, String>("account_key")?, r.get::<_, String>("role")?, r.get::<_, i64>("amount_fen")?))).map_err(backend)?;
        for row in rows {
            let (key, role, amount) = row.map_err(backend)?;
            settlement.lines.push((parse_account(&key)?, role, Money::from_fen(amount)));
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT account_key, role, amount_fen, code, rule, message FROM settlement_steps WHERE settlement_id = ?1 ORDER BY seq")
            .map_err(backend)?;
        settlement.steps = stmt
            .query_map([id], |r| {
                Ok(StoredStep {
                    account: r.get("account_key")?,
                    role: r.get("role")?,
                    amount: Money::from_fen(r.get("amount_fen")?),
                    code: r.get("code")?,
                    rule: r.get("rule")?,
                    message: r.get("message")?,
                })
            })
            .map_err(backend)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(backend)?;
        Ok(Some(settlement))
    }

    fn load_network(&self, network_id: i64) -> StoreResult<Option<Network>> {
        let header: Option<(String, String)> = self
            .row("SELECT area, promoter FROM networks WHERE id = ?1 AND dissolved_at IS NULL", [network_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(backend)?;
        let Some((area, promoter)) = header else { return Ok(None) };
        let mut stmt = self
            .conn
            .prepare_cached("SELECT psn_no, relation, state FROM network_members WHERE network_id = ?1 AND state <> 'left' ORDER BY position")
            .map_err(backend)?;
        let rows = stmt.query_map([network_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?, r.get::<_, String>(2)?))).map_err(backend)?;
        let mut members = Vec::new();
        for row in rows {
            let (psn_no, relation, state) = row.map_err(backend)?;
            let state = MemberState::parse(&state).ok_or_else(|| corrupt("member state", &state))?;
            members.push(Member { psn_no, relation, state });
        }
        Ok(Some(Network { id: network_id, area: AreaCode::parse(&area).map_err(|_| corrupt("area", &area))?, promoter, members }))
    }
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
            changes.push(StatusChange {
                from: PersonStatus::parse(&from).ok_or_else(|| corrupt("status", &from))?,
                to: PersonStatus::parse(&to).ok_or_else(|| corrupt("status", &to))?,
                reason,
                actor,
                channel,
                business_date: parse_date(&day)?,
            });
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
            let fen_days = i64::try_from(product.fen_days).map_err(|_| StoreError::Backend("balance product overflow".into()))?;
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
            let kind = PersonAccount::parse(&kind).ok_or_else(|| corrupt("account kind", &kind))?;
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

impl NetworksTx for SqliteTx<'_> {
    fn insert_network(&mut self, area: &AreaCode, promoter: &str, provenance: &Provenance) -> StoreResult<i64> {
        self.exec(
            "INSERT INTO networks (area, promoter, created_at) VALUES (?1, ?2, ?3)",
            params![area.as_str(), promoter, provenance.recorded_at.to_rfc3339()],
        )
        .map_err(backend)?;
        Ok(self.conn.last_insert_rowid())
    }

    fn network_of(&mut self, psn_no: &str) -> StoreResult<Option<Network>> {
        let id: Option<i64> =
            self.row("SELECT network_id FROM network_members WHERE psn_no = ?1 AND state <> 'left'", [psn_no], |r| r.get(0)).optional().map_err(backend)?;
        match id {
            Some(id) => self.load_network(id),
            None => Ok(None),
        }
    }

    fn network(&mut self, network_id: i64) -> StoreResult<Option<Network>> {
        self.load_network(network_id)
    }

    fn insert_member(&mut self, network_id: i64, psn_no: &str, relation: Option<&str>, state: MemberState, provenance: &Provenance) -> StoreResult<()> {
        let position: i64 = self
            .row("SELECT COALESCE(MAX(position), 0) + 1 FROM network_members WHERE network_id = ?1 AND state <> 'left'", [network_id], |r| r.get(0))
            .map_err(backend)?;
        self.exec(
            "INSERT INTO network_members (network_id, psn_no, relation, state, position, joined_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![network_id, psn_no, relation, state.as_str(), position, provenance.recorded_at.to_rfc3339()],
        )
        .map_err(backend)?;
        Ok(())
    }

    fn set_member_state(&mut self, network_id: i64, psn_no: &str, state: MemberState) -> StoreResult<()> {
        self.exec(
            "UPDATE network_members SET state = ?1 WHERE network_id = ?2 AND psn_no = ?3 AND state <> 'left'",
            params![state.as_str(), network_id, psn_no],
        )
        .map_err(backend)?;
        Ok(())
    }

    fn end_membership(&mut self, network_id: i64, psn_no: &str, provenance: &Provenance) -> StoreResult<()> {
        self.exec(
            "UPDATE network_members SET state = 'left', left_at = ?1 WHERE network_id = ?2 AND psn_no = ?3 AND state <> 'left'",
            params![provenance.recorded_at.to_rfc3339(), network_id, psn_no],
        )
        .map_err(backend)?;
        Ok(())
    }

    fn set_order(&mut self, network_id: i64, order: &[String]) -> StoreResult<()> {
        for (index, psn_no) in order.iter().enumerate() {
            self.exec(
                "UPDATE network_members SET position = ?1 WHERE network_id = ?2 AND psn_no = ?3 AND state <> 'left'",
                params![index as i64 + 1, network_id, psn_no],
            )
            .map_err(backend)?;
        }
        Ok(())
    }

    fn dissolve_network(&mut self, network_id: i64, provenance: &Provenance) -> StoreResult<()> {
        let at = provenance.recorded_at.to_rfc3339();
        self.exec("UPDATE network_members SET state = 'left', left_at = ?1 WHERE network_id = ?2 AND state <> 'left'", params![at, network_id])
            .map_err(backend)?;
        self.exec("UPDATE networks SET dissolved_at = ?1 WHERE id = ?2", params![at, network_id]).map_err(backend)?;
        Ok(())
    }

    fn insert_network_event(&mut self, event: &NewNetworkEvent) -> StoreResult<()> {
        self.exec(
            "INSERT INTO network_events (network_id, area, kind, subject, detail, actor, channel, business_date, recorded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                event.network_id,
                event.area.as_str(),
                event.kind,
                event.subject,
                event.detail,
                event.actor,
                event.channel,
                date_text(event.business_date),
                event.recorded_at.to_rfc3339()
            ],
        )
        .map_err(backend)?;
        Ok(())
    }

    fn network_events(&mut self, area: &AreaCode, from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<NetworkEvent>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, network_id, kind, subject, detail, actor, channel, business_date, recorded_at FROM network_events
                 WHERE area = ?1 AND business_date BETWEEN ?2 AND ?3 ORDER BY id",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map(params![area.as_str(), date_text(from), date_text(to)], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, String>(8)?,
                ))
            })
            .map_err(backend)?;
        let mut events = Vec::new();
        for row in rows {
            let (id, network_id, kind, subject, detail, actor, channel, day, at) = row.map_err(backend)?;
            events.push(NetworkEvent {
                id,
                event: NewNetworkEvent {
                    network_id,
                    area: area.clone(),
                    kind,
                    subject,
                    detail,
                    actor,
                    channel,
                    business_date: parse_date(&day)?,
                    recorded_at: parse_instant(&at)?,
                },
            });
        }
        Ok(events)
    }

    fn mut_movements(&mut self, area: &AreaCode, from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<MutMovement>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT e.id, a.owner, e.kind, e.business_date, p.amount_fen, e.actor, e.channel FROM postings p
                 JOIN accounts a ON a.id = p.account_id JOIN journal_entries e ON e.id = p.entry_id JOIN persons ps ON ps.psn_no = a.owner
                 WHERE a.kind = 'mut' AND ps.area = ?1 AND e.business_date BETWEEN ?2 AND ?3 ORDER BY e.id, p.id",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map(params![area.as_str(), date_text(from), date_text(to)], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                ))
            })
            .map_err(backend)?;
        let mut movements = Vec::new();
        for row in rows {
            let (entry_id, psn_no, kind, day, fen, actor, channel) = row.map_err(backend)?;
            movements.push(MutMovement {
                entry_id,
                psn_no,
                kind: parse_entry_kind(&kind)?,
                business_date: parse_date(&day)?,
                amount: Money::from_fen(fen),
                actor,
                channel,
            });
        }
        Ok(movements)
    }

    fn set_preset(&mut self, psn_no: &str, amount: Option<Money>, provenance: &Provenance) -> StoreResult<()> {
        self.exec(
                "INSERT INTO presets (psn_no, amount_fen, actor, channel, set_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (psn_no) DO UPDATE SET amount_fen = excluded.amount_fen, actor = excluded.actor, channel = excluded.channel, set_at = excluded.set_at",
                params![psn_no, amount.map(Money::fen), actor_text(provenance), provenance.channel.as_str(), provenance.recorded_at.to_rfc3339()],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn preset(&mut self, psn_no: &str) -> StoreResult<Option<Money>> {
        let fen: Option<Option<i64>> = self.row("SELECT amount_fen FROM presets WHERE psn_no = ?1", [psn_no], |r| r.get(0)).optional().map_err(backend)?;
        Ok(fen.flatten().map(Money::from_fen))
    }
}

impl SettlementsTx for SqliteTx<'_> {
    fn settlement(&mut self, institution: &str, bill_id: &str) -> StoreResult<Option<StoredSettlement>> {
        self.settlement_where("institution = ?1 AND bill_id = ?2 ORDER BY attempt DESC LIMIT 1", params![institution, bill_id])
    }

    fn settlement_attempt(&mut self, institution: &str, bill_id: &str, attempt: u32) -> StoreResult<Option<StoredSettlement>> {
        self.settlement_where("institution = ?1 AND bill_id = ?2 AND attempt = ?3", params![institution, bill_id, attempt])
    }

    fn insert_settlement(&mut self, s: &StoredSettlement) -> StoreResult<i64> {
        self.exec(
            "INSERT INTO settlements (institution, bill_id, patient, visit, bill_date, fingerprint, policy_id, policy_effective_from, network_id,
                    fund_pay_fen, self_borne_fen, first_self_pay_fen, self_funded_fen, deductible_applied_fen, cash_fen, entry_id, attempt)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
            params![
                s.institution,
                s.bill_id,
                s.patient,
                s.visit.as_str(),
                date_text(s.bill_date),
                s.fingerprint,
                s.policy_id,
                date_text(s.policy_effective_from),
                s.network_id,
                s.split.fund_pay.fen(),
                s.split.self_borne.fen(),
                s.split.first_self_pay.fen(),
                s.split.self_funded.fen(),
                s.deductible_applied.fen(),
                s.cash.fen(),
                s.entry_id,
                s.attempt
            ],
        )
        .map_err(backend)?;
        let id = self.conn.last_insert_rowid();
        for (seq, (account, role, amount)) in s.lines.iter().enumerate() {
            self.exec(
                "INSERT INTO settlement_lines (settlement_id, seq, account_key, role, amount_fen) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, seq as i64, account.key(), role, amount.fen()],
            )
            .map_err(backend)?;
        }
        for (seq, step) in s.steps.iter().enumerate() {
            self.exec(
                "INSERT INTO settlement_steps (settlement_id, seq, account_key, role, amount_fen, code, rule, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![id, seq as i64, step.account, step.role, step.amount.fen(), step.code, step.rule, step.message],
            )
            .map_err(backend)?;
        }
        Ok(id)
    }

    fn mark_cancelled(&mut self, settlement_id: i64, cancel_entry_id: i64, cancel_date: NaiveDate) -> StoreResult<()> {
        let changed = self
            .exec(
                "UPDATE settlements SET cancel_entry_id = ?1, cancel_date = ?2 WHERE id = ?3 AND cancel_entry_id IS NULL",
                params![cancel_entry_id, date_text(cancel_date), settlement_id],
            )
            .map_err(backend)?;
        if changed != 1 {
            return Err(StoreError::AlreadyExists(format!("settlement {settlement_id} already cancelled")));
        }
        Ok(())
    }

    fn year_totals(&mut self, psn_no: &str, year: i32, visit: VisitType) -> StoreResult<YearTotals> {
        let row: Option<(i64, i64)> = self
            .row(
                "SELECT deductible_used_fen, fund_paid_fen FROM year_totals WHERE psn_no = ?1 AND year = ?2 AND visit = ?3",
                params![psn_no, year, visit.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(backend)?;
        Ok(row.map(|(d, f)| YearTotals { deductible_used: Money::from_fen(d), fund_paid: Money::from_fen(f) }).unwrap_or_default())
    }

    fn put_year_totals(&mut self, psn_no: &str, year: i32, visit: VisitType, totals: YearTotals) -> StoreResult<()> {
        self.exec(
            "INSERT INTO year_totals (psn_no, year, visit, deductible_used_fen, fund_paid_fen) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (psn_no, year, visit) DO UPDATE SET deductible_used_fen = excluded.deductible_used_fen, fund_paid_fen = excluded.fund_paid_fen",
            params![psn_no, year, visit.as_str(), totals.deductible_used.fen(), totals.fund_paid.fen()],
        )
        .map_err(backend)?;
        Ok(())
    }

    fn insert_refund_holding(&mut self, h: &NewRefundHolding) -> StoreResult<i64> {
        self.exec(
            "INSERT INTO refund_holdings (owner, area, amount_fen, settlement_id, cancel_entry_id, created_date) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![h.owner, h.area.as_str(), h.amount.fen(), h.settlement_id, h.cancel_entry_id, date_text(h.created_date)],
        )
        .map_err(backend)?;
        Ok(self.conn.last_insert_rowid())
    }

    fn refund_holdings_due(&mut self, day: NaiveDate) -> StoreResult<Vec<RefundHolding>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, owner, area, amount_fen, settlement_id, cancel_entry_id, created_date FROM refund_holdings
                 WHERE synced_entry_id IS NULL AND created_date < ?1 ORDER BY id",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map([date_text(day)], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, String>(6)?,
                ))
            })
            .map_err(backend)?;
        let mut holdings = Vec::new();
        for row in rows {
            let (id, owner, area, fen, settlement_id, cancel_entry_id, day) = row.map_err(backend)?;
            holdings.push(RefundHolding {
                id,
                holding: NewRefundHolding {
                    owner,
                    area: AreaCode::parse(&area).map_err(|_| corrupt("area", &area))?,
                    amount: Money::from_fen(fen),
                    settlement_id,
                    cancel_entry_id,
                    created_date: parse_date(&day)?,
                },
            });
        }
        Ok(holdings)
    }

    fn mark_holding_synced(&mut self, holding_id: i64, entry_id: i64) -> StoreResult<()> {
        let changed = self
            .exec("UPDATE refund_holdings SET synced_entry_id = ?1 WHERE id = ?2 AND synced_entry_id IS NULL", params![entry_id, holding_id])
            .map_err(backend)?;
        if changed != 1 {
            return Err(StoreError::AlreadyExists(format!("refund holding {holding_id} already synced")));
        }
        Ok(())
    }

    fn savepoint(&mut self) -> StoreResult<()> {
        self.conn.execute_batch("SAVEPOINT item").map_err(backend)
    }

    fn release_savepoint(&mut self) -> StoreResult<()> {
        self.conn.execute_batch("RELEASE item").map_err(backend)
    }

    fn rollback_to_savepoint(&mut self) -> StoreResult<()> {
        self.conn.execute_batch("ROLLBACK TO item; RELEASE item").map_err(backend)
    }
}

impl JobsTx for SqliteTx<'_> {
    // Batch jobs (§10)
    fn person_areas(&mut self) -> StoreResult<Vec<AreaCode>> {
        let mut stmt = self.conn.prepare_cached("SELECT DISTINCT area FROM persons ORDER BY area").map_err(backend)?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(backend)?;
        rows.map(|row| row.map_err(backend).and_then(|area| AreaCode::parse(&area).map_err(|_| corrupt("area", &area)))).collect()
    }

    fn set_product(&mut self, account: &AccountRef, product: BalanceProduct) -> StoreResult<()> {
        let fen_days = i64::try_from(product.fen_days).map_err(|_| StoreError::Backend("balance product overflow".into()))?;
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
        self.row("SELECT outcome FROM job_marks WHERE job = ?1 AND period = ?2 AND subject = ?3", params![job, period, subject], |r| r.get(0))
            .optional()
            .map_err(backend)
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
        let mut stmt =
            self.conn.prepare_cached("SELECT subject, outcome, recorded_at FROM job_marks WHERE job = ?1 AND period = ?2 ORDER BY subject").map_err(backend)?;
        let rows = stmt.query_map(params![job, period], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))).map_err(backend)?;
        let mut marks = Vec::new();
        for row in rows {
            let (subject, outcome, at) = row.map_err(backend)?;
            marks.push(JobMark { job: job.to_string(), period: period.to_string(), subject, outcome, recorded_at: parse_instant(&at)? });
        }
        Ok(marks)
    }

    fn presets_in_area(&mut self, area: &AreaCode, after_psn_no: &str, limit: usize) -> StoreResult<Vec<(String, Money)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT pr.psn_no, pr.amount_fen FROM presets pr JOIN persons p ON p.psn_no = pr.psn_no
                 WHERE p.area = ?1 AND pr.amount_fen IS NOT NULL AND pr.psn_no > ?2 ORDER BY pr.psn_no LIMIT ?3",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map(params![area.as_str(), after_psn_no, limit as i64], |r| Ok((r.get::<_, String>(0)?, Money::from_fen(r.get(1)?))))
            .map_err(backend)?;
        rows.map(|row| row.map_err(backend)).collect()
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
        let row: Option<(String, String, i64, i64, String, Option<i64>)> = self
            .row("SELECT reason, business_date, principal_fen, interest_fen, payee, entry_id FROM liquidations WHERE psn_no = ?1", [psn_no], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
            })
            .optional()
            .map_err(backend)?;
        row.map(|(reason, day, principal, interest, payee, entry_id)| {
            Ok(Liquidation {
                psn_no: psn_no.to_string(),
                reason,
                business_date: parse_date(&day)?,
                principal: Money::from_fen(principal),
                interest: Money::from_fen(interest),
                payee,
                entry_id,
            })
        })
        .transpose()
    }
}

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

impl FamilyTx for SqliteTx<'_> {
    // Family models (§7, §8, §15)
    fn insert_notification(&mut self, n: &NewNotification) -> StoreResult<i64> {
        self.conn
            .execute(
                "INSERT INTO notifications (kind, psn_no, recipient, body, secret, reference, state, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7)",
                params![n.kind, n.psn_no, n.recipient, n.body, n.secret, n.reference, n.created_at.to_rfc3339()],
            )
            .map_err(backend)?;
        Ok(self.conn.last_insert_rowid())
    }

    fn notification(&mut self, id: i64) -> StoreResult<Option<Notification>> {
        let sql = format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE id = ?1");
        let row = self.conn.query_row(&sql, [id], notification_row).optional().map_err(backend)?;
        row.map(notification_from_row).transpose()
    }

    fn notifications(&mut self, state: Option<&str>, limit: usize) -> StoreResult<Vec<Notification>> {
        let sql = format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE ?1 IS NULL OR state = ?1 ORDER BY id LIMIT ?2");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(backend)?;
        let rows = stmt.query_map(params![state, limit as i64], notification_row).map_err(backend)?;
        rows.map(|row| row.map_err(backend).and_then(notification_from_row)).collect()
    }

    fn claim_notifications(&mut self, claim: &str, at: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Notification>> {
        self.conn
            .execute(
                "UPDATE notifications SET state = 'sending', claim = ?1, claimed_at = ?2
                 WHERE id IN (SELECT id FROM notifications WHERE state = 'pending' ORDER BY id LIMIT ?3)",
                params![claim, at.to_rfc3339(), limit as i64],
            )
            .map_err(backend)?;
        let sql = format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE state = 'sending' AND claim = ?1 ORDER BY id");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(backend)?;
        let rows = stmt.query_map([claim], notification_row).map_err(backend)?;
        rows.map(|row| row.map_err(backend).and_then(notification_from_row)).collect()
    }

    fn update_notification(&mut self, id: i64, expected_state: &str, expected_claim: Option<&str>, update: &NotificationUpdate) -> StoreResult<bool> {
        let changed = self
            .conn
            .execute(
                "UPDATE notifications SET state = ?1, attempts = ?2, last_error = ?3, finished_at = ?4,
                        secret = CASE WHEN ?5 THEN NULL ELSE secret END
                 WHERE id = ?6 AND state = ?7 AND (?8 IS NULL OR claim = ?8)",
                params![update.state, update.attempts, update.last_error, update.at.to_rfc3339(), update.clear_secret, id, expected_state, expected_claim],
            )
            .map_err(backend)?;
        Ok(changed == 1)
    }

    fn insert_relative_transfer(&mut self, r: &NewRelativeTransfer) -> StoreResult<i64> {
        self.conn
            .execute(
                "INSERT INTO relative_transfers (authoriser, beneficiary, relation, amount_fen, code_salt, code_hash, expires_at, state, notification_id,
                    commitment_accepted_at, actor, channel, business_date, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?9, ?10, ?11, ?12, ?13)",
                params![
                    r.authoriser,
                    r.beneficiary,
                    r.relation,
                    r.amount.fen(),
                    r.code_salt,
                    r.code_hash,
                    r.expires_at.to_rfc3339(),
                    r.notification_id,
                    r.commitment_accepted_at.to_rfc3339(),
                    r.actor,
                    r.channel,
                    date_text(r.business_date),
                    r.created_at.to_rfc3339()
                ],
            )
            .map_err(backend)?;
        Ok(self.conn.last_insert_rowid())
    }

    fn relative_transfer(&mut self, id: i64) -> StoreResult<Option<RelativeTransferRecord>> {
        type Row = (
            String,
            String,
            String,
            i64,
            String,
            String,
            String,
            i64,
            String,
            Option<i64>,
            Option<i64>,
            String,
            String,
            String,
            String,
            String,
            Option<String>,
        );
        let row: Option<Row> = self
            .conn
            .query_row(
                "SELECT authoriser, beneficiary, relation, amount_fen, code_salt, code_hash, expires_at, attempts, state, notification_id, entry_id,
                        commitment_accepted_at, actor, channel, business_date, created_at, finished_at
                 FROM relative_transfers WHERE id = ?1",
                [id],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                        r.get(9)?,
                        r.get(10)?,
                        r.get(11)?,
                        r.get(12)?,
                        r.get(13)?,
                        r.get(14)?,
                        r.get(15)?,
                        r.get(16)?,
                    ))
                },
            )
            .optional()
            .map_err(backend)?;
        let Some((
            authoriser,
            beneficiary,
            relation,
            fen,
            salt,
            hash,
            expires,
            attempts,
            state,
            notification_id,
            entry_id,
            accepted,
            actor,
            channel,
            day,
            at,
            finished,
        )) = row
        else {
            return Ok(None);
        };
        Ok(Some(RelativeTransferRecord {
            id,
            request: NewRelativeTransfer {
                authoriser,
                beneficiary,
                relation,
                amount: Money::from_fen(fen),
                code_salt: salt,
                code_hash: hash,
                expires_at: parse_instant(&expires)?,
                notification_id,
                commitment_accepted_at: parse_instant(&accepted)?,
                actor,
                channel,
                business_date: parse_date(&day)?,
                created_at: parse_instant(&at)?,
            },
            attempts: attempts as u32,
            state,
            entry_id,
            finished_at: finished.as_deref().map(parse_instant).transpose()?,
        }))
    }

    fn update_relative_transfer(&mut self, id: i64, state: &str, attempts: u32, entry_id: Option<i64>, at: DateTime<Utc>) -> StoreResult<()> {
        let finished = (state != "pending").then(|| at.to_rfc3339());
        self.conn
            .execute(
                "UPDATE relative_transfers SET state = ?1, attempts = ?2, entry_id = COALESCE(?3, entry_id), finished_at = ?4 WHERE id = ?5",
                params![state, attempts, entry_id, finished, id],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn insert_association(&mut self, a: &NewAssociation) -> StoreResult<i64> {
        self.conn
            .execute(
                "INSERT INTO associations (binder, relative, relation, area, actor, channel, business_date, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![a.binder, a.relative, a.relation, a.area.as_str(), a.actor, a.channel, date_text(a.business_date), a.recorded_at.to_rfc3339()],
            )
            .map_err(backend)?;
        Ok(self.conn.last_insert_rowid())
    }

    fn end_association(&mut self, id: i64, provenance: &Provenance) -> StoreResult<bool> {
        let changed = self
            .conn
            .execute(
                "UPDATE associations SET ended_by = ?1, ended_channel = ?2, ended_date = ?3, ended_at = ?4 WHERE id = ?5 AND ended_at IS NULL",
                params![actor_text(provenance), provenance.channel.as_str(), date_text(provenance.business_date), provenance.recorded_at.to_rfc3339(), id],
            )
            .map_err(backend)?;
        Ok(changed == 1)
    }

    fn associations_of(&mut self, psn_no: &str) -> StoreResult<Vec<Association>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, binder, relative, relation, area, actor, channel, business_date, recorded_at FROM associations
                 WHERE (binder = ?1 OR relative = ?1) AND ended_at IS NULL ORDER BY id",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map([psn_no], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, String>(8)?,
                ))
            })
            .map_err(backend)?;
        let mut bindings = Vec::new();
        for row in rows {
            let (id, binder, relative, relation, area, actor, channel, day, at) = row.map_err(backend)?;
            bindings.push(Association {
                id,
                association: NewAssociation {
                    binder,
                    relative,
                    relation,
                    area: AreaCode::parse(&area).map_err(|_| corrupt("area", &area))?,
                    actor,
                    channel,
                    business_date: parse_date(&day)?,
                    recorded_at: parse_instant(&at)?,
                },
                ended: None,
            });
        }
        Ok(bindings)
    }

    fn insert_quota(&mut self, q: &QuotaRecord) -> StoreResult<i64> {
        self.conn
            .execute(
                "INSERT INTO quotas (uid, side, donor, donor_area, relative, relative_area, relative_name, relative_id_number, relation, state,
                    granted_fen, used_fen, returned_fen, actor, channel, business_date, created_at, ended_at, end_reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
                params![
                    q.uid,
                    q.side,
                    q.donor,
                    q.donor_area.as_str(),
                    q.relative,
                    q.relative_area.as_str(),
                    q.relative_name,
                    q.relative_id_number,
                    q.relation,
                    q.state,
                    q.granted.fen(),
                    q.used.fen(),
                    q.returned.fen(),
                    q.actor,
                    q.channel,
                    date_text(q.business_date),
                    q.created_at.to_rfc3339(),
                    q.ended_at.map(|t| t.to_rfc3339()),
                    q.end_reason
                ],
            )
            .map_err(backend)?;
        Ok(self.conn.last_insert_rowid())
    }

    fn quota(&mut self, uid: &str, side: &str) -> StoreResult<Option<QuotaRecord>> {
        let sql = format!("SELECT {QUOTA_COLUMNS} FROM quotas WHERE uid = ?1 AND side = ?2");
        let row = self.conn.query_row(&sql, [uid, side], quota_row).optional().map_err(backend)?;
        row.map(quota_from_row).transpose()
    }

    fn quotas_of(&mut self, psn_no: &str) -> StoreResult<Vec<QuotaRecord>> {
        let sql = format!(
            "SELECT {QUOTA_COLUMNS} FROM quotas WHERE (donor = ?1 AND side IN ('local', 'donor')) OR (relative = ?1 AND side IN ('local', 'relative')) ORDER BY id"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(backend)?;
        let rows = stmt.query_map([psn_no], quota_row).map_err(backend)?;
        rows.map(|row| row.map_err(backend).and_then(quota_from_row)).collect()
    }

    fn update_quota(&mut self, q: &QuotaRecord) -> StoreResult<()> {
        let changed = self
            .conn
            .execute(
                "UPDATE quotas SET relative = ?1, state = ?2, granted_fen = ?3, used_fen = ?4, returned_fen = ?5, ended_at = ?6, end_reason = ?7
                 WHERE uid = ?8 AND side = ?9",
                params![q.relative, q.state, q.granted.fen(), q.used.fen(), q.returned.fen(), q.ended_at.map(|t| t.to_rfc3339()), q.end_reason, q.uid, q.side],
            )
            .map_err(backend)?;
        if changed != 1 {
            return Err(StoreError::Backend(format!("no quota {} ({})", q.uid, q.side)));
        }
        Ok(())
    }

    fn insert_quota_event(&mut self, e: &QuotaEvent) -> StoreResult<()> {
        self.conn
            .execute(
                "INSERT INTO quota_events (quota_uid, side, kind, amount_fen, reference, local_date, entry_id, actor, channel, business_date, recorded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    e.quota_uid,
                    e.side,
                    e.kind,
                    e.amount.fen(),
                    e.reference,
                    date_text(e.local_date),
                    e.entry_id,
                    e.actor,
                    e.channel,
                    date_text(e.business_date),
                    e.recorded_at.to_rfc3339()
                ],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn quota_events(&mut self, reference: &str) -> StoreResult<Vec<QuotaEvent>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT quota_uid, side, kind, amount_fen, reference, local_date, entry_id, actor, channel, business_date, recorded_at
                 FROM quota_events WHERE reference = ?1 ORDER BY id",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map([reference], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, Option<i64>>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, String>(8)?,
                    r.get::<_, String>(9)?,
                    r.get::<_, String>(10)?,
                ))
            })
            .map_err(backend)?;
        let mut events = Vec::new();
        for row in rows {
            let (quota_uid, side, kind, fen, reference, local, entry_id, actor, channel, day, at) = row.map_err(backend)?;
            events.push(QuotaEvent {
                quota_uid,
                side,
                kind,
                amount: Money::from_fen(fen),
                reference,
                local_date: parse_date(&local)?,
                entry_id,
                actor,
                channel,
                business_date: parse_date(&day)?,
                recorded_at: parse_instant(&at)?,
            });
        }
        Ok(events)
    }

    fn quota_grants_on(&mut self, donor: &str, local_date: NaiveDate) -> StoreResult<u32> {
        let count: i64 = self
            .conn
            .query_row(
                "SELECT COUNT(*) FROM quota_events e JOIN quotas q ON q.uid = e.quota_uid AND q.side = e.side
                 WHERE e.kind = 'grant' AND e.local_date = ?1 AND q.donor = ?2 AND q.side IN ('local', 'donor')",
                params![date_text(local_date), donor],
                |r| r.get(0),
            )
            .map_err(backend)?;
        Ok(count as u32)
    }

    fn insert_area_message(&mut self, m: &AreaMessage) -> StoreResult<()> {
        self.conn
            .execute(
                "INSERT INTO area_outbox (id, from_area, to_area, kind, quota_uid, amount_fen, donor, donor_area, relative, relative_name, relative_id_number,
                    relation, reason, business_date, created_at, state)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 'pending')",
                params![
                    m.id,
                    m.from_area.as_str(),
                    m.to_area.as_str(),
                    m.kind,
                    m.quota_uid,
                    m.amount.fen(),
                    m.donor,
                    m.donor_area.as_str(),
                    m.relative,
                    m.relative_name,
                    m.relative_id_number,
                    m.relation,
                    m.reason,
                    date_text(m.business_date),
                    m.created_at.to_rfc3339()
                ],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn area_messages(&mut self, state: &str, limit: usize) -> StoreResult<Vec<OutboxMessage>> {
        let sql = format!("SELECT {AREA_MESSAGE_COLUMNS} FROM area_outbox WHERE state = ?1 ORDER BY seq LIMIT ?2");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(backend)?;
        let rows = stmt.query_map(params![state, limit as i64], area_message_row).map_err(backend)?;
        rows.map(|row| row.map_err(backend).and_then(area_message_from_row)).collect()
    }

    fn area_message(&mut self, id: &str) -> StoreResult<Option<OutboxMessage>> {
        let sql = format!("SELECT {AREA_MESSAGE_COLUMNS} FROM area_outbox WHERE id = ?1");
        let row = self.conn.query_row(&sql, [id], area_message_row).optional().map_err(backend)?;
        row.map(area_message_from_row).transpose()
    }

    fn answer_area_message(&mut self, id: &str, state: &str, answer: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let changed = self
            .conn
            .execute(
                "UPDATE area_outbox SET state = ?1, answer = ?2, answered_at = ?3 WHERE id = ?4 AND state = 'pending'",
                params![state, answer, at.to_rfc3339(), id],
            )
            .map_err(backend)?;
        Ok(changed == 1)
    }

    fn inbox_record(&mut self, message_id: &str) -> StoreResult<Option<InboxRecord>> {
        let row: Option<(String, String, String, Option<String>, String, Option<String>, String)> = self
            .conn
            .query_row("SELECT from_area, kind, outcome, code, detail, relative, applied_at FROM area_inbox WHERE message_id = ?1", [message_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
            })
            .optional()
            .map_err(backend)?;
        row.map(|(from_area, kind, outcome, code, detail, relative, at)| {
            Ok(InboxRecord {
                message_id: message_id.to_string(),
                from_area: AreaCode::parse(&from_area).map_err(|_| corrupt("area", &from_area))?,
                kind,
                outcome,
                code,
                detail,
                relative,
                applied_at: parse_instant(&at)?,
            })
        })
        .transpose()
    }

    fn insert_inbox_record(&mut self, r: &InboxRecord) -> StoreResult<()> {
        self.conn
            .execute(
                "INSERT INTO area_inbox (message_id, from_area, kind, outcome, code, detail, relative, applied_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![r.message_id, r.from_area.as_str(), r.kind, r.outcome, r.code, r.detail, r.relative, r.applied_at.to_rfc3339()],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn insert_clearing(&mut self, c: &ClearingRecord) -> StoreResult<()> {
        self.conn
            .execute(
                "INSERT INTO clearing (message_id, direction, area, counterparty, kind, quota_uid, amount_fen, state, entry_id, business_date, recorded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    c.message_id,
                    c.direction,
                    c.area.as_str(),
                    c.counterparty.as_str(),
                    c.kind,
                    c.quota_uid,
                    c.amount.fen(),
                    c.state,
                    c.entry_id,
                    date_text(c.business_date),
                    c.recorded_at.to_rfc3339()
                ],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn settle_clearing(&mut self, message_id: &str, direction: &str, state: &str) -> StoreResult<bool> {
        let changed = self
            .conn
            .execute("UPDATE clearing SET state = ?1 WHERE message_id = ?2 AND direction = ?3 AND state = 'pending'", params![state, message_id, direction])
            .map_err(backend)?;
        Ok(changed == 1)
    }

    fn clearing_records(&mut self) -> StoreResult<Vec<ClearingRecord>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT message_id, direction, area, counterparty, kind, quota_uid, amount_fen, state, entry_id, business_date, recorded_at
                 FROM clearing ORDER BY recorded_at, message_id, direction",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, Option<i64>>(8)?,
                    r.get::<_, String>(9)?,
                    r.get::<_, String>(10)?,
                ))
            })
            .map_err(backend)?;
        let mut records = Vec::new();
        for row in rows {
            let (message_id, direction, area, counterparty, kind, quota_uid, fen, state, entry_id, day, at) = row.map_err(backend)?;
            records.push(ClearingRecord {
                message_id,
                direction,
                area: AreaCode::parse(&area).map_err(|_| corrupt("area", &area))?,
                counterparty: AreaCode::parse(&counterparty).map_err(|_| corrupt("area", &counterparty))?,
                kind,
                quota_uid,
                amount: Money::from_fen(fen),
                state,
                entry_id,
                business_date: parse_date(&day)?,
                recorded_at: parse_instant(&at)?,
            });
        }
        Ok(records)
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

// Family models (§7, §8, §15)
const NOTIFICATION_COLUMNS: &str =
    "id, kind, psn_no, recipient, body, secret, reference, state, attempts, last_error, claim, claimed_at, finished_at, created_at";

type NotificationRow =
    (i64, String, String, String, String, Option<String>, String, String, i64, Option<String>, Option<String>, Option<String>, Option<String>, String);

fn notification_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<NotificationRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
        r.get(12)?,
        r.get(13)?,
    ))
}

fn notification_from_row(row: NotificationRow) -> StoreResult<Notification> {
    let (id, kind, psn_no, recipient, body, secret, reference, state, attempts, last_error, claim, claimed_at, finished_at, created_at) = row;
    Ok(Notification {
        id,
        notification: NewNotification { kind, psn_no, recipient, body, secret, reference, created_at: parse_instant(&created_at)? },
        state,
        attempts: attempts as u32,
        last_error,
        claim,
        claimed_at: claimed_at.as_deref().map(parse_instant).transpose()?,
        finished_at: finished_at.as_deref().map(parse_instant).transpose()?,
    })
}

const QUOTA_COLUMNS: &str = "id, uid, side, donor, donor_area, relative, relative_area, relative_name, relative_id_number, relation, state,
    granted_fen, used_fen, returned_fen, actor, channel, business_date, created_at, ended_at, end_reason";

/// A quota row as read, before its text is checked.
struct QuotaRow {
    id: i64,
    /// uid, side, donor, donor_area, relative_area, relative_name, relative_id_number, relation,
    /// state, actor, channel, business_date, created_at
    text: [String; 13],
    relative: Option<String>,
    /// granted, used, returned
    fen: [i64; 3],
    ended_at: Option<String>,
    end_reason: Option<String>,
}

fn quota_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<QuotaRow> {
    Ok(QuotaRow {
        id: r.get(0)?,
        text: [
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(6)?,
            r.get(7)?,
            r.get(8)?,
            r.get(9)?,
            r.get(10)?,
            r.get(14)?,
            r.get(15)?,
            r.get(16)?,
            r.get(17)?,
        ],
        relative: r.get(5)?,
        fen: [r.get(11)?, r.get(12)?, r.get(13)?],
        ended_at: r.get(18)?,
        end_reason: r.get(19)?,
    })
}

fn quota_from_row(row: QuotaRow) -> StoreResult<QuotaRecord> {
    let [uid, side, donor, donor_area, relative_area, relative_name, relative_id_number, relation, state, actor, channel, day, created_at] = row.text;
    Ok(QuotaRecord {
        id: row.id,
        donor_area: AreaCode::parse(&donor_area).map_err(|_| corrupt("area", &donor_area))?,
        relative_area: AreaCode::parse(&relative_area).map_err(|_| corrupt("area", &relative_area))?,
        relative: row.relative,
        granted: Money::from_fen(row.fen[0]),
        used: Money::from_fen(row.fen[1]),
        returned: Money::from_fen(row.fen[2]),
        business_date: parse_date(&day)?,
        created_at: parse_instant(&created_at)?,
        ended_at: row.ended_at.as_deref().map(parse_instant).transpose()?,
        end_reason: row.end_reason,
        uid,
        side,
        donor,
        relative_name,
        relative_id_number,
        relation,
        state,
        actor,
        channel,
    })
}

const AREA_MESSAGE_COLUMNS: &str = "id, from_area, to_area, kind, quota_uid, amount_fen, donor, donor_area, relative, relative_name, relative_id_number,
    relation, reason, business_date, created_at, state, answer, answered_at";

/// An outbox row as read: text columns in order (relative, answer and answered_at apart).
struct AreaMessageRow {
    /// id, from_area, to_area, kind, quota_uid, donor, donor_area, relative_name,
    /// relative_id_number, relation, reason, business_date, created_at, state
    text: [String; 14],
    amount_fen: i64,
    relative: Option<String>,
    answer: Option<String>,
    answered_at: Option<String>,
}

fn area_message_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AreaMessageRow> {
    Ok(AreaMessageRow {
        text: [
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(6)?,
            r.get(7)?,
            r.get(9)?,
            r.get(10)?,
            r.get(11)?,
            r.get(12)?,
            r.get(13)?,
            r.get(14)?,
            r.get(15)?,
        ],
        amount_fen: r.get(5)?,
        relative: r.get(8)?,
        answer: r.get(16)?,
        answered_at: r.get(17)?,
    })
}

fn area_message_from_row(row: AreaMessageRow) -> StoreResult<OutboxMessage> {
    let [id, from_area, to_area, kind, quota_uid, donor, donor_area, relative_name, relative_id_number, relation, reason, day, created_at, state] = row.text;
    let area = |text: &str| AreaCode::parse(text).map_err(|_| corrupt("area", text));
    Ok(OutboxMessage {
        message: AreaMessage {
            from_area: area(&from_area)?,
            to_area: area(&to_area)?,
            donor_area: area(&donor_area)?,
            amount: Money::from_fen(row.amount_fen),
            relative: row.relative,
            business_date: parse_date(&day)?,
            created_at: parse_instant(&created_at)?,
            id,
            kind,
            quota_uid,
            donor,
            relative_name,
            relative_id_number,
            relation,
            reason,
        },
        state,
        answer: row.answer,
        answered_at: row.answered_at.as_deref().map(parse_instant).transpose()?,
    })
}
