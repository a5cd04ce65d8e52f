//! `gongji serve --demo` through the binary (issue 12 item 7): refused with a clear message and
//! a non-zero exit on a store that has real persons; on a new file it creates and marks the demo
//! store, and a second `serve --demo` on that file starts again. Each wait has a generous upper
//! bound (a server that should have refused would otherwise run for ever).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use gongji_server::client::HttpClient;

const GENEROUS: Duration = Duration::from_secs(120);

fn gongji(database: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gongji"));
    command.arg("--database").arg(database);
    command
}

fn examples(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples").join(file)
}

/// Waits for `child` to exit; kills it and panics after [`GENEROUS`].
fn exit_of(child: &mut Child, what: &str) -> ExitStatus {
    let deadline = Instant::now() + GENEROUS;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `serve --demo` on port 0: returns the child, the lines it printed up to the one that says it
/// is serving, and the address it serves on.
fn start_demo(database: &Path) -> (Child, Vec<String>, String) {
    let mut child = gongji(database).args(["serve", "--demo", "--listen", "127.0.0.1:0", "--log-level", "error"]).stdout(Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = Vec::new();
    loop {
        let line = received.recv_timeout(GENEROUS).unwrap_or_else(|_| {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve --demo did not start; it printed:\n{}", printed.join("\n"))
        });
        if let Some(rest) = line.strip_prefix("gongji serving ") {
            let addr = rest.split("http://").nth(1).and_then(|s| s.split_whitespace().next()).expect("the address").to_string();
            printed.push(line);
            return (child, printed, addr);
        }
        printed.push(line);
    }
}

/// SIGTERM, then the server's exit: it stops gracefully.
fn stop(mut child: Child) {
    let terminated = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(terminated.success());
    let status = exit_of(&mut child, "serve after SIGTERM");
    assert!(status.success(), "serve stops cleanly on SIGTERM: {status:?}");
}

// issue 12 item 7: the README's own sequence — import persons into gongji.db, then try the
// demo on the same file — must not open a one-click operator sign-in over those persons.
#[test]
fn issue12_item7_serve_demo_refuses_a_store_with_real_persons() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("gongji.db");
    let imported = gongji(&database).args(["import", "persons"]).arg(examples("persons.csv")).output().unwrap();
    assert!(imported.status.success(), "{}", String::from_utf8_lossy(&imported.stderr));

    let mut child = gongji(&database).args(["serve", "--demo", "--listen", "127.0.0.1:0"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let status = exit_of(&mut child, "serve --demo on a real store");
    let output = child.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert_eq!(status.code(), Some(2), "refused with a non-zero exit\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("拒绝以 --demo 启动") && stderr.contains("refusing --demo"), "a clear message in Chinese and English:\n{stderr}");
    assert!(!stdout.contains("gj_") && !stdout.contains("gongji serving"), "no token printed, nothing served:\n{stdout}");

    // The store is as it was: no demo person, no token; it still serves without --demo.
    let listed = gongji(&database).args(["token", "list"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&listed.stdout).lines().count(), 1, "only the header line: no token issued");
    let shown = gongji(&database).args(["person", "show", "A1"]).output().unwrap();
    assert!(!shown.status.success(), "no demo family was loaded");
}

// issue 12 item 7: a new file becomes a demo store, and a second `serve --demo` on it works;
// its sign-in page offers the one-click sign-in.
#[test]
fn issue12_item7_serve_demo_creates_a_demo_store_and_starts_on_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("demo.db");

    let (child, printed, addr) = start_demo(&database);
    assert!(printed.iter().any(|l| l.contains("loaded the seed families")), "{}", printed.join("\n"));
    let mut client = HttpClient::new(addr.parse().unwrap());
    let page = client.send("GET", "/web/sign-in", &[], b"").unwrap();
    assert!(page.text().contains("data-demo=\"operator\""), "the one-click sign-in on the demo store");
    drop(client);
    stop(child);

    let (child, printed, addr) = start_demo(&database);
    assert!(printed.iter().any(|l| l.contains("created by --demo; families kept")), "{}", printed.join("\n"));
    let mut client = HttpClient::new(addr.parse().unwrap());
    let page = client.send("GET", "/web/sign-in", &[], b"").unwrap();
    assert!(page.text().contains("data-demo=\"A1\""));
    drop(client);
    stop(child);
}
