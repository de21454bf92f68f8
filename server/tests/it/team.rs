//! Colleagues and roles, invitations, MFA, API keys, audit log.

use crate::both;
use crate::common::*;
use reqwest::Method;
use serde_json::{json, Value};
use vcms_api::client::Client;
use vcms_api::*;
use vcms_server::clock::{HOUR, MINUTE, SECOND};

/// Invite a colleague, accept the invitation from the email, sign in.
async fn colleague(
    s: &TestServer,
    owner: &Client,
    email: &str,
    role: Role,
    manage: bool,
) -> (i64, Client) {
    let c = owner
        .invite(&InviteRequest {
            first_name: "Col".into(),
            last_name: role.as_str().into(),
            email: email.into(),
            role,
            manage_admins: manage,
        })
        .await
        .unwrap();
    assert_eq!(c.status, AdminStatus::Invited);
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

/// Who sends a request of the role matrix: a person of each role, or an API key of it.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Who {
    Owner,
    Admin,
    Manager,
    Helpdesk,
    KeyOwner,
    KeyAdmin,
    KeyManager,
    KeyHelpdesk,
}
use Who::*;
const ALL: &[Who] = &[
    Owner,
    Admin,
    Manager,
    Helpdesk,
    KeyOwner,
    KeyAdmin,
    KeyManager,
    KeyHelpdesk,
];
const PEOPLE: &[Who] = &[Owner, Admin, Manager, Helpdesk];
const ADMINS: &[Who] = &[Owner, Admin, Manager, KeyOwner, KeyAdmin, KeyManager];
const MANAGERS: &[Who] = &[Owner, Manager, KeyOwner, KeyManager];
const OWNER: &[Who] = &[Owner, KeyOwner];
const OWNER_PERSON: &[Who] = &[Owner];

fn is_key(w: Who) -> bool {
    matches!(w, KeyOwner | KeyAdmin | KeyManager | KeyHelpdesk)
}

/// The objects one actor's pass of the matrix works on (fresh for each actor), and the
/// actor: what the paths and bodies of the table are filled with.
struct Cell {
    who: Who,
    /// An account, a colleague, an API key (ours, or another enterprise's).
    a: i64,
    c: i64,
    k: i64,
    ext: i64,
    /// Two failed emails of the account.
    f1: i64,
    f2: i64,
    /// A fresh licence number.
    lic: String,
}

/// One row of the role matrix: the route (`{a}`, `{c}`, `{k}`, `{ext}` filled from the
/// [`Cell`]), the body, who may use it — 200 for them, 403 for everyone else, with
/// `not_for_api_keys` to a key on a personal route — and whether the same route with
/// another enterprise's object is tried first (404 for who may, 403 for the rest).
struct Route {
    method: Method,
    path: &'static str,
    body: Option<fn(&Cell) -> Value>,
    allowed: &'static [Who],
    foreign: bool,
    /// Tried by API keys only (a person's own are tested in auth.rs: they end or change
    /// the session the matrix goes on with).
    keys_only: bool,
}

fn route(method: Method, path: &'static str, allowed: &'static [Who]) -> Route {
    Route {
        method,
        path,
        body: None,
        allowed,
        foreign: false,
        keys_only: false,
    }
}

impl Route {
    fn body(self, body: fn(&Cell) -> Value) -> Self {
        Self {
            body: Some(body),
            ..self
        }
    }
    fn foreign(self) -> Self {
        Self {
            foreign: true,
            ..self
        }
    }
    fn keys_only(self) -> Self {
        Self {
            keys_only: true,
            ..self
        }
    }
    fn path(&self, x: &Cell) -> String {
        self.path
            .replace("{a}", &x.a.to_string())
            .replace("{c}", &x.c.to_string())
            .replace("{k}", &x.k.to_string())
            .replace("{ext}", &x.ext.to_string())
    }
    /// "get /api/v1/accounts/{}": how the OpenAPI document's route is compared.
    fn template(&self) -> String {
        let path: Vec<&str> = self
            .path
            .split('/')
            .map(|seg| if seg.contains('{') { "{}" } else { seg })
            .collect();
        format!("{} {}", self.method.as_str().to_lowercase(), path.join("/"))
    }
}

/// Every authenticated route, in the order it is tried (removals last).
fn role_routes() -> Vec<Route> {
    use Method as M;
    let me_password = |x: &Cell| match x.who {
        Admin | Manager | Helpdesk => json!({"current_password": "colleague1"}),
        _ => json!({"current_password": "secret123"}),
    };
    vec![
        route(M::GET, "/api/v1/me", ALL),
        route(M::PATCH, "/api/v1/me", PEOPLE).body(|_| json!({"name": "Same Name"})),
        route(M::GET, "/api/v1/me/security", PEOPLE),
        route(M::PATCH, "/api/v1/me/security", PEOPLE).body(me_password),
        route(M::GET, "/api/v1/me/ssh-keys", PEOPLE),
        route(M::POST, "/api/v1/me/ssh-keys", PEOPLE).body(|_| {
            json!({"public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICNw53qcGqfC4hEuCjLbQy0HFT4oT0txkmu/kKUV6kE2 matrix@test"})
        }),
        route(M::DELETE, "/api/v1/me/ssh-keys/{k}", PEOPLE).keys_only(),
        route(M::GET, "/api/v1/enterprise", ALL),
        route(M::PATCH, "/api/v1/enterprise/settings", OWNER)
            .body(|_| json!({"mfa_required": false})),
        route(M::GET, "/api/v1/licenses", ADMINS),
        route(M::POST, "/api/v1/licenses", OWNER).body(|x| json!({"license_number": x.lic})),
        route(M::GET, "/api/v1/accounts", ALL),
        route(M::POST, "/api/v1/accounts", ADMINS)
            .body(|x| json!({"name": "New", "extension": (x.ext + 1).to_string()})),
        route(M::GET, "/api/v1/accounts/{a}", ALL).foreign(),
        route(M::GET, "/api/v1/accounts/by-extension/{ext}", ALL),
        route(M::PATCH, "/api/v1/accounts/{a}", ADMINS)
            .body(|_| json!({"name": "Renamed"}))
            .foreign(),
        route(M::POST, "/api/v1/accounts/{a}/reset-password", ALL).foreign(),
        route(M::POST, "/api/v1/accounts/{a}/reset-pincode", ALL).foreign(),
        route(M::POST, "/api/v1/accounts/send-email", ALL).body(|x| json!({"ids": [x.a]})),
        route(M::POST, "/api/v1/accounts/batch", ADMINS).body(|x| {
            json!({"rows": [{"name": "Batch", "extension": (x.ext + 2).to_string()}], "dry_run": true})
        }),
        route(M::GET, "/api/v1/emails/failed", ADMINS),
        route(M::POST, "/api/v1/emails/failed/resend", ADMINS).body(|x| json!({"ids": [x.f1]})),
        route(M::POST, "/api/v1/emails/failed/delete", ADMINS).body(|x| json!({"ids": [x.f2]})),
        route(M::GET, "/api/v1/colleagues", MANAGERS),
        route(M::POST, "/api/v1/colleagues", MANAGERS).body(|x| {
            json!({"first_name": "N", "last_name": "C", "email": format!("n{}@a.example", x.ext), "role": "helpdesk"})
        }),
        route(M::PATCH, "/api/v1/colleagues/{c}", MANAGERS)
            .body(|_| json!({"role": "admin"}))
            .foreign(),
        route(M::POST, "/api/v1/colleagues/{c}/resend", MANAGERS).foreign(),
        route(M::POST, "/api/v1/colleagues/{c}/disable", MANAGERS).foreign(),
        route(M::POST, "/api/v1/colleagues/{c}/enable", MANAGERS).foreign(),
        route(M::GET, "/api/v1/apikeys", OWNER),
        route(M::POST, "/api/v1/apikeys", OWNER_PERSON)
            .body(|x| json!({"name": format!("new{}", x.ext), "role": "helpdesk"})),
        route(M::POST, "/api/v1/apikeys/{k}/revoke", OWNER).foreign(),
        route(M::GET, "/api/v1/audit", ADMINS),
        route(M::DELETE, "/api/v1/colleagues/{c}", MANAGERS).foreign(),
        route(M::GET, "/api/v1/accounts/{a}/devices", ALL).foreign(),
        route(M::POST, "/api/v1/accounts/{a}/devices", ADMINS)
            .body(|x| json!({"serial": format!("{}77", x.ext)}))
            .foreign(),
        route(M::DELETE, "/api/v1/accounts/{a}/devices/{ext}77", ADMINS).foreign(),
        route(M::POST, "/api/v1/accounts/remove", ADMINS).body(|x| json!({"ids": [x.a]})),
        route(M::POST, "/api/v1/password/change", PEOPLE)
            .body(|_| {
                json!({"old_password": "secret123", "new_password": "taken12345", "confirm_password": "taken12345"})
            })
            .keys_only(),
        route(M::POST, "/api/v1/logout", PEOPLE).keys_only(),
    ]
}

/// Fresh objects of the owner's enterprise for one actor's pass (the routes change or
/// remove them): an account with two failed emails, an invited colleague, an API key and
/// a licence number.
async fn fresh_cell(s: &TestServer, owner: &Client, who: Who, ext: i64) -> Cell {
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
            role: Role::Helpdesk,
            manage_admins: false,
        })
        .await
        .unwrap();
    let key = owner
        .create_api_key(&NewApiKey {
            name: format!("k{ext}"),
            role: Role::Helpdesk,
            ..Default::default()
        })
        .await
        .unwrap();
    Cell {
        who,
        a: acc.id,
        c: col.id,
        k: key.id,
        ext,
        f1: failed[0].id,
        f2: failed[1].id,
        lic: s.issue_license(5, 1).await,
    }
}

/// Every authenticated route × every role, signed in or as an API key of that role × own
/// and other enterprise: exactly the allowed cells succeed; another enterprise's objects
/// answer 404 (or 403 where the role may not act at all), never their data. Personal routes
/// answer a key 403 `not_for_api_keys`.
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
    let (_, admin) = colleague(&s, &owner, "admin@a.example", Role::Admin, false).await;
    let (_, manager) = colleague(&s, &owner, "manager@a.example", Role::Admin, true).await;
    let (_, helpdesk) = colleague(&s, &owner, "helpdesk@a.example", Role::Helpdesk, false).await;
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
            role: Role::Helpdesk,
            manage_admins: false,
        })
        .await
        .unwrap();
    let foreign_key = other
        .create_api_key(&NewApiKey {
            name: "b".into(),
            role: Role::Admin,
            ..Default::default()
        })
        .await
        .unwrap();

    // API keys of every role (created with raw JSON: the flag is the key's own).
    let (_, key_owner) = key_client(&s, &owner, json!({"name": "k-owner", "role": "owner"})).await;
    let (_, key_admin) = key_client(&s, &owner, json!({"name": "k-admin", "role": "admin"})).await;
    let (_, key_manager) = key_client(
        &s,
        &owner,
        json!({"name": "k-manager", "role": "admin", "manage_admins": true}),
    )
    .await;
    let (_, key_helpdesk) = key_client(
        &s,
        &owner,
        json!({"name": "k-helpdesk", "role": "helpdesk"}),
    )
    .await;

    let actors = [
        (Owner, &owner),
        (Admin, &admin),
        (Manager, &manager),
        (Helpdesk, &helpdesk),
        (KeyOwner, &key_owner),
        (KeyAdmin, &key_admin),
        (KeyManager, &key_manager),
        (KeyHelpdesk, &key_helpdesk),
    ];
    let routes = role_routes();
    let mut n = 0;
    let mut ext = 2000;
    let mut covered = std::collections::BTreeSet::new();
    // Every (method, path, status) seen: each status must be documented for its operation.
    let mut observed: Vec<(Method, String, u16)> = vec![];
    for (who, client) in actors {
        ext += 10;
        let cell = fresh_cell(&s, &owner, who, ext).await;
        let elsewhere = Cell {
            a: foreign.id,
            c: foreign_col.id,
            k: foreign_key.id,
            lic: String::new(),
            ..cell
        };
        for r in routes.iter().filter(|r| !r.keys_only || is_key(who)) {
            covered.insert(r.template());
            let (m, path, body) = (&r.method, r.path(&cell), r.body.map(|b| b(&cell)));
            let allowed = r.allowed.contains(&who);
            // Another enterprise's object first (before ours may be removed).
            if r.foreign {
                let fp = r.path(&elsewhere);
                let st = status(client, m.clone(), &fp, body.clone()).await;
                observed.push((m.clone(), fp.clone(), st));
                let expect = if allowed { 404 } else { 403 };
                assert_eq!(st, expect, "{m} {fp} as {who:?}: another enterprise");
            }
            let (st, code) = code_of(client, m.clone(), &path, body).await;
            observed.push((m.clone(), path.clone(), st));
            assert_eq!(st == 200, allowed, "{m} {path} as {who:?}: got {st} {code}");
            if !allowed {
                assert_eq!(st, 403, "{m} {path} as {who:?}");
                if r.allowed == PEOPLE {
                    assert_eq!(code, "not_for_api_keys", "{m} {path} as {who:?}");
                }
            }
            n += 1;
        }
    }
    assert!(n >= 8 * 30);
    // Every actor may watch the enterprise's changes.
    for c in [
        &owner,
        &admin,
        &manager,
        &helpdesk,
        &key_owner,
        &key_admin,
        &key_manager,
        &key_helpdesk,
    ] {
        c.events(None).await.unwrap();
    }
    // Every authenticated route of the OpenAPI document is in the matrix.
    let doc: Value = owner.get("/api/openapi.json").await.unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let secured = op.get("security").is_some();
            let exempt = ["/api/v1/events"].contains(&path.as_str());
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
    // Every status the matrix saw is documented for its operation, with the error body.
    let mut undocumented = std::collections::BTreeSet::new();
    for (m, path, st) in &observed {
        let (template, op) = operation(&doc, m, path)
            .unwrap_or_else(|| panic!("{m} {path} is not in the OpenAPI document"));
        let responses = op["responses"].as_object().unwrap();
        let documented = if *st == 200 {
            // The client reports every 2xx as 200.
            responses.keys().any(|k| k.starts_with('2'))
        } else {
            responses.get(&st.to_string()).is_some_and(|r| {
                r["content"]["application/json"]["schema"]["$ref"]
                    == "#/components/schemas/ErrorBody"
            })
        };
        if !documented {
            undocumented.insert(format!("{m} {template} -> {st}"));
        }
    }
    assert!(
        undocumented.is_empty(),
        "statuses answered but not documented (with ErrorBody) in the OpenAPI document:\n{}",
        undocumented.into_iter().collect::<Vec<_>>().join("\n")
    );
    // The foreign enterprise's data is untouched.
    assert_eq!(other.account(foreign.id).await.unwrap().name, "B");
}
both!(role_matrix);

/// The OpenAPI operation a concrete request goes to: the path template whose segments match
/// (`{…}` matches any), the one with the most literal segments when several do.
fn operation<'a>(doc: &'a Value, method: &Method, path: &str) -> Option<(String, &'a Value)> {
    let path = path.split('?').next().unwrap_or_default();
    let segs: Vec<&str> = path.split('/').collect();
    let mut best: Option<(usize, &String, &Value)> = None;
    for (template, item) in doc["paths"].as_object()? {
        let t: Vec<&str> = template.split('/').collect();
        if t.len() != segs.len() {
            continue;
        }
        let matches = t
            .iter()
            .zip(&segs)
            .all(|(a, b)| a.starts_with('{') || a == b);
        let literal = t.iter().filter(|a| !a.starts_with('{')).count();
        let Some(op) = item.get(method.as_str().to_lowercase()) else {
            continue;
        };
        if matches && best.is_none_or(|(n, _, _)| literal > n) {
            best = Some((literal, template, op));
        }
    }
    best.map(|(_, t, op)| (t.clone(), op))
}

async fn invitations_expire_resend_disable_remove(db: Db) {
    let s = TestServer::start(db).await;
    let (_, owner) = s.owner("owner@inv.example").await;
    let c = owner
        .invite(&InviteRequest {
            first_name: "Hui".into(),
            last_name: "Desk".into(),
            email: "hd@inv.example".into(),
            role: Role::Helpdesk,
            manage_admins: false,
        })
        .await
        .unwrap();
    let first = s.smtp.wait_for("hd@inv.example", 1).await.token();
    // An invited colleague cannot sign in yet.
    assert_eq!(
        err(s.login("hd@inv.example", "colleague1").await).code(),
        ErrorCode::InvalidCredentials
    );
    s.advance(48 * HOUR + SECOND);
    let accept = |t: &str| AcceptInvitation {
        token: t.into(),
        password: "colleague1".into(),
        confirm_password: "colleague1".into(),
    };
    assert_eq!(
        err(s.client().accept_invitation(&accept(&first)).await).code(),
        ErrorCode::TokenExpired
    );
    let owner = s.login("owner@inv.example", "secret123").await.unwrap();
    owner.resend_invitation(c.id).await.unwrap();
    let second = s.smtp.wait_for("hd@inv.example", 2).await.token();
    assert_eq!(
        err(s.client().accept_invitation(&accept(&first)).await).code(),
        ErrorCode::TokenUsed
    );
    s.client()
        .accept_invitation(&accept(&second))
        .await
        .unwrap();
    let hd = s
        .login_with_captcha("hd@inv.example", "colleague1")
        .await
        .unwrap();
    assert_eq!(hd.profile().await.unwrap().role, Role::Helpdesk);

    // Resend to a colleague who set up: password scrambled, sessions end.
    owner.resend_invitation(c.id).await.unwrap();
    assert_eq!(err(hd.profile().await).code(), ErrorCode::SessionEnded);
    assert_eq!(
        err(s.login_with_captcha("hd@inv.example", "colleague1").await).code(),
        ErrorCode::InvalidCredentials
    );
    let third = s.smtp.wait_for("hd@inv.example", 3).await.token();
    s.client().accept_invitation(&accept(&third)).await.unwrap();
    let hd = s
        .login_with_captcha("hd@inv.example", "colleague1")
        .await
        .unwrap();

    // Disable: sessions end at once, sign-in refused; enable: back.
    owner.disable_colleague(c.id).await.unwrap();
    assert_eq!(err(hd.profile().await).code(), ErrorCode::SessionEnded);
    assert_eq!(
        err(s.login("hd@inv.example", "colleague1").await).code(),
        ErrorCode::Disabled
    );
    owner.enable_colleague(c.id).await.unwrap();
    let hd = s.login("hd@inv.example", "colleague1").await.unwrap();
    // Role change takes effect on the next request.
    owner
        .set_colleague_role(
            c.id,
            &RoleUpdate {
                role: Role::Admin,
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
        .find(|x| x.role == Role::Owner)
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
                    role: Role::Owner,
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
            role: Role::Admin,
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
            assert_eq!(e.code(), ErrorCode::MfaRequired);
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
        ErrorCode::MfaUsed
    );

    // Expired at 5 minutes + 1 s (one code email per admin per 30 s: wait for the next).
    s.advance(30 * SECOND);
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
        ErrorCode::MfaExpired
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
        ErrorCode::Throttled
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
    s.advance(30 * SECOND);
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
        assert!(
            e.code() == ErrorCode::MfaWrong || e.code() == ErrorCode::MfaLocked,
            "{e}"
        );
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
        ErrorCode::MfaLocked
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
    assert_eq!(e.code(), ErrorCode::MfaRequired);

    // The owner can require MFA of everyone.
    let (_, owner2) = s.owner("req@example.com").await;
    let (_, _admin) = colleague(&s, &owner2, "adm@example.com", Role::Admin, false).await;
    owner2
        .set_enterprise_settings(&EnterpriseSettings { mfa_required: true })
        .await
        .unwrap();
    assert_eq!(
        err(s.login("adm@example.com", "colleague1").await).code(),
        ErrorCode::MfaRequired
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
            role: Role::Helpdesk,
            ..Default::default()
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
                role: Role::Owner,
                ..Default::default()
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
        ErrorCode::KeyRevoked
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

async fn code_of(c: &Client, method: Method, path: &str, body: Option<Value>) -> (u16, String) {
    match c.send::<Value, Value>(method, path, body.as_ref()).await {
        Ok(_) => (200, String::new()),
        Err(e) => (
            e.status().map(|s| s.as_u16()).unwrap_or(0),
            e.code().to_string(),
        ),
    }
}

/// Create a key from raw JSON (flags included) and a client that uses it.
async fn key_client(s: &TestServer, owner: &Client, body: Value) -> (i64, Client) {
    let k: Value = owner.post("/api/v1/apikeys", &body).await.unwrap();
    (
        k["id"].as_i64().unwrap(),
        s.client()
            .with_token(k["key"].as_str().unwrap().to_string()),
    )
}

/// An API key is a principal of its own: never its creator (the owner). It has no password,
/// profile, security settings or session, and exactly the role and flags it was created with.
async fn api_keys_are_principals_not_their_creator(db: Db) {
    let s = TestServer::start(db).await;
    let (_, owner) = s.owner("boss@keys.example").await;
    let (col_id, col) = colleague(&s, &owner, "col@keys.example", Role::Helpdesk, false).await;
    let (_, desk) = key_client(
        &s,
        &owner,
        json!({"name": "desk script", "role": "helpdesk"}),
    )
    .await;

    // Personal routes answer 403 not_for_api_keys, even with the owner's password.
    let personal: Vec<(Method, &str, Option<Value>)> = vec![
        (
            Method::POST,
            "/api/v1/password/change",
            Some(
                json!({"old_password": "secret123", "new_password": "taken12345", "confirm_password": "taken12345"}),
            ),
        ),
        (Method::PATCH, "/api/v1/me", Some(json!({"name": "Key"}))),
        (Method::GET, "/api/v1/me/security", None),
        (
            Method::PATCH,
            "/api/v1/me/security",
            Some(json!({"current_password": "secret123", "mfa_enabled": true})),
        ),
        (Method::POST, "/api/v1/logout", None),
    ];
    for (m, path, body) in personal {
        assert_eq!(
            code_of(&desk, m.clone(), path, body).await,
            (403, "not_for_api_keys".to_string()),
            "{m} {path} with a help-desk key"
        );
    }
    // The owner's password, sessions and MFA are untouched.
    owner.profile().await.unwrap();
    assert!(!owner.security().await.unwrap().mfa_enabled);

    // GET /me describes the key, not the person who created it.
    let me: Value = desk.get("/api/v1/me").await.unwrap();
    assert_eq!(me["role"], "helpdesk", "{me}");
    assert_eq!(me["api_key"]["name"], "desk script", "{me}");
    assert_eq!(me["api_key"]["role"], "helpdesk", "{me}");
    assert_eq!(me["api_key"]["manage_admins"], false, "{me}");
    assert!(!me.to_string().contains("boss@keys.example"), "{me}");

    // An admin key has the admin role only: no "manage administrators".
    let (_, admin_key) = key_client(&s, &owner, json!({"name": "ops", "role": "admin"})).await;
    let me: Value = admin_key.get("/api/v1/me").await.unwrap();
    assert_eq!(
        (&me["api_key"]["role"], &me["api_key"]["manage_admins"]),
        (&json!("admin"), &json!(false)),
        "{me}"
    );
    let colleague_ops: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/v1/colleagues".into(), None),
        (
            Method::POST,
            "/api/v1/colleagues".into(),
            Some(
                json!({"first_name": "Evil", "last_name": "Admin", "email": "evil@keys.example", "role": "admin", "manage_admins": true}),
            ),
        ),
        (
            Method::PATCH,
            format!("/api/v1/colleagues/{col_id}"),
            Some(json!({"role": "admin", "manage_admins": true})),
        ),
        (
            Method::POST,
            format!("/api/v1/colleagues/{col_id}/resend"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/colleagues/{col_id}/disable"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/colleagues/{col_id}/remove"),
            None,
        ),
    ];
    for (m, path, body) in &colleague_ops {
        assert_eq!(
            code_of(&admin_key, m.clone(), path, body.clone()).await,
            (403, "forbidden".to_string()),
            "{m} {path} with an admin key"
        );
    }
    // The colleague is untouched: same role, still signed in, same password.
    col.profile().await.unwrap();
    let listed = owner.colleagues().await.unwrap();
    let c = listed.items.iter().find(|c| c.id == col_id).unwrap();
    assert_eq!(
        (c.role, c.manage_admins, c.status),
        (Role::Helpdesk, false, AdminStatus::Active)
    );
    assert!(s.smtp.mails_to("evil@keys.example").is_empty());

    // The flag only when asked for, and only for admin keys.
    let e: Value = json!({"name": "x", "role": "helpdesk", "manage_admins": true});
    let r = owner.post::<Value, Value>("/api/v1/apikeys", &e).await;
    let e = err(r);
    assert_eq!(
        (e.status().unwrap().as_u16(), e.field()),
        (422, Some("manage_admins"))
    );
    let (_, manager_key) = key_client(
        &s,
        &owner,
        json!({"name": "team bot", "role": "admin", "manage_admins": true}),
    )
    .await;
    let me: Value = manager_key.get("/api/v1/me").await.unwrap();
    assert_eq!(me["api_key"]["manage_admins"], true, "{me}");
    assert_eq!(manager_key.colleagues().await.unwrap().items.len(), 2);
    let keys: Value = owner.get("/api/v1/apikeys").await.unwrap();
    let flags: Vec<(String, bool)> = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["name"].as_str().unwrap().to_string(),
                k["manage_admins"].as_bool().unwrap_or(true),
            )
        })
        .collect();
    assert_eq!(
        flags,
        vec![
            ("desk script".to_string(), false),
            ("ops".to_string(), false),
            ("team bot".to_string(), true)
        ]
    );
    // Keys still cannot make keys, whatever their role.
    let (_, owner_key) = key_client(&s, &owner, json!({"name": "ci", "role": "owner"})).await;
    assert_eq!(
        code_of(
            &owner_key,
            Method::POST,
            "/api/v1/apikeys",
            Some(json!({"name": "y", "role": "owner"}))
        )
        .await
        .0,
        403
    );
    // What a key does is audited under the key's name.
    manager_key.disable_colleague(col_id).await.unwrap();
    let page = owner.audit(&AuditQuery::default()).await.unwrap();
    let d = page
        .items
        .iter()
        .find(|e| e.action == "colleague.disable")
        .unwrap();
    assert_eq!(d.who, "api key team bot");
}
both!(api_keys_are_principals_not_their_creator);

/// The next thing on a stream, or that it ended (item `None`), within `limit`.
async fn ends_within(
    st: &mut vcms_api::client::EventStream,
    limit: std::time::Duration,
) -> Result<std::time::Duration, String> {
    use vcms_api::client::StreamItem;
    let t0 = std::time::Instant::now();
    match tokio::time::timeout(limit, st.next()).await {
        Err(_) => Err(format!("still open after {:?}", t0.elapsed())),
        Ok(None) | Ok(Some(Ok(StreamItem::SessionEnded(_)))) | Ok(Some(Err(_))) => Ok(t0.elapsed()),
        Ok(Some(Ok(StreamItem::Change(ev)))) => {
            Err(format!("a change after the session ended: {ev:?}"))
        }
    }
}

/// Disabling or removing a colleague ends their open event streams at once (within a
/// second), before any further change reaches them.
async fn disable_and_remove_end_event_streams_at_once(db: Db) {
    let s = TestServer::start(db).await;
    let (_, owner) = s.owner("boss@live.example").await;
    let limit = std::time::Duration::from_secs(1);
    for (i, action) in ["disable", "remove"].into_iter().enumerate() {
        let email = format!("{action}@live.example");
        let (id, col) = colleague(&s, &owner, &email, Role::Helpdesk, false).await;
        let mut stream = col.events(None).await.unwrap();
        // The stream is live: a change arrives.
        owner
            .add_account(&NewAccount {
                name: format!("Before {action}"),
                extension: format!("{}", 1001 + 10 * i),
                ..Default::default()
            })
            .await
            .unwrap();
        match tokio::time::timeout(limit, stream.next()).await {
            Ok(Some(Ok(vcms_api::client::StreamItem::Change(_)))) => {}
            other => panic!("no change within a second: {other:?}"),
        }
        // A moment later (the stream has looked at its session just now).
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        match action {
            "disable" => {
                owner.disable_colleague(id).await.unwrap();
            }
            _ => {
                owner.remove_colleague(id).await.unwrap();
            }
        }
        owner
            .add_account(&NewAccount {
                name: format!("After {action}"),
                extension: format!("{}", 1002 + 10 * i),
                ..Default::default()
            })
            .await
            .unwrap();
        let took = ends_within(&mut stream, limit)
            .await
            .unwrap_or_else(|e| panic!("{action}: {e}"));
        eprintln!("{action}: stream ended {took:?} after the {action} answered");
        // Nothing more comes, and a new stream is refused.
        assert!(matches!(
            tokio::time::timeout(limit, stream.next()).await,
            Ok(None) | Ok(Some(Err(_)))
        ));
        assert_eq!(err(col.events(None).await).status().unwrap().as_u16(), 401);
    }
}
both!(disable_and_remove_end_event_streams_at_once);

/// `GET /api/v1/me` says what the caller may do, for sessions and API keys alike, and what
/// it says is what the server enforces: each permission agrees with the answer of a route
/// that needs it (403, or not).
async fn me_says_what_the_caller_may_do(db: Db) {
    let s = TestServer::start(db).await;
    let (_, owner) = s.owner("boss@perms.example").await;
    let (_, plain_admin) = colleague(&s, &owner, "admin@perms.example", Role::Admin, false).await;
    let (_, lead_admin) = colleague(&s, &owner, "lead@perms.example", Role::Admin, true).await;
    let (_, desk) = colleague(&s, &owner, "desk@perms.example", Role::Helpdesk, false).await;
    let (_, desk_key) = key_client(&s, &owner, json!({"name": "d", "role": "helpdesk"})).await;
    let (_, admin_key) = key_client(&s, &owner, json!({"name": "a", "role": "admin"})).await;
    let (_, lead_key) = key_client(
        &s,
        &owner,
        json!({"name": "l", "role": "admin", "manage_admins": true}),
    )
    .await;
    let actors: Vec<(&str, &Client, [bool; 5])> = vec![
        // manage_colleagues, view_audit, manage_api_keys, manage_accounts, personal
        ("owner", &owner, [true, true, true, true, true]),
        ("admin", &plain_admin, [false, true, false, true, true]),
        (
            "admin with the flag",
            &lead_admin,
            [true, true, false, true, true],
        ),
        ("help desk", &desk, [false, false, false, false, true]),
        (
            "help-desk key",
            &desk_key,
            [false, false, false, false, false],
        ),
        ("admin key", &admin_key, [false, true, false, true, false]),
        (
            "admin key with the flag",
            &lead_key,
            [true, true, false, true, false],
        ),
    ];
    for (who, c, want) in actors {
        let me: Value = c.get("/api/v1/me").await.unwrap();
        let p = &me["permissions"];
        let got = [
            p["manage_colleagues"].as_bool(),
            p["view_audit"].as_bool(),
            p["manage_api_keys"].as_bool(),
            p["manage_accounts"].as_bool(),
            p["personal"].as_bool(),
        ];
        assert_eq!(got, want.map(Some), "{who}: {me}");
        assert_eq!(p["view_accounts"], true, "{who}: {me}");
        // What the server does agrees.
        let allowed = |code: u16| code != 403;
        let enforced = [
            allowed(status(c, Method::GET, "/api/v1/colleagues", None).await),
            allowed(status(c, Method::GET, "/api/v1/audit", None).await),
            allowed(status(c, Method::GET, "/api/v1/apikeys", None).await),
            allowed(
                status(
                    c,
                    Method::POST,
                    "/api/v1/accounts",
                    Some(json!({"name": "Perm Test", "extension": "4321", "send_email": false})),
                )
                .await,
            ),
            allowed(status(c, Method::GET, "/api/v1/me/security", None).await),
        ];
        assert_eq!(enforced, want, "{who}: the server enforces what /me says");
    }
}
both!(me_says_what_the_caller_may_do);
