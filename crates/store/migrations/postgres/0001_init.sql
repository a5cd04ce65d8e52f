-- gongji schema, PostgreSQL. The same tables and meaning as migrations/sqlite/0001_init.sql, in
-- PostgreSQL types: money is BIGINT fen, dates are DATE, instants are TIMESTAMPTZ (UTC).
-- Nothing is ever deleted: rows are marked (left, dissolved, cancelled).
--
-- One difference of layout: an account's balance and daily-balance product live in
-- account_balances, one row per (account, shard). An account that must not go negative (a
-- person's CUR/HIS/MUT, refund holding, liquidation payable) has exactly one row, shard 0, so
-- reading and debiting it is one row that writers conflict on (ST9). A system account that may go
-- negative (pooled fund, clearing, cash, inflow, interest expense) is credited or debited by every
-- settlement of its area; it is spread over several rows, one per writer connection, so that
-- concurrent settlements do not queue on one hot row. Its balance is the sum of its rows, and so is
-- its daily-balance product (the product is linear in the balance).

CREATE TABLE persons (
    psn_no      TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    id_number   TEXT NOT NULL UNIQUE,
    area        TEXT NOT NULL,
    insurance   TEXT NOT NULL CHECK (insurance IN ('employee', 'resident', 'special')),
    phone       TEXT,
    status      TEXT NOT NULL CHECK (status IN ('normal', 'suspended', 'cancelled', 'pending_liquidation')),
    created_at  TIMESTAMPTZ NOT NULL,
    created_by  TEXT NOT NULL,
    channel     TEXT NOT NULL
);
CREATE INDEX persons_area ON persons (area, psn_no);

CREATE TABLE person_status_changes (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    psn_no        TEXT NOT NULL REFERENCES persons (psn_no),
    from_status   TEXT NOT NULL,
    to_status     TEXT NOT NULL,
    reason        TEXT NOT NULL,
    actor         TEXT NOT NULL,
    channel       TEXT NOT NULL,
    business_date DATE NOT NULL,
    recorded_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX person_status_changes_psn ON person_status_changes (psn_no);

CREATE TABLE accounts (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_key      TEXT NOT NULL UNIQUE,
    owner            TEXT REFERENCES persons (psn_no),
    kind             TEXT NOT NULL,
    may_go_negative  BOOLEAN NOT NULL
);
CREATE INDEX accounts_owner ON accounts (owner);

-- account_balances.account_id and postings.account_id name accounts rows without a FOREIGN KEY:
-- a foreign key check takes a FOR KEY SHARE lock on the referenced row, and every settlement of
-- an area posts to the same few system accounts, so concurrent settlements would queue on (and
-- pile multixacts onto) those rows. Accounts rows are never deleted, and post() creates the
-- account in the same statement that first references it; audit joins every posting to its
-- account.
CREATE TABLE account_balances (
    account_id       BIGINT NOT NULL,
    shard            SMALLINT NOT NULL CHECK (shard >= 0),
    -- copied from accounts.may_go_negative, so that the CHECK below can see it
    may_go_negative  BOOLEAN NOT NULL,
    balance_fen      BIGINT NOT NULL DEFAULT 0,
    -- daily-balance product (积数, B1): fen-days accrued before product_as_of
    product_fen_days BIGINT NOT NULL DEFAULT 0,
    product_as_of    DATE NOT NULL,
    PRIMARY KEY (account_id, shard),
    CONSTRAINT account_balances_guarded_one_row CHECK (may_go_negative OR shard = 0),
    CONSTRAINT account_balances_not_negative CHECK (may_go_negative OR balance_fen >= 0)
);

CREATE TABLE journal_entries (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            TEXT NOT NULL,
    idempotency_key TEXT UNIQUE,
    actor           TEXT NOT NULL,
    channel         TEXT NOT NULL,
    business_date   DATE NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL,
    memo            TEXT NOT NULL
);

CREATE TABLE postings (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entry_id   BIGINT NOT NULL REFERENCES journal_entries (id),
    account_id BIGINT NOT NULL,
    amount_fen BIGINT NOT NULL CHECK (amount_fen <> 0)
);
CREATE INDEX postings_account ON postings (account_id, entry_id);
CREATE INDEX postings_entry ON postings (entry_id);

CREATE TABLE networks (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    area          TEXT NOT NULL,
    promoter      TEXT NOT NULL REFERENCES persons (psn_no),
    created_at    TIMESTAMPTZ NOT NULL,
    dissolved_at  TIMESTAMPTZ,
    -- bumped by every change of membership or order: two transactions that change the same
    -- network conflict on this row, so N3's limits hold under snapshot isolation
    revision      BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE network_members (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    network_id  BIGINT NOT NULL REFERENCES networks (id),
    psn_no      TEXT NOT NULL REFERENCES persons (psn_no),
    relation    TEXT,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'active', 'left')),
    position    BIGINT NOT NULL,
    joined_at   TIMESTAMPTZ NOT NULL,
    left_at     TIMESTAMPTZ
);
-- N5: a person is in at most one network at a time.
CREATE UNIQUE INDEX network_members_one_network ON network_members (psn_no) WHERE state <> 'left';
CREATE INDEX network_members_network ON network_members (network_id, position);

CREATE TABLE network_events (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    network_id    BIGINT NOT NULL REFERENCES networks (id),
    area          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    subject       TEXT,
    detail        TEXT NOT NULL,
    actor         TEXT NOT NULL,
    channel       TEXT NOT NULL,
    business_date DATE NOT NULL,
    recorded_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX network_events_area_date ON network_events (area, business_date);

CREATE TABLE presets (
    psn_no      TEXT PRIMARY KEY REFERENCES persons (psn_no),
    amount_fen  BIGINT,
    actor       TEXT NOT NULL,
    channel     TEXT NOT NULL,
    set_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE settlements (
    id                     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    institution            TEXT NOT NULL,
    bill_id                TEXT NOT NULL,
    patient                TEXT NOT NULL REFERENCES persons (psn_no),
    visit                  TEXT NOT NULL,
    bill_date              DATE NOT NULL,
    fingerprint            TEXT NOT NULL,
    policy_id              TEXT NOT NULL,
    policy_effective_from  DATE NOT NULL,
    network_id             BIGINT,
    fund_pay_fen           BIGINT NOT NULL,
    self_borne_fen         BIGINT NOT NULL,
    first_self_pay_fen     BIGINT NOT NULL,
    self_funded_fen        BIGINT NOT NULL,
    deductible_applied_fen BIGINT NOT NULL,
    cash_fen               BIGINT NOT NULL,
    entry_id               BIGINT NOT NULL REFERENCES journal_entries (id),
    cancel_entry_id        BIGINT REFERENCES journal_entries (id),
    cancel_date            DATE,
    UNIQUE (institution, bill_id)
);

CREATE TABLE settlement_lines (
    settlement_id BIGINT NOT NULL REFERENCES settlements (id),
    seq           INTEGER NOT NULL,
    account_key   TEXT NOT NULL,
    role          TEXT NOT NULL,
    amount_fen    BIGINT NOT NULL,
    PRIMARY KEY (settlement_id, seq)
);

CREATE TABLE settlement_steps (
    settlement_id BIGINT NOT NULL REFERENCES settlements (id),
    seq           INTEGER NOT NULL,
    account_key   TEXT,
    role          TEXT,
    amount_fen    BIGINT NOT NULL,
    code          TEXT NOT NULL,
    rule          TEXT NOT NULL,
    message       TEXT NOT NULL,
    PRIMARY KEY (settlement_id, seq)
);

CREATE TABLE year_totals (
    psn_no              TEXT NOT NULL REFERENCES persons (psn_no),
    year                INTEGER NOT NULL,
    visit               TEXT NOT NULL,
    deductible_used_fen BIGINT NOT NULL,
    fund_paid_fen       BIGINT NOT NULL,
    PRIMARY KEY (psn_no, year, visit)
);

CREATE TABLE refund_holdings (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner           TEXT NOT NULL REFERENCES persons (psn_no),
    area            TEXT NOT NULL,
    amount_fen      BIGINT NOT NULL CHECK (amount_fen > 0),
    settlement_id   BIGINT NOT NULL REFERENCES settlements (id),
    cancel_entry_id BIGINT NOT NULL REFERENCES journal_entries (id),
    created_date    DATE NOT NULL,
    synced_entry_id BIGINT REFERENCES journal_entries (id)
);
CREATE INDEX refund_holdings_due ON refund_holdings (created_date) WHERE synced_entry_id IS NULL;
