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

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use ::postgres as pg;
use chrono::{DateTime, NaiveDate, Utc};
use gongji_core::interest::BalanceProduct;
use gongji_core::ledger::{EntryKind, JournalEntry, Provenance};
use gongji_core::network::{Member, MemberState, Network};
use gongji_core::settlement::{BillSplit, YearTotals};
use gongji_core::{AccountRef, AreaCode, IdNumber, InsuranceType, Money, Person, PersonAccount, PersonStatus, VisitType};
use pg::error::SqlState;
use pg::types::ToSql;
use pg::{Client, NoTls, Row, Statement};

use crate::*;

/// Migrations embedded in the binary, applied in order, each once; the same versions as the
/// SQLite ones (`migrations/sqlite/`), in PostgreSQL types.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/postgres/0001_init.sql")),
    (2, include_str!("../migrations/postgres/0002_tokens.sql")),
    (3, include_str!("../migrations/postgres/0003_jobs.sql")),
    (4, include_str!("../migrations/postgres/0004_family_models.sql")),
    (5, include_str!("../migrations/postgres/0005_resettlement.sql")),
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
            pool: Mutex::new(Pool { idle: Vec::new(), open: 0 }),
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
        pool.open -= 1;
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
        let applied = tx
            .query_one("SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)", &[version])
            .map_err(|e| StoreError::Backend(format!("migrate: {e}")))?
            .get::<_, bool>(0);
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

    /// Bumps a network's revision: two transactions that change one network conflict here.
    fn touch_network(&mut self, network_id: i64) -> StoreResult<()> {
        self.exec("UPDATE networks SET revision = revision + 1 WHERE id = $1", &[&network_id])?;
        Ok(())
    }

    /// A settlement header row with its lines and steps. Columns are read by name; a value of
    /// the wrong type is `Corrupt`, never a panic.
    fn settlement_of(&mut self, row: Option<Row>) -> StoreResult<Option<StoredSettlement>> {
        let Some(h) = row else { return Ok(None) };
        let id: i64 = column(&h, "id")?;
        let fen = |name: &str| column::<i64>(&h, name).map(Money::from_fen);
        let visit: String = column(&h, "visit")?;
        let attempt: i32 = column(&h, "attempt")?;
        let cancelled = match (column::<Option<i64>>(&h, "cancel_entry_id")?, column::<Option<NaiveDate>>(&h, "cancel_date")?) {
            (Some(entry), Some(day)) => Some((entry, day)),
            (None, None) => None,
            _ => return Err(StoreError::Corrupt(format!("settlement {id} has half a cancel"))),
        };
        let mut settlement = StoredSettlement {
            id,
            institution: column(&h, "institution")?,
            bill_id: column(&h, "bill_id")?,
            attempt: u32::try_from(attempt).map_err(|_| corrupt("attempt", &attempt.to_string()))?,
            patient: column(&h, "patient")?,
            visit: VisitType::parse(&visit).ok_or_else(|| corrupt("visit", &visit))?,
            bill_date: column(&h, "bill_date")?,
            fingerprint: column(&h, "fingerprint")?,
            policy_id: column(&h, "policy_id")?,
            policy_effective_from: column(&h, "policy_effective_from")?,
            network_id: column(&h, "network_id")?,
            split: BillSplit {
                fund_pay: fen("fund_pay_fen")?,
                self_borne: fen("self_borne_fen")?,
                first_self_pay: fen("first_self_pay_fen")?,
                self_funded: fen("self_funded_fen")?,
            },
            deductible_applied: fen("deductible_applied_fen")?,
            cash: fen("cash_fen")?,
            entry_id: column(&h, "entry_id")?,
            lines: Vec::new(),
            steps: Vec::new(),
            cancelled,
        };
        for r in self.rows("SELECT account_key, role, amount_fen FROM settlement_lines WHERE settlement_id = $1 ORDER BY seq", &[&id])? {
            let key: String = column(&r, "account_key")?;
            settlement.lines.push((parse_account(&key)?, column(&r, "role")?, Money::from_fen(column(&r, "amount_fen")?)));
        }
        for r in self.rows("SELECT account_key, role, amount_fen, code, rule, message FROM settlement_steps WHERE settlement_id = $1 ORDER BY seq", &[&id])? {
            settlement.steps.push(StoredStep {
                account: column(&r, "account_key")?,
                role: column(&r, "role")?,
                amount: Money::from_fen(column(&r, "amount_fen")?),
                code: column(&r, "code")?,
                rule: column(&r, "rule")?,
                message: column(&r, "message")?,
            });
        }
        Ok(Some(settlement))
    }

    fn load_network(&mut self, network_id: i64) -> StoreResult<Option<Network>> {
        let rows = self.rows(
            "SELECT n.area, n.promoter, m.psn_no, m.relation, m.state FROM networks n
             LEFT JOIN network_members m ON m.network_id = n.id AND m.state <> 'left'
             WHERE n.id = $1 AND n.dissolved_at IS NULL ORDER BY m.position, m.id",
            &[&network_id],
        )?;
        network_from_rows(network_id, &rows)
    }
}

fn network_from_rows(network_id: i64, rows: &[Row]) -> StoreResult<Option<Network>> {
    let Some(first) = rows.first() else { return Ok(None) };
    let area: String = first.get(0);
    let mut members = Vec::new();
    for row in rows {
        let Some(psn_no) = row.get::<_, Option<String>>(2) else { continue };
        let state: String = row.get(4);
        let state = MemberState::parse(&state).ok_or_else(|| corrupt("member state", &state))?;
        members.push(Member { psn_no, relation: row.get(3), state });
    }
    Ok(Some(Network { id: network_id, area: AreaCode::parse(&area).map_err(|_| corrupt("area", &area))?, promoter: first.get(1), members }))
}

/// The column `name` of `row`: a missing column or a value of another type is `Corrupt`.
fn column<'a, T: pg::types::FromSql<'a>>(row: &'a Row, name: &str) -> StoreResult<T> {
    row.try_get(name).map_err(|e| StoreError::Corrupt(format!("column {name}: {e}")))
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what}: {value:?}"))
}

fn parse_area(text: &str) -> StoreResult<AreaCode> {
    AreaCode::parse(text).map_err(|_| corrupt("area", text))
}

fn parse_account(key: &str) -> StoreResult<AccountRef> {
    AccountRef::parse_key(key).ok_or_else(|| corrupt("account key", key))
}

fn parse_entry_kind(text: &str) -> StoreResult<EntryKind> {
    EntryKind::parse(text).ok_or_else(|| corrupt("entry kind", text))
}

fn parse_status(text: &str) -> StoreResult<PersonStatus> {
    PersonStatus::parse(text).ok_or_else(|| corrupt("status", text))
}

fn actor_text(provenance: &Provenance) -> String {
    provenance.actor.to_string()
}

fn fen_days_i64(product: &BalanceProduct) -> StoreResult<i64> {
    i64::try_from(product.fen_days).map_err(|_| StoreError::Backend("balance product overflow".into()))
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

/// A person from the texts of the columns psn_no, name, id_number, area, insurance, phone, status.
fn person_from_texts(texts: &[Option<String>]) -> StoreResult<Person> {
    let text = |i: usize| texts.get(i).cloned().flatten().ok_or_else(|| StoreError::Corrupt("person row".into()));
    let psn_no = text(0)?;
    let (id_number, area, insurance, status) = (text(2)?, text(3)?, text(4)?, text(6)?);
    Ok(Person {
        id_number: IdNumber::parse(&id_number).map_err(|_| corrupt("id number of", &psn_no))?,
        area: parse_area(&area)?,
        insurance: InsuranceType::parse(&insurance).ok_or_else(|| corrupt("insurance", &insurance))?,
        status: parse_status(&status)?,
        name: text(1)?,
        phone: texts.get(5).cloned().flatten(),
        psn_no,
    })
}

fn person_from_row(row: &Row) -> StoreResult<Person> {
    let psn_no: String = row.get(0);
    let id_number: String = row.get(2);
    let area: String = row.get(3);
    let insurance: String = row.get(4);
    let status: String = row.get(6);
    Ok(Person {
        id_number: IdNumber::parse(&id_number).map_err(|_| corrupt("id number of", &psn_no))?,
        area: parse_area(&area)?,
        insurance: InsuranceType::parse(&insurance).ok_or_else(|| corrupt("insurance", &insurance))?,
        status: parse_status(&status)?,
        name: row.get(1),
        phone: row.get(5),
        psn_no,
    })
}

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
SELECT (SELECT count(*) FROM moved) + (SELECT count(*) FROM opened), (SELECT count(*) FROM posted),
    -- ST10: balances this entry took above their account's admitted maximum
    (SELECT count(*) FROM moved WHERE over_max)
        + (SELECT count(*) FROM opened o JOIN ids ON ids.account_id = o.account_id WHERE o.balance_fen > ids.balance_max)";

const SETTLEMENT_INSERT_SQL: &str = "
WITH header AS (
    INSERT INTO settlements (institution, bill_id, patient, visit, bill_date, fingerprint, policy_id, policy_effective_from, network_id,
        fund_pay_fen, self_borne_fen, first_self_pay_fen, self_funded_fen, deductible_applied_fen, cash_fen, entry_id, attempt)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $26)
    ON CONFLICT DO NOTHING
    RETURNING id
),
lines AS (
    INSERT INTO settlement_lines (settlement_id, seq, account_key, role, amount_fen)
    SELECT header.id, (t.ord - 1)::int, t.account_key, t.role, t.amount_fen
    FROM header, unnest($17::text[], $18::text[], $19::bigint[]) WITH ORDINALITY AS t(account_key, role, amount_fen, ord)
),
steps AS (
    INSERT INTO settlement_steps (settlement_id, seq, account_key, role, amount_fen, code, rule, message)
    SELECT header.id, (t.ord - 1)::int, t.account_key, t.role, t.amount_fen, t.code, t.rule, t.message
    FROM header, unnest($20::text[], $21::text[], $22::bigint[], $23::text[], $24::text[], $25::text[])
        WITH ORDINALITY AS t(account_key, role, amount_fen, code, rule, message, ord)
)
SELECT id FROM header";

impl PersonsTx for PgTx<'_> {
    fn insert_person(&mut self, person: &Person, provenance: &Provenance) -> StoreResult<()> {
        self.cache.persons.remove(&person.psn_no);
        let inserted = self.opt(
            "INSERT INTO persons (psn_no, name, id_number, area, insurance, phone, status, created_at, created_by, channel)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING RETURNING 1",
            &[
                &person.psn_no,
                &person.name,
                &person.id_number.as_str(),
                &person.area.as_str(),
                &person.insurance.as_str(),
                &person.phone,
                &person.status.as_str(),
                &provenance.recorded_at,
                &actor_text(provenance),
                &provenance.channel.as_str(),
            ],
        )?;
        match inserted {
            Some(_) => Ok(()),
            None => Err(StoreError::AlreadyExists(format!("person {} or ID number", person.psn_no))),
        }
    }

    fn person(&mut self, psn_no: &str) -> StoreResult<Option<Person>> {
        if let Some(person) = self.cache.persons.get(psn_no) {
            return Ok(person.clone());
        }
        // The person with the balance and product of each of their accounts, in one round trip.
        let rows = self.rows(
            "SELECT p.psn_no, p.name, p.id_number, p.area, p.insurance, p.phone, p.status, a.account_key, b.balance_fen, b.product_fen_days, b.product_as_of
             FROM persons p LEFT JOIN accounts a ON a.account_key = ANY ($2::text[]) LEFT JOIN account_balances b ON b.account_id = a.id
             WHERE p.psn_no = $1",
            &[&psn_no, &person_account_keys(psn_no, &PERSON_ACCOUNTS)],
        )?;
        let Some(first) = rows.first() else {
            self.cache.persons.insert(psn_no.to_string(), None);
            return Ok(None);
        };
        let person = person_from_row(first)?;
        let mut products: HashMap<String, Vec<(i64, BalanceProduct)>> = HashMap::new();
        for row in &rows {
            let (Some(key), Some(balance)) = (row.get::<_, Option<String>>(7), row.get::<_, Option<i64>>(8)) else { continue };
            products.entry(key).or_default().push((balance, BalanceProduct { fen_days: row.get::<_, i64>(9) as i128, as_of: row.get(10) }));
        }
        for kind in PERSON_ACCOUNTS {
            let key = AccountRef::person(psn_no, kind).key();
            let rows = products.remove(&key).unwrap_or_default();
            self.cache.balances.insert(key.clone(), Money::from_fen(rows.iter().map(|(balance, _)| balance).sum()));
            self.cache.products.insert(key, sum_products(&rows));
        }
        self.cache.persons.insert(psn_no.to_string(), Some(person.clone()));
        Ok(Some(person))
    }

    fn person_by_id_number(&mut self, id_number: &str) -> StoreResult<Option<Person>> {
        let row = self.opt("SELECT psn_no, name, id_number, area, insurance, phone, status FROM persons WHERE id_number = $1", &[&id_number])?;
        row.as_ref().map(person_from_row).transpose()
    }

    fn set_person_status(&mut self, psn_no: &str, status: PersonStatus, reason: &str, provenance: &Provenance) -> StoreResult<()> {
        self.cache.persons.remove(psn_no);
        let row = self.one(
            "WITH old AS (SELECT status FROM persons WHERE psn_no = $1 FOR UPDATE)
             UPDATE persons p SET status = $2 FROM old WHERE p.psn_no = $1 RETURNING old.status",
            &[&psn_no, &status.as_str()],
        )?;
        let from: String = row.get(0);
        self.exec(
            "INSERT INTO person_status_changes (psn_no, from_status, to_status, reason, actor, channel, business_date, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &psn_no,
                &from,
                &status.as_str(),
                &reason,
                &actor_text(provenance),
                &provenance.channel.as_str(),
                &provenance.business_date,
                &provenance.recorded_at,
            ],
        )?;
        Ok(())
    }

    fn status_changes(&mut self, psn_no: &str) -> StoreResult<Vec<StatusChange>> {
        let rows = self.rows(
            "SELECT from_status, to_status, reason, actor, channel, business_date FROM person_status_changes WHERE psn_no = $1 ORDER BY id",
            &[&psn_no],
        )?;
        rows.iter()
            .map(|r| {
                Ok(StatusChange {
                    from: parse_status(r.get(0))?,
                    to: parse_status(r.get(1))?,
                    reason: r.get(2),
                    actor: r.get(3),
                    channel: r.get(4),
                    business_date: r.get(5),
                })
            })
            .collect()
    }

    fn persons_in_area(&mut self, area: &AreaCode, after_psn_no: &str, limit: usize) -> StoreResult<Vec<Person>> {
        let rows = self.rows(
            "SELECT psn_no, name, id_number, area, insurance, phone, status FROM persons WHERE area = $1 AND psn_no > $2 ORDER BY psn_no LIMIT $3",
            &[&area.as_str(), &after_psn_no, &(limit as i64)],
        )?;
        rows.iter().map(person_from_row).collect()
    }
}

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
            "SELECT COALESCE(SUM(b.balance_fen), 0)::bigint FROM accounts a JOIN account_balances b ON b.account_id = a.id WHERE a.account_key = $1",
            &[&account.key()],
        )?;
        Ok(Money::from_fen(row.get(0)))
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
        let entry_id: i64 = row.get(0);
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
        let (moved, posted, over_max): (i64, i64, i64) = (counts.get(0), counts.get(1), counts.get(2));
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
        Ok(self.opt("SELECT id FROM journal_entries WHERE idempotency_key = $1", &[&key])?.map(|r| r.get(0)))
    }

    fn entry(&mut self, entry_id: i64) -> StoreResult<Option<StoredEntry>> {
        let Some(header) = self.opt("SELECT kind, business_date, recorded_at, actor, channel, memo FROM journal_entries WHERE id = $1", &[&entry_id])? else {
            return Ok(None);
        };
        let rows = self.rows(
            "SELECT a.account_key, p.amount_fen FROM postings p JOIN accounts a ON a.id = p.account_id WHERE p.entry_id = $1 ORDER BY p.id",
            &[&entry_id],
        )?;
        let postings = rows.iter().map(|r| Ok((parse_account(r.get(0))?, Money::from_fen(r.get(1))))).collect::<StoreResult<Vec<_>>>()?;
        Ok(Some(StoredEntry {
            id: entry_id,
            kind: parse_entry_kind(header.get(0))?,
            business_date: header.get(1),
            recorded_at: header.get(2),
            actor: header.get(3),
            channel: header.get(4),
            memo: header.get(5),
            postings,
        }))
    }

    fn statement(&mut self, account: &AccountRef, from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<StatementLine>> {
        let rows = self.rows(
            "SELECT e.id, e.kind, e.business_date, p.amount_fen, e.memo FROM postings p
             JOIN accounts a ON a.id = p.account_id JOIN journal_entries e ON e.id = p.entry_id
             WHERE a.account_key = $1 AND e.business_date BETWEEN $2 AND $3 ORDER BY e.id, p.id",
            &[&account.key(), &from, &to],
        )?;
        rows.iter()
            .map(|r| {
                Ok(StatementLine {
                    entry_id: r.get(0),
                    kind: parse_entry_kind(r.get(1))?,
                    business_date: r.get(2),
                    amount: Money::from_fen(r.get(3)),
                    memo: r.get(4),
                })
            })
            .collect()
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
        let shards: Vec<(i64, BalanceProduct)> =
            rows.iter().map(|r| (r.get::<_, i64>(0), BalanceProduct { fen_days: r.get::<_, i64>(1) as i128, as_of: r.get(2) })).collect();
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
            let kind: String = row.get(0);
            let kind = PersonAccount::parse(&kind).ok_or_else(|| corrupt("account kind", &kind))?;
            let shard = (row.get::<_, i64>(1), BalanceProduct { fen_days: row.get::<_, i64>(2) as i128, as_of: row.get(3) });
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
        let counts = self.one("SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM journal_entries), (SELECT count(*) FROM postings)", &[])?;
        let mut report = AuditReport {
            accounts: counts.get::<_, i64>(0) as u64,
            entries: counts.get::<_, i64>(1) as u64,
            postings: counts.get::<_, i64>(2) as u64,
            ..AuditReport::default()
        };
        for row in self.rows(
            "SELECT a.account_key, COALESCE(b.total, 0)::bigint, COALESCE(s.total, 0)::bigint FROM accounts a
             LEFT JOIN (SELECT account_id, SUM(balance_fen) AS total FROM account_balances GROUP BY account_id) b ON b.account_id = a.id
             LEFT JOIN (SELECT account_id, SUM(amount_fen) AS total FROM postings GROUP BY account_id) s ON s.account_id = a.id
             WHERE COALESCE(b.total, 0) <> COALESCE(s.total, 0) ORDER BY a.account_key",
            &[],
        )? {
            report.mismatched.push(BalanceMismatch { account: row.get(0), stored: Money::from_fen(row.get(1)), sum_of_postings: Money::from_fen(row.get(2)) });
        }
        report.unbalanced_entries =
            self.rows("SELECT entry_id FROM postings GROUP BY entry_id HAVING SUM(amount_fen) <> 0 ORDER BY entry_id", &[])?.iter().map(|r| r.get(0)).collect();
        report.negative = self
            .rows(
                "SELECT a.account_key, SUM(b.balance_fen)::bigint FROM accounts a JOIN account_balances b ON b.account_id = a.id
                 WHERE NOT a.may_go_negative GROUP BY a.account_key HAVING SUM(b.balance_fen) < 0 ORDER BY a.account_key",
                &[],
            )?
            .iter()
            .map(|r| (r.get(0), Money::from_fen(r.get(1))))
            .collect();
        let (person_max, system_max) = (gongji_core::account::PERSON_BALANCE_MAX.fen(), gongji_core::account::SYSTEM_BALANCE_MAX.fen());
        report.out_of_range = self
            .rows(
                "SELECT a.account_key, SUM(b.balance_fen)::bigint, SUM(b.product_fen_days)::bigint FROM accounts a JOIN account_balances b ON b.account_id = a.id
                 GROUP BY a.account_key, a.owner, a.kind
                 HAVING (a.owner IS NOT NULL AND SUM(b.balance_fen) > $1::bigint)
                     OR (a.owner IS NULL AND ABS(SUM(b.balance_fen)) > $2::bigint)
                     OR MIN(b.product_fen_days) < 0
                     OR (MAX(ABS(b.product_fen_days)) <> 0 AND (a.owner IS NULL OR a.kind NOT IN ('cur', 'his', 'mut')))
                 ORDER BY a.account_key",
                &[&person_max, &system_max],
            )?
            .iter()
            .map(|r| Ok((column(r, "account_key")?, Money::from_fen(r.try_get(1).map_err(|e| StoreError::Corrupt(format!("balance: {e}")))?), r.try_get(2).map_err(|e| StoreError::Corrupt(format!("product: {e}")))?)))
            .collect::<StoreResult<_>>()?;
        let total = self.one("SELECT COALESCE(SUM(amount_fen), 0)::bigint FROM postings", &[])?;
        report.ledger_total = Money::from_fen(total.get(0));
        Ok(report)
    }

    fn first_entry_date(&mut self) -> StoreResult<Option<NaiveDate>> {
        let row = self.one("SELECT MIN(business_date) FROM journal_entries", &[])?;
        column(&row, "min")
    }
}

impl NetworksTx for PgTx<'_> {
    fn insert_network(&mut self, area: &AreaCode, promoter: &str, provenance: &Provenance) -> StoreResult<i64> {
        let row = self
            .one("INSERT INTO networks (area, promoter, created_at) VALUES ($1, $2, $3) RETURNING id", &[&area.as_str(), &promoter, &provenance.recorded_at])?;
        Ok(row.get(0))
    }

    fn network_of(&mut self, psn_no: &str) -> StoreResult<Option<Network>> {
        // The network with each member's person row and MUT balance, in one round trip: the
        // waterfall (ST2) reads them next.
        let rows = self.rows(
            "SELECT n.area, n.promoter, m.psn_no, m.relation, m.state, n.id,
                    p.psn_no, p.name, p.id_number, p.area, p.insurance, p.phone, p.status, b.balance_fen
             FROM networks n
             LEFT JOIN network_members m ON m.network_id = n.id AND m.state <> 'left'
             LEFT JOIN persons p ON p.psn_no = m.psn_no
             LEFT JOIN accounts a ON a.account_key = 'P:' || m.psn_no || ':mut' -- AccountRef::key of the member's MUT
             LEFT JOIN account_balances b ON b.account_id = a.id
             WHERE n.id = (SELECT network_id FROM network_members WHERE psn_no = $1 AND state <> 'left') AND n.dissolved_at IS NULL
             ORDER BY m.position, m.id",
            &[&psn_no],
        )?;
        let Some(first) = rows.first() else { return Ok(None) };
        let network = network_from_rows(first.get(5), &rows)?;
        for row in &rows {
            let Some(member) = row.get::<_, Option<String>>(6) else { continue };
            let mut person = Vec::with_capacity(7);
            for column in 6..13 {
                person.push(row.get::<_, Option<String>>(column));
            }
            let key = AccountRef::person(&member, PersonAccount::Mut).key();
            if !self.cache.balances.contains_key(&key) {
                self.cache.balances.insert(key, Money::from_fen(row.get::<_, Option<i64>>(13).unwrap_or(0)));
            }
            if !self.cache.persons.contains_key(&member) {
                let cached = person_from_texts(&person)?;
                self.cache.persons.insert(member, Some(cached));
            }
        }
        Ok(network)
    }

    fn network(&mut self, network_id: i64) -> StoreResult<Option<Network>> {
        self.load_network(network_id)
    }

    fn insert_member(&mut self, network_id: i64, psn_no: &str, relation: Option<&str>, state: MemberState, provenance: &Provenance) -> StoreResult<()> {
        self.touch_network(network_id)?;
        // Touch the person too: a concurrent status change (N4) of the same person conflicts.
        self.exec("UPDATE persons SET status = status WHERE psn_no = $1", &[&psn_no])?;
        let inserted = self.opt(
            "INSERT INTO network_members (network_id, psn_no, relation, state, position, joined_at)
             VALUES ($1, $2, $3, $4, (SELECT COALESCE(MAX(position), 0) + 1 FROM network_members WHERE network_id = $1 AND state <> 'left'), $5)
             ON CONFLICT (psn_no) WHERE state <> 'left' DO NOTHING RETURNING id",
            &[&network_id, &psn_no, &relation, &state.as_str(), &provenance.recorded_at],
        )?;
        match inserted {
            Some(_) => Ok(()),
            None => Err(StoreError::AlreadyExists(format!("{psn_no} is already in a network"))),
        }
    }

    fn set_member_state(&mut self, network_id: i64, psn_no: &str, state: MemberState) -> StoreResult<()> {
        self.touch_network(network_id)?;
        self.exec("UPDATE network_members SET state = $1 WHERE network_id = $2 AND psn_no = $3 AND state <> 'left'", &[&state.as_str(), &network_id, &psn_no])?;
        Ok(())
    }

    fn end_membership(&mut self, network_id: i64, psn_no: &str, provenance: &Provenance) -> StoreResult<()> {
        self.touch_network(network_id)?;
        self.exec(
            "UPDATE network_members SET state = 'left', left_at = $1 WHERE network_id = $2 AND psn_no = $3 AND state <> 'left'",
            &[&provenance.recorded_at, &network_id, &psn_no],
        )?;
        Ok(())
    }

    fn set_order(&mut self, network_id: i64, order: &[String]) -> StoreResult<()> {
        self.touch_network(network_id)?;
        self.exec(
            "UPDATE network_members m SET position = o.position FROM unnest($2::text[]) WITH ORDINALITY AS o(psn_no, position)
             WHERE m.network_id = $1 AND m.psn_no = o.psn_no AND m.state <> 'left'",
            &[&network_id, &order],
        )?;
        Ok(())
    }

    fn dissolve_network(&mut self, network_id: i64, provenance: &Provenance) -> StoreResult<()> {
        self.touch_network(network_id)?;
        self.exec(
            "UPDATE network_members SET state = 'left', left_at = $1 WHERE network_id = $2 AND state <> 'left'",
            &[&provenance.recorded_at, &network_id],
        )?;
        self.exec("UPDATE networks SET dissolved_at = $1 WHERE id = $2", &[&provenance.recorded_at, &network_id])?;
        Ok(())
    }

    fn insert_network_event(&mut self, event: &NewNetworkEvent) -> StoreResult<()> {
        self.exec(
            "INSERT INTO network_events (network_id, area, kind, subject, detail, actor, channel, business_date, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &event.network_id,
                &event.area.as_str(),
                &event.kind,
                &event.subject,
                &event.detail,
                &event.actor,
                &event.channel,
                &event.business_date,
                &event.recorded_at,
            ],
        )?;
        Ok(())
    }

    fn network_events(&mut self, area: &AreaCode, from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<NetworkEvent>> {
        let rows = self.rows(
            "SELECT id, network_id, kind, subject, detail, actor, channel, business_date, recorded_at FROM network_events
             WHERE area = $1 AND business_date BETWEEN $2 AND $3 ORDER BY id",
            &[&area.as_str(), &from, &to],
        )?;
        Ok(rows
            .iter()
            .map(|r| NetworkEvent {
                id: r.get(0),
                event: NewNetworkEvent {
                    network_id: r.get(1),
                    area: area.clone(),
                    kind: r.get(2),
                    subject: r.get(3),
                    detail: r.get(4),
                    actor: r.get(5),
                    channel: r.get(6),
                    business_date: r.get(7),
                    recorded_at: r.get(8),
                },
            })
            .collect())
    }

    fn mut_movements(&mut self, area: &AreaCode, from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<MutMovement>> {
        let rows = self.rows(
            "SELECT e.id, a.owner, e.kind, e.business_date, p.amount_fen, e.actor, e.channel FROM postings p
             JOIN accounts a ON a.id = p.account_id JOIN journal_entries e ON e.id = p.entry_id JOIN persons ps ON ps.psn_no = a.owner
             WHERE a.kind = 'mut' AND ps.area = $1 AND e.business_date BETWEEN $2 AND $3 ORDER BY e.id, p.id",
            &[&area.as_str(), &from, &to],
        )?;
        rows.iter()
            .map(|r| {
                Ok(MutMovement {
                    entry_id: r.get(0),
                    psn_no: r.get(1),
                    kind: parse_entry_kind(r.get(2))?,
                    business_date: r.get(3),
                    amount: Money::from_fen(r.get(4)),
                    actor: r.get(5),
                    channel: r.get(6),
                })
            })
            .collect()
    }

    fn set_preset(&mut self, psn_no: &str, amount: Option<Money>, provenance: &Provenance) -> StoreResult<()> {
        self.exec(
            "INSERT INTO presets (psn_no, amount_fen, actor, channel, set_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (psn_no) DO UPDATE SET amount_fen = excluded.amount_fen, actor = excluded.actor, channel = excluded.channel, set_at = excluded.set_at",
            &[&psn_no, &amount.map(Money::fen), &actor_text(provenance), &provenance.channel.as_str(), &provenance.recorded_at],
        )?;
        Ok(())
    }

    fn preset(&mut self, psn_no: &str) -> StoreResult<Option<Money>> {
        let row = self.opt("SELECT amount_fen FROM presets WHERE psn_no = $1", &[&psn_no])?;
        Ok(row.and_then(|r| r.get::<_, Option<i64>>(0)).map(Money::from_fen))
    }
}

impl SettlementsTx for PgTx<'_> {
    fn settlement(&mut self, institution: &str, bill_id: &str) -> StoreResult<Option<StoredSettlement>> {
        let row = self.opt(
            "SELECT id, institution, bill_id, attempt, patient, visit, bill_date, fingerprint, policy_id, policy_effective_from, network_id,
                    fund_pay_fen, self_borne_fen, first_self_pay_fen, self_funded_fen, deductible_applied_fen, cash_fen,
                    entry_id, cancel_entry_id, cancel_date
             FROM settlements WHERE institution = $1 AND bill_id = $2 ORDER BY attempt DESC LIMIT 1",
            &[&institution, &bill_id],
        )?;
        self.settlement_of(row)
    }

    fn settlement_attempt(&mut self, institution: &str, bill_id: &str, attempt: u32) -> StoreResult<Option<StoredSettlement>> {
        let attempt = i32::try_from(attempt).map_err(|_| StoreError::Backend(format!("attempt {attempt} out of range")))?;
        let row = self.opt(
            "SELECT id, institution, bill_id, attempt, patient, visit, bill_date, fingerprint, policy_id, policy_effective_from, network_id,
                    fund_pay_fen, self_borne_fen, first_self_pay_fen, self_funded_fen, deductible_applied_fen, cash_fen,
                    entry_id, cancel_entry_id, cancel_date
             FROM settlements WHERE institution = $1 AND bill_id = $2 AND attempt = $3",
            &[&institution, &bill_id, &attempt],
        )?;
        self.settlement_of(row)
    }

    fn insert_settlement(&mut self, s: &StoredSettlement) -> StoreResult<i64> {
        let line_keys: Vec<String> = s.lines.iter().map(|(account, _, _)| account.key()).collect();
        let line_roles: Vec<&str> = s.lines.iter().map(|(_, role, _)| role.as_str()).collect();
        let line_amounts: Vec<i64> = s.lines.iter().map(|(_, _, amount)| amount.fen()).collect();
        let step_accounts: Vec<Option<&str>> = s.steps.iter().map(|step| step.account.as_deref()).collect();
        let step_roles: Vec<Option<&str>> = s.steps.iter().map(|step| step.role.as_deref()).collect();
        let step_amounts: Vec<i64> = s.steps.iter().map(|step| step.amount.fen()).collect();
        let step_codes: Vec<&str> = s.steps.iter().map(|step| step.code.as_str()).collect();
        let step_rules: Vec<&str> = s.steps.iter().map(|step| step.rule.as_str()).collect();
        let step_messages: Vec<&str> = s.steps.iter().map(|step| step.message.as_str()).collect();
        let attempt = i32::try_from(s.attempt).map_err(|_| StoreError::Backend(format!("attempt {} out of range", s.attempt)))?;
        let inserted = self.opt(
            SETTLEMENT_INSERT_SQL,
            &[
                &s.institution,
                &s.bill_id,
                &s.patient,
                &s.visit.as_str(),
                &s.bill_date,
                &s.fingerprint,
                &s.policy_id,
                &s.policy_effective_from,
                &s.network_id,
                &s.split.fund_pay.fen(),
                &s.split.self_borne.fen(),
                &s.split.first_self_pay.fen(),
                &s.split.self_funded.fen(),
                &s.deductible_applied.fen(),
                &s.cash.fen(),
                &s.entry_id,
                &line_keys,
                &line_roles,
                &line_amounts,
                &step_accounts,
                &step_roles,
                &step_amounts,
                &step_codes,
                &step_rules,
                &step_messages,
                &attempt,
            ],
        )?;
        match inserted {
            Some(row) => Ok(row.get(0)),
            None => Err(StoreError::AlreadyExists(format!("settlement {} {}", s.institution, s.bill_id))),
        }
    }

    fn mark_cancelled(&mut self, settlement_id: i64, cancel_entry_id: i64, cancel_date: NaiveDate) -> StoreResult<()> {
        let changed = self.exec(
            "UPDATE settlements SET cancel_entry_id = $1, cancel_date = $2 WHERE id = $3 AND cancel_entry_id IS NULL",
            &[&cancel_entry_id, &cancel_date, &settlement_id],
        )?;
        if changed != 1 {
            return Err(StoreError::AlreadyExists(format!("settlement {settlement_id} already cancelled")));
        }
        Ok(())
    }

    fn year_totals(&mut self, psn_no: &str, year: i32, visit: VisitType) -> StoreResult<YearTotals> {
        let row = self.opt(
            "SELECT deductible_used_fen, fund_paid_fen FROM year_totals WHERE psn_no = $1 AND year = $2 AND visit = $3",
            &[&psn_no, &year, &visit.as_str()],
        )?;
        Ok(row.map(|r| YearTotals { deductible_used: Money::from_fen(r.get(0)), fund_paid: Money::from_fen(r.get(1)) }).unwrap_or_default())
    }

    fn put_year_totals(&mut self, psn_no: &str, year: i32, visit: VisitType, totals: YearTotals) -> StoreResult<()> {
        self.exec(
            "INSERT INTO year_totals (psn_no, year, visit, deductible_used_fen, fund_paid_fen) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (psn_no, year, visit) DO UPDATE SET deductible_used_fen = excluded.deductible_used_fen, fund_paid_fen = excluded.fund_paid_fen",
            &[&psn_no, &year, &visit.as_str(), &totals.deductible_used.fen(), &totals.fund_paid.fen()],
        )?;
        Ok(())
    }

    fn insert_refund_holding(&mut self, h: &NewRefundHolding) -> StoreResult<i64> {
        let row = self.one(
            "INSERT INTO refund_holdings (owner, area, amount_fen, settlement_id, cancel_entry_id, created_date) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[&h.owner, &h.area.as_str(), &h.amount.fen(), &h.settlement_id, &h.cancel_entry_id, &h.created_date],
        )?;
        Ok(row.get(0))
    }

    fn refund_holdings_due(&mut self, day: NaiveDate) -> StoreResult<Vec<RefundHolding>> {
        let rows = self.rows(
            "SELECT id, owner, area, amount_fen, settlement_id, cancel_entry_id, created_date FROM refund_holdings
             WHERE synced_entry_id IS NULL AND created_date < $1 ORDER BY id",
            &[&day],
        )?;
        rows.iter()
            .map(|r| {
                Ok(RefundHolding {
                    id: r.get(0),
                    holding: NewRefundHolding {
                        owner: r.get(1),
                        area: parse_area(r.get(2))?,
                        amount: Money::from_fen(r.get(3)),
                        settlement_id: r.get(4),
                        cancel_entry_id: r.get(5),
                        created_date: r.get(6),
                    },
                })
            })
            .collect()
    }

    fn mark_holding_synced(&mut self, holding_id: i64, entry_id: i64) -> StoreResult<()> {
        let changed = self.exec("UPDATE refund_holdings SET synced_entry_id = $1 WHERE id = $2 AND synced_entry_id IS NULL", &[&entry_id, &holding_id])?;
        if changed != 1 {
            return Err(StoreError::AlreadyExists(format!("refund holding {holding_id} already synced")));
        }
        Ok(())
    }

    // Savepoints (group commit). A serialisation failure inside a savepoint still retries the
    // whole transaction (the flag stays set), so every item gets a true result.
    fn savepoint(&mut self) -> StoreResult<()> {
        self.conn.client.batch_execute("SAVEPOINT item").map_err(|e| self.fail(e))
    }

    fn release_savepoint(&mut self) -> StoreResult<()> {
        self.conn.client.batch_execute("RELEASE SAVEPOINT item").map_err(|e| self.fail(e))
    }

    fn rollback_to_savepoint(&mut self) -> StoreResult<()> {
        self.cache = TxCache::default();
        self.conn.client.batch_execute("ROLLBACK TO SAVEPOINT item; RELEASE SAVEPOINT item").map_err(|e| self.fail(e))
    }
}

impl JobsTx for PgTx<'_> {
    // Batch jobs (§10)
    fn person_areas(&mut self) -> StoreResult<Vec<AreaCode>> {
        // A loose index scan: one probe of persons_area per distinct area, not a pass over
        // every person.
        let rows = self.rows(
            "WITH RECURSIVE areas AS (
                 (SELECT area FROM persons ORDER BY area LIMIT 1)
                 UNION ALL
                 SELECT (SELECT p.area FROM persons p WHERE p.area > areas.area ORDER BY p.area LIMIT 1) FROM areas WHERE areas.area IS NOT NULL
             )
             SELECT area FROM areas WHERE area IS NOT NULL",
            &[],
        )?;
        rows.iter().map(|r| parse_area(r.get(0))).collect()
    }

    fn set_product(&mut self, account: &AccountRef, product: BalanceProduct) -> StoreResult<()> {
        let fen_days = fen_days_i64(&product)?;
        self.cache.products.remove(&account.key());
        // The whole product goes to the account's lowest shard; the others restart from zero on
        // the same date, so that the sum over shards is `product`.
        self.exec(
            "UPDATE account_balances b SET product_fen_days = CASE WHEN b.shard = first.shard THEN $1::bigint ELSE 0 END, product_as_of = $2
             FROM (SELECT a.id, MIN(x.shard) AS shard FROM accounts a JOIN account_balances x ON x.account_id = a.id WHERE a.account_key = $3 GROUP BY a.id) first
             WHERE b.account_id = first.id",
            &[&fen_days, &product.as_of, &account.key()],
        )?;
        Ok(())
    }

    fn restart_person_products(&mut self, psn_no: &str, as_of: NaiveDate) -> StoreResult<()> {
        self.cache.products.clear();
        self.exec(
            "UPDATE account_balances SET product_fen_days = 0, product_as_of = $2
             WHERE account_id = ANY (ARRAY(SELECT id FROM accounts WHERE account_key = ANY ($1::text[])))",
            &[&person_account_keys(psn_no, PersonAccount::ALL), &as_of],
        )?;
        Ok(())
    }

    fn job_mark(&mut self, job: &str, period: &str, subject: &str) -> StoreResult<Option<String>> {
        Ok(self.opt("SELECT outcome FROM job_marks WHERE job = $1 AND period = $2 AND subject = $3", &[&job, &period, &subject])?.map(|r| r.get(0)))
    }

    fn insert_job_mark(&mut self, mark: &JobMark) -> StoreResult<()> {
        let inserted = self.opt(
            "INSERT INTO job_marks (job, period, subject, outcome, recorded_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1",
            &[&mark.job, &mark.period, &mark.subject, &mark.outcome, &mark.recorded_at],
        )?;
        match inserted {
            Some(_) => Ok(()),
            None => Err(StoreError::AlreadyExists(format!("job mark {} {} {}", mark.job, mark.period, mark.subject))),
        }
    }

    fn job_marks(&mut self, job: &str, period: &str) -> StoreResult<Vec<JobMark>> {
        let rows = self.rows("SELECT subject, outcome, recorded_at FROM job_marks WHERE job = $1 AND period = $2 ORDER BY subject", &[&job, &period])?;
        Ok(rows
            .iter()
            .map(|r| JobMark { job: job.to_string(), period: period.to_string(), subject: r.get(0), outcome: r.get(1), recorded_at: r.get(2) })
            .collect())
    }

    fn presets_in_area(&mut self, area: &AreaCode, after_psn_no: &str, limit: usize) -> StoreResult<Vec<(String, Money)>> {
        let rows = self.rows(
            "SELECT pr.psn_no, pr.amount_fen FROM presets pr JOIN persons p ON p.psn_no = pr.psn_no
             WHERE p.area = $1 AND pr.amount_fen IS NOT NULL AND pr.psn_no > $2 ORDER BY pr.psn_no LIMIT $3",
            &[&area.as_str(), &after_psn_no, &(limit as i64)],
        )?;
        Ok(rows.iter().map(|r| (r.get(0), Money::from_fen(r.get(1)))).collect())
    }

    fn insert_liquidation(&mut self, l: &Liquidation) -> StoreResult<()> {
        let inserted = self.opt(
            "INSERT INTO liquidations (psn_no, reason, business_date, principal_fen, interest_fen, payee, entry_id) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT DO NOTHING RETURNING 1",
            &[&l.psn_no, &l.reason, &l.business_date, &l.principal.fen(), &l.interest.fen(), &l.payee, &l.entry_id],
        )?;
        match inserted {
            Some(_) => Ok(()),
            None => Err(StoreError::AlreadyExists(format!("liquidation of {}", l.psn_no))),
        }
    }

    fn liquidation(&mut self, psn_no: &str) -> StoreResult<Option<Liquidation>> {
        let row = self.opt("SELECT reason, business_date, principal_fen, interest_fen, payee, entry_id FROM liquidations WHERE psn_no = $1", &[&psn_no])?;
        Ok(row.map(|r| Liquidation {
            psn_no: psn_no.to_string(),
            reason: r.get(0),
            business_date: r.get(1),
            principal: Money::from_fen(r.get(2)),
            interest: Money::from_fen(r.get(3)),
            payee: r.get(4),
            entry_id: r.get(5),
        }))
    }
}

impl TokensTx for PgTx<'_> {
    // Tokens (§12)
    fn insert_token(&mut self, token: &NewToken) -> StoreResult<i64> {
        let inserted = self.opt(
            "INSERT INTO api_tokens (token_hash, role, area, institution, person, name, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (token_hash) DO NOTHING RETURNING id",
            &[&token.token_hash, &token.role, &token.area, &token.institution, &token.person, &token.name, &token.created_at],
        )?;
        match inserted {
            Some(row) => Ok(row.get(0)),
            None => Err(StoreError::AlreadyExists("token hash".into())),
        }
    }

    fn token_by_hash(&mut self, token_hash: &str) -> StoreResult<Option<StoredToken>> {
        let row = self.opt(
            "SELECT id, token_hash, role, area, institution, person, name, created_at, revoked_at FROM api_tokens WHERE token_hash = $1",
            &[&token_hash],
        )?;
        Ok(row.as_ref().map(token_from_row))
    }

    fn revoke_token(&mut self, token_id: i64, revoked_at: DateTime<Utc>) -> StoreResult<bool> {
        let changed = self.exec("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL", &[&revoked_at, &token_id])?;
        Ok(changed == 1)
    }

    fn tokens(&mut self) -> StoreResult<Vec<StoredToken>> {
        let rows = self.rows("SELECT id, token_hash, role, area, institution, person, name, created_at, revoked_at FROM api_tokens ORDER BY id", &[])?;
        Ok(rows.iter().map(token_from_row).collect())
    }
}

impl FamilyTx for PgTx<'_> {
    // Family models (§7, §8, §15)
    fn insert_notification(&mut self, n: &NewNotification) -> StoreResult<i64> {
        let row = self.one(
            "INSERT INTO notifications (kind, psn_no, recipient, body, secret, reference, state, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7) RETURNING id",
            &[&n.kind, &n.psn_no, &n.recipient, &n.body, &n.secret, &n.reference, &n.created_at],
        )?;
        Ok(row.get(0))
    }

    fn notification(&mut self, id: i64) -> StoreResult<Option<Notification>> {
        let row = self.opt(
            "SELECT id, kind, psn_no, recipient, body, secret, reference, state, attempts, last_error, claim, claimed_at, finished_at, created_at
             FROM notifications WHERE id = $1",
            &[&id],
        )?;
        Ok(row.as_ref().map(notification_from_row))
    }

    fn notifications(&mut self, state: Option<&str>, limit: usize) -> StoreResult<Vec<Notification>> {
        let rows = self.rows(
            "SELECT id, kind, psn_no, recipient, body, secret, reference, state, attempts, last_error, claim, claimed_at, finished_at, created_at
             FROM notifications WHERE $1::text IS NULL OR state = $1 ORDER BY id LIMIT $2",
            &[&state, &limit_i64(limit)],
        )?;
        Ok(rows.iter().map(notification_from_row).collect())
    }

    fn claim_notifications(&mut self, claim: &str, at: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Notification>> {
        // Rows another sender is claiming right now are skipped, not waited for; a row claimed
        // and committed after this snapshot makes the update a serialisation failure (retried).
        let rows = self.rows(
            "UPDATE notifications SET state = 'sending', claim = $1, claimed_at = $2
             WHERE id IN (SELECT id FROM notifications WHERE state = 'pending' ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
             RETURNING id, kind, psn_no, recipient, body, secret, reference, state, attempts, last_error, claim, claimed_at, finished_at, created_at",
            &[&claim, &at, &limit_i64(limit)],
        )?;
        let mut claimed: Vec<Notification> = rows.iter().map(notification_from_row).collect();
        claimed.sort_by_key(|n| n.id);
        Ok(claimed)
    }

    fn update_notification(&mut self, id: i64, expected_state: &str, expected_claim: Option<&str>, update: &NotificationUpdate) -> StoreResult<bool> {
        let attempts = i32::try_from(update.attempts).unwrap_or(i32::MAX);
        let changed = self.exec(
            "UPDATE notifications SET state = $1, attempts = $2, last_error = $3, finished_at = $4,
                    secret = CASE WHEN $5 THEN NULL ELSE secret END
             WHERE id = $6 AND state = $7 AND ($8::text IS NULL OR claim = $8)",
            &[&update.state, &attempts, &update.last_error, &update.at, &update.clear_secret, &id, &expected_state, &expected_claim],
        )?;
        Ok(changed == 1)
    }

    fn insert_relative_transfer(&mut self, r: &NewRelativeTransfer) -> StoreResult<i64> {
        let row = self.one(
            "INSERT INTO relative_transfers (authoriser, beneficiary, relation, amount_fen, code_salt, code_hash, expires_at, state, notification_id,
                commitment_accepted_at, actor, channel, business_date, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9, $10, $11, $12, $13) RETURNING id",
            &[
                &r.authoriser,
                &r.beneficiary,
                &r.relation,
                &r.amount.fen(),
                &r.code_salt,
                &r.code_hash,
                &r.expires_at,
                &r.notification_id,
                &r.commitment_accepted_at,
                &r.actor,
                &r.channel,
                &r.business_date,
                &r.created_at,
            ],
        )?;
        Ok(row.get(0))
    }

    fn relative_transfer(&mut self, id: i64) -> StoreResult<Option<RelativeTransferRecord>> {
        let row = self.opt(
            "SELECT authoriser, beneficiary, relation, amount_fen, code_salt, code_hash, expires_at, attempts, state, notification_id, entry_id,
                    commitment_accepted_at, actor, channel, business_date, created_at, finished_at
             FROM relative_transfers WHERE id = $1",
            &[&id],
        )?;
        Ok(row.map(|r| RelativeTransferRecord {
            id,
            request: NewRelativeTransfer {
                authoriser: r.get(0),
                beneficiary: r.get(1),
                relation: r.get(2),
                amount: Money::from_fen(r.get(3)),
                code_salt: r.get(4),
                code_hash: r.get(5),
                expires_at: r.get(6),
                notification_id: r.get(9),
                commitment_accepted_at: r.get(11),
                actor: r.get(12),
                channel: r.get(13),
                business_date: r.get(14),
                created_at: r.get(15),
            },
            attempts: r.get::<_, i32>(7).max(0) as u32,
            state: r.get(8),
            entry_id: r.get(10),
            finished_at: r.get(16),
        }))
    }

    fn update_relative_transfer(&mut self, id: i64, state: &str, attempts: u32, entry_id: Option<i64>, at: DateTime<Utc>) -> StoreResult<()> {
        let finished = (state != "pending").then_some(at);
        let attempts = i32::try_from(attempts).unwrap_or(i32::MAX);
        self.exec(
            "UPDATE relative_transfers SET state = $1, attempts = $2, entry_id = COALESCE($3, entry_id), finished_at = $4 WHERE id = $5",
            &[&state, &attempts, &entry_id, &finished, &id],
        )?;
        Ok(())
    }

    fn insert_association(&mut self, a: &NewAssociation) -> StoreResult<i64> {
        let row = self.opt(
            "INSERT INTO associations (binder, relative, relation, area, actor, channel, business_date, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING id",
            &[&a.binder, &a.relative, &a.relation, &a.area.as_str(), &a.actor, &a.channel, &a.business_date, &a.recorded_at],
        )?;
        match row {
            Some(row) => Ok(row.get(0)),
            None => Err(StoreError::AlreadyExists(format!("binding of {} by {}", a.relative, a.binder))),
        }
    }

    fn end_association(&mut self, id: i64, provenance: &Provenance) -> StoreResult<bool> {
        let changed = self.exec(
            "UPDATE associations SET ended_by = $1, ended_channel = $2, ended_date = $3, ended_at = $4 WHERE id = $5 AND ended_at IS NULL",
            &[&actor_text(provenance), &provenance.channel.as_str(), &provenance.business_date, &provenance.recorded_at, &id],
        )?;
        Ok(changed == 1)
    }

    fn associations_of(&mut self, psn_no: &str) -> StoreResult<Vec<Association>> {
        let rows = self.rows(
            "SELECT id, binder, relative, relation, area, actor, channel, business_date, recorded_at FROM associations
             WHERE (binder = $1 OR relative = $1) AND ended_at IS NULL ORDER BY id",
            &[&psn_no],
        )?;
        rows.iter()
            .map(|r| {
                Ok(Association {
                    id: r.get(0),
                    association: NewAssociation {
                        binder: r.get(1),
                        relative: r.get(2),
                        relation: r.get(3),
                        area: parse_area(r.get(4))?,
                        actor: r.get(5),
                        channel: r.get(6),
                        business_date: r.get(7),
                        recorded_at: r.get(8),
                    },
                    ended: None,
                })
            })
            .collect()
    }

    fn insert_quota(&mut self, q: &QuotaRecord) -> StoreResult<i64> {
        let row = self.opt(
            "INSERT INTO quotas (uid, side, donor, donor_area, relative, relative_area, relative_name, relative_id_number, relation, state,
                granted_fen, used_fen, returned_fen, actor, channel, business_date, created_at, ended_at, end_reason)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
             ON CONFLICT (uid, side) DO NOTHING RETURNING id",
            &[
                &q.uid,
                &q.side,
                &q.donor,
                &q.donor_area.as_str(),
                &q.relative,
                &q.relative_area.as_str(),
                &q.relative_name,
                &q.relative_id_number,
                &q.relation,
                &q.state,
                &q.granted.fen(),
                &q.used.fen(),
                &q.returned.fen(),
                &q.actor,
                &q.channel,
                &q.business_date,
                &q.created_at,
                &q.ended_at,
                &q.end_reason,
            ],
        )?;
        match row {
            Some(row) => Ok(row.get(0)),
            None => Err(StoreError::AlreadyExists(format!("quota {} ({})", q.uid, q.side))),
        }
    }

    fn quota(&mut self, uid: &str, side: &str) -> StoreResult<Option<QuotaRecord>> {
        let row = self.opt(
            "SELECT id, uid, side, donor, donor_area, relative, relative_area, relative_name, relative_id_number, relation, state,
                    granted_fen, used_fen, returned_fen, actor, channel, business_date, created_at, ended_at, end_reason
             FROM quotas WHERE uid = $1 AND side = $2",
            &[&uid, &side],
        )?;
        row.as_ref().map(quota_from_row).transpose()
    }

    fn quotas_of(&mut self, psn_no: &str) -> StoreResult<Vec<QuotaRecord>> {
        let rows = self.rows(
            "SELECT id, uid, side, donor, donor_area, relative, relative_area, relative_name, relative_id_number, relation, state,
                    granted_fen, used_fen, returned_fen, actor, channel, business_date, created_at, ended_at, end_reason
             FROM quotas WHERE (donor = $1 AND side IN ('local', 'donor')) OR (relative = $1 AND side IN ('local', 'relative')) ORDER BY id",
            &[&psn_no],
        )?;
        rows.iter().map(quota_from_row).collect()
    }

    fn update_quota(&mut self, q: &QuotaRecord) -> StoreResult<()> {
        let changed = self.exec(
            "UPDATE quotas SET relative = $1, state = $2, granted_fen = $3, used_fen = $4, returned_fen = $5, ended_at = $6, end_reason = $7
             WHERE uid = $8 AND side = $9",
            &[&q.relative, &q.state, &q.granted.fen(), &q.used.fen(), &q.returned.fen(), &q.ended_at, &q.end_reason, &q.uid, &q.side],
        )?;
        if changed != 1 {
            return Err(StoreError::Backend(format!("no quota {} ({})", q.uid, q.side)));
        }
        Ok(())
    }

    fn insert_quota_event(&mut self, e: &QuotaEvent) -> StoreResult<()> {
        self.exec(
            "INSERT INTO quota_events (quota_uid, side, kind, amount_fen, reference, local_date, entry_id, actor, channel, business_date, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            &[
                &e.quota_uid,
                &e.side,
                &e.kind,
                &e.amount.fen(),
                &e.reference,
                &e.local_date,
                &e.entry_id,
                &e.actor,
                &e.channel,
                &e.business_date,
                &e.recorded_at,
            ],
        )?;
        Ok(())
    }

    fn quota_events(&mut self, reference: &str) -> StoreResult<Vec<QuotaEvent>> {
        let rows = self.rows(
            "SELECT quota_uid, side, kind, amount_fen, reference, local_date, entry_id, actor, channel, business_date, recorded_at
             FROM quota_events WHERE reference = $1 ORDER BY id",
            &[&reference],
        )?;
        Ok(rows
            .iter()
            .map(|r| QuotaEvent {
                quota_uid: r.get(0),
                side: r.get(1),
                kind: r.get(2),
                amount: Money::from_fen(r.get(3)),
                reference: r.get(4),
                local_date: r.get(5),
                entry_id: r.get(6),
                actor: r.get(7),
                channel: r.get(8),
                business_date: r.get(9),
                recorded_at: r.get(10),
            })
            .collect())
    }

    fn quota_grants_on(&mut self, donor: &str, local_date: NaiveDate) -> StoreResult<u32> {
        let row = self.one(
            "SELECT COUNT(*) FROM quota_events e JOIN quotas q ON q.uid = e.quota_uid AND q.side = e.side
             WHERE e.kind = 'grant' AND e.local_date = $1 AND q.donor = $2 AND q.side IN ('local', 'donor')",
            &[&local_date, &donor],
        )?;
        Ok(row.get::<_, i64>(0).max(0) as u32)
    }

    fn insert_area_message(&mut self, m: &AreaMessage) -> StoreResult<()> {
        let row = self.opt(
            "INSERT INTO area_outbox (id, from_area, to_area, kind, quota_uid, amount_fen, donor, donor_area, relative, relative_name, relative_id_number,
                relation, reason, business_date, created_at, state)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 'pending') ON CONFLICT (id) DO NOTHING RETURNING 1",
            &[
                &m.id,
                &m.from_area.as_str(),
                &m.to_area.as_str(),
                &m.kind,
                &m.quota_uid,
                &m.amount.fen(),
                &m.donor,
                &m.donor_area.as_str(),
                &m.relative,
                &m.relative_name,
                &m.relative_id_number,
                &m.relation,
                &m.reason,
                &m.business_date,
                &m.created_at,
            ],
        )?;
        match row {
            Some(_) => Ok(()),
            None => Err(StoreError::AlreadyExists(format!("message {}", m.id))),
        }
    }

    fn area_messages(&mut self, state: &str, limit: usize) -> StoreResult<Vec<OutboxMessage>> {
        let rows = self.rows(
            "SELECT id, from_area, to_area, kind, quota_uid, amount_fen, donor, donor_area, relative, relative_name, relative_id_number,
                    relation, reason, business_date, created_at, state, answer, answered_at
             FROM area_outbox WHERE state = $1 ORDER BY seq LIMIT $2",
            &[&state, &limit_i64(limit)],
        )?;
        rows.iter().map(area_message_from_row).collect()
    }

    fn area_message(&mut self, id: &str) -> StoreResult<Option<OutboxMessage>> {
        let row = self.opt(
            "SELECT id, from_area, to_area, kind, quota_uid, amount_fen, donor, donor_area, relative, relative_name, relative_id_number,
                    relation, reason, business_date, created_at, state, answer, answered_at
             FROM area_outbox WHERE id = $1",
            &[&id],
        )?;
        row.as_ref().map(area_message_from_row).transpose()
    }

    fn answer_area_message(&mut self, id: &str, state: &str, answer: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let changed =
            self.exec("UPDATE area_outbox SET state = $1, answer = $2, answered_at = $3 WHERE id = $4 AND state = 'pending'", &[&state, &answer, &at, &id])?;
        Ok(changed == 1)
    }

    fn inbox_record(&mut self, message_id: &str) -> StoreResult<Option<InboxRecord>> {
        let row = self.opt("SELECT from_area, kind, outcome, code, detail, relative, applied_at FROM area_inbox WHERE message_id = $1", &[&message_id])?;
        row.map(|r| {
            Ok(InboxRecord {
                message_id: message_id.to_string(),
                from_area: parse_area(r.get(0))?,
                kind: r.get(1),
                outcome: r.get(2),
                code: r.get(3),
                detail: r.get(4),
                relative: r.get(5),
                applied_at: r.get(6),
            })
        })
        .transpose()
    }

    fn insert_inbox_record(&mut self, r: &InboxRecord) -> StoreResult<()> {
        let row = self.opt(
            "INSERT INTO area_inbox (message_id, from_area, kind, outcome, code, detail, relative, applied_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (message_id) DO NOTHING RETURNING 1",
            &[&r.message_id, &r.from_area.as_str(), &r.kind, &r.outcome, &r.code, &r.detail, &r.relative, &r.applied_at],
        )?;
        match row {
            Some(_) => Ok(()),
            None => Err(StoreError::AlreadyExists(format!("message {} applied before", r.message_id))),
        }
    }

    fn insert_clearing(&mut self, c: &ClearingRecord) -> StoreResult<()> {
        let row = self.opt(
            "INSERT INTO clearing (message_id, direction, area, counterparty, kind, quota_uid, amount_fen, state, entry_id, business_date, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (message_id, direction) DO NOTHING RETURNING 1",
            &[
                &c.message_id,
                &c.direction,
                &c.area.as_str(),
                &c.counterparty.as_str(),
                &c.kind,
                &c.quota_uid,
                &c.amount.fen(),
                &c.state,
                &c.entry_id,
                &c.business_date,
                &c.recorded_at,
            ],
        )?;
        match row {
            Some(_) => Ok(()),
            None => Err(StoreError::AlreadyExists(format!("clearing record {} {}", c.message_id, c.direction))),
        }
    }

    fn settle_clearing(&mut self, message_id: &str, direction: &str, state: &str) -> StoreResult<bool> {
        let changed =
            self.exec("UPDATE clearing SET state = $1 WHERE message_id = $2 AND direction = $3 AND state = 'pending'", &[&state, &message_id, &direction])?;
        Ok(changed == 1)
    }

    fn clearing_records(&mut self) -> StoreResult<Vec<ClearingRecord>> {
        let rows = self.rows(
            "SELECT message_id, direction, area, counterparty, kind, quota_uid, amount_fen, state, entry_id, business_date, recorded_at
             FROM clearing ORDER BY recorded_at, message_id, direction",
            &[],
        )?;
        rows.iter()
            .map(|r| {
                Ok(ClearingRecord {
                    message_id: r.get(0),
                    direction: r.get(1),
                    area: parse_area(r.get(2))?,
                    counterparty: parse_area(r.get(3))?,
                    kind: r.get(4),
                    quota_uid: r.get(5),
                    amount: Money::from_fen(r.get(6)),
                    state: r.get(7),
                    entry_id: r.get(8),
                    business_date: r.get(9),
                    recorded_at: r.get(10),
                })
            })
            .collect()
    }
}

fn token_from_row(r: &Row) -> StoredToken {
    StoredToken {
        id: r.get(0),
        token: NewToken { token_hash: r.get(1), role: r.get(2), area: r.get(3), institution: r.get(4), person: r.get(5), name: r.get(6), created_at: r.get(7) },
        revoked_at: r.get(8),
    }
}

// Family models (§7, §8, §15)
fn limit_i64(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn notification_from_row(r: &Row) -> Notification {
    Notification {
        id: r.get(0),
        notification: NewNotification {
            kind: r.get(1),
            psn_no: r.get(2),
            recipient: r.get(3),
            body: r.get(4),
            secret: r.get(5),
            reference: r.get(6),
            created_at: r.get(13),
        },
        state: r.get(7),
        attempts: r.get::<_, i32>(8).max(0) as u32,
        last_error: r.get(9),
        claim: r.get(10),
        claimed_at: r.get(11),
        finished_at: r.get(12),
    }
}

fn quota_from_row(r: &Row) -> StoreResult<QuotaRecord> {
    Ok(QuotaRecord {
        id: r.get(0),
        uid: r.get(1),
        side: r.get(2),
        donor: r.get(3),
        donor_area: parse_area(r.get(4))?,
        relative: r.get(5),
        relative_area: parse_area(r.get(6))?,
        relative_name: r.get(7),
        relative_id_number: r.get(8),
        relation: r.get(9),
        state: r.get(10),
        granted: Money::from_fen(r.get(11)),
        used: Money::from_fen(r.get(12)),
        returned: Money::from_fen(r.get(13)),
        actor: r.get(14),
        channel: r.get(15),
        business_date: r.get(16),
        created_at: r.get(17),
        ended_at: r.get(18),
        end_reason: r.get(19),
    })
}

fn area_message_from_row(r: &Row) -> StoreResult<OutboxMessage> {
    Ok(OutboxMessage {
        message: AreaMessage {
            id: r.get(0),
            from_area: parse_area(r.get(1))?,
            to_area: parse_area(r.get(2))?,
            kind: r.get(3),
            quota_uid: r.get(4),
            amount: Money::from_fen(r.get(5)),
            donor: r.get(6),
            donor_area: parse_area(r.get(7))?,
            relative: r.get(8),
            relative_name: r.get(9),
            relative_id_number: r.get(10),
            relation: r.get(11),
            reason: r.get(12),
            business_date: r.get(13),
            created_at: r.get(14),
        },
        state: r.get(15),
        answer: r.get(16),
        answered_at: r.get(17),
    })
}
