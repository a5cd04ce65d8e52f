//! Queries (§11): a person's accounts, network, bindings and quotas (Q1), statements (Q2), batch
//! queries (Q3).

use chrono::NaiveDate;
use gongji_core::network::MemberState;
use gongji_core::states::QuotaState;
use gongji_core::{AccountRef, AreaCode, Money, Person, PersonAccount};
use gongji_store::{Association, AuditReport, MutMovement, NetworkEvent, QuotaRecord, StatementLine, StatusChange, Store};

use crate::{load_person, Engine, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkPlace {
    pub network_id: i64,
    pub promoter: String,
    pub is_promoter: bool,
    /// 1-based place in the payment order (N6).
    pub position: u32,
    pub state: MemberState,
    pub relation: Option<String>,
    pub members: Vec<(String, Option<String>, MemberState)>,
}

/// Q1: balances, network, role, order, pending state, preset, association bindings and quota
/// relationships.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonOverview {
    pub person: Person,
    pub cur: Money,
    pub his: Money,
    pub mutual: Money,
    pub network: Option<NetworkPlace>,
    pub preset: Option<Money>,
    pub status_changes: Vec<StatusChange>,
    /// Association bindings in force in which the person is binder or relative (S1).
    pub bindings: Vec<Association>,
    /// Quota relationships in force (`active`, or `ending` while a return across areas is
    /// awaited) in which the person is donor or relative (X2); `quota::remaining` is what is left.
    pub quotas: Vec<QuotaRecord>,
}

impl<S: Store> Engine<S> {
    pub fn person_overview(&self, psn_no: &str) -> Result<PersonOverview> {
        self.store.read(|tx| {
            let person = load_person(tx, psn_no)?;
            let balance = |tx: &mut dyn gongji_store::Tx, kind| tx.balance(&AccountRef::person(psn_no, kind));
            let cur = balance(tx, PersonAccount::Cur)?;
            let his = balance(tx, PersonAccount::His)?;
            let mutual = balance(tx, PersonAccount::Mut)?;
            let network = tx.network_of(psn_no)?.map(|n| {
                let position = n.members.iter().position(|m| m.psn_no == psn_no).unwrap_or(0) as u32 + 1;
                let me = n.member(psn_no).cloned();
                NetworkPlace {
                    network_id: n.id,
                    is_promoter: n.is_promoter(psn_no),
                    promoter: n.promoter.clone(),
                    position,
                    state: me.as_ref().map(|m| m.state).unwrap_or(MemberState::Active),
                    relation: me.and_then(|m| m.relation),
                    members: n.members.iter().map(|m| (m.psn_no.clone(), m.relation.clone(), m.state)).collect(),
                }
            });
            let preset = tx.preset(psn_no)?;
            let status_changes = tx.status_changes(psn_no)?;
            let bindings = tx.associations_of(psn_no)?;
            let in_force = |q: &QuotaRecord| match q.state {
                QuotaState::Active | QuotaState::Ending => true,
                QuotaState::Ended | QuotaState::Rejected => false,
            };
            let quotas = tx.quotas_of(psn_no)?.into_iter().filter(in_force).collect();
            Ok(PersonOverview { person, cur, his, mutual, network, preset, status_changes, bindings, quotas })
        })
    }

    /// Q2: postings of one account in a date range.
    pub fn statement(&self, account: &AccountRef, from: NaiveDate, to: NaiveDate) -> Result<Vec<StatementLine>> {
        self.store.read(|tx| Ok(tx.statement(account, from, to)?))
    }

    /// Q3: network creations, membership and order changes of an area in a date range.
    pub fn network_events(&self, area: &AreaCode, from: NaiveDate, to: NaiveDate) -> Result<Vec<NetworkEvent>> {
        self.store.read(|tx| Ok(tx.network_events(area, from, to)?))
    }

    /// Q3: MUT movements of an area's persons in a date range.
    pub fn mut_movements(&self, area: &AreaCode, from: NaiveDate, to: NaiveDate) -> Result<Vec<MutMovement>> {
        self.store.read(|tx| Ok(tx.mut_movements(area, from, to)?))
    }

    /// P4: every stored balance equals the sum of its postings; the ledger sums to zero.
    pub fn audit(&self) -> Result<AuditReport> {
        self.store.read(|tx| Ok(tx.audit()?))
    }

    pub fn balance(&self, account: &AccountRef) -> Result<Money> {
        self.store.read(|tx| Ok(tx.balance(account)?))
    }
}

impl<S: Store> Engine<S> {
    pub fn person(&self, psn_no: &str) -> Result<Person> {
        self.store.read(|tx| load_person(tx, psn_no))
    }
}
