//! Many operations in one durable transaction: bulk loading (`gongji gen`, migrations from a
//! legacy system) where one commit per operation would be the bottleneck. The operations are
//! the engine's own, with the same rules; the first refusal rolls the whole bulk back.

use gongji_core::settlement::Bill;
use gongji_core::{Money, Person, PersonAccount};
use gongji_store::{Store, Tx};

use crate::networks::Added;
use crate::persons::Credit;
use crate::settlement::SettlementOutcome;
use crate::{Context, Engine, Result};

/// The engine's operations bound to one open transaction.
pub struct Bulk<'a, S: Store> {
    engine: &'a Engine<S>,
    tx: &'a mut dyn Tx,
}

impl<S: Store> Engine<S> {
    /// Runs `work` with all its operations in one transaction: all commit or none.
    pub fn bulk<R>(&self, mut work: impl FnMut(&mut Bulk<'_, S>) -> Result<R>) -> Result<R> {
        self.store.write(|tx| work(&mut Bulk { engine: self, tx }))
    }
}

impl<S: Store> Bulk<'_, S> {
    pub fn register_person(&mut self, ctx: &Context, person: &Person) -> Result<()> {
        crate::persons::insert_person(self.tx, ctx, person)
    }

    pub fn credit(&mut self, ctx: &Context, credit: &Credit) -> Result<bool> {
        crate::persons::post_credit(self.tx, ctx, credit)
    }

    pub fn create_network(&mut self, ctx: &Context, promoter: &str) -> Result<i64> {
        self.engine.create_network_in(self.tx, ctx, promoter)
    }

    pub fn add_member(&mut self, ctx: &Context, promoter: &str, member: &str, relation: &str) -> Result<Added> {
        self.engine.add_member_in(self.tx, ctx, promoter, member, relation)
    }

    pub fn confirm_member(&mut self, ctx: &Context, member: &str) -> Result<()> {
        self.engine.confirm_member_in(self.tx, ctx, member)
    }

    pub fn move_mutual_aid(&mut self, ctx: &Context, psn_no: &str, from: PersonAccount, to: PersonAccount, amount: Money) -> Result<i64> {
        self.engine.move_mutual_aid_in(self.tx, ctx, psn_no, from, to, amount)
    }

    pub fn set_preset(&mut self, ctx: &Context, psn_no: &str, amount: Option<Money>) -> Result<()> {
        self.engine.set_preset_in(self.tx, ctx, psn_no, amount)
    }

    pub fn settle(&mut self, ctx: &Context, bill: &Bill) -> Result<SettlementOutcome> {
        self.engine.settle_in(self.tx, ctx, bill)
    }
}
