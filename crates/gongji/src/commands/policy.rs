//! `gongji policy list|check`: the shipped presets and policy files (§4). No store is opened.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use gongji_core::AreaCode;
use gongji_engine::policy_file::{load_policy, parse_policy, preset_ids};
use gongji_engine::Error;

use crate::args::PolicyCommand;

pub fn run(command: &PolicyCommand) -> Result<ExitCode> {
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
