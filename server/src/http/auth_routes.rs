//! Registration, activation, sign-in, passwords and the profile.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiJson, Auth, ClientIp};
use crate::error::AppError;
use crate::service::{auth, captcha, AppState};
use vcms_api::*;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(new_captcha))
        .routes(routes!(register))
        .routes(routes!(activate))
        .routes(routes!(resend_activation))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(forgot_password))
        .routes(routes!(reset_password))
        .routes(routes!(change_password))
        .routes(routes!(get_profile, update_profile))
}

/// Liveness and database reachability.
#[utoipa::path(get, path = "/healthz", tag = "system", responses((status = 200, body = Health), (status = 503, body = ErrorBody)))]
async fn healthz(State(app): State<AppState>) -> Result<Json<Health>, AppError> {
    let mut c = app.store.conn().await.map_err(|_| {
        AppError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::DatabaseDown,
            "The database does not answer",
        )
    })?;
    crate::store::ping(&mut c).await?;
    Ok(Json(Health {
        status: HealthStatus::Ok,
        database: match app.store.backend {
            crate::store::Backend::Sqlite => DatabaseBackend::Sqlite,
            crate::store::Backend::Postgres => DatabaseBackend::Postgres,
        },
        version: env!("CARGO_PKG_VERSION").into(),
    }))
}

/// A new captcha challenge (single use, valid 5 minutes).
#[utoipa::path(post, path = "/api/v1/captcha", tag = "auth", responses((status = 200, body = Captcha)))]
async fn new_captcha(State(app): State<AppState>) -> Result<Json<Captcha>, AppError> {
    Ok(Json(captcha::issue(&app).await?))
}

/// Register an enterprise; an activation email (valid 12 hours) goes to the email given.
#[utoipa::path(post, path = "/api/v1/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = RegisterResponse), (status = 409, body = ErrorBody)))]
async fn register(
    State(app): State<AppState>,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<RegisterResponse>), AppError> {
    Ok((StatusCode::CREATED, Json(auth::register(&app, &req).await?)))
}

/// Activate an enterprise with the token from the activation email: starts the 30-day trial.
#[utoipa::path(post, path = "/api/v1/activate", tag = "auth", request_body = TokenRequest,
    responses((status = 200, body = Message), (status = 404, body = ErrorBody)))]
async fn activate(
    State(app): State<AppState>,
    ApiJson(req): ApiJson<TokenRequest>,
) -> Result<Json<Message>, AppError> {
    Ok(Json(auth::activate(&app, &req.token).await?))
}

/// Send the activation email again (the same answer whether or not the email is known).
#[utoipa::path(post, path = "/api/v1/activation/resend", tag = "auth", request_body = EmailRequest,
    responses((status = 202, body = Message)))]
async fn resend_activation(
    State(app): State<AppState>,
    ApiJson(req): ApiJson<EmailRequest>,
) -> Result<(StatusCode, Json<Message>), AppError> {
    Ok((
        StatusCode::ACCEPTED,
        Json(auth::resend_activation(&app, &req).await?),
    ))
}

/// Sign in. After a wrong password the next try needs a captcha; 3 wrong passwords freeze
/// sign-in for 5 minutes (423 with `retry_after_secs`).
#[utoipa::path(post, path = "/api/v1/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 423, body = ErrorBody)))]
async fn login(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, AppError> {
    let r = auth::login(&app, &req, ip.as_deref()).await;
    let outcome = r.as_ref().err().map(|e| e.body.code);
    app.metrics
        .sign_in(crate::metrics::SignIn::of(outcome, false));
    Ok(Json(r?))
}

/// End this session.
#[utoipa::path(post, path = "/api/v1/logout", tag = "auth", security(("session" = [])),
    responses((status = 200, body = Message), (status = 403, body = ErrorBody)))]
async fn logout(State(app): State<AppState>, Auth(actor): Auth) -> Result<Json<Message>, AppError> {
    Ok(Json(auth::logout(&app, &actor).await?))
}

/// Ask for a password reset email (the same answer whether or not the email is known).
#[utoipa::path(post, path = "/api/v1/password/forgot", tag = "auth", request_body = EmailRequest,
    responses((status = 202, body = Message)))]
async fn forgot_password(
    State(app): State<AppState>,
    ApiJson(req): ApiJson<EmailRequest>,
) -> Result<(StatusCode, Json<Message>), AppError> {
    Ok((
        StatusCode::ACCEPTED,
        Json(auth::forgot_password(&app, &req).await?),
    ))
}

/// Set a new password with the token from the reset email (valid 10 minutes, single use).
/// Ends every session of the administrator.
#[utoipa::path(post, path = "/api/v1/password/reset", tag = "auth", request_body = ResetPasswordRequest,
    responses((status = 200, body = Message), (status = 404, body = ErrorBody)))]
async fn reset_password(
    State(app): State<AppState>,
    ApiJson(req): ApiJson<ResetPasswordRequest>,
) -> Result<Json<Message>, AppError> {
    Ok(Json(auth::reset_password(&app, &req).await?))
}

/// Change the password (old, new, confirm). Other sessions end.
#[utoipa::path(post, path = "/api/v1/password/change", tag = "auth", request_body = ChangePasswordRequest, security(("session" = [])),
    responses((status = 200, body = Message), (status = 403, body = ErrorBody), (status = 423, body = ErrorBody)))]
async fn change_password(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<ChangePasswordRequest>,
) -> Result<Json<Message>, AppError> {
    Ok(Json(auth::change_password(&app, &actor, &req).await?))
}

/// Personal information.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("session" = [])), responses((status = 200, body = Profile)))]
async fn get_profile(
    State(app): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<Profile>, AppError> {
    Ok(Json(auth::get_profile(&app, &actor).await?))
}

/// Edit personal information: name, company, country, language (username and enterprise
/// number are read-only).
#[utoipa::path(patch, path = "/api/v1/me", tag = "auth", request_body = ProfileUpdate, security(("session" = [])),
    responses((status = 200, body = Profile), (status = 403, body = ErrorBody)))]
async fn update_profile(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<ProfileUpdate>,
) -> Result<Json<Profile>, AppError> {
    Ok(Json(auth::update_profile(&app, &actor, &req).await?))
}
