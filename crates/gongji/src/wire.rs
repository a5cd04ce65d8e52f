//! Edge formats shared by the CLI and the scenario runner: JSON shapes of results and errors,
//! and parsing of the small words of the wire (account names).

use gongji_core::{AccountRef, ErrorCode, PersonAccount};
use gongji_engine::jobs::JobSummary;
use gongji_engine::settlement::{CancelOutcome, SettlementOutcome, Step};
use gongji_engine::Error;
use serde_json::{json, Value};

/// The institution code used when a command or a scenario step gives none.
pub const DEFAULT_INSTITUTION: &str = "H0001";

/// `{"code", "rule", "message"}` of §13 and §14; storage failures get `internal`.
pub fn error_json(err: &Error) -> Value {
    match err {
        Error::Domain(domain) => json!({"code": domain.code.as_str(), "rule": domain.rule, "message": domain.message}),
        Error::Store(store) => json!({"code": "internal", "rule": "", "message": store.to_string()}),
    }
}

/// `psn_no.account` for person accounts (in a scenario the psn_no is the alias), the account key
/// for system accounts.
pub fn account_name(account: &AccountRef) -> String {
    match account {
        AccountRef::Person { psn_no, kind } => format!("{psn_no}.{kind}"),
        AccountRef::System { .. } => account.key(),
    }
}

pub fn person_account(text: &str) -> Result<PersonAccount, Error> {
    PersonAccount::parse(text).ok_or_else(|| Error::domain(ErrorCode::InputInvalid, "P2", format!("unknown account {text:?}: use cur, his or mut")))
}

pub fn steps_json(steps: &[Step], name: &dyn Fn(&AccountRef) -> String) -> Value {
    Value::Array(
        steps
            .iter()
            .map(|s| {
                let account = s.account.as_deref().and_then(AccountRef::parse_key).map(|a| name(&a));
                json!({"code": s.code, "rule": s.rule, "account": account, "role": s.role, "amount": s.amount.to_string(), "message": s.message})
            })
            .collect(),
    )
}

/// A settlement result: `payments` as `"NAME.account"` → amount (only accounts that paid), `cash`.
pub fn settlement_json(outcome: &SettlementOutcome, name: &dyn Fn(&AccountRef) -> String) -> Value {
    let mut payments = serde_json::Map::new();
    for payment in &outcome.payments {
        payments.insert(name(&payment.account), json!(payment.amount.to_string()));
    }
    json!({
        "institution": outcome.institution,
        "bill": outcome.bill_id,
        "settlement_id": outcome.settlement_id,
        "policy": outcome.policy_id,
        "total": outcome.total().to_string(),
        "fund_pay": outcome.split.fund_pay.to_string(),
        "self_borne": outcome.split.self_borne.to_string(),
        "first_self_pay": outcome.split.first_self_pay.to_string(),
        "self_funded": outcome.split.self_funded.to_string(),
        "payments": payments,
        "cash": outcome.cash.to_string(),
        "replayed": outcome.replayed,
        "steps": steps_json(&outcome.steps, name),
    })
}

pub fn cancel_json(outcome: &CancelOutcome, name: &dyn Fn(&AccountRef) -> String) -> Value {
    let mut returned = serde_json::Map::new();
    for (account, amount) in &outcome.returned {
        returned.insert(name(account), json!(amount.to_string()));
    }
    let mut held = serde_json::Map::new();
    for (owner, amount) in &outcome.held {
        held.insert(owner.clone(), json!(amount.to_string()));
    }
    json!({
        "institution": outcome.institution,
        "bill": outcome.bill_id,
        "settlement_id": outcome.settlement_id,
        "returned": returned,
        "held": held,
        "fund_pay": outcome.fund.to_string(),
        "cash": outcome.cash.to_string(),
        "replayed": outcome.replayed,
    })
}

pub fn job_json(summary: &JobSummary) -> Value {
    json!({
        "job": summary.job,
        "date": summary.date.map(|d| d.to_string()),
        "accounts": summary.accounts,
        "amount": summary.amount.to_string(),
        "skipped": summary.skipped.iter().map(|(who, why)| json!({"person": who, "reason": why})).collect::<Vec<_>>(),
        "elapsed_ms": summary.elapsed.as_millis() as u64,
    })
}
