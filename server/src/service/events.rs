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
pub async fn stream(
    app: AppState,
    enterprise_id: i64,
    token: String,
    after: Option<i64>,
    holder: Holder,
) -> AppResult<impl futures_util::Stream<Item = Item>> {
    // "From now" is fixed here, before the answer's headers go out: a change the client
    // makes as soon as it is subscribed is after this point, however late the body is
    // first read.
    let after = match after {
        Some(a) => a,
        None => {
            let mut c = app.store.conn().await?;
            events::last_id(&mut c, enterprise_id).await?
        }
    };
    struct St {
        app: AppState,
        eid: i64,
        token: String,
        last: i64,
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
    Ok(futures_util::stream::unfold(st, |mut st| async move {
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
                let last = st.last;
                let rows = events::after(&mut c, st.eid, last, PAGE).await?;
                Ok::<_, crate::error::AppError>((last, rows))
            }
            .await;
            match found {
                Ok((last, rows)) => {
                    st.last = rows.last().map(|r| r.id).unwrap_or(last);
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
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    /// A stream opened "from now" carries a change committed after it was opened, even
    /// when that commit comes before the stream is first read (a client that subscribes and
    /// then makes a change at once: the HTTP answer's headers go out before the body is
    /// first polled).
    #[tokio::test]
    async fn a_stream_from_now_gets_changes_committed_before_its_first_read() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = crate::config::Config::loopback(dir.path());
        let server = crate::Server::build(cfg, std::sync::Arc::new(crate::clock::SystemClock))
            .await
            .unwrap();
        let app = server.app.clone();
        let new =
            auth::NewEnterprise::parse("Ann", "Co", "NL", "ann@example.com", "secret123", None)
                .unwrap();
        let (eid, _) = auth::create_enterprise(&app, new, true).await.unwrap();
        let s = stream(app.clone(), eid, "token".into(), None, Holder::Admin)
            .await
            .unwrap();
        let mut c = app.store.conn().await.unwrap();
        let kind = EventKind::AccountAdded.as_str();
        events::insert(&mut c, eid, kind, None, app.now())
            .await
            .unwrap();
        drop(c);
        let mut s = Box::pin(s);
        let first = tokio::time::timeout(Duration::from_secs(3), s.next()).await;
        assert!(
            matches!(first, Ok(Some(Item::Change(_)))),
            "the change was skipped"
        );
    }
}
