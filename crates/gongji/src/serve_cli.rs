//! `gongji serve` (the HTTP service, §12) and `gongji token` (its bearer tokens).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context as _, Result};
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use gongji_core::AreaCode;
use gongji_engine::Engine;
use gongji_server::auth::{self, Role, TokenSpec};
use gongji_server::{demo, ServerConfig};
use gongji_store::Store;

use crate::backend::{with_engine, Backend, EngineJob};

#[derive(Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Load the seed families (seeds/003) into an empty store, mark it as a demo store, and
    /// print tokens to try with; the web sign-in then signs in with one click. Refused on a
    /// store that has persons and was not created by --demo.
    #[arg(long)]
    pub demo: bool,
    /// Largest request body accepted, in bytes.
    #[arg(long, default_value_t = gongji_server::BODY_LEN_MAX_DEFAULT)]
    pub body_limit: usize,
    /// Longest a request may take, in seconds.
    #[arg(long, default_value_t = gongji_server::REQUEST_TIMEOUT_DEFAULT.as_secs())]
    pub timeout: u64,
    /// Longest a client may take to send a request's headers (and longest a kept-alive
    /// connection may stay idle), in seconds; then the connection is closed.
    #[arg(long, default_value_t = gongji_server::HEADER_TIMEOUT_DEFAULT.as_secs(), value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout: u64,
    /// Most connections open at once; further clients wait in the kernel's accept queue until
    /// one closes. Must fit in the process's open-file limit (ulimit -n), which is raised
    /// towards its hard limit when needed.
    #[arg(long, default_value_t = gongji_server::MAX_CONNECTIONS_DEFAULT as u32, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// Log level: error, warn, info, debug or trace.
    #[arg(long, default_value = "info")]
    pub log_level: tracing::Level,
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Issue a token; it is printed once and stored only as a hash.
    Issue {
        /// insured, operator, institution or admin.
        #[arg(long)]
        role: String,
        /// The operator's planning area (operator).
        #[arg(long)]
        area: Option<String>,
        /// The institution's code (institution).
        #[arg(long)]
        institution: Option<String>,
        /// The person's psn_no (insured).
        #[arg(long)]
        person: Option<String>,
        /// Who holds it (operator id, system name); recorded as the actor of every change.
        #[arg(long)]
        name: Option<String>,
    },
    /// Revoke a token by its id (see `gongji token list`).
    Revoke { id: i64 },
    /// List the tokens issued, without their secrets.
    List,
}

/// `gongji serve` on the store `backend` opens (the one function every command opens its store
/// with; `cli::run` refuses PostgreSQL for serving, for now).
pub fn serve(backend: Backend<'_>, date: Option<NaiveDate>, args: &ServeArgs) -> Result<ExitCode> {
    gongji_server::init_logging(args.log_level);
    let max_connections = args.max_connections as usize;
    // The connection cap protects the service only if that many connections fit in the open-file
    // limit, with room for the store and the runtime (issue 12 item 5).
    gongji_server::reserve_file_descriptors(max_connections).map_err(|err| anyhow!("--max-connections {max_connections}: {err}"))?;
    with_engine(backend, Serve { date, args })
}

struct Serve<'a> {
    date: Option<NaiveDate>,
    args: &'a ServeArgs,
}

impl EngineJob for Serve<'_> {
    type Output = ExitCode;

    fn run<S: Store + 'static>(self, engine: Engine<S>) -> Result<ExitCode> {
        serve_engine(Arc::new(engine), self.date, self.args)
    }
}

fn serve_engine<S: Store + 'static>(engine: Arc<Engine<S>>, date: Option<NaiveDate>, args: &ServeArgs) -> Result<ExitCode> {
    let max_connections = args.max_connections as usize;
    if args.demo {
        let prepared = match demo::prepare(&engine) {
            Ok(prepared) => prepared,
            Err(err @ demo::DemoError::RealStore) => {
                eprintln!("{err}");
                eprintln!("({})", engine.store().describe());
                return Ok(ExitCode::from(2));
            }
            Err(err) => return Err(anyhow!("preparing the demo store: {err}")),
        };
        println!(
            "{}",
            match prepared {
                demo::Prepared::Loaded => "demo: loaded the seed families of seeds/003 (area 330200) into a new demo store:",
                demo::Prepared::Kept => "demo: this store was created by --demo; families kept as they are:",
            }
        );
        for story in demo::stories() {
            println!("  - {story}");
        }
        println!("demo: tokens to try with (shown once; `gongji token list` lists them):");
        for (what, token) in demo::issue_tokens(engine.store()).map_err(|e| anyhow!("issuing demo tokens: {}", e.detail))? {
            println!("  {what}:\n    {token}");
        }
        println!("demo: for example");
        println!("  curl -s -H 'Authorization: Bearer <insured A1 token>' http://{}/api/v1/persons/A1", args.listen);
    }
    let config = ServerConfig {
        body_len_max: args.body_limit,
        request_timeout: Duration::from_secs(args.timeout.max(1)),
        header_timeout: Duration::from_secs(args.header_timeout),
        max_connections,
        business_date: date,
        demo: args.demo,
    };
    let limits = gongji_server::ConnectionLimits::new(&config);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
        let addr = listener.local_addr()?;
        println!(
            "gongji serving {} on http://{addr} (web pages: http://{addr}/ ; OpenAPI: http://{addr}/openapi.json); Ctrl-C stops",
            engine.store().describe()
        );
        tracing::info!(%addr, max_connections, header_timeout_s = args.header_timeout, "listening");
        gongji_server::serve(listener, gongji_server::app(engine, config), limits, gongji_server::shutdown_signal()).await?;
        tracing::info!("stopped");
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `gongji token` on the store `backend` opens.
pub fn token(backend: Backend<'_>, command: &TokenCommand) -> Result<ExitCode> {
    with_engine(backend, Tokens(command))
}

struct Tokens<'a>(&'a TokenCommand);

impl EngineJob for Tokens<'_> {
    type Output = ExitCode;

    fn run<S: Store + 'static>(self, engine: Engine<S>) -> Result<ExitCode> {
        tokens(engine.store(), self.0)
    }
}

fn tokens<S: Store>(store: &S, command: &TokenCommand) -> Result<ExitCode> {
    match command {
        TokenCommand::Issue { role, area, institution, person, name } => {
            let role = Role::parse(role).ok_or_else(|| anyhow!("role is insured, operator, institution or admin, not {role:?}"))?;
            let area = area.as_deref().map(AreaCode::parse).transpose().map_err(|e| anyhow!("{e}"))?;
            let name = name.clone().or_else(|| person.clone()).or_else(|| institution.clone()).unwrap_or_else(|| role.as_str().to_string());
            let spec = TokenSpec { role, area, institution: institution.clone(), person: person.clone(), name };
            match auth::issue(store, &spec) {
                Ok((id, token)) => {
                    eprintln!("token {id} issued ({}); it is shown once and stored only as a hash:", role.as_str());
                    println!("{token}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(err) => {
                    eprintln!("refused: {} ({})", err.detail, err.code);
                    Ok(ExitCode::from(2))
                }
            }
        }
        TokenCommand::Revoke { id } => {
            if auth::revoke(store, *id).map_err(|e| anyhow!("{}", e.detail))? {
                println!("token {id} revoked");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("no token {id}, or it was revoked before");
                Ok(ExitCode::from(2))
            }
        }
        TokenCommand::List => {
            println!("{:>4}  {:<11}  {:<24}  {:<20}  {:<25}  revoked", "id", "role", "scope", "name", "created");
            for info in auth::list(store).map_err(|e| anyhow!("{}", e.detail))? {
                let scope = match info.spec.role {
                    Role::Insured => format!("person {}", info.spec.person.unwrap_or_default()),
                    Role::Operator => format!("area {}", info.spec.area.map(|a| a.to_string()).unwrap_or_default()),
                    Role::Institution => format!("institution {}", info.spec.institution.unwrap_or_default()),
                    Role::Admin => "all".to_string(),
                };
                println!(
                    "{:>4}  {:<11}  {:<24}  {:<20}  {:<25}  {}",
                    info.id,
                    info.spec.role.as_str(),
                    scope,
                    info.spec.name,
                    info.created_at.to_rfc3339(),
                    info.revoked_at.map(|t| t.to_rfc3339()).unwrap_or_else(|| "-".into())
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
