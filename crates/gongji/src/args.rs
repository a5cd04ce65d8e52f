//! The command line's clap types, and nothing else: what `gongji --help` shows. What each
//! command does is in `commands/`; `cli::run` routes a parsed `Cli` there; which store the global
//! options choose is `Cli::backend` (in `backend`). `serve` and `token` keep their types in
//! `serve_cli`.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};

use crate::serve_cli::{ServeArgs, TokenCommand};
use crate::wire;

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
        #[arg(long, default_value = wire::DEFAULT_INSTITUTION)]
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
    Family(FamilyCommand),
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
    Serve(ServeArgs),
    /// Issue, revoke and list the HTTP API's bearer tokens (§12).
    #[command(subcommand)]
    Token(TokenCommand),
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
    #[arg(long, default_value = wire::DEFAULT_INSTITUTION)]
    pub institution: String,
    #[arg(long)]
    pub bill: String,
    #[arg(long)]
    pub patient: String,
    #[arg(long)]
    pub visit: String,
    /// Upstream split, e.g. `fund_pay=800,self_borne=200`.
    #[arg(long, conflicts_with = "item")]
    pub split: Option<String>,
    /// An item `CODE,NAME,AMOUNT,CLASS` (class A, B or C); repeat for each item.
    #[arg(long)]
    pub item: Vec<String>,
    #[arg(long)]
    pub json: bool,
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
    pub state: Option<String>,
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
}
