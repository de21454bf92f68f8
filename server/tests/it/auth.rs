//! Registration, activation, sign-in, freezing, sessions, passwords, profile, captcha.

use crate::both;
use crate::common::*;
use vcms_api::*;
use vcms_server::clock::{DAY, HOUR, MINUTE, SECOND};

async fn registration_activation_and_trial(db: Db) {
    let s = TestServer::start(db).await;
    let r = s.register("Owner@Example.com", "secret123").await.unwrap();
    assert_eq!(r.enterprise_number.len(), 5);
    assert!(r.enterprise_number.chars().all(|c| c.is_ascii_digit()));

    // Not activated yet: sign-in refused with a message saying so.
    let e = err(s.login("owner@example.com", "secret123").await);
    assert_eq!(e.code(), ErrorCode::NotActivated, "{e}");
    assert!(e.to_string().contains("not activated"));

    let mail = s.smtp.wait_for("Owner@Example.com", 1).await;
    assert!(
        mail.subject.contains(&r.enterprise_number),
        "{}",
        mail.subject
    );
    assert!(mail.text.contains("12 hours"));
    let token = mail.token();
    s.client().activate(&token).await.unwrap();
    // The same link again: already active.
    assert_eq!(
        err(s.client().activate(&token).await).code(),
        ErrorCode::AlreadyActive
    );

    // Email is case-insensitive for sign-in.
    let c = s.login("OWNER@example.COM", "secret123").await.unwrap();
    let ent = c.enterprise().await.unwrap();
    assert_eq!(ent.number, r.enterprise_number);
    assert_eq!(ent.status, EnterpriseStatus::Active);
    assert_eq!(ent.trial_days_left, 30);
    assert_eq!(
        ent.quota,
        Quota {
            used: 0,
            quota: 20,
            can_add: 20,
            in_force: true,
            basis: QuotaBasis::Trial
        }
    );
    let p = c.profile().await.unwrap();
    assert_eq!(p.username, "Owner@Example.com");
    assert_eq!(p.enterprise_number, r.enterprise_number);
    assert_eq!(
        (p.name.as_str(), p.company.as_str(), p.country.as_str()),
        ("Anna Owner", "Yealink", "China")
    );

    // Registering the same email again (any case) answers like a new registration (no
    // enumeration); the owner's mailbox hears about the attempt instead.
    let again = s.register("owner@EXAMPLE.com", "secret123").await.unwrap();
    assert_eq!(again.message, r.message);
    assert_ne!(again.enterprise_number, r.enterprise_number);
    let notice = s.smtp.wait_for("Owner@Example.com", 2).await;
    assert!(notice.text.contains("tried to register"), "{}", notice.text);

    // 30 days later the trial has ended: sign-in still works, nothing is in force.
    s.advance(30 * DAY + SECOND);
    let c = s.login("owner@example.com", "secret123").await.unwrap();
    let q = c.enterprise().await.unwrap().quota;
    assert_eq!(
        (q.in_force, q.quota, q.basis),
        (false, 0, QuotaBasis::Expired)
    );
}
both!(registration_activation_and_trial);

async fn activation_link_expires_after_12_hours_and_can_be_resent(db: Db) {
    let s = TestServer::start(db).await;
    s.register("late@example.com", "secret123").await.unwrap();
    let first = s.smtp.wait_for("late@example.com", 1).await.token();
    s.advance(12 * HOUR + SECOND);
    let e = err(s.client().activate(&first).await);
    assert_eq!(
        (e.code(), e.field()),
        (ErrorCode::TokenExpired, Some("token"))
    );
    assert!(e.to_string().contains("12 hours"));

    // Resend: same answer for known and unknown emails; only the known one gets mail.
    let known = s
        .client()
        .resend_activation(&s.email_request("LATE@example.com").await)
        .await
        .unwrap();
    let unknown = s
        .client()
        .resend_activation(&s.email_request("nobody@example.com").await)
        .await
        .unwrap();
    assert_eq!(known.message, unknown.message);
    let second = s.smtp.wait_for("late@example.com", 2).await.token();
    assert_ne!(first, second);
    // A resend replaces an older, still valid token.
    s.client().activate(&second).await.unwrap();
    s.login("late@example.com", "secret123").await.unwrap();
    assert!(s.smtp.mails_to("nobody@example.com").is_empty());
    assert_eq!(
        err(s.client().activate("not-a-token").await).code(),
        ErrorCode::TokenInvalid
    );
}
both!(activation_link_expires_after_12_hours_and_can_be_resent);

/// Three wrong passwords freeze sign-in for 5 minutes; the answer says how long is left;
/// an unknown email goes through exactly the same answers.
async fn three_wrong_passwords_freeze_for_five_minutes(db: Db) {
    let s = TestServer::start(db).await;
    s.register_and_activate("frozen@example.com", "secret123")
        .await;
    s.register_and_activate("other@example.com", "secret123")
        .await;

    let mut seen = vec![];
    for email in ["frozen@example.com", "ghost@example.com"] {
        let mut answers = vec![];
        // 1st try: no captcha needed yet.
        let e = err(s.login(email, "wrong-pass1").await);
        answers.push((
            e.status().unwrap().as_u16(),
            e.code().to_string(),
            e.body().unwrap().captcha_required,
        ));
        // Without a captcha the next try is refused and not counted.
        let e = err(s.login(email, "wrong-pass1").await);
        assert_eq!(
            (e.code(), e.field()),
            (ErrorCode::CaptchaRequired, Some("captcha"))
        );
        for _ in 0..2 {
            let e = err(s.login_with_captcha(email, "wrong-pass1").await);
            answers.push((
                e.status().unwrap().as_u16(),
                e.code().to_string(),
                e.body().unwrap().captcha_required,
            ));
        }
        let last = err(s.login_with_captcha(email, "secret123").await);
        assert_eq!(last.code(), ErrorCode::Frozen, "{email}: {last}");
        let secs = last.body().unwrap().retry_after_secs.unwrap();
        assert!((295..=300).contains(&secs), "{secs}");
        assert!(last.to_string().contains("5 minutes"), "{last}");
        answers.push((
            last.status().unwrap().as_u16(),
            last.code().to_string(),
            None,
        ));
        seen.push(answers);
    }
    assert_eq!(
        seen[0], seen[1],
        "an unknown email must answer like a known one"
    );
    assert_eq!(seen[0][0].0, 401);
    assert_eq!(seen[0][2].1, "frozen");
    assert_eq!(seen[0][2].0, 423);

    // Other admins are not affected.
    s.login("other@example.com", "secret123").await.unwrap();

    // Still frozen at 4:59, with about a minute left; the right password is refused.
    s.advance(4 * MINUTE);
    let e = err(s
        .login_with_captcha("frozen@example.com", "secret123")
        .await);
    assert_eq!(e.code(), ErrorCode::Frozen);
    assert!(e.to_string().contains("1 minute"), "{e}");
    s.advance(59 * SECOND);
    assert_eq!(
        err(s
            .login_with_captcha("frozen@example.com", "secret123")
            .await)
        .code(),
        ErrorCode::Frozen
    );
    s.advance(2 * SECOND);
    s.login_with_captcha("frozen@example.com", "secret123")
        .await
        .unwrap();
    // A success clears the failures: no captcha needed any more.
    s.login("frozen@example.com", "secret123").await.unwrap();
}
both!(three_wrong_passwords_freeze_for_five_minutes);

/// Repeated freezes grow longer and stop for good before 100 consecutive failures; a
/// password reset by email is the owner's way back in.
async fn freezes_escalate_and_never_pass_100_failures(db: Db) {
    let s = TestServer::start(db).await;
    s.register_and_activate("target@example.com", "secret123")
        .await;
    let mut failures = 0;
    let mut freezes = vec![];
    loop {
        let e = err(s
            .login_with_captcha("target@example.com", "nope12345")
            .await);
        match e.code() {
            ErrorCode::InvalidCredentials => failures += 1,
            ErrorCode::Frozen => {
                failures += 1;
                let secs = e.body().unwrap().retry_after_secs.unwrap();
                freezes.push(secs);
                s.advance(secs * SECOND + SECOND);
            }
            ErrorCode::Locked => {
                failures += 1;
                break;
            }
            other => panic!("unexpected {other}: {e}"),
        }
        assert!(failures < 100, "100 consecutive failures were allowed");
    }
    assert_eq!(failures, 99);
    assert_eq!(&freezes[..3], &[300, 600, 1200]);
    assert!(freezes.iter().all(|f| *f <= 24 * 3600));
    // Locked: even the right password and days of waiting do not help...
    s.advance(30 * DAY);
    assert_eq!(
        err(s
            .login_with_captcha("target@example.com", "secret123")
            .await)
        .code(),
        ErrorCode::Locked
    );
    // ...but a password reset by email does.
    s.client()
        .forgot_password(&s.email_request("target@example.com").await)
        .await
        .unwrap();
    let token = s.smtp.wait_for("target@example.com", 2).await.token();
    s.client()
        .reset_password(&ResetPasswordRequest {
            token,
            new_password: "fresh12345".into(),
            confirm_password: "fresh12345".into(),
        })
        .await
        .unwrap();
    s.login("target@example.com", "fresh12345").await.unwrap();
}
both!(freezes_escalate_and_never_pass_100_failures);

async fn sessions_idle_logout_and_replacement(db: Db) {
    let s = TestServer::start(db).await;
    s.register_and_activate("sess@example.com", "secret123")
        .await;
    let c = s.login("sess@example.com", "secret123").await.unwrap();
    assert!(
        c.token().unwrap().len() >= 43,
        "token must carry at least 128 bits"
    );

    // Activity keeps the session alive: 29 minutes, a request, 29 minutes more.
    s.advance(29 * MINUTE);
    c.profile().await.unwrap();
    s.advance(29 * MINUTE);
    c.profile().await.unwrap();
    // 30 idle minutes end it.
    s.advance(30 * MINUTE + SECOND);
    let e = err(c.profile().await);
    assert_eq!(
        (e.status().unwrap().as_u16(), e.code()),
        (401, ErrorCode::SessionEnded)
    );
    assert!(e.to_string().contains("30 minutes"), "{e}");

    // A new sign-in of the same admin ends the older session.
    let a = s.login("sess@example.com", "secret123").await.unwrap();
    let b = s.login("sess@example.com", "secret123").await.unwrap();
    let e = err(a.profile().await);
    assert_eq!(e.code(), ErrorCode::SessionEnded);
    assert!(e.to_string().contains("signed in again"), "{e}");
    b.profile().await.unwrap();

    // Logout ends it on the server.
    b.logout().await.unwrap();
    assert_eq!(err(b.profile().await).code(), ErrorCode::SessionEnded);
    // A made-up token is refused.
    assert_eq!(
        err(s.client().with_token("made-up").profile().await).code(),
        ErrorCode::Unauthenticated
    );
    assert_eq!(
        err(s.client().profile().await).status().unwrap().as_u16(),
        401
    );
    // Tokens are stored hashed: the database never holds the bearer token itself.
    let mut conn = s.running.app.store.conn().await.unwrap();
    let stored: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM sessions")
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    assert!(!stored.iter().any(|h| h == b.token().unwrap()));
}
both!(sessions_idle_logout_and_replacement);

async fn forgot_and_reset_password(db: Db) {
    let s = TestServer::start(db).await;
    s.register_and_activate("reset@example.com", "secret123")
        .await;
    let old_session = s.login("reset@example.com", "secret123").await.unwrap();

    let ask = |email: &'static str| {
        let s = &s;
        async move {
            s.client()
                .forgot_password(&s.email_request(email).await)
                .await
        }
    };
    let known = ask("reset@example.com").await.unwrap();
    let unknown = ask("nobody@example.com").await.unwrap();
    assert_eq!(known.message, unknown.message);
    assert!(known.message.contains("If your email address is correct"));
    // A captcha is required.
    let e = err(s
        .client()
        .forgot_password(&EmailRequest {
            email: "reset@example.com".into(),
            ..Default::default()
        })
        .await);
    assert_eq!(e.field(), Some("captcha"));

    let mail = s.smtp.wait_for("reset@example.com", 2).await;
    assert!(mail.text.contains("10 minutes"));
    let token = mail.token();

    // Expired after 10 minutes.
    s.advance(10 * MINUTE + SECOND);
    let req = |t: &str| ResetPasswordRequest {
        token: t.into(),
        new_password: "newpass123".into(),
        confirm_password: "newpass123".into(),
    };
    assert_eq!(
        err(s.client().reset_password(&req(&token)).await).code(),
        ErrorCode::TokenExpired
    );

    ask("reset@example.com").await.unwrap();
    let token = s.smtp.wait_for("reset@example.com", 3).await.token();
    // Confirmation must match; a weak password names the field.
    let e = err(s
        .client()
        .reset_password(&ResetPasswordRequest {
            token: token.clone(),
            new_password: "newpass123".into(),
            confirm_password: "newpass124".into(),
        })
        .await);
    assert_eq!(e.field(), Some("confirm_password"));
    let e = err(s
        .client()
        .reset_password(&ResetPasswordRequest {
            token: token.clone(),
            new_password: "short1".into(),
            confirm_password: "short1".into(),
        })
        .await);
    assert_eq!(e.field(), Some("new_password"));
    s.client().reset_password(&req(&token)).await.unwrap();
    // Single use.
    assert_eq!(
        err(s.client().reset_password(&req(&token)).await).code(),
        ErrorCode::TokenUsed
    );
    // All sessions ended; the old password no longer works; the new one does.
    assert_eq!(
        err(old_session.profile().await).code(),
        ErrorCode::SessionEnded
    );
    assert_eq!(
        err(s.login("reset@example.com", "secret123").await).code(),
        ErrorCode::InvalidCredentials
    );
    s.login_with_captcha("reset@example.com", "newpass123")
        .await
        .unwrap();
}
both!(forgot_and_reset_password);

async fn change_password_and_profile(db: Db) {
    let s = TestServer::start(db).await;
    s.register_and_activate("me@example.com", "secret123").await;
    let other = s.login("me@example.com", "secret123").await.unwrap();
    let _ = other;
    let c = s.login("me@example.com", "secret123").await.unwrap();

    let e = err(c
        .change_password(&ChangePasswordRequest {
            old_password: "wrong1234".into(),
            new_password: "next12345".into(),
            confirm_password: "next12345".into(),
        })
        .await);
    assert_eq!(e.field(), Some("old_password"));
    let e = err(c
        .change_password(&ChangePasswordRequest {
            old_password: "secret123".into(),
            new_password: "next12345".into(),
            confirm_password: "next12346".into(),
        })
        .await);
    assert_eq!(e.field(), Some("confirm_password"));
    let e = err(c
        .change_password(&ChangePasswordRequest {
            old_password: "secret123".into(),
            new_password: "onlyletters".into(),
            confirm_password: "onlyletters".into(),
        })
        .await);
    assert_eq!(e.field(), Some("new_password"));
    assert!(e.to_string().contains("letters and digits"));
    c.change_password(&ChangePasswordRequest {
        old_password: "secret123".into(),
        new_password: "next12345".into(),
        confirm_password: "next12345".into(),
    })
    .await
    .unwrap();
    // This session goes on.
    c.profile().await.unwrap();
    s.login("me@example.com", "next12345").await.unwrap();

    let c = s.login("me@example.com", "next12345").await.unwrap();
    let p = c
        .update_profile(&ProfileUpdate {
            name: Some("陈媛媛".into()),
            company: Some("New Co".into()),
            country: Some("Singapore".into()),
            language: Some("zh-CN".into()),
        })
        .await
        .unwrap();
    assert_eq!(
        (
            p.name.as_str(),
            p.company.as_str(),
            p.country.as_str(),
            p.language.as_str()
        ),
        ("陈媛媛", "New Co", "Singapore", "zh-CN")
    );
    assert_eq!(c.profile().await.unwrap(), p);
    // Username and enterprise number are read-only: unknown fields are ignored, not applied.
    let again: Profile = c
        .patch(
            "/api/v1/me",
            &serde_json::json!({ "username": "x@y.com", "enterprise_number": "11111" }),
        )
        .await
        .unwrap();
    assert_eq!(again, p);
}
both!(change_password_and_profile);

async fn captcha_is_single_use_and_expires(db: Db) {
    let s = TestServer::start(db).await;
    let (id, answer, pow) = s.captcha().await;
    let mut req = s.register_request("cap@example.com", "secret123");
    req.captcha_id = id.clone();
    req.captcha_pow = pow;
    req.captcha_answer = "WRONG".into();
    let e = err(s.client().register(&req).await);
    assert_eq!(
        (e.code(), e.field()),
        (ErrorCode::CaptchaWrong, Some("captcha"))
    );
    // The challenge is spent even after a wrong answer.
    req.captcha_answer = answer;
    assert_eq!(
        err(s.client().register(&req).await).code(),
        ErrorCode::CaptchaExpired
    );
    // Expired after 5 minutes; answers are case-insensitive.
    let (id, answer, pow) = s.captcha().await;
    s.advance(5 * MINUTE + SECOND);
    req.captcha_id = id;
    req.captcha_pow = pow;
    req.captcha_answer = answer.to_lowercase();
    assert_eq!(
        err(s.client().register(&req).await).code(),
        ErrorCode::CaptchaExpired
    );
    let (id, answer, pow) = s.captcha().await;
    req.captcha_id = id;
    req.captcha_pow = pow;
    req.captcha_answer = answer.to_lowercase();
    s.client().register(&req).await.unwrap();
    // The art is text a terminal can show: five or six lines of '#' and spaces.
    let c = s.client().captcha().await.unwrap();
    assert!(
        c.art.lines().count() >= 5 && c.art.chars().all(|ch| ch == '#' || ch == ' ' || ch == '\n')
    );
}
both!(captcha_is_single_use_and_expires);

/// A wrong old password on "change password" counts toward the same freeze as a wrong
/// sign-in (3 → 5 minutes, then sign-in is frozen too) and is audited; so is a change.
async fn wrong_old_password_on_change_counts_toward_the_sign_in_freeze(db: Db) {
    let s = TestServer::start(db).await;
    s.register_and_activate("guess@example.com", "secret123")
        .await;
    let c = s.login("guess@example.com", "secret123").await.unwrap();
    let change = |old: &str| ChangePasswordRequest {
        old_password: old.into(),
        new_password: "next12345".into(),
        confirm_password: "next12345".into(),
    };
    for left in [2, 1] {
        let e = err(c.change_password(&change("guess-123")).await);
        assert_eq!(
            (e.status().unwrap().as_u16(), e.field()),
            (422, Some("old_password")),
            "{e}"
        );
        assert!(e.to_string().contains(&format!("{left} more wrong")), "{e}");
    }
    let e = err(c.change_password(&change("guess-123")).await);
    assert_eq!(
        (e.status().unwrap().as_u16(), e.code()),
        (423, ErrorCode::Frozen),
        "{e}"
    );
    let secs = e.body().unwrap().retry_after_secs.unwrap();
    assert!((295..=300).contains(&secs), "{secs}");
    assert!(e.to_string().contains("5 minutes"), "{e}");
    // Frozen: the right old password and the right sign-in are refused alike.
    assert_eq!(
        err(c.change_password(&change("secret123")).await).code(),
        ErrorCode::Frozen
    );
    assert_eq!(
        err(s.login("guess@example.com", "secret123").await).code(),
        ErrorCode::Frozen
    );
    // Audited: three failed changes, by whom and from where.
    let page = c.audit(&AuditQuery::default()).await.unwrap();
    let failed: Vec<_> = page
        .items
        .iter()
        .filter(|e| e.action == "password.change_failed")
        .collect();
    assert_eq!(failed.len(), 3, "{:?}", page.items);
    assert_eq!(failed[0].who, "guess@example.com");
    assert_eq!(failed[0].from, "127.0.0.1");
    // After 5 minutes the change goes through, and is audited.
    s.advance(5 * MINUTE + SECOND);
    c.change_password(&change("secret123")).await.unwrap();
    let page = c.audit(&AuditQuery::default()).await.unwrap();
    assert!(
        page.items.iter().any(|e| e.action == "password.change"),
        "{:?}",
        page.items
    );
    s.login("guess@example.com", "next12345").await.unwrap();
}
both!(wrong_old_password_on_change_counts_toward_the_sign_in_freeze);
