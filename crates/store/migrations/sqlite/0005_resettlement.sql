-- ST6: a bill whose settlement was cancelled settles again as a new settlement. The n-th
-- settlement of one institution's bill is `attempt` n; the earlier ones stay, cancelled (nothing
-- is deleted). At most one settlement of a bill is not cancelled at any time.
-- SQLite cannot drop the old UNIQUE (institution, bill_id), so the table is rebuilt the way
-- SQLite documents (new table, copy, drop, rename), with foreign keys off during migrations:
-- ids are kept, so the rows of settlement_lines, settlement_steps and refund_holdings still
-- point at their settlement.
CREATE TABLE settlements_new (
    id                    INTEGER PRIMARY KEY,
    institution           TEXT NOT NULL,
    bill_id               TEXT NOT NULL,
    attempt               INTEGER NOT NULL DEFAULT 1 CHECK (attempt >= 1),
    patient               TEXT NOT NULL REFERENCES persons (psn_no),
    visit                 TEXT NOT NULL,
    bill_date             TEXT NOT NULL,
    fingerprint           TEXT NOT NULL,
    policy_id             TEXT NOT NULL,
    policy_effective_from TEXT NOT NULL,
    network_id            INTEGER,
    fund_pay_fen          INTEGER NOT NULL,
    self_borne_fen        INTEGER NOT NULL,
    first_self_pay_fen    INTEGER NOT NULL,
    self_funded_fen       INTEGER NOT NULL,
    deductible_applied_fen INTEGER NOT NULL,
    cash_fen              INTEGER NOT NULL,
    entry_id              INTEGER NOT NULL REFERENCES journal_entries (id),
    cancel_entry_id       INTEGER REFERENCES journal_entries (id),
    cancel_date           TEXT,
    UNIQUE (institution, bill_id, attempt)
);
INSERT INTO settlements_new (id, institution, bill_id, attempt, patient, visit, bill_date, fingerprint, policy_id,
        policy_effective_from, network_id, fund_pay_fen, self_borne_fen, first_self_pay_fen, self_funded_fen,
        deductible_applied_fen, cash_fen, entry_id, cancel_entry_id, cancel_date)
    SELECT id, institution, bill_id, 1, patient, visit, bill_date, fingerprint, policy_id,
        policy_effective_from, network_id, fund_pay_fen, self_borne_fen, first_self_pay_fen, self_funded_fen,
        deductible_applied_fen, cash_fen, entry_id, cancel_entry_id, cancel_date
    FROM settlements;
DROP TABLE settlements;
ALTER TABLE settlements_new RENAME TO settlements;
CREATE UNIQUE INDEX settlements_live ON settlements (institution, bill_id) WHERE cancel_entry_id IS NULL;

-- B1, ST10: only a person's CUR, HIS and MUT earn interest, so only they keep a daily-balance
-- product; the products kept so far for system accounts (which every bill of an area moves,
-- and which could overflow) are dropped.
UPDATE accounts SET product_fen_days = 0 WHERE owner IS NULL OR kind NOT IN ('cur', 'his', 'mut');
