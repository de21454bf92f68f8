//! The rules of DOMAIN.md, in one place. HTTP handlers, operator commands and jobs call these
//! functions; none of them re-implements a rule.

pub mod accounts;
pub mod auth;
pub mod captcha;
pub mod endpoint;
pub mod enterprise;
pub mod events;
pub mod license;

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
    /// A real argon2 hash that unknown emails are checked against, so that they take as long
    /// as known ones.
    pub dummy_hash: String,
    /// Woken after a change is committed, so this instance's event streams look at once.
    pub changed: tokio::sync::Notify,
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

/// Administrator roles (DOMAIN.md "Colleagues and permissions").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Owner,
    Admin,
    Helpdesk,
}

impl Role {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "owner" => Some(Self::Owner),
            "admin" => Some(Self::Admin),
            "helpdesk" => Some(Self::Helpdesk),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Helpdesk => "helpdesk",
        }
    }
}

/// The signed-in administrator behind a request.
#[derive(Debug, Clone)]
pub struct Actor {
    pub admin_id: i64,
    pub enterprise_id: i64,
    pub session_id: i64,
    pub role: Role,
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
}

impl Role {
    pub fn may(self, p: Perm) -> bool {
        match self {
            Role::Owner | Role::Admin => true,
            Role::Helpdesk => matches!(
                p,
                Perm::ViewAccounts | Perm::ResetSecrets | Perm::SendEmails
            ),
        }
    }
}

impl Actor {
    pub fn require(&self, p: Perm) -> Result<(), crate::error::AppError> {
        if self.role.may(p) {
            Ok(())
        } else {
            Err(crate::error::AppError::forbidden(
                "forbidden",
                format!("The {} role may not do this", self.role.as_str()),
            ))
        }
    }

    pub fn require_owner(&self) -> Result<(), crate::error::AppError> {
        if self.role == Role::Owner {
            Ok(())
        } else {
            Err(crate::error::AppError::forbidden(
                "forbidden",
                "Only the enterprise owner may do this",
            ))
        }
    }
}
