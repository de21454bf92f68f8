//! Security settings: an administrator's own login email, backup email and MFA switch
//! (confirmed with the current password), and the owner's enterprise-wide setting that
//! requires MFA of everyone (DOMAIN.md "Colleagues and permissions", issue 7).

use crate::crypto;
use crate::error::{AppError, AppResult};
use crate::service::audit::record;
use crate::service::{auth, Actor, App, Perm};
use crate::store::{admin, team};
use crate::validate::{self, Email};
use vcms_api as api;

pub async fn security(app: &App, actor: &Actor) -> AppResult<api::Security> {
    actor.require_person()?;
    let mut c = app.store.conn().await?;
    let (a, e) = auth::admin_with_enterprise(&mut c, actor.admin_id).await?;
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
    let email = validate::optional("email", req.email.as_deref(), Email::parse)?;
    let backup = match req.backup_email.as_deref().map(str::trim) {
        None => None,
        Some("") => Some(None),
        Some(b) => Some(Some(Email::parse("backup_email", b)?)),
    };
    let mut c = app.store.conn().await?;
    let a = auth::admin_of(&mut c, actor.admin_id).await?;
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
                    return Err(crate::service::team::email_taken(
                        other.enterprise_id == a.enterprise_id,
                    ));
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
