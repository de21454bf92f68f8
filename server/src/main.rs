//! `vcms-server`: run the service, and the operator's commands.

/// mimalloc: under SIP load glibc's allocator kept hundreds of MiB it no longer used and
/// spent a fifth of the CPU (BENCHMARKS.md).
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;

use vcms_server::clock::SystemClock;
use vcms_server::config::{Config, MailTransportKind};
use vcms_server::mail::{Delivery, Outgoing};
use vcms_server::service::{auth, enterprise, license};
use vcms_server::{license_number, store, Server};

#[derive(Parser)]
#[command(name = "vcms-server", version, about = "vcms cloud service")]
struct Cli {
    /// TOML settings file (see server/vcms-server.example.toml). VCMS_* variables override it.
    #[arg(long, global = true, env = "VCMS_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the HTTP API, deliver emails and run the periodic jobs until Ctrl-C or SIGTERM.
    Serve,
    /// Apply the database migrations and exit.
    Migrate,
    /// Check the settings (and that the database opens) and print them, secrets hidden.
    CheckConfig,
    /// Send a test email to TO with the configured transport and report what happened.
    SendTestEmail { to: String },
    /// Copy the embedded database into FILE while the server runs (consistent, labelled).
    /// Keep the secret key apart from it: the backup's secrets open only with that key.
    /// PostgreSQL: use pg_dump (README).
    Backup { file: PathBuf },
    /// Put a backup made by `backup` in place of the embedded database (server stopped).
    /// The database it replaces is kept beside it.
    Restore { file: PathBuf },
    /// Check what breaks deployments and print one line per check with its fix.
    Doctor,
    /// Enterprises (operator).
    #[command(subcommand)]
    Enterprise(EnterpriseCmd),
    /// Licenses (distributor).
    #[command(subcommand)]
    License(LicenseCmd),
}

#[derive(Subcommand)]
enum EnterpriseCmd {
    /// Create an activated enterprise (trial starts now) and print its number.
    Create {
        #[arg(long)]
        email: String,
        /// Owner password (or VCMS_OWNER_PASSWORD, which keeps it out of the process list).
        #[arg(long, env = "VCMS_OWNER_PASSWORD", hide_env_values = true)]
        password: String,
        /// Owner's full name.
        #[arg(long)]
        name: String,
        #[arg(long)]
        company: String,
        #[arg(long)]
        country: String,
        #[arg(long, default_value = "en")]
        language: String,
        #[arg(long)]
        json: bool,
    },
    /// List enterprises with their owner and quota.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum LicenseCmd {
    /// Issue a new license number.
    Issue {
        /// Accounts the license allows.
        #[arg(long)]
        quantity: i64,
        /// Service life in years.
        #[arg(long)]
        years: i64,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a license: its enterprise loses the quantity at once.
    Revoke { number: String },
    /// List every license.
    List {
        #[arg(long)]
        json: bool,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `VCMS_LOG` (default `info`). rsipstack logs whole SIP messages (digest answers
/// included) at INFO: it stays at `warn` unless `VCMS_LOG` names it, so `VCMS_LOG=info`
/// does not turn on a line per message; `VCMS_LOG=info,rsipstack=debug` does.
/// `VCMS_LOG_FORMAT=json`: one JSON object per line, with the request id of the HTTP
/// request being answered (`span.request_id`, also sent as `X-Request-Id`).
fn init_logs() -> anyhow::Result<()> {
    let mut filter = tracing_subscriber::EnvFilter::try_from_env("VCMS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let given = std::env::var("VCMS_LOG").unwrap_or_default();
    for (target, directive) in [("rsipstack", "rsipstack=warn"), ("sqlx", "sqlx=warn")] {
        if !given.contains(target) {
            if let Ok(d) = directive.parse() {
                filter = filter.add_directive(d);
            }
        }
    }
    let format = std::env::var("VCMS_LOG_FORMAT").unwrap_or_default();
    // Colours only on a terminal: a journal or a file gets plain lines (fail2ban reads them).
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    match format.trim().to_ascii_lowercase().as_str() {
        "" | "text" => {
            let _ = fmt.try_init();
        }
        "json" => {
            let _ = fmt
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .try_init();
        }
        other => anyhow::bail!("VCMS_LOG_FORMAT must be text or json (got {other:?})"),
    }
    Ok(())
}

fn describe_mail(cfg: &Config) -> String {
    match cfg.mail.transport {
        MailTransportKind::Folder => format!("folder {}", cfg.outbox_dir().display()),
        MailTransportKind::Smtp => format!(
            "smtp {}:{} ({:?})",
            cfg.smtp.host, cfg.smtp.port, cfg.smtp.security
        )
        .to_lowercase(),
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let cfg = Config::load(cli.config.as_deref())?;
    match cli.cmd {
        Cmd::Serve => serve(cfg).await,
        Cmd::Migrate => {
            let s = store::Store::connect(&cfg.database_url(), 1).await?;
            s.migrate().await?;
            println!("migrated {}", store::redact_url(&cfg.database_url()));
            Ok(())
        }
        Cmd::CheckConfig => check_config(cfg).await,
        Cmd::SendTestEmail { to } => send_test_email(cfg, to).await,
        Cmd::Backup { file } => {
            println!("{}", vcms_server::ops::backup(&cfg, &file).await?);
            Ok(())
        }
        Cmd::Restore { file } => {
            println!("{}", vcms_server::ops::restore(&cfg, &file).await?);
            Ok(())
        }
        Cmd::Doctor => {
            let findings = vcms_server::ops::doctor(&cfg).await;
            for f in &findings {
                println!("{}", f.line());
            }
            let failed = findings
                .iter()
                .filter(|f| f.verdict == vcms_server::ops::Verdict::Fail)
                .count();
            if failed > 0 {
                anyhow::bail!("{failed} check(s) failed");
            }
            Ok(())
        }
        Cmd::Enterprise(EnterpriseCmd::Create {
            email,
            password,
            name,
            company,
            country,
            language,
            json,
        }) => {
            let new = auth::NewEnterprise::parse(
                &name,
                &company,
                &country,
                &email,
                &password,
                Some(&language),
            )
            .map_err(|e| anyhow::anyhow!("{}", e.body.message))?;
            let server = Server::build(cfg, Arc::new(SystemClock)).await?;
            let (_, number) = auth::create_enterprise(&server.app, new, true)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.body.message))?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "enterprise_number": number, "email": email })
                );
            } else {
                println!("{number}");
            }
            Ok(())
        }
        Cmd::Enterprise(EnterpriseCmd::List { json }) => list_enterprises(cfg, json).await,
        Cmd::License(LicenseCmd::Issue {
            quantity,
            years,
            json,
        }) => {
            let server = Server::build(cfg, Arc::new(SystemClock)).await?;
            let number = license::issue(&server.app, quantity, years)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.body.message))?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "license_number": number, "quantity": quantity, "years": years })
                );
            } else {
                println!("{number}");
            }
            Ok(())
        }
        Cmd::License(LicenseCmd::Revoke { number }) => {
            let server = Server::build(cfg, Arc::new(SystemClock)).await?;
            license::revoke(&server.app, &number)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.body.message))?;
            println!(
                "revoked {}",
                license_number::normalize(&number).unwrap_or(number)
            );
            Ok(())
        }
        Cmd::License(LicenseCmd::List { json }) => list_licenses(cfg, json).await,
    }
}

async fn serve(cfg: Config) -> anyhow::Result<()> {
    init_logs()?;
    let listener = tokio::net::TcpListener::bind(&cfg.http.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", cfg.http.listen))?;
    let addr = listener.local_addr()?;
    let data = cfg.data_dir.clone();
    let db = store::redact_url(&cfg.database_url());
    let mail = describe_mail(&cfg);
    let server = Server::build(cfg, Arc::new(SystemClock)).await?;
    let running = server.start(listener, true).await?;
    println!(
        "vcms-server {} listening on http://{addr}",
        env!("CARGO_PKG_VERSION")
    );
    println!("  API document: http://{addr}/api/openapi.json");
    println!("  data:         {}", data.display());
    println!("  database:     {db}");
    println!("  outbox:       {mail}");
    if let Some(m) = running.metrics {
        println!("  metrics:      http://{m}/metrics");
    }
    if let Some(sip) = &running.sip {
        for (t, a) in [("udp", sip.udp), ("tcp", sip.tcp), ("tls", sip.tls)] {
            if let Some(a) = a {
                println!("  sip {t}:      {a}");
            }
        }
    }
    if let Some(s) = &running.ssh {
        println!("  ssh console:  {} (host key {})", s.addr, s.fingerprint);
    }
    println!("ready (SIGTERM or Ctrl-C stops)");
    wait_for_stop().await;
    println!("stopping: finishing requests and the email being sent");
    running.shutdown().await;
    println!("stopped");
    Ok(())
}

/// Connects to the database and tries the SMTP settings (sends nothing).
async fn check_config(cfg: Config) -> anyhow::Result<()> {
    let s = store::Store::connect(&cfg.database_url(), 1).await?;
    s.close().await;
    println!("config OK");
    println!("  data_dir:     {}", cfg.data_dir.display());
    println!("  http.listen:  {}", cfg.http.listen);
    println!("  database:     {}", store::redact_url(&cfg.database_url()));
    println!(
        "  mail:         {} from {}",
        describe_mail(&cfg),
        cfg.mail.from
    );
    println!("  key file:     {}", cfg.key_file().display());
    println!(
        "  captcha:      {}",
        if cfg.security.captcha { "on" } else { "off" }
    );
    if cfg.mail.transport == MailTransportKind::Smtp {
        // Try the SMTP settings (EHLO, STARTTLS, sign-in; nothing is sent).
        match vcms_server::mail::check_smtp(&cfg).await {
            Ok(what) => println!("  smtp check:   OK ({what})"),
            Err(problem) => {
                println!("  smtp check:   FAILED");
                anyhow::bail!("{problem}");
            }
        }
    }
    Ok(())
}

async fn send_test_email(cfg: Config, to: String) -> anyhow::Result<()> {
    let to = vcms_server::validate::Email::parse("TO", &to)
        .map_err(|e| anyhow::anyhow!("{}", e.body.message))?;
    let mail = describe_mail(&cfg);
    let server = Server::build(cfg, Arc::new(SystemClock)).await?;
    let app = server.app.clone();
    let mut c = app.store.conn().await?;
    let id = app
        .mailer
        .enqueue(
            &mut c,
            &Outgoing {
                enterprise_id: None,
                account_id: None,
                account_label: None,
                kind: "test",
                recipient: to.as_str(),
                lang: "en",
                vars: &[("server", &mail)],
            },
        )
        .await
        .map_err(app_error)?;
    drop(c);
    let done = app.mailer.deliver_due().await.map_err(app_error)?;
    match done.into_iter().find(|(i, _)| *i == id).map(|(_, d)| d) {
        Some(Delivery::Sent) => {
            println!("sent a test email to {} through {mail}", to.as_str())
        }
        Some(Delivery::Retry { error, .. }) => {
            anyhow::bail!("not sent yet ({error}); the server will retry it when it runs")
        }
        Some(Delivery::Failed { error }) => anyhow::bail!("failed: {error}"),
        Some(Delivery::Held { error }) => {
            anyhow::bail!("not sent, kept queued: {error}")
        }
        None => println!("queued the test email (another worker is delivering it)"),
    }
    Ok(())
}

async fn list_enterprises(cfg: Config, json: bool) -> anyhow::Result<()> {
    let server = Server::build(cfg, Arc::new(SystemClock)).await?;
    let list = enterprise::list(&server.app).await.map_err(app_error)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else {
        println!(
            "{:<7} {:<8} {:<10} {:<32} {:<24} COMPANY",
            "NUMBER", "STATUS", "ACCOUNTS", "OWNER", "COUNTRY"
        );
        for e in list {
            let accounts = format!("{}/{}", e.quota.used, e.quota.quota);
            println!(
                "{:<7} {:<8} {:<10} {:<32} {:<24} {}",
                e.number, e.status, accounts, e.owner, e.country, e.company
            );
        }
    }
    Ok(())
}

async fn list_licenses(cfg: Config, json: bool) -> anyhow::Result<()> {
    let server = Server::build(cfg, Arc::new(SystemClock)).await?;
    let list = license::list_all(&server.app).await.map_err(app_error)?;
    if json {
        let v: Vec<_> = list
            .iter()
            .map(|(l, e)| serde_json::json!({ "license": l, "enterprise_number": e }))
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "{:<24} {:<9} {:>8} {:>5} {:<10} {:<20} END",
            "NUMBER", "STATUS", "QUANTITY", "YEARS", "ENTERPRISE", "START"
        );
        for (l, e) in list {
            println!(
                "{:<24} {:<9} {:>8} {:>5} {:<10} {:<20} {}",
                l.number,
                l.status,
                l.quantity,
                l.years,
                e.unwrap_or_else(|| "-".into()),
                l.start.unwrap_or_else(|| "-".into()),
                l.end.unwrap_or_else(|| "-".into())
            );
        }
    }
    Ok(())
}

async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A library error, for the command line.
fn app_error(e: vcms_server::error::AppError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}
