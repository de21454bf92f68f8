//! Endpoint sign-in (DOMAIN.md "Endpoints"): by pincode (9 digits, once, 7 days) or by cloud
//! number + password. Failed tries are throttled per source address, per cloud number and,
//! for pincodes, across the service, so the 9-digit space of live pincodes cannot be
//! searched; see [`login`] for why a valid credential still works during an attack.

use crate::clock::{self, Millis, DAY};
use crate::crypto;
use crate::error::{AppError, AppResult};
use crate::service::{accounts, audit, events, license, Actor, App, Perm};
use crate::store::accounts::{self as st, AccountRecord};
use crate::store::{admin, sip as sst, throttle, Conn, Tx};
use vcms_api::{self as api, ErrorCode};
use vcms_digest::{ha1, Algorithm};

fn throttled(window: Millis, now: Millis) -> AppError {
    let left = window - now.rem_euclid(window);
    AppError::new(
        axum::http::StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Throttled,
        "Too many failed sign-ins: wait a little and try again",
    )
    .with_retry_after((left + 999) / 1000)
}

fn invalid_pincode() -> AppError {
    AppError::unauthorized(
        ErrorCode::PincodeInvalid,
        "This pincode is not valid: it may be mistyped, already used or expired; ask your administrator for a new one",
    )
    .with_field("pincode")
}

fn invalid_password() -> AppError {
    AppError::unauthorized(
        ErrorCode::InvalidCredentials,
        "Wrong cloud number or password",
    )
    .with_field("password")
}

/// What a sign-in guesses at; each kind has its own per-address count, so guessing one
/// kind from an address does not lock out the others.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pincode,
    Password,
    Device,
}

impl Kind {
    fn of(req: &api::EndpointLoginRequest) -> Option<Self> {
        match (&req.pincode, &req.cloud_number, &req.builtin) {
            (Some(_), None, None) => Some(Self::Pincode),
            (None, Some(_), None) => Some(Self::Password),
            (None, None, Some(_)) => Some(Self::Device),
            _ => None,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Self::Pincode => "pin",
            Self::Password => "pw",
            Self::Device => "dev",
        }
    }
}

/// The source as counted: an IPv4 address, or the /64 of an IPv6 one (one subscriber).
fn source_of(ip: Option<&str>) -> String {
    match ip.map(str::parse::<std::net::IpAddr>) {
        Some(Ok(std::net::IpAddr::V6(v6))) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Some(Ok(ip)) => ip.to_string(),
        _ => "unknown".into(),
    }
}

/// Sign an endpoint in. Every try is counted *before* the secret is checked (one atomic
/// upsert in the database, shared by all instances), and given back when it succeeds:
/// - per source address and kind: at most `address_failures` wrong tries per window;
/// - pincodes across the service: at most `service_failures` per window; cloud number +
///   password per cloud number: at most `account_failures` per window. Once such a shared
///   budget is spent, an address without a failure of that kind today still gets one try
///   (per day), so a valid pincode or password from a clean address works during an attack
///   while an attacker gets one more guess per address per day.
///
/// Device serial + secret (a 24-character random secret) only has the per-address count.
pub async fn login(
    app: &App,
    req: &api::EndpointLoginRequest,
    ip: Option<&str>,
) -> AppResult<api::EndpointLoginResponse> {
    let Some(kind) = Kind::of(req) else {
        return attempt(app, req, app.now()).await;
    };
    let now = app.now();
    let l = &app.limits;
    let addr_window = l.address_window_secs * 1000;
    let src = source_of(ip);
    let addr_key = format!("ep-ip:{}:{src}", kind.name());
    let fail_key = format!("ep-fail:{}:{src}", kind.name());
    let shared = match kind {
        Kind::Pincode => Some((
            "ep-all".to_string(),
            l.service_failures,
            l.service_window_secs * 1000,
        )),
        Kind::Password => req
            .cloud_number
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty() && n.len() <= 32 && n.bytes().all(|b| b.is_ascii_digit()))
            .map(|n| {
                (
                    format!("ep-acct:{n}"),
                    l.account_failures,
                    l.account_window_secs * 1000,
                )
            }),
        Kind::Device => None,
    };
    let mut c = app.store.conn().await?;
    if st::hit(&mut c, &addr_key, addr_window, now).await? > l.address_failures {
        return Err(throttled(addr_window, now));
    }
    let mut fresh_key = None;
    if let Some((key, limit, window)) = &shared {
        if st::hit(&mut c, key, *window, now).await? > *limit {
            let fk = format!("ep-fresh:{key}:{src}");
            let clean = st::hits(&mut c, &fail_key, DAY, now).await? == 0
                && st::hit(&mut c, &fk, DAY, now).await? == 1;
            if !clean {
                throttle::refund(&mut c, &addr_key, addr_window, now).await?;
                return Err(throttled(*window, now));
            }
            fresh_key = Some(fk);
        }
    }
    drop(c);
    let outcome = attempt(app, req, now).await;
    let mut c = app.store.conn().await?;
    match &outcome {
        Err(e) if e.status == axum::http::StatusCode::UNAUTHORIZED => {
            st::hit(&mut c, &fail_key, DAY, now).await?;
        }
        _ => {
            throttle::refund(&mut c, &addr_key, addr_window, now).await?;
            match (&fresh_key, &shared) {
                (Some(fk), _) => throttle::refund(&mut c, fk, DAY, now).await?,
                (None, Some((key, _, window))) => {
                    throttle::refund(&mut c, key, *window, now).await?
                }
                (None, None) => {}
            }
        }
    }
    outcome
}

fn instance_of(d: &api::Device) -> AppResult<String> {
    let i = d.instance.trim();
    let i = i.strip_prefix("urn:uuid:").unwrap_or(i);
    if i.is_empty() {
        let hex = crypto::random_from(b"0123456789abcdef", 32);
        return Ok(format!(
            "{}-{}-4{}-a{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[13..16],
            &hex[17..20],
            &hex[20..32]
        ));
    }
    if i.len() > 64 || !i.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(AppError::bad_request(
            ErrorCode::DeviceInstance,
            "device.instance must be a UUID (letters, digits and -, up to 64)",
        )
        .with_field("device.instance"));
    }
    Ok(i.to_ascii_lowercase())
}

fn clean(s: &str, code: ErrorCode) -> AppResult<String> {
    let s = s.trim();
    if s.chars().count() > 64 || s.chars().any(char::is_control) {
        let field = code.as_str();
        return Err(AppError::bad_request(
            code,
            format!("{field} must be at most 64 characters, without control characters"),
        )
        .with_field(field));
    }
    Ok(s.to_string())
}

async fn attempt(
    app: &App,
    req: &api::EndpointLoginRequest,
    now: Millis,
) -> AppResult<api::EndpointLoginResponse> {
    let mut tx = app.store.begin().await?;
    let (account, pincode_lookup) = credentials_account(app, &mut tx, req, now).await?;
    let q = license::quota(&mut tx, account.enterprise_id, now).await?;
    if !q.in_force {
        return Err(AppError::forbidden(
            ErrorCode::LicenseInvalid,
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
    let instance = instance_of(&req.device)?;
    let model = clean(&req.device.model, ErrorCode::DeviceModel)?;
    let version = clean(&req.device.version, ErrorCode::DeviceVersion)?;
    let token = crypto::new_token();
    sst::insert_session(
        &mut tx,
        account.id,
        &crypto::token_hash(&token),
        &instance,
        &model,
        &version,
        now,
    )
    .await?;
    tx.commit().await?;
    let session = EndpointSession {
        instance,
        enterprise_number: e.number,
        token,
    };
    signed_in(app, account, session)
}

/// The account one sign-in method of the request names, its credentials checked; with a
/// pincode, also the pincode's lookup digest, for the caller to consume.
async fn credentials_account(
    app: &App,
    c: &mut Conn,
    req: &api::EndpointLoginRequest,
    now: Millis,
) -> AppResult<(AccountRecord, Option<String>)> {
    match (&req.pincode, &req.cloud_number, &req.builtin) {
        (Some(pin), None, None) => {
            let pin = pin.trim();
            if pin.len() != 9 || !pin.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid_pincode());
            }
            let lookup = app.secrets.lookup(pin);
            let a = st::by_pincode_lookup(c, &lookup)
                .await?
                .ok_or_else(invalid_pincode)?;
            if a.pincode_expires_at < now {
                return Err(invalid_pincode());
            }
            Ok((a, Some(lookup)))
        }
        (None, Some(number), None) => {
            let password = req.password.as_deref().unwrap_or("");
            let a = st::by_cloud_number(c, number.trim()).await?;
            let ok = match &a {
                Some(a) => crypto::ct_eq(&app.secrets.open(&a.password_enc)?, password),
                None => false,
            };
            match (ok, a) {
                (true, Some(a)) => Ok((a, None)),
                _ => Err(invalid_password()),
            }
        }
        (None, None, Some(b)) => Ok((builtin_account(app, c, b, now).await?, None)),
        _ => Err(AppError::bad_request(
            ErrorCode::BadRequest,
            "Sign in with exactly one of: pincode; cloud_number and password; builtin",
        )),
    }
}

/// The account of a provisioned device signing in with its one-key secret (the device's
/// last sign-in is noted).
async fn builtin_account(
    app: &App,
    c: &mut Conn,
    b: &api::BuiltinCredentials,
    now: Millis,
) -> AppResult<AccountRecord> {
    let unknown = || {
        AppError::unauthorized(
            ErrorCode::BuiltinUnknown,
            "This device is not provisioned for one-key sign-in, or its secret is wrong",
        )
        .with_field("builtin")
    };
    let d = sst::device_by_serial(c, b.serial.trim())
        .await?
        .ok_or_else(unknown)?;
    if !crypto::ct_eq(&app.secrets.open(&d.secret_enc)?, b.secret.trim()) {
        return Err(unknown());
    }
    sst::device_logged_in(c, d.id, now).await?;
    st::by_id(c, d.enterprise_id, d.account_id)
        .await?
        .ok_or_else(unknown)
}

/// What a signed-in endpoint is told beside its account: its instance, its enterprise's
/// number and its session token.
struct EndpointSession {
    instance: String,
    enterprise_number: String,
    token: String,
}

/// The answer to a sign-in: the account's SIP settings (password and digests) and the session.
fn signed_in(
    app: &App,
    account: AccountRecord,
    session: EndpointSession,
) -> AppResult<api::EndpointLoginResponse> {
    let password = app.secrets.open(&account.password_enc)?;
    let realm = &app.sip_domain;
    let servers = app.sip.get().map(|s| s.servers.clone()).unwrap_or_default();
    Ok(api::EndpointLoginResponse {
        sip: api::SipSettings {
            domain: realm.clone(),
            username: account.cloud_number.clone(),
            ha1_md5: ha1(Algorithm::Md5, &account.cloud_number, realm, &password),
            ha1_sha256: ha1(Algorithm::Sha256, &account.cloud_number, realm, &password),
            password,
            instance: session.instance,
            expires: app.sip_expires,
            servers,
        },
        cloud_number: account.cloud_number,
        display_name: account.name,
        extension: account.extension,
        enterprise_number: session.enterprise_number,
        token: session.token,
    })
}

/// Sign an endpoint out: its session ends and its registration is removed.
pub async fn logout(app: &App, token: &str) -> AppResult<()> {
    let mut tx = app.store.begin().await?;
    let s = sst::session_by_token(&mut tx, &crypto::token_hash(token.trim()))
        .await?
        .ok_or_else(|| {
            AppError::unauthorized(ErrorCode::EndpointSession, "This endpoint is not signed in")
        })?;
    sst::delete_session(&mut tx, s.id).await?;
    let eid = st::enterprise_of(&mut tx, s.account_id).await?;
    tx.commit().await?;
    let Some(eid) = eid else { return Ok(()) };
    match app.sip.get() {
        Some(sip) => sip.registrar.unbind(s.account_id, eid, &s.instance).await,
        None => {
            let mut tx = app.store.begin().await?;
            sst::delete_binding(&mut tx, s.account_id, &s.instance).await?;
            events::publish(
                app,
                &mut tx,
                eid,
                api::EventKind::BindingChanged,
                Some(s.account_id),
            )
            .await?;
            tx.commit().await?;
            events::wake(app);
        }
    }
    Ok(())
}

// ---- built-in cloud numbers: provisioned devices ----

fn device_api(d: &sst::DeviceRow, secret: Option<String>) -> api::ProvisionedDevice {
    api::ProvisionedDevice {
        serial: d.serial.clone(),
        account_id: d.account_id,
        secret,
        created_at: clock::rfc3339(d.created_at),
        last_login_at: d.last_login_at.map(clock::rfc3339),
    }
}

/// Provision a device serial against an account; the answer carries the device secret,
/// shown this once.
pub async fn provision(
    app: &App,
    actor: &Actor,
    account_id: i64,
    serial: &str,
) -> AppResult<api::ProvisionedDevice> {
    actor.require(Perm::ManageAccounts)?;
    let serial = serial.trim();
    if serial.is_empty()
        || serial.len() > 64
        || !serial
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(AppError::bad_request(
            ErrorCode::Serial,
            "serial must be 1 to 64 letters, digits, - or _",
        )
        .with_field("serial"));
    }
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let a = st::by_id(&mut tx, actor.enterprise_id, account_id)
        .await?
        .ok_or_else(|| AppError::not_found("No such account"))?;
    if let Some(d) = sst::device_by_serial(&mut tx, serial).await? {
        // Another enterprise's device: words that do not confirm it has one.
        return Err(if d.enterprise_id == actor.enterprise_id {
            AppError::conflict(
                "serial",
                format!("Device {serial} is already provisioned in your enterprise: remove it from its account first"),
            )
        } else {
            AppError::conflict(
                "serial",
                format!("Serial {serial} cannot be used: check it against the label on the device, or contact support"),
            )
        });
    }
    let secret = crypto::random_from(
        b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789",
        24,
    );
    let id = sst::insert_device(
        &mut tx,
        actor.enterprise_id,
        a.id,
        serial,
        &app.secrets.seal(&secret),
        now,
    )
    .await?;
    finish_device_change(app, tx, actor, "device.provision", &a, serial).await?;
    Ok(device_api(
        &sst::DeviceRow {
            id,
            enterprise_id: actor.enterprise_id,
            account_id: a.id,
            serial: serial.to_string(),
            secret_enc: vec![],
            created_at: now,
            last_login_at: None,
        },
        Some(secret),
    ))
}

/// The end of a change to an account's provisioned devices: its audit record, committed
/// with it.
async fn finish_device_change(
    app: &App,
    mut tx: Tx,
    actor: &Actor,
    action: &str,
    a: &AccountRecord,
    serial: &str,
) -> AppResult<()> {
    audit::record(app, &mut tx, actor, action, &accounts::label(a), serial).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn devices(
    app: &App,
    actor: &Actor,
    account_id: i64,
) -> AppResult<Vec<api::ProvisionedDevice>> {
    actor.require(Perm::ViewAccounts)?;
    let mut c = app.store.conn().await?;
    st::by_id(&mut c, actor.enterprise_id, account_id)
        .await?
        .ok_or_else(|| AppError::not_found("No such account"))?;
    Ok(sst::devices_of(&mut c, actor.enterprise_id, account_id)
        .await?
        .iter()
        .map(|d| device_api(d, None))
        .collect())
}

pub async fn unprovision(app: &App, actor: &Actor, account_id: i64, serial: &str) -> AppResult<()> {
    actor.require(Perm::ManageAccounts)?;
    let mut tx = app.store.begin().await?;
    let a = st::by_id(&mut tx, actor.enterprise_id, account_id)
        .await?
        .ok_or_else(|| AppError::not_found("No such account"))?;
    let found = sst::devices_of(&mut tx, actor.enterprise_id, account_id)
        .await?
        .into_iter()
        .any(|d| d.serial == serial);
    if !found || sst::delete_device(&mut tx, actor.enterprise_id, serial).await? == 0 {
        return Err(AppError::not_found("No such device on this account"));
    }
    finish_device_change(app, tx, actor, "device.remove", &a, serial).await
}

/// The rules a SIP registration follows (binding limit, licence, lockout).
pub mod registration;
