//! The `vcms-server` binary: environment settings, operator commands, serve and SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vcms-server"));
    for (k, _) in std::env::vars() {
        if k.starts_with("VCMS_") {
            c.env_remove(k);
        }
    }
    // Free ports, so that parallel tests do not fight over 5060.
    c.env("VCMS_SIP_UDP", "127.0.0.1:0")
        .env("VCMS_SIP_TCP", "127.0.0.1:0")
        .env("VCMS_SIP_TLS", "127.0.0.1:0");
    c
}

fn run(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = bin().env("VCMS_DATA_DIR", dir).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn operator_commands_work_on_the_embedded_default() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = run(dir.path(), &["check-config"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("config OK") && out.contains(&dir.path().display().to_string()),
        "{out}"
    );

    let (ok, out, err) = run(
        dir.path(),
        &[
            "enterprise",
            "create",
            "--email",
            "op@example.com",
            "--password",
            "secret123",
            "--name",
            "Op",
            "--company",
            "Op Co",
            "--country",
            "NL",
            "--json",
        ],
    );
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let number = v["enterprise_number"].as_str().unwrap().to_string();
    assert_eq!(number.len(), 5);
    // Bad input names the field and exits non-zero.
    let (ok, _, err) = run(
        dir.path(),
        &[
            "enterprise",
            "create",
            "--email",
            "bad",
            "--password",
            "secret123",
            "--name",
            "Op",
            "--company",
            "Op Co",
            "--country",
            "NL",
        ],
    );
    assert!(!ok && err.contains("email"), "{err}");

    let (ok, out, err) = run(
        dir.path(),
        &[
            "license",
            "issue",
            "--quantity",
            "100",
            "--years",
            "2",
            "--json",
        ],
    );
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let lic = v["license_number"].as_str().unwrap().to_string();
    assert!(vcms_server::license_number::normalize(&lic).is_ok());
    let (ok, _, err) = run(
        dir.path(),
        &["license", "issue", "--quantity", "0", "--years", "2"],
    );
    assert!(!ok && err.contains("quantity"), "{err}");
    let (ok, out, _) = run(dir.path(), &["license", "list"]);
    assert!(ok && out.contains(&lic) && out.contains("issued"), "{out}");
    let (ok, _, err) = run(dir.path(), &["license", "revoke", &lic]);
    assert!(ok, "{err}");
    let (_, out, _) = run(dir.path(), &["license", "list", "--json"]);
    assert!(out.contains("revoked"), "{out}");
    let (ok, out, _) = run(dir.path(), &["enterprise", "list"]);
    assert!(
        ok && out.contains(&number) && out.contains("op@example.com") && out.contains("0/20"),
        "{out}"
    );

    // The folder transport writes .eml files to DATA_DIR/outbox.
    let (ok, out, err) = run(dir.path(), &["send-test-email", "me@example.com"]);
    assert!(ok, "{err}");
    assert!(out.contains("sent"), "{out}");
    let emls: Vec<_> = std::fs::read_dir(dir.path().join("outbox"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(emls.len(), 1);
    let text = std::fs::read_to_string(emls[0].path()).unwrap();
    assert!(text.contains("me@example.com") && text.contains("vcms test email"));

    // A bad environment value is a clear error.
    let out = bin()
        .env("VCMS_DATA_DIR", dir.path())
        .env("VCMS_SMTP_PORT", "abc")
        .arg("check-config")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("VCMS_SMTP_PORT"));
}

#[test]
fn serve_prints_its_addresses_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = bin()
        .env("VCMS_DATA_DIR", dir.path())
        .env("VCMS_HTTP_LISTEN", "127.0.0.1:0")
        .env("VCMS_LOG", "warn")
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_string();
    assert!(!url.ends_with(":0"), "the chosen port is printed: {first}");
    let mut printed = vec![];
    for _ in 0..4 {
        printed.push(lines.next().unwrap().unwrap());
    }
    let printed = printed.join("\n");
    assert!(
        printed.contains(&dir.path().display().to_string()) && printed.contains("outbox"),
        "{printed}"
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    let h = rt
        .block_on(vcms_server::client::Client::new(&url).health())
        .unwrap();
    assert_eq!(h.status, "ok");
    assert!(dir.path().join("vcms.db").exists());
    let key = dir.path().join("secret.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l == "stopped"), "{rest:?}");
}
