//! A SQLite store written before migration 0005 (ST6 resettlement, B1 products) opens and is
//! upgraded in place: the settlements table is rebuilt with the same ids, so lines, steps and
//! refund holdings still point at their settlement; system accounts lose their product.

use gongji_core::AccountRef;
use gongji_store::sqlite::SqliteStore;
use gongji_store::{Store, StoreError};

const BEFORE_0005: [&str; 4] = [
    include_str!("../migrations/sqlite/0001_init.sql"),
    include_str!("../migrations/sqlite/0002_tokens.sql"),
    include_str!("../migrations/sqlite/0003_jobs.sql"),
    include_str!("../migrations/sqlite/0004_family_models.sql"),
];

#[test]
fn st6_b1_a_store_of_schema_4_is_upgraded_with_its_settlements_intact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)").unwrap();
        for (index, sql) in BEFORE_0005.iter().enumerate() {
            conn.execute_batch(sql).unwrap();
            conn.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?1, '2024-01-01T00:00:00Z')", [index as i64 + 1]).unwrap();
        }
        conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             INSERT INTO persons VALUES ('P', '张三', '330203198001010011', '330200', 'employee', NULL, 'normal', '2024-01-01T00:00:00Z', 'test', 'batch');
             INSERT INTO accounts (id, account_key, owner, kind, may_go_negative, balance_fen, product_fen_days, product_as_of)
                 VALUES (1, 'P:P:his', 'P', 'his', 0, 9000, 500, '2024-03-01'),
                        (2, 'S:330200:pooled_fund', NULL, 'pooled_fund', 1, -1000, -7000, '2024-03-01'),
                        (3, 'S:330200:institution_clearing', NULL, 'institution_clearing', 1, 2000, 4000, '2024-03-01'),
                        (4, 'S:330200:opening_balance', NULL, 'opening_balance', 1, -10000, 0, '2024-03-01');
             INSERT INTO journal_entries VALUES (1, 'credit', 'open', 'test', 'batch', '2024-03-01', '2024-03-01T00:00:00Z', 'open');
             INSERT INTO journal_entries VALUES (2, 'settlement', 'settle:H1:b1', 'H1', 'api', '2024-03-01', '2024-03-01T00:00:00Z', 'bill');
             INSERT INTO postings (entry_id, account_id, amount_fen) VALUES (1, 1, 10000), (1, 4, -10000), (2, 1, -1000), (2, 2, -1000), (2, 3, 2000);
             INSERT INTO settlements (id, institution, bill_id, patient, visit, bill_date, fingerprint, policy_id, policy_effective_from,
                 network_id, fund_pay_fen, self_borne_fen, first_self_pay_fen, self_funded_fen, deductible_applied_fen, cash_fen, entry_id)
                 VALUES (7, 'H1', 'b1', 'P', 'outpatient', '2024-03-01', 'fp', '330200', '2016-10-01', NULL, 1000, 1000, 0, 0, 0, 0, 2);
             INSERT INTO settlement_lines VALUES (7, 0, 'P:P:his', 'own_his', 1000);
             INSERT INTO settlement_steps VALUES (7, 0, 'P:P:his', 'own_his', 1000, 'paid', 'ST2', 'own HIS pays');",
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    let settlement = store.read(|tx| tx.settlement("H1", "b1")).unwrap().unwrap();
    assert_eq!((settlement.id, settlement.attempt, settlement.lines.len(), settlement.steps.len()), (7, 1, 1, 1));
    assert_eq!(settlement.lines[0].0, AccountRef::parse_key("P:P:his").unwrap());
    let report = store.read(|tx| tx.audit()).unwrap();
    assert!(report.is_clean(), "system accounts lost their products, the person's HIS kept its own: {report:?}");
    // Foreign keys are on again after the migration, and point at the rebuilt table.
    let orphan = store.write(|tx| -> Result<(), StoreError> {
        let mut copy = settlement.clone();
        copy.attempt = 1;
        tx.insert_settlement(&copy).map(|_| ())
    });
    assert!(matches!(orphan, Err(StoreError::AlreadyExists(_)) | Err(StoreError::Backend(_))), "(institution, bill_id, attempt) is unique: {orphan:?}");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    assert!(conn.execute("INSERT INTO settlement_lines VALUES (999, 0, 'P:P:his', 'own_his', 1)", []).is_err(), "references are enforced");
    let version: i64 = conn.query_row("SELECT MAX(version) FROM schema_migrations", [], |r| r.get(0)).unwrap();
    assert!(version >= 5);
}
