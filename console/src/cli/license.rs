//! `vcms license list | add NUMBER`: the enterprise's licenses and its quota.

use clap::Subcommand;
use vcms_api::client::Client;

use super::output::{print, CliError, R};

#[derive(Subcommand, Debug)]
pub enum LicenseCmd {
    List,
    Add { number: String },
}

pub(super) async fn run(c: &Client, json: bool, l: &LicenseCmd) -> R<()> {
    match l {
        LicenseCmd::List => {
            let l = c.licenses().await?;
            print(json, &l, || {
                let mut s = format!(
                    "Account ({}/{}), {} can be added\n",
                    l.quota.used, l.quota.quota, l.quota.can_add
                );
                for x in &l.licenses {
                    s.push_str(&format!(
                        "{}  {}  {} yr  {}  {} → {}{}\n",
                        vcms_api::license_number::display(&x.number),
                        x.status,
                        x.years,
                        x.quantity,
                        x.start.as_deref().unwrap_or("-"),
                        x.end.as_deref().unwrap_or("-"),
                        x.note
                            .as_deref()
                            .map(|n| format!("  ({n})"))
                            .unwrap_or_default()
                    ));
                }
                s
            })
        }
        LicenseCmd::Add { number } => {
            let n = vcms_api::license_number::normalize(number).map_err(|m| CliError {
                code: "invalid_input".into(),
                message: m,
                field: Some("license_number".into()),
                details: None,
            })?;
            let r = c.add_license(&n).await?;
            print(json, &r, || r.message.clone())
        }
    }
}
