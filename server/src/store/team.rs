//! Colleagues, MFA challenges, API keys and the audit log.

use super::admin::{insert_admin_sql, push_new_admin, AdminRow, NewAdmin, ADMIN_COLS};
use super::query::{execute, maybe_row, params, rows, run, scalar, Params};
use super::Conn;
use crate::clock::Millis;

/// An invited colleague (status `invited`); `a.name` is their first and last name.
pub async fn insert_colleague(
    c: &mut Conn,
    a: &NewAdmin<'_>,
    (first_name, last_name): (&str, &str),
    manage_admins: bool,
    now: Millis,
) -> sqlx::Result<i64> {
    let sql = insert_admin_sql(
        ", first_name, last_name, status, manage_admins",
        ", $9, $10, 'invited', $11",
    );
    let mut p = Params::default();
    push_new_admin(&mut p, a, now)?;
    params!(into &mut p; first_name, last_name, i64::from(manage_admins));
    scalar(c, &sql, p).await
}

pub async fn colleagues(c: &mut Conn, enterprise_id: i64) -> sqlx::Result<Vec<AdminRow>> {
    let sql = format!("SELECT {ADMIN_COLS} FROM admins WHERE enterprise_id = $1 ORDER BY id");
    rows(c, &sql, params![enterprise_id]).await
}

pub async fn colleague(
    c: &mut Conn,
    enterprise_id: i64,
    id: i64,
) -> sqlx::Result<Option<AdminRow>> {
    let sql = format!("SELECT {ADMIN_COLS} FROM admins WHERE enterprise_id = $1 AND id = $2");
    maybe_row(c, &sql, params![enterprise_id, id]).await
}

pub async fn set_status(c: &mut Conn, id: i64, status: &str) -> sqlx::Result<()> {
    run(
        c,
        "UPDATE admins SET status = $1 WHERE id = $2",
        params![status, id],
    )
    .await
}

pub async fn set_role(c: &mut Conn, id: i64, role: &str, manage_admins: bool) -> sqlx::Result<()> {
    let sql = "UPDATE admins SET role = $1, manage_admins = $2 WHERE id = $3";
    run(c, sql, params![role, i64::from(manage_admins), id]).await
}

pub async fn delete_admin(c: &mut Conn, id: i64) -> sqlx::Result<()> {
    run(c, "DELETE FROM admins WHERE id = $1", params![id]).await
}

pub async fn update_security(
    c: &mut Conn,
    id: i64,
    email: &str,
    email_key: &str,
    backup_email: Option<&str>,
    mfa_enabled: bool,
) -> sqlx::Result<()> {
    let sql = "UPDATE admins SET email = $1, email_key = $2, backup_email = $3, mfa_enabled = $4 WHERE id = $5";
    run(
        c,
        sql,
        params![email, email_key, backup_email, i64::from(mfa_enabled), id],
    )
    .await
}

pub async fn set_mfa_required(
    c: &mut Conn,
    enterprise_id: i64,
    required: bool,
) -> sqlx::Result<()> {
    let sql = "UPDATE enterprises SET mfa_required = $1 WHERE id = $2";
    run(c, sql, params![i64::from(required), enterprise_id]).await
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
) -> sqlx::Result<()> {
    let sql = "INSERT INTO mfa_challenges (token_hash, admin_id, code_hash, expires_at, last_sent_at, language, client_ip, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $5)";
    run(
        c,
        sql,
        params![token_hash, admin_id, code_hash, expires_at, now, language, client_ip],
    )
    .await
}

pub async fn mfa_by_hash(c: &mut Conn, token_hash: &str) -> sqlx::Result<Option<MfaRow>> {
    let sql = "SELECT id, admin_id, code_hash, expires_at, tries, used_at, last_sent_at, language, client_ip FROM mfa_challenges WHERE token_hash = $1";
    maybe_row(c, sql, params![token_hash]).await
}

/// Count a try; returns the new count.
pub async fn mfa_try(c: &mut Conn, id: i64) -> sqlx::Result<i64> {
    let sql = "UPDATE mfa_challenges SET tries = tries + 1 WHERE id = $1 RETURNING tries";
    scalar(c, sql, params![id]).await
}

/// Mark a challenge used; true if this call used it (a code works once even under races).
pub async fn mfa_use(c: &mut Conn, id: i64, now: Millis) -> sqlx::Result<bool> {
    super::admin::use_once(c, "mfa_challenges", id, now).await
}

pub async fn mfa_new_code(
    c: &mut Conn,
    id: i64,
    code_hash: &str,
    expires_at: Millis,
    now: Millis,
) -> sqlx::Result<()> {
    let sql = "UPDATE mfa_challenges SET code_hash = $1, expires_at = $2, tries = 0, last_sent_at = $3 WHERE id = $4";
    run(c, sql, params![code_hash, expires_at, now, id]).await
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
) -> sqlx::Result<i64> {
    let sql = "INSERT INTO api_keys (enterprise_id, name, role, key_hash, prefix, created_by, created_at, manage_admins) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id";
    scalar(
        c,
        sql,
        params![
            enterprise_id,
            name,
            role,
            key_hash,
            prefix,
            created_by,
            now,
            i64::from(manage_admins)
        ],
    )
    .await
}

pub async fn key_by_hash(c: &mut Conn, key_hash: &str) -> sqlx::Result<Option<ApiKeyRow>> {
    let sql = format!("SELECT {KEY_COLS} FROM api_keys WHERE key_hash = $1");
    maybe_row(c, &sql, params![key_hash]).await
}

pub async fn key_by_id(
    c: &mut Conn,
    enterprise_id: i64,
    id: i64,
) -> sqlx::Result<Option<ApiKeyRow>> {
    let sql = format!("SELECT {KEY_COLS} FROM api_keys WHERE id = $1 AND enterprise_id = $2");
    maybe_row(c, &sql, params![id, enterprise_id]).await
}

pub async fn keys_of(c: &mut Conn, enterprise_id: i64) -> sqlx::Result<Vec<ApiKeyRow>> {
    let sql = format!("SELECT {KEY_COLS} FROM api_keys WHERE enterprise_id = $1 ORDER BY id");
    rows(c, &sql, params![enterprise_id]).await
}

pub async fn revoke_key(
    c: &mut Conn,
    enterprise_id: i64,
    id: i64,
    now: Millis,
) -> sqlx::Result<bool> {
    let sql = "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND enterprise_id = $3 AND revoked_at IS NULL";
    Ok(execute(c, sql, params![now, id, enterprise_id]).await? == 1)
}

pub async fn touch_key(c: &mut Conn, id: i64, now: Millis) -> sqlx::Result<()> {
    run(
        c,
        "UPDATE api_keys SET last_used_at = $1 WHERE id = $2",
        params![now, id],
    )
    .await
}

// ---- SSH keys (the console over SSH) ----

// The row as the query selects it: not every column is read.
#[allow(dead_code)]
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SshKeyRow {
    pub id: i64,
    pub admin_id: i64,
    pub name: String,
    pub algorithm: String,
    pub public_key: String,
    pub fingerprint: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

const SSH_KEY_COLS: &str =
    "id, admin_id, name, algorithm, public_key, fingerprint, created_at, last_used_at";

/// Add a key; None when the admin has it already.
pub async fn insert_ssh_key(
    c: &mut Conn,
    admin_id: i64,
    (name, algorithm, public_key, fingerprint): (&str, &str, &str, &str),
    now: Millis,
) -> sqlx::Result<Option<i64>> {
    let sql = "INSERT INTO ssh_keys (admin_id, name, algorithm, public_key, fingerprint, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (admin_id, fingerprint) DO NOTHING RETURNING id";
    maybe_row::<(i64,)>(
        c,
        sql,
        params![admin_id, name, algorithm, public_key, fingerprint, now],
    )
    .await
    .map(|r| r.map(|r| r.0))
}

pub async fn ssh_keys_of(c: &mut Conn, admin_id: i64) -> sqlx::Result<Vec<SshKeyRow>> {
    let sql = format!("SELECT {SSH_KEY_COLS} FROM ssh_keys WHERE admin_id = $1 ORDER BY id");
    rows(c, &sql, params![admin_id]).await
}

pub async fn ssh_key_by_fingerprint(
    c: &mut Conn,
    admin_id: i64,
    fingerprint: &str,
) -> sqlx::Result<Option<SshKeyRow>> {
    let sql =
        format!("SELECT {SSH_KEY_COLS} FROM ssh_keys WHERE admin_id = $1 AND fingerprint = $2");
    maybe_row(c, &sql, params![admin_id, fingerprint]).await
}

/// Remove one of the admin's keys: its row, or None when the admin has no such key.
pub async fn delete_ssh_key(
    c: &mut Conn,
    admin_id: i64,
    id: i64,
) -> sqlx::Result<Option<SshKeyRow>> {
    let sql =
        format!("DELETE FROM ssh_keys WHERE id = $1 AND admin_id = $2 RETURNING {SSH_KEY_COLS}");
    maybe_row(c, &sql, params![id, admin_id]).await
}

pub async fn touch_ssh_key(c: &mut Conn, id: i64, now: Millis) -> sqlx::Result<()> {
    run(
        c,
        "UPDATE ssh_keys SET last_used_at = $1 WHERE id = $2",
        params![now, id],
    )
    .await
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
) -> sqlx::Result<()> {
    let sql = "INSERT INTO audit (enterprise_id, actor, action, target, detail, client_ip, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    run(
        c,
        sql,
        params![enterprise_id, actor, action, target, detail, client_ip, now],
    )
    .await
}

pub async fn audit_page(
    c: &mut Conn,
    enterprise_id: i64,
    search: Option<&str>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(i64, Vec<AuditRow>)> {
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
