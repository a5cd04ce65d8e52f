//! The JSON shapes of the HTTP API, converted by hand to and from the core's types. Money is a
//! decimal string in and out (P3: `Money::parse`, `Display` with two decimals); dates are
//! `YYYY-MM-DD`. Every request type refuses unknown fields.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use gongji_core::settlement::{Bill, BillContent, BillItem, BillSplit, ItemClass};
use gongji_core::{AccountRef, Money, PersonAccount, VisitType};
use gongji_engine::queries::PersonOverview;
use gongji_engine::settlement::{CancelOutcome, Explanation, Payment, SettlementOutcome, Step};
use gongji_store::{MutMovement, NetworkEvent, StatementLine};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::problem::ApiError;

// ---- requests ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterPersonRequest {
    pub psn_no: String,
    pub name: String,
    /// 18-digit resident ID number (GB 11643, P1).
    pub id_number: String,
    /// 6-digit planning area.
    pub area: String,
    /// `employee`, `resident` or `special`.
    pub insurance: String,
    pub phone: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditRequest {
    /// `cur` (contribution) or `his` (opening balance), P5.
    pub account: String,
    /// Decimal string, e.g. `"1000"` or `"12.50"`.
    pub amount: String,
    /// The agency's voucher number; the idempotency key of the credit.
    pub reference: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNetworkRequest {
    pub promoter: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    pub member: String,
    /// `spouse`, `parent`, `child` (or another relation the policy allows).
    pub relation: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReorderRequest {
    /// Every member's psn_no once, in the new payment order (N6).
    pub order: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveRequest {
    /// `his` or `mut`.
    pub from: String,
    /// `mut` or `his`.
    pub to: String,
    pub amount: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresetRequest {
    /// The yearly HIS→MUT amount (T2); `null` clears it.
    pub amount: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplainRequest {
    pub visit: String,
    /// The hypothetical personal burden.
    pub amount: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BillRequest {
    /// Unique per institution (ST6).
    pub bill_id: String,
    pub patient: String,
    /// `outpatient`, `emergency`, `inpatient`, `pharmacy`, `community`, `vaccination`.
    pub visit: String,
    /// The bill date; the server's business date when absent.
    pub date: Option<String>,
    /// Items priced by the institution; gongji computes the split (ST1). Give items or split.
    pub items: Option<Vec<ItemRequest>>,
    /// A split already computed upstream.
    pub split: Option<SplitRequest>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemRequest {
    pub code: String,
    pub name: Option<String>,
    pub amount: String,
    /// `A`, `B` or `C`.
    pub class: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitRequest {
    pub fund_pay: Option<String>,
    pub self_borne: Option<String>,
    pub first_self_pay: Option<String>,
    pub self_funded: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatementQuery {
    /// `cur`, `his` or `mut`.
    pub account: String,
    /// First day, `YYYY-MM-DD`.
    pub from: String,
    /// Last day, `YYYY-MM-DD`.
    pub to: String,
}

/// Rows per page when the caller gives no `limit` (JSON).
pub const PAGE_LEN_DEFAULT: usize = 100;
/// Rows per page at most (JSON and CSV).
pub const PAGE_LEN_MAX: usize = 10_000;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BatchQuery {
    /// First day, `YYYY-MM-DD`.
    pub from: String,
    /// Last day, `YYYY-MM-DD`.
    pub to: String,
    /// Rows per page: 100 by default for JSON, everything up to 10000 for CSV.
    pub limit: Option<usize>,
    /// Rows to skip (the `next_offset` of the previous page).
    pub offset: Option<usize>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

// ---- responses ----

#[derive(Debug, Serialize, ToSchema)]
pub struct Balances {
    pub cur: String,
    pub his: String,
    #[serde(rename = "mut")]
    pub mutual: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    pub psn_no: String,
    pub relation: Option<String>,
    /// `pending` or `active` (N10).
    pub state: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NetworkView {
    pub network_id: i64,
    /// `promoter` or `member`.
    pub role: String,
    pub promoter: String,
    /// 1-based place in the payment order (N6).
    pub position: u32,
    pub state: String,
    pub relation: Option<String>,
    pub members: Vec<MemberView>,
}

/// Q1: a person's accounts, network and role. The ID number is always masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonView {
    pub psn_no: String,
    pub name: String,
    pub id_number_masked: String,
    pub area: String,
    pub insurance: String,
    pub status: String,
    pub balances: Balances,
    pub preset: Option<String>,
    pub network: Option<NetworkView>,
    /// Association bindings in force, as binder or relative (S1).
    pub bindings: Vec<crate::family_api::BindingView>,
    /// Quota relationships in force, as donor or relative, with what is left (X2).
    pub quotas: Vec<crate::family_api::QuotaView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegisteredView {
    pub psn_no: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreditView {
    pub psn_no: String,
    pub account: String,
    pub amount: String,
    /// False when this reference was credited before (nothing credited twice, P5).
    pub credited: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NetworkCreatedView {
    pub network_id: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberAddedView {
    /// `active`, or `pending` until the member confirms (N10).
    pub state: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MoveView {
    pub entry_id: i64,
    pub from: String,
    pub to: String,
    pub amount: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StepView {
    pub code: String,
    pub rule: String,
    /// `PSN.account`; `null` for the fund and cash steps; `family.<kind>` for another member's account shown to an institution.
    pub account: Option<String>,
    pub role: Option<String>,
    pub amount: String,
    pub message: String,
}

/// A settlement or pre-settlement (ST1–ST7).
#[derive(Debug, Serialize, ToSchema)]
pub struct SettlementView {
    pub institution: String,
    pub bill_id: String,
    /// ST6: this settlement's id: the bill id for a bill's first settlement, `<bill id>#<n>`
    /// for the n-th (a bill whose settlement was cancelled settles again as a new one).
    pub settlement_id: String,
    pub patient: String,
    pub visit: String,
    pub policy: String,
    pub total: String,
    pub fund_pay: String,
    pub self_borne: String,
    pub first_self_pay: String,
    pub self_funded: String,
    /// `PSN.account` → amount, only accounts that paid. Shown to an institution, another
    /// family member's account is `family.mut`.
    pub payments: BTreeMap<String, String>,
    pub cash: String,
    /// True when this answers a repeat of a bill already settled (ST6).
    pub replayed: bool,
    /// Whether this settlement was cancelled since (ST8); an answer to a settle never is.
    pub cancelled: bool,
    pub steps: Vec<StepView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CancelView {
    pub institution: String,
    pub bill_id: String,
    /// The settlement that was cancelled (ST6, ST8).
    pub settlement_id: String,
    /// Returned straight to the accounts that paid.
    pub returned: BTreeMap<String, String>,
    /// Held for a former network member, moved to their HIS by the nightly job (ST8, B3).
    pub held: BTreeMap<String, String>,
    pub fund_pay: String,
    pub cash: String,
    pub replayed: bool,
}

/// Q4: which family money a patient could use now, and why not.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExplainView {
    pub patient: String,
    pub visit: String,
    pub amount: String,
    pub policy: String,
    pub payments: BTreeMap<String, String>,
    pub cash: String,
    pub steps: Vec<StepView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatementLineView {
    pub entry_id: i64,
    pub kind: String,
    pub business_date: String,
    pub amount: String,
    pub memo: String,
}

/// Q2: postings of one account in a date range.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatementView {
    pub psn_no: String,
    pub account: String,
    pub from: String,
    pub to: String,
    pub lines: Vec<StatementLineView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NetworkEventView {
    pub id: i64,
    pub network_id: i64,
    pub business_date: String,
    /// `created`, `member_added`, `member_confirmed`, `member_removed`, `member_left`, `reordered`, `dissolved`.
    pub kind: String,
    pub subject: Option<String>,
    pub detail: String,
    pub actor: String,
    pub channel: String,
    pub recorded_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NetworkEventsPage {
    pub items: Vec<NetworkEventView>,
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    /// The `offset` of the next page; `null` on the last page.
    pub next_offset: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MutMovementView {
    pub entry_id: i64,
    pub business_date: String,
    pub psn_no: String,
    pub kind: String,
    pub amount: String,
    pub actor: String,
    pub channel: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MutMovementsPage {
    pub items: Vec<MutMovementView>,
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    pub next_offset: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub accounts: u64,
    pub entries: u64,
    pub postings: u64,
    pub ledger_total: String,
    pub mismatched: usize,
    pub unbalanced_entries: usize,
    pub negative: usize,
    /// ST10, B1: accounts whose balance or daily-balance product is outside its admitted range.
    pub out_of_range: usize,
    pub clean: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthView {
    pub status: String,
    pub store: String,
}

// ---- conversions ----

pub fn parse_date(text: &str, what: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| ApiError::input(format!("{what} must be a date YYYY-MM-DD, not {text:?}")))
}

pub fn parse_account(text: &str) -> Result<PersonAccount, ApiError> {
    PersonAccount::parse(text).ok_or_else(|| ApiError::input(format!("account is cur, his or mut, not {text:?}")))
}

pub fn parse_visit(text: &str) -> Result<VisitType, ApiError> {
    VisitType::parse(text).ok_or_else(|| ApiError::input(format!("unknown visit type {text:?}")))
}

impl BillRequest {
    /// The core's bill, checked by [`Bill::validate`]; money parsed by `Money::parse` (P3).
    pub fn to_bill(&self, institution: &str, business_date: NaiveDate) -> Result<Bill, ApiError> {
        let visit = parse_visit(&self.visit)?;
        let date = match &self.date {
            Some(text) => parse_date(text, "date")?,
            None => business_date,
        };
        let content = match (&self.items, &self.split) {
            (Some(items), None) => {
                let mut parsed = Vec::with_capacity(items.len());
                for item in items {
                    let class = ItemClass::parse(&item.class).ok_or_else(|| ApiError::input(format!("item class is A, B or C, not {:?}", item.class)))?;
                    parsed.push(BillItem { code: item.code.clone(), name: item.name.clone().unwrap_or_default(), amount: Money::parse(&item.amount)?, class });
                }
                BillContent::Items(parsed)
            }
            (None, Some(split)) => {
                let part = |value: &Option<String>| -> Result<Money, ApiError> { Ok(value.as_deref().map(Money::parse).transpose()?.unwrap_or_default()) };
                BillContent::Split(BillSplit {
                    fund_pay: part(&split.fund_pay)?,
                    self_borne: part(&split.self_borne)?,
                    first_self_pay: part(&split.first_self_pay)?,
                    self_funded: part(&split.self_funded)?,
                })
            }
            _ => return Err(ApiError::input("a bill gives either `items` or `split`")),
        };
        let bill = Bill { institution: institution.to_string(), bill_id: self.bill_id.clone(), patient: self.patient.clone(), visit, date, content };
        // The ids and item texts by the one text rule (issue 12), before the engine sees it.
        bill.validate()?;
        Ok(bill)
    }
}

/// How accounts are named to a caller: `PSN.account` for everyone but institutions, which see
/// the patient's own accounts by name and another family member's only as `family.<kind>`
/// (personal data beyond what a settlement needs stays with the agency, §12).
#[derive(Debug, Clone, Copy)]
pub struct Naming<'a> {
    pub patient: &'a str,
    pub redact_family: bool,
}

impl Naming<'_> {
    pub fn name(&self, account: &AccountRef) -> Option<String> {
        match account {
            AccountRef::Person { psn_no, kind } if self.redact_family && psn_no != self.patient => Some(format!("family.{kind}")),
            AccountRef::Person { psn_no, kind } => Some(format!("{psn_no}.{kind}")),
            AccountRef::System { .. } if self.redact_family => None,
            AccountRef::System { .. } => Some(account.key()),
        }
    }

    fn name_or_key(&self, account: &AccountRef) -> String {
        self.name(account).unwrap_or_else(|| "system".into())
    }

    pub fn payments(&self, payments: &[Payment]) -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        for payment in payments {
            add_money(&mut map, self.name_or_key(&payment.account), payment.amount);
        }
        map
    }

    pub fn steps(&self, steps: &[Step]) -> Vec<StepView> {
        steps
            .iter()
            .map(|s| StepView {
                code: s.code.clone(),
                rule: s.rule.clone(),
                account: s.account.as_deref().and_then(AccountRef::parse_key).and_then(|a| self.name(&a)),
                role: s.role.clone(),
                amount: s.amount.to_string(),
                message: s.message.clone(),
            })
            .collect()
    }

    /// A settlement answered as paid: one that stands, never cancelled (ST6).
    pub fn settlement(&self, outcome: &SettlementOutcome) -> SettlementView {
        self.settlement_as(outcome, false)
    }

    /// A settlement with whether it was cancelled since (the stored bill, Q2).
    pub fn settlement_as(&self, outcome: &SettlementOutcome, cancelled: bool) -> SettlementView {
        SettlementView {
            institution: outcome.institution.clone(),
            bill_id: outcome.bill_id.clone(),
            settlement_id: outcome.settlement_id.clone(),
            patient: outcome.patient.clone(),
            visit: outcome.visit.as_str().to_string(),
            policy: outcome.policy_id.clone(),
            total: outcome.total().to_string(),
            fund_pay: outcome.split.fund_pay.to_string(),
            self_borne: outcome.split.self_borne.to_string(),
            first_self_pay: outcome.split.first_self_pay.to_string(),
            self_funded: outcome.split.self_funded.to_string(),
            payments: self.payments(&outcome.payments),
            cash: outcome.cash.to_string(),
            replayed: outcome.replayed,
            cancelled,
            steps: self.steps(&outcome.steps),
        }
    }

    pub fn cancel(&self, outcome: &CancelOutcome) -> CancelView {
        let mut returned = BTreeMap::new();
        for (account, amount) in &outcome.returned {
            add_money(&mut returned, self.name_or_key(account), *amount);
        }
        let mut held = BTreeMap::new();
        for (owner, amount) in &outcome.held {
            // A replayed cancel does not know the owner any more (the engine reports "").
            let name = if self.redact_family || owner.is_empty() { "family".to_string() } else { owner.clone() };
            add_money(&mut held, name, *amount);
        }
        CancelView {
            institution: outcome.institution.clone(),
            bill_id: outcome.bill_id.clone(),
            settlement_id: outcome.settlement_id.clone(),
            returned,
            held,
            fund_pay: outcome.fund.to_string(),
            cash: outcome.cash.to_string(),
            replayed: outcome.replayed,
        }
    }

    pub fn explanation(&self, explanation: &Explanation, amount: Money) -> ExplainView {
        ExplainView {
            patient: explanation.patient.clone(),
            visit: explanation.visit.as_str().to_string(),
            amount: amount.to_string(),
            policy: explanation.policy_id.clone(),
            payments: self.payments(&explanation.payments),
            cash: explanation.cash.to_string(),
            steps: self.steps(&explanation.steps),
        }
    }
}

fn add_money(map: &mut BTreeMap<String, String>, key: String, amount: Money) {
    let before = map.get(&key).and_then(|m| Money::parse(m).ok()).unwrap_or_default();
    map.insert(key, before.plus(amount).to_string());
}

pub fn person_view(view: &PersonOverview) -> PersonView {
    let p = &view.person;
    PersonView {
        psn_no: p.psn_no.clone(),
        name: p.name.clone(),
        id_number_masked: p.id_number.masked(),
        area: p.area.as_str().to_string(),
        insurance: p.insurance.as_str().to_string(),
        status: p.status.as_str().to_string(),
        balances: Balances { cur: view.cur.to_string(), his: view.his.to_string(), mutual: view.mutual.to_string() },
        preset: view.preset.map(|m| m.to_string()),
        network: view.network.as_ref().map(|n| NetworkView {
            network_id: n.network_id,
            role: if n.is_promoter { "promoter".into() } else { "member".into() },
            promoter: n.promoter.clone(),
            position: n.position,
            state: n.state.as_str().to_string(),
            relation: n.relation.clone(),
            members: n
                .members
                .iter()
                .map(|(psn_no, relation, state)| MemberView { psn_no: psn_no.clone(), relation: relation.clone(), state: state.as_str().to_string() })
                .collect(),
        }),
        bindings: view.bindings.iter().map(|b| crate::family_api::binding_view(&p.psn_no, b)).collect(),
        quotas: view.quotas.iter().map(|q| crate::family_api::quota_view(&p.psn_no, q)).collect(),
    }
}

pub fn statement_line(line: &StatementLine) -> StatementLineView {
    StatementLineView {
        entry_id: line.entry_id,
        kind: line.kind.to_string(),
        business_date: line.business_date.to_string(),
        amount: line.amount.to_string(),
        memo: line.memo.clone(),
    }
}

pub fn network_event(event: &NetworkEvent) -> NetworkEventView {
    let e = &event.event;
    NetworkEventView {
        id: event.id,
        network_id: e.network_id,
        business_date: e.business_date.to_string(),
        kind: e.kind.as_str().to_string(),
        subject: e.subject.clone(),
        detail: e.detail.clone(),
        actor: e.actor.clone(),
        channel: e.channel.clone(),
        recorded_at: e.recorded_at.to_rfc3339(),
    }
}

pub fn mut_movement(m: &MutMovement) -> MutMovementView {
    MutMovementView {
        entry_id: m.entry_id,
        business_date: m.business_date.to_string(),
        psn_no: m.psn_no.clone(),
        kind: m.kind.to_string(),
        amount: m.amount.to_string(),
        actor: m.actor.clone(),
        channel: m.channel.clone(),
    }
}

pub const NETWORK_EVENT_CSV_HEADER: [&str; 9] = ["id", "network_id", "business_date", "kind", "subject", "detail", "actor", "channel", "recorded_at"];

pub fn network_event_row(v: &NetworkEventView) -> [String; 9] {
    [
        v.id.to_string(),
        v.network_id.to_string(),
        v.business_date.clone(),
        v.kind.clone(),
        v.subject.clone().unwrap_or_default(),
        v.detail.clone(),
        v.actor.clone(),
        v.channel.clone(),
        v.recorded_at.clone(),
    ]
}

pub const MUT_MOVEMENT_CSV_HEADER: [&str; 7] = ["entry_id", "business_date", "psn_no", "kind", "amount", "actor", "channel"];

pub fn mut_movement_row(v: &MutMovementView) -> [String; 7] {
    [v.entry_id.to_string(), v.business_date.clone(), v.psn_no.clone(), v.kind.clone(), v.amount.clone(), v.actor.clone(), v.channel.clone()]
}
