//! Opening the store a command works on: one function, `with_engine`, for every backend. The
//! SQLite file comes from `--database` (or `GONGJI_DATABASE`), PostgreSQL from `--database-url`
//! (or `GONGJI_DATABASE_URL`). Because `Engine<S>` is generic over its store, the caller hands in
//! an `EngineJob` whose `run` is generic too, and `with_engine` runs it on whichever backend it
//! opened: a command written once works on both.

use std::fmt;
use std::path::Path;

use anyhow::{bail, Context as _, Result};
use gongji_engine::policy_file::preset_book;
use gongji_engine::Engine;
use gongji_store::postgres::{is_postgres_url, PgStore};
use gongji_store::sqlite::SqliteStore;
use gongji_store::Store;

use crate::args::Cli;

/// Which store to open.
#[derive(Clone, Copy, Debug)]
pub enum Backend<'a> {
    /// The SQLite file of `--database` (created if missing).
    Sqlite(&'a Path),
    /// The PostgreSQL database of `--database-url` (`postgres://…`).
    Postgres(&'a str),
    /// Another planning area's SQLite file (`quota relay|reconcile --peer`).
    PeerSqlite(&'a Path),
}

/// What a command does with the engine, whichever store it runs on.
pub trait EngineJob {
    type Output;
    fn run<S: Store + 'static>(self, engine: Engine<S>) -> Result<Self::Output>;
}

/// Opens `backend` with the shipped policy presets and runs `job` on it. A failure to open is
/// reported as `opening <path or URL>: <cause>`; what `job` returns is passed on as it is.
pub fn with_engine<J: EngineJob>(backend: Backend<'_>, job: J) -> Result<J::Output> {
    match backend {
        Backend::Sqlite(path) | Backend::PeerSqlite(path) => {
            let store = SqliteStore::open(path).with_context(|| format!("opening {backend}"))?;
            job.run(Engine::new(store, preset_book()))
        }
        Backend::Postgres(url) => {
            let store = PgStore::connect(url).with_context(|| format!("opening {backend}"))?;
            job.run(Engine::new(store, preset_book()))
        }
    }
}

impl fmt::Display for Backend<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Backend::Sqlite(path) => write!(f, "{}", path.display()),
            Backend::Postgres(url) => write!(f, "{url}"),
            Backend::PeerSqlite(path) => write!(f, "the peer store {}", path.display()),
        }
    }
}

impl Cli {
    /// The store the global options choose: PostgreSQL when `--database-url` is set, else the
    /// SQLite file of `--database`.
    pub fn backend(&self) -> Result<Backend<'_>> {
        Ok(match self.postgres_url()? {
            Some(url) => Backend::Postgres(url),
            None => Backend::Sqlite(&self.database),
        })
    }

    /// The PostgreSQL URL when `--database-url` (or `GONGJI_DATABASE_URL`) selects PostgreSQL.
    pub fn postgres_url(&self) -> Result<Option<&str>> {
        match self.database_url.as_deref() {
            None | Some("") => Ok(None),
            Some(url) if is_postgres_url(url) => Ok(Some(url)),
            Some(other) => bail!("--database-url must start with postgres:// (got {other:?}); the SQLite file is chosen with --database"),
        }
    }
}
