//! Command line: `vcms` (console), `vcms demo`, and the scripting commands
//! (`vcms <noun> <verb>`, `--json` for machine output, exit code ≠ 0 on error). One module
//! per noun; `output` prints and carries the error type.

mod account;
mod apikey;
mod audit;
mod colleague;
mod device;
mod email;
mod import;
mod license;
mod output;
mod sshkey;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use vcms_api::client::Client;
use vcms_api::*;

pub use account::AccountCmd;
pub use apikey::ApiKeyCmd;
pub use audit::AuditCmd;
pub use colleague::ColleagueCmd;
pub use device::DeviceCmd;
pub use email::{EmailCmd, FailedCmd};
pub use license::LicenseCmd;
use output::{err, print, R};
pub use output::{report_error, CliError};
pub use sshkey::SshKeyCmd;

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
    /// Your SSH public keys: each opens the console over SSH as you.
    #[command(subcommand)]
    Sshkey(SshKeyCmd),
    /// The audit log (owner and administrators).
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Devices provisioned with a built-in cloud number (one-key sign-in).
    #[command(subcommand)]
    Device(DeviceCmd),
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
                req.captcha_pow = Some(vcms_api::client::solve_captcha(&cap).await);
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
    let client = || signed_in(cli.server.as_deref(), server);
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

        // Needs no server, so no sign-in either.
        Cmd::Account(AccountCmd::Template { file }) => account::template(json, file),
        Cmd::Account(a) => account::run(&client()?, cfg, json, cli.yes, a).await,
        Cmd::Email(e) => email::run(&client()?, json, e).await,
        Cmd::License(l) => license::run(&client()?, json, l).await,
        Cmd::Colleague(a) => colleague::run(&client()?, json, cli.yes, a).await,
        Cmd::Apikey(a) => apikey::run(&client()?, json, a).await,
        Cmd::Sshkey(a) => sshkey::run(&client()?, json, a).await,
        Cmd::Device(d) => device::run(&client()?, json, d).await,
        Cmd::Audit(a) => audit::run(&client()?, json, a).await,
    }
}
