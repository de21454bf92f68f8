//! vcms-endpoint: an endpoint emulator. Signs in to the endpoint API, registers over SIP,
//! keeps the registration refreshed, and unregisters and signs out on exit or Ctrl-C.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use clap::{Parser, Subcommand};
use vcms_server::api::{BuiltinCredentials, Device, EndpointLoginRequest};
use vcms_server::client::Client;
use vcms_server::sip::client::{Options, Transport, Ua};
use vcms_server::sip::digest::Algorithm;

#[derive(Parser)]
#[command(
    name = "vcms-endpoint",
    version,
    about = "Emulate a vcms endpoint: sign in, register over SIP, stay online"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// How the endpoint signs in.
#[derive(clap::Args)]
struct SignIn {
    /// The server's URL, e.g. http://127.0.0.1:8080
    #[arg(long, env = "VCMS_SERVER")]
    server: String,
    #[arg(long, conflicts_with_all = ["cloud_number", "serial"])]
    pincode: Option<String>,
    #[arg(long, requires = "password", conflicts_with = "serial")]
    cloud_number: Option<String>,
    #[arg(long, env = "VCMS_ENDPOINT_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Serial of a provisioned device (built-in cloud number), with --secret.
    #[arg(long, requires = "secret")]
    serial: Option<String>,
    #[arg(long, env = "VCMS_DEVICE_SECRET", hide_env_values = true)]
    secret: Option<String>,
    #[arg(long, default_value = "VC Desktop")]
    model: String,
    #[arg(long = "version", default_value = "1.0.50.16")]
    device_version: String,
    /// Stable id of this device (UUID); default: a new one.
    #[arg(long)]
    instance: Option<String>,
}

impl SignIn {
    async fn run(&self) -> anyhow::Result<(Client, vcms_server::api::EndpointLoginResponse)> {
        if self.pincode.is_none() && self.cloud_number.is_none() && self.serial.is_none() {
            anyhow::bail!(
                "sign in with --pincode, --cloud-number and --password, or --serial and --secret"
            );
        }
        let api = Client::new(&self.server);
        let req = EndpointLoginRequest {
            pincode: self.pincode.clone(),
            cloud_number: self.cloud_number.clone(),
            password: self.password.clone(),
            builtin: self.serial.clone().map(|serial| BuiltinCredentials {
                serial,
                secret: self.secret.clone().unwrap_or_default(),
            }),
            device: Device {
                model: self.model.clone(),
                version: self.device_version.clone(),
                instance: self.instance.clone().unwrap_or_default(),
            },
        };
        let login = api
            .endpoint_login(&req)
            .await
            .map_err(|e| anyhow::anyhow!("sign-in refused: {e}"))?;
        say(format!(
            "signed in as {} (cloud number {}, extension {}, enterprise {})",
            login.display_name, login.cloud_number, login.extension, login.enterprise_number
        ));
        Ok((api, login))
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Sign in (pincode, cloud number + password, or a provisioned serial + secret), then
    /// register and stay registered.
    Login {
        #[command(flatten)]
        sign_in: SignIn,
        #[arg(long, default_value = "udp")]
        transport: String,
        /// Stay registered this many seconds, then unregister and exit (default: until Ctrl-C).
        #[arg(long)]
        hold: Option<u64>,
        /// Registration lifetime to ask for (default: what the server says).
        #[arg(long)]
        expires: Option<u32>,
        /// Digest algorithm: md5 or sha-256.
        #[arg(long, default_value = "md5")]
        algorithm: String,
        /// PEM certificate to trust for TLS (default: accept the server's, self-signed or not).
        #[arg(long)]
        tls_ca: Option<std::path::PathBuf>,
    },
    /// Sign in, print the enterprise directory, and with --follow print its live changes
    /// until Ctrl-C (or --hold seconds); then sign out.
    Directory {
        #[command(flatten)]
        sign_in: SignIn,
        #[arg(long)]
        follow: bool,
        #[arg(long)]
        hold: Option<u64>,
    },
}

fn say(s: impl AsRef<str>) {
    println!("{}", s.as_ref());
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn show(e: &vcms_server::api::DirectoryEntry) -> String {
    format!(
        "{}  {}  {}  {}",
        e.extension,
        e.cloud_number,
        if e.registered {
            "registered  "
        } else {
            "unregistered"
        },
        e.name
    )
}

async fn directory(sign_in: SignIn, follow: bool, hold: Option<u64>) -> anyhow::Result<()> {
    let (api, login) = sign_in.run().await?;
    let api = api.with_token(login.token.clone());
    let result = async {
        let d = api.directory().await?;
        say(format!(
            "directory {} ({} people)",
            d.version,
            d.entries.len()
        ));
        for e in &d.entries {
            say(show(e));
        }
        if !follow {
            return Ok::<_, anyhow::Error>(());
        }
        let after = d.version.trim_start_matches('v').parse().ok();
        let mut events = api.directory_events(after).await?;
        let deadline = async {
            match hold {
                Some(h) => tokio::time::sleep(Duration::from_secs(h)).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                item = events.next_directory_change() => match item {
                    Some(Ok(Some(c))) => match &c.entry {
                        Some(e) => say(format!("{}: {}", c.kind, show(e))),
                        None => say(format!(
                            "{}: account {}",
                            c.kind,
                            c.account_id.map(|i| i.to_string()).unwrap_or_default()
                        )),
                    },
                    Some(Ok(None)) => { say("signed out by the server"); break; }
                    Some(Err(e)) => anyhow::bail!("{e}"),
                    None => { say("the server closed the stream"); break; }
                },
                _ = &mut deadline => break,
                _ = tokio::signal::ctrl_c() => { say("interrupted"); break; }
            }
        }
        Ok(())
    }
    .await;
    match api.endpoint_logout(&login.token).await {
        Ok(_) => say("signed out"),
        Err(e) => say(format!("sign-out failed: {e}")),
    }
    result
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let (sign_in, transport, hold, expires, algorithm, tls_ca) = match cli.cmd {
        Cmd::Directory {
            sign_in,
            follow,
            hold,
        } => return directory(sign_in, follow, hold).await,
        Cmd::Login {
            sign_in,
            transport,
            hold,
            expires,
            algorithm,
            tls_ca,
        } => (sign_in, transport, hold, expires, algorithm, tls_ca),
    };
    let transport = Transport::parse(&transport)
        .ok_or_else(|| anyhow::anyhow!("--transport must be udp, tcp or tls"))?;
    let algorithm = Algorithm::parse(&algorithm)
        .ok_or_else(|| anyhow::anyhow!("--algorithm must be md5 or sha-256"))?;
    let (model, device_version) = (sign_in.model.clone(), sign_in.device_version.clone());
    let (api, login) = sign_in.run().await?;
    let sip = &login.sip;
    let target = sip
        .servers
        .iter()
        .find(|s| s.transport.eq_ignore_ascii_case(transport.name()))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "the server offers no SIP over {} (it offers: {})",
                transport.name(),
                sip.servers
                    .iter()
                    .map(|s| s.transport.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
    let addr: SocketAddr = (target.host.as_str(), target.port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| anyhow::anyhow!("cannot resolve {}", target.host))?;
    let mut ua = Ua::connect(Options {
        server: addr,
        transport,
        domain: sip.domain.clone(),
        user: sip.username.clone(),
        password: sip.password.clone(),
        instance: Some(sip.instance.clone()),
        user_agent: format!("{model} {device_version}"),
        tls_ca,
        algorithm,
        contact_addr: None,
    })
    .await?;
    let want = expires.unwrap_or(sip.expires);
    let r = ua.register(Some(want)).await?;
    if r.code != 200 {
        let _ = api.endpoint_logout(&login.token).await;
        anyhow::bail!("registration refused: {} {}", r.code, r.reason);
    }
    let granted = granted_expires(&r, &ua).unwrap_or(want);
    say(format!(
        "registered over {} to {addr} for {granted} s ({} endpoint(s) on this account)",
        transport.name(),
        r.headers("Contact").len()
    ));
    let deadline = hold.map(|h| tokio::time::Instant::now() + Duration::from_secs(h));
    let mut refresh_in = Duration::from_secs(u64::from(granted.max(2) / 2));
    loop {
        let sleep = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(tokio::time::Instant::now());
                if left.is_zero() {
                    break;
                }
                left.min(refresh_in)
            }
            None => refresh_in,
        };
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = tokio::signal::ctrl_c() => { say("interrupted"); break; }
        }
        if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
            break;
        }
        let r = ua.register(Some(want)).await?;
        if r.code != 200 {
            say(format!("refresh refused: {} {}", r.code, r.reason));
            let _ = api.endpoint_logout(&login.token).await;
            anyhow::bail!("registration lost");
        }
        let g = granted_expires(&r, &ua).unwrap_or(want);
        say(format!("refreshed for {g} s"));
        refresh_in = Duration::from_secs(u64::from(g.max(2) / 2));
    }
    match ua.register(Some(0)).await {
        Ok(r) if r.code == 200 => say("unregistered"),
        Ok(r) => say(format!("unregister answered {} {}", r.code, r.reason)),
        Err(e) => say(format!("unregister failed: {e}")),
    }
    match api.endpoint_logout(&login.token).await {
        Ok(_) => say("signed out"),
        Err(e) => say(format!("sign-out failed: {e}")),
    }
    Ok(())
}

/// The expires the server granted to our contact.
fn granted_expires(r: &vcms_server::sip::client::Response, ua: &Ua) -> Option<u32> {
    let me = format!("@{}", ua.contact_addr());
    r.headers("Contact")
        .iter()
        .filter(|c| c.contains(&me))
        .filter_map(|c| {
            c.split(";expires=")
                .nth(1)
                .and_then(|e| e.split(';').next())
                .and_then(|e| e.trim().parse().ok())
        })
        .max()
}
