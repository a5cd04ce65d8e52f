//! The HTTP edge (issue 12 item 5): slow clients that never finish their headers neither stop
//! the service nor keep their connections, connections beyond the cap wait for a free slot,
//! shutdown is not held up by a silent client, and a client's request id is kept only when it
//! is a short token.
//!
//! No assertion here is on time: each waits for a behaviour (an answer, a closed connection, a
//! count) with a generous upper bound, far beyond the short timeouts configured.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::TestApp;
use gongji_server::client::HttpClient;
use gongji_server::{is_request_id_token, ServerConfig};

const SLOW_CLIENTS: usize = 1000;
/// The longest any behaviour below may take; the timeouts configured are 1 to 5 seconds.
const GENEROUS: Duration = Duration::from_secs(90);

/// The test process holds both ends of every connection: the clients' sockets and the
/// server's. Tests of this file run in parallel, so room for all of them at once.
fn room_for_connections() {
    let needed = 3 * 2 * SLOW_CLIENTS + 500;
    if let Err(err) = gongji_server::reserve_file_descriptors(needed) {
        panic!("these tests need {needed} open files (both ends of {SLOW_CLIENTS} connections, three tests at once): {err}");
    }
}

/// A client that starts a request and never finishes its header (slowloris).
fn slow_client(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect_timeout(&addr, GENEROUS).expect("connect");
    stream.write_all(b"GET /health HTTP/1.1\r\nHost: gongji\r\nX-Slow: still typ").expect("a partial header");
    stream
}

/// Waits until `condition` holds; panics with `what` after [`GENEROUS`].
fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + GENEROUS;
    while !condition() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn health(addr: SocketAddr) -> u16 {
    let mut client = HttpClient::new(addr);
    client.send("GET", "/health", &[], b"").expect("an answer").status
}

// issue 12 item 5: 1,000 connections that never finish their headers; a normal request is
// still answered, and every slow connection is closed after the header timeout (before, none
// was ever closed, and 1,100 of them used up the file descriptors).
#[test]
fn issue12_item5_a_thousand_slow_clients_do_not_stop_the_service_and_are_closed_after_the_header_timeout() {
    room_for_connections();
    let app = TestApp::start_with(ServerConfig {
        header_timeout: Duration::from_secs(3),
        max_connections: SLOW_CLIENTS + 100,
        business_date: Some(common::day("2024-03-01")),
        ..ServerConfig::default()
    });
    let addr = app.server.addr;
    let mut slow: Vec<TcpStream> = (0..SLOW_CLIENTS).map(|_| slow_client(addr)).collect();
    // A client that connects and sends nothing at all, and one whose kept-alive connection
    // stays idle after an answer: both are closed after the header timeout too.
    let mut silent = TcpStream::connect(addr).unwrap();
    let mut idle = TcpStream::connect(addr).unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: gongji\r\n\r\n").unwrap();

    assert_eq!(health(addr), 200, "a normal request is answered beside {SLOW_CLIENTS} slow clients");

    for (i, stream) in slow.iter_mut().enumerate() {
        common::closed_by_server(stream, &format!("slow client {i}"), GENEROUS);
    }
    common::closed_by_server(&mut silent, "a client that sent nothing", GENEROUS);
    let mut answer = Vec::new();
    idle.set_read_timeout(Some(GENEROUS)).unwrap();
    idle.read_to_end(&mut answer).expect("the idle kept-alive connection is closed after its answer");
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
    eventually("the server lets go of every closed connection", || app.server.open_connections() == 0);
    assert_eq!(health(addr), 200);
}

// issue 12 item 5: the cap. Beyond `max_connections` clients wait in the kernel's accept
// queue: the server never holds more, and a normal request waiting behind slow clients is
// answered once the header timeout has freed the slots.
#[test]
fn issue12_item5_connections_beyond_the_cap_wait_for_a_free_slot() {
    room_for_connections();
    const CAP: usize = 20;
    let app = TestApp::start_with(ServerConfig {
        header_timeout: Duration::from_secs(1),
        max_connections: CAP,
        business_date: Some(common::day("2024-03-01")),
        ..ServerConfig::default()
    });
    let addr = app.server.addr;
    let mut slow: Vec<TcpStream> = (0..5 * CAP).map(|_| slow_client(addr)).collect();
    eventually("the server accepts up to its cap", || app.server.open_connections() == CAP);

    let (answered, answer) = mpsc::channel();
    std::thread::spawn(move || answered.send(health(addr)));
    let mut most = 0;
    let status = loop {
        most = most.max(app.server.open_connections());
        match answer.recv_timeout(Duration::from_millis(5)) {
            Ok(status) => break status,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the normal request failed"),
        }
    };
    assert_eq!(status, 200, "the request behind {} slow clients is answered", 5 * CAP);
    assert!(most <= CAP, "the server held {most} connections, more than its cap of {CAP}");
    for (i, stream) in slow.iter_mut().enumerate() {
        common::closed_by_server(stream, &format!("slow client {i}"), GENEROUS);
    }
    eventually("every slot is free again", || app.server.open_connections() == 0);
}

// issue 12 item 5: a silent client holds up shutdown for the header timeout at most (the
// request in flight is what graceful shutdown waits for, not a header that never comes).
#[test]
fn issue12_item5_shutdown_is_not_held_up_by_a_client_that_never_finishes_its_header() {
    let app = TestApp::start_with(ServerConfig { header_timeout: Duration::from_secs(5), ..ServerConfig::default() });
    let addr = app.server.addr;
    let mut slow = slow_client(addr);
    let mut silent = TcpStream::connect(addr).unwrap();
    eventually("the server holds both connections", || app.server.open_connections() == 2);
    let TestApp { server, client, .. } = app;
    drop(client);
    let (stopped, stop) = mpsc::channel();
    std::thread::spawn(move || stopped.send(server.stop().map_err(|e| e.to_string())));
    match stop.recv_timeout(GENEROUS) {
        Ok(result) => result.expect("the server stops cleanly"),
        Err(_) => panic!("shutdown is still waiting for the silent clients"),
    }
    common::closed_by_server(&mut slow, "the slow client at shutdown", GENEROUS);
    common::closed_by_server(&mut silent, "the silent client at shutdown", GENEROUS);
}

// issue 12 item 5: a client's x-request-id is used (and logged, and answered) only when it is
// a short token: ≤ 64 ASCII letters, digits and '-'. Anything else is replaced by a fresh id,
// which the answer carries.
#[test]
fn issue12_item5_a_client_request_id_is_kept_only_when_it_is_a_short_token() {
    let mut app = TestApp::start("2024-03-01");
    let sent_back = |app: &mut TestApp, headers: &[(&str, &str)]| {
        let response = app.client.send("GET", "/health", headers, b"").unwrap();
        assert_eq!(response.status, 200);
        response.header("x-request-id").expect("every answer carries its request id").to_string()
    };
    assert_eq!(sent_back(&mut app, &[("X-Request-Id", "abc-123")]), "abc-123", "a short token is kept");
    let longest = "7".repeat(64);
    assert_eq!(sent_back(&mut app, &[("X-Request-Id", &longest)]), longest, "64 characters are still short");

    let fresh = sent_back(&mut app, &[]);
    let too_long = "a".repeat(65);
    for forged in [too_long.as_str(), "x\" role=admin", "a b", "id=1", "编号-1", "a_b"] {
        let used = sent_back(&mut app, &[("X-Request-Id", forged)]);
        assert_ne!(used, forged, "{forged:?} must be replaced");
        assert!(is_request_id_token(&used), "the fresh id {used:?} is itself a short token");
        assert_eq!(used.len(), fresh.len(), "{used:?} is one of the server's ids, like {fresh:?}");
    }
    let used = sent_back(&mut app, &[("X-Request-Id", "abc-1"), ("X-Request-Id", "abc-2")]);
    assert!(used != "abc-1" && used != "abc-2" && !used.contains(','), "two ids are both replaced: {used:?}");
}
