//! The blocking HTTP/1.1 client of the integration tests and the load benchmark: hyper's own
//! client connection (`hyper::client::conn::http1`) over one keep-alive
//! `tokio::net::TcpStream`, driven by a current-thread tokio runtime of its own so that its
//! callers stay synchronous. hyper writes the request and parses the answer (status line,
//! headers, `Content-Length` or chunked bodies); this module only keeps the connection and
//! turns the answer into an [`HttpResponse`]. Not a general client: no TLS, no redirects, no
//! pool.

use std::error::Error as _;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderName, HeaderValue, CONNECTION, CONTENT_LENGTH, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::runtime::Runtime;

/// Largest answer body accepted.
const BODY_LEN_MAX: usize = 64 * 1024 * 1024;
/// The longest a connect, or one request and its whole answer, may take.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    /// In the order received; names in lower case, as HTTP/1.1 servers of hyper send them.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; `Null` when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// One keep-alive connection to `addr`, opened on the first request.
pub struct HttpClient {
    addr: SocketAddr,
    // Dropped before the runtime, whose drop ends the connection's task and closes the socket.
    connection: Option<SendRequest<Full<Bytes>>>,
    runtime: Option<Runtime>,
}

impl HttpClient {
    pub fn new(addr: SocketAddr) -> HttpClient {
        HttpClient { addr, connection: None, runtime: None }
    }

    /// Sends one request and reads its answer. A request on a kept-alive connection that the
    /// server had closed meanwhile is sent again once on a new connection.
    pub fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> io::Result<HttpResponse> {
        if self.runtime.is_none() {
            self.runtime = Some(tokio::runtime::Builder::new_current_thread().enable_all().build()?);
        }
        let runtime = self.runtime.as_ref().expect("built above");
        runtime.block_on(exchange(self.addr, &mut self.connection, method, path, headers, body))
    }

    /// A JSON request with an optional bearer token.
    pub fn json(&mut self, method: &str, path: &str, token: Option<&str>, body: Option<&serde_json::Value>) -> io::Result<HttpResponse> {
        let authorization = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("Content-Type", "application/json"), ("Accept", "application/json")];
        if let Some(value) = &authorization {
            headers.push(("Authorization", value));
        }
        let bytes = body.map(|b| serde_json::to_vec(b).expect("JSON values serialise")).unwrap_or_default();
        self.send(method, path, &headers, &bytes)
    }
}

async fn exchange(
    addr: SocketAddr,
    connection: &mut Option<SendRequest<Full<Bytes>>>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<HttpResponse> {
    // A kept-alive connection whose end the connection task has seen is replaced before use.
    let reused = match connection.as_mut() {
        Some(sender) => sender.ready().await.is_ok(),
        None => false,
    };
    if !reused {
        *connection = None;
    }
    match send_once(addr, connection, method, path, headers, body).await {
        // The server closed it while the request was on its way: once more, on a new one.
        Err(err) if reused && is_closed(&err) => {
            *connection = None;
            send_once(addr, connection, method, path, headers, body).await
        }
        other => other,
    }
}

async fn send_once(
    addr: SocketAddr,
    connection: &mut Option<SendRequest<Full<Bytes>>>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<HttpResponse> {
    let request = request(addr, method, path, headers, body)?;
    if connection.is_none() {
        *connection = Some(connect(addr).await?);
    }
    let sender = connection.as_mut().expect("connected above");
    let answer = async {
        let response = sender.send_request(request).await.map_err(io_error)?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, BODY_LEN_MAX).collect().await.map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))?.to_bytes();
        Ok::<_, io::Error>((parts, body))
    };
    let (parts, body) = match tokio::time::timeout(IO_TIMEOUT, answer).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(err)) => {
            *connection = None;
            return Err(err);
        }
        Err(_) => {
            *connection = None;
            return Err(io::Error::new(io::ErrorKind::TimedOut, "no answer in time"));
        }
    };
    if parts.headers.get(CONNECTION).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close")) {
        *connection = None;
    }
    let headers = parts.headers.iter().map(|(name, value)| (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).trim().to_string())).collect();
    Ok(HttpResponse { status: parts.status.as_u16(), headers, body: body.to_vec() })
}

/// The request as given: `Host` and `Content-Length` first, then the caller's headers in their
/// order (a name given twice is sent twice), their values as bytes.
fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> io::Result<Request<Full<Bytes>>> {
    let invalid = |err: &dyn std::fmt::Display| io::Error::new(io::ErrorKind::InvalidInput, err.to_string());
    let mut builder = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).map_err(|e| invalid(&e))?)
        .uri(path)
        .header(HOST, addr.to_string())
        .header(CONTENT_LENGTH, body.len());
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| invalid(&e))?;
        let value = HeaderValue::from_bytes(value.as_bytes()).map_err(|e| invalid(&e))?;
        builder = builder.header(name, value);
    }
    builder.body(Full::new(Bytes::copy_from_slice(body))).map_err(|e| invalid(&e))
}

async fn connect(addr: SocketAddr) -> io::Result<SendRequest<Full<Bytes>>> {
    let stream = tokio::time::timeout(IO_TIMEOUT, TcpStream::connect(addr)).await.map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect"))??;
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await.map_err(io_error)?;
    // The connection's task reads and writes the socket; it runs while `send` blocks on the
    // runtime, and ends when the server closes the connection or the client is dropped.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// hyper's error as an I/O error; a connection that ended before the answer did is
/// `ConnectionAborted` (or the socket's own error), which [`exchange`] retries once.
fn io_error(err: hyper::Error) -> io::Error {
    let kind = if err.is_canceled() || err.is_closed() || err.is_incomplete_message() {
        io::ErrorKind::ConnectionAborted
    } else if err.is_timeout() {
        io::ErrorKind::TimedOut
    } else {
        err.source().and_then(|source| source.downcast_ref::<io::Error>()).map_or(io::ErrorKind::Other, io::Error::kind)
    };
    io::Error::new(kind, err)
}

fn is_closed(err: &io::Error) -> bool {
    matches!(err.kind(), io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionAborted)
}
