use std::process::ExitCode;

use clap::Parser;
use gongji::args::Cli;
use gongji::cli::run;

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
