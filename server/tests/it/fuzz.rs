//! schemathesis (PyPI), a property-based OpenAPI tester, against a running server: every
//! operation of `GET /api/openapi.json` with generated valid and invalid input, all of its
//! checks, the stateful phase included, with a fixed seed and a time bound. Zero failures.
//!
//! The run signs in as an enterprise owner. It leaves out only what would end its own
//! credentials (`POST /api/v1/logout`); the README says so.
//! Set `VCMS_REQUIRE_SCHEMATHESIS=1` (CI does) to make a missing schemathesis a failure.

use std::time::Duration;

use crate::common::*;

/// Seconds the whole run may take (all phases); CI keeps it small.
fn budget() -> u64 {
    std::env::var("VCMS_SCHEMATHESIS_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150)
}

fn schemathesis() -> Option<std::path::PathBuf> {
    let found = std::process::Command::new("schemathesis")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some("schemathesis".into());
    }
    if std::env::var("VCMS_REQUIRE_SCHEMATHESIS").is_ok_and(|v| v == "1") {
        panic!("schemathesis is required (pip install schemathesis) but not on PATH");
    }
    eprintln!("schemathesis is not installed: skipping the OpenAPI fuzz run");
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_failure() {
    let Some(bin) = schemathesis() else { return };
    let s = TestServer::start(Db::Sqlite).await;
    let (_, owner) = s.owner("owner@fuzz.test").await;
    // Something to read, change and delete: a license, accounts, a colleague, a key.
    let number = s.issue_license(20, 1).await;
    let _: serde_json::Value = owner
        .post(
            "/api/v1/licenses",
            &serde_json::json!({ "license_number": number }),
        )
        .await
        .expect("add license");
    for i in 0..3 {
        let _: serde_json::Value = owner
            .post(
                "/api/v1/accounts",
                &serde_json::json!({ "name": format!("Room {i}"), "extension": format!("100{i}") }),
            )
            .await
            .expect("add account");
    }
    let token = owner.token().expect("owner token").to_string();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("schemathesis.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let report = dir.path().join("report");

    if std::env::var("VCMS_SCHEMATHESIS_HOLD").is_ok_and(|v| v == "1") {
        // For working on the document: keep the server up and say how to reach it.
        std::fs::write("/tmp/vcms-fuzz.toml", CONFIG).unwrap();
        eprintln!("HOLD url={} token={token}", s.url);
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let mut cmd = tokio::process::Command::new(bin);
    cmd.arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(format!("{}/api/openapi.json", s.url))
        .args(["--checks", "all", "--seed", "42", "--workers", "1"])
        .args(["--max-time", &budget().to_string()])
        .args(["--request-timeout", "10"])
        .args(["--exclude-path", "/api/v1/logout"])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .arg("--report-dir")
        .arg(&report)
        .args(["--generation-database", "none", "--no-color"])
        .env("NO_COLOR", "1")
        // Its caches and reports go to the temporary directory, not the checkout.
        .current_dir(dir.path())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(budget() + 240), cmd.output())
        .await
        .expect("schemathesis ran past its time bound")
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "schemathesis found failures (exit {:?}):\n{stdout}\n{stderr}",
        out.status.code()
    );
    // The run really tested the API: operations were exercised, stateful phase included.
    assert!(
        stdout.contains("Stateful"),
        "no stateful phase in the run:\n{stdout}"
    );
}

/// What a schema-valid request may be refused with because of the server's state rather
/// than its input: a wrong or spent token or code (400), a role's limits (403), an object that
/// is gone (404), a duplicate (409), a freeze or throttle after generated wrong tries (423,
/// 429). 422 is not among them: a request the document calls valid must pass its rules,
/// except on the few operations below, for what a schema cannot state (each says what).
/// A freeze (423) is also a refusal of a schema-violating request.
const CONFIG: &str = r#"
[checks.positive_data_acceptance]
expected-statuses = ["2XX", "400", "401", "403", "404", "409", "423", "429"]

[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "423", "428", "429"]

# A license number's last two characters are a check on the other 22.
[[operations]]
include-name = "POST /api/v1/licenses"
checks.positive_data_acceptance.expected-statuses = ["2XX", "400", "401", "403", "404", "409", "422", "423", "429"]

# A public key's base64 must decode to a key of its type (RSA of 2048 bits or more).
[[operations]]
include-name = "POST /api/v1/me/ssh-keys"
checks.positive_data_acceptance.expected-statuses = ["2XX", "400", "401", "403", "404", "409", "422", "423", "429"]

# The current password is checked (422 naming the field, counted toward the freeze), and
# confirm_password must repeat the new password.
[[operations]]
include-name = ["POST /api/v1/password/change", "POST /api/v1/password/reset", "POST /api/v1/invitations/accept", "PATCH /api/v1/me/security"]
checks.positive_data_acceptance.expected-statuses = ["2XX", "400", "401", "403", "404", "409", "422", "423", "429"]
"#;
