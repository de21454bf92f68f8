//! The scripting CLI against a real in-process server on port 0.

use std::process::{Command, Output};
use std::sync::Arc;

use vcms_server::api::{LoginRequest, NewAccount};
use vcms_server::client::Client;

const EMAIL: &str = "owner@cli.vcms";
const PASSWORD: &str = "CliSecret2026";

async fn server(dir: &std::path::Path, accounts: bool) -> vcms_server::Running {
    let mut cfg = vcms_server::config::Config {
        data_dir: dir.join("server"),
        ..Default::default()
    };
    cfg.http.listen = "127.0.0.1:0".into();
    cfg.security.captcha = false;
    let clock: vcms_server::clock::SharedClock = Arc::new(vcms_server::clock::SystemClock);
    let server = vcms_server::Server::build(cfg, clock).await.expect("build");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let running = server.start(listener, false).expect("start");
    let app = running.app.clone();
    let new = vcms_server::service::auth::NewEnterprise::parse(
        "CLI Owner",
        "CLI",
        "China",
        EMAIL,
        PASSWORD,
        Some("en"),
    )
    .expect("enterprise");
    vcms_server::service::auth::create_enterprise(&app, new, true)
        .await
        .expect("create");
    if accounts {
        let mut c = Client::new(&running.url());
        c.login(&LoginRequest {
            email: EMAIL.into(),
            password: PASSWORD.into(),
            ..Default::default()
        })
        .await
        .expect("login");
        for (name, ext, email) in vcms::demo::ACCOUNTS {
            c.add_account(&NewAccount {
                name: name.into(),
                extension: ext.into(),
                email: email.map(str::to_string),
                send_email: false,
            })
            .await
            .expect("add");
        }
    }
    running
}

struct Vcms {
    url: String,
    session: std::path::PathBuf,
    home: std::path::PathBuf,
}

impl Vcms {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_vcms"))
            .arg("--server")
            .arg(&self.url)
            .args(args)
            .env("VCMS_SESSION_FILE", &self.session)
            .env("VCMS_PASSWORD", PASSWORD)
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join("config"))
            .env("XDG_CACHE_HOME", self.home.join("cache"))
            .output()
            .expect("run vcms")
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let out = self.run(&a);
        assert!(
            out.status.success(),
            "vcms {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("json output")
    }

    fn fails(&self, args: &[&str]) -> serde_json::Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let out = self.run(&a);
        assert!(!out.status.success(), "vcms {args:?} should fail");
        serde_json::from_slice(&out.stdout).expect("json error")
    }
}

fn vcms(url: String, dir: &std::path::Path) -> Vcms {
    let home = dir.join("home");
    std::fs::create_dir_all(&home).expect("home");
    Vcms {
        url,
        session: dir.join("session.json"),
        home,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_licenses_logout() {
    let dir = tempfile::tempdir().expect("tmp");
    let running = server(dir.path(), false).await;
    let v = vcms(running.url(), dir.path());
    let app = running.app.clone();
    let number = vcms_server::service::license::issue(&app, 50, 1)
        .await
        .expect("issue");
    tokio::task::spawn_blocking(move || {
        let e = v.fails(&["license", "list"]);
        assert_eq!(e["error"]["code"], "unauthenticated");
        let p = v.json(&["login", "--email", EMAIL]);
        assert_eq!(p["username"], EMAIL);
        let mode = std::fs::metadata(&v.session).expect("session file");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.permissions().mode() & 0o777, 0o600);
        let e = v.fails(&["license", "add", "ABCD"]);
        assert_eq!(e["error"]["field"], "license_number");
        let r = v.json(&["license", "add", &number]);
        assert_eq!(r["license"]["quantity"], 50);
        let l = v.json(&["license", "list"]);
        assert_eq!(l["licenses"].as_array().map(Vec::len), Some(1));
        assert_eq!(l["quota"]["quota"], 50);
        let out = v.run(&["license", "list"]);
        assert!(String::from_utf8_lossy(&out.stdout).contains("can be added"));
        v.json(&["logout"]);
        assert!(!v.session.exists());
        let e = v.fails(&["license", "list"]);
        assert_eq!(e["error"]["code"], "unauthenticated");
    })
    .await
    .expect("steps");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_commands() {
    let dir = tempfile::tempdir().expect("tmp");
    let running = server(dir.path(), true).await;
    let v = vcms(running.url(), dir.path());
    tokio::task::spawn_blocking(move || {
        v.json(&["login", "--email", EMAIL]);
        let p = v.json(&["account", "list"]);
        assert_eq!(p["total"], 13);
        assert_eq!(p["items"].as_array().map(Vec::len), Some(10));
        let p = v.json(&["account", "list", "--search", "何以", "--page-size", "5"]);
        assert_eq!(p["total"], 1);
        assert_eq!(
            p["items"][0]["cloud_number"]
                .as_str()
                .map(|s| s.ends_with("2004")),
            Some(true)
        );
        let d = v.json(&["account", "show", "1001"]);
        assert_eq!(d["name"], "Anna");
        let d = v.json(&[
            "account",
            "add",
            "--name",
            "Nina",
            "--extension",
            "1010",
            "--email",
            "nina@cli.vcms",
        ]);
        assert_eq!(d["extension"], "1010");
        let e = v.fails(&["account", "add", "--name", "Dup", "--extension", "1010"]);
        assert_eq!(e["error"]["field"], "extension");
        let d = v.json(&["account", "edit", "1010", "--name", "Nina Z"]);
        assert_eq!(d["name"], "Nina Z");
        let old = v.json(&["account", "show", "1010"]);
        let d = v.json(&["account", "reset-pincode", "1010"]);
        assert_ne!(d["pincode"], old["pincode"]);
        let d = v.json(&["account", "reset-password", "1010"]);
        assert_ne!(d["password"], old["password"]);
        let s = v.json(&["account", "send-email", "1010", "1007"]);
        assert_eq!(s["queued"], 1);
        assert_eq!(s["without_email"][0]["extension"], "1007");
        let s = v.json(&["account", "send-email", "--all", "--search", "Mar"]);
        assert_eq!(s["queued"], 2);
        let f = v.json(&["email", "failed", "list"]);
        assert!(f["items"].is_array());
        assert!(f["total"].is_number());
        for verb in ["resend", "delete"] {
            let out = v.run(&["--json", "email", "failed", verb, "999999"]);
            let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
            if out.status.success() {
                assert!(j["count"].is_number(), "{j}");
            } else {
                assert!(j["error"]["code"].is_string(), "{j}");
            }
        }
        let out = v.run(&["account", "list", "--search", "陈"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("陈媛媛") && text.contains("All records: 1"),
            "{text}"
        );
        let out = v.run(&["account", "remove", "1010"]);
        assert!(!out.status.success(), "remove without --yes must fail");
        let r = v.json(&["account", "remove", "1010", "1007", "--yes"]);
        assert_eq!(r["removed"], 2);
        let e = v.fails(&["account", "show", "1010"]);
        assert!(e["error"]["code"].is_string());
    })
    .await
    .expect("steps");
    running.shutdown().await;
}
