//! CLI commands and scenario steps of the other family models: relative transfer (§7),
//! association (§8), near-relative quotas (§15, also across planning areas), and the
//! notification outbox. Like the rest of the CLI, commands act as an agency operator at the
//! counter of the person's own area, with the person present (N9, N11).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};
use clap::{Args, Subcommand};
use gongji_core::person::mask_name;
use gongji_core::states::{NotificationState, QuotaSide, QuotaState};
use gongji_core::{AccountRef, Actor, AreaCode, Channel, Money};
use gongji_engine::interarea::{self, RelayHooks};
use gongji_engine::outbox::{DrainOptions, LogSender, NotificationSender, WebhookSender};
use gongji_engine::policy_file::preset_book;
use gongji_engine::quota::{QuotaGrant, LOCAL_UTC_OFFSET_SECS};
use gongji_engine::relatives::RelativeTransferRequest;
use gongji_engine::{Context, Engine, Error};
use gongji_store::sqlite::SqliteStore;
use gongji_store::{AreaMessage, QuotaRecord, Store};
use serde_json::{json, Value};

use crate::cli::Cli;

/// Test hook of the cross-area crash test: `before_apply` or `after_apply` (optionally
/// `:<message kind>`) makes `quota relay` kill itself (SIGKILL) around the receiving side's
/// transaction of a message.
pub const KILL_RELAY_VAR: &str = "GONGJI_KILL_RELAY_AT";

#[derive(Subcommand)]
pub enum FamilyCommand {
    /// Relative transfer (§7, TR1-TR4): ask for a one-time code, then confirm with it.
    #[command(subcommand, name = "relative-transfer")]
    RelativeTransfer(TransferCommand),
    /// Association (§8, S1-S2): bind relatives whose burden the surplus above the threshold may pay.
    #[command(subcommand)]
    Association(AssociationCommand),
    /// Quotas for near relatives (§15, X1-X4), in one planning area or across two.
    #[command(subcommand)]
    Quota(QuotaCommand),
    /// The notification outbox (TR3): text messages to registered phones.
    #[command(subcommand)]
    Outbox(OutboxCommand),
}

#[derive(Subcommand)]
pub enum TransferCommand {
    /// Checks the transfer and sends a 6-digit code to the authoriser's phone (valid 5 minutes).
    Request {
        /// The authoriser (psn_no).
        #[arg(long)]
        from: String,
        /// The beneficiary's name as registered.
        #[arg(long)]
        to_name: String,
        /// The beneficiary's 18-digit ID number.
        #[arg(long)]
        to_id_number: String,
        /// Relation of the beneficiary to the authoriser (spouse, parent, child in 330100).
        #[arg(long)]
        relation: String,
        #[arg(long)]
        amount: String,
        /// The authoriser has read and accepts the commitment letter (承诺书).
        #[arg(long)]
        accept_commitment: bool,
    },
    /// Moves the money with the code the authoriser received (5 tries, single use).
    Confirm {
        #[arg(long)]
        from: String,
        #[arg(long)]
        request: i64,
        #[arg(long)]
        code: String,
    },
}

#[derive(Subcommand)]
pub enum AssociationCommand {
    /// The binder lets the relative use the part of the binder's HIS above the threshold (S2).
    Bind {
        #[arg(long)]
        person: String,
        #[arg(long)]
        relative: String,
        #[arg(long)]
        relation: String,
    },
    /// Either side ends a binding.
    Unbind {
        #[arg(long)]
        person: String,
        #[arg(long)]
        relative: String,
    },
    /// Bindings in force of a person, as binder or relative.
    List {
        #[arg(long)]
        person: String,
    },
}

#[derive(Subcommand)]
pub enum QuotaCommand {
    /// Sets money aside for a near relative (or tops up a quota in force); limits X3 apply.
    Grant {
        #[arg(long)]
        donor: String,
        #[arg(long)]
        relative_name: String,
        #[arg(long)]
        relative_id_number: String,
        /// The relative's planning area; another area goes through `quota relay`.
        #[arg(long)]
        relative_area: String,
        #[arg(long)]
        relation: String,
        #[arg(long)]
        amount: String,
    },
    /// Donor or relative ends a quota; what is unused returns to the donor.
    End {
        #[arg(long)]
        person: String,
        /// The quota id (`quota list`).
        #[arg(long)]
        id: String,
    },
    /// Quotas of a person, as donor or relative.
    List {
        #[arg(long)]
        person: String,
    },
    /// Pays a resident's yearly premium (X4): from their quota, or with --payer from a near
    /// relative's HIS.
    Premium {
        #[arg(long)]
        insured: String,
        #[arg(long)]
        amount: String,
        #[arg(long)]
        year: i32,
        #[arg(long, requires = "relation")]
        payer: Option<String>,
        #[arg(long)]
        relation: Option<String>,
    },
    /// Delivers the messages between this store and the peer's (both ways) until none is left;
    /// without --peer, between the areas of this one store.
    Relay {
        /// The other planning area's SQLite file.
        #[arg(long)]
        peer: Option<PathBuf>,
    },
    /// Compares the clearing records of this store and the peer's; exits 1 if they disagree.
    Reconcile {
        #[arg(long)]
        peer: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum OutboxCommand {
    /// Sends every pending message: to the log (phones masked) or, with --webhook, to an SMS
    /// gateway by HTTP POST. Bounded retries; a message is never sent twice.
    Drain {
        /// `http://host:port/path` of the SMS gateway.
        #[arg(long)]
        webhook: Option<String>,
    },
    /// Messages of the outbox (phones masked; codes never shown).
    List(ListArgs),
}

#[derive(Args)]
pub struct ListArgs {
    /// Only messages in this state (pending, sending, sent, failed, unknown, void).
    #[arg(long)]
    state: Option<String>,
    #[arg(long, default_value_t = 100)]
    limit: usize,
}

/// Runs a family command on the store the CLI opened.
pub fn execute<S: Store>(engine: &Engine<S>, cli: &Cli, today: NaiveDate, command: &FamilyCommand) -> Result<ExitCode> {
    let session = FamilySession { engine, cli, today };
    match command {
        FamilyCommand::RelativeTransfer(command) => session.transfer(command)?,
        FamilyCommand::Association(command) => session.association(command)?,
        FamilyCommand::Quota(command) => return session.quota(command),
        FamilyCommand::Outbox(command) => session.outbox(command)?,
    }
    Ok(ExitCode::SUCCESS)
}

struct FamilySession<'a, S: Store> {
    engine: &'a Engine<S>,
    cli: &'a Cli,
    today: NaiveDate,
}

impl<S: Store> FamilySession<'_, S> {
    /// The operator at the counter serving `psn_no` (N11: the person's own area by default).
    fn counter_for(&self, psn_no: &str) -> Result<Context> {
        let area = match &self.cli.operator_area {
            Some(area) => AreaCode::parse(area).map_err(Error::from)?,
            None => self.engine.person(psn_no)?.area,
        };
        Ok(Context::new(Actor::Operator { id: self.cli.operator.clone(), area }, Channel::Counter, self.today))
    }

    fn batch(&self) -> Context {
        Context::batch("relay", self.today)
    }

    fn transfer(&self, command: &TransferCommand) -> Result<()> {
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
                let ticket = self.engine.request_relative_transfer(&self.counter_for(from)?, &request)?;
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
                let done = self.engine.confirm_relative_transfer(&self.counter_for(from)?, from, *request, code)?;
                println!("transferred {} from {}.his to {}.his (entry {})", done.amount, done.authoriser, done.beneficiary, done.entry_id);
            }
        }
        Ok(())
    }

    fn association(&self, command: &AssociationCommand) -> Result<()> {
        match command {
            AssociationCommand::Bind { person, relative, relation } => {
                let id = self.engine.bind(&self.counter_for(person)?, person, relative, relation)?;
                println!("binding {id}: {relative} ({relation}) may use the part of {person}'s HIS above the threshold");
            }
            AssociationCommand::Unbind { person, relative } => {
                self.engine.unbind(&self.counter_for(person)?, person, relative)?;
                println!("{person} and {relative} are no longer bound");
            }
            AssociationCommand::List { person } => {
                for binding in self.engine.associations(person)? {
                    let a = &binding.association;
                    println!("{}  {} → {} ({}) since {} by {} ({})", binding.id, a.binder, a.relative, a.relation, a.business_date, a.actor, a.channel);
                }
            }
        }
        Ok(())
    }

    fn quota(&self, command: &QuotaCommand) -> Result<ExitCode> {
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
                let granted = self.engine.grant_quota(&self.counter_for(donor)?, &grant)?;
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
                let ended = self.engine.end_quota(&self.counter_for(person)?, person, id)?;
                match ended.message_id {
                    Some(message) => println!("quota {} ended; {} returned here, message {message} waits for `quota relay`", ended.uid, ended.returned),
                    None => println!("quota {} ended; {} returned to the donor", ended.uid, ended.returned),
                }
            }
            QuotaCommand::List { person } => {
                for quota in self.engine.quotas(person)? {
                    print_quota(&quota);
                }
            }
            QuotaCommand::Premium { insured, amount, year, payer, relation } => {
                let amount = Money::parse_positive(amount).map_err(Error::from)?;
                let acting = payer.as_deref().unwrap_or(insured);
                let payer = payer.as_deref().zip(relation.as_deref());
                let paid = self.engine.pay_premium(&self.counter_for(acting)?, insured, payer, amount, *year)?;
                println!("premium {year} of {insured}: {} paid from {} (entry {})", paid.amount, paid.from, paid.entry_id);
            }
            QuotaCommand::Relay { peer } => {
                let hooks_before = kill_hook("before_apply");
                let hooks_after = kill_hook("after_apply");
                let hooks = RelayHooks { before_apply: &hooks_before, after_apply: &hooks_after };
                let summary = match peer {
                    Some(path) => interarea::relay(self.engine, &open_peer(path)?, &self.batch(), &hooks)?,
                    None => interarea::relay(self.engine, self.engine, &self.batch(), &hooks)?,
                };
                println!("relayed {} message(s): {} refused, {} answered again after an interruption", summary.delivered, summary.refused, summary.repeats);
            }
            QuotaCommand::Reconcile { peer } => {
                let report = match peer {
                    Some(path) => interarea::reconcile(self.engine, &open_peer(path)?)?,
                    None => interarea::reconcile(self.engine, self.engine)?,
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

    fn outbox(&self, command: &OutboxCommand) -> Result<()> {
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
                let summary = self.engine.drain_outbox(sender, &DrainOptions::default())?;
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
                for row in self.engine.notifications(state, args.limit)? {
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
        Ok(())
    }
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

fn open_peer(path: &Path) -> Result<Engine<SqliteStore>> {
    let store = SqliteStore::open(path).with_context(|| format!("opening the peer store {}", path.display()))?;
    Ok(Engine::new(store, preset_book()))
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

/// What a family step of a scenario file gives (SPEC §13).
pub struct FamilyStep<'a> {
    pub action: &'a str,
    pub person: Option<&'a str>,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub relative: Option<&'a str>,
    pub relation: Option<&'a str>,
    pub amount: Option<&'a str>,
    /// The beneficiary's name as typed, when it should differ from the register (TR2 tests).
    pub name: Option<&'a str>,
    pub id_number: Option<&'a str>,
    /// A code to confirm with instead of the one in the outbox; `wrong` is one that is not the
    /// code sent (TR3 tests).
    pub code: Option<&'a str>,
    /// Local time `HH:MM` of the step (X3); noon by default.
    pub time: Option<&'a str>,
    pub year: Option<i32>,
    pub payer: Option<&'a str>,
}

/// The family steps of the scenario runner: `relative_transfer {from, to, relation, amount}`
/// (the code is read from the outbox), `bind {person, relative, relation}`,
/// `unbind {person, relative}`, `set_quota {person, relative, relation, amount, time?}`,
/// `end_quota {person, relative}`, `pay_premium {person, amount, year?, payer?, relation?}`,
/// `relay {}`. Quota steps deliver messages between areas at once.
pub fn scenario_step<S: Store>(engine: &Engine<S>, step: &FamilyStep<'_>, day: NaiveDate, known: &dyn Fn(&str) -> bool) -> Result<Value, Error> {
    let need = |value: Option<&str>, name: &str| -> Result<String, Error> {
        value.map(str::to_string).ok_or_else(|| input(format!("step `{}` needs `{name}`", step.action)))
    };
    let alias = |value: Option<&str>, name: &str| -> Result<String, Error> {
        let alias = need(value, name)?;
        if known(&alias) {
            Ok(alias)
        } else {
            Err(input(format!("unknown person alias {alias:?}")))
        }
    };
    let time = match step.time {
        Some(text) => NaiveTime::parse_from_str(text, "%H:%M").map_err(|_| input(format!("time is HH:MM, not {text:?}")))?,
        None => NaiveTime::from_hms_opt(12, 0, 0).expect("noon"),
    };
    let acting = |psn: &str| {
        let mut ctx = Context::new(Actor::Person(psn.to_string()), Channel::App, day);
        let local = day.and_time(time) - chrono::Duration::seconds(LOCAL_UTC_OFFSET_SECS as i64);
        ctx.now = Utc.from_utc_datetime(&local);
        ctx
    };
    // Messages between areas are delivered at once: the agencies' relay, run by the agency.
    let relay_all = || {
        let mut ctx = Context::batch("relay", day);
        ctx.now = acting("relay").now;
        interarea::relay(engine, engine, &ctx, &RelayHooks::default())
    };
    match step.action {
        "relative_transfer" => {
            let from = alias(step.from, "from")?;
            let to = alias(step.to, "to")?;
            let beneficiary = engine.person(&to)?;
            let request = RelativeTransferRequest {
                authoriser: from.clone(),
                relation: need(step.relation, "relation")?,
                beneficiary_name: step.name.map(str::to_string).unwrap_or(beneficiary.name),
                beneficiary_id_number: step.id_number.map(str::to_string).unwrap_or_else(|| beneficiary.id_number.as_str().to_string()),
                amount: Money::parse_positive(&need(step.amount, "amount")?)?,
                commitment_accepted: true,
            };
            let ctx = acting(&from);
            let ticket = engine.request_relative_transfer(&ctx, &request)?;
            let sent = engine
                .notification(ticket.notification_id)?
                .and_then(|row| row.notification.secret)
                .ok_or_else(|| input("the one-time code is not in the outbox".into()))?;
            let code = match step.code {
                // A code other than the one sent, whatever that was.
                Some("wrong") => format!("{:06}", (sent.parse::<u32>().unwrap_or(0) + 1) % 1_000_000),
                Some(code) => code.to_string(),
                None => sent,
            };
            let done = engine.confirm_relative_transfer(&ctx, &from, ticket.request_id, &code)?;
            Ok(json!({"request_id": done.request_id, "entry_id": done.entry_id, "beneficiary": done.beneficiary, "amount": done.amount.to_string()}))
        }
        "bind" => {
            let person = alias(step.person, "person")?;
            let relative = alias(step.relative, "relative")?;
            let id = engine.bind(&acting(&person), &person, &relative, &need(step.relation, "relation")?)?;
            Ok(json!({"binding_id": id}))
        }
        "unbind" => {
            let person = alias(step.person, "person")?;
            let relative = alias(step.relative, "relative")?;
            engine.unbind(&acting(&person), &person, &relative)?;
            Ok(json!({}))
        }
        "set_quota" => {
            let donor = alias(step.person, "person")?;
            let relative = engine.person(&alias(step.relative, "relative")?)?;
            let grant = QuotaGrant {
                donor: donor.clone(),
                relative_name: step.name.map(str::to_string).unwrap_or(relative.name),
                relative_id_number: step.id_number.map(str::to_string).unwrap_or_else(|| relative.id_number.as_str().to_string()),
                relative_area: relative.area,
                relation: need(step.relation, "relation")?,
                amount: Money::parse_positive(&need(step.amount, "amount")?)?,
            };
            let ctx = acting(&donor);
            let granted = engine.grant_quota(&ctx, &grant)?;
            let relayed = relay_all()?;
            // Quota ids are random (unique across areas): results leave them out, so that a run
            // reads the same on every backend.
            Ok(json!({"top_up": granted.top_up, "cross_area": granted.cross_area, "amount": grant.amount.to_string(), "refused": relayed.refused}))
        }
        "end_quota" => {
            let person = alias(step.person, "person")?;
            let other = alias(step.relative, "relative")?;
            let quota = engine
                .quotas(&person)?
                .into_iter()
                .find(|q| {
                    q.state == QuotaState::Active
                        && ((q.donor == person && q.relative.as_deref() == Some(other.as_str()))
                            || (q.donor == other && q.relative.as_deref() == Some(person.as_str())))
                })
                .ok_or_else(|| Error::domain(gongji_core::ErrorCode::QuotaNotFound, "X2", format!("no quota in force between {person} and {other}")))?;
            let ctx = acting(&person);
            engine.end_quota(&ctx, &person, &quota.uid)?;
            relay_all()?;
            // What came back to the donor, once every message is delivered.
            let returned =
                engine.quotas(&quota.donor)?.into_iter().find(|q| q.uid == quota.uid && q.side != QuotaSide::Relative).map(|q| q.returned).unwrap_or_default();
            Ok(json!({"relation": quota.relation, "amount": returned.to_string()}))
        }
        "pay_premium" => {
            let insured = alias(step.person, "person")?;
            let payer = step.payer.map(|p| alias(Some(p), "payer")).transpose()?;
            let relation = match &payer {
                Some(_) => Some(need(step.relation, "relation")?),
                None => None,
            };
            let amount = Money::parse_positive(&need(step.amount, "amount")?)?;
            let ctx = acting(payer.as_deref().unwrap_or(&insured));
            let year = step.year.unwrap_or(chrono::Datelike::year(&day));
            let paid = engine.pay_premium(&ctx, &insured, payer.as_deref().zip(relation.as_deref()), amount, year)?;
            Ok(json!({"amount": paid.amount.to_string(), "from": account_alias(&paid.from)}))
        }
        "relay" => {
            let summary = relay_all()?;
            Ok(json!({"delivered": summary.delivered, "refused": summary.refused}))
        }
        other => Err(input(format!("unknown step `{other}`"))),
    }
}

fn account_alias(account: &AccountRef) -> String {
    match account {
        AccountRef::Person { psn_no, kind } => format!("{psn_no}.{kind}"),
        AccountRef::System { .. } => account.key(),
    }
}

fn input(message: String) -> Error {
    Error::domain(gongji_core::ErrorCode::InputInvalid, "§13", message)
}
