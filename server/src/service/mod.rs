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
pub(crate) mod ssh_keys;
pub(crate) mod team;

use vcms_api::ErrorCode;

pub use crate::state::{App, AppState, Bindings, SipHandle};

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
