//! `vcms email failed list | resend ID… | delete ID…`: the Failed Email List.

use clap::Subcommand;
use vcms_api::client::Client;

use super::output::{print, R};

#[derive(Subcommand, Debug)]
pub enum EmailCmd {
    /// The Failed Email List.
    #[command(subcommand)]
    Failed(FailedCmd),
}

#[derive(Subcommand, Debug)]
pub enum FailedCmd {
    List,
    Resend {
        #[arg(required = true)]
        ids: Vec<i64>,
    },
    Delete {
        #[arg(required = true)]
        ids: Vec<i64>,
    },
}

pub(super) async fn run(c: &Client, json: bool, e: &EmailCmd) -> R<()> {
    let EmailCmd::Failed(f) = e;
    match f {
        FailedCmd::List => {
            let l = c.failed_emails().await?;
            print(json, &l, || {
                let mut s = String::new();
                if let Some(p) = &l.transport_problem {
                    s.push_str(&format!(
                        "Emails cannot be sent ({} waiting): {p}\n",
                        l.waiting
                    ));
                }
                s.push_str(&format!("All records: {}\n", l.total));
                for e in &l.items {
                    s.push_str(&format!(
                        "{:>6}  {}  {}  {}  {}\n",
                        e.id,
                        e.recipient,
                        e.account.as_deref().unwrap_or("-"),
                        e.reason,
                        e.failed_at
                    ));
                }
                s
            })
        }
        FailedCmd::Resend { ids } => {
            let r = c.resend_failed_emails(ids).await?;
            print(json, &r, || r.message.clone())
        }
        FailedCmd::Delete { ids } => {
            let r = c.delete_failed_emails(ids).await?;
            print(json, &r, || r.message.clone())
        }
    }
}
