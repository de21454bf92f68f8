//! What the SIP registrar and the endpoint sign-in keep: credentials looked up by cloud
//! number, bindings written in batches, provisioned devices and endpoint sessions.

use super::query::{delete_before, execute, maybe_row, params, rows, run, scalar};
use super::Conn;
use crate::clock::Millis;
use std::sync::LazyLock;

/// An account as the registrar sees it: who, the sealed password, the epoch, and whether
/// its enterprise may use endpoints now (a license in force, or the trial).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SipAccount {
    pub id: i64,
    pub enterprise_id: i64,
    pub cloud_number: String,
    pub extension: String,
    pub name: String,
    pub password_enc: Vec<u8>,
    pub sip_epoch: i64,
    pub in_force: i64,
}

/// The columns of a [`SipAccount`] (accounts `a` joined with enterprises `e`; `$1` is now).
const SIP_ACCOUNT: &str =
    "a.id, a.enterprise_id, a.cloud_number, a.extension, a.name, a.password_enc, a.sip_epoch, \
   CAST(CASE WHEN (e.status = 'active' AND e.trial_ends_at IS NOT NULL AND e.trial_ends_at > $1) \
     OR EXISTS (SELECT 1 FROM licenses l WHERE l.enterprise_id = a.enterprise_id \
                AND l.status = 'activated' AND l.activated_at <= $1 AND l.expires_at > $1) \
   THEN 1 ELSE 0 END AS BIGINT) AS in_force";

/// `SELECT` of a [`SipAccount`] `WHERE cond` (its parameters from `$2`).
fn sip_account_where(cond: &str) -> String {
    format!(
        "SELECT {SIP_ACCOUNT} FROM accounts a JOIN enterprises e ON e.id = a.enterprise_id \
         WHERE {cond}"
    )
}

/// The queries of the hot path, written once.
static BY_NUMBER: LazyLock<String> = LazyLock::new(|| sip_account_where("a.cloud_number = $2"));
static BY_EXTENSION: LazyLock<String> =
    LazyLock::new(|| sip_account_where("a.enterprise_id = $2 AND a.extension = $3"));

/// One query on the hot path: the account, and whether its enterprise is in force.
pub async fn account_by_number(
    c: &mut Conn,
    cloud_number: &str,
    now: Millis,
) -> sqlx::Result<Option<SipAccount>> {
    maybe_row(c, BY_NUMBER.as_str(), params![now, cloud_number]).await
}

/// The account with an extension in an enterprise, as [`account_by_number`] reads it.
pub async fn account_by_extension(
    c: &mut Conn,
    enterprise_id: i64,
    extension: &str,
    now: Millis,
) -> sqlx::Result<Option<SipAccount>> {
    maybe_row(
        c,
        BY_EXTENSION.as_str(),
        params![now, enterprise_id, extension],
    )
    .await
}

/// An answered call of an account (idempotent).
pub async fn call_up(c: &mut Conn, call_id: &str, account_id: i64, at: Millis) -> sqlx::Result<()> {
    let sql = "INSERT INTO calls (call_id, account_id, started_at) \
         SELECT $1, id, $3 FROM accounts WHERE id = $2 \
         ON CONFLICT (call_id, account_id) DO NOTHING";
    run(c, sql, params![call_id, account_id, at]).await
}

pub async fn call_down(c: &mut Conn, call_id: &str) -> sqlx::Result<()> {
    run(c, "DELETE FROM calls WHERE call_id = $1", params![call_id]).await
}

/// Forget calls that started before `before` (their BYE never came).
pub async fn drop_calls_before(c: &mut Conn, before: Millis) -> sqlx::Result<()> {
    delete_before(c, "calls", "started_at", before)
        .await
        .map(drop)
}

/// Whether an account is in an answered call now.
pub async fn in_call(c: &mut Conn, account_id: i64) -> sqlx::Result<bool> {
    let sql = "SELECT COUNT(*) FROM calls WHERE account_id = $1";
    let n: i64 = scalar(c, sql, params![account_id]).await?;
    Ok(n > 0)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BindingRecord {
    pub account_id: i64,
    pub instance: String,
    pub device_model: String,
    pub device_version: String,
    pub transport: String,
    pub nat: i64,
    pub address: String,
    pub contact: String,
    pub call_id: String,
    pub registered_at: i64,
    pub expires_at: i64,
    /// The SIP address (host:port, UDP) of the instance holding the device's flow.
    pub holder: String,
    /// The account's epoch and enterprise (read at start only).
    #[sqlx(default)]
    pub sip_epoch: i64,
    #[sqlx(default)]
    pub enterprise_id: i64,
}

pub(crate) const BCOLS: &str = "b.account_id, b.instance, b.device_model, b.device_version, b.transport, b.nat, b.address, b.contact, b.call_id, b.registered_at, b.expires_at, b.holder";

pub async fn bindings_of(c: &mut Conn, account_id: i64) -> sqlx::Result<Vec<BindingRecord>> {
    let sql =
        format!("SELECT {BCOLS} FROM bindings b WHERE b.account_id = $1 ORDER BY b.registered_at");
    rows(c, &sql, params![account_id]).await
}

/// Every live binding (a registrar loads them at start).
pub async fn live_bindings(c: &mut Conn, now: Millis) -> sqlx::Result<Vec<BindingRecord>> {
    let sql = format!(
        "SELECT {BCOLS}, a.sip_epoch, a.enterprise_id FROM bindings b JOIN accounts a ON a.id = b.account_id \
         WHERE b.expires_at > $1 ORDER BY b.account_id, b.registered_at"
    );
    rows(c, &sql, params![now]).await
}

pub async fn upsert_binding(c: &mut Conn, b: &BindingRecord) -> sqlx::Result<()> {
    let sql = "INSERT INTO bindings (account_id, instance, device_model, device_version, transport, nat, address, contact, call_id, registered_at, expires_at, holder) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (account_id, instance) DO UPDATE SET device_model = $3, device_version = $4, \
           transport = $5, nat = $6, address = $7, contact = $8, call_id = $9, registered_at = $10, expires_at = $11, holder = $12";
    run(
        c,
        sql,
        params![
            b.account_id,
            &b.instance,
            &b.device_model,
            &b.device_version,
            &b.transport,
            b.nat,
            &b.address,
            &b.contact,
            &b.call_id,
            b.registered_at,
            b.expires_at,
            &b.holder
        ],
    )
    .await
}

/// Take the account's row lock until the transaction ends, so that writers of its bindings
/// on several instances take turns (a no-op update: PostgreSQL locks the row, SQLite has
/// one writer anyway).
pub async fn lock_account(c: &mut Conn, account_id: i64) -> sqlx::Result<()> {
    let sql = "UPDATE accounts SET sip_epoch = sip_epoch WHERE id = $1";
    run(c, sql, params![account_id]).await
}

/// Live bindings of an account in the database, whichever instance holds them.
pub async fn live_count(c: &mut Conn, account_id: i64, now: Millis) -> sqlx::Result<i64> {
    let sql = "SELECT COUNT(*) FROM bindings WHERE account_id = $1 AND expires_at > $2";
    scalar(c, sql, params![account_id, now]).await
}

/// Live bindings of an account held by other instances than `holder`: (binding key, the
/// holder's address).
pub async fn held_elsewhere(
    c: &mut Conn,
    account_id: i64,
    holder: &str,
    now: Millis,
) -> sqlx::Result<Vec<(String, String)>> {
    let sql = "SELECT instance, holder FROM bindings \
         WHERE account_id = $1 AND expires_at > $2 AND holder <> '' AND holder <> $3";
    rows(c, sql, params![account_id, now, holder]).await
}

pub async fn delete_binding(c: &mut Conn, account_id: i64, instance: &str) -> sqlx::Result<()> {
    let sql = "DELETE FROM bindings WHERE account_id = $1 AND instance = $2";
    run(c, sql, params![account_id, instance]).await
}

/// Forget a binding that expired (unless another instance refreshed it since).
pub async fn delete_binding_if_expired(
    c: &mut Conn,
    account_id: i64,
    instance: &str,
    now: Millis,
) -> sqlx::Result<()> {
    let sql = "DELETE FROM bindings WHERE account_id = $1 AND instance = $2 AND expires_at <= $3";
    run(c, sql, params![account_id, instance, now]).await
}

/// Forget bindings that expired (the registrar's timer does it in memory; this catches the
/// ones of a server that was down when they expired).
pub async fn delete_expired(c: &mut Conn, now: Millis) -> sqlx::Result<u64> {
    execute(
        c,
        "DELETE FROM bindings WHERE expires_at <= $1",
        params![now],
    )
    .await
}

// ---- provisioned devices (built-in cloud numbers) ----

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeviceRow {
    pub id: i64,
    pub enterprise_id: i64,
    pub account_id: i64,
    pub serial: String,
    pub secret_enc: Vec<u8>,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
}

const DCOLS: &str = "id, enterprise_id, account_id, serial, secret_enc, created_at, last_login_at";

pub async fn insert_device(
    c: &mut Conn,
    enterprise_id: i64,
    account_id: i64,
    serial: &str,
    secret_enc: &[u8],
    now: Millis,
) -> sqlx::Result<i64> {
    let sql = "INSERT INTO devices (enterprise_id, account_id, serial, secret_enc, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id";
    scalar(
        c,
        sql,
        params![enterprise_id, account_id, serial, secret_enc, now],
    )
    .await
}

pub async fn device_by_serial(c: &mut Conn, serial: &str) -> sqlx::Result<Option<DeviceRow>> {
    let sql = format!("SELECT {DCOLS} FROM devices WHERE serial = $1");
    maybe_row(c, &sql, params![serial]).await
}

pub async fn devices_of(
    c: &mut Conn,
    enterprise_id: i64,
    account_id: i64,
) -> sqlx::Result<Vec<DeviceRow>> {
    let sql = format!(
        "SELECT {DCOLS} FROM devices WHERE enterprise_id = $1 AND account_id = $2 ORDER BY serial"
    );
    rows(c, &sql, params![enterprise_id, account_id]).await
}

pub async fn delete_device(c: &mut Conn, enterprise_id: i64, serial: &str) -> sqlx::Result<u64> {
    execute(
        c,
        "DELETE FROM devices WHERE enterprise_id = $1 AND serial = $2",
        params![enterprise_id, serial],
    )
    .await
}

pub async fn device_logged_in(c: &mut Conn, id: i64, now: Millis) -> sqlx::Result<()> {
    run(
        c,
        "UPDATE devices SET last_login_at = $2 WHERE id = $1",
        params![id, now],
    )
    .await
}

// ---- endpoint sessions ----

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EndpointSession {
    pub id: i64,
    pub account_id: i64,
    pub instance: String,
    pub device_model: String,
    pub device_version: String,
}

pub async fn insert_session(
    c: &mut Conn,
    account_id: i64,
    token_hash: &str,
    instance: &str,
    model: &str,
    version: &str,
    now: Millis,
) -> sqlx::Result<()> {
    // One session per device: signing in again replaces it.
    execute(
        &mut *c,
        "DELETE FROM endpoint_sessions WHERE account_id = $1 AND instance = $2",
        params![account_id, instance],
    )
    .await?;
    let sql = "INSERT INTO endpoint_sessions (account_id, token_hash, instance, device_model, device_version, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)";
    run(
        c,
        sql,
        params![account_id, token_hash, instance, model, version, now],
    )
    .await
}

pub async fn session_by_token(
    c: &mut Conn,
    token_hash: &str,
) -> sqlx::Result<Option<EndpointSession>> {
    let sql = "SELECT id, account_id, instance, device_model, device_version FROM endpoint_sessions WHERE token_hash = $1";
    maybe_row(c, sql, params![token_hash]).await
}

pub async fn session_device(
    c: &mut Conn,
    account_id: i64,
    instance: &str,
) -> sqlx::Result<Option<EndpointSession>> {
    let sql =
        "SELECT id, account_id, instance, device_model, device_version FROM endpoint_sessions \
         WHERE account_id = $1 AND instance = $2";
    maybe_row(c, sql, params![account_id, instance]).await
}

pub async fn delete_session(c: &mut Conn, id: i64) -> sqlx::Result<()> {
    run(
        c,
        "DELETE FROM endpoint_sessions WHERE id = $1",
        params![id],
    )
    .await
}

// ---- the enterprise directory for endpoints ----

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DirectoryRow {
    pub id: i64,
    pub name: String,
    pub extension: String,
    pub cloud_number: String,
    pub registered: i64,
}

/// Every account of an enterprise with whether it has a live binding, by extension; or one
/// account when `account_id` is given.
pub async fn directory(
    c: &mut Conn,
    enterprise_id: i64,
    account_id: Option<i64>,
    now: Millis,
) -> sqlx::Result<Vec<DirectoryRow>> {
    let one = if account_id.is_some() {
        " AND a.id = $3"
    } else {
        ""
    };
    let sql = format!(
        "SELECT a.id, a.name, a.extension, a.cloud_number, \
           CAST(CASE WHEN EXISTS (SELECT 1 FROM bindings b WHERE b.account_id = a.id AND b.expires_at > $2) THEN 1 ELSE 0 END AS BIGINT) AS registered \
         FROM accounts a WHERE a.enterprise_id = $1{one} ORDER BY a.extension"
    );
    let mut q = sqlx::query_as(&sql).bind(enterprise_id).bind(now);
    if let Some(id) = account_id {
        q = q.bind(id);
    }
    q.fetch_all(c).await
}

/// The account and enterprise of a live endpoint session.
pub async fn session_owner(c: &mut Conn, token_hash: &str) -> sqlx::Result<Option<(i64, i64)>> {
    let sql = "SELECT s.account_id, a.enterprise_id FROM endpoint_sessions s JOIN accounts a ON a.id = s.account_id \
         WHERE s.token_hash = $1";
    maybe_row(c, sql, params![token_hash]).await
}

/// The first `limit` accounts' cloud numbers and sealed passwords, oldest first (benchmark
/// set-up: SIP clients need the credentials).
pub async fn credentials(c: &mut Conn, limit: i64) -> sqlx::Result<Vec<(String, Vec<u8>)>> {
    let sql = "SELECT cloud_number, password_enc FROM accounts ORDER BY id LIMIT $1";
    rows(c, sql, params![limit]).await
}
