//! Every refusal of §12 over HTTP: each role stays inside its scope, and a refused request
//! changes nothing (balances and the audit's entry count are checked after each).

mod common;

use common::TestApp;
use gongji_server::auth::Role;
use serde_json::json;

/// The seeds/003 四 family (A promoter; B, C members) with money in HIS and MUT, and a bill of
/// H0001 settled for B.
fn family() -> TestApp {
    let mut app = TestApp::start("2024-03-01");
    app.register("A", "甲", "1970-05-01", "employee", "330200", "2000");
    app.register("B", "乙", "1972-08-15", "employee", "330200", "150");
    app.register("C", "丙", "1998-11-30", "employee", "330200", "0");
    let admin = app.admin.clone();
    for (method, path, body) in [
        ("POST", "/api/v1/networks", Some(json!({"promoter": "A"}))),
        ("POST", "/api/v1/networks/A/members", Some(json!({"member": "B", "relation": "spouse"}))),
        ("POST", "/api/v1/persons/B/network/confirm", None),
        ("POST", "/api/v1/persons/A/moves", Some(json!({"from": "his", "to": "mut", "amount": "1000"}))),
        ("POST", "/api/v1/persons/B/moves", Some(json!({"from": "his", "to": "mut", "amount": "50"}))),
        (
            "POST",
            "/api/v1/institutions/H0001/bills",
            Some(json!({"bill_id": "b-1", "patient": "B", "visit": "outpatient", "split": {"fund_pay": "800", "self_borne": "20"}})),
        ),
    ] {
        let response = app.call(method, path, &admin, body);
        assert!(response.status < 300, "{path}: {}", response.text());
    }
    app
}

#[test]
fn n9_a_promoter_cannot_move_a_members_money() {
    let mut app = family();
    let promoter = app.insured("A");
    let entries = app.audit_entries();
    let before = app.balances("B");
    let response = app.call("POST", "/api/v1/persons/B/moves", &promoter, Some(json!({"from": "mut", "to": "his", "amount": "10"})));
    let problem = TestApp::expect_problem(&response, 403, "network.not_allowed");
    assert_eq!(problem["rule"], "N9");
    let response = app.call("PUT", "/api/v1/persons/B/preset", &promoter, Some(json!({"amount": "10"})));
    TestApp::expect_problem(&response, 403, "network.not_allowed");
    assert_eq!(app.balances("B"), before);
    assert_eq!(app.audit_entries(), entries);
    let own = app.call("POST", "/api/v1/persons/A/moves", &promoter, Some(json!({"from": "mut", "to": "his", "amount": "10"})));
    assert_eq!(own.status, 200, "the promoter moves their own money: {}", own.text());
}

#[test]
fn n8_a_member_cannot_change_the_network_and_n7_promoter_rights_are_the_promoters() {
    let mut app = family();
    let member = app.insured("B");
    let response = app.call("POST", "/api/v1/networks/A/members", &member, Some(json!({"member": "C", "relation": "child"})));
    TestApp::expect_problem(&response, 403, "network.not_allowed");
    let response = app.call("POST", "/api/v1/networks/A/dissolve", &member, None);
    TestApp::expect_problem(&response, 403, "network.not_allowed");
    let admin = app.admin.clone();
    let shown = app.call("GET", "/api/v1/persons/A", &admin, None).json();
    assert_eq!(shown["network"]["members"].as_array().unwrap().len(), 2, "nothing changed: {shown}");
}

#[test]
fn s12_an_insured_person_sees_only_their_own_accounts() {
    let mut app = family();
    let member = app.insured("B");
    for path in ["/api/v1/persons/A", "/api/v1/persons/A/statement?account=his&from=2024-01-01&to=2024-12-31", "/api/v1/persons/nobody"] {
        let response = app.call("GET", path, &member, None);
        TestApp::expect_problem(&response, 403, "auth.forbidden");
    }
    let response = app.call("POST", "/api/v1/persons/A/explain", &member, Some(json!({"visit": "outpatient", "amount": "10"})));
    TestApp::expect_problem(&response, 403, "auth.forbidden");
    let response = app.call("GET", "/api/v1/areas/330200/network-events?from=2024-01-01&to=2024-12-31", &member, None);
    TestApp::expect_problem(&response, 403, "auth.forbidden");
    let response = app.call(
        "POST",
        "/api/v1/institutions/H0001/bills",
        &member,
        Some(json!({"bill_id": "x", "patient": "B", "visit": "outpatient", "split": {"self_borne": "1"}})),
    );
    TestApp::expect_problem(&response, 403, "auth.forbidden");
    let own = app.call("GET", "/api/v1/persons/B", &member, None);
    assert_eq!(own.status, 200);
    let why = app.call("POST", "/api/v1/persons/B/explain", &member, Some(json!({"visit": "inpatient", "amount": "3000"})));
    assert_eq!(why.status, 200, "{}", why.text());
    assert!(why.json()["steps"].as_array().unwrap().iter().any(|s| s["code"] == "skip.one_mut"), "{}", why.text());
}

#[test]
fn s12_an_institution_cannot_cancel_another_institutions_bill() {
    let mut app = family();
    let other = app.institution("H0002");
    let entries = app.audit_entries();
    let before = app.balances("B");
    let response = app.call("POST", "/api/v1/institutions/H0001/bills/b-1/cancel", &other, None);
    TestApp::expect_problem(&response, 403, "auth.forbidden");
    let response = app.call("GET", "/api/v1/institutions/H0001/bills/b-1", &other, None);
    TestApp::expect_problem(&response, 403, "auth.forbidden");
    let response = app.call(
        "POST",
        "/api/v1/institutions/H0001/bills",
        &other,
        Some(json!({"bill_id": "b-9", "patient": "B", "visit": "outpatient", "split": {"self_borne": "1"}})),
    );
    TestApp::expect_problem(&response, 403, "auth.forbidden");
    // Its own code does not find the other's bill either.
    let response = app.call("POST", "/api/v1/institutions/H0002/bills/b-1/cancel", &other, None);
    TestApp::expect_problem(&response, 404, "settlement.not_found");
    for path in ["/api/v1/persons/B", "/api/v1/areas/330200/mut-movements?from=2024-01-01&to=2024-12-31"] {
        let response = app.call("GET", path, &other, None);
        TestApp::expect_problem(&response, 403, "auth.forbidden");
    }
    assert_eq!(app.balances("B"), before);
    assert_eq!(app.audit_entries(), entries);
    let owner = app.institution("H0001");
    let bill = app.call("GET", "/api/v1/institutions/H0001/bills/b-1", &owner, None);
    assert_eq!(bill.json()["cancelled"], json!(false));
    let cancelled = app.call("POST", "/api/v1/institutions/H0001/bills/b-1/cancel", &owner, None);
    assert_eq!(cancelled.status, 200, "the owner cancels its own bill: {}", cancelled.text());
}

#[test]
fn n11_an_operator_of_330200_cannot_act_in_330100() {
    let mut app = family();
    app.register("H", "杭某", "1980-01-01", "employee", "330100", "300");
    let operator = app.token(Role::Operator, Some("330200"), None, None);
    let entries = app.audit_entries();
    let response = app.call("GET", "/api/v1/persons/H", &operator, None);
    TestApp::expect_problem(&response, 403, "auth.forbidden");
    let response = app.call("POST", "/api/v1/persons/H/moves", &operator, Some(json!({"from": "his", "to": "mut", "amount": "1"})));
    let problem = TestApp::expect_problem(&response, 403, "network.not_allowed");
    assert_eq!(problem["rule"], "N11");
    let response = app.call("POST", "/api/v1/networks", &operator, Some(json!({"promoter": "H"})));
    TestApp::expect_problem(&response, 403, "network.not_allowed");
    let response = app.call("GET", "/api/v1/areas/330100/network-events?from=2024-01-01&to=2024-12-31", &operator, None);
    TestApp::expect_problem(&response, 403, "auth.forbidden");
    let body = json!({"psn_no": "H2", "name": "杭二", "id_number": "11010519491231002X", "area": "330100", "insurance": "employee"});
    let response = app.call("POST", "/api/v1/persons", &operator, Some(body));
    TestApp::expect_problem(&response, 403, "auth.forbidden");
    assert_eq!(app.balances("H"), ("0.00".into(), "300.00".into(), "0.00".into()));
    assert_eq!(app.audit_entries(), entries);
    // In its own area, at the counter, the operator serves the person present (N11).
    let own = app.call("GET", "/api/v1/persons/A", &operator, None);
    assert_eq!(own.status, 200);
    let moved = app.call("POST", "/api/v1/persons/A/moves", &operator, Some(json!({"from": "mut", "to": "his", "amount": "1"})));
    assert_eq!(moved.status, 200, "{}", moved.text());
}

#[test]
fn s12_missing_forged_and_revoked_tokens_are_refused() {
    let mut app = family();
    let entries = app.audit_entries();
    let response = app.client.json("GET", "/api/v1/persons/A", None, None).unwrap();
    TestApp::expect_problem(&response, 401, "auth.unauthenticated");
    let forged = format!("gj_{}", "ab".repeat(32));
    let response = app.call("GET", "/api/v1/persons/A", &forged, None);
    TestApp::expect_problem(&response, 401, "auth.unauthenticated");
    let response = app.client.send("GET", "/api/v1/persons/A", &[("Authorization", "Basic YWRtaW46YWRtaW4=")], b"").unwrap();
    TestApp::expect_problem(&response, 401, "auth.unauthenticated");
    let token = app.insured("A");
    assert_eq!(app.call("GET", "/api/v1/persons/A", &token, None).status, 200);
    let id = gongji_server::auth::list(app.engine.store()).unwrap().last().unwrap().id;
    assert!(gongji_server::auth::revoke(app.engine.store(), id).unwrap());
    let response = app.call("POST", "/api/v1/persons/A/moves", &token, Some(json!({"from": "mut", "to": "his", "amount": "1"})));
    TestApp::expect_problem(&response, 401, "auth.unauthenticated");
    let response = app.call("GET", "/api/v1/persons/A", &token, None);
    TestApp::expect_problem(&response, 401, "auth.unauthenticated");
    assert_eq!(app.audit_entries(), entries);
    let health = app.client.send("GET", "/health", &[], b"").unwrap();
    assert_eq!(health.status, 200, "health needs no token");
}

#[test]
fn s12_only_an_admin_reads_the_audit() {
    let mut app = family();
    for token in [app.insured("A"), app.operator("330200"), app.institution("H0001")] {
        let response = app.call("GET", "/api/v1/audit", &token, None);
        TestApp::expect_problem(&response, 403, "auth.forbidden");
    }
}
