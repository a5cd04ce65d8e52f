//! Association (§8, S1–S2; seeds/001, the Shenzhen 家庭成员关联): an insured employee binds
//! relatives of the same planning area; the part of the binder's account above the policy
//! threshold may then pay a bound relative's burden in settlement, after the relative's own
//! accounts and the network step (ST2), explained like every other step (ST7).
//!
//! A binding is one-way: the binder (the card owner whose account is used, 被使用人) lets the
//! relative (使用人) use it. Either side may end it. The threshold applies to the binder's
//! historical account (HIS): seeds/001 speaks of the accumulated balance (个人账户积累) and of
//! historical funds (历年结余资金) being shared; this year's contributions (CUR) stay the
//! binder's own.

use gongji_core::settlement::{FundingSource, SourceRole};
use gongji_core::{AccountRef, ErrorCode, InsuranceType, Person, PersonAccount, Policy};
use gongji_store::{Association, NewAssociation, Store, Tx};

use crate::{load_person, load_person_for, Context, Engine, Error, Result};

impl<S: Store> Engine<S> {
    /// S1: `binder` binds `relative` with a relation the policy allows; both insured in the
    /// same planning area, neither closed.
    pub fn bind(&self, ctx: &Context, binder: &str, relative: &str, relation: &str) -> Result<i64> {
        self.store.write(|tx| {
            let person = load_person_for(tx, ctx, binder)?;
            let policy = self.policy(&person.area, ctx.business_date)?;
            if !policy.models.association {
                return Err(Error::domain(
                    ErrorCode::NetworkModelDisabled,
                    "§4",
                    format!("policy {} of area {} has no association model", policy.id, person.area),
                ));
            }
            if binder == relative {
                return Err(Error::domain(ErrorCode::InputInvalid, "S1", "a person binds relatives, not themselves"));
            }
            if person.insurance != InsuranceType::Employee {
                return Err(Error::domain(ErrorCode::TransferNotEligible, "S1", "only insured employees have a personal account to share"));
            }
            if person.status.is_closed() {
                return Err(Error::domain(ErrorCode::PersonStatus, "S1", format!("the binder's status is {}", person.status)));
            }
            let other = load_person(tx, relative)?;
            if other.status.is_closed() {
                return Err(Error::domain(ErrorCode::PersonStatus, "S1", format!("the relative's status is {}", other.status)));
            }
            if other.area != person.area {
                return Err(Error::domain(
                    ErrorCode::NetworkOtherArea,
                    "S1",
                    format!("the relative is insured in {}, the binder in {}", other.area, person.area),
                ));
            }
            let Some(rule) = policy.relation(relation) else {
                return Err(Error::domain(ErrorCode::NetworkRelationNotAllowed, "S1", format!("relation {relation:?} is not allowed by policy {}", policy.id)));
            };
            let bindings = tx.associations_of(binder)?;
            let mine: Vec<&Association> = bindings.iter().filter(|a| a.association.binder == binder).collect();
            if mine.iter().any(|a| a.association.relative == relative) {
                return Err(Error::domain(ErrorCode::AssociationAlreadyBound, "S1", format!("{binder} has already bound {relative}")));
            }
            if let Some(max) = rule.max {
                if mine.iter().filter(|a| a.association.relation == relation).count() >= max as usize {
                    return Err(Error::domain(
                        ErrorCode::NetworkRelationLimit,
                        "S1",
                        format!("at most {max} bound {relation} allowed by policy {}", policy.id),
                    ));
                }
            }
            Ok(tx.insert_association(&NewAssociation {
                binder: binder.to_string(),
                relative: relative.to_string(),
                relation: relation.to_string(),
                area: person.area.clone(),
                actor: ctx.actor.to_string(),
                channel: ctx.channel.as_str().to_string(),
                business_date: ctx.business_date,
                recorded_at: ctx.now,
            })?)
        })
    }

    /// S1: either side ends the binding between `person` (who acts) and `other`: the one in
    /// which `person` is the binder if there is one, else the one in which `other` is.
    pub fn unbind(&self, ctx: &Context, person: &str, other: &str) -> Result<()> {
        self.store.write(|tx| {
            load_person_for(tx, ctx, person)?;
            let bindings = tx.associations_of(person)?;
            let between = |binder: &str, relative: &str| bindings.iter().find(|a| a.association.binder == binder && a.association.relative == relative);
            let Some(binding) = between(person, other).or_else(|| between(other, person)) else {
                return Err(Error::domain(ErrorCode::AssociationNotFound, "S1", format!("{person} and {other} are not bound")));
            };
            tx.end_association(binding.id, &ctx.provenance())?;
            Ok(())
        })
    }

    /// Bindings in force in which the person is binder or relative (Q1).
    pub fn associations(&self, psn_no: &str) -> Result<Vec<Association>> {
        self.store.read(|tx| {
            load_person(tx, psn_no)?;
            Ok(tx.associations_of(psn_no)?)
        })
    }
}

/// S2, ST2: for each binder who bound the patient (oldest binding first), the binder's HIS,
/// of which only the part above the policy threshold may pay. The core's waterfall explains
/// each: paid, threshold not exceeded, owner's status, scope.
pub(crate) fn append_sources(tx: &mut dyn Tx, policy: &Policy, patient: &Person, sources: &mut Vec<FundingSource>) -> Result<()> {
    if !policy.models.association {
        return Ok(());
    }
    for binding in tx.associations_of(&patient.psn_no)? {
        if binding.association.relative != patient.psn_no {
            continue;
        }
        let binder = load_person(tx, &binding.association.binder)?;
        let account = AccountRef::person(&binder.psn_no, PersonAccount::His);
        sources.push(FundingSource {
            balance: tx.balance(&account)?,
            account,
            role: SourceRole::Association,
            owner_status: binder.status,
            owner_pending: false,
            reserved: policy.association_threshold,
            scope: policy.scope_his.clone(),
        });
    }
    Ok(())
}
