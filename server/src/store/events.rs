//! Change events for the live console.

use super::query::{delete_before, params, rows, run, scalar};
use super::Conn;
use crate::clock::Millis;

// The row as the query selects it: not every column is read.
#[allow(dead_code)]
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: i64,
    pub enterprise_id: i64,
    pub kind: String,
    pub account_id: Option<i64>,
    pub created_at: i64,
}

pub async fn insert(
    c: &mut Conn,
    enterprise_id: i64,
    kind: &str,
    account_id: Option<i64>,
    now: Millis,
) -> sqlx::Result<()> {
    let sql =
        "INSERT INTO events (enterprise_id, kind, account_id, created_at) VALUES ($1, $2, $3, $4)";
    run(c, sql, params![enterprise_id, kind, account_id, now]).await
}

pub async fn after(
    c: &mut Conn,
    enterprise_id: i64,
    after_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<EventRow>> {
    let sql = "SELECT id, enterprise_id, kind, account_id, created_at FROM events WHERE enterprise_id = $1 AND id > $2 ORDER BY id LIMIT $3";
    rows(c, sql, params![enterprise_id, after_id, limit]).await
}

pub async fn last_id(c: &mut Conn, enterprise_id: i64) -> sqlx::Result<i64> {
    let sql = "SELECT MAX(id) FROM events WHERE enterprise_id = $1";
    let id: Option<i64> = scalar(c, sql, params![enterprise_id]).await?;
    Ok(id.unwrap_or(0))
}

pub async fn purge(c: &mut Conn, before: Millis) -> sqlx::Result<()> {
    delete_before(c, "events", "created_at", before)
        .await
        .map(drop)
}
