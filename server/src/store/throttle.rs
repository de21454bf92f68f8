//! Counters that protect secrets: fixed-window counts in `rate_limits` (shared by every
//! instance on the database) and the per-admin count of wrong MFA codes.

use super::Conn;
use crate::clock::Millis;

/// Give back one count taken with [`super::accounts::hit`] in the same window (a success
/// does not use up the budget). Never goes below zero and never touches a newer window.
pub async fn refund(
    c: &mut Conn,
    key: &str,
    window: Millis,
    now: Millis,
) -> Result<(), sqlx::Error> {
    let start = now - now.rem_euclid(window);
    sqlx::query(
        "UPDATE rate_limits SET count = count - 1 WHERE key = $1 AND window_start = $2 AND count > 0",
    )
    .bind(key)
    .bind(start)
    .execute(c)
    .await?;
    Ok(())
}

/// Forget counters whose window started before `before`.
pub async fn purge(c: &mut Conn, before: Millis) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM rate_limits WHERE window_start < $1")
        .bind(before)
        .execute(&mut *c)
        .await?;
    sqlx::query("DELETE FROM mfa_challenges WHERE expires_at < $1")
        .bind(before)
        .execute(c)
        .await?;
    Ok(())
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

async fn ensure(c: &mut Conn, admin_id: i64, budget: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO mfa_attempts (admin_id, failures, budget, frozen_until, last_failure_at, last_sent_at) \
         VALUES ($1, 0, $2, 0, 0, 0) ON CONFLICT (admin_id) DO NOTHING",
    )
    .bind(admin_id)
    .bind(budget)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn mfa_attempts(c: &mut Conn, admin_id: i64) -> Result<Option<MfaAttempts>, sqlx::Error> {
    sqlx::query_as(
        "SELECT failures, budget, frozen_until, last_failure_at, last_sent_at FROM mfa_attempts WHERE admin_id = $1",
    )
    .bind(admin_id)
    .fetch_optional(c)
    .await
}

/// Count a code try before it is checked; `None` when the admin is frozen or the budget of
/// this round is spent (so parallel tries cannot run past a freeze).
pub async fn mfa_reserve(
    c: &mut Conn,
    admin_id: i64,
    budget: i64,
    now: Millis,
) -> Result<Option<i64>, sqlx::Error> {
    ensure(c, admin_id, budget).await?;
    sqlx::query_scalar(
        "UPDATE mfa_attempts SET failures = failures + 1, last_failure_at = $2 \
         WHERE admin_id = $1 AND failures < budget AND frozen_until <= $2 RETURNING failures",
    )
    .bind(admin_id)
    .bind(now)
    .fetch_optional(c)
    .await
}

/// Close a round of wrong codes: frozen until `until`, `round` more tries after it.
pub async fn mfa_freeze(
    c: &mut Conn,
    admin_id: i64,
    until: Millis,
    round: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE mfa_attempts SET frozen_until = $1, budget = failures + $2 WHERE admin_id = $3",
    )
    .bind(until)
    .bind(round)
    .bind(admin_id)
    .execute(c)
    .await?;
    Ok(())
}

/// The right code (or a new password): wrong codes start from zero again.
pub async fn mfa_clear(c: &mut Conn, admin_id: i64, round: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE mfa_attempts SET failures = 0, budget = $1, frozen_until = 0 WHERE admin_id = $2",
    )
    .bind(round)
    .bind(admin_id)
    .execute(c)
    .await?;
    Ok(())
}

/// Take the right to email this admin a code now: true for at most one caller per `gap`.
pub async fn mfa_claim_send(
    c: &mut Conn,
    admin_id: i64,
    budget: i64,
    gap: Millis,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    ensure(c, admin_id, budget).await?;
    let r = sqlx::query(
        "UPDATE mfa_attempts SET last_sent_at = $1 WHERE admin_id = $2 AND last_sent_at <= $3",
    )
    .bind(now)
    .bind(admin_id)
    .bind(now - gap)
    .execute(c)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// The newest challenge of this admin that is still open: its code hash and expiry.
pub async fn open_challenge(
    c: &mut Conn,
    admin_id: i64,
    now: Millis,
) -> Result<Option<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT code_hash, expires_at FROM mfa_challenges \
         WHERE admin_id = $1 AND used_at IS NULL AND expires_at >= $2 ORDER BY id DESC LIMIT 1",
    )
    .bind(admin_id)
    .bind(now)
    .fetch_optional(c)
    .await
}
