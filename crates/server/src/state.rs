//! What every handler shares: the service's configuration ([`ServerConfig`]) and
//! [`AppState`] (the engine, the settle queue, the running jobs), with the two ways a handler
//! reaches the engine: [`AppState::call`] (authenticated, on the blocking pool) and
//! [`AppState::blocking`].

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use chrono::{Local, NaiveDate};
use gongji_engine::{Context, Engine};
use gongji_store::Store;

use crate::auth::{self, Caller, Credentials};
use crate::jobs::JobRegistry;
use crate::problem::{ApiError, ApiResult};
use crate::settle_queue::SettleQueue;

/// Request bodies larger than this are refused with 413 before they are read in full.
pub const BODY_LEN_MAX_DEFAULT: usize = 1024 * 1024;
/// A request that takes longer is answered 503 `http.timeout`.
pub const REQUEST_TIMEOUT_DEFAULT: Duration = Duration::from_secs(30);
/// A client that has not sent a request's whole header in this time is disconnected, and so is
/// a kept-alive connection idle this long (issue 12 item 5). Hospital systems send a header in
/// one packet; ten seconds leave room for a slow mobile network.
pub const HEADER_TIMEOUT_DEFAULT: Duration = Duration::from_secs(10);
/// At most this many connections are open at once (issue 12 item 5); with
/// [`crate::FILE_DESCRIPTORS_RESERVED`] it fits the usual open-file limit of 1024.
pub const MAX_CONNECTIONS_DEFAULT: usize = 512;
/// How the service runs. `business_date` fixes the date of every operation (tests, demos,
/// rehearsals); by default it is today's local date.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub body_len_max: usize,
    pub request_timeout: Duration,
    /// The longest a client may take to send a request's headers, and the longest a kept-alive
    /// connection may stay idle; then the connection is closed without an answer.
    pub header_timeout: Duration,
    /// The most connections open at once; beyond, clients wait in the kernel's accept queue.
    pub max_connections: usize,
    pub business_date: Option<NaiveDate>,
    /// `serve --demo`: the web sign-in page lists the demo families and signs in as one of
    /// them, or as the demo area's operator, without a token (see [`crate::web`]) — only on a
    /// store that carries the demo mark ([`crate::demo::prepare`]).
    pub demo: bool,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            body_len_max: BODY_LEN_MAX_DEFAULT,
            request_timeout: REQUEST_TIMEOUT_DEFAULT,
            header_timeout: HEADER_TIMEOUT_DEFAULT,
            max_connections: MAX_CONNECTIONS_DEFAULT,
            business_date: None,
            demo: false,
        }
    }
}

/// What every handler shares: the engine and the configuration.
pub struct AppState<S: Store> {
    pub engine: Arc<Engine<S>>,
    pub config: Arc<ServerConfig>,
    /// Group commit of settlements (see [`crate::settle_queue`]).
    pub settle_queue: Arc<SettleQueue>,
    /// Batch jobs started over HTTP (see [`crate::jobs`]).
    pub jobs: Arc<JobRegistry>,
}

impl<S: Store> Clone for AppState<S> {
    fn clone(&self) -> Self {
        AppState { engine: self.engine.clone(), config: self.config.clone(), settle_queue: self.settle_queue.clone(), jobs: self.jobs.clone() }
    }
}

impl<S: Store + 'static> AppState<S> {
    pub fn business_date(&self) -> NaiveDate {
        self.config.business_date.unwrap_or_else(|| Local::now().date_naive())
    }

    /// Authenticates the caller and runs `work` with the engine on the blocking pool, inside
    /// the request's tracing span. A panic in `work` becomes an opaque 500.
    pub async fn call<T: Send + 'static>(
        &self,
        credentials: Credentials,
        work: impl FnOnce(&Engine<S>, &Caller, NaiveDate) -> ApiResult<T> + Send + 'static,
    ) -> ApiResult<T> {
        let engine = self.engine.clone();
        let today = self.business_date();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let caller = auth::authenticate(engine.store(), &credentials)?;
            span.record("role", caller.role().as_str());
            span.record("token", caller.token_id);
            work(&engine, &caller, today)
        })
        .await
        .map_err(|err| ApiError::internal(format!("engine task failed: {err}")))?
    }

    /// An operation that acts for the person `psn_no` and answers 204: authenticates, checks
    /// that the caller may act for that person before anything is loaded (§12, N9:
    /// `Caller::may_act_for`), then runs `act` with the caller's context.
    pub async fn act_for<T>(
        &self,
        credentials: Credentials,
        psn_no: String,
        act: impl FnOnce(&Engine<S>, &Context, &str) -> gongji_engine::Result<T> + Send + 'static,
    ) -> ApiResult<StatusCode> {
        self.call(credentials, move |engine, caller, today| {
            caller.may_act_for(&psn_no)?;
            act(engine, &caller.context(today), &psn_no)?;
            Ok(())
        })
        .await?;
        Ok(StatusCode::NO_CONTENT)
    }

    /// Runs `work` on the blocking pool without authentication (health, the hospital dialect,
    /// which authenticates inside so that it can answer in its own envelope).
    pub async fn blocking<T: Send + 'static>(&self, work: impl FnOnce(&Engine<S>, NaiveDate) -> T + Send + 'static) -> ApiResult<T> {
        let engine = self.engine.clone();
        let today = self.business_date();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            work(&engine, today)
        })
        .await
        .map_err(|err| ApiError::internal(format!("engine task failed: {err}")))
    }
}
