//! Real softphones nobody here wrote, headless, against a real server: baresip (Debian's
//! 1.0) registers and calls over UDP, TCP and TLS; linphone-cli 5.1 (`linphonec`)
//! registers over UDP, TCP and TLS, where it checks the server's certificate against a CA
//! file (and refuses one from another CA); baresip and linphonec call each other by
//! extension and by cloud number, hold and resume, and hang up, every request going
//! through the registrar and the proxy (UDP to UDP, TCP to TLS). The server side is
//! checked too: the binding's transport and "in a call" during the call and after.
//!
//! Found on the way: baresip 1.0 gives up on a challenge that offers SHA-256 next to MD5
//! ("reg: sip:…: Register: Function not implemented"), so the default challenge is MD5
//! only; baresip 1.0 loads `sip_cafile` but never checks a SIP TLS server certificate;
//! linphonec's mbedTLS 2.28 matches a certificate's DNS names only, not IP SANs, so over
//! TLS it is pointed at `localhost`.
//!
//! Each client runs in its own temporary home with a generated configuration, gets its
//! commands on stdin and is judged by what it prints (what its user would see). Every wait
//! has a timeout and every child is killed when its handle drops; on a failure each
//! client's whole output is printed.
//!
//! Without `baresip` or `linphonec` on the PATH a test is skipped with a note, unless
//! VCMS_REQUIRE_SOFTPHONES=1 (CI sets it), when it fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use vcms_api::{AccountDetails, Device, EndpointLoginRequest, EndpointLoginResponse};
use vcms_server::service::{accounts, Actor, AppState};
use vcms_server::testing::{SipBed, Smtp};

/// How long any one thing a client should print may take to show up.
const WAIT: Duration = Duration::from_secs(15);

/// True when `program` runs; else a skip note, or a panic under VCMS_REQUIRE_SOFTPHONES=1.
fn available(program: &str, package: &str) -> bool {
    let found = std::process::Command::new(program)
        .arg(if program == "baresip" { "-h" } else { "-v" })
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        if std::env::var("VCMS_REQUIRE_SOFTPHONES").is_ok_and(|v| v == "1") {
            panic!(
                "{program} is not installed and VCMS_REQUIRE_SOFTPHONES=1 (apt-get install {package})"
            );
        }
        eprintln!("skipped: {program} is not installed (apt-get install {package})");
    }
    found
}

fn have_baresip() -> bool {
    available("baresip", "baresip")
}

fn have_linphonec() -> bool {
    available("linphonec", "linphone-cli")
}

// ---------------------------------------------------------------------------------------
// The server

struct Vcms {
    running: vcms_server::Running,
    app: AppState,
    eid: i64,
    users: Vec<AccountDetails>,
    /// Catches the server's mail (none is expected).
    _smtp: Smtp,
    dir: tempfile::TempDir,
}

impl Vcms {
    /// A server on SQLite with UDP, TCP and TLS on free ports, one enterprise with a
    /// license, and `n` accounts (extensions 1001…).
    async fn boot(n: usize) -> Vcms {
        let dir = tempfile::tempdir().unwrap();
        let names: Vec<String> = ["Anna", "Ben", "Cleo", "Dirk"]
            .iter()
            .take(n)
            .map(|name| name.to_string())
            .collect();
        let bed = SipBed::start(dir.path(), &names, |cfg| cfg.sip.ring_secs = 30).await;
        Vcms {
            running: bed.running,
            app: bed.app,
            eid: bed.enterprise_id,
            users: bed.users,
            _smtp: bed.smtp,
            dir,
        }
    }

    fn addr(&self, transport: Transport) -> SocketAddr {
        let sip = self.running.sip.as_ref().expect("sip is on");
        match transport {
            Transport::Udp => sip.udp,
            Transport::Tcp => sip.tcp,
            Transport::Tls => sip.tls,
        }
        .expect("listener is on")
    }

    /// The certificate the server made for TLS (self-signed: it is its own CA).
    fn tls_cert(&self) -> PathBuf {
        self.dir.path().join("sip-tls.crt")
    }

    /// Endpoint sign-in (`POST /endpoint/v1/login`) by cloud number and password, as a
    /// device does before it registers: what it answers is what the softphone is given.
    async fn sign_in(&self, who: &AccountDetails, model: &str) -> EndpointLoginResponse {
        let req = EndpointLoginRequest {
            cloud_number: Some(who.cloud_number.clone()),
            password: Some(who.password.clone()),
            device: Device {
                model: model.into(),
                version: "1".into(),
                instance: String::new(),
            },
            ..Default::default()
        };
        let r = reqwest::Client::new()
            .post(format!("http://{}/endpoint/v1/login", self.running.addr))
            .json(&req)
            .timeout(WAIT)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{:?}", r.text().await);
        r.json().await.unwrap()
    }

    async fn details(&self, id: i64) -> AccountDetails {
        accounts::get(&self.app, &Actor::operator(self.eid), id)
            .await
            .unwrap()
    }

    /// Wait until `ok` holds for the account's details; panics with them after `WAIT`.
    async fn until(&self, id: i64, what: &str, ok: impl Fn(&AccountDetails) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let d = self.details(id).await;
            if ok(&d) {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("server side: {what} never held: {d:#?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn shutdown(self) {
        self.running.shutdown().await;
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    fn name(self) -> &'static str {
        self.wire().as_str()
    }
    /// The transport as the API names it.
    fn wire(self) -> vcms_api::Transport {
        match self {
            Transport::Udp => vcms_api::Transport::Udp,
            Transport::Tcp => vcms_api::Transport::Tcp,
            Transport::Tls => vcms_api::Transport::Tls,
        }
    }
}

// ---------------------------------------------------------------------------------------
// A headless client: commands on stdin, every line it prints kept

struct Phone {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Arc<Mutex<Vec<String>>>,
    /// Lines before this one have been matched already.
    cursor: usize,
    _home: tempfile::TempDir,
}

impl Phone {
    fn spawn(name: &str, mut cmd: Command, home: tempfile::TempDir) -> Phone {
        cmd.env("HOME", home.path())
            .env_remove("DISPLAY")
            .env_remove("PULSE_SERVER")
            .current_dir(home.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("start {name}: {e}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        for (stream, tag) in [
            (
                Box::new(out) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
                "",
            ),
            (Box::new(err), "[stderr] "),
        ] {
            let lines = lines.clone();
            tokio::spawn(async move {
                let mut r = BufReader::new(stream);
                let mut buf = Vec::new();
                loop {
                    buf.clear();
                    match r.read_until(b'\n', &mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            let text = String::from_utf8_lossy(&buf);
                            // Strip terminal colours so that matching sees the words.
                            let clean = strip_ansi(text.trim_end());
                            lines.lock().unwrap().push(format!("{tag}{clean}"));
                        }
                    }
                }
            });
        }
        Phone {
            name: name.to_string(),
            stdin: child.stdin.take(),
            child,
            lines,
            cursor: 0,
            _home: home,
        }
    }

    async fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap_or_else(|e| panic!("{}: write {line:?}: {e}", self.name));
        stdin.flush().await.unwrap();
    }

    fn log(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// The client's own log file (linphonec's SIP trace), if it wrote one.
    fn trace(&self) -> String {
        std::fs::read_to_string(self._home.path().join("linphonec.log")).unwrap_or_default()
    }

    /// Wait for a line (after the last one matched) that contains every one of `needles`;
    /// returns it. Panics with the client's output after `WAIT`.
    async fn expect(&mut self, needles: &[&str]) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            {
                let lines = self.lines.lock().unwrap();
                if let Some(i) = lines[self.cursor..]
                    .iter()
                    .position(|l| needles.iter().all(|n| l.contains(n)))
                {
                    let i = self.cursor + i;
                    self.cursor = i + 1;
                    return lines[i].clone();
                }
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "{}: no line with {needles:?} within {WAIT:?}; it printed:\n{}",
                    self.name,
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Like `expect`, for the first line that matches any one of `choices`.
    async fn expect_any(&mut self, choices: &[&[&str]]) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            {
                let lines = self.lines.lock().unwrap();
                if let Some(i) = lines[self.cursor..]
                    .iter()
                    .position(|l| choices.iter().any(|c| c.iter().all(|n| l.contains(n))))
                {
                    let i = self.cursor + i;
                    self.cursor = i + 1;
                    return lines[i].clone();
                }
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "{}: no line with any of {choices:?} within {WAIT:?}; it printed:\n{}",
                    self.name,
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// True when a line (after the last one matched) contains `needle`.
    fn saw(&self, needle: &str) -> bool {
        self.lines.lock().unwrap()[self.cursor..]
            .iter()
            .any(|l| l.contains(needle))
    }

    /// Send `quit` and give it two seconds to leave; it is killed otherwise.
    async fn quit(mut self, command: &str) {
        self.send(command).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), self.child.wait()).await;
    }
}

impl Drop for Phone {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "----- {} printed:\n{}\n----- its log file:\n{}\n-----",
                self.name,
                self.log(),
                self.trace()
            );
        }
        let _ = self.child.start_kill();
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if d.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

// ---------------------------------------------------------------------------------------
// baresip

struct BaresipOpts<'a> {
    transport: Transport,
    /// The CA file to check the server's TLS certificate against.
    ca: Option<&'a Path>,
    auto_answer: bool,
}

/// baresip with a fresh configuration: no sound card (a sine tone as microphone, the
/// audio bridge as speaker), the stdio console for commands, SIP on a free loopback port,
/// one account registering through the server's listener for `transport`.
fn baresip(name: &str, srv: &Vcms, who: &AccountDetails, o: BaresipOpts<'_>) -> Phone {
    let home = tempfile::tempdir().unwrap();
    let conf = home.path().join("baresip");
    std::fs::create_dir_all(&conf).unwrap();
    let ca =
        o.ca.map(|p| format!("sip_cafile\t\t{}\n", p.display()))
            .unwrap_or_default();
    let config = format!(
        "poll_method\t\tepoll\n\
         sip_listen\t\t127.0.0.1:0\n\
         {ca}\
         net_interface\t\t127.0.0.1\n\
         call_local_timeout\t30\n\
         call_max_calls\t\t4\n\
         audio_player\t\taubridge,{name}\n\
         audio_source\t\taubridge,{name}\n\
         audio_alert\t\taubridge,{name}\n\
         module_path\t\t/usr/lib/baresip/modules\n\
         module\t\t\tstdio.so\n\
         module\t\t\tg711.so\n\
         module\t\t\taubridge.so\n\
         module\t\t\tausine.so\n\
         module_tmp\t\taccount.so\n\
         module_app\t\tmenu.so\n"
    );
    std::fs::write(conf.join("config"), config).unwrap();
    let t = o.transport.name();
    let addr = srv.addr(o.transport);
    let answer = if o.auto_answer { "auto" } else { "manual" };
    let account = format!(
        "\"{}\" <sip:{n}@vcms.local;transport={t}>;auth_user={n};auth_pass={p};\
         outbound=\"sip:{addr};transport={t}\";regint=600;answermode={answer}\n",
        who.name,
        n = who.cloud_number,
        p = who.password,
    );
    std::fs::write(conf.join("accounts"), account).unwrap();
    let mut cmd = Command::new("baresip");
    cmd.arg("-f").arg(&conf).arg("-s");
    Phone::spawn(name, cmd, home)
}

// ---------------------------------------------------------------------------------------
// linphonec

/// A port linphonec can listen on: free for TCP and UDP on every address (linphonec binds
/// `::`, not loopback), and below the kernel's ephemeral range (32768 and up), so that an
/// outgoing connection of another test cannot take it between this check and linphonec's
/// bind (a port from `bind(":0")` is an ephemeral one, and did get taken that way).
fn free_port() -> u16 {
    loop {
        let port = 20_000 + rand::random::<u16>() % 12_000;
        let tcp = std::net::TcpListener::bind(("::", port));
        let udp = std::net::UdpSocket::bind(("::", port));
        if tcp.is_ok() && udp.is_ok() {
            return port;
        }
    }
}

/// linphonec with a fresh linphonerc: SIP on a free port of `transport` only, the one
/// proxy (the server's listener) registering `who` and routing every request. Over TLS it
/// checks the server's certificate against `ca` and the name it connects to.
fn linphonec(
    name: &str,
    srv: &Vcms,
    who: &AccountDetails,
    transport: Transport,
    ca: Option<&Path>,
) -> Phone {
    let home = tempfile::tempdir().unwrap();
    let t = transport.name();
    let addr = srv.addr(transport);
    // linphonec takes no "any port": pick a free one (0 turns a transport off).
    let (udp, tcp, tls) = match transport {
        Transport::Udp => (free_port(), 0, 0),
        Transport::Tcp => (0, free_port(), 0),
        Transport::Tls => (0, 0, free_port()),
    };
    let ca = ca
        .map(|p| {
            format!(
                "root_ca={}\nverify_server_certs=1\nverify_server_cn=1\n",
                p.display()
            )
        })
        .unwrap_or_default();
    std::fs::create_dir_all(home.path().join(".local/share/linphone")).unwrap();
    // Over TLS the proxy is the address sign-in advertises (127.0.0.1), as a user would
    // type it: the mbedTLS 2.28 under Debian 12's linphone matches only DNS names and the
    // CN, never an IP SAN ("flags=[CN-mismatch ]"), so the generated certificate names
    // its addresses as DNS names too. Only for registration; calls go over UDP and TCP
    // with the server as route.
    let (host, route) = match transport {
        Transport::Tls => (addr.ip().to_string(), String::new()),
        _ => (
            addr.ip().to_string(),
            format!("reg_route=<sip:{addr};transport={t};lr>\n"),
        ),
    };
    let port = addr.port();
    let rc = format!(
        "[sip]\n\
         sip_port={udp}\n\
         sip_tcp_port={tcp}\n\
         sip_tls_port={tls}\n\
         {ca}\
         default_proxy=0\n\
         use_ipv6=0\n\
         inc_timeout=30\n\
         [rtp]\n\
         audio_rtp_port=20000-29999\n\
         video_rtp_port=30000-39999\n\
         [video]\n\
         enabled=0\n\
         automatically_initiate=0\n\
         automatically_accept=0\n\
         [proxy_0]\n\
         reg_proxy=<sip:{host}:{port};transport={t}>\n\
         {route}\
         reg_identity=\"{name}\" <sip:{n}@vcms.local>\n\
         reg_expires=600\n\
         reg_sendregister=1\n\
         publish=0\n\
         [auth_info_0]\n\
         username={n}\n\
         passwd={p}\n\
         realm=vcms.local\n\
         domain=vcms.local\n",
        name = who.name,
        n = who.cloud_number,
        p = who.password,
    );
    let rcfile = home.path().join("linphonerc");
    std::fs::write(&rcfile, rc).unwrap();
    let mut cmd = Command::new("linphonec");
    cmd.arg("-c")
        .arg(&rcfile)
        .arg("-d")
        .arg("6")
        .arg("-S")
        .arg("-l")
        .arg(home.path().join("linphonec.log"));
    Phone::spawn(name, cmd, home)
}

// ---------------------------------------------------------------------------------------
// What the clients print

/// baresip's line for a registration that the server answered 200.
async fn baresip_registered(p: &mut Phone, who: &AccountDetails, t: Transport) {
    let t = t.name().to_ascii_uppercase();
    p.expect(&[
        &format!("{}@vcms.local: {{0/{t}/v4}} 200 OK", who.cloud_number),
        "[1 binding]",
    ])
    .await;
}

/// baresip hung up its call: it says so and sends BYE (the server answers 200).
async fn baresip_hung_up(p: &mut Phone) {
    p.expect(&["call: terminate call"]).await;
    p.expect(&["BYE sip:"]).await;
    p.expect(&["SIP/2.0 200 OK"]).await;
}

/// The other side hung up: baresip got the BYE and closed the call.
async fn baresip_call_closed(p: &mut Phone, other: &AccountDetails) {
    p.expect(&["BYE sip:"]).await;
    p.expect_any(&[
        &["session closed"],
        &["Call with", &other.cloud_number, "terminated (duration"],
    ])
    .await;
}

/// Ask linphonec for its registration until it says it is registered as `who`.
async fn linphonec_registered(p: &mut Phone, who: &AccountDetails) {
    let want = format!(
        "registered, identity=\"{}\" <sip:{}@vcms.local>",
        who.name, who.cloud_number
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        p.send("status register").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        if p.saw(&want) {
            p.expect(&[&want]).await;
            return;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("{}: never registered; it printed:\n{}", p.name, p.log());
        }
    }
}

/// linphonec without a sound card: it plays and records files instead.
async fn linphonec_started(p: &mut Phone) {
    p.send("soundcard use files").await;
    p.expect(&["Using wav files instead of soundcard"]).await;
}

fn baresip_opts(transport: Transport) -> BaresipOpts<'static> {
    BaresipOpts {
        transport,
        ca: None,
        auto_answer: false,
    }
}

// ---------------------------------------------------------------------------------------
// The tests

/// Anna calls Ben's extension, both on baresip over `t`: Ben's baresip shows the call
/// from Anna's cloud number, accepts it, both are in the call (and the server says so),
/// Anna hangs up, both say the call ended.
async fn baresip_call_over(t: Transport) {
    if !have_baresip() {
        return;
    }
    let srv = Vcms::boot(2).await;
    let (anna, ben) = (srv.users[0].clone(), srv.users[1].clone());
    let cert = srv.tls_cert();
    let opts = |_: ()| BaresipOpts {
        transport: t,
        ca: (t == Transport::Tls).then_some(cert.as_path()),
        auto_answer: false,
    };
    let mut a = baresip(&format!("baresip-anna-{}", t.name()), &srv, &anna, opts(()));
    let mut b = baresip(&format!("baresip-ben-{}", t.name()), &srv, &ben, opts(()));
    baresip_registered(&mut a, &anna, t).await;
    baresip_registered(&mut b, &ben, t).await;
    for who in [&anna, &ben] {
        srv.until(who.id, "registered over the transport", |d| {
            d.bindings.len() == 1
                && d.bindings[0].transport == t.wire()
                && d.bindings[0].device_model.starts_with("baresip")
        })
        .await;
    }

    a.send("/dial 1002").await;
    b.expect(&[
        "Incoming call from: Anna",
        &format!("sip:{}@vcms.local", anna.cloud_number),
    ])
    .await;
    b.send("/accept").await;
    b.expect(&["Call established:", &anna.cloud_number]).await;
    a.expect(&["Call established:", "sip:1002@vcms.local"])
        .await;
    for who in [&anna, &ben] {
        srv.until(who.id, "in a call", |d| d.in_call).await;
    }

    a.send("/hangup").await;
    baresip_hung_up(&mut a).await;
    baresip_call_closed(&mut b, &anna).await;
    for who in [&anna, &ben] {
        srv.until(who.id, "out of the call", |d| !d.in_call).await;
    }
    a.quit("/quit").await;
    b.quit("/quit").await;
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baresip_registers_and_calls_over_udp() {
    baresip_call_over(Transport::Udp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baresip_registers_and_calls_over_tcp() {
    baresip_call_over(Transport::Tcp).await;
}

/// TLS, with the server's certificate as `sip_cafile` as a user would set it up (the
/// generated certificate is self-signed, so it is its own CA). baresip 1.0 (libre 1.1)
/// does not check the certificate of a SIP TLS connection, though: a wrong CA file
/// registers just the same, so the check is proven with linphonec below.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baresip_registers_and_calls_over_tls() {
    baresip_call_over(Transport::Tls).await;
}

/// TLS with the certificate checked (linphonec: `root_ca`, `verify_server_certs`,
/// `verify_server_cn`): with the server's certificate as CA, Anna's linphonec registers
/// over TLS; with a CA file of another certificate (same names, other key) Ben's does not,
/// so the check is on. (baresip 1.0 takes `sip_cafile` but does not check the certificate
/// of its SIP TLS connections: with a wrong CA it registers all the same.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linphonec_over_tls_checks_the_server_certificate() {
    if !have_linphonec() {
        return;
    }
    let srv = Vcms::boot(2).await;
    let (anna, ben) = (srv.users[0].clone(), srv.users[1].clone());
    let other = rcgen::generate_simple_self_signed(vec![
        "vcms.local".to_string(),
        "localhost".to_string(),
        "127.0.0.1".to_string(),
    ])
    .unwrap();
    let wrong = srv.dir.path().join("other-ca.crt");
    std::fs::write(&wrong, other.cert.pem()).unwrap();
    let cert = srv.tls_cert();
    let mut a = linphonec(
        "linphonec-anna-tls",
        &srv,
        &anna,
        Transport::Tls,
        Some(&cert),
    );
    let mut b = linphonec(
        "linphonec-ben-wrong-ca",
        &srv,
        &ben,
        Transport::Tls,
        Some(&wrong),
    );
    linphonec_started(&mut a).await;
    linphonec_started(&mut b).await;
    linphonec_registered(&mut a, &anna).await;
    srv.until(anna.id, "linphonec registered over TLS", |d| {
        d.bindings.len() == 1 && d.bindings[0].transport == Transport::Tls.wire()
    })
    .await;
    // Ben's linphonec has had as long as Anna's and more: it is not registered, and says
    // why in its log.
    tokio::time::sleep(Duration::from_secs(2)).await;
    b.send("status register").await;
    b.expect(&["registered=-1"]).await;
    assert!(!b.saw("registered, identity"), "{}", b.log());
    let d = srv.details(ben.id).await;
    assert!(d.bindings.is_empty(), "{d:#?}");
    let trace = b.trace();
    assert!(
        trace.contains("not-trusted") && trace.contains("SSL handshake failed"),
        "linphonec's log does not say the certificate was refused:\n{trace}"
    );
    a.quit("quit").await;
    b.quit("quit").await;
    srv.shutdown().await;
}

/// baresip (Anna, UDP) and linphonec (Ben, UDP): Ben calls Anna's extension, Anna accepts;
/// Anna holds and resumes, then Ben pauses and resumes; Ben hangs up. Then Anna calls Ben's
/// cloud number, Ben answers, Anna hangs up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baresip_and_linphonec_call_by_extension_and_cloud_number_with_hold() {
    if !have_baresip() || !have_linphonec() {
        return;
    }
    let srv = Vcms::boot(2).await;
    let (anna, ben) = (srv.users[0].clone(), srv.users[1].clone());
    let mut a = baresip("baresip-anna", &srv, &anna, baresip_opts(Transport::Udp));
    let mut b = linphonec("linphonec-ben", &srv, &ben, Transport::Udp, None);
    linphonec_started(&mut b).await;
    baresip_registered(&mut a, &anna, Transport::Udp).await;
    linphonec_registered(&mut b, &ben).await;
    srv.until(ben.id, "linphonec registered over UDP", |d| {
        d.bindings.len() == 1 && d.bindings[0].transport == Transport::Udp.wire()
    })
    .await;

    // By extension, Ben → Anna.
    b.send("call 1001").await;
    a.expect(&[
        "Incoming call from: Ben",
        &format!("sip:{}@vcms.local", ben.cloud_number),
    ])
    .await;
    a.send("/accept").await;
    a.expect(&["Call established:", &ben.cloud_number]).await;
    b.expect(&["Call 1 with sip:1001@vcms.local connected."])
        .await;
    for who in [&anna, &ben] {
        srv.until(who.id, "in a call", |d| d.in_call).await;
    }

    // Anna holds (a re-INVITE with sendonly through the proxy) and resumes.
    a.send("/hold").await;
    b.expect(&["Call 1 has been paused by sip:1001@vcms.local."])
        .await;
    a.send("/resume").await;
    a.expect(&["call: resume"]).await;
    b.expect(&["Media streams established with sip:1001@vcms.local for call 1"])
        .await;
    // Ben pauses and resumes: Anna's baresip gets the re-INVITEs (sendonly, then sendrecv).
    b.send("pause").await;
    b.expect(&["Call 1 with sip:1001@vcms.local is now paused."])
        .await;
    a.expect(&["a=sendonly"]).await;
    a.expect(&["call: got re-INVITE"]).await;
    a.expect(&["a=recvonly"]).await;
    b.send("resume").await;
    b.expect(&["Resuming call 1"]).await;
    a.expect(&["call: got re-INVITE"]).await;
    a.expect(&["a=sendrecv"]).await;
    b.expect(&["Media streams established with sip:1001@vcms.local for call 1"])
        .await;

    // Ben hangs up (BYE through the proxy).
    b.send("terminate").await;
    b.expect(&["Call 1 with sip:1001@vcms.local ended"]).await;
    baresip_call_closed(&mut a, &ben).await;
    for who in [&anna, &ben] {
        srv.until(who.id, "out of the call", |d| !d.in_call).await;
    }

    // By cloud number, Anna → Ben; Anna hangs up.
    a.send(&format!("/dial {}", ben.cloud_number)).await;
    b.expect(&[
        "Receiving new incoming call from \"Anna\"",
        &format!("<sip:{}@vcms.local>", anna.cloud_number),
    ])
    .await;
    b.send("answer").await;
    b.expect(&["Call 2 with \"Anna\"", "connected."]).await;
    a.expect(&["Call established:", &ben.cloud_number]).await;
    for who in [&anna, &ben] {
        srv.until(who.id, "in a call", |d| d.in_call).await;
    }
    a.send("/hangup").await;
    baresip_hung_up(&mut a).await;
    b.expect(&["Call 2 with \"Anna\"", "ended"]).await;
    for who in [&anna, &ben] {
        srv.until(who.id, "out of the call", |d| !d.in_call).await;
    }
    a.quit("/quit").await;
    b.quit("quit").await;
    srv.shutdown().await;
}

/// linphonec over TCP (Cleo) calls baresip over TLS (Anna, answering by itself) by cloud
/// number: the proxy bridges TCP and TLS; Cleo hangs up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linphonec_over_tcp_calls_baresip_over_tls_by_cloud_number() {
    if !have_baresip() || !have_linphonec() {
        return;
    }
    let srv = Vcms::boot(3).await;
    let (anna, cleo) = (srv.users[0].clone(), srv.users[2].clone());
    let cert = srv.tls_cert();
    let mut a = baresip(
        "baresip-anna-tls",
        &srv,
        &anna,
        BaresipOpts {
            transport: Transport::Tls,
            ca: Some(&cert),
            auto_answer: true,
        },
    );
    // Cleo's linphonec is set up from what endpoint sign-in answers: user, password,
    // domain (the realm) and the TCP server.
    let signed = srv.sign_in(&cleo, "Linphone").await;
    assert_eq!(
        (signed.sip.username.as_str(), signed.sip.domain.as_str()),
        (cleo.cloud_number.as_str(), "vcms.local")
    );
    let tcp = srv.addr(Transport::Tcp);
    assert!(
        signed
            .sip
            .servers
            .iter()
            .any(|s| s.transport == Transport::Tcp.wire()
                && s.host == tcp.ip().to_string()
                && s.port == tcp.port()),
        "{:?}",
        signed.sip.servers
    );
    let cleo = AccountDetails {
        password: signed.sip.password.clone(),
        ..cleo
    };
    let mut c = linphonec("linphonec-cleo-tcp", &srv, &cleo, Transport::Tcp, None);
    linphonec_started(&mut c).await;
    baresip_registered(&mut a, &anna, Transport::Tls).await;
    linphonec_registered(&mut c, &cleo).await;
    srv.until(cleo.id, "linphonec registered over TCP", |d| {
        d.bindings.len() == 1 && d.bindings[0].transport == Transport::Tcp.wire()
    })
    .await;

    c.send(&format!("call {}", anna.cloud_number)).await;
    a.expect(&[
        "answering call",
        &format!("from sip:{}@vcms.local", cleo.cloud_number),
    ])
    .await;
    a.expect(&["Call established:", &cleo.cloud_number]).await;
    c.expect(&["Call 1 with", &anna.cloud_number, "connected."])
        .await;
    for who in [&anna, &cleo] {
        srv.until(who.id, "in a call", |d| d.in_call).await;
    }
    c.send("terminate").await;
    c.expect(&["Call 1 with", "ended"]).await;
    baresip_call_closed(&mut a, &cleo).await;
    for who in [&anna, &cleo] {
        srv.until(who.id, "out of the call", |d| !d.in_call).await;
    }
    a.quit("/quit").await;
    c.quit("quit").await;
    srv.shutdown().await;
}
