//! A planning area's policy (§4), as plain data. Parsing from TOML lives at the edge
//! (`gongji-engine::policy_file`); the engine has no city names in code.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::error::{DomainError, DomainResult, ErrorCode};
use crate::money::{Money, Ratio};
use crate::person::AreaCode;
use crate::string_enum::string_enum;

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

/// X3: limits on money given to a relative (quota grants and top-ups), as policy data. `None`
/// is no limit; a policy file that says nothing has no limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TransferLimits {
    /// At most this many transfers by one donor per local calendar day.
    pub per_day: Option<u32>,
    /// At most this much per transfer.
    pub per_transfer_max: Option<Money>,
    /// No transfer from `.0` (inclusive) to `.1` (exclusive), in minutes after local midnight;
    /// the window may wrap midnight (22:00-06:00 is `(1320, 360)`).
    pub quiet_hours: Option<(u32, u32)>,
}

impl TransferLimits {
    /// X3: may a donor who already made `done_today` transfers today give `amount` now, at
    /// `minute_of_day` local time?
    pub fn check(&self, amount: Money, done_today: u32, minute_of_day: u32) -> DomainResult<()> {
        if let Some(max) = self.per_transfer_max {
            if amount > max {
                return Err(DomainError::new(ErrorCode::QuotaLimit, "X3", format!("at most {max} per transfer; {amount} asked")));
            }
        }
        if let Some(per_day) = self.per_day {
            if done_today >= per_day {
                return Err(DomainError::new(ErrorCode::QuotaLimit, "X3", format!("at most {per_day} transfers a day; {done_today} made today")));
            }
        }
        if let Some((from, until)) = self.quiet_hours {
            let quiet = if from <= until { (from..until).contains(&minute_of_day) } else { minute_of_day >= from || minute_of_day < until };
            if quiet {
                return Err(DomainError::new(ErrorCode::QuotaLimit, "X3", format!("no transfers between {} and {} (local time)", clock(from), clock(until))));
            }
        }
        Ok(())
    }
}

/// `HH:MM` of minutes after midnight.
pub fn clock(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// ST10: no policy may admit a bill above this (100,000,000.00 yuan), and a policy that names no
/// maximum for a visit type admits at most this. It keeps every balance the bills move far
/// inside `i64` fen (see `account::SYSTEM_BALANCE_MAX`).
pub const BILL_AMOUNT_CEILING: Money = Money::from_fen(10_000_000_000);

/// ST10: how many days before the business date a bill may be dated when the policy file says
/// nothing: a year, the usual time limit for settling a bill late (after an outage, or as the
/// new bill of a correction, ST8).
pub const BILL_DATE_WINDOW_DAYS_DEFAULT: u32 = 365;

/// ST10: the bounds a policy puts on every bill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillBounds {
    /// The largest bill total admitted per visit type; a visit type not named admits
    /// [`BILL_AMOUNT_CEILING`].
    pub amount_max: BTreeMap<VisitType, Money>,
    /// A bill may be dated at most this many days before the business date, never after it.
    pub date_window_days: u32,
}

impl Default for BillBounds {
    fn default() -> BillBounds {
        BillBounds { amount_max: BTreeMap::new(), date_window_days: BILL_DATE_WINDOW_DAYS_DEFAULT }
    }
}

impl BillBounds {
    pub fn amount_max(&self, visit: VisitType) -> Money {
        self.amount_max.get(&visit).copied().unwrap_or(BILL_AMOUNT_CEILING).min(BILL_AMOUNT_CEILING)
    }

    /// ST10: refuses a bill of `total` for `visit` dated `bill_date`, on `business_date`, that
    /// is above the visit type's maximum, dated after the business date, or dated before the
    /// window.
    pub fn check(&self, visit: VisitType, total: Money, bill_date: NaiveDate, business_date: NaiveDate) -> DomainResult<()> {
        let max = self.amount_max(visit);
        if total > max {
            return Err(DomainError::new(
                ErrorCode::SettlementAmountLimit,
                "ST10",
                format!("the bill total {total} is above {max}, the most the policy admits for one {visit} bill"),
            ));
        }
        if bill_date > business_date {
            return Err(DomainError::new(
                ErrorCode::SettlementDateOutOfRange,
                "ST10",
                format!("the bill is dated {bill_date}, after the business date {business_date}"),
            ));
        }
        let earliest = business_date.checked_sub_days(chrono::Days::new(self.date_window_days.into())).unwrap_or(NaiveDate::MIN);
        if bill_date < earliest {
            return Err(DomainError::new(
                ErrorCode::SettlementDateOutOfRange,
                "ST10",
                format!(
                    "the bill is dated {bill_date}, more than {} days before the business date {business_date} (earliest {earliest})",
                    self.date_window_days
                ),
            ));
        }
        Ok(())
    }
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
    /// X3: limits on quota transfers to relatives.
    pub transfer_limits: TransferLimits,
    /// ST10: the largest bill per visit type and how far back a bill may be dated.
    pub bill_bounds: BillBounds,
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
        let mut policy = crate::testing::empty_policy();
        policy.id = format!("{area:?}-{from}");
        policy.area = area.map(|a| AreaCode::parse(a).unwrap());
        policy.effective_from = NaiveDate::parse_from_str(from, "%Y-%m-%d").unwrap();
        policy
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

    #[test]
    fn st10_bill_bounds_amount_per_visit_and_date_window() {
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let bounds = BillBounds { amount_max: BTreeMap::from([(VisitType::Outpatient, Money::yuan(50_000))]), date_window_days: 30 };
        let today = day("2024-06-30");
        let code = |r: DomainResult<()>| r.unwrap_err().code;
        assert!(bounds.check(VisitType::Outpatient, Money::yuan(50_000), today, today).is_ok());
        assert_eq!(code(bounds.check(VisitType::Outpatient, Money::from_fen(5_000_001), today, today)), ErrorCode::SettlementAmountLimit);
        // A visit type the policy does not name admits the ceiling, never more.
        assert!(bounds.check(VisitType::Inpatient, BILL_AMOUNT_CEILING, today, today).is_ok());
        assert_eq!(code(bounds.check(VisitType::Inpatient, BILL_AMOUNT_CEILING.plus(Money::from_fen(1)), today, today)), ErrorCode::SettlementAmountLimit);
        let huge = BillBounds { amount_max: BTreeMap::from([(VisitType::Inpatient, Money::from_fen(i64::MAX))]), date_window_days: 30 };
        assert_eq!(huge.amount_max(VisitType::Inpatient), BILL_AMOUNT_CEILING);
        // Dates: not after the business date, not before the window.
        assert_eq!(code(bounds.check(VisitType::Outpatient, Money::yuan(1), day("2024-07-01"), today)), ErrorCode::SettlementDateOutOfRange);
        assert_eq!(code(bounds.check(VisitType::Outpatient, Money::yuan(1), day("2099-12-31"), today)), ErrorCode::SettlementDateOutOfRange);
        assert!(bounds.check(VisitType::Outpatient, Money::yuan(1), day("2024-05-31"), today).is_ok());
        assert_eq!(code(bounds.check(VisitType::Outpatient, Money::yuan(1), day("2024-05-30"), today)), ErrorCode::SettlementDateOutOfRange);
        let forever = BillBounds { date_window_days: u32::MAX, ..BillBounds::default() };
        assert!(forever.check(VisitType::Outpatient, Money::yuan(1), day("1900-01-01"), today).is_ok());
    }

    #[test]
    fn x3_transfer_limits_per_transfer_per_day_and_quiet_hours() {
        let limits = TransferLimits { per_day: Some(3), per_transfer_max: Some(Money::yuan(2000)), quiet_hours: Some((22 * 60, 6 * 60)) };
        let noon = 12 * 60;
        assert!(limits.check(Money::yuan(2000), 2, noon).is_ok());
        let code = |r: DomainResult<()>| r.unwrap_err().code;
        assert_eq!(code(limits.check(Money::from_fen(200_001), 0, noon)), ErrorCode::QuotaLimit);
        assert_eq!(code(limits.check(Money::yuan(1), 3, noon)), ErrorCode::QuotaLimit);
        assert_eq!(code(limits.check(Money::yuan(1), 0, 22 * 60)), ErrorCode::QuotaLimit);
        assert_eq!(code(limits.check(Money::yuan(1), 0, 5 * 60 + 59)), ErrorCode::QuotaLimit);
        assert!(limits.check(Money::yuan(1), 0, 6 * 60).is_ok());
        assert!(limits.check(Money::yuan(1), 0, 21 * 60 + 59).is_ok());
        // A window inside one day, and no limits at all.
        let lunch = TransferLimits { quiet_hours: Some((12 * 60, 13 * 60)), ..TransferLimits::default() };
        assert!(lunch.check(Money::yuan(1), 0, 12 * 60 + 30).is_err() && lunch.check(Money::yuan(1), 0, 13 * 60).is_ok());
        assert!(TransferLimits::default().check(Money::yuan(1_000_000), 1000, 23 * 60).is_ok());
    }
}
