//! The `gongji` command's library: CLI commands, CSV imports, the scenario runner and the wire
//! formats they share. `main.rs` only parses arguments and calls `cli::run`.

pub mod args;
pub mod backend;
pub mod bench;
pub mod bench_pg;
pub mod cli;
pub mod commands;
pub mod gen;
pub mod import;
pub mod scenario;
pub mod serve_cli;
pub mod session;
pub mod wire;

/// The family commands' old path (the cross-area crash test names `KILL_RELAY_VAR` by it).
pub use commands::family as family_cli;
