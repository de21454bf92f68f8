//! One error type for the whole server. It maps to an HTTP status and a JSON body
//! `{code, message, field?, retry_after_secs?}`; internal details go to the log only.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use vcms_api::{ErrorBody, ErrorCode, UnknownValue};

#[derive(Debug, Clone)]
pub struct AppError {
    pub status: StatusCode,
    pub body: Box<ErrorBody>,
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            body: Box::new(ErrorBody {
                code,
                message: message.into(),
                field: None,
                retry_after_secs: None,
                can_add: None,
                captcha_required: None,
                mfa_token: None,
            }),
        }
    }
    pub fn with_field(mut self, field: &str) -> Self {
        self.body.field = Some(field.to_string());
        self
    }
    pub fn with_retry_after(mut self, secs: i64) -> Self {
        self.body.retry_after_secs = Some(secs);
        self
    }
    pub fn with_captcha_required(mut self) -> Self {
        self.body.captcha_required = Some(true);
        self
    }
    pub fn with_can_add(mut self, n: i64) -> Self {
        self.body.can_add = Some(n);
        self
    }
    /// A value broke an input rule: 422 naming the field and the rule.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidInput,
            message,
        )
        .with_field(field)
    }
    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn unauthorized(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }
    pub fn forbidden(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, message)
    }
    pub fn conflict(field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, ErrorCode::Conflict, message).with_field(field)
    }
    /// Something broke inside: the client gets a generic message, the log gets the detail.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "Something went wrong on the server; the administrator can find the details in its log",
        )
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.body.field {
            Some(field) => write!(f, "{} ({field}): {}", self.body.code, self.body.message),
            None => write!(f, "{}: {}", self.body.code, self.body.message),
        }
    }
}

impl std::error::Error for AppError {}

/// A closed set's value read back from the database that this server does not know: the
/// data is broken (or from a newer server), which is an internal error, not a panic.
impl From<UnknownValue> for AppError {
    fn from(e: UnknownValue) -> Self {
        AppError::internal(format!("database: {e}"))
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::PoolTimedOut = e {
            return AppError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Busy,
                "The server is busy; try again in a moment",
            );
        }
        AppError::internal(format!("database: {e}"))
    }
}

impl From<axum::extract::rejection::JsonRejection> for AppError {
    fn from(e: axum::extract::rejection::JsonRejection) -> Self {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return AppError::new(
                e.status(),
                ErrorCode::TooLarge,
                "The request is larger than this server accepts (import.max_body_bytes): \
                 send fewer rows at a time",
            );
        }
        AppError::new(
            e.status(),
            ErrorCode::BadRequest,
            format!("The request body is not valid: {}", e.body_text()),
        )
    }
}

/// A part of the request axum could not read: 400, saying which part and why.
fn unreadable(part: &str, why: &str) -> AppError {
    AppError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::BadRequest,
        format!("The {part} is not valid: {why}"),
    )
}

impl From<axum::extract::rejection::QueryRejection> for AppError {
    fn from(e: axum::extract::rejection::QueryRejection) -> Self {
        unreadable("query string", &e.body_text())
    }
}

impl From<axum::extract::rejection::PathRejection> for AppError {
    fn from(e: axum::extract::rejection::PathRejection) -> Self {
        unreadable("path", &e.body_text())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, Json((*self.body).clone())).into_response();
        if let Some(secs) = self.body.retry_after_secs {
            if let Ok(v) = axum::http::HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, v);
            }
        }
        resp
    }
}
