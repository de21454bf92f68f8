-- Wrong MFA codes per administrator, across sign-in attempts (a right password does not
-- clear them), with the escalating freeze, and the last time a code was emailed.
CREATE TABLE mfa_attempts (
    admin_id         BIGINT  PRIMARY KEY REFERENCES admins(id) ON DELETE CASCADE,
    failures         BIGINT  NOT NULL DEFAULT 0,
    budget           BIGINT  NOT NULL DEFAULT 10,
    frozen_until     BIGINT  NOT NULL DEFAULT 0,
    last_failure_at  BIGINT  NOT NULL DEFAULT 0,
    last_sent_at     BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX rate_limits_by_window ON rate_limits(window_start);
