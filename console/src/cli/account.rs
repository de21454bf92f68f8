//! `vcms account …`: list, show, add, edit, remove, resets, send email, and the spreadsheet
//! commands (import, export, template).

use std::path::PathBuf;

use clap::Subcommand;
use vcms_api::client::Client;
use vcms_api::*;

use super::output::{err, print, text_table, R};
use crate::config::Config;

#[derive(Subcommand, Debug)]
pub enum AccountCmd {
    /// One page of accounts.
    List {
        #[arg(long)]
        search: Option<String>,
        #[arg(long, default_value_t = 1)]
        page: i64,
        #[arg(long, default_value_t = 10)]
        page_size: i64,
    },
    /// Details of the account with extension EXT.
    Show { ext: String },
    /// Add an account.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        extension: String,
        #[arg(long)]
        email: Option<String>,
        /// Queue the account-information email.
        #[arg(long)]
        send_email: bool,
    },
    /// Change name, extension or email (an empty --email removes it).
    Edit {
        ext: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        extension: Option<String>,
        #[arg(long)]
        email: Option<String>,
    },
    /// Remove accounts (their endpoints are signed out at once).
    Remove {
        #[arg(required = true)]
        exts: Vec<String>,
    },
    /// Generate a new password.
    ResetPassword { ext: String },
    /// Generate a new login pincode.
    ResetPincode { ext: String },
    /// Bulk add / batch edit from a spreadsheet (.xlsx, .xls, .ods, .csv): shows what each
    /// row does, then applies all rows in one go (nothing if any row is in error).
    Import {
        file: PathBuf,
        /// Only show the preview.
        #[arg(long)]
        dry_run: bool,
        /// Send the account-information email to the new accounts that have an email.
        #[arg(long)]
        send_email: bool,
    },
    /// Every account (matching --search) to FILE, .xlsx or .csv: the template's columns plus
    /// cloud number and status (edit it and import it again to edit in batch).
    Export {
        file: PathBuf,
        #[arg(long)]
        search: Option<String>,
    },
    /// Write the blank template (*Name, *Extension, Email) to FILE (.xlsx, .xls or .csv).
    Template { file: PathBuf },
    /// Queue the account-information email.
    SendEmail {
        exts: Vec<String>,
        /// Every account (matching --search).
        #[arg(long, conflicts_with = "exts")]
        all: bool,
        #[arg(long)]
        search: Option<String>,
    },
}

pub(super) async fn by_ext(c: &Client, ext: &str) -> R<AccountDetails> {
    Ok(c.account_by_extension(ext).await?)
}

pub(super) fn details_text(d: &AccountDetails) -> String {
    let mut s = format!(
        "Name:          {}\nCloud number:  {}\nExtension:     {}\nEmail:         {}\nPassword:      {}\nLogin pincode: {}\nStatus:        {}",
        d.name,
        d.cloud_number,
        d.extension,
        d.email.as_deref().unwrap_or("-"),
        d.password,
        match (&d.pincode, d.pincode_state) {
            (Some(p), PincodeState::Valid) => format!(
                "{p} (valid until {})",
                d.pincode_expires_at.as_deref().unwrap_or("-")
            ),
            // Spent: it can no longer sign in.
            (_, state) => format!("{state} (reset it to get a new one)"),
        },
        d.status_text
    );
    for b in &d.bindings {
        s.push_str(&format!(
            "\nEndpoint:      {} {} — {} {}",
            b.device_model, b.device_version, b.state, b.address
        ));
    }
    s
}

pub(super) fn table(rows: &[AccountRow]) -> String {
    text_table(
        &["NAME", "CLOUD NUMBER", "EXT", "EMAIL", "STATUS"],
        &[20, 12, 5, 28],
        rows.iter().map(|r| {
            vec![
                r.name.clone(),
                r.cloud_number.clone(),
                r.extension.clone(),
                r.email.clone().unwrap_or_else(|| "-".into()),
                r.status.to_string(),
            ]
        }),
    )
}

/// One arm per subcommand: the longer ones call a function of their own.
pub(super) async fn run(c: &Client, cfg: &Config, json: bool, yes: bool, a: &AccountCmd) -> R<()> {
    match a {
        AccountCmd::List {
            search,
            page,
            page_size,
        } => list(c, json, search, *page, *page_size).await,
        AccountCmd::Show { ext } => {
            let d = by_ext(c, ext).await?;
            print(json, &d, || details_text(&d))
        }
        AccountCmd::Add {
            name,
            extension,
            email,
            send_email,
        } => {
            let d = c
                .add_account(&NewAccount {
                    name: name.clone(),
                    extension: extension.clone(),
                    email: email.clone(),
                    send_email: *send_email,
                })
                .await?;
            print(json, &d, || details_text(&d))
        }
        AccountCmd::Edit {
            ext,
            name,
            extension,
            email,
        } => {
            let d = by_ext(c, ext).await?;
            let d = c
                .update_account(
                    d.id,
                    &AccountUpdate {
                        name: name.clone(),
                        extension: extension.clone(),
                        email: email.clone(),
                    },
                )
                .await?;
            print(json, &d, || details_text(&d))
        }
        AccountCmd::Remove { exts } => {
            if !yes {
                return Err(err(
                    "confirm",
                    "Confirm to revoke the selected user? Add --yes to remove",
                ));
            }
            let mut ids = vec![];
            for e in exts {
                ids.push(by_ext(c, e).await?.id);
            }
            let r = c.remove_accounts(&ids).await?;
            print(json, &r, || r.message.clone())
        }
        AccountCmd::ResetPassword { ext } => reset(c, json, ext, false).await,
        AccountCmd::ResetPincode { ext } => reset(c, json, ext, true).await,
        AccountCmd::Import {
            file,
            dry_run,
            send_email,
        } => {
            let opts = super::import::ImportOpts {
                dry_run: *dry_run,
                yes,
                send_email: *send_email,
            };
            super::import::import(c, cfg, json, file, opts).await
        }
        AccountCmd::Export { file, search } => export(json, c, file, search).await,
        AccountCmd::Template { file } => template(json, file),
        AccountCmd::SendEmail { exts, all, search } => {
            send_email(c, json, exts, *all, search).await
        }
    }
}

async fn list(c: &Client, json: bool, search: &Option<String>, page: i64, page_size: i64) -> R<()> {
    let p = c
        .accounts(&AccountQuery {
            page: Some(page),
            page_size: Some(page_size),
            search: search.clone(),
            ..Default::default()
        })
        .await?;
    print(json, &p, || {
        format!(
            "Account ({}/{}), {} can be added\n{}All records: {}  Page {} of {}",
            p.quota.used,
            p.quota.quota,
            p.quota.can_add,
            table(&p.items),
            p.total,
            p.page,
            p.pages.max(1)
        )
    })
}

/// `reset-password` and `reset-pincode` (`pincode`): a new one for the account with
/// extension `ext`, printed.
async fn reset(c: &Client, json: bool, ext: &str, pincode: bool) -> R<()> {
    let id = by_ext(c, ext).await?.id;
    let d = if pincode {
        c.reset_account_pincode(id).await?
    } else {
        c.reset_account_password(id).await?
    };
    print(json, &d, || {
        let (what, value) = if pincode {
            let until = d.pincode_expires_at.as_deref().unwrap_or("-");
            let pin = d.pincode.as_deref().unwrap_or("-");
            ("login pincode", format!("{pin} (valid until {until})"))
        } else {
            ("password", d.password.clone())
        };
        format!("New {what} of {} ({}): {value}", d.name, d.cloud_number)
    })
}

async fn export(json: bool, c: &Client, file: &std::path::Path, search: &Option<String>) -> R<()> {
    let mut bar = super::import::Progress::new("Exporting");
    let rows = crate::import::export_rows(c, search.clone(), &mut |d, t| bar.show(d, t)).await?;
    bar.done();
    crate::import::write_export(file, &rows)?;
    print(
        json,
        &serde_json::json!({"file": file, "accounts": rows.len()}),
        || format!("Exported {} account(s) to {}", rows.len(), file.display()),
    )
}

async fn send_email(
    c: &Client,
    json: bool,
    exts: &[String],
    all: bool,
    search: &Option<String>,
) -> R<()> {
    if exts.is_empty() && !all {
        return Err(err("invalid_input", "Name the extensions, or use --all"));
    }
    let mut ids = vec![];
    for e in exts {
        ids.push(by_ext(c, e).await?.id);
    }
    let r = c
        .send_account_emails(&SendEmailRequest {
            ids,
            all,
            search: search.clone(),
        })
        .await?;
    print(json, &r, || {
        let mut s = format!(
            "{} (queued {}, without email {})",
            r.message,
            r.queued,
            r.without_email.len()
        );
        for a in &r.without_email {
            s.push_str(&format!("\n  no email: {} ({})", a.name, a.extension));
        }
        s
    })
}

/// `vcms account template FILE`: needs no server, so no sign-in either.
pub(super) fn template(json: bool, file: &std::path::Path) -> R<()> {
    crate::import::write_template(file)?;
    print(json, &serde_json::json!({"file": file}), || {
        format!("Wrote the blank template to {}", file.display())
    })
}
