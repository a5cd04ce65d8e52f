//! `gongji serve` and `gongji token` on PostgreSQL (issue 14 item 1, first step): the binary
//! serves a `--database-url` store as it serves the SQLite file. Through the binary: tokens issued
//! on PostgreSQL, `serve --demo` on an empty PostgreSQL database, a bill settled, repeated and
//! cancelled over HTTP, the audit clean, and a second `serve --demo` on the same database keeping
//! it. Runs when `GONGJI_TEST_DATABASE_URL` names a server.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use gongji_server::client::HttpClient;
use gongji_store::postgres::ScratchDatabase;
use serde_json::json;

const GENEROUS: Duration = Duration::from_secs(120);

fn gongji(url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gongji"));
    command.args(["--database-url", url]);
    command
}

fn issue(url: &str, args: &[&str]) -> String {
    let output = gongji(url).args(["token", "issue"]).args(args).output().unwrap();
    assert!(output.status.success(), "token issue {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

/// `serve --demo` on port 0; returns the child and the address it serves on.
fn start(url: &str) -> (Child, String) {
    let mut child = gongji(url).args(["serve", "--demo", "--listen", "127.0.0.1:0", "--log-level", "error"]).stdout(Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    loop {
        let line = received.recv_timeout(GENEROUS).unwrap_or_else(|_| {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve --demo on PostgreSQL did not start")
        });
        if let Some(rest) = line.strip_prefix("gongji serving ") {
            assert!(rest.starts_with("postgres:"), "serves the PostgreSQL store: {line}");
            let addr = rest.split("http://").nth(1).and_then(|s| s.split_whitespace().next()).unwrap().to_string();
            return (child, addr);
        }
    }
}

fn stop(mut child: Child) {
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let deadline = Instant::now() + GENEROUS;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "serve stops cleanly: {status:?}");
            return;
        }
        assert!(Instant::now() < deadline, "serve did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn s12_serve_and_token_run_on_postgresql() {
    let Ok(admin_url) = std::env::var("GONGJI_TEST_DATABASE_URL") else {
        eprintln!("skipped s12_serve_and_token_run_on_postgresql: GONGJI_TEST_DATABASE_URL is not set");
        return;
    };
    let database = ScratchDatabase::create(&admin_url, "gongji_serve").unwrap();
    let url = database.url();
    let (child, addr) = start(&url);
    let admin = issue(&url, &["--role", "admin", "--name", "ops"]);
    let hospital = issue(&url, &["--role", "institution", "--institution", "H0001"]);
    let list = gongji(&url).args(["token", "list"]).output().unwrap();
    assert!(list.status.success() && !String::from_utf8_lossy(&list.stdout).contains(&admin), "listed without secrets");

    let mut client = HttpClient::new(addr.parse().unwrap());
    // seeds/003 四 on the demo families: B1's bill of 1000 (200 borne) is paid by B1's own HIS
    // and MUT and 50 in cash (ST2, ST3).
    let bill = json!({"bill_id": "pg-1", "patient": "B1", "visit": "outpatient", "split": {"fund_pay": "800", "self_borne": "200"}});
    let settled = client.json("POST", "/api/v1/institutions/H0001/bills", Some(&hospital), Some(&bill)).unwrap();
    assert_eq!(settled.status, 200, "{}", settled.text());
    let settled = settled.json();
    assert_eq!(settled["cash"], "50.00", "{settled}");
    assert_eq!(settled["replayed"], false);
    let repeat = client.json("POST", "/api/v1/institutions/H0001/bills", Some(&hospital), Some(&bill)).unwrap().json();
    assert_eq!((repeat["replayed"].clone(), repeat["settlement_id"].clone()), (json!(true), json!("pg-1")), "ST6");
    let cancelled = client.json("POST", "/api/v1/institutions/H0001/bills/pg-1/cancel", Some(&hospital), None).unwrap();
    assert_eq!(cancelled.status, 200, "{}", cancelled.text());
    let audit = client.json("GET", "/api/v1/audit", Some(&admin), None).unwrap().json();
    assert_eq!(audit["clean"], true, "{audit}");
    stop(child);

    // A second `serve --demo` on the same database keeps the demo store.
    let (again, addr) = start(&url);
    // Answered once, so the service (and its signal handler) is surely running before SIGTERM.
    let health = HttpClient::new(addr.parse().unwrap()).json("GET", "/health", None, None).unwrap();
    assert_eq!(health.status, 200);
    stop(again);
    drop(database);
}
