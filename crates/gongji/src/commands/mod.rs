//! One module per group of subcommands, mirroring `gongji --help`. Each takes the `Session`
//! (engine, business date, who acts) and its own clap arguments from `args`, prints its answer,
//! and returns the exit code; a refusal of the engine is returned as an error and printed by
//! `cli::run`. Command modules use the shared helpers (`session`, `backend`, `wire`) and never
//! each other.

pub mod bench;
pub mod database;
pub mod family;
pub mod jobs;
pub mod money;
pub mod network;
pub mod persons;
pub mod policy;
pub mod query;
pub mod scenario;
