//! vcms: the terminal console for the vcms cloud service.

use clap::Parser;
use vcms::app::App;
use vcms::cli::{Cli, Cmd};
use vcms::config::{Config, DEFAULT_SERVER};
use vcms::i18n::{t, Lang};
use vcms::theme::Theme;
use vcms_api::client::Client;

fn init_logs(cfg: &Config) -> std::path::PathBuf {
    let path = cfg
        .log_file
        .clone()
        .unwrap_or_else(|| vcms::config::data_dir().join("console.log"));
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        opts.mode(0o600);
        // A log written by an older version may be readable by others.
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    }
    if let Ok(file) = opts.open(&path) {
        let filter = tracing_subscriber::EnvFilter::try_from_env("VCMS_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file))
            .try_init();
    }
    path
}

fn lang_of(cli: &Cli, cfg: &Config) -> Lang {
    cli.lang
        .clone()
        .or_else(|| cfg.language.clone())
        .or_else(|| std::env::var("LANG").ok())
        .map(|l| Lang::parse(&l))
        .unwrap_or_default()
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let cfg = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let server = cli
        .server
        .clone()
        .or_else(|| cfg.server.clone())
        .unwrap_or_else(|| DEFAULT_SERVER.to_string());
    let lang = lang_of(&cli, &cfg);
    let theme = Theme::from_env(cli.theme.as_deref().or(cfg.theme.as_deref()));
    match &cli.cmd {
        None => {
            let log = init_logs(&cfg);
            let result = console(cfg, &server, lang, theme, log).await;
            finish(result)
        }
        Some(Cmd::Demo { data }) => {
            let log = init_logs(&cfg);
            finish(demo(cfg, data.clone(), lang, theme, log).await)
        }
        Some(cmd) => match vcms::cli::run_script(&cli, &cfg, &server, cmd).await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                vcms::cli::report_error(cli.json, &e);
                std::process::ExitCode::FAILURE
            }
        },
    }
}

fn finish(r: anyhow::Result<()>) -> std::process::ExitCode {
    match r {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn console(
    cfg: Config,
    server: &str,
    lang: Lang,
    theme: Theme,
    log: std::path::PathBuf,
) -> anyhow::Result<()> {
    let remember = cfg.remember_password;
    let email = cfg.email.clone();
    let mut app = App::new(cfg, Client::new(server), lang, theme)?;
    app.shared
        .server_info
        .push((t(lang, "server.log"), log.display().to_string()));
    if remember {
        if let Some(e) = email {
            if let Some(p) = vcms::secrets::load_password(&e) {
                app.views.login.form.set_value("password", &p);
            }
        }
    }
    vcms::term::run(&mut app).await
}

async fn demo(
    cfg: Config,
    data: Option<std::path::PathBuf>,
    lang: Lang,
    theme: Theme,
    log: std::path::PathBuf,
) -> anyhow::Result<()> {
    eprintln!("Starting the demo server…");
    let demo = vcms::demo::Demo::start(data).await?;
    let mut app = App::new(cfg, demo.client.clone(), lang, theme)?;
    app.views.login.form.set_value("email", vcms::demo::OWNER);
    let sip = demo
        .running
        .sip
        .as_ref()
        .map(|s| {
            [("udp", s.udp), ("tcp", s.tcp), ("tls", s.tls)]
                .into_iter()
                .filter_map(|(t, a)| a.map(|a| format!("{t} {a}")))
                .collect::<Vec<_>>()
                .join(" · ")
        })
        .unwrap_or_default();
    app.shared.server_info.push((t(lang, "server.sip"), sip));
    app.shared
        .server_info
        .push((t(lang, "server.data"), demo.data_dir.display().to_string()));
    app.shared
        .server_info
        .push((t(lang, "server.outbox"), demo.outbox.display().to_string()));
    app.shared
        .server_info
        .push((t(lang, "server.log"), log.display().to_string()));
    if let Some(n) = demo.notes.first() {
        app.toast = Some(vcms::app::Toast {
            text: n.clone(),
            error: true,
        });
    }
    app.signed_in(demo.profile.clone());
    let url = demo.running.url();
    let result = vcms::term::run(&mut app).await;
    let (data, outbox, kept) = demo.stop().await;
    println!("vcms demo: the server ran at {url}");
    println!(
        "  sign in as {} / {}",
        vcms::demo::OWNER,
        vcms::demo::PASSWORD
    );
    if kept {
        println!("  data:   {}", data.display());
        println!("  outbox: {}", outbox.display());
    } else {
        println!(
            "  data:   {} (temporary, now removed; use `vcms demo --data DIR` to keep it)",
            data.display()
        );
        println!("  outbox: {} (removed with it)", outbox.display());
    }
    println!("  console log: {}", log.display());
    result
}
