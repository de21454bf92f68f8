//! The enterprise, its quota and its licenses.

use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiJson, Auth};
use crate::error::AppError;
use crate::service::{enterprise, license, AppState};
#[allow(unused_imports)]
use futures_util::Stream as _;
use vcms_api::*;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_enterprise))
        .routes(routes!(list_licenses, add_license))
        .routes(routes!(event_stream))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct EventQuery {
    /// Resume after this event id (also read from the Last-Event-ID header).
    after: Option<i64>,
}

/// Live changes of the enterprise as server-sent events (`Accept: text/event-stream`):
/// `event: change` with a `ChangeEvent` as data and its id as the SSE id; `event:
/// session_ended` when the session ends. Changes made through any server instance arrive
/// within a second. A client that does not ask for a stream gets JSON instead: the changes
/// after `after` (at most 200) and the id to poll after next.
#[utoipa::path(get, path = "/api/v1/events", tag = "enterprise", params(EventQuery), security(("session" = [])),
    responses((status = 200, content(
        (ChangeEvent = "text/event-stream"),
        (vcms_api::ChangePage = "application/json")))))]
async fn event_stream(
    State(app): State<AppState>,
    Auth(actor): Auth,
    headers: axum::http::HeaderMap,
    super::account_routes::ApiQuery(q): super::account_routes::ApiQuery<EventQuery>,
) -> Result<axum::response::Response, AppError> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use axum::response::IntoResponse;
    use futures_util::StreamExt;
    let resume = q.after.or_else(|| super::extract::last_event_id(&headers));
    if !super::extract::wants_event_stream(&headers) {
        let (changes, last_id) =
            crate::service::events::poll(&app, actor.enterprise_id, resume).await?;
        return Ok(Json(vcms_api::ChangePage { changes, last_id }).into_response());
    }
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_whitespace().nth(1))
        .unwrap_or_default()
        .to_string();
    let s = crate::service::events::stream(
        app,
        actor.enterprise_id,
        token,
        resume,
        crate::service::events::Holder::Admin,
    )
    .await?
    .map(|item| {
        Ok::<_, std::convert::Infallible>(match item {
            crate::service::events::Item::Change(ev) => Event::default()
                .event("change")
                .id(ev.id.to_string())
                .json_data(&ev)
                .unwrap_or_else(|_| Event::default().comment("unencodable event")),
            crate::service::events::Item::Ended(why) => {
                Event::default().event("session_ended").data(why)
            }
        })
    });
    Ok(Sse::new(s).keep_alive(KeepAlive::default()).into_response())
}

/// The enterprise: number, trial and quota ("Account (13/20)", "7 can be added").
#[utoipa::path(get, path = "/api/v1/enterprise", tag = "enterprise", security(("session" = [])),
    responses((status = 200, body = Enterprise)))]
async fn get_enterprise(
    State(app): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<Enterprise>, AppError> {
    Ok(Json(enterprise::get(&app, &actor).await?))
}

/// Licenses bound to the enterprise, with status, service life and days left.
#[utoipa::path(get, path = "/api/v1/licenses", tag = "enterprise", security(("session" = [])),
    responses((status = 200, body = LicenseList), (status = 403, body = ErrorBody)))]
async fn list_licenses(
    State(app): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<LicenseList>, AppError> {
    Ok(Json(license::list(&app, &actor).await?))
}

/// Bind a license number (case-insensitive) to the enterprise: "License binding successfully".
#[utoipa::path(post, path = "/api/v1/licenses", tag = "enterprise", request_body = AddLicenseRequest, security(("session" = [])),
    responses((status = 200, body = AddLicenseResponse), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn add_license(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<AddLicenseRequest>,
) -> Result<Json<AddLicenseResponse>, AppError> {
    Ok(Json(license::add(&app, &actor, &req.license_number).await?))
}
