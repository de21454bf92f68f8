//! Every request gets a request id (the client's `X-Request-Id` when it is a sane one, else
//! a new one), answered in `X-Request-Id` and carried by every log line written while the
//! request is handled (the `request` span); its answer is counted and timed by route.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::metrics::HttpLabels;
use crate::service::AppState;

pub(crate) const REQUEST_ID: &str = "x-request-id";

/// The route pattern that answered, handed from the router to [`observe`].
#[derive(Clone)]
struct RouteLabel(String);

/// Inside the router (a route layer): note which route matched.
pub(crate) async fn note_route(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string());
    let mut res = next.run(req).await;
    if let Some(r) = route {
        res.extensions_mut().insert(RouteLabel(r));
    }
    res
}

/// Outside the router: request id, log span, metrics.
pub(crate) async fn observe(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| sane_id(v))
        .map(str::to_string)
        .unwrap_or_else(new_id);
    let method: &'static str = match req.method().as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    };
    let span = tracing::info_span!("request", request_id = %id, method);
    let started = Instant::now();
    let mut res = next.run(req).instrument(span.clone()).await;
    let took = started.elapsed();
    let status = res.status().as_u16();
    let route = res
        .extensions()
        .get::<RouteLabel>()
        .map(|r| r.0.clone())
        .unwrap_or_else(|| "unmatched".into());
    span.in_scope(
        || tracing::debug!(route = %route, status, ms = took.as_millis() as u64, "answered"),
    );
    app.metrics.http(
        HttpLabels {
            method,
            route,
            status,
        },
        took,
    );
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    res
}

/// A client's request id is kept when it is 1 to 64 letters, digits, `-`, `_`, `.` or `:`
/// (what proxies and tracing systems send); anything else could forge log lines.
fn sane_id(v: &str) -> bool {
    (1..=64).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

fn new_id() -> String {
    use rand::Rng;
    format!("{:016x}", rand::thread_rng().gen::<u64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sane_client_ids_are_kept() {
        assert!(sane_id("abc-123_X.y:z"));
        assert!(!sane_id(""));
        assert!(!sane_id("a b"));
        assert!(!sane_id("a\nlevel=ERROR"));
        assert!(!sane_id(&"a".repeat(65)));
        assert_eq!(new_id().len(), 16);
    }
}
