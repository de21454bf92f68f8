//! The enterprise as its admins see it, and operator commands.

use crate::clock;
use crate::error::{AppError, AppResult};
use crate::service::{license, Actor, App};
use crate::store::admin;
use vcms_api as api;

pub async fn get(app: &App, actor: &Actor) -> AppResult<api::Enterprise> {
    let now = app.now();
    let mut c = app.store.conn().await?;
    let e = admin::enterprise_by_id(&mut c, actor.enterprise_id)
        .await?
        .ok_or_else(|| AppError::not_found("No such enterprise"))?;
    Ok(api::Enterprise {
        number: e.number.clone(),
        company: e.company.clone(),
        country: e.country.clone(),
        status: e.status.parse()?,
        trial_ends_at: e.trial_ends_at.map(clock::rfc3339),
        trial_days_left: e
            .trial_ends_at
            .map(|t| clock::days_left(now, t))
            .unwrap_or(0),
        quota: license::quota(&mut c, e.id, now).await?,
    })
}

/// One line of `vcms-server enterprise list`.
#[derive(Debug, serde::Serialize)]
pub struct Summary {
    pub number: String,
    pub company: String,
    pub country: String,
    pub status: String,
    pub owner: String,
    pub quota: api::Quota,
    pub created_at: String,
}

pub async fn list(app: &App) -> AppResult<Vec<Summary>> {
    let now = app.now();
    let mut c = app.store.conn().await?;
    let mut out = Vec::new();
    for e in admin::list_enterprises(&mut c).await? {
        let owner = admin::owner_of(&mut c, e.id)
            .await?
            .map(|a| a.email)
            .unwrap_or_default();
        out.push(Summary {
            quota: license::quota(&mut c, e.id, now).await?,
            number: e.number,
            company: e.company,
            country: e.country,
            status: e.status,
            owner,
            created_at: clock::rfc3339(e.created_at),
        });
    }
    Ok(out)
}
