-- No enumeration (issue 13). A password reset, an activation resend or a registration with a
-- known email queues one row here (the same write whichever email it names) and is answered at
-- once; the worker resolves the email to an administrator afterwards and sends, or drops.
CREATE TABLE email_requests (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT    NOT NULL,   -- password_reset | activation | register_notice
    email_key   TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);

-- The times of the last three reset, activation and registration-notice emails of a mailbox
-- (lower-cased address), oldest first: a fourth within an hour is not sent.
CREATE TABLE mailbox_sends (
    mailbox  TEXT    PRIMARY KEY,
    t1       INTEGER NOT NULL,
    t2       INTEGER NOT NULL,
    t3       INTEGER NOT NULL
);
