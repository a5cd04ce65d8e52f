//! Client text reaches the log only escaped, and only after validation (issue 12 item 5): the
//! HIS dialect logs `infno` and `fixmedins_code` once the caller is authenticated, as Debug
//! strings; the request span logs the path escaped and a request id only when it is a short
//! token. A client therefore cannot write a forged line, or a forged field, into the log.
//!
//! A file of its own: it installs the process's global log subscriber, writing into memory.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use common::TestApp;
use serde_json::json;

const HIS_PATH: &str = "/fsi/api/rsfComIfsService/callService";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything logged so far by this process (every test of this file shares it).
fn log() -> String {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    let captured = CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt().with_max_level(tracing::Level::DEBUG).with_ansi(false).with_writer(move || writer.clone()).finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this process");
        captured
    });
    String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned()
}

/// The log lines that mention `marker`.
fn lines_with(marker: &str) -> Vec<String> {
    log().lines().filter(|line| line.contains(marker)).map(str::to_string).collect()
}

fn his(infno: &str, fixmedins_code: &str) -> serde_json::Value {
    json!({"infno": infno, "msgid": "M1", "fixmedins_code": fixmedins_code, "input": {"data": {"psn_no": "C1"}}})
}

// issue 12 item 5: before, `infno` and `fixmedins_code` were logged raw before authentication,
// so anyone could write a line of their own into the log.
#[test]
fn issue12_item5_his_fields_are_logged_only_after_authentication_and_escaped() {
    log();
    let mut app = TestApp::start("2024-03-01");
    let forged_infno = "1101\n2024-03-01T00:00:00.000000Z  INFO request{id=forged}: his call ForgedLineOne";
    let forged_code = "H0001\" role=admin ForgedFieldOne";

    // Not authenticated: refused, and neither field is in the log in any form.
    let response = app.client.json("POST", HIS_PATH, None, Some(&his(forged_infno, forged_code))).unwrap();
    assert_eq!(response.status, 401, "{}", response.text());
    let response = app.call("POST", HIS_PATH, "gj_not-a-token", Some(his(forged_infno, forged_code)));
    assert_eq!(response.status, 401, "{}", response.text());
    assert!(lines_with("ForgedLineOne").is_empty() && lines_with("ForgedFieldOne").is_empty(), "client text before authentication:\n{}", log());

    // Authenticated, for its own institution, with an infno that is not served: the call is
    // logged, the client's text escaped on the one line of the call.
    let hospital = app.institution("H0001");
    let forged_infno = "9999\n2024-03-01T00:00:00.000000Z  INFO request{id=forged}: his call ForgedLineTwo";
    let response = app.call("POST", HIS_PATH, &hospital, Some(his(forged_infno, "H0001")));
    assert_eq!(response.status, 400, "{}", response.text());
    let lines = lines_with("ForgedLineTwo");
    assert_eq!(lines.len(), 1, "the forged text stays on the line of the call:\n{}", log());
    assert!(lines[0].contains(r#"infno="9999\n2024-03-01T00:00:00.000000Z  INFO request{id=forged}: his call ForgedLineTwo""#), "{}", lines[0]);
    assert!(lines[0].contains(r#"fixmedins_code="H0001""#), "{}", lines[0]);
    assert!(!log().lines().any(|line| line.starts_with("2024-03-01T00:00:00.000000Z  INFO request{id=forged}")), "a forged line:\n{}", log());

    // A code that is no identifier (item 6: 400) and another institution's code (403): refused
    // before anything of them is logged.
    let response = app.call("POST", HIS_PATH, &hospital, Some(his("1101", "H0002 ForgedFieldThree")));
    assert_eq!(response.status, 400, "{}", response.text());
    assert!(lines_with("ForgedFieldThree").is_empty(), "{}", log());
    let response = app.call("POST", HIS_PATH, &hospital, Some(his("1101\nForgedLineFour", "H0002")));
    assert_eq!(response.status, 403, "{}", response.text());
    assert!(lines_with("ForgedLineFour").is_empty(), "{}", log());
}

// issue 12 item 5: the request span logs the client's path escaped, and the client's request
// id only when it is a short token.
#[test]
fn issue12_item5_the_request_span_carries_no_raw_client_text() {
    log();
    let mut app = TestApp::start("2024-03-01");
    let response = app.client.send("GET", r#"/no-such/"role=admin"ForgedPath"#, &[], b"").unwrap();
    assert_eq!(response.status, 404);
    let lines = lines_with("ForgedPath");
    assert!(!lines.is_empty(), "the request is logged:\n{}", log());
    for line in &lines {
        assert!(line.contains(r#"path="/no-such/\"role=admin\"ForgedPath""#), "the path escaped: {line}");
    }

    let response = app.client.send("GET", "/health", &[("X-Request-Id", "x\"ForgedId=1")], b"").unwrap();
    assert_eq!(response.status, 200);
    let used = response.header("x-request-id").unwrap().to_string();
    assert!(lines_with("ForgedId").is_empty(), "a request id that is not a token is not logged:\n{}", log());
    assert!(!lines_with(&format!("id={used}")).is_empty(), "the fresh id {used} is logged instead:\n{}", log());

    let response = app.client.send("GET", "/health", &[("X-Request-Id", "client-id-4711")], b"").unwrap();
    assert_eq!(response.header("x-request-id"), Some("client-id-4711"));
    assert!(!lines_with("id=client-id-4711").is_empty(), "a short token is logged as sent:\n{}", log());
}
