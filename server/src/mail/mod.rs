//! Email: templates, the outbox (written in the caller's transaction), and the worker that
//! delivers through SMTP or into a folder of `.eml` files. Nothing is dropped silently: a
//! message is delivered, waiting for a retry, or failed with its reason.

pub mod templates;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

use crate::clock::{Millis, SharedClock, HOUR, SECOND};
use crate::config::{Config, MailTransportKind, SmtpSecurity};
use crate::crypto::SecretBox;
use crate::error::AppError;
use crate::store::outbox::{self, NewMessage, OutboxRow};
use crate::store::{Conn, Store};

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

enum Transport {
    Folder(AsyncFileTransport<Tokio1Executor>),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

/// Outcome of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    Retry { error: String, next_at: Millis },
    Failed { error: String },
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

fn private_file(path: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

impl Mailer {
    pub fn new(
        cfg: &Config,
        store: Store,
        clock: SharedClock,
        secrets: SecretBox,
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
                (Transport::Folder(AsyncFileTransport::new(dir)), d)
            }
            MailTransportKind::Smtp => {
                let s = &cfg.smtp;
                let mut b = match s.security {
                    SmtpSecurity::None => {
                        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host)
                    }
                    SmtpSecurity::Starttls => {
                        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host)?
                    }
                    SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host)?,
                }
                .port(s.port)
                .timeout(Some(Duration::from_secs(s.timeout_secs.max(1))));
                if let (Some(u), Some(p)) = (&s.username, &s.password) {
                    b = b.credentials(Credentials::new(u.clone(), p.clone()));
                }
                let d = format!("smtp {}:{} ({:?})", s.host, s.port, s.security).to_lowercase();
                (Transport::Smtp(b.build()), d)
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
        })
    }

    /// Queue an email inside the caller's transaction. Bodies are sealed: account emails
    /// carry passwords and pincodes.
    pub async fn enqueue(&self, c: &mut Conn, m: &Outgoing<'_>) -> Result<i64, AppError> {
        let r = templates::render(m.kind, m.lang, m.vars)?;
        let text = self.secrets.seal(&r.text);
        let html = self.secrets.seal(&r.html);
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
            },
            self.clock.now(),
        )
        .await?;
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

    async fn attempt(&self, row: &OutboxRow) -> Result<(), (bool, String)> {
        let to: Mailbox = row.recipient.parse().map_err(|e| {
            (
                true,
                format!("invalid recipient address {:?}: {e}", row.recipient),
            )
        })?;
        let (text, html) = self.open_bodies(row).map_err(|e| (true, e.body.message))?;
        let msg = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(row.subject.clone())
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| (true, format!("cannot build the message: {e}")))?;
        match &self.transport {
            Transport::Folder(t) => {
                let id = t
                    .send(msg)
                    .await
                    .map_err(|e| (false, format!("cannot write to the outbox folder: {e}")))?;
                private_file(&self.folder.join(format!("{id}.eml")))
                    .map_err(|e| (false, format!("cannot restrict the outbox file: {e}")))
            }
            Transport::Smtp(t) => t.send(msg).await.map(|_| ()).map_err(|e| {
                let permanent = e.is_permanent();
                (permanent, format!("SMTP: {e}"))
            }),
        }
    }

    /// Try one claimed message and record the outcome.
    async fn deliver(&self, row: &OutboxRow) -> Result<Delivery, AppError> {
        let outcome = match self.attempt(row).await {
            Ok(()) => Delivery::Sent,
            Err((true, error)) => Delivery::Failed { error },
            Err((false, error)) if row.attempts >= self.max_attempts => Delivery::Failed {
                error: format!("gave up after {} attempts: {error}", row.attempts),
            },
            Err((false, error)) => {
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
            Delivery::Sent => outbox::mark_sent(&mut c, row.id, now).await?,
            Delivery::Retry { error, next_at } => {
                tracing::warn!(id = row.id, kind = %row.kind, attempts = row.attempts, %error, "email delivery will be retried");
                outbox::mark_retry(&mut c, row.id, *next_at, error).await?
            }
            Delivery::Failed { error } => {
                tracing::warn!(id = row.id, kind = %row.kind, %error, "email delivery failed");
                outbox::mark_failed(&mut c, row.id, now, error).await?;
                if let Some(eid) = row.enterprise_id {
                    crate::store::events::insert(&mut c, eid, "email_failed", row.account_id, now)
                        .await?;
                }
            }
        }
        Ok(outcome)
    }

    /// Deliver what is due now; returns (message id, outcome) for each message tried.
    pub async fn deliver_due(&self) -> Result<Vec<(i64, Delivery)>, AppError> {
        let mut c = self.store.conn().await?;
        let rows = outbox::claim_due(&mut c, self.clock.now(), 5 * 60 * SECOND, 20).await?;
        drop(c);
        let mut done = Vec::with_capacity(rows.len());
        for row in rows {
            let d = self.deliver(&row).await?;
            done.push((row.id, d));
        }
        Ok(done)
    }

    /// The worker: deliver until told to stop. A message being sent when the stop comes is
    /// finished first; one interrupted harder keeps its lease and is retried after it expires.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
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
    }
}
