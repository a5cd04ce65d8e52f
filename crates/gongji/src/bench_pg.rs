//! `gongji bench` on PostgreSQL (issue 7): settlements per second from many threads, each with
//! its own pooled connection, against pgbench's TPC-B on the same server in the same run; and
//! the year-end job over many persons (time and peak memory of the job's process). Figures are
//! printed, never asserted: the machines are shared and noisy. Every run works in scratch
//! databases it creates and drops.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use chrono::NaiveDate;
use gongji_core::settlement::{Bill, BillContent, BillSplit};
use gongji_core::{Actor, AreaCode, Channel, IdNumber, InsuranceType, Money, Person, PersonAccount, PersonStatus, VisitType};
use gongji_engine::persons::Credit;
use gongji_engine::policy_file::preset_book;
use gongji_engine::{Context, Engine};
use gongji_store::postgres::ScratchDatabase;
use gongji_store::Store;

/// Families set up per transaction by the fixture.
const FIXTURE_FAMILIES_PER_COMMIT: usize = 500;
/// Threads that set up the fixture.
const FIXTURE_THREADS: usize = 4;
const AREA: &str = "330200";

/// What one timed run of `bench settle` on PostgreSQL does.
pub struct SettleOptions {
    /// Distinguishes the bill ids of successive runs on one fixture.
    pub run: usize,
    pub threads: usize,
    pub seconds: u64,
    /// Families of three (promoter, spouse, child) with a network and MUT money.
    pub families: usize,
    /// Bills per transaction: 1 is one durable commit per bill; more is group commit
    /// (`Engine::settle_many`: each bill keeps its own result and savepoint).
    pub batch_len: usize,
    /// Each thread settles bills of its own slice of the families only (as when a front end
    /// routes a patient's bills to one worker), so that group commits rarely race for a row.
    pub partition: bool,
}

pub struct SettleFigures {
    pub settlements: u64,
    pub refused: u64,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
}

impl SettleFigures {
    pub fn per_second(&self) -> f64 {
        self.settlements as f64 / self.elapsed.as_secs_f64()
    }
}

fn fixture_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 1, 15).expect("valid date")
}

fn psn(family: usize, role: usize) -> String {
    format!("F{family:07}{}", ["P", "S", "C"][role])
}

/// Families of three persons of area 330200: a promoter (employee, HIS 5000.00, CUR 300.00),
/// a spouse (employee, HIS 2000.00) and a child (resident), in one network, the promoter's MUT
/// holding 1000.00. Set up by several threads, many families per transaction.
pub fn fixture<S: Store>(engine: &Engine<S>, families: usize, progress: &(dyn Fn(usize) + Sync)) -> Result<()> {
    let done = std::sync::atomic::AtomicUsize::new(0);
    let chunks: Vec<(usize, usize)> =
        (0..families).step_by(FIXTURE_FAMILIES_PER_COMMIT).map(|start| (start, (start + FIXTURE_FAMILIES_PER_COMMIT).min(families))).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| -> Result<()> {
        let workers: Vec<_> = (0..FIXTURE_THREADS)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&(start, end)) = chunks.get(index) else { return Ok(()) };
                        engine.bulk(|bulk| {
                            for family in start..end {
                                let ctx = Context::new(Actor::System("bench".into()), Channel::Batch, fixture_day());
                                let shift = chrono::Days::new((family / 1000) as u64);
                                let sequence = (family % 1000) as u16;
                                let births = [(1960, InsuranceType::Employee), (1965, InsuranceType::Employee), (2015, InsuranceType::Resident)];
                                for (role, (year, insurance)) in births.into_iter().enumerate() {
                                    let birth = NaiveDate::from_ymd_opt(year, 1, 1).expect("valid date") + shift;
                                    bulk.register_person(
                                        &ctx,
                                        &Person {
                                            psn_no: psn(family, role),
                                            name: format!("某{family}"),
                                            id_number: IdNumber::compose(AREA, birth, sequence)?,
                                            area: AreaCode::parse(AREA)?,
                                            insurance,
                                            phone: None,
                                            status: PersonStatus::Normal,
                                        },
                                    )?;
                                }
                                for (role, account, fen) in
                                    [(0, PersonAccount::His, 500_000), (0, PersonAccount::Cur, 30_000), (1, PersonAccount::His, 200_000)]
                                {
                                    let reference = format!("bench-{}-{account}", psn(family, role));
                                    bulk.credit(&ctx, &Credit { psn_no: psn(family, role), account, amount: Money::from_fen(fen), reference })?;
                                }
                                let promoter = psn(family, 0);
                                let as_promoter = Context::new(Actor::Person(promoter.clone()), Channel::App, fixture_day());
                                bulk.create_network(&as_promoter, &promoter)?;
                                bulk.add_member(&as_promoter, &promoter, &psn(family, 1), "spouse")?;
                                bulk.confirm_member(&Context::new(Actor::Person(psn(family, 1)), Channel::App, fixture_day()), &psn(family, 1))?;
                                bulk.add_member(&as_promoter, &promoter, &psn(family, 2), "child")?;
                                bulk.move_mutual_aid(&as_promoter, &promoter, PersonAccount::His, PersonAccount::Mut, Money::from_fen(100_000))?;
                            }
                            Ok(())
                        })?;
                        progress(done.fetch_add(end - start, Ordering::Relaxed) + end - start);
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().expect("fixture thread")?;
        }
        Ok(())
    })
}

/// A small pseudo-random sequence (xorshift), so that runs are repeatable without a dependency.
struct Sequence(u64);

impl Sequence {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// `threads` threads settle bills of random members of the fixture's families for `seconds`,
/// each bill its own transaction (or `batch_len` bills per transaction); then checks the audit.
pub fn settle<S: Store>(engine: &Engine<S>, options: &SettleOptions) -> Result<SettleFigures> {
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let per_thread: Vec<(u64, u64, Vec<Duration>)> = std::thread::scope(|scope| -> Result<Vec<_>> {
        let workers: Vec<_> = (0..options.threads)
            .map(|thread| {
                let stop = &stop;
                scope.spawn(move || -> Result<(u64, u64, Vec<Duration>)> {
                    let hospital = Context::new(Actor::Institution("BENCH".into()), Channel::Api, NaiveDate::from_ymd_opt(2024, 2, 1).expect("valid date"));
                    let mut random = Sequence(0x9e37_79b9_7f4a_7c15 ^ (thread as u64 + 1).wrapping_mul(0x2545_f491_4f6c_dd1d));
                    let (mut settled, mut refused, mut latencies) = (0u64, 0u64, Vec::new());
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let bills: Vec<Bill> = (0..options.batch_len.max(1))
                            .map(|_| {
                                n += 1;
                                let family = if options.partition {
                                    let slice = (options.families / options.threads).max(1);
                                    (thread + options.threads * (random.next() as usize % slice)) % options.families
                                } else {
                                    (random.next() % options.families as u64) as usize
                                };
                                let borne = 1_000 + (random.next() % 2_000) as i64;
                                Bill {
                                    institution: "BENCH".into(),
                                    bill_id: format!("r{}-t{thread}-{n}", options.run),
                                    patient: psn(family, (random.next() % 3) as usize),
                                    visit: VisitType::Outpatient,
                                    date: hospital.business_date,
                                    content: BillContent::Split(BillSplit {
                                        fund_pay: Money::from_fen(8_000),
                                        self_borne: Money::from_fen(borne),
                                        ..BillSplit::default()
                                    }),
                                }
                            })
                            .collect();
                        let group_started = Instant::now();
                        if bills.len() == 1 {
                            match engine.settle(&hospital, &bills[0]) {
                                Ok(_) => settled += 1,
                                Err(gongji_engine::Error::Domain(_)) => refused += 1,
                                Err(err) => return Err(err.into()),
                            }
                        } else {
                            for result in engine.settle_many(&hospital, &bills)? {
                                if result.is_ok() {
                                    settled += 1;
                                } else {
                                    refused += 1;
                                }
                            }
                        }
                        latencies.extend(std::iter::repeat_n(group_started.elapsed(), bills.len()));
                    }
                    Ok((settled, refused, latencies))
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs(options.seconds));
        stop.store(true, Ordering::Relaxed);
        workers.into_iter().map(|w| w.join().expect("bench thread")).collect()
    })?;
    let elapsed = started.elapsed();
    let mut latencies: Vec<Duration> = per_thread.iter().flat_map(|(_, _, l)| l.iter().copied()).collect();
    latencies.sort_unstable();
    let percentile = |p: usize| latencies.get((latencies.len() * p / 100).min(latencies.len().saturating_sub(1))).copied().unwrap_or_default();
    let figures = SettleFigures {
        settlements: per_thread.iter().map(|(s, _, _)| s).sum(),
        refused: per_thread.iter().map(|(_, r, _)| r).sum(),
        elapsed,
        p50: percentile(50),
        p99: percentile(99),
    };
    let report = engine.audit()?;
    if !report.is_clean() {
        bail!("audit after the benchmark is not clean: {report:?}");
    }
    Ok(figures)
}

/// pgbench's TPC-B (`pgbench -i`, then `-c clients -j jobs -T seconds`) in a scratch database on
/// the server of `admin_url`; returns its TPS (without connection time).
pub fn pgbench(admin_url: &str, clients: u32, jobs: u32, seconds: u64) -> Result<f64> {
    let database = ScratchDatabase::create(admin_url, "gongji_pgbench")?;
    let url = database.url();
    let init = Command::new("pgbench").args(["-i", "-q", &url]).output().context("running pgbench -i (is pgbench installed?)")?;
    if !init.status.success() {
        bail!("pgbench -i: {}", String::from_utf8_lossy(&init.stderr));
    }
    let run = Command::new("pgbench")
        .args(["-c", &clients.to_string(), "-j", &jobs.to_string(), "-T", &seconds.to_string(), &url])
        .output()
        .context("running pgbench")?;
    let text = String::from_utf8_lossy(&run.stdout);
    text.lines()
        .find_map(|line| line.strip_prefix("tps = ").and_then(|rest| rest.split_whitespace().next()).and_then(|n| n.parse::<f64>().ok()))
        .with_context(|| format!("no tps in pgbench's output: {text}{}", String::from_utf8_lossy(&run.stderr)))
}

/// `gongji bench settle --database-url postgres://…`: one fixture, a timed run for each commit
/// size in `batch_lens`, then pgbench on the same server; printed.
pub fn run_settle(admin_url: &str, threads: usize, seconds: u64, families: usize, batch_lens: &[usize], partition: bool) -> Result<()> {
    let database = ScratchDatabase::create(admin_url, "gongji_bench")?;
    let engine = Engine::new(database.store()?, preset_book());
    let started = Instant::now();
    fixture(&engine, families, &|_| {})?;
    println!("settlement benchmark on PostgreSQL ({}): {families} families of 3 set up in {:.1} s", engine.store().describe(), started.elapsed().as_secs_f64());
    let mut best: f64 = 0.0;
    for (run, &batch_len) in batch_lens.iter().enumerate() {
        let options = SettleOptions { run, threads, seconds, families, batch_len, partition };
        best = best.max(settle_once(&engine, &options)?);
    }
    drop(engine);
    drop(database);
    let tps = pgbench(admin_url, 8, 2, seconds)?;
    println!("  pgbench TPC-B -c 8 -j 2 -T {seconds} (scale 1, scratch database): {tps:.0} tps");
    println!("  best settlements/s ÷ pgbench TPS = {:.2}", best / tps);
    Ok(())
}

fn settle_once<S: Store>(engine: &Engine<S>, options: &SettleOptions) -> Result<f64> {
    let figures = settle(engine, options)?;
    let mut mode = if options.batch_len <= 1 { "one commit per bill".to_string() } else { format!("{} bills per commit", options.batch_len) };
    if options.partition {
        mode.push_str(", families partitioned by thread");
    }
    println!(
        "  gongji settle, {} threads, {mode}: {} settlements ({} refused) in {:.1} s = {:.0} settlements/s, p50 {:.2} ms, p99 {:.2} ms; audit clean",
        options.threads,
        figures.settlements,
        figures.refused,
        figures.elapsed.as_secs_f64(),
        figures.per_second(),
        figures.p50.as_secs_f64() * 1e3,
        figures.p99.as_secs_f64() * 1e3
    );
    Ok(figures.per_second())
}

/// `gongji bench year-end --database-url postgres://…`: sets up `families` families (3 persons
/// each) in a scratch database, then runs `gongji job run year-end --year 2024` on it in a child
/// process under `/usr/bin/time -v`, and prints its time and peak memory.
pub fn run_year_end(admin_url: &str, families: usize, batch_len: usize, executable: &Path) -> Result<()> {
    let database = ScratchDatabase::create(admin_url, "gongji_bench_year_end")?;
    {
        let engine = Engine::new(database.store()?, preset_book());
        let started = Instant::now();
        let last = std::sync::atomic::AtomicUsize::new(0);
        fixture(&engine, families, &|done| {
            if done / 50_000 > last.fetch_max(done / 50_000, Ordering::Relaxed) {
                eprintln!("  fixture: {done} families");
            }
        })?;
        println!("year-end benchmark on PostgreSQL: {} persons ({families} families) set up in {:.1} s", families * 3, started.elapsed().as_secs_f64());
    }
    let output = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(executable)
        .args(["--database-url", &database.url(), "job", "run", "year-end", "--year", "2024", "--batch", &batch_len.to_string()])
        .output()
        .context("running the year-end job under /usr/bin/time -v")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!("year-end failed: {stdout}{stderr}");
    }
    let field = |name: &str| stderr.lines().find_map(|l| l.trim().strip_prefix(name)).map(|v| v.trim().to_string()).unwrap_or_else(|| "?".into());
    println!(
        "  year-end over {} persons, {batch_len} per transaction: wall {}, peak memory (max RSS) {} KiB",
        families * 3,
        field("Elapsed (wall clock) time (h:mm:ss or m:ss):"),
        field("Maximum resident set size (kbytes):")
    );
    for line in stdout.lines().take(3) {
        println!("    {line}");
    }
    Ok(())
}
