//! API keys: creating, listing and revoking an enterprise's keys, and turning a presented
//! key into an `Actor` (and its profile) when a request authenticates with one
//! (DOMAIN.md "Colleagues and permissions", issue 7).

use crate::clock::{self, MINUTE};
use crate::crypto;
use crate::error::{AppError, AppResult};
use crate::service::audit::record;
use crate::service::{Actor, App, Perm, Role};
use crate::store::{admin, team};
use crate::validate;
use vcms_api::{self as api, ErrorCode};

pub const KEY_PREFIX: &str = "vcms_";

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
