//! No enumeration (issue 13): registration, forgotten password and activation resend answer
//! the same for known and unknown emails, in the same time; a mailbox gets at most 3 reset or
//! activation emails an hour; the captcha costs a script a proof of work per try; clashes
//! with another enterprise's device serials and admin emails do not confirm it has them.

use std::time::{Duration, Instant};

use crate::both;
use crate::common::*;
use serde_json::{json, Value};
use vcms_api::client::Client;
use vcms_api::*;
use vcms_server::clock::{HOUR, MINUTE};

/// Leading zero bits of SHA-256("{id}:{nonce}"): the test's own reading of the proof of work.
fn pow_zero_bits(id: &str, nonce: &str) -> u32 {
    use sha2::Digest;
    let d = sha2::Sha256::digest(format!("{id}:{nonce}").as_bytes());
    let mut bits = 0;
    for b in d {
        if b == 0 {
            bits += 8;
        } else {
            bits += b.leading_zeros();
            break;
        }
    }
    bits
}

/// A fresh captcha as a script would answer it: the art read from the database (a glyph
/// matcher does as well), the proof of work paid by brute force. JSON fields to merge into a
/// request.
async fn paid_captcha(s: &TestServer) -> (String, String, String) {
    let c: Value = s
        .client()
        .post("/api/v1/captcha", &json!({}))
        .await
        .unwrap();
    let id = c["id"].as_str().unwrap().to_string();
    let bits = c["pow_bits"].as_u64().unwrap_or(0) as u32;
    let nonce = (0u64..)
        .map(|n| n.to_string())
        .find(|n| pow_zero_bits(&id, n) >= bits)
        .unwrap();
    let answer = s.captcha_answer(&id).await.unwrap();
    (id, answer, nonce)
}

async fn email_request(s: &TestServer, email: &str) -> Value {
    let (id, answer, pow) = paid_captcha(s).await;
    json!({ "email": email, "captcha_id": id, "captcha_answer": answer, "captcha_pow": pow })
}

/// Wait until the server has no queued work left: email requests and undelivered emails.
async fn settle(s: &TestServer) {
    for _ in 0..5000 {
        let mut c = s.running.app.store.conn().await.unwrap();
        let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM email_requests")
            .fetch_one(&mut *c)
            .await
            .unwrap();
        let pending: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
                .fetch_one(&mut *c)
                .await
                .unwrap();
        drop(c);
        if queued == 0 && pending == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("the server never settled");
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Median answer times of `path` for a known and an unknown email, interleaved, each request
/// timed alone (the server's queued work from the one before is done).
async fn medians(s: &TestServer, c: &Client, path: &str, known: &str, n: usize) -> (f64, f64) {
    let (mut k, mut u) = (vec![], vec![]);
    for i in 0..n + 10 {
        let order = if i % 2 == 0 {
            [(known, true), ("nobody@timing.example", false)]
        } else {
            [("nobody@timing.example", false), (known, true)]
        };
        for (email, is_known) in order {
            let body = email_request(s, email).await;
            settle(s).await;
            let t = Instant::now();
            let m: Message = c.post(path, &body).await.unwrap();
            let dt = t.elapsed();
            assert!(m.message.starts_with("If "), "{}", m.message);
            if i >= 10 {
                if is_known {
                    k.push(dt)
                } else {
                    u.push(dt)
                }
            }
        }
    }
    (
        median(&mut k).as_secs_f64() * 1000.0,
        median(&mut u).as_secs_f64() * 1000.0,
    )
}

/// Forgot password and activation resend: a known email is not measurably slower than an
/// unknown one (medians of 120 requests each within 10%; two retries on a noisy machine).
async fn forgot_and_resend_take_the_same_time(db: Db) {
    let s = TestServer::start(db).await;
    s.register_and_activate("known@timing.example", "secret123")
        .await;
    s.register("pending@timing.example", "secret123")
        .await
        .unwrap();
    let c = s.client();
    for (path, known) in [
        ("/api/v1/password/forgot", "known@timing.example"),
        ("/api/v1/activation/resend", "pending@timing.example"),
    ] {
        let (mut tries, mut same) = (vec![], false);
        for _ in 0..3 {
            let (k, u) = medians(&s, &c, path, known, 120).await;
            let diff = (k - u).abs() / k.min(u);
            tries.push(format!(
                "known {k:.3} ms, unknown {u:.3} ms ({:.1}%)",
                diff * 100.0
            ));
            if diff <= 0.10 {
                same = true;
                break;
            }
        }
        eprintln!("{path}: {tries:?}");
        assert!(
            same,
            "{path}: a known email answers measurably slower or faster: {tries:?}"
        );
    }
}
both!(forgot_and_resend_take_the_same_time);

/// Registering with a known email answers like a new registration; the mailbox owner gets a
/// "someone tried to register with your address" email; nothing else changes.
async fn register_with_a_known_email_answers_like_a_new_one(db: Db) {
    let s = TestServer::start(db).await;
    let number = s
        .register_and_activate("taken@reg.example", "secret123")
        .await;
    s.register("waiting@reg.example", "secret123")
        .await
        .unwrap();
    let before = s.counts().await;
    let fresh = s.register("fresh@reg.example", "secret123").await.unwrap();
    let taken = s
        .register("TAKEN@reg.example", "other12345")
        .await
        .expect("a known email must answer like a new one");
    let waiting = s
        .register("waiting@reg.example", "other12345")
        .await
        .expect("a pending email must answer like a new one");
    for r in [&taken, &waiting] {
        assert_eq!(r.message, fresh.message);
        assert_eq!(r.enterprise_number.len(), 5);
        assert!(r.enterprise_number.chars().all(|c| c.is_ascii_digit()));
        assert_ne!(r.enterprise_number, number);
    }
    // The owner of the address hears about it; the fresh one gets its activation email.
    let notice = s.smtp.wait_for("taken@reg.example", 2).await;
    assert!(notice.text.contains("tried to register"), "{}", notice.text);
    assert!(!notice.text.contains("token="), "{}", notice.text);
    s.smtp.wait_for("waiting@reg.example", 2).await;
    s.smtp.wait_for("fresh@reg.example", 1).await;
    // Only the fresh registration created anything besides emails.
    let after = s.counts().await;
    for ((t, b), (_, a)) in before.iter().zip(&after) {
        let grew = a - b;
        match t.as_str() {
            "enterprises" | "admins" => assert_eq!(grew, 1, "{t}"),
            _ => {}
        }
    }
    // The existing owner's password is untouched.
    s.login("taken@reg.example", "secret123").await.unwrap();
    assert_eq!(
        err(s.login("taken@reg.example", "other12345").await).code(),
        ErrorCode::InvalidCredentials
    );
}
both!(register_with_a_known_email_answers_like_a_new_one);

/// 10 reset requests and 10 activation resends for one mailbox in an hour: 3 emails each;
/// every answer is the same; the link of the last email that arrived still works.
async fn at_most_three_reset_or_activation_emails_per_mailbox_per_hour(db: Db) {
    let s = TestServer::start(db).await;
    s.register_and_activate("flood@cap.example", "secret123")
        .await;
    s.register("pending@cap.example", "secret123")
        .await
        .unwrap();
    s.advance(2 * HOUR);
    let c = s.client();
    let mut answers = std::collections::HashSet::new();
    for _ in 0..10 {
        let m: Message = c
            .post(
                "/api/v1/password/forgot",
                &email_request(&s, "flood@cap.example").await,
            )
            .await
            .unwrap();
        answers.insert(m.message);
        s.advance(MINUTE);
    }
    for _ in 0..10 {
        let m: Message = c
            .post(
                "/api/v1/activation/resend",
                &email_request(&s, "pending@cap.example").await,
            )
            .await
            .unwrap();
        answers.insert(m.message);
    }
    assert_eq!(answers.len(), 2, "{answers:?}");
    settle(&s).await;
    let last = s.smtp.wait_for("flood@cap.example", 4).await;
    s.smtp.wait_for("pending@cap.example", 4).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The registration's activation email (2 hours ago), then 3 of the 10 each.
    assert_eq!(s.smtp.mails_to("flood@cap.example").len(), 4);
    assert_eq!(s.smtp.mails_to("pending@cap.example").len(), 4);
    // The requests beyond the limit did not replace the link that was sent.
    s.client()
        .reset_password(&ResetPasswordRequest {
            token: last.token(),
            new_password: "fresh12345".into(),
            confirm_password: "fresh12345".into(),
        })
        .await
        .unwrap();
    // An hour after the first of the three, the next request gets an email again.
    s.advance(HOUR);
    let _: Message = c
        .post(
            "/api/v1/password/forgot",
            &email_request(&s, "flood@cap.example").await,
        )
        .await
        .unwrap();
    s.smtp.wait_for("flood@cap.example", 5).await;
}
both!(at_most_three_reset_or_activation_emails_per_mailbox_per_hour);

/// The captcha carries a proof of work: a script pays for every try. An unsolved, a missing
/// and a replayed proof are refused, naming the field `captcha`.
async fn captcha_needs_a_proof_of_work_once(db: Db) {
    let s = TestServer::start(db).await;
    s.register_and_activate("pow@example.com", "secret123")
        .await;
    let c = s.client();
    let raw: Value = c.post("/api/v1/captcha", &json!({})).await.unwrap();
    assert!(
        raw["pow_bits"].as_u64().unwrap_or(0) >= 1,
        "the captcha has no proof of work: {raw}"
    );
    let forgot = |body: Value| {
        let c = c.clone();
        async move {
            c.post::<Value, Message>("/api/v1/password/forgot", &body)
                .await
        }
    };
    // Unsolved: a nonce that does not meet the difficulty.
    let mut body = email_request(&s, "pow@example.com").await;
    let id = body["captcha_id"].as_str().unwrap().to_string();
    let bits = raw["pow_bits"].as_u64().unwrap_or(0) as u32;
    let bad = (0u64..)
        .map(|n| n.to_string())
        .find(|n| pow_zero_bits(&id, n) < bits)
        .unwrap();
    body["captcha_pow"] = json!(bad);
    let e = err(forgot(body).await);
    assert_eq!(e.field(), Some("captcha"), "{e}");
    // Missing.
    let mut body = email_request(&s, "pow@example.com").await;
    body.as_object_mut().unwrap().remove("captcha_pow");
    let e = err(forgot(body).await);
    assert_eq!(e.field(), Some("captcha"), "{e}");
    // Solved: accepted once; replayed: refused.
    let body = email_request(&s, "pow@example.com").await;
    forgot(body.clone()).await.unwrap();
    let e = err(forgot(body).await);
    assert_eq!(
        (e.code(), e.field()),
        (ErrorCode::CaptchaExpired, Some("captcha"))
    );
    // The proof does not replace the characters: both are needed.
    let mut body = email_request(&s, "pow@example.com").await;
    body["captcha_answer"] = json!("WRONG");
    assert_eq!(err(forgot(body).await).code(), ErrorCode::CaptchaWrong);
    // Registration and sign-in after a failure take the same captcha.
    let mut reg = serde_json::to_value(s.register_request("new@pow.example", "secret123")).unwrap();
    let (id, answer, _) = paid_captcha(&s).await;
    reg["captcha_id"] = json!(id);
    reg["captcha_answer"] = json!(answer);
    let e = err(c
        .post::<Value, RegisterResponse>("/api/v1/register", &reg)
        .await);
    assert_eq!(e.field(), Some("captcha"), "{e}");
    let _ = err(s.login("pow@example.com", "wrong12345").await);
    let (id, answer, _) = paid_captcha(&s).await;
    let e = err(c
        .clone()
        .login(&LoginRequest {
            email: "pow@example.com".into(),
            password: "secret123".into(),
            captcha_id: Some(id),
            captcha_answer: Some(answer),
            ..Default::default()
        })
        .await);
    assert_eq!(e.field(), Some("captcha"), "{e}");
}
both!(captcha_needs_a_proof_of_work_once);

/// A device serial or an admin email another enterprise holds is refused in words that do not
/// say another enterprise has it; in the own enterprise the answer may say so.
async fn clashes_with_another_enterprise_do_not_confirm_it(db: Db) {
    let s = TestServer::start(db).await;
    let (_, a) = s.owner("owner@a.clash").await;
    let (_, b) = s.owner("owner@b.clash").await;
    let acc_a = a
        .add_account(&NewAccount {
            name: "A".into(),
            extension: "1001".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let acc_b = b
        .add_account(&NewAccount {
            name: "B".into(),
            extension: "1001".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    b.provision_device(acc_b.id, "SER-b-1").await.unwrap();
    a.provision_device(acc_a.id, "SER-a-1").await.unwrap();

    let leaks = |m: &str| {
        let m = m.to_lowercase();
        [
            "already",
            "another",
            "other enterprise",
            "belongs",
            "provisioned",
            "registered",
        ]
        .iter()
        .any(|w| m.contains(w))
    };
    let e = err(a.provision_device(acc_a.id, "SER-b-1").await);
    assert_eq!(e.field(), Some("serial"), "{e}");
    assert!(!leaks(&e.body().unwrap().message), "{e}");
    // The own enterprise's serial: said plainly.
    let e = err(a.provision_device(acc_a.id, "SER-a-1").await);
    assert_eq!(e.field(), Some("serial"), "{e}");
    assert!(e.to_string().contains("your enterprise"), "{e}");

    let invite = |email: &str| InviteRequest {
        first_name: "X".into(),
        last_name: "Y".into(),
        email: email.into(),
        role: Role::Admin,
        manage_admins: false,
    };
    let e = err(a.invite(&invite("OWNER@b.clash")).await);
    assert_eq!(e.field(), Some("email"), "{e}");
    assert!(!leaks(&e.body().unwrap().message), "{e}");
    let e = err(a.invite(&invite("owner@a.clash")).await);
    assert!(e.to_string().contains("your enterprise"), "{e}");
    // Changing one's own sign-in email to another enterprise's admin: the same words.
    let e = err(a
        .update_security(&SecurityUpdate {
            current_password: "secret123".into(),
            email: Some("owner@b.clash".into()),
            ..Default::default()
        })
        .await);
    assert_eq!(e.field(), Some("email"), "{e}");
    assert!(!leaks(&e.body().unwrap().message), "{e}");
}
both!(clashes_with_another_enterprise_do_not_confirm_it);
