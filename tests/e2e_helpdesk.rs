//! End to end (issue 7): a help-desk colleague signs in to the real `vcms` binary in a
//! pseudo-terminal with MFA, reading the code from a real SMTP server's mailbox; resets a
//! pincode; is not offered removal, and the API refuses it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vcms_server::api::*;
use vcms_server::client::Client;

const OWNER: &str = "owner@hd.vcms";
const HELPDESK: &str = "desk@hd.vcms";
const PASSWORD: &str = "Desk2026pass";

/// A real SMTP server on port 0 that keeps every message's recipients and text body.
/// (recipients, text body) of each message received.
type Received = Vec<(Vec<String>, String)>;

#[derive(Clone, Default)]
struct Inbox(Arc<Mutex<Received>>);

#[derive(Clone)]
struct Handler {
    inbox: Inbox,
    to: Vec<String>,
    buf: Vec<u8>,
}

impl mailin_embedded::Handler for Handler {
    fn data_start(
        &mut self,
        _domain: &str,
        _from: &str,
        _is8bit: bool,
        to: &[String],
    ) -> mailin_embedded::Response {
        self.to = to.to_vec();
        self.buf.clear();
        mailin_embedded::response::OK
    }
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.buf.extend_from_slice(buf);
        Ok(())
    }
    fn data_end(&mut self) -> mailin_embedded::Response {
        let text = mail_parser::MessageParser::default()
            .parse(&self.buf)
            .and_then(|m| m.body_text(0).map(|t| t.to_string()))
            .unwrap_or_default();
        if let Ok(mut v) = self.inbox.0.lock() {
            v.push((self.to.clone(), text));
        }
        mailin_embedded::response::OK
    }
}

impl Inbox {
    fn start() -> (Inbox, u16) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind smtp");
        let port = listener.local_addr().expect("addr").port();
        let inbox = Inbox::default();
        let mut server = mailin_embedded::Server::new(Handler {
            inbox: inbox.clone(),
            to: vec![],
            buf: vec![],
        });
        server.with_name("smtp.test").with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        (inbox, port)
    }

    /// The text of email number `n` (1-based) to `to`, waiting up to 10 s.
    fn wait(&self, to: &str, n: usize) -> String {
        let start = Instant::now();
        loop {
            let got: Vec<String> = self
                .0
                .lock()
                .expect("inbox")
                .iter()
                .filter(|(rcpt, _)| rcpt.iter().any(|r| r.eq_ignore_ascii_case(to)))
                .map(|(_, t)| t.clone())
                .collect();
            if got.len() >= n {
                return got[n - 1].clone();
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{to} got no email #{n}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn token_in(text: &str) -> String {
    let i = text.find("token=").expect("token in email") + 6;
    text[i..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

fn code_in(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("6-digit code")
        .to_string()
}

mod support;
use support::Pty;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helpdesk_signs_in_with_mfa_resets_a_pincode_and_cannot_remove() {
    let dir = tempfile::tempdir().expect("tmp");
    let (inbox, smtp_port) = Inbox::start();
    let mut cfg = vcms_server::config::Config::loopback(&dir.path().join("server"));
    cfg.security.captcha = false;
    (cfg.sip.udp, cfg.sip.tcp, cfg.sip.tls) = (String::new(), String::new(), String::new());
    cfg.mail.transport = vcms_server::config::MailTransportKind::Smtp;
    cfg.smtp.host = "127.0.0.1".into();
    cfg.smtp.port = smtp_port;
    cfg.mail.poll_millis = 50;
    let server = vcms_server::Server::build(cfg, Arc::new(vcms_server::clock::SystemClock))
        .await
        .expect("build");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let running = server.start(listener, false).await.expect("start");
    let app = running.app.clone();
    let new = vcms_server::service::auth::NewEnterprise::parse(
        "Owner",
        "HD Co",
        "China",
        OWNER,
        "Owner2026pass",
        Some("en"),
    )
    .expect("enterprise");
    vcms_server::service::auth::create_enterprise(&app, new, true)
        .await
        .expect("create");
    let mut owner = Client::new(&running.url());
    owner
        .login(&LoginRequest {
            email: OWNER.into(),
            password: "Owner2026pass".into(),
            ..Default::default()
        })
        .await
        .expect("owner login");
    for (name, ext) in [("Anna", "1001"), ("Mars", "3567")] {
        owner
            .add_account(&NewAccount {
                name: name.into(),
                extension: ext.into(),
                ..Default::default()
            })
            .await
            .expect("add");
    }
    owner
        .invite(&InviteRequest {
            first_name: "Desk".into(),
            last_name: "Helper".into(),
            email: HELPDESK.into(),
            role: Role::Helpdesk,
            manage_admins: false,
        })
        .await
        .expect("invite");
    let invitation = tokio::task::spawn_blocking({
        let inbox = inbox.clone();
        move || inbox.wait(HELPDESK, 1)
    })
    .await
    .expect("mail");
    Client::new(&running.url())
        .accept_invitation(&AcceptInvitation {
            token: token_in(&invitation),
            password: PASSWORD.into(),
            confirm_password: PASSWORD.into(),
        })
        .await
        .expect("accept");
    owner
        .set_enterprise_settings(&EnterpriseSettings { mfa_required: true })
        .await
        .expect("require mfa");

    let url = running.url();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let inbox2 = inbox.clone();
    let pin = tokio::task::spawn_blocking(move || {
        let mut t = Pty::spawn(&url, &home);
        t.wait_for("Sign in");
        t.send(HELPDESK);
        t.send("\t");
        t.send(PASSWORD);
        t.send("\r");
        t.wait_for("6-digit code");
        let code = code_in(&inbox2.wait(HELPDESK, 2));
        t.send(&code);
        t.send("\r");
        let s = t.wait_for("All records: 2");
        // Removal is neither offered in the hints nor in the help.
        assert!(!s.contains("remove"), "help-desk is offered removal:\n{s}");
        t.send("?");
        let help = t.wait_for("Everywhere");
        assert!(
            !help.contains("remove"),
            "help-desk help lists removal:\n{help}"
        );
        t.send("\x1b");
        // Mars's details: reset the pincode and read it off the screen.
        t.send("/");
        t.send("Mars");
        t.wait_for("All records: 1 ");
        t.send("\r");
        t.send("\r");
        t.wait_for("Login pincode");
        t.send("p");
        t.wait_for("Reset the pincode?");
        t.send("y");
        let s = t.wait_for("As typed:");
        let pin = Pty::pincode_on_screen(&s);
        t.send("\x1b");
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

    // The API refuses removal to the help-desk colleague.
    let mut desk = Client::new(&running.url());
    // At most one code email per admin per 30 s: a second sign-in that soon after the
    // console's is told to wait (429), then gets its code.
    let mut token = None;
    for _ in 0..40 {
        let e = desk
            .login(&LoginRequest {
                email: HELPDESK.into(),
                password: PASSWORD.into(),
                ..Default::default()
            })
            .await
            .expect_err("mfa");
        if let Some(t) = e.body().and_then(|b| b.mfa_token.clone()) {
            token = Some(t);
            break;
        }
        assert_eq!(e.status().map(|s| s.as_u16()), Some(429), "{e}");
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    let token = token.expect("mfa token");
    let code = tokio::task::spawn_blocking(move || code_in(&inbox.wait(HELPDESK, 3)))
        .await
        .expect("code");
    desk.verify_mfa(&MfaVerify {
        mfa_token: token,
        code,
    })
    .await
    .expect("verify");
    let e = desk
        .remove_accounts(&[mars.id])
        .await
        .expect_err("removal must be refused");
    assert_eq!(e.status().map(|s| s.as_u16()), Some(403));
    assert_eq!(
        owner
            .accounts(&AccountQuery::default())
            .await
            .expect("list")
            .total,
        2
    );
    running.shutdown().await;
}
