//! Bad input over HTTP (§14 `input.invalid`, P1, P3): malformed JSON, unknown fields, wrong
//! types, huge bodies, invalid money, invalid ID numbers. Each is a 4xx problem with its code,
//! never a 500, and nothing is written (the audit's entry count and the balances stay).

mod common;

use common::TestApp;
use gongji_server::ServerConfig;
use serde_json::json;

const BODY_LIMIT: usize = 16 * 1024;

fn app() -> TestApp {
    let mut app = TestApp::start_with(ServerConfig { body_len_max: BODY_LIMIT, business_date: Some(common::day("2024-03-01")), ..ServerConfig::default() });
    app.register("A", "甲", "1970-05-01", "employee", "330200", "2000");
    app.register("B", "乙", "1972-08-15", "employee", "330200", "150");
    let admin = app.admin.clone();
    assert_eq!(app.call("POST", "/api/v1/networks", &admin, Some(json!({"promoter": "A"}))).status, 201);
    app
}

/// Sends raw bytes as JSON with the admin token.
fn raw(app: &mut TestApp, method: &str, path: &str, body: &[u8]) -> gongji_server::client::HttpResponse {
    let authorization = format!("Bearer {}", app.admin);
    app.client.send(method, path, &[("Content-Type", "application/json"), ("Authorization", &authorization)], body).unwrap()
}

#[test]
fn s14_malformed_json_unknown_fields_and_wrong_types_are_input_invalid() {
    let mut app = app();
    let entries = app.audit_entries();
    let cases: &[(&str, &[u8])] = &[
        ("malformed", b"{\"from\": \"his\", \"to\": \"mut\", \"amount\": "),
        ("not an object", b"[1, 2, 3]"),
        ("unknown field", br#"{"from": "his", "to": "mut", "amount": "10", "owner": "B"}"#),
        ("wrong type", br#"{"from": "his", "to": "mut", "amount": 10}"#),
        ("missing field", br#"{"from": "his", "to": "mut"}"#),
        ("empty", b""),
        ("not UTF-8", b"{\"from\": \"\xff\xfe\"}"),
        ("unknown account", br#"{"from": "his", "to": "cur", "amount": "10"}"#),
    ];
    for (what, body) in cases {
        let response = raw(&mut app, "POST", "/api/v1/persons/A/moves", body);
        let problem = TestApp::expect_problem(&response, 400, "input.invalid");
        assert!(!problem["detail"].as_str().unwrap().is_empty(), "{what}");
    }
    let response = raw(&mut app, "POST", "/api/v1/networks/A/members", br#"{"member": "B", "relation": "spouse", "confirmed": true}"#);
    TestApp::expect_problem(&response, 400, "input.invalid");
    let response = raw(&mut app, "PUT", "/api/v1/networks/A/order", br#"{"order": "A,B"}"#);
    TestApp::expect_problem(&response, 400, "input.invalid");
    let response = raw(
        &mut app,
        "POST",
        "/api/v1/institutions/H0001/bills",
        br#"{"bill_id": "x", "patient": "B", "visit": "outpatient", "split": {"self_borne": "1"}, "items": []}"#,
    );
    TestApp::expect_problem(&response, 400, "input.invalid");
    let response =
        raw(&mut app, "POST", "/api/v1/institutions/H0001/bills", br#"{"bill_id": "x", "patient": "B", "visit": "dental", "split": {"self_borne": "1"}}"#);
    TestApp::expect_problem(&response, 400, "input.invalid");
    let authorization = format!("Bearer {}", app.admin);
    let response =
        app.client.send("POST", "/api/v1/persons/A/moves", &[("Content-Type", "text/plain"), ("Authorization", &authorization)], b"from=his").unwrap();
    TestApp::expect_problem(&response, 415, "input.invalid");
    let response = raw(&mut app, "GET", "/api/v1/areas/330200/network-events?from=2024-01-01&to=2024-13-01", b"");
    TestApp::expect_problem(&response, 400, "input.invalid");
    let response = raw(&mut app, "GET", "/api/v1/areas/330200/network-events?from=2024-01-01&to=2024-12-31&page=2", b"");
    TestApp::expect_problem(&response, 400, "input.invalid");
    let response = raw(&mut app, "GET", "/api/v1/areas/330200/network-events?from=2024-01-01&to=2024-12-31&limit=-1", b"");
    TestApp::expect_problem(&response, 400, "input.invalid");
    assert_eq!(app.balances("A"), ("0.00".into(), "2000.00".into(), "0.00".into()));
    assert_eq!(app.audit_entries(), entries);
}

#[test]
fn s14_huge_bodies_are_refused_before_they_are_read() {
    let mut app = app();
    let entries = app.audit_entries();
    let padding = "x".repeat(BODY_LIMIT * 4);
    let body = format!(r#"{{"from": "his", "to": "mut", "amount": "10", "memo": "{padding}"}}"#);
    let response = raw(&mut app, "POST", "/api/v1/persons/A/moves", body.as_bytes());
    TestApp::expect_problem(&response, 413, "input.invalid");
    let items: Vec<_> = (0..2000).map(|i| json!({"code": format!("item-{i}"), "amount": "1.00", "class": "A"})).collect();
    let bill = json!({"bill_id": "huge", "patient": "B", "visit": "outpatient", "items": items});
    let response = raw(&mut app, "POST", "/api/v1/institutions/H0001/bills", &serde_json::to_vec(&bill).unwrap());
    TestApp::expect_problem(&response, 413, "input.invalid");
    let envelope =
        json!({"infno": "2207", "fixmedins_code": "H0001", "input": {"data": {"psn_no": "B", "mdtrt_id": "m", "medfee_sumamt": "1", "pad": padding}}});
    let response = raw(&mut app, "POST", "/fsi/api/rsfComIfsService/callService", &serde_json::to_vec(&envelope).unwrap());
    assert_eq!(response.status, 413, "{}", response.text());
    assert_eq!(response.json()["infcode"], json!(-1));
    assert_eq!(app.audit_entries(), entries);
}

#[test]
fn p3_invalid_money_is_refused_with_money_invalid_amount() {
    let mut app = app();
    let entries = app.audit_entries();
    for amount in ["12.345", "1e3", "-5", "0", "abc", "", " 10", "１０", "99999999999999999999"] {
        let response =
            raw(&mut app, "POST", "/api/v1/persons/A/credits", format!(r#"{{"account": "his", "amount": "{amount}", "reference": "v-{amount}"}}"#).as_bytes());
        let problem = TestApp::expect_problem(&response, 422, "money.invalid_amount");
        assert_eq!(problem["rule"], "P3", "{amount}");
    }
    for amount in ["12.345", "-5", "1,5"] {
        let body = json!({"bill_id": format!("m-{amount}"), "patient": "B", "visit": "outpatient", "split": {"fund_pay": "1", "self_borne": amount}});
        let response = raw(&mut app, "POST", "/api/v1/institutions/H0001/bills", &serde_json::to_vec(&body).unwrap());
        assert!(response.status == 422, "{amount}: {}", response.text());
        let code = response.json()["code"].as_str().unwrap().to_string();
        assert!(code == "money.invalid_amount" || code == "settlement.invalid_bill", "{amount}: {code}");
    }
    let response = raw(&mut app, "POST", "/api/v1/persons/A/explain", br#"{"visit": "outpatient", "amount": "1.001"}"#);
    TestApp::expect_problem(&response, 422, "money.invalid_amount");
    let response = raw(&mut app, "PUT", "/api/v1/persons/A/preset", br#"{"amount": "-1"}"#);
    TestApp::expect_problem(&response, 422, "money.invalid_amount");
    assert_eq!(app.balances("A"), ("0.00".into(), "2000.00".into(), "0.00".into()));
    assert_eq!(app.audit_entries(), entries);
}

#[test]
fn p1_invalid_id_numbers_are_refused() {
    let mut app = app();
    let entries = app.audit_entries();
    for id in ["110105194912310021", "11010519491231002", "1101051949123100AX", "11010519490230002X", "１１０１０５１９４９１２３１００２X"] {
        let body = json!({"psn_no": "Z", "name": "某", "id_number": id, "area": "330200", "insurance": "employee"});
        let response = raw(&mut app, "POST", "/api/v1/persons", &serde_json::to_vec(&body).unwrap());
        let problem = TestApp::expect_problem(&response, 422, "person.invalid_id_number");
        assert_eq!(problem["rule"], "P1");
    }
    let admin = app.admin.clone();
    let response = app.call("GET", "/api/v1/persons/Z", &admin, None);
    TestApp::expect_problem(&response, 404, "person.not_found");
    let hospital = app.institution("H0001");
    let envelope = json!({"infno": "1101", "fixmedins_code": "H0001", "input": {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": "110105194912310021"}}});
    let response = app.call("POST", "/fsi/api/rsfComIfsService/callService", &hospital, Some(envelope));
    assert_eq!(response.status, 200, "a refusal by rule is infcode -1 in the envelope");
    assert_eq!(response.json()["infcode"], json!(-1));
    assert_eq!(response.json()["gongji_code"], "person.invalid_id_number");
    assert_eq!(app.audit_entries(), entries);
}

#[test]
fn s14_unknown_routes_and_methods_are_problems() {
    let mut app = app();
    let admin = app.admin.clone();
    let response = app.call("GET", "/api/v1/nothing-here", &admin, None);
    TestApp::expect_problem(&response, 404, "http.not_found");
    let response = app.call("DELETE", "/api/v1/persons/A", &admin, None);
    TestApp::expect_problem(&response, 405, "http.method_not_allowed");
    assert!(response.header("x-request-id").is_some(), "every answer carries its request id");
}
