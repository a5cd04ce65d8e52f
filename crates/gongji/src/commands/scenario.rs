//! `gongji scenario run`: scenario files (§13), one or a folder of them, on a fresh store each
//! (in memory, or a scratch database on the PostgreSQL server of `--database-url`).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, Result};

use crate::scenario;

/// Runs the file at `path`, or every `*.toml` in the folder; with `as_json` (a file only) prints
/// the document of §13. Exits 1 if a file fails.
pub fn run(path: &Path, as_json: bool, postgres_url: Option<&str>) -> Result<ExitCode> {
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
