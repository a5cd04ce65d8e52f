//! Load benchmark (not a test): settlements over HTTP on loopback against a fresh SQLite
//! store, with N keep-alive connections for T seconds. Prints requests/s, p50/p99/max latency
//! and errors, then runs the audit (P4) and shows it clean.
//!
//! cargo bench -p gongji-server --bench http_settle -- [--seconds 60] [--connections 64]
//!     [--persons 512] [--memory]
//!
//! The store is a temporary file (WAL, synchronous=FULL: every settlement is durable before
//! its answer) unless `--memory`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Local, NaiveDate};
use gongji_core::{Actor, AreaCode, Channel, IdNumber, InsuranceType, Money, Person, PersonAccount, PersonStatus};
use gongji_engine::persons::Credit;
use gongji_engine::policy_file::preset_book;
use gongji_engine::{Context, Engine};
use gongji_server::auth::{self, Role, TokenSpec};
use gongji_server::client::HttpClient;
use gongji_server::{RunningServer, ServerConfig};
use gongji_store::sqlite::SqliteStore;
use gongji_store::Store;

struct Options {
    seconds: u64,
    connections: usize,
    persons: usize,
    memory: bool,
}

fn options() -> Options {
    let mut options = Options { seconds: 10, connections: 64, persons: 512, memory: false };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = || args.get(i + 1).and_then(|v| v.parse::<u64>().ok()).unwrap_or_else(|| panic!("{} needs a number", args[i]));
        match args[i].as_str() {
            "--seconds" => options.seconds = value(),
            "--connections" => options.connections = value() as usize,
            "--persons" => options.persons = value() as usize,
            "--memory" => {
                options.memory = true;
                i -= 1;
            }
            "--bench" => i -= 1,
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    options
}

fn main() {
    let options = options();
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = if options.memory { SqliteStore::in_memory() } else { SqliteStore::open(&dir.path().join("bench.db")) }.expect("store");
    let engine = Arc::new(Engine::new(store, preset_book()));
    let today = Local::now().date_naive();
    let setup_started = Instant::now();
    seed(&engine, options.persons, today);
    let (_, token) =
        auth::issue(engine.store(), &TokenSpec { role: Role::Institution, area: None, institution: Some("H0001".into()), person: None, name: "bench".into() })
            .expect("institution token");
    let server = RunningServer::start(engine.clone(), ServerConfig::default(), "127.0.0.1:0".parse().unwrap(), 2).expect("server");
    println!(
        "http_settle: {} ({}), {} persons seeded in {:.1} s; {} connections for {} s against http://{}",
        engine.store().describe(),
        if options.memory { "in memory" } else { "file, WAL, synchronous=FULL" },
        options.persons,
        setup_started.elapsed().as_secs_f64(),
        options.connections,
        options.seconds,
        server.addr
    );

    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let workers: Vec<_> = (0..options.connections)
        .map(|connection| {
            let (stop, token, addr, persons) = (stop.clone(), token.clone(), server.addr, options.persons);
            std::thread::spawn(move || {
                let mut client = HttpClient::new(addr);
                let authorization = format!("Bearer {token}");
                let headers = [("Content-Type", "application/json"), ("Authorization", authorization.as_str())];
                let (mut latencies_us, mut errors) = (Vec::new(), 0u64);
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let patient = (connection * 7919 + n) % persons;
                    let body = format!(
                        r#"{{"bill_id":"c{connection}-{n}","patient":"P{patient:06}","visit":"outpatient","split":{{"fund_pay":"80.00","self_borne":"{}.{:02}"}}}}"#,
                        10 + n % 50,
                        n % 100
                    );
                    let sent = Instant::now();
                    match client.send("POST", "/api/v1/institutions/H0001/bills", &headers, body.as_bytes()) {
                        Ok(response) if response.status == 200 => latencies_us.push(sent.elapsed().as_micros() as u64),
                        Ok(_) | Err(_) => errors += 1,
                    }
                    n += 1;
                }
                (latencies_us, errors)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(options.seconds));
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        let (l, e) = worker.join().expect("worker");
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pct = |p: f64| latencies.get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1))).copied().unwrap_or(0) as f64 / 1000.0;
    println!("settlements: {} ok, {} errors in {:.1} s = {:.0} settlements/s", latencies.len(), errors, elapsed, latencies.len() as f64 / elapsed);
    println!("latency: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms", pct(0.50), pct(0.99), latencies.last().copied().unwrap_or(0) as f64 / 1000.0);
    server.stop().expect("server stops");
    let audit = engine.audit().expect("audit");
    println!(
        "audit: {} accounts, {} entries, {} postings, ledger total {}: {}",
        audit.accounts,
        audit.entries,
        audit.postings,
        audit.ledger_total,
        if audit.is_clean() { "clean" } else { "NOT clean" }
    );
    assert!(audit.is_clean(), "the ledger must balance after the load");
}

/// Persons P000000… of 330200 with a large HIS balance each, so that every bill is paid.
fn seed<S: Store>(engine: &Engine<S>, persons: usize, today: NaiveDate) {
    let area = AreaCode::parse("330200").unwrap();
    let ctx = Context::new(Actor::System("bench".into()), Channel::Batch, today);
    for index in 0..persons {
        let psn_no = format!("P{index:06}");
        let birth = NaiveDate::from_ymd_opt(1950 + (index % 50) as i32, 1 + (index % 12) as u32, 1 + (index % 28) as u32).unwrap();
        let person = Person {
            psn_no: psn_no.clone(),
            name: format!("测试{index}"),
            id_number: IdNumber::compose("330200", birth, (index / 600) as u16).unwrap(),
            area: area.clone(),
            insurance: InsuranceType::Employee,
            phone: None,
            status: PersonStatus::Normal,
        };
        engine.register_person(&ctx, &person).expect("register");
        let credit = Credit { psn_no: psn_no.clone(), account: PersonAccount::His, amount: Money::yuan(1_000_000), reference: format!("bench-{psn_no}") };
        engine.credit(&ctx, &credit).expect("credit");
    }
}
