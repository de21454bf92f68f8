//! The console over SSH (issue 20): `ssh -p 2222 EMAIL@host` opens the same console as the
//! `vcms` binary, one session per connection, with nothing to install.
//!
//! The protocol is russh's. A connection is refused before the handshake when its address, or
//! the server, has as many as it may have. The user name is the sign-in email: a public key
//! the admin added to their profile signs them in (MFA still asked when it is on); any other
//! client is let in to the console's own sign-in form (keyboard-interactive with no prompt),
//! where the HTTP sign-in's freeze, captcha and audit rules apply, since the console signs in
//! through the API like any client ([`origin`]). Passwords are never taken by SSH itself.

mod console;
pub mod origin;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::keys::{Algorithm, HashAlg, PrivateKey};
use russh::server::{Auth, ChannelOpenHandle, Msg, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId, MethodKind, MethodSet};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::SshConfig;
use crate::service::AppState;

/// The host key's file in the data directory.
pub const HOST_KEY_FILE: &str = "ssh_host_ed25519_key";
/// A connection must open its console within this time of connecting.
const LOGIN_GRACE: Duration = Duration::from_secs(60);
/// The largest terminal drawn (a bigger one is drawn at this size).
pub const MAX_COLS: u16 = 320;
pub const MAX_ROWS: u16 = 120;

pub fn host_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(HOST_KEY_FILE)
}

/// The host key in `data_dir`, made (0600) when there is none yet.
pub fn host_key(data_dir: &Path) -> anyhow::Result<PrivateKey> {
    let path = host_key_path(data_dir);
    if path.exists() {
        return russh::keys::load_secret_key(&path, None)
            .map_err(|e| anyhow::anyhow!("ssh: cannot read the host key {}: {e}", path.display()));
    }
    let key = PrivateKey::random(&mut russh::keys::key::safe_rng(), Algorithm::Ed25519)
        .map_err(|e| anyhow::anyhow!("ssh: cannot make a host key: {e}"))?;
    let text = key
        .to_openssh(russh::keys::ssh_key::LineEnding::LF)
        .map_err(|e| anyhow::anyhow!("ssh: cannot write the host key: {e}"))?;
    crate::crypto::write_private(&path, text.as_bytes())
        .map_err(|e| anyhow::anyhow!("ssh: cannot write {}: {e}", path.display()))?;
    Ok(key)
}

/// `SHA256:…`, as `ssh` shows it when it first meets the server.
pub fn fingerprint(key: &PrivateKey) -> String {
    key.public_key().fingerprint(HashAlg::Sha256).to_string()
}

/// The SSH listener, while it runs.
pub struct SshServer {
    pub addr: SocketAddr,
    pub fingerprint: String,
    task: JoinHandle<()>,
}

impl SshServer {
    /// Wait for the listener and every console to end (after the stop signal).
    pub async fn join(self) {
        let _ = self.task.await;
    }
}

/// What every connection shares: the service, where its API listens, the limits.
struct Shared {
    app: AppState,
    /// The HTTP API the consoles talk to (this process's own listener).
    api: String,
    config: SshConfig,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    total: usize,
    per_address: HashMap<IpAddr, usize>,
}

/// A connection's place in the limits, given back when it ends.
struct Permit {
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl Shared {
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Permit> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let here = open.per_address.get(&ip).copied().unwrap_or(0);
        if open.total >= self.config.max_connections || here >= self.config.max_per_address {
            return None;
        }
        open.total += 1;
        *open.per_address.entry(ip).or_default() += 1;
        Some(Permit {
            shared: self.clone(),
            ip,
        })
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut open = self.shared.open.lock().unwrap_or_else(|e| e.into_inner());
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.per_address.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.per_address.remove(&self.ip);
            }
        }
    }
}

/// The base URL of the HTTP listener at `addr`, as seen from this machine.
fn local_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(a) if a.is_unspecified() => IpAddr::from([127, 0, 0, 1]),
        IpAddr::V6(a) if a.is_unspecified() => IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// Listen on `ssh.listen` (None when it is not set) until `stop`.
pub async fn start(
    app: AppState,
    config: &SshConfig,
    data_dir: &Path,
    http: SocketAddr,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<Option<SshServer>> {
    let Some(listen) = config.listen.as_deref().filter(|l| !l.trim().is_empty()) else {
        return Ok(None);
    };
    let key = host_key(data_dir)?;
    let fingerprint = fingerprint(&key);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("ssh.listen: cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr()?;
    let idle = Duration::from_secs(config.idle_timeout_secs.max(1));
    let russh_config = Arc::new(russh::server::Config {
        server_id: russh::SshId::Standard("SSH-2.0-vcms".into()),
        methods: MethodSet::from(&[MethodKind::PublicKey, MethodKind::KeyboardInteractive][..]),
        auth_rejection_time: Duration::from_millis(500),
        auth_rejection_time_initial: Some(Duration::ZERO),
        keys: vec![key],
        max_auth_attempts: 6,
        // The console's own idle timeout counts keys pressed; this one is the backstop.
        inactivity_timeout: Some(idle + Duration::from_secs(120)),
        keepalive_interval: Some(Duration::from_secs(30)),
        keepalive_max: 4,
        nodelay: true,
        ..Default::default()
    });
    let shared = Arc::new(Shared {
        app,
        api: local_url(http),
        config: config.clone(),
        open: Mutex::new(Open::default()),
    });
    let task = tokio::spawn(accept_loop(listener, shared, russh_config, stop));
    Ok(Some(SshServer {
        addr,
        fingerprint,
        task,
    }))
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    config: Arc<russh::server::Config>,
    mut stop: watch::Receiver<bool>,
) {
    let mut sessions = tokio::task::JoinSet::new();
    // Refusals are logged at most once a second, with how many were not: a flood of
    // connections does not flood the log.
    let mut refused: (Option<std::time::Instant>, u64) = (None, 0);
    loop {
        let (socket, peer) = tokio::select! {
            _ = stopped(&mut stop) => break,
            Some(_) = sessions.join_next(), if !sessions.is_empty() => continue,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "ssh: accept");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let admitted = shared.admit(peer.ip());
        shared.app.metrics.ssh_connection(admitted.is_some());
        let Some(permit) = admitted else {
            refused.1 += 1;
            if refused
                .0
                .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
            {
                tracing::warn!(ip = %peer.ip(), refused = refused.1, "ssh: connections refused: too many open");
                refused = (Some(std::time::Instant::now()), 0);
            }
            continue;
        };
        let _ = socket.set_nodelay(true);
        let (started_tx, started) = watch::channel(false);
        let handler = Connection {
            shared: shared.clone(),
            peer,
            _permit: permit,
            user: String::new(),
            key: None,
            console: None,
            started: started_tx,
        };
        let config = config.clone();
        let mut stop = stop.clone();
        sessions.spawn(async move {
            let session = match russh::server::run_stream(config, socket, handler).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(error = %e, "ssh: handshake");
                    return;
                }
            };
            let handle = session.handle();
            let mut started = started;
            let grace = async {
                let opened = tokio::time::timeout(LOGIN_GRACE, stopped(&mut started)).await;
                if opened.is_err() {
                    return;
                }
                std::future::pending::<()>().await
            };
            tokio::select! {
                r = session => {
                    if let Err(e) = r {
                        tracing::debug!(error = %e, "ssh: connection");
                    }
                }
                _ = grace => {
                    tracing::info!(ip = %peer.ip(), "ssh: no console opened within a minute: disconnected");
                    let _ = handle.disconnect(russh::Disconnect::ByApplication, "no console opened within a minute".into(), String::new()).await;
                }
                _ = stopped(&mut stop) => {
                    let _ = handle.disconnect(russh::Disconnect::ByApplication, "the server is stopping".into(), String::new()).await;
                }
            }
        });
    }
    sessions.shutdown().await;
}

/// Resolves when the flag is set (the server stops, the console started).
async fn stopped(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|s| *s).await;
}

/// What reaches a console from its connection.
pub(crate) enum Input {
    Bytes(Vec<u8>),
    Resize(u16, u16),
}

/// The terminal the client asked for (pty-req, env), until the shell starts.
#[derive(Default)]
struct Terminal {
    /// A PTY was asked for (`ssh -t`, the default with no command).
    pty: bool,
    term: String,
    lang: Option<String>,
    size: (u16, u16),
}

/// One SSH connection: its authentication, then at most one console.
struct Connection {
    shared: Arc<Shared>,
    peer: SocketAddr,
    _permit: Permit,
    /// The SSH user name: the sign-in email.
    user: String,
    /// The admin and key the client proved it holds (public key authentication).
    key: Option<(i64, i64)>,
    console: Option<ConsoleState>,
    started: watch::Sender<bool>,
}

enum ConsoleState {
    /// The channel is open; the terminal is being described.
    Opening(Channel<Msg>, Terminal),
    Running(ChannelId, mpsc::Sender<Input>),
    Ended,
}

/// The size to draw for a window of `cols`×`rows` (80×24 when the client does not say).
fn clamp(cols: u32, rows: u32) -> (u16, u16) {
    if cols == 0 || rows == 0 {
        return (80, 24);
    }
    (
        cols.clamp(1, u32::from(MAX_COLS)) as u16,
        rows.clamp(1, u32::from(MAX_ROWS)) as u16,
    )
}

impl Connection {
    async fn key_owner(&self, user: &str, key: &russh::keys::PublicKey) -> Option<(i64, i64)> {
        let fp = key.fingerprint(HashAlg::Sha256).to_string();
        match crate::service::auth::ssh_key_owner(&self.shared.app, user, &fp).await {
            Ok(owner) => owner,
            Err(e) => {
                tracing::warn!(error = %e.body.message, "ssh: key lookup");
                None
            }
        }
    }

    fn terminal(&mut self, channel: ChannelId) -> Option<&mut Terminal> {
        match &mut self.console {
            Some(ConsoleState::Opening(c, t)) if c.id() == channel => Some(t),
            _ => None,
        }
    }
}

impl russh::server::Handler for Connection {
    type Error = russh::Error;

    async fn auth_none(&mut self, user: &str) -> Result<Auth, Self::Error> {
        self.user = user.to_string();
        Ok(Auth::Reject {
            proceed_with_methods: Some(MethodSet::from(
                &[MethodKind::PublicKey, MethodKind::KeyboardInteractive][..],
            )),
            partial_success: false,
        })
    }

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: russh::server::PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(match self.key_owner(user, offer.public_key).await {
            Some(_) => Auth::Accept,
            None => Auth::reject(),
        })
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        match self.key_owner(user, key.public_key).await {
            Some(owner) => {
                self.user = user.to_string();
                self.key = Some(owner);
                Ok(Auth::Accept)
            }
            None => Ok(Auth::reject()),
        }
    }

    /// Anyone may reach the console's sign-in form, as anyone may reach the web's.
    async fn auth_keyboard_interactive<'a>(
        &'a mut self,
        user: &str,
        _submethods: &str,
        _response: Option<russh::server::Response<'a>>,
    ) -> Result<Auth, Self::Error> {
        self.user = user.to_string();
        self.key = None;
        Ok(Auth::Accept)
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if self.console.is_some() {
            reply
                .reject(russh::ChannelOpenFailure::AdministrativelyProhibited)
                .await;
            return Ok(());
        }
        reply.accept().await;
        self.console = Some(ConsoleState::Opening(channel, Terminal::default()));
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        term: &str,
        col_width: u32,
        row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        match self.terminal(channel) {
            Some(t) => {
                t.pty = true;
                t.term = term.chars().take(64).collect();
                t.size = clamp(col_width, row_height);
                session.channel_success(channel)
            }
            None => session.channel_failure(channel),
        }
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        value: &str,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if let Some(t) = self.terminal(channel) {
            if matches!(name, "LANG" | "LC_ALL" | "LC_MESSAGES") && value.len() <= 64 {
                // LC_ALL and LC_MESSAGES win over LANG, as in a shell.
                if name != "LANG" || t.lang.is_none() {
                    t.lang = Some(value.to_string());
                }
            }
        }
        Ok(())
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Some(ConsoleState::Opening(c, t)) = self.console.take() else {
            return session.channel_failure(channel);
        };
        if c.id() != channel {
            self.console = Some(ConsoleState::Opening(c, t));
            return session.channel_failure(channel);
        }
        session.channel_success(channel)?;
        if !t.pty {
            // No PTY asked for (`ssh -T`): nothing can be drawn.
            let handle = session.handle();
            tokio::spawn(async move {
                let _ = handle
                    .data(
                        channel,
                        "The vcms console needs a terminal: connect with ssh -t\r\n"
                            .as_bytes()
                            .to_vec(),
                    )
                    .await;
                let _ = handle.exit_status_request(channel, 1).await;
                let _ = handle.eof(channel).await;
                let _ = handle.close(channel).await;
            });
            self.console = Some(ConsoleState::Ended);
            return Ok(());
        }
        let (tx, rx) = mpsc::channel(64);
        let params = console::Params {
            app: self.shared.app.clone(),
            api: self.shared.api.clone(),
            peer: self.peer,
            email: self.user.clone(),
            key: self.key,
            term: t.term,
            lang: t.lang,
            size: t.size,
            idle: Duration::from_secs(self.shared.config.idle_timeout_secs.max(1)),
        };
        let (_read, write) = c.split();
        let handle = session.handle();
        tokio::spawn(console::run(params, rx, write, handle, channel));
        let _ = self.started.send(true);
        self.console = Some(ConsoleState::Running(channel, tx));
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        _data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.data(
            channel,
            "This server serves the vcms console only: connect without a command\r\n"
                .as_bytes()
                .to_vec(),
        )?;
        session.exit_status_request(channel, 1)?;
        session.eof(channel)?;
        session.close(channel)?;
        self.console = Some(ConsoleState::Ended);
        Ok(())
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        _name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_failure(channel)
    }

    async fn window_change_request(
        &mut self,
        channel: ChannelId,
        col_width: u32,
        row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        let (w, h) = clamp(col_width, row_height);
        match &mut self.console {
            Some(ConsoleState::Running(id, tx)) if *id == channel => {
                let _ = tx.send(Input::Resize(w, h)).await;
            }
            Some(ConsoleState::Opening(c, t)) if c.id() == channel => t.size = (w, h),
            _ => {}
        }
        Ok(())
    }

    async fn data(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if let Some(ConsoleState::Running(id, tx)) = &self.console {
            if *id == channel {
                // Waits while the console is busy: the client is slowed, nothing piles up.
                let _ = tx.send(Input::Bytes(data.to_vec())).await;
            }
        }
        Ok(())
    }
}
