//! Screen snapshots with ratatui's TestBackend at 80×24 and 120×40.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::Terminal;
use reqwest::StatusCode;
use vcms_api::client::{Client, ClientError};
use vcms_api::*;
use vcms_server::service::RoleRules;

use crate::action::{Action, Reply, Req};
use crate::app::App;
use crate::config::Config;
use crate::i18n::Lang;
use crate::theme::Theme;
use crate::widgets::text::width;

const SIZES: [(u16, u16); 2] = [(80, 24), (120, 40)];

fn app(lang: Lang) -> App {
    let mut app = App::new(
        Config::default(),
        Client::new("http://127.0.0.1:8080"),
        lang,
        Theme::mono(),
    )
    .expect("app");
    app.config.refresh_secs = Some(0);
    app
}

fn quota() -> Quota {
    Quota {
        used: 13,
        quota: 20,
        can_add: 7,
        in_force: true,
        basis: QuotaBasis::Trial,
    }
}

fn profile() -> Profile {
    Profile {
        username: "owner@demo.vcms".into(),
        name: "Demo Owner".into(),
        company: "Yealink".into(),
        enterprise_number: "58492".into(),
        country: "China".into(),
        email: "owner@demo.vcms".into(),
        role: Role::Owner,
        language: "en".into(),
        api_key: None,
        permissions: Permissions {
            view_accounts: true,
            reset_secrets: true,
            send_emails: true,
            manage_accounts: true,
            failed_emails: true,
            manage_colleagues: true,
            view_audit: true,
            view_licenses: true,
            add_licenses: true,
            manage_api_keys: true,
            personal: true,
        },
    }
}

fn rows() -> Vec<AccountRow> {
    crate::demo::ACCOUNTS
        .iter()
        .enumerate()
        .map(|(i, (name, ext, email))| AccountRow {
            id: i as i64 + 1,
            name: name.to_string(),
            extension: ext.to_string(),
            cloud_number: format!("58492{ext}"),
            email: email.map(str::to_string),
            status: if i % 4 == 0 {
                AccountStatus::Registered
            } else {
                AccountStatus::Unregistered
            },
        })
        .collect()
}

fn page(n: i64) -> AccountPage {
    let all = rows();
    let items = all
        .into_iter()
        .skip(((n - 1) * 10) as usize)
        .take(10)
        .collect();
    AccountPage {
        items,
        total: 13,
        page: n,
        page_size: 10,
        pages: 2,
        quota: quota(),
    }
}

fn details() -> AccountDetails {
    AccountDetails {
        id: 9,
        name: "陈媛媛".into(),
        extension: "2002".into(),
        cloud_number: "584922002".into(),
        email: Some("chenyy@demo.vcms".into()),
        password: "rq4p4u9nKx7m".into(),
        pincode: Some("123456789".into()),
        pincode_expires_at: Some("2026-11-29T18:22:15Z".into()),
        pincode_state: PincodeState::Valid,
        status: AccountStatus::Registered,
        status_text: "Registered successfully".into(),
        in_call: false,
        bindings: vec![Binding {
            device_model: "Yealink VCDesktop".into(),
            device_version: "1.0.50.16".into(),
            transport: Transport::Tls,
            nat: true,
            address: "203.0.113.7:5061".into(),
            registered_at: "2026-11-22T09:00:00Z".into(),
            expires_at: "2026-11-22T10:00:00Z".into(),
            state: "Registered(TLS-NAT)".into(),
        }],
        created_at: "2026-11-01T00:00:00Z".into(),
        updated_at: "2026-11-01T00:00:00Z".into(),
    }
}

/// Answer the pending request that `pick` chooses.
fn answer(app: &mut App, pick: impl Fn(&Req) -> bool, reply: Reply) {
    let pos = app
        .requests
        .queue
        .iter()
        .rposition(|(_, r)| pick(r))
        .expect("a matching request");
    let (id, _) = app.requests.queue.remove(pos);
    app.update(Action::Reply {
        id,
        reply: Box::new(reply),
    });
}

fn key(app: &mut App, c: KeyCode) {
    app.update(Action::Key(KeyEvent::new(c, KeyModifiers::NONE)));
}

fn typed(app: &mut App, s: &str) {
    for c in s.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn api_error(status: u16, code: ErrorCode, msg: &str, field: Option<&str>) -> ClientError {
    ClientError::Api {
        status: StatusCode::from_u16(status).expect("status"),
        body: ErrorBody {
            code,
            message: msg.into(),
            field: field.map(str::to_string),
            retry_after_secs: None,
            can_add: None,
            captcha_required: None,
            mfa_token: None,
        },
    }
}

fn main_app(lang: Lang) -> App {
    let mut a = app(lang);
    a.signed_in(profile());
    answer(
        &mut a,
        |r| matches!(r, Req::Page(_)),
        Reply::Page(Ok(page(1))),
    );
    a
}

/// The screen as text; the cell after a wide character is skipped, as a terminal shows it.
fn text(b: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..b.area.height {
        let mut line = String::new();
        let mut skip = 0;
        for x in 0..b.area.width {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let sym = b[(x, y)].symbol();
            line.push_str(sym);
            skip = width(sym).saturating_sub(1);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn shots(name: &str, app: &mut App) {
    for (w, h) in SIZES {
        let mut term = Terminal::new(TestBackend::new(w, h)).expect("terminal");
        term.draw(|f| crate::ui::draw(f, app)).expect("draw");
        let screen = text(term.backend().buffer());
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), screen);
    }
}

#[test]
fn login() {
    let mut a = app(Lang::En);
    typed(&mut a, "");
    a.views.login.form.set_value("email", "owner@demo.vcms");
    shots("login", &mut a);
}

#[test]
fn login_field_error_and_frozen() {
    let mut a = app(Lang::En);
    a.views.login.form.set_value("email", "owner@demo.vcms");
    a.views.login.form.focus = 2;
    typed(&mut a, "wrong123");
    key(&mut a, KeyCode::Enter);
    let mut e = api_error(401, ErrorCode::Frozen, "frozen", None);
    if let ClientError::Api { body, .. } = &mut e {
        body.retry_after_secs = Some(250);
    }
    answer(
        &mut a,
        |r| matches!(r, Req::Login(_)),
        Reply::Login(Box::new(Err(e))),
    );
    a.views.login.form.set_error(
        Some("password"),
        "Password: 8 to 32 characters with letters and digits".into(),
    );
    shots("login_frozen", &mut a);
}

#[test]
fn login_chinese() {
    let mut a = app(Lang::Zh);
    shots("login_zh", &mut a);
}

#[test]
fn accounts_table() {
    let mut a = main_app(Lang::En);
    key(&mut a, KeyCode::Char('j'));
    key(&mut a, KeyCode::Char(' '));
    shots("accounts", &mut a);
}

#[test]
fn accounts_page_two_with_cjk() {
    let mut a = main_app(Lang::En);
    key(&mut a, KeyCode::PageDown);
    answer(
        &mut a,
        |r| matches!(r, Req::Page(q) if q.page == Some(2)),
        Reply::Page(Ok(page(2))),
    );
    key(&mut a, KeyCode::Char('/'));
    typed(&mut a, "何");
    shots("accounts_page2", &mut a);
}

#[test]
fn accounts_chinese() {
    let mut a = main_app(Lang::Zh);
    shots("accounts_zh", &mut a);
}

#[test]
fn details_and_confirms() {
    let mut a = main_app(Lang::En);
    for _ in 0..8 {
        key(&mut a, KeyCode::Char('j'));
    }
    key(&mut a, KeyCode::Enter);
    answer(
        &mut a,
        |r| matches!(r, Req::Details(9)),
        Reply::Details(Ok(details())),
    );
    shots("details", &mut a);
    key(&mut a, KeyCode::Char('p'));
    shots("confirm_reset_pincode", &mut a);
    key(&mut a, KeyCode::Char('y'));
    let mut d = details();
    d.pincode = Some("987654321".into());
    answer(
        &mut a,
        |r| matches!(r, Req::ResetAccountPincode(9)),
        Reply::Reset {
            pincode: true,
            res: Ok(d),
        },
    );
    shots("new_pincode", &mut a);
}

/// A pincode that can no longer sign in (used or expired) is not shown as if it still
/// worked: the details say which, and that a reset gives a new one.
#[test]
fn details_of_a_spent_pincode() {
    for (state, said) in [
        (PincodeState::Used, "used (reset it to get a new one)"),
        (PincodeState::Expired, "expired (reset it to get a new one)"),
    ] {
        let mut a = main_app(Lang::En);
        for _ in 0..8 {
            key(&mut a, KeyCode::Char('j'));
        }
        key(&mut a, KeyCode::Enter);
        let mut d = details();
        d.pincode_state = state;
        answer(
            &mut a,
            |r| matches!(r, Req::Details(9)),
            Reply::Details(Ok(d.clone())),
        );
        let mut term = Terminal::new(TestBackend::new(100, 30)).expect("terminal");
        term.draw(|f| crate::ui::draw(f, &a)).expect("draw");
        let screen = text(term.backend().buffer());
        assert!(screen.contains(said), "{state}: {screen}");
        assert!(
            !screen.contains("valid until"),
            "{state} pincode shown as valid: {screen}"
        );
        assert!(
            !screen.contains(d.pincode.as_deref().unwrap_or("-")),
            "{state} pincode still shown: {screen}"
        );
    }
}

#[test]
fn remove_marked_confirm() {
    let mut a = main_app(Lang::En);
    key(&mut a, KeyCode::Char(' '));
    key(&mut a, KeyCode::Char(' '));
    key(&mut a, KeyCode::Char('d'));
    shots("confirm_remove", &mut a);
}

#[test]
fn add_form_with_server_error() {
    let mut a = main_app(Lang::En);
    key(&mut a, KeyCode::Char('n'));
    typed(&mut a, "Nina");
    key(&mut a, KeyCode::Tab);
    typed(&mut a, "1001");
    key(&mut a, KeyCode::Tab);
    typed(&mut a, "nina@demo.vcms");
    key(&mut a, KeyCode::Enter);
    answer(
        &mut a,
        |r| matches!(r, Req::AddAccount(_)),
        Reply::Saved {
            send_email: false,
            res: Err(api_error(
                409,
                ErrorCode::Conflict,
                "Extension 1001 is already used by Anna",
                Some("extension"),
            )),
        },
    );
    shots("add_form_error", &mut a);
}

#[test]
fn failed_emails() {
    let mut a = main_app(Lang::En);
    key(&mut a, KeyCode::Char('f'));
    let list = FailedEmailList {
        total: 2,
        items: vec![
            FailedEmail {
                id: 1,
                recipient: "anna@demo.vcms".into(),
                account: Some("Anna (1001)".into()),
                kind: EmailKind::AccountInfo,
                reason: "550 mailbox unavailable".into(),
                failed_at: "2026-11-22T10:00:00Z".into(),
                attempts: 8,
            },
            FailedEmail {
                id: 2,
                recipient: "chenyy@demo.vcms".into(),
                account: Some("陈媛媛 (2002)".into()),
                kind: EmailKind::AccountInfo,
                reason: "connection refused".into(),
                failed_at: "2026-11-22T10:05:00Z".into(),
                attempts: 8,
            },
        ],
        transport_problem: None,
        waiting: 0,
    };
    answer(
        &mut a,
        |r| matches!(r, Req::Failed),
        Reply::Failed(Ok(list)),
    );
    shots("failed", &mut a);
}

#[test]
fn system_tab() {
    let mut a = main_app(Lang::En);
    key(&mut a, KeyCode::Char('2'));
    let lic = LicenseList {
        licenses: vec![License {
            number: "ABCDEFGHJKLMNPQRSTUVWX23".into(),
            status: LicenseStatus::Activated,
            years: 2,
            quantity: 200,
            start: Some("2026-11-22T00:00:00Z".into()),
            end: Some("2028-11-22T00:00:00Z".into()),
            days_left: 731,
            note: None,
        }],
        quota: Quota {
            used: 13,
            quota: 200,
            can_add: 187,
            in_force: true,
            basis: QuotaBasis::Licensed,
        },
    };
    answer(
        &mut a,
        |r| matches!(r, Req::Licenses),
        Reply::Licenses(Ok(lic)),
    );
    answer(
        &mut a,
        |r| matches!(r, Req::Profile),
        Reply::Profile(Ok(profile())),
    );
    answer(
        &mut a,
        |r| matches!(r, Req::Security),
        Reply::Security(Ok(Security {
            email: "owner@demo.vcms".into(),
            backup_email: Some("backup@demo.vcms".into()),
            mfa_enabled: false,
            mfa_required: false,
        })),
    );
    answer(
        &mut a,
        |r| matches!(r, Req::SshKeys),
        Reply::SshKeys(Ok(SshKeyList {
            items: vec![SshKey {
                id: 1,
                name: "owner@laptop".into(),
                algorithm: "ssh-ed25519".into(),
                fingerprint: "SHA256:7Zp0BHsU4GGYQ4mzmJPbxXW1rM2yNbJ6Z8Lsn0p3x2Q".into(),
                created_at: "2026-12-01T09:00:00Z".into(),
                last_used_at: None,
            }],
        })),
    );
    shots("system_license", &mut a);
    key(&mut a, KeyCode::Char('n'));
    typed(&mut a, "ABCD-EFGH");
    key(&mut a, KeyCode::Enter);
    assert!(
        a.requests
            .queue
            .iter()
            .all(|(_, r)| !matches!(r, Req::AddLicense(_))),
        "a short number is not sent"
    );
    shots("add_license_error", &mut a);
    key(&mut a, KeyCode::Esc);
    key(&mut a, KeyCode::Char('l'));
    shots("system_profile", &mut a);
    key(&mut a, KeyCode::Char('b'));
    key(&mut a, KeyCode::Tab);
    key(&mut a, KeyCode::Tab);
    for _ in 0..3 {
        key(&mut a, KeyCode::Backspace);
    }
    typed(&mut a, "on");
    key(&mut a, KeyCode::Enter);
    assert!(
        a.requests
            .queue
            .iter()
            .all(|(_, r)| !matches!(r, Req::UpdateSecurity(_))),
        "the current password is asked first"
    );
    // The error moved the focus to the password field.
    typed(&mut a, "OwnerSecret1");
    key(&mut a, KeyCode::Enter);
    assert!(a.requests.queue.iter().any(|(_, r)| matches!(
        r,
        Req::UpdateSecurity(u) if u.mfa_enabled == Some(true)
            && u.current_password == "OwnerSecret1"
            && u.backup_email.as_deref() == Some("backup@demo.vcms")
    )));
}

#[test]
fn help_screen() {
    let mut a = main_app(Lang::En);
    key(&mut a, KeyCode::Char('?'));
    shots("help", &mut a);
}

#[test]
fn session_ended_returns_to_sign_in_then_back() {
    let mut a = main_app(Lang::En);
    key(&mut a, KeyCode::Char('f'));
    answer(
        &mut a,
        |r| matches!(r, Req::Failed),
        Reply::Failed(Err(api_error(
            401,
            ErrorCode::SessionEnded,
            "The session ended after 30 minutes without activity: sign in again",
            None,
        ))),
    );
    assert_eq!(a.screen, crate::app::Screen::Login);
    shots("session_ended", &mut a);
    typed(&mut a, "Demo2026vcms");
    key(&mut a, KeyCode::Enter);
    let r = LoginResponse {
        token: "t".into(),
        idle_timeout_secs: 1800,
        profile: profile(),
    };
    answer(
        &mut a,
        |r| matches!(r, Req::Login(_)),
        Reply::Login(Box::new(Ok(r))),
    );
    assert_eq!(a.screen, crate::app::Screen::Main);
    assert_eq!(a.view, crate::app::View::Failed);
}

#[test]
fn stale_replies_are_dropped() {
    let mut a = main_app(Lang::En);
    key(&mut a, KeyCode::PageDown);
    let (old, _) = a.requests.queue.pop().expect("page 2 request");
    key(&mut a, KeyCode::Char('g'));
    // The page-2 answer arrives after the user went back to page 1: ignored.
    a.update(Action::Reply {
        id: old,
        reply: Box::new(Reply::Page(Ok(page(2)))),
    });
    let accounts = &a.views.accounts.list;
    assert_eq!(accounts.page_no, 1);
    assert_eq!(
        accounts.items.first().map(|r| r.id),
        Some(page(1).items[0].id)
    );
}

#[test]
fn live_events_refresh_and_end_the_session() {
    use vcms_api::client::StreamItem;
    let mut a = main_app(Lang::En);
    a.update(Action::Event(StreamItem::Change(ChangeEvent {
        id: 1,
        kind: EventKind::AccountChanged,
        account_id: Some(3),
        at: "2026-11-22T10:00:00Z".into(),
    })));
    assert!(a.requests.queue.is_empty(), "debounced");
    std::thread::sleep(std::time::Duration::from_millis(350));
    a.update(Action::Tick);
    assert!(a
        .requests
        .queue
        .iter()
        .any(|(_, r)| matches!(r, Req::Page(_))));
    a.update(Action::Event(StreamItem::SessionEnded(
        "You signed in again somewhere else, which ended this session: sign in again".into(),
    )));
    assert_eq!(a.screen, crate::app::Screen::Login);
    assert!(a
        .views
        .login
        .notice
        .as_ref()
        .is_some_and(|n| n.text.contains("somewhere else")));
}

#[test]
fn mfa_code_is_asked_after_the_password() {
    let mut a = app(Lang::En);
    a.views.login.form.set_value("email", "owner@demo.vcms");
    a.views.login.form.focus = 2;
    typed(&mut a, "Demo2026vcms");
    key(&mut a, KeyCode::Enter);
    let mut e = api_error(
        401,
        ErrorCode::MfaRequired,
        "A code was sent to your email",
        None,
    );
    if let ClientError::Api { body, .. } = &mut e {
        body.mfa_token = Some("mfa-token".into());
    }
    answer(
        &mut a,
        |r| matches!(r, Req::Login(_)),
        Reply::Login(Box::new(Err(e))),
    );
    assert_eq!(a.views.login.mode, crate::app::LoginMode::Mfa);
    typed(&mut a, "123456");
    key(&mut a, KeyCode::Enter);
    assert!(a.requests.queue.iter().any(
        |(_, r)| matches!(r, Req::VerifyMfa(m) if m.code == "123456" && m.mfa_token == "mfa-token")
    ));
}

/// The profile of an administrator of `role`, with the permissions the server computes for
/// it (the console decides nothing from the role itself).
fn profile_as(role: Role, manage_admins: bool) -> Profile {
    let mut p = profile();
    p.role = role;
    p.permissions = role.permissions(manage_admins, true);
    p
}

#[test]
fn helpdesk_sees_no_add_or_remove() {
    let mut a = app(Lang::En);
    a.signed_in(profile_as(Role::Helpdesk, false));
    answer(
        &mut a,
        |r| matches!(r, Req::Page(_)),
        Reply::Page(Ok(page(1))),
    );
    key(&mut a, KeyCode::Char('d'));
    assert!(a.overlay.is_none(), "no remove confirm for help-desk");
    shots("helpdesk", &mut a);
}

fn colleague(
    id: i64,
    name: &str,
    email: &str,
    role: Role,
    flag: bool,
    status: AdminStatus,
) -> Colleague {
    let (first, last) = name.split_once(' ').unwrap_or((name, ""));
    Colleague {
        id,
        first_name: first.into(),
        last_name: last.into(),
        name: name.into(),
        email: email.into(),
        role,
        manage_admins: flag,
        status,
        mfa_enabled: id == 2,
        created_at: "2026-11-01T08:00:00Z".into(),
    }
}

fn audit_entry(at: &str, who: &str, action: &str, target: &str) -> AuditEntry {
    AuditEntry {
        at: at.into(),
        who: who.into(),
        action: action.into(),
        target: target.into(),
        detail: String::new(),
        from: "10.0.0.7".into(),
    }
}

#[test]
fn colleagues_audit_and_api_keys() {
    let mut a = main_app(Lang::En);
    key(&mut a, KeyCode::Char('2'));
    key(&mut a, KeyCode::Char('l'));
    key(&mut a, KeyCode::Char('l'));
    assert_eq!(a.sys(), "colleagues");
    answer(
        &mut a,
        |r| matches!(r, Req::Colleagues),
        Reply::Colleagues(Ok(ColleagueList {
            items: vec![
                colleague(
                    1,
                    "Olivia Owner",
                    "owner@demo.vcms",
                    Role::Owner,
                    false,
                    AdminStatus::Active,
                ),
                colleague(
                    2,
                    "Adam Admin",
                    "adam@demo.vcms",
                    Role::Admin,
                    true,
                    AdminStatus::Active,
                ),
                colleague(
                    3,
                    "Hana Desk",
                    "hana@demo.vcms",
                    Role::Helpdesk,
                    false,
                    AdminStatus::Invited,
                ),
                colleague(
                    4,
                    "Dan Gone",
                    "dan@demo.vcms",
                    Role::Helpdesk,
                    false,
                    AdminStatus::Disabled,
                ),
            ],
        })),
    );
    key(&mut a, KeyCode::Char('j'));
    key(&mut a, KeyCode::Char('j'));
    shots("colleagues", &mut a);
    key(&mut a, KeyCode::Char('d'));
    assert!(matches!(
        a.overlay,
        Some(crate::app::Overlay::Confirm {
            op: crate::app::Op::Send(ref req),
            ..
        }) if matches!(**req, Req::RemoveColleague(3))
    ));
    key(&mut a, KeyCode::Char('n'));
    key(&mut a, KeyCode::Char('n'));
    typed(&mut a, "Ivy");
    key(&mut a, KeyCode::Tab);
    typed(&mut a, "New");
    key(&mut a, KeyCode::Tab);
    typed(&mut a, "ivy@demo.vcms");
    key(&mut a, KeyCode::Enter);
    assert!(a.requests.queue.iter().any(|(_, r)| matches!(
        r,
        Req::Invite(i) if i.email == "ivy@demo.vcms" && i.role == Role::Helpdesk
    )));

    let mut a = main_app(Lang::En);
    key(&mut a, KeyCode::Char('2'));
    for _ in 0..3 {
        key(&mut a, KeyCode::Char('l'));
    }
    assert_eq!(a.sys(), "audit");
    answer(
        &mut a,
        |r| matches!(r, Req::Audit(_)),
        Reply::Audit(Ok(AuditPage {
            items: vec![
                audit_entry(
                    "2026-11-22T09:14:03Z",
                    "owner@demo.vcms",
                    "signin.ok",
                    "owner@demo.vcms",
                ),
                audit_entry(
                    "2026-11-22T09:15:40Z",
                    "owner@demo.vcms",
                    "colleague.invite",
                    "hana@demo.vcms",
                ),
                audit_entry(
                    "2026-11-22T09:20:11Z",
                    "api key ci",
                    "account.reset_pincode",
                    "Anna (1001)",
                ),
                audit_entry(
                    "2026-11-22T09:21:55Z",
                    "hana@demo.vcms",
                    "signin.failed",
                    "hana@demo.vcms",
                ),
            ],
            total: 4,
            page: 1,
            page_size: 100,
        })),
    );
    key(&mut a, KeyCode::Char('/'));
    typed(&mut a, "signin");
    shots("audit_log", &mut a);
    key(&mut a, KeyCode::Enter);
    a.update(Action::Tick);
    assert!(a.requests.queue.iter().any(|(_, r)| matches!(
        r,
        Req::Audit(q) if q.search.as_deref() == Some("signin")
    )));
    assert_eq!(
        a.views.accounts.search, "",
        "the accounts search is untouched"
    );

    let mut a = main_app(Lang::En);
    key(&mut a, KeyCode::Char('2'));
    for _ in 0..4 {
        key(&mut a, KeyCode::Char('l'));
    }
    assert_eq!(a.sys(), "apikeys");
    answer(
        &mut a,
        |r| matches!(r, Req::ApiKeys),
        Reply::ApiKeys(Ok(ApiKeyList {
            items: vec![
                ApiKey {
                    id: 1,
                    name: "ci".into(),
                    role: Role::Owner,
                    manage_admins: true,
                    prefix: "vcms_3fa9".into(),
                    created_at: "2026-11-20T10:00:00Z".into(),
                    last_used_at: Some("2026-11-22T09:20:11Z".into()),
                    revoked: false,
                },
                ApiKey {
                    id: 2,
                    name: "old script".into(),
                    role: Role::Helpdesk,
                    manage_admins: false,
                    prefix: "vcms_81c2".into(),
                    created_at: "2026-10-02T10:00:00Z".into(),
                    last_used_at: None,
                    revoked: true,
                },
            ],
        })),
    );
    shots("api_keys", &mut a);
    key(&mut a, KeyCode::Char('d'));
    assert!(matches!(
        a.overlay,
        Some(crate::app::Overlay::Confirm {
            op: crate::app::Op::Send(ref req),
            ..
        }) if matches!(**req, Req::RevokeKey(1))
    ));
    key(&mut a, KeyCode::Esc);
    key(&mut a, KeyCode::Char('n'));
    typed(&mut a, "deploy");
    key(&mut a, KeyCode::Enter);
    answer(
        &mut a,
        |r| matches!(r, Req::CreateKey(k) if k.name == "deploy" && k.role == Role::Helpdesk),
        Reply::KeyCreated(Ok(ApiKeyCreated {
            id: 3,
            name: "deploy".into(),
            role: Role::Helpdesk,
            manage_admins: false,
            key: "vcms_0123456789abcdef0123456789abcdef".into(),
            message: "API key created".into(),
        })),
    );
    assert!(matches!(
        &a.overlay,
        Some(crate::app::Overlay::Secret { value, .. }) if value.starts_with("vcms_0123")
    ));
}

#[test]
fn system_sections_by_role() {
    let mut a = app(Lang::En);
    a.signed_in(profile_as(Role::Helpdesk, false));
    assert_eq!(a.sys_views(), vec!["license", "profile", "server"]);
    // An admin: what the profile's permissions say, without probing the server.
    let mut a = app(Lang::En);
    a.signed_in(profile_as(Role::Admin, false));
    key(&mut a, KeyCode::Char('2'));
    assert!(
        !a.requests
            .queue
            .iter()
            .any(|(_, r)| matches!(r, Req::Colleagues)),
        "no probe for the colleagues list"
    );
    assert_eq!(a.sys_views(), vec!["license", "profile", "audit", "server"]);
    let mut a = app(Lang::En);
    a.signed_in(profile_as(Role::Admin, true));
    assert_eq!(
        a.sys_views(),
        vec!["license", "profile", "colleagues", "audit", "server"]
    );
    key(&mut a, KeyCode::Char(':'));
    typed(&mut a, "apikeys");
    key(&mut a, KeyCode::Enter);
    assert_ne!(a.sys(), "apikeys", "an admin has no API keys section");
    let mut a = main_app(Lang::En);
    assert_eq!(a.sys_views().len(), 6, "the owner sees every section");
    key(&mut a, KeyCode::Char(':'));
    typed(&mut a, "audit");
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.sys(), "audit");
    assert!(a
        .requests
        .queue
        .iter()
        .any(|(_, r)| matches!(r, Req::Audit(_))));
}

/// With no `page_size` in the config, the table shows as many rows as the terminal has room
/// for and follows a resize, keeping the selected account; `s` fixes the size again, and a
/// configured size is kept whatever the terminal.
#[test]
fn page_size_follows_the_terminal() {
    let mut a = main_app(Lang::En);
    assert!(a.views.accounts.page_auto);
    for _ in 0..3 {
        key(&mut a, KeyCode::Char('j'));
    }
    a.update(Action::Resize(120, 40));
    let fit = crate::views::accounts::rows_that_fit(40);
    assert_eq!(fit, 32);
    let requested = a.requests.queue.iter().rev().find_map(|(_, r)| match r {
        Req::Page(q) => Some((q.page, q.page_size)),
        _ => None,
    });
    assert_eq!(requested, Some((Some(1), Some(fit))));
    let items: Vec<AccountRow> = (0..fit)
        .map(|i| AccountRow {
            id: i + 1,
            name: format!("Room {i:02}"),
            extension: format!("{:04}", 1000 + i),
            cloud_number: format!("58492{}", 1000 + i),
            email: None,
            status: AccountStatus::Unregistered,
        })
        .collect();
    answer(
        &mut a,
        |r| matches!(r, Req::Page(_)),
        Reply::Page(Ok(AccountPage {
            items,
            total: 100,
            page: 1,
            page_size: fit,
            pages: 4,
            quota: quota(),
        })),
    );
    let mut term = Terminal::new(TestBackend::new(120, 40)).expect("terminal");
    term.draw(|f| crate::ui::draw(f, &a)).expect("draw");
    let screen = text(term.backend().buffer());
    for i in [0, fit - 1] {
        assert!(
            screen.contains(&format!("Room {i:02}")),
            "row {i} not shown:\n{screen}"
        );
    }
    // The selected account stays selected (4th row) on a smaller terminal.
    a.update(Action::Resize(80, 10));
    let l = &a.views.accounts.list;
    assert_eq!((l.page_size, l.page_no, l.cursor), (2, 2, 1));
    // `s` fixes the size; resizing no longer changes it.
    key(&mut a, KeyCode::Char('s'));
    let fixed = a.views.accounts.list.page_size;
    a.update(Action::Resize(120, 60));
    assert_eq!(a.views.accounts.list.page_size, fixed);
    // A configured size is kept.
    let mut b = App::new(
        Config {
            page_size: Some(10),
            ..Default::default()
        },
        Client::new("http://127.0.0.1:8080"),
        Lang::En,
        Theme::mono(),
    )
    .expect("app");
    b.update(Action::Resize(120, 60));
    assert_eq!(b.views.accounts.list.page_size, 10);
}

/// On a terminal at least 140 columns wide the selected account's details show beside the
/// table and follow the cursor; narrower terminals keep the full-screen details.
#[test]
fn details_pane_beside_the_table_when_wide() {
    let mut a = main_app(Lang::En);
    a.update(Action::Resize(100, 24));
    assert!(
        !a.requests
            .queue
            .iter()
            .any(|(_, r)| matches!(r, Req::Details(_))),
        "no pane on a narrow terminal"
    );
    a.update(Action::Resize(160, 24));
    let first = rows()[0].id;
    answer(
        &mut a,
        |r| matches!(r, Req::Details(id) if *id == first),
        Reply::Details(Ok(AccountDetails {
            id: first,
            ..details()
        })),
    );
    let mut term = Terminal::new(TestBackend::new(160, 24)).expect("terminal");
    term.draw(|f| crate::ui::draw(f, &a)).expect("draw");
    let screen = text(term.backend().buffer());
    let d = details();
    assert!(screen.contains(&rows()[1].name), "table:\n{screen}");
    assert!(screen.contains(&d.password), "details pane:\n{screen}");
    insta::assert_snapshot!("details_pane_160x24", screen);
    // The cursor moves: the next account's details are asked for, and shown when they come.
    key(&mut a, KeyCode::Char('j'));
    let second = rows()[1].id;
    assert!(a
        .requests
        .queue
        .iter()
        .any(|(_, r)| matches!(r, Req::Details(id) if *id == second)));
    let mut term = Terminal::new(TestBackend::new(160, 24)).expect("terminal");
    term.draw(|f| crate::ui::draw(f, &a)).expect("draw");
    let screen = text(term.backend().buffer());
    assert!(
        !screen.contains(&d.password),
        "the previous account's details stay shown:\n{screen}"
    );
}
