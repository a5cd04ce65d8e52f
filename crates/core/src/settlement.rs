//! Settlement (§9): the benefit split (ST1) and the account waterfall (ST2–ST4, ST7), as pure
//! functions over a snapshot. The engine loads the snapshot, calls these, and posts the result.

use chrono::NaiveDate;

use crate::account::AccountRef;
use crate::error::{DomainError, DomainResult, ErrorCode};
use crate::money::{Money, Ratio};
use crate::person::PersonStatus;
use crate::policy::{AccountScope, Benefit, BurdenPart, VisitType};
use crate::string_enum::string_enum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemClass {
    /// 甲类: fully in the catalogue.
    A,
    /// 乙类: in the catalogue with a first self-pay share (自理).
    B,
    /// 丙类: out of the catalogue (自费).
    C,
}

string_enum!(ItemClass { A => "A", B => "B", C => "C" });

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillItem {
    pub code: String,
    pub name: String,
    pub amount: Money,
    pub class: ItemClass,
}

/// How a bill's total divides between the pooled fund and the patient's burden parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BillSplit {
    pub fund_pay: Money,
    /// 自负
    pub self_borne: Money,
    /// 自理
    pub first_self_pay: Money,
    /// 自费
    pub self_funded: Money,
}

impl BillSplit {
    pub fn total(&self) -> Money {
        self.fund_pay.plus(self.self_borne).plus(self.first_self_pay).plus(self.self_funded)
    }

    pub fn burden(&self) -> Money {
        self.self_borne.plus(self.first_self_pay).plus(self.self_funded)
    }

    pub fn part(&self, part: BurdenPart) -> Money {
        match part {
            BurdenPart::SelfBorne => self.self_borne,
            BurdenPart::FirstSelfPay => self.first_self_pay,
            BurdenPart::SelfFunded => self.self_funded,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BillContent {
    /// Items priced by the institution; gongji computes the split (ST1).
    Items(Vec<BillItem>),
    /// An upstream engine already split the bill; gongji only checks and pays it.
    Split(BillSplit),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bill {
    pub institution: String,
    pub bill_id: String,
    pub patient: String,
    pub visit: VisitType,
    pub date: NaiveDate,
    pub content: BillContent,
}

/// Items per bill at most; a hospital stay has a few thousand lines at worst.
pub const BILL_ITEMS_MAX: usize = 10_000;

impl Bill {
    /// Refuses ids and item texts that the one text rule refuses (`input.invalid`, issue 12:
    /// institution and bill id are identifiers, the patient a psn_no, item code and name free
    /// text), negative or zero amounts, overflowing totals and empty bills.
    pub fn validate(&self) -> DomainResult<()> {
        use crate::text;
        let invalid = |why: String| DomainError::new(ErrorCode::SettlementInvalidBill, "ST1", why);
        text::check_identifier("institution", "§9", &self.institution, text::IDENTIFIER_LEN_MAX)?;
        text::check_identifier("bill_id", "ST6", &self.bill_id, text::IDENTIFIER_LEN_MAX)?;
        text::check_psn_no("patient", "§9", &self.patient)?;
        match &self.content {
            BillContent::Items(items) => {
                if items.is_empty() || items.len() > BILL_ITEMS_MAX {
                    return Err(invalid(format!("a bill has 1..={BILL_ITEMS_MAX} items")));
                }
                let mut total = Money::ZERO;
                for (index, item) in items.iter().enumerate() {
                    text::check_text(&format!("item {} code", index + 1), "§9", &item.code, text::ITEM_CODE_CHARS_MAX)?;
                    text::check_optional_text(&format!("item {} name", index + 1), "§9", &item.name, text::ITEM_NAME_CHARS_MAX)?;
                    if !item.amount.is_positive() {
                        return Err(DomainError::new(
                            ErrorCode::MoneyInvalidAmount,
                            "P3",
                            format!("item {} ({}) must have a positive amount", index + 1, item.code),
                        ));
                    }
                    total = total.checked_add(item.amount).ok_or_else(|| invalid("bill total overflows".into()))?;
                }
            }
            BillContent::Split(split) => {
                let parts = [split.fund_pay, split.self_borne, split.first_self_pay, split.self_funded];
                if parts.iter().any(|p| p.is_negative()) {
                    return Err(DomainError::new(ErrorCode::MoneyInvalidAmount, "P3", "split amounts must not be negative"));
                }
                let mut total = Money::ZERO;
                for part in parts {
                    total = total.checked_add(part).ok_or_else(|| invalid("bill total overflows".into()))?;
                }
                if total.is_zero() {
                    return Err(invalid("the bill total is zero".into()));
                }
            }
        }
        Ok(())
    }

    /// The bill's content as one canonical line, so that a repeat can be compared (ST6).
    pub fn fingerprint(&self) -> String {
        let content = match &self.content {
            // `|` and `;` inside a code or name are escaped, so that two different bills never
            // share a fingerprint (a text without them reads as it always did).
            BillContent::Items(items) => {
                items.iter().map(|i| format!("{}|{}|{}|{}", escape(&i.code), escape(&i.name), i.amount.fen(), i.class)).collect::<Vec<_>>().join(";")
            }
            BillContent::Split(s) => format!("split|{}|{}|{}|{}", s.fund_pay.fen(), s.self_borne.fen(), s.first_self_pay.fen(), s.self_funded.fen()),
        };
        format!("{}\n{}\n{}\n{}\n{}\n{}", self.institution, self.bill_id, self.patient, self.visit, self.date, content)
    }
}

/// A fingerprint field with its separators escaped (`\\`, `\|`, `\;`).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '|' | ';') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A person's running totals for one visit type in one year (ST1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct YearTotals {
    pub deductible_used: Money,
    pub fund_paid: Money,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BenefitOutcome {
    pub split: BillSplit,
    pub deductible_applied: Money,
    pub totals_after: YearTotals,
}

/// ST1: class-B first self-pay = B × ratio; in-scope = A + B − 自理; the fund pays in-scope
/// above the remaining deductible × ratio, up to the remaining annual cap; 自负 is the rest
/// of in-scope; 自费 = class C. An upstream split is taken as given (only the fund total counts).
pub fn compute_benefit(content: &BillContent, benefit: &Benefit, class_b_self_pay_ratio: Ratio, totals: YearTotals) -> BenefitOutcome {
    match content {
        BillContent::Split(split) => BenefitOutcome {
            split: *split,
            deductible_applied: Money::ZERO,
            totals_after: YearTotals { deductible_used: totals.deductible_used, fund_paid: totals.fund_paid.plus(split.fund_pay) },
        },
        BillContent::Items(items) => {
            let sum_class = |class| items.iter().filter(|i| i.class == class).map(|i| i.amount).sum::<Money>();
            let (class_a, class_b, class_c) = (sum_class(ItemClass::A), sum_class(ItemClass::B), sum_class(ItemClass::C));
            let first_self_pay = class_b.times(class_b_self_pay_ratio);
            let in_scope = class_a.plus(class_b).minus(first_self_pay);
            let deductible_left = benefit.deductible.minus(totals.deductible_used).max(Money::ZERO);
            let deductible_applied = in_scope.min(deductible_left);
            let above_deductible = in_scope.minus(deductible_applied);
            let cap_left = benefit.annual_cap.minus(totals.fund_paid).max(Money::ZERO);
            let fund_pay = above_deductible.times(benefit.fund_ratio).min(cap_left);
            let split = BillSplit { fund_pay, self_borne: in_scope.minus(fund_pay), first_self_pay, self_funded: class_c };
            BenefitOutcome {
                split,
                deductible_applied,
                totals_after: YearTotals { deductible_used: totals.deductible_used.plus(deductible_applied), fund_paid: totals.fund_paid.plus(fund_pay) },
            }
        }
    }
}

/// Where a funding source stands in the waterfall (ST2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceRole {
    OwnCur,
    OwnHis,
    OwnMut,
    /// Another network member's MUT; `position` is 1-based in the payment order.
    FamilyMut {
        position: u32,
    },
    /// A bound relative's account above the threshold (S2).
    Association,
    /// Quota money near relatives set aside for the patient (X2).
    Quota,
}

impl SourceRole {
    /// The stored text form: `own_cur`, `own_his`, `own_mut`, `family_mut:<position>`,
    /// `association`, `quota`.
    pub fn key(self) -> String {
        match self {
            SourceRole::OwnCur => "own_cur".into(),
            SourceRole::OwnHis => "own_his".into(),
            SourceRole::OwnMut => "own_mut".into(),
            SourceRole::FamilyMut { position } => format!("family_mut:{position}"),
            SourceRole::Association => "association".into(),
            SourceRole::Quota => "quota".into(),
        }
    }

    /// The role of a stored text form ([`SourceRole::key`]).
    pub fn parse_key(text: &str) -> Option<SourceRole> {
        match text {
            "own_cur" => Some(SourceRole::OwnCur),
            "own_his" => Some(SourceRole::OwnHis),
            "own_mut" => Some(SourceRole::OwnMut),
            "association" => Some(SourceRole::Association),
            "quota" => Some(SourceRole::Quota),
            other => {
                let position = other.strip_prefix("family_mut:")?;
                if position.starts_with('0') || position.starts_with('+') {
                    return None;
                }
                position.parse().ok().map(|position| SourceRole::FamilyMut { position })
            }
        }
    }

    pub fn label_zh(self) -> String {
        match self {
            SourceRole::OwnCur => "本人当年账户".into(),
            SourceRole::OwnHis => "本人历年账户".into(),
            SourceRole::OwnMut => "本人共济账户".into(),
            SourceRole::FamilyMut { position } => format!("家庭共济网成员共济账户（支付顺序第{position}位）"),
            SourceRole::Association => "关联亲属个人账户".into(),
            SourceRole::Quota => "近亲属共济额度".into(),
        }
    }

    fn is_mutual_aid(self) -> bool {
        matches!(self, SourceRole::OwnMut | SourceRole::FamilyMut { .. })
    }
}

/// One account the waterfall may draw on, with what the rules need to know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FundingSource {
    pub account: AccountRef,
    pub role: SourceRole,
    pub owner_status: PersonStatus,
    /// The owner is a network member who has not confirmed yet (N10).
    pub owner_pending: bool,
    pub balance: Money,
    /// Only the balance above this may be used (S2); zero for the other roles.
    pub reserved: Money,
    pub scope: AccountScope,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentLine {
    pub account: AccountRef,
    pub role: SourceRole,
    pub amount: Money,
}

/// Why an account paid or did not (ST7). `code` is stable; `message` is for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExplanationStep {
    pub account: Option<AccountRef>,
    pub role: Option<SourceRole>,
    pub amount: Money,
    pub code: &'static str,
    pub rule: &'static str,
    pub message: String,
}

pub mod step_code {
    pub const FUND: &str = "paid.fund";
    pub const PAID: &str = "paid.account";
    pub const CASH: &str = "paid.cash";
    pub const SKIP_SETTLED: &str = "skip.nothing_left";
    pub const SKIP_SCOPE: &str = "skip.scope";
    pub const SKIP_STATUS: &str = "skip.status";
    pub const SKIP_ZERO: &str = "skip.zero_balance";
    pub const SKIP_ONE_MUT: &str = "skip.one_mut";
    pub const SKIP_PENDING: &str = "skip.pending_consent";
    pub const SKIP_THRESHOLD: &str = "skip.threshold";
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentPlan {
    pub split: BillSplit,
    pub lines: Vec<PaymentLine>,
    pub cash: Money,
    pub steps: Vec<ExplanationStep>,
}

const PART_ORDER: [BurdenPart; 3] = [BurdenPart::SelfBorne, BurdenPart::FirstSelfPay, BurdenPart::SelfFunded];

/// ST2–ST4, ST7: walks `sources` in the given order (own CUR, own HIS, own MUT, family MUTs in
/// payment order, association), each paying what its scope allows of what is left, with at
/// most one MUT account per settlement; the rest is cash. Every source gets a step saying
/// what it paid or why it paid nothing.
pub fn plan_payment(split: BillSplit, visit: VisitType, sources: &[FundingSource]) -> PaymentPlan {
    let mut left = [split.self_borne, split.first_self_pay, split.self_funded];
    let mut lines = Vec::new();
    let mut steps = vec![ExplanationStep {
        account: None,
        role: None,
        amount: split.fund_pay,
        code: step_code::FUND,
        rule: "ST1",
        message: format!(
            "统筹基金支付 {} 元；个人负担 {} 元（自负 {}、自理 {}、自费 {}）",
            split.fund_pay,
            split.burden(),
            split.self_borne,
            split.first_self_pay,
            split.self_funded
        ),
    }];
    let mut mutual_aid_used = false;
    for source in sources {
        let label = source.role.label_zh();
        let skip = |code: &'static str, rule: &'static str, message: String| ExplanationStep {
            account: Some(source.account.clone()),
            role: Some(source.role),
            amount: Money::ZERO,
            code,
            rule,
            message,
        };
        let remaining: Money = left.iter().copied().sum();
        if remaining.is_zero() {
            steps.push(skip(step_code::SKIP_SETTLED, "ST2", format!("{label}：本次个人负担已付清，无需使用")));
            continue;
        }
        if source.owner_status != PersonStatus::Normal {
            steps.push(skip(step_code::SKIP_STATUS, "ST4", format!("{label}：账户所有人状态为{}，不能使用", status_zh(source.owner_status))));
            continue;
        }
        if source.owner_pending {
            steps.push(skip(step_code::SKIP_PENDING, "N10", format!("{label}：该成员尚未确认加入家庭共济网，资金暂不共享")));
            continue;
        }
        if source.role.is_mutual_aid() && mutual_aid_used {
            steps.push(skip(step_code::SKIP_ONE_MUT, "ST3", format!("{label}：本次结算已使用一个共济账户，一次结算只能使用一个共济账户")));
            continue;
        }
        let payable_parts: Vec<usize> = (0..3).filter(|&i| !left[i].is_zero() && source.scope.allows(PART_ORDER[i], visit)).collect();
        if payable_parts.is_empty() {
            let parts: Vec<&str> = (0..3).filter(|&i| !left[i].is_zero()).map(|i| PART_ORDER[i].label_zh()).collect();
            steps.push(skip(step_code::SKIP_SCOPE, "ST2", format!("{label}：按政策不能支付{}类就诊的{}费用", visit_zh(visit), parts.join("、"))));
            continue;
        }
        let available = source.balance.minus(source.reserved).max(Money::ZERO);
        if available.is_zero() {
            let step = if source.reserved.is_positive() {
                skip(step_code::SKIP_THRESHOLD, "S2", format!("{label}：余额 {} 元未超过保留额 {} 元", source.balance, source.reserved))
            } else {
                skip(step_code::SKIP_ZERO, "ST2", format!("{label}：余额为零"))
            };
            steps.push(step);
            continue;
        }
        let mut paid = Money::ZERO;
        let mut paid_parts = Vec::new();
        for i in payable_parts {
            let take = left[i].min(available.minus(paid));
            if take.is_zero() {
                break;
            }
            left[i] = left[i].minus(take);
            paid = paid.plus(take);
            paid_parts.push(format!("{} {}", PART_ORDER[i].label_zh(), take));
        }
        if source.role.is_mutual_aid() {
            mutual_aid_used = true;
        }
        lines.push(PaymentLine { account: source.account.clone(), role: source.role, amount: paid });
        steps.push(ExplanationStep {
            account: Some(source.account.clone()),
            role: Some(source.role),
            amount: paid,
            code: step_code::PAID,
            rule: "ST2",
            message: format!("{label}支付 {paid} 元（{}）", paid_parts.join("，")),
        });
    }
    let cash: Money = left.iter().copied().sum();
    steps.push(ExplanationStep {
        account: None, role: None, amount: cash, code: step_code::CASH, rule: "ST2", message: format!("个人现金支付 {cash} 元")
    });
    PaymentPlan { split, lines, cash, steps }
}

pub fn status_zh(status: PersonStatus) -> &'static str {
    match status {
        PersonStatus::Normal => "正常",
        PersonStatus::Suspended => "暂停",
        PersonStatus::Cancelled => "撤销",
        PersonStatus::PendingLiquidation => "撤销待清算",
    }
}

pub fn visit_zh(visit: VisitType) -> &'static str {
    match visit {
        VisitType::Outpatient => "门诊",
        VisitType::Emergency => "急诊",
        VisitType::Inpatient => "住院",
        VisitType::Pharmacy => "定点药店购药",
        VisitType::Community => "社区卫生服务",
        VisitType::Vaccination => "预防接种",
    }
}

impl Bill {
    /// The bill's total: the sum of its items or of its split (ST10 bounds it). Saturates
    /// instead of overflowing, so that a bill [`Bill::validate`] would refuse still compares
    /// as too large.
    pub fn total(&self) -> Money {
        let amounts: Vec<Money> = match &self.content {
            BillContent::Items(items) => items.iter().map(|item| item.amount).collect(),
            BillContent::Split(split) => vec![split.fund_pay, split.self_borne, split.first_self_pay, split.self_funded],
        };
        amounts.into_iter().try_fold(Money::ZERO, |sum, amount| sum.checked_add(amount)).unwrap_or(Money::from_fen(i64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::PersonAccount;
    use crate::policy::BurdenPart::*;
    use crate::policy::VisitType::*;

    fn all_scope() -> AccountScope {
        AccountScope { parts: vec![SelfBorne, FirstSelfPay, SelfFunded], visits: VisitType::ALL.to_vec() }
    }

    fn cur_scope() -> AccountScope {
        AccountScope { parts: vec![SelfBorne], visits: vec![Outpatient, Emergency, Pharmacy] }
    }

    fn source(psn: &str, kind: PersonAccount, role: SourceRole, balance: i64) -> FundingSource {
        FundingSource {
            account: AccountRef::person(psn, kind),
            role,
            owner_status: PersonStatus::Normal,
            owner_pending: false,
            balance: Money::yuan(balance),
            reserved: Money::ZERO,
            scope: if kind == PersonAccount::Cur { cur_scope() } else { all_scope() },
        }
    }

    fn split(fund: i64, borne: i64) -> BillSplit {
        BillSplit { fund_pay: Money::yuan(fund), self_borne: Money::yuan(borne), ..BillSplit::default() }
    }

    fn paid(plan: &PaymentPlan) -> Vec<(String, i64)> {
        plan.lines.iter().map(|l| (l.account.key(), l.amount.fen() / 100)).collect()
    }

    #[test]
    fn st2_source_roles_read_back_from_their_key() {
        for role in
            [SourceRole::OwnCur, SourceRole::OwnHis, SourceRole::OwnMut, SourceRole::FamilyMut { position: 12 }, SourceRole::Association, SourceRole::Quota]
        {
            assert_eq!(SourceRole::parse_key(&role.key()), Some(role));
        }
        for bad in ["family_mut:", "family_mut:x", "family_mut:01", "family_mut:+1", "own", ""] {
            assert_eq!(SourceRole::parse_key(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn st6_different_item_texts_never_share_a_fingerprint() {
        let bill = |code: &str, name: &str| Bill {
            institution: "H1".into(),
            bill_id: "b".into(),
            patient: "P".into(),
            visit: Outpatient,
            date: NaiveDate::from_ymd_opt(2024, 3, 1).unwrap(),
            content: BillContent::Items(vec![BillItem { code: code.into(), name: name.into(), amount: Money::yuan(1), class: ItemClass::A }]),
        };
        // Under the old format both read "a|b|c|100|A".
        assert_ne!(bill("a|b", "c").fingerprint(), bill("a", "b|c").fingerprint());
        assert_ne!(bill("a;b", "c").fingerprint(), bill("a", "b;c").fingerprint());
        assert_ne!(bill("a\\", "|c").fingerprint(), bill("a\\|", "c").fingerprint());
        // A text without separators reads as it always did (stored fingerprints still match).
        assert!(bill("X1", "药").fingerprint().ends_with("X1|药|100|A"));
    }

    #[test]
    fn st2_st3_seed003_example_four_own_mut_counts_as_the_one() {
        // B: HIS 100, MUT 50; A's MUT 1000 is not used because B's own MUT was (ST3).
        let sources = [
            source("B", PersonAccount::Cur, SourceRole::OwnCur, 0),
            source("B", PersonAccount::His, SourceRole::OwnHis, 100),
            source("B", PersonAccount::Mut, SourceRole::OwnMut, 50),
            source("A", PersonAccount::Mut, SourceRole::FamilyMut { position: 1 }, 1000),
        ];
        let plan = plan_payment(split(800, 200), Outpatient, &sources);
        assert_eq!(paid(&plan), vec![("P:B:his".into(), 100), ("P:B:mut".into(), 50)]);
        assert_eq!(plan.cash, Money::yuan(50));
        assert!(plan.steps.iter().any(|s| s.code == step_code::SKIP_ONE_MUT && s.rule == "ST3"));
    }

    #[test]
    fn st2_first_family_mut_with_money_in_order_then_no_other() {
        let mut father = source("F", PersonAccount::Mut, SourceRole::FamilyMut { position: 1 }, 0);
        father.balance = Money::from_fen(100);
        let sources =
            [source("H", PersonAccount::His, SourceRole::OwnHis, 10), father, source("W", PersonAccount::Mut, SourceRole::FamilyMut { position: 2 }, 400)];
        let plan = plan_payment(split(80, 20), Outpatient, &sources);
        assert_eq!(paid(&plan), vec![("P:H:his".into(), 10), ("P:F:mut".into(), 1)]);
        assert_eq!(plan.cash, Money::yuan(9));
    }

    #[test]
    fn st4_not_normal_owner_is_skipped_and_st7_explains_why() {
        let mut suspended = source("F", PersonAccount::Mut, SourceRole::FamilyMut { position: 1 }, 100);
        suspended.owner_status = PersonStatus::Suspended;
        let mut pending = source("G", PersonAccount::Mut, SourceRole::FamilyMut { position: 2 }, 100);
        pending.owner_pending = true;
        let sources = [suspended, pending, source("W", PersonAccount::Mut, SourceRole::FamilyMut { position: 3 }, 100)];
        let plan = plan_payment(split(0, 30), Inpatient, &sources);
        assert_eq!(paid(&plan), vec![("P:W:mut".into(), 30)]);
        let codes: Vec<&str> = plan.steps.iter().map(|s| s.code).collect();
        assert_eq!(codes, vec![step_code::FUND, step_code::SKIP_STATUS, step_code::SKIP_PENDING, step_code::PAID, step_code::CASH]);
    }

    #[test]
    fn st2_scope_cur_pays_only_in_scope_outpatient_costs() {
        let sources = [source("P", PersonAccount::Cur, SourceRole::OwnCur, 1000), source("P", PersonAccount::His, SourceRole::OwnHis, 1000)];
        // Inpatient: CUR may not pay; HIS pays all.
        let plan = plan_payment(split(0, 50), Inpatient, &sources);
        assert_eq!(paid(&plan), vec![("P:his".replace("P:", "P:P:"), 50)]);
        assert_eq!(plan.steps[1].code, step_code::SKIP_SCOPE);
        // Outpatient with 自费: CUR pays 自负, HIS pays 自费.
        let mixed = BillSplit { self_borne: Money::yuan(30), self_funded: Money::yuan(20), ..BillSplit::default() };
        let plan = plan_payment(mixed, Outpatient, &sources);
        assert_eq!(paid(&plan), vec![("P:P:cur".into(), 30), ("P:P:his".into(), 20)]);
        assert_eq!(plan.cash, Money::ZERO);
    }

    #[test]
    fn s2_only_the_part_above_the_threshold_pays() {
        let mut bound = source("R", PersonAccount::His, SourceRole::Association, 5000);
        bound.reserved = Money::yuan(4200);
        let plan = plan_payment(split(0, 1000), Outpatient, &[bound.clone()]);
        assert_eq!(paid(&plan), vec![("P:R:his".into(), 800)]);
        bound.balance = Money::yuan(4000);
        let plan = plan_payment(split(0, 1000), Outpatient, &[bound]);
        assert_eq!(plan.steps[1].code, step_code::SKIP_THRESHOLD);
    }

    #[test]
    fn st1_benefit_split_with_deductible_ratio_and_cap() {
        let benefit = Benefit { deductible: Money::yuan(100), fund_ratio: Ratio::parse("0.8").unwrap(), annual_cap: Money::yuan(1000) };
        let items = BillContent::Items(vec![
            BillItem { code: "a".into(), name: "甲".into(), amount: Money::yuan(300), class: ItemClass::A },
            BillItem { code: "b".into(), name: "乙".into(), amount: Money::yuan(200), class: ItemClass::B },
            BillItem { code: "c".into(), name: "丙".into(), amount: Money::yuan(50), class: ItemClass::C },
        ]);
        let ratio_b = Ratio::parse("0.1").unwrap();
        let outcome = compute_benefit(&items, &benefit, ratio_b, YearTotals::default());
        // 自理 = 20; in-scope = 480; deductible 100; fund = 380 × 0.8 = 304; 自负 = 176; 自费 = 50.
        assert_eq!(
            outcome.split,
            BillSplit { fund_pay: Money::yuan(304), self_borne: Money::yuan(176), first_self_pay: Money::yuan(20), self_funded: Money::yuan(50) }
        );
        assert_eq!(outcome.split.total(), Money::yuan(550));
        // Second bill in the year: deductible used up, cap 1000 − 304 left = 696.
        let big = BillContent::Items(vec![BillItem { code: "a".into(), name: "甲".into(), amount: Money::yuan(2000), class: ItemClass::A }]);
        let second = compute_benefit(&big, &benefit, ratio_b, outcome.totals_after);
        assert_eq!(second.split.fund_pay, Money::yuan(696));
        assert_eq!(second.split.self_borne, Money::yuan(1304));
        assert_eq!(second.totals_after.fund_paid, Money::yuan(1000));
    }

    #[test]
    fn st1_bill_validation() {
        let bill = |content| Bill {
            institution: "H1".into(),
            bill_id: "1".into(),
            patient: "P".into(),
            visit: Outpatient,
            date: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
            content,
        };
        assert!(bill(BillContent::Split(split(1, 1))).validate().is_ok());
        let negative = BillSplit { fund_pay: Money::yuan(-1), self_borne: Money::yuan(2), ..BillSplit::default() };
        assert_eq!(bill(BillContent::Split(negative)).validate().unwrap_err().code, ErrorCode::MoneyInvalidAmount);
        assert_eq!(bill(BillContent::Items(vec![])).validate().unwrap_err().code, ErrorCode::SettlementInvalidBill);
        assert_eq!(bill(BillContent::Split(BillSplit::default())).validate().unwrap_err().code, ErrorCode::SettlementInvalidBill);
    }
}
