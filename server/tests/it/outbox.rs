//! The outbox: delivered, retried, or failed with its reason; never dropped.

use crate::both;
use crate::common::*;
use vcms_server::clock::{MINUTE, SECOND};

async fn rejected_recipient_is_failed_with_the_reason(db: Db) {
    let smtp = Smtp::start();
    smtp.policy
        .lock()
        .unwrap()
        .reject
        .insert("bounce@example.com".into());
    let s = TestServer::start_with(db, smtp, |_| {}).await;
    s.register("bounce@example.com", "secret123").await.unwrap();
    let id = s.outbox().await[0].id;
    let row = s.wait_outbox(id, "failed").await;
    let reason = row.last_error.unwrap();
    assert!(
        reason.contains("550") && reason.contains("No such user"),
        "{reason}"
    );
    assert_eq!(row.attempts, 1, "a permanent failure is not retried");
    assert!(s.smtp.mails_to("bounce@example.com").is_empty());
}
both!(rejected_recipient_is_failed_with_the_reason);

async fn smtp_down_is_retried_then_delivered(db: Db) {
    // Reserve a port with nothing listening: the SMTP server is "down".
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = reserved.local_addr().unwrap().port();
    drop(reserved);
    let placeholder = Smtp::start();
    let s = TestServer::start_with(db, placeholder, |cfg| cfg.smtp.port = port).await;
    s.register("later@example.com", "secret123").await.unwrap();
    let id = s.outbox().await[0].id;
    // The first attempt fails and is scheduled again, with the reason kept.
    let mut row = None;
    for _ in 0..100 {
        let r = s.outbox().await.into_iter().find(|r| r.id == id).unwrap();
        if r.attempts >= 1 && r.last_error.is_some() {
            row = Some(r);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let row = row.expect("no delivery attempt");
    assert_eq!(row.status, "pending");
    assert!(
        row.next_attempt_at >= s.now() + 29 * SECOND,
        "retry is backed off"
    );
    // A second failure doubles the delay.
    s.advance(30 * SECOND);
    for _ in 0..100 {
        let r = s.outbox().await.into_iter().find(|r| r.id == id).unwrap();
        if r.attempts >= 2 && r.next_attempt_at > s.now() {
            assert!(r.next_attempt_at >= s.now() + 59 * SECOND);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The SMTP server comes up on that port: the email arrives on the next try.
    let smtp = Smtp::start_on(std::net::TcpListener::bind(("127.0.0.1", port)).unwrap());
    s.advance(2 * MINUTE);
    let mail = smtp.wait_for("later@example.com", 1).await;
    assert!(mail.subject.contains("Activate"));
    s.wait_outbox(id, "sent").await;
}
both!(smtp_down_is_retried_then_delivered);

async fn temporary_failures_end_in_the_failed_list_after_max_attempts(db: Db) {
    let smtp = Smtp::start();
    smtp.policy.lock().unwrap().temp_fail = true;
    let s = TestServer::start_with(db, smtp, |cfg| cfg.mail.max_attempts = 3).await;
    s.register("grey@example.com", "secret123").await.unwrap();
    let id = s.outbox().await[0].id;
    for _ in 0..3 {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        s.advance(10 * MINUTE);
    }
    let row = s.wait_outbox(id, "failed").await;
    let reason = row.last_error.unwrap();
    assert!(
        reason.contains("gave up after 3 attempts") && reason.contains("451"),
        "{reason}"
    );
}
both!(temporary_failures_end_in_the_failed_list_after_max_attempts);

async fn email_bodies_are_sealed_at_rest(db: Db) {
    let s = TestServer::start(db).await;
    s.register("sealed@example.com", "secret123").await.unwrap();
    let mail = s.smtp.wait_for("sealed@example.com", 1).await;
    let token = mail.token();
    let row = &s.outbox().await[0];
    for body in [&row.body_text_enc, &row.body_html_enc] {
        assert!(!String::from_utf8_lossy(body).contains(&token));
    }
}
both!(email_bodies_are_sealed_at_rest);

// ---------------- issue 14: configuration problems, language ----------------

use vcms_server::config::SmtpSecurity;

/// The outbox row of the first email to `to`.
async fn row_to(s: &TestServer, to: &str) -> OutboxRow {
    s.outbox()
        .await
        .into_iter()
        .find(|r| r.recipient == to)
        .expect("no email queued")
}

/// Wait until the email to `to` has been tried (it has a last error).
async fn tried(s: &TestServer, to: &str) -> OutboxRow {
    for _ in 0..200 {
        let r = row_to(s, to).await;
        if r.last_error.is_some() || r.status != "pending" {
            return r;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the email to {to} was never tried");
}

async fn untrusted_certificate_or_refused_login_keep_emails_queued(db: Db) {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = crate::process::self_signed(certs.path());
    let tls = Smtp::start_starttls(&cert, &key);
    tls.policy.lock().unwrap().login = Some(("vcms".into(), "right".into()));
    // An enterprise set up while mail works, then the server is pointed at the STARTTLS
    // server whose certificate is self-signed.
    let s = TestServer::start(db).await;
    s.owner("boss@example.com").await;
    let port = tls.port;
    let s = s
        .restart_with(|cfg| {
            cfg.smtp.port = port;
            cfg.smtp.security = SmtpSecurity::Starttls;
            cfg.mail.max_attempts = 2;
        })
        .await;
    let owner = s.login("boss@example.com", "secret123").await.unwrap();
    owner
        .add_account(&vcms_api::NewAccount {
            name: "Anna".into(),
            extension: "1001".into(),
            email: Some("anna@example.com".into()),
            send_email: true,
        })
        .await
        .unwrap();
    let row = tried(&s, "anna@example.com").await;
    let reason = row.last_error.clone().unwrap();
    assert!(
        reason.contains("certificate") && reason.contains("smtp.ca_file"),
        "{reason}"
    );
    // Kept queued, no attempt counted, not failed, and not tried again in a loop.
    let hellos = tls.hello_count();
    for _ in 0..10 {
        s.advance(10 * MINUTE);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let row = row_to(&s, "anna@example.com").await;
    assert_eq!((row.status.as_str(), row.attempts), ("pending", 0));
    assert_eq!(tls.hello_count(), hellos, "the server was not asked again");
    assert!(tls.mails_to("anna@example.com").is_empty());
    // The failed-email screen says what is wrong (signed in again: the clock moved 100 min).
    let owner = s.login("boss@example.com", "secret123").await.unwrap();
    let list = owner.failed_emails().await.unwrap();
    assert_eq!(list.total, 0);
    assert_eq!(list.waiting, 1);
    let problem = list.transport_problem.expect("no transport problem shown");
    assert!(problem.contains("smtp.ca_file"), "{problem}");

    // smtp.ca_file trusts the certificate; now the password is wrong: still kept queued.
    let ca = cert.clone();
    let s = s
        .restart_with(|cfg| {
            cfg.smtp.port = port;
            cfg.smtp.security = SmtpSecurity::Starttls;
            cfg.smtp.ca_file = Some(ca);
            cfg.smtp.username = Some("vcms".into());
            cfg.smtp.password = Some("wrong".into());
        })
        .await;
    let mut row = row_to(&s, "anna@example.com").await;
    for _ in 0..200 {
        row = row_to(&s, "anna@example.com").await;
        if row
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("sign in"))
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let reason = row.last_error.clone().unwrap();
    assert!(reason.contains("smtp.password"), "{reason}");
    assert_eq!((row.status.as_str(), row.attempts), ("pending", 0));
    let owner = s.login("boss@example.com", "secret123").await.unwrap();
    let problem = owner.failed_emails().await.unwrap().transport_problem;
    assert!(problem.is_some_and(|p| p.contains("smtp.password")));

    // The right password: the email that waited goes out, once.
    let ca = cert.clone();
    let s = s
        .restart_with(|cfg| {
            cfg.smtp.port = port;
            cfg.smtp.security = SmtpSecurity::Starttls;
            cfg.smtp.ca_file = Some(ca);
            cfg.smtp.username = Some("vcms".into());
            cfg.smtp.password = Some("right".into());
        })
        .await;
    let mail = tls.wait_for("anna@example.com", 1).await;
    assert!(mail.text.contains("1001") || mail.subject.contains("account"));
    let row = s.wait_outbox(row.id, "sent").await;
    assert_eq!(row.attempts, 1);
    assert_eq!(tls.mails_to("anna@example.com").len(), 1);
    let owner = s.login("boss@example.com", "secret123").await.unwrap();
    let list = owner.failed_emails().await.unwrap();
    assert!(list.transport_problem.is_none() && list.waiting == 0);
}
both!(untrusted_certificate_or_refused_login_keep_emails_queued);

async fn account_email_is_in_the_owners_language(db: Db) {
    let s = TestServer::start(db).await;
    let (id, answer, pow) = s.captcha().await;
    let mut req = s.register_request("chen@example.com", "secret123");
    req.language = Some("zh-CN".into());
    req.captcha_id = id;
    req.captcha_answer = answer;
    req.captcha_pow = pow.clone();
    s.client().register(&req).await.unwrap();
    let mail = s.smtp.wait_for("chen@example.com", 1).await;
    s.client().activate(&mail.token()).await.unwrap();
    let owner = s.login("chen@example.com", "secret123").await.unwrap();
    owner
        .add_account(&vcms_api::NewAccount {
            name: "陈媛媛".into(),
            extension: "2002".into(),
            email: Some("chenyy@example.com".into()),
            send_email: true,
        })
        .await
        .unwrap();
    let mail = s.smtp.wait_for("chenyy@example.com", 1).await;
    assert!(
        mail.subject.starts_with("您的视频会议账号"),
        "{}",
        mail.subject
    );
    assert!(mail.text.contains("您好"), "{}", mail.text);
    // A colleague's invitation is in the owner's language too (it was always English).
    owner
        .invite(&vcms_api::InviteRequest {
            first_name: "王".into(),
            last_name: "芳".into(),
            email: "wangfang@example.com".into(),
            role: vcms_api::Role::Helpdesk,
            manage_admins: false,
        })
        .await
        .unwrap();
    let mail = s.smtp.wait_for("wangfang@example.com", 1).await;
    assert!(mail.subject.contains("邀请您管理"), "{}", mail.subject);
    assert!(mail.text.contains("您好"), "{}", mail.text);
}
both!(account_email_is_in_the_owners_language);

/// Emails queued one after the other reach the mailbox in that order, also when the worker
/// claims them together: the database hands claimed rows back in any order (PostgreSQL's
/// `UPDATE … RETURNING` in hash order). A person who asked twice for a reset link opens the
/// last email, and its link must be the one that works.
async fn emails_claimed_together_are_sent_in_the_order_queued(db: Db) {
    const NAMES: [&str; 12] = [
        "Alice", "Bruno", "Chloe", "Dmitri", "Elena", "Farid", "Greta", "Hiro", "Ines", "Jonas",
        "Kofi", "Liam",
    ];
    let s = TestServer::start(db).await;
    let app = &s.running.app;
    // One transaction: the worker sees all of them at once and claims them together.
    let mut tx = app.store.begin().await.unwrap();
    for name in NAMES {
        app.mailer
            .enqueue(
                &mut tx,
                &vcms_server::mail::Outgoing {
                    enterprise_id: None,
                    account_id: None,
                    account_label: None,
                    kind: "register_attempt",
                    recipient: "order@example.com",
                    lang: "en",
                    vars: &[("name", name), ("email", "order@example.com")],
                },
            )
            .await
            .unwrap();
    }
    // Moved away and back, the first half's rows now sit behind the second half's on disk
    // and in the due index, the order a database may well hand them back in.
    for step in ["- 1", "+ 1"] {
        sqlx::query(&format!(
            "UPDATE outbox SET next_attempt_at = next_attempt_at {step} WHERE id <= \
             (SELECT MIN(id) + 5 FROM outbox)"
        ))
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    app.mailer.wake();
    s.smtp.wait_for("order@example.com", NAMES.len()).await;
    let order: Vec<&str> = s
        .smtp
        .mails_to("order@example.com")
        .iter()
        .map(|m| {
            NAMES
                .into_iter()
                .find(|n| m.text.contains(n))
                .unwrap_or("?")
        })
        .collect();
    assert_eq!(order, NAMES);
}
both!(emails_claimed_together_are_sent_in_the_order_queued);
