//! Periodic jobs: license expiry warnings, the purge of trials that never licensed, clean-up.
//! Each job is idempotent and claims its work with a flag in the same transaction as the
//! email it queues, so several server instances can run them.

use crate::clock::{self, Millis, DAY};
use crate::error::AppResult;
use crate::mail::Outgoing;
use crate::service::license::WARN_BEFORE;
use crate::service::App;
use crate::store::{admin, license, outbox};

/// Trials that never activated a license are kept this long after the trial ends.
pub const PURGE_AFTER: i64 = 90 * DAY;
pub const PURGE_WARN_BEFORE: i64 = 7 * DAY;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct JobReport {
    pub expiry_warnings: usize,
    pub purge_warnings: usize,
    pub purged: usize,
}

pub async fn run_once(app: &App) -> AppResult<JobReport> {
    let now = app.now();
    let mut report = JobReport {
        expiry_warnings: warn_expiring_licenses(app, now).await?,
        ..JobReport::default()
    };
    purge_unlicensed_trials(app, now, &mut report).await?;
    purge_expired_records(app, now).await?;
    app.mailer.wake();
    Ok(report)
}

/// Licenses ending within 5 days: one email to the owner per license. Returns how many.
async fn warn_expiring_licenses(app: &App, now: Millis) -> AppResult<usize> {
    let mut warned = 0;
    let mut c = app.store.conn().await?;
    let expiring = license::expiring_unwarned(&mut c, now, now + WARN_BEFORE).await?;
    drop(c);
    for l in expiring {
        let Some(eid) = l.enterprise_id else { continue };
        let mut tx = app.store.begin().await?;
        if !license::claim_expiry_warning(&mut tx, l.id).await? {
            continue;
        }
        let (Some(owner), Some(e)) = (
            admin::owner_of(&mut tx, eid).await?,
            admin::enterprise_by_id(&mut tx, eid).await?,
        ) else {
            tx.commit().await?;
            continue;
        };
        let end = l.expires_at.unwrap_or(now);
        let days = clock::days_left(now, end).to_string();
        let (quantity, end_text) = (l.quantity.to_string(), clock::human(end));
        let vars: &[(&str, &str)] = &[
            ("name", &owner.name),
            ("license_number", &crate::license_number::display(&l.number)),
            ("enterprise_number", &e.number),
            ("quantity", &quantity),
            ("end", &end_text),
            ("days_left", &days),
        ];
        let mail = Outgoing {
            enterprise_id: Some(eid),
            ..Outgoing::to_admin(&owner, "license_expiry", vars)
        };
        app.mailer.enqueue(&mut tx, &mail).await?;
        tx.commit().await?;
        warned += 1;
    }
    Ok(warned)
}

/// Trials without any license: warn 7 days before the purge, purge 3 months after the trial.
async fn purge_unlicensed_trials(app: &App, now: Millis, report: &mut JobReport) -> AppResult<()> {
    let mut c = app.store.conn().await?;
    let to_warn =
        admin::unlicensed_trials_ended_before(&mut c, now - (PURGE_AFTER - PURGE_WARN_BEFORE))
            .await?;
    drop(c);
    for e in to_warn {
        let ends = e.trial_ends_at.unwrap_or(now);
        if ends + PURGE_AFTER <= now {
            let mut c = app.store.conn().await?;
            admin::delete_enterprise(&mut c, e.id).await?;
            tracing::info!(enterprise = %e.number, "purged: trial ended 3 months ago without a license");
            report.purged += 1;
            continue;
        }
        if e.purge_warned != 0 {
            continue;
        }
        let mut tx = app.store.begin().await?;
        if !admin::claim_purge_warning(&mut tx, e.id).await? {
            continue;
        }
        if let Some(owner) = admin::owner_of(&mut tx, e.id).await? {
            let date = clock::human(ends + PURGE_AFTER);
            let vars: &[(&str, &str)] = &[
                ("name", &owner.name),
                ("enterprise_number", &e.number),
                ("purge_date", &date),
            ];
            let mail = Outgoing {
                enterprise_id: Some(e.id),
                ..Outgoing::to_admin(&owner, "trial_purge", vars)
            };
            app.mailer.enqueue(&mut tx, &mail).await?;
        }
        tx.commit().await?;
        report.purge_warnings += 1;
    }
    Ok(())
}

/// Clean-up of expired secrets and records.
async fn purge_expired_records(app: &App, now: Millis) -> AppResult<()> {
    let mut c = app.store.conn().await?;
    admin::purge_tokens(&mut c, now - DAY).await?;
    admin::purge_captchas(&mut c, now).await?;
    crate::store::mail_requests::purge_mailbox_sends(&mut c, now).await?;
    admin::purge_sessions(&mut c, now - 7 * DAY).await?;
    admin::purge_attempts(&mut c, now - DAY, now).await?;
    admin::delete_stale_pending(&mut c, now - 30 * DAY).await?;
    outbox::purge_sent(&mut c, now - 30 * DAY).await?;
    crate::store::events::purge(&mut c, now - DAY).await?;
    crate::store::accounts::purge_batch_requests(&mut c, now - DAY).await?;
    crate::store::throttle::purge(&mut c, now - 2 * DAY).await?;
    Ok(())
}

/// Run the jobs every `interval` until stopped.
pub async fn run(
    app: std::sync::Arc<App>,
    interval: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if let Err(e) = run_once(&app).await {
            tracing::error!(error = %e, "periodic jobs");
        }
        tokio::select! {
            _ = stop.changed() => break,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}
