//! vcms-endpoint: an endpoint emulator. Signs in to the endpoint API, registers over SIP,
//! keeps the registration refreshed, places and answers calls, and unregisters and signs
//! out on exit or Ctrl-C.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use clap::{Parser, Subcommand};
use vcms_api::client::Client;
use vcms_api::{BuiltinCredentials, Device, EndpointLoginRequest};
use vcms_endpoint::{request_header, sdp, Algorithm, Dialog, Options, Transport, Ua};

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
    async fn run(&self) -> anyhow::Result<(Client, vcms_api::EndpointLoginResponse)> {
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

/// How the endpoint speaks SIP.
#[derive(clap::Args)]
struct SipArgs {
    #[arg(long, default_value = "udp")]
    transport: String,
    /// Registration lifetime to ask for (default: what the server says).
    #[arg(long)]
    expires: Option<u32>,
    /// Digest algorithm: md5 or sha-256.
    #[arg(long, default_value = "md5")]
    algorithm: String,
    /// PEM certificate to trust for TLS (default: accept the server's, self-signed or not).
    #[arg(long)]
    tls_ca: Option<std::path::PathBuf>,
    /// Answer incoming calls at once (ring, then 200 with an audio offer's answer) and
    /// stay in them until the caller hangs up.
    #[arg(long)]
    auto_answer: bool,
}

#[derive(Subcommand)]
enum Cmd {
    /// Sign in (pincode, cloud number + password, or a provisioned serial + secret), then
    /// register and stay registered (answering calls with --auto-answer).
    Login {
        #[command(flatten)]
        sign_in: SignIn,
        #[command(flatten)]
        sip: SipArgs,
        /// Stay registered this many seconds, then unregister and exit (default: until Ctrl-C).
        #[arg(long)]
        hold: Option<u64>,
    },
    /// Sign in, register, and call an extension of your enterprise (4 digits) or a cloud
    /// number (9 digits); hang up after --hold seconds in the call (default: on Ctrl-C or
    /// when the other side hangs up), then unregister and sign out.
    Call {
        #[command(flatten)]
        sign_in: SignIn,
        #[command(flatten)]
        sip: SipArgs,
        /// The extension or cloud number to call.
        number: String,
        /// Seconds to stay in the call once answered.
        #[arg(long)]
        hold: Option<u64>,
        /// Give up when nobody answers within this many seconds.
        #[arg(long, default_value_t = 60)]
        ring: u64,
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

fn show(e: &vcms_api::DirectoryEntry) -> String {
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
    match cli.cmd {
        Cmd::Directory {
            sign_in,
            follow,
            hold,
        } => directory(sign_in, follow, hold).await,
        Cmd::Login { sign_in, sip, hold } => {
            let mut ep = Endpoint::online(&sign_in, &sip).await?;
            let deadline = hold.map(|h| tokio::time::Instant::now() + Duration::from_secs(h));
            let r = ep.idle(deadline, None).await;
            ep.offline().await;
            r
        }
        Cmd::Call {
            sign_in,
            sip,
            number,
            hold,
            ring,
        } => {
            let mut ep = Endpoint::online(&sign_in, &sip).await?;
            let r = ep.call(&number, hold, ring).await;
            ep.offline().await;
            r
        }
    }
}

/// A signed-in, registered endpoint.
struct Endpoint {
    api: Client,
    token: String,
    ua: Ua,
    want: u32,
    refresh_in: Duration,
    auto_answer: bool,
    /// The call we are in, if any.
    call: Option<Dialog>,
    /// An incoming INVITE not answered yet (ringing).
    ringing: Option<(vcms_endpoint::Request, String)>,
}

impl Endpoint {
    async fn online(sign_in: &SignIn, args: &SipArgs) -> anyhow::Result<Self> {
        let transport = Transport::parse(&args.transport)
            .ok_or_else(|| anyhow::anyhow!("--transport must be udp, tcp or tls"))?;
        let algorithm = Algorithm::parse(&args.algorithm)
            .ok_or_else(|| anyhow::anyhow!("--algorithm must be md5 or sha-256"))?;
        let (model, device_version) = (sign_in.model.clone(), sign_in.device_version.clone());
        let (api, login) = sign_in.run().await?;
        let sip = &login.sip;
        let target = sip
            .servers
            .iter()
            .find(|s| s.transport.as_str().eq_ignore_ascii_case(transport.name()))
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
            tls_ca: args.tls_ca.clone(),
            algorithm,
            contact_addr: None,
        })
        .await?;
        let want = args.expires.unwrap_or(sip.expires);
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
        Ok(Self {
            api,
            token: login.token.clone(),
            ua,
            want,
            refresh_in: Duration::from_secs(u64::from(granted.max(2) / 2)),
            auto_answer: args.auto_answer,
            call: None,
            ringing: None,
        })
    }

    async fn refresh(&mut self) -> anyhow::Result<()> {
        let r = self.ua.register(Some(self.want)).await?;
        if r.code != 200 {
            say(format!("refresh refused: {} {}", r.code, r.reason));
            anyhow::bail!("registration lost");
        }
        let g = granted_expires(&r, &self.ua).unwrap_or(self.want);
        say(format!("refreshed for {g} s"));
        self.refresh_in = Duration::from_secs(u64::from(g.max(2) / 2));
        Ok(())
    }

    /// Stay registered, answering what the server sends, until `deadline` or Ctrl-C; with
    /// `until_call_ends`, also until the call with that Call-ID ends.
    async fn idle(
        &mut self,
        deadline: Option<tokio::time::Instant>,
        until_call_ends: Option<&str>,
    ) -> anyhow::Result<()> {
        let mut refresh_at = tokio::time::Instant::now() + self.refresh_in;
        loop {
            if let Some(cid) = until_call_ends {
                if self.call.as_ref().is_none_or(|d| d.call_id != cid) {
                    return Ok(());
                }
            }
            let wake = match deadline {
                Some(d) => d.min(refresh_at),
                None => refresh_at,
            };
            tokio::select! {
                _ = tokio::time::sleep_until(wake) => {}
                _ = tokio::signal::ctrl_c() => { say("interrupted"); return Ok(()); }
                r = self.ua.next_request() => {
                    let r = r?;
                    self.on_request(r).await?;
                    continue;
                }
            }
            if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= refresh_at {
                self.refresh().await?;
                refresh_at = tokio::time::Instant::now() + self.refresh_in;
            }
        }
    }

    /// A request from the server: an incoming call and what follows it.
    async fn on_request(&mut self, r: vcms_endpoint::Request) -> anyhow::Result<()> {
        let tag = format!("ep{}", self.ua.local.port());
        let from = request_header(&r, "From");
        let who = from.split(';').next().unwrap_or("").trim().to_string();
        match r.method.to_string().as_str() {
            "INVITE"
                if self
                    .call
                    .as_ref()
                    .is_some_and(|d| d.call_id == request_header(&r, "Call-ID")) =>
            {
                // A re-INVITE of our call: accept it as it is.
                let body = sdp(self.ua.local, 40000);
                self.ua.reply(&r, 200, "OK", &tag, &body).await?;
            }
            "INVITE" if self.call.is_some() || self.ringing.is_some() => {
                self.ua.reply(&r, 486, "Busy Here", &tag, "").await?;
            }
            "INVITE" => {
                self.ua.reply(&r, 180, "Ringing", &tag, "").await?;
                if self.auto_answer {
                    let body = sdp(self.ua.local, 40000);
                    self.ua.reply(&r, 200, "OK", &tag, &body).await?;
                    say(format!("incoming call from {who}: answered"));
                    self.call = Some(self.ua.dialog_of_invite(&r, &tag));
                } else {
                    say(format!(
                        "incoming call from {who}: ringing (run with --auto-answer to answer)"
                    ));
                    self.ringing = Some((r, tag));
                }
            }
            "CANCEL" => {
                self.ua.reply(&r, 200, "OK", &tag, "").await?;
                if let Some((inv, t)) = self.ringing.take() {
                    self.ua
                        .reply(&inv, 487, "Request Terminated", &t, "")
                        .await?;
                    say(format!("missed call from {who}"));
                }
            }
            "ACK" => {
                if self.call.is_some() {
                    say("in a call");
                }
            }
            "BYE" => {
                self.ua.reply(&r, 200, "OK", &tag, "").await?;
                if self.call.take().is_some() {
                    say("the other side hung up");
                }
            }
            "OPTIONS" | "INFO" | "UPDATE" => {
                self.ua.reply(&r, 200, "OK", &tag, "").await?;
            }
            _ => {
                self.ua.reply(&r, 501, "Not Implemented", &tag, "").await?;
            }
        }
        Ok(())
    }

    async fn call(&mut self, number: &str, hold: Option<u64>, ring: u64) -> anyhow::Result<()> {
        let body = sdp(self.ua.local, 40000);
        say(format!("calling {number}"));
        let (mut out, fin) = self.ua.call(number, &body).await?;
        let (r, dialog) = match fin {
            Some(r) => (r, None),
            None => {
                let mut rang = false;
                loop {
                    let wait = Duration::from_secs(ring);
                    let got = tokio::select! {
                        r = self.ua.answer_of(&mut out, wait) => Some(r?),
                        _ = tokio::signal::ctrl_c() => None,
                    };
                    if let Some(x) = got {
                        break x;
                    }
                    if rang {
                        anyhow::bail!("interrupted");
                    }
                    say("interrupted: cancelling the call");
                    self.ua.cancel(&out).await?;
                    rang = true;
                }
            }
        };
        if out
            .provisional
            .iter()
            .any(|p| p.code == 180 || p.code == 183)
        {
            say("ringing");
        }
        let Some(d) = dialog else {
            anyhow::bail!("the call failed: {} {}", r.code, r.reason);
        };
        say(format!("answered: in a call with {number}"));
        let cid = d.call_id.clone();
        self.call = Some(d);
        let deadline = hold.map(|h| tokio::time::Instant::now() + Duration::from_secs(h));
        self.idle(deadline, Some(&cid)).await?;
        if let Some(mut d) = self.call.take() {
            let r = self.ua.request(&mut d, "BYE", "").await?;
            say(format!("hung up ({} {})", r.code, r.reason));
        }
        Ok(())
    }

    async fn offline(&mut self) {
        if let Some(mut d) = self.call.take() {
            let _ = self.ua.request(&mut d, "BYE", "").await;
        }
        match self.ua.register(Some(0)).await {
            Ok(r) if r.code == 200 => say("unregistered"),
            Ok(r) => say(format!("unregister answered {} {}", r.code, r.reason)),
            Err(e) => say(format!("unregister failed: {e}")),
        }
        match self.api.endpoint_logout(&self.token).await {
            Ok(_) => say("signed out"),
            Err(e) => say(format!("sign-out failed: {e}")),
        }
    }
}

/// The expires the server granted to our contact.
fn granted_expires(r: &vcms_endpoint::Response, ua: &Ua) -> Option<u32> {
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
