//! Command line: `vcms` (console), `vcms demo`, and the scripting commands
//! (`vcms <noun> <verb>`, `--json` for machine output, exit code ≠ 0 on error).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use vcms_server::api::*;
use vcms_server::client::{Client, ClientError};

use crate::config::Config;
use crate::session::{self, Session};

#[derive(Parser, Debug)]
#[command(
    name = "vcms",
    version,
    about = "Terminal console for the vcms VC cloud management service"
)]
pub struct Cli {
    /// Server address (default: config file, then http://127.0.0.1:8080).
    #[arg(long, env = "VCMS_SERVER", global = true)]
    pub server: Option<String>,
    /// Console config file (default: config.toml in the platform config directory).
    #[arg(long, env = "VCMS_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Language: en or zh-CN.
    #[arg(long, global = true)]
    pub lang: Option<String>,
    /// Theme: color or mono.
    #[arg(long, global = true)]
    pub theme: Option<String>,
    /// Machine-readable output (scripting commands).
    #[arg(long, global = true)]
    pub json: bool,
    /// Confirm without asking: every command that changes something takes it (removals
    /// and imports ask otherwise).
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Start a local server with a demo enterprise and open the console signed in.
    Demo {
        /// Keep the server data in DIR (default: a temporary directory removed at exit).
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Check that the server answers.
    Health,
    /// Sign in for the scripting commands (password from VCMS_PASSWORD or a prompt).
    Login {
        #[arg(long)]
        email: String,
    },
    /// End the scripting session.
    Logout,
    /// Cloud accounts.
    #[command(subcommand)]
    Account(AccountCmd),
    /// Emails.
    #[command(subcommand)]
    Email(EmailCmd),
    /// Licenses.
    #[command(subcommand)]
    License(LicenseCmd),
    /// Colleagues (administrators of the enterprise).
    #[command(subcommand)]
    Colleague(ColleagueCmd),
    /// API keys (owner only).
    #[command(subcommand)]
    Apikey(ApiKeyCmd),
    /// The audit log (owner and administrators).
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Devices provisioned with a built-in cloud number (one-key sign-in).
    #[command(subcommand)]
    Device(DeviceCmd),
}

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

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// One page of the audit log, newest first.
    List {
        #[arg(long)]
        search: Option<String>,
        #[arg(long, default_value_t = 1)]
        page: i64,
        #[arg(long, default_value_t = 50)]
        page_size: i64,
    },
}

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

#[derive(Subcommand, Debug)]
pub enum LicenseCmd {
    List,
    Add { number: String },
}

#[derive(Args, Debug)]
pub struct Out {
    pub json: bool,
}

/// An error of a scripting command: message for people, code for scripts.
#[derive(Debug)]
pub struct CliError {
    pub code: String,
    pub message: String,
    pub field: Option<String>,
    /// More for scripts (`--json`), e.g. the per-row report of an import.
    pub details: Option<serde_json::Value>,
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        CliError {
            code: e.code_str().to_string(),
            message: e.to_string(),
            field: e.field().map(str::to_string),
            details: None,
        }
    }
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        CliError {
            code: "error".into(),
            message: e.to_string(),
            field: None,
            details: None,
        }
    }
}

fn err(code: &str, message: impl Into<String>) -> CliError {
    CliError {
        code: code.into(),
        message: message.into(),
        field: None,
        details: None,
    }
}

type R<T> = Result<T, CliError>;

fn print<T: Serialize>(json: bool, value: &T, human: impl FnOnce() -> String) -> R<()> {
    if json {
        let s = serde_json::to_string_pretty(value).map_err(|e| err("error", e.to_string()))?;
        println!("{s}");
    } else {
        println!("{}", human());
    }
    Ok(())
}

/// The client of a scripting command: `VCMS_API_KEY` if set, else the signed-in session.
fn signed_in(explicit: Option<&str>, server: &str) -> R<Client> {
    if let Ok(key) = std::env::var("VCMS_API_KEY") {
        if !key.trim().is_empty() {
            return Ok(Client::new(server).with_token(key.trim().to_string()));
        }
    }
    let s = session::load().ok_or_else(|| {
        err(
            "unauthenticated",
            "Not signed in: run `vcms login --email E` first",
        )
    })?;
    let base = explicit.unwrap_or(&s.server);
    Ok(Client::new(base).with_token(s.token))
}

async fn by_ext(c: &Client, ext: &str) -> R<AccountDetails> {
    Ok(c.account_by_extension(ext).await?)
}

fn details_text(d: &AccountDetails) -> String {
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

fn table(rows: &[AccountRow]) -> String {
    use crate::widgets::text::pad;
    let mut s = format!(
        "{} {} {} {} {}\n",
        pad("NAME", 20),
        pad("CLOUD NUMBER", 12),
        pad("EXT", 5),
        pad("EMAIL", 28),
        "STATUS"
    );
    for r in rows {
        s.push_str(&format!(
            "{} {} {} {} {}\n",
            pad(&r.name, 20),
            pad(&r.cloud_number, 12),
            pad(&r.extension, 5),
            pad(r.email.as_deref().unwrap_or("-"), 28),
            r.status
        ));
    }
    s
}

/// Sign in; when the server asks for a captcha (after a wrong password), show its art on
/// stderr, read the characters from stdin, solve its proof of work, and try again (3 times).
async fn login_with_captcha(c: &mut Client, mut req: LoginRequest) -> R<LoginResponse> {
    for _ in 0..3 {
        match c.login(&req).await {
            Err(e) if e.field() == Some("captcha") => {
                let cap = c.captcha().await?;
                eprintln!("{e}\n\n{}\n", cap.art);
                eprint!("Type the characters above: ");
                let mut answer = String::new();
                std::io::stdin()
                    .read_line(&mut answer)
                    .map_err(|e| err("error", format!("cannot read the captcha: {e}")))?;
                req.captcha_pow = Some(vcms_server::client::solve_captcha(&cap).await);
                req.captcha_id = Some(cap.id);
                req.captcha_answer = Some(answer.trim().to_string());
            }
            r => return Ok(r?),
        }
    }
    Ok(c.login(&req).await?)
}

/// Run a scripting command.
pub async fn run_script(cli: &Cli, cfg: &Config, server: &str, cmd: &Cmd) -> R<()> {
    let json = cli.json;
    match cmd {
        Cmd::Demo { .. } => Err(err("error", "not a scripting command")),
        Cmd::Health => {
            let h = Client::new(server).health().await?;
            print(json, &h, || {
                format!(
                    "{server} is {} (database {}, version {})",
                    h.status, h.database, h.version
                )
            })
        }
        Cmd::Login { email } => {
            let password = match std::env::var("VCMS_PASSWORD") {
                Ok(p) if !p.is_empty() => p,
                _ => rpassword::prompt_password(format!("Password for {email}: "))
                    .map_err(|e| err("error", format!("cannot read the password: {e}")))?,
            };
            let mut c = Client::new(server);
            let r = login_with_captcha(
                &mut c,
                LoginRequest {
                    email: email.clone(),
                    password,
                    ..Default::default()
                },
            )
            .await?;
            session::save(&Session {
                server: server.to_string(),
                email: email.clone(),
                token: r.token.clone(),
            })?;
            print(json, &r.profile, || {
                format!(
                    "Signed in as {} (enterprise {}) at {server}",
                    r.profile.username, r.profile.enterprise_number
                )
            })
        }
        Cmd::Logout => {
            if let Ok(c) = signed_in(cli.server.as_deref(), server) {
                let _ = c.logout().await;
            }
            let removed = session::clear();
            print(json, &serde_json::json!({"signed_out": removed}), || {
                if removed {
                    "Signed out".into()
                } else {
                    "Not signed in".into()
                }
            })
        }
        Cmd::Account(AccountCmd::Template { file }) => {
            crate::import::write_template(file)?;
            print(json, &serde_json::json!({"file": file}), || {
                format!("Wrote the blank template to {}", file.display())
            })
        }
        Cmd::Account(a) => {
            let c = signed_in(cli.server.as_deref(), server)?;
            match a {
                AccountCmd::Import {
                    file,
                    dry_run,
                    send_email,
                } => {
                    let opts = ImportOpts {
                        dry_run: *dry_run,
                        yes: cli.yes,
                        send_email: *send_email,
                    };
                    import(&c, cfg, json, file, opts).await
                }
                AccountCmd::Export { file, search } => {
                    let mut bar = Progress::new("Exporting");
                    let rows =
                        crate::import::export_rows(&c, search.clone(), &mut |d, t| bar.show(d, t))
                            .await?;
                    bar.done();
                    crate::import::write_export(file, &rows)?;
                    print(
                        json,
                        &serde_json::json!({"file": file, "accounts": rows.len()}),
                        || format!("Exported {} account(s) to {}", rows.len(), file.display()),
                    )
                }
                _ => account(&c, json, cli.yes, a).await,
            }
        }
        Cmd::Email(EmailCmd::Failed(f)) => {
            let c = signed_in(cli.server.as_deref(), server)?;
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
        Cmd::License(l) => {
            let c = signed_in(cli.server.as_deref(), server)?;
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
                                vcms_server::license_number::display(&x.number),
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
                    let n =
                        vcms_server::license_number::normalize(number).map_err(|m| CliError {
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
        Cmd::Colleague(a) => {
            let c = signed_in(cli.server.as_deref(), server)?;
            colleague(&c, json, cli.yes, a).await
        }
        Cmd::Apikey(a) => {
            let c = signed_in(cli.server.as_deref(), server)?;
            apikey(&c, json, a).await
        }
        Cmd::Device(d) => {
            let c = signed_in(cli.server.as_deref(), server)?;
            device(&c, json, d).await
        }
        Cmd::Audit(AuditCmd::List {
            search,
            page,
            page_size,
        }) => {
            let c = signed_in(cli.server.as_deref(), server)?;
            let p = c
                .audit(&AuditQuery {
                    search: search.clone(),
                    page: Some(*page),
                    page_size: Some(*page_size),
                })
                .await?;
            print(json, &p, || audit_table(&p))
        }
    }
}

async fn account(c: &Client, json: bool, yes: bool, a: &AccountCmd) -> R<()> {
    match a {
        AccountCmd::List {
            search,
            page,
            page_size,
        } => {
            let p = c
                .accounts(&AccountQuery {
                    page: Some(*page),
                    page_size: Some(*page_size),
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
        AccountCmd::ResetPassword { ext } => {
            let d = by_ext(c, ext).await?;
            let d = c.reset_account_password(d.id).await?;
            print(json, &d, || {
                format!(
                    "New password of {} ({}): {}",
                    d.name, d.cloud_number, d.password
                )
            })
        }
        AccountCmd::ResetPincode { ext } => {
            let d = by_ext(c, ext).await?;
            let d = c.reset_account_pincode(d.id).await?;
            print(json, &d, || {
                format!(
                    "New login pincode of {} ({}): {} (valid until {})",
                    d.name,
                    d.cloud_number,
                    d.pincode.as_deref().unwrap_or("-"),
                    d.pincode_expires_at.as_deref().unwrap_or("-")
                )
            })
        }
        AccountCmd::Import { .. } | AccountCmd::Export { .. } | AccountCmd::Template { .. } => {
            Err(err("error", "handled by run_script"))
        }
        AccountCmd::SendEmail { exts, all, search } => {
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
                    all: *all,
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
    }
}

/// A progress bar on stderr, drawn only when stderr is a terminal.
struct Progress {
    label: &'static str,
    tty: bool,
    last: u64,
}

impl Progress {
    fn new(label: &'static str) -> Self {
        use std::io::IsTerminal;
        Progress {
            label,
            tty: std::io::stderr().is_terminal(),
            last: u64::MAX,
        }
    }

    fn show(&mut self, done: u64, total: u64) {
        if !self.tty {
            return;
        }
        let pct = (done * 100).checked_div(total).unwrap_or(0).min(100);
        if pct == self.last {
            return;
        }
        self.last = pct;
        let fill = (pct / 5) as usize;
        eprint!(
            "\r{:<10} [{}{}] {pct:>3}%",
            self.label,
            "#".repeat(fill),
            " ".repeat(20 - fill)
        );
    }

    /// A stage without steps (one request): its label alone.
    fn stage(label: &'static str, what: &str) {
        use std::io::IsTerminal;
        if std::io::stderr().is_terminal() {
            eprint!("\r{label:<10} {what}\x1b[K");
        }
    }

    fn done(&mut self) {
        if self.tty {
            eprint!("\r\x1b[K");
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct ImportOpts {
    dry_run: bool,
    yes: bool,
    send_email: bool,
}

/// `vcms account import FILE`: read, preview (the server's dry run), confirm, apply.
async fn import(
    c: &Client,
    cfg: &Config,
    json: bool,
    file: &std::path::Path,
    o: ImportOpts,
) -> R<()> {
    let limits = crate::import::limits(cfg);
    let mut bar = Progress::new("Reading");
    let sheet =
        crate::import::read_file(file, &limits, &mut |d, t| bar.show(d, t)).map_err(|e| {
            bar.done();
            CliError {
                code: e.code().into(),
                message: format!("{}: {e}", file.display()),
                field: Some("file".into()),
                details: None,
            }
        })?;
    bar.done();
    let rows = crate::import::batch_rows(&sheet);
    Progress::stage("Checking", &format!("{} row(s)…", rows.len()));
    let preview = c
        .batch_accounts(&BatchRequest {
            rows: rows.clone(),
            dry_run: true,
            send_email: o.send_email,
        })
        .await;
    Progress::new("").done();
    let preview = preview?;
    let lines = crate::import::preview_lines(&preview, &rows);
    let summary = format!(
        "{}: {} row(s) from row {} on: {}",
        file.display(),
        rows.len(),
        sheet.header_row + 1,
        crate::import::counts(&preview)
    );
    if !json {
        println!("{summary}");
        for l in &lines {
            println!("  {l}");
        }
    }
    if !preview.errors.is_empty() {
        return Err(CliError {
            code: "import_errors".into(),
            message: preview.message.clone(),
            field: None,
            details: serde_json::to_value(&preview).ok(),
        });
    }
    if o.dry_run {
        if json {
            print(true, &preview, String::new)?;
        } else {
            println!("{} (dry run: nothing was changed)", preview.message);
        }
        return Ok(());
    }
    if preview.created + preview.updated == 0 {
        return print(json, &preview, || "Nothing to change".into());
    }
    if !o.yes {
        use std::io::{BufRead, IsTerminal, Write};
        if json || !std::io::stdin().is_terminal() {
            return Err(err("confirm", "Apply the import? Add --yes to apply"));
        }
        print!(
            "Import {} account(s) ({} to create, {} to update)? [y/N] ",
            preview.created + preview.updated,
            preview.created,
            preview.updated
        );
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Err(err("cancelled", "Nothing was imported"));
        }
    }
    Progress::stage("Sending", &format!("{} row(s)…", rows.len()));
    let key = crate::import::idempotency_key();
    let r = crate::import::apply(c, rows, o.send_email, &key).await;
    Progress::new("").done();
    let r = r?;
    if !r.errors.is_empty() {
        return Err(CliError {
            code: "import_errors".into(),
            message: r.message.clone(),
            field: None,
            details: serde_json::to_value(&r).ok(),
        });
    }
    print(json, &r, || {
        let mut s = r.message.clone();
        if r.emails_queued > 0 {
            s.push_str(&format!("; {} email(s) queued", r.emails_queued));
        }
        s
    })
}

fn role_flags(role: Role, manage_admins: bool) -> String {
    if role == Role::Admin && manage_admins {
        "admin +manage-admins".into()
    } else {
        role.to_string()
    }
}

fn colleague_table(items: &[Colleague]) -> String {
    use crate::widgets::text::pad;
    let mut s = format!(
        "{} {} {} {} {}\n",
        pad("ID", 5),
        pad("NAME", 22),
        pad("EMAIL", 30),
        pad("ROLE", 22),
        "STATUS"
    );
    for x in items {
        s.push_str(&format!(
            "{} {} {} {} {}{}\n",
            pad(&x.id.to_string(), 5),
            pad(&x.name, 22),
            pad(&x.email, 30),
            pad(&role_flags(x.role, x.manage_admins), 22),
            x.status,
            if x.mfa_enabled { " (MFA)" } else { "" }
        ));
    }
    s
}

fn colleague_line(x: &Colleague) -> String {
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
fn check_role(role: &str, allowed: &[Role]) -> R<Role> {
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

async fn colleague(c: &Client, json: bool, yes: bool, a: &ColleagueCmd) -> R<()> {
    match a {
        ColleagueCmd::List => {
            let l = c.colleagues().await?;
            print(json, &l, || colleague_table(&l.items))
        }
        ColleagueCmd::Invite {
            first_name,
            last_name,
            email,
            role,
            manage_admins,
        } => {
            let role = check_role(role, &[Role::Admin, Role::Helpdesk])?;
            let x = c
                .invite(&InviteRequest {
                    first_name: first_name.clone(),
                    last_name: last_name.clone(),
                    email: email.clone(),
                    role,
                    manage_admins: *manage_admins,
                })
                .await?;
            print(json, &x, || format!("Invited {}", colleague_line(&x)))
        }
        ColleagueCmd::Resend { id } => {
            let x = c.resend_invitation(*id).await?;
            print(json, &x, || {
                format!("Invitation sent again to {}", colleague_line(&x))
            })
        }
        ColleagueCmd::SetRole {
            id,
            role,
            manage_admins,
        } => {
            let role = check_role(role, &[Role::Admin, Role::Helpdesk])?;
            let x = c
                .set_colleague_role(
                    *id,
                    &RoleUpdate {
                        role,
                        manage_admins: *manage_admins,
                    },
                )
                .await?;
            print(json, &x, || colleague_line(&x))
        }
        ColleagueCmd::Disable { id } => {
            let x = c.disable_colleague(*id).await?;
            print(json, &x, || colleague_line(&x))
        }
        ColleagueCmd::Enable { id } => {
            let x = c.enable_colleague(*id).await?;
            print(json, &x, || colleague_line(&x))
        }
        ColleagueCmd::Remove { id } => {
            if !yes {
                return Err(err("confirm", "Remove this colleague? Add --yes to remove"));
            }
            let r = c.remove_colleague(*id).await?;
            print(json, &r, || r.message.clone())
        }
    }
}

async fn device(c: &Client, json: bool, d: &DeviceCmd) -> R<()> {
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

async fn apikey(c: &Client, json: bool, a: &ApiKeyCmd) -> R<()> {
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

fn audit_table(p: &AuditPage) -> String {
    use crate::widgets::text::pad;
    let mut s = format!(
        "{} {} {} {} {}\n",
        pad("TIME", 20),
        pad("WHO", 26),
        pad("ACTION", 24),
        pad("TARGET", 20),
        "FROM"
    );
    for e in &p.items {
        s.push_str(&format!(
            "{} {} {} {} {}\n",
            pad(&e.at, 20),
            pad(&e.who, 26),
            pad(&e.action, 24),
            pad(&e.target, 20),
            e.from
        ));
    }
    s.push_str(&format!("All records: {}  Page {}", p.total, p.page));
    s
}

/// Print a scripting error (JSON on stdout with --json, else a line on stderr).
pub fn report_error(json: bool, e: &CliError) {
    if json {
        let mut v =
            serde_json::json!({"error": {"code": e.code, "message": e.message, "field": e.field}});
        if let Some(d) = &e.details {
            v["error"]["details"] = d.clone();
        }
        println!("{v}");
    } else {
        eprintln!("error: {}", e.message);
    }
}
