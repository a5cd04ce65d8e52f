//! Issue 12, item 6 ("text fields"), over HTTP: every free-text field and identifier goes
//! through the one rule of `gongji_core::text`. Names with NUL, a line feed or a right-to-left
//! override, bill ids with a line feed, bad item texts and bad HIS fields are refused with
//! `input.invalid` (400) and the rule, the answer never echoes the bad text, and nothing is
//! written. Good Chinese names, minority names with the middle dot included, are welcome.

mod common;

use common::TestApp;
use gongji_core::IdNumber;
use gongji_server::auth::{self, Role, TokenSpec};
use gongji_server::client::HttpResponse;
use serde_json::{json, Value};

const BAD_NAMES: [&str; 6] = ["张\u{0}三", "李\n四", "\u{202E}王五", "王\u{200B}五", "王\u{2028}五", "\u{3164}"];

fn register_body(psn_no: &str, name: &str, sequence: u16) -> Value {
    let id = IdNumber::compose("330200", common::day("1980-01-01"), sequence).unwrap();
    json!({"psn_no": psn_no, "name": name, "id_number": id.as_str(), "area": "330200", "insurance": "employee"})
}

/// A 400 `input.invalid` with `rule`, whose words do not carry `bad`.
fn expect_refused(response: &HttpResponse, rule: &str, bad: &str) {
    let problem = TestApp::expect_problem(response, 400, "input.invalid");
    assert_eq!(problem["rule"], json!(rule), "{problem}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(!bad.chars().filter(|c| !c.is_ascii_alphanumeric()).any(|c| detail.contains(c)), "the answer echoes {bad:?}: {detail}");
}

#[test]
fn issue12_item6_p1_a_person_with_a_bad_name_is_refused_and_not_written() {
    let mut app = TestApp::start("2024-03-01");
    let admin = app.admin.clone();
    let operator = app.operator("330200");
    let entries = app.audit_entries();
    for (index, name) in BAD_NAMES.into_iter().enumerate() {
        let psn_no = format!("X{index}");
        for token in [&admin, &operator] {
            let response = app.call("POST", "/api/v1/persons", token, Some(register_body(&psn_no, name, 100 + index as u16)));
            expect_refused(&response, "P1", name);
        }
        let lookup = app.call("GET", &format!("/api/v1/persons/{psn_no}"), &admin, None);
        TestApp::expect_problem(&lookup, 404, "person.not_found");
    }
    assert_eq!(app.audit_entries(), entries);
    for (index, name) in ["欧阳娜娜", "阿依古丽·买买提", "\u{20BB7}野"].into_iter().enumerate() {
        let psn_no = format!("G{index}");
        let response = app.call("POST", "/api/v1/persons", &operator, Some(register_body(&psn_no, name, 200 + index as u16)));
        assert_eq!(response.status, 201, "{name}: {}", response.text());
        assert_eq!(app.engine.person(&psn_no).unwrap().name, name);
    }
}

#[test]
fn issue12_item6_st6_a_bill_with_a_bad_id_or_item_is_refused_and_not_settled() {
    let mut app = TestApp::start("2024-03-01");
    app.register("B1", "乙", "1972-08-15", "employee", "330200", "150");
    let hospital = app.institution("H0001");
    let entries = app.audit_entries();
    let split = json!({"fund_pay": "80", "self_borne": "20"});
    for (bill, rule, bad) in [
        (json!({"bill_id": "b\n1", "patient": "B1", "visit": "outpatient", "split": split}), "ST6", "b\n1"),
        (json!({"bill_id": "b\u{202E}1", "patient": "B1", "visit": "outpatient", "split": split}), "ST6", "\u{202E}"),
        (json!({"bill_id": "b 1", "patient": "B1", "visit": "outpatient", "split": split}), "ST6", ""),
        (json!({"bill_id": "b1", "patient": "B1\n", "visit": "outpatient", "split": split}), "§9", "\n"),
        (json!({"bill_id": "b1", "patient": "B1", "visit": "outpatient", "items": [{"code": "x\r", "amount": "10", "class": "A"}]}), "§9", "\r"),
        (
            json!({"bill_id": "b1", "patient": "B1", "visit": "outpatient", "items": [{"code": "x", "name": "阿莫西林\u{0}", "amount": "10", "class": "A"}]}),
            "§9",
            "\u{0}",
        ),
    ] {
        for route in ["/api/v1/institutions/H0001/bills", "/api/v1/institutions/H0001/presettlements"] {
            let response = app.call("POST", route, &hospital, Some(bill.clone()));
            expect_refused(&response, rule, bad);
        }
    }
    assert_eq!(app.audit_entries(), entries, "nothing was settled");
    assert_eq!(app.balances("B1"), ("0.00".into(), "150.00".into(), "0.00".into()));
    let response = app.call("GET", "/api/v1/institutions/H0001/bills/b%0A1", &hospital, None);
    let problem = TestApp::expect_problem(&response, 404, "settlement.not_found");
    assert!(problem["detail"].as_str().unwrap().contains("\\n"), "a looked-up id is shown escaped: {problem}");
    let good = json!({"bill_id": "b-1", "patient": "B1", "visit": "outpatient", "items": [{"code": "XJ01CRA075", "name": "阿莫西林胶囊 0.25g*24粒", "amount": "10", "class": "A"}]});
    assert_eq!(app.call("POST", "/api/v1/institutions/H0001/bills", &hospital, Some(good)).status, 200);
}

#[test]
fn issue12_item6_s16_his_fields_are_refused_in_the_platforms_envelope() {
    let mut app = TestApp::start("2024-03-01");
    app.register("B1", "乙", "1972-08-15", "employee", "330200", "150");
    let hospital = app.institution("H0001");
    let entries = app.audit_entries();
    let envelope = |infno: &str, code: &str, data: Value| json!({"infno": infno, "msgid": "m1", "fixmedins_code": code, "input": {"data": data}});
    let b1 = app.engine.person("B1").unwrap().id_number;
    for (request, field) in [
        (envelope("2207", "H0001", json!({"psn_no": "B1", "mdtrt_id": "MD\n1", "medfee_sumamt": "10"})), "mdtrt_id"),
        (envelope("2206", "H0001", json!({"psn_no": "B1", "mdtrt_id": "MD1", "chrg_bchno": "1\u{202E}", "medfee_sumamt": "10"})), "chrg_bchno"),
        (envelope("2207", "H0001", json!({"psn_no": "B1\u{0}", "mdtrt_id": "MD1", "medfee_sumamt": "10"})), "psn_no"),
        (envelope("2207", "H0001\n", json!({"psn_no": "B1", "mdtrt_id": "MD1", "medfee_sumamt": "10"})), "fixmedins_code"),
        (
            envelope(
                "2207",
                "H0001",
                json!({"psn_no": "B1", "mdtrt_id": "MD1", "feedetail": [{"med_list_codg": "X1", "medins_list_name": "药\u{2066}", "det_item_fee_sumamt": "10", "chrgitm_lv": "01"}]}),
            ),
            "item 1 name",
        ),
        (envelope("1101", "H0001", json!({"mdtrt_cert_type": "02", "mdtrt_cert_no": b1.as_str(), "psn_name": "乙\u{202E}"})), "psn_name"),
    ] {
        let response = app.call("POST", gongji_server::routes::fsi::FSI_PATH, &hospital, Some(request));
        assert_eq!(response.status, 400, "{field}: {}", response.text());
        let answer = response.json();
        assert_eq!((answer["infcode"].clone(), answer["gongji_code"].clone()), (json!(-1), json!("input.invalid")), "{answer}");
        let message = answer["err_msg"].as_str().unwrap();
        assert!(message.contains(field), "{field}: {message}");
        assert!(!message.contains(['\n', '\u{0}', '\u{202E}', '\u{2066}']), "{message:?}");
    }
    assert_eq!(app.audit_entries(), entries);
}

#[test]
fn issue12_item6_tr2_x1_family_names_and_relations_are_text() {
    let mut app = TestApp::start("2024-03-01");
    app.register("A1", "甲", "1970-05-01", "employee", "330200", "2000");
    let a1 = app.insured("A1");
    let id = IdNumber::compose("330200", common::day("1972-08-15"), 77).unwrap();
    let transfer = |name: &str, relation: &str| json!({"commitment_accepted": true, "relation": relation, "beneficiary_name": name, "beneficiary_id_number": id.as_str(), "amount": "1"});
    let entries = app.audit_entries();
    for (body, rule, bad) in [
        (transfer("\u{202E}乙", "spouse"), "TR2", "\u{202E}"),
        (transfer("乙\u{FEFF}", "spouse"), "TR2", "\u{FEFF}"),
        (transfer("乙", "spo\nuse"), "TR1", "\n"),
    ] {
        let response = app.call("POST", "/api/v1/persons/A1/relative-transfers", &a1, Some(body));
        expect_refused(&response, rule, bad);
    }
    let quota = json!({"relative_name": "乙\u{200F}", "relative_id_number": id.as_str(), "relation": "spouse", "amount": "1"});
    expect_refused(&app.call("POST", "/api/v1/persons/A1/quotas", &a1, Some(quota)), "X1", "\u{200F}");
    let bind = json!({"relative": "B1\n", "relation": "spouse"});
    expect_refused(&app.call("POST", "/api/v1/persons/A1/bindings", &a1, Some(bind)), "S1", "\n");
    let member = json!({"member": "B1", "relation": "spouse\u{0}"});
    expect_refused(&app.call("POST", "/api/v1/networks/A1/members", &a1, Some(member)), "N3", "\u{0}");
    assert_eq!(app.audit_entries(), entries);
}

#[test]
fn issue12_item6_s12_token_names_and_scopes_are_text() {
    let app = TestApp::start("2024-03-01");
    let store = app.engine.store();
    let spec = |institution: &str, name: &str| TokenSpec {
        role: Role::Institution,
        area: None,
        institution: Some(institution.into()),
        person: None,
        name: name.into(),
    };
    for (institution, name) in [("H0001", "前台\u{202E}"), ("H0001", "desk\n2"), ("H0001\n", "desk"), ("H 0001", "desk")] {
        let err = auth::issue(store, &spec(institution, name)).unwrap_err();
        assert_eq!((err.code, err.rule), ("input.invalid", "§12"), "{institution:?} {name:?}");
    }
    assert!(auth::issue(store, &spec("H0001", "收费处 1")).is_ok());
    assert_eq!(auth::list(store).unwrap().len(), 2, "the admin's and the good one");
}
