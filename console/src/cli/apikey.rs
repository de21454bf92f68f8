//! `vcms apikey create | list | revoke`: API keys, principals of their own (owner only).

use clap::Subcommand;
use vcms_api::client::Client;
use vcms_api::*;

use super::colleague::check_role;
use super::output::{print, text_table, CliError, R};

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

/// The `apikey list` table: a revoked key says so after its last use.
fn key_table(items: &[ApiKey]) -> String {
    text_table(
        &["ID", "NAME", "ROLE", "PREFIX", "CREATED", "LAST USED"],
        &[5, 20, 9, 14, 20],
        items.iter().map(|k| {
            let revoked = if k.revoked { "  (revoked)" } else { "" };
            vec![
                k.id.to_string(),
                k.name.clone(),
                k.role.as_str().to_string(),
                k.prefix.clone(),
                k.created_at.clone(),
                format!("{}{revoked}", k.last_used_at.as_deref().unwrap_or("-")),
            ]
        }),
    )
}

pub(super) async fn run(c: &Client, json: bool, a: &ApiKeyCmd) -> R<()> {
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
            print(json, &l, || key_table(&l.items))
        }
        ApiKeyCmd::Revoke { id } => {
            let r = c.revoke_api_key(*id).await?;
            print(json, &r, || r.message.clone())
        }
    }
}
