//! Queued email requests (password reset, activation resend, registration notice) and the
//! per-mailbox limit of such emails (3 an hour).

use super::Conn;
use crate::clock::{Millis, HOUR};

// The row as the query selects it: not every column is read.
#[allow(dead_code)]
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RequestRow {
    pub id: i64,
    pub kind: String,
    pub email_key: String,
}

pub async fn insert(
    c: &mut Conn,
    kind: &str,
    email_key: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO email_requests (kind, email_key, created_at) VALUES ($1, $2, $3)")
        .bind(kind)
        .bind(email_key)
        .bind(now)
        .execute(c)
        .await?;
    Ok(())
}

/// The ids of the oldest queued requests.
pub async fn oldest(c: &mut Conn, limit: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM email_requests ORDER BY id LIMIT $1")
        .bind(limit)
        .fetch_all(c)
        .await
}

/// Take a request out of the queue (inside the transaction that acts on it); None when
/// another worker took it.
pub async fn take(c: &mut Conn, id: i64) -> Result<Option<RequestRow>, sqlx::Error> {
    sqlx::query_as("DELETE FROM email_requests WHERE id = $1 RETURNING id, kind, email_key")
        .bind(id)
        .fetch_optional(c)
        .await
}

pub async fn delete(c: &mut Conn, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM email_requests WHERE id = $1")
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
}

/// Count one email to `mailbox` if fewer than 3 went there in the last hour; false when the
/// limit is reached (nothing is counted then). One conditional UPDATE: concurrent senders
/// on PostgreSQL re-check the row they wait for, so the limit holds across instances.
pub async fn take_mailbox_slot(
    c: &mut Conn,
    mailbox: &str,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let mailbox = mailbox.trim().to_lowercase();
    let long_ago = now - 2 * HOUR;
    sqlx::query(
        "INSERT INTO mailbox_sends (mailbox, t1, t2, t3) VALUES ($1, $2, $2, $2) \
         ON CONFLICT (mailbox) DO NOTHING",
    )
    .bind(&mailbox)
    .bind(long_ago)
    .execute(&mut *c)
    .await?;
    let done = sqlx::query(
        "UPDATE mailbox_sends SET t1 = t2, t2 = t3, t3 = $2 WHERE mailbox = $1 AND t1 <= $3",
    )
    .bind(&mailbox)
    .bind(now)
    .bind(now - HOUR)
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Forget mailboxes whose last email is more than an hour old.
pub async fn purge_mailbox_sends(c: &mut Conn, now: Millis) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM mailbox_sends WHERE t3 < $1")
        .bind(now - HOUR)
        .execute(c)
        .await?;
    Ok(())
}
