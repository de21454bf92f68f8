//! Live changes for consoles. A change writes an event row in its own transaction; after the
//! commit, `App::changed` wakes the streams of this instance at once, and streams on other
//! instances find the row on their next poll (within a second).

use std::time::Duration;

use crate::clock;
use crate::error::AppResult;
use crate::service::{auth, App, AppState};
use crate::store::{events, Conn};
use vcms_api::{ChangeEvent, EventKind};

/// How often a stream looks whether its session still lives, at the latest.
const SESSION_CHECK: Duration = Duration::from_secs(1);

pub async fn publish(
    app: &App,
    c: &mut Conn,
    enterprise_id: i64,
    kind: EventKind,
    account_id: Option<i64>,
) -> AppResult<()> {
    events::insert(c, enterprise_id, kind.as_str(), account_id, app.now()).await?;
    Ok(())
}

/// Tell this instance's streams to look now (call after commit).
pub fn wake(app: &App) {
    app.generation
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    app.changed.notify_waiters();
}

pub enum Item {
    Change(ChangeEvent),
    /// The session ended (why): the stream closes after this.
    Ended(String),
}

/// Whose session a stream lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    Admin,
    Endpoint,
}

async fn still_signed_in(app: &App, holder: Holder, token: &str) -> AppResult<()> {
    match holder {
        Holder::Admin => auth::check_session(app, token).await.map(|_| ()),
        Holder::Endpoint => crate::service::directory::session(app, token)
            .await
            .map(|_| ()),
    }
}

/// How many changes one poll answers at most (the stream reads as many per look).
pub const PAGE: i64 = 200;

/// The changes of an enterprise after `after`, at most [`PAGE`], for clients that poll
/// instead of holding a stream open, and the id to poll after next. Without `after`, none:
/// the id says where "from now" starts.
pub async fn poll(
    app: &App,
    enterprise_id: i64,
    after: Option<i64>,
) -> AppResult<(Vec<ChangeEvent>, i64)> {
    let mut c = app.store.conn().await?;
    let last = match after {
        Some(a) => a,
        None => return Ok((vec![], events::last_id(&mut c, enterprise_id).await?)),
    };
    let rows = events::after(&mut c, enterprise_id, last, PAGE).await?;
    let next = rows.last().map(|r| r.id).unwrap_or(last);
    Ok((rows.into_iter().filter_map(change).collect(), next))
}

/// An event row as the wire says it. A kind this server does not know (a broken row, or one
/// written by a newer server) is logged and skipped: the stream or page goes on.
fn change(r: events::EventRow) -> Option<ChangeEvent> {
    match r.kind.parse::<EventKind>() {
        Ok(kind) => Some(ChangeEvent {
            id: r.id,
            kind,
            account_id: r.account_id,
            at: clock::rfc3339(r.created_at),
        }),
        Err(e) => {
            tracing::error!(id = r.id, error = %e, "event stream");
            None
        }
    }
}

/// The events of an enterprise after `after` (or from now), as long as the session lives.
pub fn stream(
    app: AppState,
    enterprise_id: i64,
    token: String,
    after: Option<i64>,
    holder: Holder,
) -> impl futures_util::Stream<Item = Item> {
    struct St {
        app: AppState,
        eid: i64,
        token: String,
        last: Option<i64>,
        queue: std::collections::VecDeque<Item>,
        checked: std::time::Instant,
        /// Woken by a change on this instance since the last look at the session.
        recheck: bool,
        done: bool,
        holder: Holder,
    }
    let st = St {
        holder,
        app,
        eid: enterprise_id,
        token,
        last: after,
        queue: Default::default(),
        checked: std::time::Instant::now(),
        recheck: false,
        done: false,
    };
    futures_util::stream::unfold(st, |mut st| async move {
        loop {
            if let Some(item) = st.queue.pop_front() {
                return Some((item, st));
            }
            if st.done {
                return None;
            }
            // The session is looked at after every wake-up of this instance (disabling or
            // removing a colleague wakes the streams) and at least every second (changes
            // made through another instance).
            if st.recheck || st.checked.elapsed() >= SESSION_CHECK {
                st.recheck = false;
                st.checked = std::time::Instant::now();
                if let Err(e) = still_signed_in(&st.app, st.holder, &st.token).await {
                    st.done = true;
                    st.queue.push_back(Item::Ended(e.body.message));
                    continue;
                }
            }
            let notified = st.app.changed.notified();
            let found = async {
                let mut c = st.app.store.conn().await?;
                let last = match st.last {
                    Some(l) => l,
                    None => events::last_id(&mut c, st.eid).await?,
                };
                let rows = events::after(&mut c, st.eid, last, PAGE).await?;
                Ok::<_, crate::error::AppError>((last, rows))
            }
            .await;
            match found {
                Ok((last, rows)) => {
                    st.last = Some(rows.last().map(|r| r.id).unwrap_or(last));
                    st.queue
                        .extend(rows.into_iter().filter_map(change).map(Item::Change));
                }
                Err(e) => tracing::warn!(error = %e, "event stream"),
            }
            if st.queue.is_empty() {
                tokio::select! {
                    _ = notified => { st.recheck = true; }
                    _ = tokio::time::sleep(Duration::from_millis(1000)) => {}
                }
            }
        }
    })
}
