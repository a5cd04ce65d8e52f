//! The other family models at the counter: relative transfer (§7), association (§8),
//! near-relative quotas (§15, also across planning areas, each agency with its own store), and
//! the notification outbox. Like every command, they act as an agency operator at the counter of
//! the person's own area, with the person present (N9, N11).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use gongji_core::person::mask_name;
use gongji_core::states::NotificationState;
use gongji_core::{AreaCode, Money};
use gongji_engine::interarea::{self, ReconcileReport, RelayHooks, RelaySummary};
use gongji_engine::outbox::{DrainOptions, LogSender, NotificationSender, WebhookSender};
use gongji_engine::quota::QuotaGrant;
use gongji_engine::relatives::RelativeTransferRequest;
use gongji_engine::{Context, Engine, Error};
use gongji_store::{AreaMessage, QuotaRecord, Store};

use crate::args::{AssociationCommand, FamilyCommand, OutboxCommand, QuotaCommand, TransferCommand};
use crate::backend::{with_engine, Backend, EngineJob};
use crate::session::Session;

/// Test hook of the cross-area crash test: `before_apply` or `after_apply` (optionally
/// `:<message kind>`) makes `quota relay` kill itself (SIGKILL) around the receiving side's
/// transaction of a message.
pub const KILL_RELAY_VAR: &str = "GONGJI_KILL_RELAY_AT";

pub fn run<S: Store>(session: &Session<'_, S>, command: &FamilyCommand) -> Result<ExitCode> {
    match command {
        FamilyCommand::RelativeTransfer(command) => transfer(session, command),
        FamilyCommand::Association(command) => association(session, command),
        FamilyCommand::Quota(command) => quota(session, command),
        FamilyCommand::Outbox(command) => outbox(session, command),
    }
}

fn transfer<S: Store>(session: &Session<'_, S>, command: &TransferCommand) -> Result<ExitCode> {
    let engine = session.engine;
    match command {
        TransferCommand::Request { from, to_name, to_id_number, relation, amount, accept_commitment } => {
            let request = RelativeTransferRequest {
                authoriser: from.clone(),
                relation: relation.clone(),
                beneficiary_name: to_name.clone(),
                beneficiary_id_number: to_id_number.clone(),
                amount: Money::parse_positive(amount).map_err(Error::from)?,
                commitment_accepted: *accept_commitment,
            };
            let ticket = engine.request_relative_transfer(&session.counter_for(from)?, &request)?;
            println!(
                "transfer request {}: {} to {} ({relation}); code sent to {} through the outbox, valid until {}",
                ticket.request_id,
                request.amount,
                mask_name(to_name),
                ticket.phone_masked,
                ticket.expires_at.to_rfc3339()
            );
        }
        TransferCommand::Confirm { from, request, code } => {
            let done = engine.confirm_relative_transfer(&session.counter_for(from)?, from, *request, code)?;
            println!("transferred {} from {}.his to {}.his (entry {})", done.amount, done.authoriser, done.beneficiary, done.entry_id);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn association<S: Store>(session: &Session<'_, S>, command: &AssociationCommand) -> Result<ExitCode> {
    let engine = session.engine;
    match command {
        AssociationCommand::Bind { person, relative, relation } => {
            let id = engine.bind(&session.counter_for(person)?, person, relative, relation)?;
            println!("binding {id}: {relative} ({relation}) may use the part of {person}'s HIS above the threshold");
        }
        AssociationCommand::Unbind { person, relative } => {
            engine.unbind(&session.counter_for(person)?, person, relative)?;
            println!("{person} and {relative} are no longer bound");
        }
        AssociationCommand::List { person } => {
            for binding in engine.associations(person)? {
                let a = &binding.association;
                println!("{}  {} → {} ({}) since {} by {} ({})", binding.id, a.binder, a.relative, a.relation, a.business_date, a.actor, a.channel);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn quota<S: Store>(session: &Session<'_, S>, command: &QuotaCommand) -> Result<ExitCode> {
    let engine = session.engine;
    match command {
        QuotaCommand::Grant { donor, relative_name, relative_id_number, relative_area, relation, amount } => {
            let grant = QuotaGrant {
                donor: donor.clone(),
                relative_name: relative_name.clone(),
                relative_id_number: relative_id_number.clone(),
                relative_area: AreaCode::parse(relative_area).map_err(Error::from)?,
                relation: relation.clone(),
                amount: Money::parse_positive(amount).map_err(Error::from)?,
            };
            let granted = engine.grant_quota(&session.counter_for(donor)?, &grant)?;
            println!(
                "quota {}: {} {} for {} ({relation}){}",
                granted.uid,
                if granted.top_up { "topped up by" } else { "set to" },
                grant.amount,
                mask_name(relative_name),
                if granted.cross_area { format!("; message {} waits for `quota relay`", granted.message_id.unwrap_or_default()) } else { String::new() }
            );
        }
        QuotaCommand::End { person, id } => {
            let ended = engine.end_quota(&session.counter_for(person)?, person, id)?;
            match ended.message_id {
                Some(message) => println!("quota {} ended; {} returned here, message {message} waits for `quota relay`", ended.uid, ended.returned),
                None => println!("quota {} ended; {} returned to the donor", ended.uid, ended.returned),
            }
        }
        QuotaCommand::List { person } => {
            for quota in engine.quotas(person)? {
                print_quota(&quota);
            }
        }
        QuotaCommand::Premium { insured, amount, year, payer, relation } => {
            let amount = Money::parse_positive(amount).map_err(Error::from)?;
            let acting = payer.as_deref().unwrap_or(insured);
            let payer = payer.as_deref().zip(relation.as_deref());
            let paid = engine.pay_premium(&session.counter_for(acting)?, insured, payer, amount, *year)?;
            println!("premium {year} of {insured}: {} paid from {} (entry {})", paid.amount, paid.from, paid.entry_id);
        }
        QuotaCommand::Relay { peer } => {
            let hooks_before = kill_hook("before_apply");
            let hooks_after = kill_hook("after_apply");
            let hooks = RelayHooks { before_apply: &hooks_before, after_apply: &hooks_after };
            let ctx = session.relay();
            let summary = match peer {
                Some(path) => relay_with_peer(engine, path, &ctx, &hooks)?,
                None => interarea::relay(engine, engine, &ctx, &hooks)?,
            };
            println!("relayed {} message(s): {} refused, {} answered again after an interruption", summary.delivered, summary.refused, summary.repeats);
        }
        QuotaCommand::Reconcile { peer } => {
            let report = match peer {
                Some(path) => reconcile_with_peer(engine, path)?,
                None => interarea::reconcile(engine, engine)?,
            };
            println!("clearing: {} movement(s) agree, {} in transit, {} problem(s)", report.matched.len(), report.in_transit.len(), report.problems.len());
            for position in &report.positions {
                println!("  area {}: clearing account {}, records {}", position.area, position.ledger, position.booked);
            }
            for line in &report.in_transit {
                println!("  in transit: {line}");
            }
            for line in &report.problems {
                println!("  PROBLEM: {line}");
            }
            return Ok(if report.agrees() { ExitCode::SUCCESS } else { ExitCode::from(1) });
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn outbox<S: Store>(session: &Session<'_, S>, command: &OutboxCommand) -> Result<ExitCode> {
    let engine = session.engine;
    match command {
        OutboxCommand::Drain { webhook } => {
            let log;
            let gateway;
            let sender: &dyn NotificationSender = match webhook {
                Some(url) => {
                    gateway = WebhookSender::new(url).map_err(anyhow::Error::msg)?;
                    &gateway
                }
                None => {
                    log = LogSender::stderr();
                    &log
                }
            };
            let summary = engine.drain_outbox(sender, &DrainOptions::default())?;
            println!(
                "outbox: {} sent, {} failed, {} retries, {} left by a stopped sender (not sent again)",
                summary.sent, summary.failed, summary.retries, summary.abandoned
            );
        }
        OutboxCommand::List(args) => {
            let state = match args.state.as_deref() {
                None => None,
                Some(text) => Some(NotificationState::parse(text).ok_or_else(|| {
                    let all: Vec<&str> = NotificationState::ALL.iter().map(|s| s.as_str()).collect();
                    Error::domain(gongji_core::ErrorCode::InputInvalid, "TR3", format!("state is one of {}, not {text:?}", all.join(", ")))
                })?),
            };
            for row in engine.notifications(state, args.limit)? {
                println!(
                    "{}  {:<8} {:<14} to {} attempts {} {}",
                    row.id,
                    row.state.as_str(),
                    row.notification.kind.as_str(),
                    gongji_engine::outbox::mask_phone(&row.notification.recipient),
                    row.attempts,
                    row.last_error.unwrap_or_default()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `quota relay --peer`: delivers the messages between this store and the peer's, both ways.
fn relay_with_peer<S: Store>(here: &Engine<S>, peer: &Path, ctx: &Context, hooks: &RelayHooks<'_>) -> Result<RelaySummary> {
    struct Relay<'a, S: Store>(&'a Engine<S>, &'a Context, &'a RelayHooks<'a>);
    impl<S: Store> EngineJob for Relay<'_, S> {
        type Output = RelaySummary;
        fn run<P: Store + 'static>(self, peer: Engine<P>) -> Result<RelaySummary> {
            Ok(interarea::relay(self.0, &peer, self.1, self.2)?)
        }
    }
    with_engine(Backend::PeerSqlite(peer), Relay(here, ctx, hooks))
}

/// `quota reconcile --peer`: compares the clearing records of this store and the peer's.
fn reconcile_with_peer<S: Store>(here: &Engine<S>, peer: &Path) -> Result<ReconcileReport> {
    struct Reconcile<'a, S: Store>(&'a Engine<S>);
    impl<S: Store> EngineJob for Reconcile<'_, S> {
        type Output = ReconcileReport;
        fn run<P: Store + 'static>(self, peer: Engine<P>) -> Result<ReconcileReport> {
            Ok(interarea::reconcile(self.0, &peer)?)
        }
    }
    with_engine(Backend::PeerSqlite(peer), Reconcile(here))
}

fn print_quota(quota: &QuotaRecord) {
    println!(
        "{} {:<8} {:<8} donor {}@{} → relative {}@{} ({}): granted {}, used {}, returned {}{}",
        quota.uid,
        quota.side.as_str(),
        quota.state.as_str(),
        quota.donor,
        quota.donor_area,
        quota.relative.as_deref().unwrap_or("?"),
        quota.relative_area,
        quota.relation,
        quota.granted,
        quota.used,
        quota.returned,
        quota.end_reason.as_deref().map(|r| format!("; {r}")).unwrap_or_default()
    );
}

/// The crash tests' hook: kills this process (SIGKILL, no cleanup) at `point` of the first
/// message (of the kind given after a colon, if any) when `GONGJI_KILL_RELAY_AT` names that
/// point: `before_apply`, `after_apply`, `after_apply:quota_return`.
fn kill_hook(point: &'static str) -> impl Fn(&AreaMessage) {
    let setting = std::env::var(KILL_RELAY_VAR).unwrap_or_default();
    let (at, kind) = match setting.split_once(':') {
        Some((at, kind)) => (at.to_string(), Some(kind.to_string())),
        None => (setting, None),
    };
    move |message: &AreaMessage| {
        if at == point && kind.as_deref().is_none_or(|k| k == message.kind.as_str()) {
            let _ = std::process::Command::new("kill").args(["-9", &std::process::id().to_string()]).status();
            std::thread::sleep(std::time::Duration::from_secs(60));
        }
    }
}
