//! Bulk add and batch edit through POST /api/v1/accounts/batch: the preview (dry run) per
//! row, every error kind, all or nothing, quota, idempotent retries, and the size limits.

use crate::both;
use crate::common::*;
use vcms_api::client::Client;
use vcms_api::*;

fn row(n: i64, name: &str, ext: &str, email: Option<&str>) -> BatchRow {
    BatchRow {
        name: name.into(),
        extension: ext.into(),
        email: email.map(Into::into),
        row: Some(n),
    }
}

fn req(rows: Vec<BatchRow>, dry_run: bool) -> BatchRequest {
    BatchRequest {
        rows,
        dry_run,
        send_email: false,
    }
}

/// Everything a failed import must leave alone: row counts and every account as listed.
async fn snapshot(s: &TestServer, c: &Client) -> (Vec<(String, i64)>, String) {
    let page = c
        .accounts(&AccountQuery {
            page_size: Some(100),
            ..Default::default()
        })
        .await
        .unwrap();
    (
        s.counts().await,
        serde_json::to_string(&page.items).unwrap(),
    )
}

async fn with_accounts(s: &TestServer, email: &str) -> Client {
    let (_, c) = s.owner(email).await;
    for (n, e, m) in [
        ("Anna", "1001", Some("anna@example.com")),
        ("Bonnie", "1002", None),
    ] {
        c.add_account(&NewAccount {
            name: n.into(),
            extension: e.into(),
            email: m.map(Into::into),
            send_email: false,
        })
        .await
        .unwrap();
    }
    c
}

async fn preview_names_every_row_and_a_bad_file_changes_nothing(db: Db) {
    let s = TestServer::start(db).await;
    let c = with_accounts(&s, "preview@example.com").await;
    let before = snapshot(&s, &c).await;

    // A clean file: one create, one update (what changes, old → new), one unchanged.
    let good = vec![
        row(2, "陈媛媛", "2002", Some("chenyy@163.com")),
        row(3, "Anna", "1001", Some("anna@163.com")),
        row(5, "Bonnie", "1002", None),
    ];
    let r = c.batch_accounts(&req(good.clone(), true)).await.unwrap();
    assert!(!r.applied && r.errors.is_empty(), "{r:?}");
    assert_eq!((r.created, r.updated, r.unchanged), (1, 1, 1));
    assert_eq!(r.message, "Ready: 1 to create, 1 to update, 1 unchanged");
    let plan: Vec<(i64, RowAction, &str)> = r
        .plan
        .iter()
        .map(|p| (p.row, p.action, p.extension.as_str()))
        .collect();
    assert_eq!(
        plan,
        vec![
            (2, RowAction::Create, "2002"),
            (3, RowAction::Update, "1001"),
            (5, RowAction::Unchanged, "1002")
        ]
    );
    assert_eq!(
        r.plan[1].diff,
        vec![FieldChange {
            field: "email".into(),
            old: Some("anna@example.com".into()),
            new: Some("anna@163.com".into()),
        }]
    );
    assert_eq!(snapshot(&s, &c).await, before, "a dry run writes nothing");

    // Every error kind, with the spreadsheet's row numbers and the template's columns.
    let long = "A".repeat(65);
    let mut bad = good.clone();
    bad.extend([
        row(7, "", "1003", None),
        row(8, "Clare", "12a4", None),
        row(9, "Dora", "1004", Some("dora<at>example.com")),
        row(10, "Eve", "2002", None),
        row(11, &long, "1005", None),
    ]);
    for dry_run in [true, false] {
        let r = c.batch_accounts(&req(bad.clone(), dry_run)).await.unwrap();
        assert!(!r.applied);
        assert_eq!(r.message, "Nothing was imported: 5 problem(s) to fix");
        let errs: Vec<(i64, &str)> = r
            .errors
            .iter()
            .map(|e| (e.row, e.column.as_str()))
            .collect();
        assert_eq!(
            errs,
            vec![
                (7, "Name"),
                (8, "Extension"),
                (9, "Email"),
                (10, "Extension"),
                (11, "Name")
            ]
        );
        assert!(r.errors[1].reason.contains("4 digits"), "{:?}", r.errors[1]);
        assert!(
            r.errors[3].reason.contains("first in row 2"),
            "{:?}",
            r.errors[3]
        );
        assert!(r.errors[4].reason.contains("64"), "{:?}", r.errors[4]);
        let actions: Vec<RowAction> = r.plan.iter().map(|p| p.action).collect();
        use RowAction::{Create, Error, Unchanged, Update};
        assert_eq!(
            actions,
            [Create, Update, Unchanged, Error, Error, Error, Error, Error]
        );
        assert_eq!(r.plan[6].extension, "2002");
        assert_eq!(snapshot(&s, &c).await, before, "nothing is written");
    }

    // The clean file applies in one go; rows without `row` are numbered by position.
    let r = c.batch_accounts(&req(good, false)).await.unwrap();
    assert!(r.applied);
    assert_eq!(
        r.message,
        "Import 2 account(s) successfully (1 created, 1 updated)"
    );
    let d = c.account_by_extension("2002").await.unwrap();
    assert_eq!(d.name, "陈媛媛");
    assert_eq!(
        c.account_by_extension("1001")
            .await
            .unwrap()
            .email
            .as_deref(),
        Some("anna@163.com")
    );
    let mut plain = row(0, "Bad", "1", None);
    plain.row = None;
    let r = c
        .batch_accounts(&req(vec![row(2, "Ok", "3001", None), plain], true))
        .await
        .unwrap();
    assert_eq!(r.errors[0].row, 2, "second in the list");
}
both!(preview_names_every_row_and_a_bad_file_changes_nothing);

async fn quota_overflow_says_how_many_can_be_added(db: Db) {
    let s = TestServer::start(db).await;
    let c = with_accounts(&s, "quota@example.com").await;
    let before = snapshot(&s, &c).await;
    let rows: Vec<BatchRow> = (0..19)
        .map(|i| row(i + 2, &format!("User {i}"), &format!("{}", 5000 + i), None))
        .collect();
    let r = c.batch_accounts(&req(rows, false)).await.unwrap();
    assert!(!r.applied);
    assert_eq!(r.errors.len(), 1);
    assert_eq!((r.errors[0].row, r.errors[0].column.as_str()), (0, "Rows"));
    assert!(
        r.errors[0]
            .reason
            .contains("19 new account(s) but only 18 can be added"),
        "{:?}",
        r.errors
    );
    assert_eq!(snapshot(&s, &c).await, before);
}
both!(quota_overflow_says_how_many_can_be_added);

async fn a_retried_apply_with_the_same_key_imports_once(db: Db) {
    let s = TestServer::start(db).await;
    let c = with_accounts(&s, "idem@example.com").await;
    let rows = vec![
        row(2, "Clare", "1003", Some("clare@example.com")),
        row(3, "Anna", "1001", Some("anna@163.com")),
    ];
    // A dry run with a key stores nothing.
    let mut dry = req(rows.clone(), true);
    let r = c.batch_accounts_once(&dry, "key-1").await.unwrap();
    assert!(!r.applied && !r.replayed);
    dry.dry_run = false;
    let first = c.batch_accounts_once(&dry, "key-1").await.unwrap();
    assert!(first.applied && !first.replayed);
    assert_eq!((first.created, first.updated), (1, 1));
    let after = snapshot(&s, &c).await;
    let again = c.batch_accounts_once(&dry, "key-1").await.unwrap();
    assert!(again.replayed && again.applied);
    assert_eq!(again.message, first.message);
    assert_eq!((again.created, again.updated), (1, 1));
    assert_eq!(snapshot(&s, &c).await, after, "not applied twice");

    // The same key with other rows: refused, nothing written.
    let other = req(vec![row(2, "Dora", "1004", None)], false);
    let e = err(c.batch_accounts_once(&other, "key-1").await);
    assert_eq!(e.status().map(|s| s.as_u16()), Some(409));
    assert_eq!(e.field(), Some("Idempotency-Key"));
    assert!(e.to_string().contains("different import"), "{e}");
    assert_eq!(snapshot(&s, &c).await, after);

    // Keys belong to an enterprise: another one may use the same key.
    let (_, c2) = s.owner("idem2@example.com").await;
    let r = c2.batch_accounts_once(&dry, "key-1").await.unwrap();
    assert!(r.applied && !r.replayed && r.created == 2);

    let e = err(c.batch_accounts_once(&other, "bad key").await);
    assert_eq!(e.field(), Some("Idempotency-Key"));
}
both!(a_retried_apply_with_the_same_key_imports_once);

async fn limits_on_rows_and_body_size(db: Db) {
    let s = TestServer::start_with(db, Smtp::start(), |cfg| {
        cfg.import.max_rows = 5;
        cfg.import.max_body_bytes = 64 * 1024;
    })
    .await;
    let c = with_accounts(&s, "limits@example.com").await;
    let rows: Vec<BatchRow> = (0..6)
        .map(|i| row(i + 2, "X", &format!("{}", 5000 + i), None))
        .collect();
    let e = err(c.batch_accounts(&req(rows, true)).await);
    assert_eq!(
        (e.code(), e.field()),
        (ErrorCode::InvalidInput, Some("rows"))
    );
    assert!(e.to_string().contains("at most 5 rows"), "{e}");
    let big = vec![row(2, &"x".repeat(70_000), "5000", None)];
    let e = err(c.batch_accounts(&req(big, true)).await);
    assert_eq!(e.status().map(|s| s.as_u16()), Some(413));
    assert_eq!(e.code(), ErrorCode::TooLarge);
    assert!(e.to_string().contains("fewer rows"), "{e}");
}
both!(limits_on_rows_and_body_size);
