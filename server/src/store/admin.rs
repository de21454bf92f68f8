//! Enterprises, administrators, sessions, sign-in attempts, mailed tokens and captchas.

use super::Conn;
use crate::clock::Millis;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EnterpriseRow {
    pub id: i64,
    pub number: String,
    pub company: String,
    pub country: String,
    pub status: String,
    pub trial_ends_at: Option<i64>,
    pub ever_licensed: i64,
    pub purge_warned: i64,
    pub mfa_required: i64,
    pub created_at: i64,
    pub activated_at: Option<i64>,
}

const ENTERPRISE_COLS: &str = "id, number, company, country, status, trial_ends_at, ever_licensed, purge_warned, mfa_required, created_at, activated_at";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AdminRow {
    pub id: i64,
    pub enterprise_id: i64,
    pub email: String,
    pub email_key: String,
    pub name: String,
    pub role: String,
    pub password_hash: String,
    pub language: String,
    pub created_at: i64,
    pub password_changed_at: i64,
    pub first_name: String,
    pub last_name: String,
    pub backup_email: Option<String>,
    pub status: String,
    pub manage_admins: i64,
    pub mfa_enabled: i64,
}

pub(crate) const ADMIN_COLS: &str = "id, enterprise_id, email, email_key, name, role, password_hash, language, created_at, password_changed_at, first_name, last_name, backup_email, status, manage_admins, mfa_enabled";

pub async fn insert_enterprise(
    c: &mut Conn,
    number: &str,
    company: &str,
    country: &str,
    status: &str,
    now: Millis,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO enterprises (number, company, country, status, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(number)
    .bind(company)
    .bind(country)
    .bind(status)
    .bind(now)
    .fetch_one(c)
    .await
}

pub async fn activate_enterprise(
    c: &mut Conn,
    id: i64,
    trial_ends_at: Millis,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE enterprises SET status = 'active', trial_ends_at = $1, activated_at = $2 WHERE id = $3")
        .bind(trial_ends_at)
        .bind(now)
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
}

pub async fn enterprise_by_id(c: &mut Conn, id: i64) -> Result<Option<EnterpriseRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ENTERPRISE_COLS} FROM enterprises WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(c)
    .await
}

pub async fn enterprise_by_number(
    c: &mut Conn,
    number: &str,
) -> Result<Option<EnterpriseRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ENTERPRISE_COLS} FROM enterprises WHERE number = $1"
    ))
    .bind(number)
    .fetch_optional(c)
    .await
}

pub async fn list_enterprises(c: &mut Conn) -> Result<Vec<EnterpriseRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ENTERPRISE_COLS} FROM enterprises ORDER BY number"
    ))
    .fetch_all(c)
    .await
}

pub async fn update_enterprise_profile(
    c: &mut Conn,
    id: i64,
    company: &str,
    country: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE enterprises SET company = $1, country = $2 WHERE id = $3")
        .bind(company)
        .bind(country)
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
}

pub async fn delete_enterprise(c: &mut Conn, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM enterprises WHERE id = $1")
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
}

/// Enterprises on trial that never bound a license, whose trial ended before `ended_before`.
pub async fn unlicensed_trials_ended_before(
    c: &mut Conn,
    ended_before: Millis,
) -> Result<Vec<EnterpriseRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ENTERPRISE_COLS} FROM enterprises WHERE status = 'active' AND ever_licensed = 0 AND trial_ends_at < $1"
    ))
    .bind(ended_before)
    .fetch_all(c)
    .await
}

/// Set the purge warning flag; true if this call set it (so only one instance mails).
pub async fn claim_purge_warning(c: &mut Conn, id: i64) -> Result<bool, sqlx::Error> {
    let r =
        sqlx::query("UPDATE enterprises SET purge_warned = 1 WHERE id = $1 AND purge_warned = 0")
            .bind(id)
            .execute(c)
            .await?;
    Ok(r.rows_affected() == 1)
}

/// Registrations never activated, created before `before`.
pub async fn delete_stale_pending(c: &mut Conn, before: Millis) -> Result<u64, sqlx::Error> {
    let r = sqlx::query("DELETE FROM enterprises WHERE status = 'pending' AND created_at < $1")
        .bind(before)
        .execute(c)
        .await?;
    Ok(r.rows_affected())
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_admin(
    c: &mut Conn,
    enterprise_id: i64,
    email: &str,
    email_key: &str,
    name: &str,
    role: &str,
    password_hash: &str,
    language: &str,
    now: Millis,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO admins (enterprise_id, email, email_key, name, role, password_hash, language, created_at, password_changed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
    )
    .bind(enterprise_id)
    .bind(email)
    .bind(email_key)
    .bind(name)
    .bind(role)
    .bind(password_hash)
    .bind(language)
    .bind(now)
    .fetch_one(c)
    .await
}

pub async fn admin_by_email_key(c: &mut Conn, key: &str) -> Result<Option<AdminRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ADMIN_COLS} FROM admins WHERE email_key = $1"
    ))
    .bind(key)
    .fetch_optional(c)
    .await
}

pub async fn admin_by_id(c: &mut Conn, id: i64) -> Result<Option<AdminRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {ADMIN_COLS} FROM admins WHERE id = $1"))
        .bind(id)
        .fetch_optional(c)
        .await
}

pub async fn owner_of(c: &mut Conn, enterprise_id: i64) -> Result<Option<AdminRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ADMIN_COLS} FROM admins WHERE enterprise_id = $1 AND role = 'owner' ORDER BY id LIMIT 1"
    ))
    .bind(enterprise_id)
    .fetch_optional(c)
    .await
}

pub async fn set_admin_password(
    c: &mut Conn,
    id: i64,
    hash: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE admins SET password_hash = $1, password_changed_at = $2 WHERE id = $3")
        .bind(hash)
        .bind(now)
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
}

pub async fn update_admin_profile(
    c: &mut Conn,
    id: i64,
    name: &str,
    language: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE admins SET name = $1, language = $2 WHERE id = $3")
        .bind(name)
        .bind(language)
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
}

// ---- sign-in attempts ----

// The row as the query selects it: not every column is read.
#[allow(dead_code)]
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttemptRow {
    pub email_key: String,
    pub failures: i64,
    pub budget: i64,
    pub frozen_until: i64,
    pub last_failure_at: i64,
}

pub async fn attempts(c: &mut Conn, key: &str) -> Result<Option<AttemptRow>, sqlx::Error> {
    sqlx::query_as("SELECT email_key, failures, budget, frozen_until, last_failure_at FROM login_attempts WHERE email_key = $1")
        .bind(key)
        .fetch_optional(c)
        .await
}

/// Reserve one password check for `key` before the password is verified: counts a failure
/// in advance (a success clears the row). Returns the new failure count, or None when the
/// key is frozen or its budget until the next freeze is used up.
pub async fn reserve_attempt(
    c: &mut Conn,
    key: &str,
    now: Millis,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query(
        "INSERT INTO login_attempts (email_key, failures, budget, frozen_until, last_failure_at) VALUES ($1, 0, 3, 0, $2) \
         ON CONFLICT (email_key) DO NOTHING",
    )
    .bind(key)
    .bind(now)
    .execute(&mut *c)
    .await?;
    sqlx::query_scalar(
        "UPDATE login_attempts SET failures = failures + 1, last_failure_at = $2 \
         WHERE email_key = $1 AND failures < budget AND frozen_until <= $2 RETURNING failures",
    )
    .bind(key)
    .bind(now)
    .fetch_optional(c)
    .await
}

/// Close a window of failures: frozen until `until`, and 3 more failures allowed after it.
pub async fn freeze(c: &mut Conn, key: &str, until: Millis) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE login_attempts SET frozen_until = $1, budget = failures + 3 WHERE email_key = $2",
    )
    .bind(until)
    .bind(key)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn clear_attempts(c: &mut Conn, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_attempts WHERE email_key = $1")
        .bind(key)
        .execute(c)
        .await?;
    Ok(())
}

/// Forget failures of emails that have been quiet for a long time (and are not frozen).
pub async fn purge_attempts(
    c: &mut Conn,
    quiet_since: Millis,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_attempts WHERE last_failure_at < $1 AND frozen_until < $2")
        .bind(quiet_since)
        .bind(now)
        .execute(c)
        .await?;
    Ok(())
}

// ---- sessions ----

// The row as the query selects it: not every column is read.
#[allow(dead_code)]
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id: i64,
    pub admin_id: i64,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub ended_at: Option<i64>,
    pub end_reason: Option<String>,
}

pub async fn insert_session(
    c: &mut Conn,
    token_hash: &str,
    admin_id: i64,
    now: Millis,
    client_ip: Option<&str>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO sessions (token_hash, admin_id, created_at, last_seen_at, client_ip) VALUES ($1, $2, $3, $3, $4) RETURNING id",
    )
    .bind(token_hash)
    .bind(admin_id)
    .bind(now)
    .bind(client_ip)
    .fetch_one(c)
    .await
}

pub async fn session_by_hash(
    c: &mut Conn,
    token_hash: &str,
) -> Result<Option<SessionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, admin_id, created_at, last_seen_at, ended_at, end_reason FROM sessions WHERE token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(c)
    .await
}

pub async fn touch_session(c: &mut Conn, id: i64, now: Millis) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND ended_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
}

pub async fn end_session(
    c: &mut Conn,
    id: i64,
    reason: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE sessions SET ended_at = $1, end_reason = $2 WHERE id = $3 AND ended_at IS NULL",
    )
    .bind(now)
    .bind(reason)
    .bind(id)
    .execute(c)
    .await?;
    Ok(())
}

/// End every live session of an admin except `keep`.
pub async fn end_admin_sessions(
    c: &mut Conn,
    admin_id: i64,
    keep: Option<i64>,
    reason: &str,
    now: Millis,
) -> Result<u64, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE sessions SET ended_at = $1, end_reason = $2 WHERE admin_id = $3 AND ended_at IS NULL AND id <> $4",
    )
    .bind(now)
    .bind(reason)
    .bind(admin_id)
    .bind(keep.unwrap_or(-1))
    .execute(c)
    .await?;
    Ok(r.rows_affected())
}

/// Drop session rows that ended (or went idle) before `before`.
pub async fn purge_sessions(c: &mut Conn, before: Millis) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM sessions WHERE (ended_at IS NOT NULL AND ended_at < $1) OR last_seen_at < $1",
    )
    .bind(before)
    .execute(c)
    .await?;
    Ok(())
}

// ---- mailed tokens ----

// The row as the query selects it: not every column is read.
#[allow(dead_code)]
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    pub id: i64,
    pub kind: String,
    pub token_hash: String,
    pub admin_id: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

pub async fn insert_token(
    c: &mut Conn,
    kind: &str,
    token_hash: &str,
    admin_id: i64,
    expires_at: Millis,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO tokens (kind, token_hash, admin_id, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(kind)
        .bind(token_hash)
        .bind(admin_id)
        .bind(expires_at)
        .bind(now)
        .execute(c)
        .await?;
    Ok(())
}

pub async fn token_by_hash(
    c: &mut Conn,
    kind: &str,
    token_hash: &str,
) -> Result<Option<TokenRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, kind, token_hash, admin_id, expires_at, used_at FROM tokens WHERE kind = $1 AND token_hash = $2")
        .bind(kind)
        .bind(token_hash)
        .fetch_optional(c)
        .await
}

/// Mark a token used; true if this call used it (a token works once even under races).
pub async fn use_token(c: &mut Conn, id: i64, now: Millis) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("UPDATE tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(c)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Invalidate an admin's unused tokens of a kind (a new one replaces them).
pub async fn revoke_tokens(
    c: &mut Conn,
    admin_id: i64,
    kind: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tokens SET used_at = $1 WHERE admin_id = $2 AND kind = $3 AND used_at IS NULL",
    )
    .bind(now)
    .bind(admin_id)
    .bind(kind)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn purge_tokens(c: &mut Conn, expired_before: Millis) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM tokens WHERE expires_at < $1")
        .bind(expired_before)
        .execute(c)
        .await?;
    Ok(())
}

// ---- captchas ----

pub async fn insert_captcha(
    c: &mut Conn,
    id: &str,
    answer: &str,
    expires_at: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO captchas (id, answer, expires_at) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(answer)
        .bind(expires_at)
        .execute(c)
        .await?;
    Ok(())
}

/// Remove a captcha and return its answer and expiry: a challenge is answered once.
pub async fn take_captcha(c: &mut Conn, id: &str) -> Result<Option<(String, i64)>, sqlx::Error> {
    sqlx::query_as("DELETE FROM captchas WHERE id = $1 RETURNING answer, expires_at")
        .bind(id)
        .fetch_optional(c)
        .await
}

/// The answer of a live captcha without consuming it (operator tooling and tests).
#[cfg(feature = "testing")]
pub async fn peek_captcha(c: &mut Conn, id: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT answer FROM captchas WHERE id = $1")
        .bind(id)
        .fetch_optional(c)
        .await
}

pub async fn purge_captchas(c: &mut Conn, now: Millis) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM captchas WHERE expires_at < $1")
        .bind(now)
        .execute(c)
        .await?;
    Ok(())
}
