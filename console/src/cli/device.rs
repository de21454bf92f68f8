//! `vcms device add | list | remove`: devices provisioned with a built-in cloud number.

use clap::Subcommand;
use vcms_api::client::Client;

use super::account::by_ext;
use super::output::{print, R};

#[derive(Subcommand, Debug)]
pub enum DeviceCmd {
    /// Provision a device serial against the account with extension EXT; prints the
    /// device secret (shown this once).
    Add { ext: String, serial: String },
    /// The devices provisioned against an account.
    List { ext: String },
    /// Remove a provisioned device: it can no longer sign in.
    Remove { ext: String, serial: String },
}

pub(super) async fn run(c: &Client, json: bool, d: &DeviceCmd) -> R<()> {
    match d {
        DeviceCmd::Add { ext, serial } => {
            let a = by_ext(c, ext).await?;
            let dev = c.provision_device(a.id, serial).await?;
            print(json, &dev, || {
                format!(
                    "Device {} provisioned for {} ({}). Its secret, shown this once: {}",
                    dev.serial,
                    a.name,
                    a.cloud_number,
                    dev.secret.as_deref().unwrap_or("-")
                )
            })
        }
        DeviceCmd::List { ext } => {
            let a = by_ext(c, ext).await?;
            let list = c.devices(a.id).await?;
            print(json, &list, || {
                if list.is_empty() {
                    return format!("No device is provisioned for {}", a.name);
                }
                list.iter()
                    .map(|d| {
                        format!(
                            "{}  provisioned {}  last sign-in {}",
                            d.serial,
                            d.created_at,
                            d.last_login_at.as_deref().unwrap_or("never")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        DeviceCmd::Remove { ext, serial } => {
            let a = by_ext(c, ext).await?;
            let m = c.remove_device(a.id, serial).await?;
            print(json, &m, || format!("{}: {serial}", m.message))
        }
    }
}
