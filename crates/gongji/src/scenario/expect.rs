//! `expect` of a scenario step (§13): what its result must show. Amounts compare as money
//! (`"100"` expects `"100.00"`); a failure lists every difference, expected beside actual.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use gongji_core::Money;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ExpectSpec {
    pub payments: Option<BTreeMap<String, String>>,
    pub cash: Option<String>,
    pub fund_pay: Option<String>,
    /// For `liquidate`: interest to date and the principal paid out (B4).
    pub interest: Option<String>,
    pub principal: Option<String>,
    /// For `job`: the total moved or credited.
    pub amount: Option<String>,
    /// For `add_member`: `active` or `pending` (N10).
    pub state: Option<String>,
    /// For `cancel`: `"ALIAS"` → amount held for the nightly sync (ST8).
    pub held: Option<BTreeMap<String, String>>,
    /// For `explain`-like checks on settle: codes that must appear among the steps (ST7).
    pub step_codes: Option<Vec<String>>,
}

/// Every difference between `expect` and the step's `result`, or `Ok`.
pub(super) fn check(expect: &ExpectSpec, result: &Value) -> Result<(), String> {
    let mut diffs = String::new();
    let money_eq = |expected: &str, actual: &Value| -> Result<bool, String> {
        let expected = Money::parse(expected).map_err(|e| format!("expect: {e}"))?;
        Ok(actual.as_str().and_then(|a| Money::parse(a).ok()) == Some(expected))
    };
    if let Some(payments) = &expect.payments {
        let actual = result.get("payments").and_then(Value::as_object).cloned().unwrap_or_default();
        let mut expected_normalised = BTreeMap::new();
        for (key, amount) in payments {
            let amount = Money::parse(amount).map_err(|e| format!("expect.payments.{key}: {e}"))?;
            if !amount.is_zero() {
                expected_normalised.insert(key.clone(), amount.to_string());
            }
        }
        let actual_map: BTreeMap<String, String> = actual.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect();
        if expected_normalised != actual_map {
            let _ = write!(diffs, "\n  payments: expected {expected_normalised:?}\n            actual   {actual_map:?}");
        }
    }
    let money_fields =
        [("cash", &expect.cash), ("fund_pay", &expect.fund_pay), ("interest", &expect.interest), ("principal", &expect.principal), ("amount", &expect.amount)];
    for (name, expected) in money_fields {
        if let Some(expected) = expected {
            let actual = result.get(name).cloned().unwrap_or(Value::Null);
            if !money_eq(expected, &actual)? {
                let _ = write!(diffs, "\n  {name}: expected {expected}, actual {actual}");
            }
        }
    }
    if let Some(state) = &expect.state {
        let actual = result.get("state").and_then(Value::as_str).unwrap_or("");
        if actual != state {
            let _ = write!(diffs, "\n  state: expected {state}, actual {actual}");
        }
    }
    if let Some(held) = &expect.held {
        let actual: BTreeMap<String, String> = result
            .get("held")
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
            .unwrap_or_default();
        let expected: BTreeMap<String, String> =
            held.iter().map(|(k, v)| Ok((k.clone(), Money::parse(v).map_err(|e| format!("expect.held: {e}"))?.to_string()))).collect::<Result<_, String>>()?;
        if actual != expected {
            let _ = write!(diffs, "\n  held: expected {expected:?}, actual {actual:?}");
        }
    }
    if let Some(codes) = &expect.step_codes {
        let actual: Vec<String> = result
            .get("steps")
            .and_then(Value::as_array)
            .map(|s| s.iter().filter_map(|x| x.get("code").and_then(Value::as_str).map(str::to_string)).collect())
            .unwrap_or_default();
        for code in codes {
            if !actual.contains(code) {
                let _ = write!(diffs, "\n  step code {code} missing; steps had {actual:?}");
            }
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(format!("expectation not met:{diffs}"))
    }
}
