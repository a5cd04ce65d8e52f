//! A planning area's policy (§4), as plain data. Parsing from TOML lives at the edge
//! (`gongji-engine::policy_file`); the engine has no city names in code.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::money::{Money, Ratio};
use crate::person::{string_enum, AreaCode};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VisitType {
    Outpatient,
    Emergency,
    Inpatient,
    Pharmacy,
    Community,
    /// Vaccination outside the national expanded immunisation programme.
    Vaccination,
}

string_enum!(VisitType {
    Outpatient => "outpatient",
    Emergency => "emergency",
    Inpatient => "inpatient",
    Pharmacy => "pharmacy",
    Community => "community",
    Vaccination => "vaccination",
});

/// The parts of a patient's burden (§2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BurdenPart {
    /// 自负: the patient's share of in-scope costs after reimbursement.
    SelfBorne,
    /// 自理: the self-paid share of class-B items.
    FirstSelfPay,
    /// 自费: out-of-catalogue (class C) costs.
    SelfFunded,
}

string_enum!(BurdenPart { SelfBorne => "self_borne", FirstSelfPay => "first_self_pay", SelfFunded => "self_funded" });

impl BurdenPart {
    pub fn label_zh(self) -> &'static str {
        match self {
            BurdenPart::SelfBorne => "自负",
            BurdenPart::FirstSelfPay => "自理",
            BurdenPart::SelfFunded => "自费",
        }
    }
}

/// Which burden parts an account may pay, for which visit types.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccountScope {
    pub parts: Vec<BurdenPart>,
    pub visits: Vec<VisitType>,
}

impl AccountScope {
    pub fn allows(&self, part: BurdenPart, visit: VisitType) -> bool {
        self.parts.contains(&part) && self.visits.contains(&visit)
    }

    pub fn allows_visit(&self, visit: VisitType) -> bool {
        self.visits.contains(&visit)
    }
}

/// Benefit rules for one visit type (ST1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Benefit {
    /// 起付线, per person per year.
    pub deductible: Money,
    /// The pooled fund's share of in-scope costs above the deductible.
    pub fund_ratio: Ratio,
    /// 年度最高支付限额 of the pooled fund for this visit type, per person per year.
    pub annual_cap: Money,
}

/// A relation a family model allows, with its limit (N3, X1). Relations are data, not an enum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationRule {
    pub name: String,
    /// At most this many of the relation in one network; `None` is no limit.
    pub max: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YearEndStep {
    /// MUT→HIS before interest (seeds/003 七 (二)).
    SweepMutToHis,
    /// Interest on historical money by the daily-balance product method (B1).
    Interest,
    /// CUR→HIS roll-over.
    RollOverCurToHis,
}

string_enum!(YearEndStep { SweepMutToHis => "sweep_mut_to_his", Interest => "interest", RollOverCurToHis => "roll_over_cur_to_his" });

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Models {
    /// 家庭共济网 (Ningbo, Shanghai): §5, §6.
    pub network: bool,
    /// 家庭共济划转 (Hangzhou): §7.
    pub relative_transfer: bool,
    /// 家庭成员关联 (Shenzhen): §8.
    pub association: bool,
    /// 共济额度 (national, cross-area): X2.
    pub quota: bool,
}

/// One version of a planning area's policy, in force from `effective_from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The preset id or file stem, e.g. `330200`.
    pub id: String,
    /// `None` for the national default, which applies to any area without its own policy.
    pub area: Option<AreaCode>,
    pub name: String,
    pub effective_from: NaiveDate,
    pub models: Models,
    pub relations: Vec<RelationRule>,
    /// N10: members this old or older confirm their own membership.
    pub consent_age: u32,
    pub scope_cur: AccountScope,
    pub scope_his: AccountScope,
    pub scope_mut: AccountScope,
    pub benefits: BTreeMap<VisitType, Benefit>,
    /// ST1: 自理 = class-B amount × this ratio.
    pub class_b_self_pay_ratio: Ratio,
    /// B1: yearly rate on historical money (HIS + MUT).
    pub interest_rate_his: Ratio,
    /// B1: yearly rate on the current-year account.
    pub interest_rate_cur: Ratio,
    /// T2, B2: (month, day) of the yearly preset transfer.
    pub preset_date: (u32, u32),
    pub year_end_steps: Vec<YearEndStep>,
    /// S2: only the part of a binder's account above this may pay a bound relative's burden.
    pub association_threshold: Money,
}

impl Policy {
    pub fn relation(&self, name: &str) -> Option<&RelationRule> {
        self.relations.iter().find(|r| r.name == name)
    }

    pub fn benefit(&self, visit: VisitType) -> Option<&Benefit> {
        self.benefits.get(&visit)
    }
}

/// All versions of all areas' policies; answers "which version is in force on this day here".
#[derive(Debug, Clone, Default)]
pub struct PolicyBook {
    versions: Vec<Policy>,
}

impl PolicyBook {
    pub fn new() -> PolicyBook {
        PolicyBook::default()
    }

    /// Adds a version; a version with the same area and `effective_from` replaces the old one.
    pub fn add(&mut self, policy: Policy) {
        self.versions.retain(|p| !(p.area == policy.area && p.effective_from == policy.effective_from));
        self.versions.push(policy);
        self.versions.sort_by(|a, b| (&a.area, a.effective_from).cmp(&(&b.area, b.effective_from)));
    }

    /// The area's latest version in force on `day`, falling back to the national default.
    pub fn in_force(&self, area: &AreaCode, day: NaiveDate) -> Option<&Policy> {
        let latest =
            |wanted: Option<&AreaCode>| self.versions.iter().filter(|p| p.area.as_ref() == wanted && p.effective_from <= day).max_by_key(|p| p.effective_from);
        latest(Some(area)).or_else(|| latest(None))
    }

    pub fn versions(&self) -> &[Policy] {
        &self.versions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(area: Option<&str>, from: &str) -> Policy {
        Policy {
            id: format!("{area:?}-{from}"),
            area: area.map(|a| AreaCode::parse(a).unwrap()),
            name: String::new(),
            effective_from: NaiveDate::parse_from_str(from, "%Y-%m-%d").unwrap(),
            models: Models::default(),
            relations: vec![],
            consent_age: 16,
            scope_cur: AccountScope::default(),
            scope_his: AccountScope::default(),
            scope_mut: AccountScope::default(),
            benefits: BTreeMap::new(),
            class_b_self_pay_ratio: Ratio::ZERO,
            interest_rate_his: Ratio::ZERO,
            interest_rate_cur: Ratio::ZERO,
            preset_date: (6, 1),
            year_end_steps: vec![],
            association_threshold: Money::ZERO,
        }
    }

    #[test]
    fn policy_in_force_is_the_latest_version_not_after_the_day() {
        let mut book = PolicyBook::new();
        book.add(version(Some("330200"), "2016-01-01"));
        book.add(version(Some("330200"), "2024-07-01"));
        book.add(version(None, "2021-01-01"));
        let area = AreaCode::parse("330200").unwrap();
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(book.in_force(&area, day("2024-06-30")).unwrap().effective_from, day("2016-01-01"));
        assert_eq!(book.in_force(&area, day("2024-07-01")).unwrap().effective_from, day("2024-07-01"));
        assert!(book.in_force(&area, day("2015-12-31")).is_none());
        let other = AreaCode::parse("110000").unwrap();
        assert_eq!(book.in_force(&other, day("2024-01-01")).unwrap().area, None);
    }
}
