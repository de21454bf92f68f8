//! The rules of DOMAIN.md, in one place. HTTP handlers, operator commands and jobs call these
//! functions; none of them re-implements a rule.

pub mod accounts;
pub(crate) mod api_keys;
pub(crate) mod audit;
pub mod auth;
pub(crate) mod captcha;
pub(crate) mod directory;
pub(crate) mod endpoint;
pub mod enterprise;
pub(crate) mod events;
pub mod license;
pub(crate) mod mail_requests;
pub(crate) mod mfa;
pub(crate) mod security;
pub(crate) mod team;

use std::sync::Arc;

use crate::clock::SharedClock;
use crate::crypto::SecretBox;
use crate::mail::Mailer;
use crate::store::Store;
use vcms_api::ErrorCode;

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

/// Administrator roles (DOMAIN.md "Colleagues and permissions"): the wire type.
pub use vcms_api::Role;

/// The signed-in administrator behind a request.
#[derive(Debug, Clone)]
pub struct Actor {
    pub admin_id: i64,
    pub enterprise_id: i64,
    pub session_id: i64,
    pub role: Role,
    pub manage_admins: bool,
    /// For the audit log: the admin's email, or "api key NAME".
    pub who: String,
    /// The client's address, when known.
    pub ip: String,
    /// Set when the request came with an API key instead of a session. The key is the
    /// principal: `admin_id` and `session_id` are then 0, `role` and `manage_admins` are the
    /// key's own.
    pub key_id: Option<i64>,
}

/// What a request wants to do, checked against the actor's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Perm {
    /// View accounts and their details.
    ViewAccounts,
    /// Reset an account's password or pincode.
    ResetSecrets,
    /// Send account emails.
    SendEmails,
    /// Add, edit, import and remove accounts.
    ManageAccounts,
    /// The failed email list.
    FailedEmails,
    /// Invite, change, disable and remove colleagues (owner, or admin with the flag).
    ManageColleagues,
    /// Read the audit log.
    ViewAudit,
    /// The license list.
    ViewLicenses,
    /// Bind licenses, create and revoke API keys, enterprise settings (owner only).
    OwnerOnly,
}

/// The rules of roles (DOMAIN.md "Colleagues and permissions") on the wire type [`Role`].
pub trait RoleRules {
    /// What the role allows; `manage_admins` is the admin's flag.
    fn may(self, p: Perm, manage_admins: bool) -> bool;
    /// Everything the role (with the admin's `manage_admins` flag) may do; `person` is
    /// false for an API key. The rules are [`RoleRules::may`]'s, so what clients are told
    /// matches what the server refuses.
    fn permissions(self, manage_admins: bool, person: bool) -> vcms_api::Permissions;
}

impl RoleRules for Role {
    fn may(self, p: Perm, manage_admins: bool) -> bool {
        match self {
            Role::Owner => true,
            Role::Admin => match p {
                Perm::ManageColleagues => manage_admins,
                Perm::OwnerOnly => false,
                _ => true,
            },
            Role::Helpdesk => matches!(
                p,
                Perm::ViewAccounts | Perm::ResetSecrets | Perm::SendEmails
            ),
        }
    }

    fn permissions(self, manage_admins: bool, person: bool) -> vcms_api::Permissions {
        let may = |p: Perm| self.may(p, manage_admins);
        vcms_api::Permissions {
            view_accounts: may(Perm::ViewAccounts),
            reset_secrets: may(Perm::ResetSecrets),
            send_emails: may(Perm::SendEmails),
            manage_accounts: may(Perm::ManageAccounts),
            failed_emails: may(Perm::FailedEmails),
            manage_colleagues: may(Perm::ManageColleagues),
            view_audit: may(Perm::ViewAudit),
            view_licenses: may(Perm::ViewLicenses),
            add_licenses: may(Perm::OwnerOnly),
            manage_api_keys: may(Perm::OwnerOnly),
            personal: person,
        }
    }
}

impl Actor {
    /// What this actor may do (`GET /api/v1/me`).
    pub fn permissions(&self) -> vcms_api::Permissions {
        self.role
            .permissions(self.manage_admins, self.key_id.is_none())
    }

    pub fn require(&self, p: Perm) -> Result<(), crate::error::AppError> {
        if self.role.may(p, self.manage_admins) {
            Ok(())
        } else {
            Err(crate::error::AppError::forbidden(
                ErrorCode::Forbidden,
                format!("The {} role may not do this", self.role.as_str()),
            ))
        }
    }

    pub fn require_owner(&self) -> Result<(), crate::error::AppError> {
        if self.role == Role::Owner {
            Ok(())
        } else {
            Err(crate::error::AppError::forbidden(
                ErrorCode::Forbidden,
                "Only the enterprise owner may do this",
            ))
        }
    }

    /// Personal routes (password, profile, security and MFA, sign-out) belong to a person:
    /// an API key is answered 403 `not_for_api_keys`.
    pub fn require_person(&self) -> Result<(), crate::error::AppError> {
        if self.key_id.is_some() {
            Err(crate::error::AppError::forbidden(
                ErrorCode::NotForApiKeys,
                "This is personal to a signed-in administrator: an API key has no password, profile, security settings or session",
            ))
        } else {
            Ok(())
        }
    }

    /// An actor for operator tools and benchmarks acting as an enterprise's owner.
    pub fn operator(enterprise_id: i64) -> Self {
        Actor {
            admin_id: 0,
            enterprise_id,
            session_id: 0,
            role: Role::Owner,
            manage_admins: true,
            who: "operator".into(),
            ip: String::new(),
            key_id: None,
        }
    }
}
