//! The SQLite store: one file in WAL mode with `synchronous=FULL` (a commit survives power
//! loss), or an in-memory database for scenario runs and tests. Writers are serialised with
//! `BEGIN IMMEDIATE`; several processes may share one file (busy timeout).
//!
//! This file holds the store, its transactions, the migrations and the helpers of every
//! capability; each capability's impl is in its own file (`persons.rs`, `ledger.rs`, …).

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use gongji_core::interest::BalanceProduct;
use gongji_core::ledger::{JournalEntry, Provenance};
use gongji_core::network::{MemberState, Network};
use gongji_core::settlement::YearTotals;
use gongji_core::{AccountRef, AreaCode, Money, Person, PersonAccount, PersonStatus, VisitType};
use rusqlite::types::FromSql;
use rusqlite::{params, Connection, OptionalExtension, Params, Row, Statement, TransactionBehavior};

use crate::rows::{self, actor_text, bad_column, date_text, fen_days_i64, parse_area, parse_date, parse_instant, parse_person_account, Columns};
use crate::*;

mod family;
mod jobs;
mod ledger;
mod networks;
mod persons;
mod settlements;
mod tokens;

/// Migrations embedded in the binary, applied in order, each once.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../../migrations/sqlite/0002_tokens.sql")),
    (3, include_str!("../../migrations/sqlite/0003_jobs.sql")),
    (4, include_str!("../../migrations/sqlite/0004_family_models.sql")),
    (5, include_str!("../../migrations/sqlite/0005_resettlement.sql")),
    (6, include_str!("../../migrations/sqlite/0006_demo_mark.sql")),
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
        let broken = conn.query_row("PRAGMA foreign_key_check", [], |r| Ok(column::<String>(r, "table"))).optional().map_err(backend)?.transpose()?;
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
        let applied: bool = tx
            .query_row("SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?1) AS applied", [version], |r| Ok(column(r, "applied")))
            .map_err(backend)??;
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

/// A failure of SQLite itself (a statement that does not prepare or run, a lock, a constraint);
/// a value that does not read back is [`column`]'s `Corrupt`.
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

/// The column `name` of `row`: a missing column or a value of another type is `Corrupt`.
fn column<T: FromSql>(row: &Row<'_>, name: &str) -> StoreResult<T> {
    row.get(name).map_err(|e| bad_column(name, e))
}

/// SQLite keeps dates and instants as text; they are parsed here.
impl Columns for Row<'_> {
    fn text(&self, name: &str) -> StoreResult<String> {
        column(self, name)
    }

    fn opt_text(&self, name: &str) -> StoreResult<Option<String>> {
        column(self, name)
    }

    fn int(&self, name: &str) -> StoreResult<i64> {
        column(self, name)
    }

    fn opt_int(&self, name: &str) -> StoreResult<Option<i64>> {
        column(self, name)
    }

    fn int4(&self, name: &str) -> StoreResult<i64> {
        column(self, name)
    }

    fn attempts(&self, name: &str) -> StoreResult<u32> {
        column::<i64>(self, name).map(|n| n as u32)
    }

    fn date(&self, name: &str) -> StoreResult<NaiveDate> {
        parse_date(&column::<String>(self, name)?)
    }

    fn opt_date(&self, name: &str) -> StoreResult<Option<NaiveDate>> {
        column::<Option<String>>(self, name)?.as_deref().map(parse_date).transpose()
    }

    fn instant(&self, name: &str) -> StoreResult<DateTime<Utc>> {
        parse_instant(&column::<String>(self, name)?)
    }

    fn opt_instant(&self, name: &str) -> StoreResult<Option<DateTime<Utc>>> {
        column::<Option<String>>(self, name)?.as_deref().map(parse_instant).transpose()
    }
}

/// Every row `stmt` selects, each read by `read`.
fn read_all<T, P: Params>(stmt: &mut Statement<'_>, params: P, mut read: impl FnMut(&Row<'_>) -> StoreResult<T>) -> StoreResult<Vec<T>> {
    let mut rows = stmt.query(params).map_err(backend)?;
    let mut all = Vec::new();
    while let Some(row) = rows.next().map_err(backend)? {
        all.push(read(row)?);
    }
    Ok(all)
}

// Every statement runs through the connection's statement cache: preparing SQL costs more than
// running it, and every statement here runs many times a second.
impl SqliteTx<'_> {
    fn exec<P: Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.conn.prepare_cached(sql)?.execute(params)
    }

    /// The first row `sql` selects, read by `read`; `None` when it selects none.
    fn first<T, P: Params>(&self, sql: &str, params: P, read: impl FnOnce(&Row<'_>) -> StoreResult<T>) -> StoreResult<Option<T>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(backend)?;
        let mut rows = stmt.query(params).map_err(backend)?;
        rows.next().map_err(backend)?.map(read).transpose()
    }

    /// The row `sql` must select (an aggregate, a row known to exist).
    fn one<T, P: Params>(&self, sql: &str, params: P, read: impl FnOnce(&Row<'_>) -> StoreResult<T>) -> StoreResult<T> {
        self.first(sql, params, read)?.ok_or_else(|| backend(rusqlite::Error::QueryReturnedNoRows))
    }

    /// Every row `sql` selects, each read by `read`.
    fn all<T, P: Params>(&self, sql: &str, params: P, read: impl FnMut(&Row<'_>) -> StoreResult<T>) -> StoreResult<Vec<T>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(backend)?;
        read_all(&mut stmt, params, read)
    }

    /// The account's row id, creating the account on first use.
    fn account_id(&self, account: &AccountRef, day: NaiveDate) -> StoreResult<i64> {
        let key = account.key();
        if let Some(id) = self.first("SELECT id FROM accounts WHERE account_key = ?1", [&key], |r| r.int("id"))? {
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
}
