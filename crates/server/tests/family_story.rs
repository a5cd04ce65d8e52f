//! The seed examples (seeds/003, the `seed003_*.toml` scenarios) told over HTTP: persons
//! registered and credited by the agency, networks built by the insured themselves through the
//! app, bills settled by the institution; every amount checked to the fen.

mod common;

use std::collections::BTreeMap;

use common::TestApp;
use serde_json::{json, Value};

fn ok(app: &mut TestApp, method: &str, path: &str, token: &str, body: Option<Value>) -> Value {
    let response = app.call(method, path, token, body);
    assert!(response.status < 300, "{method} {path}: {} {}", response.status, response.text());
    response.json()
}

fn settle(app: &mut TestApp, institution_token: &str, bill: Value) -> Value {
    ok(app, "POST", "/api/v1/institutions/H0001/bills", institution_token, Some(bill))
}

fn payments(result: &Value) -> BTreeMap<String, String> {
    result["payments"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn bal(cur: &str, his: &str, mutual: &str) -> (String, String, String) {
    (cur.to_string(), his.to_string(), mutual.to_string())
}

/// seeds/003 四: B's own MUT pays, so A's may not (ST2, ST3); then the institution sees the
/// family's account only as `family.mut` (§12), and a repeat returns the first result (ST6).
#[test]
fn st2_st3_seed003_example_four_over_http() {
    let mut app = TestApp::start("2024-03-01");
    app.register("A", "甲", "1970-05-01", "employee", "330200", "2000");
    app.register("B", "乙", "1972-08-15", "employee", "330200", "150");
    app.register("C", "丙", "1998-11-30", "employee", "330200", "0");
    let (a, b, c) = (app.insured("A"), app.insured("B"), app.insured("C"));
    let created = ok(&mut app, "POST", "/api/v1/networks", &a, Some(json!({"promoter": "A"})));
    assert!(created["network_id"].as_i64().unwrap() > 0);
    let added = ok(&mut app, "POST", "/api/v1/networks/A/members", &a, Some(json!({"member": "B", "relation": "spouse"})));
    assert_eq!(added["state"], "pending", "B is an adult and confirms herself (N10)");
    ok(&mut app, "POST", "/api/v1/persons/B/network/confirm", &b, None);
    ok(&mut app, "POST", "/api/v1/networks/A/members", &a, Some(json!({"member": "C", "relation": "child"})));
    ok(&mut app, "POST", "/api/v1/persons/C/network/confirm", &c, None);
    ok(&mut app, "POST", "/api/v1/persons/A/moves", &a, Some(json!({"from": "his", "to": "mut", "amount": "1000"})));
    ok(&mut app, "POST", "/api/v1/persons/B/moves", &b, Some(json!({"from": "his", "to": "mut", "amount": "50"})));
    let hospital = app.institution("H0001");
    let bill = json!({"bill_id": "b-1", "patient": "B", "visit": "outpatient", "split": {"fund_pay": "800", "self_borne": "200"}});
    let result = settle(&mut app, &hospital, bill.clone());
    assert_eq!(payments(&result), map(&[("B.his", "100.00"), ("B.mut", "50.00")]));
    assert_eq!(result["cash"], "50.00");
    assert_eq!(result["fund_pay"], "800.00");
    assert_eq!(result["total"], "1000.00");
    assert!(
        result["steps"].as_array().unwrap().iter().any(|s| s["code"] == "skip.one_mut" && s["account"] == "family.mut"),
        "A's MUT is skipped (ST3), unnamed to the institution"
    );
    let again = settle(&mut app, &hospital, bill);
    assert_eq!(again["replayed"], json!(true));
    assert_eq!(payments(&again), payments(&result));
    assert_eq!(app.balances("A"), bal("0.00", "1000.00", "1000.00"));
    assert_eq!(app.balances("B"), bal("0.00", "0.00", "0.00"));
    assert_eq!(app.balances("C"), bal("0.00", "0.00", "0.00"));
    let shown = ok(&mut app, "GET", "/api/v1/persons/A", &a, None);
    assert_eq!(shown["network"]["role"], "promoter");
    assert_eq!(shown["network"]["members"].as_array().unwrap().len(), 3);
    assert!(shown["id_number_masked"].as_str().unwrap().contains("********"));
    app.audit_entries();
}

/// seeds/003 ❹: the son's inpatient burden of 3000 uses Li's 1000 only (ST2, ST3); an
/// institution sees the family's MUT as `family.mut`, the agency sees whose it was.
#[test]
fn st2_seed003_li_family_over_http() {
    let mut app = TestApp::start("2024-04-10");
    app.register("Li", "李先生", "1978-02-20", "employee", "330200", "1500");
    app.register("Chen", "陈女士", "1980-07-07", "employee", "330200", "5000");
    app.register("Son", "小李", "2015-09-01", "resident", "330200", "0");
    let (li, chen) = (app.insured("Li"), app.insured("Chen"));
    ok(&mut app, "POST", "/api/v1/networks", &li, Some(json!({"promoter": "Li"})));
    ok(&mut app, "POST", "/api/v1/networks/Li/members", &li, Some(json!({"member": "Chen", "relation": "spouse"})));
    ok(&mut app, "POST", "/api/v1/persons/Chen/network/confirm", &chen, None);
    let son = ok(&mut app, "POST", "/api/v1/networks/Li/members", &li, Some(json!({"member": "Son", "relation": "child"})));
    assert_eq!(son["state"], "active", "under 16: added by the promoter alone (N10)");
    ok(&mut app, "PUT", "/api/v1/networks/Li/order", &li, Some(json!({"order": ["Li", "Chen", "Son"]})));
    ok(&mut app, "POST", "/api/v1/persons/Li/moves", &li, Some(json!({"from": "his", "to": "mut", "amount": "1000"})));
    ok(&mut app, "POST", "/api/v1/persons/Chen/moves", &chen, Some(json!({"from": "his", "to": "mut", "amount": "5000"})));
    let hospital = app.institution("H0001");
    let bill = json!({"bill_id": "inp-1", "patient": "Son", "visit": "inpatient", "split": {"fund_pay": "7000", "self_borne": "3000"}});
    let presettled = ok(&mut app, "POST", "/api/v1/institutions/H0001/presettlements", &hospital, Some(bill.clone()));
    assert_eq!(app.balances("Li"), bal("0.00", "500.00", "1000.00"), "pre-settlement commits nothing (ST5)");
    let result = settle(&mut app, &hospital, bill);
    assert_eq!(payments(&result), map(&[("family.mut", "1000.00")]));
    assert_eq!(payments(&presettled), payments(&result));
    assert_eq!(result["cash"], "2000.00");
    let admin = app.admin.clone();
    let stored = ok(&mut app, "GET", "/api/v1/institutions/H0001/bills/inp-1", &admin, None);
    assert_eq!(payments(&stored), map(&[("Li.mut", "1000.00")]));
    assert_eq!(app.balances("Li"), bal("0.00", "500.00", "0.00"));
    assert_eq!(app.balances("Chen"), bal("0.00", "0.00", "5000.00"));
    app.audit_entries();
}

/// seeds/003 ❾: the father's 1.00, first in order, is the one MUT of the first visit; at the
/// next visit his empty MUT is skipped and the wife's pays (ST2, ST3).
#[test]
fn st3_seed003_order_one_per_visit_over_http() {
    let mut app = TestApp::start("2024-05-06");
    app.register("Wife", "王女士", "1985-03-12", "employee", "330200", "600");
    app.register("Father", "王父", "1955-10-01", "employee", "330200", "1");
    app.register("Husband", "张先生", "1984-01-25", "employee", "330200", "10");
    let (wife, father, husband) = (app.insured("Wife"), app.insured("Father"), app.insured("Husband"));
    ok(&mut app, "POST", "/api/v1/networks", &wife, Some(json!({"promoter": "Wife"})));
    ok(&mut app, "POST", "/api/v1/networks/Wife/members", &wife, Some(json!({"member": "Father", "relation": "parent"})));
    ok(&mut app, "POST", "/api/v1/persons/Father/network/confirm", &father, None);
    ok(&mut app, "POST", "/api/v1/networks/Wife/members", &wife, Some(json!({"member": "Husband", "relation": "spouse"})));
    ok(&mut app, "POST", "/api/v1/persons/Husband/network/confirm", &husband, None);
    ok(&mut app, "PUT", "/api/v1/networks/Wife/order", &wife, Some(json!({"order": ["Father", "Wife", "Husband"]})));
    ok(&mut app, "POST", "/api/v1/persons/Wife/moves", &wife, Some(json!({"from": "his", "to": "mut", "amount": "400"})));
    ok(&mut app, "POST", "/api/v1/persons/Father/moves", &father, Some(json!({"from": "his", "to": "mut", "amount": "1"})));
    let admin = app.admin.clone();
    let first = ok(
        &mut app,
        "POST",
        "/api/v1/institutions/H0001/bills",
        &admin,
        Some(json!({"bill_id": "v-1", "patient": "Husband", "visit": "outpatient", "split": {"fund_pay": "80", "self_borne": "20"}})),
    );
    assert_eq!(payments(&first), map(&[("Husband.his", "10.00"), ("Father.mut", "1.00")]));
    assert_eq!(first["cash"], "9.00");
    let second = ok(
        &mut app,
        "POST",
        "/api/v1/institutions/H0001/bills",
        &admin,
        Some(json!({"bill_id": "v-2", "patient": "Husband", "visit": "outpatient", "split": {"fund_pay": "80", "self_borne": "20"}})),
    );
    assert_eq!(payments(&second), map(&[("Wife.mut", "20.00")]));
    assert_eq!(second["cash"], "0.00");
    assert_eq!(app.balances("Wife"), bal("0.00", "200.00", "380.00"));
    assert_eq!(app.balances("Father").2, "0.00");
    assert_eq!(app.balances("Husband").1, "0.00");
    app.audit_entries();
}

/// seeds/003 六: B's MUT paid A's bill; B leaves; the cancel holds B's part for the nightly job
/// (ST8), which moves it to B's HIS the next day (B3). Then the operator's batch queries list
/// it all (Q3), as JSON pages and as CSV.
#[test]
fn st8_q3_seed003_refund_after_exit_over_http() {
    let mut app = TestApp::start("2024-03-04");
    app.register("P", "赵某", "1960-01-01", "employee", "330200", "100");
    app.register("A", "钱某", "1990-06-06", "resident", "330200", "0");
    app.register("B", "孙某", "1962-02-02", "employee", "330200", "500");
    let (p, a, b) = (app.insured("P"), app.insured("A"), app.insured("B"));
    ok(&mut app, "POST", "/api/v1/networks", &p, Some(json!({"promoter": "P"})));
    ok(&mut app, "POST", "/api/v1/networks/P/members", &p, Some(json!({"member": "B", "relation": "spouse"})));
    ok(&mut app, "POST", "/api/v1/persons/B/network/confirm", &b, None);
    ok(&mut app, "POST", "/api/v1/networks/P/members", &p, Some(json!({"member": "A", "relation": "child"})));
    ok(&mut app, "POST", "/api/v1/persons/A/network/confirm", &a, None);
    ok(&mut app, "POST", "/api/v1/persons/B/moves", &b, Some(json!({"from": "his", "to": "mut", "amount": "500"})));
    let hospital = app.institution("H0001");
    let result =
        settle(&mut app, &hospital, json!({"bill_id": "r-1", "patient": "A", "visit": "outpatient", "split": {"fund_pay": "300", "self_borne": "200"}}));
    assert_eq!(payments(&result), map(&[("family.mut", "200.00")]));
    assert_eq!(result["cash"], "0.00");
    ok(&mut app, "POST", "/api/v1/persons/B/network/leave", &b, None);
    let cancelled = ok(&mut app, "POST", "/api/v1/institutions/H0001/bills/r-1/cancel", &hospital, None);
    assert_eq!(cancelled["held"], json!({"family": "200.00"}));
    assert_eq!(cancelled["fund_pay"], "300.00");
    assert_eq!(app.balances("B"), bal("0.00", "0.00", "300.00"));
    app.engine.run_refund_sync(common::day("2024-03-05"), common::day("2024-03-05"), &|_, _| {}).unwrap();
    assert_eq!(app.balances("B"), bal("0.00", "200.00", "300.00"));

    let operator = app.operator("330200");
    let page = ok(&mut app, "GET", "/api/v1/areas/330200/network-events?from=2024-01-01&to=2024-12-31&limit=3", &operator, None);
    let total = page["total"].as_u64().unwrap();
    assert_eq!(total, 6, "created, 2 added, 2 confirmed, 1 left (N12): {page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    assert_eq!(page["items"][0]["kind"], "created");
    assert_eq!(page["next_offset"], 3);
    let rest = ok(&mut app, "GET", "/api/v1/areas/330200/network-events?from=2024-01-01&to=2024-12-31&limit=3&offset=3", &operator, None);
    assert_eq!(rest["items"][2]["kind"], "member_left");
    assert!(rest["next_offset"].is_null());
    let csv = app.call("GET", "/api/v1/areas/330200/mut-movements?from=2024-01-01&to=2024-12-31&format=csv", &operator, None);
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    let text = csv.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "entry_id,business_date,psn_no,kind,amount,actor,channel");
    assert_eq!(lines.len(), 3, "header, HIS→MUT 500, settlement −200; the cancel went to the holding account, not B's MUT: {text}");
    assert!(lines[1].contains(",B,") && lines[1].contains(",500.00,") && lines[1].ends_with(",app"), "{text}");
    assert!(lines[2].contains(",-200.00,"), "{text}");
    let statement = ok(&mut app, "GET", "/api/v1/persons/B/statement?account=his&from=2024-03-01&to=2024-03-31", &b, None);
    let amounts: Vec<&str> = statement["lines"].as_array().unwrap().iter().map(|l| l["amount"].as_str().unwrap()).collect();
    assert_eq!(amounts, ["500.00", "-500.00", "200.00"], "opening, HIS→MUT, refund sync (Q2)");
    app.audit_entries();
}
