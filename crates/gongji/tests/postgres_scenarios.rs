//! Every scenario file of the project (scenarios/ and, when present, ../shared/scenarios) passes
//! on PostgreSQL too, each on a fresh database created and dropped for it. Runs when
//! `GONGJI_TEST_DATABASE_URL` names a PostgreSQL server (see README); otherwise it prints that it
//! was skipped.

use std::path::PathBuf;

use gongji::scenario::{files_in, run_file, run_file_on_postgres};
use serde_json::Value;

#[test]
fn every_scenario_file_passes_on_postgres_as_on_sqlite() {
    let Ok(url) = std::env::var("GONGJI_TEST_DATABASE_URL") else {
        eprintln!("skipped every_scenario_file_passes_on_postgres_as_on_sqlite: GONGJI_TEST_DATABASE_URL is not set");
        return;
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = files_in(&root.join("scenarios")).unwrap();
    let shared = root.join("../shared/scenarios");
    if shared.is_dir() {
        files.extend(files_in(&shared).unwrap());
    }
    assert!(files.len() >= 7, "the seed examples are kept in scenarios/");
    for file in files {
        let on_postgres = run_file_on_postgres(&file, &url);
        assert!(on_postgres.passed(), "{} on PostgreSQL: {}", file.display(), on_postgres.failure.unwrap());
        // The same document, step by step, as on SQLite: the backends are interchangeable.
        let on_sqlite = run_file(&file);
        assert_eq!(without_timings(on_postgres.document), without_timings(on_sqlite.document), "{}: PostgreSQL and SQLite differ", file.display());
    }
}

/// The document without what is measured rather than computed (a job's `elapsed_ms`).
fn without_timings(mut document: Value) -> Value {
    fn strip(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.remove("elapsed_ms");
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut document);
    document
}
