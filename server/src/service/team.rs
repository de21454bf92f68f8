//! Colleagues: listing the administrators of an enterprise, inviting them by email,
//! resending and accepting invitations, changing their role, disabling, enabling and
//! removing them, with the rules on who may manage whom (DOMAIN.md "Colleagues and
//! permissions", issue 7).

use crate::clock::{self, Millis, HOUR};
use crate::crypto;
use crate::error::{AppError, AppResult};
use crate::mail::Outgoing;
use crate::service::audit::{audit_as, record};
use crate::service::{auth, Actor, App, Perm, Role};
use crate::store::{admin, team, Conn};
use crate::validate::{self, Email};
use vcms_api::{self as api, ErrorCode};

pub const INVITATION_VALID: Millis = 48 * HOUR;

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
    let token = auth::issue_link(c, "invite", a.id, INVITATION_VALID, now).await?;
    let e = admin::enterprise_by_id(c, a.enterprise_id)
        .await?
        .ok_or_else(|| AppError::internal("no enterprise"))?;
    let link = format!(
        "{}/invitation?token={token}",
        app.base_url().trim_end_matches('/')
    );
    let role = a.role.clone();
    let vars: &[(&str, &str)] = &[
        ("name", &a.name),
        ("inviter", &actor.who),
        ("company", &e.company),
        ("enterprise_number", &e.number),
        ("role", &role),
        ("token", &token),
        ("link", &link),
        ("valid_hours", "48"),
    ];
    app.mailer
        .enqueue(c, &Outgoing::to_admin(a, "invitation", vars))
        .await?;
    Ok(())
}

/// The answer when an email is already an administrator's: said plainly within the own
/// enterprise; in words that do not confirm that another enterprise has it otherwise.
pub(crate) fn email_taken(own_enterprise: bool) -> AppError {
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
    // The colleague starts in the owner's language (the invitation is in it too); they
    // can change it in their profile.
    let language = match admin::owner_of(&mut tx, actor.enterprise_id).await? {
        Some(owner) => owner.language,
        None => "en".to_string(),
    };
    let name = format!("{first} {last}");
    let colleague = admin::NewAdmin {
        enterprise_id: actor.enterprise_id,
        email: email.as_str(),
        email_key: &email.key(),
        name: name.trim(),
        role: role.as_str(),
        password_hash: &unusable,
        language: &language,
    };
    let names = (first.as_str(), last.as_str());
    let id = team::insert_colleague(&mut tx, &colleague, names, req.manage_admins, now).await?;
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
    let hash = auth::new_password_hash("password", &req.password, &req.confirm_password).await?;
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let invalid = "This invitation token is not valid: check that it was pasted whole";
    let t = auth::find_link(&mut tx, "invite", &req.token, invalid).await?;
    auth::spend_link(
        &mut tx,
        &t,
        now,
        &auth::LinkWords {
            used: "This invitation was already used or replaced by a newer one",
            expired: "This invitation has expired (valid 48 hours): ask for a new one",
            raced: "This invitation was already used",
        },
    )
    .await?;
    let a = auth::admin_of(&mut tx, t.admin_id).await?;
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
