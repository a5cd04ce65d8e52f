//! Quota relationships (§15, X1–X4): a donor sets money aside for a near relative (近亲属, a
//! relation the policy lists, X1); the donor can no longer spend it; the relative spends it in
//! settlement (a funding source after the association step) and on their resident-insurance
//! premium (X4); either side may end the relationship, and it ends by itself when the donor's
//! status changes (X2); what is unused returns to the donor. Grants and top-ups are limited per
//! transfer, per day and by hour (X3, policy data). One person may have several relationships,
//! as donor and as relative.
//!
//! Where the money is: the quota account of the relative (`P:<relative>:quota`) holds every
//! quota set aside for them in their area. A person account, so that the store's guard keeps it
//! from going negative, the audit covers it and the relative's statement shows it; each
//! relationship's share is its record (`granted − used − returned`), spent oldest first. The sum
//! of the shares of a relative's relationships in force equals their quota balance.
//!
//! Donor and relative in the same area: one `local` record, one entry per grant (donor HIS →
//! relative quota). In different areas (each area its own store): the donor's area books
//! HIS → inter-area clearing and sends a message; the relative's area books clearing → quota
//! when it applies the message (see `interarea`).

use chrono::{DateTime, FixedOffset, NaiveDateTime, Timelike, Utc};
use gongji_core::ledger::{EntryKind, JournalEntry};
use gongji_core::settlement::{FundingSource, SourceRole};
use gongji_core::states::{QuotaEventKind, QuotaSide, QuotaState};
use gongji_core::{AccountRef, AreaCode, ErrorCode, IdNumber, InsuranceType, Money, Person, PersonAccount, PersonStatus, Policy, SystemAccount};
use gongji_store::{QuotaEvent, QuotaRecord, Store, StoreError, StoredSettlement, Tx};

use crate::interarea;
use crate::outbox::random_hex;
use crate::{load_person_for, Context, Engine, Error, Result};

/// X3 counts days and hours on the local clock: China Standard Time, UTC+8, the time of every
/// planning area.
pub const LOCAL_UTC_OFFSET_SECS: i32 = 8 * 3600;

/// What the donor enters: the relative by name and ID number, as in TR, and their area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaGrant {
    pub donor: String,
    pub relative_name: String,
    pub relative_id_number: String,
    pub relative_area: AreaCode,
    pub relation: String,
    pub amount: Money,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaGranted {
    pub uid: String,
    /// Added to a relationship already in force.
    pub top_up: bool,
    pub cross_area: bool,
    pub entry_id: i64,
    /// The message to the relative's area (cross-area only).
    pub message_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaEnded {
    pub uid: String,
    /// Returned to the donor in this area now.
    pub returned: Money,
    /// The message that carries the end or the return to the other area, if any.
    pub message_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PremiumPaid {
    pub entry_id: i64,
    pub insured: String,
    pub amount: Money,
    pub from: AccountRef,
}

/// The local (China Standard Time) date and time of an instant (X3).
pub fn local_time(instant: DateTime<Utc>) -> NaiveDateTime {
    let offset = FixedOffset::east_opt(LOCAL_UTC_OFFSET_SECS).expect("a valid offset");
    instant.with_timezone(&offset).naive_local()
}

impl<S: Store> Engine<S> {
    /// X1–X3: sets money aside for a near relative, or adds to a relationship in force between
    /// the two. Same area: at once. Another area: through the area outbox (see `interarea`).
    pub fn grant_quota(&self, ctx: &Context, grant: &QuotaGrant) -> Result<QuotaGranted> {
        self.store.write(|tx| {
            let donor = load_person_for(tx, ctx, &grant.donor)?;
            let policy = self.policy(&donor.area, ctx.business_date)?;
            require_quota_model(policy, &donor.area)?;
            if donor.insurance != InsuranceType::Employee {
                return Err(Error::domain(ErrorCode::TransferNotEligible, "X2", "only insured employees have a personal account to set a quota from"));
            }
            if donor.status != PersonStatus::Normal {
                return Err(Error::domain(ErrorCode::PersonStatus, "X2", format!("the donor's status is {}, not normal", donor.status)));
            }
            if policy.relation(&grant.relation).is_none() {
                return Err(Error::domain(
                    ErrorCode::NetworkRelationNotAllowed,
                    "X1",
                    format!("relation {:?} is not a near relative under policy {}", grant.relation, policy.id),
                ));
            }
            if !grant.amount.is_positive() {
                return Err(Error::domain(ErrorCode::MoneyInvalidAmount, "X2", "the quota must be greater than zero"));
            }
            let local = local_time(ctx.now);
            let done_today = tx.quota_grants_on(&donor.psn_no, local.date())?;
            policy.transfer_limits.check(grant.amount, done_today, local.hour() * 60 + local.minute())?;
            let his = AccountRef::person(&donor.psn_no, PersonAccount::His);
            let available = tx.balance(&his)?;
            if available < grant.amount {
                return Err(Error::domain(ErrorCode::MoneyInsufficient, "X2", format!("the historical account holds {available}, less than {}", grant.amount)));
            }
            let id_number = IdNumber::parse(grant.relative_id_number.trim())?;
            if grant.relative_area == donor.area {
                self.grant_local(tx, ctx, &donor, policy, grant, &id_number)
            } else {
                interarea::send_grant(tx, ctx, &donor, grant, &id_number)
            }
        })
    }

    fn grant_local(&self, tx: &mut dyn Tx, ctx: &Context, donor: &Person, policy: &Policy, grant: &QuotaGrant, id_number: &IdNumber) -> Result<QuotaGranted> {
        let relative = find_relative(tx, &grant.relative_name, id_number, &donor.area, "X2")?;
        if relative.psn_no == donor.psn_no {
            return Err(Error::domain(ErrorCode::TransferNotEligible, "X2", "a quota is set for a relative, not for oneself"));
        }
        require_quota_model(policy, &relative.area)?;
        let existing = tx.quotas_of(&donor.psn_no)?.into_iter().find(|q| {
            q.side == QuotaSide::Local && q.state == QuotaState::Active && q.donor == donor.psn_no && q.relative.as_deref() == Some(relative.psn_no.as_str())
        });
        let top_up = existing.is_some();
        let mut quota = match existing {
            Some(quota) => quota,
            None => {
                let mut quota = new_record(ctx, QuotaSide::Local, donor, &relative.area, grant, random_uid()?);
                quota.relative = Some(relative.psn_no.clone());
                tx.insert_quota(&quota)?;
                quota
            }
        };
        let entry = JournalEntry::transfer(
            EntryKind::Quota,
            AccountRef::person(&donor.psn_no, PersonAccount::His),
            AccountRef::person(&relative.psn_no, PersonAccount::Quota),
            grant.amount,
            ctx.provenance(),
            None,
            format!("quota {} {}", quota.uid, if top_up { "top-up" } else { "set" }),
        )?;
        let entry_id = tx.post(&entry)?;
        quota.granted = quota.granted.plus(grant.amount);
        tx.update_quota(&quota)?;
        record_event(tx, ctx, &quota, QuotaEventKind::Grant, grant.amount, &format!("quota:{}", quota.uid), Some(entry_id))?;
        Ok(QuotaGranted { uid: quota.uid, top_up, cross_area: false, entry_id, message_id: None })
    }

    /// X2: the donor or the relative ends a relationship in force; what is unused returns to
    /// the donor (at once in one area; through the other area's store across areas).
    pub fn end_quota(&self, ctx: &Context, acting: &str, uid: &str) -> Result<QuotaEnded> {
        self.store.write(|tx| {
            load_person_for(tx, ctx, acting)?;
            let quota = tx
                .quotas_of(acting)?
                .into_iter()
                .find(|q| q.uid == uid && q.state == QuotaState::Active)
                .ok_or_else(|| Error::domain(ErrorCode::QuotaNotFound, "X2", format!("{acting} has no quota {uid} in force")))?;
            let by = match quota.side {
                QuotaSide::Local | QuotaSide::Donor if quota.donor == acting => "donor",
                QuotaSide::Local | QuotaSide::Donor | QuotaSide::Relative => "relative",
            };
            end_in(tx, ctx, quota, &format!("ended by the {by}"))
        })
    }

    /// Every quota record (any state) in which the person is donor or relative.
    pub fn quotas(&self, psn_no: &str) -> Result<Vec<QuotaRecord>> {
        self.store.read(|tx| Ok(tx.quotas_of(psn_no)?))
    }

    /// X4: pays a resident's yearly resident-insurance premium, once per year: from the quota
    /// money near relatives set aside for them (`payer` `None`), or from a near relative's own
    /// HIS (`payer` with the relation, 代缴).
    pub fn pay_premium(&self, ctx: &Context, insured: &str, payer: Option<(&str, &str)>, amount: Money, year: i32) -> Result<PremiumPaid> {
        // The caller first (issue 12, item 8): who pays is who acts.
        ctx.authorize_before_load(payer.map_or(insured, |(payer, _)| payer))?;
        self.store.write(|tx| {
            let person = tx.person(insured)?.ok_or_else(|| ctx.unknown_person(insured))?;
            let payer = match payer {
                None => {
                    ctx.authorize_for(insured, &person.area)?;
                    None
                }
                Some((payer, relation)) => Some((load_person_for(tx, ctx, payer)?, relation)),
            };
            let policy = self.policy(&person.area, ctx.business_date)?;
            require_quota_model(policy, &person.area)?;
            if person.insurance != InsuranceType::Resident {
                return Err(Error::domain(ErrorCode::TransferNotEligible, "X4", "only residents (城乡居民) pay a resident-insurance premium"));
            }
            if person.status.is_closed() {
                return Err(Error::domain(ErrorCode::PersonStatus, "X4", format!("the insured person's status is {}", person.status)));
            }
            if !amount.is_positive() {
                return Err(Error::domain(ErrorCode::MoneyInvalidAmount, "X4", "the premium must be greater than zero"));
            }
            let key = format!("premium:{insured}:{year}");
            if tx.entry_by_key(&key)?.is_some() {
                return Err(Error::domain(ErrorCode::PremiumAlreadyPaid, "X4", format!("the {year} premium of {insured} is paid already")));
            }
            let from = match &payer {
                None => AccountRef::person(insured, PersonAccount::Quota),
                Some((paying, relation)) => {
                    if paying.insurance != InsuranceType::Employee || paying.status != PersonStatus::Normal {
                        return Err(Error::domain(ErrorCode::TransferNotEligible, "X4", "the payer must be an insured employee with status normal"));
                    }
                    if paying.area != person.area {
                        return Err(Error::domain(
                            ErrorCode::NetworkOtherArea,
                            "X4",
                            format!("the payer is insured in {}, the insured person in {}", paying.area, person.area),
                        ));
                    }
                    if paying.psn_no == insured || policy.relation(relation).is_none() {
                        return Err(Error::domain(
                            ErrorCode::NetworkRelationNotAllowed,
                            "X4",
                            format!("relation {relation:?} is not a near relative under policy {}", policy.id),
                        ));
                    }
                    AccountRef::person(&paying.psn_no, PersonAccount::His)
                }
            };
            let available = tx.balance(&from)?;
            if available < amount {
                return Err(Error::domain(ErrorCode::MoneyInsufficient, "X4", format!("{from} holds {available}, less than {amount}")));
            }
            let entry = JournalEntry::transfer(
                EntryKind::Premium,
                from.clone(),
                AccountRef::system(&person.area, SystemAccount::ResidentPremium),
                amount,
                ctx.provenance(),
                Some(key.clone()),
                format!("resident premium {year} of {insured}"),
            )?;
            let entry_id = tx.post(&entry)?;
            if payer.is_none() {
                allocate(tx, ctx, insured, amount, QuotaEventKind::Premium, &key, Some(entry_id))?;
            }
            Ok(PremiumPaid { entry_id, insured: insured.to_string(), amount, from })
        })
    }
}

fn require_quota_model(policy: &Policy, area: &AreaCode) -> Result<()> {
    if policy.models.quota {
        Ok(())
    } else {
        Err(Error::domain(ErrorCode::NetworkModelDisabled, "§4", format!("policy {} of area {area} has no quota model", policy.id)))
    }
}

/// The person registered with this ID number and name in `area` (TR2-style identity check).
pub(crate) fn find_relative(tx: &mut dyn Tx, name: &str, id_number: &IdNumber, area: &AreaCode, rule: &'static str) -> Result<Person> {
    let mismatch = || Error::domain(ErrorCode::TransferIdentityMismatch, rule, "the name and ID number do not match an insured person");
    let person = tx.person_by_id_number(id_number.as_str())?.ok_or_else(mismatch)?;
    if person.name != name.trim() {
        return Err(mismatch());
    }
    if &person.area != area {
        return Err(Error::domain(ErrorCode::NetworkOtherArea, rule, format!("the relative is insured in {}, not in {area}", person.area)));
    }
    if person.status.is_closed() {
        return Err(Error::domain(ErrorCode::PersonStatus, rule, format!("the relative's status is {}", person.status)));
    }
    Ok(person)
}

pub(crate) fn random_uid() -> Result<String> {
    Ok(format!("Q{}", random_hex(12)?))
}

pub(crate) fn new_record(ctx: &Context, side: QuotaSide, donor: &Person, relative_area: &AreaCode, grant: &QuotaGrant, uid: String) -> QuotaRecord {
    QuotaRecord {
        id: 0,
        uid,
        side,
        donor: donor.psn_no.clone(),
        donor_area: donor.area.clone(),
        relative: None,
        relative_area: relative_area.clone(),
        relative_name: grant.relative_name.trim().to_string(),
        relative_id_number: grant.relative_id_number.trim().to_string(),
        relation: grant.relation.clone(),
        state: QuotaState::Active,
        granted: Money::ZERO,
        used: Money::ZERO,
        returned: Money::ZERO,
        actor: ctx.actor.to_string(),
        channel: ctx.channel.as_str().to_string(),
        business_date: ctx.business_date,
        created_at: ctx.now,
        ended_at: None,
        end_reason: None,
    }
}

/// A side that holds the relative's quota money and is in force: local or relative, active.
fn holds_quota_money(quota: &QuotaRecord) -> bool {
    let holding_side = match quota.side {
        QuotaSide::Local | QuotaSide::Relative => true,
        QuotaSide::Donor => false,
    };
    let in_force = match quota.state {
        QuotaState::Active => true,
        QuotaState::Ending | QuotaState::Ended | QuotaState::Rejected => false,
    };
    holding_side && in_force
}

/// What is left of a relationship's quota (local and relative sides).
pub fn remaining(quota: &QuotaRecord) -> Money {
    quota.granted.minus(quota.used).minus(quota.returned)
}

pub(crate) fn record_event(
    tx: &mut dyn Tx,
    ctx: &Context,
    quota: &QuotaRecord,
    kind: QuotaEventKind,
    amount: Money,
    reference: &str,
    entry_id: Option<i64>,
) -> Result<()> {
    tx.insert_quota_event(&QuotaEvent {
        quota_uid: quota.uid.clone(),
        side: quota.side,
        kind,
        amount,
        reference: reference.to_string(),
        local_date: local_time(ctx.now).date(),
        entry_id,
        actor: ctx.actor.to_string(),
        channel: ctx.channel.as_str().to_string(),
        business_date: ctx.business_date,
        recorded_at: ctx.now,
    })?;
    Ok(())
}

/// Where returned quota money goes: the donor's HIS, or, when the donor has been liquidated
/// since (B4), the area's liquidation payable, to follow the rest of their money.
pub(crate) fn donor_destination(tx: &mut dyn Tx, donor: &str, area: &AreaCode) -> Result<AccountRef> {
    let liquidated = tx.person(donor)?.is_some_and(|p| p.status == PersonStatus::Cancelled) && tx.liquidation(donor)?.is_some();
    Ok(if liquidated { AccountRef::system(area, SystemAccount::LiquidationPayable) } else { AccountRef::person(donor, PersonAccount::His) })
}

/// Ends a relationship in force on this side, with `reason`: a local one returns what is
/// unused to the donor now; a relative side returns it to the donor's area; a donor side asks
/// the relative's area to end it and waits for the return.
pub(crate) fn end_in(tx: &mut dyn Tx, ctx: &Context, mut quota: QuotaRecord, reason: &str) -> Result<QuotaEnded> {
    match quota.side {
        QuotaSide::Donor => {
            quota.state = QuotaState::Ending;
            quota.end_reason = Some(reason.to_string());
            tx.update_quota(&quota)?;
            let message_id = interarea::send_end(tx, ctx, &quota, reason)?;
            Ok(QuotaEnded { uid: quota.uid, returned: Money::ZERO, message_id: Some(message_id) })
        }
        QuotaSide::Local | QuotaSide::Relative => {
            let unused = remaining(&quota);
            quota.returned = quota.returned.plus(unused);
            quota.state = QuotaState::Ended;
            quota.ended_at = Some(ctx.now);
            quota.end_reason = Some(reason.to_string());
            tx.update_quota(&quota)?;
            let (returned, message_id) = return_to_donor(tx, ctx, &quota, unused, &format!("quota:{}:end", quota.uid))?;
            Ok(QuotaEnded { uid: quota.uid, returned, message_id })
        }
    }
}

/// Moves `amount` out of the relative's quota account back to the donor: to the donor's HIS
/// in one area; to the clearing account and a return message across areas. The record's
/// `returned` is already counted by the caller. Returns (money back in this area, message).
fn return_to_donor(tx: &mut dyn Tx, ctx: &Context, quota: &QuotaRecord, amount: Money, reference: &str) -> Result<(Money, Option<String>)> {
    let relative = quota.relative.clone().ok_or_else(|| StoreError::Corrupt(format!("quota {} has no relative", quota.uid)))?;
    if quota.side == QuotaSide::Relative {
        let message_id = interarea::send_return(tx, ctx, quota, &relative, amount)?;
        return Ok((Money::ZERO, Some(message_id)));
    }
    if amount.is_positive() {
        let destination = donor_destination(tx, &quota.donor, &quota.donor_area)?;
        let entry = JournalEntry::transfer(
            EntryKind::Quota,
            AccountRef::person(&relative, PersonAccount::Quota),
            destination,
            amount,
            ctx.provenance(),
            None,
            format!("quota {} returned", quota.uid),
        )?;
        let entry_id = tx.post(&entry)?;
        record_event(tx, ctx, quota, QuotaEventKind::Return, amount, reference, Some(entry_id))?;
    }
    Ok((amount, None))
}

/// Charges `amount` spent from `holder`'s quota account to their relationships in force,
/// oldest first, as `kind` events under `reference`.
fn allocate(tx: &mut dyn Tx, ctx: &Context, holder: &str, amount: Money, kind: QuotaEventKind, reference: &str, entry_id: Option<i64>) -> Result<()> {
    let mut left = amount;
    for mut quota in tx.quotas_of(holder)? {
        let holds = quota.relative.as_deref() == Some(holder) && holds_quota_money(&quota);
        if !holds || left.is_zero() {
            continue;
        }
        let take = left.min(remaining(&quota));
        if !take.is_positive() {
            continue;
        }
        quota.used = quota.used.plus(take);
        tx.update_quota(&quota)?;
        record_event(tx, ctx, &quota, kind, take, reference, entry_id)?;
        left = left.minus(take);
    }
    if left.is_positive() {
        return Err(Error::Store(StoreError::Corrupt(format!("the quota records of {holder} do not cover {left} spent from the quota account"))));
    }
    Ok(())
}

/// X2, ST2: the patient's quota account as a funding source after the association step, where
/// the policy has the quota model and the patient holds quota money or a relationship in force.
/// (Quota money reaches only areas whose policy has the model: a grant to another area is
/// refused otherwise.)
pub(crate) fn append_sources(tx: &mut dyn Tx, policy: &Policy, patient: &Person, sources: &mut Vec<FundingSource>) -> Result<()> {
    if !policy.models.quota {
        return Ok(());
    }
    let account = AccountRef::person(&patient.psn_no, PersonAccount::Quota);
    let balance = tx.balance(&account)?;
    let holds =
        balance.is_positive() || tx.quotas_of(&patient.psn_no)?.iter().any(|q| q.relative.as_deref() == Some(patient.psn_no.as_str()) && holds_quota_money(q));
    if !holds {
        return Ok(());
    }
    sources.push(FundingSource {
        account,
        role: SourceRole::Quota,
        owner_status: patient.status,
        owner_pending: false,
        balance,
        reserved: Money::ZERO,
        scope: policy.scope_his.clone(),
    });
    Ok(())
}

/// After a settlement is stored: charges what the quota account paid to the relationships.
pub(crate) fn on_settled(tx: &mut dyn Tx, ctx: &Context, stored: &StoredSettlement) -> Result<()> {
    let mut paid = Money::ZERO;
    for (_, role, amount) in &stored.lines {
        if *role == SourceRole::Quota {
            paid = paid.plus(*amount);
        }
    }
    if paid.is_zero() {
        return Ok(());
    }
    allocate(tx, ctx, &stored.patient, paid, QuotaEventKind::Use, &crate::settlement::settlement_reference(stored), Some(stored.entry_id))
}

/// After a cancel (ST8) put quota money back into the quota account: each relationship gets
/// back what it paid; one that has ended since returns it to the donor at once.
pub(crate) fn on_cancelled(tx: &mut dyn Tx, ctx: &Context, stored: &StoredSettlement, cancel_entry_id: i64) -> Result<()> {
    let reference = crate::settlement::settlement_reference(stored);
    for event in tx.quota_events(&reference)?.into_iter().filter(|e| e.kind == QuotaEventKind::Use) {
        let mut quota =
            tx.quota(&event.quota_uid, event.side)?.ok_or_else(|| StoreError::Corrupt(format!("quota {} of a settlement is missing", event.quota_uid)))?;
        quota.used = quota.used.minus(event.amount);
        let ended = quota.state != QuotaState::Active;
        if ended {
            quota.returned = quota.returned.plus(event.amount);
        }
        tx.update_quota(&quota)?;
        record_event(tx, ctx, &quota, QuotaEventKind::Unuse, event.amount, &reference, Some(cancel_entry_id))?;
        if ended {
            return_to_donor(tx, ctx, &quota, event.amount, &reference)?;
        }
    }
    Ok(())
}

/// X2: a change of status ends relationships: any change of the donor's away from normal (the
/// insurance relationship changed), and the relative's becoming cancelled or pending
/// liquidation (nobody left to spend it). Called inside the status change's transaction.
pub(crate) fn on_status_change(tx: &mut dyn Tx, ctx: &Context, psn_no: &str, status: PersonStatus) -> Result<()> {
    if status == PersonStatus::Normal {
        return Ok(());
    }
    for quota in tx.quotas_of(psn_no)? {
        if quota.state != QuotaState::Active {
            continue;
        }
        let (donor_side, relative_side) = match quota.side {
            QuotaSide::Local => (true, true),
            QuotaSide::Donor => (true, false),
            QuotaSide::Relative => (false, true),
        };
        let as_donor = quota.donor == psn_no && donor_side;
        let as_relative = quota.relative.as_deref() == Some(psn_no) && relative_side;
        if as_donor {
            end_in(tx, ctx, quota, &format!("the donor's status became {status} (X2)"))?;
        } else if as_relative && status.is_closed() {
            end_in(tx, ctx, quota, &format!("the relative's status became {status}"))?;
        }
    }
    Ok(())
}
