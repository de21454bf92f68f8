//! One console served over SSH: the `vcms` console's own event loop (`vcms_console::app`),
//! drawn into the channel instead of a local terminal, reading the client's keys from the
//! channel's bytes, and talking to this server's HTTP API as the SSH client ([`super::origin`]).
//!
//! Output is bounded: the frames drawn wait in a buffer of at most [`MAX_BACKLOG`] bytes
//! for the client's SSH window; a client that stops reading (or reads too slowly for that
//! much) is disconnected rather than let hold memory.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossterm::event::Event;
use ratatui::backend::{Backend, ClearType, CrosstermBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use ratatui::Terminal;
use russh::server::{Handle, Msg};
use russh::{ChannelId, ChannelWriteHalf};
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, Notify};
use vcms_console::app::App;
use vcms_console::i18n::Lang;
use vcms_console::theme::Theme;

use super::Input;
use crate::service::AppState;

/// Bytes drawn and not yet taken by the client before it is disconnected.
/// (A full redraw of the largest terminal drawn, 320×120 cells, is under 1 MiB.)
pub const MAX_BACKLOG: usize = 2 * 1024 * 1024;
/// Bytes of one key sequence or paste being decoded.
const MAX_INPUT: usize = 64 * 1024;

pub(crate) struct Params {
    pub app: AppState,
    pub api: String,
    pub peer: SocketAddr,
    pub email: String,
    pub key: Option<(i64, i64)>,
    pub term: String,
    pub lang: Option<String>,
    pub size: (u16, u16),
    pub idle: Duration,
}

/// The bytes drawn, waiting for the channel.
#[derive(Default)]
struct Backlog {
    bytes: Vec<u8>,
    /// More than [`MAX_BACKLOG`] waited: the client is disconnected.
    overflow: bool,
}

/// What the terminal writes into: the [`Backlog`], handed to the writer task at each flush.
#[derive(Clone)]
struct Sink {
    backlog: Arc<Mutex<Backlog>>,
    /// Wakes the writer task.
    ready: Arc<Notify>,
    /// Wakes the console's watch for an overflow (a notify of its own: one wake-up of a
    /// shared one could go to the wrong waiter and leave the writer asleep).
    overflow: Arc<Notify>,
    pending: Vec<u8>,
}

impl io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if self.pending.len() > MAX_BACKLOG {
            return Err(io::Error::other("ssh: too much output waiting"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut b = self.backlog.lock().unwrap_or_else(|e| e.into_inner());
        if b.overflow || b.bytes.len() + self.pending.len() > MAX_BACKLOG {
            b.overflow = true;
            self.pending.clear();
            drop(b);
            self.overflow.notify_one();
            return Err(io::Error::other("ssh: the client does not read its screen"));
        }
        b.bytes.append(&mut self.pending);
        drop(b);
        self.ready.notify_one();
        Ok(())
    }
}

/// Crossterm's drawing, with the size of the client's window instead of the server's tty.
struct ChannelBackend {
    inner: CrosstermBackend<Sink>,
    /// The client's window, as its last window change said.
    size: Arc<Mutex<Size>>,
}

impl Backend for ChannelBackend {
    fn draw<'a, I>(&mut self, content: I) -> io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        self.inner.draw(content)
    }
    fn hide_cursor(&mut self) -> io::Result<()> {
        self.inner.hide_cursor()
    }
    fn show_cursor(&mut self) -> io::Result<()> {
        self.inner.show_cursor()
    }
    fn get_cursor_position(&mut self) -> io::Result<Position> {
        Ok(Position::ORIGIN)
    }
    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> io::Result<()> {
        self.inner.set_cursor_position(position)
    }
    fn clear(&mut self) -> io::Result<()> {
        self.inner.clear()
    }
    fn clear_region(&mut self, clear_type: ClearType) -> io::Result<()> {
        self.inner.clear_region(clear_type)
    }
    fn size(&self) -> io::Result<Size> {
        Ok(*self.size.lock().unwrap_or_else(|e| e.into_inner()))
    }
    fn window_size(&mut self) -> io::Result<WindowSize> {
        Ok(WindowSize {
            columns_rows: self.size()?,
            pixels: Size::default(),
        })
    }
    fn flush(&mut self) -> io::Result<()> {
        Backend::flush(&mut self.inner)
    }
}

/// Run the console until the user quits, the connection ends, the idle timeout passes or
/// the client stops reading; then end the channel.
pub(crate) async fn run(
    p: Params,
    input: mpsc::Receiver<Input>,
    out: ChannelWriteHalf<Msg>,
    handle: Handle,
    channel: ChannelId,
) {
    let ip = p.peer.ip();
    tracing::info!(%ip, email = %p.email, key = p.key.is_some(), "ssh: console opened");
    let backlog = Arc::new(Mutex::new(Backlog::default()));
    let ready = Arc::new(Notify::new());
    let overflow = Arc::new(Notify::new());
    let sink = Sink {
        backlog: backlog.clone(),
        ready: ready.clone(),
        overflow: overflow.clone(),
        pending: vec![],
    };
    p.app.metrics.ssh_console(true);
    let (done_tx, done) = tokio::sync::oneshot::channel::<()>();
    let writer = tokio::spawn(write_out(out, backlog.clone(), ready.clone(), done));
    let outcome = tokio::select! {
        r = console(&p, input, sink) => r,
        _ = overflowed(&backlog, &overflow) => Err(anyhow::anyhow!("the client does not read its screen")),
    };
    p.app.metrics.ssh_console(false);
    match &outcome {
        Ok(why) => tracing::info!(%ip, email = %p.email, "ssh: console ended ({why})"),
        Err(e) => tracing::info!(%ip, email = %p.email, "ssh: console ended: {e:#}"),
    }
    // What is left is sent (the terminal restored), but a client that does not read gets no
    // more time: its channel is closed.
    let _ = done_tx.send(());
    let mut writer = writer;
    let grace = if outcome.is_ok() { 5 } else { 0 };
    if tokio::time::timeout(Duration::from_secs(grace), &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
    let _ = handle.exit_status_request(channel, 0).await;
    let _ = handle.eof(channel).await;
    let _ = handle.close(channel).await;
}

/// Resolves when the client has let more than [`MAX_BACKLOG`] bytes wait.
async fn overflowed(backlog: &Mutex<Backlog>, overflow: &Notify) {
    loop {
        if backlog.lock().unwrap_or_else(|e| e.into_inner()).overflow {
            return;
        }
        overflow.notified().await;
    }
}

/// Hand the backlog to the channel as the client's window allows; after `done`, what is
/// left (the terminal's restoring) and no more.
async fn write_out(
    out: ChannelWriteHalf<Msg>,
    backlog: Arc<Mutex<Backlog>>,
    ready: Arc<Notify>,
    mut done: tokio::sync::oneshot::Receiver<()>,
) {
    let mut w = out.make_writer();
    let mut finishing = false;
    loop {
        let bytes = std::mem::take(&mut backlog.lock().unwrap_or_else(|e| e.into_inner()).bytes);
        if !bytes.is_empty() {
            if w.write_all(&bytes).await.is_err() {
                return;
            }
            let _ = w.flush().await;
            continue;
        }
        if finishing {
            return;
        }
        tokio::select! {
            _ = ready.notified() => {}
            _ = &mut done => finishing = true,
        }
    }
}

/// The console itself: why it ended.
async fn console(
    p: &Params,
    input: mpsc::Receiver<Input>,
    mut sink: Sink,
) -> anyhow::Result<&'static str> {
    use std::io::Write;
    let lang = Lang::parse(p.lang.as_deref().unwrap_or("en"));
    let theme = Theme::for_term(&p.term);
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        super::origin::HEADER,
        reqwest::header::HeaderValue::from_str(&super::origin::header_value(&p.app, p.peer.ip()))?,
    );
    let client = vcms_api::client::Client::with_headers(&p.api, headers);
    let mut app = App::new(vcms_console::config::Config::default(), client, lang, theme)?;
    app.serve_remote(&p.email);
    if let Some(owner) = p.key {
        sign_in_with_key(&mut app, p, owner, lang).await;
    }
    vcms_console::term::enter_screen(&mut sink)?;
    let size = Arc::new(Mutex::new(Size::new(p.size.0, p.size.1)));
    let backend = ChannelBackend {
        inner: CrosstermBackend::new(sink.clone()),
        size: size.clone(),
    };
    let mut terminal = Terminal::new(backend)?;
    let (events_tx, mut events_rx) = mpsc::channel::<io::Result<Event>>(64);
    let ended = Arc::new(Mutex::new(None));
    let decoder = tokio::spawn(decode(input, events_tx, p.idle, size, ended.clone()));
    let events = Box::pin(futures_util::stream::poll_fn(move |cx| {
        events_rx.poll_recv(cx)
    }));
    let result = vcms_console::app::run(&mut terminal, &mut app, events, |_| Ok(())).await;
    decoder.abort();
    drop(terminal);
    let why = ended
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .unwrap_or("quit");
    vcms_console::term::leave_screen(&mut sink)?;
    if why == IDLE {
        let secs = p.idle.as_secs();
        let span = if secs.is_multiple_of(60) {
            format!("{} minutes", secs / 60)
        } else {
            format!("{secs} seconds")
        };
        write!(
            sink,
            "The vcms console ended after {span} without a key pressed.\r\n"
        )?;
    }
    sink.flush()?;
    if app.client.token().is_some() {
        // Nobody else holds this session's token: end it rather than let it idle out.
        let _ = app.client.logout().await;
    }
    result.map(|_| why)
}

const IDLE: &str = "idle";

/// Sign in as the owner of the key the connection proved it holds, as the SSH client (its
/// address, over SSH): signed in, or the emailed code asked, or the sign-in form with why not.
async fn sign_in_with_key(app: &mut App, p: &Params, owner: (i64, i64), lang: Lang) {
    let ip = p.peer.ip().to_string();
    let r = super::origin::over_ssh(crate::service::auth::ssh_key_sign_in(
        &p.app,
        owner,
        Some(lang.code()),
        Some(&ip),
    ))
    .await;
    let outcome = r.as_ref().err().map(|e| e.body.code);
    p.app
        .metrics
        .sign_in(crate::metrics::SignIn::of(outcome, false));
    match r {
        Ok(r) => {
            app.client.set_token(Some(r.token));
            app.signed_in(r.profile);
        }
        Err(e) => match e.body.mfa_token.clone() {
            Some(token) if e.body.code == vcms_api::ErrorCode::MfaRequired => {
                app.views.login.ask_mfa_code(token, e.body.message.clone())
            }
            _ => app.views.login.notice(e.body.message.clone(), true),
        },
    }
}

/// The client's bytes as terminal events (crossterm's own escape-sequence parser, via
/// terminput), window changes as resizes; ends the events (which quits the console) when
/// the connection ends or no key was pressed for `idle`.
async fn decode(
    mut input: mpsc::Receiver<Input>,
    events: mpsc::Sender<io::Result<Event>>,
    idle: Duration,
    size: Arc<Mutex<Size>>,
    ended: Arc<Mutex<Option<&'static str>>>,
) {
    let mut buf: Vec<u8> = vec![];
    loop {
        let got = tokio::time::timeout(idle, input.recv()).await;
        let why = match got {
            Err(_) => IDLE,
            Ok(None) => "connection closed",
            Ok(Some(Input::Resize(w, h))) => {
                *size.lock().unwrap_or_else(|e| e.into_inner()) = Size::new(w, h);
                if events.send(Ok(Event::Resize(w, h))).await.is_err() {
                    return;
                }
                continue;
            }
            Ok(Some(Input::Bytes(bytes))) => {
                for ev in parse(&mut buf, &bytes) {
                    if events.send(Ok(ev)).await.is_err() {
                        return;
                    }
                }
                continue;
            }
        };
        *ended.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
        return;
    }
}

/// The events in `bytes`, after what `buf` kept of an unfinished sequence (kept again when
/// this one ends unfinished). A lone ESC at the end of a read is the Esc key.
fn parse(buf: &mut Vec<u8>, bytes: &[u8]) -> Vec<Event> {
    let mut out = vec![];
    for (i, &b) in bytes.iter().enumerate() {
        buf.push(b);
        let more = i + 1 < bytes.len();
        if buf.as_slice() == [0x1b] && more {
            continue;
        }
        match terminput::Event::parse_from(buf) {
            Ok(Some(ev)) => {
                buf.clear();
                if let Ok(ev) = terminput_crossterm::to_crossterm(ev) {
                    out.push(ev);
                }
            }
            Ok(None) if buf.len() < MAX_INPUT => {}
            Ok(None) | Err(_) => buf.clear(),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    fn keys(evs: &[Event]) -> Vec<(KeyCode, KeyModifiers)> {
        evs.iter()
            .filter_map(|e| match e {
                Event::Key(KeyEvent {
                    code, modifiers, ..
                }) => Some((*code, *modifiers)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn keys_arrows_escape_and_split_sequences() {
        let mut buf = vec![];
        let evs = parse(&mut buf, b"q\x1b[A\x03");
        assert_eq!(
            keys(&evs),
            vec![
                (KeyCode::Char('q'), KeyModifiers::NONE),
                (KeyCode::Up, KeyModifiers::NONE),
                (KeyCode::Char('c'), KeyModifiers::CONTROL),
            ]
        );
        // A lone ESC read by itself is the Esc key.
        assert_eq!(
            keys(&parse(&mut buf, b"\x1b")),
            vec![(KeyCode::Esc, KeyModifiers::NONE)]
        );
        // A sequence cut between two reads is one key.
        assert!(parse(&mut buf, b"\x1b[").is_empty());
        assert_eq!(
            keys(&parse(&mut buf, b"B")),
            vec![(KeyCode::Down, KeyModifiers::NONE)]
        );
        // UTF-8 typed in two reads.
        let e = "é".as_bytes();
        assert!(parse(&mut buf, &e[..1]).is_empty());
        assert_eq!(
            keys(&parse(&mut buf, &e[1..])),
            vec![(KeyCode::Char('é'), KeyModifiers::NONE)]
        );
        // A paste arrives whole.
        let evs = parse(&mut buf, b"\x1b[200~hello\x1b[201~");
        assert!(
            matches!(&evs[..], [Event::Paste(s)] if s == "hello"),
            "{evs:?}"
        );
    }

    #[test]
    fn output_waiting_beyond_the_bound_disconnects() {
        use std::io::Write;
        let backlog = Arc::new(Mutex::new(Backlog::default()));
        let mut sink = Sink {
            backlog: backlog.clone(),
            ready: Arc::new(Notify::new()),
            overflow: Arc::new(Notify::new()),
            pending: vec![],
        };
        let frame = vec![b'x'; MAX_BACKLOG / 5];
        for _ in 0..5 {
            sink.write_all(&frame).expect("write");
            sink.flush().expect("flush");
        }
        sink.write_all(&frame).expect("write");
        assert!(sink.flush().is_err(), "a sixth unread frame is refused");
        let b = backlog.lock().expect("lock");
        assert!(b.overflow && b.bytes.len() <= MAX_BACKLOG);
    }
}
