-- Family models (§7, §8, §15), PostgreSQL: the same tables and meaning as
-- migrations/sqlite/0004_family_models.sql, in PostgreSQL types. The notification outbox (TR3),
-- relative transfers (TR1-TR4), association bindings (S1-S2), quota relationships (X2-X4), and
-- the messages and clearing records between planning areas (X2). Nothing is deleted.

CREATE TABLE notifications (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        TEXT NOT NULL,
    psn_no      TEXT NOT NULL REFERENCES persons (psn_no),
    recipient   TEXT NOT NULL,
    -- the text, with {code} where the secret goes
    body        TEXT NOT NULL,
    -- a one-time code until the message is sent, given up or void; then NULL
    secret      TEXT,
    reference   TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'unknown', 'void')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    claim       TEXT,
    claimed_at  TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL,
    CHECK (state IN ('pending', 'sending') OR secret IS NULL)
);
CREATE INDEX notifications_state ON notifications (state, id);

CREATE TABLE relative_transfers (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    authoriser      TEXT NOT NULL REFERENCES persons (psn_no),
    beneficiary     TEXT NOT NULL REFERENCES persons (psn_no),
    relation        TEXT NOT NULL,
    amount_fen      BIGINT NOT NULL CHECK (amount_fen > 0),
    -- SHA-256 of salt and code, hex; the code itself is never stored here
    code_salt       TEXT NOT NULL,
    code_hash       TEXT NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'confirmed', 'expired', 'locked')),
    notification_id BIGINT REFERENCES notifications (id),
    entry_id        BIGINT REFERENCES journal_entries (id),
    commitment_accepted_at TIMESTAMPTZ NOT NULL,
    actor           TEXT NOT NULL,
    channel         TEXT NOT NULL,
    business_date   DATE NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ
);
CREATE INDEX relative_transfers_authoriser ON relative_transfers (authoriser, id);

CREATE TABLE associations (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    binder        TEXT NOT NULL REFERENCES persons (psn_no),
    relative      TEXT NOT NULL REFERENCES persons (psn_no),
    relation      TEXT NOT NULL,
    area          TEXT NOT NULL,
    actor         TEXT NOT NULL,
    channel       TEXT NOT NULL,
    business_date DATE NOT NULL,
    recorded_at   TIMESTAMPTZ NOT NULL,
    ended_by      TEXT,
    ended_channel TEXT,
    ended_date    DATE,
    ended_at      TIMESTAMPTZ,
    CHECK (binder <> relative)
);
-- S1: one binding at a time from a binder to a relative.
CREATE UNIQUE INDEX associations_active ON associations (binder, relative) WHERE ended_at IS NULL;
CREATE INDEX associations_relative ON associations (relative) WHERE ended_at IS NULL;

-- One side of a quota: `local` (both persons in this store's area), or the `donor` / `relative`
-- side of a quota across areas (the same uid in each area's store).
CREATE TABLE quotas (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uid                TEXT NOT NULL,
    side               TEXT NOT NULL CHECK (side IN ('local', 'donor', 'relative')),
    donor              TEXT NOT NULL,
    donor_area         TEXT NOT NULL,
    relative           TEXT,
    relative_area      TEXT NOT NULL,
    relative_name      TEXT NOT NULL,
    relative_id_number TEXT NOT NULL,
    relation           TEXT NOT NULL,
    state              TEXT NOT NULL CHECK (state IN ('active', 'ending', 'ended', 'rejected')),
    granted_fen        BIGINT NOT NULL CHECK (granted_fen >= 0),
    used_fen           BIGINT NOT NULL CHECK (used_fen >= 0),
    returned_fen       BIGINT NOT NULL CHECK (returned_fen >= 0),
    actor              TEXT NOT NULL,
    channel            TEXT NOT NULL,
    business_date      DATE NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL,
    ended_at           TIMESTAMPTZ,
    end_reason         TEXT,
    UNIQUE (uid, side),
    CHECK (used_fen + returned_fen <= granted_fen)
);
CREATE INDEX quotas_donor ON quotas (donor);
CREATE INDEX quotas_relative ON quotas (relative);

CREATE TABLE quota_events (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    quota_uid     TEXT NOT NULL,
    side          TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('grant', 'use', 'unuse', 'premium', 'return', 'compensate')),
    amount_fen    BIGINT NOT NULL CHECK (amount_fen >= 0),
    reference     TEXT NOT NULL,
    local_date    DATE NOT NULL,
    entry_id      BIGINT REFERENCES journal_entries (id),
    actor         TEXT NOT NULL,
    channel       TEXT NOT NULL,
    business_date DATE NOT NULL,
    recorded_at   TIMESTAMPTZ NOT NULL,
    FOREIGN KEY (quota_uid, side) REFERENCES quotas (uid, side)
);
CREATE INDEX quota_events_reference ON quota_events (reference);
CREATE INDEX quota_events_grants ON quota_events (kind, local_date);

-- Messages to other planning areas, kept until the receiver answers (exactly-once delivery:
-- the sender resends until answered, the receiver applies each id once).
CREATE TABLE area_outbox (
    seq                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                 TEXT NOT NULL UNIQUE,
    from_area          TEXT NOT NULL,
    to_area            TEXT NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('quota_grant', 'quota_end', 'quota_return')),
    quota_uid          TEXT NOT NULL,
    amount_fen         BIGINT NOT NULL CHECK (amount_fen >= 0),
    donor              TEXT NOT NULL,
    donor_area         TEXT NOT NULL,
    relative           TEXT,
    relative_name      TEXT NOT NULL,
    relative_id_number TEXT NOT NULL,
    relation           TEXT NOT NULL,
    reason             TEXT NOT NULL,
    business_date      DATE NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL,
    state              TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'rejected')),
    answer             TEXT,
    answered_at        TIMESTAMPTZ
);
CREATE INDEX area_outbox_state ON area_outbox (state, seq);

-- Messages received from other planning areas and what was done with them.
CREATE TABLE area_inbox (
    message_id TEXT PRIMARY KEY,
    from_area  TEXT NOT NULL,
    kind       TEXT NOT NULL,
    outcome    TEXT NOT NULL CHECK (outcome IN ('applied', 'rejected')),
    code       TEXT,
    detail     TEXT NOT NULL,
    relative   TEXT,
    applied_at TIMESTAMPTZ NOT NULL
);

-- Clearing between agencies: one record per money movement as this side booked it.
CREATE TABLE clearing (
    message_id    TEXT NOT NULL,
    direction     TEXT NOT NULL CHECK (direction IN ('out', 'in')),
    area          TEXT NOT NULL,
    counterparty  TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('quota_grant', 'quota_return')),
    quota_uid     TEXT NOT NULL,
    amount_fen    BIGINT NOT NULL CHECK (amount_fen > 0),
    state         TEXT NOT NULL CHECK (state IN ('pending', 'confirmed', 'reversed')),
    entry_id      BIGINT REFERENCES journal_entries (id),
    business_date DATE NOT NULL,
    recorded_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (message_id, direction)
);
