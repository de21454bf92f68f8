//! Multi-factor sign-in by email: starting a challenge after a correct password, sending and
//! resending the code, verifying it with a limited number of tries, and freezing MFA sign-in
//! after rounds of wrong codes (DOMAIN.md "Colleagues and permissions", issue 7). A verified
//! challenge ends in a session started by `auth`.

use axum::http::StatusCode;

use crate::clock::{Millis, MINUTE, SECOND};
use crate::crypto;
use crate::error::{AppError, AppResult};
use crate::mail::Outgoing;
use crate::service::audit::audit_as;
use crate::service::App;
use crate::store::{admin, team, throttle, Conn};
use vcms_api::{self as api, ErrorCode};

pub const MFA_VALID: Millis = 5 * MINUTE;
pub const MFA_TRIES: i64 = 5;
pub const MFA_RESEND_AFTER: Millis = 30 * SECOND;

/// Wrong codes in a row (per admin, across sign-in attempts) that freeze MFA sign-in.
pub const MFA_ROUND: i64 = 10;
/// The freeze after each round of wrong codes: the password's escalation (5 minutes × 2^(k-1),
/// at most 24 hours). At most 90 codes can be tried in the first 24 hours of an attack and 10
/// per 24 hours after that.
pub fn mfa_freeze_length(failures: i64) -> Millis {
    crate::service::auth::escalating_freeze(failures, MFA_ROUND)
}

fn mfa_frozen(until: Millis, now: Millis) -> AppError {
    let left = (until - now).max(SECOND);
    AppError::new(
        StatusCode::LOCKED,
        ErrorCode::Frozen,
        format!(
            "Too many wrong sign-in codes: sign-in is frozen for {} more (if this was not you, someone knows your password: reset it with \"Forgot password\")",
            crate::service::auth::minutes_text(left)
        ),
    )
    .with_field("code")
    .with_retry_after((left + SECOND - 1) / SECOND)
}

fn mfa_code() -> String {
    crypto::random_digits(6)
}

/// Codes are stored as a keyed hash (HMAC-like with the server's lookup key), so even the
/// database alone does not give them away by trying the 10^6 possible codes.
fn code_hash(app: &App, code: &str) -> String {
    app.secrets.lookup(&format!("mfa:{}", code.trim()))
}

async fn send_code(
    app: &App,
    c: &mut Conn,
    a: &admin::AdminRow,
    code: &str,
    lang: &str,
) -> AppResult<()> {
    let vars: &[(&str, &str)] = &[("name", &a.name), ("code", code), ("valid_minutes", "5")];
    app.mailer
        .enqueue(
            c,
            &Outgoing {
                lang,
                ..Outgoing::to_admin(a, "mfa_code", vars)
            },
        )
        .await?;
    Ok(())
}

fn mask(email: &str) -> String {
    match email.split_once('@') {
        Some((l, d)) => format!("{}***@{d}", l.chars().next().unwrap_or('*')),
        None => "***".into(),
    }
}

/// The admin's MFA freeze, if one is on. A password set after the last wrong code (a reset
/// by the owner of the mailbox) ends it.
async fn mfa_freeze_of(
    c: &mut Conn,
    a: &admin::AdminRow,
    now: Millis,
) -> AppResult<Option<Millis>> {
    let Some(att) = throttle::mfa_attempts(c, a.id).await? else {
        return Ok(None);
    };
    if att.failures > 0 && a.password_changed_at > att.last_failure_at {
        throttle::mfa_clear(c, a.id, MFA_ROUND).await?;
        return Ok(None);
    }
    Ok((att.frozen_until > now).then_some(att.frozen_until))
}

fn code_sent_moments_ago(wait: Millis) -> AppError {
    AppError::new(
        StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Throttled,
        "A code was sent moments ago: wait a little before asking again",
    )
    .with_retry_after((wait.max(1) + 999) / 1000)
}

/// Password checked and MFA is on: mail a code and answer `mfa_required` with the token of
/// this sign-in attempt. At most one code email per admin per 30 s: a sign-in within 30 s
/// of the last email shares the code of the newest open attempt (or waits, if there is
/// none). While wrong codes have frozen MFA sign-in, no code is sent.
pub async fn start_mfa(
    app: &App,
    a: &admin::AdminRow,
    lang: &str,
    ip: Option<&str>,
) -> AppResult<AppError> {
    let token = crypto::new_token();
    let now = app.now();
    let mut tx = app.store.begin().await?;
    if let Some(until) = mfa_freeze_of(&mut tx, a, now).await? {
        return Ok(mfa_frozen(until, now));
    }
    let sent = throttle::mfa_claim_send(&mut tx, a.id, MFA_ROUND, MFA_RESEND_AFTER, now).await?;
    let (hash, expires_at) = if sent {
        let code = mfa_code();
        send_code(app, &mut tx, a, &code, lang).await?;
        (code_hash(app, &code), now + MFA_VALID)
    } else {
        match throttle::open_challenge(&mut tx, a.id, now).await? {
            Some(open) => open,
            None => {
                let last = throttle::mfa_attempts(&mut tx, a.id)
                    .await?
                    .map_or(now, |t| t.last_sent_at);
                return Ok(code_sent_moments_ago(last + MFA_RESEND_AFTER - now));
            }
        }
    };
    team::insert_mfa(
        &mut tx,
        &crypto::token_hash(&token),
        a.id,
        &hash,
        expires_at,
        lang,
        ip,
        now,
    )
    .await?;
    tx.commit().await?;
    if sent {
        app.mailer.wake();
    }
    let mut e = AppError::unauthorized(
        ErrorCode::MfaRequired,
        if sent {
            format!(
                "Enter the 6-digit code sent to {} (valid 5 minutes)",
                mask(&a.email)
            )
        } else {
            format!(
                "Enter the 6-digit code sent to {} moments ago (one code email per 30 seconds)",
                mask(&a.email)
            )
        },
    )
    .with_field("code");
    e.body.mfa_token = Some(token);
    Ok(e)
}

async fn challenge(c: &mut Conn, token: &str) -> AppResult<team::MfaRow> {
    team::mfa_by_hash(c, &crypto::token_hash(token))
        .await?
        .ok_or_else(|| {
            AppError::unauthorized(
                ErrorCode::MfaInvalid,
                "This sign-in attempt is unknown or over: sign in again",
            )
            .with_field("mfa_token")
        })
}

/// Freeze MFA sign-in after a round of wrong codes and tell the admin: whoever is trying
/// knows the password.
async fn freeze_mfa(
    app: &App,
    c: &mut Conn,
    a: &admin::AdminRow,
    failures: i64,
    ip: Option<&str>,
    now: Millis,
) -> AppResult<Millis> {
    let length = mfa_freeze_length(failures);
    let until = now + length;
    throttle::mfa_freeze(c, a.id, until, MFA_ROUND).await?;
    let failures = failures.to_string();
    let frozen = crate::service::auth::minutes_text(length);
    let vars: &[(&str, &str)] = &[
        ("name", &a.name),
        ("failures", &failures),
        ("from", ip.unwrap_or("an unknown address")),
        ("frozen", &frozen),
    ];
    app.mailer
        .enqueue(c, &Outgoing::to_admin(a, "mfa_failing", vars))
        .await?;
    app.mailer.wake();
    Ok(until)
}

pub async fn verify_mfa(
    app: &App,
    req: &api::MfaVerify,
    ip: Option<&str>,
) -> AppResult<api::LoginResponse> {
    let now = app.now();
    let mut c = app.store.conn().await?;
    let ch = open_challenge(&mut c, &req.mfa_token, now).await?;
    let a = admin::admin_by_id(&mut c, ch.admin_id)
        .await?
        .ok_or_else(|| AppError::unauthorized(ErrorCode::MfaInvalid, "Sign in again"))?;
    let n = reserve_mfa_attempt(&mut c, &a, now).await?;
    let tries = team::mfa_try(&mut c, ch.id).await?;
    if !crypto::ct_eq(&code_hash(app, &req.code), &ch.code_hash) {
        return Err(wrong_code(app, &mut c, &a, (n, tries), ip, now).await?);
    }
    throttle::mfa_clear(&mut c, a.id, MFA_ROUND).await?;
    if !team::mfa_use(&mut c, ch.id, now).await? {
        return Err(code_refused(
            ErrorCode::MfaUsed,
            "This code was already used: sign in again",
        ));
    }
    let e = admin::enterprise_by_id(&mut c, a.enterprise_id)
        .await?
        .ok_or_else(|| AppError::internal("admin without enterprise"))?;
    drop(c);
    if a.status != "active" {
        return Err(AppError::forbidden(
            ErrorCode::Disabled,
            "This administrator is disabled: ask the enterprise owner to enable it again",
        ));
    }
    let lang = ch.language.clone();
    crate::service::auth::start_session(app, a, &e, &lang, ip).await
}

/// The challenge of an MFA token while a code may still be tried on it: not used, not out
/// of tries, not expired.
async fn open_challenge(c: &mut Conn, token: &str, now: Millis) -> AppResult<team::MfaRow> {
    let ch = challenge(c, token).await?;
    if ch.used_at.is_some() {
        return Err(code_refused(
            ErrorCode::MfaUsed,
            "This code was already used: sign in again",
        ));
    }
    if ch.tries >= MFA_TRIES {
        return Err(code_refused(
            ErrorCode::MfaLocked,
            "Too many wrong codes: sign in again for a new code",
        ));
    }
    if ch.expires_at < now {
        return Err(code_refused(
            ErrorCode::MfaExpired,
            "The code has expired (valid 5 minutes): send a new one or sign in again",
        ));
    }
    Ok(ch)
}

/// Count a code attempt of the admin before the code is checked, across every sign-in
/// attempt; refused while MFA sign-in is frozen. Returns the attempt's number.
async fn reserve_mfa_attempt(c: &mut Conn, a: &admin::AdminRow, now: Millis) -> AppResult<i64> {
    if let Some(until) = mfa_freeze_of(c, a, now).await? {
        return Err(mfa_frozen(until, now));
    }
    let Some(n) = throttle::mfa_reserve(c, a.id, MFA_ROUND, now).await? else {
        let until = throttle::mfa_attempts(c, a.id)
            .await?
            .map_or(0, |t| t.frozen_until);
        return Err(mfa_frozen(until.max(now + SECOND), now));
    };
    Ok(n)
}

/// The answer to a wrong code: the failure audited; the last of a round freezes MFA sign-in,
/// otherwise the tries left on this challenge (`n`: the admin's attempt, `tries`: the
/// challenge's tries, both counting this one).
async fn wrong_code(
    app: &App,
    c: &mut Conn,
    a: &admin::AdminRow,
    (n, tries): (i64, i64),
    ip: Option<&str>,
    now: Millis,
) -> AppResult<AppError> {
    audit_as(
        app,
        c,
        a.enterprise_id,
        &a.email,
        "signin.failed",
        "",
        "wrong MFA code",
        ip,
    )
    .await?;
    if n % MFA_ROUND == 0 {
        let until = freeze_mfa(app, c, a, n, ip, now).await?;
        return Ok(mfa_frozen(until, now));
    }
    let left = MFA_TRIES - tries;
    Ok(if left <= 0 {
        AppError::unauthorized(
            ErrorCode::MfaLocked,
            "Too many wrong codes: sign in again for a new code",
        )
    } else {
        AppError::unauthorized(
            ErrorCode::MfaWrong,
            format!(
                "Wrong code: {left} more {} left",
                if left == 1 { "try" } else { "tries" }
            ),
        )
    }
    .with_field("code"))
}

pub async fn resend_mfa(app: &App, req: &api::MfaResend) -> AppResult<api::Message> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let ch = challenge(&mut tx, &req.mfa_token).await?;
    if ch.used_at.is_some() {
        return Err(
            AppError::unauthorized(ErrorCode::MfaUsed, "This sign-in is already complete")
                .with_field("mfa_token"),
        );
    }
    let a = admin::admin_by_id(&mut tx, ch.admin_id)
        .await?
        .ok_or_else(|| AppError::unauthorized(ErrorCode::MfaInvalid, "Sign in again"))?;
    if let Some(until) = mfa_freeze_of(&mut tx, &a, now).await? {
        return Err(mfa_frozen(until, now));
    }
    if !throttle::mfa_claim_send(&mut tx, a.id, MFA_ROUND, MFA_RESEND_AFTER, now).await? {
        let last = throttle::mfa_attempts(&mut tx, a.id)
            .await?
            .map_or(now, |t| t.last_sent_at);
        return Err(code_sent_moments_ago(last + MFA_RESEND_AFTER - now));
    }
    let code = mfa_code();
    team::mfa_new_code(&mut tx, ch.id, &code_hash(app, &code), now + MFA_VALID, now).await?;
    send_code(app, &mut tx, &a, &code, &ch.language).await?;
    tx.commit().await?;
    app.mailer.wake();
    Ok(api::Message {
        message: format!(
            "A new code was sent to {} (valid 5 minutes)",
            mask(&a.email)
        ),
    })
}

/// A refusal of the sign-in code, naming the `code` field.
fn code_refused(code: ErrorCode, what: &str) -> AppError {
    AppError::unauthorized(code, what.to_string()).with_field("code")
}
