//! Registration, activation, sign-in with freezing, sessions, passwords and the profile.

use axum::http::StatusCode;

use crate::clock::{Millis, DAY, HOUR, MINUTE, SECOND};
use crate::crypto;
use crate::error::{AppError, AppResult};
use crate::mail::Outgoing;
use crate::service::{captcha, mail_requests, Actor, App, Role, RoleRules};
use crate::store::{self, admin, Conn};
use crate::validate::{self, Email, Password};
use vcms_api::{self as api, ErrorCode};

pub const ACTIVATION_VALID: Millis = 12 * HOUR;
pub const RESET_VALID: Millis = 10 * MINUTE;
pub const TRIAL: Millis = 30 * DAY;
pub const IDLE_TIMEOUT: Millis = 30 * MINUTE;
pub const FREEZE: Millis = 5 * MINUTE;
/// Consecutive failures after which sign-in stays frozen until the password is reset.
pub const HARD_LOCK_AT: i64 = 99;
const MAX_FREEZE: Millis = DAY;
/// Freezes beyond this are reported as "locked until the password is reset".
const LOCKED: Millis = i64::MAX / 4;

fn freeze_length(failures: i64) -> Millis {
    escalating_freeze(failures, 3)
}

/// The k-th freeze (k = failures / per_round) lasts 5 minutes × 2^(k-1), at most 24 hours:
/// wrong passwords (3 a round) and wrong MFA codes (10 a round) escalate alike.
pub(crate) fn escalating_freeze(failures: i64, per_round: i64) -> Millis {
    let k = (failures / per_round).max(1);
    let shift = (k - 1).clamp(0, 20) as u32;
    FREEZE.saturating_mul(1 << shift).min(MAX_FREEZE)
}

pub(crate) fn minutes_text(ms: Millis) -> String {
    let mins = (ms + MINUTE - 1) / MINUTE;
    if mins >= 120 {
        format!("{} hours", (mins + 59) / 60)
    } else if mins == 1 {
        "1 minute".into()
    } else {
        format!("{mins} minutes")
    }
}

fn frozen_error(until: Millis, now: Millis) -> AppError {
    if until >= LOCKED {
        return AppError::new(
            StatusCode::LOCKED,
            ErrorCode::Locked,
            "Too many wrong passwords: sign-in is locked until the password is reset with \"Forgot password\"",
        )
        .with_field("password");
    }
    let left = (until - now).max(SECOND);
    AppError::new(
        StatusCode::LOCKED,
        ErrorCode::Frozen,
        format!(
            "Too many wrong passwords: sign-in is frozen for {} more (try again later, or reset the password)",
            minutes_text(left)
        ),
    )
    .with_field("password")
    .with_retry_after((left + SECOND - 1) / SECOND)
}

fn profile(a: &admin::AdminRow, e: &admin::EnterpriseRow) -> AppResult<api::Profile> {
    let role: Role = a.role.parse()?;
    Ok(api::Profile {
        username: a.email.clone(),
        name: a.name.clone(),
        company: e.company.clone(),
        enterprise_number: e.number.clone(),
        country: e.country.clone(),
        email: a.email.clone(),
        role,
        language: a.language.clone(),
        api_key: None,
        permissions: role.permissions(a.manage_admins != 0, true),
    })
}

fn link(app: &App, path: &str, token: &str) -> String {
    format!(
        "{}/{path}?token={token}",
        app.base_url().trim_end_matches('/')
    )
}

/// A new unique 5-digit enterprise number.
async fn new_enterprise_number(c: &mut Conn) -> AppResult<String> {
    use rand::Rng;
    for _ in 0..50 {
        let n = rand::rngs::OsRng.gen_range(10000..=99999).to_string();
        if admin::enterprise_by_number(c, &n).await?.is_none() {
            return Ok(n);
        }
    }
    Err(AppError::internal(
        "no free enterprise number after 50 tries",
    ))
}

pub struct NewEnterprise {
    pub full_name: String,
    pub company: String,
    pub country: String,
    pub email: Email,
    pub password: Password,
    pub language: String,
}

impl NewEnterprise {
    pub fn parse(
        full_name: &str,
        company: &str,
        country: &str,
        email: &str,
        password: &str,
        language: Option<&str>,
    ) -> AppResult<Self> {
        Ok(Self {
            full_name: validate::name("full_name", full_name)?,
            company: validate::company("company", company)?,
            country: validate::country("country", country)?,
            email: Email::parse("email", email)?,
            password: Password::parse("password", password)?,
            language: validate::language("language", language.unwrap_or("en"))?,
        })
    }
}

/// Create an enterprise and its owner. `activated`: operator creation (trial starts now, no
/// email); otherwise pending with an activation email. Returns (enterprise id, number).
pub async fn create_enterprise(
    app: &App,
    new: NewEnterprise,
    activated: bool,
) -> AppResult<(i64, String)> {
    let hash = crypto::hash_password(new.password.as_str().to_string()).await?;
    let now = app.now();
    let mut tx = app.store.begin().await?;
    if admin::admin_by_email_key(&mut tx, &new.email.key())
        .await?
        .is_some()
    {
        return Err(AppError::conflict(
            "email",
            "This email is already registered: sign in, or ask for the activation email again",
        ));
    }
    let number = new_enterprise_number(&mut tx).await?;
    let status = if activated { "active" } else { "pending" };
    let eid =
        admin::insert_enterprise(&mut tx, &number, &new.company, &new.country, status, now).await?;
    if activated {
        admin::activate_enterprise(&mut tx, eid, now + TRIAL, now).await?;
    }
    let owner = admin::NewAdmin {
        enterprise_id: eid,
        email: new.email.as_str(),
        email_key: &new.email.key(),
        name: &new.full_name,
        role: Role::Owner.as_str(),
        password_hash: &hash,
        language: &new.language,
    };
    let admin_id = admin::insert_admin(&mut tx, &owner, now)
        .await
        .map_err(|e| {
            if store::is_unique_violation(&e) {
                AppError::conflict("email", "This email is already registered")
            } else {
                e.into()
            }
        })?;
    if !activated {
        // The activation email counts against the mailbox's hourly limit of such emails.
        mail_requests::take_slot(app, &mut tx, new.email.as_str()).await?;
        send_activation(
            app,
            &mut tx,
            admin_id,
            eid,
            &new.full_name,
            &new.company,
            &number,
            new.email.as_str(),
            &new.language,
        )
        .await?;
    }
    tx.commit().await?;
    app.mailer.wake();
    Ok((eid, number))
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn send_activation(
    app: &App,
    c: &mut Conn,
    admin_id: i64,
    enterprise_id: i64,
    name: &str,
    company: &str,
    number: &str,
    email: &str,
    lang: &str,
) -> AppResult<()> {
    let now = app.now();
    let token = issue_link(c, "activation", admin_id, ACTIVATION_VALID, now).await?;
    let link = link(app, "activate", &token);
    app.mailer
        .enqueue(
            c,
            &Outgoing {
                enterprise_id: Some(enterprise_id),
                account_id: None,
                account_label: None,
                kind: "activation",
                recipient: email,
                lang,
                vars: &[
                    ("name", name),
                    ("company", company),
                    ("enterprise_number", number),
                    ("token", &token),
                    ("link", &link),
                    ("valid_hours", "12"),
                ],
            },
        )
        .await?;
    Ok(())
}

pub async fn register(app: &App, req: &api::RegisterRequest) -> AppResult<api::RegisterResponse> {
    let new = NewEnterprise::parse(
        &req.full_name,
        &req.company,
        &req.country,
        &req.email,
        &req.password,
        req.language.as_deref(),
    )?;
    captcha::check_form(app, &req.captcha_id, &req.captcha_answer, &req.captcha_pow).await?;
    let key = new.email.key();
    let number = match create_enterprise(app, new, false).await {
        Ok((_, number)) => number,
        // A known email answers like a new one: the mailbox hears about the attempt (through
        // the email request worker), the answer carries a number no enterprise has.
        Err(e) if is_email_clash(&e) => {
            mail_requests::enqueue(app, mail_requests::REGISTER_NOTICE, &key).await?;
            let mut c = app.store.conn().await?;
            new_enterprise_number(&mut c).await?
        }
        Err(e) => return Err(e),
    };
    Ok(api::RegisterResponse {
        enterprise_number: number,
        message: "Registered. Open the activation email (the link is valid 12 hours) to start your 30-day trial".into(),
    })
}

fn is_email_clash(e: &AppError) -> bool {
    e.status == StatusCode::CONFLICT && e.body.field.as_deref() == Some("email")
}

/// The email of "Forgot password" and "Send the activation email again": required, and no
/// longer than an address can be. Nothing about whether it is known.
fn requested_email(raw: &str) -> AppResult<String> {
    let key = validate::email_key(raw);
    if key.is_empty() {
        return Err(AppError::invalid("email", "email is required"));
    }
    if key.chars().count() > 254 {
        return Err(AppError::invalid(
            "email",
            "email must be at most 254 characters",
        ));
    }
    Ok(key)
}

fn token_error(code: ErrorCode, what: &str) -> AppError {
    AppError::bad_request(code, what.to_string()).with_field("token")
}

/// What a one-time link of one kind (activation, reset, invitation) says when it cannot
/// be used.
pub(crate) struct LinkWords {
    /// Used, or replaced by a newer link.
    pub used: &'static str,
    pub expired: &'static str,
    /// Spent by a parallel request a moment ago.
    pub raced: &'static str,
}

/// The one-time link of `kind` whose token is `token`, used or not; refused (field `token`)
/// with the words `invalid` when there is none.
pub(crate) async fn find_link(
    c: &mut Conn,
    kind: &str,
    token: &str,
    invalid: &str,
) -> AppResult<admin::TokenRow> {
    let hash = crypto::token_hash(token);
    admin::token_by_hash(c, kind, &hash)
        .await?
        .filter(|t| crypto::ct_eq(&t.token_hash, &hash))
        .ok_or_else(|| token_error(ErrorCode::TokenInvalid, invalid))
}

/// Spend the one-time link `t` inside the caller's transaction: refused (field `token`)
/// when it was used or replaced, has expired, or a parallel request spent it first.
pub(crate) async fn spend_link(
    c: &mut Conn,
    t: &admin::TokenRow,
    now: Millis,
    words: &LinkWords,
) -> AppResult<()> {
    let refuse = |code, what: &str| Err(token_error(code, what));
    if t.used_at.is_some() {
        return refuse(ErrorCode::TokenUsed, words.used);
    }
    if t.expires_at < now {
        return refuse(ErrorCode::TokenExpired, words.expired);
    }
    if !admin::use_token(c, t.id, now).await? {
        return refuse(ErrorCode::TokenUsed, words.raced);
    }
    Ok(())
}

/// An administrator by id (404 when gone).
pub(crate) async fn admin_of(c: &mut Conn, id: i64) -> AppResult<admin::AdminRow> {
    admin::admin_by_id(c, id)
        .await?
        .ok_or_else(|| AppError::not_found("No such administrator"))
}

/// An administrator by id and their enterprise (404 when either is gone).
pub(crate) async fn admin_with_enterprise(
    c: &mut Conn,
    id: i64,
) -> AppResult<(admin::AdminRow, admin::EnterpriseRow)> {
    let a = admin_of(c, id).await?;
    let e = admin::enterprise_by_id(c, a.enterprise_id)
        .await?
        .ok_or_else(|| AppError::not_found("No such enterprise"))?;
    Ok((a, e))
}

/// A new one-time link of `kind` for an administrator, valid for `valid`: the links of that
/// kind sent before stop working. Answers the token (only its hash is stored).
pub(crate) async fn issue_link(
    c: &mut Conn,
    kind: &str,
    admin_id: i64,
    valid: Millis,
    now: Millis,
) -> AppResult<String> {
    admin::revoke_tokens(c, admin_id, kind, now).await?;
    let token = crypto::new_token();
    admin::insert_token(
        c,
        kind,
        &crypto::token_hash(&token),
        admin_id,
        now + valid,
        now,
    )
    .await?;
    Ok(token)
}

pub async fn activate(app: &App, token: &str) -> AppResult<api::Message> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let invalid = "This activation token is not valid: check that it was pasted whole";
    let t = find_link(&mut tx, "activation", token, invalid).await?;
    let (_, e) = admin_with_enterprise(&mut tx, t.admin_id).await?;
    if e.status == "active" {
        return Err(token_error(
            ErrorCode::AlreadyActive,
            "This enterprise is already activated: sign in",
        ));
    }
    spend_link(
        &mut tx,
        &t,
        now,
        &LinkWords {
            used: "This activation token was replaced by a newer one: use the latest activation email",
            expired: "This activation link has expired (valid 12 hours): ask for a new activation email",
            raced: "This activation token was already used",
        },
    )
    .await?;
    admin::activate_enterprise(&mut tx, e.id, now + TRIAL, now).await?;
    tx.commit().await?;
    Ok(api::Message {
        message: format!(
            "Enterprise {} is activated: your 30-day trial with up to 20 accounts starts now",
            e.number
        ),
    })
}

const RESEND_ANSWER: &str = "If this email belongs to an enterprise waiting for activation, a new activation email is on its way";

/// Queue the resend and answer at once: known and unknown emails take the same path (the
/// worker in [`mail_requests`] resolves the email afterwards).
pub async fn resend_activation(app: &App, req: &api::EmailRequest) -> AppResult<api::Message> {
    queue_email_request(app, req, mail_requests::ACTIVATION, RESEND_ANSWER).await
}

/// An email request (activation or reset) behind a captcha: queued for the worker, and the
/// same `answer` whether the email is known or not.
async fn queue_email_request(
    app: &App,
    req: &api::EmailRequest,
    kind: &str,
    answer: &str,
) -> AppResult<api::Message> {
    let key = requested_email(&req.email)?;
    captcha::check_form(app, &req.captcha_id, &req.captcha_answer, &req.captcha_pow).await?;
    mail_requests::enqueue(app, kind, &key).await?;
    Ok(api::Message {
        message: answer.into(),
    })
}

/// Sign in. Unknown emails take the same path as known ones (same counters, same answers,
/// an argon2 check against a dummy hash).
pub async fn login(
    app: &App,
    req: &api::LoginRequest,
    client_ip: Option<&str>,
) -> AppResult<api::LoginResponse> {
    let key = validate::email_key(&req.email);
    if key.is_empty() {
        return Err(AppError::invalid("email", "email is required"));
    }
    if req.password.is_empty() {
        return Err(AppError::invalid("password", "password is required"));
    }
    let now = app.now();
    let mut c = app.store.conn().await?;
    let n = reserve_login_attempt(app, &mut c, req, &key, now).await?;
    let found = admin::admin_by_email_key(&mut c, &key).await?;
    drop(c);
    let hash = found
        .as_ref()
        .map(|a| a.password_hash.clone())
        .unwrap_or_else(|| app.dummy_hash.clone());
    let ok = crypto::verify_password(req.password.clone(), hash).await && found.is_some();
    let mut c = app.store.conn().await?;
    let admin = match (ok, found) {
        (true, Some(a)) => a,
        (_, found) => {
            let failed = LoginFailure {
                key: &key,
                attempt: n,
                client_ip,
            };
            return Err(wrong_password(app, &mut c, found.as_ref(), failed).await?);
        }
    };
    let e = admin::enterprise_by_id(&mut c, admin.enterprise_id)
        .await?
        .ok_or_else(|| AppError::internal("admin without enterprise"))?;
    admin::clear_attempts(&mut c, &key).await?;
    may_sign_in(app, &mut c, &admin, &e, client_ip).await?;
    drop(c);
    let language = match &req.language {
        Some(l) => validate::language("language", l)?,
        None => admin.language.clone(),
    };
    if admin.mfa_enabled != 0 || e.mfa_required != 0 {
        return Err(crate::service::mfa::start_mfa(app, &admin, &language, client_ip).await?);
    }
    start_session(app, admin, &e, &language, client_ip).await
}

/// The admin and SSH key a connection proved it holds (the console over SSH, issue 20):
/// `email` must be the admin's sign-in email and the key one they added to their profile.
/// None for anything else, told apart from nothing (unknown email, unknown key).
pub async fn ssh_key_owner(
    app: &App,
    email: &str,
    fingerprint: &str,
) -> AppResult<Option<(i64, i64)>> {
    let key = validate::email_key(email);
    if key.is_empty() {
        return Ok(None);
    }
    let mut c = app.store.conn().await?;
    let Some(a) = admin::admin_by_email_key(&mut c, &key).await? else {
        return Ok(None);
    };
    let k = crate::store::team::ssh_key_by_fingerprint(&mut c, a.id, fingerprint).await?;
    Ok(k.map(|k| (a.id, k.id)))
}

/// Sign in with an SSH key the admin added to their profile ([`ssh_key_owner`]): the same
/// refusals as a password sign-in (frozen email, enterprise not activated, admin disabled),
/// and the emailed code asked when MFA is on.
pub async fn ssh_key_sign_in(
    app: &App,
    (admin_id, ssh_key_id): (i64, i64),
    language: Option<&str>,
    client_ip: Option<&str>,
) -> AppResult<api::LoginResponse> {
    let now = app.now();
    let mut c = app.store.conn().await?;
    let gone = || {
        AppError::unauthorized(
            ErrorCode::InvalidCredentials,
            "This SSH key no longer opens the console: sign in with your password",
        )
    };
    let admin = admin::admin_by_id(&mut c, admin_id)
        .await?
        .ok_or_else(gone)?;
    if let Some(p) = admin::attempts(&mut c, &validate::email_key(&admin.email)).await? {
        if p.frozen_until > now {
            return Err(frozen_error(p.frozen_until, now));
        }
    }
    let e = admin::enterprise_by_id(&mut c, admin.enterprise_id)
        .await?
        .ok_or_else(|| AppError::internal("admin without enterprise"))?;
    may_sign_in(app, &mut c, &admin, &e, client_ip).await?;
    crate::store::team::touch_ssh_key(&mut c, ssh_key_id, now).await?;
    drop(c);
    let language = language
        .and_then(|l| validate::language("language", l).ok())
        .unwrap_or_else(|| admin.language.clone());
    if admin.mfa_enabled != 0 || e.mfa_required != 0 {
        return Err(crate::service::mfa::start_mfa(app, &admin, &language, client_ip).await?);
    }
    start_session(app, admin, &e, &language, client_ip).await
}

/// Count a sign-in attempt for the email `key` before its password is checked: refused while
/// the email is frozen, and behind a captcha after a failure. Returns the attempt's number.
async fn reserve_login_attempt(
    app: &App,
    c: &mut Conn,
    req: &api::LoginRequest,
    key: &str,
    now: Millis,
) -> AppResult<i64> {
    let prior = admin::attempts(c, key).await?;
    if let Some(p) = &prior {
        if p.frozen_until > now {
            return Err(frozen_error(p.frozen_until, now));
        }
        if p.failures > 0 {
            captcha::check(
                app,
                req.captcha_id.as_deref(),
                req.captcha_answer.as_deref(),
                req.captcha_pow.as_deref(),
            )
            .await
            .map_err(AppError::with_captcha_required)?;
        }
    }
    let Some(n) = admin::reserve_attempt(c, key, now).await? else {
        let until = admin::attempts(c, key)
            .await?
            .map(|p| p.frozen_until)
            .unwrap_or(0);
        return Err(frozen_error(until.max(now + FREEZE), now));
    };
    Ok(n)
}

/// The sign-in attempt that failed: the email key, the attempt's number, the client.
struct LoginFailure<'a> {
    key: &'a str,
    attempt: i64,
    client_ip: Option<&'a str>,
}

/// The answer to a wrong email or password: the failure audited (for a known admin), and
/// every third one freezes sign-in for the email.
async fn wrong_password(
    app: &App,
    c: &mut Conn,
    found: Option<&admin::AdminRow>,
    failed: LoginFailure<'_>,
) -> AppResult<AppError> {
    let now = app.now();
    let n = failed.attempt;
    // What fail2ban reads (packaging/fail2ban): one line per wrong password, with the source.
    tracing::warn!(
        ip = %failed.client_ip.unwrap_or("-"),
        "sign-in failed: wrong email or password"
    );
    if let Some(a) = found {
        crate::service::audit::audit_as(
            app,
            c,
            a.enterprise_id,
            &a.email,
            "signin.failed",
            "",
            "wrong password",
            failed.client_ip,
        )
        .await?;
    }
    if let Some(frozen) = freeze_on_third(c, failed.key, n, now).await? {
        return Ok(frozen);
    }
    let left = 3 - n % 3;
    Ok(AppError::unauthorized(
        ErrorCode::InvalidCredentials,
        format!(
            "Wrong email or password: {left} more wrong {} freeze sign-in for 5 minutes",
            if left == 1 {
                "attempt will"
            } else {
                "attempts will"
            }
        ),
    )
    .with_field("password")
    .with_captcha_required())
}

/// The `n`th wrong password of the email `key`: every third freezes its sign-in (for good
/// from the [`HARD_LOCK_AT`]th), and the answer then says until when.
async fn freeze_on_third(
    c: &mut Conn,
    key: &str,
    n: i64,
    now: Millis,
) -> AppResult<Option<AppError>> {
    if n % 3 != 0 {
        return Ok(None);
    }
    let until = if n >= HARD_LOCK_AT {
        LOCKED
    } else {
        now + freeze_length(n)
    };
    admin::freeze(c, key, until).await?;
    Ok(Some(frozen_error(until, now)))
}

/// Refuse sign-in to an enterprise not activated yet, and to a disabled admin (audited).
async fn may_sign_in(
    app: &App,
    c: &mut Conn,
    admin: &admin::AdminRow,
    e: &admin::EnterpriseRow,
    client_ip: Option<&str>,
) -> AppResult<()> {
    if e.status != "active" {
        return Err(AppError::forbidden(
            ErrorCode::NotActivated,
            "This enterprise is not activated yet: open the link in the activation email (valid 12 hours), or ask for a new one",
        ));
    }
    if admin.status == "disabled" {
        crate::service::audit::audit_as(
            app,
            c,
            e.id,
            &admin.email,
            "signin.refused",
            "",
            "disabled",
            client_ip,
        )
        .await?;
        return Err(AppError::forbidden(
            ErrorCode::Disabled,
            "This administrator is disabled: ask the enterprise owner to enable it again",
        ));
    }
    Ok(())
}

/// Open a session for an admin whose password (and code, with MFA) checked out. A new
/// sign-in ends the admin's older sessions.
pub async fn start_session(
    app: &App,
    admin: admin::AdminRow,
    e: &admin::EnterpriseRow,
    language: &str,
    client_ip: Option<&str>,
) -> AppResult<api::LoginResponse> {
    let token = crypto::new_token();
    let now = app.now();
    let mut tx = app.store.begin().await?;
    admin::end_admin_sessions(&mut tx, admin.id, None, "replaced", now).await?;
    admin::insert_session(
        &mut tx,
        &crypto::token_hash(&token),
        admin.id,
        now,
        client_ip,
    )
    .await?;
    if language != admin.language {
        admin::update_admin_profile(&mut tx, admin.id, &admin.name, language).await?;
    }
    crate::service::audit::audit_as(
        app,
        &mut tx,
        e.id,
        &admin.email,
        "signin.ok",
        "",
        "",
        client_ip,
    )
    .await?;
    tx.commit().await?;
    let mut a = admin;
    a.language = language.to_string();
    Ok(api::LoginResponse {
        token,
        idle_timeout_secs: IDLE_TIMEOUT / SECOND,
        profile: profile(&a, e)?,
    })
}

fn ended_message(reason: &str) -> &'static str {
    match reason {
        "replaced" => "You signed in again somewhere else, which ended this session: sign in again",
        "logout" => "This session was signed out: sign in again",
        "idle" => "The session ended after 30 minutes without activity: sign in again",
        "password_reset" | "password_changed" => {
            "The password was changed, which ended this session: sign in again"
        }
        "disabled" => "This administrator was disabled, which ended this session",
        "reinvited" => "A new invitation was sent to this administrator, which ended this session: set the password again from the invitation email",
        _ => "This session has ended: sign in again",
    }
}

/// The actor behind a bearer token; ends sessions idle for 30 minutes. A request counts as
/// activity.
pub async fn authenticate(app: &App, token: &str) -> AppResult<Actor> {
    session_actor(app, token, true).await
}

/// Whether a session still lives, without counting as activity (event streams).
pub async fn check_session(app: &App, token: &str) -> AppResult<Actor> {
    session_actor(app, token, false).await
}

async fn session_actor(app: &App, token: &str, activity: bool) -> AppResult<Actor> {
    if token.starts_with(crate::service::api_keys::KEY_PREFIX) {
        return crate::service::api_keys::key_actor(app, token).await;
    }
    let hash = crypto::token_hash(token);
    let mut c = app.store.conn().await?;
    let s = admin::session_by_hash(&mut c, &hash)
        .await?
        .ok_or_else(|| {
            AppError::unauthorized(
                ErrorCode::Unauthenticated,
                "Sign in first: the session token is missing or unknown",
            )
        })?;
    if let Some(reason) = &s.end_reason {
        return Err(AppError::unauthorized(
            ErrorCode::SessionEnded,
            ended_message(reason),
        ));
    }
    let now = app.now();
    if now - s.last_seen_at > IDLE_TIMEOUT {
        admin::end_session(&mut c, s.id, "idle", now).await?;
        return Err(AppError::unauthorized(
            ErrorCode::SessionEnded,
            ended_message("idle"),
        ));
    }
    if activity && now - s.last_seen_at > 15 * SECOND {
        admin::touch_session(&mut c, s.id, now).await?;
    }
    let a = admin::admin_by_id(&mut c, s.admin_id)
        .await?
        .ok_or_else(|| AppError::unauthorized(ErrorCode::Unauthenticated, "Sign in first"))?;
    let role: Role = a.role.parse()?;
    Ok(Actor {
        admin_id: a.id,
        enterprise_id: a.enterprise_id,
        session_id: s.id,
        role,
        manage_admins: a.manage_admins != 0,
        who: a.email,
        ip: String::new(),
        key_id: None,
    })
}

pub async fn logout(app: &App, actor: &Actor) -> AppResult<api::Message> {
    actor.require_person()?;
    let mut c = app.store.conn().await?;
    admin::end_session(&mut c, actor.session_id, "logout", app.now()).await?;
    Ok(api::Message {
        message: "Signed out".into(),
    })
}

const FORGOT_ANSWER: &str = "If your email address is correct, you will immediately receive an email with a link to reset your password (valid 10 minutes)";

/// Queue the reset and answer at once: known and unknown emails take the same path (the
/// worker in [`mail_requests`] resolves the email afterwards and calls [`send_reset`]).
pub async fn forgot_password(app: &App, req: &api::EmailRequest) -> AppResult<api::Message> {
    queue_email_request(app, req, mail_requests::PASSWORD_RESET, FORGOT_ANSWER).await
}

/// A new reset link for `a`, to the sign-in email and the backup email (recovery only), each
/// if its mailbox had fewer than 3 such emails this hour. When neither may receive one, the
/// link sent before stays valid.
pub(crate) async fn send_reset(app: &App, c: &mut Conn, a: &admin::AdminRow) -> AppResult<()> {
    let now = app.now();
    let mut recipients = vec![];
    let backup = a.backup_email.clone().filter(|b| !b.trim().is_empty());
    for to in std::iter::once(a.email.clone()).chain(backup) {
        if mail_requests::take_slot(app, c, &to).await? {
            recipients.push(to);
        }
    }
    if recipients.is_empty() {
        return Ok(());
    }
    let token = issue_link(c, "reset", a.id, RESET_VALID, now).await?;
    let link = link(app, "reset-password", &token);
    for to in &recipients {
        let vars: &[(&str, &str)] = &[
            ("name", &a.name),
            ("email", &a.email),
            ("token", &token),
            ("link", &link),
            ("valid_minutes", "10"),
        ];
        app.mailer
            .enqueue(
                c,
                &Outgoing {
                    recipient: to,
                    ..Outgoing::to_admin(a, "password_reset", vars)
                },
            )
            .await?;
    }
    Ok(())
}

/// The hash of a new password typed twice (see [`Password::confirmed`]).
pub(crate) async fn new_password_hash(field: &str, raw: &str, confirm: &str) -> AppResult<String> {
    let p = Password::confirmed(field, raw, confirm)?;
    crypto::hash_password(p.as_str().to_string()).await
}

pub async fn reset_password(app: &App, req: &api::ResetPasswordRequest) -> AppResult<api::Message> {
    let hash = new_password_hash("new_password", &req.new_password, &req.confirm_password).await?;
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let invalid = "This reset token is not valid: check that it was pasted whole";
    let t = find_link(&mut tx, "reset", &req.token, invalid).await?;
    spend_link(
        &mut tx,
        &t,
        now,
        &LinkWords {
            used: "This reset token was already used or replaced: ask for a new one",
            expired: "This reset link has expired (valid 10 minutes): ask for a new one",
            raced: "This reset token was already used",
        },
    )
    .await?;
    let a = admin_of(&mut tx, t.admin_id).await?;
    admin::set_admin_password(&mut tx, a.id, &hash, now).await?;
    admin::end_admin_sessions(&mut tx, a.id, None, "password_reset", now).await?;
    admin::clear_attempts(&mut tx, &a.email_key).await?;
    tx.commit().await?;
    Ok(api::Message {
        message: "The password is changed: sign in with the new password".into(),
    })
}

/// Check the old password of a password change against the sign-in counters: a wrong one
/// counts toward the same freeze as a wrong sign-in (3 → 5 minutes) and is audited.
async fn check_old_password(
    app: &App,
    actor: &Actor,
    a: &admin::AdminRow,
    old: &str,
) -> AppResult<()> {
    let now = app.now();
    let mut c = app.store.conn().await?;
    if let Some(p) = admin::attempts(&mut c, &a.email_key).await? {
        if p.frozen_until > now {
            return Err(frozen_error(p.frozen_until, now).with_field("old_password"));
        }
    }
    let Some(n) = admin::reserve_attempt(&mut c, &a.email_key, now).await? else {
        let until = admin::attempts(&mut c, &a.email_key)
            .await?
            .map(|p| p.frozen_until)
            .unwrap_or(0);
        return Err(frozen_error(until.max(now + FREEZE), now).with_field("old_password"));
    };
    drop(c);
    let ok = crypto::verify_password(old.to_string(), a.password_hash.clone()).await;
    let mut c = app.store.conn().await?;
    if ok {
        admin::clear_attempts(&mut c, &a.email_key).await?;
        return Ok(());
    }
    let now = app.now();
    crate::service::audit::record(
        app,
        &mut c,
        actor,
        "password.change_failed",
        &a.email,
        "wrong old password",
    )
    .await?;
    if let Some(frozen) = freeze_on_third(&mut c, &a.email_key, n, now).await? {
        return Err(frozen.with_field("old_password"));
    }
    let left = 3 - n % 3;
    Err(AppError::invalid(
        "old_password",
        format!(
            "old_password is not the current password: {left} more wrong {} freeze sign-in for 5 minutes",
            if left == 1 { "attempt will" } else { "attempts will" }
        ),
    ))
}

pub async fn change_password(
    app: &App,
    actor: &Actor,
    req: &api::ChangePasswordRequest,
) -> AppResult<api::Message> {
    actor.require_person()?;
    let mut c = app.store.conn().await?;
    let a = admin_of(&mut c, actor.admin_id).await?;
    drop(c);
    check_old_password(app, actor, &a, &req.old_password).await?;
    let hash = new_password_hash("new_password", &req.new_password, &req.confirm_password).await?;
    let now = app.now();
    let mut tx = app.store.begin().await?;
    admin::set_admin_password(&mut tx, a.id, &hash, now).await?;
    admin::end_admin_sessions(
        &mut tx,
        a.id,
        Some(actor.session_id),
        "password_changed",
        now,
    )
    .await?;
    crate::service::audit::record(app, &mut tx, actor, "password.change", &a.email, "").await?;
    tx.commit().await?;
    // Streams of the sessions that ended look at once.
    crate::service::events::wake(app);
    Ok(api::Message {
        message: "The password is changed".into(),
    })
}

pub async fn get_profile(app: &App, actor: &Actor) -> AppResult<api::Profile> {
    if let Some(key_id) = actor.key_id {
        return crate::service::api_keys::key_profile(app, actor, key_id).await;
    }
    let mut c = app.store.conn().await?;
    let (a, e) = admin_with_enterprise(&mut c, actor.admin_id).await?;
    profile(&a, &e)
}

pub async fn update_profile(
    app: &App,
    actor: &Actor,
    req: &api::ProfileUpdate,
) -> AppResult<api::Profile> {
    actor.require_person()?;
    let name = validate::optional("name", req.name.as_deref(), validate::name)?;
    let company = validate::optional("company", req.company.as_deref(), validate::company)?;
    let country = validate::optional("country", req.country.as_deref(), validate::country)?;
    let language = validate::optional("language", req.language.as_deref(), validate::language)?;
    if (company.is_some() || country.is_some()) && actor.role != Role::Owner {
        return Err(AppError::forbidden(
            ErrorCode::Forbidden,
            "Only the enterprise owner may change the company or country",
        ));
    }
    let mut tx = app.store.begin().await?;
    let (a, e) = admin_with_enterprise(&mut tx, actor.admin_id).await?;
    admin::update_admin_profile(
        &mut tx,
        a.id,
        name.as_deref().unwrap_or(&a.name),
        language.as_deref().unwrap_or(&a.language),
    )
    .await?;
    admin::update_enterprise_profile(
        &mut tx,
        e.id,
        company.as_deref().unwrap_or(&e.company),
        country.as_deref().unwrap_or(&e.country),
    )
    .await?;
    tx.commit().await?;
    get_profile(app, actor).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freezes_escalate_and_stay_under_a_day() {
        assert_eq!(freeze_length(3), 5 * MINUTE);
        assert_eq!(freeze_length(6), 10 * MINUTE);
        assert_eq!(freeze_length(9), 20 * MINUTE);
        assert_eq!(freeze_length(96), DAY);
    }
}
