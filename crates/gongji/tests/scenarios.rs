//! The scenario runner (§13): the project's own scenario files pass, failures name the step and
//! show a diff, unsupported steps fail loudly, and `--json` prints the documented shape.

use std::path::PathBuf;

use gongji::scenario::{files_in, run_file, run_text};

fn project_scenarios() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

#[test]
fn every_project_scenario_passes() {
    let files = files_in(&project_scenarios()).unwrap();
    assert!(files.len() >= 7, "the seed examples are kept in scenarios/");
    for file in files {
        let report = run_file(&file);
        assert!(report.passed(), "{}: {}", file.display(), report.failure.unwrap());
    }
}

const HEADER: &str = r#"
policy = "330200"
date = "2024-03-01"

[persons.A]
name = "甲"
birth = "1970-05-01"
insurance = "employee"
his = "100"
"#;

#[test]
fn a_failed_expectation_names_the_step_and_shows_the_diff() {
    let text = format!("{HEADER}\n[[steps]]\ndo = \"check\"\nbalances = {{ A = {{ his = \"99\" }} }}\n");
    let report = run_text(&text, None);
    let failure = report.failure.expect("must fail");
    assert!(failure.starts_with("step 1 (check)"), "{failure}");
    assert!(failure.contains("A.his: expected 99.00, actual 100.00"), "{failure}");
}

#[test]
fn a_wrong_settlement_expectation_shows_expected_and_actual_payments() {
    let text = format!(
        "{HEADER}\n[[steps]]\ndo = \"settle\"\npatient = \"A\"\nbill = \"b\"\nvisit = \"outpatient\"\nsplit = {{ self_borne = \"30\" }}\nexpect = {{ payments = {{ \"A.his\" = \"20\" }}, cash = \"10\" }}\n"
    );
    let failure = run_text(&text, None).failure.expect("must fail");
    assert!(failure.contains("step 1 (settle)"), "{failure}");
    assert!(failure.contains("\"A.his\": \"20.00\"") && failure.contains("\"A.his\": \"30.00\""), "{failure}");
    assert!(failure.contains("cash: expected 10"), "{failure}");
}

#[test]
fn expect_error_must_match_and_a_succeeding_step_fails_it() {
    let wrong_code = format!("{HEADER}\n[[steps]]\ndo = \"create_network\"\npromoter = \"A\"\nexpect_error = \"network.spouse_limit\"\n");
    let failure = run_text(&wrong_code, None).failure.expect("must fail");
    assert!(failure.contains("expected error network.spouse_limit, but the step succeeded"), "{failure}");
}

#[test]
fn unsupported_and_unknown_steps_fail_loudly() {
    for step in ["liquidate", "bind", "relative_transfer", "teleport"] {
        let text = format!("{HEADER}\n[[steps]]\ndo = \"{step}\"\n");
        let report = run_text(&text, None);
        assert!(!report.passed(), "{step} must not pass silently");
    }
    let unknown_field = format!("{HEADER}\n[[steps]]\ndo = \"check\"\nbalance = {{}}\n");
    assert!(run_text(&unknown_field, None).failure.unwrap().contains("unknown field"));
}

#[test]
fn json_document_has_the_shape_of_section_13() {
    let text = format!(
        "{HEADER}\n[[steps]]\ndo = \"settle\"\npatient = \"A\"\nbill = \"b\"\nvisit = \"outpatient\"\nsplit = {{ fund_pay = \"10\", self_borne = \"30\" }}\n\n[[steps]]\ndo = \"move\"\nperson = \"A\"\nfrom = \"his\"\nto = \"mut\"\namount = \"1\"\nexpect_error = \"transfer.not_eligible\"\n"
    );
    let report = run_text(&text, None);
    assert!(report.passed(), "{:?}", report.failure);
    let doc = &report.document;
    let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["steps", "balances"]);
    let first = &doc["steps"][0];
    assert_eq!((first["index"].as_u64(), first["do"].as_str(), first["ok"].as_bool()), (Some(1), Some("settle"), Some(true)));
    assert_eq!(first["result"]["payments"]["A.his"], "30.00");
    assert_eq!(first["result"]["cash"], "0.00");
    let second = &doc["steps"][1];
    assert_eq!(second["ok"], false);
    assert_eq!(second["error"]["code"], "transfer.not_eligible");
    assert_eq!(second["error"]["rule"], "T1");
    assert!(second["error"]["message"].as_str().unwrap().len() > 5);
    assert_eq!(doc["balances"]["A"]["his"], "70.00");
    assert_eq!(doc["balances"]["A"]["cur"], "0.00");
}

#[test]
fn a_policy_file_path_is_resolved_beside_the_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let policy = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../policies/330200.toml")).unwrap();
    // A rehearsal of a policy change: the CUR account may no longer pay outpatient costs.
    let changed = policy
        .replace("visits = [\"outpatient\", \"emergency\", \"pharmacy\", \"community\"]", "visits = [\"pharmacy\"]")
        .replace("effective_from = \"2016-10-01\"", "effective_from = \"2024-01-01\"");
    std::fs::write(dir.path().join("rehearsal.toml"), changed).unwrap();
    let scenario = r#"
policy = "rehearsal.toml"
date = "2024-03-01"

[persons.A]
name = "甲"
birth = "1970-05-01"
insurance = "employee"
cur = "100"
his = "100"

[[steps]]
do = "settle"
patient = "A"
bill = "b"
visit = "outpatient"
split = { self_borne = "30" }
expect = { payments = { "A.his" = "30" }, cash = "0" }
"#;
    std::fs::write(dir.path().join("s.toml"), scenario).unwrap();
    let report = run_file(&dir.path().join("s.toml"));
    assert!(report.passed(), "{:?}", report.failure);
}
