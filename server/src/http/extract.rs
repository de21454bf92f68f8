//! Extractors at the edge: JSON bodies, query strings and path parameters. Every string the
//! API takes passes here first, and one with a control character (C0, DEL or C1: NUL, tab,
//! newline, escape, U+0085…) is refused with 422 naming the field (the JSON path such as
//! `rows[2].email`, or the parameter's name) before any handler or the database sees it. No
//! field of the API is multi-line, so there are no exceptions. Rejections are our JSON errors.

use axum::extract::{FromRequest, FromRequestParts, Path, RawPathParams, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::AppError;
use vcms_api::ErrorCode;

/// The first control character of `s`, if any.
fn control_char(s: &str) -> Option<char> {
    s.chars().find(|c| c.is_control())
}

fn refuse(field: &str, c: char) -> AppError {
    AppError::invalid(
        field,
        format!(
            "{field} must not contain control characters (found U+{:04X})",
            c as u32
        ),
    )
}

/// A field name that is safe to echo: control characters in a *name* are shown escaped.
fn printable(name: &str) -> String {
    name.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_unicode().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Refuse any string (or object key) with a control character anywhere in a JSON value.
pub fn check_json(v: &serde_json::Value) -> Result<(), AppError> {
    fn walk(v: &serde_json::Value, path: &str) -> Result<(), AppError> {
        match v {
            serde_json::Value::String(s) => match control_char(s) {
                Some(c) => Err(refuse(if path.is_empty() { "body" } else { path }, c)),
                None => Ok(()),
            },
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, &format!("{path}[{i}]"))?;
                }
                Ok(())
            }
            serde_json::Value::Object(map) => {
                for (k, item) in map {
                    let p = join(path, &printable(k));
                    if let Some(c) = control_char(k) {
                        return Err(refuse(&p, c));
                    }
                    walk(item, &p)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
    walk(v, "")
}

/// A JSON value (already checked) as the request type; a mismatch is the same 422
/// `bad_request` the JSON extractor gives.
/// A value of the wrong type or outside its closed set inside the body is refused naming
/// its field (`rows[0].extension`) like every other input rule; a body that misses a field
/// or is not an object is refused as a whole.
fn from_value<T: DeserializeOwned>(mut v: serde_json::Value) -> Result<T, AppError> {
    whole_numbers(&mut v);
    serde_path_to_error::deserialize(v).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        if field.is_empty() || field == "." {
            AppError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::BadRequest,
                format!("The request body is not valid: Failed to deserialize the JSON body into the target type: {inner}"),
            )
        } else {
            AppError::invalid(&field, format!("{field}: {inner}"))
        }
    })
}

/// A number written with a fraction of zero (`3.0`, `1e3`) is an integer in JSON Schema (and
/// so in the document); serde takes only `3` for an integer field, so such numbers are
/// rewritten as integers first, where a float holds them exactly (up to 2^53); anything
/// larger stays as it is and is refused by the field's type.
fn whole_numbers(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(f) = n.as_f64() {
                const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
                #[allow(clippy::cast_possible_truncation)]
                if f.fract() == 0.0 && f.abs() <= EXACT {
                    *v = serde_json::Value::from(f as i64);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(whole_numbers),
        serde_json::Value::Object(map) => map.values_mut().for_each(whole_numbers),
        _ => {}
    }
}

/// A JSON body read by a handler itself: the outer error is a control character (422), the
/// inner one a body that is not JSON or not of the type.
pub fn checked_json<T: DeserializeOwned>(
    body: &[u8],
) -> Result<Result<T, serde_json::Error>, AppError> {
    let v: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    check_json(&v)?;
    if !v.is_object() {
        return Err(not_an_object());
    }
    let mut v = v;
    whole_numbers(&mut v);
    Ok(serde_json::from_value(v))
}

/// Every request body of the API is a JSON object (serde would also take a struct written
/// as an array, `[null, null]`: the document does not allow it, so neither does the server).
fn not_an_object() -> AppError {
    AppError::new(
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::BadRequest,
        "The request body is not valid: it must be a JSON object",
    )
}

/// JSON body whose strings are free of control characters and whose rejections are our
/// JSON errors.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(v) = axum::Json::<serde_json::Value>::from_request(req, state).await?;
        check_json(&v)?;
        if !v.is_object() {
            return Err(not_an_object());
        }
        Ok(ApiJson(from_value(v)?))
    }
}

/// Refuse a query string with a control character in a parameter (percent-encoded or not).
pub fn check_query(query: Option<&str>) -> Result<(), AppError> {
    let Some(q) = query else { return Ok(()) };
    for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
        if let Some(c) = control_char(&k).or_else(|| control_char(&v)) {
            return Err(refuse(&printable(&k), c));
        }
    }
    Ok(())
}

/// A query string as `T`; a parameter of the wrong type (`page=abc`, an unknown `sort`) is
/// 422 `invalid_input` naming the parameter. Parameters `T` does not know are ignored.
pub fn parse_query<T: DeserializeOwned>(query: Option<&str>) -> Result<T, AppError> {
    check_query(query)?;
    let de = serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(
        query.unwrap_or_default().as_bytes(),
    ));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path.is_empty() || path == "." {
            "query".to_string()
        } else {
            printable(&path)
        };
        AppError::invalid(
            &field,
            format!("The query parameter {field} is not valid: {}", e.inner()),
        )
    })
}

/// Query extractor: control characters refused, a parameter of the wrong type is 422 naming
/// it; rejections are our JSON errors.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ApiQuery(parse_query(parts.uri.query())?))
    }
}

/// Path extractor: control characters refused, rejections are our JSON errors.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Ok(raw) = RawPathParams::from_request_parts(parts, state).await {
            for (name, value) in raw.iter() {
                if let Some(c) = control_char(value) {
                    return Err(refuse(name, c));
                }
            }
        }
        let Path(p) = Path::<T>::from_request_parts(parts, state).await?;
        Ok(ApiPath(p))
    }
}

/// The client asked for a stream of server-sent events (`Accept: text/event-stream`, as
/// every EventSource sends); any other client of an event route gets a JSON page.
pub fn wants_event_stream(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get_all(axum::http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            t.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/event-stream"))
        })
}

/// The SSE `Last-Event-ID` header, when it is a number.
pub fn last_event_id(headers: &axum::http::HeaderMap) -> Option<i64> {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths_name_the_field() {
        let v = serde_json::json!({"rows": [{"name": "ok"}, {"name": "a\u{0}b"}]});
        let e = check_json(&v).unwrap_err();
        assert_eq!(e.body.field.as_deref(), Some("rows[1].name"));
        let v = serde_json::json!({"email": "a\u{85}@x.test"});
        assert_eq!(
            check_json(&v).unwrap_err().body.field.as_deref(),
            Some("email")
        );
        assert!(check_json(&serde_json::json!({"name": "陈媛媛 ok", "n": 1})).is_ok());
    }

    #[test]
    fn query_parameters_of_the_wrong_type_name_the_parameter() {
        #[derive(serde::Deserialize, Debug)]
        struct Q {
            #[serde(default)]
            page_size: Option<i64>,
            #[serde(default)]
            desc: Option<bool>,
        }
        let e = parse_query::<Q>(Some("page_size=abc")).unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.body.field.as_deref(), Some("page_size"));
        assert_eq!(
            parse_query::<Q>(Some("desc=maybe"))
                .unwrap_err()
                .body
                .field
                .as_deref(),
            Some("desc")
        );
        let q = parse_query::<Q>(Some("page_size=5&other=x")).unwrap();
        assert_eq!((q.page_size, q.desc), (Some(5), None));
        assert!(parse_query::<Q>(None).unwrap().page_size.is_none());
    }

    #[test]
    fn query_parameters_are_checked_decoded() {
        let e = check_query(Some("page=1&search=a%00b")).unwrap_err();
        assert_eq!(e.body.field.as_deref(), Some("search"));
        assert!(check_query(Some("search=%E9%99%88+x&page=2")).is_ok());
        assert!(check_query(Some("search=a%09")).is_err());
    }
}
