-- Batch jobs (§10): what each job did per subject, for idempotent and resumable runs; and
-- liquidations (B4).

CREATE TABLE job_marks (
    job         TEXT NOT NULL,
    period      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (job, period, subject)
);

CREATE TABLE liquidations (
    psn_no        TEXT PRIMARY KEY REFERENCES persons (psn_no),
    reason        TEXT NOT NULL CHECK (reason IN ('death', 'transfer_out')),
    business_date DATE NOT NULL,
    principal_fen BIGINT NOT NULL,
    interest_fen  BIGINT NOT NULL,
    payee         TEXT NOT NULL,
    entry_id      BIGINT REFERENCES journal_entries (id)
);

CREATE INDEX presets_with_amount ON presets (psn_no) WHERE amount_fen IS NOT NULL;
