//! The batch-job endpoints (§10 over HTTP) and the web pages (issue 9) over real HTTP: the pages
//! answer with the API's own role checks and rules, keep the token in an HttpOnly cookie, change
//! money only after a confirmation, refuse cross-site forms, and record the operator at the
//! counter. (The browser itself is exercised by web-tests/run.mjs.)

mod common;

use common::TestApp;
use gongji_server::client::HttpResponse;
use serde_json::{json, Value};

fn ok(app: &mut TestApp, method: &str, path: &str, token: &str, body: Option<Value>) -> Value {
    let response = app.call(method, path, token, body);
    assert!(response.status < 300, "{method} {path}: {} {}", response.status, response.text());
    response.json()
}

/// Polls a job until it has finished (the job runs on its own thread).
fn finished(app: &mut TestApp, token: &str, id: u64) -> Value {
    for _ in 0..2000 {
        let view = ok(app, "GET", &format!("/api/v1/jobs/{id}"), token, None);
        if view["state"] != "running" {
            return view;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    panic!("job {id} did not finish");
}

/// A family of the seeds with a preset: A promoter (HIS 2000), B member (HIS 150).
fn family(app: &mut TestApp) {
    app.register("A", "甲", "1970-05-01", "employee", "330200", "2000");
    app.register("B", "乙", "1972-08-15", "employee", "330200", "150");
    let (a, b) = (app.insured("A"), app.insured("B"));
    ok(app, "POST", "/api/v1/networks", &a, Some(json!({"promoter": "A"})));
    ok(app, "POST", "/api/v1/networks/A/members", &a, Some(json!({"member": "B", "relation": "spouse"})));
    ok(app, "POST", "/api/v1/persons/B/network/confirm", &b, None);
}

#[test]
fn b2_jobs_run_in_the_background_with_progress_and_are_idempotent() {
    let mut app = TestApp::start("2024-06-01");
    family(&mut app);
    let a = app.insured("A");
    let response = app.call("PUT", "/api/v1/persons/A/preset", &a, Some(json!({"amount": "300"})));
    assert_eq!(response.status, 204, "{}", response.text());

    // §12: the agency's work only.
    let hospital = app.institution("H0001");
    for token in [&a, &hospital] {
        let response = app.call("POST", "/api/v1/jobs", token, Some(json!({"job": "preset", "date": "2024-06-01"})));
        TestApp::expect_problem(&response, 403, "auth.forbidden");
        TestApp::expect_problem(&app.call("GET", "/api/v1/jobs", token, None), 403, "auth.forbidden");
    }
    let operator = app.operator("330200");
    for (body, why) in [
        (json!({"job": "nightly"}), "unknown job"),
        (json!({"job": "year_end"}), "year_end needs a year"),
        (json!({"job": "year_end", "year": 2023, "date": "2024-01-01"}), "year_end takes no date"),
        (json!({"job": "preset", "year": 2024}), "preset takes no year"),
        (json!({"job": "preset", "date": "2024-13-01"}), "bad date"),
        (json!({"job": "preset", "when": "now"}), "unknown field"),
    ] {
        let response = app.call("POST", "/api/v1/jobs", &operator, Some(body));
        assert_eq!(response.status, 400, "{why}: {}", response.text());
    }
    assert_eq!(app.balances("A"), ("0.00".into(), "2000.00".into(), "0.00".into()), "a refused start runs nothing");

    let started = app.call("POST", "/api/v1/jobs", &operator, Some(json!({"job": "preset", "date": "2024-06-01"})));
    assert_eq!(started.status, 202, "{}", started.text());
    let id = started.json()["id"].as_u64().unwrap();
    let view = finished(&mut app, &operator, id);
    assert_eq!(view["state"], "done", "{view}");
    assert_eq!(view["job"], "preset");
    assert_eq!(view["date"], "2024-06-01");
    assert_eq!(view["started_by"], "operator test-operator");
    assert_eq!(view["summary"]["accounts"], 1);
    assert_eq!(view["summary"]["amount"], "300.00");
    assert!(view["done"].as_u64().unwrap() >= 1, "{view}");
    assert!(view["finished_at"].is_string());
    assert_eq!(app.balances("A"), ("0.00".into(), "1700.00".into(), "300.00".into()));

    // B2 is idempotent: the same date again moves nothing.
    let admin = app.admin.clone();
    let again = ok(&mut app, "POST", "/api/v1/jobs", &admin, Some(json!({"job": "preset", "date": "2024-06-01"})));
    let again = finished(&mut app, &operator, again["id"].as_u64().unwrap());
    assert_eq!(again["summary"]["accounts"], 0, "{again}");
    assert_eq!(again["summary"]["already_done"], 1, "{again}");
    assert_eq!(app.balances("A"), ("0.00".into(), "1700.00".into(), "300.00".into()));

    // On another day the area is skipped, with the reason (T2).
    let other = ok(&mut app, "POST", "/api/v1/jobs", &operator, Some(json!({"job": "preset"})));
    let other = finished(&mut app, &operator, other["id"].as_u64().unwrap());
    assert_eq!(other["date"], "2024-06-01", "the business date when none is given");
    let refund = ok(&mut app, "POST", "/api/v1/jobs", &operator, Some(json!({"job": "refund-sync", "date": "2024-06-01"})));
    let refund = finished(&mut app, &operator, refund["id"].as_u64().unwrap());
    assert_eq!(refund["state"], "done");
    assert_eq!(refund["summary"]["accounts"], 0);

    let list = ok(&mut app, "GET", "/api/v1/jobs", &operator, None);
    let ids: Vec<u64> = list["items"].as_array().unwrap().iter().map(|j| j["id"].as_u64().unwrap()).collect();
    assert_eq!(ids.len(), 4);
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    TestApp::expect_problem(&app.call("GET", "/api/v1/jobs/999", &operator, None), 404, "job.not_found");
    app.audit_entries();
}

#[test]
fn b1_year_end_runs_over_http() {
    let mut app = TestApp::start("2025-01-02");
    family(&mut app);
    let a = app.insured("A");
    ok(&mut app, "POST", "/api/v1/persons/A/moves", &a, Some(json!({"from": "his", "to": "mut", "amount": "500"})));
    let admin = app.admin.clone();
    let started = ok(&mut app, "POST", "/api/v1/jobs", &admin, Some(json!({"job": "year_end", "year": 2024})));
    let view = finished(&mut app, &admin, started["id"].as_u64().unwrap());
    assert_eq!(view["state"], "done", "{view}");
    assert_eq!(view["year"], 2024);
    // The money arrived in 2025 (the business date), so 2024 earns no interest; the sweep still
    // brings MUT back into HIS (B1).
    assert_eq!(app.balances("A"), ("0.00".into(), "2000.00".into(), "0.00".into()));
    assert_eq!(view["summary"]["amount"], "0.00");
    assert!(view["done"].as_u64().unwrap() >= 2, "both persons are done: {view}");
}

/// B1 (issue 12): the API accepted any year from 1900 to 9998 and the job ran. A year not
/// over, or one whose year before is not done, is refused with 409 `job.not_due` before any
/// job starts, as are presets and refund syncs for a day after the business date; the counter
/// page refuses on its first step (no confirmation offered) and offers the year that may run.
#[test]
fn b1_jobs_not_due_are_refused_over_http_and_on_the_counter_page() {
    let mut app = TestApp::start("2024-06-30");
    family(&mut app);
    let operator = app.operator("330200");
    for body in [
        json!({"job": "year_end", "year": 2024}),
        json!({"job": "year_end", "year": 2030}),
        json!({"job": "year_end", "year": 9998}),
        json!({"job": "preset", "date": "2024-07-01"}),
        json!({"job": "refund_sync", "date": "2099-01-01"}),
    ] {
        let response = app.call("POST", "/api/v1/jobs", &operator, Some(body.clone()));
        TestApp::expect_problem(&response, 409, "job.not_due");
    }
    let list = ok(&mut app, "GET", "/api/v1/jobs", &operator, None);
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "no job was started");
    assert_eq!(app.balances("A"), ("0.00".into(), "2000.00".into(), "0.00".into()), "nothing moved");

    let jobs_page = page(&mut app, "/web/counter/jobs", &operator);
    assert_eq!(jobs_page.status, 200);
    assert!(jobs_page.text().contains("value=\"2023\""), "offers the last full year while 2024 is not over");
    let refused = form(&mut app, "/web/counter/jobs", Some(&operator), "job=year_end&year=2030", &[]);
    assert_eq!(refused.status, 409);
    assert!(refused.text().contains("job.not_due") && !refused.text().contains("确认运行"), "refused before any confirmation");
}

// ---- pages ----

fn form(app: &mut TestApp, path: &str, cookie: Option<&str>, body: &str, extra: &[(&str, &str)]) -> HttpResponse {
    let cookie = cookie.map(|token| format!("gongji_session={token}"));
    let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
    if let Some(value) = &cookie {
        headers.push(("Cookie", value));
    }
    headers.extend_from_slice(extra);
    app.client.send("POST", path, &headers, body.as_bytes()).expect("HTTP exchange")
}

fn page(app: &mut TestApp, path: &str, cookie: &str) -> HttpResponse {
    let cookie = format!("gongji_session={cookie}");
    app.client.send("GET", path, &[("Cookie", &cookie)], b"").expect("HTTP exchange")
}

#[test]
fn s12_pages_sign_in_with_an_http_only_cookie_and_use_the_apis_role_checks() {
    let mut app = TestApp::start("2024-03-01");
    family(&mut app);
    let sign_in = app.client.send("GET", "/web/sign-in", &[], b"").unwrap();
    assert_eq!(sign_in.status, 200);
    assert_eq!(sign_in.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(sign_in.header("content-security-policy").unwrap().contains("script-src 'self'"));
    assert_eq!(sign_in.header("cache-control"), Some("no-store"));
    assert!(sign_in.text().contains("登录"));
    assert!(!sign_in.text().contains("演示 Demo"), "no demo list without --demo");
    let root = app.client.send("GET", "/", &[], b"").unwrap();
    assert_eq!((root.status, root.header("location")), (303, Some("/web")));
    assert_eq!(app.client.send("GET", "/web/static/app.css", &[], b"").unwrap().status, 200);

    // No --demo: no sign-in without a token.
    assert_eq!(form(&mut app, "/web/demo-sign-in", None, "who=A1", &[]).status, 403);
    // A wrong token: the page again, 401, the token not echoed.
    let wrong = form(&mut app, "/web/sign-in", None, "token=gj_0000", &[]);
    assert_eq!(wrong.status, 401);
    assert!(wrong.text().contains("auth.unauthenticated") && !wrong.text().contains("gj_0000"));
    // Institutions have no pages.
    let hospital = app.institution("H0001");
    assert_eq!(form(&mut app, "/web/sign-in", None, &format!("token={hospital}"), &[]).status, 403);

    let a = app.insured("A");
    let signed_in = form(&mut app, "/web/sign-in", None, &format!("token={a}"), &[]);
    assert_eq!(signed_in.status, 303);
    assert_eq!(signed_in.header("location"), Some("/web/persons/A"));
    let cookie = signed_in.header("set-cookie").unwrap();
    assert!(cookie.starts_with(&format!("gongji_session={a};")) && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");

    let mine = page(&mut app, "/web/persons/A", &a);
    assert_eq!(mine.status, 200, "{}", mine.text());
    assert!(mine.text().contains("2000.00") && mine.text().contains("<svg"));
    for path in ["/web/persons/A/network", "/web/persons/A/move", "/web/persons/A/preset", "/web/persons/A/why?visit=inpatient&amount=300"] {
        assert_eq!(page(&mut app, path, &a).status, 200, "{path}");
    }
    // §12: another person's pages and the counter are refused with the API's code.
    let other = page(&mut app, "/web/persons/B", &a);
    assert_eq!(other.status, 403);
    assert!(other.text().contains("data-code=\"auth.forbidden\""));
    assert_eq!(page(&mut app, "/web/counter", &a).status, 403);
    assert_eq!(page(&mut app, "/web/counter/jobs", &a).status, 403);
    // Without a session: to the sign-in page.
    let anonymous = app.client.send("GET", "/web/persons/A", &[], b"").unwrap();
    assert_eq!((anonymous.status, anonymous.header("location")), (303, Some("/web/sign-in")));
}

#[test]
fn t1_a_move_on_the_page_needs_its_confirmation_and_a_same_site_form() {
    let mut app = TestApp::start("2024-03-01");
    family(&mut app);
    let a = app.insured("A");
    let host = format!("http://{}", app.server.addr);

    let preview = form(&mut app, "/web/persons/A/move", Some(&a), "from=his&amount=100", &[]);
    assert_eq!(preview.status, 200);
    assert!(preview.text().contains("data-confirm-amount=\"100.00\"") && preview.text().contains("name=\"confirmed\""));
    assert_eq!(app.balances("A"), ("0.00".into(), "2000.00".into(), "0.00".into()), "nothing moves before the confirmation");

    // A form from another site is refused, even with the cookie (which SameSite=Strict would
    // not send anyway).
    for extra in [[("Origin", "http://evil.example")], [("Sec-Fetch-Site", "cross-site")]] {
        let forged = form(&mut app, "/web/persons/A/move", Some(&a), "from=his&amount=100&confirmed=yes", &extra);
        assert_eq!(forged.status, 403);
    }
    assert_eq!(app.balances("A").1, "2000.00");

    let done = form(&mut app, "/web/persons/A/move", Some(&a), "from=his&amount=100&confirmed=yes", &[("Origin", &host), ("Sec-Fetch-Site", "same-origin")]);
    assert_eq!((done.status, done.header("location")), (303, Some("/web/persons/A?ok=moved")));
    assert_eq!(app.balances("A"), ("0.00".into(), "1900.00".into(), "100.00".into()));

    // Refused by the engine (T1): the form again with what was typed, and the rule in words.
    let refused = form(&mut app, "/web/persons/A/move", Some(&a), "from=mut&amount=5000&confirmed=yes", &[]);
    assert_eq!(refused.status, 422);
    let text = refused.text();
    assert!(text.contains("data-code=\"money.insufficient\"") && text.contains("余额不足") && text.contains("T1"), "{text}");
    assert!(text.contains("value=\"5000\"") && text.contains("value=\"mut\" checked"), "{text}");
    // A malformed amount is refused before any confirmation, keeping what was typed.
    let malformed = form(&mut app, "/web/persons/A/move", Some(&a), "from=his&amount=12.345", &[]);
    assert_eq!(malformed.status, 422);
    assert!(malformed.text().contains("money.invalid_amount") && malformed.text().contains("value=\"12.345\""));
    // Nobody moves another person's money (N9), whatever the page is asked.
    let b_money = form(&mut app, "/web/persons/B/move", Some(&a), "from=his&amount=1&confirmed=yes", &[]);
    assert_eq!(b_money.status, 403);
    assert_eq!(app.balances("B").1, "150.00");
}

#[test]
fn n11_counter_finds_a_person_by_id_number_and_acts_as_the_operator() {
    let mut app = TestApp::start("2024-03-01");
    app.register("A", "甲", "1970-05-01", "employee", "330200", "2000");
    app.register("B", "乙", "1972-08-15", "employee", "330200", "150");
    let operator = app.operator("330200");
    let elsewhere = app.operator("330100");
    let id_b = app.engine.person("B").unwrap().id_number.as_str().to_string();

    let found = form(&mut app, "/web/counter", Some(&operator), &format!("id_number={id_b}"), &[]);
    assert_eq!((found.status, found.header("location")), (303, Some("/web/persons/B")));
    let far = form(&mut app, "/web/counter", Some(&elsewhere), &format!("id_number={id_b}"), &[]);
    assert_eq!(far.status, 403, "an operator serves persons of its own area (N11)");
    assert!(far.text().contains(&format!("value=\"{id_b}\"")), "the ID number typed stays in the form");
    let bad = form(&mut app, "/web/counter", Some(&operator), "id_number=330200197208150000", &[]);
    assert!(bad.status == 422 || bad.status == 404, "{}", bad.status);

    // Network business at the counter on the persons' behalf.
    assert_eq!(form(&mut app, "/web/persons/A/network/create", Some(&operator), "", &[]).status, 303);
    let invited = form(&mut app, "/web/persons/A/network/invite", Some(&operator), "member=B&relation=spouse", &[]);
    assert_eq!(invited.header("location"), Some("/web/persons/A/network?ok=invited-pending"));
    assert_eq!(form(&mut app, "/web/persons/B/network/confirm", Some(&operator), "", &[]).status, 303);
    let second_spouse = form(&mut app, "/web/persons/A/network/invite", Some(&operator), "member=A&relation=spouse", &[]);
    assert!(second_spouse.status >= 400 && second_spouse.text().contains("class=\"refusal\""));
    let events = ok(&mut app, "GET", "/api/v1/areas/330200/network-events?from=2024-01-01&to=2024-12-31", &operator, None);
    let confirmed = events["items"].as_array().unwrap().iter().find(|e| e["kind"] == "member_confirmed").expect("a confirmation event").clone();
    assert_eq!(confirmed["channel"], "counter");
    assert!(confirmed["actor"].as_str().unwrap().contains("test-operator"), "{confirmed}");

    // Dissolving needs its confirmation step too.
    let asked = form(&mut app, "/web/persons/A/network/dissolve", Some(&operator), "", &[]);
    assert_eq!(asked.status, 200);
    assert!(asked.text().contains("确认撤销"));
    assert_eq!(app.engine.person_overview("A").unwrap().network.map(|n| n.members.len()), Some(2));
    assert_eq!(form(&mut app, "/web/persons/A/network/dissolve", Some(&operator), "confirmed=yes", &[]).status, 303);
    assert!(app.engine.person_overview("A").unwrap().network.is_none());

    // The counter's batch query, as CSV.
    let csv = page(&mut app, "/web/counter/queries/csv?kind=network-events&from=2024-01-01&to=2024-12-31", &operator);
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert_eq!(csv.header("content-disposition"), Some("attachment; filename=\"network-events-330200-2024-01-01-2024-12-31.csv\""));
    assert!(csv.text().lines().any(|l| l.contains("dissolved") && l.contains("counter")));
}

/// Registers a person of `area` with a phone (for the one-time code) and an opening HIS balance.
fn register_with_phone(app: &mut TestApp, psn_no: &str, name: &str, birth: &str, insurance: &str, area: &str, his: &str, sequence: u16) -> String {
    let id = gongji_core::IdNumber::compose(area, common::day(birth), 100 + sequence).unwrap().as_str().to_string();
    let admin = app.admin.clone();
    let body = json!({"psn_no": psn_no, "name": name, "id_number": id, "area": area, "insurance": insurance, "phone": format!("1390000{:04}", sequence)});
    ok(app, "POST", "/api/v1/persons", &admin, Some(body));
    if his != "0" {
        ok(
            app,
            "POST",
            &format!("/api/v1/persons/{psn_no}/credits"),
            &admin,
            Some(json!({"account": "his", "amount": his, "reference": format!("open-{psn_no}")})),
        );
    }
    id
}

/// The value of the hidden input `name` on a page.
fn hidden_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {name} in {html}")) + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

#[test]
fn tr1_tr4_the_relative_transfer_page_confirms_then_asks_for_the_code() {
    let mut app = TestApp::start("2024-03-01");
    register_with_phone(&mut app, "H1", "王强", "1975-03-12", "employee", "330100", "2000", 1);
    let child_id = register_with_phone(&mut app, "H2", "王小丽", "2012-06-01", "resident", "330100", "0", 2);
    let h1 = app.insured("H1");
    let tabs = page(&mut app, "/web/persons/H1", &h1).text();
    assert!(tabs.contains("/web/persons/H1/transfer") && !tabs.contains("/web/persons/H1/bindings"), "the tab follows the area's policy");
    assert!(!tabs.contains("/web/persons/H1/network"), "Hangzhou has no family network (330100: transfer model)");
    let typed = format!("relation=child&name=%E7%8E%8B%E5%B0%8F%E4%B8%BD&id_number={child_id}&amount=500.25&commitment=yes");

    let preview = form(&mut app, "/web/persons/H1/transfer", Some(&h1), &typed, &[]);
    assert_eq!(preview.status, 200);
    assert!(preview.text().contains("data-confirm-amount=\"500.25\"") && preview.text().contains("获取验证码"));
    assert_eq!(app.balances("H1").1, "2000.00", "nothing moves before the code");

    let asked = form(&mut app, "/web/persons/H1/transfer", Some(&h1), &format!("{typed}&confirmed=yes"), &[]);
    assert_eq!(asked.status, 200, "{}", asked.text());
    let text = asked.text();
    assert!(text.contains("139****0001"), "the code went to the registered phone: {text}");
    let request_id: i64 = hidden_value(&text, "request_id").parse().unwrap();
    let record = app.engine.relative_transfer(request_id).unwrap().unwrap();
    let code = app.engine.notification(record.request.notification_id.unwrap()).unwrap().unwrap().notification.secret.unwrap();
    assert!(!text.contains(&code), "the code is never on a page (TR3)");

    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    let refused = form(&mut app, "/web/persons/H1/transfer/confirm", Some(&h1), &format!("request_id={request_id}&amount=500.25&code={wrong}"), &[]);
    assert_eq!(refused.status, 422);
    assert!(refused.text().contains("data-code=\"transfer.code_invalid\"") && refused.text().contains("验证码不对"));
    assert_eq!(app.balances("H1").1, "2000.00");

    let done = form(&mut app, "/web/persons/H1/transfer/confirm", Some(&h1), &format!("request_id={request_id}&amount=500.25&code={code}"), &[]);
    assert_eq!((done.status, done.header("location")), (303, Some("/web/persons/H1?ok=transferred")));
    assert_eq!(app.balances("H1").1, "1499.75");
    assert_eq!(app.balances("H2").1, "500.25");

    // A wrong name is refused by the engine (TR2) and the form keeps what was typed.
    let mismatch = form(
        &mut app,
        "/web/persons/H1/transfer",
        Some(&h1),
        &format!("relation=child&name=X&id_number={child_id}&amount=1&commitment=yes&confirmed=yes"),
        &[],
    );
    assert_eq!(mismatch.status, 422);
    assert!(mismatch.text().contains("transfer.identity_mismatch") && mismatch.text().contains(&format!("value=\"{child_id}\"")));
}

#[test]
fn s1_the_bindings_page_binds_and_unbinds_through_the_api() {
    let mut app = TestApp::start("2024-03-01");
    register_with_phone(&mut app, "S1", "张伟", "1980-01-01", "employee", "440300", "5000", 1);
    register_with_phone(&mut app, "S2", "刘洋", "1982-02-02", "employee", "440300", "100", 2);
    let s1 = app.insured("S1");
    let s2 = app.insured("S2");
    let bound = form(&mut app, "/web/persons/S1/bindings/bind", Some(&s1), "relative=S2&relation=spouse", &[]);
    assert_eq!((bound.status, bound.header("location")), (303, Some("/web/persons/S1/bindings?ok=bound")));
    let listed = page(&mut app, "/web/persons/S2/bindings", &s2);
    assert_eq!(listed.status, 200);
    assert!(listed.text().contains("data-binding=") && listed.text().contains("4200.00"), "{}", listed.text());
    let again = form(&mut app, "/web/persons/S1/bindings/bind", Some(&s1), "relative=S2&relation=spouse", &[]);
    assert!(again.status >= 400 && again.text().contains("class=\"refusal\"") && again.text().contains("value=\"S2\""));
    // Either side unbinds, after a confirmation.
    let asked = form(&mut app, "/web/persons/S2/bindings/unbind", Some(&s2), "other=S1", &[]);
    assert!(asked.status == 200 && asked.text().contains("确认解除"));
    let done = form(&mut app, "/web/persons/S2/bindings/unbind", Some(&s2), "other=S1&confirmed=yes", &[]);
    assert_eq!(done.status, 303);
    assert!(!page(&mut app, "/web/persons/S1/bindings", &s1).text().contains("data-binding="));
}
