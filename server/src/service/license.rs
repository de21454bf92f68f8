//! Licenses and the account quota (DOMAIN.md "Licenses").

use crate::clock::{self, Millis, DAY};
use crate::error::{AppError, AppResult};
use crate::license_number;
use crate::service::{audit, Actor, App, Perm};
use crate::store::{self, accounts, admin, license, Conn};
use vcms_api::{self as api, ErrorCode};

pub const TRIAL_QUOTA: i64 = 20;
pub const WARN_BEFORE: Millis = 5 * DAY;
const YEAR: Millis = 365 * DAY;

/// Used and allowed accounts of an enterprise at `now`.
pub async fn quota(c: &mut Conn, enterprise_id: i64, now: Millis) -> AppResult<api::Quota> {
    let used = accounts::count(c, enterprise_id).await?;
    quota_with_used(c, enterprise_id, now, used).await
}

/// The quota when the number of accounts is already known.
pub async fn quota_with_used(
    c: &mut Conn,
    enterprise_id: i64,
    now: Millis,
    used: i64,
) -> AppResult<api::Quota> {
    let e = admin::enterprise_by_id(c, enterprise_id)
        .await?
        .ok_or_else(|| AppError::not_found("No such enterprise"))?;
    let (sum, n) = license::in_force(c, enterprise_id, now).await?;
    let trial = e.status == "active" && e.trial_ends_at.is_some_and(|t| t > now);
    let (quota, basis) = if n > 0 {
        (sum, api::QuotaBasis::Licensed)
    } else if trial {
        (TRIAL_QUOTA, api::QuotaBasis::Trial)
    } else {
        (0, api::QuotaBasis::Expired)
    };
    Ok(api::Quota {
        used,
        quota,
        can_add: (quota - used).max(0),
        in_force: n > 0 || trial,
        basis,
    })
}

/// Refuse when neither the trial nor a license is in force.
pub fn require_in_force(q: &api::Quota) -> AppResult<()> {
    if q.in_force {
        Ok(())
    } else {
        Err(AppError::forbidden(
            ErrorCode::LicenseExpired,
            "The trial has ended and no license is in force: activate a license under System → License",
        ))
    }
}

fn to_api(l: &license::LicenseRow, now: Millis) -> api::License {
    use api::LicenseStatus;
    let status = if l.status == "revoked" {
        LicenseStatus::Revoked
    } else if l.expires_at.is_some_and(|e| e <= now) {
        LicenseStatus::Expired
    } else {
        LicenseStatus::Activated
    };
    let days_left = match (status, l.expires_at) {
        (LicenseStatus::Activated, Some(end)) => clock::days_left(now, end),
        _ => 0,
    };
    let note = (status == LicenseStatus::Activated && days_left <= 30)
        .then(|| format!("Only {days_left} days left, contact your reseller to renew"));
    api::License {
        number: l.number.clone(),
        status,
        years: l.years,
        quantity: l.quantity,
        start: l.activated_at.map(clock::rfc3339),
        end: l.expires_at.map(clock::rfc3339),
        days_left,
        note,
    }
}

pub async fn list(app: &App, actor: &Actor) -> AppResult<api::LicenseList> {
    actor.require(Perm::ViewLicenses)?;
    let now = app.now();
    let mut c = app.store.conn().await?;
    let rows = license::of_enterprise(&mut c, actor.enterprise_id).await?;
    Ok(api::LicenseList {
        licenses: rows.iter().map(|l| to_api(l, now)).collect(),
        quota: quota(&mut c, actor.enterprise_id, now).await?,
    })
}

pub async fn add(app: &App, actor: &Actor, raw: &str) -> AppResult<api::AddLicenseResponse> {
    actor.require_owner()?;
    let number =
        license_number::normalize(raw).map_err(|m| AppError::invalid("license_number", m))?;
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let l = license::by_number(&mut tx, &number).await?.ok_or_else(|| {
        AppError::bad_request(
            ErrorCode::LicenseUnknown,
            "This license number does not exist: check it with your reseller",
        )
        .with_field("license_number")
    })?;
    match (l.status.as_str(), l.enterprise_id) {
        ("revoked", _) => {
            return Err(AppError::bad_request(
                ErrorCode::LicenseRevoked,
                "This license number has been revoked by the distributor",
            )
            .with_field("license_number"))
        }
        ("activated", Some(e)) if e == actor.enterprise_id => {
            return Err(AppError::conflict(
                "license_number",
                "This license is already bound to your enterprise",
            ))
        }
        ("activated", _) => {
            return Err(AppError::conflict(
                "license_number",
                "This license number is already bound to another enterprise",
            ))
        }
        _ => {}
    }
    let expires = now + l.years.saturating_mul(YEAR);
    if !license::bind(&mut tx, l.id, actor.enterprise_id, now, expires).await? {
        return Err(AppError::conflict(
            "license_number",
            "This license number is already bound to another enterprise",
        ));
    }
    let bound = license::by_number(&mut tx, &number)
        .await?
        .ok_or_else(|| AppError::internal("license vanished"))?;
    let q = quota(&mut tx, actor.enterprise_id, now).await?;
    audit::record(
        app,
        &mut tx,
        actor,
        "license.add",
        &number,
        &format!("{} accounts, {} years", l.quantity, l.years),
    )
    .await?;
    tx.commit().await?;
    super::events::wake(app);
    Ok(api::AddLicenseResponse {
        message: "License binding successfully".into(),
        license: to_api(&bound, now),
        quota: q,
    })
}

// ---- distributor (operator command line) ----

pub async fn issue(app: &App, quantity: i64, years: i64) -> AppResult<String> {
    if !(1..=1_000_000).contains(&quantity) {
        return Err(AppError::invalid(
            "quantity",
            "quantity must be 1 to 1000000 accounts",
        ));
    }
    if !(1..=10).contains(&years) {
        return Err(AppError::invalid("years", "years must be 1 to 10"));
    }
    let mut c = app.store.conn().await?;
    for _ in 0..5 {
        let number = license_number::generate();
        match license::insert(&mut c, &number, quantity, years, app.now()).await {
            Ok(_) => return Ok(number),
            Err(e) if store::is_unique_violation(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::internal(
        "could not generate a unique license number",
    ))
}

pub async fn revoke(app: &App, raw: &str) -> AppResult<()> {
    let number =
        license_number::normalize(raw).map_err(|m| AppError::invalid("license_number", m))?;
    let mut c = app.store.conn().await?;
    let l = license::by_number(&mut c, &number)
        .await?
        .ok_or_else(|| AppError::not_found("No license with this number"))?;
    if !license::revoke(&mut c, l.id, app.now()).await? {
        return Err(AppError::bad_request(
            ErrorCode::LicenseRevoked,
            "This license is already revoked",
        ));
    }
    Ok(())
}

/// Every license with the enterprise it is bound to (operator listing).
pub async fn list_all(app: &App) -> AppResult<Vec<(api::License, Option<String>)>> {
    let now = app.now();
    let mut c = app.store.conn().await?;
    let mut out = Vec::new();
    for l in license::all(&mut c).await? {
        let ent = match l.enterprise_id {
            Some(id) => admin::enterprise_by_id(&mut c, id).await?.map(|e| e.number),
            None => None,
        };
        let mut a = to_api(&l, now);
        if l.status == "issued" {
            a.status = api::LicenseStatus::Issued;
        }
        out.push((a, ent));
    }
    Ok(out)
}
