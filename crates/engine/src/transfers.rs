//! Mutual-aid account transfers (§6): HIS↔MUT of one's own money (T1), the yearly preset (T2).

use gongji_core::ledger::{EntryKind, JournalEntry};
use gongji_core::network::MemberState;
use gongji_core::{AccountRef, ErrorCode, InsuranceType, Money, PersonAccount, PersonStatus};
use gongji_store::{Store, Tx};

use crate::{load_person_for, Context, Engine, Error, Result};

impl<S: Store> Engine<S> {
    /// T1: a normal employee moves own money HIS→MUT or MUT→HIS. Nobody moves another
    /// person's money (N9): the caller must be the owner, or an operator with the owner at the
    /// counter. HIS→MUT needs a confirmed network membership (the MUT account exists for
    /// network members, seeds/003 三 (一)); MUT→HIS is always open to get one's money back.
    pub fn move_mutual_aid(&self, ctx: &Context, psn_no: &str, from: PersonAccount, to: PersonAccount, amount: Money) -> Result<i64> {
        self.store.write(|tx| self.move_mutual_aid_in(tx, ctx, psn_no, from, to, amount))
    }

    /// T2: a network member sets (or with `None` clears) the yearly preset HIS→MUT amount.
    pub fn set_preset(&self, ctx: &Context, psn_no: &str, amount: Option<Money>) -> Result<()> {
        self.store.write(|tx| self.set_preset_in(tx, ctx, psn_no, amount))
    }

    pub(crate) fn move_mutual_aid_in(
        &self,
        tx: &mut dyn Tx,
        ctx: &Context,
        psn_no: &str,
        from: PersonAccount,
        to: PersonAccount,
        amount: Money,
    ) -> Result<i64> {
        let person = load_person_for(tx, ctx, psn_no)?;
        if !amount.is_positive() {
            return Err(Error::domain(ErrorCode::MoneyInvalidAmount, "T1", "the amount must be greater than zero"));
        }
        let into_mut = match (from, to) {
            (PersonAccount::His, PersonAccount::Mut) => true,
            (PersonAccount::Mut, PersonAccount::His) => false,
            _ => return Err(Error::domain(ErrorCode::InputInvalid, "T1", "moves go HIS→MUT or MUT→HIS")),
        };
        if person.insurance != InsuranceType::Employee {
            return Err(Error::domain(ErrorCode::TransferNotEligible, "T1", "only insured employees hold HIS and MUT money to move"));
        }
        if person.status != PersonStatus::Normal {
            return Err(Error::domain(ErrorCode::PersonStatus, "T1", format!("the person's status is {}, not normal", person.status)));
        }
        if into_mut {
            let membership = tx.network_of(psn_no)?.and_then(|n| n.member(psn_no).map(|m| m.state));
            if membership != Some(MemberState::Active) {
                return Err(Error::domain(ErrorCode::TransferNotEligible, "T1", "money moves into MUT only for a confirmed member of a family network"));
            }
        }
        let source = AccountRef::person(psn_no, from);
        let available = tx.balance(&source)?;
        if available < amount {
            return Err(Error::domain(ErrorCode::MoneyInsufficient, "T1", format!("{from} holds {available}, less than {amount}")));
        }
        let entry = JournalEntry::transfer(
            EntryKind::MutualAidTransfer,
            source,
            AccountRef::person(psn_no, to),
            amount,
            ctx.provenance(),
            None,
            format!("{from}→{to}"),
        )?;
        Ok(tx.post(&entry)?)
    }

    pub(crate) fn set_preset_in(&self, tx: &mut dyn Tx, ctx: &Context, psn_no: &str, amount: Option<Money>) -> Result<()> {
        let person = load_person_for(tx, ctx, psn_no)?;
        if let Some(amount) = amount {
            if !amount.is_positive() {
                return Err(Error::domain(ErrorCode::MoneyInvalidAmount, "T2", "the preset must be greater than zero"));
            }
        }
        if person.status.is_closed() {
            return Err(Error::domain(ErrorCode::PersonStatus, "T2", format!("the person's status is {}", person.status)));
        }
        if person.insurance != InsuranceType::Employee {
            return Err(Error::domain(ErrorCode::TransferNotEligible, "T2", "only insured employees set a preset"));
        }
        if amount.is_some() && tx.network_of(psn_no)?.is_none() {
            return Err(Error::domain(ErrorCode::TransferNotEligible, "T2", "only network members set a preset"));
        }
        tx.set_preset(psn_no, amount, &ctx.provenance())?;
        Ok(())
    }
}
