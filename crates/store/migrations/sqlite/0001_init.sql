-- gongji schema, SQLite. Nothing is ever deleted: rows are marked (left, dissolved, cancelled).
-- Money is INTEGER fen; dates are TEXT 'YYYY-MM-DD'; instants are TEXT RFC 3339 UTC.

CREATE TABLE persons (
    psn_no      TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    id_number   TEXT NOT NULL UNIQUE,
    area        TEXT NOT NULL,
    insurance   TEXT NOT NULL CHECK (insurance IN ('employee', 'resident', 'special')),
    phone       TEXT,
    status      TEXT NOT NULL CHECK (status IN ('normal', 'suspended', 'cancelled', 'pending_liquidation')),
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    channel     TEXT NOT NULL
);
CREATE INDEX persons_area ON persons (area, psn_no);

CREATE TABLE person_status_changes (
    id            INTEGER PRIMARY KEY,
    psn_no        TEXT NOT NULL REFERENCES persons (psn_no),
    from_status   TEXT NOT NULL,
    to_status     TEXT NOT NULL,
    reason        TEXT NOT NULL,
    actor         TEXT NOT NULL,
    channel       TEXT NOT NULL,
    business_date TEXT NOT NULL,
    recorded_at   TEXT NOT NULL
);
CREATE INDEX person_status_changes_psn ON person_status_changes (psn_no);

CREATE TABLE accounts (
    id               INTEGER PRIMARY KEY,
    account_key      TEXT NOT NULL UNIQUE,
    owner            TEXT REFERENCES persons (psn_no),
    kind             TEXT NOT NULL,
    may_go_negative  INTEGER NOT NULL,
    balance_fen      INTEGER NOT NULL DEFAULT 0,
    -- daily-balance product (积数, B1): fen-days accrued before product_as_of
    product_fen_days INTEGER NOT NULL DEFAULT 0,
    product_as_of    TEXT NOT NULL,
    CHECK (may_go_negative = 1 OR balance_fen >= 0)
);
CREATE INDEX accounts_owner ON accounts (owner);

CREATE TABLE journal_entries (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,
    idempotency_key TEXT UNIQUE,
    actor           TEXT NOT NULL,
    channel         TEXT NOT NULL,
    business_date   TEXT NOT NULL,
    recorded_at     TEXT NOT NULL,
    memo            TEXT NOT NULL
);

CREATE TABLE postings (
    id         INTEGER PRIMARY KEY,
    entry_id   INTEGER NOT NULL REFERENCES journal_entries (id),
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    amount_fen INTEGER NOT NULL CHECK (amount_fen <> 0)
);
CREATE INDEX postings_account ON postings (account_id, entry_id);
CREATE INDEX postings_entry ON postings (entry_id);

CREATE TABLE networks (
    id            INTEGER PRIMARY KEY,
    area          TEXT NOT NULL,
    promoter      TEXT NOT NULL REFERENCES persons (psn_no),
    created_at    TEXT NOT NULL,
    dissolved_at  TEXT
);

CREATE TABLE network_members (
    id          INTEGER PRIMARY KEY,
    network_id  INTEGER NOT NULL REFERENCES networks (id),
    psn_no      TEXT NOT NULL REFERENCES persons (psn_no),
    relation    TEXT,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'active', 'left')),
    position    INTEGER NOT NULL,
    joined_at   TEXT NOT NULL,
    left_at     TEXT
);
-- N5: a person is in at most one network at a time.
CREATE UNIQUE INDEX network_members_one_network ON network_members (psn_no) WHERE state <> 'left';
CREATE INDEX network_members_network ON network_members (network_id, position);

CREATE TABLE network_events (
    id            INTEGER PRIMARY KEY,
    network_id    INTEGER NOT NULL REFERENCES networks (id),
    area          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    subject       TEXT,
    detail        TEXT NOT NULL,
    actor         TEXT NOT NULL,
    channel       TEXT NOT NULL,
    business_date TEXT NOT NULL,
    recorded_at   TEXT NOT NULL
);
CREATE INDEX network_events_area_date ON network_events (area, business_date);

CREATE TABLE presets (
    psn_no      TEXT PRIMARY KEY REFERENCES persons (psn_no),
    amount_fen  INTEGER,
    actor       TEXT NOT NULL,
    channel     TEXT NOT NULL,
    set_at      TEXT NOT NULL
);

CREATE TABLE settlements (
    id                    INTEGER PRIMARY KEY,
    institution           TEXT NOT NULL,
    bill_id               TEXT NOT NULL,
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
    UNIQUE (institution, bill_id)
);

CREATE TABLE settlement_lines (
    settlement_id INTEGER NOT NULL REFERENCES settlements (id),
    seq           INTEGER NOT NULL,
    account_key   TEXT NOT NULL,
    role          TEXT NOT NULL,
    amount_fen    INTEGER NOT NULL,
    PRIMARY KEY (settlement_id, seq)
);

CREATE TABLE settlement_steps (
    settlement_id INTEGER NOT NULL REFERENCES settlements (id),
    seq           INTEGER NOT NULL,
    account_key   TEXT,
    role          TEXT,
    amount_fen    INTEGER NOT NULL,
    code          TEXT NOT NULL,
    rule          TEXT NOT NULL,
    message       TEXT NOT NULL,
    PRIMARY KEY (settlement_id, seq)
);

CREATE TABLE year_totals (
    psn_no              TEXT NOT NULL REFERENCES persons (psn_no),
    year                INTEGER NOT NULL,
    visit               TEXT NOT NULL,
    deductible_used_fen INTEGER NOT NULL,
    fund_paid_fen       INTEGER NOT NULL,
    PRIMARY KEY (psn_no, year, visit)
);

CREATE TABLE refund_holdings (
    id              INTEGER PRIMARY KEY,
    owner           TEXT NOT NULL REFERENCES persons (psn_no),
    area            TEXT NOT NULL,
    amount_fen      INTEGER NOT NULL CHECK (amount_fen > 0),
    settlement_id   INTEGER NOT NULL REFERENCES settlements (id),
    cancel_entry_id INTEGER NOT NULL REFERENCES journal_entries (id),
    created_date    TEXT NOT NULL,
    synced_entry_id INTEGER REFERENCES journal_entries (id)
);
CREATE INDEX refund_holdings_due ON refund_holdings (synced_entry_id, created_date);
