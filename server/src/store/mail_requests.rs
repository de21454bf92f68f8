//! Queued email requests (password reset, activation resend, registration notice) and the
//! per-mailbox limit of such emails (3 an hour).

use super::query::{execute, maybe_row, params, run, scalars};
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

pub async fn insert(c: &mut Conn, kind: &str, email_key: &str, now: Millis) -> sqlx::Result<()> {
    let sql = "INSERT INTO email_requests (kind, email_key, created_at) VALUES ($1, $2, $3)";
    run(c, sql, params![kind, email_key, now]).await
}

/// The ids of the oldest queued requests.
pub async fn oldest(c: &mut Conn, limit: i64) -> sqlx::Result<Vec<i64>> {
    scalars(
        c,
        "SELECT id FROM email_requests ORDER BY id LIMIT $1",
        params![limit],
    )
    .await
}

/// Take a request out of the queue (inside the transaction that acts on it); None when
/// another worker took it.
pub async fn take(c: &mut Conn, id: i64) -> sqlx::Result<Option<RequestRow>> {
    let sql = "DELETE FROM email_requests WHERE id = $1 RETURNING id, kind, email_key";
    maybe_row(c, sql, params![id]).await
}

pub async fn delete(c: &mut Conn, id: i64) -> sqlx::Result<()> {
    run(c, "DELETE FROM email_requests WHERE id = $1", params![id]).await
}

/// Count one email to `mailbox` if fewer than 3 went there in the last hour; false when the
/// limit is reached (nothing is counted then). One conditional UPDATE: concurrent senders
/// on PostgreSQL re-check the row they wait for, so the limit holds across instances.
pub async fn take_mailbox_slot(c: &mut Conn, mailbox: &str, now: Millis) -> sqlx::Result<bool> {
    let mailbox = mailbox.trim().to_lowercase();
    let long_ago = now - 2 * HOUR;
    let sql = "INSERT INTO mailbox_sends (mailbox, t1, t2, t3) VALUES ($1, $2, $2, $2) \
         ON CONFLICT (mailbox) DO NOTHING";
    execute(&mut *c, sql, params![&mailbox, long_ago]).await?;
    let sql = "UPDATE mailbox_sends SET t1 = t2, t2 = t3, t3 = $2 WHERE mailbox = $1 AND t1 <= $3";
    Ok(execute(c, sql, params![&mailbox, now, now - HOUR]).await? == 1)
}

/// Forget mailboxes whose last email is more than an hour old.
pub async fn purge_mailbox_sends(c: &mut Conn, now: Millis) -> sqlx::Result<()> {
    run(
        c,
        "DELETE FROM mailbox_sends WHERE t3 < $1",
        params![now - HOUR],
    )
    .await
}
