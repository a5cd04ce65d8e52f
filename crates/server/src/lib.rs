//! The HTTP service of gongji (§12, §16): a JSON API for persons, networks, transfers,
//! settlement, explanations and queries, with bearer-token roles, problem+json errors, an
//! OpenAPI document, and the hospital dialect (FSI) of the national platform on its usual path.
//! The JSON API is [`routes`], one module per resource, the web pages are [`web`]; both register
//! their routes one way ([`RouteTable`]) and reach the engine through [`AppState`] ([`state`]).
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
//! - The edge is bounded (issue 12 item 5): a client has [`ServerConfig::header_timeout`] to send
//!   a request's headers (an idle kept-alive connection as long), and at most
//!   [`ServerConfig::max_connections`] connections are open at once; further clients wait in the
//!   kernel's accept queue, so slow or idle clients cannot use up the file descriptors.
//! - Client text reaches a log only escaped (`?`, Debug) or validated: a client's `x-request-id`
//!   is kept only when it is a short token ([`is_request_id_token`]), else replaced.

pub mod auth;
pub mod client;
pub mod demo;
pub mod extract;
pub mod jobs;
pub mod openapi;
pub mod problem;
pub mod routes;
pub mod settle_queue;
pub mod state;
pub mod web;

pub use routes::{route_table, RouteTable};
pub use state::{AppState, ServerConfig, BODY_LEN_MAX_DEFAULT, HEADER_TIMEOUT_DEFAULT, MAX_CONNECTIONS_DEFAULT, REQUEST_TIMEOUT_DEFAULT};

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use gongji_engine::Engine;
use gongji_store::Store;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::sync::Semaphore;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::problem::{http_code, ApiError};

/// Open files the service needs besides its connections: the SQLite database with its WAL and
/// shared-memory files, the listener, the runtime's poller and wakers, signals, std streams.
pub const FILE_DESCRIPTORS_RESERVED: u64 = 64;
/// A client's `x-request-id` longer than this is replaced by a fresh id.
pub const REQUEST_ID_LEN_MAX: usize = 64;
/// How long the accept loop pauses after an accept error other than a connection's own
/// (out of file descriptors, out of memory) before it tries again.
const ACCEPT_RETRY_PAUSE: Duration = Duration::from_secs(1);

/// The whole service: routes, limits, request ids, logs, problem answers for unknown routes.
pub fn app<S: Store + 'static>(engine: Arc<Engine<S>>, config: ServerConfig) -> Router {
    let timeout = config.request_timeout;
    let body_len_max = config.body_len_max;
    let settle_queue = Arc::new(settle_queue::SettleQueue::start(engine.clone()));
    let state = AppState { engine, config: Arc::new(config), settle_queue, jobs: Arc::default() };
    route_table::<S>()
        .merge(web::routes::<S>())
        .into_router()
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(timeout, time_limit))
        .layer(DefaultBodyLimit::max(body_len_max))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(request_span).on_request(()).on_response(log_response))
        .layer(SetRequestIdLayer::x_request_id(RequestIds::new()))
        // Outermost: a client's id that is not a short token is dropped before it is kept.
        .layer(axum::middleware::map_request(screen_request_id))
}

/// The connection limits of [`serve`] (issue 12 item 5), from a [`ServerConfig`]. Clones share
/// the count of open connections.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    header_timeout: Duration,
    /// One permit per connection; the accept loop takes one before it accepts.
    slots: Arc<Semaphore>,
    open: Arc<AtomicUsize>,
}

impl ConnectionLimits {
    pub fn new(config: &ServerConfig) -> ConnectionLimits {
        let max_connections = config.max_connections.clamp(1, Semaphore::MAX_PERMITS);
        ConnectionLimits { header_timeout: config.header_timeout, slots: Arc::new(Semaphore::new(max_connections)), open: Arc::default() }
    }

    /// Connections open now (accepted and not yet closed).
    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }
}

/// Serves `app` on `listener` until `shutdown` resolves; requests in flight then finish.
///
/// HTTP/1.1 by hyper. The header of each request must arrive within the header timeout, else
/// the connection is closed; an idle kept-alive connection is closed after as long. A
/// connection is accepted only when one of the `max_connections` slots is free: beyond the cap
/// clients wait in the kernel's accept queue (as nginx and HAProxy do) rather than being
/// accepted and dropped, and the service never holds more sockets than the cap, so it cannot
/// run out of file descriptors. At shutdown it stops accepting, closes idle connections, and
/// waits for requests in flight (a header still arriving has at most the header timeout).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = limits.slots.clone().acquire_owned() => slot.expect("the connection semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) if is_connection_error(&err) => continue,
                Err(err) => {
                    tracing::error!(error = %err, "accept failed; trying again in a second");
                    tokio::select! {
                        () = tokio::time::sleep(ACCEPT_RETRY_PAUSE) => continue,
                        () = &mut shutdown => break,
                    }
                }
            },
            () = &mut shutdown => break,
        };
        limits.open.fetch_add(1, Ordering::SeqCst);
        let open = limits.open.clone();
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone())));
        tokio::spawn(async move {
            // A client's reset, a header timeout or a malformed request (hyper answered 400)
            // end the connection; none is the service's failure.
            if let Err(err) = connection.await {
                tracing::debug!(error = ?err, "connection ended");
            }
            // The socket is closed by now: only then is the slot free again.
            open.fetch_sub(1, Ordering::SeqCst);
            drop(slot);
        });
    }
    drop(listener);
    tracing::info!(open = limits.open(), "not accepting; waiting for open connections to finish");
    graceful.shutdown().await;
    Ok(())
}

fn is_connection_error(err: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(err.kind(), ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset)
}

/// Makes room for `max_connections` connections in the process's open-file limit
/// (`RLIMIT_NOFILE`), with [`FILE_DESCRIPTORS_RESERVED`] to spare: raises the soft limit (up to
/// the hard one) when it is lower. Returns the soft limit now in force. Fails when even the
/// hard limit is too low, since the connection cap would then not protect the service.
#[cfg(unix)]
#[allow(clippy::unnecessary_cast)] // rlim_t is u64 on Linux and macOS, i64 on some BSDs
pub fn reserve_file_descriptors(max_connections: usize) -> std::io::Result<u64> {
    let needed = (max_connections as u64).saturating_add(FILE_DESCRIPTORS_RESERVED);
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit only writes the rlimit it is given, which lives on this stack frame.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let soft = limit.rlim_cur as u64;
    if limit.rlim_cur == libc::RLIM_INFINITY || soft >= needed {
        return Ok(soft);
    }
    if limit.rlim_max != libc::RLIM_INFINITY && (limit.rlim_max as u64) < needed {
        return Err(std::io::Error::other(format!(
            "{max_connections} connections need {needed} open files, but this process may open at most {} (ulimit -Hn); lower the cap or raise the limit",
            limit.rlim_max
        )));
    }
    let raised = libc::rlimit { rlim_cur: needed as libc::rlim_t, rlim_max: limit.rlim_max };
    // SAFETY: setrlimit only reads the rlimit it is given.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(needed)
}

/// Elsewhere the open-file limit is the platform's business.
#[cfg(not(unix))]
pub fn reserve_file_descriptors(_max_connections: usize) -> std::io::Result<u64> {
    Ok(u64::MAX)
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
    limits: ConnectionLimits,
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
        let limits = ConnectionLimits::new(&config);
        let router = app(engine, config);
        let serving = limits.clone();
        let thread = std::thread::Builder::new().name("gongji-server".into()).spawn(move || {
            runtime.block_on(serve(listener, router, serving, async move {
                let _ = receiver.await;
            }))
        })?;
        Ok(RunningServer { addr, limits, shutdown: Some(sender), thread: Some(thread) })
    }

    /// Connections the server holds open now.
    pub fn open_connections(&self) -> usize {
        self.limits.open()
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
/// client sent its own `x-request-id` and it is a short token ([`screen_request_id`]).
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

/// A client's request id is kept only when it is a short token: 1 to [`REQUEST_ID_LEN_MAX`]
/// ASCII letters, digits and `-` (issue 12 item 5). Anything else (spaces, quotes, `=`, line
/// breaks, non-ASCII) could forge fields or lines of the log, and is replaced by a fresh id.
pub fn is_request_id_token(text: &str) -> bool {
    !text.is_empty() && text.len() <= REQUEST_ID_LEN_MAX && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Drops a client's `x-request-id` unless it is one header whose value is a short token, so
/// that [`RequestIds`] issues a fresh one; the response carries the id used.
async fn screen_request_id(mut request: Request) -> Request {
    let headers = request.headers_mut();
    let mut values = headers.get_all("x-request-id").iter();
    let acceptable = match (values.next(), values.next()) {
        (None, _) => return request,
        (Some(value), None) => value.to_str().is_ok_and(is_request_id_token),
        (Some(_), Some(_)) => false,
    };
    if !acceptable {
        headers.remove("x-request-id");
    }
    request
}

/// The span of one request: id, method and path (paths carry psn_no and institution codes,
/// never ID numbers, names or phones); the role and token id are recorded once known. The id
/// is a token by now ([`screen_request_id`]) and the method a token by HTTP's grammar (hyper
/// refuses others); the path is the client's text, so it is logged escaped (`?`).
fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
    tracing::info_span!("request", id = %id, method = %request.method(), path = ?request.uri().path(), role = tracing::field::Empty, token = tracing::field::Empty)
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

#[cfg(test)]
mod tests {
    use super::*;

    // issue 12 item 5: a client's request id reaches the log only when it is a short token.
    #[test]
    fn only_short_tokens_are_kept_as_request_ids() {
        for kept in ["a", "abc-123", "3f9a1c02-000017", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "ABC-def-9"] {
            assert!(is_request_id_token(kept), "{kept:?} is a short token");
        }
        let too_long = "a".repeat(REQUEST_ID_LEN_MAX + 1);
        for replaced in [
            "",
            too_long.as_str(),
            "abc\ndef",
            "abc\r\n2024-01-01T00:00:00Z  INFO forged",
            "x\" role=admin",
            "a b",
            "a=b",
            "a_b",
            "id\u{1b}[31m",
            "编号-1",
            "a\u{0}",
        ] {
            assert!(!is_request_id_token(replaced), "{replaced:?} must be replaced");
        }
    }

    fn request_with_ids(ids: &[&[u8]]) -> Request {
        let mut request = Request::new(axum::body::Body::empty());
        for id in ids {
            request.headers_mut().append("x-request-id", HeaderValue::from_bytes(id).unwrap());
        }
        request
    }

    fn screened(ids: &[&[u8]]) -> Vec<Vec<u8>> {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let request = runtime.block_on(screen_request_id(request_with_ids(ids)));
        request.headers().get_all("x-request-id").iter().map(|v| v.as_bytes().to_vec()).collect()
    }

    // issue 12 item 5: the connection cap must fit in the open-file limit; the soft limit is
    // raised when the hard one allows, and a cap beyond the hard limit is refused.
    #[cfg(unix)]
    #[test]
    #[allow(clippy::unnecessary_cast)] // rlim_t is u64 on Linux and macOS, i64 on some BSDs
    fn room_for_the_connection_cap_is_made_in_the_open_file_limit() {
        let limit = reserve_file_descriptors(200).expect("200 connections fit anywhere");
        assert!(limit >= 200 + FILE_DESCRIPTORS_RESERVED);
        let mut current = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit only writes the rlimit it is given.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut current) }, 0);
        assert!(current.rlim_cur == libc::RLIM_INFINITY || current.rlim_cur as u64 >= 200 + FILE_DESCRIPTORS_RESERVED);
        if current.rlim_max != libc::RLIM_INFINITY {
            let hard = current.rlim_max as u64;
            let err = reserve_file_descriptors(hard as usize).expect_err("a cap of the whole hard limit leaves no room for the store");
            assert!(err.to_string().contains("ulimit -Hn"), "{err}");
        }
    }

    // issue 12 item 5: what the screen leaves for tower-http's SetRequestId, which keeps a
    // header it finds and issues a fresh id when there is none.
    #[test]
    fn the_screen_drops_every_client_id_that_is_not_one_short_token() {
        assert_eq!(screened(&[b"abc-123"]), vec![b"abc-123".to_vec()]);
        assert!(screened(&[]).is_empty());
        assert!(screened(&[b"x\" role=admin"]).is_empty());
        assert!(screened(&["a".repeat(65).as_bytes()]).is_empty());
        assert!(screened(&["编号".as_bytes()]).is_empty(), "not visible ASCII");
        assert!(screened(&[b"tab\there"]).is_empty());
        assert!(screened(&[b"abc-123", b"def-456"]).is_empty(), "two ids: which one? neither");
    }
}
