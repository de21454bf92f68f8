//! HTTP: routes by area, the auth extractor, JSON errors, and the OpenAPI document.

mod account_routes;
mod auth_routes;
mod enterprise_routes;
pub(crate) mod extract;
mod observe;
mod rules;
mod team_routes;
pub(crate) mod wire;

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
use vcms_api::ErrorCode;

/// JSON body: control characters refused (422 naming the field), rejections are our JSON
/// errors.
pub use extract::ApiJson;

/// The token of `Authorization: Bearer <token>`, if any.
fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// `GET /metrics` on the public listener: only when `metrics.token` is set, and only to
/// requests that bear it.
async fn public_metrics(
    axum::extract::State(app): axum::extract::State<AppState>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let Some(token) = app.metrics_token.as_deref() else {
        return no_route().into_response();
    };
    if !bearer(&headers).is_some_and(|given| crate::crypto::ct_eq(given, token)) {
        return AppError::unauthorized(
            ErrorCode::Unauthenticated,
            "Metrics need Authorization: Bearer <metrics.token>",
        )
        .into_response();
    }
    metrics_text(&app).await
}

/// The metrics, with the gauges read now.
async fn metrics_text(app: &crate::service::App) -> axum::response::Response {
    use axum::response::IntoResponse;
    let db = app.store.readings(app.now()).await;
    (
        [(
            axum::http::header::CONTENT_TYPE,
            crate::metrics::CONTENT_TYPE,
        )],
        app.metrics.render(db),
    )
        .into_response()
}

/// The router of `metrics.listen`, a listener of its own: `GET /metrics`, no token.
pub fn metrics_router(app: AppState) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(
                |axum::extract::State(app): axum::extract::State<AppState>| async move {
                    metrics_text(&app).await
                },
            ),
        )
        .with_state(app)
}

fn no_route() -> AppError {
    AppError::not_found("No such route: see GET /api/openapi.json")
}

/// The signed-in administrator (`Authorization: Bearer <token>`).
pub struct Auth(pub Actor);

impl FromRequestParts<AppState> for Auth {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(&parts.headers).ok_or_else(|| {
            AppError::unauthorized(
                ErrorCode::Unauthenticated,
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
    components(schemas(vcms_api::ErrorBody, vcms_api::AccountSort))
)]
struct ApiDoc;

/// What an error status means, for the document.
fn status_text(status: &str) -> &'static str {
    match status {
        "400" => "Bad request: a body that is not JSON, a path parameter of the wrong type, or a wrong or expired token or captcha",
        "401" => "Not signed in, or the session or key has ended",
        "403" => "The caller's role may not do this (or an API key asks for something personal)",
        "404" => "No such object in the caller's enterprise",
        "409" => "Conflicts with what exists (`field` names the value)",
        "413" => "The request body is larger than the server accepts",
        "415" => "The body is not sent as `Content-Type: application/json`",
        "422" => "A value breaks an input rule, or has the wrong type (`field` names it)",
        "423" => "Frozen after too many wrong tries (`retry_after_secs`)",
        "429" => "Too many tries: wait `retry_after_secs`",
        "500" => "Something broke inside the server (the detail is in its log)",
        "503" => "The database does not answer or is busy: try again",
        _ => "",
    }
}

/// The error statuses every operation of a kind can answer, documented once here rather than
/// on each handler: 401 for authenticated routes, the JSON body's rejections (400, 413, 415,
/// 422) where there is a body, 422 for a query parameter of the wrong type, 400 for a path
/// parameter of the wrong type, 500 and 503 everywhere. Each handler lists its own (403, 404,
/// 409, 423, 429…). Every error has the `ErrorBody` schema; empty descriptions are filled.
fn complete_responses(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let error = |status: &str| {
        ResponseBuilder::new()
            .description(status_text(status))
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build()
    };
    for item in api.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            let params = op.parameters.as_deref().unwrap_or_default();
            let has = |place: ParameterIn| params.iter().any(|p| p.parameter_in == place);
            let mut statuses = vec!["500", "503"];
            if op.security.is_some() {
                statuses.push("401");
            }
            if op.request_body.is_some() {
                statuses.extend(["400", "413", "415", "422"]);
            }
            if has(ParameterIn::Query) {
                statuses.push("422");
            }
            if has(ParameterIn::Path) {
                // A path parameter of the wrong type (400) or with a control character (422).
                statuses.extend(["400", "422"]);
            }
            for status in statuses {
                op.responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| RefOr::T(error(status)));
            }
            for (status, r) in op.responses.responses.iter_mut() {
                if let RefOr::T(r) = r {
                    if r.description.is_empty() {
                        r.description = match status.as_str() {
                            "200" | "201" | "202" => "Done".into(),
                            s => status_text(s).into(),
                        };
                    }
                }
            }
        }
    }
}

/// No string the API takes may hold a control character (`extract.rs` refuses them with 422):
/// the document says so with a `pattern` on every string of a request body (and of the
/// schemas it refers to) and on every string path or query parameter. Response schemas are
/// left alone (a captcha's text art has newlines).
fn refuse_control_characters(doc: &mut serde_json::Value) {
    use serde_json::Value;
    fn add_pattern(v: &mut Value, plain: &str) {
        match v {
            Value::Object(map) => {
                let is_string = match map.get("type") {
                    Some(Value::String(t)) => t == "string",
                    Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
                    _ => false,
                };
                if is_string && !map.contains_key("enum") && !map.contains_key("pattern") {
                    map.insert("pattern".into(), Value::String(plain.to_string()));
                }
                // Keys of a body's objects are checked too.
                if map.get("type").is_some_and(|t| t == "object")
                    && !map.contains_key("propertyNames")
                {
                    map.insert(
                        "propertyNames".into(),
                        serde_json::json!({ "pattern": plain }),
                    );
                    // Fields the server does not know are ignored, but checked all the same.
                    map.entry("additionalProperties")
                        .or_insert_with(|| serde_json::json!({ "$ref": ANY_VALUE }));
                }
                for (k, item) in map.iter_mut() {
                    if k != "$ref" {
                        add_pattern(item, plain);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| add_pattern(i, plain)),
            _ => {}
        }
    }
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, item) in map {
                    match (k.as_str(), item) {
                        ("$ref", Value::String(r)) => {
                            if let Some(name) = r.strip_prefix("#/components/schemas/") {
                                out.push(name.to_string());
                            }
                        }
                        _ => refs(item, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| refs(i, out)),
            _ => {}
        }
    }
    const ANY_VALUE: &str = "#/components/schemas/JsonValue";
    let plain = crate::validate::pattern_plain();
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        schemas.insert(
            "JsonValue".into(),
            serde_json::json!({
                "description": "Any JSON value whose strings and object keys hold no control character",
                "anyOf": [
                    { "type": "string", "pattern": plain },
                    { "type": ["number", "boolean", "null"] },
                    { "type": "array", "items": { "$ref": ANY_VALUE } },
                    {
                        "type": "object",
                        "propertyNames": { "pattern": plain },
                        "additionalProperties": { "$ref": ANY_VALUE },
                    },
                ],
            }),
        );
    }
    // Inline request schemas, and the components request bodies reach.
    let mut todo = vec![];
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for op in item.values_mut() {
                if let Some(body) = op.get_mut("requestBody") {
                    refs(body, &mut todo);
                    add_pattern(body, &plain);
                }
                for p in op
                    .get_mut("parameters")
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    if p["in"] == "path" || p["in"] == "query" {
                        refs(&p["schema"], &mut todo);
                        if let Some(schema) = p.get_mut("schema") {
                            add_pattern(schema, &plain);
                        }
                    }
                }
            }
        }
    }
    let mut done = std::collections::BTreeSet::new();
    while let Some(name) = todo.pop() {
        if !done.insert(name.clone()) {
            continue;
        }
        if let Some(schema) = doc.pointer_mut(&format!("/components/schemas/{name}")) {
            refs(schema, &mut todo);
            add_pattern(schema, &plain);
        }
    }
}

/// Each closed set's schema (a string `enum`) says what each value means in its description,
/// from the values' doc comments: "- `invalid_credentials`: Wrong email and password…".
fn describe_values(doc: &mut serde_json::Value) {
    for (name, values) in vcms_api::VALUE_DOCS {
        let Some(schema) = doc.pointer_mut(&format!("/components/schemas/{name}")) else {
            continue;
        };
        let items: Vec<String> = values
            .iter()
            .filter_map(|(value, about)| {
                let about: Vec<&str> = about
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect();
                (!about.is_empty()).then(|| format!("- `{value}`: {}", about.join(" ")))
            })
            .collect();
        if items.is_empty() {
            continue;
        }
        let text = schema["description"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        schema["description"] =
            serde_json::Value::String(format!("{text}\n\n{}", items.join("\n")));
    }
}

/// The whole HTTP API and its OpenAPI document.
pub fn router(app: AppState) -> Router {
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth_routes::routes())
        .merge(enterprise_routes::routes())
        .merge(account_routes::routes())
        .merge(team_routes::routes())
        .split_for_parts();
    let mut api = api;
    complete_responses(&mut api);
    let mut doc = serde_json::to_value(&api).unwrap_or_default();
    describe_values(&mut doc);
    rules::apply(&mut doc);
    refuse_control_characters(&mut doc);
    let doc = std::sync::Arc::new(doc);
    router
        .route(
            "/api/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move { Json((*doc).clone()) }
            }),
        )
        .route("/metrics", get(public_metrics))
        .route_layer(axum::middleware::from_fn(observe::note_route))
        .fallback(|| async { no_route() })
        .layer(axum::extract::DefaultBodyLimit::max(
            app.import.max_body_bytes,
        ))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            observe::observe,
        ))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            crate::ssh::origin::console_origin,
        ))
        .with_state(app)
}
