//! Colleagues and roles, invitations, MFA by email, security settings, API keys and the
//! audit log (DOMAIN.md "Colleagues and permissions", issue 7).

use axum::http::StatusCode;

use crate::api::{self, ErrorCode};
use crate::clock::{self, Millis, HOUR, MINUTE, SECOND};
use crate::crypto;
use crate::error::{AppError, AppResult};
use crate::mail::Outgoing;
use crate::service::{Actor, App, Perm, Role};
use crate::store::{admin, team, throttle, Conn};
use crate::validate::{self, Email, Password};

pub const INVITATION_VALID: Millis = 48 * HOUR;
pub const MFA_VALID: Millis = 5 * MINUTE;
pub const MFA_TRIES: i64 = 5;
pub const MFA_RESEND_AFTER: Millis = 30 * SECOND;
pub const KEY_PREFIX: &str = "vcms_";

// ---- audit ----

/// Record an action in the audit log (inside the caller's transaction).
#[allow(clippy::too_many_arguments)]
pub async fn audit_as(
    app: &App,
    c: &mut Conn,
    enterprise_id: i64,
    who: &str,
    action: &str,
    target: &str,
    detail: &str,
    ip: Option<&str>,
) -> AppResult<()> {
    team::audit(
        c,
        Some(enterprise_id),
        who,
        action,
        target,
        detail,
        ip.unwrap_or(""),
        app.now(),
    )
    .await?;
    Ok(())
}

/// Record what an actor did.
pub async fn record(
    app: &App,
    c: &mut Conn,
    actor: &Actor,
    action: &str,
    target: &str,
    detail: &str,
) -> AppResult<()> {
    audit_as(
        app,
        c,
        actor.enterprise_id,
        &actor.who,
        action,
        target,
        detail,
        Some(&actor.ip),
    )
    .await
}

pub async fn audit_list(
    app: &App,
    actor: &Actor,
    q: &api::AuditQuery,
) -> AppResult<api::AuditPage> {
    actor.require(Perm::ViewAudit)?;
    let page_size = q.page_size.unwrap_or(50);
    if !(1..=500).contains(&page_size) {
        return Err(AppError::invalid("page_size", "page_size must be 1 to 500"));
    }
    let page = q.page.unwrap_or(1).max(1);
    // The offset must not overflow (it would reach the database negative).
    let offset = (page - 1).checked_mul(page_size).ok_or_else(|| {
        AppError::invalid(
            "page",
            format!(
                "page must be at most {} with page_size {page_size}",
                i64::MAX / page_size
            ),
        )
    })?;
    if q.search.as_deref().is_some_and(|s| s.chars().count() > 128) {
        return Err(AppError::invalid(
            "search",
            "search must be at most 128 characters",
        ));
    }
    let mut c = app.store.conn().await?;
    let (total, rows) = team::audit_page(
        &mut c,
        actor.enterprise_id,
        q.search.as_deref(),
        page_size,
        offset,
    )
    .await?;
    Ok(api::AuditPage {
        items: rows
            .into_iter()
            .map(|r| api::AuditEntry {
                at: clock::rfc3339(r.created_at),
                who: r.actor,
                action: r.action,
                target: r.target,
                detail: r.detail,
                from: r.client_ip,
            })
            .collect(),
        total,
        page,
        page_size,
    })
}

// ---- MFA ----

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
    app.mailer
        .enqueue(
            c,
            &Outgoing {
                enterprise_id: Some(a.enterprise_id),
                account_id: None,
                account_label: None,
                kind: "mfa_code",
                recipient: &a.email,
                lang,
                vars: &[("name", &a.name), ("code", code), ("valid_minutes", "5")],
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
    app.mailer
        .enqueue(
            c,
            &Outgoing {
                enterprise_id: Some(a.enterprise_id),
                account_id: None,
                account_label: None,
                kind: "mfa_failing",
                recipient: &a.email,
                lang: &a.language,
                vars: &[
                    ("name", &a.name),
                    ("failures", &failures),
                    ("from", ip.unwrap_or("an unknown address")),
                    ("frozen", &frozen),
                ],
            },
        )
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
    let ch = challenge(&mut c, &req.mfa_token).await?;
    if ch.used_at.is_some() {
        return Err(AppError::unauthorized(
            ErrorCode::MfaUsed,
            "This code was already used: sign in again",
        )
        .with_field("code"));
    }
    if ch.tries >= MFA_TRIES {
        return Err(AppError::unauthorized(
            ErrorCode::MfaLocked,
            "Too many wrong codes: sign in again for a new code",
        )
        .with_field("code"));
    }
    if ch.expires_at < now {
        return Err(AppError::unauthorized(
            ErrorCode::MfaExpired,
            "The code has expired (valid 5 minutes): send a new one or sign in again",
        )
        .with_field("code"));
    }
    let a = admin::admin_by_id(&mut c, ch.admin_id)
        .await?
        .ok_or_else(|| AppError::unauthorized(ErrorCode::MfaInvalid, "Sign in again"))?;
    // Counted per admin before the code is checked, across every sign-in attempt.
    if let Some(until) = mfa_freeze_of(&mut c, &a, now).await? {
        return Err(mfa_frozen(until, now));
    }
    let Some(n) = throttle::mfa_reserve(&mut c, a.id, MFA_ROUND, now).await? else {
        let until = throttle::mfa_attempts(&mut c, a.id)
            .await?
            .map_or(0, |t| t.frozen_until);
        return Err(mfa_frozen(until.max(now + SECOND), now));
    };
    let tries = team::mfa_try(&mut c, ch.id).await?;
    if !crypto::ct_eq(&code_hash(app, &req.code), &ch.code_hash) {
        audit_as(
            app,
            &mut c,
            a.enterprise_id,
            &a.email,
            "signin.failed",
            "",
            "wrong MFA code",
            ip,
        )
        .await?;
        if n % MFA_ROUND == 0 {
            let until = freeze_mfa(app, &mut c, &a, n, ip, now).await?;
            return Err(mfa_frozen(until, now));
        }
        let left = MFA_TRIES - tries;
        return Err(if left <= 0 {
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
        .with_field("code"));
    }
    throttle::mfa_clear(&mut c, a.id, MFA_ROUND).await?;
    if !team::mfa_use(&mut c, ch.id, now).await? {
        return Err(AppError::unauthorized(
            ErrorCode::MfaUsed,
            "This code was already used: sign in again",
        )
        .with_field("code"));
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

// ---- colleagues ----

fn to_colleague(a: &admin::AdminRow) -> AppResult<api::Colleague> {
    let role: Role = a.role.parse()?;
    Ok(api::Colleague {
        id: a.id,
        first_name: a.first_name.clone(),
        last_name: a.last_name.clone(),
        name: a.name.clone(),
        email: a.email.clone(),
        role,
        manage_admins: a.manage_admins != 0 || role == Role::Owner,
        status: a.status.parse()?,
        mfa_enabled: a.mfa_enabled != 0,
        created_at: clock::rfc3339(a.created_at),
    })
}

fn colleague_role(role: Role) -> AppResult<Role> {
    match role {
        Role::Admin | Role::Helpdesk => Ok(role),
        Role::Owner => Err(AppError::invalid("role", "role must be admin or helpdesk")),
    }
}

async fn target(c: &mut Conn, actor: &Actor, id: i64) -> AppResult<admin::AdminRow> {
    let a = team::colleague(c, actor.enterprise_id, id)
        .await?
        .ok_or_else(|| AppError::not_found("No such colleague in your enterprise"))?;
    if a.role == "owner" {
        return Err(AppError::forbidden(
            ErrorCode::Forbidden,
            "The enterprise owner cannot be changed here",
        ));
    }
    if a.id == actor.admin_id {
        return Err(AppError::forbidden(
            ErrorCode::Forbidden,
            "You cannot change your own role or status",
        ));
    }
    Ok(a)
}

pub async fn list_colleagues(app: &App, actor: &Actor) -> AppResult<api::ColleagueList> {
    actor.require(Perm::ManageColleagues)?;
    let mut c = app.store.conn().await?;
    Ok(api::ColleagueList {
        items: team::colleagues(&mut c, actor.enterprise_id)
            .await?
            .iter()
            .map(to_colleague)
            .collect::<AppResult<_>>()?,
    })
}

async fn send_invitation(
    app: &App,
    c: &mut Conn,
    actor: &Actor,
    a: &admin::AdminRow,
) -> AppResult<()> {
    let now = app.now();
    admin::revoke_tokens(c, a.id, "invite", now).await?;
    let token = crypto::new_token();
    admin::insert_token(
        c,
        "invite",
        &crypto::token_hash(&token),
        a.id,
        now + INVITATION_VALID,
        now,
    )
    .await?;
    let e = admin::enterprise_by_id(c, a.enterprise_id)
        .await?
        .ok_or_else(|| AppError::internal("no enterprise"))?;
    let link = format!(
        "{}/invitation?token={token}",
        app.base_url().trim_end_matches('/')
    );
    let role = a.role.clone();
    app.mailer
        .enqueue(
            c,
            &Outgoing {
                enterprise_id: Some(a.enterprise_id),
                account_id: None,
                account_label: None,
                kind: "invitation",
                recipient: &a.email,
                lang: &a.language,
                vars: &[
                    ("name", &a.name),
                    ("inviter", &actor.who),
                    ("company", &e.company),
                    ("enterprise_number", &e.number),
                    ("role", &role),
                    ("token", &token),
                    ("link", &link),
                    ("valid_hours", "48"),
                ],
            },
        )
        .await?;
    Ok(())
}

/// The answer when an email is already an administrator's: said plainly within the own
/// enterprise; in words that do not confirm that another enterprise has it otherwise.
fn email_taken(own_enterprise: bool) -> AppError {
    if own_enterprise {
        AppError::conflict(
            "email",
            "This email is already an administrator in your enterprise",
        )
    } else {
        AppError::conflict(
            "email",
            "This email address cannot be used for an administrator here: use a different address",
        )
    }
}

pub async fn invite(
    app: &App,
    actor: &Actor,
    req: &api::InviteRequest,
) -> AppResult<api::Colleague> {
    actor.require(Perm::ManageColleagues)?;
    let first = validate::name("first_name", &req.first_name)?;
    let last = validate::text("last_name", &req.last_name, 64)?;
    let email = Email::parse("email", &req.email)?;
    let role = colleague_role(req.role)?;
    if req.manage_admins && role != Role::Admin {
        return Err(AppError::invalid(
            "manage_admins",
            "manage_admins is a flag of the admin role only",
        ));
    }
    let unusable = crypto::hash_password(crypto::new_token()).await?;
    let now = app.now();
    let mut tx = app.store.begin().await?;
    if let Some(other) = admin::admin_by_email_key(&mut tx, &email.key()).await? {
        return Err(email_taken(other.enterprise_id == actor.enterprise_id));
    }
    let id = team::insert_colleague(
        &mut tx,
        actor.enterprise_id,
        email.as_str(),
        &email.key(),
        &first,
        &last,
        role.as_str(),
        req.manage_admins,
        &unusable,
        "en",
        now,
    )
    .await?;
    let a = team::colleague(&mut tx, actor.enterprise_id, id)
        .await?
        .ok_or_else(|| AppError::internal("colleague vanished"))?;
    send_invitation(app, &mut tx, actor, &a).await?;
    record(
        app,
        &mut tx,
        actor,
        "colleague.invite",
        email.as_str(),
        role.as_str(),
    )
    .await?;
    tx.commit().await?;
    app.mailer.wake();
    to_colleague(&a)
}

/// A new invitation (the old link stops working). To a colleague who already set up, the
/// password is scrambled and their sessions end: they set it again from the new link.
pub async fn resend(app: &App, actor: &Actor, id: i64) -> AppResult<api::Colleague> {
    actor.require(Perm::ManageColleagues)?;
    let unusable = crypto::hash_password(crypto::new_token()).await?;
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let a = target(&mut tx, actor, id).await?;
    if a.status == "active" {
        admin::set_admin_password(&mut tx, a.id, &unusable, now).await?;
        admin::end_admin_sessions(&mut tx, a.id, None, "reinvited", now).await?;
        team::set_status(&mut tx, a.id, "invited").await?;
    }
    send_invitation(app, &mut tx, actor, &a).await?;
    record(app, &mut tx, actor, "colleague.resend", &a.email, "").await?;
    let a = team::colleague(&mut tx, actor.enterprise_id, id)
        .await?
        .ok_or_else(|| AppError::internal("colleague vanished"))?;
    tx.commit().await?;
    app.mailer.wake();
    // Their open event streams look at their session at once and end.
    crate::service::events::wake(app);
    to_colleague(&a)
}

pub async fn accept(app: &App, req: &api::AcceptInvitation) -> AppResult<api::Message> {
    let p = Password::parse("password", &req.password)?;
    if req.password != req.confirm_password {
        return Err(AppError::invalid(
            "confirm_password",
            "confirm_password must be the same as password",
        ));
    }
    let hash = crypto::hash_password(p.as_str().to_string()).await?;
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let t = admin::token_by_hash(&mut tx, "invite", &crypto::token_hash(&req.token))
        .await?
        .ok_or_else(|| {
            AppError::bad_request(
                ErrorCode::TokenInvalid,
                "This invitation token is not valid: check that it was pasted whole",
            )
            .with_field("token")
        })?;
    if t.used_at.is_some() {
        return Err(AppError::bad_request(
            ErrorCode::TokenUsed,
            "This invitation was already used or replaced by a newer one",
        )
        .with_field("token"));
    }
    if t.expires_at < now {
        return Err(AppError::bad_request(
            ErrorCode::TokenExpired,
            "This invitation has expired (valid 48 hours): ask for a new one",
        )
        .with_field("token"));
    }
    if !admin::use_token(&mut tx, t.id, now).await? {
        return Err(AppError::bad_request(
            ErrorCode::TokenUsed,
            "This invitation was already used",
        )
        .with_field("token"));
    }
    let a = admin::admin_by_id(&mut tx, t.admin_id)
        .await?
        .ok_or_else(|| AppError::not_found("No such administrator"))?;
    admin::set_admin_password(&mut tx, a.id, &hash, now).await?;
    if a.status == "invited" {
        team::set_status(&mut tx, a.id, "active").await?;
    }
    audit_as(
        app,
        &mut tx,
        a.enterprise_id,
        &a.email,
        "colleague.accept",
        &a.email,
        "",
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(api::Message {
        message: format!("Welcome: sign in as {}", a.email),
    })
}

pub async fn set_role(
    app: &App,
    actor: &Actor,
    id: i64,
    req: &api::RoleUpdate,
) -> AppResult<api::Colleague> {
    actor.require(Perm::ManageColleagues)?;
    let role = colleague_role(req.role)?;
    if req.manage_admins && role != Role::Admin {
        return Err(AppError::invalid(
            "manage_admins",
            "manage_admins is a flag of the admin role only",
        ));
    }
    let mut tx = app.store.begin().await?;
    let a = target(&mut tx, actor, id).await?;
    team::set_role(&mut tx, a.id, role.as_str(), req.manage_admins).await?;
    record(
        app,
        &mut tx,
        actor,
        "colleague.role",
        &a.email,
        &format!("{} -> {}", a.role, role.as_str()),
    )
    .await?;
    let a = team::colleague(&mut tx, actor.enterprise_id, id)
        .await?
        .ok_or_else(|| AppError::internal("colleague vanished"))?;
    tx.commit().await?;
    to_colleague(&a)
}

pub async fn set_enabled(
    app: &App,
    actor: &Actor,
    id: i64,
    enabled: bool,
) -> AppResult<api::Colleague> {
    actor.require(Perm::ManageColleagues)?;
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let a = target(&mut tx, actor, id).await?;
    if enabled {
        if a.status == "disabled" {
            team::set_status(&mut tx, a.id, "active").await?;
        }
    } else {
        team::set_status(&mut tx, a.id, "disabled").await?;
        admin::end_admin_sessions(&mut tx, a.id, None, "disabled", now).await?;
    }
    record(
        app,
        &mut tx,
        actor,
        if enabled {
            "colleague.enable"
        } else {
            "colleague.disable"
        },
        &a.email,
        "",
    )
    .await?;
    let a = team::colleague(&mut tx, actor.enterprise_id, id)
        .await?
        .ok_or_else(|| AppError::internal("colleague vanished"))?;
    tx.commit().await?;
    if !enabled {
        // Their open event streams look at their session at once and end.
        crate::service::events::wake(app);
    }
    to_colleague(&a)
}

pub async fn remove(app: &App, actor: &Actor, id: i64) -> AppResult<api::Message> {
    actor.require(Perm::ManageColleagues)?;
    let mut tx = app.store.begin().await?;
    let a = target(&mut tx, actor, id).await?;
    team::delete_admin(&mut tx, a.id).await?;
    record(app, &mut tx, actor, "colleague.remove", &a.email, "").await?;
    tx.commit().await?;
    // Their open event streams look at their session at once and end.
    crate::service::events::wake(app);
    Ok(api::Message {
        message: format!("Removed {}", a.email),
    })
}

// ---- security settings ----

pub async fn security(app: &App, actor: &Actor) -> AppResult<api::Security> {
    actor.require_person()?;
    let mut c = app.store.conn().await?;
    let a = admin::admin_by_id(&mut c, actor.admin_id)
        .await?
        .ok_or_else(|| AppError::not_found("No such administrator"))?;
    let e = admin::enterprise_by_id(&mut c, a.enterprise_id)
        .await?
        .ok_or_else(|| AppError::not_found("No such enterprise"))?;
    Ok(api::Security {
        email: a.email,
        backup_email: a.backup_email,
        mfa_enabled: a.mfa_enabled != 0,
        mfa_required: e.mfa_required != 0,
    })
}

pub async fn update_security(
    app: &App,
    actor: &Actor,
    req: &api::SecurityUpdate,
) -> AppResult<api::Security> {
    actor.require_person()?;
    let email = req
        .email
        .as_deref()
        .map(|e| Email::parse("email", e))
        .transpose()?;
    let backup = match req.backup_email.as_deref().map(str::trim) {
        None => None,
        Some("") => Some(None),
        Some(b) => Some(Some(Email::parse("backup_email", b)?)),
    };
    let mut c = app.store.conn().await?;
    let a = admin::admin_by_id(&mut c, actor.admin_id)
        .await?
        .ok_or_else(|| AppError::not_found("No such administrator"))?;
    drop(c);
    if !crypto::verify_password(req.current_password.clone(), a.password_hash.clone()).await {
        return Err(AppError::invalid(
            "current_password",
            "current_password is not your password",
        ));
    }
    let mut tx = app.store.begin().await?;
    let (new_email, new_key) = match &email {
        Some(e) => {
            if e.key() != a.email_key {
                if let Some(other) = admin::admin_by_email_key(&mut tx, &e.key()).await? {
                    return Err(email_taken(other.enterprise_id == a.enterprise_id));
                }
            }
            (e.as_str().to_string(), e.key())
        }
        None => (a.email.clone(), a.email_key.clone()),
    };
    let new_backup = match backup {
        None => a.backup_email.clone(),
        Some(b) => b.map(|e| e.as_str().to_string()),
    };
    let mfa = req.mfa_enabled.unwrap_or(a.mfa_enabled != 0);
    team::update_security(
        &mut tx,
        a.id,
        &new_email,
        &new_key,
        new_backup.as_deref(),
        mfa,
    )
    .await?;
    let mut what = vec![];
    if new_email != a.email {
        what.push(format!("email {} -> {new_email}", a.email));
    }
    if new_backup != a.backup_email {
        what.push("backup email".to_string());
    }
    if mfa != (a.mfa_enabled != 0) {
        what.push(format!("mfa {}", if mfa { "on" } else { "off" }));
    }
    record(
        app,
        &mut tx,
        actor,
        "settings.security",
        &a.email,
        &what.join(", "),
    )
    .await?;
    tx.commit().await?;
    security(app, actor).await
}

pub async fn set_enterprise_settings(
    app: &App,
    actor: &Actor,
    req: &api::EnterpriseSettings,
) -> AppResult<api::Security> {
    actor.require(Perm::OwnerOnly)?;
    let mut tx = app.store.begin().await?;
    team::set_mfa_required(&mut tx, actor.enterprise_id, req.mfa_required).await?;
    record(
        app,
        &mut tx,
        actor,
        "settings.enterprise",
        "",
        &format!("mfa_required {}", req.mfa_required),
    )
    .await?;
    tx.commit().await?;
    if actor.key_id.is_some() {
        // An owner key has no login email or MFA of its own.
        return Ok(api::Security {
            email: String::new(),
            backup_email: None,
            mfa_enabled: false,
            mfa_required: req.mfa_required,
        });
    }
    security(app, actor).await
}

// ---- API keys ----

fn to_key(k: &team::ApiKeyRow) -> AppResult<api::ApiKey> {
    let role: Role = k.role.parse()?;
    Ok(api::ApiKey {
        id: k.id,
        name: k.name.clone(),
        role,
        manage_admins: k.manage_admins != 0 || role == Role::Owner,
        prefix: k.prefix.clone(),
        created_at: clock::rfc3339(k.created_at),
        last_used_at: k.last_used_at.map(clock::rfc3339),
        revoked: k.revoked_at.is_some(),
    })
}

pub async fn create_key(
    app: &App,
    actor: &Actor,
    req: &api::NewApiKey,
) -> AppResult<api::ApiKeyCreated> {
    actor.require(Perm::OwnerOnly)?;
    if actor.key_id.is_some() {
        return Err(AppError::forbidden(
            ErrorCode::Forbidden,
            "API keys cannot create API keys",
        ));
    }
    let name = validate::text("name", &req.name, 64)?;
    let role = req.role;
    if req.manage_admins && role != Role::Admin {
        return Err(AppError::invalid(
            "manage_admins",
            "manage_admins is a flag of the admin role only",
        ));
    }
    let key = format!("{KEY_PREFIX}{}", crypto::new_token());
    let prefix: String = key.chars().take(KEY_PREFIX.len() + 6).collect();
    let mut tx = app.store.begin().await?;
    let id = team::insert_key(
        &mut tx,
        actor.enterprise_id,
        &name,
        role.as_str(),
        &crypto::token_hash(&key),
        &prefix,
        actor.admin_id,
        req.manage_admins,
        app.now(),
    )
    .await?;
    let detail = if req.manage_admins {
        format!("{} + manage administrators", role.as_str())
    } else {
        role.as_str().to_string()
    };
    record(app, &mut tx, actor, "apikey.create", &name, &detail).await?;
    tx.commit().await?;
    Ok(api::ApiKeyCreated {
        id,
        name,
        role,
        manage_admins: req.manage_admins || role == Role::Owner,
        key,
        message: "Copy the key now: it is shown only once".into(),
    })
}

pub async fn list_keys(app: &App, actor: &Actor) -> AppResult<api::ApiKeyList> {
    actor.require(Perm::OwnerOnly)?;
    let mut c = app.store.conn().await?;
    Ok(api::ApiKeyList {
        items: team::keys_of(&mut c, actor.enterprise_id)
            .await?
            .iter()
            .map(to_key)
            .collect::<AppResult<_>>()?,
    })
}

pub async fn revoke_key(app: &App, actor: &Actor, id: i64) -> AppResult<api::Message> {
    actor.require(Perm::OwnerOnly)?;
    let mut tx = app.store.begin().await?;
    if !team::revoke_key(&mut tx, actor.enterprise_id, id, app.now()).await? {
        return Err(AppError::not_found(
            "No such live API key in your enterprise",
        ));
    }
    record(app, &mut tx, actor, "apikey.revoke", &id.to_string(), "").await?;
    tx.commit().await?;
    Ok(api::Message {
        message: "The key is revoked".into(),
    })
}

/// The actor behind an API key.
pub async fn key_actor(app: &App, key: &str) -> AppResult<Actor> {
    let mut c = app.store.conn().await?;
    let k = team::key_by_hash(&mut c, &crypto::token_hash(key))
        .await?
        .ok_or_else(|| {
            AppError::unauthorized(ErrorCode::Unauthenticated, "This API key is unknown")
        })?;
    if k.revoked_at.is_some() {
        return Err(AppError::unauthorized(
            ErrorCode::KeyRevoked,
            "This API key was revoked",
        ));
    }
    let now = app.now();
    if k.last_used_at.is_none_or(|t| now - t > MINUTE) {
        team::touch_key(&mut c, k.id, now).await?;
    }
    let role: Role = k.role.parse()?;
    // The key is the principal: never its creator, exactly its own role and flags.
    Ok(Actor {
        admin_id: 0,
        enterprise_id: k.enterprise_id,
        session_id: 0,
        role,
        manage_admins: role == Role::Admin && k.manage_admins != 0,
        who: format!("api key {}", k.name),
        ip: String::new(),
        key_id: Some(k.id),
    })
}

/// `GET /api/v1/me` with an API key: the key itself, not a person.
pub async fn key_profile(app: &App, actor: &Actor, key_id: i64) -> AppResult<api::Profile> {
    let mut c = app.store.conn().await?;
    let k = team::key_by_id(&mut c, actor.enterprise_id, key_id)
        .await?
        .ok_or_else(|| {
            AppError::unauthorized(ErrorCode::Unauthenticated, "This API key is unknown")
        })?;
    let e = admin::enterprise_by_id(&mut c, actor.enterprise_id)
        .await?
        .ok_or_else(|| AppError::not_found("No such enterprise"))?;
    let key = to_key(&k)?;
    Ok(api::Profile {
        username: String::new(),
        name: k.name.clone(),
        company: e.company,
        enterprise_number: e.number,
        country: e.country,
        email: String::new(),
        role: key.role,
        language: "en".into(),
        api_key: Some(api::KeyIdentity {
            id: key.id,
            name: key.name,
            role: key.role,
            manage_admins: key.manage_admins,
            prefix: key.prefix,
        }),
        permissions: actor.permissions(),
    })
}
