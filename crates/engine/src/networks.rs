//! Family mutual-aid networks (§5, N1–N12). Each operation checks the caller's right to act
//! (N7–N9, N11), the rules of the core, and records an event (N12).

use gongji_core::network::{self, MemberState, Network};
use gongji_core::states::NetworkEventKind;
use gongji_core::{AccountRef, ErrorCode, Person, PersonAccount};
use gongji_store::{NewNetworkEvent, Store, Tx};

use crate::{load_person, load_person_for, Context, Engine, Error, Result};

/// What adding a member did: active at once, or waiting for the member's confirmation (N10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    Active,
    PendingConfirmation,
}

impl<S: Store> Engine<S> {
    /// N1, N4, N5: `promoter` founds a network and is first in the payment order (N6).
    pub fn create_network(&self, ctx: &Context, promoter: &str) -> Result<i64> {
        self.store.write(|tx| self.create_network_in(tx, ctx, promoter))
    }

    /// N2, N3, N5, N7, N10: the promoter adds a member with their relation.
    pub fn add_member(&self, ctx: &Context, promoter: &str, member: &str, relation: &str) -> Result<Added> {
        self.store.write(|tx| self.add_member_in(tx, ctx, promoter, member, relation))
    }

    /// N10: a member aged 16 or more confirms their own membership.
    pub fn confirm_member(&self, ctx: &Context, member: &str) -> Result<()> {
        self.store.write(|tx| self.confirm_member_in(tx, ctx, member))
    }

    /// N7: the promoter removes a member; the member's MUT money stays theirs (T3).
    pub fn remove_member(&self, ctx: &Context, promoter: &str, member: &str) -> Result<()> {
        self.store.write(|tx| self.remove_member_in(tx, ctx, promoter, member))
    }

    /// N8: a member leaves by themselves; their MUT money stays theirs (T3).
    pub fn leave(&self, ctx: &Context, member: &str) -> Result<()> {
        self.store.write(|tx| self.leave_in(tx, ctx, member))
    }

    /// N6: only the promoter sets the payment order; it must name every member once.
    pub fn reorder(&self, ctx: &Context, promoter: &str, order: &[String]) -> Result<()> {
        self.store.write(|tx| self.reorder_in(tx, ctx, promoter, order))
    }

    /// N7: the promoter dissolves the network; every member leaves (seeds/003 五 (一)).
    pub fn dissolve(&self, ctx: &Context, promoter: &str) -> Result<()> {
        self.store.write(|tx| self.dissolve_in(tx, ctx, promoter))
    }

    pub(crate) fn create_network_in(&self, tx: &mut dyn Tx, ctx: &Context, promoter: &str) -> Result<i64> {
        let person = load_person_for(tx, ctx, promoter)?;
        self.require_network_model(&person, ctx)?;
        // N5 first: someone already in a network is told so, whatever else they lack.
        if tx.network_of(promoter)?.is_some() {
            return Err(Error::domain(ErrorCode::NetworkAlreadyMember, "N5", "a person is in at most one network"));
        }
        let his = tx.balance(&AccountRef::person(promoter, PersonAccount::His))?;
        network::check_promoter(&person, his)?;
        let network_id = tx.insert_network(&person.area, promoter, &ctx.provenance())?;
        tx.insert_member(network_id, promoter, None, MemberState::Active, &ctx.provenance())?;
        let network = Network { id: network_id, area: person.area.clone(), promoter: promoter.to_string(), members: vec![] };
        record(tx, ctx, &network, NetworkEventKind::Created, Some(promoter), String::new())?;
        Ok(network_id)
    }

    pub(crate) fn add_member_in(&self, tx: &mut dyn Tx, ctx: &Context, promoter: &str, member: &str, relation: &str) -> Result<Added> {
        let (network, promoter_person) = promoters_network(tx, ctx, promoter)?;
        let policy = self.require_network_model(&promoter_person, ctx)?;
        let candidate = load_person(tx, member)?;
        network::check_new_member(&network, &candidate, relation, policy)?;
        if tx.network_of(member)?.is_some() {
            return Err(Error::domain(ErrorCode::NetworkAlreadyMember, "N5", "the person is already in a network"));
        }
        let (state, added) = if network::needs_confirmation(&candidate, ctx.business_date, policy) {
            (MemberState::Pending, Added::PendingConfirmation)
        } else {
            (MemberState::Active, Added::Active)
        };
        tx.insert_member(network.id, member, Some(relation), state, &ctx.provenance())?;
        record(tx, ctx, &network, NetworkEventKind::MemberAdded, Some(member), format!("relation={relation} state={state}"))?;
        Ok(added)
    }

    pub(crate) fn confirm_member_in(&self, tx: &mut dyn Tx, ctx: &Context, member: &str) -> Result<()> {
        let person = load_person_for(tx, ctx, member)?;
        let network = tx.network_of(member)?.ok_or_else(|| not_in_network(member))?;
        if network.member(member).map(|m| m.state) != Some(MemberState::Pending) {
            return Err(Error::domain(ErrorCode::NetworkPending, "N10", "there is no pending invitation to confirm"));
        }
        network::check_not_closed(&person, "N4")?;
        tx.set_member_state(network.id, member, MemberState::Active)?;
        record(tx, ctx, &network, NetworkEventKind::MemberConfirmed, Some(member), String::new())
    }

    pub(crate) fn remove_member_in(&self, tx: &mut dyn Tx, ctx: &Context, promoter: &str, member: &str) -> Result<()> {
        let (network, _) = promoters_network(tx, ctx, promoter)?;
        if member == promoter {
            return Err(Error::domain(ErrorCode::NetworkNotAllowed, "N7", "the promoter does not remove themselves; dissolve the network instead"));
        }
        if network.member(member).is_none() {
            return Err(Error::domain(ErrorCode::NetworkNotFound, "N7", "the person is not a member of this network"));
        }
        tx.end_membership(network.id, member, &ctx.provenance())?;
        record(tx, ctx, &network, NetworkEventKind::MemberRemoved, Some(member), String::new())
    }

    pub(crate) fn leave_in(&self, tx: &mut dyn Tx, ctx: &Context, member: &str) -> Result<()> {
        load_person_for(tx, ctx, member)?;
        let network = tx.network_of(member)?.ok_or_else(|| not_in_network(member))?;
        if network.is_promoter(member) {
            return Err(Error::domain(ErrorCode::NetworkNotAllowed, "N7", "the promoter does not leave; dissolving the network makes every member leave"));
        }
        tx.end_membership(network.id, member, &ctx.provenance())?;
        record(tx, ctx, &network, NetworkEventKind::MemberLeft, Some(member), String::new())
    }

    pub(crate) fn reorder_in(&self, tx: &mut dyn Tx, ctx: &Context, promoter: &str, order: &[String]) -> Result<()> {
        let (network, _) = promoters_network(tx, ctx, promoter)?;
        network::check_reorder(&network, order)?;
        tx.set_order(network.id, order)?;
        record(tx, ctx, &network, NetworkEventKind::Reordered, None, order.join(","))
    }

    pub(crate) fn dissolve_in(&self, tx: &mut dyn Tx, ctx: &Context, promoter: &str) -> Result<()> {
        let (network, _) = promoters_network(tx, ctx, promoter)?;
        for member in network.members.iter().filter(|m| m.psn_no != promoter) {
            record(tx, ctx, &network, NetworkEventKind::MemberLeft, Some(&member.psn_no), "network dissolved".into())?;
        }
        tx.dissolve_network(network.id, &ctx.provenance())?;
        record(tx, ctx, &network, NetworkEventKind::Dissolved, Some(promoter), String::new())
    }

    fn require_network_model(&self, person: &Person, ctx: &Context) -> Result<&gongji_core::Policy> {
        let policy = self.policy(&person.area, ctx.business_date)?;
        if !policy.models.network {
            return Err(Error::domain(
                ErrorCode::NetworkModelDisabled,
                "§4",
                format!("policy {} of area {} has no family network model", policy.id, person.area),
            ));
        }
        Ok(policy)
    }
}

/// The network whose promoter is `promoter`, after checking the caller may act for them
/// (N7, N9, N11) and that they are not closed (N4).
fn promoters_network(tx: &mut dyn Tx, ctx: &Context, promoter: &str) -> Result<(Network, Person)> {
    let person = load_person_for(tx, ctx, promoter)?;
    let network = tx.network_of(promoter)?.ok_or_else(|| not_in_network(promoter))?;
    network::check_is_promoter(&network, promoter)?;
    network::check_not_closed(&person, "N4")?;
    Ok((network, person))
}

fn not_in_network(psn_no: &str) -> Error {
    Error::domain(ErrorCode::NetworkNotFound, "N5", format!("{psn_no} is not in a network"))
}

/// N12: every change is an event with actor, channel and time.
pub(crate) fn record(tx: &mut dyn Tx, ctx: &Context, network: &Network, kind: NetworkEventKind, subject: Option<&str>, detail: String) -> Result<()> {
    tx.insert_network_event(&NewNetworkEvent {
        network_id: network.id,
        area: network.area.clone(),
        kind,
        subject: subject.map(str::to_string),
        detail,
        actor: ctx.actor.to_string(),
        channel: ctx.channel.as_str().to_string(),
        business_date: ctx.business_date,
        recorded_at: ctx.now,
    })?;
    Ok(())
}
