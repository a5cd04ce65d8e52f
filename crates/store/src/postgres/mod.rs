//! The PostgreSQL store: what an agency runs in production, selected by a `postgres://` URL.
//!
//! Isolation: every transaction is `REPEATABLE READ` (snapshot isolation). A transaction that
//! changes a row another transaction changed and committed after its snapshot fails with a
//! serialisation failure (first updater wins); [`Store::write`] then rolls back and runs the
//! closure again on a fresh snapshot, at most [`TX_RETRIES_MAX`] times. Every balance decision
//! of the engine is followed by an update of the row it read (the account's balance row), so
//! a decision taken on a stale balance never commits: ST9 holds across connections and
//! processes. Where a rule spans rows that the deciding transaction does not otherwise update,
//! the conflict is made explicit: a membership change bumps its network's `revision` and
//! touches the member's person row (N3–N5 against concurrent changes), and every insert that
//! may race on a unique key uses `ON CONFLICT DO NOTHING`, which under this isolation reports a
//! concurrent committed insert as a serialisation failure (retried) and a visible one as a
//! duplicate (`DuplicateKey`/`AlreadyExists`) without aborting the transaction.
//! `SERIALIZABLE` was tried in design and rejected: its predicate locks on B-tree pages make
//! nearly every pair of concurrent settlements (reading and inserting neighbouring bill ids) a
//! false conflict.
//!
//! Hot rows: a system account that may go negative (pooled fund, clearing, patient cash, …) is
//! moved by every settlement of its area. Its balance is spread over `account_balances` rows,
//! one per writer connection (shard), so concurrent settlements do not queue behind one row
//! lock until commit; its balance is the sum of its rows. Guarded accounts (person accounts,
//! refund holding, liquidation payable) have one row, shard 0, with a `CHECK` that it is not
//! negative.
//!
//! Connections: a small pool ([`POOL_CONNECTIONS_MAX`]); each keeps its prepared statements.
//! The `postgres` crate is synchronous (it drives tokio-postgres on a private runtime), which
//! fits the synchronous engine; async callers (the HTTP server) call the engine from
//! `spawn_blocking`.
//!
//! This file holds the store, its pool, transactions and retries, the migrations, the
//! transaction cache and the helpers of every capability; each capability's impl is in its own
//! file (`persons.rs`, `ledger.rs`, …).

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use ::postgres as pg;
use chrono::{DateTime, NaiveDate, Utc};
use gongji_core::interest::BalanceProduct;
use gongji_core::ledger::{JournalEntry, Provenance};
use gongji_core::network::{MemberState, Network};
use gongji_core::settlement::YearTotals;
use gongji_core::{AccountRef, AreaCode, Money, Person, PersonAccount, PersonStatus, VisitType};
use pg::error::SqlState;
use pg::types::ToSql;
use pg::{Client, NoTls, Row, Statement};

use crate::rows::{self, actor_text, bad_column, fen_days_i64, parse_person_account, Columns};
use crate::*;

mod family;
mod jobs;
mod ledger;
mod networks;
mod persons;
mod settlements;
mod tokens;

/// Migrations embedded in the binary, applied in order, each once; the same versions as the
/// SQLite ones (`migrations/sqlite/`), in PostgreSQL types.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_init.sql")),
    (2, include_str!("../../migrations/postgres/0002_tokens.sql")),
    (3, include_str!("../../migrations/postgres/0003_jobs.sql")),
    (4, include_str!("../../migrations/postgres/0004_family_models.sql")),
    (5, include_str!("../../migrations/postgres/0005_resettlement.sql")),
    (6, include_str!("../../migrations/postgres/0006_demo_mark.sql")),
];

/// Connections one `PgStore` keeps open at most; more threads wait for a free one.
pub const POOL_CONNECTIONS_MAX: usize = 16;

/// Balance rows a may-go-negative system account is spread over (see the module doc).
pub const BALANCE_SHARDS: i16 = 32;

/// How long a caller waits for a free pooled connection before reporting `Busy`.
const POOL_WAIT_MAX: Duration = Duration::from_secs(60);

/// Failed attempts after which a transaction queues behind the retry lock before its next one.
const TX_RETRIES_BEFORE_QUEUE: u32 = 3;

/// Key of the session advisory lock that queues transactions which lost several races.
const RETRY_QUEUE_LOCK_KEY: i64 = 0x6f6e_676a_6901;

/// Key of the advisory lock that serialises migrations of one database between processes.
const MIGRATION_LOCK_KEY: i64 = 0x6f6e_676a_6900;

/// Does this text select the PostgreSQL backend (`postgres://…` or `postgresql://…`)?
pub fn is_postgres_url(text: &str) -> bool {
    text.starts_with("postgres://") || text.starts_with("postgresql://")
}

pub struct PgStore {
    config: pg::Config,
    pool: Mutex<Pool>,
    returned: Condvar,
    description: String,
    /// Hands out shards to new connections of this store, starting at a per-process offset.
    next_shard: AtomicU32,
}

struct Pool {
    idle: Vec<PgConn>,
    open: usize,
}

struct PgConn {
    client: Client,
    /// Prepared statements of this connection, by the address of their `'static` SQL text.
    statements: HashMap<(usize, usize), Statement>,
    shard: i16,
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/dbname`) and applies pending migrations.
    pub fn connect(url: &str) -> StoreResult<PgStore> {
        let config = pg::Config::from_str(url).map_err(|e| StoreError::Backend(format!("database URL: {e}")))?;
        PgStore::with_config(config)
    }

    pub fn with_config(config: pg::Config) -> StoreResult<PgStore> {
        let store = PgStore {
            description: describe_config(&config),
            config,
            // The connection opened below for the migrations joins the pool: it is counted.
            pool: Mutex::new(Pool { idle: Vec::new(), open: 1 }),
            returned: Condvar::new(),
            next_shard: AtomicU32::new(std::process::id()),
        };
        let mut conn = store.open_connection()?;
        migrate(&mut conn.client)?;
        store.give_back(conn);
        Ok(store)
    }

    fn open_connection(&self) -> StoreResult<PgConn> {
        let mut client = self.config.connect(NoTls).map_err(|e| StoreError::Backend(format!("connecting to {}: {e}", self.description)))?;
        // Short OLTP statements: JIT compilation (triggered by cost estimates that stale
        // statistics inflate after a bulk load) would cost more than it saves.
        client.batch_execute("SET jit = off").map_err(|e| StoreError::Backend(format!("configuring the connection: {e}")))?;
        let shard = (self.next_shard.fetch_add(1, Ordering::Relaxed) % BALANCE_SHARDS as u32) as i16;
        Ok(PgConn { client, statements: HashMap::new(), shard })
    }

    fn take(&self) -> StoreResult<PgConn> {
        let mut pool = self.pool.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        loop {
            if let Some(conn) = pool.idle.pop() {
                return Ok(conn);
            }
            if pool.open < POOL_CONNECTIONS_MAX {
                pool.open += 1;
                drop(pool);
                return self.open_connection().inspect_err(|_| self.forget());
            }
            let (next, timeout) = self.returned.wait_timeout(pool, POOL_WAIT_MAX).unwrap_or_else(|poisoned| poisoned.into_inner());
            if timeout.timed_out() && next.idle.is_empty() {
                return Err(StoreError::Busy);
            }
            pool = next;
        }
    }

    fn give_back(&self, conn: PgConn) {
        let mut pool = self.pool.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        pool.idle.push(conn);
        drop(pool);
        self.returned.notify_one();
    }

    /// A connection that was lost (broken, or dropped mid-transaction by a panic).
    fn forget(&self) {
        let mut pool = self.pool.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        debug_assert!(pool.open > 0, "a connection forgotten that was never counted");
        pool.open = pool.open.saturating_sub(1);
        drop(pool);
        self.returned.notify_one();
    }

    fn run<R, E: From<StoreError>>(&self, commit: bool, mut work: impl FnMut(&mut dyn Tx) -> Result<R, E>) -> Result<R, E> {
        let mut lease = Lease { store: self, conn: Some(self.take()?) };
        for attempt in 0..=TX_RETRIES_MAX {
            let conn = lease.conn.as_mut().expect("leased connection");
            // After a few lost races, wait in line with the other unlucky ones (a session lock
            // taken before BEGIN, so the snapshot is taken after the wait): contenders of one
            // hot row then take turns instead of failing each other again and again.
            let queued = attempt >= TX_RETRIES_BEFORE_QUEUE;
            if queued {
                if let Err(err) = conn.client.batch_execute(&format!("SELECT pg_advisory_lock({RETRY_QUEUE_LOCK_KEY})")) {
                    lease.discard();
                    return Err(StoreError::Backend(format!("retry queue: {err}")).into());
                }
            }
            let outcome = PgStore::attempt(conn, commit, &mut work);
            if queued && !matches!(outcome, Attempt::Broken(_)) {
                if let Err(err) = conn.client.batch_execute(&format!("SELECT pg_advisory_unlock({RETRY_QUEUE_LOCK_KEY})")) {
                    lease.discard();
                    return Err(StoreError::Backend(format!("retry queue: {err}")).into());
                }
            }
            match outcome {
                Attempt::Done(result) => {
                    lease.give_back();
                    return result;
                }
                Attempt::Broken(err) => {
                    lease.discard();
                    return Err(err.into());
                }
                Attempt::Retry => std::thread::sleep(backoff(attempt)),
            }
        }
        lease.give_back();
        Err(StoreError::Busy.into())
    }

    /// One run of `work` in its own transaction.
    fn attempt<R, E: From<StoreError>>(conn: &mut PgConn, commit: bool, work: &mut impl FnMut(&mut dyn Tx) -> Result<R, E>) -> Attempt<Result<R, E>> {
        if let Err(err) = conn.client.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ") {
            return Attempt::Broken(StoreError::Backend(format!("begin: {err}")));
        }
        let mut tx = PgTx { conn, retry: false, cache: TxCache::default() };
        let outcome = work(&mut tx);
        let retry = tx.retry;
        match outcome {
            Ok(value) if commit && !retry => match conn.client.batch_execute("COMMIT") {
                Ok(()) => Attempt::Done(Ok(value)),
                Err(err) if is_retryable(&err) => Attempt::Retry,
                Err(err) => Attempt::Broken(StoreError::Backend(format!("commit: {err}"))),
            },
            other => match conn.client.batch_execute("ROLLBACK") {
                Err(err) => Attempt::Broken(StoreError::Backend(format!("rollback: {err}"))),
                Ok(()) if retry => Attempt::Retry,
                Ok(()) => Attempt::Done(other),
            },
        }
    }

    /// The number of connections open now (idle or in use).
    pub fn connections_open(&self) -> usize {
        self.pool.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).open
    }
}

enum Attempt<T> {
    Done(T),
    /// Serialisation failure or deadlock: rolled back, run again.
    Retry,
    /// The connection failed; it is closed.
    Broken(StoreError),
}

/// Exponential back-off with jitter (0.5 ms doubling to 64 ms, times 0.5–1.5), so that the same
/// racers do not meet again at once.
fn backoff(attempt: u32) -> Duration {
    let base_us = 500u64 << attempt.min(7);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let salt = u64::from(nanos) ^ (std::process::id() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    Duration::from_micros(base_us / 2 + salt % base_us.max(1))
}

/// A connection taken from the pool: goes back when done, is closed when dropped otherwise
/// (a panic inside `work` leaves it mid-transaction).
struct Lease<'a> {
    store: &'a PgStore,
    conn: Option<PgConn>,
}

impl Lease<'_> {
    fn give_back(&mut self) {
        if let Some(conn) = self.conn.take() {
            if conn.client.is_closed() {
                self.store.forget();
            } else {
                self.store.give_back(conn);
            }
        }
    }

    fn discard(&mut self) {
        if self.conn.take().is_some() {
            self.store.forget();
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        self.discard();
    }
}

impl Store for PgStore {
    fn write<R, E: From<StoreError>>(&self, work: impl FnMut(&mut dyn Tx) -> Result<R, E>) -> Result<R, E> {
        self.run(true, work)
    }

    fn read<R, E: From<StoreError>>(&self, work: impl FnMut(&mut dyn Tx) -> Result<R, E>) -> Result<R, E> {
        self.run(false, work)
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

fn describe_config(config: &pg::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(pg::config::Host::Tcp(host)) => host.clone(),
        #[cfg(unix)]
        Some(pg::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("postgres://{}@{host}:{port}/{}", config.get_user().unwrap_or(""), config.get_dbname().unwrap_or(""))
}

fn is_retryable(err: &pg::Error) -> bool {
    matches!(err.code(), Some(code) if *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED)
}

fn migrate(client: &mut Client) -> StoreResult<()> {
    let mut tx = client.transaction().map_err(|e| StoreError::Backend(format!("migrate: {e}")))?;
    let step = |tx: &mut pg::Transaction<'_>, sql: &str| tx.batch_execute(sql).map_err(|e| StoreError::Backend(format!("migrate: {e}")));
    step(&mut tx, &format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"))?;
    step(&mut tx, "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)")?;
    for (version, sql) in MIGRATIONS {
        let row = tx
            .query_one("SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1) AS applied", &[version])
            .map_err(|e| StoreError::Backend(format!("migrate: {e}")))?;
        let applied: bool = column(&row, "applied")?;
        if !applied {
            step(&mut tx, sql)?;
            tx.execute("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())", &[version])
                .map_err(|e| StoreError::Backend(format!("migrate {version}: {e}")))?;
        }
    }
    tx.commit().map_err(|e| StoreError::Backend(format!("migrate: {e}")))
}

/// A database created for one run (a test, a scenario file, a benchmark) on the server of an
/// administrative URL, and dropped when this value is dropped.
pub struct ScratchDatabase {
    admin: pg::Config,
    name: String,
    config: pg::Config,
}

static SCRATCH_SEQUENCE: AtomicUsize = AtomicUsize::new(0);

impl ScratchDatabase {
    /// Creates `<prefix>_<pid>_<n>_<nanos>` on the server of `admin_url` (a URL whose database
    /// the user may connect to, e.g. `postgres://postgres@127.0.0.1:5432/postgres`).
    pub fn create(admin_url: &str, prefix: &str) -> StoreResult<ScratchDatabase> {
        let admin = pg::Config::from_str(admin_url).map_err(|e| StoreError::Backend(format!("database URL: {e}")))?;
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let name = format!("{prefix}_{}_{}_{nanos}", std::process::id(), SCRATCH_SEQUENCE.fetch_add(1, Ordering::Relaxed));
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "scratch database names are plain identifiers");
        let mut client = admin.connect(NoTls).map_err(|e| StoreError::Backend(format!("connecting to {}: {e}", describe_config(&admin))))?;
        client.batch_execute(&format!("CREATE DATABASE {name}")).map_err(|e| StoreError::Backend(format!("CREATE DATABASE {name}: {e}")))?;
        let mut config = admin.clone();
        config.dbname(&name);
        Ok(ScratchDatabase { admin, name, config })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The URL of the scratch database (for a child process).
    pub fn url(&self) -> String {
        describe_config(&self.config)
    }

    /// A store on the scratch database (migrated).
    pub fn store(&self) -> StoreResult<PgStore> {
        PgStore::with_config(self.config.clone())
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        // WITH (FORCE) ends connections still open (a store leaked by a failed test).
        let dropped = self.admin.connect(NoTls).and_then(|mut client| client.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)));
        if let Err(err) = dropped {
            eprintln!("warning: could not drop scratch database {}: {err}", self.name);
        }
    }
}

struct PgTx<'a> {
    conn: &'a mut PgConn,
    /// Set when the database reported a serialisation failure or deadlock: the transaction is
    /// aborted and `run` will retry it, whatever the closure made of the error.
    retry: bool,
    cache: TxCache,
}

/// Rows this transaction already read, fetched together to save round trips: a person with
/// their account balances and products, a network with its members and their MUT balances.
/// Under snapshot isolation a read inside one transaction always returns the same answer
/// except for the transaction's own writes, so an entry is dropped when this transaction writes
/// it (`post`, `set_product`, `set_person_status`, `insert_person`) and everything is dropped
/// when a savepoint is rolled back.
#[derive(Default)]
struct TxCache {
    persons: HashMap<String, Option<Person>>,
    balances: HashMap<String, Money>,
    products: HashMap<String, Option<BalanceProduct>>,
}

impl TxCache {
    fn forget_account(&mut self, key: &str) {
        self.balances.remove(key);
        self.products.remove(key);
    }
}

/// The person accounts every person may have; one that has no row yet has balance zero.
const PERSON_ACCOUNTS: [PersonAccount; 3] = [PersonAccount::Cur, PersonAccount::His, PersonAccount::Mut];

type Params<'p> = [&'p (dyn ToSql + Sync)];

impl PgTx<'_> {
    fn statement(&mut self, sql: &'static str) -> StoreResult<Statement> {
        let key = (sql.as_ptr() as usize, sql.len());
        if let Some(statement) = self.conn.statements.get(&key) {
            return Ok(statement.clone());
        }
        let statement = self.conn.client.prepare(sql).map_err(|e| self.fail(e))?;
        self.conn.statements.insert(key, statement.clone());
        Ok(statement)
    }

    fn rows(&mut self, sql: &'static str, params: &Params<'_>) -> StoreResult<Vec<Row>> {
        let statement = self.statement(sql)?;
        self.conn.client.query(&statement, params).map_err(|e| self.fail(e))
    }

    fn opt(&mut self, sql: &'static str, params: &Params<'_>) -> StoreResult<Option<Row>> {
        let statement = self.statement(sql)?;
        self.conn.client.query_opt(&statement, params).map_err(|e| self.fail(e))
    }

    fn one(&mut self, sql: &'static str, params: &Params<'_>) -> StoreResult<Row> {
        let statement = self.statement(sql)?;
        self.conn.client.query_one(&statement, params).map_err(|e| self.fail(e))
    }

    fn exec(&mut self, sql: &'static str, params: &Params<'_>) -> StoreResult<u64> {
        let statement = self.statement(sql)?;
        self.conn.client.execute(&statement, params).map_err(|e| self.fail(e))
    }

    fn fail(&mut self, err: pg::Error) -> StoreError {
        if is_retryable(&err) {
            self.retry = true;
            return StoreError::Busy;
        }
        match err.as_db_error() {
            // Two transactions opened the same balance row at once (a first posting): the
            // loser retries and finds the row.
            Some(db) if *db.code() == SqlState::UNIQUE_VIOLATION && db.constraint() == Some("account_balances_pkey") => {
                self.retry = true;
                StoreError::Busy
            }
            Some(db) if *db.code() == SqlState::UNIQUE_VIOLATION => StoreError::AlreadyExists(db.message().to_string()),
            Some(db) if db.constraint() == Some("account_balances_not_negative") => StoreError::NegativeBalance(db.message().to_string()),
            Some(db) => StoreError::Backend(format!("{}: {}", db.code().code(), db.message())),
            None => StoreError::Backend(format!("{err}: {}", std::error::Error::source(&err).map(|s| s.to_string()).unwrap_or_default())),
        }
    }
}

/// The column `name` of `row`: a missing column, a NULL where a value must be, or a value of
/// another type is `Corrupt` (where `Row::get` would panic).
fn column<'a, T: pg::types::FromSql<'a>>(row: &'a Row, name: &str) -> StoreResult<T> {
    row.try_get(name).map_err(|e| match std::error::Error::source(&e) {
        Some(cause) => bad_column(name, format!("{e}: {cause}")),
        None => bad_column(name, e),
    })
}

impl Columns for Row {
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
        column::<i32>(self, name).map(i64::from)
    }

    fn attempts(&self, name: &str) -> StoreResult<u32> {
        column::<i32>(self, name).map(|n| n.max(0) as u32)
    }

    fn date(&self, name: &str) -> StoreResult<NaiveDate> {
        column(self, name)
    }

    fn opt_date(&self, name: &str) -> StoreResult<Option<NaiveDate>> {
        column(self, name)
    }

    fn instant(&self, name: &str) -> StoreResult<DateTime<Utc>> {
        column(self, name)
    }

    fn opt_instant(&self, name: &str) -> StoreResult<Option<DateTime<Utc>>> {
        column(self, name)
    }
}

/// The keys of a person's accounts of these kinds. Person accounts are looked up by key (unique
/// index: an estimate of one row whatever the statistics say), never by `owner`, whose estimate
/// before the first ANALYZE of a bulk-loaded table made plans scan every account per person.
fn person_account_keys(psn_no: &str, kinds: &[PersonAccount]) -> Vec<String> {
    kinds.iter().map(|kind| AccountRef::person(psn_no, *kind).key()).collect()
}

/// The daily-balance product of an account from its balance rows (balance, product): one row for
/// a guarded account; for a sharded one, the sum of every row's product accrued to the latest
/// date among them (the product is linear in the balance). `None` when it has no row.
fn sum_products(rows: &[(i64, BalanceProduct)]) -> Option<BalanceProduct> {
    let as_of = rows.iter().map(|(_, product)| product.as_of).max()?;
    let fen_days = rows.iter().map(|(balance, product)| product.accrue_to(Money::from_fen(*balance), as_of).fen_days).sum();
    Some(BalanceProduct { fen_days, as_of })
}
