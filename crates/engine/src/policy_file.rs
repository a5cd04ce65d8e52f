//! Policy files (§4): TOML at the edge, converted by hand into the core's [`Policy`].
//! Presets ship in `policies/` at the repository root and are embedded in the binary.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use gongji_core::policy::{
    AccountScope, Benefit, BillBounds, BurdenPart, Models, RelationRule, TransferLimits, YearEndStep, BILL_AMOUNT_CEILING, BILL_DATE_WINDOW_DAYS_DEFAULT,
};
use gongji_core::{AreaCode, DomainError, ErrorCode, Money, Policy, PolicyBook, Ratio, VisitType};
use serde::Deserialize;

/// The presets shipped with gongji: (id, TOML text).
pub const PRESETS: &[(&str, &str)] = &[
    ("330200", include_str!("../../../policies/330200.toml")),
    ("330100", include_str!("../../../policies/330100.toml")),
    ("440300", include_str!("../../../policies/440300.toml")),
    ("310000", include_str!("../../../policies/310000.toml")),
    ("national", include_str!("../../../policies/national.toml")),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    id: String,
    area: Option<String>,
    name: String,
    effective_from: String,
    consent_age: u32,
    class_b_self_pay_ratio: String,
    preset_date: String,
    year_end_steps: Vec<String>,
    association_threshold: String,
    models: ModelsFile,
    relations: Vec<RelationFile>,
    scope: ScopesFile,
    benefits: BTreeMap<String, BenefitFile>,
    interest: InterestFile,
    /// X3: optional; no table means no limits.
    #[serde(default)]
    transfer_limits: TransferLimitsFile,
    /// ST10: the largest bill per visit type (`outpatient = "500000"`); a visit type not named
    /// admits `BILL_AMOUNT_CEILING`.
    #[serde(default)]
    bill_amount_max: BTreeMap<String, String>,
    /// ST10: how many days before the business date a bill may be dated.
    bill_date_window_days: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TransferLimitsFile {
    per_day: Option<u32>,
    per_transfer_max: Option<String>,
    /// `HH:MM` local time; both or neither.
    quiet_from: Option<String>,
    quiet_until: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelsFile {
    network: bool,
    relative_transfer: bool,
    association: bool,
    quota: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RelationFile {
    name: String,
    max: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScopesFile {
    cur: ScopeFile,
    his: ScopeFile,
    #[serde(rename = "mut")]
    mutual: ScopeFile,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScopeFile {
    parts: Vec<String>,
    visits: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BenefitFile {
    deductible: String,
    fund_ratio: String,
    annual_cap: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InterestFile {
    his: String,
    cur: String,
}

fn invalid(source: &str, message: impl std::fmt::Display) -> DomainError {
    DomainError::new(ErrorCode::PolicyInvalid, "§4", format!("{source}: {message}"))
}

/// Parses and validates one policy file's text. `source` names it in error messages.
pub fn parse_policy(text: &str, source: &str) -> Result<Policy, DomainError> {
    let file: PolicyFile = toml::from_str(text).map_err(|err| invalid(source, err.to_string().trim_end()))?;
    let field = |name: &str, why: &str| invalid(source, format!("{name}: {why}"));
    let money = |name: &str, text: &str| Money::parse_non_negative(text).map_err(|_| field(name, "not a non-negative amount with at most two decimals"));
    let ratio = |name: &str, text: &str| Ratio::parse(text).ok_or_else(|| field(name, "not a ratio between 0 and 1 (\"0.85\" or \"85%\")"));
    let visit = |name: &str, text: &str| VisitType::parse(text).ok_or_else(|| field(name, &format!("unknown visit type {text:?}")));
    let scope = |name: &str, scope: &ScopeFile| -> Result<AccountScope, DomainError> {
        let parts =
            scope.parts.iter().map(|p| BurdenPart::parse(p).ok_or_else(|| field(name, &format!("unknown burden part {p:?}")))).collect::<Result<_, _>>()?;
        let visits = scope.visits.iter().map(|v| visit(name, v)).collect::<Result<_, _>>()?;
        Ok(AccountScope { parts, visits })
    };

    let area = match file.area.as_deref() {
        Some(text) => Some(AreaCode::parse(text).map_err(|_| field("area", "must be a 6-digit planning area code"))?),
        None => None,
    };
    let effective_from = NaiveDate::parse_from_str(&file.effective_from, "%Y-%m-%d").map_err(|_| field("effective_from", "must be a date YYYY-MM-DD"))?;
    let preset_date = NaiveDate::parse_from_str(&format!("2024-{}", file.preset_date), "%Y-%m-%d")
        .map_err(|_| field("preset_date", "must be MM-DD"))
        .map(|d| (chrono::Datelike::month(&d), chrono::Datelike::day(&d)))?;
    let mut relations = Vec::new();
    for relation in &file.relations {
        let name_ok = !relation.name.is_empty() && relation.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        if !name_ok {
            return Err(field("relations", &format!("relation names are lower-case words: {:?}", relation.name)));
        }
        if relations.iter().any(|r: &RelationRule| r.name == relation.name) {
            return Err(field("relations", &format!("relation {:?} given twice", relation.name)));
        }
        relations.push(RelationRule { name: relation.name.clone(), max: relation.max });
    }
    let mut benefits = BTreeMap::new();
    for (name, benefit) in &file.benefits {
        let key = format!("benefits.{name}");
        benefits.insert(
            visit(&key, name)?,
            Benefit {
                deductible: money(&key, &benefit.deductible)?,
                fund_ratio: ratio(&key, &benefit.fund_ratio)?,
                annual_cap: money(&key, &benefit.annual_cap)?,
            },
        );
    }
    let year_end_steps = file
        .year_end_steps
        .iter()
        .map(|s| YearEndStep::parse(s).ok_or_else(|| field("year_end_steps", &format!("unknown step {s:?}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let models = Models {
        network: file.models.network,
        relative_transfer: file.models.relative_transfer,
        association: file.models.association,
        quota: file.models.quota,
    };
    let limits = &file.transfer_limits;
    let minute = |name: &str, text: &str| {
        chrono::NaiveTime::parse_from_str(text, "%H:%M")
            .map(|t| chrono::Timelike::hour(&t) * 60 + chrono::Timelike::minute(&t))
            .map_err(|_| field(name, "must be a local time HH:MM"))
    };
    let transfer_limits = TransferLimits {
        per_day: limits.per_day,
        per_transfer_max: limits.per_transfer_max.as_deref().map(|t| money("transfer_limits.per_transfer_max", t)).transpose()?,
        quiet_hours: match (&limits.quiet_from, &limits.quiet_until) {
            (Some(from), Some(until)) => Some((minute("transfer_limits.quiet_from", from)?, minute("transfer_limits.quiet_until", until)?)),
            (None, None) => None,
            _ => return Err(field("transfer_limits", "give both quiet_from and quiet_until, or neither")),
        },
    };
    let mut amount_max = BTreeMap::new();
    for (name, text) in &file.bill_amount_max {
        let key = format!("bill_amount_max.{name}");
        let max = Money::parse_positive(text).map_err(|_| field(&key, "not a positive amount with at most two decimals"))?;
        if max > BILL_AMOUNT_CEILING {
            return Err(field(&key, &format!("above {BILL_AMOUNT_CEILING}, the most any policy may admit for one bill")));
        }
        amount_max.insert(visit(&key, name)?, max);
    }
    let bill_bounds = BillBounds { amount_max, date_window_days: file.bill_date_window_days.unwrap_or(BILL_DATE_WINDOW_DAYS_DEFAULT) };
    if (models.network || models.relative_transfer || models.association || models.quota) && relations.is_empty() {
        return Err(field("relations", "a family model is enabled but no relation is allowed"));
    }
    Ok(Policy {
        id: file.id,
        area,
        name: file.name,
        effective_from,
        models,
        relations,
        consent_age: file.consent_age,
        scope_cur: scope("scope.cur", &file.scope.cur)?,
        scope_his: scope("scope.his", &file.scope.his)?,
        scope_mut: scope("scope.mut", &file.scope.mutual)?,
        benefits,
        class_b_self_pay_ratio: ratio("class_b_self_pay_ratio", &file.class_b_self_pay_ratio)?,
        interest_rate_his: ratio("interest.his", &file.interest.his)?,
        interest_rate_cur: ratio("interest.cur", &file.interest.cur)?,
        preset_date,
        year_end_steps,
        association_threshold: money("association_threshold", &file.association_threshold)?,
        transfer_limits,
        bill_bounds,
    })
}

/// Loads a policy from a preset id (`330200`, `national`) or a path to a TOML file.
pub fn load_policy(preset_or_path: &str) -> Result<Policy, DomainError> {
    if let Some((id, text)) = PRESETS.iter().find(|(id, _)| *id == preset_or_path) {
        return parse_policy(text, &format!("preset {id}"));
    }
    let path = Path::new(preset_or_path);
    let text = std::fs::read_to_string(path).map_err(|err| {
        DomainError::new(
            ErrorCode::PolicyNotFound,
            "§4",
            format!("{preset_or_path}: not a preset id ({}) and not a readable file: {err}", preset_ids().join(", ")),
        )
    })?;
    parse_policy(&text, preset_or_path)
}

pub fn preset_ids() -> Vec<&'static str> {
    PRESETS.iter().map(|(id, _)| *id).collect()
}

/// All presets in one book: what `gongji` runs with unless told otherwise.
pub fn preset_book() -> PolicyBook {
    let mut book = PolicyBook::new();
    for (id, text) in PRESETS {
        book.add(parse_policy(text, id).expect("shipped presets are valid (tested)"));
    }
    book
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_parses() {
        for (id, text) in PRESETS {
            let policy = parse_policy(text, id).unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(policy.id, *id);
        }
    }

    #[test]
    fn presets_enable_their_models() {
        let ningbo = load_policy("330200").unwrap();
        assert!(ningbo.models.network && !ningbo.models.relative_transfer);
        assert_eq!(ningbo.relation("spouse").unwrap().max, Some(1));
        assert_eq!(ningbo.relation("parent").unwrap().max, Some(2));
        assert_eq!(ningbo.relation("child").unwrap().max, None);
        assert_eq!(ningbo.preset_date, (6, 1));
        assert!(load_policy("330100").unwrap().models.relative_transfer);
        let shenzhen = load_policy("440300").unwrap();
        assert!(shenzhen.models.association);
        assert_eq!(shenzhen.association_threshold, Money::yuan(4200));
        let national = load_policy("national").unwrap();
        assert!(national.area.is_none());
        assert!(national.relation("sibling").is_some(), "X1: near relatives are policy data");
        for near in ["grandparent", "grandchild"] {
            assert!(national.relation(near).is_some(), "X1: {near}");
        }
        assert_eq!(national.transfer_limits.per_day, Some(3), "X3");
        assert_eq!(national.transfer_limits.per_transfer_max, Some(Money::yuan(2000)), "X3");
        assert_eq!(national.transfer_limits.quiet_hours, Some((22 * 60, 6 * 60)), "X3");
        assert_eq!(ningbo.transfer_limits, TransferLimits::default(), "no table, no limits");
    }

    #[test]
    fn x3_transfer_limits_are_checked_when_parsed() {
        let good = PRESETS[0].1;
        let with = |table: &str| parse_policy(&format!("{good}\n[transfer_limits]\n{table}\n"), "t.toml");
        assert_eq!(with("per_day = 2").unwrap().transfer_limits.per_day, Some(2));
        assert!(with("quiet_from = \"23:00\"").unwrap_err().message.contains("quiet_until"));
        assert!(with("quiet_from = \"25:00\"\nquiet_until = \"06:00\"").unwrap_err().message.contains("quiet_from"));
        assert!(with("per_transfer_max = \"1.234\"").unwrap_err().message.contains("per_transfer_max"));
        assert!(with("per_week = 1").is_err());
    }

    #[test]
    fn st10_every_preset_bounds_every_visit_type_and_dates() {
        for (id, text) in PRESETS {
            let policy = parse_policy(text, id).unwrap();
            for visit in [VisitType::Outpatient, VisitType::Emergency, VisitType::Inpatient, VisitType::Pharmacy, VisitType::Community, VisitType::Vaccination]
            {
                assert!(policy.bill_bounds.amount_max.contains_key(&visit), "{id}: bill_amount_max.{visit} (ST10)");
            }
            assert!((28..=366).contains(&policy.bill_bounds.date_window_days), "{id}: bill_date_window_days (ST10)");
        }
    }

    #[test]
    fn st10_bill_bounds_are_checked_when_parsed() {
        // The preset without its own table (its last one), then the table under test.
        let good = PRESETS[0].1.split("[bill_amount_max]").next().unwrap();
        let with = |table: &str| parse_policy(&format!("{good}\n[bill_amount_max]\n{table}\n"), "t.toml");
        assert_eq!(with("outpatient = \"100\"").unwrap().bill_bounds.amount_max(VisitType::Outpatient), Money::yuan(100));
        assert_eq!(with("outpatient = \"100\"").unwrap().bill_bounds.amount_max(VisitType::Inpatient), BILL_AMOUNT_CEILING);
        assert!(with("outpatient = \"0\"").unwrap_err().message.contains("bill_amount_max.outpatient"));
        assert!(with("outpatient = \"100000000.01\"").unwrap_err().message.contains("bill_amount_max.outpatient"));
        assert!(with("surgery = \"100\"").unwrap_err().message.contains("surgery"));
    }

    #[test]
    fn bad_policy_files_give_clear_errors() {
        let good = PRESETS[0].1;
        let check = |text: String, expected: &str| {
            let err = parse_policy(&text, "test.toml").unwrap_err();
            assert_eq!(err.code, ErrorCode::PolicyInvalid);
            assert!(err.message.contains(expected), "{} should mention {expected}", err.message);
        };
        check(good.replace("effective_from = \"", "effective_from = \"x"), "effective_from");
        check(good.replace("class_b_self_pay_ratio = \"", "class_b_self_pay_ratio = \"7"), "class_b_self_pay_ratio");
        check(format!("surprise = 1\n{good}"), "surprise");
        check(good.replace("\"inpatient\"", "\"spa\""), "spa");
        assert_eq!(load_policy("no-such-preset").unwrap_err().code, ErrorCode::PolicyNotFound);
    }
}
