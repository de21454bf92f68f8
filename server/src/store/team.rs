//! Colleagues, MFA challenges, API keys and the audit log.

use super::admin::{AdminRow, ADMIN_COLS};
use super::Conn;
use crate::clock::Millis;

#[allow(clippy::too_many_arguments)]
pub async fn insert_colleague(
    c: &mut Conn,
    enterprise_id: i64,
    email: &str,
    email_key: &str,
    first_name: &str,
    last_name: &str,
    role: &str,
    manage_admins: bool,
    unusable_hash: &str,
    language: &str,
    now: Millis,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO admins (enterprise_id, email, email_key, name, role, password_hash, language, created_at, password_changed_at, \
         first_name, last_name, status, manage_admins) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, 'invited', $11) RETURNING id",
    )
    .bind(enterprise_id)
    .bind(email)
    .bind(email_key)
    .bind(format!("{first_name} {last_name}").trim().to_string())
    .bind(role)
    .bind(unusable_hash)
    .bind(language)
    .bind(now)
    .bind(first_name)
    .bind(last_name)
    .bind(i64::from(manage_admins))
    .fetch_one(c)
    .await
}

pub async fn colleagues(c: &mut Conn, enterprise_id: i64) -> Result<Vec<AdminRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ADMIN_COLS} FROM admins WHERE enterprise_id = $1 ORDER BY id"
    ))
    .bind(enterprise_id)
    .fetch_all(c)
    .await
}

pub async fn colleague(
    c: &mut Conn,
    enterprise_id: i64,
    id: i64,
) -> Result<Option<AdminRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ADMIN_COLS} FROM admins WHERE enterprise_id = $1 AND id = $2"
    ))
    .bind(enterprise_id)
    .bind(id)
    .fetch_optional(c)
    .await
}

pub async fn set_status(c: &mut Conn, id: i64, status: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE admins SET status = $1 WHERE id = $2")
        .bind(status)
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
}

pub async fn set_role(
    c: &mut Conn,
    id: i64,
    role: &str,
    manage_admins: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE admins SET role = $1, manage_admins = $2 WHERE id = $3")
        .bind(role)
        .bind(i64::from(manage_admins))
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
}

pub async fn delete_admin(c: &mut Conn, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM admins WHERE id = $1")
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
}

pub async fn update_security(
    c: &mut Conn,
    id: i64,
    email: &str,
    email_key: &str,
    backup_email: Option<&str>,
    mfa_enabled: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE admins SET email = $1, email_key = $2, backup_email = $3, mfa_enabled = $4 WHERE id = $5")
        .bind(email)
        .bind(email_key)
        .bind(backup_email)
        .bind(i64::from(mfa_enabled))
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
}

pub async fn set_mfa_required(
    c: &mut Conn,
    enterprise_id: i64,
    required: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE enterprises SET mfa_required = $1 WHERE id = $2")
        .bind(i64::from(required))
        .bind(enterprise_id)
        .execute(c)
        .await?;
    Ok(())
}

// ---- MFA ----

// The row as the query selects it: not every column is read.
#[allow(dead_code)]
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MfaRow {
    pub id: i64,
    pub admin_id: i64,
    pub code_hash: String,
    pub expires_at: i64,
    pub tries: i64,
    pub used_at: Option<i64>,
    pub last_sent_at: i64,
    pub language: String,
    pub client_ip: Option<String>,
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_mfa(
    c: &mut Conn,
    token_hash: &str,
    admin_id: i64,
    code_hash: &str,
    expires_at: Millis,
    language: &str,
    client_ip: Option<&str>,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO mfa_challenges (token_hash, admin_id, code_hash, expires_at, last_sent_at, language, client_ip, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $5)",
    )
    .bind(token_hash)
    .bind(admin_id)
    .bind(code_hash)
    .bind(expires_at)
    .bind(now)
    .bind(language)
    .bind(client_ip)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn mfa_by_hash(c: &mut Conn, token_hash: &str) -> Result<Option<MfaRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, admin_id, code_hash, expires_at, tries, used_at, last_sent_at, language, client_ip FROM mfa_challenges WHERE token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(c)
    .await
}

/// Count a try; returns the new count.
pub async fn mfa_try(c: &mut Conn, id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("UPDATE mfa_challenges SET tries = tries + 1 WHERE id = $1 RETURNING tries")
        .bind(id)
        .fetch_one(c)
        .await
}

pub async fn mfa_use(c: &mut Conn, id: i64, now: Millis) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("UPDATE mfa_challenges SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(c)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn mfa_new_code(
    c: &mut Conn,
    id: i64,
    code_hash: &str,
    expires_at: Millis,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE mfa_challenges SET code_hash = $1, expires_at = $2, tries = 0, last_sent_at = $3 WHERE id = $4")
        .bind(code_hash)
        .bind(expires_at)
        .bind(now)
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
}

// ---- API keys ----

// The row as the query selects it: not every column is read.
#[allow(dead_code)]
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: i64,
    pub enterprise_id: i64,
    pub name: String,
    pub role: String,
    pub prefix: String,
    pub created_by: Option<i64>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub manage_admins: i64,
}

const KEY_COLS: &str =
    "id, enterprise_id, name, role, prefix, created_by, created_at, last_used_at, revoked_at, manage_admins";

#[allow(clippy::too_many_arguments)]
pub async fn insert_key(
    c: &mut Conn,
    enterprise_id: i64,
    name: &str,
    role: &str,
    key_hash: &str,
    prefix: &str,
    created_by: i64,
    manage_admins: bool,
    now: Millis,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO api_keys (enterprise_id, name, role, key_hash, prefix, created_by, created_at, manage_admins) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(enterprise_id)
    .bind(name)
    .bind(role)
    .bind(key_hash)
    .bind(prefix)
    .bind(created_by)
    .bind(now)
    .bind(i64::from(manage_admins))
    .fetch_one(c)
    .await
}

pub async fn key_by_hash(c: &mut Conn, key_hash: &str) -> Result<Option<ApiKeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {KEY_COLS} FROM api_keys WHERE key_hash = $1"
    ))
    .bind(key_hash)
    .fetch_optional(c)
    .await
}

pub async fn key_by_id(
    c: &mut Conn,
    enterprise_id: i64,
    id: i64,
) -> Result<Option<ApiKeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {KEY_COLS} FROM api_keys WHERE id = $1 AND enterprise_id = $2"
    ))
    .bind(id)
    .bind(enterprise_id)
    .fetch_optional(c)
    .await
}

pub async fn keys_of(c: &mut Conn, enterprise_id: i64) -> Result<Vec<ApiKeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {KEY_COLS} FROM api_keys WHERE enterprise_id = $1 ORDER BY id"
    ))
    .bind(enterprise_id)
    .fetch_all(c)
    .await
}

pub async fn revoke_key(
    c: &mut Conn,
    enterprise_id: i64,
    id: i64,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND enterprise_id = $3 AND revoked_at IS NULL")
        .bind(now)
        .bind(id)
        .bind(enterprise_id)
        .execute(c)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn touch_key(c: &mut Conn, id: i64, now: Millis) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
}

// ---- audit ----

// The row as the query selects it: not every column is read.
#[allow(dead_code)]
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub client_ip: String,
    pub created_at: i64,
}

#[allow(clippy::too_many_arguments)]
pub async fn audit(
    c: &mut Conn,
    enterprise_id: Option<i64>,
    actor: &str,
    action: &str,
    target: &str,
    detail: &str,
    client_ip: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit (enterprise_id, actor, action, target, detail, client_ip, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(enterprise_id)
    .bind(actor)
    .bind(action)
    .bind(target)
    .bind(detail)
    .bind(client_ip)
    .bind(now)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn audit_page(
    c: &mut Conn,
    enterprise_id: i64,
    search: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(i64, Vec<AuditRow>), sqlx::Error> {
    let pat = search
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(super::like_pattern);
    let cond = if pat.is_some() {
        " AND (LOWER(actor) LIKE $2 ESCAPE '\\' OR LOWER(action) LIKE $2 ESCAPE '\\' OR LOWER(target) LIKE $2 ESCAPE '\\' OR LOWER(detail) LIKE $2 ESCAPE '\\' OR client_ip LIKE $2 ESCAPE '\\')"
    } else {
        ""
    };
    let n = if pat.is_some() { 3 } else { 2 };
    let count_sql = format!("SELECT COUNT(*) FROM audit WHERE enterprise_id = $1{cond}");
    let mut q = sqlx::query_scalar(&count_sql).bind(enterprise_id);
    if let Some(p) = &pat {
        q = q.bind(p.clone());
    }
    let total: i64 = q.fetch_one(&mut *c).await?;
    let sql = format!(
        "SELECT id, actor, action, target, detail, client_ip, created_at FROM audit WHERE enterprise_id = $1{cond} ORDER BY id DESC LIMIT ${} OFFSET ${}",
        n,
        n + 1
    );
    let mut q = sqlx::query_as(&sql).bind(enterprise_id);
    if let Some(p) = pat {
        q = q.bind(p);
    }
    let rows = q.bind(limit).bind(offset).fetch_all(c).await?;
    Ok((total, rows))
}
