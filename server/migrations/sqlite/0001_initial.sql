-- vcms schema (SQLite). Times are Unix milliseconds; flags are 0/1 integers so that the
-- same queries run on SQLite and PostgreSQL.

CREATE TABLE enterprises (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    number          TEXT    NOT NULL UNIQUE,
    company         TEXT    NOT NULL,
    country         TEXT    NOT NULL,
    status          TEXT    NOT NULL,            -- pending | active
    trial_ends_at   INTEGER,
    ever_licensed   INTEGER NOT NULL DEFAULT 0,
    purge_warned    INTEGER NOT NULL DEFAULT 0,
    mfa_required    INTEGER NOT NULL DEFAULT 0,     -- the owner requires MFA of every admin
    created_at      INTEGER NOT NULL,
    activated_at    INTEGER
);

CREATE TABLE admins (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    enterprise_id       INTEGER NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,
    email               TEXT    NOT NULL,
    email_key           TEXT    NOT NULL UNIQUE,
    name                TEXT    NOT NULL,
    role                TEXT    NOT NULL,        -- owner | admin | helpdesk
    password_hash       TEXT    NOT NULL,
    language            TEXT    NOT NULL DEFAULT 'en',
    first_name          TEXT    NOT NULL DEFAULT '',
    last_name           TEXT    NOT NULL DEFAULT '',
    backup_email        TEXT,
    status              TEXT    NOT NULL DEFAULT 'active',   -- invited | active | disabled
    manage_admins       INTEGER NOT NULL DEFAULT 0,
    mfa_enabled         INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL,
    password_changed_at INTEGER NOT NULL
);
CREATE INDEX admins_enterprise ON admins(enterprise_id);

-- Failed sign-ins per email key, kept for unknown emails too so that both behave alike.
CREATE TABLE login_attempts (
    email_key       TEXT    PRIMARY KEY,
    failures        INTEGER NOT NULL DEFAULT 0,
    -- failures allowed before the next freeze; each freeze adds 3 (reserved before the
    -- password is checked, so parallel guesses cannot overrun it)
    budget          INTEGER NOT NULL DEFAULT 3,
    frozen_until    INTEGER NOT NULL DEFAULT 0,
    last_failure_at INTEGER NOT NULL
);

CREATE TABLE sessions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash    TEXT    NOT NULL UNIQUE,
    admin_id      INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    ended_at      INTEGER,
    end_reason    TEXT,
    client_ip     TEXT
);
CREATE INDEX sessions_admin ON sessions(admin_id);

-- Single-use tokens mailed to people: activation (12 h), password reset (10 min).
CREATE TABLE tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT    NOT NULL,
    token_hash  TEXT    NOT NULL UNIQUE,
    admin_id    INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    created_at  INTEGER NOT NULL
);
CREATE INDEX tokens_admin ON tokens(admin_id, kind);

CREATE TABLE captchas (
    id          TEXT    PRIMARY KEY,
    answer      TEXT    NOT NULL,
    expires_at  INTEGER NOT NULL
);

CREATE TABLE licenses (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    number         TEXT    NOT NULL UNIQUE,
    quantity       INTEGER NOT NULL,
    years          INTEGER NOT NULL,
    status         TEXT    NOT NULL,           -- issued | activated | revoked
    enterprise_id  INTEGER REFERENCES enterprises(id) ON DELETE SET NULL,
    issued_at      INTEGER NOT NULL,
    activated_at   INTEGER,
    expires_at     INTEGER,
    revoked_at     INTEGER,
    expiry_warned  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX licenses_enterprise ON licenses(enterprise_id);

CREATE TABLE accounts (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    enterprise_id      INTEGER NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,
    name               TEXT    NOT NULL,
    name_key           TEXT    NOT NULL,          -- lower-case name, for sorting
    extension          TEXT    NOT NULL,
    cloud_number       TEXT    NOT NULL UNIQUE,
    email              TEXT,
    email_key          TEXT    NOT NULL DEFAULT '',
    search_text        TEXT    NOT NULL,          -- lower-case name, extension, cloud number, email
    password_enc       BLOB    NOT NULL,          -- sealed (AES-256-GCM)
    pincode_enc        BLOB    NOT NULL,          -- sealed
    pincode_lookup     TEXT    UNIQUE,            -- keyed digest of a live pincode; NULL once used
    pincode_expires_at INTEGER NOT NULL,
    pincode_used_at    INTEGER,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    UNIQUE (enterprise_id, extension)
);
-- Each sort order has an index that also holds the search text, so paging and searching
-- read the index, not the rows (the rows carry the sealed secrets and are wide).
CREATE INDEX accounts_by_extension ON accounts(enterprise_id, extension, search_text);
CREATE INDEX accounts_by_name ON accounts(enterprise_id, name_key, extension, search_text);
CREATE INDEX accounts_by_email ON accounts(enterprise_id, email_key, extension, search_text);

-- Endpoints registered with an account (written by the SIP registrar).
CREATE TABLE bindings (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id      INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    instance        TEXT    NOT NULL,
    device_model    TEXT    NOT NULL,
    device_version  TEXT    NOT NULL,
    transport       TEXT    NOT NULL,
    nat             INTEGER NOT NULL DEFAULT 0,
    address         TEXT    NOT NULL,
    contact         TEXT    NOT NULL,
    call_id         TEXT    NOT NULL,
    registered_at   INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    UNIQUE (account_id, instance)
);
CREATE INDEX bindings_live ON bindings(account_id, expires_at);

-- Fixed-window counters for throttles that must hold across server instances.
CREATE TABLE rate_limits (
    key           TEXT    PRIMARY KEY,
    window_start  INTEGER NOT NULL,
    count         INTEGER NOT NULL
);

CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    enterprise_id    INTEGER REFERENCES enterprises(id) ON DELETE CASCADE,
    account_id       INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
    account_label    TEXT,
    kind             TEXT    NOT NULL,
    recipient        TEXT    NOT NULL,
    subject          TEXT    NOT NULL,
    body_text_enc    BLOB    NOT NULL,        -- sealed: account emails carry passwords
    body_html_enc    BLOB    NOT NULL,
    status           TEXT    NOT NULL,          -- pending | sent | failed
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    lease_until      INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    sent_at          INTEGER,
    failed_at        INTEGER
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
CREATE INDEX outbox_failed ON outbox(enterprise_id, status, failed_at);

-- Changes streamed to consoles (GET /api/v1/events). Kept a day; every server instance
-- reads them, so a change made through one instance reaches consoles on all of them.
CREATE TABLE events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    enterprise_id  INTEGER NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,
    kind           TEXT    NOT NULL,
    account_id     INTEGER,
    created_at     INTEGER NOT NULL
);
CREATE INDEX events_by_enterprise ON events(enterprise_id, id);

-- A sign-in waiting for its emailed 6-digit code (valid 5 minutes, 5 tries, single use).
CREATE TABLE mfa_challenges (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash    TEXT    NOT NULL UNIQUE,
    admin_id      INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
    code_hash     TEXT    NOT NULL,
    expires_at    INTEGER NOT NULL,
    tries         INTEGER NOT NULL DEFAULT 0,
    used_at       INTEGER,
    last_sent_at  INTEGER NOT NULL,
    language      TEXT    NOT NULL,
    client_ip     TEXT,
    created_at    INTEGER NOT NULL
);

-- Who did what, when, from where.
CREATE TABLE audit (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    enterprise_id  INTEGER REFERENCES enterprises(id) ON DELETE CASCADE,
    actor          TEXT    NOT NULL,
    action         TEXT    NOT NULL,
    target         TEXT    NOT NULL DEFAULT '',
    detail         TEXT    NOT NULL DEFAULT '',
    client_ip      TEXT    NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL
);
CREATE INDEX audit_by_enterprise ON audit(enterprise_id, id);

-- API keys for scripts: shown once, stored hashed.
CREATE TABLE api_keys (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    enterprise_id  INTEGER NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,
    name           TEXT    NOT NULL,
    role           TEXT    NOT NULL,
    key_hash       TEXT    NOT NULL UNIQUE,
    prefix         TEXT    NOT NULL,
    created_by     INTEGER REFERENCES admins(id) ON DELETE SET NULL,
    created_at     INTEGER NOT NULL,
    last_used_at   INTEGER,
    revoked_at     INTEGER
);
