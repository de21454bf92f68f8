//! `vcms sshkey add | list | remove`: the public keys that open the console over SSH as the
//! signed-in administrator (`ssh -p 2222 EMAIL@host`).

use std::io::Read;
use std::path::PathBuf;

use clap::Subcommand;
use vcms_api::client::Client;
use vcms_api::*;

use super::output::{print, text_table, CliError, R};

#[derive(Subcommand, Debug)]
pub enum SshKeyCmd {
    /// Add a public key: a .pub file (such as ~/.ssh/id_ed25519.pub), or - for one line on
    /// standard input.
    Add {
        file: PathBuf,
        /// What the key is called in the list (default: the key's comment).
        #[arg(long)]
        name: Option<String>,
    },
    /// Your keys.
    List,
    /// Remove a key (its ID in the list): it no longer opens the console.
    Remove { id: i64 },
}

fn read_key(file: &PathBuf) -> R<String> {
    let text = if file.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .take(64 * 1024)
            .read_to_string(&mut s)
            .map(|_| s)
    } else {
        std::fs::read_to_string(file)
    };
    text.map_err(|e| CliError {
        code: "invalid_input".into(),
        message: format!("cannot read {}: {e}", file.display()),
        field: Some("public_key".into()),
        details: None,
    })
}

pub(super) async fn run(c: &Client, json: bool, a: &SshKeyCmd) -> R<()> {
    match a {
        SshKeyCmd::Add { file, name } => {
            let text = read_key(file)?;
            if text.contains("PRIVATE KEY") {
                return Err(CliError {
                    code: "invalid_input".into(),
                    message: format!(
                        "{} is a private key: give the .pub file next to it, never the private key",
                        file.display()
                    ),
                    field: Some("public_key".into()),
                    details: None,
                });
            }
            let k = c
                .add_ssh_key(&NewSshKey {
                    public_key: text.trim().to_string(),
                    name: name.clone(),
                })
                .await?;
            print(json, &k, || {
                format!(
                    "SSH key {} \"{}\" added ({} {}): it opens the console over SSH",
                    k.id, k.name, k.algorithm, k.fingerprint
                )
            })
        }
        SshKeyCmd::List => {
            let l = c.ssh_keys().await?;
            print(json, &l, || {
                text_table(
                    &["ID", "NAME", "TYPE", "FINGERPRINT", "ADDED", "LAST USED"],
                    &[5, 20, 20, 51, 20],
                    l.items.iter().map(|k| {
                        vec![
                            k.id.to_string(),
                            k.name.clone(),
                            k.algorithm.clone(),
                            k.fingerprint.clone(),
                            k.created_at.clone(),
                            k.last_used_at.clone().unwrap_or_else(|| "-".into()),
                        ]
                    }),
                )
            })
        }
        SshKeyCmd::Remove { id } => {
            let r = c.remove_ssh_key(*id).await?;
            print(json, &r, || r.message.clone())
        }
    }
}
