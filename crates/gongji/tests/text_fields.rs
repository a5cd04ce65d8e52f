//! Issue 12, item 6: the one text rule of `gongji_core::text` holds for the CSV import and the
//! scenario runner as for the API: a name with NUL, a line feed or a right-to-left override and
//! a bill id with a line feed are refused with `input.invalid`, and nothing is written.

use std::io::Write;

use gongji::import::{import_persons, ImportFailure};
use gongji::scenario::run_text;
use gongji_core::{Actor, Channel};
use gongji_engine::policy_file::preset_book;
use gongji_engine::{Context, Engine};
use gongji_store::sqlite::SqliteStore;

fn ctx() -> Context {
    Context::new(Actor::Admin("test".into()), Channel::Counter, chrono::NaiveDate::from_ymd_opt(2024, 3, 1).unwrap())
}

#[test]
fn issue12_item6_p1_a_persons_file_with_a_bad_name_writes_nothing() {
    let engine = Engine::new(SqliteStore::in_memory().unwrap(), preset_book());
    // A quoted field may hold a line feed; NUL and U+202E need no quoting.
    let text = "psn_no,name,id_number,area,insurance,phone,status
P1,阿依古丽·买买提,330203197802200011,330200,employee,,
P2,\"李\n四\",330203198007070021,330200,employee,,
P3,张\u{0}三,330203201509010015,330200,resident,,
P4,\u{202E}王五,11010519491231002X,330200,employee,,
";
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    let failure = import_persons(&engine, &ctx(), file.path()).unwrap_err();
    let ImportFailure::Rows(refused) = failure else { panic!("expected row errors, got {failure}") };
    let lines: Vec<(u64, &str, &str)> = refused.errors.iter().map(|(line, err)| (*line, err.code.as_str(), err.rule)).collect();
    assert_eq!(lines, [(3, "input.invalid", "P1"), (5, "input.invalid", "P1"), (6, "input.invalid", "P1")]);
    let report = ImportFailure::Rows(refused).to_string();
    assert!(!report.contains('\u{202E}') && !report.contains('\u{0}') && !report.contains("李\n"), "the report does not echo the names: {report:?}");
    assert!(engine.person("P1").is_err(), "the good row was not written either");
    assert_eq!(engine.audit().unwrap().entries, 0);
}

const HEADER: &str = r#"
policy = "330200"
date = "2024-03-01"

[persons.A]
name = "欧阳娜娜"
birth = "1970-05-01"
insurance = "employee"
his = "100"
"#;

#[test]
fn issue12_item6_p1_a_scenario_person_with_a_bad_name_is_refused() {
    for name in [r"张\u0000三", r"李\n四", r"\u202E王五"] {
        let text = format!("{HEADER}\n[persons.B]\nname = \"{name}\"\nbirth = \"1972-08-15\"\ninsurance = \"employee\"\n");
        let failure = run_text(&text, None).failure.expect("the scenario must not start");
        assert!(failure.contains("person B") && failure.contains("input.invalid"), "{name}: {failure}");
    }
}

#[test]
fn issue12_item6_st6_a_scenario_bill_id_with_a_line_feed_is_refused() {
    let text = format!(
        "{HEADER}
[[steps]]
do = \"settle\"
patient = \"A\"
bill = \"b\\n1\"
visit = \"outpatient\"
split = {{ self_borne = \"30\" }}
expect_error = \"input.invalid\"

[[steps]]
do = \"check\"
balances = {{ A = {{ his = \"100\" }} }}
"
    );
    let report = run_text(&text, None);
    assert!(report.passed(), "{}", report.failure.unwrap_or_default());
}
