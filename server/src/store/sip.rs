//! What the SIP registrar and the endpoint sign-in keep: credentials looked up by cloud
//! number, bindings written in batches, provisioned devices and endpoint sessions.

use super::Conn;
use crate::clock::Millis;

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

/// One query on the hot path: the account, and whether its enterprise is in force.
pub async fn account_by_number(
    c: &mut Conn,
    cloud_number: &str,
    now: Millis,
) -> Result<Option<SipAccount>, sqlx::Error> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SELECT {SIP_ACCOUNT} FROM accounts a JOIN enterprises e ON e.id = a.enterprise_id \
             WHERE a.cloud_number = $2"
        )
    });
    sqlx::query_as(SQL.as_str())
        .bind(now)
        .bind(cloud_number)
        .fetch_optional(c)
        .await
}

/// The account with an extension in an enterprise, as [`account_by_number`] reads it.
pub async fn account_by_extension(
    c: &mut Conn,
    enterprise_id: i64,
    extension: &str,
    now: Millis,
) -> Result<Option<SipAccount>, sqlx::Error> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SELECT {SIP_ACCOUNT} FROM accounts a JOIN enterprises e ON e.id = a.enterprise_id \
             WHERE a.enterprise_id = $2 AND a.extension = $3"
        )
    });
    sqlx::query_as(SQL.as_str())
        .bind(now)
        .bind(enterprise_id)
        .bind(extension)
        .fetch_optional(c)
        .await
}

/// An answered call of an account (idempotent).
pub async fn call_up(
    c: &mut Conn,
    call_id: &str,
    account_id: i64,
    at: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO calls (call_id, account_id, started_at) \
         SELECT $1, id, $3 FROM accounts WHERE id = $2 \
         ON CONFLICT (call_id, account_id) DO NOTHING",
    )
    .bind(call_id)
    .bind(account_id)
    .bind(at)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn call_down(c: &mut Conn, call_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM calls WHERE call_id = $1")
        .bind(call_id)
        .execute(c)
        .await?;
    Ok(())
}

/// Forget calls that started before `before` (their BYE never came).
pub async fn drop_calls_before(c: &mut Conn, before: Millis) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM calls WHERE started_at < $1")
        .bind(before)
        .execute(c)
        .await?;
    Ok(())
}

/// Whether an account is in an answered call now.
pub async fn in_call(c: &mut Conn, account_id: i64) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM calls WHERE account_id = $1")
        .bind(account_id)
        .fetch_one(c)
        .await?;
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
    /// The account's epoch and enterprise (read at start only).
    #[sqlx(default)]
    pub sip_epoch: i64,
    #[sqlx(default)]
    pub enterprise_id: i64,
}

const BCOLS: &str = "b.account_id, b.instance, b.device_model, b.device_version, b.transport, b.nat, b.address, b.contact, b.call_id, b.registered_at, b.expires_at";

pub async fn bindings_of(c: &mut Conn, account_id: i64) -> Result<Vec<BindingRecord>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {BCOLS} FROM bindings b WHERE b.account_id = $1 ORDER BY b.registered_at"
    ))
    .bind(account_id)
    .fetch_all(c)
    .await
}

/// Every live binding (a registrar loads them at start).
pub async fn live_bindings(c: &mut Conn, now: Millis) -> Result<Vec<BindingRecord>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {BCOLS}, a.sip_epoch, a.enterprise_id FROM bindings b JOIN accounts a ON a.id = b.account_id \
         WHERE b.expires_at > $1 ORDER BY b.account_id, b.registered_at"
    ))
    .bind(now)
    .fetch_all(c)
    .await
}

pub async fn upsert_binding(c: &mut Conn, b: &BindingRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO bindings (account_id, instance, device_model, device_version, transport, nat, address, contact, call_id, registered_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (account_id, instance) DO UPDATE SET device_model = $3, device_version = $4, \
           transport = $5, nat = $6, address = $7, contact = $8, call_id = $9, registered_at = $10, expires_at = $11",
    )
    .bind(b.account_id)
    .bind(&b.instance)
    .bind(&b.device_model)
    .bind(&b.device_version)
    .bind(&b.transport)
    .bind(b.nat)
    .bind(&b.address)
    .bind(&b.contact)
    .bind(&b.call_id)
    .bind(b.registered_at)
    .bind(b.expires_at)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn delete_binding(
    c: &mut Conn,
    account_id: i64,
    instance: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM bindings WHERE account_id = $1 AND instance = $2")
        .bind(account_id)
        .bind(instance)
        .execute(c)
        .await?;
    Ok(())
}

/// Forget bindings that expired (the registrar's timer does it in memory; this catches the
/// ones of a server that was down when they expired).
pub async fn delete_expired(c: &mut Conn, now: Millis) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM bindings WHERE expires_at <= $1")
        .bind(now)
        .execute(c)
        .await?
        .rows_affected())
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
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO devices (enterprise_id, account_id, serial, secret_enc, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(enterprise_id)
    .bind(account_id)
    .bind(serial)
    .bind(secret_enc)
    .bind(now)
    .fetch_one(c)
    .await
}

pub async fn device_by_serial(
    c: &mut Conn,
    serial: &str,
) -> Result<Option<DeviceRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {DCOLS} FROM devices WHERE serial = $1"))
        .bind(serial)
        .fetch_optional(c)
        .await
}

pub async fn devices_of(
    c: &mut Conn,
    enterprise_id: i64,
    account_id: i64,
) -> Result<Vec<DeviceRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {DCOLS} FROM devices WHERE enterprise_id = $1 AND account_id = $2 ORDER BY serial"
    ))
    .bind(enterprise_id)
    .bind(account_id)
    .fetch_all(c)
    .await
}

pub async fn delete_device(
    c: &mut Conn,
    enterprise_id: i64,
    serial: &str,
) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM devices WHERE enterprise_id = $1 AND serial = $2")
            .bind(enterprise_id)
            .bind(serial)
            .execute(c)
            .await?
            .rows_affected(),
    )
}

pub async fn device_logged_in(c: &mut Conn, id: i64, now: Millis) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE devices SET last_login_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(c)
        .await?;
    Ok(())
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
) -> Result<(), sqlx::Error> {
    // One session per device: signing in again replaces it.
    sqlx::query("DELETE FROM endpoint_sessions WHERE account_id = $1 AND instance = $2")
        .bind(account_id)
        .bind(instance)
        .execute(&mut *c)
        .await?;
    sqlx::query(
        "INSERT INTO endpoint_sessions (account_id, token_hash, instance, device_model, device_version, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(account_id)
    .bind(token_hash)
    .bind(instance)
    .bind(model)
    .bind(version)
    .bind(now)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn session_by_token(
    c: &mut Conn,
    token_hash: &str,
) -> Result<Option<EndpointSession>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, account_id, instance, device_model, device_version FROM endpoint_sessions WHERE token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(c)
    .await
}

pub async fn session_device(
    c: &mut Conn,
    account_id: i64,
    instance: &str,
) -> Result<Option<EndpointSession>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, account_id, instance, device_model, device_version FROM endpoint_sessions \
         WHERE account_id = $1 AND instance = $2",
    )
    .bind(account_id)
    .bind(instance)
    .fetch_optional(c)
    .await
}

pub async fn delete_session(c: &mut Conn, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM endpoint_sessions WHERE id = $1")
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
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
) -> Result<Vec<DirectoryRow>, sqlx::Error> {
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
pub async fn session_owner(
    c: &mut Conn,
    token_hash: &str,
) -> Result<Option<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.account_id, a.enterprise_id FROM endpoint_sessions s JOIN accounts a ON a.id = s.account_id \
         WHERE s.token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(c)
    .await
}

/// The first `limit` accounts' cloud numbers and sealed passwords, oldest first (benchmark
/// set-up: SIP clients need the credentials).
pub async fn credentials(c: &mut Conn, limit: i64) -> Result<Vec<(String, Vec<u8>)>, sqlx::Error> {
    sqlx::query_as("SELECT cloud_number, password_enc FROM accounts ORDER BY id LIMIT $1")
        .bind(limit)
        .fetch_all(c)
        .await
}
