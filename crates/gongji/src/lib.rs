//! The `gongji` command's library: CLI commands, CSV imports, the scenario runner and the wire
//! formats they share. `main.rs` only parses arguments and calls in here.

pub mod bench;
pub mod bench_pg;
pub mod cli;
pub mod family_cli;
pub mod gen;
pub mod import;
pub mod scenario;
pub mod serve_cli;
pub mod wire;
