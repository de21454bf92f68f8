//! The enterprise, its quota and its licenses.

use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiJson, Auth};
use crate::api::*;
use crate::error::AppError;
use crate::service::{enterprise, license, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_enterprise))
        .routes(routes!(list_licenses, add_license))
}

/// The enterprise: number, trial and quota ("Account (13/20)", "7 can be added").
#[utoipa::path(get, path = "/api/v1/enterprise", tag = "enterprise", security(("session" = [])),
    responses((status = 200, body = Enterprise), (status = 401, body = ErrorBody)))]
async fn get_enterprise(
    State(app): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<Enterprise>, AppError> {
    Ok(Json(enterprise::get(&app, &actor).await?))
}

/// Licenses bound to the enterprise, with status, service life and days left.
#[utoipa::path(get, path = "/api/v1/licenses", tag = "enterprise", security(("session" = [])),
    responses((status = 200, body = LicenseList)))]
async fn list_licenses(
    State(app): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<LicenseList>, AppError> {
    Ok(Json(license::list(&app, &actor).await?))
}

/// Bind a license number (case-insensitive) to the enterprise: "License binding successfully".
#[utoipa::path(post, path = "/api/v1/licenses", tag = "enterprise", request_body = AddLicenseRequest, security(("session" = [])),
    responses((status = 200, body = AddLicenseResponse), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_license(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<AddLicenseRequest>,
) -> Result<Json<AddLicenseResponse>, AppError> {
    Ok(Json(license::add(&app, &actor, &req.license_number).await?))
}
