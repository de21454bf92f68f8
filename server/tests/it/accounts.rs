//! Cloud accounts: add, quota, list/search/sort/paging, details, edit, resets, removal,
//! emails, the failed email list, pincode life, secrets at rest, enterprise isolation.

use crate::both;
use crate::common::*;
use vcms_api::client::Client;
use vcms_api::*;
use vcms_server::clock::{DAY, SECOND};

fn new(name: &str, ext: &str, email: Option<&str>) -> NewAccount {
    NewAccount {
        name: name.into(),
        extension: ext.into(),
        email: email.map(Into::into),
        send_email: false,
    }
}

const GUIDE: [(&str, &str, &str); 10] = [
    ("Anna", "1001", "anna@example.com"),
    ("Bonnie", "1002", "bonnie@example.com"),
    ("Clare", "1003", "clare@example.com"),
    ("Jane", "3578", "jane@example.com"),
    ("Jannie", "1004", "jannie@example.com"),
    ("Maggie", "1005", "maggie@example.com"),
    ("Mark", "8908", "mark@example.com"),
    ("Mars", "3567", "mars@example.com"),
    ("陈媛媛", "2002", "chen@example.com"),
    ("何以言", "2004", "he@example.com"),
];

async fn seed(c: &Client) {
    for (n, e, m) in GUIDE {
        c.add_account(&new(n, e, Some(m))).await.unwrap();
    }
}

fn pin_login(pin: &str) -> EndpointLoginRequest {
    EndpointLoginRequest {
        pincode: Some(pin.into()),
        ..Default::default()
    }
}

fn pw_login(number: &str, pw: &str) -> EndpointLoginRequest {
    EndpointLoginRequest {
        cloud_number: Some(number.into()),
        password: Some(pw.into()),
        ..Default::default()
    }
}

async fn add_account_and_generated_secrets(db: Db) {
    let s = TestServer::start(db).await;
    let (number, c) = s.owner("owner@example.com").await;
    let a = c
        .add_account(&new("Anna", "1001", Some("Anna@Example.com")))
        .await
        .unwrap();
    assert_eq!(a.cloud_number, format!("{number}1001"));
    assert_eq!(a.cloud_number.len(), 9);
    assert_eq!(a.password.len(), 12);
    assert!(
        a.password
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() && !"0Oo1lI".contains(ch)),
        "{}",
        a.password
    );
    assert!(
        a.password.chars().any(|ch| ch.is_ascii_digit())
            && a.password.chars().any(|ch| ch.is_ascii_alphabetic())
    );
    let pin = a.pincode.clone().unwrap();
    assert!(pin.len() == 9 && pin.chars().all(|ch| ch.is_ascii_digit()));
    assert_eq!(
        (a.pincode_state, a.status, a.status_text.as_str()),
        (
            PincodeState::Valid,
            AccountStatus::Unregistered,
            "Unregistered"
        )
    );
    assert!(a.bindings.is_empty());
    assert_eq!(c.account(a.id).await.unwrap(), a);
    assert_eq!(c.account_by_extension("1001").await.unwrap(), a);

    // Two accounts never share a password or a pincode.
    let b = c.add_account(&new("Bonnie", "1002", None)).await.unwrap();
    assert_ne!(a.password, b.password);
    assert_ne!(a.pincode, b.pincode);

    // Extension clash names the field and the account holding it.
    let e = err(c.add_account(&new("Other", "1001", None)).await);
    assert_eq!(
        (e.status().unwrap().as_u16(), e.field()),
        (409, Some("extension"))
    );
    assert!(e.to_string().contains("Anna"), "{e}");
    // Save & Send Email without an email is refused.
    let mut req = new("Clare", "1003", None);
    req.send_email = true;
    assert_eq!(err(c.add_account(&req).await).field(), Some("email"));
    // With one, the account email goes out with the sign-in details.
    req.email = Some("clare@example.com".into());
    let clare = c.add_account(&req).await.unwrap();
    let mail = s.smtp.wait_for("clare@example.com", 1).await;
    for needle in [
        &clare.cloud_number,
        &clare.password,
        clare.pincode.as_ref().unwrap(),
        &"1003".to_string(),
    ] {
        assert!(
            mail.text.contains(needle.as_str()),
            "{needle} missing from {}",
            mail.text
        );
    }
}
both!(add_account_and_generated_secrets);

async fn quota_edge_and_license_in_force(db: Db) {
    let s = TestServer::start(db).await;
    let (_, c) = s.owner("quota@example.com").await;
    for i in 0..20 {
        c.add_account(&new(&format!("User {i}"), &format!("{}", 1000 + i), None))
            .await
            .unwrap();
    }
    let page = c.accounts(&AccountQuery::default()).await.unwrap();
    assert_eq!(
        (page.quota.used, page.quota.quota, page.quota.can_add),
        (20, 20, 0)
    );
    let e = err(c.add_account(&new("Twenty-one", "2000", None)).await);
    assert_eq!(
        (e.code(), e.body().unwrap().can_add),
        (ErrorCode::QuotaFull, Some(0))
    );
    assert!(e.to_string().contains("0 can be added"), "{e}");

    // A license raises the quota.
    c.add_license(&s.issue_license(25, 1).await).await.unwrap();
    c.add_account(&new("Twenty-one", "2000", None))
        .await
        .unwrap();
    assert_eq!(c.enterprise().await.unwrap().quota.can_add, 4);

    // No license in force: adding is refused, the rest goes on.
    s.advance(366 * DAY);
    let c = s.login("quota@example.com", "secret123").await.unwrap();
    let e = err(c.add_account(&new("Late", "2001", None)).await);
    assert_eq!(e.code(), ErrorCode::LicenseExpired);
    assert_eq!(
        c.accounts(&AccountQuery::default()).await.unwrap().total,
        21
    );
    // Endpoints are refused too.
    let a = c.account_by_extension("1000").await.unwrap();
    let e = err(s
        .client()
        .endpoint_login(&pw_login(&a.cloud_number, &a.password))
        .await);
    assert_eq!(e.code(), ErrorCode::LicenseInvalid);
    assert!(e
        .to_string()
        .contains("Unavailable terminals for invalid license"));
}
both!(quota_edge_and_license_in_force);

async fn list_paging_sorting_and_search(db: Db) {
    let s = TestServer::start(db).await;
    let (number, c) = s.owner("list@example.com").await;
    seed(&c).await;
    let all = |q: AccountQuery| {
        let c = c.clone();
        async move { c.accounts(&q).await.unwrap() }
    };
    let p1 = all(AccountQuery::default()).await;
    assert_eq!((p1.total, p1.page, p1.page_size, p1.pages), (10, 1, 10, 1));
    let exts: Vec<_> = p1.items.iter().map(|r| r.extension.as_str()).collect();
    assert_eq!(
        exts,
        ["1001", "1002", "1003", "1004", "1005", "2002", "2004", "3567", "3578", "8908"]
    );
    assert!(p1
        .items
        .iter()
        .all(|r| r.status == AccountStatus::Unregistered));

    let p = all(AccountQuery {
        page: Some(3),
        page_size: Some(4),
        ..Default::default()
    })
    .await;
    assert_eq!((p.total, p.page, p.pages), (10, 3, 3));
    assert_eq!(
        p.items.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["Jane", "Mark"]
    );
    assert_eq!(
        p.items
            .iter()
            .map(|r| r.extension.as_str())
            .collect::<Vec<_>>(),
        ["3578", "8908"]
    );
    // A page past the end shows the last page.
    assert_eq!(
        all(AccountQuery {
            page: Some(99),
            page_size: Some(4),
            ..Default::default()
        })
        .await
        .page,
        3
    );

    let by_name = all(AccountQuery {
        sort: Some(AccountSort::Name),
        ..Default::default()
    })
    .await;
    assert_eq!(by_name.items[0].name, "Anna");
    assert_eq!(by_name.items[1].name, "Bonnie");
    let desc = all(AccountQuery {
        sort: Some(AccountSort::Extension),
        desc: Some(true),
        ..Default::default()
    })
    .await;
    assert_eq!(desc.items[0].extension, "8908");
    let by_email = all(AccountQuery {
        sort: Some(AccountSort::Email),
        ..Default::default()
    })
    .await;
    assert_eq!(by_email.items[0].email.as_deref(), Some("anna@example.com"));

    // Search by any part of name, cloud number, extension or email, case-insensitive.
    let names = |p: AccountPage| p.items.into_iter().map(|r| r.name).collect::<Vec<_>>();
    let q = |s: &str| AccountQuery {
        search: Some(s.into()),
        ..Default::default()
    };
    assert_eq!(names(all(q("ANN")).await), ["Anna", "Jannie"]);
    assert_eq!(names(all(q("媛")).await), ["陈媛媛"]);
    assert_eq!(names(all(q("890")).await), ["Mark"]);
    assert_eq!(names(all(q(&format!("{number}2004"))).await), ["何以言"]);
    assert_eq!(names(all(q("MAGGIE@EXAMPLE")).await), ["Maggie"]);
    assert_eq!(all(q("zzz")).await.total, 0);
    // LIKE wildcards are taken literally.
    assert_eq!(all(q("%")).await.total, 0);
    assert_eq!(all(q("_")).await.total, 0);

    // Bad paging names the field.
    let e = err(c
        .accounts(&AccountQuery {
            page_size: Some(101),
            ..Default::default()
        })
        .await);
    assert_eq!(e.field(), Some("page_size"));
    let e = err(c
        .accounts(&AccountQuery {
            page: Some(0),
            ..Default::default()
        })
        .await);
    assert_eq!(e.field(), Some("page"));
    // A parameter of the wrong type: 422 naming it.
    let e = err(c.get::<AccountPage>("/api/v1/accounts?page=abc").await);
    assert_eq!(
        (e.status().map(|s| s.as_u16()), e.code(), e.field()),
        (Some(422), ErrorCode::InvalidInput, Some("page"))
    );
}
both!(list_paging_sorting_and_search);

async fn edit_and_resets_take_effect_at_once(db: Db) {
    let s = TestServer::start(db).await;
    let (number, c) = s.owner("edit@example.com").await;
    seed(&c).await;
    let anna = c.account_by_extension("1001").await.unwrap();

    // Edit the extension: the cloud number follows; the old number stops working.
    let moved = c
        .update_account(
            anna.id,
            &AccountUpdate {
                extension: Some("1101".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(moved.cloud_number, format!("{number}1101"));
    assert_eq!(
        err(s
            .client()
            .endpoint_login(&pw_login(&anna.cloud_number, &anna.password))
            .await)
        .code(),
        ErrorCode::InvalidCredentials
    );
    s.client()
        .endpoint_login(&pw_login(&moved.cloud_number, &anna.password))
        .await
        .unwrap();
    // Clash, bad values: field named, nothing changed.
    let e = err(c
        .update_account(
            anna.id,
            &AccountUpdate {
                extension: Some("1002".into()),
                ..Default::default()
            },
        )
        .await);
    assert_eq!(
        (e.status().unwrap().as_u16(), e.field()),
        (409, Some("extension"))
    );
    for (upd, field) in [
        (
            AccountUpdate {
                name: Some("".into()),
                ..Default::default()
            },
            "name",
        ),
        (
            AccountUpdate {
                extension: Some("12".into()),
                ..Default::default()
            },
            "extension",
        ),
        (
            AccountUpdate {
                email: Some("no-at-sign".into()),
                ..Default::default()
            },
            "email",
        ),
        (
            AccountUpdate {
                name: Some("Fine".into()),
                email: Some("a<b@x.com".into()),
                ..Default::default()
            },
            "email",
        ),
    ] {
        assert_eq!(
            err(c.update_account(anna.id, &upd).await).field(),
            Some(field)
        );
    }
    assert_eq!(c.account(anna.id).await.unwrap(), moved);
    let renamed = c
        .update_account(
            anna.id,
            &AccountUpdate {
                name: Some("Anna Li".into()),
                email: Some("".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (renamed.name.as_str(), renamed.email.as_deref()),
        ("Anna Li", None)
    );

    // Reset password: the old one stops working.
    let reset = c.reset_account_password(anna.id).await.unwrap();
    assert_ne!(reset.password, anna.password);
    assert_eq!(
        err(s
            .client()
            .endpoint_login(&pw_login(&reset.cloud_number, &anna.password))
            .await)
        .code(),
        ErrorCode::InvalidCredentials
    );
    s.client()
        .endpoint_login(&pw_login(&reset.cloud_number, &reset.password))
        .await
        .unwrap();

    // Reset pincode: the old one stops working, the new one works once.
    let old_pin = reset.pincode.clone().unwrap();
    let fresh = c.reset_account_pincode(anna.id).await.unwrap();
    let new_pin = fresh.pincode.clone().unwrap();
    assert_ne!(old_pin, new_pin);
    assert_eq!(
        err(s.client().endpoint_login(&pin_login(&old_pin)).await).code(),
        ErrorCode::PincodeInvalid
    );
    let who = s
        .client()
        .endpoint_login(&pin_login(&new_pin))
        .await
        .unwrap();
    assert_eq!(
        (
            who.display_name.as_str(),
            who.extension.as_str(),
            who.enterprise_number.as_str()
        ),
        ("Anna Li", "1101", number.as_str())
    );
    // Single use: the same pincode again gets the same error as an unknown one.
    let reuse = err(s.client().endpoint_login(&pin_login(&new_pin)).await);
    let unknown = err(s.client().endpoint_login(&pin_login("000000000")).await);
    assert_eq!(
        (reuse.code(), reuse.status()),
        (unknown.code(), unknown.status())
    );
    assert_eq!(
        c.account(anna.id).await.unwrap().pincode_state,
        PincodeState::Used
    );
}
both!(edit_and_resets_take_effect_at_once);

async fn pincode_expires_after_seven_days(db: Db) {
    let s = TestServer::start(db).await;
    let (_, c) = s.owner("pin@example.com").await;
    c.add_license(&s.issue_license(10, 1).await).await.unwrap();
    let a = c.add_account(&new("Anna", "1001", None)).await.unwrap();
    let b = c.add_account(&new("Bonnie", "1002", None)).await.unwrap();
    s.advance(7 * DAY);
    // Exactly 7 days: still valid.
    s.client()
        .endpoint_login(&pin_login(b.pincode.as_ref().unwrap()))
        .await
        .unwrap();
    s.advance(SECOND);
    let e = err(s
        .client()
        .endpoint_login(&pin_login(a.pincode.as_ref().unwrap()))
        .await);
    assert_eq!(e.code(), ErrorCode::PincodeInvalid);
    let c = s.login("pin@example.com", "secret123").await.unwrap();
    assert_eq!(
        c.account(a.id).await.unwrap().pincode_state,
        PincodeState::Expired
    );
    // A reset gives 7 new days.
    let fresh = c.reset_account_pincode(a.id).await.unwrap();
    s.client()
        .endpoint_login(&pin_login(fresh.pincode.as_ref().unwrap()))
        .await
        .unwrap();
}
both!(pincode_expires_after_seven_days);

async fn remove_is_all_or_nothing(db: Db) {
    let s = TestServer::start(db).await;
    let (_, c) = s.owner("rm@example.com").await;
    seed(&c).await;
    let ids: Vec<i64> = c
        .accounts(&AccountQuery::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|r| r.id)
        .collect();
    let victim = c.account(ids[0]).await.unwrap();
    let e = err(c.remove_accounts(&[ids[0], ids[1], 999_999]).await);
    assert_eq!(
        (e.status().unwrap().as_u16(), e.field()),
        (404, Some("ids"))
    );
    assert!(
        e.to_string().contains("999999") && e.to_string().contains("nothing was removed"),
        "{e}"
    );
    assert_eq!(
        c.accounts(&AccountQuery::default()).await.unwrap().total,
        10
    );
    let r = c.remove_accounts(&[ids[0], ids[1]]).await.unwrap();
    assert_eq!(r.removed, 2);
    let page = c.accounts(&AccountQuery::default()).await.unwrap();
    assert_eq!((page.total, page.quota.used), (8, 8));
    // The removed cloud number stops working at once.
    let e = err(s
        .client()
        .endpoint_login(&pw_login(&victim.cloud_number, &victim.password))
        .await);
    assert_eq!(e.code(), ErrorCode::InvalidCredentials);
    assert_eq!(err(c.account(ids[0]).await).status().unwrap().as_u16(), 404);
}
both!(remove_is_all_or_nothing);

async fn enterprises_do_not_see_each_other(db: Db) {
    let s = TestServer::start(db).await;
    let (_, a) = s.owner("a@example.com").await;
    let (_, b) = s.owner("b@example.com").await;
    let anna = a
        .add_account(&new("Anna", "1001", Some("anna@a.com")))
        .await
        .unwrap();
    // B may use the same extension: extensions are unique within an enterprise.
    b.add_account(&new("Other Anna", "1001", None))
        .await
        .unwrap();
    for e in [
        err(b.account(anna.id).await),
        err(b
            .update_account(
                anna.id,
                &AccountUpdate {
                    name: Some("x".into()),
                    ..Default::default()
                },
            )
            .await),
        err(b.reset_account_password(anna.id).await),
        err(b.reset_account_pincode(anna.id).await),
        err(b.remove_accounts(&[anna.id]).await),
        err(b
            .send_account_emails(&SendEmailRequest {
                ids: vec![anna.id],
                ..Default::default()
            })
            .await),
    ] {
        assert_eq!(e.status().unwrap().as_u16(), 404, "{e}");
        assert!(!e.to_string().contains("Anna"), "{e}");
    }
    let page = b
        .accounts(&AccountQuery {
            search: Some("anna".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        page.items
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>(),
        ["Other Anna"]
    );
    assert_eq!(a.account(anna.id).await.unwrap(), anna);
}
both!(enterprises_do_not_see_each_other);

async fn account_emails_and_failed_list(db: Db) {
    let smtp = Smtp::start();
    smtp.policy
        .lock()
        .unwrap()
        .reject
        .insert("mark@example.com".into());
    let s = TestServer::start_with(db, smtp, |_| {}).await;
    let (_, c) = s.owner("mail@example.com").await;
    seed(&c).await;
    let nomail = c.add_account(&new("No Mail", "4000", None)).await.unwrap();

    // To a list: accounts without email are reported, not skipped silently.
    let anna = c.account_by_extension("1001").await.unwrap();
    let r = c
        .send_account_emails(&SendEmailRequest {
            ids: vec![anna.id, nomail.id],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(r.queued, 1);
    assert_eq!(
        r.without_email,
        vec![AccountRef {
            id: nomail.id,
            name: "No Mail".into(),
            extension: "4000".into()
        }]
    );
    s.smtp.wait_for("anna@example.com", 1).await;

    // To every account matching a search: one outbox message each.
    let before = s.outbox().await.len();
    let r = c
        .send_account_emails(&SendEmailRequest {
            all: true,
            search: Some("ma".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    // Maggie, Mark, Mars (and nobody without email matches "ma" except... none)
    assert_eq!(r.queued, 3, "{r:?}");
    assert_eq!(s.outbox().await.len(), before + 3);
    s.smtp.wait_for("maggie@example.com", 1).await;

    // Mark's server says 550: the email lands in the failed list with the reason.
    let mut failed = None;
    for _ in 0..100 {
        let l = c.failed_emails().await.unwrap();
        if l.total == 1 {
            failed = Some(l.items[0].clone());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let f = failed.expect("no failed email");
    assert_eq!(f.recipient, "mark@example.com");
    assert_eq!(f.account.as_deref(), Some("Mark (8908)"));
    assert!(f.reason.contains("550"), "{}", f.reason);
    assert!(!f.failed_at.is_empty());

    // Resend after the server accepts: delivered and gone from the list, with the password
    // as it is now.
    s.smtp.policy.lock().unwrap().reject.clear();
    let mark = c
        .reset_account_password(c.account_by_extension("8908").await.unwrap().id)
        .await
        .unwrap();
    assert_eq!(c.resend_failed_emails(&[f.id]).await.unwrap().count, 1);
    let mail = s.smtp.wait_for("mark@example.com", 1).await;
    assert!(mail.text.contains(&mark.password));
    assert_eq!(c.failed_emails().await.unwrap().total, 0);

    // Delete from the list; unknown ids change nothing.
    s.smtp
        .policy
        .lock()
        .unwrap()
        .reject
        .insert("jane@example.com".into());
    let jane = c.account_by_extension("3578").await.unwrap();
    c.send_account_emails(&SendEmailRequest {
        ids: vec![jane.id],
        ..Default::default()
    })
    .await
    .unwrap();
    let mut id = None;
    for _ in 0..100 {
        if let Some(f) = c.failed_emails().await.unwrap().items.first() {
            id = Some(f.id);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let id = id.unwrap();
    assert_eq!(
        err(c.delete_failed_emails(&[id, 424242]).await).field(),
        Some("ids")
    );
    assert_eq!(c.failed_emails().await.unwrap().total, 1);
    assert_eq!(c.delete_failed_emails(&[id]).await.unwrap().count, 1);
    assert_eq!(c.failed_emails().await.unwrap().total, 0);
}
both!(account_emails_and_failed_list);

/// Passwords and pincodes are encrypted at rest: the SQLite file holds neither in clear.
#[tokio::test]
async fn secrets_are_not_in_the_database_file() {
    let s = TestServer::start(Db::Sqlite).await;
    let (_, c) = s.owner("rest@example.com").await;
    let mut secrets = vec![];
    for (n, e, m) in GUIDE {
        let mut req = new(n, e, Some(m));
        req.send_email = true;
        let a = c.add_account(&req).await.unwrap();
        secrets.push(a.password);
        secrets.push(a.pincode.unwrap());
    }
    s.smtp.wait_for("he@example.com", 1).await;
    // Checkpoint the WAL so everything is in the files we read.
    let mut conn = s.running.app.store.conn().await.unwrap();
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    let mut bytes = std::fs::read(s.dir.path().join("vcms.db")).unwrap();
    if let Ok(wal) = std::fs::read(s.dir.path().join("vcms.db-wal")) {
        bytes.extend(wal);
    }
    assert!(bytes.len() > 10_000);
    for secret in &secrets {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} found in clear"
        );
    }
    // The names are there in clear (sanity check that we read the right file).
    assert!(bytes.windows(5).any(|w| w == b"Bonni"));
}

async fn pincode_guessing_is_throttled(db: Db) {
    let s = TestServer::start(db).await;
    let (_, c) = s.owner("guess@example.com").await;
    let a = c.add_account(&new("Anna", "1001", None)).await.unwrap();
    for i in 0..20 {
        let e = err(s
            .client()
            .endpoint_login(&pin_login(&format!("{:09}", i)))
            .await);
        assert_eq!(e.code(), ErrorCode::PincodeInvalid);
    }
    // The 21st try from the same address is throttled, even with the right pincode.
    let e = err(s
        .client()
        .endpoint_login(&pin_login(a.pincode.as_ref().unwrap()))
        .await);
    assert_eq!(
        (e.status().unwrap().as_u16(), e.code()),
        (429, ErrorCode::Throttled)
    );
    assert!(e.body().unwrap().retry_after_secs.unwrap() > 0);
    s.advance(10 * 60 * SECOND);
    s.client()
        .endpoint_login(&pin_login(a.pincode.as_ref().unwrap()))
        .await
        .unwrap();
}
both!(pincode_guessing_is_throttled);

async fn next(
    st: &mut vcms_api::client::EventStream,
) -> Result<
    Option<vcms_api::client::ClientResult<vcms_api::client::StreamItem>>,
    tokio::time::error::Elapsed,
> {
    next_within(st, std::time::Duration::from_secs(1)).await
}

/// The next item of a stream, waiting `wait` at most.
pub(crate) async fn next_within(
    st: &mut vcms_api::client::EventStream,
    wait: std::time::Duration,
) -> Result<
    Option<vcms_api::client::ClientResult<vcms_api::client::StreamItem>>,
    tokio::time::error::Elapsed,
> {
    tokio::time::timeout(wait, st.next()).await
}

async fn changes_are_streamed_to_consoles_of_the_same_enterprise(db: Db) {
    use vcms_api::client::StreamItem;
    let s = TestServer::start(db).await;
    let (_, a) = s.owner("live@example.com").await;
    let (_, b) = s.owner("other@example.com").await;
    let mut a_events = a.events(None).await.unwrap();
    let mut b_events = b.events(None).await.unwrap();
    let anna = a.add_account(&new("Anna", "1001", None)).await.unwrap();
    match next(&mut a_events).await {
        Ok(Some(Ok(StreamItem::Change(ev)))) => assert_eq!(
            (ev.kind, ev.account_id),
            (EventKind::AccountAdded, Some(anna.id))
        ),
        other => panic!("no event within a second: {other:?}"),
    }
    a.update_account(
        anna.id,
        &AccountUpdate {
            name: Some("Anna Li".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    match next(&mut a_events).await {
        Ok(Some(Ok(StreamItem::Change(ev)))) => assert_eq!(ev.kind, EventKind::AccountChanged),
        other => panic!("no event within a second: {other:?}"),
    }
    a.remove_accounts(&[anna.id]).await.unwrap();
    match next(&mut a_events).await {
        Ok(Some(Ok(StreamItem::Change(ev)))) => assert_eq!(ev.kind, EventKind::AccountRemoved),
        other => panic!("no event within a second: {other:?}"),
    }
    // The other enterprise hears nothing.
    assert!(
        next(&mut b_events).await.is_err(),
        "another enterprise's change leaked"
    );
    // Without a session there is no stream.
    assert_eq!(
        err(s.client().events(None).await)
            .status()
            .unwrap()
            .as_u16(),
        401
    );
}
both!(changes_are_streamed_to_consoles_of_the_same_enterprise);

/// A client that does not ask for a stream (`Accept: text/event-stream`) gets the changes as
/// JSON and the id to poll after next, at once, instead of a response that never ends: a
/// script can poll, and the endpoint directory's changes come the same way.
async fn changes_can_be_polled_as_json(db: Db) {
    let s = TestServer::start(db).await;
    let (_, a) = s.owner("poll@example.com").await;
    let (_, b) = s.owner("poll-other@example.com").await;
    let http = reqwest::Client::new();
    let poll = |c: &Client, path: &str| {
        let req = http
            .get(format!("{}{path}", s.url))
            .bearer_auth(c.token().unwrap_or_default())
            .header("Accept", "application/json");
        async move {
            let r = tokio::time::timeout(std::time::Duration::from_secs(5), req.send())
                .await
                .expect("a JSON answer at once, not a stream")
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
            assert!(r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"));
            tokio::time::timeout(
                std::time::Duration::from_secs(5),
                r.json::<serde_json::Value>(),
            )
            .await
            .expect("the body ends")
            .unwrap()
        }
    };
    // From now: nothing yet, and where to start.
    let first = poll(&a, "/api/v1/events").await;
    assert_eq!(first["changes"], serde_json::json!([]));
    let from = first["last_id"].as_i64().unwrap();
    let anna = a.add_account(&new("Anna", "1001", None)).await.unwrap();
    let page = poll(&a, &format!("/api/v1/events?after={from}")).await;
    let changes = page["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{page}");
    assert_eq!(changes[0]["kind"], "account_added");
    assert_eq!(changes[0]["account_id"], anna.id);
    let next = page["last_id"].as_i64().unwrap();
    assert!(next > from);
    // Nothing new after the last id; another enterprise sees none of it.
    let again = poll(&a, &format!("/api/v1/events?after={next}")).await;
    assert_eq!(again["changes"], serde_json::json!([]));
    assert_eq!(again["last_id"].as_i64(), Some(next));
    let other = poll(&b, "/api/v1/events?after=0").await;
    assert_eq!(other["changes"], serde_json::json!([]), "{other}");

    // The endpoint directory: the same, with the endpoint's sign-in token.
    let login = s
        .client()
        .endpoint_login(&EndpointLoginRequest {
            cloud_number: Some(anna.cloud_number.clone()),
            password: Some(anna.password.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    let ep = s.client().with_token(login.token.clone());
    let first = poll(&ep, "/endpoint/v1/directory/events").await;
    let from = first["last_id"].as_i64().unwrap();
    a.update_account(
        anna.id,
        &AccountUpdate {
            name: Some("Anna Li".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let page = poll(&ep, &format!("/endpoint/v1/directory/events?after={from}")).await;
    let changes = page["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{page}");
    assert_eq!(changes[0]["kind"], "changed");
    assert_eq!(changes[0]["entry"]["name"], "Anna Li");
}
both!(changes_can_be_polled_as_json);
