//! The work behind "Forgot password", "Send the activation email again" and a registration
//! with a known email. The request only queues one row, the same write whichever email it
//! names, and is answered at once; this worker resolves the email to an administrator
//! afterwards and queues the email, or drops the request. A mailbox gets at most 3 of these
//! emails an hour; requests beyond that are dropped, and the answer never tells.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::error::AppResult;
use crate::mail::Outgoing;
use crate::service::{auth, App};
use crate::store::{admin, mail_requests as st, Conn};

pub const PASSWORD_RESET: &str = "password_reset";
pub const ACTIVATION: &str = "activation";
pub const REGISTER_NOTICE: &str = "register_notice";

/// How often the worker looks without being woken (requests of other instances).
const POLL: Duration = Duration::from_millis(500);

/// Queue a request for the worker (the request handler's only write).
pub async fn enqueue(app: &App, kind: &str, email_key: &str) -> AppResult<()> {
    let mut c = app.store.conn().await?;
    st::insert(&mut c, kind, email_key, app.now()).await?;
    drop(c);
    app.mail_requests.notify_one();
    Ok(())
}

/// Count one email to `mailbox` against its hourly limit; false when the limit is reached.
pub async fn take_slot(app: &App, c: &mut Conn, mailbox: &str) -> AppResult<bool> {
    Ok(st::take_mailbox_slot(c, mailbox, app.now()).await?)
}

/// Work through what is queued now; returns how many requests were handled.
pub async fn process_due(app: &App) -> AppResult<usize> {
    let mut c = app.store.conn().await?;
    let ids = st::oldest(&mut c, 20).await?;
    drop(c);
    for &id in &ids {
        if let Err(e) = process_one(app, id).await {
            // Dropped rather than retried forever: the person can ask again.
            tracing::warn!(id, error = %e, "email request dropped");
            let mut c = app.store.conn().await?;
            st::delete(&mut c, id).await?;
        }
    }
    if !ids.is_empty() {
        app.mailer.wake();
    }
    Ok(ids.len())
}

async fn process_one(app: &App, id: i64) -> AppResult<()> {
    let mut tx = app.store.begin().await?;
    let Some(r) = st::take(&mut tx, id).await? else {
        return Ok(());
    };
    if let Some(a) = admin::admin_by_email_key(&mut tx, &r.email_key).await? {
        match r.kind.as_str() {
            PASSWORD_RESET => auth::send_reset(app, &mut tx, &a).await?,
            ACTIVATION => {
                if let Some(e) = admin::enterprise_by_id(&mut tx, a.enterprise_id).await? {
                    if e.status == "pending" && take_slot(app, &mut tx, &a.email).await? {
                        auth::send_activation(
                            app,
                            &mut tx,
                            a.id,
                            e.id,
                            &a.name,
                            &e.company,
                            &e.number,
                            &a.email,
                            &a.language,
                        )
                        .await?;
                    }
                }
            }
            REGISTER_NOTICE => {
                if take_slot(app, &mut tx, &a.email).await? {
                    let vars: &[(&str, &str)] = &[("name", &a.name), ("email", &a.email)];
                    app.mailer
                        .enqueue(&mut tx, &Outgoing::to_admin(&a, "register_attempt", vars))
                        .await?;
                }
            }
            other => tracing::warn!(kind = other, "unknown email request dropped"),
        }
    }
    tx.commit().await?;
    Ok(())
}

/// The worker: handle queued requests until told to stop.
pub async fn run(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            break;
        }
        match process_due(&app).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "email request worker"),
        }
        tokio::select! {
            _ = stop.changed() => {}
            _ = app.mail_requests.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}
