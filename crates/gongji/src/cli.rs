//! `gongji`'s entry: routes the parsed command line (`args::Cli`) to its command module. The
//! commands that need no store (scenario, policy, bench) and the HTTP service (serve, token) are
//! routed first; every other command runs on the store the global options choose, opened by
//! `backend::with_engine`, and a refusal of the engine is printed as `refused: {json}` with exit
//! code 2.

use std::process::ExitCode;

use anyhow::Result;
use gongji_engine::{Engine, Error};
use gongji_store::Store;

use crate::args::{Cli, Command, JobCommand, ScenarioCommand};
use crate::backend::{with_engine, EngineJob};
use crate::commands::{bench, database, family, jobs, money, network, persons, policy, query, scenario};
use crate::session::Session;
use crate::wire;

pub fn run(cli: Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Scenario(ScenarioCommand::Run { path, json }) => return scenario::run(path, *json, cli.postgres_url()?),
        Command::Policy(command) => return policy::run(command),
        Command::Bench(command) => return bench::run(command, cli.postgres_url()?),
        Command::Serve(args) => return crate::serve_cli::serve(cli.backend()?, cli.date, args),
        Command::Token(command) => return crate::serve_cli::token(cli.backend()?, command),
        _ => {}
    }
    with_engine(cli.backend()?, StoreCommand(&cli))
}

/// A command that works on the store of the global options.
struct StoreCommand<'a>(&'a Cli);

impl EngineJob for StoreCommand<'_> {
    type Output = ExitCode;

    fn run<S: Store + 'static>(self, engine: Engine<S>) -> Result<ExitCode> {
        let session = Session::new(self.0, &engine);
        match execute(&session, &self.0.command) {
            Ok(code) => Ok(code),
            Err(err) => match err.downcast_ref::<Error>() {
                Some(refusal @ Error::Domain(_)) => {
                    eprintln!("refused: {}", wire::error_json(refusal));
                    Ok(ExitCode::from(2))
                }
                _ => Err(err),
            },
        }
    }
}

fn execute<S: Store>(session: &Session<'_, S>, command: &Command) -> Result<ExitCode> {
    match command {
        Command::Migrate => database::migrate(session),
        Command::Import(command) => database::import(session, command),
        Command::Audit => database::audit(session),
        Command::Person(command) => persons::run(session, command),
        Command::Network(command) => network::run(session, command),
        Command::Move { person, from, to, amount } => money::move_money(session, person, from, to, amount),
        Command::Preset { person, amount } => money::preset(session, person, amount.as_deref()),
        Command::Settle(args) => money::settle(session, args),
        Command::Presettle(args) => money::presettle(session, args),
        Command::Cancel { institution, bill, json } => money::cancel(session, institution, bill, *json),
        Command::Explain { patient, visit, amount, json } => money::explain(session, patient, visit, amount, *json),
        Command::Query(command) => query::run(session, command),
        Command::Job(JobCommand::Run { name, year, for_date, batch }) => jobs::run(session, name, *year, *for_date, *batch),
        Command::Liquidate { person, reason, payee } => jobs::liquidate(session, person, reason, payee),
        Command::Family(command) => family::run(session, command),
        Command::Gen { persons, months, bills_per_100_persons, seed } => bench::gen(session, *persons, *months, *bills_per_100_persons, *seed),
        Command::Scenario(_) | Command::Policy(_) | Command::Serve(_) | Command::Token(_) | Command::Bench(_) => {
            unreachable!("handled before opening the store")
        }
    }
}
