//! `vcms apikey create | list | revoke`: API keys, principals of their own (owner only).

use clap::Subcommand;
use vcms_api::client::Client;
use vcms_api::*;

use super::colleague::check_role;
use super::output::{print, CliError, R};

#[derive(Subcommand, Debug)]
pub enum ApiKeyCmd {
    /// Create a key; it is printed once.
    Create {
        #[arg(long)]
        name: String,
        /// owner, admin or helpdesk.
        #[arg(long)]
        role: String,
        /// Give an admin key "manage administrators" (invite, change, disable, remove
        /// colleagues). Off unless given; owner only.
        #[arg(long)]
        manage_admins: bool,
    },
    /// Every key.
    List,
    /// Revoke a key.
    Revoke { id: i64 },
}

pub(super) async fn run(c: &Client, json: bool, a: &ApiKeyCmd) -> R<()> {
    use crate::widgets::text::pad;
    match a {
        ApiKeyCmd::Create {
            name,
            role,
            manage_admins,
        } => {
            let role = check_role(role, Role::ALL)?;
            if *manage_admins && role != Role::Admin {
                return Err(CliError {
                    code: "invalid_input".into(),
                    message: "--manage-admins is a flag of the admin role only".into(),
                    field: Some("manage_admins".into()),
                    details: None,
                });
            }
            let k = c
                .create_api_key(&NewApiKey {
                    name: name.clone(),
                    role,
                    manage_admins: *manage_admins,
                })
                .await?;
            print(json, &k, || {
                format!(
                    "{}\nAPI key {} \"{}\" ({}{}) — shown only this once:\n{}",
                    k.message,
                    k.id,
                    k.name,
                    k.role,
                    if k.manage_admins && k.role == Role::Admin {
                        ", manage administrators"
                    } else {
                        ""
                    },
                    k.key
                )
            })
        }
        ApiKeyCmd::List => {
            let l = c.api_keys().await?;
            print(json, &l, || {
                let mut s = format!(
                    "{} {} {} {} {} {}\n",
                    pad("ID", 5),
                    pad("NAME", 20),
                    pad("ROLE", 9),
                    pad("PREFIX", 14),
                    pad("CREATED", 20),
                    "LAST USED"
                );
                for k in &l.items {
                    s.push_str(&format!(
                        "{} {} {} {} {} {}{}\n",
                        pad(&k.id.to_string(), 5),
                        pad(&k.name, 20),
                        pad(k.role.as_str(), 9),
                        pad(&k.prefix, 14),
                        pad(&k.created_at, 20),
                        k.last_used_at.as_deref().unwrap_or("-"),
                        if k.revoked { "  (revoked)" } else { "" }
                    ));
                }
                s
            })
        }
        ApiKeyCmd::Revoke { id } => {
            let r = c.revoke_api_key(*id).await?;
            print(json, &r, || r.message.clone())
        }
    }
}
