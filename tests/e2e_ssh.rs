//! End to end (issue 20): the console over SSH with the real OpenSSH client in a
//! pseudo-terminal. A help-desk colleague signs in with password and the MFA code read from
//! a real SMTP server, resets a pincode, resizes the window, adds their SSH key, quits; then
//! opens the console with the key (the code still asked). Twenty sessions at once each see
//! their own enterprise only.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use portable_pty::CommandBuilder;
use vcms_api::client::Client;
use vcms_api::*;

mod support;
use support::Pty;

const OWNER: &str = "owner@ssh.vcms";
const DESK: &str = "desk@ssh.vcms";
const PASSWORD: &str = "Desk2026pass";

fn code_in(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("6-digit code")
        .to_string()
}

/// `ssh` to the console at `addr` as `user`, in a pseudo-terminal of `size`. `extra` picks
/// the authentication (by default no key is offered: the console's own sign-in).
fn ssh(addr: std::net::SocketAddr, user: &str, extra: &[&str], size: (u16, u16)) -> Pty {
    ssh_in(addr, user, extra, size, ("xterm-256color", "en_US.UTF-8"))
}

/// [`ssh`] from a terminal that says it is `term`, with `LANG` set to `lang`.
fn ssh_in(
    addr: std::net::SocketAddr,
    user: &str,
    extra: &[&str],
    size: (u16, u16),
    (term, lang): (&str, &str),
) -> Pty {
    let mut cmd = CommandBuilder::new("ssh");
    cmd.args(["-tt", "-e", "none", "-F", "/dev/null"]);
    for o in [
        "StrictHostKeyChecking=no",
        "UserKnownHostsFile=/dev/null",
        "GlobalKnownHostsFile=/dev/null",
        "LogLevel=ERROR",
        "SendEnv=LANG",
        "ConnectTimeout=10",
    ] {
        cmd.args(["-o", o]);
    }
    if extra.is_empty() {
        cmd.args(["-o", "PubkeyAuthentication=no"]);
    }
    cmd.args(extra);
    // From an address of its own (not the HTTP listener's 127.0.0.1), so that what the
    // server records as the client's address is seen to be the SSH client's.
    if addr.ip() == std::net::IpAddr::from([127, 0, 0, 2]) {
        cmd.args(["-b", "127.0.0.2"]);
    }
    cmd.args([
        "-p",
        &addr.port().to_string(),
        "-l",
        user,
        &addr.ip().to_string(),
    ]);
    cmd.env("TERM", term);
    cmd.env("LANG", lang);
    Pty::run(cmd, size)
}

/// A new Ed25519 key pair (ssh-keygen): the private key's path and the public key's line.
fn keygen(dir: &Path) -> (PathBuf, String) {
    let key = dir.join("id_ed25519");
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "desk@laptop", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen (openssh-client)");
    assert!(st.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).expect("pub");
    (key, public.trim().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_ssh_password_and_mfa_reset_a_pincode_resize_add_a_key_then_sign_in_with_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let inbox = vcms_server::testing::Smtp::start();
    let clock = Arc::new(vcms_server::clock::ManualClock::default());
    let running =
        support::server_with_clock(dir.path(), OWNER, "Owner2026pass", clock.clone(), |cfg| {
            (cfg.sip.udp, cfg.sip.tcp, cfg.sip.tls) = (String::new(), String::new(), String::new());
            cfg.mail.transport = vcms_server::config::MailTransportKind::Smtp;
            cfg.smtp.host = "127.0.0.1".into();
            cfg.smtp.port = inbox.port;
            cfg.mail.poll_millis = 50;
            // Not the HTTP listener's address: the audit must name the SSH client's.
            cfg.ssh.listen = Some("127.0.0.2:0".into());
        })
        .await;
    let ssh_addr = running.ssh.as_ref().expect("ssh listener").addr;
    let owner = support::owner(&running, OWNER, "Owner2026pass").await;
    owner
        .add_account(&NewAccount {
            name: "Mars".into(),
            extension: "3567".into(),
            ..Default::default()
        })
        .await
        .expect("add");
    support::helpdesk_colleague(&running, &owner, &inbox, DESK, PASSWORD).await;
    owner
        .set_enterprise_settings(&EnterpriseSettings { mfa_required: true })
        .await
        .expect("require mfa");
    let (key, public) = keygen(dir.path());

    let mail = inbox.clone();
    let pin = tokio::task::spawn_blocking(move || {
        let mut t = ssh(ssh_addr, DESK, &[], (80, 24));
        // The SSH user name is the email: only the password is asked.
        let s = t.wait_for("Sign in");
        assert!(s.contains(DESK), "the email is not filled in:\n{s}");
        assert!(
            !s.contains("Server"),
            "a server field is offered over SSH:\n{s}"
        );
        t.send(PASSWORD);
        t.send("\r");
        t.wait_for("6-digit code");
        let code = code_in(&mail.wait_blocking(DESK, 2).text);
        t.send(&code);
        t.send("\r");
        t.wait_for("All records: 1");
        let pin = t.reset_pincode("Mars");
        // A wider window: the console redraws at the new size.
        assert!(t.widest_line() <= 80);
        t.resize(132, 40);
        let start = std::time::Instant::now();
        while t.widest_line() <= 80 {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(20),
                "not redrawn at 132 columns:\n{}",
                t.contents()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        // System → Personal information → SSH keys: add the key.
        t.send(":profile\r");
        t.wait_for("SSH keys");
        t.send("s");
        t.wait_for("Add an SSH key");
        t.send(&public);
        t.send("\r");
        t.wait_for("SHA256:");
        t.send("\x1b");
        t.send("q");
        t.wait_exit();
        pin
    })
    .await
    .expect("pty");
    assert_eq!(pin.len(), 9, "pincode read off the screen: {pin:?}");
    let mars = owner.account_by_extension("3567").await.expect("mars");
    assert_eq!(mars.pincode.as_deref(), Some(pin.as_str()));

    // The audit says the sign-in and the reset came over SSH, from the SSH client.
    let audit = owner
        .audit(&AuditQuery {
            search: Some(DESK.into()),
            ..Default::default()
        })
        .await
        .expect("audit");
    let signin = audit
        .items
        .iter()
        .find(|e| e.action == "signin.ok")
        .unwrap_or_else(|| panic!("no sign-in in {:?}", audit.items));
    assert_eq!(signin.from, "127.0.0.2", "{signin:?}");
    assert!(signin.detail.contains("over SSH"), "{signin:?}");
    let added = audit.items.iter().find(|e| e.action == "sshkey.add");
    assert!(
        added.is_some_and(|e| e.detail.contains("SHA256:") && e.detail.contains("over SSH")),
        "{:?}",
        audit.items
    );
    assert!(
        audit
            .items
            .iter()
            .any(|e| e.action.contains("pincode") && e.detail.contains("over SSH")),
        "{:?}",
        audit.items
    );

    // With the key: no password, the emailed code still asked (a new code email is sent
    // 30 s after the last at the earliest).
    clock.advance(31_000);
    let mail = inbox.clone();
    tokio::task::spawn_blocking(move || {
        let k = key.to_string_lossy().to_string();
        let mut t = ssh(
            ssh_addr,
            DESK,
            &["-i", &k, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"],
            (80, 24),
        );
        let s = t.wait_for("6-digit code");
        assert!(
            !s.contains("Password"),
            "a key sign-in asks for the password:\n{s}"
        );
        let code = code_in(&mail.wait_blocking(DESK, 3).text);
        t.send(&code);
        t.send("\r");
        t.wait_for("All records: 1");
        t.send("q");
        t.wait_exit();
    })
    .await
    .expect("pty");

    // An API key never opens a console, nor manages SSH keys.
    let created = owner
        .create_api_key(&NewApiKey {
            name: "ci".into(),
            role: Role::Owner,
            manage_admins: false,
        })
        .await
        .expect("api key");
    let by_key = Client::new(&running.url()).with_token(created.key.clone());
    let e = by_key
        .add_ssh_key(&NewSshKey {
            public_key: public_line_of_a_new_key(dir.path()),
            name: None,
        })
        .await
        .expect_err("an API key adds an SSH key");
    assert_eq!(e.code(), ErrorCode::NotForApiKeys);
    let addr = ssh_addr;
    let key_as_password = created.key.clone();
    tokio::task::spawn_blocking(move || {
        let mut t = ssh(addr, OWNER, &[], (80, 24));
        t.wait_for("Sign in");
        t.send(&key_as_password);
        t.send("\r");
        t.wait_for("Wrong email or password");
        t.send("\x03");
        t.wait_exit();
    })
    .await
    .expect("pty");
}

fn public_line_of_a_new_key(dir: &Path) -> String {
    let sub = dir.join("other");
    std::fs::create_dir_all(&sub).expect("dir");
    keygen(&sub).1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_sessions_at_once_each_see_their_own_enterprise_only() {
    const N: usize = 20;
    let dir = tempfile::tempdir().expect("tmp");
    let running = support::server(dir.path(), "owner0@e0.vcms", "Owner2026pass", |cfg| {
        (cfg.sip.udp, cfg.sip.tcp, cfg.sip.tls) = (String::new(), String::new(), String::new());
        cfg.ssh.listen = Some("127.0.0.1:0".into());
        cfg.ssh.max_per_address = N;
    })
    .await;
    let ssh_addr = running.ssh.as_ref().expect("ssh listener").addr;
    for i in 1..N {
        let new = vcms_server::service::auth::NewEnterprise::parse(
            "Owner",
            &format!("Company {i}"),
            "China",
            &format!("owner{i}@e{i}.vcms"),
            "Owner2026pass",
            Some("en"),
        )
        .expect("enterprise");
        vcms_server::service::auth::create_enterprise(&running.app, new, true)
            .await
            .expect("create");
    }
    for i in 0..N {
        let c = support::owner(&running, &format!("owner{i}@e{i}.vcms"), "Owner2026pass").await;
        c.add_account(&NewAccount {
            name: format!("Zeta{i:02}q"),
            extension: "1001".into(),
            ..Default::default()
        })
        .await
        .expect("add");
    }
    let sessions: Vec<_> = (0..N)
        .map(|i| {
            std::thread::spawn(move || {
                let mut t = ssh(ssh_addr, &format!("owner{i}@e{i}.vcms"), &[], (100, 30));
                t.wait_for("Sign in");
                t.send("Owner2026pass");
                t.send("\r");
                t.wait_for("All records: 1");
                let s = t.wait_for(&format!("Zeta{i:02}q"));
                let others: Vec<_> = (0..N)
                    .filter(|j| *j != i && s.contains(&format!("Zeta{j:02}q")))
                    .collect();
                assert!(
                    others.is_empty(),
                    "session {i} sees enterprises {others:?}:\n{s}"
                );
                if i == 0 {
                    // Over SSH a path names a file on the server's machine: export is
                    // refused and nothing is written.
                    t.send("x");
                    t.wait_for("accounts.xlsx");
                    t.send("\r");
                    t.wait_for("Over SSH the console");
                    t.send("\x1b");
                }
                t
            })
        })
        .collect();
    let mut open: Vec<Pty> = sessions
        .into_iter()
        .map(|h| h.join().expect("session"))
        .collect();
    // All twenty are open: the 21st connection from the same address is refused.
    let refused = tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new("ssh")
            .args([
                "-F",
                "/dev/null",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
            ])
            .args(["-o", "BatchMode=yes", "-o", "PubkeyAuthentication=no", "-T"])
            .args([
                "-p",
                &ssh_addr.port().to_string(),
                "owner0@e0.vcms@127.0.0.1",
            ])
            .output()
            .expect("ssh");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    })
    .await
    .expect("ssh");
    assert!(
        !refused.0 && refused.1.contains("kex_exchange_identification"),
        "a 21st connection was let in: {}",
        refused.1
    );
    // The operator sees them in the metrics.
    let m = running.app.metrics.render(Default::default());
    for line in [
        "vcms_ssh_consoles 20",
        "vcms_ssh_connections_total{result=\"accepted\"} 20",
        "vcms_ssh_connections_total{result=\"refused\"} 1",
    ] {
        assert!(m.lines().any(|l| l == line), "no {line:?} in\n{m}");
    }
    // Ctrl-C ends that session only: the next one still answers.
    open[0].send("\x03");
    open[0].wait_exit();
    open[1].send("?");
    open[1].wait_for("Everywhere");
    open[1].send("\x1b");
    assert!(open[2].coloured_cells() > 0, "no colours on xterm-256color");
    for t in &mut open[1..] {
        t.send("q");
    }
    for t in &mut open[1..] {
        t.wait_exit();
    }
    for d in [Path::new("."), dir.path(), &dir.path().join("server")] {
        assert!(
            !d.join("accounts.xlsx").exists(),
            "an export was written in {d:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_without_a_key_pressed_ends_after_the_idle_timeout() {
    let dir = tempfile::tempdir().expect("tmp");
    let running = support::server(dir.path(), OWNER, "Owner2026pass", |cfg| {
        (cfg.sip.udp, cfg.sip.tcp, cfg.sip.tls) = (String::new(), String::new(), String::new());
        cfg.ssh.listen = Some("127.0.0.1:0".into());
        cfg.ssh.idle_timeout_secs = 3;
    })
    .await;
    let addr = running.ssh.as_ref().expect("ssh listener").addr;
    tokio::task::spawn_blocking(move || {
        // The terminal's LANG picks the language, its TERM the colours: none for a dumb one.
        let mut t = ssh_in(addr, OWNER, &[], (80, 24), ("dumb", "zh_CN.UTF-8"));
        t.wait_for("登录");
        assert_eq!(t.coloured_cells(), 0, "colours on a dumb terminal");
        // Keys pressed keep it open past the timeout.
        for _ in 0..4 {
            std::thread::sleep(std::time::Duration::from_millis(1000));
            t.send("a");
        }
        assert!(
            t.child.try_wait().expect("wait").is_none(),
            "ended while typing"
        );
        let s = t.wait_for("without a key pressed");
        assert!(s.contains("3 seconds"), "{s}");
        t.wait_exit();
    })
    .await
    .expect("pty");
}
