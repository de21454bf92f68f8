//! The request plumbing: one Action enum (user intents, ticks, and the results of
//! background requests), the requests to the server ([`Req`]) and their answers
//! ([`Reply`]), and [`Requests`], which numbers them so a stale answer is dropped.

use std::collections::HashMap;

use crossterm::event::KeyEvent;
use vcms_api::client::ClientResult;
use vcms_api::*;

use crate::keymap::Cmd;

/// Everything that can change the state; `App::update` is the only place it changes.
#[derive(Debug)]
pub enum Action {
    Key(KeyEvent),
    Paste(String),
    Resize(u16, u16),
    Tick,
    Cmd(Cmd),
    /// A background request finished. `id` identifies it; stale ones are dropped.
    Reply {
        id: u64,
        reply: Box<Reply>,
    },
    /// A change (or the end of the session) pushed by the server's event stream.
    Event(vcms_api::client::StreamItem),
    Quit,
}

/// A request to the server, run in a spawned task.
#[derive(Debug, Clone)]
pub enum Req {
    Captcha,
    Login(LoginRequest),
    VerifyMfa(MfaVerify),
    Register(RegisterRequest),
    Activate(String),
    Forgot(EmailRequest),
    ResetPassword(ResetPasswordRequest),
    Page(AccountQuery),
    /// Every id matching a search (for "mark all matching").
    AllIds(Option<String>),
    Details(i64),
    AddAccount(NewAccount),
    UpdateAccount(i64, AccountUpdate),
    ResetAccountPassword(i64),
    ResetAccountPincode(i64),
    Remove(Vec<i64>),
    SendEmail(SendEmailRequest),
    Failed,
    ResendFailed(Vec<i64>),
    DeleteFailed(Vec<i64>),
    Licenses,
    AddLicense(String),
    Profile,
    UpdateProfile(ProfileUpdate),
    ChangePassword(ChangePasswordRequest),
    Logout,
    Colleagues,
    Invite(InviteRequest),
    SetRole(i64, RoleUpdate),
    ResendInvite(i64),
    DisableColleague(i64),
    EnableColleague(i64),
    RemoveColleague(i64),
    Audit(AuditQuery),
    ApiKeys,
    CreateKey(NewApiKey),
    RevokeKey(i64),
    Security,
    UpdateSecurity(SecurityUpdate),
    /// The signed-in administrator's SSH keys (the console over SSH).
    SshKeys,
    AddSshKey(NewSshKey),
    RemoveSshKey(i64),
    /// Read a spreadsheet and ask the server for the preview (dry run).
    ImportFile {
        path: std::path::PathBuf,
        limits: vcms_sheet::Limits,
        send_email: bool,
        progress: std::sync::Arc<crate::import::ImportProgress>,
    },
    /// Apply the previewed rows (with an idempotency key).
    ApplyImport {
        rows: Vec<BatchRow>,
        send_email: bool,
        key: String,
    },
    Export {
        path: std::path::PathBuf,
        search: Option<String>,
        progress: std::sync::Arc<crate::import::ImportProgress>,
    },
    Template(std::path::PathBuf),
}

impl Req {
    /// Requests in the same slot replace each other: only the newest reply is used.
    pub fn slot(&self) -> &'static str {
        match self {
            Req::Captcha => "captcha",
            Req::Login(_) | Req::VerifyMfa(_) | Req::Register(_) | Req::Activate(_) => "auth",
            Req::Forgot(_) | Req::ResetPassword(_) => "auth",
            Req::Page(_) => "page",
            Req::AllIds(_) => "all_ids",
            Req::Details(_) => "details",
            Req::AddAccount(_) | Req::UpdateAccount(..) => "save",
            Req::ResetAccountPassword(_) | Req::ResetAccountPincode(_) => "reset",
            Req::Remove(_) => "remove",
            Req::SendEmail(_) => "send",
            Req::Failed => "failed",
            Req::ResendFailed(_) | Req::DeleteFailed(_) => "failed_op",
            Req::Licenses => "licenses",
            Req::AddLicense(_) => "add_license",
            Req::Profile => "profile",
            Req::UpdateProfile(_) | Req::ChangePassword(_) => "profile_op",
            Req::Logout => "logout",
            Req::Colleagues => "colleagues",
            Req::Invite(_)
            | Req::SetRole(..)
            | Req::ResendInvite(_)
            | Req::DisableColleague(_)
            | Req::EnableColleague(_)
            | Req::RemoveColleague(_) => "colleague_op",
            Req::Audit(_) => "audit",
            Req::ApiKeys => "apikeys",
            Req::CreateKey(_) | Req::RevokeKey(_) => "apikey_op",
            Req::Security => "security",
            Req::UpdateSecurity(_) => "security_op",
            Req::SshKeys => "sshkeys",
            Req::AddSshKey(_) | Req::RemoveSshKey(_) => "sshkey_op",
            Req::ImportFile { .. } | Req::ApplyImport { .. } => "import",
            Req::Export { .. } | Req::Template(_) => "file",
        }
    }
}

#[derive(Debug)]
pub enum Reply {
    /// The captcha and the solution of its proof of work.
    Captcha(ClientResult<(Captcha, String)>),
    Login(Box<ClientResult<LoginResponse>>),
    Register(ClientResult<RegisterResponse>),
    Message(ClientResult<Message>),
    Page(ClientResult<AccountPage>),
    AllIds(ClientResult<Vec<i64>>),
    Details(ClientResult<AccountDetails>),
    Saved {
        send_email: bool,
        res: ClientResult<AccountDetails>,
    },
    Reset {
        pincode: bool,
        res: ClientResult<AccountDetails>,
    },
    Removed(ClientResult<RemoveResult>),
    Sent(ClientResult<SendEmailResult>),
    Failed(ClientResult<FailedEmailList>),
    FailedOp(ClientResult<CountResult>),
    Licenses(ClientResult<LicenseList>),
    LicenseAdded(ClientResult<AddLicenseResponse>),
    Profile(ClientResult<Profile>),
    PasswordChanged(ClientResult<Message>),
    LoggedOut,
    Colleagues(ClientResult<ColleagueList>),
    /// A colleague changed (None: removed).
    ColleagueDone(ClientResult<Option<Colleague>>),
    Audit(ClientResult<AuditPage>),
    ApiKeys(ClientResult<ApiKeyList>),
    KeyCreated(ClientResult<ApiKeyCreated>),
    KeyRevoked(ClientResult<Message>),
    Security(ClientResult<Security>),
    SecuritySaved(ClientResult<Security>),
    SshKeys(ClientResult<SshKeyList>),
    SshKeyAdded(ClientResult<SshKey>),
    SshKeyRemoved(ClientResult<Message>),
    /// The rows read (with the sheet's header row) and the server's preview, or why not.
    ImportPreview(Result<(Vec<BatchRow>, u32, BatchResult), String>),
    Imported(ClientResult<BatchResult>),
    /// A file written (what to tell the user), or why not.
    FileWritten(Result<String, String>),
}

/// The requests to start and the ones on their way: each gets an id, and a newer request
/// in the same slot makes the answer of the older one stale.
pub struct Requests {
    /// To start (the event loop spawns them).
    pub queue: Vec<(u64, Req)>,
    next_id: u64,
    inflight: HashMap<&'static str, u64>,
}

impl Default for Requests {
    fn default() -> Self {
        Requests {
            queue: vec![],
            next_id: 1,
            inflight: HashMap::new(),
        }
    }
}

impl Requests {
    /// Queue `req`; its id.
    pub fn send(&mut self, req: Req) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.inflight.insert(req.slot(), id);
        self.queue.push((id, req));
        id
    }

    /// The answer to request `id` arrived: whether it is still wanted (it is no longer
    /// on its way either way).
    pub fn accept(&mut self, id: u64) -> bool {
        let slot = self
            .inflight
            .iter()
            .find(|(_, v)| **v == id)
            .map(|(k, _)| *k);
        match slot {
            Some(slot) => {
                self.inflight.remove(slot);
                true
            }
            None => false,
        }
    }

    /// Whether any request is on its way.
    pub fn busy(&self) -> bool {
        !self.inflight.is_empty()
    }

    /// Drop every request on its way: their answers will be stale.
    pub fn forget(&mut self) {
        self.inflight.clear();
    }
}
