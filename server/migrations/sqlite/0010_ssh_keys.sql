-- The console over SSH (issue 20): the public keys an administrator added to their own
-- profile. A key opens the console for that administrator only (MFA still asked when on).
CREATE TABLE ssh_keys (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    admin_id      INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    algorithm     TEXT    NOT NULL,
    -- The key as OpenSSH writes it (algorithm and base64, no comment).
    public_key    TEXT    NOT NULL,
    -- SHA256:… as ssh-keygen -l prints it.
    fingerprint   TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    UNIQUE (admin_id, fingerprint)
);
