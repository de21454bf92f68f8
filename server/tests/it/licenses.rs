//! Licenses: binding, errors, status, quota, revocation, expiry warnings, trial purge.

use crate::both;
use crate::common::*;
use vcms_api::{ErrorCode, LicenseStatus, QuotaBasis};
use vcms_server::clock::{DAY, SECOND};

async fn bind_license_and_quota(db: Db) {
    let s = TestServer::start(db).await;
    let (_, a) = s.owner("a@example.com").await;
    let (_, b) = s.owner("b@example.com").await;
    let n = s.issue_license(1000, 2).await;
    assert_eq!(n.len(), 24);

    // Case-insensitive, with or without the dashes of the printed form.
    let typed = vcms_server::license_number::display(&n).to_lowercase();
    let r = a.add_license(&typed).await.unwrap();
    assert_eq!(r.message, "License binding successfully");
    assert_eq!(
        (r.license.status, r.license.quantity, r.license.years),
        (LicenseStatus::Activated, 1000, 2)
    );
    assert_eq!(r.quota.quota, 1000);
    assert_eq!(r.quota.basis, QuotaBasis::Licensed);
    assert_eq!(a.enterprise().await.unwrap().quota.can_add, 1000);

    // Distinct, clear errors.
    let e = err(a.add_license(&n).await);
    assert_eq!(
        (e.status().unwrap().as_u16(), e.field()),
        (409, Some("license_number"))
    );
    assert!(e.to_string().contains("your enterprise"), "{e}");
    let e = err(b.add_license(&n).await);
    assert!(e.to_string().contains("another enterprise"), "{e}");
    let mut typo = n.clone().into_bytes();
    typo[3] = if typo[3] == b'A' { b'B' } else { b'A' };
    let e = err(b.add_license(std::str::from_utf8(&typo).unwrap()).await);
    assert_eq!(
        (e.status().unwrap().as_u16(), e.field()),
        (422, Some("license_number"))
    );
    let e = err(b.add_license("ABC").await);
    assert!(e.to_string().contains("24 characters"), "{e}");
    let unknown = vcms_server::license_number::generate();
    assert_eq!(
        err(b.add_license(&unknown).await).code(),
        ErrorCode::LicenseUnknown
    );
    let revoked = s.issue_license(10, 1).await;
    vcms_server::service::license::revoke(&s.running.app, &revoked)
        .await
        .unwrap();
    assert_eq!(
        err(b.add_license(&revoked).await).code(),
        ErrorCode::LicenseRevoked
    );
    // b is still on its trial.
    assert_eq!(b.enterprise().await.unwrap().quota.quota, 20);

    // Two licenses add up; revoking one takes its quantity away at once.
    let second = s.issue_license(50, 1).await;
    a.add_license(&second).await.unwrap();
    assert_eq!(a.enterprise().await.unwrap().quota.quota, 1050);
    vcms_server::service::license::revoke(&s.running.app, &second)
        .await
        .unwrap();
    let list = a.licenses().await.unwrap();
    assert_eq!(list.quota.quota, 1000);
    let statuses: Vec<_> = list
        .licenses
        .iter()
        .map(|l| (l.quantity, l.status))
        .collect();
    assert_eq!(
        statuses,
        vec![
            (1000, LicenseStatus::Activated),
            (50, LicenseStatus::Revoked)
        ]
    );
    assert!(list.licenses[0].note.is_none());
    assert!(list.licenses[0].start.is_some() && list.licenses[0].end.is_some());
    assert_eq!(list.licenses[0].days_left, 730);

    // Near the end: a note, then expired; the trial is long over, so nothing is in force.
    s.advance(710 * DAY);
    let a = s.login("a@example.com", "secret123").await.unwrap();
    let list = a.licenses().await.unwrap();
    assert_eq!(list.licenses[0].days_left, 20);
    assert_eq!(
        list.licenses[0].note.as_deref(),
        Some("Only 20 days left, contact your reseller to renew")
    );
    s.advance(20 * DAY + SECOND);
    let a = s.login("a@example.com", "secret123").await.unwrap();
    let list = a.licenses().await.unwrap();
    assert_eq!(list.licenses[0].status, LicenseStatus::Expired);
    assert!(!list.quota.in_force);
    assert_eq!(list.quota.quota, 0);
}
both!(bind_license_and_quota);

async fn expiry_warning_is_sent_once_five_days_before(db: Db) {
    let s = TestServer::start(db).await;
    let (number, a) = s.owner("warn@example.com").await;
    let n = s.issue_license(100, 1).await;
    a.add_license(&n).await.unwrap();
    s.run_jobs().await;
    assert_eq!(
        s.smtp.mails_to("warn@example.com").len(),
        1,
        "only the activation email so far"
    );

    s.advance(365 * DAY - 6 * DAY);
    assert_eq!(s.run_jobs().await.expiry_warnings, 0);
    s.advance(DAY + SECOND);
    assert_eq!(s.run_jobs().await.expiry_warnings, 1);
    let mail = s.smtp.wait_for("warn@example.com", 2).await;
    assert!(mail.subject.contains("5 days"), "{}", mail.subject);
    assert!(mail.text.contains(&number));
    assert!(mail.text.contains("Contact your reseller"), "{}", mail.text);
    // Once per license.
    s.advance(DAY);
    assert_eq!(s.run_jobs().await.expiry_warnings, 0);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(s.smtp.mails_to("warn@example.com").len(), 2);
}
both!(expiry_warning_is_sent_once_five_days_before);

async fn unlicensed_trial_is_warned_then_purged_after_three_months(db: Db) {
    let s = TestServer::start(db).await;
    let (number, _) = s.owner("purge@example.com").await;
    let (_, kept) = s.owner("kept@example.com").await;
    kept.add_license(&s.issue_license(10, 5).await)
        .await
        .unwrap();

    s.advance(30 * DAY + 83 * DAY - SECOND);
    assert_eq!(s.run_jobs().await.purge_warnings, 0);
    s.advance(2 * SECOND);
    let r = s.run_jobs().await;
    assert_eq!((r.purge_warnings, r.purged), (1, 0));
    let mail = s.smtp.wait_for("purge@example.com", 2).await;
    assert!(mail.subject.contains(&number));
    assert_eq!(s.run_jobs().await.purge_warnings, 0, "warned once");
    // The owner can still sign in until the purge.
    s.login("purge@example.com", "secret123").await.unwrap();

    s.advance(7 * DAY);
    assert_eq!(s.run_jobs().await.purged, 1);
    assert_eq!(
        err(s.login("purge@example.com", "secret123").await).code(),
        ErrorCode::InvalidCredentials
    );
    // An enterprise that activated a license is kept.
    s.login("kept@example.com", "secret123").await.unwrap();
}
both!(unlicensed_trial_is_warned_then_purged_after_three_months);
