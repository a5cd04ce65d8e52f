//! Storage for gongji behind one trait, [`Store`], with a SQLite implementation (the embedded
//! default). A backend only stores and loads: it applies no business rule, except the last line
//! of defence of the ledger (entries balance, balances that must not go negative do not).
//!
//! Every business operation runs inside one transaction ([`Store::write`]); it commits when the
//! closure returns `Ok` and rolls back otherwise, so nothing is ever half-written. What a
//! transaction can do is [`Tx`]: the capability traits of `tx.rs`, one per business area
//! ([`PersonsTx`], [`LedgerTx`], …). Each backend is a folder (`sqlite/`, `postgres/`) with one
//! file per capability; both read rows back by column name through `rows.rs`, where a value
//! that does not read back is [`StoreError::Corrupt`], never a panic.

/// The PostgreSQL backend (feature `postgres`).
#[cfg(feature = "postgres")]
pub mod postgres;
mod records;
mod rows;
pub mod sqlite;
mod tx;

pub use records::*;
pub use tx::*;

use chrono::{DateTime, Utc};

/// Errors a backend reports. Small enough to match on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    /// An entry with this idempotency key was already posted.
    #[error("duplicate idempotency key {0}")]
    DuplicateKey(String),
    /// A row that must be unique already exists (person, bill, …).
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// The posting would make an account that must stay non-negative go below zero.
    #[error("balance of {0} would go negative")]
    NegativeBalance(String),
    /// The posting would take a balance outside the range its account admits (ST10):
    /// above [`gongji_core::account::PERSON_BALANCE_MAX`] for a person's account.
    #[error("balance of {0} would leave its admitted range")]
    BalanceOutOfRange(String),
    /// The backend gave up waiting for a lock; the operation may be retried.
    #[error("store busy")]
    Busy,
    #[error("storage backend error: {0}")]
    Backend(String),
    /// Stored data that cannot be read back into domain types.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// How many times a backend retries a transaction the database aborted for serialisation.
pub const TX_RETRIES_MAX: u32 = 16;

/// A store: opens transactions. Implementations are cheap to share between threads.
pub trait Store: Send + Sync {
    /// Runs `work` in a write transaction: commit on `Ok`, roll back on `Err`. Writers are
    /// serialised (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: `REPEATABLE READ` snapshots, in which only the first of two updaters of a row commits), so balances
    /// read inside `work` stay true until it commits (ST9). A backend may roll back and run
    /// `work` again when the database asks for a retry (a serialisation failure), at most
    /// [`TX_RETRIES_MAX`] times: `work` must have no effect outside the transaction that
    /// matters when repeated.
    fn write<R, E: From<StoreError>>(&self, work: impl FnMut(&mut dyn Tx) -> Result<R, E>) -> Result<R, E>;

    /// Runs `work` in a transaction that is always rolled back: reads, and dry runs such as
    /// pre-settlement (ST5), which may write and must leave nothing behind.
    fn read<R, E: From<StoreError>>(&self, work: impl FnMut(&mut dyn Tx) -> Result<R, E>) -> Result<R, E>;

    /// A short name for messages (`sqlite:/path`, `sqlite::memory:`).
    fn describe(&self) -> String;
}

// Tokens (§12)

/// An API bearer token as stored: never the token itself, only its hash (SHA-256 of a 256-bit
/// random secret), with the role and scope it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub token_hash: String,
    pub role: gongji_core::states::Role,
    pub area: Option<String>,
    pub institution: Option<String>,
    pub person: Option<String>,
    /// Who holds it (operator id, system name); recorded as the actor (P6).
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    pub id: i64,
    pub token: NewToken,
    pub revoked_at: Option<DateTime<Utc>>,
}
