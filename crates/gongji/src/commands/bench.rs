//! `gongji bench …` (figures are printed, never asserted) and `gongji gen`, the synthetic store
//! the benchmarks run on. A benchmark creates its own stores (a fresh SQLite file, scratch
//! PostgreSQL databases); `gen` writes into the store of the global options.

use std::process::ExitCode;

use anyhow::Result;
use gongji_engine::jobs::JOB_BATCH_LEN_DEFAULT;
use gongji_engine::policy_file::preset_book;
use gongji_engine::Engine;
use gongji_store::sqlite::SqliteStore;
use gongji_store::Store;

use crate::args::BenchCommand;
use crate::gen::{self, GenOptions};
use crate::session::Session;
use crate::{bench, bench_pg};

/// Runs a benchmark; with `postgres_url`, on PostgreSQL.
pub fn run(command: &BenchCommand, postgres_url: Option<&str>) -> Result<ExitCode> {
    match command {
        BenchCommand::Settle { persons, batch, threads, seconds, partition, .. } if postgres_url.is_some() => {
            let url = postgres_url.unwrap_or_default();
            bench_pg::run_settle(url, *threads, *seconds, (*persons / 3).max(1), batch, *partition)?;
        }
        BenchCommand::YearEnd { persons, .. } if postgres_url.is_some() => {
            let executable = std::env::current_exe()?;
            for &size in persons {
                bench_pg::run_year_end(postgres_url.unwrap_or_default(), (size / 3).max(1), JOB_BATCH_LEN_DEFAULT, &executable)?;
            }
        }
        BenchCommand::Settle { persons, bills, batch, file, pgbench, pgbench_seconds, .. } => {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
            }
            let engine = Engine::new(SqliteStore::open(file)?, preset_book());
            println!("settlement benchmark on {} (WAL, synchronous=FULL): {persons} persons, {bills} bills per run", file.display());
            for row in bench::bench_settle(&engine, *persons, *bills, batch)? {
                println!("  {row}");
            }
            if let Some(url) = pgbench {
                match bench::pgbench_tps(url, 8, 2, *pgbench_seconds) {
                    Ok(tps) => println!("  pgbench TPC-B -c 8 -j 2 -T {pgbench_seconds}: {tps:.0} tps"),
                    Err(err) => println!("  pgbench failed: {err}"),
                }
            }
        }
        BenchCommand::YearEnd { persons, dir } => {
            let executable = std::env::current_exe()?;
            for row in bench::bench_year_end(dir, persons, &executable).map_err(|e| anyhow::anyhow!(e))? {
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

/// Generates a synthetic store: families of 1-6 with networks, balances, `months` of activity.
pub fn gen<S: Store>(session: &Session<'_, S>, persons: usize, months: u32, bills_per_100_persons: u32, seed: u64) -> Result<ExitCode> {
    let options = GenOptions { persons, months, bills_per_100_persons, seed, ..Default::default() };
    let bar = indicatif::ProgressBar::new(0);
    let started = std::time::Instant::now();
    let summary = gen::generate(session.engine, &options, &|done, total| {
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
    Ok(ExitCode::SUCCESS)
}
