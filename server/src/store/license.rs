//! Licenses issued by the distributor and bound to enterprises.

use super::Conn;
use crate::clock::Millis;

// The row as the query selects it: not every column is read.
#[allow(dead_code)]
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LicenseRow {
    pub id: i64,
    pub number: String,
    pub quantity: i64,
    pub years: i64,
    pub status: String,
    pub enterprise_id: Option<i64>,
    pub issued_at: i64,
    pub activated_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub expiry_warned: i64,
}

const COLS: &str = "id, number, quantity, years, status, enterprise_id, issued_at, activated_at, expires_at, revoked_at, expiry_warned";

pub async fn insert(
    c: &mut Conn,
    number: &str,
    quantity: i64,
    years: i64,
    now: Millis,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO licenses (number, quantity, years, status, issued_at) VALUES ($1, $2, $3, 'issued', $4) RETURNING id",
    )
    .bind(number)
    .bind(quantity)
    .bind(years)
    .bind(now)
    .fetch_one(c)
    .await
}

pub async fn by_number(c: &mut Conn, number: &str) -> Result<Option<LicenseRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLS} FROM licenses WHERE number = $1"))
        .bind(number)
        .fetch_optional(c)
        .await
}

pub async fn all(c: &mut Conn) -> Result<Vec<LicenseRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLS} FROM licenses ORDER BY issued_at, id"
    ))
    .fetch_all(c)
    .await
}

pub async fn of_enterprise(
    c: &mut Conn,
    enterprise_id: i64,
) -> Result<Vec<LicenseRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLS} FROM licenses WHERE enterprise_id = $1 ORDER BY activated_at, id"
    ))
    .bind(enterprise_id)
    .fetch_all(c)
    .await
}

/// Bind an issued license; true if this call bound it (a number binds once, even in a race).
pub async fn bind(
    c: &mut Conn,
    id: i64,
    enterprise_id: i64,
    now: Millis,
    expires_at: Millis,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE licenses SET status = 'activated', enterprise_id = $1, activated_at = $2, expires_at = $3 \
         WHERE id = $4 AND status = 'issued'",
    )
    .bind(enterprise_id)
    .bind(now)
    .bind(expires_at)
    .bind(id)
    .execute(&mut *c)
    .await?;
    if r.rows_affected() == 1 {
        sqlx::query("UPDATE enterprises SET ever_licensed = 1 WHERE id = $1")
            .bind(enterprise_id)
            .execute(c)
            .await?;
        return Ok(true);
    }
    Ok(false)
}

pub async fn revoke(c: &mut Conn, id: i64, now: Millis) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("UPDATE licenses SET status = 'revoked', revoked_at = $1 WHERE id = $2 AND status <> 'revoked'")
        .bind(now)
        .bind(id)
        .execute(c)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Sum of the quantities of the enterprise's licenses in force at `now`, and how many.
pub async fn in_force(
    c: &mut Conn,
    enterprise_id: i64,
    now: Millis,
) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT), COUNT(*) FROM licenses \
         WHERE enterprise_id = $1 AND status = 'activated' AND activated_at <= $2 AND expires_at > $2",
    )
    .bind(enterprise_id)
    .bind(now)
    .fetch_one(c)
    .await
}

/// Activated licenses ending within (now, until] whose owner has not been warned yet.
pub async fn expiring_unwarned(
    c: &mut Conn,
    now: Millis,
    until: Millis,
) -> Result<Vec<LicenseRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLS} FROM licenses WHERE status = 'activated' AND expiry_warned = 0 AND expires_at > $1 AND expires_at <= $2"
    ))
    .bind(now)
    .bind(until)
    .fetch_all(c)
    .await
}

/// Set the warned flag; true if this call set it (one warning per license across instances).
pub async fn claim_expiry_warning(c: &mut Conn, id: i64) -> Result<bool, sqlx::Error> {
    let r =
        sqlx::query("UPDATE licenses SET expiry_warned = 1 WHERE id = $1 AND expiry_warned = 0")
            .bind(id)
            .execute(c)
            .await?;
    Ok(r.rows_affected() == 1)
}
