//! The incident of issue 12 item 5, replayed under a small open-file limit: before, slow clients
//! that never finished their headers made the server accept until `accept` failed for want of
//! file descriptors, and from then on it answered nobody. With the connection cap the server
//! holds at most `max_connections` sockets whatever the number of clients, and the header
//! timeout frees them, so a normal request waiting behind a thousand slow clients is answered.
//!
//! A file of its own: it lowers the open-file limit of its process, which the other tests must
//! not share. Nothing is asserted on time; each wait has a generous upper bound.
#![cfg(unix)]

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use common::TestApp;
use gongji_server::client::HttpClient;
use gongji_server::ServerConfig;

const SLOW_CLIENTS: usize = 1000;
const CAP: usize = 300;
/// The process's open-file limit in this test: room for the clients' 1,001 sockets, the
/// server's 300 and the rest of the process, but not for the server to take a socket per
/// client as it did before (2,000 in all).
const OPEN_FILES: u64 = 1500;
const GENEROUS: Duration = Duration::from_secs(120);

fn set_open_file_limit(limit: u64) {
    let mut current = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only write and read the rlimit they are given.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut current) }, 0);
    assert!(current.rlim_max == libc::RLIM_INFINITY || current.rlim_max >= limit, "this test needs a hard open-file limit of {limit} at least");
    let wanted = libc::rlimit { rlim_cur: limit as libc::rlim_t, rlim_max: current.rlim_max };
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) }, 0, "{}", std::io::Error::last_os_error());
}

// issue 12 item 5: a thousand slow clients, an open-file limit too small for the server to
// hold them all: a normal request is still answered, and the server never holds more than its
// cap.
#[test]
fn issue12_item5_slow_clients_cannot_use_up_the_file_descriptors() {
    set_open_file_limit(OPEN_FILES);
    let app = TestApp::start_with(ServerConfig {
        header_timeout: Duration::from_secs(1),
        max_connections: CAP,
        business_date: Some(common::day("2024-03-01")),
        ..ServerConfig::default()
    });
    let addr: SocketAddr = app.server.addr;
    let mut slow: Vec<TcpStream> = (0..SLOW_CLIENTS)
        .map(|i| {
            let mut stream = TcpStream::connect_timeout(&addr, GENEROUS).unwrap_or_else(|err| {
                panic!("slow client {i} connects: {err} (the process may open {OPEN_FILES} files; a server that takes a socket per client uses them up)")
            });
            stream.write_all(b"POST /api/v1/persons HTTP/1.1\r\nHost: gongji\r\nContent-Type: appl").unwrap();
            stream
        })
        .collect();

    let (answered, answer) = mpsc::channel();
    std::thread::spawn(move || {
        let mut client = HttpClient::new(addr);
        let _ = answered.send(client.send("GET", "/health", &[], b"").map(|r| r.status).map_err(|e| e.to_string()));
    });
    let mut most = 0;
    let status = loop {
        most = most.max(app.server.open_connections());
        match answer.recv_timeout(Duration::from_millis(5)) {
            Ok(result) => break result.expect("the normal request gets an answer"),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the normal request's thread died"),
        }
    };
    assert_eq!(status, 200, "a normal request behind {SLOW_CLIENTS} slow clients is answered");
    assert!(most <= CAP, "the server held {most} connections, more than its cap of {CAP}");
    for (i, stream) in slow.iter_mut().enumerate() {
        common::closed_by_server(stream, &format!("slow client {i}"), GENEROUS);
    }
}
