-- Calls in progress (issue 8): one row per account taking part in an answered call, from
-- the 2xx until the BYE. The console's details show "in a call" from these rows.
CREATE TABLE calls (
    call_id     TEXT    NOT NULL,
    account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    started_at  INTEGER NOT NULL,
    PRIMARY KEY (call_id, account_id)
);
CREATE INDEX calls_account ON calls(account_id);
