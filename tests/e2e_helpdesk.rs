//! End to end (issue 7): a help-desk colleague signs in to the real `vcms` binary in a
//! pseudo-terminal with MFA, reading the code from a real SMTP server's mailbox; resets a
//! pincode; is not offered removal, and the API refuses it.

use vcms_api::client::Client;
use vcms_api::*;

const OWNER: &str = "owner@hd.vcms";
const HELPDESK: &str = "desk@hd.vcms";
const PASSWORD: &str = "Desk2026pass";

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
    let inbox = vcms_server::testing::Smtp::start();
    let running = support::server(dir.path(), OWNER, "Owner2026pass", |cfg| {
        (cfg.sip.udp, cfg.sip.tcp, cfg.sip.tls) = (String::new(), String::new(), String::new());
        cfg.mail.transport = vcms_server::config::MailTransportKind::Smtp;
        cfg.smtp.host = "127.0.0.1".into();
        cfg.smtp.port = inbox.port;
        cfg.mail.poll_millis = 50;
    })
    .await;
    let owner = support::owner(&running, OWNER, "Owner2026pass").await;
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
    support::helpdesk_colleague(&running, &owner, &inbox, HELPDESK, PASSWORD).await;
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
        let code = code_in(&inbox2.wait_blocking(HELPDESK, 2).text);
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
        let pin = t.reset_pincode("Mars");
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
    let code = tokio::task::spawn_blocking(move || code_in(&inbox.wait_blocking(HELPDESK, 3).text))
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
