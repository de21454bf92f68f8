-- SIP registration (issue 5).

-- Bumped whenever an account's endpoints must sign out (password reset, new cloud number):
-- a registrar that cached the account's bindings sees the change on the next REGISTER.
ALTER TABLE accounts ADD COLUMN sip_epoch INTEGER NOT NULL DEFAULT 0;

-- Built-in cloud numbers: a device serial provisioned against an account, with a generated
-- device secret (sealed at rest).
CREATE TABLE devices (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    enterprise_id  INTEGER NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,
    account_id     INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    serial         TEXT    NOT NULL UNIQUE,
    secret_enc     BLOB    NOT NULL,
    created_at     INTEGER NOT NULL,
    last_login_at  INTEGER
);
CREATE INDEX devices_account ON devices(account_id);

-- A signed-in endpoint: what it said it is, and the token it signs out with.
CREATE TABLE endpoint_sessions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id      INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    token_hash      TEXT    NOT NULL UNIQUE,
    instance        TEXT    NOT NULL,
    device_model    TEXT    NOT NULL,
    device_version  TEXT    NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX endpoint_sessions_account ON endpoint_sessions(account_id, instance);
