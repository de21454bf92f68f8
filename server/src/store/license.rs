//! Licenses issued by the distributor and bound to enterprises.

use super::query::{execute, maybe_row, params, row, rows, scalar};
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
) -> sqlx::Result<i64> {
    let sql = "INSERT INTO licenses (number, quantity, years, status, issued_at) VALUES ($1, $2, $3, 'issued', $4) RETURNING id";
    scalar(c, sql, params![number, quantity, years, now]).await
}

pub async fn by_number(c: &mut Conn, number: &str) -> sqlx::Result<Option<LicenseRow>> {
    let sql = format!("SELECT {COLS} FROM licenses WHERE number = $1");
    maybe_row(c, &sql, params![number]).await
}

pub async fn all(c: &mut Conn) -> sqlx::Result<Vec<LicenseRow>> {
    let sql = format!("SELECT {COLS} FROM licenses ORDER BY issued_at, id");
    rows(c, &sql, params![]).await
}

pub async fn of_enterprise(c: &mut Conn, enterprise_id: i64) -> sqlx::Result<Vec<LicenseRow>> {
    let sql =
        format!("SELECT {COLS} FROM licenses WHERE enterprise_id = $1 ORDER BY activated_at, id");
    rows(c, &sql, params![enterprise_id]).await
}

/// Bind an issued license; true if this call bound it (a number binds once, even in a race).
pub async fn bind(
    c: &mut Conn,
    id: i64,
    enterprise_id: i64,
    now: Millis,
    expires_at: Millis,
) -> sqlx::Result<bool> {
    let sql = "UPDATE licenses SET status = 'activated', enterprise_id = $1, activated_at = $2, expires_at = $3 \
         WHERE id = $4 AND status = 'issued'";
    if execute(&mut *c, sql, params![enterprise_id, now, expires_at, id]).await? == 1 {
        let sql = "UPDATE enterprises SET ever_licensed = 1 WHERE id = $1";
        execute(c, sql, params![enterprise_id]).await?;
        return Ok(true);
    }
    Ok(false)
}

pub async fn revoke(c: &mut Conn, id: i64, now: Millis) -> sqlx::Result<bool> {
    let sql = "UPDATE licenses SET status = 'revoked', revoked_at = $1 WHERE id = $2 AND status <> 'revoked'";
    Ok(execute(c, sql, params![now, id]).await? == 1)
}

/// Sum of the quantities of the enterprise's licenses in force at `now`, and how many.
pub async fn in_force(c: &mut Conn, enterprise_id: i64, now: Millis) -> sqlx::Result<(i64, i64)> {
    let sql = "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT), COUNT(*) FROM licenses \
         WHERE enterprise_id = $1 AND status = 'activated' AND activated_at <= $2 AND expires_at > $2";
    row(c, sql, params![enterprise_id, now]).await
}

/// Activated licenses ending within (now, until] whose owner has not been warned yet.
pub async fn expiring_unwarned(
    c: &mut Conn,
    now: Millis,
    until: Millis,
) -> sqlx::Result<Vec<LicenseRow>> {
    let sql = format!(
        "SELECT {COLS} FROM licenses WHERE status = 'activated' AND expiry_warned = 0 AND expires_at > $1 AND expires_at <= $2"
    );
    rows(c, &sql, params![now, until]).await
}

/// Set the warned flag; true if this call set it (one warning per license across instances).
pub async fn claim_expiry_warning(c: &mut Conn, id: i64) -> sqlx::Result<bool> {
    Ok(execute(
        c,
        "UPDATE licenses SET expiry_warned = 1 WHERE id = $1 AND expiry_warned = 0",
        params![id],
    )
    .await?
        == 1)
}
