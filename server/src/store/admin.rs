//! Enterprises, administrators, sessions, sign-in attempts, mailed tokens and captchas.

use super::query::{
    delete_before, execute, maybe_row, maybe_scalar, params, rows, run, scalar, Params,
};
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
) -> sqlx::Result<i64> {
    let sql = "INSERT INTO enterprises (number, company, country, status, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id";
    scalar(c, sql, params![number, company, country, status, now]).await
}

pub async fn activate_enterprise(
    c: &mut Conn,
    id: i64,
    trial_ends_at: Millis,
    now: Millis,
) -> sqlx::Result<()> {
    let sql = "UPDATE enterprises SET status = 'active', trial_ends_at = $1, activated_at = $2 WHERE id = $3";
    run(c, sql, params![trial_ends_at, now, id]).await
}

pub async fn enterprise_by_id(c: &mut Conn, id: i64) -> sqlx::Result<Option<EnterpriseRow>> {
    let sql = format!("SELECT {ENTERPRISE_COLS} FROM enterprises WHERE id = $1");
    maybe_row(c, &sql, params![id]).await
}

pub async fn enterprise_by_number(
    c: &mut Conn,
    number: &str,
) -> sqlx::Result<Option<EnterpriseRow>> {
    let sql = format!("SELECT {ENTERPRISE_COLS} FROM enterprises WHERE number = $1");
    maybe_row(c, &sql, params![number]).await
}

pub async fn list_enterprises(c: &mut Conn) -> sqlx::Result<Vec<EnterpriseRow>> {
    let sql = format!("SELECT {ENTERPRISE_COLS} FROM enterprises ORDER BY number");
    rows(c, &sql, params![]).await
}

pub async fn update_enterprise_profile(
    c: &mut Conn,
    id: i64,
    company: &str,
    country: &str,
) -> sqlx::Result<()> {
    let sql = "UPDATE enterprises SET company = $1, country = $2 WHERE id = $3";
    run(c, sql, params![company, country, id]).await
}

pub async fn delete_enterprise(c: &mut Conn, id: i64) -> sqlx::Result<()> {
    run(c, "DELETE FROM enterprises WHERE id = $1", params![id]).await
}

/// Enterprises on trial that never bound a license, whose trial ended before `ended_before`.
pub async fn unlicensed_trials_ended_before(
    c: &mut Conn,
    ended_before: Millis,
) -> sqlx::Result<Vec<EnterpriseRow>> {
    let sql = format!(
        "SELECT {ENTERPRISE_COLS} FROM enterprises WHERE status = 'active' AND ever_licensed = 0 AND trial_ends_at < $1"
    );
    rows(c, &sql, params![ended_before]).await
}

/// Set the purge warning flag; true if this call set it (so only one instance mails).
pub async fn claim_purge_warning(c: &mut Conn, id: i64) -> sqlx::Result<bool> {
    Ok(execute(
        c,
        "UPDATE enterprises SET purge_warned = 1 WHERE id = $1 AND purge_warned = 0",
        params![id],
    )
    .await?
        == 1)
}

/// Registrations never activated, created before `before`.
pub async fn delete_stale_pending(c: &mut Conn, before: Millis) -> sqlx::Result<u64> {
    let sql = "DELETE FROM enterprises WHERE status = 'pending' AND created_at < $1";
    execute(c, sql, params![before]).await
}

/// A new administrator: who, in which enterprise, and how they sign in.
pub struct NewAdmin<'a> {
    pub enterprise_id: i64,
    pub email: &'a str,
    pub email_key: &'a str,
    pub name: &'a str,
    pub role: &'a str,
    pub password_hash: &'a str,
    pub language: &'a str,
}

/// The statement that inserts a [`NewAdmin`] (`$1`…`$8`, see [`push_new_admin`]) and returns
/// its id; `more` columns take `$9` on.
pub(crate) fn insert_admin_sql(more: &str, more_values: &str) -> String {
    format!(
        "INSERT INTO admins (enterprise_id, email, email_key, name, role, password_hash, language, \
         created_at, password_changed_at{more}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8{more_values}) \
         RETURNING id"
    )
}

/// The values of a [`NewAdmin`]'s row, `now` its creation and password time.
pub(crate) fn push_new_admin<'q>(
    p: &mut Params<'q>,
    a: &NewAdmin<'q>,
    now: Millis,
) -> sqlx::Result<()> {
    params!(into p; a.enterprise_id, a.email, a.email_key, a.name, a.role, a.password_hash, a.language, now);
    Ok(())
}

pub async fn insert_admin(c: &mut Conn, a: &NewAdmin<'_>, now: Millis) -> sqlx::Result<i64> {
    let mut p = Params::default();
    push_new_admin(&mut p, a, now)?;
    scalar(c, &insert_admin_sql("", ""), p).await
}

pub async fn admin_by_email_key(c: &mut Conn, key: &str) -> sqlx::Result<Option<AdminRow>> {
    let sql = format!("SELECT {ADMIN_COLS} FROM admins WHERE email_key = $1");
    maybe_row(c, &sql, params![key]).await
}

pub async fn admin_by_id(c: &mut Conn, id: i64) -> sqlx::Result<Option<AdminRow>> {
    maybe_row(
        c,
        &format!("SELECT {ADMIN_COLS} FROM admins WHERE id = $1"),
        params![id],
    )
    .await
}

pub async fn owner_of(c: &mut Conn, enterprise_id: i64) -> sqlx::Result<Option<AdminRow>> {
    let sql = format!(
        "SELECT {ADMIN_COLS} FROM admins WHERE enterprise_id = $1 AND role = 'owner' ORDER BY id LIMIT 1"
    );
    maybe_row(c, &sql, params![enterprise_id]).await
}

pub async fn set_admin_password(
    c: &mut Conn,
    id: i64,
    hash: &str,
    now: Millis,
) -> sqlx::Result<()> {
    let sql = "UPDATE admins SET password_hash = $1, password_changed_at = $2 WHERE id = $3";
    run(c, sql, params![hash, now, id]).await
}

pub async fn update_admin_profile(
    c: &mut Conn,
    id: i64,
    name: &str,
    language: &str,
) -> sqlx::Result<()> {
    let sql = "UPDATE admins SET name = $1, language = $2 WHERE id = $3";
    run(c, sql, params![name, language, id]).await
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

pub async fn attempts(c: &mut Conn, key: &str) -> sqlx::Result<Option<AttemptRow>> {
    let sql = "SELECT email_key, failures, budget, frozen_until, last_failure_at FROM login_attempts WHERE email_key = $1";
    maybe_row(c, sql, params![key]).await
}

/// Reserve one password check for `key` before the password is verified: counts a failure
/// in advance (a success clears the row). Returns the new failure count, or None when the
/// key is frozen or its budget until the next freeze is used up.
pub async fn reserve_attempt(c: &mut Conn, key: &str, now: Millis) -> sqlx::Result<Option<i64>> {
    let sql = "INSERT INTO login_attempts (email_key, failures, budget, frozen_until, last_failure_at) VALUES ($1, 0, 3, 0, $2) \
         ON CONFLICT (email_key) DO NOTHING";
    execute(&mut *c, sql, params![key, now]).await?;
    let sql = "UPDATE login_attempts SET failures = failures + 1, last_failure_at = $2 \
         WHERE email_key = $1 AND failures < budget AND frozen_until <= $2 RETURNING failures";
    maybe_scalar(c, sql, params![key, now]).await
}

/// Close a window of failures: frozen until `until`, and 3 more failures allowed after it.
pub async fn freeze(c: &mut Conn, key: &str, until: Millis) -> sqlx::Result<()> {
    let sql =
        "UPDATE login_attempts SET frozen_until = $1, budget = failures + 3 WHERE email_key = $2";
    run(c, sql, params![until, key]).await
}

pub async fn clear_attempts(c: &mut Conn, key: &str) -> sqlx::Result<()> {
    run(
        c,
        "DELETE FROM login_attempts WHERE email_key = $1",
        params![key],
    )
    .await
}

/// Forget failures of emails that have been quiet for a long time (and are not frozen).
pub async fn purge_attempts(c: &mut Conn, quiet_since: Millis, now: Millis) -> sqlx::Result<()> {
    let sql = "DELETE FROM login_attempts WHERE last_failure_at < $1 AND frozen_until < $2";
    run(c, sql, params![quiet_since, now]).await
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
) -> sqlx::Result<i64> {
    let sql = "INSERT INTO sessions (token_hash, admin_id, created_at, last_seen_at, client_ip) VALUES ($1, $2, $3, $3, $4) RETURNING id";
    scalar(c, sql, params![token_hash, admin_id, now, client_ip]).await
}

pub async fn session_by_hash(c: &mut Conn, token_hash: &str) -> sqlx::Result<Option<SessionRow>> {
    let sql = "SELECT id, admin_id, created_at, last_seen_at, ended_at, end_reason FROM sessions WHERE token_hash = $1";
    maybe_row(c, sql, params![token_hash]).await
}

pub async fn touch_session(c: &mut Conn, id: i64, now: Millis) -> sqlx::Result<()> {
    let sql = "UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND ended_at IS NULL";
    run(c, sql, params![now, id]).await
}

pub async fn end_session(c: &mut Conn, id: i64, reason: &str, now: Millis) -> sqlx::Result<()> {
    let sql =
        "UPDATE sessions SET ended_at = $1, end_reason = $2 WHERE id = $3 AND ended_at IS NULL";
    run(c, sql, params![now, reason, id]).await
}

/// End every live session of an admin except `keep`.
pub async fn end_admin_sessions(
    c: &mut Conn,
    admin_id: i64,
    keep: Option<i64>,
    reason: &str,
    now: Millis,
) -> sqlx::Result<u64> {
    let sql = "UPDATE sessions SET ended_at = $1, end_reason = $2 WHERE admin_id = $3 AND ended_at IS NULL AND id <> $4";
    execute(c, sql, params![now, reason, admin_id, keep.unwrap_or(-1)]).await
}

/// Drop session rows that ended (or went idle) before `before`.
pub async fn purge_sessions(c: &mut Conn, before: Millis) -> sqlx::Result<()> {
    let sql =
        "DELETE FROM sessions WHERE (ended_at IS NOT NULL AND ended_at < $1) OR last_seen_at < $1";
    run(c, sql, params![before]).await
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
) -> sqlx::Result<()> {
    let sql = "INSERT INTO tokens (kind, token_hash, admin_id, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)";
    run(c, sql, params![kind, token_hash, admin_id, expires_at, now]).await
}

pub async fn token_by_hash(
    c: &mut Conn,
    kind: &str,
    token_hash: &str,
) -> sqlx::Result<Option<TokenRow>> {
    let sql = "SELECT id, kind, token_hash, admin_id, expires_at, used_at FROM tokens WHERE kind = $1 AND token_hash = $2";
    maybe_row(c, sql, params![kind, token_hash]).await
}

/// Mark a token used; true if this call used it (a token works once even under races).
pub async fn use_token(c: &mut Conn, id: i64, now: Millis) -> sqlx::Result<bool> {
    use_once(c, "tokens", id, now).await
}

/// Mark the row `id` of a table of one-time rows (`tokens`, `mfa_challenges`) used; true if
/// this call used it.
pub(crate) async fn use_once(
    c: &mut Conn,
    table: &'static str,
    id: i64,
    now: Millis,
) -> sqlx::Result<bool> {
    let sql = format!("UPDATE {table} SET used_at = $1 WHERE id = $2 AND used_at IS NULL");
    Ok(execute(c, &sql, params![now, id]).await? == 1)
}

/// Invalidate an admin's unused tokens of a kind (a new one replaces them).
pub async fn revoke_tokens(
    c: &mut Conn,
    admin_id: i64,
    kind: &str,
    now: Millis,
) -> sqlx::Result<()> {
    let sql =
        "UPDATE tokens SET used_at = $1 WHERE admin_id = $2 AND kind = $3 AND used_at IS NULL";
    run(c, sql, params![now, admin_id, kind]).await
}

pub async fn purge_tokens(c: &mut Conn, expired_before: Millis) -> sqlx::Result<()> {
    delete_before(c, "tokens", "expires_at", expired_before)
        .await
        .map(drop)
}

// ---- captchas ----

pub async fn insert_captcha(
    c: &mut Conn,
    id: &str,
    answer: &str,
    expires_at: Millis,
) -> sqlx::Result<()> {
    let sql = "INSERT INTO captchas (id, answer, expires_at) VALUES ($1, $2, $3)";
    run(c, sql, params![id, answer, expires_at]).await
}

/// Remove a captcha and return its answer and expiry: a challenge is answered once.
pub async fn take_captcha(c: &mut Conn, id: &str) -> sqlx::Result<Option<(String, i64)>> {
    let sql = "DELETE FROM captchas WHERE id = $1 RETURNING answer, expires_at";
    maybe_row(c, sql, params![id]).await
}

/// The answer of a live captcha without consuming it (operator tooling and tests).
#[cfg(feature = "testing")]
pub async fn peek_captcha(c: &mut Conn, id: &str) -> sqlx::Result<Option<String>> {
    maybe_scalar(c, "SELECT answer FROM captchas WHERE id = $1", params![id]).await
}

pub async fn purge_captchas(c: &mut Conn, now: Millis) -> sqlx::Result<()> {
    delete_before(c, "captchas", "expires_at", now)
        .await
        .map(drop)
}
