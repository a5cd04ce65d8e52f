//! The hospital (HIS) dialect (§16) for one outpatient visit of a family member: 1101 person
//! info, 2206 pre-settlement (ST5), 2207 settlement paid from the promoter's MUT (ST2,
//! `acct_mulaid_pay`), a repeat (ST6), and 2208 cancel (ST8); all in the platform's envelope.

mod common;

use common::TestApp;
use gongji_server::demo;
use serde_json::{json, Value};

const PATH: &str = "/fsi/api/rsfComIfsService/callService";

fn envelope(infno: &str, fixmedins_code: &str, data: Value) -> Value {
    json!({
        "infno": infno, "msgid": format!("H000120240301{infno}0001"), "mdtrtarea_admvs": "330200", "insuplc_admdvs": "330200",
        "recer_sys_code": "HIS", "dev_no": "", "cainfo": "", "signtype": "", "infver": "V1.0", "opter_type": "1", "opter": "001",
        "opter_name": "收费员", "inf_time": "2024-03-01 09:00:00", "fixmedins_code": fixmedins_code, "fixmedins_name": "测试医院", "sign_no": "",
        "input": {"data": data}
    })
}

fn ok(response: &gongji_server::client::HttpResponse) -> Value {
    assert_eq!(response.status, 200, "{}", response.text());
    let answer = response.json();
    assert_eq!(answer["infcode"], json!(0), "{answer}");
    assert!(answer["inf_refmsgid"].as_str().unwrap().starts_with("H0001"));
    answer["output"].clone()
}

#[test]
fn s16_his_outpatient_visit_1101_2206_2207_2208() {
    let mut app = TestApp::start("2024-03-01");
    assert_eq!(demo::prepare(&app.engine).unwrap(), demo::Prepared::Loaded);
    let hospital = app.institution(demo::DEMO_INSTITUTION);
    let c1 = app.engine.person("C1").unwrap();

    // 1101: who is this, and how much is in their own accounts.
    let info = ok(&app.call(
        "POST",
        PATH,
        &hospital,
        Some(envelope("1101", "H0001", json!({"mdtrt_cert_type": "02", "mdtrt_cert_no": c1.id_number.as_str(), "psn_name": "丙"}))),
    ));
    assert_eq!(info["baseinfo"]["psn_no"], "C1");
    assert_eq!(info["baseinfo"]["certno"], json!(c1.id_number.masked()), "the ID number comes back masked (§12)");
    assert_eq!(info["baseinfo"]["brdy"], "1998-11-30");
    assert_eq!(info["insuinfo"][0]["balc"], "0.00", "C1 has no money of their own");
    assert_eq!(info["insuinfo"][0]["insutype"], "310");
    let a1 = app.engine.person("A1").unwrap();
    let info = ok(&app.call("POST", PATH, &hospital, Some(envelope("1101", "H0001", json!({"psn_cert_type": "01", "certno": a1.id_number.as_str()})))));
    assert_eq!(info["insuinfo"][0]["balc"], "2000.00", "A1: HIS 1000 + own MUT 1000");

    // 2206 then 2207: 1500 in scope; deductible 1000, 60% of the 500 above it is 300 from the
    // fund (330200 outpatient, ST1); C1's burden 1200 is paid by A1's MUT (1000), the rest cash.
    let visit = json!({"psn_no": "C1", "mdtrt_cert_type": "02", "mdtrt_cert_no": c1.id_number.as_str(), "med_type": "11", "medfee_sumamt": 1500.00,
        "psn_setlway": "01", "mdtrt_id": "MD20240301001", "chrg_bchno": "1", "insutype": "310", "acct_used_flag": "1", "invono": "",
        "fulamt_ownpay_amt": "", "overlmt_selfpay": "", "preselfpay_amt": "", "inscp_scp_amt": ""});
    let pre = ok(&app.call("POST", PATH, &hospital, Some(envelope("2206", "H0001", visit.clone()))));
    assert_eq!(app.balances("A1").2, "1000.00", "2206 commits nothing (ST5)");
    let settled = ok(&app.call("POST", PATH, &hospital, Some(envelope("2207", "H0001", visit.clone()))));
    let setl = &settled["setlinfo"];
    for (field, expected) in [
        ("setl_id", "MD20240301001-1"),
        ("mdtrt_id", "MD20240301001"),
        ("psn_no", "C1"),
        ("medfee_sumamt", "1500.00"),
        ("fund_pay_sumamt", "300.00"),
        ("hifp_pay", "300.00"),
        ("psn_part_amt", "1200.00"),
        ("acct_pay", "1000.00"),
        ("acct_mulaid_pay", "1000.00"),
        ("psn_cash_pay", "200.00"),
        ("inscp_scp_amt", "1500.00"),
        ("balc", "0.00"),
    ] {
        assert_eq!(setl[field], json!(expected), "setlinfo.{field}: {setl}");
        if field != "setl_id" && field != "balc" {
            assert_eq!(pre["setlinfo"][field], setl[field], "2206 says what 2207 does: {field}");
        }
    }
    assert_eq!(app.balances("A1").2, "0.00");
    let repeat = ok(&app.call("POST", PATH, &hospital, Some(envelope("2207", "H0001", visit.clone()))));
    assert_eq!(repeat["setlinfo"]["acct_mulaid_pay"], "1000.00", "a retry answers the first result (ST6)");
    assert_eq!(app.balances("A1").2, "0.00");

    // Another hospital cannot cancel it (§12); the wrong patient is refused; the right one cancels.
    let other = app.institution("H0002");
    let cancel = json!({"setl_id": "MD20240301001-1", "mdtrt_id": "MD20240301001", "psn_no": "C1"});
    let response = app.call("POST", PATH, &other, Some(envelope("2208", "H0001", cancel.clone())));
    assert_eq!(response.status, 403);
    assert_eq!(response.json()["gongji_code"], "auth.forbidden");
    let response = app.call("POST", PATH, &other, Some(envelope("2208", "H0002", cancel.clone())));
    assert_eq!(response.json()["gongji_code"], "settlement.not_found");
    let response =
        app.call("POST", PATH, &hospital, Some(envelope("2208", "H0001", json!({"setl_id": "MD20240301001-1", "mdtrt_id": "MD20240301001", "psn_no": "B1"}))));
    assert_eq!(response.json()["infcode"], json!(-1));
    assert_eq!(app.balances("A1").2, "0.00");
    let cancelled = ok(&app.call("POST", PATH, &hospital, Some(envelope("2208", "H0001", cancel))));
    assert_eq!(cancelled["setlinfo"]["acct_mulaid_pay"], "-1000.00");
    assert_eq!(cancelled["setlinfo"]["psn_cash_pay"], "-200.00");
    assert_eq!(cancelled["setlinfo"]["fund_pay_sumamt"], "-300.00");
    assert_eq!(app.balances("A1").2, "1000.00", "the cancel returns A1's MUT money (ST8)");
    app.audit_entries();
}

#[test]
fn s16_his_refusals_stay_in_the_envelope() {
    let mut app = TestApp::start("2024-03-01");
    assert_eq!(demo::prepare(&app.engine).unwrap(), demo::Prepared::Loaded);
    let hospital = app.institution("H0001");
    let entries = app.audit_entries();
    // 先行自付 without fee details cannot be split by the area's policy: refused, nothing written.
    let visit = json!({"psn_no": "B1", "mdtrt_id": "MD2", "medfee_sumamt": "100", "preselfpay_amt": "10", "inscp_scp_amt": "90"});
    let response = app.call("POST", PATH, &hospital, Some(envelope("2207", "H0001", visit)));
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["gongji_code"], "settlement.invalid_bill");
    // With fee details gongji applies its own class-B ratio (10% in 330200).
    let visit = json!({"psn_no": "B1", "mdtrt_id": "MD3", "medfee_sumamt": "100", "feedetail": [
        {"feedetl_sn": "1", "med_list_codg": "X1", "det_item_fee_sumamt": "60", "chrgitm_lv": "01"},
        {"feedetl_sn": "2", "med_list_codg": "X2", "det_item_fee_sumamt": 30, "chrgitm_lv": "02"},
        {"feedetl_sn": "3", "med_list_codg": "X3", "det_item_fee_sumamt": "10.00", "chrgitm_lv": "03"}]});
    let output = ok(&app.call("POST", PATH, &hospital, Some(envelope("2206", "H0001", visit))));
    assert_eq!(output["setlinfo"]["preselfpay_amt"], "3.00");
    assert_eq!(output["setlinfo"]["fulamt_ownpay_amt"], "10.00");
    assert_eq!(output["setlinfo"]["inscp_scp_amt"], "87.00");
    for (infno, data, code) in [
        ("2207", json!({"psn_no": "B1", "mdtrt_id": "MD4", "medfee_sumamt": "1.005"}), "money.invalid_amount"),
        ("2207", json!({"psn_no": "B1", "mdtrt_id": "MD4", "medfee_sumamt": "1e2"}), "money.invalid_amount"),
        ("2207", json!({"psn_no": "B1", "mdtrt_id": "MD4", "medfee_sumamt": "100", "acct_used_flag": "0"}), "input.invalid"),
        ("2207", json!({"psn_no": "NOBODY", "mdtrt_id": "MD4", "medfee_sumamt": "100"}), "person.not_found"),
        ("9999", json!({}), "input.invalid"),
    ] {
        let response = app.call("POST", PATH, &hospital, Some(envelope(infno, "H0001", data)));
        let answer = response.json();
        assert_eq!(answer["infcode"], json!(-1), "{answer}");
        assert_eq!(answer["gongji_code"], json!(code), "{answer}");
        assert!(answer["err_msg"].as_str().unwrap().starts_with(code));
        assert!(response.status < 500);
    }
    let insured = app.insured("B1");
    let response = app.call("POST", PATH, &insured, Some(envelope("1101", "H0001", json!({}))));
    assert_eq!(response.status, 403);
    let response = app.client.json("POST", PATH, None, Some(&envelope("1101", "H0001", json!({})))).unwrap();
    assert_eq!(response.status, 401);
    assert_eq!(response.json()["infcode"], json!(-1));
    let authorization = format!("Bearer {hospital}");
    let response = app.client.send("POST", PATH, &[("Content-Type", "application/json"), ("Authorization", &authorization)], b"{\"infno\": 2207,").unwrap();
    assert_eq!(response.status, 400);
    assert_eq!(response.json()["gongji_code"], "input.invalid");
    assert_eq!(app.audit_entries(), entries);
}

/// ST6, ST8 (issue 12): a HIS sends 2207, 2208, 2207 for the same `mdtrt_id` with `chrg_bchno`
/// "0". The third call answered success with the old payments (`acct_pay` 1000.00,
/// `acct_mulaid_pay` 1000.00) and charged nobody. Now it is a new settlement with its own
/// `setl_id` that charges A1's MUT anew; a 2208 of the old `setl_id` leaves it standing, one of
/// the new `setl_id` cancels it.
#[test]
fn st6_his_settle_cancel_settle_charges_anew_with_a_new_setl_id() {
    let mut app = TestApp::start("2024-03-01");
    assert_eq!(demo::prepare(&app.engine).unwrap(), demo::Prepared::Loaded);
    let hospital = app.institution(demo::DEMO_INSTITUTION);
    let visit = json!({"psn_no": "C1", "mdtrt_id": "MD9", "chrg_bchno": "0", "medfee_sumamt": 1500.00, "acct_used_flag": "1"});
    let first = ok(&app.call("POST", PATH, &hospital, Some(envelope("2207", "H0001", visit.clone()))));
    assert_eq!(first["setlinfo"]["setl_id"], "MD9");
    assert_eq!(app.balances("A1").2, "0.00");
    let cancel = |setl_id: &str| json!({"setl_id": setl_id, "mdtrt_id": "MD9", "psn_no": "C1"});
    ok(&app.call("POST", PATH, &hospital, Some(envelope("2208", "H0001", cancel("MD9")))));
    assert_eq!(app.balances("A1").2, "1000.00");

    let again = ok(&app.call("POST", PATH, &hospital, Some(envelope("2207", "H0001", visit.clone()))));
    assert_eq!(again["setlinfo"]["setl_id"], "MD9#2", "a new settlement id");
    assert_eq!(again["setlinfo"]["acct_mulaid_pay"], "1000.00");
    assert_eq!(app.balances("A1").2, "0.00", "the answered mutual-aid payment is posted: A1's MUT is charged anew");
    let retry = ok(&app.call("POST", PATH, &hospital, Some(envelope("2207", "H0001", visit.clone()))));
    assert_eq!(retry["setlinfo"]["setl_id"], "MD9#2", "a retry replays the new settlement");
    assert_eq!(app.balances("A1").2, "0.00");

    let old = ok(&app.call("POST", PATH, &hospital, Some(envelope("2208", "H0001", cancel("MD9")))));
    assert_eq!(old["setlinfo"]["setl_id"], "MD9");
    assert_eq!(app.balances("A1").2, "0.00", "a 2208 of the old settlement does not touch the new one");
    let new = ok(&app.call("POST", PATH, &hospital, Some(envelope("2208", "H0001", cancel("MD9#2")))));
    assert_eq!(new["setlinfo"]["acct_mulaid_pay"], "-1000.00");
    assert_eq!(app.balances("A1").2, "1000.00");
    app.audit_entries();
}

/// ST10 (issue 12): an absurd bill through the hospital dialect is refused in the envelope with
/// `settlement.amount_limit`, and nothing is written.
#[test]
fn st10_his_absurd_bill_is_refused() {
    let mut app = TestApp::start("2024-03-01");
    assert_eq!(demo::prepare(&app.engine).unwrap(), demo::Prepared::Loaded);
    let hospital = app.institution(demo::DEMO_INSTITUTION);
    let entries = app.audit_entries();
    let visit = json!({"psn_no": "B1", "mdtrt_id": "MDX", "medfee_sumamt": 9999999999999.99, "acct_used_flag": "1"});
    let response = app.call("POST", PATH, &hospital, Some(envelope("2207", "H0001", visit)));
    assert_eq!(response.status, 200);
    let answer = response.json();
    assert_eq!(answer["infcode"], json!(-1), "{answer}");
    assert_eq!(answer["gongji_code"], "settlement.amount_limit", "{answer}");
    assert_eq!(app.audit_entries(), entries, "nothing written");
}
