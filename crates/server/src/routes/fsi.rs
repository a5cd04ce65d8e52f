//! The hospital dialect (FSI, §16): the national medical-insurance platform's envelope on its
//! usual path, `/fsi/api/rsfComIfsService/callService` (the platform's FSI service), so that a
//! hospital system changes only the host. Served: `1101` person info
//! (with `balc`), `2206` pre-settlement, `2207` settlement, `2208` cancel.
//!
//! Every field is mapped to gongji's model in this one module; each mapping choice is
//! commented where it is made. Field names follow open-source hospital-system integrations of the
//! published interface (C#, Java and SQL clients of 1101/2206/2207/2208: `setlinfo` with
//! `setl_id`, `mdtrt_id`, `psn_no`, `medfee_sumamt`, `fund_pay_sumamt`, `hifp_pay`,
//! `psn_part_amt`, `acct_pay`, `acct_mulaid_pay`, `psn_cash_pay`, `hosp_part_amt`, `balc`;
//! inputs `medfee_sumamt`, `acct_used_flag`, `fulamt_ownpay_amt`, `overlmt_selfpay`,
//! `preselfpay_amt`, `inscp_scp_amt`, `chrg_bchno`, `med_type`; 2204 fee details with
//! `det_item_fee_sumamt` and `chrgitm_lv`).
//!
//! Authentication is the same bearer token as the JSON API (an institution token, or an admin
//! one); the platform's own signature headers are not used. `fixmedins_code` must be the
//! token's institution (§12). Answers are always the platform's envelope
//! `{"infcode": 0 | -1, "err_msg", "output"}`: a refusal by a business rule is HTTP 200 with
//! `infcode: -1` (as the platform answers), while authentication failures and malformed
//! requests keep their HTTP status (401, 403, 400, 413) so that proxies and logs see them.

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{Local, NaiveDate};
use gongji_core::settlement::{Bill, BillContent, BillItem, ItemClass};
use gongji_core::{text, AccountRef, ErrorCode, IdNumber, InsuranceType, Money, PersonAccount, PersonStatus, VisitType};
use gongji_engine::settlement::SettlementOutcome;
use gongji_engine::Engine;
use gongji_store::Store;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use utoipa::{OpenApi, ToSchema};

use super::table::RouteTable;
use crate::auth::{Caller, Credentials, Role};
use crate::extract::{parse_json, read_body};
use crate::problem::ApiError;
use crate::settle_queue::SettleQueue;
use crate::state::AppState;

pub const FSI_PATH: &str = "/fsi/api/rsfComIfsService/callService";

pub fn routes<S: Store + 'static>() -> RouteTable<S> {
    RouteTable::new().add(Method::POST, FSI_PATH, call_service::<S>)
}

/// This module's part of the OpenAPI document ([`crate::openapi`]).
#[derive(OpenApi)]
#[openapi(paths(call_service), components(schemas(FsiAnswer)), tags((name = "fsi", description = "The hospital dialect (FSI) of the national platform (§16)")))]
pub struct FsiApi;

/// The platform's request envelope. Fields gongji does not use (`recer_sys_code`, `dev_no`,
/// `cainfo`, `signtype`, `infver`, `sign_no`, …) are accepted and ignored: the national
/// interface adds fields between versions and hospital systems send them all.
#[derive(Debug, Deserialize, ToSchema)]
pub struct FsiEnvelope {
    /// `1101`, `2206`, `2207` or `2208`.
    pub infno: String,
    pub msgid: Option<String>,
    pub mdtrtarea_admvs: Option<String>,
    pub insuplc_admdvs: Option<String>,
    pub opter_type: Option<String>,
    /// The designated institution's code: gongji's institution code of the bill.
    pub fixmedins_code: Option<String>,
    /// `{"data": {…}}`, per `infno`.
    #[schema(value_type = Object)]
    pub input: Option<Box<RawValue>>,
}

/// The platform's answer envelope. `gongji_code` and `gongji_rule` carry the stable SPEC §14
/// code and rule of a refusal beside the platform's `err_msg`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FsiAnswer {
    /// `0` success, `-1` failure.
    pub infcode: i32,
    pub err_msg: Option<String>,
    pub gongji_code: Option<String>,
    pub gongji_rule: Option<String>,
    /// The request's `msgid`.
    pub inf_refmsgid: Option<String>,
    /// `YYYY-MM-DD HH:MM:SS`, local time.
    pub respond_time: String,
    #[schema(value_type = Object)]
    pub output: Value,
}

/// One endpoint for every `infno`, answering in the platform's envelope.
#[utoipa::path(post, path = "/fsi/api/rsfComIfsService/callService", tag = "fsi", request_body = FsiEnvelope,
    responses((status = 200, body = FsiAnswer, description = "infcode 0, or -1 with err_msg for a refusal"),
              (status = 400, body = FsiAnswer), (status = 401, body = FsiAnswer), (status = 403, body = FsiAnswer)),
    security(("bearer" = [])))]
pub async fn call_service<S: Store + 'static>(State(state): State<AppState<S>>, credentials: Credentials, request: Request) -> Response {
    let bytes = match read_body(request, &()).await {
        Ok(bytes) => bytes,
        Err(err) => return refusal(err, None),
    };
    let envelope: FsiEnvelope = match parse_json(&bytes) {
        Ok(envelope) => envelope,
        Err(err) => return refusal(err, None),
    };
    let msgid = envelope.msgid.clone();
    let queue = state.settle_queue.clone();
    let outcome = state.call(credentials, move |engine, caller, today| dispatch(engine, &queue, caller, today, &envelope)).await;
    match outcome {
        Ok(output) => (StatusCode::OK, Json(answer(0, None, msgid, output))).into_response(),
        Err(err) => refusal(err, msgid),
    }
}

fn answer(infcode: i32, err: Option<&ApiError>, msgid: Option<String>, output: Value) -> FsiAnswer {
    FsiAnswer {
        infcode,
        err_msg: err.map(|e| if e.rule.is_empty() { format!("{}: {}", e.code, e.detail) } else { format!("{} ({}): {}", e.code, e.rule, e.detail) }),
        gongji_code: err.map(|e| e.code.to_string()),
        gongji_rule: err.map(|e| e.rule.to_string()),
        inf_refmsgid: msgid,
        respond_time: Local::now().format("%Y-%m-%d %H:%M:%S").to_string(),
        output,
    }
}

/// A refusal in the envelope: business rules answer HTTP 200 with `infcode -1` (the
/// platform's way); authentication, authorisation, malformed input and internal errors keep
/// their HTTP status.
fn refusal(err: ApiError, msgid: Option<String>) -> Response {
    err.log();
    let keeps_status = err.status.is_server_error()
        || matches!(err.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::PAYLOAD_TOO_LARGE | StatusCode::SERVICE_UNAVAILABLE)
        || err.code == ErrorCode::InputInvalid.as_str();
    let status = if keeps_status { err.status } else { StatusCode::OK };
    let shown = if err.status.is_server_error() { ApiError::new(err.status, err.code, "", err.problem().detail) } else { err };
    (status, Json(answer(-1, Some(&shown), msgid, json!({})))).into_response()
}

fn dispatch<S: Store>(engine: &Engine<S>, queue: &SettleQueue, caller: &Caller, today: NaiveDate, envelope: &FsiEnvelope) -> Result<Value, ApiError> {
    let institution = envelope.fixmedins_code.as_deref().filter(|c| !c.trim().is_empty()).ok_or_else(|| ApiError::input("fixmedins_code is required"))?;
    // Mapping: fixmedins_code is gongji's institution code, an identifier (§9; issue 12).
    text::check_identifier("fixmedins_code", "§16", institution, text::IDENTIFIER_LEN_MAX)?;
    match caller.role() {
        Role::Institution | Role::Admin => caller.may_bill_for(institution)?,
        // The words of this answer are older than the name FSI; answers keep their words.
        Role::Insured | Role::Operator => return Err(ApiError::forbidden("§12", "the HIS interface is for designated institutions")),
    }
    // Logged only now that the caller is authenticated and may bill for the institution, and
    // escaped (`?`): both fields are the client's text (issue 12 item 5).
    tracing::info!(infno = ?envelope.infno, fixmedins_code = ?institution, "fsi call");
    let input = envelope.input.as_deref().ok_or_else(|| ApiError::input("input is required"))?;
    match envelope.infno.as_str() {
        "1101" => person_info(engine, today, data(input)?),
        "2206" => settle(engine, None, caller, today, institution, data(input)?),
        "2207" => settle(engine, Some(queue), caller, today, institution, data(input)?),
        "2208" => cancel(engine, caller, today, institution, data(input)?),
        other => Err(ApiError::input(format!("infno {other:?} is not served here; gongji serves 1101, 2206, 2207 and 2208"))),
    }
}

#[derive(Deserialize)]
struct Input<T> {
    data: T,
}

fn data<T: for<'de> Deserialize<'de>>(input: &RawValue) -> Result<T, ApiError> {
    serde_json::from_str::<Input<T>>(input.get()).map(|i| i.data).map_err(|err| ApiError::input(format!("input.data: {err}")))
}

/// An amount of the platform: a JSON number (`12.5`) or a string (`"12.50"`), read from its
/// raw text so that no floating point touches it (P3). `""` and `null` mean "not given":
/// hospital systems send empty strings for amounts they leave to the platform.
fn amount(raw: Option<&RawValue>, field: &str) -> Result<Option<Money>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    let text = raw.get().trim();
    let text = if text.starts_with('"') {
        serde_json::from_str::<String>(text).map_err(|_| ApiError::input(format!("{field} is not a string or number")))?
    } else if text == "null" {
        return Ok(None);
    } else {
        text.to_string()
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    let money = Money::parse(text.trim()).map_err(|err| ApiError::domain(err.code, err.rule, format!("{field}: {}", err.message)))?;
    if money.is_negative() {
        return Err(ApiError::domain(ErrorCode::MoneyInvalidAmount, "P3", format!("{field} must not be negative")));
    }
    Ok(Some(money))
}

// ---- 1101 person info ----

#[derive(Deserialize)]
struct PersonInfoData {
    /// `02`: resident ID card; `mdtrt_cert_no` is then the ID number.
    mdtrt_cert_type: Option<String>,
    mdtrt_cert_no: Option<String>,
    /// `01`: resident ID card; `certno` is then the ID number.
    psn_cert_type: Option<String>,
    certno: Option<String>,
    psn_name: Option<String>,
}

fn person_info<S: Store>(engine: &Engine<S>, today: NaiveDate, data: PersonInfoData) -> Result<Value, ApiError> {
    // Mapping: gongji identifies a patient by the resident ID number (P1). The electronic
    // medical-insurance certificate (`01`) and the social-security card (`03`) are the
    // platform's own credentials and are not served here.
    let id_text = match (data.mdtrt_cert_type.as_deref(), data.psn_cert_type.as_deref()) {
        (Some("02"), _) => data.mdtrt_cert_no.as_deref(),
        (_, Some("01")) => data.certno.as_deref(),
        _ => None,
    }
    .ok_or_else(|| ApiError::input("identify the patient by resident ID number: mdtrt_cert_type 02 with mdtrt_cert_no, or psn_cert_type 01 with certno"))?;
    let id_number = IdNumber::parse(id_text.trim())?;
    if let Some(name) = &data.psn_name {
        text::check_optional_text("psn_name", "§16", name.trim(), text::NAME_CHARS_MAX)?;
    }
    let person = engine.store().read(|tx| tx.person_by_id_number(id_number.as_str()))?;
    // A name that does not match is answered like an unknown number, so that the interface
    // cannot be used to learn who is registered under a number.
    let person = person
        .filter(|p| data.psn_name.as_deref().is_none_or(|name| name.trim().is_empty() || name.trim() == p.name))
        .ok_or_else(|| ApiError::domain(ErrorCode::PersonNotFound, "", format!("no insured person with ID number {} and this name", id_number.masked())))?;
    let overview = engine.person_overview(&person.psn_no)?;
    Ok(json!({
        "baseinfo": {
            "psn_no": person.psn_no,
            "psn_cert_type": "01",
            // Mapping: the hospital system sent the number; it gets it back masked, never in
            // full (§12).
            "certno": id_number.masked(),
            // Mapping: the registered name, which the hospital system prints on the settlement
            // slip.
            "psn_name": person.name,
            "gend": match id_number.sex() { gongji_core::id_number::Sex::Male => "1", gongji_core::id_number::Sex::Female => "2" },
            "brdy": id_number.birth_date().to_string(),
            "age": id_number.age_on(today),
        },
        "insuinfo": [{
            // Mapping: balc is all of the patient's own account money: CUR + HIS + own MUT.
            // The MUT money of other network members is not the patient's and is not counted;
            // it shows only as acct_mulaid_pay when a settlement uses it.
            "balc": overview.cur.plus(overview.his).plus(overview.mutual).to_string(),
            "insutype": insutype(person.insurance),
            "psn_insu_stas": insured_status(person.status),
            "insuplc_admdvs": person.area.as_str(),
        }],
        "idetinfo": [],
    }))
}

/// Mapping: gongji's insurance types onto the platform's `insutype` codes: employee basic
/// medical insurance 310, urban-rural resident insurance 390, and the `special` group
/// (离休人员 and other 统筹人员) onto 340 (离休人员医疗保障).
fn insutype(insurance: InsuranceType) -> &'static str {
    match insurance {
        InsuranceType::Employee => "310",
        InsuranceType::Resident => "390",
        InsuranceType::Special => "340",
    }
}

/// Mapping: `psn_insu_stas` 1 normal, 2 suspended, 4 ended (cancelled, or pending liquidation).
fn insured_status(status: PersonStatus) -> &'static str {
    match status {
        PersonStatus::Normal => "1",
        PersonStatus::Suspended => "2",
        PersonStatus::Cancelled | PersonStatus::PendingLiquidation => "4",
    }
}

// ---- 2206 pre-settlement, 2207 settlement ----

#[derive(Deserialize)]
struct SettleData {
    psn_no: String,
    mdtrt_id: String,
    chrg_bchno: Option<String>,
    med_type: Option<String>,
    medfee_sumamt: Option<Box<RawValue>>,
    acct_used_flag: Option<String>,
    fulamt_ownpay_amt: Option<Box<RawValue>>,
    overlmt_selfpay: Option<Box<RawValue>>,
    preselfpay_amt: Option<Box<RawValue>>,
    inscp_scp_amt: Option<Box<RawValue>>,
    /// The fee details of interface 2204, sent along when the hospital system has them.
    feedetail: Option<Vec<FeeDetail>>,
}

#[derive(Deserialize)]
struct FeeDetail {
    feedetl_sn: Option<String>,
    med_list_codg: Option<String>,
    medins_list_codg: Option<String>,
    medins_list_name: Option<String>,
    det_item_fee_sumamt: Option<Box<RawValue>>,
    chrgitm_lv: Option<String>,
}

/// Mapping: gongji's bill id is `mdtrt_id`, or `mdtrt_id-chrg_bchno` when the hospital system
/// settles a visit in several charge batches; it is returned as `setl_id` and cancelled by it
/// (2208).
fn bill_id(data: &SettleData) -> String {
    match data.chrg_bchno.as_deref().map(str::trim).filter(|b| !b.is_empty() && *b != "0") {
        Some(charge_batch) => format!("{}-{charge_batch}", data.mdtrt_id.trim()),
        None => data.mdtrt_id.trim().to_string(),
    }
}

/// Mapping: `med_type` onto gongji's visit types: 11 普通门诊, 12 门诊挂号 and 14 门诊慢特病
/// are outpatient; 13 急诊 emergency; 21 普通住院 (and the other 2x) inpatient; 41 定点药店购药
/// pharmacy. 2206/2207 are the outpatient interfaces, so an absent med_type is outpatient.
fn visit(med_type: Option<&str>) -> Result<VisitType, ApiError> {
    match med_type.map(str::trim) {
        None | Some("") | Some("11") | Some("12") | Some("14") => Ok(VisitType::Outpatient),
        Some("13") => Ok(VisitType::Emergency),
        Some(code) if code.len() == 2 && code.starts_with('2') => Ok(VisitType::Inpatient),
        Some("41") => Ok(VisitType::Pharmacy),
        Some(other) => Err(ApiError::input(format!("med_type {other:?} is not mapped; gongji takes 11, 12, 13, 14, 2x and 41"))),
    }
}

fn bill_content(data: &SettleData) -> Result<BillContent, ApiError> {
    let invalid = |why: String| ApiError::domain(ErrorCode::SettlementInvalidBill, "ST1", why);
    let total = amount(data.medfee_sumamt.as_deref(), "medfee_sumamt")?;
    if let Some(details) = data.feedetail.as_ref().filter(|d| !d.is_empty()) {
        // Mapping: with fee details gongji computes the split itself (ST1) from each line's
        // class: chrgitm_lv 01 甲类 → A, 02 乙类 → B (the area's class-B self-pay ratio
        // applies, §4), 03 丙类 → C.
        let mut items = Vec::with_capacity(details.len());
        for (index, detail) in details.iter().enumerate() {
            let class = match detail.chrgitm_lv.as_deref().map(str::trim) {
                Some("01") => ItemClass::A,
                Some("02") => ItemClass::B,
                Some("03") => ItemClass::C,
                other => return Err(ApiError::input(format!("feedetail[{index}].chrgitm_lv is 01, 02 or 03, not {other:?}"))),
            };
            let amount = amount(detail.det_item_fee_sumamt.as_deref(), "det_item_fee_sumamt")?
                .ok_or_else(|| ApiError::input(format!("feedetail[{index}].det_item_fee_sumamt is required")))?;
            let code = [&detail.med_list_codg, &detail.medins_list_codg, &detail.feedetl_sn]
                .into_iter()
                .flatten()
                .next()
                .cloned()
                .unwrap_or_else(|| format!("line-{}", index + 1));
            items.push(BillItem { code, name: detail.medins_list_name.clone().unwrap_or_default(), amount, class });
        }
        let sum: Money = items.iter().map(|i| i.amount).sum();
        if total.is_some_and(|t| t != sum) {
            return Err(invalid(format!("medfee_sumamt {} is not the sum of the fee details {sum}", total.unwrap_or_default())));
        }
        return Ok(BillContent::Items(items));
    }
    // Mapping without fee details: medfee_sumamt = fulamt_ownpay_amt (全自费) +
    // overlmt_selfpay (超限价) + preselfpay_amt (先行自付) + inscp_scp_amt (符合政策范围).
    // The in-scope part is a class-A amount whose fund share gongji computes by the area's
    // policy (ST1: deductible, ratio, cap); 全自费 and 超限价 are out of scope, class C (自费).
    // When inscp_scp_amt is not given it is the rest of the total.
    let total = total.ok_or_else(|| ApiError::input("medfee_sumamt is required"))?;
    let own_pay = amount(data.fulamt_ownpay_amt.as_deref(), "fulamt_ownpay_amt")?.unwrap_or_default();
    let over_limit = amount(data.overlmt_selfpay.as_deref(), "overlmt_selfpay")?.unwrap_or_default();
    let pre_self_pay = amount(data.preselfpay_amt.as_deref(), "preselfpay_amt")?.unwrap_or_default();
    // Mapping: 先行自付 is the platform's class-B self-pay, already computed with the
    // platform's ratios. gongji's policy owns that ratio (§4) and its accounts may treat 自理
    // differently from 自费 (the national preset does), so a bill with 先行自付 must come with
    // its fee details (feedetail with chrgitm_lv) for gongji to split it itself.
    if pre_self_pay.is_positive() {
        return Err(invalid("preselfpay_amt > 0: send the fee details (feedetail with chrgitm_lv) so that the area's class-B ratio applies".into()));
    }
    let out_of_scope = own_pay.plus(over_limit);
    let in_scope = match amount(data.inscp_scp_amt.as_deref(), "inscp_scp_amt")? {
        Some(in_scope) => in_scope,
        None => total.checked_sub(out_of_scope).filter(|m| !m.is_negative()).ok_or_else(|| invalid("the self-paid parts exceed medfee_sumamt".into()))?,
    };
    if in_scope.plus(out_of_scope) != total {
        return Err(invalid(format!("medfee_sumamt {total} is not fulamt_ownpay_amt + overlmt_selfpay + preselfpay_amt + inscp_scp_amt")));
    }
    let mut items = Vec::new();
    for (code, amount, class) in
        [("inscp_scp_amt", in_scope, ItemClass::A), ("fulamt_ownpay_amt", own_pay, ItemClass::C), ("overlmt_selfpay", over_limit, ItemClass::C)]
    {
        if amount.is_positive() {
            items.push(BillItem { code: code.into(), name: String::new(), amount, class });
        }
    }
    Ok(BillContent::Items(items))
}

/// 2206 (`queue` None: pre-settlement, ST5) and 2207 (settled through the group-commit queue).
fn settle<S: Store>(
    engine: &Engine<S>,
    queue: Option<&SettleQueue>,
    caller: &Caller,
    today: NaiveDate,
    institution: &str,
    data: SettleData,
) -> Result<Value, ApiError> {
    let commit = queue.is_some();
    // Mapping: acct_used_flag 0 asks the platform to settle without the personal account.
    // gongji exists to settle against the accounts (ST2), so it refuses rather than answer
    // with a different payment than the hospital system asked for; absent means 1.
    if data.acct_used_flag.as_deref().map(str::trim) == Some("0") {
        return Err(ApiError::input("acct_used_flag 0 (no personal account) is settled by the platform, not by gongji"));
    }
    // Mapping: psn_no is gongji's psn_no; mdtrt_id and chrg_bchno make the bill id, so each is
    // an identifier by the one text rule (issue 12), named by its platform field.
    text::check_psn_no("psn_no", "§16", data.psn_no.trim())?;
    text::check_identifier("mdtrt_id", "§16", data.mdtrt_id.trim(), text::IDENTIFIER_LEN_MAX)?;
    if let Some(charge_batch) = data.chrg_bchno.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
        text::check_identifier("chrg_bchno", "§16", charge_batch, text::IDENTIFIER_LEN_MAX)?;
    }
    let bill = Bill {
        institution: institution.to_string(),
        bill_id: bill_id(&data),
        patient: data.psn_no.trim().to_string(),
        visit: visit(data.med_type.as_deref())?,
        // Mapping: 2206/2207 carry no date; the bill date is the server's business date.
        date: today,
        content: bill_content(&data)?,
    };
    bill.validate()?;
    let ctx = caller.context(today);
    let patient = bill.patient.clone();
    let outcome = match queue {
        Some(queue) => queue.settle(ctx, bill)?,
        None => engine.presettle(&ctx, &bill)?,
    };
    let overview = engine.person_overview(&patient)?;
    let own_now = overview.cur.plus(overview.his).plus(overview.mutual);
    // Mapping: balc is the patient's own account money after this settlement (CUR + HIS +
    // own MUT). A pre-settlement commits nothing, so its balc is today's minus what it would
    // take from the patient's own accounts.
    let balc = if commit { own_now } else { own_now.minus(own_paid(&outcome)) };
    Ok(json!({
        "setlinfo": setlinfo(&outcome, &data.mdtrt_id, insutype(overview.person.insurance), balc, false),
        // Mapping: gongji pays from one pooled fund (ST1); the per-fund breakdown of the
        // platform (setldetail) has no counterpart and is sent empty.
        "setldetail": [],
    }))
}

fn own_paid(outcome: &SettlementOutcome) -> Money {
    outcome.payments.iter().filter(|p| p.account.owner() == Some(outcome.patient.as_str())).map(|p| p.amount).sum()
}

/// Mapping of a settlement onto `setlinfo`:
/// - `medfee_sumamt` = the bill's total; `fund_pay_sumamt` = `hifp_pay` = gongji's pooled-fund
///   payment (ST1);
/// - `psn_part_amt` = the personal burden (自负 + 自理 + 自费) = `acct_pay` + `psn_cash_pay`;
/// - `acct_pay` = everything paid from personal accounts, the family's mutual aid INCLUDED:
///   own CUR + own HIS + own MUT + another member's MUT. Regions differ here; gongji follows
///   the reading in which `acct_pay` is the whole account payment and `acct_mulaid_pay` tells
///   which part of it came from the family, so that `psn_part_amt = acct_pay + psn_cash_pay`
///   always holds;
/// - `acct_mulaid_pay` = the part paid from another network member's MUT account (ST2, at most
///   one per settlement, ST3); the patient's own MUT is the patient's money and is not 共济;
/// - `inscp_scp_amt` = in-scope costs = fund + 自负; `preselfpay_amt` = 自理;
///   `fulamt_ownpay_amt` = 自费 (超限价 included: gongji does not keep it apart, so
///   `overlmt_selfpay` is 0);
/// - `hosp_part_amt` = 0: gongji has no hospital-borne part.
fn setlinfo(outcome: &SettlementOutcome, mdtrt_id: &str, insutype: &str, balc: Money, negate: bool) -> Value {
    let sign = |m: Money| if negate { m.neg() } else { m };
    let accounts: Money = outcome.payments.iter().map(|p| p.amount).sum();
    let mutual_aid: Money = outcome.payments.iter().filter(|p| is_family_mut(&p.account, &outcome.patient)).map(|p| p.amount).sum();
    let split = outcome.split;
    json!({
        "setl_id": outcome.settlement_id,
        "mdtrt_id": mdtrt_id,
        "psn_no": outcome.patient,
        "insutype": insutype,
        "setl_time": Local::now().format("%Y-%m-%d %H:%M:%S").to_string(),
        "medfee_sumamt": sign(split.total()).to_string(),
        "fulamt_ownpay_amt": sign(split.self_funded).to_string(),
        "overlmt_selfpay": Money::ZERO.to_string(),
        "preselfpay_amt": sign(split.first_self_pay).to_string(),
        "inscp_scp_amt": sign(split.fund_pay.plus(split.self_borne)).to_string(),
        "hifp_pay": sign(split.fund_pay).to_string(),
        "fund_pay_sumamt": sign(split.fund_pay).to_string(),
        "psn_part_amt": sign(split.burden()).to_string(),
        "acct_pay": sign(accounts).to_string(),
        "acct_mulaid_pay": sign(mutual_aid).to_string(),
        "psn_cash_pay": sign(outcome.cash).to_string(),
        "hosp_part_amt": Money::ZERO.to_string(),
        "balc": balc.to_string(),
        "medins_setl_id": outcome.settlement_id,
    })
}

fn is_family_mut(account: &AccountRef, patient: &str) -> bool {
    matches!(account, AccountRef::Person { psn_no, kind: PersonAccount::Mut } if psn_no != patient)
}

// ---- 2208 cancel ----

#[derive(Deserialize)]
struct CancelData {
    setl_id: String,
    mdtrt_id: String,
    psn_no: String,
}

fn cancel<S: Store>(engine: &Engine<S>, caller: &Caller, today: NaiveDate, institution: &str, data: CancelData) -> Result<Value, ApiError> {
    // Mapping: setl_id names one settlement of the bill (ST6: `<mdtrt_id>` for the first,
    // `<mdtrt_id>#<n>` for a bill settled again after a cancel), so a 2208 for an earlier,
    // cancelled settlement answers what its cancel did and never touches the one that stands.
    let setl_id = data.setl_id.trim();
    let (bill_id, attempt) = gongji_engine::settlement::parse_settlement_id(setl_id);
    let stored = engine
        .store()
        .read(|tx| tx.settlement_attempt(institution, bill_id, attempt))?
        .ok_or_else(|| ApiError::domain(ErrorCode::SettlementNotFound, "ST8", format!("no settlement {setl_id:?} of {institution}")))?;
    let mdtrt_matches = stored.bill_id == data.mdtrt_id.trim() || stored.bill_id.starts_with(&format!("{}-", data.mdtrt_id.trim()));
    if stored.patient != data.psn_no.trim() || !mdtrt_matches {
        return Err(ApiError::input("psn_no and mdtrt_id do not match the settlement setl_id"));
    }
    let cancelled = engine.cancel_settlement(&caller.context(today), institution, setl_id)?;
    let overview = engine.person_overview(&stored.patient)?;
    // The settlement as it was, to report the reversal with the platform's negative amounts.
    let mut outcome = SettlementOutcome::from_stored(&stored, cancelled.replayed)?;
    outcome.steps.clear();
    let balc = overview.cur.plus(overview.his).plus(overview.mutual);
    // Mapping: the reversal is reported as the platform does, with negative amounts and the
    // same setl_id (gongji cancels by bill, so the cancel has no id of its own). Money held for
    // a former network member (ST8) counts in acct_mulaid_pay like money returned directly.
    Ok(json!({ "setlinfo": setlinfo(&outcome, data.mdtrt_id.trim(), insutype(overview.person.insurance), balc, true) }))
}
