//! The `vcms-server` binary: environment settings, operator commands, serve and SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

pub(crate) fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vcms-server"));
    for (k, _) in std::env::vars() {
        if k.starts_with("VCMS_") {
            c.env_remove(k);
        }
    }
    // Free ports, so that parallel tests do not fight over 5060.
    c.env("VCMS_SIP_UDP", "127.0.0.1:0")
        .env("VCMS_SIP_TCP", "127.0.0.1:0")
        .env("VCMS_SIP_TLS", "127.0.0.1:0");
    c
}

pub(crate) fn run(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = bin().env("VCMS_DATA_DIR", dir).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn operator_commands_work_on_the_embedded_default() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = run(dir.path(), &["check-config"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("config OK") && out.contains(&dir.path().display().to_string()),
        "{out}"
    );

    let (ok, out, err) = run(
        dir.path(),
        &[
            "enterprise",
            "create",
            "--email",
            "op@example.com",
            "--password",
            "secret123",
            "--name",
            "Op",
            "--company",
            "Op Co",
            "--country",
            "NL",
            "--json",
        ],
    );
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let number = v["enterprise_number"].as_str().unwrap().to_string();
    assert_eq!(number.len(), 5);
    // Bad input names the field and exits non-zero.
    let (ok, _, err) = run(
        dir.path(),
        &[
            "enterprise",
            "create",
            "--email",
            "bad",
            "--password",
            "secret123",
            "--name",
            "Op",
            "--company",
            "Op Co",
            "--country",
            "NL",
        ],
    );
    assert!(!ok && err.contains("email"), "{err}");

    let (ok, out, err) = run(
        dir.path(),
        &[
            "license",
            "issue",
            "--quantity",
            "100",
            "--years",
            "2",
            "--json",
        ],
    );
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let lic = v["license_number"].as_str().unwrap().to_string();
    assert!(vcms_server::license_number::normalize(&lic).is_ok());
    let (ok, _, err) = run(
        dir.path(),
        &["license", "issue", "--quantity", "0", "--years", "2"],
    );
    assert!(!ok && err.contains("quantity"), "{err}");
    let (ok, out, _) = run(dir.path(), &["license", "list"]);
    assert!(ok && out.contains(&lic) && out.contains("issued"), "{out}");
    let (ok, _, err) = run(dir.path(), &["license", "revoke", &lic]);
    assert!(ok, "{err}");
    let (_, out, _) = run(dir.path(), &["license", "list", "--json"]);
    assert!(out.contains("revoked"), "{out}");
    let (ok, out, _) = run(dir.path(), &["enterprise", "list"]);
    assert!(
        ok && out.contains(&number) && out.contains("op@example.com") && out.contains("0/20"),
        "{out}"
    );

    // The folder transport writes .eml files to DATA_DIR/outbox.
    let (ok, out, err) = run(dir.path(), &["send-test-email", "me@example.com"]);
    assert!(ok, "{err}");
    assert!(out.contains("sent"), "{out}");
    let emls: Vec<_> = std::fs::read_dir(dir.path().join("outbox"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(emls.len(), 1);
    let text = std::fs::read_to_string(emls[0].path()).unwrap();
    assert!(text.contains("me@example.com") && text.contains("vcms test email"));

    // A bad environment value is a clear error.
    let out = bin()
        .env("VCMS_DATA_DIR", dir.path())
        .env("VCMS_SMTP_PORT", "abc")
        .arg("check-config")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("VCMS_SMTP_PORT"));
}

#[test]
fn serve_prints_its_addresses_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = bin()
        .env("VCMS_DATA_DIR", dir.path())
        .env("VCMS_HTTP_LISTEN", "127.0.0.1:0")
        .env("VCMS_LOG", "warn")
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_string();
    assert!(!url.ends_with(":0"), "the chosen port is printed: {first}");
    let mut printed = vec![];
    for _ in 0..4 {
        printed.push(lines.next().unwrap().unwrap());
    }
    let printed = printed.join("\n");
    assert!(
        printed.contains(&dir.path().display().to_string()) && printed.contains("outbox"),
        "{printed}"
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    let h = rt
        .block_on(vcms_api::client::Client::new(&url).health())
        .unwrap();
    assert_eq!(h.status, vcms_api::HealthStatus::Ok);
    assert!(dir.path().join("vcms.db").exists());
    let key = dir.path().join("secret.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l == "stopped"), "{rest:?}");
}

// ---------------- emails across a kill -9 (issue 14) ----------------

use crate::common::{Db, Smtp};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Run a command of the binary with the database and SMTP settings of `env`.
pub(crate) fn run_env(
    dir: &std::path::Path,
    env: &[(&str, String)],
    args: &[&str],
) -> (bool, String, String) {
    let mut c = bin();
    c.env("VCMS_DATA_DIR", dir);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// Add `n` accounts "User i" (extensions from 3000, emails user{i}@example.com) in one batch.
pub(crate) async fn add_users(c: &vcms_api::client::Client, n: usize) {
    let rows = (0..n)
        .map(|i| vcms_api::BatchRow {
            name: format!("User {i}"),
            extension: format!("{}", 3000 + i),
            email: Some(format!("user{i}@example.com")),
            row: None,
        })
        .collect();
    let r = c
        .batch_accounts(&vcms_api::BatchRequest {
            rows,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
}

/// Start `vcms-server serve`; returns the child and its URL.
fn serve(dir: &std::path::Path, env: &[(&str, String)]) -> (std::process::Child, String) {
    let mut c = bin();
    c.env("VCMS_DATA_DIR", dir)
        .env("VCMS_HTTP_LISTEN", "127.0.0.1:0")
        .env("VCMS_LOG", "warn");
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_string();
    // Keep reading (and dropping) what it prints, so it never writes to a closed pipe.
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
    (child, url)
}

fn kill_during_a_batch_send(db: Db) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let smtp = Smtp::start();
    // A slow SMTP server, so that the kill lands in the middle of the batch.
    smtp.policy.lock().unwrap().delay_ms = 25;
    let mut env = vec![
        ("VCMS_MAIL_TRANSPORT", "smtp".to_string()),
        ("VCMS_SMTP_HOST", "127.0.0.1".to_string()),
        ("VCMS_SMTP_PORT", smtp.port.to_string()),
    ];
    if let Db::Postgres(_) = &db {
        env.push(("VCMS_DATABASE_URL", rt.block_on(db.fresh_url(dir.path()))));
    }
    let (ok, _, err) = run_env(
        dir.path(),
        &env,
        &[
            "enterprise",
            "create",
            "--email",
            "boss@example.com",
            "--password",
            "secret123",
            "--name",
            "Boss",
            "--company",
            "Kill Co",
            "--country",
            "NL",
        ],
    );
    assert!(ok, "{err}");
    let (ok, lic, err) = run_env(
        dir.path(),
        &env,
        &["license", "issue", "--quantity", "500", "--years", "1"],
    );
    assert!(ok, "{err}");

    const N: usize = 200;
    let (mut first, url) = serve(dir.path(), &env);
    rt.block_on(async {
        let mut c = vcms_api::client::Client::new(&url);
        c.login(&vcms_api::LoginRequest {
            email: "boss@example.com".into(),
            password: "secret123".into(),
            ..Default::default()
        })
        .await
        .unwrap();
        c.add_license(lic.trim()).await.unwrap();
        add_users(&c, N).await;
        let sent = c
            .send_account_emails(&vcms_api::SendEmailRequest {
                all: true,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(sent.queued, N as i64);
    });
    // Kill -9 once a third of the batch is out.
    let t0 = Instant::now();
    while smtp.inbox.lock().unwrap().len() < N / 3 {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the batch does not go out"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let at_kill = smtp.inbox.lock().unwrap().len();
    assert!(at_kill < N, "the kill came too late: {at_kill} already out");

    // Restart: the rest goes out at once, not after a lease runs out.
    let restarted = Instant::now();
    let (mut second, _) = serve(dir.path(), &env);
    let per_recipient = || {
        let mut m: HashMap<String, Vec<String>> = HashMap::new();
        for mail in smtp.inbox.lock().unwrap().iter() {
            m.entry(mail.to[0].clone())
                .or_default()
                .push(mail.message_id.clone());
        }
        m
    };
    while per_recipient().len() < N {
        assert!(
            restarted.elapsed() < Duration::from_secs(60),
            "after the restart only {} of {N} recipients got their email",
            per_recipient().len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let drained = restarted.elapsed();
    // Let any late duplicate arrive before counting.
    std::thread::sleep(Duration::from_millis(1500));
    second.kill().unwrap();
    second.wait().unwrap();
    let m = per_recipient();
    let twice: Vec<_> = m.iter().filter(|(_, ids)| ids.len() > 1).collect();
    eprintln!(
        "{N} emails, {at_kill} delivered at the kill, the rest within {drained:?} of the restart, {} delivered twice",
        twice.len()
    );
    assert!(
        drained < Duration::from_secs(20),
        "the backlog took {drained:?} after the restart"
    );
    // Only the message in flight at the kill may go out twice, with the same Message-ID.
    assert!(twice.len() <= 1, "delivered more than once: {twice:?}");
    for (to, ids) in &twice {
        assert_eq!(ids.len(), 2, "{to}: {ids:?}");
        assert_eq!(
            ids[0], ids[1],
            "{to}: a resend must carry the same Message-ID"
        );
    }
    for ids in m.values() {
        assert!(
            ids[0].starts_with("outbox-") && ids[0].ends_with("@vcms.localhost"),
            "{ids:?}"
        );
    }
}

#[test]
fn kill_during_a_batch_send_sqlite() {
    kill_during_a_batch_send(Db::Sqlite);
}

#[test]
fn kill_during_a_batch_send_postgres() {
    if let Some(db) = Db::postgres() {
        kill_during_a_batch_send(db);
    }
}

/// A self-signed certificate for 127.0.0.1 and localhost, written as PEM files.
pub fn self_signed(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    let cert = dir.join("smtp-cert.pem");
    let key = dir.join("smtp-key.pem");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    (cert, key)
}

#[test]
fn check_config_tries_the_smtp_connection_and_says_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let smtp = Smtp::start_starttls(&cert, &key);
    smtp.policy.lock().unwrap().login = Some(("vcms".into(), "right".into()));
    let base = vec![
        ("VCMS_MAIL_TRANSPORT", "smtp".to_string()),
        ("VCMS_SMTP_HOST", "127.0.0.1".to_string()),
        ("VCMS_SMTP_PORT", smtp.port.to_string()),
        ("VCMS_SMTP_SECURITY", "starttls".to_string()),
    ];
    // The server's certificate is self-signed: not trusted.
    let (ok, out, err) = run_env(dir.path(), &base, &["check-config"]);
    assert!(!ok, "{out}");
    assert!(
        err.contains("certificate") && err.contains("smtp.ca_file"),
        "{err}"
    );
    // Trusting it with smtp.ca_file: the connection works.
    let mut with_ca = base.clone();
    with_ca.push(("VCMS_SMTP_CA_FILE", cert.display().to_string()));
    let (ok, out, err) = run_env(dir.path(), &with_ca, &["check-config"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("smtp check:   OK") && out.contains("STARTTLS"),
        "{out}"
    );
    // A wrong password is named as such.
    let mut wrong = with_ca.clone();
    wrong.push(("VCMS_SMTP_USERNAME", "vcms".to_string()));
    wrong.push(("VCMS_SMTP_PASSWORD", "wrong".to_string()));
    let (ok, _, err) = run_env(dir.path(), &wrong, &["check-config"]);
    assert!(!ok && err.contains("smtp.password"), "{err}");
    assert!(!err.contains("wrong"), "the password is not printed: {err}");
    let mut right = with_ca;
    right.push(("VCMS_SMTP_USERNAME", "vcms".to_string()));
    right.push(("VCMS_SMTP_PASSWORD", "right".to_string()));
    let (ok, out, err) = run_env(dir.path(), &right, &["check-config"]);
    assert!(ok && out.contains("signed in"), "{out}{err}");
    // Nothing was sent by any of these checks.
    assert!(smtp.inbox.lock().unwrap().is_empty());
}

// ---------------- log volume of SIP (issue 15) ----------------

/// Spawn `cmd` (a `serve`) with its log going to `log`; the lines it prints as it starts
/// (the rest of its output is read and dropped).
pub(crate) fn spawn_logged(
    cmd: &mut Command,
    log: &std::path::Path,
) -> (std::process::Child, Vec<String>) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    // Up to the line that says every listener is up.
    for _ in 0..20 {
        match lines.next() {
            Some(Ok(l)) if l.starts_with("ready") => break,
            Some(Ok(l)) => printed.push(l),
            _ => break,
        }
    }
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
    (child, printed)
}

/// The HTTP address a `serve` printed first.
pub(crate) fn url_of(printed: &[String]) -> String {
    printed[0]
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_string()
}

/// A client of `url` signed in as `email` with the password the tests' operator commands
/// give owners (`secret123`).
pub(crate) async fn signed_in(url: &str, email: &str) -> vcms_api::client::Client {
    let mut c = vcms_api::client::Client::new(url);
    c.login(&vcms_api::LoginRequest {
        email: email.into(),
        password: "secret123".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    c
}

/// A SIP UA over UDP for `user` / `password` at `server` (MD5 digest).
pub(crate) async fn udp_ua(
    server: std::net::SocketAddr,
    user: &str,
    password: &str,
) -> vcms_endpoint::Ua {
    vcms_endpoint::Ua::connect(vcms_endpoint::Options {
        server,
        transport: vcms_endpoint::Transport::Udp,
        domain: "vcms.local".into(),
        user: user.into(),
        password: password.into(),
        instance: None,
        user_agent: "vcms test".into(),
        tls_ca: None,
        algorithm: vcms_endpoint::Algorithm::Md5,
        contact_addr: None,
    })
    .await
    .unwrap()
}

/// The address printed after `label` (say `sip udp:`) at start.
pub(crate) fn printed_addr(printed: &[String], label: &str) -> std::net::SocketAddr {
    printed
        .iter()
        .find_map(|l| {
            l.trim()
                .strip_prefix(label)
                .map(|a| a.trim().parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no {label} address in {printed:?}"))
}

/// With the default log settings, and with `VCMS_LOG=info` too, SIP traffic is not logged
/// message by message: twenty REGISTER cycles write one INFO line for the registration that
/// changed something, and no digest answer ever reaches the log (whole messages are DEBUG).
#[test]
fn sip_traffic_logs_one_line_per_change_and_no_digest() {
    sip_traffic_logs_with(None);
    sip_traffic_logs_with(Some("info"));
}

fn sip_traffic_logs_with(vcms_log: Option<&str>) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = run(
        dir.path(),
        &[
            "enterprise",
            "create",
            "--email",
            "logs@example.com",
            "--password",
            "secret123",
            "--name",
            "Logs",
            "--company",
            "Log Co",
            "--country",
            "NL",
        ],
    );
    assert!(ok, "{err}");
    let log = dir.path().join("server.log");
    let mut c = bin();
    c.env("VCMS_DATA_DIR", dir.path())
        .env("VCMS_HTTP_LISTEN", "127.0.0.1:0")
        .env_remove("VCMS_LOG")
        .env_remove("RUST_LOG");
    if let Some(l) = vcms_log {
        c.env("VCMS_LOG", l);
    }
    let (mut child, printed) = spawn_logged(c.arg("serve"), &log);
    let url = url_of(&printed);
    let udp = printed_addr(&printed, "sip udp:");
    let before = std::fs::metadata(&log).unwrap().len();
    rt.block_on(async {
        let c = signed_in(&url, "logs@example.com").await;
        let a = c
            .add_account(&vcms_api::NewAccount {
                name: "Anna".into(),
                extension: "1001".into(),
                email: None,
                send_email: false,
            })
            .await
            .unwrap();
        let mut ua = udp_ua(udp, &a.cloud_number, &a.password).await;
        for _ in 0..20 {
            assert_eq!(ua.register(Some(600)).await.unwrap().code, 200);
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    let sip_part = &text[before as usize..];
    assert!(
        !sip_part.contains("Authorization") && !sip_part.contains("response="),
        "a digest answer reached the log:\n{sip_part}"
    );
    let sip_lines: Vec<&str> = sip_part
        .lines()
        .filter(|l| l.to_ascii_lowercase().contains("sip") || l.contains("REGISTER"))
        .collect();
    assert!(
        sip_lines.len() <= 3,
        "VCMS_LOG={vcms_log:?}: {} SIP log lines for 20 REGISTER cycles:\n{}",
        sip_lines.len(),
        sip_lines.join("\n")
    );
    assert!(
        sip_lines.iter().any(|l| l.contains("registration changed")),
        "{sip_part}"
    );
}

/// When file descriptors run out, the SIP accept loop backs off instead of spinning, and
/// says so once a minute instead of once per attempt.
#[test]
fn out_of_file_descriptors_backs_off_and_logs_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let exe = env!("CARGO_BIN_EXE_vcms-server");
    // A low descriptor limit that the connections below exhaust.
    let mut sh = Command::new("sh");
    for (k, _) in std::env::vars() {
        if k.starts_with("VCMS_") {
            sh.env_remove(k);
        }
    }
    sh.args(["-c", &format!("ulimit -n 64 && exec '{exe}' serve")])
        .env("VCMS_SIP_UDP", "127.0.0.1:0")
        .env("VCMS_SIP_TCP", "127.0.0.1:0")
        .env("VCMS_SIP_TLS", "127.0.0.1:0")
        .env("VCMS_DATA_DIR", dir.path())
        .env("VCMS_HTTP_LISTEN", "127.0.0.1:0")
        .env("VCMS_LOG", "info");
    let (mut child, printed) = spawn_logged(&mut sh, &log);
    let tcp = printed_addr(&printed, "sip tcp:");
    // Many sources (each under the per-address cap), more connections than descriptors.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let held = rt.block_on(async {
        let mut held = Vec::new();
        for i in 0..80u8 {
            let src = std::net::SocketAddr::from(([127, 0, 1, 2 + i % 8], 0));
            let s = tokio::net::TcpSocket::new_v4().unwrap();
            s.bind(src).unwrap();
            if let Ok(Ok(c)) =
                tokio::time::timeout(Duration::from_millis(500), s.connect(tcp)).await
            {
                held.push(c);
            }
        }
        held
    });
    let ticks = |pid: u32| -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let after = stat.rsplit(')').next().unwrap_or("").to_string();
        let f: Vec<&str> = after.split_whitespace().collect();
        f.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
            + f.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0)
    };
    std::thread::sleep(Duration::from_millis(500));
    let size0 = std::fs::metadata(&log).unwrap().len();
    let t0 = ticks(child.id());
    std::thread::sleep(Duration::from_secs(3));
    let size1 = std::fs::metadata(&log).unwrap().len();
    let t1 = ticks(child.id());
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    drop(held);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    // 100 ticks a second: a spinning loop would use ~300 in 3 s.
    assert!(
        t1 - t0 < 60,
        "{} CPU ticks in 3 s while out of descriptors",
        t1 - t0
    );
    assert!(
        size1 - size0 < 4096,
        "{} log bytes in 3 s while out of descriptors",
        size1 - size0
    );
    assert!(
        text.contains("cannot accept connections") || text.contains("Too many open files"),
        "the condition is logged:\n{}",
        &text[..text.len().min(4000)]
    );
}

/// `VCMS_LOG_FORMAT=json`: every log line is one JSON object; a line written while a
/// request is answered carries that request's id, the one sent back in `X-Request-Id`. The
/// wrong password itself never reaches the log.
#[test]
fn json_logs_carry_the_request_id() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let mut c = bin();
    c.env("VCMS_DATA_DIR", dir.path())
        .env("VCMS_HTTP_LISTEN", "127.0.0.1:0")
        .env("VCMS_LOG_FORMAT", "json")
        .env_remove("RUST_LOG");
    let (mut child, printed) = spawn_logged(c.arg("serve"), &log);
    let url = url_of(&printed);
    let answered = rt.block_on(async {
        let r = reqwest::Client::new()
            .post(format!("{url}/api/v1/login"))
            .header("X-Request-Id", "req-42")
            .json(&serde_json::json!({"email": "nobody@example.com", "password": "Wr0ng-guess"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401);
        r.headers()["x-request-id"].to_str().unwrap().to_string()
    });
    assert_eq!(answered, "req-42");
    std::thread::sleep(Duration::from_millis(200));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.trim().is_empty(), "nothing was logged");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let failed = lines
        .iter()
        .find(|v| {
            v["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("sign-in failed"))
        })
        .unwrap_or_else(|| panic!("no sign-in failure logged:\n{text}"));
    assert_eq!(failed["span"]["request_id"], "req-42", "{failed}");
    assert_eq!(failed["ip"], "127.0.0.1", "{failed}");
    assert!(!text.contains("Wr0ng-guess"), "{text}");

    // An unknown format is refused with the variable's name.
    let (ok, _, err) = run_env(
        dir.path(),
        &[("VCMS_LOG_FORMAT", "xml".to_string())],
        &["serve"],
    );
    assert!(!ok);
    assert!(err.contains("VCMS_LOG_FORMAT"), "{err}");
}
