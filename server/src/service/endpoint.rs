//! Endpoint sign-in (DOMAIN.md "Endpoints"): by pincode (9 digits, once, 7 days) or by cloud
//! number + password. Failed tries are throttled per source address and across the service,
//! so the 9-digit space of live pincodes cannot be searched.

use crate::api;
use crate::clock::{Millis, MINUTE};
use crate::crypto;
use crate::error::{AppError, AppResult};
use crate::service::{license, App};
use crate::store::{accounts as st, admin};

/// Failed sign-ins allowed per source address per window.
pub const PER_ADDRESS_FAILURES: i64 = 20;
pub const PER_ADDRESS_WINDOW: Millis = 10 * MINUTE;
/// Failed sign-ins allowed across the whole service per window.
pub const SERVICE_FAILURES: i64 = 600;
pub const SERVICE_WINDOW: Millis = MINUTE;

fn throttled(window: Millis, now: Millis) -> AppError {
    let left = window - now.rem_euclid(window);
    AppError::new(
        axum::http::StatusCode::TOO_MANY_REQUESTS,
        "throttled",
        "Too many failed sign-ins: wait a little and try again",
    )
    .with_retry_after((left + 999) / 1000)
}

fn invalid_pincode() -> AppError {
    AppError::unauthorized(
        "pincode_invalid",
        "This pincode is not valid: it may be mistyped, already used or expired; ask your administrator for a new one",
    )
    .with_field("pincode")
}

fn invalid_password() -> AppError {
    AppError::unauthorized("credentials_invalid", "Wrong cloud number or password")
        .with_field("password")
}

pub async fn login(
    app: &App,
    req: &api::EndpointLoginRequest,
    ip: Option<&str>,
) -> AppResult<api::EndpointLoginResponse> {
    let now = app.now();
    let ip_key = format!("ep-ip:{}", ip.unwrap_or("unknown"));
    let mut c = app.store.conn().await?;
    if st::hits(&mut c, &ip_key, PER_ADDRESS_WINDOW, now).await? >= PER_ADDRESS_FAILURES {
        return Err(throttled(PER_ADDRESS_WINDOW, now));
    }
    if st::hits(&mut c, "ep-all", SERVICE_WINDOW, now).await? >= SERVICE_FAILURES {
        return Err(throttled(SERVICE_WINDOW, now));
    }
    drop(c);
    let outcome = attempt(app, req, now).await;
    if let Err(e) = &outcome {
        if e.status == axum::http::StatusCode::UNAUTHORIZED {
            let mut c = app.store.conn().await?;
            st::hit(&mut c, &ip_key, PER_ADDRESS_WINDOW, now).await?;
            st::hit(&mut c, "ep-all", SERVICE_WINDOW, now).await?;
        }
    }
    outcome
}

async fn attempt(
    app: &App,
    req: &api::EndpointLoginRequest,
    now: Millis,
) -> AppResult<api::EndpointLoginResponse> {
    let mut tx = app.store.begin().await?;
    let (account, pincode_lookup) = match (&req.pincode, &req.cloud_number, &req.builtin) {
        (Some(pin), None, None) => {
            let pin = pin.trim();
            if pin.len() != 9 || !pin.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid_pincode());
            }
            let lookup = app.secrets.lookup(pin);
            let a = st::by_pincode_lookup(&mut tx, &lookup)
                .await?
                .ok_or_else(invalid_pincode)?;
            if a.pincode_expires_at < now {
                return Err(invalid_pincode());
            }
            (a, Some(lookup))
        }
        (None, Some(number), None) => {
            let password = req.password.as_deref().unwrap_or("");
            let a = st::by_cloud_number(&mut tx, number.trim()).await?;
            let ok = match &a {
                Some(a) => crypto::ct_eq(&app.secrets.open(&a.password_enc)?, password),
                None => false,
            };
            match (ok, a) {
                (true, Some(a)) => (a, None),
                _ => return Err(invalid_password()),
            }
        }
        (None, None, Some(_)) => {
            return Err(AppError::unauthorized(
                "builtin_unknown",
                "This device is not provisioned for one-key sign-in",
            )
            .with_field("builtin"))
        }
        _ => {
            return Err(AppError::bad_request(
                "bad_request",
                "Sign in with exactly one of: pincode; cloud_number and password; builtin",
            ))
        }
    };
    let q = license::quota(&mut tx, account.enterprise_id, now).await?;
    if !q.in_force {
        return Err(AppError::forbidden(
            "license_invalid",
            "Unavailable terminals for invalid license",
        ));
    }
    if let Some(lookup) = pincode_lookup {
        if !st::consume_pincode(&mut tx, account.id, &lookup, now).await? {
            return Err(invalid_pincode());
        }
    }
    let e = admin::enterprise_by_id(&mut tx, account.enterprise_id)
        .await?
        .ok_or_else(|| AppError::internal("account without enterprise"))?;
    tx.commit().await?;
    Ok(api::EndpointLoginResponse {
        cloud_number: account.cloud_number,
        display_name: account.name,
        extension: account.extension,
        enterprise_number: e.number,
    })
}
