//! Shared by the integration tests: a server on port 0 with a fresh in-memory store, a real
//! HTTP client, and small helpers to register persons and read balances over HTTP.
#![allow(dead_code)]

use std::sync::Arc;

use chrono::NaiveDate;
use gongji_core::{AreaCode, IdNumber};
use gongji_engine::policy_file::preset_book;
use gongji_engine::Engine;
use gongji_server::auth::{self, Role, TokenSpec};
use gongji_server::client::{HttpClient, HttpResponse};
use gongji_server::{RunningServer, ServerConfig};
use gongji_store::sqlite::SqliteStore;
use serde_json::{json, Value};

pub struct TestApp {
    pub engine: Arc<Engine<SqliteStore>>,
    pub client: HttpClient,
    pub admin: String,
    sequence: u16,
    // Dropped last: shuts the server down after the client is gone.
    pub server: RunningServer,
}

impl TestApp {
    /// A server whose business date is `date`.
    pub fn start(date: &str) -> TestApp {
        TestApp::start_with(ServerConfig { business_date: Some(day(date)), ..ServerConfig::default() })
    }

    pub fn start_with(config: ServerConfig) -> TestApp {
        let engine = Arc::new(Engine::new(SqliteStore::in_memory().expect("in-memory store"), preset_book()));
        let server = RunningServer::start(engine.clone(), config, "127.0.0.1:0".parse().unwrap(), 2).expect("server starts");
        let client = HttpClient::new(server.addr);
        let (_, admin) = auth::issue(engine.store(), &spec(Role::Admin, None, None, None)).expect("admin token");
        TestApp { engine, client, admin, sequence: 0, server }
    }

    pub fn token(&self, role: Role, area: Option<&str>, institution: Option<&str>, person: Option<&str>) -> String {
        auth::issue(self.engine.store(), &spec(role, area, institution, person)).expect("token").1
    }

    pub fn insured(&self, psn_no: &str) -> String {
        self.token(Role::Insured, None, None, Some(psn_no))
    }

    pub fn institution(&self, code: &str) -> String {
        self.token(Role::Institution, None, Some(code), None)
    }

    pub fn operator(&self, area: &str) -> String {
        self.token(Role::Operator, Some(area), None, None)
    }

    pub fn call(&mut self, method: &str, path: &str, token: &str, body: Option<Value>) -> HttpResponse {
        self.client.json(method, path, Some(token), body.as_ref()).expect("HTTP exchange")
    }

    /// Registers a person (as admin) with a valid ID number made from `birth`, and credits
    /// `his` as an opening balance.
    pub fn register(&mut self, psn_no: &str, name: &str, birth: &str, insurance: &str, area: &str, his: &str) {
        self.sequence += 1;
        let id = IdNumber::compose(area, day(birth), self.sequence).unwrap();
        let admin = self.admin.clone();
        let body = json!({"psn_no": psn_no, "name": name, "id_number": id.as_str(), "area": area, "insurance": insurance});
        let response = self.call("POST", "/api/v1/persons", &admin, Some(body));
        assert_eq!(response.status, 201, "register {psn_no}: {}", response.text());
        if his != "0" {
            let body = json!({"account": "his", "amount": his, "reference": format!("opening-{psn_no}")});
            let response = self.call("POST", &format!("/api/v1/persons/{psn_no}/credits"), &admin, Some(body));
            assert_eq!(response.status, 200, "credit {psn_no}: {}", response.text());
        }
    }

    /// (cur, his, mut) of a person, read over HTTP as admin.
    pub fn balances(&mut self, psn_no: &str) -> (String, String, String) {
        let admin = self.admin.clone();
        let response = self.call("GET", &format!("/api/v1/persons/{psn_no}"), &admin, None);
        assert_eq!(response.status, 200, "{}", response.text());
        let b = &response.json()["balances"];
        (b["cur"].as_str().unwrap().to_string(), b["his"].as_str().unwrap().to_string(), b["mut"].as_str().unwrap().to_string())
    }

    /// The audit over HTTP; asserts it is clean and returns the number of journal entries.
    pub fn audit_entries(&mut self) -> u64 {
        let admin = self.admin.clone();
        let response = self.call("GET", "/api/v1/audit", &admin, None);
        assert_eq!(response.status, 200, "{}", response.text());
        let audit = response.json();
        assert_eq!(audit["clean"], json!(true), "{audit}");
        audit["entries"].as_u64().unwrap()
    }

    /// Expects a problem answer with this status and code, and returns it.
    pub fn expect_problem(response: &HttpResponse, status: u16, code: &str) -> Value {
        assert_eq!(response.status, status, "expected {status} {code}, got {}: {}", response.status, response.text());
        assert_eq!(response.header("content-type"), Some("application/problem+json"), "{}", response.text());
        let problem = response.json();
        assert_eq!(problem["code"], json!(code), "{problem}");
        assert_eq!(problem["status"], json!(status));
        assert!(problem["type"].as_str().unwrap().ends_with(code));
        assert!(problem["title"].is_string() && problem["detail"].is_string() && problem["rule"].is_string());
        problem
    }
}

pub fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn spec(role: Role, area: Option<&str>, institution: Option<&str>, person: Option<&str>) -> TokenSpec {
    TokenSpec {
        role,
        area: area.map(|a| AreaCode::parse(a).unwrap()),
        institution: institution.map(str::to_string),
        person: person.map(str::to_string),
        name: format!("test-{}", role.as_str()),
    }
}

/// Waits until the server closes `stream` (end of file or reset), reading whatever it sends.
/// Panics when the connection is still open after `within`.
pub fn closed_by_server(stream: &mut std::net::TcpStream, what: &str, within: std::time::Duration) {
    use std::io::{ErrorKind, Read};
    stream.set_read_timeout(Some(within)).unwrap();
    let mut buffer = [0u8; 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return,
            Ok(_) => continue,
            Err(err) if matches!(err.kind(), ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted) => return,
            Err(err) => panic!("{what}: the server did not close the connection ({err})"),
        }
    }
}
