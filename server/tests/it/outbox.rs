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
