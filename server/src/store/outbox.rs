//! The email outbox: rows written in the same transaction as the change that caused them,
//! delivered later by the worker. Claims use a lease so several server instances can share
//! one database without sending a message twice.

use super::query::{delete_before, execute, maybe_row, params, rows, run, scalar};
use super::Conn;
use crate::clock::Millis;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxRow {
    pub id: i64,
    pub enterprise_id: Option<i64>,
    pub account_id: Option<i64>,
    pub account_label: Option<String>,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub body_text_enc: Vec<u8>,
    pub body_html_enc: Vec<u8>,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    pub failed_at: Option<i64>,
    /// Random per row; with the id it makes the Message-ID (None on rows queued before it).
    pub message_key: Option<String>,
}

const COLS: &str = "id, enterprise_id, account_id, account_label, kind, recipient, subject, body_text_enc, body_html_enc, status, attempts, next_attempt_at, last_error, created_at, sent_at, failed_at, message_key";

pub struct NewMessage<'a> {
    pub enterprise_id: Option<i64>,
    pub account_id: Option<i64>,
    pub account_label: Option<&'a str>,
    pub kind: &'a str,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body_text_enc: &'a [u8],
    pub body_html_enc: &'a [u8],
    pub message_key: &'a str,
}

pub async fn insert(c: &mut Conn, m: &NewMessage<'_>, now: Millis) -> sqlx::Result<i64> {
    let sql = "INSERT INTO outbox (enterprise_id, account_id, account_label, kind, recipient, subject, body_text_enc, body_html_enc, status, attempts, next_attempt_at, created_at, message_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 0, $9, $9, $10) RETURNING id";
    scalar(
        c,
        sql,
        params![
            m.enterprise_id,
            m.account_id,
            m.account_label,
            m.kind,
            m.recipient,
            m.subject,
            m.body_text_enc,
            m.body_html_enc,
            now,
            m.message_key
        ],
    )
    .await
}

/// Claim up to `limit` due messages for worker `owner` until `lease_until` (wall-clock ms;
/// the owner's heartbeat keeps extending it while the process lives), oldest first. The
/// outer WHERE repeats the due/lease test so that on PostgreSQL a concurrent claimer
/// re-checks it on the locked row and skips rows another instance has just claimed.
/// `RETURNING` gives the rows in no particular order (on PostgreSQL, the order of the plan
/// or the disk), so they are put back in queue order here: emails to one mailbox arrive in
/// the order they were queued, and the last reset link to arrive is the one that works.
pub async fn claim_due(
    c: &mut Conn,
    now: Millis,
    wall_now: Millis,
    lease_until: Millis,
    owner: &str,
    limit: i64,
) -> sqlx::Result<Vec<OutboxRow>> {
    let sql = format!(
        "UPDATE outbox SET lease_until = $1, lease_owner = $4, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $2 \
                      AND (lease_until IS NULL OR lease_until < $5) ORDER BY next_attempt_at, id LIMIT $3) \
           AND status = 'pending' AND (lease_until IS NULL OR lease_until < $5) \
         RETURNING {COLS}"
    );
    let mut claimed: Vec<OutboxRow> =
        rows(c, &sql, params![lease_until, now, limit, owner, wall_now]).await?;
    claimed.sort_by_key(|r| (r.next_attempt_at, r.id));
    Ok(claimed)
}

/// Give a claimed message back untouched: the attempt is not counted and it is due as before
/// (a configuration problem of this server, or a worker that stopped before trying it).
pub async fn release(c: &mut Conn, id: i64, owner: &str, error: Option<&str>) -> sqlx::Result<()> {
    let sql = "UPDATE outbox SET lease_until = NULL, lease_owner = NULL, attempts = attempts - 1, \
         last_error = COALESCE($1, last_error) WHERE id = $2 AND lease_owner = $3 AND status = 'pending'";
    run(c, sql, params![error, id, owner]).await
}

/// Pending messages of an enterprise (queued, waiting for a retry or for the transport).
pub async fn pending_of_enterprise(c: &mut Conn, enterprise_id: i64) -> sqlx::Result<i64> {
    let sql = "SELECT COUNT(*) FROM outbox WHERE enterprise_id = $1 AND status = 'pending'";
    scalar(c, sql, params![enterprise_id]).await
}

/// Emails waiting (any enterprise) and when the oldest was queued (None: none waits).
pub async fn pending_summary(c: &mut Conn) -> sqlx::Result<(i64, Option<Millis>)> {
    let n = scalar(
        c,
        "SELECT COUNT(*) FROM outbox WHERE status = 'pending'",
        params![],
    )
    .await?;
    if n == 0 {
        return Ok((0, None));
    }
    let sql = "SELECT COALESCE(MIN(created_at), 0) FROM outbox WHERE status = 'pending'";
    Ok((n, Some(scalar(c, sql, params![]).await?)))
}

// ---- outbox workers: who holds a lease, and whether it still lives ----

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WorkerRow {
    pub id: String,
    pub host_key: Option<String>,
    pub pid: i64,
    pub proc_start: Option<String>,
}

pub struct NewWorker<'a> {
    pub id: &'a str,
    pub host_key: Option<&'a str>,
    pub pid: i64,
    pub proc_start: Option<&'a str>,
}

pub async fn register_worker(
    c: &mut Conn,
    w: &NewWorker<'_>,
    wall_now: Millis,
) -> sqlx::Result<()> {
    let sql = "INSERT INTO mail_workers (id, host_key, pid, proc_start, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5, $5)";
    run(
        c,
        sql,
        params![w.id, w.host_key, w.pid, w.proc_start, wall_now],
    )
    .await
}

/// The heartbeat: the worker row is refreshed and the worker's leases are extended.
pub async fn heartbeat(
    c: &mut Conn,
    id: &str,
    wall_now: Millis,
    lease_until: Millis,
) -> sqlx::Result<()> {
    let sql = "UPDATE mail_workers SET heartbeat_at = $1 WHERE id = $2";
    execute(&mut *c, sql, params![wall_now, id]).await?;
    let sql = "UPDATE outbox SET lease_until = $1 WHERE lease_owner = $2 AND status = 'pending' AND lease_until IS NOT NULL";
    run(c, sql, params![lease_until, id]).await
}

/// Other workers registered from the same host (same kernel and pid namespace).
pub async fn workers_on_host(
    c: &mut Conn,
    host_key: &str,
    except: &str,
) -> sqlx::Result<Vec<WorkerRow>> {
    let sql =
        "SELECT id, host_key, pid, proc_start FROM mail_workers WHERE host_key = $1 AND id <> $2";
    rows(c, sql, params![host_key, except]).await
}

/// A worker is gone (known dead, or stopped): its leases are released at once and its row
/// removed. Returns how many messages it held.
pub async fn retire_worker(c: &mut Conn, id: &str) -> sqlx::Result<u64> {
    let sql = "UPDATE outbox SET lease_until = NULL, lease_owner = NULL WHERE lease_owner = $1 AND status = 'pending'";
    let held = execute(&mut *c, sql, params![id]).await?;
    execute(c, "DELETE FROM mail_workers WHERE id = $1", params![id]).await?;
    Ok(held)
}

/// Rows of workers silent since `before` (their leases have long expired).
pub async fn purge_workers(c: &mut Conn, before: Millis) -> sqlx::Result<()> {
    delete_before(c, "mail_workers", "heartbeat_at", before)
        .await
        .map(drop)
}

pub async fn mark_sent(c: &mut Conn, id: i64, now: Millis) -> sqlx::Result<()> {
    let sql = "UPDATE outbox SET status = 'sent', sent_at = $1, lease_until = NULL, lease_owner = NULL, last_error = NULL WHERE id = $2";
    run(c, sql, params![now, id]).await
}

pub async fn mark_retry(c: &mut Conn, id: i64, next_at: Millis, error: &str) -> sqlx::Result<()> {
    let sql = "UPDATE outbox SET next_attempt_at = $1, lease_until = NULL, lease_owner = NULL, last_error = $2 WHERE id = $3";
    run(c, sql, params![next_at, error, id]).await
}

pub async fn mark_failed(c: &mut Conn, id: i64, now: Millis, error: &str) -> sqlx::Result<()> {
    let sql = "UPDATE outbox SET status = 'failed', failed_at = $1, lease_until = NULL, lease_owner = NULL, last_error = $2 WHERE id = $3";
    run(c, sql, params![now, error, id]).await
}

pub async fn by_id(c: &mut Conn, id: i64) -> sqlx::Result<Option<OutboxRow>> {
    maybe_row(
        c,
        &format!("SELECT {COLS} FROM outbox WHERE id = $1"),
        params![id],
    )
    .await
}

/// Every message, newest first (tests).
#[cfg(feature = "testing")]
pub async fn recent(c: &mut Conn, limit: i64) -> sqlx::Result<Vec<OutboxRow>> {
    let sql = format!("SELECT {COLS} FROM outbox ORDER BY id DESC LIMIT $1");
    rows(c, &sql, params![limit]).await
}

pub async fn failed_of_enterprise(
    c: &mut Conn,
    enterprise_id: i64,
) -> sqlx::Result<Vec<OutboxRow>> {
    let sql = format!(
        "SELECT {COLS} FROM outbox WHERE enterprise_id = $1 AND status = 'failed' ORDER BY failed_at DESC, id DESC"
    );
    rows(c, &sql, params![enterprise_id]).await
}

/// Put failed messages of an enterprise back in the queue; returns how many.
pub async fn requeue_failed(
    c: &mut Conn,
    enterprise_id: i64,
    ids: &[i64],
    now: Millis,
) -> sqlx::Result<u64> {
    let mut n = 0;
    for id in ids {
        let sql = "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = $1, failed_at = NULL, lease_until = NULL \
             WHERE id = $2 AND enterprise_id = $3 AND status = 'failed'";
        n += execute(&mut *c, sql, params![now, id, enterprise_id]).await?;
    }
    Ok(n)
}

pub async fn delete_failed(c: &mut Conn, enterprise_id: i64, ids: &[i64]) -> sqlx::Result<u64> {
    let mut n = 0;
    for id in ids {
        let sql = "DELETE FROM outbox WHERE id = $1 AND enterprise_id = $2 AND status = 'failed'";
        n += execute(&mut *c, sql, params![id, enterprise_id]).await?;
    }
    Ok(n)
}

/// Drop delivered messages older than `before` (their content includes secrets).
pub async fn purge_sent(c: &mut Conn, before: Millis) -> sqlx::Result<()> {
    let sql = "DELETE FROM outbox WHERE status = 'sent' AND sent_at < $1";
    run(c, sql, params![before]).await
}
