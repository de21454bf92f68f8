//! `vcms colleague list | invite | resend | set-role | disable | enable | remove`: the
//! enterprise's administrators.

use clap::Subcommand;
use vcms_api::client::Client;
use vcms_api::*;

use super::output::{err, print, text_table, CliError, R};

#[derive(Subcommand, Debug)]
pub enum ColleagueCmd {
    /// Every colleague.
    List,
    /// Invite a colleague (an invitation email with a link valid 48 hours).
    Invite {
        #[arg(long)]
        first_name: String,
        #[arg(long)]
        last_name: String,
        #[arg(long)]
        email: String,
        /// admin or helpdesk.
        #[arg(long)]
        role: String,
        /// An admin who may manage other administrators.
        #[arg(long)]
        manage_admins: bool,
    },
    /// Send the invitation again (new link; a colleague already set up gets a new password).
    Resend { id: i64 },
    /// Change the role.
    SetRole {
        id: i64,
        #[arg(long)]
        role: String,
        #[arg(long)]
        manage_admins: bool,
    },
    /// Disable (their sessions end at once).
    Disable { id: i64 },
    /// Enable again.
    Enable { id: i64 },
    /// Remove (asks first, unless --yes).
    Remove { id: i64 },
}

pub(super) fn role_flags(role: Role, manage_admins: bool) -> String {
    if role == Role::Admin && manage_admins {
        "admin +manage-admins".into()
    } else {
        role.to_string()
    }
}

pub(super) fn colleague_table(items: &[Colleague]) -> String {
    text_table(
        &["ID", "NAME", "EMAIL", "ROLE", "STATUS"],
        &[5, 22, 30, 22],
        items.iter().map(|x| {
            let mfa = if x.mfa_enabled { " (MFA)" } else { "" };
            vec![
                x.id.to_string(),
                x.name.clone(),
                x.email.clone(),
                role_flags(x.role, x.manage_admins),
                format!("{}{mfa}", x.status),
            ]
        }),
    )
}

pub(super) fn colleague_line(x: &Colleague) -> String {
    format!(
        "{} {} <{}>: {}, {}",
        x.id,
        x.name,
        x.email,
        role_flags(x.role, x.manage_admins),
        x.status
    )
}

/// The `--role` argument, when it is one of `allowed`.
pub(super) fn check_role(role: &str, allowed: &[Role]) -> R<Role> {
    // The documents spell it "help desk": help-desk, help_desk and HelpDesk are taken too.
    let spelled: String = role
        .trim()
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | ' '))
        .flat_map(char::to_lowercase)
        .collect();
    match spelled.parse::<Role>() {
        Ok(r) if allowed.contains(&r) => Ok(r),
        _ => Err(CliError {
            code: ErrorCode::InvalidInput.to_string(),
            message: format!(
                "--role must be one of: {}",
                allowed
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            field: Some("role".into()),
            details: None,
        }),
    }
}

/// The roles a colleague may have (an enterprise has one owner).
const COLLEAGUE_ROLES: &[Role] = &[Role::Admin, Role::Helpdesk];

/// List and remove print their own; every other subcommand changes one colleague and
/// prints it, after what it did.
pub(super) async fn run(c: &Client, json: bool, yes: bool, a: &ColleagueCmd) -> R<()> {
    let (x, done) = match a {
        ColleagueCmd::List => {
            let l = c.colleagues().await?;
            return print(json, &l, || colleague_table(&l.items));
        }
        ColleagueCmd::Remove { id } => {
            if !yes {
                return Err(err("confirm", "Remove this colleague? Add --yes to remove"));
            }
            let r = c.remove_colleague(*id).await?;
            return print(json, &r, || r.message.clone());
        }
        ColleagueCmd::Invite {
            first_name,
            last_name,
            email,
            role,
            manage_admins,
        } => {
            let invite = InviteRequest {
                first_name: first_name.clone(),
                last_name: last_name.clone(),
                email: email.clone(),
                role: check_role(role, COLLEAGUE_ROLES)?,
                manage_admins: *manage_admins,
            };
            (c.invite(&invite).await?, "Invited ")
        }
        ColleagueCmd::Resend { id } => {
            let x = c.resend_invitation(*id).await?;
            (x, "Invitation sent again to ")
        }
        ColleagueCmd::SetRole {
            id,
            role,
            manage_admins,
        } => {
            let update = RoleUpdate {
                role: check_role(role, COLLEAGUE_ROLES)?,
                manage_admins: *manage_admins,
            };
            (c.set_colleague_role(*id, &update).await?, "")
        }
        ColleagueCmd::Disable { id } => (c.disable_colleague(*id).await?, ""),
        ColleagueCmd::Enable { id } => (c.enable_colleague(*id).await?, ""),
    };
    print(json, &x, || format!("{done}{}", colleague_line(&x)))
}
