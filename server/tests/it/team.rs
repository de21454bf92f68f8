//! Colleagues and roles, invitations, MFA, API keys, audit log.

use crate::both;
use crate::common::*;
use reqwest::Method;
use serde_json::{json, Value};
use vcms_server::api::*;
use vcms_server::client::Client;
use vcms_server::clock::{HOUR, MINUTE, SECOND};

/// Invite a colleague, accept the invitation from the email, sign in.
async fn colleague(
    s: &TestServer,
    owner: &Client,
    email: &str,
    role: &str,
    manage: bool,
) -> (i64, Client) {
    let c = owner
        .invite(&InviteRequest {
            first_name: "Col".into(),
            last_name: role.into(),
            email: email.into(),
            role: role.into(),
            manage_admins: manage,
        })
        .await
        .unwrap();
    assert_eq!(c.status, "invited");
    let mail = s
        .smtp
        .wait_for(email, s.smtp.mails_to(email).len().max(1))
        .await;
    assert!(mail.text.contains("48 hours"), "{}", mail.text);
    s.client()
        .accept_invitation(&AcceptInvitation {
            token: mail.token(),
            password: "colleague1".into(),
            confirm_password: "colleague1".into(),
        })
        .await
        .unwrap();
    (c.id, s.login(email, "colleague1").await.unwrap())
}

async fn status(c: &Client, method: Method, path: &str, body: Option<Value>) -> u16 {
    match c.send::<Value, Value>(method, path, body.as_ref()).await {
        Ok(_) => 200,
        Err(e) => e.status().map(|s| s.as_u16()).unwrap_or(0),
    }
}

/// Every authenticated route × every role × own and other enterprise: exactly the allowed
/// cells succeed; another enterprise's objects answer 404 (or 403 where the role may not
/// act at all), never their data.
async fn role_matrix(db: Db) {
    let smtp = Smtp::start();
    smtp.policy
        .lock()
        .unwrap()
        .reject
        .insert("bounce@a.example".into());
    let s = TestServer::start_with(db, smtp, |_| {}).await;
    let (_, owner) = s.owner("owner@a.example").await;
    owner
        .add_license(&s.issue_license(1000, 1).await)
        .await
        .unwrap();
    let (_, admin) = colleague(&s, &owner, "admin@a.example", "admin", false).await;
    let (_, manager) = colleague(&s, &owner, "manager@a.example", "admin", true).await;
    let (_, helpdesk) = colleague(&s, &owner, "helpdesk@a.example", "helpdesk", false).await;
    let (_, other) = s.owner("owner@b.example").await;
    let foreign = other
        .add_account(&NewAccount {
            name: "B".into(),
            extension: "1001".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let foreign_col = other
        .invite(&InviteRequest {
            first_name: "B".into(),
            last_name: "Col".into(),
            email: "col@b.example".into(),
            role: "helpdesk".into(),
            manage_admins: false,
        })
        .await
        .unwrap();
    let foreign_key = other
        .create_api_key(&NewApiKey {
            name: "b".into(),
            role: "admin".into(),
        })
        .await
        .unwrap();

    #[derive(Clone, Copy, PartialEq)]
    enum Who {
        Owner,
        Admin,
        Manager,
        Helpdesk,
    }
    use Who::*;
    const ALL: &[Who] = &[Owner, Admin, Manager, Helpdesk];
    const ADMINS: &[Who] = &[Owner, Admin, Manager];
    const MANAGERS: &[Who] = &[Owner, Manager];
    const OWNER: &[Who] = &[Owner];

    let mut n = 0;
    let mut ext = 2000;
    let mut covered = std::collections::BTreeSet::new();
    for (who, client) in [
        (Owner, &owner),
        (Admin, &admin),
        (Manager, &manager),
        (Helpdesk, &helpdesk),
    ] {
        // Fresh objects of our own enterprise for the routes that change or remove them.
        ext += 10;
        let acc = owner
            .add_account(&NewAccount {
                name: "Target".into(),
                extension: ext.to_string(),
                email: Some("bounce@a.example".into()),
                send_email: false,
            })
            .await
            .unwrap();
        owner
            .send_account_emails(&SendEmailRequest {
                ids: vec![acc.id],
                ..Default::default()
            })
            .await
            .unwrap();
        let mut failed = vec![];
        while failed.len() < 2 {
            failed = owner.failed_emails().await.unwrap().items;
            if failed.len() < 2 {
                owner
                    .send_account_emails(&SendEmailRequest {
                        ids: vec![acc.id],
                        ..Default::default()
                    })
                    .await
                    .unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
        let col = owner
            .invite(&InviteRequest {
                first_name: "T".into(),
                last_name: "C".into(),
                email: format!("t{ext}@a.example"),
                role: "helpdesk".into(),
                manage_admins: false,
            })
            .await
            .unwrap();
        let key = owner
            .create_api_key(&NewApiKey {
                name: format!("k{ext}"),
                role: "helpdesk".into(),
            })
            .await
            .unwrap();
        let lic = s.issue_license(5, 1).await;
        let (a, f1, f2, c, k) = (acc.id, failed[0].id, failed[1].id, col.id, key.id);
        type Case<'a> = (Method, String, Option<Value>, &'a [Who], Option<String>);
        let cases: Vec<Case> = vec![
            (Method::GET, "/api/v1/me".into(), None, ALL, None),
            (
                Method::PATCH,
                "/api/v1/me".into(),
                Some(json!({"name": "Same Name"})),
                ALL,
                None,
            ),
            (Method::GET, "/api/v1/me/security".into(), None, ALL, None),
            (
                Method::PATCH,
                "/api/v1/me/security".into(),
                Some(
                    json!({"current_password": if who == Owner { "secret123" } else { "colleague1" }}),
                ),
                ALL,
                None,
            ),
            (Method::GET, "/api/v1/enterprise".into(), None, ALL, None),
            (
                Method::PATCH,
                "/api/v1/enterprise/settings".into(),
                Some(json!({"mfa_required": false})),
                OWNER,
                None,
            ),
            (Method::GET, "/api/v1/licenses".into(), None, ADMINS, None),
            (
                Method::POST,
                "/api/v1/licenses".into(),
                Some(json!({"license_number": lic})),
                OWNER,
                None,
            ),
            (Method::GET, "/api/v1/accounts".into(), None, ALL, None),
            (
                Method::POST,
                "/api/v1/accounts".into(),
                Some(json!({"name": "New", "extension": (ext + 1).to_string()})),
                ADMINS,
                None,
            ),
            (
                Method::GET,
                format!("/api/v1/accounts/{a}"),
                None,
                ALL,
                Some(format!("/api/v1/accounts/{}", foreign.id)),
            ),
            (
                Method::GET,
                format!("/api/v1/accounts/by-extension/{ext}"),
                None,
                ALL,
                None,
            ),
            (
                Method::PATCH,
                format!("/api/v1/accounts/{a}"),
                Some(json!({"name": "Renamed"})),
                ADMINS,
                Some(format!("/api/v1/accounts/{}", foreign.id)),
            ),
            (
                Method::POST,
                format!("/api/v1/accounts/{a}/reset-password"),
                None,
                ALL,
                Some(format!("/api/v1/accounts/{}/reset-password", foreign.id)),
            ),
            (
                Method::POST,
                format!("/api/v1/accounts/{a}/reset-pincode"),
                None,
                ALL,
                Some(format!("/api/v1/accounts/{}/reset-pincode", foreign.id)),
            ),
            (
                Method::POST,
                "/api/v1/accounts/send-email".into(),
                Some(json!({"ids": [a]})),
                ALL,
                None,
            ),
            (
                Method::POST,
                "/api/v1/accounts/batch".into(),
                Some(
                    json!({"rows": [{"name": "Batch", "extension": (ext + 2).to_string()}], "dry_run": true}),
                ),
                ADMINS,
                None,
            ),
            (
                Method::GET,
                "/api/v1/emails/failed".into(),
                None,
                ADMINS,
                None,
            ),
            (
                Method::POST,
                "/api/v1/emails/failed/resend".into(),
                Some(json!({"ids": [f1]})),
                ADMINS,
                None,
            ),
            (
                Method::POST,
                "/api/v1/emails/failed/delete".into(),
                Some(json!({"ids": [f2]})),
                ADMINS,
                None,
            ),
            (
                Method::GET,
                "/api/v1/colleagues".into(),
                None,
                MANAGERS,
                None,
            ),
            (
                Method::POST,
                "/api/v1/colleagues".into(),
                Some(
                    json!({"first_name": "N", "last_name": "C", "email": format!("n{ext}@a.example"), "role": "helpdesk"}),
                ),
                MANAGERS,
                None,
            ),
            (
                Method::PATCH,
                format!("/api/v1/colleagues/{c}"),
                Some(json!({"role": "admin"})),
                MANAGERS,
                Some(format!("/api/v1/colleagues/{}", foreign_col.id)),
            ),
            (
                Method::POST,
                format!("/api/v1/colleagues/{c}/resend"),
                None,
                MANAGERS,
                Some(format!("/api/v1/colleagues/{}/resend", foreign_col.id)),
            ),
            (
                Method::POST,
                format!("/api/v1/colleagues/{c}/disable"),
                None,
                MANAGERS,
                Some(format!("/api/v1/colleagues/{}/disable", foreign_col.id)),
            ),
            (
                Method::POST,
                format!("/api/v1/colleagues/{c}/enable"),
                None,
                MANAGERS,
                Some(format!("/api/v1/colleagues/{}/enable", foreign_col.id)),
            ),
            (Method::GET, "/api/v1/apikeys".into(), None, OWNER, None),
            (
                Method::POST,
                "/api/v1/apikeys".into(),
                Some(json!({"name": format!("new{ext}"), "role": "helpdesk"})),
                OWNER,
                None,
            ),
            (
                Method::POST,
                format!("/api/v1/apikeys/{k}/revoke"),
                None,
                OWNER,
                Some(format!("/api/v1/apikeys/{}/revoke", foreign_key.id)),
            ),
            (Method::GET, "/api/v1/audit".into(), None, ADMINS, None),
            (
                Method::POST,
                format!("/api/v1/colleagues/{c}/remove"),
                None,
                MANAGERS,
                Some(format!("/api/v1/colleagues/{}/remove", foreign_col.id)),
            ),
            (
                Method::GET,
                format!("/api/v1/accounts/{a}/devices"),
                None,
                ALL,
                Some(format!("/api/v1/accounts/{}/devices", foreign.id)),
            ),
            (
                Method::POST,
                format!("/api/v1/accounts/{a}/devices"),
                Some(json!({"serial": format!("{ext}77")})),
                ADMINS,
                Some(format!("/api/v1/accounts/{}/devices", foreign.id)),
            ),
            (
                Method::DELETE,
                format!("/api/v1/accounts/{a}/devices/{ext}77"),
                None,
                ADMINS,
                Some(format!("/api/v1/accounts/{}/devices/{ext}77", foreign.id)),
            ),
            (
                Method::POST,
                "/api/v1/accounts/remove".into(),
                Some(json!({"ids": [a]})),
                ADMINS,
                None,
            ),
        ];
        for (m, path, body, allowed, foreign_path) in cases {
            let template: String = path
                .split('/')
                .map(|seg| {
                    if seg.chars().all(|c| c.is_ascii_digit()) && !seg.is_empty() {
                        "{}"
                    } else {
                        seg
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            covered.insert(format!("{} {template}", m.as_str().to_lowercase()));
            // Another enterprise's object first (before ours may be removed).
            if let Some(fp) = foreign_path {
                let st = status(client, m.clone(), &fp, body.clone()).await;
                let expect = if allowed.contains(&who) { 404 } else { 403 };
                assert_eq!(
                    st, expect,
                    "{m} {fp} as role #{}: another enterprise",
                    who as u8
                );
            }
            let st = status(client, m.clone(), &path, body).await;
            let ok = allowed.contains(&who);
            assert_eq!(st == 200, ok, "{m} {path} as role #{}: got {st}", who as u8);
            if !ok {
                assert_eq!(st, 403, "{m} {path}");
            }
            n += 1;
        }
    }
    assert!(n >= 4 * 30);
    // Every authenticated route of the OpenAPI document is in the matrix.
    let doc: Value = owner.get("/api/openapi.json").await.unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let secured = op.get("security").is_some();
            let exempt = [
                "/api/v1/logout",
                "/api/v1/password/change",
                "/api/v1/events",
            ]
            .contains(&path.as_str());
            if secured && !exempt {
                let template: String = path
                    .split('/')
                    .map(|seg| if seg.starts_with('{') { "{}" } else { seg })
                    .collect::<Vec<_>>()
                    .join("/");
                let template =
                    template.replace("by-extension/{}", &format!("by-extension/{}", "{}"));
                let key = format!("{method} {template}");
                assert!(
                    covered.contains(&key),
                    "route {key} is not in the role matrix"
                );
            }
        }
    }
    // The foreign enterprise's data is untouched.
    assert_eq!(other.account(foreign.id).await.unwrap().name, "B");
}
both!(role_matrix);

async fn invitations_expire_resend_disable_remove(db: Db) {
    let s = TestServer::start(db).await;
    let (_, owner) = s.owner("owner@inv.example").await;
    let c = owner
        .invite(&InviteRequest {
            first_name: "Hui".into(),
            last_name: "Desk".into(),
            email: "hd@inv.example".into(),
            role: "helpdesk".into(),
            manage_admins: false,
        })
        .await
        .unwrap();
    let first = s.smtp.wait_for("hd@inv.example", 1).await.token();
    // An invited colleague cannot sign in yet.
    assert_eq!(
        err(s.login("hd@inv.example", "colleague1").await).code(),
        "invalid_credentials"
    );
    s.advance(48 * HOUR + SECOND);
    let accept = |t: &str| AcceptInvitation {
        token: t.into(),
        password: "colleague1".into(),
        confirm_password: "colleague1".into(),
    };
    assert_eq!(
        err(s.client().accept_invitation(&accept(&first)).await).code(),
        "token_expired"
    );
    let owner = s.login("owner@inv.example", "secret123").await.unwrap();
    owner.resend_invitation(c.id).await.unwrap();
    let second = s.smtp.wait_for("hd@inv.example", 2).await.token();
    assert_eq!(
        err(s.client().accept_invitation(&accept(&first)).await).code(),
        "token_used"
    );
    s.client()
        .accept_invitation(&accept(&second))
        .await
        .unwrap();
    let hd = s
        .login_with_captcha("hd@inv.example", "colleague1")
        .await
        .unwrap();
    assert_eq!(hd.profile().await.unwrap().role, "helpdesk");

    // Resend to a colleague who set up: password scrambled, sessions end.
    owner.resend_invitation(c.id).await.unwrap();
    assert_eq!(err(hd.profile().await).code(), "session_ended");
    assert_eq!(
        err(s.login_with_captcha("hd@inv.example", "colleague1").await).code(),
        "invalid_credentials"
    );
    let third = s.smtp.wait_for("hd@inv.example", 3).await.token();
    s.client().accept_invitation(&accept(&third)).await.unwrap();
    let hd = s
        .login_with_captcha("hd@inv.example", "colleague1")
        .await
        .unwrap();

    // Disable: sessions end at once, sign-in refused; enable: back.
    owner.disable_colleague(c.id).await.unwrap();
    assert_eq!(err(hd.profile().await).code(), "session_ended");
    assert_eq!(
        err(s.login("hd@inv.example", "colleague1").await).code(),
        "disabled"
    );
    owner.enable_colleague(c.id).await.unwrap();
    let hd = s.login("hd@inv.example", "colleague1").await.unwrap();
    // Role change takes effect on the next request.
    owner
        .set_colleague_role(
            c.id,
            &RoleUpdate {
                role: "admin".into(),
                manage_admins: false,
            },
        )
        .await
        .unwrap();
    hd.failed_emails().await.unwrap();
    // The owner cannot be changed; a bad role names the field.
    let me = owner
        .colleagues()
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|x| x.role == "owner")
        .unwrap();
    assert_eq!(
        err(owner.disable_colleague(me.id).await)
            .status()
            .unwrap()
            .as_u16(),
        403
    );
    assert_eq!(
        err(owner
            .set_colleague_role(
                c.id,
                &RoleUpdate {
                    role: "owner".into(),
                    manage_admins: false
                }
            )
            .await)
        .field(),
        Some("role")
    );
    let e = err(owner
        .invite(&InviteRequest {
            first_name: "X".into(),
            last_name: "Y".into(),
            email: "owner@inv.example".into(),
            role: "admin".into(),
            manage_admins: false,
        })
        .await);
    assert_eq!(
        (e.status().unwrap().as_u16(), e.field()),
        (409, Some("email"))
    );
    // Remove.
    owner.remove_colleague(c.id).await.unwrap();
    assert_eq!(err(hd.profile().await).status().unwrap().as_u16(), 401);
    assert_eq!(owner.colleagues().await.unwrap().items.len(), 1);
}
both!(invitations_expire_resend_disable_remove);

async fn mfa_by_email(db: Db) {
    let s = TestServer::start(db).await;
    let (_, owner) = s.owner("mfa@example.com").await;
    // Turning MFA on asks for the password again.
    let e = err(owner
        .update_security(&SecurityUpdate {
            current_password: "nope12345".into(),
            mfa_enabled: Some(true),
            ..Default::default()
        })
        .await);
    assert_eq!(e.field(), Some("current_password"));
    owner
        .update_security(&SecurityUpdate {
            current_password: "secret123".into(),
            mfa_enabled: Some(true),
            backup_email: Some("backup@example.com".into()),
            ..Default::default()
        })
        .await
        .unwrap();

    let challenge = |s: &TestServer| {
        let c = s.client();
        async move {
            let mut c = c;
            let e = c
                .login(&LoginRequest {
                    email: "mfa@example.com".into(),
                    password: "secret123".into(),
                    ..Default::default()
                })
                .await
                .unwrap_err();
            assert_eq!(e.code(), "mfa_required");
            e.body().unwrap().mfa_token.clone().unwrap()
        }
    };
    let code_of = |m: Mail| {
        m.text
            .split_whitespace()
            .find(|w| w.len() >= 6 && w.chars().take(6).all(|c| c.is_ascii_digit()))
            .unwrap()[..6]
            .to_string()
    };

    // The happy path: code from the mailbox, single use.
    let token = challenge(&s).await;
    let code = code_of(s.smtp.wait_for("mfa@example.com", 2).await);
    let mut c = s.client();
    c.verify_mfa(&MfaVerify {
        mfa_token: token.clone(),
        code: code.clone(),
    })
    .await
    .unwrap();
    c.profile().await.unwrap();
    assert_eq!(
        err(s
            .client()
            .verify_mfa(&MfaVerify {
                mfa_token: token,
                code
            })
            .await)
        .code(),
        "mfa_used"
    );

    // Expired at 5 minutes + 1 s.
    let token = challenge(&s).await;
    let code = code_of(s.smtp.wait_for("mfa@example.com", 3).await);
    s.advance(5 * MINUTE + SECOND);
    assert_eq!(
        err(s
            .client()
            .verify_mfa(&MfaVerify {
                mfa_token: token.clone(),
                code
            })
            .await)
        .code(),
        "mfa_expired"
    );
    // A new code for the same attempt (throttled to one per 30 s).
    s.client()
        .resend_mfa(&MfaResend {
            mfa_token: token.clone(),
        })
        .await
        .unwrap();
    assert_eq!(
        err(s
            .client()
            .resend_mfa(&MfaResend {
                mfa_token: token.clone()
            })
            .await)
        .code(),
        "throttled"
    );
    let code = code_of(s.smtp.wait_for("mfa@example.com", 4).await);
    s.client()
        .verify_mfa(&MfaVerify {
            mfa_token: token,
            code,
        })
        .await
        .unwrap();

    // 5 wrong codes and even the right one is refused.
    let token = challenge(&s).await;
    let code = code_of(s.smtp.wait_for("mfa@example.com", 5).await);
    for i in 0..5 {
        let e = err(s
            .client()
            .verify_mfa(&MfaVerify {
                mfa_token: token.clone(),
                code: format!("{:06}", (code.parse::<u32>().unwrap() + 1 + i) % 1_000_000),
            })
            .await);
        assert!(e.code() == "mfa_wrong" || e.code() == "mfa_locked", "{e}");
    }
    assert_eq!(
        err(s
            .client()
            .verify_mfa(&MfaVerify {
                mfa_token: token,
                code
            })
            .await)
        .code(),
        "mfa_locked"
    );

    // A password reset goes to both emails and does not switch MFA off.
    s.client()
        .forgot_password(&s.email_request("mfa@example.com").await)
        .await
        .unwrap();
    let token = s.smtp.wait_for("backup@example.com", 1).await.token();
    s.client()
        .reset_password(&ResetPasswordRequest {
            token,
            new_password: "after12345".into(),
            confirm_password: "after12345".into(),
        })
        .await
        .unwrap();
    let mut c = s.client();
    let e = c
        .login(&LoginRequest {
            email: "mfa@example.com".into(),
            password: "after12345".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), "mfa_required");

    // The owner can require MFA of everyone.
    let (_, owner2) = s.owner("req@example.com").await;
    let (_, _admin) = colleague(&s, &owner2, "adm@example.com", "admin", false).await;
    owner2
        .set_enterprise_settings(&EnterpriseSettings { mfa_required: true })
        .await
        .unwrap();
    assert_eq!(
        err(s.login("adm@example.com", "colleague1").await).code(),
        "mfa_required"
    );
}
both!(mfa_by_email);

async fn api_keys_and_audit(db: Db) {
    let s = TestServer::start(db).await;
    let (_, owner) = s.owner("keys@example.com").await;
    let acc = owner
        .add_account(&NewAccount {
            name: "Anna".into(),
            extension: "1001".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let created = owner
        .create_api_key(&NewApiKey {
            name: "helpdesk script".into(),
            role: "helpdesk".into(),
        })
        .await
        .unwrap();
    assert!(created.key.starts_with("vcms_"));
    let list = owner.api_keys().await.unwrap();
    assert_eq!(list.items.len(), 1);
    assert!(
        created.key.starts_with(&list.items[0].prefix)
            && list.items[0].prefix.len() < created.key.len()
    );
    // Stored hashed: the key itself is not in the database.
    let mut conn = s.running.app.store.conn().await.unwrap();
    let hashes: Vec<String> = sqlx::query_scalar("SELECT key_hash FROM api_keys")
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    assert!(!hashes.contains(&created.key));
    drop(conn);

    let script = s.client().with_token(created.key.clone());
    assert_eq!(
        script
            .accounts(&AccountQuery::default())
            .await
            .unwrap()
            .total,
        1
    );
    let fresh = script.reset_account_pincode(acc.id).await.unwrap();
    assert_ne!(fresh.pincode, acc.pincode);
    // A help-desk key may not remove accounts, nor create keys.
    assert_eq!(
        err(script.remove_accounts(&[acc.id]).await)
            .status()
            .unwrap()
            .as_u16(),
        403
    );
    assert_eq!(
        err(script
            .create_api_key(&NewApiKey {
                name: "x".into(),
                role: "owner".into()
            })
            .await)
        .status()
        .unwrap()
        .as_u16(),
        403
    );
    owner.revoke_api_key(created.id).await.unwrap();
    assert_eq!(
        err(script.accounts(&AccountQuery::default()).await).code(),
        "key_revoked"
    );

    // The audit log: who, what, when, from where.
    let _ = s.login("keys@example.com", "wrong-password1").await;
    let owner = s
        .login_with_captcha("keys@example.com", "secret123")
        .await
        .unwrap();
    owner.account(acc.id).await.unwrap();
    let page = owner.audit(&AuditQuery::default()).await.unwrap();
    let actions: Vec<&str> = page.items.iter().map(|e| e.action.as_str()).collect();
    for a in [
        "signin.ok",
        "signin.failed",
        "account.add",
        "apikey.create",
        "apikey.revoke",
        "account.reset_pincode",
        "account.reveal_password",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    let reset = page
        .items
        .iter()
        .find(|e| e.action == "account.reset_pincode")
        .unwrap();
    assert_eq!(reset.who, "api key helpdesk script");
    assert_eq!(reset.from, "127.0.0.1");
    assert!(!reset.at.is_empty());
    let found = owner
        .audit(&AuditQuery {
            search: Some("REVEAL".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        found.total >= 1
            && found
                .items
                .iter()
                .all(|e| e.action == "account.reveal_password")
    );
    assert!(found.items[0].target.contains("Anna"));
}
both!(api_keys_and_audit);
