//! What ships beside the binary for operators (packaging/), checked against the real server:
//! the fail2ban filter matches the lines the server writes for password and digest guesses,
//! with the guesser's address.

use std::process::Command;

use crate::process::{bin, printed_addr, run, signed_in, spawn_logged, udp_ua, url_of};

fn fail2ban_regex() -> Option<std::path::PathBuf> {
    let found = Command::new("fail2ban-regex")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some("fail2ban-regex".into());
    }
    assert!(
        std::env::var_os("VCMS_REQUIRE_FAIL2BAN").is_none(),
        "fail2ban-regex is required (Debian package fail2ban)"
    );
    eprintln!("skipped: fail2ban-regex is not installed (Debian package fail2ban)");
    None
}

#[test]
fn the_fail2ban_filter_matches_the_servers_own_guess_lines() {
    let Some(regex_tool) = fail2ban_regex() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = run(
        dir.path(),
        &[
            "enterprise",
            "create",
            "--email",
            "f2b@example.com",
            "--password",
            "secret123",
            "--name",
            "Fay",
            "--company",
            "Ban Co",
            "--country",
            "NL",
        ],
    );
    assert!(ok, "{err}");
    let log = dir.path().join("server.log");
    let mut c = bin();
    c.env("VCMS_DATA_DIR", dir.path())
        .env("VCMS_HTTP_LISTEN", "127.0.0.1:0")
        .env_remove("VCMS_LOG")
        .env_remove("RUST_LOG");
    let (mut child, printed) = spawn_logged(c.arg("serve"), &log);
    let url = url_of(&printed);
    let udp = printed_addr(&printed, "sip udp:");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        // Two wrong digest answers for a real account.
        let owner = signed_in(&url, "f2b@example.com").await;
        let a = owner
            .add_account(&vcms_api::NewAccount {
                name: "Anna".into(),
                extension: "1001".into(),
                email: None,
                send_email: false,
            })
            .await
            .unwrap();
        let number = a.cloud_number;
        // Three wrong passwords (for three emails: a second try of one email wants a captcha).
        for who in ["a@example.com", "b@example.com", "c@example.com"] {
            let r = reqwest::Client::new()
                .post(format!("{url}/api/v1/login"))
                .json(&serde_json::json!({"email": who, "password": "guess-1234"}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 401);
        }

        for _ in 0..2 {
            let mut ua = udp_ua(udp, &number, "not-the-password").await;
            let code = ua.register(Some(600)).await.map(|r| r.code).unwrap_or(0);
            assert_ne!(code, 200);
        }
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let filter = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../packaging/fail2ban/filter.d/vcms.conf"
    );
    let out = Command::new(regex_tool)
        .arg(&log)
        .arg(filter)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(out.status.success(), "{text}\n{logged}");
    // "Failregex: 5 total" and every match's host is the guesser's.
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("Failregex: 5 total")),
        "{text}\nlog:\n{logged}"
    );
}
