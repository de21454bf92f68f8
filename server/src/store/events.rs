//! Change events for the live console.

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
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO events (enterprise_id, kind, account_id, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(enterprise_id)
    .bind(kind)
    .bind(account_id)
    .bind(now)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn after(
    c: &mut Conn,
    enterprise_id: i64,
    after_id: i64,
    limit: i64,
) -> Result<Vec<EventRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, enterprise_id, kind, account_id, created_at FROM events WHERE enterprise_id = $1 AND id > $2 ORDER BY id LIMIT $3",
    )
    .bind(enterprise_id)
    .bind(after_id)
    .bind(limit)
    .fetch_all(c)
    .await
}

pub async fn last_id(c: &mut Conn, enterprise_id: i64) -> Result<i64, sqlx::Error> {
    let id: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM events WHERE enterprise_id = $1")
        .bind(enterprise_id)
        .fetch_one(c)
        .await?;
    Ok(id.unwrap_or(0))
}

pub async fn purge(c: &mut Conn, before: Millis) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM events WHERE created_at < $1")
        .bind(before)
        .execute(c)
        .await?;
    Ok(())
}
