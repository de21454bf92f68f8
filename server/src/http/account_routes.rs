//! Cloud accounts, account emails, the failed email list, and endpoint sign-in.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiJson, Auth, ClientIp};
use crate::api::*;
use crate::error::AppError;
use crate::service::{accounts, endpoint, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_accounts, add_account))
        .routes(routes!(get_account, update_account))
        .routes(routes!(get_account_by_extension))
        .routes(routes!(reset_password))
        .routes(routes!(reset_pincode))
        .routes(routes!(remove_accounts))
        .routes(routes!(send_emails))
        .routes(routes!(batch))
        .routes(routes!(failed_emails))
        .routes(routes!(resend_failed))
        .routes(routes!(delete_failed))
        .routes(routes!(endpoint_login))
}

/// Query extractor whose rejections are our JSON errors.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequestParts<S>
    for ApiQuery<T>
{
    type Rejection = AppError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let Query(q) = Query::<T>::from_request_parts(parts, state).await?;
        Ok(ApiQuery(q))
    }
}

pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> axum::extract::FromRequestParts<S>
    for ApiPath<T>
{
    type Rejection = AppError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let Path(p) = Path::<T>::from_request_parts(parts, state).await?;
        Ok(ApiPath(p))
    }
}

/// The account table: a page (10 rows by default, up to 100), "All records: N", used/quota;
/// sorted by extension unless asked otherwise; `search` matches any part of the name, cloud
/// number, extension or email.
#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts", params(AccountQuery), security(("session" = [])),
    responses((status = 200, body = AccountPage), (status = 422, body = ErrorBody)))]
async fn list_accounts(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<AccountQuery>,
) -> Result<Json<AccountPage>, AppError> {
    Ok(Json(accounts::list(&app, &actor, &q).await?))
}

/// Add an account (full name, 4-digit extension, optional email); `send_email` also queues
/// the account-information email. The cloud number is the enterprise number + extension;
/// the password and a 7-day single-use pincode are generated.
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = NewAccount, security(("session" = [])),
    responses((status = 201, body = AccountDetails), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_account(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<NewAccount>,
) -> Result<(StatusCode, Json<AccountDetails>), AppError> {
    Ok((
        StatusCode::CREATED,
        Json(accounts::add(&app, &actor, &req).await?),
    ))
}

/// Details: name, cloud number, password, pincode and expiry, email, status, bindings.
#[utoipa::path(get, path = "/api/v1/accounts/{id}", tag = "accounts", params(("id" = i64, Path)), security(("session" = [])),
    responses((status = 200, body = AccountDetails), (status = 404, body = ErrorBody)))]
async fn get_account(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<AccountDetails>, AppError> {
    Ok(Json(accounts::get(&app, &actor, id).await?))
}

/// Details of the account with this extension.
#[utoipa::path(get, path = "/api/v1/accounts/by-extension/{extension}", tag = "accounts", params(("extension" = String, Path)), security(("session" = [])),
    responses((status = 200, body = AccountDetails), (status = 404, body = ErrorBody)))]
async fn get_account_by_extension(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiPath(ext): ApiPath<String>,
) -> Result<Json<AccountDetails>, AppError> {
    Ok(Json(accounts::get_by_extension(&app, &actor, &ext).await?))
}

/// Edit name, extension (the cloud number follows at once) and email ("" removes it).
#[utoipa::path(patch, path = "/api/v1/accounts/{id}", tag = "accounts", params(("id" = i64, Path)), request_body = AccountUpdate, security(("session" = [])),
    responses((status = 200, body = AccountDetails), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_account(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<AccountUpdate>,
) -> Result<Json<AccountDetails>, AppError> {
    Ok(Json(accounts::update(&app, &actor, id, &req).await?))
}

/// Generate a new password; the account's endpoints are signed out.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/reset-password", tag = "accounts", params(("id" = i64, Path)), security(("session" = [])),
    responses((status = 200, body = AccountDetails), (status = 404, body = ErrorBody)))]
async fn reset_password(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<AccountDetails>, AppError> {
    Ok(Json(accounts::reset_password(&app, &actor, id).await?))
}

/// Generate a new pincode (valid 7 days, single use); the old one stops working at once.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/reset-pincode", tag = "accounts", params(("id" = i64, Path)), security(("session" = [])),
    responses((status = 200, body = AccountDetails), (status = 404, body = ErrorBody)))]
async fn reset_pincode(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<AccountDetails>, AppError> {
    Ok(Json(accounts::reset_pincode(&app, &actor, id).await?))
}

/// Remove accounts, all or nothing; their cloud numbers stop working at once.
#[utoipa::path(post, path = "/api/v1/accounts/remove", tag = "accounts", request_body = IdList, security(("session" = [])),
    responses((status = 200, body = RemoveResult), (status = 404, body = ErrorBody)))]
async fn remove_accounts(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<IdList>,
) -> Result<Json<RemoveResult>, AppError> {
    Ok(Json(accounts::remove(&app, &actor, &req.ids).await?))
}

/// Queue the account-information email to accounts (`ids`, or `all` matching `search`);
/// accounts without an email are listed in the answer.
#[utoipa::path(post, path = "/api/v1/accounts/send-email", tag = "accounts", request_body = SendEmailRequest, security(("session" = [])),
    responses((status = 200, body = SendEmailResult), (status = 404, body = ErrorBody)))]
async fn send_emails(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<SendEmailRequest>,
) -> Result<Json<SendEmailResult>, AppError> {
    Ok(Json(accounts::send_emails(&app, &actor, &req).await?))
}

/// Bulk add and batch edit: every row checked; an existing extension updates its name and
/// email; applied in one transaction only when no row is in error. `dry_run` is the
/// preview. An `Idempotency-Key` header makes a retried apply return the first answer
/// (`replayed: true`) instead of importing twice; the same key with other rows gets 409.
#[utoipa::path(post, path = "/api/v1/accounts/batch", tag = "accounts", request_body = BatchRequest, security(("session" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "1 to 200 visible ASCII characters; kept 24 hours")),
    responses((status = 200, body = BatchResult), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn batch(
    State(app): State<AppState>,
    Auth(actor): Auth,
    headers: axum::http::HeaderMap,
    ApiJson(req): ApiJson<BatchRequest>,
) -> Result<Json<BatchResult>, AppError> {
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(v.to_str().map_err(|_| {
            AppError::invalid(
                "Idempotency-Key",
                "Idempotency-Key must be 1 to 200 visible ASCII characters",
            )
        })?),
    };
    Ok(Json(accounts::batch(&app, &actor, &req, key).await?))
}

/// The failed email list: recipient, account, reason, time, attempts.
#[utoipa::path(get, path = "/api/v1/emails/failed", tag = "emails", security(("session" = [])),
    responses((status = 200, body = FailedEmailList)))]
async fn failed_emails(
    State(app): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<FailedEmailList>, AppError> {
    Ok(Json(accounts::failed_emails(&app, &actor).await?))
}

/// Send failed emails again (account emails are rewritten with the account's current data).
#[utoipa::path(post, path = "/api/v1/emails/failed/resend", tag = "emails", request_body = IdList, security(("session" = [])),
    responses((status = 200, body = CountResult), (status = 404, body = ErrorBody)))]
async fn resend_failed(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<IdList>,
) -> Result<Json<CountResult>, AppError> {
    Ok(Json(accounts::resend_failed(&app, &actor, &req.ids).await?))
}

/// Delete failed emails from the list.
#[utoipa::path(post, path = "/api/v1/emails/failed/delete", tag = "emails", request_body = IdList, security(("session" = [])),
    responses((status = 200, body = CountResult), (status = 404, body = ErrorBody)))]
async fn delete_failed(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<IdList>,
) -> Result<Json<CountResult>, AppError> {
    Ok(Json(accounts::delete_failed(&app, &actor, &req.ids).await?))
}

/// Endpoint sign-in by pincode (once, within 7 days) or cloud number + password. Failed
/// tries are throttled per source address and across the service (429).
#[utoipa::path(post, path = "/endpoint/v1/login", tag = "endpoint", request_body = EndpointLoginRequest,
    responses((status = 200, body = EndpointLoginResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn endpoint_login(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<EndpointLoginRequest>,
) -> Result<Json<EndpointLoginResponse>, AppError> {
    Ok(Json(endpoint::login(&app, &req, ip.as_deref()).await?))
}
