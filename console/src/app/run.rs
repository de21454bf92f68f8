//! The event loop: terminal input, a ticker and the answers of background requests
//! become actions for `App::update`; the requests it queued are spawned, one live event
//! stream follows each session token, and the screen is drawn when something changed.

use std::time::Duration;

use crossterm::event::Event;
use futures::{Stream, StreamExt};
use ratatui::backend::Backend;
use ratatui::Terminal;
use tokio::sync::mpsc;
use vcms_api::client::Client;

use super::{App, Toast};
use crate::action::Action;

/// Poll the terminal events, the replies and a ticker; update; draw when dirty.
pub async fn run<B, S, F>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    mut events: S,
    mut on_suspend: F,
) -> anyhow::Result<()>
where
    B: Backend,
    S: Stream<Item = std::io::Result<Event>> + Unpin,
    F: FnMut(&mut Terminal<B>) -> anyhow::Result<()>,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<Action>();
    let mut stream: Option<(String, tokio::task::JoinHandle<()>)> = None;
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    if let Ok(size) = terminal.size() {
        app.update(Action::Resize(size.width, size.height));
    }
    terminal.draw(|f| crate::ui::draw(f, app))?;
    loop {
        let action = tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(Event::Key(k))) => Action::Key(k),
                Some(Ok(Event::Paste(s))) => Action::Paste(s),
                Some(Ok(Event::Resize(w, h))) => Action::Resize(w, h),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
                None => Action::Quit,
            },
            Some(a) = rx.recv() => a,
            _ = ticker.tick() => Action::Tick,
        };
        let was_busy = app.busy();
        let is_tick = matches!(action, Action::Tick);
        app.update(action);
        spawn_requests(app, &tx);
        follow_session(app, &mut stream, &tx);
        // Remembered in the keyring of the machine the console runs on: never the server's.
        if let Some((email, password)) = app.remember.take().filter(|_| app.local) {
            if let Err(e) = crate::secrets::store_password(&email, &password) {
                tracing::info!("{e}");
                app.toast = Some(Toast {
                    text: e,
                    error: false,
                });
            }
        }
        if app.quit {
            if let Some((_, task)) = stream.take() {
                task.abort();
            }
            return Ok(());
        }
        if app.suspend {
            app.suspend = false;
            on_suspend(terminal)?;
            terminal.clear()?;
        }
        if !is_tick || app.busy() || was_busy {
            terminal.draw(|f| crate::ui::draw(f, app))?;
        }
    }
}

/// Start the requests the update queued; each answer comes back as an action.
fn spawn_requests(app: &mut App, tx: &mpsc::UnboundedSender<Action>) {
    for (id, req) in app.requests.queue.drain(..) {
        if !app.local {
            if let Some(reply) = crate::api::refuse_file(&req) {
                let _ = tx.send(Action::Reply {
                    id,
                    reply: Box::new(reply),
                });
                continue;
            }
        }
        let client = app.client.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let reply = crate::api::exec(client, req).await;
            let _ = tx.send(Action::Reply {
                id,
                reply: Box::new(reply),
            });
        });
    }
}

/// One live event stream per session token: a new token (signed in again) starts a new
/// one, none (signed out) stops it.
fn follow_session(
    app: &App,
    stream: &mut Option<(String, tokio::task::JoinHandle<()>)>,
    tx: &mpsc::UnboundedSender<Action>,
) {
    let token = app.client.token().map(str::to_string);
    if stream.as_ref().map(|s| &s.0) == token.as_ref() {
        return;
    }
    if let Some((_, task)) = stream.take() {
        task.abort();
    }
    if let Some(tok) = token {
        let task = tokio::spawn(live_events(app.client.clone(), tx.clone()));
        *stream = Some((tok, task));
    }
}

/// Follow the server's change events; reconnect after a pause when the stream ends.
async fn live_events(client: Client, tx: mpsc::UnboundedSender<Action>) {
    let mut after = None;
    loop {
        match client.events(after).await {
            Ok(mut stream) => {
                while let Some(item) = stream.next().await {
                    match item {
                        Ok(item) => {
                            if let vcms_api::client::StreamItem::Change(ev) = &item {
                                after = Some(ev.id);
                            }
                            let ended =
                                matches!(item, vcms_api::client::StreamItem::SessionEnded(_));
                            if tx.send(Action::Event(item)).is_err() || ended {
                                return;
                            }
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "event stream");
                            break;
                        }
                    }
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "event stream unavailable");
                if e.status() == Some(reqwest::StatusCode::UNAUTHORIZED) {
                    return;
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
