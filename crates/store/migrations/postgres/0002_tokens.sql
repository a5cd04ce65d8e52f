-- API bearer tokens (§12). Only a hash of each token is stored (SHA-256 of a 256-bit random
-- secret); a token is revoked by marking it, never deleted.

CREATE TABLE api_tokens (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL CHECK (role IN ('insured', 'operator', 'institution', 'admin')),
    area        TEXT,
    institution TEXT,
    person      TEXT,
    name        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
);
