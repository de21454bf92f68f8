//! Real softphones nobody here wrote, headless, against a real server: baresip (Debian's
//! 1.0) registers and calls over UDP, TCP and TLS (checking the server's certificate
//! against a CA file), and linphone-cli (`linphonec`) registers over UDP and TCP; baresip
//! and linphonec call each other by extension and by cloud number, hold and resume, and
//! hang up, every request going through the registrar and the proxy.
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
use vcms_server::api::{AccountDetails, NewAccount};
use vcms_server::clock::SystemClock;
use vcms_server::config::Config;
use vcms_server::service::{accounts, auth, license, Actor, AppState};
use vcms_server::Server;

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
    dir: tempfile::TempDir,
}

impl Vcms {
    /// A server on SQLite with UDP, TCP and TLS on free ports, one enterprise with a
    /// license, and `n` accounts (extensions 1001…).
    async fn boot(n: usize) -> Vcms {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config {
            data_dir: dir.path().to_path_buf(),
            ..Default::default()
        };
        cfg.http.listen = "127.0.0.1:0".into();
        cfg.sip.ring_secs = 30;
        cfg.sip.udp = "127.0.0.1:0".into();
        cfg.sip.tcp = "127.0.0.1:0".into();
        cfg.sip.tls = "127.0.0.1:0".into();
        cfg.database.url = Some(format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("vcms.db").display()
        ));
        let server = Server::build(cfg, Arc::new(SystemClock)).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let running = server.start(listener, false).await.unwrap();
        let app = running.app.clone();
        let new = auth::NewEnterprise::parse(
            "Phone Owner",
            "Phones Ltd",
            "NL",
            "phones@example.com",
            "secret12345",
            None,
        )
        .unwrap();
        let (eid, _) = auth::create_enterprise(&app, new, true).await.unwrap();
        let owner = Actor::operator(eid);
        let raw = license::issue(&app, 50, 1).await.unwrap();
        license::add(&app, &owner, &raw).await.unwrap();
        let mut users = vec![];
        for (i, name) in ["Anna", "Ben", "Cleo", "Dirk"].iter().take(n).enumerate() {
            let a = accounts::add(
                &app,
                &owner,
                &NewAccount {
                    name: (*name).to_string(),
                    extension: format!("{}", 1001 + i),
                    email: None,
                    send_email: false,
                },
            )
            .await
            .unwrap();
            users.push(a);
        }
        Vcms {
            running,
            app,
            eid,
            users,
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
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
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
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        for (stream, tag) in [
            (Box::new(out) as Box<dyn tokio::io::AsyncRead + Unpin + Send>, ""),
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
            eprintln!("----- {} printed:\n{}\n-----", self.name, self.log());
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
    let ca = o
        .ca
        .map(|p| format!("sip_cafile\t\t{}\n", p.display()))
        .unwrap_or_default();
    let config = format!(
        "poll_method\t\tepoll\n\
         sip_listen\t\t127.0.0.1:0\n\
         {ca}\
         net_interface\t\tlo\n\
         call_local_timeout\t30\n\
         call_max_calls\t\t4\n\
         audio_player\t\taubridge,{name}\n\
         audio_source\t\tausine,440\n\
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

/// linphonec with a fresh linphonerc: SIP on a free port of `transport` only, the one
/// proxy (the server's listener) registering `who` and routing every request.
fn linphonec(name: &str, srv: &Vcms, who: &AccountDetails, transport: Transport) -> Phone {
    let home = tempfile::tempdir().unwrap();
    let t = transport.name();
    let addr = srv.addr(transport);
    let (udp, tcp) = match transport {
        Transport::Udp => (-1, 0),
        _ => (0, -1),
    };
    let rc = format!(
        "[sip]\n\
         sip_port={udp}\n\
         sip_tcp_port={tcp}\n\
         sip_tls_port=0\n\
         default_proxy=0\n\
         use_ipv6=0\n\
         inc_timeout=30\n\
         [rtp]\n\
         audio_rtp_port=20000-29999\n\
         video_rtp_port=30000-39999\n\
         [video]\n\
         enabled=0\n\
         [proxy_0]\n\
         reg_proxy=<sip:{addr};transport={t}>\n\
         reg_route=<sip:{addr};transport={t};lr>\n\
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
    cmd.arg("-c").arg(&rcfile).arg("-d").arg("0");
    Phone::spawn(name, cmd, home)
}

// ---------------------------------------------------------------------------------------
// Exploration

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explore() {
    if !have_baresip() || !have_linphonec() {
        return;
    }
    let srv = Vcms::boot(2).await;
    let (a, b) = (srv.users[0].clone(), srv.users[1].clone());
    let mut bs = baresip(
        "baresip-anna",
        &srv,
        &a,
        BaresipOpts {
            transport: Transport::Udp,
            ca: None,
            auto_answer: false,
        },
    );
    let mut lp = linphonec("linphonec-ben", &srv, &b, Transport::Udp);
    lp.send("soundcard use files").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    lp.send("status register").await;
    bs.send("/reginfo").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    lp.send("call 1001").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    bs.send("/accept").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    bs.send("/hold").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    bs.send("/resume").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    lp.send("pause").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    lp.send("resume").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    lp.send("terminate").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    bs.send(&format!("/dial {}", b.cloud_number)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    lp.send("answer").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    bs.send("/hangup").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!("=== baresip\n{}\n=== linphonec\n{}", bs.log(), lp.log());
    let _ = bs.saw("x");
    bs.quit("/quit").await;
    lp.quit("quit").await;
    srv.shutdown().await;
}
