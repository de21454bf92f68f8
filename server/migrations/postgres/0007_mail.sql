-- Issue 14 (h6): outbox leases belong to a live worker process, and every message keeps one
-- Message-ID across resends.
-- lease_owner: the mail_workers.id holding the lease; when that process is known dead (its
-- pid is gone on this host) the lease is released at once instead of waiting it out.
ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
-- message_key: random per row, part of the Message-ID, so a resend after a crash carries
-- the same Message-ID as the copy that may already have gone out.
ALTER TABLE outbox ADD COLUMN message_key TEXT;
CREATE INDEX outbox_lease_owner ON outbox(lease_owner);

-- One row per running outbox worker (one per server process), refreshed every few seconds.
-- host_key identifies the kernel and pid namespace, so a worker on the same host can tell
-- whether pid still runs (proc_start guards against a reused pid).
CREATE TABLE mail_workers (
    id            TEXT    PRIMARY KEY,
    host_key      TEXT,
    pid           BIGINT NOT NULL,
    proc_start    TEXT,
    started_at    BIGINT NOT NULL,
    heartbeat_at  BIGINT NOT NULL
);
