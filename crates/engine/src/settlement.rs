//! Settlement (§9): pre-settlement, settlement, cancel, and the "why not" question (Q4).
//!
//! The flow of one settlement: load the patient and the policy in force on the bill date →
//! split the bill (ST1, core) → list the funding sources in waterfall order with their balances
//! (own CUR, HIS, MUT, then the network's other MUT accounts in payment order) → plan the
//! payment (ST2–ST4, ST7, core) → post one balanced entry and store the settlement with its
//! explanation, all in one transaction (ST6, ST9).
//!
//! Settling again (ST6, as built; issue 12):
//! - **ST6.1** An answer never reports a payment that is not posted: a settle answers either a
//!   new settlement it just posted, or the settlement of the bill that stands (not cancelled).
//! - **ST6.2** The same institution + bill id with a standing settlement: the same content
//!   replays it (`replayed`), other content is `settlement.conflict`.
//! - **ST6.3** A bill whose latest settlement was cancelled settles again as a new settlement,
//!   with whatever content it now has (a correction, ST8): attempt n+1, a new settlement id
//!   (`<bill id>#<n+1>`), the accounts charged anew. The earlier settlements stay, cancelled.
//! - **ST6.4** A cancel by bill id cancels the latest settlement; a cancel by settlement id
//!   cancels that one if it stands, and answers its earlier cancel (`replayed`) if not.
//! - **ST10** A bill above its visit type's `bill_amount_max`, dated after the business date or
//!   before the policy's window is refused before anything is written.

use chrono::Datelike;
use gongji_core::ledger::{EntryKind, JournalEntry, Posting};
use gongji_core::network::MemberState;
use gongji_core::settlement::{self, Bill, BillContent, BillSplit, FundingSource, PaymentPlan, SourceRole};
use gongji_core::{AccountRef, ErrorCode, Money, Person, PersonAccount, Policy, SystemAccount, VisitType};
use gongji_store::{NewRefundHolding, Store, StoredSettlement, StoredStep, Tx};

use crate::{load_person, Context, Engine, Error, Result};

/// One line of an explanation (ST7), as stored with the settlement.
pub type Step = StoredStep;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub account: AccountRef,
    /// Where the account stood in the waterfall (ST2).
    pub role: SourceRole,
    pub amount: Money,
}

/// ST6: the id of the `attempt`-th settlement of a bill, as answered to the institution (the
/// HIS dialect's `setl_id`): the bill id itself for the first, `<bill id>#<n>` for the n-th
/// settlement after n-1 cancels. Bill ids never contain `#` (refused when settled), so the two
/// read back unambiguously.
pub fn settlement_id(bill_id: &str, attempt: u32) -> String {
    if attempt <= 1 {
        bill_id.to_string()
    } else {
        format!("{bill_id}#{attempt}")
    }
}

/// The bill id and attempt a settlement id names (the inverse of [`settlement_id`]).
pub fn parse_settlement_id(settlement_id: &str) -> (&str, u32) {
    match settlement_id.rsplit_once('#') {
        Some((bill_id, n)) if !n.starts_with('0') => match n.parse::<u32>() {
            Ok(attempt) if attempt >= 2 => (bill_id, attempt),
            _ => (settlement_id, 1),
        },
        _ => (settlement_id, 1),
    }
}

/// The idempotency key of an entry of a bill's `attempt`-th settlement (`settle`) or of its
/// cancel (`cancel`): the first keeps the key it always had.
fn entry_key(kind: &str, institution: &str, bill_id: &str, attempt: u32) -> String {
    if attempt <= 1 {
        format!("{kind}:{institution}:{bill_id}")
    } else {
        format!("{kind}#{attempt}:{institution}:{bill_id}")
    }
}

/// The reference under which the quota model records what one settlement used (X2).
pub(crate) fn settlement_reference(stored: &StoredSettlement) -> String {
    entry_key("settle", &stored.institution, &stored.bill_id, stored.attempt)
}

/// What a settlement (or pre-settlement) did or would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettlementOutcome {
    pub institution: String,
    pub bill_id: String,
    /// ST6: this settlement's id ([`settlement_id`]): a bill settled again after a cancel gets
    /// a new one.
    pub settlement_id: String,
    /// ST6: 1 for a bill's first settlement, n after n-1 cancels.
    pub attempt: u32,
    pub patient: String,
    pub visit: VisitType,
    pub policy_id: String,
    pub split: BillSplit,
    pub payments: Vec<Payment>,
    pub cash: Money,
    pub steps: Vec<Step>,
    /// True when this answers a repeat of an already settled bill (ST6).
    pub replayed: bool,
}

impl SettlementOutcome {
    pub fn total(&self) -> Money {
        self.split.total()
    }

    pub fn paid_by(&self, account: &AccountRef) -> Money {
        self.payments.iter().filter(|p| &p.account == account).map(|p| p.amount).sum()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelOutcome {
    pub institution: String,
    pub bill_id: String,
    /// The settlement that was cancelled ([`settlement_id`]).
    pub settlement_id: String,
    /// Money returned straight to the accounts that paid.
    pub returned: Vec<(AccountRef, Money)>,
    /// Money held for a former network member, moved to their HIS by the nightly job (ST8, B3).
    pub held: Vec<(String, Money)>,
    pub fund: Money,
    pub cash: Money,
    pub replayed: bool,
}

/// Q4: which family money a patient could use now for a hypothetical burden, and why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub patient: String,
    pub visit: VisitType,
    pub policy_id: String,
    pub payments: Vec<Payment>,
    pub cash: Money,
    pub steps: Vec<Step>,
}

impl<S: Store> Engine<S> {
    /// ST5: exactly what [`Engine::settle`] would do, run in a transaction that is rolled back.
    pub fn presettle(&self, ctx: &Context, bill: &Bill) -> Result<SettlementOutcome> {
        self.store.read(|tx| self.settle_in(tx, ctx, bill))
    }

    /// ST1–ST4, ST6, ST7, ST9, ST10: settles a bill once; a repeat with the same content returns
    /// the first result, with other content it is refused. A bill whose settlement was
    /// cancelled settles again as a new settlement.
    pub fn settle(&self, ctx: &Context, bill: &Bill) -> Result<SettlementOutcome> {
        self.store.write(|tx| self.settle_in(tx, ctx, bill))
    }

    /// Group commit: settles many bills in one durable transaction. Each bill keeps its own
    /// result (ST6 idempotency included); a refused bill is rolled back to its savepoint and
    /// does not fail the others. A storage failure fails the whole group, which the caller may
    /// retry as a whole, since every bill is idempotent.
    pub fn settle_many(&self, ctx: &Context, bills: &[Bill]) -> Result<Vec<Result<SettlementOutcome>>> {
        self.store.write(|tx| {
            let mut results = Vec::with_capacity(bills.len());
            for bill in bills {
                tx.savepoint()?;
                match self.settle_in(tx, ctx, bill) {
                    Ok(outcome) => {
                        tx.release_savepoint()?;
                        results.push(Ok(outcome));
                    }
                    Err(Error::Domain(refusal)) => {
                        tx.rollback_to_savepoint()?;
                        results.push(Err(Error::Domain(refusal)));
                    }
                    Err(failure) => return Err(failure),
                }
            }
            Ok(results)
        })
    }

    /// ST8: reverses the bill's latest settlement along its original path; money of a used MUT
    /// whose owner has left the network since goes to the refund holding for the nightly job
    /// (B3). A repeated cancel answers what the first did.
    pub fn cancel(&self, ctx: &Context, institution: &str, bill_id: &str) -> Result<CancelOutcome> {
        self.store.write(|tx| cancel_in(tx, ctx, institution, bill_id, None))
    }

    /// ST8 by settlement id ([`settlement_id`]), as the HIS dialect cancels: cancels that
    /// settlement if it is the bill's live one; one cancelled before (a retry, or an earlier
    /// settlement of a bill settled again since) answers what its cancel did.
    pub fn cancel_settlement(&self, ctx: &Context, institution: &str, settlement_id: &str) -> Result<CancelOutcome> {
        let (bill_id, attempt) = parse_settlement_id(settlement_id);
        self.store.write(|tx| cancel_in(tx, ctx, institution, bill_id, Some(attempt)))
    }

    /// Q4: for `patient` and a hypothetical personal burden of `amount` on a `visit` today,
    /// which accounts would pay and, for each that would not, why. Commits nothing.
    pub fn explain(&self, ctx: &Context, patient: &str, visit: VisitType, amount: Money) -> Result<Explanation> {
        if !amount.is_positive() {
            return Err(Error::domain(ErrorCode::MoneyInvalidAmount, "Q4", "the amount must be greater than zero"));
        }
        self.store.read(|tx| {
            let person = load_person(tx, patient)?;
            let policy = self.policy(&person.area, ctx.business_date)?;
            let (sources, _) = funding_sources(tx, policy, &person)?;
            let split = BillSplit { self_borne: amount, ..BillSplit::default() };
            let plan = settlement::plan_payment(split, visit, &sources);
            Ok(Explanation {
                patient: patient.to_string(),
                visit,
                policy_id: policy.id.clone(),
                payments: payments(&plan),
                cash: plan.cash,
                steps: steps(&plan),
            })
        })
    }

    pub(crate) fn settle_in(&self, tx: &mut dyn Tx, ctx: &Context, bill: &Bill) -> Result<SettlementOutcome> {
        bill.validate()?;
        if bill.bill_id.contains('#') {
            return Err(Error::domain(
                ErrorCode::SettlementInvalidBill,
                "ST6",
                "a bill id may not contain '#', which separates the attempt in a settlement id",
            ));
        }
        let fingerprint = bill.fingerprint();
        let attempt = match tx.settlement(&bill.institution, &bill.bill_id)? {
            Some(live) if live.cancelled.is_none() => {
                if live.fingerprint != fingerprint {
                    return Err(Error::domain(
                        ErrorCode::SettlementConflict,
                        "ST6",
                        format!("bill {} of {} was settled with other content", bill.bill_id, bill.institution),
                    ));
                }
                // A repeat answers the settlement that stands, whose payments are posted.
                return outcome_of_stored(&live, true);
            }
            // ST6: the bill's settlement was cancelled: it settles again as a new settlement,
            // with this content (a correction, ST8, may change it), charging the accounts anew.
            // The earlier settlement stays, cancelled.
            Some(cancelled) => cancelled.attempt + 1,
            None => 1,
        };
        let patient = load_person(tx, &bill.patient)?;
        // ST10: the bounds are those of the policy in force today (what the agency admits
        // now); the benefit rules are those in force on the bill's date (§4).
        self.policy(&patient.area, ctx.business_date)?.bill_bounds.check(bill.visit, bill.total(), bill.date, ctx.business_date)?;
        let policy = self.policy(&patient.area, bill.date)?;
        let year = bill.date.year();
        let totals = tx.year_totals(&patient.psn_no, year, bill.visit)?;
        let benefit = match (&bill.content, policy.benefit(bill.visit)) {
            (BillContent::Items(_), None) => {
                return Err(Error::domain(
                    ErrorCode::SettlementInvalidBill,
                    "ST1",
                    format!("policy {} has no benefit rules for {} visits", policy.id, bill.visit),
                ));
            }
            (_, benefit) => benefit.cloned().unwrap_or(gongji_core::policy::Benefit {
                deductible: Money::ZERO,
                fund_ratio: gongji_core::Ratio::ZERO,
                annual_cap: Money::ZERO,
            }),
        };
        let outcome = settlement::compute_benefit(&bill.content, &benefit, policy.class_b_self_pay_ratio, totals);
        let (sources, network_id) = funding_sources(tx, policy, &patient)?;
        let plan = settlement::plan_payment(outcome.split, bill.visit, &sources);

        let mut provenance = ctx.provenance();
        provenance.business_date = bill.date;
        let mut postings: Vec<Posting> = plan.lines.iter().map(|line| Posting { account: line.account.clone(), amount: line.amount.neg() }).collect();
        postings.push(Posting { account: AccountRef::system(&patient.area, SystemAccount::PooledFund), amount: outcome.split.fund_pay.neg() });
        postings.push(Posting { account: AccountRef::system(&patient.area, SystemAccount::PatientCash), amount: plan.cash.neg() });
        postings.push(Posting { account: AccountRef::system(&patient.area, SystemAccount::InstitutionClearing), amount: outcome.split.total() });
        let entry = JournalEntry::new(
            EntryKind::Settlement,
            postings,
            provenance,
            Some(entry_key("settle", &bill.institution, &bill.bill_id, attempt)),
            format!("bill {} of {}", bill.bill_id, bill.institution),
        )?;
        let entry_id = tx.post(&entry)?;
        tx.put_year_totals(&patient.psn_no, year, bill.visit, outcome.totals_after)?;
        let stored = StoredSettlement {
            id: 0,
            institution: bill.institution.clone(),
            bill_id: bill.bill_id.clone(),
            attempt,
            patient: patient.psn_no.clone(),
            visit: bill.visit,
            bill_date: bill.date,
            fingerprint,
            policy_id: policy.id.clone(),
            policy_effective_from: policy.effective_from,
            network_id,
            split: outcome.split,
            deductible_applied: outcome.deductible_applied,
            cash: plan.cash,
            entry_id,
            lines: plan.lines.iter().map(|l| (l.account.clone(), l.role, l.amount)).collect(),
            steps: steps(&plan),
            cancelled: None,
        };
        tx.insert_settlement(&stored)?;
        crate::quota::on_settled(tx, ctx, &stored)?;
        outcome_of_stored(&stored, false)
    }
}

/// The waterfall's sources in order (ST2): own CUR, HIS, MUT; the network's MUT accounts; then
/// the association surplus (S2) and the quota money of near relatives (X2). Also the network used.
fn funding_sources(tx: &mut dyn Tx, policy: &Policy, patient: &Person) -> Result<(Vec<FundingSource>, Option<i64>)> {
    let (mut sources, network_id) = own_and_network_sources(tx, policy, patient)?;
    crate::association::append_sources(tx, policy, patient, &mut sources)?;
    crate::quota::append_sources(tx, policy, patient, &mut sources)?;
    Ok((sources, network_id))
}

/// Own CUR, HIS, MUT; then, where the policy has the network model, every other member's MUT
/// in payment order. Also the network used, if any.
fn own_and_network_sources(tx: &mut dyn Tx, policy: &Policy, patient: &Person) -> Result<(Vec<FundingSource>, Option<i64>)> {
    let mut sources = Vec::new();
    for (kind, role, scope) in [
        (PersonAccount::Cur, SourceRole::OwnCur, &policy.scope_cur),
        (PersonAccount::His, SourceRole::OwnHis, &policy.scope_his),
        (PersonAccount::Mut, SourceRole::OwnMut, &policy.scope_mut),
    ] {
        let account = AccountRef::person(&patient.psn_no, kind);
        sources.push(FundingSource {
            balance: tx.balance(&account)?,
            account,
            role,
            owner_status: patient.status,
            owner_pending: false,
            reserved: Money::ZERO,
            scope: scope.clone(),
        });
    }
    if !policy.models.network {
        return Ok((sources, None));
    }
    let Some(network) = tx.network_of(&patient.psn_no)? else { return Ok((sources, None)) };
    let patient_pending = network.member(&patient.psn_no).map(|m| m.state) == Some(MemberState::Pending);
    for (index, member) in network.members.iter().enumerate() {
        if member.psn_no == patient.psn_no {
            continue;
        }
        let owner = load_person(tx, &member.psn_no)?;
        let account = AccountRef::person(&member.psn_no, PersonAccount::Mut);
        sources.push(FundingSource {
            balance: tx.balance(&account)?,
            account,
            role: SourceRole::FamilyMut { position: index as u32 + 1 },
            owner_status: owner.status,
            owner_pending: patient_pending || member.state == MemberState::Pending,
            reserved: Money::ZERO,
            scope: policy.scope_mut.clone(),
        });
    }
    Ok((sources, Some(network.id)))
}

/// Cancels the bill's latest settlement, or the `attempt`-th when given.
fn cancel_in(tx: &mut dyn Tx, ctx: &Context, institution: &str, bill_id: &str, attempt: Option<u32>) -> Result<CancelOutcome> {
    let stored = match attempt {
        Some(attempt) => tx.settlement_attempt(institution, bill_id, attempt)?,
        None => tx.settlement(institution, bill_id)?,
    };
    let stored = stored.ok_or_else(|| Error::domain(ErrorCode::SettlementNotFound, "ST8", format!("no settled bill {bill_id} of {institution}")))?;
    let patient = load_person(tx, &stored.patient)?;
    let mut outcome = CancelOutcome {
        institution: institution.to_string(),
        bill_id: bill_id.to_string(),
        settlement_id: settlement_id(bill_id, stored.attempt),
        returned: Vec::new(),
        held: Vec::new(),
        fund: stored.split.fund_pay,
        cash: stored.cash,
        replayed: false,
    };
    if let Some((cancel_entry_id, _)) = stored.cancelled {
        // A repeated cancel (a retry from the institution) answers with what the first did.
        let entry = tx.entry(cancel_entry_id)?.ok_or_else(|| gongji_store::StoreError::Corrupt(format!("cancel entry {cancel_entry_id} missing")))?;
        for (account, _, amount) in &stored.lines {
            let returned_directly = entry.postings.iter().any(|(posted, _)| posted == account);
            if returned_directly {
                outcome.returned.push((account.clone(), *amount));
            } else {
                outcome.held.push((account.owner().unwrap_or_default().to_string(), *amount));
            }
        }
        outcome.replayed = true;
        return Ok(outcome);
    }
    let holding_account = AccountRef::system(&patient.area, SystemAccount::RefundHolding);
    let mut postings = Vec::new();
    for (account, role, amount) in &stored.lines {
        let owner = account.owner().unwrap_or_default().to_string();
        // ST8: only another member's MUT can have left the network since; the patient's own
        // accounts, association and quota money always go straight back.
        let owner_left = match role {
            SourceRole::FamilyMut { .. } => tx.network_of(&owner)?.map(|n| n.id) != stored.network_id,
            SourceRole::OwnCur | SourceRole::OwnHis | SourceRole::OwnMut | SourceRole::Association | SourceRole::Quota => false,
        };
        if owner_left {
            postings.push(Posting { account: holding_account.clone(), amount: *amount });
            outcome.held.push((owner, *amount));
        } else {
            postings.push(Posting { account: account.clone(), amount: *amount });
            outcome.returned.push((account.clone(), *amount));
        }
    }
    postings.push(Posting { account: AccountRef::system(&patient.area, SystemAccount::PooledFund), amount: stored.split.fund_pay });
    postings.push(Posting { account: AccountRef::system(&patient.area, SystemAccount::PatientCash), amount: stored.cash });
    postings.push(Posting { account: AccountRef::system(&patient.area, SystemAccount::InstitutionClearing), amount: stored.split.total().neg() });
    let entry = JournalEntry::new(
        EntryKind::SettlementCancel,
        postings,
        ctx.provenance(),
        Some(entry_key("cancel", institution, bill_id, stored.attempt)),
        format!("cancel bill {bill_id} of {institution}"),
    )?;
    let entry_id = tx.post(&entry)?;
    crate::quota::on_cancelled(tx, ctx, &stored, entry_id)?;
    for (owner, amount) in &outcome.held {
        tx.insert_refund_holding(&NewRefundHolding {
            owner: owner.clone(),
            area: patient.area.clone(),
            amount: *amount,
            settlement_id: stored.id,
            cancel_entry_id: entry_id,
            created_date: ctx.business_date,
        })?;
    }
    let year = stored.bill_date.year();
    let totals = tx.year_totals(&stored.patient, year, stored.visit)?;
    let reversed = gongji_core::settlement::YearTotals {
        deductible_used: totals.deductible_used.minus(stored.deductible_applied).max(Money::ZERO),
        fund_paid: totals.fund_paid.minus(stored.split.fund_pay).max(Money::ZERO),
    };
    tx.put_year_totals(&stored.patient, year, stored.visit, reversed)?;
    tx.mark_cancelled(stored.id, entry_id, ctx.business_date)?;
    Ok(outcome)
}

fn payments(plan: &PaymentPlan) -> Vec<Payment> {
    plan.lines.iter().map(|l| Payment { account: l.account.clone(), role: l.role, amount: l.amount }).collect()
}

fn steps(plan: &PaymentPlan) -> Vec<Step> {
    plan.steps
        .iter()
        .map(|s| Step {
            account: s.account.as_ref().map(AccountRef::key),
            role: s.role.map(SourceRole::key),
            amount: s.amount,
            code: s.code.to_string(),
            rule: s.rule.to_string(),
            message: s.message.clone(),
        })
        .collect()
}

impl SettlementOutcome {
    /// A stored settlement as an outcome (the one conversion, used by every answer). A
    /// settlement answered as paid is one that stands: [`Engine::settle`] never answers a
    /// cancelled one (ST6); the HIS dialect uses this to report a cancel's reversal.
    pub fn from_stored(stored: &StoredSettlement, replayed: bool) -> Result<SettlementOutcome> {
        let payments = stored.lines.iter().map(|(account, role, amount)| Payment { account: account.clone(), role: *role, amount: *amount }).collect();
        Ok(SettlementOutcome {
            institution: stored.institution.clone(),
            bill_id: stored.bill_id.clone(),
            settlement_id: settlement_id(&stored.bill_id, stored.attempt),
            attempt: stored.attempt,
            patient: stored.patient.clone(),
            visit: stored.visit,
            policy_id: stored.policy_id.clone(),
            split: stored.split,
            payments,
            cash: stored.cash,
            steps: stored.steps.clone(),
            replayed,
        })
    }
}

/// The answer of a settlement that stands (ST6: never a cancelled one).
fn outcome_of_stored(stored: &StoredSettlement, replayed: bool) -> Result<SettlementOutcome> {
    debug_assert!(stored.cancelled.is_none(), "a cancelled settlement is never answered as paid (ST6)");
    SettlementOutcome::from_stored(stored, replayed)
}
