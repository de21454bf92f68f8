//! HTTP: routes by area, the auth extractor, JSON errors, and the OpenAPI document.

mod account_routes;
mod auth_routes;
mod enterprise_routes;
pub mod extract;
mod team_routes;
pub mod wire;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::error::AppError;
use crate::service::{auth, Actor, AppState};

/// JSON body: control characters refused (422 naming the field), rejections are our JSON
/// errors.
pub use extract::ApiJson;

/// The signed-in administrator (`Authorization: Bearer <token>`).
pub struct Auth(pub Actor);

impl FromRequestParts<AppState> for Auth {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                AppError::unauthorized(
                    "unauthenticated",
                    "Sign in first: send Authorization: Bearer <token>",
                )
            })?;
        let mut actor = auth::authenticate(app, token).await?;
        if let Some(ci) = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        {
            actor.ip = ci.0.ip().to_string();
        }
        Ok(Auth(actor))
    }
}

/// The client's address, when the server knows it.
pub struct ClientIp(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        Ok(ClientIp(ip))
    }
}

struct SecurityAddon;

impl Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "vcms", description = "VC cloud management service: enterprises, administrators, licenses, cloud accounts, emails."),
    modifiers(&SecurityAddon),
    components(schemas(crate::api::ErrorBody, crate::api::AccountSort))
)]
struct ApiDoc;

/// The whole HTTP API and its OpenAPI document.
pub fn router(app: AppState) -> Router {
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth_routes::routes())
        .merge(enterprise_routes::routes())
        .merge(account_routes::routes())
        .merge(team_routes::routes())
        .split_for_parts();
    let doc = std::sync::Arc::new(api);
    router
        .route(
            "/api/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move { Json((*doc).clone()) }
            }),
        )
        .fallback(|| async { AppError::not_found("No such route: see GET /api/openapi.json") })
        .layer(axum::extract::DefaultBodyLimit::max(
            app.import.max_body_bytes,
        ))
        .with_state(app)
}
