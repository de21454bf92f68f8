//! Colleagues, invitations, MFA sign-in, security settings, API keys, audit log.

use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::account_routes::{ApiPath, ApiQuery};
use super::{ApiJson, Auth, ClientIp};
use crate::error::AppError;
use crate::service::{api_keys, audit, mfa, security, ssh_keys, team, AppState};
use vcms_api::*;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_colleagues, invite))
        .routes(routes!(set_role, remove))
        // The old spelling of DELETE /api/v1/colleagues/{id}, kept for existing clients and
        // left out of the document (an HTTP tester cannot know a POST removes).
        .route(
            "/api/v1/colleagues/{id}/remove",
            axum::routing::post(remove),
        )
        .routes(routes!(resend))
        .routes(routes!(disable))
        .routes(routes!(enable))
        .routes(routes!(accept))
        .routes(routes!(verify_mfa))
        .routes(routes!(resend_mfa))
        .routes(routes!(get_security, update_security))
        .routes(routes!(list_ssh_keys, add_ssh_key))
        .routes(routes!(remove_ssh_key))
        .routes(routes!(enterprise_settings))
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
        .routes(routes!(audit))
}

/// Administrators of the enterprise (owner, or admin with "manage administrators").
#[utoipa::path(get, path = "/api/v1/colleagues", tag = "colleagues", security(("session" = [])), responses((status = 200, body = ColleagueList), (status = 403, body = ErrorBody)))]
async fn list_colleagues(
    State(app): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<ColleagueList>, AppError> {
    Ok(Json(team::list_colleagues(&app, &actor).await?))
}

/// Invite a colleague: an invitation email with a link valid 48 hours.
#[utoipa::path(post, path = "/api/v1/colleagues", tag = "colleagues", request_body = InviteRequest, security(("session" = [])),
    responses((status = 200, body = Colleague), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn invite(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<InviteRequest>,
) -> Result<Json<Colleague>, AppError> {
    Ok(Json(team::invite(&app, &actor, &req).await?))
}

/// Change a colleague's role and flags.
#[utoipa::path(patch, path = "/api/v1/colleagues/{id}", tag = "colleagues", params(("id" = i64, Path)), request_body = RoleUpdate, security(("session" = [])),
    responses((status = 200, body = Colleague), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn set_role(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<RoleUpdate>,
) -> Result<Json<Colleague>, AppError> {
    Ok(Json(team::set_role(&app, &actor, id, &req).await?))
}

/// Send the invitation again (new link; the old one stops working). For a colleague who
/// already set up, the password is scrambled and their sessions end.
#[utoipa::path(post, path = "/api/v1/colleagues/{id}/resend", tag = "colleagues", params(("id" = i64, Path)), security(("session" = [])),
    responses((status = 200, body = Colleague), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn resend(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Colleague>, AppError> {
    Ok(Json(team::resend(&app, &actor, id).await?))
}

/// Disable a colleague: their sessions end at once and sign-in is refused.
#[utoipa::path(post, path = "/api/v1/colleagues/{id}/disable", tag = "colleagues", params(("id" = i64, Path)), security(("session" = [])),
    responses((status = 200, body = Colleague), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn disable(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Colleague>, AppError> {
    Ok(Json(team::set_enabled(&app, &actor, id, false).await?))
}

/// Enable a disabled colleague again.
#[utoipa::path(post, path = "/api/v1/colleagues/{id}/enable", tag = "colleagues", params(("id" = i64, Path)), security(("session" = [])),
    responses((status = 200, body = Colleague), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn enable(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Colleague>, AppError> {
    Ok(Json(team::set_enabled(&app, &actor, id, true).await?))
}

/// Remove a colleague (`POST /api/v1/colleagues/{id}/remove` does the same, for existing
/// clients).
#[utoipa::path(delete, path = "/api/v1/colleagues/{id}", tag = "colleagues", params(("id" = i64, Path)), security(("session" = [])),
    responses((status = 200, body = Message), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn remove(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Message>, AppError> {
    Ok(Json(team::remove(&app, &actor, id).await?))
}

/// Accept an invitation: set a password with the token from the email (valid 48 hours).
#[utoipa::path(post, path = "/api/v1/invitations/accept", tag = "colleagues", request_body = AcceptInvitation,
    responses((status = 200, body = Message), (status = 404, body = ErrorBody)))]
async fn accept(
    State(app): State<AppState>,
    ApiJson(req): ApiJson<AcceptInvitation>,
) -> Result<Json<Message>, AppError> {
    Ok(Json(team::accept(&app, &req).await?))
}

/// Finish an MFA sign-in with the 6-digit code from the email (valid 5 minutes, 5 tries).
#[utoipa::path(post, path = "/api/v1/login/mfa", tag = "auth", request_body = MfaVerify,
    responses((status = 200, body = LoginResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 423, body = ErrorBody)))]
async fn verify_mfa(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<MfaVerify>,
) -> Result<Json<LoginResponse>, AppError> {
    let r = mfa::verify_mfa(&app, &req, ip.as_deref()).await;
    let outcome = r.as_ref().err().map(|e| e.body.code);
    app.metrics
        .sign_in(crate::metrics::SignIn::of(outcome, true));
    Ok(Json(r?))
}

/// Send a new MFA code (at most every 30 seconds).
#[utoipa::path(post, path = "/api/v1/login/mfa/resend", tag = "auth", request_body = MfaResend,
    responses((status = 200, body = Message), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn resend_mfa(
    State(app): State<AppState>,
    ApiJson(req): ApiJson<MfaResend>,
) -> Result<Json<Message>, AppError> {
    Ok(Json(mfa::resend_mfa(&app, &req).await?))
}

/// Login email, backup email, MFA.
#[utoipa::path(get, path = "/api/v1/me/security", tag = "auth", security(("session" = [])), responses((status = 200, body = Security), (status = 403, body = ErrorBody)))]
async fn get_security(
    State(app): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<Security>, AppError> {
    Ok(Json(security::security(&app, &actor).await?))
}

/// Change the login email, backup email or MFA (asks for the current password).
#[utoipa::path(patch, path = "/api/v1/me/security", tag = "auth", request_body = SecurityUpdate, security(("session" = [])),
    responses((status = 200, body = Security), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_security(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<SecurityUpdate>,
) -> Result<Json<Security>, AppError> {
    Ok(Json(security::update_security(&app, &actor, &req).await?))
}

/// Your SSH public keys: each opens the console over SSH as you (`ssh -p 2222 EMAIL@host`).
#[utoipa::path(get, path = "/api/v1/me/ssh-keys", tag = "auth", security(("session" = [])), responses((status = 200, body = SshKeyList), (status = 403, body = ErrorBody)))]
async fn list_ssh_keys(
    State(app): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<SshKeyList>, AppError> {
    Ok(Json(ssh_keys::list(&app, &actor).await?))
}

/// Add an SSH public key to your profile (at most 10; MFA is still asked when it is on).
#[utoipa::path(post, path = "/api/v1/me/ssh-keys", tag = "auth", request_body = NewSshKey, security(("session" = [])),
    responses((status = 200, body = SshKey), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn add_ssh_key(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<NewSshKey>,
) -> Result<Json<SshKey>, AppError> {
    Ok(Json(ssh_keys::add(&app, &actor, &req).await?))
}

/// Remove one of your SSH keys: it no longer opens the console.
#[utoipa::path(delete, path = "/api/v1/me/ssh-keys/{id}", tag = "auth", params(("id" = i64, Path)), security(("session" = [])),
    responses((status = 200, body = Message), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn remove_ssh_key(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Message>, AppError> {
    Ok(Json(ssh_keys::remove(&app, &actor, id).await?))
}

/// Enterprise settings (owner): require MFA of every administrator.
#[utoipa::path(patch, path = "/api/v1/enterprise/settings", tag = "enterprise", request_body = EnterpriseSettings, security(("session" = [])),
    responses((status = 200, body = Security), (status = 403, body = ErrorBody)))]
async fn enterprise_settings(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<EnterpriseSettings>,
) -> Result<Json<Security>, AppError> {
    Ok(Json(
        security::set_enterprise_settings(&app, &actor, &req).await?,
    ))
}

/// API keys of the enterprise (owner).
#[utoipa::path(get, path = "/api/v1/apikeys", tag = "apikeys", security(("session" = [])), responses((status = 200, body = ApiKeyList), (status = 403, body = ErrorBody)))]
async fn list_keys(
    State(app): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<ApiKeyList>, AppError> {
    Ok(Json(api_keys::list_keys(&app, &actor).await?))
}

/// Create an API key with a name and a role; the key is in this answer only.
#[utoipa::path(post, path = "/api/v1/apikeys", tag = "apikeys", request_body = NewApiKey, security(("session" = [])),
    responses((status = 200, body = ApiKeyCreated), (status = 403, body = ErrorBody)))]
async fn create_key(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<NewApiKey>,
) -> Result<Json<ApiKeyCreated>, AppError> {
    Ok(Json(api_keys::create_key(&app, &actor, &req).await?))
}

/// Revoke an API key.
#[utoipa::path(post, path = "/api/v1/apikeys/{id}/revoke", tag = "apikeys", params(("id" = i64, Path)), security(("session" = [])),
    responses((status = 200, body = Message), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke_key(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Message>, AppError> {
    Ok(Json(api_keys::revoke_key(&app, &actor, id).await?))
}

/// The audit log, newest first: sign-ins, changes, password reveals; who, what, when, from where.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery), security(("session" = [])),
    responses((status = 200, body = AuditPage), (status = 403, body = ErrorBody)))]
async fn audit(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, AppError> {
    Ok(Json(audit::audit_list(&app, &actor, &q).await?))
}
