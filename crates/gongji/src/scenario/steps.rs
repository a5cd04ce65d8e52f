//! The steps of a scenario file (SPEC §13) as types: one variant of `Step` per `do`, holding the
//! fields that step takes, and `StepCommon` for what every step may carry.
//!
//! How a `[[steps]]` table is read: first as a TOML table with its position in the file, then
//! split in two, `date`, `expect` and `expect_error` into `StepCommon` and the rest into `Step`
//! (tagged by `do`). Both refuse unknown fields, so a misspelt field, or one that belongs to
//! another step, stops the file before anything runs, naming the step, the field, its line and
//! the fields the step takes: `step 3 (move), field `promoter` at line 20: unknown field
//! `promoter`, expected one of `person`, `from`, `to`, `amount``. A field of the wrong type is
//! named the same way. (`#[serde(flatten)]` of the two parts into one struct would have been
//! shorter, but serde's `deny_unknown_fields` does not work with `flatten`: unknown fields would
//! have been ignored. The price of reading a table first is that toml's own message, with the
//! column and a caret, gives way to this one.) TOML dates and times (`date = 2024-03-01`,
//! unquoted) are refused as before: every date in a scenario file is a string.
//!
//! Two refusals stay what they always were, refusals of the step (`input.invalid`, recorded in
//! the `--json` document, so that `expect_error` can name them) rather than of the file: a missing
//! field (every field is an `Option`, checked when the step runs: "step `move` needs `amount`"),
//! and an unknown `do` (`Step::Unknown`: "unknown step `teleport`").

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use toml::{Spanned, Table, Value};

use super::expect::ExpectSpec;

/// One step as the file gives it.
pub(super) struct StepEntry {
    /// `do` as written; an unknown one too.
    pub action: String,
    pub common: StepCommon,
    pub step: Step,
}

/// What any step may carry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StepCommon {
    /// The business date from this step on (`YYYY-MM-DD`); `advance` needs it.
    pub date: Option<String>,
    /// What the result must show.
    pub expect: Option<ExpectSpec>,
    /// The step must fail with this code (§14).
    pub expect_error: Option<String>,
}

/// The steps of §13, by `do`. Acting persons are aliases of `[persons]`; amounts are decimal
/// strings. Steps act as the insured person through the app, except `set_status` and
/// `liquidate` (an operator at the counter of the person's area) and the bills (the institution).
#[derive(Deserialize)]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub(super) enum Step {
    CreateNetwork {
        promoter: Option<String>,
    },
    AddMember {
        promoter: Option<String>,
        member: Option<String>,
        relation: Option<String>,
    },
    ConfirmMember {
        member: Option<String>,
    },
    RemoveMember {
        promoter: Option<String>,
        member: Option<String>,
    },
    Leave {
        member: Option<String>,
    },
    Reorder {
        promoter: Option<String>,
        /// Every member, in the new payment order.
        order: Option<Vec<String>>,
    },
    Dissolve {
        promoter: Option<String>,
    },
    Move {
        person: Option<String>,
        from: Option<String>,
        to: Option<String>,
        amount: Option<String>,
    },
    SetPreset {
        person: Option<String>,
        /// None or empty clears the preset.
        amount: Option<String>,
    },
    SetStatus {
        person: Option<String>,
        status: Option<String>,
        /// `scenario` by default.
        reason: Option<String>,
    },
    Settle(BillSpec),
    Presettle(BillSpec),
    Cancel {
        bill: Option<String>,
        /// `H0001` by default.
        institution: Option<String>,
    },
    Job {
        /// `year_end`, `preset` or `refund_sync`, for the step's date.
        name: Option<String>,
    },
    Liquidate {
        person: Option<String>,
        /// `death` or `transfer_out`.
        reason: Option<String>,
        /// The payee: `heirs` (death) or `000000` (transfer out) by default.
        name: Option<String>,
    },
    /// Moves the business date to the step's `date` (of `StepCommon`).
    Advance {},
    Check {
        /// Alias → account (`cur`, `his`, `mut`) → balance.
        balances: Option<BTreeMap<String, BTreeMap<String, String>>>,
    },
    /// TR1-TR3: the runner reads the one-time code from the outbox and confirms it.
    RelativeTransfer(RelativeTransferSpec),
    Bind {
        person: Option<String>,
        relative: Option<String>,
        relation: Option<String>,
        time: Option<String>,
    },
    Unbind {
        person: Option<String>,
        relative: Option<String>,
        time: Option<String>,
    },
    SetQuota(QuotaSpec),
    EndQuota {
        person: Option<String>,
        relative: Option<String>,
        time: Option<String>,
    },
    PayPremium(PremiumSpec),
    Relay {
        time: Option<String>,
    },
    /// A `do` of none of the above: the step is refused when it runs.
    #[serde(other)]
    Unknown,
}

/// A bill of `settle` and `presettle`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BillSpec {
    pub patient: Option<String>,
    pub bill: Option<String>,
    /// `H0001` by default.
    pub institution: Option<String>,
    pub visit: Option<String>,
    pub items: Option<Vec<ItemSpec>>,
    pub split: Option<SplitSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ItemSpec {
    pub code: String,
    pub name: Option<String>,
    pub amount: String,
    pub class: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SplitSpec {
    pub fund_pay: Option<String>,
    pub self_borne: Option<String>,
    pub first_self_pay: Option<String>,
    pub self_funded: Option<String>,
}

/// `relative_transfer` (TR1-TR3).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RelativeTransferSpec {
    pub from: Option<String>,
    pub to: Option<String>,
    pub relation: Option<String>,
    pub amount: Option<String>,
    /// The beneficiary's name as typed, when it should differ from the register (TR2 tests).
    pub name: Option<String>,
    pub id_number: Option<String>,
    /// A code to confirm with instead of the one sent; `wrong` is one that is not the code sent
    /// (TR3 tests).
    pub code: Option<String>,
    pub time: Option<String>,
}

/// `set_quota` (X1-X3): `person` sets money aside for `relative`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct QuotaSpec {
    pub person: Option<String>,
    pub relative: Option<String>,
    pub relation: Option<String>,
    pub amount: Option<String>,
    /// The relative's name and ID number as typed, when they should differ from the register.
    pub name: Option<String>,
    pub id_number: Option<String>,
    /// Local time `HH:MM` of the grant (X3); noon by default, as for every family step.
    pub time: Option<String>,
}

/// `pay_premium` (X4): a resident's yearly premium, from their quota or a near relative's HIS.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PremiumSpec {
    pub person: Option<String>,
    pub amount: Option<String>,
    /// The year of the step's date by default.
    pub year: Option<i32>,
    /// A near relative paying from their HIS (with `relation`), instead of the quota.
    pub payer: Option<String>,
    pub relation: Option<String>,
    pub time: Option<String>,
}

/// A `[[steps]]` table as the file gives it: each field with its place in the file.
pub(super) type RawStep = Spanned<RawFields>;
type RawFields = BTreeMap<String, Spanned<Value>>;

/// The steps of a file; `text` is the file, for the line numbers of a refusal.
pub(super) fn parse_steps(text: &str, raw: Vec<RawStep>) -> Result<Vec<StepEntry>, String> {
    let line_of = |span: Range<usize>| text.get(..span.start).map_or(0, |before| before.matches('\n').count()) + 1;
    let mut entries = Vec::with_capacity(raw.len());
    for (index, step) in raw.into_iter().enumerate() {
        let number = index + 1;
        let step_line = line_of(step.span());
        let fields = step.into_inner();
        let action = match fields.get("do") {
            None => return Err(format!("step {number} at line {step_line}: missing field `do`")),
            Some(action) => match action.get_ref() {
                Value::String(name) => name.clone(),
                other => {
                    return Err(format!("step {number}, field `do` at line {}: invalid type: {}, expected a string", line_of(action.span()), other.type_str()))
                }
            },
        };
        let entry = entry_of(&action, &fields).map_err(|refusal| match culprit(&action, &fields) {
            Some((key, span, refusal)) => format!("step {number} ({action}), field `{key}` at line {}: {refusal}", line_of(span)),
            None => format!("step {number} ({action}) at line {step_line}: {refusal}"),
        })?;
        entries.push(entry);
    }
    Ok(entries)
}

fn entry_of(action: &str, fields: &RawFields) -> Result<StepEntry, String> {
    let mut step = Table::new();
    let mut common = Table::new();
    for (key, value) in fields {
        let part = if matches!(key.as_str(), "date" | "expect" | "expect_error") { &mut common } else { &mut step };
        part.insert(key.clone(), value.get_ref().clone());
    }
    refuse_datetimes(&common)?;
    refuse_datetimes(&step)?;
    let common = StepCommon::deserialize(Value::Table(common)).map_err(|e| e.message().to_string())?;
    let step = Step::deserialize(Value::Table(step)).map_err(|e| e.message().to_string())?;
    Ok(StepEntry { action: action.to_string(), common, step })
}

/// The field that the step refuses on its own, where it is and why: serde's message names an
/// unknown field but not one of the wrong type. (Every field is optional, so a step with only its
/// `do` and one good field passes.)
fn culprit<'a>(action: &str, fields: &'a RawFields) -> Option<(&'a str, Range<usize>, String)> {
    let tag = fields.get("do")?;
    fields.iter().filter(|(key, _)| *key != "do").find_map(|(key, value)| {
        let alone = RawFields::from([("do".to_string(), tag.clone()), (key.clone(), value.clone())]);
        entry_of(action, &alone).err().map(|refusal| (key.as_str(), value.span(), refusal))
    })
}

/// A TOML date or time anywhere in a step is refused, as it always was (the fields are strings,
/// `"2024-03-01"`): read from a TOML table it would pass for a string.
fn refuse_datetimes(table: &Table) -> Result<(), String> {
    fn check(value: &Value) -> Result<(), String> {
        match value {
            Value::Datetime(_) => Err("invalid type: TOML date or time, expected a string such as \"2024-03-01\"".to_string()),
            Value::Array(values) => values.iter().try_for_each(check),
            Value::Table(table) => table.values().try_for_each(check),
            Value::String(_) | Value::Integer(_) | Value::Float(_) | Value::Boolean(_) => Ok(()),
        }
    }
    table.values().try_for_each(check)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `text` (the steps of a file) and returns the steps or the file's refusal.
    fn parse(text: &str) -> Result<Vec<StepEntry>, String> {
        #[derive(Deserialize)]
        struct File {
            steps: Vec<RawStep>,
        }
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        parse_steps(text, file.steps)
    }

    fn refusal(text: &str) -> String {
        match parse(text) {
            Ok(_) => panic!("must be refused: {text}"),
            Err(message) => message,
        }
    }

    #[test]
    fn a_step_takes_its_own_fields_and_the_common_ones() {
        let steps = parse(
            "[[steps]]\ndo = \"move\"\nperson = \"A\"\nfrom = \"his\"\nto = \"mut\"\namount = \"1\"\ndate = \"2024-03-02\"\nexpect_error = \"x\"\n\
             [[steps]]\ndo = \"advance\"\ndate = \"2024-04-01\"\n[steps.expect]\ncash = \"0\"\n",
        )
        .unwrap();
        assert_eq!(steps.len(), 2);
        assert!(matches!(&steps[0].step, Step::Move { person: Some(p), amount: Some(a), .. } if p == "A" && a == "1"));
        assert_eq!(steps[0].common.date.as_deref(), Some("2024-03-02"));
        assert_eq!(steps[0].common.expect_error.as_deref(), Some("x"));
        assert!(matches!(steps[1].step, Step::Advance {}));
        assert_eq!(steps[1].common.expect.as_ref().and_then(|e| e.cash.as_deref()), Some("0"));
    }

    #[test]
    fn a_misspelt_field_or_one_of_another_step_is_refused_with_the_step_and_its_line() {
        let message = refusal("[[steps]]\ndo = \"create_network\"\npromoter = \"A\"\n\n[[steps]]\ndo = \"move\"\npromoter = \"A\"\n");
        assert_eq!(message, "step 2 (move), field `promoter` at line 7: unknown field `promoter`, expected one of `person`, `from`, `to`, `amount`");
        let message = refusal("steps = [{ do = \"settle\", patiet = \"A\" }]\n");
        assert!(message.starts_with("step 1 (settle), field `patiet` at line 1: unknown field `patiet`, expected one of `patient`"), "{message}");
        let message = refusal("[[steps]]\ndo = \"relay\"\ntime = \"12:00\"\nx = 1\n");
        assert_eq!(message, "step 1 (relay), field `x` at line 4: unknown field `x`, expected `time`");
        let message = refusal("[[steps]]\ndo = \"advance\"\ndate = \"2024-04-01\"\nx = 1\n");
        assert_eq!(message, "step 1 (advance), field `x` at line 4: unknown field `x`, there are no fields");
        let message = refusal("[[steps]]\ndo = \"check\"\nbalances = {}\nexpect = { cahs = \"1\" }\n");
        assert!(message.starts_with("step 1 (check), field `expect` at line 4: unknown field `cahs`"), "{message}");
    }

    #[test]
    fn a_wrong_type_a_missing_or_bad_do_and_a_toml_date_are_refused() {
        let message = refusal("[[steps]]\ndo = \"pay_premium\"\nperson = \"A\"\nyear = \"2024\"\n");
        assert_eq!(message, "step 1 (pay_premium), field `year` at line 4: invalid type: string \"2024\", expected i32");
        assert_eq!(refusal("[[steps]]\npromoter = \"A\"\n"), "step 1 at line 1: missing field `do`");
        assert_eq!(refusal("[[steps]]\ndo = 1\n"), "step 1, field `do` at line 2: invalid type: integer, expected a string");
        let message = refusal("[[steps]]\ndo = \"create_network\"\ndate = 2024-03-05\n");
        assert!(message.starts_with("step 1 (create_network), field `date` at line 3: invalid type: TOML date or time"), "{message}");
        let message = refusal("[[steps]]\ndo = \"check\"\nbalances = { A = { his = 2024-03-05 } }\n");
        assert!(message.starts_with("step 1 (check), field `balances` at line 3: invalid type: TOML date or time"), "{message}");
    }

    #[test]
    fn missing_fields_and_an_unknown_do_are_left_to_the_run() {
        let steps = parse("[[steps]]\ndo = \"create_network\"\n[[steps]]\ndo = \"teleport\"\nanything = 1\n").unwrap();
        assert!(matches!(steps[0].step, Step::CreateNetwork { promoter: None }));
        assert!(matches!(steps[1].step, Step::Unknown));
        assert_eq!(steps[1].action, "teleport");
    }
}
