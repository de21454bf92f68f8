//! `vcms-server backup` and `restore`, the real binary on the embedded database: a backup
//! taken while the server is busy restores into a fresh directory with every account,
//! secret and binding readable; what must not be restored is refused with the reason.

use std::process::Command;
use std::time::Duration;

use crate::process::{bin, printed_addr, run, signed_in, spawn_logged, udp_ua, url_of};
use vcms_api::client::Client;

/// `vcms-server serve` on the data in `dir` (log in `dir/server.log`, warnings only): the
/// child and the lines it printed as it started.
fn serve_in(dir: &std::path::Path) -> (std::process::Child, Vec<String>) {
    let mut c = bin();
    c.env("VCMS_DATA_DIR", dir)
        .env("VCMS_HTTP_LISTEN", "127.0.0.1:0")
        .env("VCMS_LOG", "warn");
    spawn_logged(c.arg("serve"), &dir.join("server.log"))
}

fn stop(child: &mut std::process::Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

fn create_enterprise(dir: &std::path::Path) {
    let (ok, _, err) = run(
        dir,
        &[
            "enterprise",
            "create",
            "--email",
            "backup@example.com",
            "--password",
            "secret123",
            "--name",
            "Bea",
            "--company",
            "Backup Co",
            "--country",
            "NL",
        ],
    );
    assert!(ok, "{err}");
}

async fn owner(url: &str) -> Client {
    signed_in(url, "backup@example.com").await
}

fn new_account(i: usize) -> vcms_api::NewAccount {
    vcms_api::NewAccount {
        name: format!("User {i}"),
        extension: format!("{}", 1001 + i),
        email: None,
        send_email: false,
    }
}

#[test]
fn a_backup_taken_under_load_restores_into_a_fresh_directory() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let a = tempfile::tempdir().unwrap();
    create_enterprise(a.path());
    let (mut server, printed) = serve_in(a.path());
    let url = url_of(&printed);
    let udp = printed_addr(&printed, "sip udp:");
    let backup = a.path().join("nightly.vcms-backup");

    // Five accounts and a registered device, then more accounts added while the backup runs.
    let (before, busy) = rt.block_on(async {
        let c = owner(&url).await;
        let mut before = Vec::new();
        for i in 0..5 {
            before.push(c.add_account(&new_account(i)).await.unwrap());
        }
        let first = &before[0];
        let mut ua = udp_ua(udp, &first.cloud_number, &first.password).await;
        assert_eq!(ua.register(Some(3600)).await.unwrap().code, 200);
        // Bindings reach the database before the 200.
        let busy = tokio::spawn(async move {
            let mut added = 0;
            for i in 5..15 {
                if c.add_account(&new_account(i)).await.is_ok() {
                    added += 1;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            added
        });
        (before, busy)
    });
    let (ok, out, err) = run(a.path(), &["backup", backup.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("keep the secret key"), "{out}");
    let added = rt.block_on(busy).unwrap();
    assert_eq!(added, 10);
    // A backup never overwrites.
    let (ok, _, err) = run(a.path(), &["backup", backup.to_str().unwrap()]);
    assert!(!ok && err.contains("exists"), "{err}");
    // Restoring over a running server is refused.
    let (ok, _, err) = run(a.path(), &["restore", backup.to_str().unwrap()]);
    assert!(!ok && err.contains("stop it first"), "{err}");
    stop(&mut server);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the backup holds the data: owner-only");
    }

    // A fresh directory without the key: refused, and nothing is put in place.
    let b = tempfile::tempdir().unwrap();
    let (ok, _, err) = run(b.path(), &["restore", backup.to_str().unwrap()]);
    assert!(!ok && err.contains("no secret key"), "{err}");
    assert!(!b.path().join("vcms.db").exists());
    // Another key: refused.
    let other = tempfile::tempdir().unwrap();
    std::fs::write(
        other.path().join("secret.key"),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    )
    .unwrap();
    let (ok, _, err) = run(other.path(), &["restore", backup.to_str().unwrap()]);
    assert!(!ok && err.contains("another secret key"), "{err}");
    assert!(!other.path().join("vcms.db").exists());
    // Not a backup at all: refused.
    std::fs::copy(a.path().join("secret.key"), b.path().join("secret.key")).unwrap();
    let junk = b.path().join("junk.db");
    std::fs::write(&junk, b"this is not a database").unwrap();
    let (ok, _, err) = run(b.path(), &["restore", junk.to_str().unwrap()]);
    assert!(!ok && err.contains("not a vcms backup"), "{err}");
    // The live database itself is not a backup either (no label).
    let (ok, _, err) = run(
        b.path(),
        &["restore", a.path().join("vcms.db").to_str().unwrap()],
    );
    assert!(!ok && err.contains("not a vcms backup"), "{err}");

    // With the key beside it: restored.
    let (ok, out, err) = run(b.path(), &["restore", backup.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("restored"), "{out}");
    let (mut restored, printed) = serve_in(b.path());
    let url = url_of(&printed);
    rt.block_on(async {
        let c = owner(&url).await;
        let page = c
            .accounts(&vcms_api::AccountQuery {
                page_size: Some(100),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(
            (5..=15).contains(&page.total),
            "{} accounts restored",
            page.total
        );
        for want in &before {
            let got = c.account(want.id).await.unwrap();
            assert_eq!(got.cloud_number, want.cloud_number);
            assert_eq!(got.password, want.password, "sealed secrets open");
        }
        let first = c.account(before[0].id).await.unwrap();
        assert_eq!(first.bindings.len(), 1, "the registered device: {first:?}");
    });
    stop(&mut restored);

    // A backup from a newer schema is refused.
    let newer = b.path().join("newer.vcms-backup");
    std::fs::copy(&backup, &newer).unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let url = format!("sqlite://{}", newer.display());
        let mut c = sqlx::AnyConnection::connect(&url).await.unwrap();
        sqlx::query("UPDATE vcms_backup SET schema = 999999")
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    });
    let (ok, _, err) = run(b.path(), &["restore", newer.to_str().unwrap()]);
    assert!(!ok && err.contains("newer vcms"), "{err}");
}

/// `doctor` prints one line per check, and a failing one with its fix: here a secret key
/// that does not open the data.
#[test]
fn doctor_names_what_is_wrong_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    create_enterprise(dir.path());
    // An account's secrets are sealed once one exists: add one through a short serve.
    let (mut server, printed) = serve_in(dir.path());
    let url = url_of(&printed);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = owner(&url).await;
        c.add_account(&new_account(0)).await.unwrap();
    });
    stop(&mut server);

    // The console over SSH: its host key's fingerprint as printed at start, the key 0600.
    let mut sh = bin();
    sh.env("VCMS_DATA_DIR", dir.path())
        .env("VCMS_HTTP_LISTEN", "127.0.0.1:0")
        .env("VCMS_SSH_LISTEN", "127.0.0.1:0")
        .env("VCMS_LOG", "warn");
    let (mut server, printed) = spawn_logged(sh.arg("serve"), &dir.path().join("server.log"));
    stop(&mut server);
    let line = printed
        .iter()
        .find(|l| l.contains("ssh console:"))
        .unwrap_or_else(|| panic!("no ssh line in {printed:?}"));
    let fingerprint = line
        .split_whitespace()
        .find(|w| w.starts_with("SHA256:"))
        .unwrap()
        .trim_end_matches(')')
        .to_string();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let m = std::fs::metadata(dir.path().join("ssh_host_ed25519_key")).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o600);
    }
    let mut doctor = bin();
    doctor
        .env("VCMS_DATA_DIR", dir.path())
        .env("VCMS_SSH_LISTEN", "127.0.0.1:0");
    let out = doctor.arg("doctor").output().unwrap();
    let out = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.lines()
            .any(|l| l.contains("ssh console:") && l.contains(&fingerprint)),
        "doctor does not show {fingerprint}:\n{out}"
    );

    let (ok, out, err) = run(dir.path(), &["doctor"]);
    assert!(ok, "{out}{err}");
    for check in [
        "data directory",
        "database",
        "secret key",
        "smtp",
        "sip ports",
        "clock",
    ] {
        assert!(
            out.lines().any(|l| l.contains(&format!("] {check}:"))),
            "no {check} line:\n{out}"
        );
    }
    assert!(out.contains("[ ok ] secret key: opens"), "{out}");
    assert!(out.contains("[ ok ] database:"), "{out}");

    std::fs::write(
        dir.path().join("secret.key"),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.path().join("vcms.db"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
    }
    let (ok, out, _) = run(dir.path(), &["doctor"]);
    assert!(!ok, "{out}");
    let key = out.lines().find(|l| l.contains("secret key:")).unwrap();
    assert!(key.starts_with("[FAIL]") && key.contains("fix:"), "{out}");
    #[cfg(unix)]
    {
        let perms = out.lines().find(|l| l.contains("data directory:")).unwrap();
        assert!(
            perms.starts_with("[FAIL]") && perms.contains("chmod 600"),
            "{out}"
        );
    }
}
