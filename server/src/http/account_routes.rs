//! Cloud accounts, account emails, the failed email list, and endpoint sign-in.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiJson, Auth, ClientIp};
use crate::error::AppError;
use crate::service::{accounts, endpoint, AppState};
use vcms_api::*;

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
        .routes(routes!(endpoint_logout))
        .routes(routes!(endpoint_directory))
        .routes(routes!(endpoint_directory_events))
        .routes(routes!(list_devices, provision_device))
        .routes(routes!(remove_device))
}

pub use super::extract::{ApiPath, ApiQuery};

/// The account table: a page (10 rows by default, up to 100), "All records: N", used/quota;
/// sorted by extension unless asked otherwise; `search` matches any part of the name, cloud
/// number, extension or email.
#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts", params(AccountQuery), security(("session" = [])),
    responses((status = 200, body = AccountPage)))]
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
    responses((status = 201, body = AccountDetails), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
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
    responses((status = 200, body = AccountDetails), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn get_account_by_extension(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiPath(ext): ApiPath<String>,
) -> Result<Json<AccountDetails>, AppError> {
    Ok(Json(accounts::get_by_extension(&app, &actor, &ext).await?))
}

/// Edit name, extension (the cloud number follows at once) and email ("" removes it).
#[utoipa::path(patch, path = "/api/v1/accounts/{id}", tag = "accounts", params(("id" = i64, Path)), request_body = AccountUpdate, security(("session" = [])),
    responses((status = 200, body = AccountDetails), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_account(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<AccountUpdate>,
) -> Result<Json<AccountDetails>, AppError> {
    Ok(Json(accounts::update(&app, &actor, id, &req).await?))
}

/// Generate a new password; the account's endpoints are signed out.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/reset-password", tag = "accounts", operation_id = "reset_account_password", params(("id" = i64, Path)), security(("session" = [])),
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
    responses((status = 200, body = RemoveResult), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
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
    responses((status = 200, body = BatchResult), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
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
    responses((status = 200, body = FailedEmailList), (status = 403, body = ErrorBody)))]
async fn failed_emails(
    State(app): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<FailedEmailList>, AppError> {
    Ok(Json(accounts::failed_emails(&app, &actor).await?))
}

/// Send failed emails again (account emails are rewritten with the account's current data).
#[utoipa::path(post, path = "/api/v1/emails/failed/resend", tag = "emails", request_body = IdList, security(("session" = [])),
    responses((status = 200, body = CountResult), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn resend_failed(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<IdList>,
) -> Result<Json<CountResult>, AppError> {
    Ok(Json(accounts::resend_failed(&app, &actor, &req.ids).await?))
}

/// Delete failed emails from the list.
#[utoipa::path(post, path = "/api/v1/emails/failed/delete", tag = "emails", request_body = IdList, security(("session" = [])),
    responses((status = 200, body = CountResult), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_failed(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<IdList>,
) -> Result<Json<CountResult>, AppError> {
    Ok(Json(accounts::delete_failed(&app, &actor, &req.ids).await?))
}

/// Endpoint sign-in by pincode (once, within 7 days), cloud number + password, or a
/// provisioned device's serial + secret. The answer carries the SIP settings (domain,
/// username, password and digest material, servers) and a session token for sign-out.
/// Failed tries are throttled per source address and across the service (429); the limits
/// are `[endpoint]` settings.
#[utoipa::path(post, path = "/endpoint/v1/login", tag = "endpoint", request_body = EndpointLoginRequest,
    responses((status = 200, body = EndpointLoginResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn endpoint_login(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<EndpointLoginRequest>,
) -> Result<Json<EndpointLoginResponse>, AppError> {
    Ok(Json(endpoint::login(&app, &req, ip.as_deref()).await?))
}

/// Endpoint sign-out: the session ends and the device's registration is removed. The token
/// of the sign-in goes in the body or as `Authorization: Bearer`.
#[utoipa::path(post, path = "/endpoint/v1/logout", tag = "endpoint", request_body = EndpointLogoutRequest,
    responses((status = 200, body = Message), (status = 401, body = ErrorBody)))]
async fn endpoint_logout(
    State(app): State<AppState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Message>, AppError> {
    let body: Option<EndpointLogoutRequest> = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        Some(super::extract::checked_json(&body)?.map_err(|e| {
            AppError::bad_request(
                ErrorCode::BadRequest,
                format!("The body must be {{\"token\": \"…\"}}: {e}"),
            )
        })?)
    };
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::to_string);
    let token = body.and_then(|b| b.token).or(bearer).ok_or_else(|| {
        AppError::unauthorized(ErrorCode::EndpointSession, "Send the token of the sign-in")
            .with_field("token")
    })?;
    endpoint::logout(&app, &token).await?;
    Ok(Json(Message {
        message: "Signed out".into(),
    }))
}

/// Devices provisioned against an account (built-in cloud numbers).
#[utoipa::path(get, path = "/api/v1/accounts/{id}/devices", tag = "accounts", params(("id" = i64, Path)), security(("session" = [])),
    responses((status = 200, body = Vec<ProvisionedDevice>), (status = 404, body = ErrorBody)))]
async fn list_devices(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<ProvisionedDevice>>, AppError> {
    Ok(Json(endpoint::devices(&app, &actor, id).await?))
}

/// Provision a device serial against an account; the answer shows the device secret once.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/devices", tag = "accounts", params(("id" = i64, Path)), request_body = ProvisionDeviceRequest, security(("session" = [])),
    responses((status = 200, body = ProvisionedDevice), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn provision_device(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<ProvisionDeviceRequest>,
) -> Result<Json<ProvisionedDevice>, AppError> {
    Ok(Json(
        endpoint::provision(&app, &actor, id, &req.serial).await?,
    ))
}

/// Remove a provisioned device: it can no longer sign in with its secret.
#[utoipa::path(delete, path = "/api/v1/accounts/{id}/devices/{serial}", tag = "accounts", params(("id" = i64, Path), ("serial" = String, Path)), security(("session" = [])),
    responses((status = 200, body = Message), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn remove_device(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiPath((id, serial)): ApiPath<(i64, String)>,
) -> Result<Json<Message>, AppError> {
    endpoint::unprovision(&app, &actor, id, &serial).await?;
    Ok(Json(Message {
        message: "Device removed".into(),
    }))
}

fn bearer(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

fn endpoint_token(headers: &axum::http::HeaderMap) -> Result<String, AppError> {
    bearer(headers).ok_or_else(|| {
        AppError::unauthorized(
            ErrorCode::EndpointSession,
            "Send the token of the endpoint sign-in: Authorization: Bearer <token>",
        )
    })
}

/// The enterprise directory for an endpoint (its sign-in token as a Bearer token): every
/// account's name, extension, cloud number and whether it is registered. The `ETag` is the
/// directory's version; `If-None-Match` with it answers 304 when nothing changed.
#[utoipa::path(get, path = "/endpoint/v1/directory", tag = "endpoint",
    responses((status = 200, body = Directory), (status = 304, description = "Not modified"), (status = 401, body = ErrorBody)))]
async fn endpoint_directory(
    State(app): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<axum::response::Response, AppError> {
    use axum::response::IntoResponse;
    let token = endpoint_token(&headers)?;
    let d = crate::service::directory::get(&app, &token).await?;
    let etag = format!("\"{}\"", d.version);
    let unchanged = headers
        .get(axum::http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == etag)
        });
    let tag = [(axum::http::header::ETAG, etag.clone())];
    if unchanged {
        return Ok((StatusCode::NOT_MODIFIED, tag).into_response());
    }
    Ok((tag, Json(d)).into_response())
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct DirectoryEventsQuery {
    /// Resume after this event id (also read from the Last-Event-ID header).
    after: Option<i64>,
}

/// Live directory changes as server-sent events (`Accept: text/event-stream`): `event:
/// change` with a `DirectoryChange` (added, changed, removed, registration, reload) within a
/// second of the change, from any server instance; `event: session_ended` when the endpoint
/// signs out. A client that does not ask for a stream gets JSON instead: the changes after
/// `after` (at most 200) and the id to poll after next.
#[utoipa::path(get, path = "/endpoint/v1/directory/events", tag = "endpoint", params(DirectoryEventsQuery),
    responses((status = 200, content(
        (DirectoryChange = "text/event-stream"),
        (vcms_api::DirectoryChangePage = "application/json"))), (status = 401, body = ErrorBody)))]
async fn endpoint_directory_events(
    State(app): State<AppState>,
    headers: axum::http::HeaderMap,
    ApiQuery(q): ApiQuery<DirectoryEventsQuery>,
) -> Result<axum::response::Response, AppError> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use axum::response::IntoResponse;
    use futures_util::StreamExt;
    let token = endpoint_token(&headers)?;
    let resume = q.after.or_else(|| super::extract::last_event_id(&headers));
    if !super::extract::wants_event_stream(&headers) {
        let (changes, last_id) = crate::service::directory::poll(&app, &token, resume).await?;
        return Ok(Json(vcms_api::DirectoryChangePage { changes, last_id }).into_response());
    }
    let s = crate::service::directory::stream(app, token, resume)
        .await?
        .map(|item| {
            Ok::<_, std::convert::Infallible>(match item {
                crate::service::directory::DirItem::Change(c) => Event::default()
                    .event("change")
                    .id(c.id.to_string())
                    .json_data(&c)
                    .unwrap_or_else(|_| Event::default().comment("unencodable event")),
                crate::service::directory::DirItem::Ended(why) => {
                    Event::default().event("session_ended").data(why)
                }
            })
        });
    Ok(Sse::new(s).keep_alive(KeepAlive::default()).into_response())
}
