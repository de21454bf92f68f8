//! Runs a [`Req`] with the shared typed client and wraps the answer in a [`Reply`].

use vcms_api::client::{Client, ClientResult};
use vcms_api::{AccountQuery, AccountRow};

use crate::action::{Reply, Req};

/// Every account matching `search`, by extension, page by page; `progress(done, total)`
/// after each page.
pub async fn all_accounts(
    client: &Client,
    search: Option<String>,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> ClientResult<Vec<AccountRow>> {
    let mut out = vec![];
    let mut page = 1;
    loop {
        let p = client
            .accounts(&AccountQuery {
                page: Some(page),
                page_size: Some(100),
                search: search.clone(),
                sort: Some(vcms_api::AccountSort::Extension),
                ..Default::default()
            })
            .await?;
        let last = page >= p.pages || p.items.is_empty();
        out.extend(p.items);
        progress(out.len() as u64, p.total.max(0) as u64);
        if last {
            return Ok(out);
        }
        page += 1;
    }
}

/// All ids of the accounts matching `search`.
pub async fn all_ids(client: &Client, search: Option<String>) -> ClientResult<Vec<i64>> {
    let rows = all_accounts(client, search, &mut |_, _| {}).await?;
    Ok(rows.iter().map(|r| r.id).collect())
}

/// Why a request that reads or writes a file is refused in a console served over SSH: the
/// path would name a file on the server's machine, not the user's.
pub const NO_FILES_OVER_SSH: &str = "Over SSH the console cannot read or write files: they would be on the server's machine, not yours. Import and export with the vcms console on your own machine (vcms account import FILE, vcms account export FILE)";

/// The answer to a file request in a console without local files, or None for any other.
pub fn refuse_file(req: &Req) -> Option<Reply> {
    let no = || NO_FILES_OVER_SSH.to_string();
    match req {
        Req::ImportFile { .. } => Some(Reply::ImportPreview(Err(no()))),
        Req::Export { .. } | Req::Template(_) => Some(Reply::FileWritten(Err(no()))),
        _ => None,
    }
}

// One arm a request, each a call of the typed client: a table, long because there are
// many requests, not because any arm is.
pub async fn exec(mut client: Client, req: Req) -> Reply {
    match req {
        // The proof of work is solved here, off the UI thread (about 0.2 s), before the art
        // is shown: the user only types the characters.
        Req::Captcha => Reply::Captcha(match client.captcha().await {
            Ok(c) => {
                let pow = vcms_api::client::solve_captcha(&c).await;
                Ok((c, pow))
            }
            Err(e) => Err(e),
        }),
        Req::Login(r) => Reply::Login(Box::new(client.login(&r).await)),
        Req::VerifyMfa(r) => Reply::Login(Box::new(client.verify_mfa(&r).await)),
        Req::Register(r) => Reply::Register(client.register(&r).await),
        Req::Activate(t) => Reply::Message(client.activate(&t).await),
        Req::Forgot(r) => Reply::Message(client.forgot_password(&r).await),
        Req::ResetPassword(r) => Reply::Message(client.reset_password(&r).await),
        Req::Page(q) => Reply::Page(client.accounts(&q).await),
        Req::AllIds(s) => Reply::AllIds(all_ids(&client, s).await),
        Req::Details(id) => Reply::Details(client.account(id).await),
        Req::AddAccount(a) => Reply::Saved {
            send_email: a.send_email,
            res: client.add_account(&a).await,
        },
        Req::UpdateAccount(id, u) => Reply::Saved {
            send_email: false,
            res: client.update_account(id, &u).await,
        },
        Req::ResetAccountPassword(id) => Reply::Reset {
            pincode: false,
            res: client.reset_account_password(id).await,
        },
        Req::ResetAccountPincode(id) => Reply::Reset {
            pincode: true,
            res: client.reset_account_pincode(id).await,
        },
        Req::Remove(ids) => Reply::Removed(client.remove_accounts(&ids).await),
        Req::SendEmail(r) => Reply::Sent(client.send_account_emails(&r).await),
        Req::Failed => Reply::Failed(client.failed_emails().await),
        Req::ResendFailed(ids) => Reply::FailedOp(client.resend_failed_emails(&ids).await),
        Req::DeleteFailed(ids) => Reply::FailedOp(client.delete_failed_emails(&ids).await),
        Req::Licenses => Reply::Licenses(client.licenses().await),
        Req::AddLicense(n) => Reply::LicenseAdded(client.add_license(&n).await),
        Req::Profile => Reply::Profile(client.profile().await),
        Req::UpdateProfile(p) => Reply::Profile(client.update_profile(&p).await),
        Req::ChangePassword(p) => Reply::PasswordChanged(client.change_password(&p).await),
        Req::Colleagues => Reply::Colleagues(client.colleagues().await),
        Req::Invite(r) => Reply::ColleagueDone(client.invite(&r).await.map(Some)),
        Req::SetRole(id, r) => {
            Reply::ColleagueDone(client.set_colleague_role(id, &r).await.map(Some))
        }
        Req::ResendInvite(id) => Reply::ColleagueDone(client.resend_invitation(id).await.map(Some)),
        Req::DisableColleague(id) => {
            Reply::ColleagueDone(client.disable_colleague(id).await.map(Some))
        }
        Req::EnableColleague(id) => {
            Reply::ColleagueDone(client.enable_colleague(id).await.map(Some))
        }
        Req::RemoveColleague(id) => {
            Reply::ColleagueDone(client.remove_colleague(id).await.map(|_| None))
        }
        Req::Audit(q) => Reply::Audit(client.audit(&q).await),
        Req::ApiKeys => Reply::ApiKeys(client.api_keys().await),
        Req::CreateKey(k) => Reply::KeyCreated(client.create_api_key(&k).await),
        Req::RevokeKey(id) => Reply::KeyRevoked(client.revoke_api_key(id).await),
        Req::Security => Reply::Security(client.security().await),
        Req::UpdateSecurity(u) => Reply::SecuritySaved(client.update_security(&u).await),
        Req::SshKeys => Reply::SshKeys(client.ssh_keys().await),
        Req::AddSshKey(k) => Reply::SshKeyAdded(client.add_ssh_key(&k).await),
        Req::RemoveSshKey(id) => Reply::SshKeyRemoved(client.remove_ssh_key(id).await),
        Req::ImportFile {
            path,
            limits,
            send_email,
            progress,
        } => {
            let sheet =
                crate::import::read_file_in_background(path.clone(), limits, progress).await;
            let sheet = match sheet {
                Ok(s) => s,
                Err(e) => return Reply::ImportPreview(Err(format!("{}: {e}", path.display()))),
            };
            let rows = crate::import::batch_rows(&sheet);
            let r = client
                .batch_accounts(&vcms_api::BatchRequest {
                    rows: rows.clone(),
                    dry_run: true,
                    send_email,
                })
                .await;
            Reply::ImportPreview(
                r.map(|r| (rows, sheet.header_row, r))
                    .map_err(|e| e.to_string()),
            )
        }
        Req::ApplyImport {
            rows,
            send_email,
            key,
        } => Reply::Imported(crate::import::apply(&client, rows, send_email, &key).await),
        Req::Export {
            path,
            search,
            progress,
        } => {
            let rows =
                crate::import::export_rows(&client, search, &mut |d, t| progress.set(d, t)).await;
            Reply::FileWritten(match rows {
                Err(e) => Err(e.to_string()),
                Ok(rows) => crate::import::write_export(&path, &rows)
                    .map(|_| format!("Exported {} account(s) to {}", rows.len(), path.display()))
                    .map_err(|e| e.to_string()),
            })
        }
        Req::Template(path) => Reply::FileWritten(
            crate::import::write_template(&path)
                .map(|_| format!("Wrote the blank template to {}", path.display()))
                .map_err(|e| e.to_string()),
        ),
        Req::Logout => {
            let _ = client.logout().await;
            Reply::LoggedOut
        }
    }
}
