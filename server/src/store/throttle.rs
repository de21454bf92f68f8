//! Counters that protect secrets: fixed-window counts in `rate_limits` (shared by every
//! instance on the database) and the per-admin count of wrong MFA codes.

use super::query::{delete_before, execute, maybe_row, maybe_scalar, params, run};
use super::Conn;
use crate::clock::Millis;

/// Give back one count taken with [`super::accounts::hit`] in the same window (a success
/// does not use up the budget). Never goes below zero and never touches a newer window.
pub async fn refund(c: &mut Conn, key: &str, window: Millis, now: Millis) -> sqlx::Result<()> {
    let start = now - now.rem_euclid(window);
    let sql = "UPDATE rate_limits SET count = count - 1 WHERE key = $1 AND window_start = $2 AND count > 0";
    run(c, sql, params![key, start]).await
}

/// Forget counters whose window started before `before`.
pub async fn purge(c: &mut Conn, before: Millis) -> sqlx::Result<()> {
    delete_before(&mut *c, "rate_limits", "window_start", before).await?;
    delete_before(c, "mfa_challenges", "expires_at", before)
        .await
        .map(drop)
}

// ---- wrong MFA codes, per admin, across sign-in attempts ----

// The row as the query selects it: not every column is read.
#[allow(dead_code)]
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MfaAttempts {
    pub failures: i64,
    pub budget: i64,
    pub frozen_until: i64,
    pub last_failure_at: i64,
    pub last_sent_at: i64,
}

async fn ensure(c: &mut Conn, admin_id: i64, budget: i64) -> sqlx::Result<()> {
    let sql = "INSERT INTO mfa_attempts (admin_id, failures, budget, frozen_until, last_failure_at, last_sent_at) \
         VALUES ($1, 0, $2, 0, 0, 0) ON CONFLICT (admin_id) DO NOTHING";
    run(c, sql, params![admin_id, budget]).await
}

pub async fn mfa_attempts(c: &mut Conn, admin_id: i64) -> sqlx::Result<Option<MfaAttempts>> {
    let sql = "SELECT failures, budget, frozen_until, last_failure_at, last_sent_at FROM mfa_attempts WHERE admin_id = $1";
    maybe_row(c, sql, params![admin_id]).await
}

/// Count a code try before it is checked; `None` when the admin is frozen or the budget of
/// this round is spent (so parallel tries cannot run past a freeze).
pub async fn mfa_reserve(
    c: &mut Conn,
    admin_id: i64,
    budget: i64,
    now: Millis,
) -> sqlx::Result<Option<i64>> {
    ensure(c, admin_id, budget).await?;
    let sql = "UPDATE mfa_attempts SET failures = failures + 1, last_failure_at = $2 \
         WHERE admin_id = $1 AND failures < budget AND frozen_until <= $2 RETURNING failures";
    maybe_scalar(c, sql, params![admin_id, now]).await
}

/// Close a round of wrong codes: frozen until `until`, `round` more tries after it.
pub async fn mfa_freeze(
    c: &mut Conn,
    admin_id: i64,
    until: Millis,
    round: i64,
) -> sqlx::Result<()> {
    let sql =
        "UPDATE mfa_attempts SET frozen_until = $1, budget = failures + $2 WHERE admin_id = $3";
    run(c, sql, params![until, round, admin_id]).await
}

/// The right code (or a new password): wrong codes start from zero again.
pub async fn mfa_clear(c: &mut Conn, admin_id: i64, round: i64) -> sqlx::Result<()> {
    let sql =
        "UPDATE mfa_attempts SET failures = 0, budget = $1, frozen_until = 0 WHERE admin_id = $2";
    run(c, sql, params![round, admin_id]).await
}

/// Take the right to email this admin a code now: true for at most one caller per `gap`.
pub async fn mfa_claim_send(
    c: &mut Conn,
    admin_id: i64,
    budget: i64,
    gap: Millis,
    now: Millis,
) -> sqlx::Result<bool> {
    ensure(c, admin_id, budget).await?;
    let sql =
        "UPDATE mfa_attempts SET last_sent_at = $1 WHERE admin_id = $2 AND last_sent_at <= $3";
    Ok(execute(c, sql, params![now, admin_id, now - gap]).await? == 1)
}

/// The newest challenge of this admin that is still open: its code hash and expiry.
pub async fn open_challenge(
    c: &mut Conn,
    admin_id: i64,
    now: Millis,
) -> sqlx::Result<Option<(String, i64)>> {
    let sql = "SELECT code_hash, expires_at FROM mfa_challenges \
         WHERE admin_id = $1 AND used_at IS NULL AND expires_at >= $2 ORDER BY id DESC LIMIT 1";
    maybe_row(c, sql, params![admin_id, now]).await
}
