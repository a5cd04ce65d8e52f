//! Issue 12, item 8 ("existence leaks"), over HTTP: a caller without rights learns nothing,
//! not even whether a person or a bill exists (§12: a role never acts outside its scope). For
//! every route that takes a psn_no, a caller who may not act for or read that person gets the
//! same answer (status, code, rule and words) for an existing person and for a psn_no that
//! names nobody; the same for an institution and another institution's bills, for an operator
//! and another area, and for the pages. Nothing is written by any of these requests.

mod common;

use common::TestApp;
use gongji_server::auth::Role;
use gongji_server::client::HttpResponse;
use gongji_server::route_table;
use gongji_store::sqlite::SqliteStore;
use serde_json::{json, Value};

/// A request to one route of the route table about the person `psn`: (method, the route as
/// the table names it, the path, the body).
type Probe = (&'static str, &'static str, String, Option<Value>);

/// One request for every route of the table whose path names a person, plus the routes that
/// name the person acted for in their body, each with a body of the right shape.
fn person_probes(psn: &str) -> Vec<Probe> {
    let p = |method, route: &'static str, body: Option<Value>| -> Probe {
        let path = route.replace("{psn_no}", psn).replace("{promoter}", psn).replace("{member}", "A1").replace("{other}", "A1");
        let path = path.replace("{request_id}", "1").replace("{uid}", "q-1");
        (method, route, path, body)
    };
    let id_number = "11010519491231002X";
    vec![
        p("GET", "/api/v1/persons/{psn_no}", None),
        p("POST", "/api/v1/persons/{psn_no}/credits", Some(json!({"account": "his", "amount": "1", "reference": "leak-1"}))),
        p("POST", "/api/v1/persons/{psn_no}/moves", Some(json!({"from": "his", "to": "mut", "amount": "1"}))),
        p("PUT", "/api/v1/persons/{psn_no}/preset", Some(json!({"amount": "1"}))),
        p("POST", "/api/v1/persons/{psn_no}/explain", Some(json!({"visit": "outpatient", "amount": "10"}))),
        ("GET", "/api/v1/persons/{psn_no}/statement", format!("/api/v1/persons/{psn}/statement?account=his&from=2024-01-01&to=2024-12-31"), None),
        p("POST", "/api/v1/persons/{psn_no}/network/confirm", None),
        p("POST", "/api/v1/persons/{psn_no}/network/leave", None),
        ("POST", "/api/v1/networks", "/api/v1/networks".into(), Some(json!({"promoter": psn}))),
        p("POST", "/api/v1/networks/{promoter}/members", Some(json!({"member": "A1", "relation": "spouse"}))),
        p("POST", "/api/v1/networks/{promoter}/members/{member}/remove", None),
        p("PUT", "/api/v1/networks/{promoter}/order", Some(json!({"order": [psn]}))),
        p("POST", "/api/v1/networks/{promoter}/dissolve", None),
        p(
            "POST",
            "/api/v1/persons/{psn_no}/relative-transfers",
            Some(json!({"commitment_accepted": true, "relation": "spouse", "beneficiary_name": "甲", "beneficiary_id_number": id_number, "amount": "1"})),
        ),
        p("POST", "/api/v1/persons/{psn_no}/relative-transfers/{request_id}/confirm", Some(json!({"code": "123456"}))),
        p("POST", "/api/v1/persons/{psn_no}/bindings", Some(json!({"relative": "A1", "relation": "spouse"}))),
        p("GET", "/api/v1/persons/{psn_no}/bindings", None),
        p("POST", "/api/v1/persons/{psn_no}/bindings/{other}/unbind", None),
        p(
            "POST",
            "/api/v1/persons/{psn_no}/quotas",
            Some(json!({"relative_name": "甲", "relative_id_number": id_number, "relation": "spouse", "amount": "1"})),
        ),
        p("GET", "/api/v1/persons/{psn_no}/quotas", None),
        p("POST", "/api/v1/persons/{psn_no}/quotas/{uid}/end", None),
        p("POST", "/api/v1/persons/{psn_no}/premiums", Some(json!({"amount": "1"}))),
        // X4: a premium paid from a relative's HIS is acted by the payer named in the body.
        ("POST", "/api/v1/persons/{psn_no}/premiums", "/api/v1/persons/A1/premiums".into(), Some(json!({"amount": "1", "payer": psn, "relation": "parent"}))),
    ]
}

/// The seeds' family in 330200 (A1 promoter with B1; both with money) and H1 in 330100, and a
/// bill b-1 of H0001 settled for B1.
fn world() -> TestApp {
    let mut app = TestApp::start("2024-03-01");
    app.register("A1", "甲", "1970-05-01", "employee", "330200", "2000");
    app.register("B1", "乙", "1972-08-15", "employee", "330200", "150");
    app.register("H1", "杭某", "1980-01-01", "employee", "330100", "300");
    let admin = app.admin.clone();
    let bill = json!({"bill_id": "b-1", "patient": "B1", "visit": "outpatient", "split": {"fund_pay": "80", "self_borne": "20"}});
    let settled = app.call("POST", "/api/v1/institutions/H0001/bills", &admin, Some(bill));
    assert_eq!(settled.status, 200, "{}", settled.text());
    app
}

/// Status, code, rule and words of a problem answer.
fn answer(response: &HttpResponse) -> (u16, Value, Value, Value) {
    let problem = response.json();
    (response.status, problem["code"].clone(), problem["rule"].clone(), problem["detail"].clone())
}

/// `token` on `existing` and on a psn_no of nobody, route by route: the same answer, a 403.
fn assert_same_for_existing_and_nobody(app: &mut TestApp, token: &str, existing: &str, who: &str) {
    let entries = app.audit_entries();
    for ((method, route, path, body), (_, _, nobody_path, nobody_body)) in person_probes(existing).into_iter().zip(person_probes("NOBODY")) {
        let on_existing = app.call(method, &path, token, body);
        let on_nobody = app.call(method, &nobody_path, token, nobody_body);
        assert_eq!(answer(&on_existing), answer(&on_nobody), "{who}: {method} {route} tells {existing} from nobody");
        assert_eq!(on_existing.status, 403, "{who}: {method} {route}: {}", on_existing.text());
    }
    assert_eq!(app.audit_entries(), entries, "{who}: nothing was written");
}

#[test]
fn issue12_item8_every_route_naming_a_person_is_probed() {
    let probed: std::collections::BTreeSet<(&str, &str)> = person_probes("X").iter().map(|(method, route, _, _)| (*method, *route)).collect();
    for (method, route) in route_table::<SqliteStore>().routes() {
        if route.contains("{psn_no}") || route.contains("{promoter}") {
            assert!(probed.contains(&(method.as_str(), *route)), "{method} {route} names a person: add it to person_probes");
        }
    }
}

#[test]
fn issue12_item8_s12_an_insured_person_learns_nothing_about_others() {
    let mut app = world();
    let a1 = app.insured("A1");
    assert_same_for_existing_and_nobody(&mut app, &a1, "B1", "insured A1");
    // The words are those of the rule, N9 for acting and §12 for reading.
    let acting = app.call("POST", "/api/v1/persons/NOBODY/moves", &a1, Some(json!({"from": "his", "to": "mut", "amount": "1"})));
    assert_eq!(TestApp::expect_problem(&acting, 403, "network.not_allowed")["rule"], "N9");
    let reading = app.call("GET", "/api/v1/persons/NOBODY/quotas", &a1, None);
    assert_eq!(TestApp::expect_problem(&reading, 403, "auth.forbidden")["rule"], "§12");
    assert_eq!(app.balances("B1"), ("0.00".into(), "130.00".into(), "0.00".into()));
}

#[test]
fn issue12_item8_n11_an_operator_learns_nothing_about_other_areas() {
    let mut app = world();
    let operator = app.operator("330200");
    assert_same_for_existing_and_nobody(&mut app, &operator, "H1", "operator of 330200");
    // The answer names the operator's own area, never the person's.
    let response = app.call("GET", "/api/v1/persons/H1", &operator, None);
    assert!(!response.text().contains("330100"), "{}", response.text());
    // Batch queries: another area and an area that does not exist answer alike.
    let other = app.call("GET", "/api/v1/areas/330100/network-events?from=2024-01-01&to=2024-12-31", &operator, None);
    let none = app.call("GET", "/api/v1/areas/999999/network-events?from=2024-01-01&to=2024-12-31", &operator, None);
    assert_eq!(answer(&other), answer(&none));
    TestApp::expect_problem(&other, 403, "auth.forbidden");
    // Its own area still works, and an admin, who may see every person, is told who is unknown.
    assert_eq!(app.call("GET", "/api/v1/persons/A1", &operator, None).status, 200);
    let admin = app.admin.clone();
    TestApp::expect_problem(&app.call("GET", "/api/v1/persons/NOBODY", &admin, None), 404, "person.not_found");
}

#[test]
fn issue12_item8_s12_an_institution_learns_nothing_about_persons_or_other_bills() {
    let mut app = world();
    let h0002 = app.institution("H0002");
    assert_same_for_existing_and_nobody(&mut app, &h0002, "B1", "institution H0002");
    let entries = app.audit_entries();
    // Another institution's bills: an existing one and one that does not exist answer alike.
    for (method, existing, missing) in [
        ("GET", "/api/v1/institutions/H0001/bills/b-1", "/api/v1/institutions/H0001/bills/nope"),
        ("POST", "/api/v1/institutions/H0001/bills/b-1/cancel", "/api/v1/institutions/H0001/bills/nope/cancel"),
        ("GET", "/api/v1/institutions/H0001/bills/b-1", "/api/v1/institutions/H9999/bills/b-1"),
    ] {
        let on_existing = app.call(method, existing, &h0002, None);
        let on_missing = app.call(method, missing, &h0002, None);
        assert_eq!(answer(&on_existing), answer(&on_missing), "{method} {existing}");
        TestApp::expect_problem(&on_existing, 403, "auth.forbidden");
    }
    // Settling for another institution, for an existing patient or for nobody.
    for route in ["/api/v1/institutions/H0001/bills", "/api/v1/institutions/H0001/presettlements"] {
        let bill = |patient: &str| json!({"bill_id": "b-9", "patient": patient, "visit": "outpatient", "split": {"self_borne": "1"}});
        let on_existing = app.call("POST", route, &h0002, Some(bill("B1")));
        let on_nobody = app.call("POST", route, &h0002, Some(bill("NOBODY")));
        assert_eq!(answer(&on_existing), answer(&on_nobody), "{route}");
        TestApp::expect_problem(&on_existing, 403, "auth.forbidden");
    }
    // The HIS dialect under another institution's code, whatever the input names.
    for (infno, existing, nobody) in [
        ("2207", json!({"psn_no": "B1", "mdtrt_id": "MD9", "medfee_sumamt": "10"}), json!({"psn_no": "NOBODY", "mdtrt_id": "MD9", "medfee_sumamt": "10"})),
        ("2208", json!({"setl_id": "b-1", "mdtrt_id": "b-1", "psn_no": "B1"}), json!({"setl_id": "nope", "mdtrt_id": "nope", "psn_no": "NOBODY"})),
    ] {
        let envelope = |data: Value| json!({"infno": infno, "msgid": "m1", "fixmedins_code": "H0001", "input": {"data": data}});
        let path = gongji_server::routes::fsi::FSI_PATH;
        let on_existing = app.call("POST", path, &h0002, Some(envelope(existing)));
        let on_nobody = app.call("POST", path, &h0002, Some(envelope(nobody)));
        assert_eq!(on_existing.status, 403, "{infno}: {}", on_existing.text());
        assert_eq!(on_nobody.status, on_existing.status, "{infno}");
        assert_eq!(on_existing.json()["gongji_code"], on_nobody.json()["gongji_code"], "{infno}");
        assert_eq!(on_existing.json()["err_msg"], on_nobody.json()["err_msg"], "{infno}");
    }
    assert_eq!(app.audit_entries(), entries);
    let owner = app.institution("H0001");
    assert_eq!(app.call("GET", "/api/v1/institutions/H0001/bills/b-1", &owner, None).json()["cancelled"], json!(false));
}

#[test]
fn issue12_item8_s12_jobs_answer_alike_whether_the_job_exists() {
    let mut app = world();
    let a1 = app.insured("A1");
    let operator = app.operator("330200");
    let started = app.call("POST", "/api/v1/jobs", &operator, Some(json!({"job": "refund_sync", "date": "2024-03-01"})));
    assert_eq!(started.status, 202, "{}", started.text());
    let id = started.json()["id"].as_u64().unwrap();
    let on_existing = app.call("GET", &format!("/api/v1/jobs/{id}"), &a1, None);
    let on_missing = app.call("GET", "/api/v1/jobs/999999", &a1, None);
    assert_eq!(answer(&on_existing), answer(&on_missing));
    TestApp::expect_problem(&on_existing, 403, "auth.forbidden");
}

#[test]
fn issue12_item8_pages_answer_alike_for_another_person_and_for_nobody() {
    let mut app = world();
    let code = |response: &HttpResponse| {
        let text = response.text();
        let start = text.find("data-code=\"").map(|i| i + "data-code=\"".len());
        start.and_then(|s| text[s..].find('"').map(|e| text[s..s + e].to_string()))
    };
    for (token, existing) in [(app.insured("A1"), "B1"), (app.token(Role::Operator, Some("330200"), None, None), "H1")] {
        for page in ["", "/network", "/move", "/preset", "/why?visit=outpatient&amount=10", "/transfer", "/bindings"] {
            let cookie = format!("gongji_session={token}");
            let on_existing = app.client.send("GET", &format!("/web/persons/{existing}{page}"), &[("Cookie", &cookie)], b"").unwrap();
            let on_nobody = app.client.send("GET", &format!("/web/persons/NOBODY{page}"), &[("Cookie", &cookie)], b"").unwrap();
            assert_eq!((on_existing.status, code(&on_existing)), (on_nobody.status, code(&on_nobody)), "/web/persons/{existing}{page}");
            assert_eq!(on_existing.status, 403, "/web/persons/{existing}{page}: {}", on_existing.text());
            assert!(code(&on_existing).is_some(), "the refusal is shown with its code: {}", on_existing.text());
        }
    }
    // The counter's search by ID number: a number registered in another area and one
    // registered nowhere answer alike for an operator.
    let operator = app.operator("330200");
    let h1 = app.engine.person("H1").unwrap().id_number;
    let unknown = gongji_core::IdNumber::compose("330100", common::day("1990-01-01"), 999).unwrap();
    let find = |app: &mut TestApp, id: &str| {
        let cookie = format!("gongji_session={operator}");
        let host = format!("http://{}", app.server.addr);
        let headers = [("Cookie", cookie.as_str()), ("Content-Type", "application/x-www-form-urlencoded"), ("Origin", host.as_str())];
        app.client.send("POST", "/web/counter", &headers, format!("id_number={id}").as_bytes()).unwrap()
    };
    let other_area = find(&mut app, h1.as_str());
    let nowhere = find(&mut app, unknown.as_str());
    assert_eq!((other_area.status, code(&other_area)), (nowhere.status, code(&nowhere)));
    assert_eq!((other_area.status, code(&other_area).as_deref()), (403, Some("auth.forbidden")), "{}", other_area.text());
    let a1 = app.engine.person("A1").unwrap().id_number;
    let own_area = find(&mut app, a1.as_str());
    assert_eq!((own_area.status, own_area.header("location")), (303, Some("/web/persons/A1")), "{}", own_area.text());
}
