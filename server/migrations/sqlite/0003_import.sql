-- Idempotent batch imports: the answer of an applied POST /api/v1/accounts/batch, kept by
-- the client's Idempotency-Key (per enterprise) for 24 hours, so a retried request returns
-- the stored answer instead of importing twice.
CREATE TABLE batch_requests (
    enterprise_id   INTEGER NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,
    idem_key        TEXT    NOT NULL,
    request_hash    TEXT    NOT NULL,       -- SHA-256 of the rows and options, hex
    response        TEXT    NOT NULL,       -- the BatchResult, JSON
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (enterprise_id, idem_key)
);
CREATE INDEX batch_requests_created ON batch_requests (created_at);
