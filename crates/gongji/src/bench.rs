//! `gongji bench`: figures for the issues' targets, printed, never asserted (the machines are
//! shared and noisy). `settle` measures settlements per second and latency, one commit per bill
//! and with group commit; `year-end` measures the year-end job over generated stores.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use gongji_core::settlement::{Bill, BillContent, BillSplit};
use gongji_core::{Actor, Channel, Money, VisitType};
use gongji_engine::{Context, Engine, Result};
use gongji_store::Store;

use crate::gen::{generate, GenOptions};

#[derive(Debug, Clone)]
pub struct SettleRow {
    pub mode: String,
    pub bills: usize,
    pub refused: usize,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
}

impl SettleRow {
    pub fn per_second(&self) -> f64 {
        self.bills as f64 / self.elapsed.as_secs_f64()
    }
}

impl std::fmt::Display for SettleRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<22} {:>8} bills {:>6} refused {:>9.0} settlements/s  p50 {:>9.3} ms  p99 {:>9.3} ms",
            self.mode,
            self.bills,
            self.refused,
            self.per_second(),
            self.p50.as_secs_f64() * 1e3,
            self.p99.as_secs_f64() * 1e3
        )
    }
}

fn percentile(sorted: &[Duration], per_cent: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[(sorted.len() * per_cent / 100).min(sorted.len() - 1)]
}

/// Generates `families × ~3` persons with networks and money, then settles `bills` bills for
/// each commit size in `batch_lens` (1 = one durable commit per bill).
pub fn bench_settle<S: Store>(engine: &Engine<S>, persons: usize, bills: usize, batch_lens: &[usize]) -> Result<Vec<SettleRow>> {
    generate(engine, &GenOptions { persons, months: 1, bills_per_100_persons: 0, ..GenOptions::default() }, &|_, _| {})?;
    let hospital = Context::new(Actor::Institution("BENCH".into()), Channel::Api, chrono::NaiveDate::from_ymd_opt(2024, 2, 1).expect("valid date"));
    let mut rows = Vec::new();
    for &batch_len in batch_lens {
        let batch_len = batch_len.max(1);
        let all: Vec<Bill> = (0..bills)
            .map(|n| Bill {
                institution: "BENCH".into(),
                bill_id: format!("b{batch_len}-{n}"),
                patient: format!("G{:08}", (n * 7919) % persons),
                visit: if n % 5 == 0 { VisitType::Inpatient } else { VisitType::Outpatient },
                date: hospital.business_date,
                content: BillContent::Split(BillSplit {
                    fund_pay: Money::from_fen(8_000),
                    self_borne: Money::from_fen(1_000 + (n % 700) as i64 * 13),
                    ..BillSplit::default()
                }),
            })
            .collect();
        let mut latencies = Vec::with_capacity(bills);
        let mut refused = 0;
        let started = Instant::now();
        for group in all.chunks(batch_len) {
            let group_started = Instant::now();
            if batch_len == 1 {
                if engine.settle(&hospital, &group[0]).is_err() {
                    refused += 1;
                }
            } else {
                refused += engine.settle_many(&hospital, group)?.iter().filter(|r| r.is_err()).count();
            }
            // Every bill of a group waits for the group's commit.
            latencies.extend(std::iter::repeat_n(group_started.elapsed(), group.len()));
        }
        let elapsed = started.elapsed();
        latencies.sort_unstable();
        let mode = if batch_len == 1 { "one commit per bill".to_string() } else { format!("{batch_len} bills per commit") };
        rows.push(SettleRow { mode, bills, refused, elapsed, p50: percentile(&latencies, 50), p99: percentile(&latencies, 99) });
    }
    let report = engine.audit()?;
    assert!(report.is_clean(), "audit after the benchmark: {report:?}");
    Ok(rows)
}

/// Runs pgbench's TPC-B (`-c clients -j threads -T seconds`) in a scratch database next to
/// `admin_url` (e.g. `postgres://postgres@127.0.0.1:5432/postgres`) and returns its TPS.
pub fn pgbench_tps(admin_url: &str, clients: u32, threads: u32, seconds: u32) -> std::result::Result<f64, String> {
    let scratch = format!("gongji_pgbench_{}", std::process::id());
    let (base, _) = admin_url.rsplit_once('/').ok_or("the URL needs a database name")?;
    let scratch_url = format!("{base}/{scratch}");
    let psql = |sql: &str| Command::new("psql").args([admin_url, "-q", "-c", sql]).output().map_err(|e| format!("psql: {e}"));
    let created = psql(&format!("CREATE DATABASE {scratch}"))?;
    if !created.status.success() {
        return Err(format!("CREATE DATABASE: {}", String::from_utf8_lossy(&created.stderr)));
    }
    let outcome = (|| {
        let init = Command::new("pgbench").args(["-i", "-q", &scratch_url]).output().map_err(|e| format!("pgbench: {e}"))?;
        if !init.status.success() {
            return Err(format!("pgbench -i: {}", String::from_utf8_lossy(&init.stderr)));
        }
        let run = Command::new("pgbench")
            .args(["-c", &clients.to_string(), "-j", &threads.to_string(), "-T", &seconds.to_string(), &scratch_url])
            .output()
            .map_err(|e| format!("pgbench: {e}"))?;
        let text = String::from_utf8_lossy(&run.stdout);
        text.lines()
            .find_map(|line| line.strip_prefix("tps = ").and_then(|rest| rest.split_whitespace().next()).and_then(|n| n.parse::<f64>().ok()))
            .ok_or_else(|| format!("no tps in pgbench output: {text}"))
    })();
    let _ = psql(&format!("DROP DATABASE IF EXISTS {scratch}"));
    outcome
}

#[derive(Debug, Clone)]
pub struct YearEndRow {
    pub persons: usize,
    pub generate: Duration,
    pub year_end: Duration,
    pub peak_memory_kib: Option<u64>,
    pub job_output: String,
}

/// For each size: generates a store in `dir` (one month of activity), then runs the year-end
/// job in a child `gongji` process, timing it and reading its peak memory.
pub fn bench_year_end(dir: &Path, sizes: &[usize], executable: &Path) -> std::result::Result<Vec<YearEndRow>, String> {
    let mut rows = Vec::new();
    for &persons in sizes {
        let path = dir.join(format!("year-end-{persons}.db"));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        let started = Instant::now();
        {
            let store = gongji_store::sqlite::SqliteStore::open(&path).map_err(|e| e.to_string())?;
            let engine = Engine::new(store, gongji_engine::policy_file::preset_book());
            let options = GenOptions { persons, months: 1, bills_per_100_persons: 10, families_per_commit: 2000, ..GenOptions::default() };
            generate(&engine, &options, &|_, _| {}).map_err(|e| e.to_string())?;
        }
        let generate_time = started.elapsed();
        let started = Instant::now();
        let output = Command::new(executable)
            .args(["--database", path.to_str().ok_or("path")?, "job", "run", "year-end", "--year", "2024", "--batch", "5000"])
            .output()
            .map_err(|e| e.to_string())?;
        let year_end = started.elapsed();
        let text = String::from_utf8_lossy(&output.stdout).to_string();
        if !output.status.success() {
            return Err(format!("year-end failed: {text}{}", String::from_utf8_lossy(&output.stderr)));
        }
        let peak_memory_kib =
            text.lines().find_map(|l| l.split("peak memory ").nth(1)).and_then(|rest| rest.split_whitespace().next()).and_then(|n| n.parse().ok());
        rows.push(YearEndRow { persons, generate: generate_time, year_end, peak_memory_kib, job_output: text });
    }
    Ok(rows)
}

/// The process's peak resident memory in KiB (Linux `VmHWM`), for job summaries.
pub fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|line| line.strip_prefix("VmHWM:")).and_then(|rest| rest.split_whitespace().next()).and_then(|n| n.parse().ok())
}
