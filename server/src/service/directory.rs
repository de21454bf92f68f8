//! The enterprise directory that endpoints see: names, extensions, cloud numbers and who is
//! registered, with a version (the ETag) and a change stream fed by the event log.

use futures_util::StreamExt;

use crate::crypto;
use crate::error::{AppError, AppResult};
use crate::service::events::{self, Holder, Item};
use crate::service::{App, AppState};
use crate::store::{events as ev, sip as st};
use vcms_api::{self as api, ErrorCode};

/// The account and enterprise of an endpoint session token.
pub async fn session(app: &App, token: &str) -> AppResult<(i64, i64)> {
    let mut c = app.store.conn().await?;
    st::session_owner(&mut c, &crypto::token_hash(token.trim()))
        .await?
        .ok_or_else(|| {
            AppError::unauthorized(
                ErrorCode::EndpointSession,
                "This endpoint is not signed in: sign in with POST /endpoint/v1/login and send its token",
            )
        })
}

pub fn version(last_event: i64) -> String {
    format!("v{last_event}")
}

fn entry(r: st::DirectoryRow) -> api::DirectoryEntry {
    api::DirectoryEntry {
        account_id: r.id,
        name: r.name,
        extension: r.extension,
        cloud_number: r.cloud_number,
        registered: r.registered != 0,
    }
}

/// The whole directory of the endpoint's enterprise.
pub async fn get(app: &App, token: &str) -> AppResult<api::Directory> {
    let (_, eid) = session(app, token).await?;
    let mut c = app.store.conn().await?;
    // The version first: a change that lands while we read shows up again in the stream.
    let v = ev::last_id(&mut c, eid).await?;
    let rows = st::directory(&mut c, eid, None, app.now()).await?;
    Ok(api::Directory {
        version: version(v),
        entries: rows.into_iter().map(entry).collect(),
    })
}

pub enum DirItem {
    Change(api::DirectoryChange),
    Ended(String),
}

/// Directory changes after event `after` (or from now) while the endpoint is signed in.
pub async fn stream(
    app: AppState,
    token: String,
    after: Option<i64>,
) -> AppResult<impl futures_util::Stream<Item = DirItem>> {
    let (_, eid) = session(&app, &token).await?;
    let app2 = app.clone();
    Ok(events::stream(app, eid, token, after, Holder::Endpoint)
        .await?
        .then(move |item| {
            let app = app2.clone();
            async move {
                match item {
                    Item::Ended(why) => Some(DirItem::Ended(why)),
                    Item::Change(e) => dir_change(&app, eid, e).await.map(DirItem::Change),
                }
            }
        })
        .filter_map(futures_util::future::ready))
}

/// Directory changes after event `after`, at most one page, for endpoints that poll instead
/// of holding a stream open, and the id to poll after next (without `after`: none, and the
/// id "from now" starts at).
pub async fn poll(
    app: &App,
    token: &str,
    after: Option<i64>,
) -> AppResult<(Vec<api::DirectoryChange>, i64)> {
    let (_, eid) = session(app, token).await?;
    let (changes, next) = events::poll(app, eid, after).await?;
    let mut out = Vec::with_capacity(changes.len());
    for e in changes {
        out.extend(dir_change(app, eid, e).await);
    }
    Ok((out, next))
}

/// What an enterprise change means to the directory (None: nothing the directory shows).
async fn dir_change(app: &App, eid: i64, e: api::ChangeEvent) -> Option<api::DirectoryChange> {
    use api::{DirectoryChangeKind as Dir, EventKind as Ev};
    let mut kind = match e.kind {
        Ev::AccountAdded => Dir::Added,
        Ev::AccountChanged => Dir::Changed,
        Ev::AccountRemoved => Dir::Removed,
        Ev::AccountsImported => Dir::Reload,
        Ev::BindingChanged => Dir::Registration,
        Ev::EmailFailed => return None,
    };
    let mut found = None;
    if let (Some(id), true) = (e.account_id, !matches!(kind, Dir::Removed | Dir::Reload)) {
        let row = match app.store.conn().await {
            Ok(mut c) => st::directory(&mut c, eid, Some(id), app.now())
                .await
                .ok()
                .and_then(|mut v| v.pop()),
            Err(_) => None,
        };
        match row {
            Some(r) => found = Some(entry(r)),
            None => kind = Dir::Removed,
        }
    }
    Some(api::DirectoryChange {
        id: e.id,
        kind,
        account_id: e.account_id,
        entry: found,
        version: version(e.id),
    })
}
