//! The application state every request, job and SIP handler works with: the store, the
//! clock, the sealing key, the mailer and the settings the rules read, plus the handle of
//! the SIP service once it listens. `service` holds the rules that use it; `sip` reaches the
//! service layer through it and `service` reaches the registrar only through [`Bindings`].

use std::sync::Arc;

use crate::clock::SharedClock;
use crate::crypto::SecretBox;
use crate::mail::Mailer;
use crate::store::Store;

/// Everything a request or job needs.
pub struct App {
    pub store: Store,
    pub clock: SharedClock,
    pub secrets: SecretBox,
    pub mailer: Arc<Mailer>,
    /// Base URL for links in emails (set once the HTTP address is known).
    pub public_url: std::sync::OnceLock<String>,
    pub captcha: bool,
    /// Difficulty of the captcha's proof of work (leading zero bits; 0: none).
    pub captcha_pow_bits: u32,
    /// Woken when a password reset, activation resend or registration notice is queued.
    pub mail_requests: tokio::sync::Notify,
    /// A real argon2 hash that unknown emails are checked against, so that they take as long
    /// as known ones.
    pub dummy_hash: String,
    /// Woken after a change is committed, so this instance's event streams look at once.
    pub changed: tokio::sync::Notify,
    /// Endpoint sign-in throttles.
    pub limits: crate::config::EndpointConfig,
    /// SIP domain (digest realm) and the registration lifetime devices are told to use.
    pub sip_domain: String,
    pub sip_expires: u32,
    /// The SIP service, once it listens.
    pub sip: std::sync::OnceLock<SipHandle>,
    /// Moves on after every committed change of accounts or licenses: the registrar's
    /// credential cache drops what it read before.
    pub generation: std::sync::atomic::AtomicU64,
    /// Limits of the batch path.
    pub import: crate::config::ImportConfig,
    /// Counters and gauges for `GET /metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// When set, `GET /metrics` on the public listener answers requests bearing it.
    pub metrics_token: Option<String>,
}

/// What the HTTP side needs of the SIP service.
pub struct SipHandle {
    pub servers: Vec<vcms_api::SipServer>,
    pub registrar: Arc<dyn Bindings>,
}

/// What the service layer asks of the SIP registrar (`sip::Registrar` implements it), so
/// that `service` never names `sip`: the dependency points from sip to service only.
#[async_trait::async_trait]
pub trait Bindings: Send + Sync {
    /// Drop the binding `key` of an account (its endpoint signed out) and tell the
    /// enterprise's consoles.
    async fn unbind(&self, account_id: i64, enterprise_id: i64, key: &str);
}

pub type AppState = Arc<App>;

impl App {
    pub fn now(&self) -> i64 {
        self.clock.now()
    }
    pub fn base_url(&self) -> &str {
        self.public_url
            .get()
            .map(String::as_str)
            .unwrap_or("http://localhost:8080")
    }
}
