//! Email: templates, the outbox (written in the caller's transaction), and the worker that
//! delivers through SMTP or into a folder of `.eml` files. Nothing is dropped silently: a
//! message is delivered, waiting for a retry, or failed with its reason.

pub(crate) mod templates;
pub(crate) mod worker;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};

use crate::clock::{Millis, SharedClock, HOUR, SECOND};
use crate::config::{Config, MailTransportKind, SmtpSecurity};
use crate::crypto::{self, SecretBox};
use crate::error::AppError;
use crate::store::admin::AdminRow;
use crate::store::outbox::{self, NewMessage, NewWorker, OutboxRow};
use crate::store::{Conn, Store};
use worker::{wall_now, Identity, HEARTBEAT, LEASE};

/// What the caller wants sent; sealed and queued by [`Mailer::enqueue`].
pub struct Outgoing<'a> {
    pub enterprise_id: Option<i64>,
    pub account_id: Option<i64>,
    pub account_label: Option<&'a str>,
    pub kind: &'a str,
    pub recipient: &'a str,
    pub lang: &'a str,
    pub vars: &'a [(&'a str, &'a str)],
}

impl<'a> Outgoing<'a> {
    /// An email of `kind` to an administrator, at their sign-in address and in their
    /// language, about no cloud account.
    pub fn to_admin(a: &'a AdminRow, kind: &'a str, vars: &'a [(&'a str, &'a str)]) -> Self {
        Outgoing {
            enterprise_id: Some(a.enterprise_id),
            account_id: None,
            account_label: None,
            kind,
            recipient: &a.email,
            lang: &a.language,
            vars,
        }
    }
}

enum Transport {
    /// `.eml` files in `Mailer::folder`, written by us so that each is 0600 from its
    /// first byte (lettre's file transport creates them 0644).
    Folder,
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

/// Outcome of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    Retry {
        error: String,
        next_at: Millis,
    },
    Failed {
        error: String,
    },
    /// Kept queued, attempt not counted: this server cannot use its mail transport as
    /// configured (certificate not trusted, sign-in refused…). Nothing is sent until it can.
    Held {
        error: String,
    },
}

/// Why an attempt did not deliver.
enum Failure {
    Temporary(String),
    Permanent(String),
    /// A problem of the settings or of the SMTP server's set-up, not of this message.
    Config(String),
}

/// A configuration problem the worker has met: it stops sending and tries the connection
/// again (EHLO, STARTTLS, sign-in; nothing sent) every `config_retry`.
#[derive(Debug, Clone)]
struct Problem {
    error: String,
    next_check: Instant,
}

pub struct Mailer {
    store: Store,
    clock: SharedClock,
    secrets: SecretBox,
    transport: Transport,
    from: Mailbox,
    max_attempts: i64,
    retry_base: Millis,
    poll: Duration,
    notify: Notify,
    pub description: String,
    /// The folder of the folder transport (emails carry codes, pincodes and passwords).
    folder: std::path::PathBuf,
    me: Identity,
    problem: Mutex<Option<Problem>>,
    config_retry: Duration,
    metrics: Arc<crate::metrics::Metrics>,
}

/// Owner-only folder (0700) and files (0600): delivered emails hold secrets in clear.
fn private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Build the SMTP transport of the settings (shared by the worker and `check-config`).
fn smtp_transport(cfg: &Config) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let s = &cfg.smtp;
    let tls = || -> anyhow::Result<TlsParameters> {
        let mut b = TlsParameters::builder(s.host.clone());
        if let Some(path) = &s.ca_file {
            let pem = std::fs::read(path).map_err(|e| {
                anyhow::anyhow!("smtp.ca_file {}: cannot read it: {e}", path.display())
            })?;
            let cert = Certificate::from_pem(&pem).map_err(|e| {
                anyhow::anyhow!(
                    "smtp.ca_file {}: not a PEM certificate: {e}",
                    path.display()
                )
            })?;
            if !String::from_utf8_lossy(&pem).contains("BEGIN CERTIFICATE") {
                anyhow::bail!("smtp.ca_file {}: no PEM certificate in it", path.display());
            }
            b = b.add_root_certificate(cert);
        }
        b.build()
            .map_err(|e| anyhow::anyhow!("smtp: cannot set up TLS: {e}"))
    };
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host);
    b = match s.security {
        SmtpSecurity::None => b,
        SmtpSecurity::Starttls => b.tls(Tls::Required(tls()?)),
        SmtpSecurity::Tls => b.tls(Tls::Wrapper(tls()?)),
    }
    .port(s.port)
    .timeout(Some(Duration::from_secs(s.timeout_secs.max(1))));
    if let (Some(u), Some(p)) = (&s.username, &s.password) {
        b = b.credentials(Credentials::new(u.clone(), p.clone()));
    }
    Ok(b.build())
}

/// Sort an SMTP error: a certificate, TLS or sign-in problem is the configuration's (every
/// message would meet it), the rest is about this message (permanent or temporary).
fn classify_smtp(e: &lettre::transport::smtp::Error) -> Failure {
    let text = e.to_string();
    let mut chain = text.to_lowercase();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref() {
                chain.push_str(&inner.to_string().to_lowercase());
            }
        }
        chain.push_str(&s.to_string().to_lowercase());
        src = s.source();
    }
    let code = e.status().map(|c| c.to_string()).unwrap_or_default();
    if e.is_tls()
        || chain.contains("certificate")
        || chain.contains("handshake")
        || chain.contains("alert")
    {
        return Failure::Config(format!(
            "SMTP: TLS with the server failed, most likely its certificate is not trusted ({text}). \
             Give the server a certificate from a public CA, or set smtp.ca_file to the PEM file of the CA that signed it"
        ));
    }
    if chain.contains("starttls") {
        return Failure::Config(format!(
            "SMTP: STARTTLS is missing or required ({text}). Check smtp.security and smtp.port"
        ));
    }
    if matches!(code.as_str(), "530" | "534" | "535" | "538") || chain.contains("authentication") {
        return Failure::Config(format!(
            "SMTP: the server refused to sign in ({text}). Check smtp.username and smtp.password"
        ));
    }
    if e.is_permanent() {
        Failure::Permanent(format!("SMTP: {text}"))
    } else {
        Failure::Temporary(format!("SMTP: {text}"))
    }
}

/// Try the SMTP settings without sending anything: connect, EHLO, STARTTLS or TLS, sign in.
/// Ok with a description, or the problem in words (for `vcms-server check-config`).
pub async fn check_smtp(cfg: &Config) -> Result<String, String> {
    let t = smtp_transport(cfg).map_err(|e| e.to_string())?;
    let what = match cfg.smtp.security {
        SmtpSecurity::None => "connected, EHLO",
        SmtpSecurity::Starttls => "connected, EHLO, STARTTLS",
        SmtpSecurity::Tls => "connected over TLS, EHLO",
    };
    let auth = if cfg.smtp.username.is_some() {
        ", signed in"
    } else {
        ""
    };
    match t.test_connection().await {
        Ok(true) => Ok(format!("{what}{auth}")),
        Ok(false) => Err("SMTP: the server closed the connection".into()),
        Err(e) => Err(match classify_smtp(&e) {
            Failure::Config(m) | Failure::Permanent(m) | Failure::Temporary(m) => m,
        }),
    }
}

impl Mailer {
    pub fn new(
        cfg: &Config,
        store: Store,
        clock: SharedClock,
        secrets: SecretBox,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> anyhow::Result<Self> {
        let from: Mailbox =
            cfg.mail.from.parse().map_err(|e| {
                anyhow::anyhow!("mail.from {:?} is not an address: {e}", cfg.mail.from)
            })?;
        let (transport, description) = match cfg.mail.transport {
            MailTransportKind::Folder => {
                let dir = cfg.outbox_dir();
                std::fs::create_dir_all(&dir).map_err(|e| {
                    anyhow::anyhow!("cannot create outbox folder {}: {e}", dir.display())
                })?;
                private_dir(&dir).map_err(|e| {
                    anyhow::anyhow!("cannot restrict outbox folder {}: {e}", dir.display())
                })?;
                let d = format!("folder {}", dir.display());
                (Transport::Folder, d)
            }
            MailTransportKind::Smtp => {
                let s = &cfg.smtp;
                let d = format!("smtp {}:{} ({:?})", s.host, s.port, s.security).to_lowercase();
                (Transport::Smtp(smtp_transport(cfg)?), d)
            }
        };
        Ok(Self {
            store,
            clock,
            secrets,
            transport,
            from,
            max_attempts: cfg.mail.max_attempts,
            retry_base: cfg.mail.retry_base_secs.max(1) * SECOND,
            poll: Duration::from_millis(cfg.mail.poll_millis.max(10)),
            notify: Notify::new(),
            description,
            folder: cfg.outbox_dir(),
            me: Identity::current(),
            problem: Mutex::new(None),
            config_retry: Duration::from_secs(cfg.mail.config_retry_secs.max(1)),
            metrics,
        })
    }

    /// Queue an email inside the caller's transaction. Bodies are sealed: account emails
    /// carry passwords and pincodes.
    pub async fn enqueue(&self, c: &mut Conn, m: &Outgoing<'_>) -> Result<i64, AppError> {
        let r = templates::render(m.kind, m.lang, m.vars)?;
        let text = self.secrets.seal(&r.text);
        let html = self.secrets.seal(&r.html);
        let key = crate::crypto::new_token();
        let message_key = key.get(..22).unwrap_or(&key);
        let id = outbox::insert(
            c,
            &NewMessage {
                enterprise_id: m.enterprise_id,
                account_id: m.account_id,
                account_label: m.account_label,
                kind: m.kind,
                recipient: m.recipient,
                subject: &r.subject,
                body_text_enc: &text,
                body_html_enc: &html,
                message_key,
            },
            self.clock.now(),
        )
        .await?;
        self.metrics.email(crate::metrics::Email::Queued);
        Ok(id)
    }

    /// Wake the worker (call after committing a transaction that queued mail).
    pub fn wake(&self) {
        self.notify.notify_one();
    }

    /// Open a queued message's bodies (for the test-email command and tests).
    pub fn open_bodies(&self, row: &OutboxRow) -> Result<(String, String), AppError> {
        Ok((
            self.secrets.open(&row.body_text_enc)?,
            self.secrets.open(&row.body_html_enc)?,
        ))
    }

    /// The Message-ID of a queued message: the same on every attempt, so that a copy sent
    /// twice (the worker died between the server's OK and recording it) is dropped as a
    /// duplicate by mail systems.
    pub fn message_id(&self, row: &OutboxRow) -> String {
        let domain = self.from.email.domain();
        match &row.message_key {
            Some(k) => format!("<outbox-{}-{k}@{domain}>", row.id),
            None => format!("<outbox-{}-{}@{domain}>", row.id, row.created_at),
        }
    }

    async fn attempt(&self, row: &OutboxRow) -> Result<(), Failure> {
        let to: Mailbox = row.recipient.parse().map_err(|e| {
            Failure::Permanent(format!(
                "invalid recipient address {:?}: {e}",
                row.recipient
            ))
        })?;
        let (text, html) = self
            .open_bodies(row)
            .map_err(|e| Failure::Permanent(e.body.message))?;
        let msg = Message::builder()
            .from(self.from.clone())
            .to(to)
            .message_id(Some(self.message_id(row)))
            .subject(row.subject.clone())
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| Failure::Permanent(format!("cannot build the message: {e}")))?;
        match &self.transport {
            Transport::Folder => {
                let path = self.folder.join(format!(
                    "{}.eml",
                    crypto::random_from(b"0123456789abcdef", 32)
                ));
                let bytes = msg.formatted();
                let write = |e: String| {
                    Failure::Temporary(format!("cannot write to the outbox folder: {e}"))
                };
                tokio::task::spawn_blocking(move || crypto::write_private(&path, &bytes))
                    .await
                    .map_err(|e| write(e.to_string()))?
                    .map_err(|e| write(e.to_string()))
            }
            Transport::Smtp(t) => t.send(msg).await.map(|_| ()).map_err(|e| classify_smtp(&e)),
        }
    }

    /// Try one claimed message and record the outcome.
    async fn deliver(&self, row: &OutboxRow) -> Result<Delivery, AppError> {
        let outcome = match self.attempt(row).await {
            Ok(()) => Delivery::Sent,
            Err(Failure::Permanent(error)) => Delivery::Failed { error },
            Err(Failure::Config(error)) => Delivery::Held { error },
            Err(Failure::Temporary(error)) if row.attempts >= self.max_attempts => {
                Delivery::Failed {
                    error: format!("gave up after {} attempts: {error}", row.attempts),
                }
            }
            Err(Failure::Temporary(error)) => {
                let shift = (row.attempts - 1).clamp(0, 20) as u32;
                let delay = (self.retry_base.saturating_mul(1 << shift)).min(HOUR);
                Delivery::Retry {
                    error,
                    next_at: self.clock.now() + delay,
                }
            }
        };
        let mut c = self.store.conn().await?;
        let now = self.clock.now();
        match &outcome {
            Delivery::Sent => {
                outbox::mark_sent(&mut c, row.id, now).await?;
                self.metrics.email(crate::metrics::Email::Sent);
            }
            Delivery::Held { error } => {
                outbox::release(&mut c, row.id, &self.me.id, Some(error)).await?;
                self.set_problem(error);
            }
            Delivery::Retry { error, next_at } => {
                tracing::warn!(id = row.id, kind = %row.kind, attempts = row.attempts, %error, "email delivery will be retried");
                outbox::mark_retry(&mut c, row.id, *next_at, error).await?;
                self.metrics.email(crate::metrics::Email::Retried);
            }
            Delivery::Failed { error } => {
                tracing::warn!(id = row.id, kind = %row.kind, %error, "email delivery failed");
                outbox::mark_failed(&mut c, row.id, now, error).await?;
                self.metrics.email(crate::metrics::Email::Failed);
                if let Some(eid) = row.enterprise_id {
                    crate::store::events::insert(
                        &mut c,
                        eid,
                        vcms_api::EventKind::EmailFailed.as_str(),
                        row.account_id,
                        now,
                    )
                    .await?;
                }
            }
        }
        Ok(outcome)
    }

    fn set_problem(&self, error: &str) {
        let mut p = self.problem.lock().unwrap_or_else(|e| e.into_inner());
        if p.as_ref().map(|p| p.error.as_str()) != Some(error) {
            tracing::error!(%error, "mail transport: emails are kept queued until this is fixed");
        }
        *p = Some(Problem {
            error: error.to_string(),
            next_check: Instant::now() + self.config_retry,
        });
    }

    /// The mail transport problem this server has met, if any (shown with the failed emails).
    pub fn transport_problem(&self) -> Option<String> {
        let p = self.problem.lock().unwrap_or_else(|e| e.into_inner());
        p.as_ref().map(|p| p.error.clone())
    }

    /// While a configuration problem stands, deliver nothing; once its time comes, try the
    /// connection (nothing sent). Returns whether delivery may go on.
    async fn transport_usable(&self) -> bool {
        let due = {
            let p = self.problem.lock().unwrap_or_else(|e| e.into_inner());
            match &*p {
                None => return true,
                Some(p) => p.next_check <= Instant::now(),
            }
        };
        if !due {
            return false;
        }
        let Transport::Smtp(t) = &self.transport else {
            *self.problem.lock().unwrap_or_else(|e| e.into_inner()) = None;
            return true;
        };
        match t.test_connection().await {
            Ok(true) => {
                tracing::info!("mail transport works again: sending the queued emails");
                *self.problem.lock().unwrap_or_else(|e| e.into_inner()) = None;
                true
            }
            Ok(false) => {
                self.set_problem("SMTP: the server closed the connection");
                false
            }
            Err(e) => {
                match classify_smtp(&e) {
                    Failure::Config(m) => self.set_problem(&m),
                    // The settings work; the server is down or busy: try messages again
                    // (they count their attempts and back off as usual).
                    _ => {
                        *self.problem.lock().unwrap_or_else(|e| e.into_inner()) = None;
                        return true;
                    }
                }
                false
            }
        }
    }

    /// Deliver what is due now; returns (message id, outcome) for each message tried.
    pub async fn deliver_due(&self) -> Result<Vec<(i64, Delivery)>, AppError> {
        if !self.transport_usable().await {
            return Ok(vec![]);
        }
        let mut c = self.store.conn().await?;
        let wall = wall_now();
        let rows = outbox::claim_due(
            &mut c,
            self.clock.now(),
            wall,
            wall + LEASE,
            &self.me.id,
            20,
        )
        .await?;
        drop(c);
        let mut done = Vec::with_capacity(rows.len());
        let mut rows = rows.into_iter();
        while let Some(row) = rows.next() {
            let d = self.deliver(&row).await?;
            let held = matches!(d, Delivery::Held { .. });
            done.push((row.id, d));
            if held {
                // The rest of the batch would meet the same problem: give it back untried.
                let mut c = self.store.conn().await?;
                for r in rows.by_ref() {
                    outbox::release(&mut c, r.id, &self.me.id, None).await?;
                }
            }
        }
        Ok(done)
    }

    /// The worker: deliver until told to stop. A message being sent when the stop comes is
    /// finished first; one interrupted harder keeps its lease and is retried after it expires.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        if let Err(e) = self.register().await {
            tracing::error!(error = %e, "outbox worker: cannot register");
        }
        let beat = tokio::spawn(self.clone().heartbeat(stop.clone()));
        loop {
            if *stop.borrow() {
                break;
            }
            match self.deliver_due().await {
                Ok(done) if !done.is_empty() => continue,
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "outbox worker"),
            }
            tokio::select! {
                _ = stop.changed() => {}
                _ = self.notify.notified() => {}
                _ = tokio::time::sleep(self.poll) => {}
            }
        }
        let _ = beat.await;
        // A clean stop: nothing is in flight any more; leave no lease behind.
        match self.store.conn().await {
            Ok(mut c) => {
                if let Err(e) = outbox::retire_worker(&mut c, &self.me.id).await {
                    tracing::warn!(error = %e, "outbox worker: cannot unregister");
                }
            }
            Err(e) => tracing::warn!(error = %e, "outbox worker: cannot unregister"),
        }
    }

    /// Register this worker, and release at once the leases of workers of this host whose
    /// process is gone (this server's previous run, killed while it was sending).
    async fn register(&self) -> Result<(), AppError> {
        let mut c = self.store.conn().await?;
        let me = &self.me;
        outbox::register_worker(
            &mut c,
            &NewWorker {
                id: &me.id,
                host_key: me.host_key.as_deref(),
                pid: me.pid,
                proc_start: me.proc_start.as_deref(),
            },
            wall_now(),
        )
        .await?;
        self.reap(&mut c).await
    }

    async fn reap(&self, c: &mut Conn) -> Result<(), AppError> {
        if let Some(host) = &self.me.host_key {
            for w in outbox::workers_on_host(c, host, &self.me.id).await? {
                if self.me.is_dead(&w) {
                    let n = outbox::retire_worker(c, &w.id).await?;
                    if n > 0 {
                        tracing::info!(worker = %w.id, pid = w.pid, emails = n, "outbox: took over the emails of a worker that died");
                    }
                }
            }
        }
        outbox::purge_workers(c, wall_now() - 24 * HOUR).await?;
        Ok(())
    }

    /// Keep this worker's row fresh and its leases extended until told to stop.
    async fn heartbeat(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let every = Duration::from_millis(HEARTBEAT as u64);
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                _ = tokio::time::sleep(every) => {}
            }
            if *stop.borrow() {
                break;
            }
            let res = async {
                let mut c = self.store.conn().await?;
                let now = wall_now();
                outbox::heartbeat(&mut c, &self.me.id, now, now + LEASE).await?;
                self.reap(&mut c).await
            }
            .await;
            if let Err(e) = res {
                tracing::warn!(error = %e, "outbox worker heartbeat");
            }
        }
    }
}
