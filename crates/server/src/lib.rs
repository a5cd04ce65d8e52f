//! The HTTP service of gongji (§12, §16): a JSON API for persons, networks, transfers,
//! settlement, explanations and queries, with bearer-token roles, problem+json errors, an
//! OpenAPI document, and the national hospital (HIS) dialect on its usual path.
//!
//! Invariants:
//! - Every change goes through [`Engine`], one store transaction per operation; the server reads
//!   the [`Store`] directly only for tokens and lookups by key (a bill, an ID number).
//! - The engine is synchronous: every call runs on tokio's blocking pool (`spawn_blocking`),
//!   never on the async workers.
//! - Every request but `/health` and `/openapi.json` is authenticated; a role never acts
//!   outside its scope (the engine checks N9/N11, this crate checks §12 for bills and reads).
//! - A request is parsed completely (unknown fields, wrong types, bad money and ID numbers are
//!   4xx `input.invalid` or the rule's code) before the engine sees it; nothing half written.
//! - Money is a decimal string at the edge (P3); personal data is never logged unmasked.

pub mod api;
pub mod auth;
pub mod batch;
pub mod client;
pub mod demo;
pub mod extract;
pub mod family_api;
pub mod his;
pub mod jobs;
pub mod openapi;
pub mod problem;
pub mod web;
pub mod wire;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::handler::Handler;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter};
use axum::Router;
use chrono::{Local, NaiveDate};
use gongji_engine::Engine;
use gongji_store::Store;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::auth::{Caller, Credentials};
use crate::problem::{http_code, ApiError, ApiResult};

/// Request bodies larger than this are refused with 413 before they are read in full.
pub const BODY_LEN_MAX_DEFAULT: usize = 1024 * 1024;
/// A request that takes longer is answered 503 `http.timeout`.
pub const REQUEST_TIMEOUT_DEFAULT: Duration = Duration::from_secs(30);

/// How the service runs. `business_date` fixes the date of every operation (tests, demos,
/// rehearsals); by default it is today's local date.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub body_len_max: usize,
    pub request_timeout: Duration,
    pub business_date: Option<NaiveDate>,
    /// `serve --demo`: the web sign-in page lists the demo families and signs in as one of
    /// them, or as the demo area's operator, without a token (see [`web`]) — only on a store
    /// that carries the demo mark ([`demo::prepare`]).
    pub demo: bool,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig { body_len_max: BODY_LEN_MAX_DEFAULT, request_timeout: REQUEST_TIMEOUT_DEFAULT, business_date: None, demo: false }
    }
}

/// What every handler shares: the engine and the configuration.
pub struct AppState<S: Store> {
    pub engine: Arc<Engine<S>>,
    pub config: Arc<ServerConfig>,
    /// Group commit of settlements (see [`batch`]).
    pub settle_queue: Arc<batch::SettleQueue>,
    /// Batch jobs started over HTTP (see [`jobs`]).
    pub jobs: Arc<jobs::JobRegistry>,
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

    /// Runs `work` on the blocking pool without authentication (health, the HIS dialect,
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

/// The routes of the service, each added with its method, so that the list of routes and the
/// router cannot differ (the OpenAPI test compares this list with the document).
pub struct RouteTable<S: Store + 'static> {
    router: Router<AppState<S>>,
    routes: Vec<(Method, &'static str)>,
}

impl<S: Store + 'static> RouteTable<S> {
    fn new() -> RouteTable<S> {
        RouteTable { router: Router::new(), routes: Vec::new() }
    }

    fn add<H: Handler<T, AppState<S>>, T: 'static>(mut self, method: Method, path: &'static str, handler: H) -> RouteTable<S> {
        let filter = MethodFilter::try_from(method.clone()).expect("routes use standard methods");
        self.router = self.router.route(path, on(filter, handler));
        self.routes.push((method, path));
        self
    }

    /// Every route as (method, path), in the order added.
    pub fn routes(&self) -> &[(Method, &'static str)] {
        &self.routes
    }
}

/// All routes of the service.
pub fn route_table<S: Store + 'static>() -> RouteTable<S> {
    use api::*;
    RouteTable::new()
        .add(Method::GET, "/health", health::<S>)
        .add(Method::GET, "/openapi.json", openapi_json)
        .add(Method::POST, "/api/v1/persons", register_person::<S>)
        .add(Method::GET, "/api/v1/persons/{psn_no}", get_person::<S>)
        .add(Method::POST, "/api/v1/persons/{psn_no}/credits", credit::<S>)
        .add(Method::POST, "/api/v1/persons/{psn_no}/moves", move_money::<S>)
        .add(Method::PUT, "/api/v1/persons/{psn_no}/preset", set_preset::<S>)
        .add(Method::POST, "/api/v1/persons/{psn_no}/explain", explain::<S>)
        .add(Method::GET, "/api/v1/persons/{psn_no}/statement", statement::<S>)
        .add(Method::POST, "/api/v1/persons/{psn_no}/network/confirm", confirm_member::<S>)
        .add(Method::POST, "/api/v1/persons/{psn_no}/network/leave", leave_network::<S>)
        // Relative transfer, association, quotas, premiums, the outbox (issue 8): see family_api.
        .add_family_routes()
        .add(Method::POST, "/api/v1/networks", create_network::<S>)
        .add(Method::POST, "/api/v1/networks/{promoter}/members", add_member::<S>)
        .add(Method::POST, "/api/v1/networks/{promoter}/members/{member}/remove", remove_member::<S>)
        .add(Method::PUT, "/api/v1/networks/{promoter}/order", reorder::<S>)
        .add(Method::POST, "/api/v1/networks/{promoter}/dissolve", dissolve::<S>)
        .add(Method::POST, "/api/v1/institutions/{institution}/bills", settle::<S>)
        .add(Method::POST, "/api/v1/institutions/{institution}/presettlements", presettle::<S>)
        .add(Method::GET, "/api/v1/institutions/{institution}/bills/{bill_id}", get_bill::<S>)
        .add(Method::POST, "/api/v1/institutions/{institution}/bills/{bill_id}/cancel", cancel::<S>)
        .add(Method::GET, "/api/v1/areas/{area}/network-events", network_events::<S>)
        .add(Method::GET, "/api/v1/areas/{area}/mut-movements", mut_movements::<S>)
        .add(Method::GET, "/api/v1/audit", audit::<S>)
        .add(Method::POST, "/api/v1/jobs", jobs::start_job::<S>)
        .add(Method::GET, "/api/v1/jobs", jobs::list_jobs::<S>)
        .add(Method::GET, "/api/v1/jobs/{id}", jobs::get_job::<S>)
        .add(Method::POST, his::HIS_PATH, his::call_service::<S>)
}

/// The whole service: routes, limits, request ids, logs, problem answers for unknown routes.
pub fn app<S: Store + 'static>(engine: Arc<Engine<S>>, config: ServerConfig) -> Router {
    let timeout = config.request_timeout;
    let body_len_max = config.body_len_max;
    let settle_queue = Arc::new(batch::SettleQueue::start(engine.clone()));
    let state = AppState { engine, config: Arc::new(config), settle_queue, jobs: Arc::default() };
    route_table::<S>()
        .router
        .merge(web::routes::<S>())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(timeout, time_limit))
        .layer(DefaultBodyLimit::max(body_len_max))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(request_span).on_request(()).on_response(log_response))
        .layer(SetRequestIdLayer::x_request_id(RequestIds::new()))
}

/// Serves `app` on `listener` until `shutdown` resolves; requests in flight then finish.
pub async fn serve(listener: tokio::net::TcpListener, app: Router, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutdown requested; finishing requests in flight");
}

/// A server running on its own thread and runtime (tests, benchmarks). Dropping it shuts the
/// server down gracefully and waits for it.
pub struct RunningServer {
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl RunningServer {
    /// Starts the service on `listen` (port 0 picks a free port) with `worker_threads` async
    /// workers.
    pub fn start<S: Store + 'static>(
        engine: Arc<Engine<S>>,
        config: ServerConfig,
        listen: SocketAddr,
        worker_threads: usize,
    ) -> std::io::Result<RunningServer> {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(worker_threads.max(1)).enable_all().build()?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind(listen))?;
        let addr = listener.local_addr()?;
        let (sender, receiver) = tokio::sync::oneshot::channel::<()>();
        let router = app(engine, config);
        let thread = std::thread::Builder::new().name("gongji-server".into()).spawn(move || {
            runtime.block_on(serve(listener, router, async move {
                let _ = receiver.await;
            }))
        })?;
        Ok(RunningServer { addr, shutdown: Some(sender), thread: Some(thread) })
    }

    /// Stops accepting, lets requests in flight finish, and returns the server's result.
    pub fn stop(mut self) -> std::io::Result<()> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> std::io::Result<()> {
        if let Some(sender) = self.shutdown.take() {
            let _ = sender.send(());
        }
        match self.thread.take() {
            Some(thread) => thread.join().unwrap_or_else(|_| Err(std::io::Error::other("server thread panicked"))),
            None => Ok(()),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.stop_inner();
    }
}

/// Request ids: a random per-process prefix and a counter (`3f9a1c02-000017`), unless the
/// client sent its own `x-request-id`.
#[derive(Clone)]
struct RequestIds {
    prefix: u32,
    next: Arc<AtomicU64>,
}

impl RequestIds {
    fn new() -> RequestIds {
        let prefix = getrandom::u64().map(|v| v as u32).unwrap_or(0);
        RequestIds { prefix, next: Arc::new(AtomicU64::new(1)) }
    }
}

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{:08x}-{n:06}", self.prefix)).ok().map(RequestId::new)
    }
}

/// The span of one request: id, method and path (paths carry psn_no and institution codes,
/// never ID numbers, names or phones); the role and token id are recorded once known.
fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
    tracing::info_span!("request", id = %id, method = %request.method(), path = %request.uri().path(), role = tracing::field::Empty, token = tracing::field::Empty)
}

fn log_response(response: &Response, latency: Duration, _span: &tracing::Span) {
    tracing::info!(status = response.status().as_u16(), latency_us = latency.as_micros() as u64, "response");
}

async fn time_limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, http_code::TIMEOUT, "", format!("the request took longer than {} ms", limit.as_millis()))
            .into_response(),
    }
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, http_code::ROUTE_NOT_FOUND, "", "no such route; see /openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, http_code::METHOD_NOT_ALLOWED, "", "this route does not take that method; see /openapi.json")
}

/// Installs the log subscriber: one line per event on stderr, with the request span's fields.
pub fn init_logging(level: tracing::Level) {
    use std::io::IsTerminal;
    let ansi = std::io::stderr().is_terminal();
    let _ = tracing_subscriber::fmt().with_max_level(level).with_target(false).with_ansi(ansi).with_writer(std::io::stderr).try_init();
}
