//! The `gongji` command line (§12). The CLI is an agency tool: it acts as an operator at the
//! counter of the person's own planning area (or of `--operator-area`), recorded with `--operator`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use chrono::{Local, NaiveDate};
use clap::{Args, Parser, Subcommand};
use gongji_core::settlement::{Bill, BillContent, BillItem, BillSplit, ItemClass};
use gongji_core::{AccountRef, Actor, AreaCode, Channel, IdNumber, InsuranceType, Money, Person, PersonStatus, VisitType};
use gongji_engine::policy_file::{load_policy, parse_policy, preset_book, preset_ids};
use gongji_engine::{Context, Engine, Error};
use gongji_store::postgres::{is_postgres_url, PgStore};
use gongji_store::sqlite::SqliteStore;
use gongji_store::Store;
use serde_json::json;

use crate::{import, scenario, wire};

#[derive(Parser)]
#[command(name = "gongji", version, about = "共济: family sharing of medical-insurance personal accounts, and settlement against them")]
pub struct Cli {
    /// The SQLite database file (created if missing).
    #[arg(long, global = true, env = "GONGJI_DATABASE", default_value = "gongji.db")]
    pub database: PathBuf,
    /// A PostgreSQL database instead of the SQLite file: `postgres://user@host:port/dbname`.
    /// For `scenario run`, a server on which each file gets a fresh database (dropped after).
    #[arg(long, global = true, env = "GONGJI_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Operator id recorded on every change made through the CLI (P6).
    #[arg(long, global = true, env = "GONGJI_OPERATOR", default_value = "cli")]
    pub operator: String,
    /// The operator's planning area; by default the area of the person acted for.
    #[arg(long, global = true, env = "GONGJI_OPERATOR_AREA")]
    pub operator_area: Option<String>,
    /// Business date (YYYY-MM-DD); today by default.
    #[arg(long, global = true)]
    pub date: Option<NaiveDate>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create the database file and apply migrations.
    Migrate,
    /// Register, show and change persons.
    #[command(subcommand)]
    Person(PersonCommand),
    /// Import persons or credits from CSV (all-or-nothing).
    #[command(subcommand)]
    Import(ImportCommand),
    /// Prove that every balance equals the sum of its postings and the ledger sums to zero.
    Audit,
    /// Check and list policy files.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Family network business (§5).
    #[command(subcommand)]
    Network(NetworkCommand),
    /// Move own money HIS→MUT or MUT→HIS (T1).
    Move {
        #[arg(long)]
        person: String,
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        #[arg(long)]
        amount: String,
    },
    /// Set or clear the yearly preset HIS→MUT amount (T2).
    Preset {
        #[arg(long)]
        person: String,
        /// The amount; omit to clear the preset.
        #[arg(long)]
        amount: Option<String>,
    },
    /// Settle a bill (§9).
    Settle(BillArgs),
    /// Pre-settle a bill: what settling would do, committing nothing (ST5).
    Presettle(BillArgs),
    /// Cancel (refund) a settled bill along its original path (ST8).
    Cancel {
        #[arg(long, default_value = scenario::DEFAULT_INSTITUTION)]
        institution: String,
        #[arg(long)]
        bill: String,
        #[arg(long)]
        json: bool,
    },
    /// Which family money a patient can use now, and why not (Q4).
    Explain {
        #[arg(long)]
        patient: String,
        #[arg(long)]
        visit: String,
        #[arg(long)]
        amount: String,
        #[arg(long)]
        json: bool,
    },
    /// Batch queries (Q2, Q3).
    #[command(subcommand)]
    Query(QueryCommand),
    /// Batch jobs (§10).
    #[command(subcommand)]
    Job(JobCommand),
    /// Close a person's accounts on death or transfer out (B4).
    Liquidate {
        #[arg(long)]
        person: String,
        /// `death` or `transfer_out`
        #[arg(long)]
        reason: String,
        /// The heirs (death) or the receiving planning area (transfer out).
        #[arg(long)]
        payee: String,
    },
    /// Run scenario files (§13).
    #[command(subcommand)]
    Scenario(ScenarioCommand),
    /// Relative transfer (§7), association (§8), near-relative quotas (§15), the outbox.
    #[command(flatten)]
    Family(crate::family_cli::FamilyCommand),
    /// Generate a synthetic store: families of 1-6 with networks, balances, a year of activity.
    Gen {
        #[arg(long)]
        persons: usize,
        /// Months of contributions and settlements (1-12).
        #[arg(long, default_value_t = 12)]
        months: u32,
        /// Settlements per 100 persons over the whole period.
        #[arg(long, default_value_t = 50)]
        bills_per_100_persons: u32,
        #[arg(long, default_value_t = 20_240_101)]
        seed: u64,
    },
    /// Benchmarks: figures are printed, never asserted.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Run the HTTP service: JSON API, OpenAPI, the HIS dialect (§12, §16).
    Serve(crate::serve_cli::ServeArgs),
    /// Issue, revoke and list the HTTP API's bearer tokens (§12).
    #[command(subcommand)]
    Token(crate::serve_cli::TokenCommand),
}

#[derive(Subcommand)]
pub enum PersonCommand {
    /// Register one person (P1).
    Register {
        #[arg(long)]
        psn_no: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        id_number: String,
        #[arg(long)]
        area: String,
        #[arg(long)]
        insurance: String,
        #[arg(long)]
        phone: Option<String>,
    },
    /// Balances, network, role, order and pending state (Q1).
    Show {
        psn_no: String,
        #[arg(long)]
        json: bool,
    },
    /// Change a person's status (P1); network effects follow (see ARCHITECTURE.md).
    Status {
        psn_no: String,
        status: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
pub enum ImportCommand {
    /// `psn_no,name,id_number,area,insurance,phone,status`
    Persons { file: PathBuf },
    /// `psn_no,account,amount,reference` (account: cur for contributions, his for opening balances)
    Credits { file: PathBuf },
}

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Validate a policy file (or a preset id) and print what it sets.
    Check { file: String },
    /// List the shipped presets.
    List,
}

#[derive(Subcommand)]
pub enum NetworkCommand {
    Create {
        #[arg(long)]
        promoter: String,
    },
    Add {
        #[arg(long)]
        promoter: String,
        #[arg(long)]
        member: String,
        #[arg(long)]
        relation: String,
    },
    Confirm {
        #[arg(long)]
        member: String,
    },
    Remove {
        #[arg(long)]
        promoter: String,
        #[arg(long)]
        member: String,
    },
    Leave {
        #[arg(long)]
        member: String,
    },
    Reorder {
        #[arg(long)]
        promoter: String,
        /// psn_no of every member, comma-separated, in the new payment order.
        #[arg(long, value_delimiter = ',')]
        order: Vec<String>,
    },
    Dissolve {
        #[arg(long)]
        promoter: String,
    },
}

#[derive(Args)]
pub struct BillArgs {
    #[arg(long, default_value = scenario::DEFAULT_INSTITUTION)]
    institution: String,
    #[arg(long)]
    bill: String,
    #[arg(long)]
    patient: String,
    #[arg(long)]
    visit: String,
    /// Upstream split, e.g. `fund_pay=800,self_borne=200`.
    #[arg(long, conflicts_with = "item")]
    split: Option<String>,
    /// An item `CODE,NAME,AMOUNT,CLASS` (class A, B or C); repeat for each item.
    #[arg(long)]
    item: Vec<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub enum QueryCommand {
    /// Network creations, membership and order changes of an area (Q3).
    NetworkEvents {
        #[arg(long)]
        area: String,
        #[arg(long)]
        from: NaiveDate,
        #[arg(long)]
        to: NaiveDate,
        #[arg(long)]
        csv: bool,
    },
    /// Mutual-aid (MUT) account movements of an area (Q3).
    MutMovements {
        #[arg(long)]
        area: String,
        #[arg(long)]
        from: NaiveDate,
        #[arg(long)]
        to: NaiveDate,
        #[arg(long)]
        csv: bool,
    },
    /// Postings of one account in a date range (Q2).
    Statement {
        #[arg(long)]
        person: String,
        #[arg(long)]
        account: String,
        #[arg(long)]
        from: NaiveDate,
        #[arg(long)]
        to: NaiveDate,
    },
}

#[derive(Subcommand)]
pub enum JobCommand {
    /// Run a batch job (§10). Every job is idempotent for its period and resumable after a crash.
    Run {
        /// `year-end` (B1, needs --year), `preset` (B2, needs --date), `refund-sync` (B3, needs --date)
        name: String,
        #[arg(long)]
        year: Option<i32>,
        #[arg(long = "for-date")]
        for_date: Option<NaiveDate>,
        /// Persons per transaction.
        #[arg(long, default_value_t = gongji_engine::jobs::JOB_BATCH_LEN_DEFAULT)]
        batch: usize,
    },
}

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Settlements per second and latency on a fresh SQLite file, one commit per bill and with
    /// group commit; optionally pgbench's TPC-B on the local PostgreSQL for comparison.
    Settle {
        /// Persons generated (in families with networks) before the bills.
        #[arg(long, default_value_t = 20_000)]
        persons: usize,
        #[arg(long, default_value_t = 20_000)]
        bills: usize,
        /// Bills per commit, one run each.
        #[arg(long, value_delimiter = ',', default_value = "1,100,1000")]
        batch: Vec<usize>,
        /// The benchmark's database file (deleted first).
        #[arg(long, default_value = "/tmp/gongji-bench-settle.db")]
        file: PathBuf,
        /// An admin URL of a PostgreSQL server to run `pgbench -c 8 -j 2` against, e.g.
        /// postgres://postgres@127.0.0.1:5432/postgres
        #[arg(long)]
        pgbench: Option<String>,
        #[arg(long, default_value_t = 30)]
        pgbench_seconds: u32,
        /// On PostgreSQL (`--database-url`): threads settling at once, each bill (or group) its
        /// own transaction on a pooled connection.
        #[arg(long, default_value_t = 8)]
        threads: usize,
        /// On PostgreSQL: seconds each run settles (and pgbench's -T).
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        /// On PostgreSQL: each thread settles for its own slice of the families.
        #[arg(long)]
        partition: bool,
    },
    /// Year-end over generated stores of the given sizes (time, peak memory).
    YearEnd {
        #[arg(long, value_delimiter = ',', default_value = "100000,1000000")]
        persons: Vec<usize>,
        #[arg(long, default_value = "/tmp")]
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum ScenarioCommand {
    /// Run a scenario file, or every `*.toml` in a folder.
    Run {
        path: PathBuf,
        /// Print the JSON document of SPEC §13 (single file only).
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Scenario(ScenarioCommand::Run { path, json }) => return run_scenarios(path, *json, cli.postgres_url()?),
        Command::Policy(command) => return policy(command),
        Command::Bench(command) => return bench(command, cli.postgres_url()?),
        // The HTTP service opens the SQLite file only; refuse rather than ignore a PostgreSQL URL.
        Command::Serve(_) | Command::Token(_) if cli.postgres_url()?.is_some() => {
            bail!("serve and token use the SQLite file (--database); the HTTP service does not run on PostgreSQL yet")
        }
        Command::Serve(args) => return crate::serve_cli::serve(&cli.database, cli.date, args),
        Command::Token(command) => return crate::serve_cli::token(&cli.database, command),
        _ => {}
    }
    match cli.postgres_url()? {
        Some(url) => run_with(&cli, Engine::new(PgStore::connect(url).with_context(|| format!("opening {url}"))?, preset_book())),
        None => run_with(&cli, Engine::new(SqliteStore::open(&cli.database).with_context(|| format!("opening {}", cli.database.display()))?, preset_book())),
    }
}

impl Cli {
    /// The PostgreSQL URL when `--database-url` (or `GONGJI_DATABASE_URL`) selects PostgreSQL.
    pub fn postgres_url(&self) -> Result<Option<&str>> {
        match self.database_url.as_deref() {
            None | Some("") => Ok(None),
            Some(url) if is_postgres_url(url) => Ok(Some(url)),
            Some(other) => bail!("--database-url must start with postgres:// (got {other:?}); the SQLite file is chosen with --database"),
        }
    }
}

/// Runs a store command on `engine`, whichever backend it has.
fn run_with<S: Store>(cli: &Cli, engine: Engine<S>) -> Result<ExitCode> {
    let today = cli.date.unwrap_or_else(|| Local::now().date_naive());
    let session = Session { cli, engine: &engine, today };
    match session.execute() {
        Ok(code) => Ok(code),
        Err(err) => match err.downcast_ref::<Error>() {
            Some(refusal @ Error::Domain(_)) => {
                eprintln!("refused: {}", wire::error_json(refusal));
                Ok(ExitCode::from(2))
            }
            _ => Err(err),
        },
    }
}

struct Session<'a, S: Store> {
    cli: &'a Cli,
    engine: &'a Engine<S>,
    today: NaiveDate,
}

impl<S: Store> Session<'_, S> {
    /// The operator at the counter serving `psn_no` (N11: the person's own area by default).
    fn counter_for(&self, psn_no: &str) -> Result<Context> {
        let area = match &self.cli.operator_area {
            Some(area) => AreaCode::parse(area).map_err(Error::from)?,
            None => self.engine.person(psn_no)?.area,
        };
        Ok(Context::new(Actor::Operator { id: self.cli.operator.clone(), area }, Channel::Counter, self.today))
    }

    fn agency(&self) -> Context {
        Context::new(Actor::Admin(self.cli.operator.clone()), Channel::Counter, self.today)
    }

    fn execute(&self) -> Result<ExitCode> {
        let engine = self.engine;
        match &self.cli.command {
            Command::Migrate => println!("database {} is up to date", self.engine.store().describe()),
            Command::Person(PersonCommand::Register { psn_no, name, id_number, area, insurance, phone }) => {
                let person = Person {
                    psn_no: psn_no.clone(),
                    name: name.clone(),
                    id_number: IdNumber::parse(id_number).map_err(Error::from)?,
                    area: AreaCode::parse(area).map_err(Error::from)?,
                    insurance: InsuranceType::parse(insurance).ok_or_else(|| anyhow::anyhow!("insurance must be employee, resident or special"))?,
                    phone: phone.clone(),
                    status: PersonStatus::Normal,
                };
                engine.register_person(&self.agency(), &person)?;
                println!("registered {psn_no}");
            }
            Command::Person(PersonCommand::Show { psn_no, json }) => self.show_person(psn_no, *json)?,
            Command::Person(PersonCommand::Status { psn_no, status, reason }) => {
                let status = PersonStatus::parse(status).ok_or_else(|| anyhow::anyhow!("unknown status {status:?}"))?;
                engine.set_status(&self.counter_for(psn_no)?, psn_no, status, reason)?;
                println!("{psn_no} is now {status}");
            }
            Command::Import(command) => return self.import(command),
            Command::Audit => return self.audit(),
            Command::Network(command) => self.network(command)?,
            Command::Move { person, from, to, amount } => {
                let (from, to) = (wire::person_account(from)?, wire::person_account(to)?);
                let amount = Money::parse_positive(amount).map_err(Error::from)?;
                engine.move_mutual_aid(&self.counter_for(person)?, person, from, to, amount)?;
                println!("moved {amount} from {from} to {to} of {person}");
            }
            Command::Preset { person, amount } => {
                let amount = amount.as_deref().map(Money::parse_positive).transpose().map_err(Error::from)?;
                engine.set_preset(&self.counter_for(person)?, person, amount)?;
                match amount {
                    Some(amount) => println!("preset of {person} set to {amount}"),
                    None => println!("preset of {person} cleared"),
                }
            }
            Command::Settle(args) | Command::Presettle(args) => {
                let bill = bill_of(args, self.today)?;
                let ctx = Context::new(Actor::Institution(args.institution.clone()), Channel::Api, self.today);
                let outcome = if matches!(self.cli.command, Command::Settle(_)) { engine.settle(&ctx, &bill)? } else { engine.presettle(&ctx, &bill)? };
                let document = wire::settlement_json(&outcome, &account_name);
                if args.json {
                    println!("{}", serde_json::to_string_pretty(&document)?);
                } else {
                    println!(
                        "bill {} of {}: total {}, fund {}, cash {}{}",
                        outcome.bill_id,
                        outcome.institution,
                        outcome.total(),
                        outcome.split.fund_pay,
                        outcome.cash,
                        if outcome.replayed { " (already settled)" } else { "" }
                    );
                    for step in &outcome.steps {
                        println!("  [{}] {}", step.code, step.message);
                    }
                }
            }
            Command::Cancel { institution, bill, json } => {
                let ctx = Context::new(Actor::Institution(institution.clone()), Channel::Api, self.today);
                let outcome = engine.cancel(&ctx, institution, bill)?;
                let document = wire::cancel_json(&outcome, &account_name);
                if *json {
                    println!("{}", serde_json::to_string_pretty(&document)?);
                } else {
                    println!("cancelled bill {bill} of {institution}: {document}");
                }
            }
            Command::Explain { patient, visit, amount, json } => {
                let visit = VisitType::parse(visit).ok_or_else(|| anyhow::anyhow!("unknown visit type {visit:?}"))?;
                let amount = Money::parse_positive(amount).map_err(Error::from)?;
                let explanation = engine.explain(&self.counter_for(patient)?, patient, visit, amount)?;
                if *json {
                    let mut payments = serde_json::Map::new();
                    for p in &explanation.payments {
                        payments.insert(account_name(&p.account), json!(p.amount.to_string()));
                    }
                    let document = json!({"patient": patient, "visit": visit.as_str(), "amount": amount.to_string(), "policy": explanation.policy_id, "payments": payments, "cash": explanation.cash.to_string(), "steps": wire::steps_json(&explanation.steps, &account_name)});
                    println!("{}", serde_json::to_string_pretty(&document)?);
                } else {
                    println!("{patient}, {visit} burden {amount} under policy {}:", explanation.policy_id);
                    for step in explanation.steps.iter().skip(1) {
                        println!("  [{}] {}", step.code, step.message);
                    }
                }
            }
            Command::Family(command) => return crate::family_cli::execute(self.engine, self.cli, self.today, command),
            Command::Query(command) => self.query(command)?,
            Command::Job(JobCommand::Run { name, year, for_date, batch }) => return self.run_job(name, *year, *for_date, *batch),
            Command::Liquidate { person, reason, payee } => {
                let reason = gongji_engine::jobs::LiquidationReason::parse(reason).ok_or_else(|| anyhow::anyhow!("reason is death or transfer_out"))?;
                let record = engine.liquidate(&self.counter_for(person)?, person, reason, payee)?;
                println!(
                    "{person} liquidated ({}): principal {}, interest {}, payable to {}; status cancelled",
                    record.reason, record.principal, record.interest, record.payee
                );
            }
            Command::Gen { persons, months, bills_per_100_persons, seed } => {
                let options = crate::gen::GenOptions {
                    persons: *persons,
                    months: *months,
                    bills_per_100_persons: *bills_per_100_persons,
                    seed: *seed,
                    ..Default::default()
                };
                let bar = indicatif::ProgressBar::new(0);
                let started = std::time::Instant::now();
                let summary = crate::gen::generate(engine, &options, &|done, total| {
                    bar.set_length(total);
                    bar.set_position(done);
                })?;
                bar.finish_and_clear();
                println!(
                    "generated {} persons in {} families ({} networks), {} credits ({}), {} settlements in {:.1} s",
                    summary.persons,
                    summary.families,
                    summary.networks,
                    summary.credits,
                    summary.money_in,
                    summary.settlements,
                    started.elapsed().as_secs_f64()
                );
            }
            Command::Scenario(_) | Command::Policy(_) | Command::Serve(_) | Command::Token(_) | Command::Bench(_) => {
                unreachable!("handled before opening the store")
            }
        }
        Ok(ExitCode::SUCCESS)
    }

    fn run_job(&self, name: &str, year: Option<i32>, for_date: Option<NaiveDate>, batch_len: usize) -> Result<ExitCode> {
        let date = for_date.or(self.cli.date);
        let today = self.today;
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(indicatif::ProgressStyle::with_template("{spinner} {msg} {pos} done ({elapsed})").expect("valid template"));
        bar.set_message(name.to_string());
        let progress = |done: u64, _total: u64| bar.set_position(done);
        // Test hook for the crash tests: the process kills itself (SIGKILL) while working on the
        // Nth subject, inside an open transaction.
        let kill_at: Option<u64> = std::env::var("GONGJI_KILL_AT_SUBJECT").ok().and_then(|v| v.parse().ok());
        let on_subject = |n: u64| {
            if Some(n) == kill_at {
                let _ = std::process::Command::new("kill").args(["-9", &std::process::id().to_string()]).status();
                std::thread::sleep(std::time::Duration::from_secs(60));
            }
        };
        let hooks = gongji_engine::jobs::JobHooks { progress: &progress, on_subject: &on_subject, batch_len: batch_len.max(1) };
        let need_date = || date.ok_or_else(|| anyhow::anyhow!("{name} needs --for-date (or the global --date)"));
        let summary = match name {
            "year-end" | "year_end" => self.engine.run_year_end(year.ok_or_else(|| anyhow::anyhow!("year-end needs --year"))?, today, &hooks)?,
            "preset" => self.engine.run_presets(need_date()?, today, &hooks)?,
            "refund-sync" | "refund_sync" => self.engine.run_refund_sync(need_date()?, today, &progress)?,
            other => bail!("unknown job {other:?}: year-end, preset or refund-sync"),
        };
        bar.finish_and_clear();
        println!(
            "job {} for {}: {} account(s), {} moved, {} skipped, {} already done before, {} ms",
            summary.job,
            summary.date.map(|d| d.to_string()).unwrap_or_default(),
            summary.accounts,
            summary.amount,
            summary.skipped.len(),
            summary.already_done,
            summary.elapsed.as_millis()
        );
        if let Some(kib) = crate::bench::peak_memory_kib() {
            println!("  peak memory {kib} KiB");
        }
        for (who, why) in &summary.skipped {
            println!("  skipped {who}: {why}");
        }
        Ok(ExitCode::SUCCESS)
    }

    fn show_person(&self, psn_no: &str, as_json: bool) -> Result<()> {
        let view = self.engine.person_overview(psn_no)?;
        let network = view.network.as_ref().map(|n| {
            json!({
                "network_id": n.network_id,
                "role": if n.is_promoter { "promoter" } else { "member" },
                "promoter": n.promoter,
                "position": n.position,
                "state": n.state.as_str(),
                "relation": n.relation,
                "members": n.members.iter().map(|(psn, relation, state)| json!({"psn_no": psn, "relation": relation, "state": state.as_str()})).collect::<Vec<_>>(),
            })
        });
        if as_json {
            let p = &view.person;
            let document = json!({
                "psn_no": p.psn_no, "name": p.name, "id_number": p.id_number.as_str(), "area": p.area.as_str(),
                "insurance": p.insurance.as_str(), "status": p.status.as_str(),
                "balances": {"cur": view.cur.to_string(), "his": view.his.to_string(), "mut": view.mutual.to_string()},
                "preset": view.preset.map(|m| m.to_string()), "network": network,
                "bindings": view.bindings.iter().map(|b| json!({"binding_id": b.id, "binder": b.association.binder, "relative": b.association.relative,
                    "relation": b.association.relation, "since": b.association.business_date.to_string()})).collect::<Vec<_>>(),
                "quotas": view.quotas.iter().map(|q| json!({"uid": q.uid, "side": q.side.as_str(), "state": q.state.as_str(), "donor": q.donor, "donor_area": q.donor_area.as_str(),
                    "relative": q.relative, "relative_area": q.relative_area.as_str(), "relation": q.relation, "granted": q.granted.to_string(),
                    "used": q.used.to_string(), "returned": q.returned.to_string(), "left": quota_left(q).map(|m| m.to_string())})).collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&document)?);
            return Ok(());
        }
        let p = &view.person;
        println!("{} {} ({}), {} {}, area {}, status {}", p.psn_no, p.name, p.id_number.masked(), p.insurance, sex_zh(&p.id_number), p.area, p.status);
        println!("  CUR 当年账户 {:>14}", view.cur);
        println!("  HIS 历年账户 {:>14}", view.his);
        println!("  MUT 共济账户 {:>14}", view.mutual);
        if let Some(preset) = view.preset {
            println!("  preset 预设划入 {preset}");
        }
        match &view.network {
            Some(n) => {
                let role = if n.is_promoter { "promoter 发起人".to_string() } else { format!("member 成员 ({})", n.relation.as_deref().unwrap_or("")) };
                println!("  network {}: {role}, payment order {}, {}", n.network_id, n.position, n.state);
                for (index, (psn, relation, state)) in n.members.iter().enumerate() {
                    println!("    {}. {psn} {} {}", index + 1, relation.as_deref().unwrap_or("promoter"), state);
                }
            }
            None => println!("  network: none"),
        }
        for b in &view.bindings {
            let a = &b.association;
            println!("  association 关联 {}: {} lets {} ({}) use HIS above the threshold, since {}", b.id, a.binder, a.relative, a.relation, a.business_date);
        }
        for q in &view.quotas {
            let role = if q.donor == p.psn_no && q.side != gongji_core::states::QuotaSide::Relative { "donor 共济人" } else { "relative 被共济人" };
            let left = quota_left(q).map(|m| m.to_string()).unwrap_or_else(|| format!("known in {}", q.relative_area));
            println!(
                "  quota 共济额度 {} as {role}, {}: {}@{} → {}@{} ({}), granted {}, used {}, returned {}, left {left}",
                q.uid,
                q.state.as_str(),
                q.donor,
                q.donor_area,
                q.relative.as_deref().unwrap_or("?"),
                q.relative_area,
                q.relation,
                q.granted,
                q.used,
                q.returned
            );
        }
        for change in &view.status_changes {
            println!("  status {} → {} on {} by {} ({}): {}", change.from, change.to, change.business_date, change.actor, change.channel, change.reason);
        }
        Ok(())
    }

    fn import(&self, command: &ImportCommand) -> Result<ExitCode> {
        let ctx = self.agency();
        let (what, outcome) = match command {
            ImportCommand::Persons { file } => ("persons", import::import_persons(self.engine, &ctx, file)),
            ImportCommand::Credits { file } => ("credits", import::import_credits(self.engine, &ctx, file)),
        };
        match outcome {
            Ok(summary) => {
                println!(
                    "imported {what}: {} row(s), {} written, {} already imported before, total {}",
                    summary.rows, summary.written, summary.already_done, summary.total
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(failure) => {
                eprint!("{failure}");
                Ok(ExitCode::from(2))
            }
        }
    }

    fn audit(&self) -> Result<ExitCode> {
        let report = self.engine.audit()?;
        println!(
            "audit of {}: {} accounts, {} entries, {} postings, ledger total {}",
            self.engine.store().describe(),
            report.accounts,
            report.entries,
            report.postings,
            report.ledger_total
        );
        for m in &report.mismatched {
            println!("  MISMATCH {}: stored {}, sum of postings {}", m.account, m.stored, m.sum_of_postings);
        }
        for entry in &report.unbalanced_entries {
            println!("  UNBALANCED entry {entry}");
        }
        for (account, balance) in &report.negative {
            println!("  NEGATIVE {account}: {balance}");
        }
        for (account, balance, product) in &report.out_of_range {
            println!("  OUT OF RANGE {account}: balance {balance}, daily-balance product {product} fen-days (ST10, B1)");
        }
        if report.is_clean() {
            println!("clean");
            Ok(ExitCode::SUCCESS)
        } else {
            println!("NOT clean");
            Ok(ExitCode::from(1))
        }
    }

    fn network(&self, command: &NetworkCommand) -> Result<()> {
        let engine = self.engine;
        match command {
            NetworkCommand::Create { promoter } => {
                let id = engine.create_network(&self.counter_for(promoter)?, promoter)?;
                println!("network {id} created by {promoter}");
            }
            NetworkCommand::Add { promoter, member, relation } => {
                let added = engine.add_member(&self.counter_for(promoter)?, promoter, member, relation)?;
                println!(
                    "{member} added as {relation}: {}",
                    if added == gongji_engine::networks::Added::Active { "active" } else { "pending their own confirmation (N10)" }
                );
            }
            NetworkCommand::Confirm { member } => {
                engine.confirm_member(&self.counter_for(member)?, member)?;
                println!("{member} confirmed");
            }
            NetworkCommand::Remove { promoter, member } => {
                engine.remove_member(&self.counter_for(promoter)?, promoter, member)?;
                println!("{member} removed");
            }
            NetworkCommand::Leave { member } => {
                engine.leave(&self.counter_for(member)?, member)?;
                println!("{member} left the network");
            }
            NetworkCommand::Reorder { promoter, order } => {
                engine.reorder(&self.counter_for(promoter)?, promoter, order)?;
                println!("payment order: {}", order.join(" → "));
            }
            NetworkCommand::Dissolve { promoter } => {
                engine.dissolve(&self.counter_for(promoter)?, promoter)?;
                println!("network of {promoter} dissolved");
            }
        }
        Ok(())
    }

    fn query(&self, command: &QueryCommand) -> Result<()> {
        let mut out = csv::Writer::from_writer(std::io::stdout());
        match command {
            QueryCommand::NetworkEvents { area, from, to, csv } => {
                let events = self.engine.network_events(&AreaCode::parse(area).map_err(Error::from)?, *from, *to)?;
                if *csv {
                    out.write_record(["id", "network_id", "business_date", "kind", "subject", "detail", "actor", "channel", "recorded_at"])?;
                }
                for e in &events {
                    let row = [
                        e.id.to_string(),
                        e.event.network_id.to_string(),
                        e.event.business_date.to_string(),
                        e.event.kind.as_str().to_string(),
                        e.event.subject.clone().unwrap_or_default(),
                        e.event.detail.clone(),
                        e.event.actor.clone(),
                        e.event.channel.clone(),
                        e.event.recorded_at.to_rfc3339(),
                    ];
                    if *csv {
                        out.write_record(&row)?;
                    } else {
                        println!("{}", row.join("  "));
                    }
                }
            }
            QueryCommand::MutMovements { area, from, to, csv } => {
                let movements = self.engine.mut_movements(&AreaCode::parse(area).map_err(Error::from)?, *from, *to)?;
                if *csv {
                    out.write_record(["entry_id", "business_date", "psn_no", "kind", "amount", "actor", "channel"])?;
                }
                for m in &movements {
                    let row = [
                        m.entry_id.to_string(),
                        m.business_date.to_string(),
                        m.psn_no.clone(),
                        m.kind.to_string(),
                        m.amount.to_string(),
                        m.actor.clone(),
                        m.channel.clone(),
                    ];
                    if *csv {
                        out.write_record(&row)?;
                    } else {
                        println!("{}", row.join("  "));
                    }
                }
            }
            QueryCommand::Statement { person, account, from, to } => {
                let kind = wire::person_account(account)?;
                for line in self.engine.statement(&AccountRef::person(person, kind), *from, *to)? {
                    println!("{}  {:>8}  {:<22} {:>14}  {}", line.business_date, line.entry_id, line.kind, line.amount, line.memo);
                }
            }
        }
        out.flush()?;
        Ok(())
    }
}

fn sex_zh(id: &IdNumber) -> &'static str {
    match id.sex() {
        gongji_core::id_number::Sex::Male => "男",
        gongji_core::id_number::Sex::Female => "女",
    }
}

/// `psn_no.account` for person accounts, the account key for system accounts.
pub fn account_name(account: &AccountRef) -> String {
    match account {
        AccountRef::Person { psn_no, kind } => format!("{psn_no}.{kind}"),
        AccountRef::System { .. } => account.key(),
    }
}

fn bill_of(args: &BillArgs, date: NaiveDate) -> Result<Bill> {
    let visit = VisitType::parse(&args.visit).ok_or_else(|| anyhow::anyhow!("unknown visit type {:?}", args.visit))?;
    let content = match &args.split {
        Some(split) => {
            let mut parts = BillSplit::default();
            for pair in split.split(',') {
                let (name, amount) = pair.split_once('=').ok_or_else(|| anyhow::anyhow!("split parts are name=amount: {pair:?}"))?;
                let amount = Money::parse(amount.trim()).map_err(Error::from)?;
                match name.trim() {
                    "fund_pay" => parts.fund_pay = amount,
                    "self_borne" => parts.self_borne = amount,
                    "first_self_pay" => parts.first_self_pay = amount,
                    "self_funded" => parts.self_funded = amount,
                    other => bail!("unknown split part {other:?}"),
                }
            }
            BillContent::Split(parts)
        }
        None => {
            let mut items = Vec::new();
            for text in &args.item {
                let fields: Vec<&str> = text.split(',').map(str::trim).collect();
                let [code, name, amount, class] = fields[..] else { bail!("an item is CODE,NAME,AMOUNT,CLASS: {text:?}") };
                let class = ItemClass::parse(class).ok_or_else(|| anyhow::anyhow!("item class is A, B or C: {class:?}"))?;
                items.push(BillItem { code: code.into(), name: name.into(), amount: Money::parse(amount).map_err(Error::from)?, class });
            }
            BillContent::Items(items)
        }
    };
    Ok(Bill { institution: args.institution.clone(), bill_id: args.bill.clone(), patient: args.patient.clone(), visit, date, content })
}

fn policy(command: &PolicyCommand) -> Result<ExitCode> {
    match command {
        PolicyCommand::List => {
            for id in preset_ids() {
                let policy = load_policy(id).map_err(Error::from)?;
                println!("{id:<10} {} (from {})", policy.name, policy.effective_from);
            }
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Check { file } => {
            let parsed = if Path::new(file).exists() {
                std::fs::read_to_string(file).map_err(anyhow::Error::from).and_then(|text| parse_policy(&text, file).map_err(anyhow::Error::from))
            } else {
                load_policy(file).map_err(anyhow::Error::from)
            };
            match parsed {
                Ok(policy) => {
                    let models: Vec<&str> = [
                        ("network", policy.models.network),
                        ("relative_transfer", policy.models.relative_transfer),
                        ("association", policy.models.association),
                        ("quota", policy.models.quota),
                    ]
                    .iter()
                    .filter(|(_, on)| *on)
                    .map(|(name, _)| *name)
                    .collect();
                    println!(
                        "{file}: valid policy {} for {} from {}",
                        policy.id,
                        policy.area.as_ref().map(AreaCode::as_str).unwrap_or("every area without its own"),
                        policy.effective_from
                    );
                    println!("  models: {}", models.join(", "));
                    println!(
                        "  relations: {}",
                        policy
                            .relations
                            .iter()
                            .map(|r| match r.max {
                                Some(max) => format!("{} (max {max})", r.name),
                                None => r.name.clone(),
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                    println!(
                        "  interest: HIS {} CUR {}; preset date {:02}-{:02}",
                        policy.interest_rate_his, policy.interest_rate_cur, policy.preset_date.0, policy.preset_date.1
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(err) => {
                    eprintln!("{err}");
                    Ok(ExitCode::from(2))
                }
            }
        }
    }
}

fn bench(command: &BenchCommand, postgres_url: Option<&str>) -> Result<ExitCode> {
    match command {
        BenchCommand::Settle { persons, batch, threads, seconds, partition, .. } if postgres_url.is_some() => {
            let url = postgres_url.unwrap_or_default();
            crate::bench_pg::run_settle(url, *threads, *seconds, (*persons / 3).max(1), batch, *partition)?;
        }
        BenchCommand::YearEnd { persons, .. } if postgres_url.is_some() => {
            let executable = std::env::current_exe()?;
            for &size in persons {
                crate::bench_pg::run_year_end(postgres_url.unwrap_or_default(), (size / 3).max(1), gongji_engine::jobs::JOB_BATCH_LEN_DEFAULT, &executable)?;
            }
        }
        BenchCommand::Settle { persons, bills, batch, file, pgbench, pgbench_seconds, .. } => {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
            }
            let engine = Engine::new(SqliteStore::open(file)?, preset_book());
            println!("settlement benchmark on {} (WAL, synchronous=FULL): {persons} persons, {bills} bills per run", file.display());
            for row in crate::bench::bench_settle(&engine, *persons, *bills, batch)? {
                println!("  {row}");
            }
            if let Some(url) = pgbench {
                match crate::bench::pgbench_tps(url, 8, 2, *pgbench_seconds) {
                    Ok(tps) => println!("  pgbench TPC-B -c 8 -j 2 -T {pgbench_seconds}: {tps:.0} tps"),
                    Err(err) => println!("  pgbench failed: {err}"),
                }
            }
        }
        BenchCommand::YearEnd { persons, dir } => {
            let executable = std::env::current_exe()?;
            for row in crate::bench::bench_year_end(dir, persons, &executable).map_err(|e| anyhow::anyhow!(e))? {
                println!(
                    "year-end over {:>9} persons: {:>7.1} s (peak memory {} KiB; generating the store took {:.1} s)",
                    row.persons,
                    row.year_end.as_secs_f64(),
                    row.peak_memory_kib.map(|k| k.to_string()).unwrap_or_else(|| "?".into()),
                    row.generate.as_secs_f64()
                );
                for line in row.job_output.lines().take(2) {
                    println!("    {line}");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_scenarios(path: &Path, as_json: bool, postgres_url: Option<&str>) -> Result<ExitCode> {
    let run_file = |file: &Path| match postgres_url {
        Some(url) => scenario::run_file_on_postgres(file, url),
        None => scenario::run_file(file),
    };
    if path.is_dir() {
        let files = scenario::files_in(path).with_context(|| format!("reading {}", path.display()))?;
        let (mut passed, mut failed) = (0, 0);
        for file in &files {
            let report = run_file(file);
            match &report.failure {
                None => {
                    passed += 1;
                    println!("PASS {}", file.display());
                }
                Some(failure) => {
                    failed += 1;
                    println!("FAIL {}: {failure}", file.display());
                }
            }
        }
        println!("{passed} passed, {failed} failed");
        return Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) });
    }
    let report = run_file(path);
    if as_json {
        println!("{}", serde_json::to_string_pretty(&report.document)?);
    }
    match &report.failure {
        None => {
            if !as_json {
                println!("PASS {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(failure) => {
            eprintln!("FAIL {}: {failure}", path.display());
            Ok(ExitCode::from(1))
        }
    }
}

/// What is left of a quota where this store knows it (one area, or the relative's side); a
/// donor's side across areas learns the spending only from the return.
fn quota_left(quota: &gongji_store::QuotaRecord) -> Option<Money> {
    (quota.side != gongji_core::states::QuotaSide::Donor).then(|| gongji_engine::quota::remaining(quota))
}
