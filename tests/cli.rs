//! The scripting CLI against a real in-process server on port 0.

use std::process::{Command, Output};

const EMAIL: &str = "owner@cli.vcms";
const PASSWORD: &str = "CliSecret2026";

mod support;

async fn server(dir: &std::path::Path, accounts: bool) -> vcms_server::Running {
    let running = support::server(dir, EMAIL, PASSWORD, |_| {}).await;
    if accounts {
        support::add_demo_accounts(&support::owner(&running, EMAIL, PASSWORD).await).await;
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
        self.run_with(args, None)
    }

    /// Run with `VCMS_API_KEY` set to `key` (and no session file).
    fn with_key(&self, key: &str, args: &[&str]) -> Output {
        self.run_with(args, Some(key))
    }

    fn run_with(&self, args: &[&str], key: Option<&str>) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vcms"));
        match key {
            Some(k) => {
                cmd.env("VCMS_API_KEY", k)
                    .env("VCMS_SESSION_FILE", self.home.join("no-session.json"));
            }
            None => {
                cmd.env_remove("VCMS_API_KEY")
                    .env("VCMS_SESSION_FILE", &self.session);
            }
        }
        cmd.arg("--server")
            .arg(&self.url)
            .args(args)
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

fn json_of(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "not JSON: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn colleague_apikey_audit_commands() {
    let dir = tempfile::tempdir().expect("tmp");
    let running = server(dir.path(), true).await;
    let v = vcms(running.url(), dir.path());
    tokio::task::spawn_blocking(move || {
        v.json(&["login", "--email", EMAIL]);
        let l = v.json(&["colleague", "list"]);
        let items = l["items"].as_array().expect("items");
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["role"], "owner");
        let x = v.json(&[
            "colleague",
            "invite",
            "--first-name",
            "Hana",
            "--last-name",
            "Desk",
            "--email",
            "hana@cli.vcms",
            "--role",
            "helpdesk",
        ]);
        assert_eq!(x["status"], "invited");
        assert_eq!(x["role"], "helpdesk");
        let id = x["id"].as_i64().expect("id").to_string();
        let e = v.fails(&[
            "colleague",
            "invite",
            "--first-name",
            "X",
            "--last-name",
            "Y",
            "--email",
            "x@cli.vcms",
            "--role",
            "boss",
        ]);
        assert_eq!(e["error"]["field"], "role");
        // The documents spell the role "help desk": help-desk is taken as well.
        let hy = v.json(&[
            "colleague",
            "invite",
            "--first-name",
            "Hy",
            "--last-name",
            "Phen",
            "--email",
            "hy@cli.vcms",
            "--role",
            "help-desk",
        ]);
        assert_eq!(hy["role"], "helpdesk");
        // --yes is taken by every command that changes something, not only removals.
        let x = v.json(&["colleague", "resend", &id, "--yes"]);
        assert_eq!(x["status"], "invited");
        let hy_id = hy["id"].as_i64().expect("id").to_string();
        let r = v.json(&["colleague", "remove", &hy_id, "-y"]);
        assert!(r["message"].is_string());
        let x = v.json(&[
            "colleague",
            "set-role",
            &id,
            "--role",
            "admin",
            "--manage-admins",
        ]);
        assert_eq!(x["role"], "admin");
        assert_eq!(x["manage_admins"], true);
        let x = v.json(&["colleague", "disable", &id]);
        assert_eq!(x["status"], "disabled");
        let x = v.json(&["colleague", "enable", &id]);
        assert_ne!(x["status"], "disabled");
        let out = v.run(&["colleague", "list"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("hana@cli.vcms"), "{text}");
        let out = v.run(&["colleague", "remove", &id]);
        assert!(!out.status.success(), "remove without --yes must fail");
        let r = v.json(&["colleague", "remove", &id, "--yes"]);
        assert!(r["message"].is_string());
        let l = v.json(&["colleague", "list"]);
        assert_eq!(l["items"].as_array().map(Vec::len), Some(1));

        // API keys: shown once, listed by prefix, usable instead of a session.
        let k = v.json(&["apikey", "create", "--name", "ci", "--role", "owner"]);
        let owner_key = k["key"].as_str().expect("key").to_string();
        assert!(owner_key.starts_with("vcms_"), "{owner_key}");
        let out = v.run(&["apikey", "create", "--name", "desk", "--role", "helpdesk"]);
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        let desk_key = text
            .split_whitespace()
            .find(|w| w.starts_with("vcms_"))
            .expect("key printed")
            .to_string();
        let l = v.json(&["apikey", "list"]);
        let keys = l["items"].as_array().expect("items");
        assert_eq!(keys.len(), 2);
        assert!(keys.iter().all(|k| k.get("key").is_none()));

        // A key is not its creator: an admin key manages colleagues only when created with
        // --manage-admins, and a key has no password to change.
        let team = v.json(&[
            "apikey",
            "create",
            "--name",
            "team",
            "--role",
            "admin",
            "--manage-admins",
        ]);
        assert_eq!(team["manage_admins"], true, "{team}");
        let ops = v.json(&["apikey", "create", "--name", "ops", "--role", "admin"]);
        assert_eq!(ops["manage_admins"], false, "{ops}");
        let e = v.fails(&[
            "apikey",
            "create",
            "--name",
            "bad",
            "--role",
            "helpdesk",
            "--manage-admins",
        ]);
        assert_eq!(e["error"]["field"], "manage_admins", "{e}");
        let key_of = |v: &serde_json::Value| v["key"].as_str().expect("key").to_string();
        let out = v.with_key(&key_of(&team), &["--json", "colleague", "list"]);
        assert!(out.status.success(), "{}", json_of(&out));
        let out = v.with_key(&key_of(&ops), &["--json", "colleague", "list"]);
        assert!(!out.status.success(), "an admin key without the flag");
        assert_eq!(json_of(&out)["error"]["code"], "forbidden");
        for k in [&team, &ops] {
            let id = k["id"].as_i64().expect("id").to_string();
            v.json(&["apikey", "revoke", &id]);
        }

        // Every command works with only VCMS_API_KEY set.
        let out = v.with_key(&owner_key, &["--json", "account", "list"]);
        assert!(out.status.success());
        assert_eq!(json_of(&out)["total"], 13);
        let out = v.with_key(&desk_key, &["--json", "account", "show", "1001"]);
        assert!(out.status.success());
        assert_eq!(json_of(&out)["name"], "Anna");
        let out = v.with_key(&desk_key, &["--json", "audit", "list"]);
        assert!(
            !out.status.success(),
            "help desk may not read the audit log"
        );
        assert!(json_of(&out)["error"]["code"].is_string());

        // Audit log: the sign-in and the colleague changes are there.
        let a = v.json(&["audit", "list"]);
        assert!(a["total"].as_i64().unwrap_or(0) > 0);
        let first = &a["items"][0];
        for f in ["at", "who", "action", "target", "from"] {
            assert!(first[f].is_string(), "{f}: {first}");
        }
        let a = v.json(&["audit", "list", "--search", "colleague"]);
        let items = a["items"].as_array().expect("items");
        assert!(!items.is_empty());
        assert!(items
            .iter()
            .all(|e| e.to_string().to_lowercase().contains("colleague")));
        let out = v.run(&["audit", "list"]);
        assert!(String::from_utf8_lossy(&out.stdout).contains("All records:"));

        // Revoke: the key stops working.
        let desk_id = keys
            .iter()
            .find(|k| k["name"] == "desk")
            .and_then(|k| k["id"].as_i64())
            .expect("desk id")
            .to_string();
        v.json(&["apikey", "revoke", &desk_id]);
        let out = v.with_key(&desk_key, &["--json", "account", "list"]);
        assert!(!out.status.success(), "revoked key must fail");
        assert!(json_of(&out)["error"]["code"].is_string());
    })
    .await
    .expect("steps");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_commands() {
    let dir = tempfile::tempdir().expect("tmp");
    let running = server(dir.path(), true).await;
    let v = vcms(running.url(), dir.path());
    let url = running.url();
    let secret = tokio::task::spawn_blocking(move || {
        v.json(&["login", "--email", EMAIL]);
        let d = v.json(&["device", "add", "1001", "VC800-SN-42"]);
        assert_eq!(d["serial"], "VC800-SN-42");
        let secret = d["secret"].as_str().expect("secret shown once").to_string();
        let l = v.json(&["device", "list", "1001"]);
        assert_eq!(l[0]["serial"], "VC800-SN-42");
        assert!(l[0].get("secret").is_none(), "{l}");
        let e = v.fails(&["device", "add", "1002", "VC800-SN-42"]);
        assert_eq!(e["error"]["field"], "serial");
        let e = v.fails(&["device", "add", "1002", "bad serial!"]);
        assert_eq!(e["error"]["field"], "serial");
        (v, secret)
    })
    .await
    .expect("steps");
    let (v, secret) = secret;
    let login = |secret: String| vcms_api::EndpointLoginRequest {
        builtin: Some(vcms_api::BuiltinCredentials {
            serial: "VC800-SN-42".into(),
            secret,
        }),
        ..Default::default()
    };
    let client = vcms_api::client::Client::new(&url);
    let ok = client
        .endpoint_login(&login(secret.clone()))
        .await
        .expect("builtin sign-in");
    assert!(ok.cloud_number.ends_with("1001"));
    tokio::task::spawn_blocking(move || {
        let r = v.json(&["device", "remove", "1001", "VC800-SN-42"]);
        assert_eq!(r["message"], "Device removed");
        let out = v.run(&["device", "list", "1001"]);
        assert!(String::from_utf8_lossy(&out.stdout).contains("No device"));
    })
    .await
    .expect("steps");
    assert!(client.endpoint_login(&login(secret)).await.is_err());
    running.shutdown().await;
}

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_preview_apply_export_and_template() {
    let dir = tempfile::tempdir().expect("tmp");
    let running = server(dir.path(), true).await;
    let number = vcms_server::service::license::issue(&running.app, 200, 1)
        .await
        .expect("issue");
    let v = vcms(running.url(), dir.path());
    let d = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        v.json(&["login", "--email", EMAIL]);
        v.json(&["license", "add", &number]);
        let total = |v: &Vcms| v.json(&["account", "list"])["total"].clone();

        // The blank template, in each format, imports nothing and says why.
        for t in ["t.xlsx", "t.xls", "t.csv"] {
            let path = d.join(t);
            let p = path.to_str().expect("path");
            v.json(&["account", "template", p]);
            let e = v.fails(&["account", "import", p]);
            assert_eq!(e["error"]["code"], "no_rows", "{t}: {e}");
            assert!(e["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("no accounts")));
        }

        // Preview of a LibreOffice .xlsx: numeric extensions, CJK names, old → new.
        let out = v.run(&["account", "import", &fixture("guide.xlsx"), "--dry-run"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert!(
            text.contains("0 to create, 1 to update, 4 unchanged, 0 in error"),
            "{text}"
        );
        assert!(
            text.contains("email: Chenny@163.com → Chenyy@163.com"),
            "{text}"
        );
        assert!(text.contains("dry run: nothing was changed"), "{text}");

        // Chinese headers (.ods): apply needs --yes when nobody can be asked.
        let ods = fixture("chinese_headers.ods");
        let e = v.fails(&["account", "import", &ods]);
        assert_eq!(e["error"]["code"], "confirm");
        assert_eq!(total(&v), 13);
        let r = v.json(&["account", "import", &ods, "--yes"]);
        assert_eq!(
            r["message"],
            "Import 2 account(s) successfully (1 created, 1 updated)"
        );
        assert_eq!(v.json(&["account", "show", "2005"])["name"], "王小明");
        assert_eq!(
            v.json(&["account", "show", "2002"])["email"],
            "Chenyy@163.com"
        );

        // A file with bad rows imports nothing and names every row, column and reason.
        let e = v.fails(&["account", "import", &fixture("bad_rows.xls"), "--yes"]);
        assert_eq!(e["error"]["code"], "import_errors");
        let errs: Vec<(i64, String)> = e["error"]["details"]["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|x| {
                (
                    x["row"].as_i64().unwrap_or(-1),
                    x["column"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        assert_eq!(
            errs,
            vec![
                (3, "Name".to_string()),
                (4, "Extension".to_string()),
                (5, "Email".to_string()),
                (6, "Extension".to_string()),
                (7, "Name".to_string())
            ]
        );
        assert_eq!(total(&v), 14);
        let out = v.run(&["account", "import", &fixture("bad_rows.xlsx")]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("row 4, column Extension: extension must be exactly 4 digits"),
            "{text}"
        );

        // Batch edit: export → change an email and a name in the file → import.
        v.json(&["account", "add", "--name", "=1+2", "--extension", "1099"]);
        let csv = d.join("all.csv");
        let r = v.json(&["account", "export", csv.to_str().expect("path")]);
        assert_eq!(r["accounts"], 15);
        let text = std::fs::read_to_string(&csv).expect("csv");
        assert!(text.starts_with("\u{feff}*Name,*Extension,Email,Cloud Number,Status"));
        assert!(text.contains("'=1+2,1099"), "formula guarded: {text}");
        let edited = text
            .replace("Anna@hotmail.com", "anna@163.com")
            .replace("Bonnie,", "Bonnie Lee,");
        std::fs::write(&csv, edited).expect("write");
        let r = v.json(&["account", "import", csv.to_str().expect("path"), "--yes"]);
        assert_eq!(
            r["message"],
            "Import 2 account(s) successfully (0 created, 2 updated)"
        );
        assert_eq!(
            v.json(&["account", "show", "1001"])["email"],
            "anna@163.com"
        );
        assert_eq!(v.json(&["account", "show", "1002"])["name"], "Bonnie Lee");
        assert_eq!(v.json(&["account", "show", "1099"])["name"], "=1+2");

        // .xlsx export: CJK names and the guarded name round-trip unchanged.
        let xlsx = d.join("all.xlsx");
        v.json(&["account", "export", xlsx.to_str().expect("path")]);
        let bytes = std::fs::read(&xlsx).expect("xlsx");
        let s = vcms_sheet::read(
            &bytes,
            "all.xlsx",
            &vcms_sheet::Limits::default(),
            &mut |_, _| {},
        )
        .expect("read export");
        assert!(s
            .rows
            .iter()
            .any(|r| r.name == "陈媛媛" && r.extension == "2002"));
        assert_eq!(s.ignored_columns, vec!["Cloud Number", "Status"]);
        let out = v.run(&[
            "account",
            "import",
            xlsx.to_str().expect("path"),
            "--dry-run",
        ]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("0 to create, 0 to update, 15 unchanged"),
            "{text}"
        );
    })
    .await
    .expect("steps");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_file_errors_are_named() {
    let dir = tempfile::tempdir().expect("tmp");
    let running = server(dir.path(), false).await;
    let v = vcms(running.url(), dir.path());
    let d = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        v.json(&["login", "--email", EMAIL]);
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("empty.csv", b"".to_vec(), "empty_sheet"),
            (
                "cols.csv",
                b"Name,Email\nAnna,a@b.c\n".to_vec(),
                "missing_column",
            ),
            (
                "text.xlsx",
                b"*Name,*Extension\nAnna,1001\n".to_vec(),
                "wrong_format",
            ),
            ("zip.xlsx", b"PK\x03\x04broken".to_vec(), "corrupt_file"),
            ("x.pdf", b"%PDF".to_vec(), "unknown_file_type"),
            ("big.csv", vec![b'a'; 2 * 1024 * 1024], "file_too_large"),
        ];
        let mut locked = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
        locked.extend("EncryptedPackage".encode_utf16().flat_map(u16::to_le_bytes));
        let cfg = d.join("small.toml");
        std::fs::write(&cfg, "[import]\nmax_file_mb = 1\n").expect("config");
        for (name, bytes, code) in
            cases
                .into_iter()
                .chain([("locked.xlsx", locked, "password_protected")])
        {
            let path = d.join(name);
            std::fs::write(&path, bytes).expect("write");
            let e = v.fails(&[
                "--config",
                cfg.to_str().expect("cfg"),
                "account",
                "import",
                path.to_str().expect("path"),
            ]);
            assert_eq!(e["error"]["code"], code, "{name}: {e}");
            assert_eq!(e["error"]["field"], "file", "{name}");
        }
        let out = v.run(&[
            "account",
            "import",
            d.join("locked.xlsx").to_str().expect("p"),
        ]);
        assert!(String::from_utf8_lossy(&out.stderr).contains("password-protected"));
    })
    .await
    .expect("steps");
    running.shutdown().await;
}

impl Vcms {
    /// Run under `ulimit -v vmem_kb`, killed (and failed) after `secs` seconds.
    fn run_limited(&self, args: &[&str], vmem_kb: u64, secs: u64) -> Output {
        use std::process::Stdio;
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("ulimit -v {vmem_kb}; exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_vcms"))
            .arg("--server")
            .arg(&self.url)
            .args(args)
            .env_remove("VCMS_API_KEY")
            .env("VCMS_SESSION_FILE", &self.session)
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join("config"))
            .env("XDG_CACHE_HOME", self.home.join("cache"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn vcms");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            if child.try_wait().expect("wait").is_some() {
                return child.wait_with_output().expect("output");
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("vcms {args:?} did not finish within {secs} s");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_refuses_devices_fifos_and_memory_bombs() {
    let dir = tempfile::tempdir().expect("tmp");
    let running = server(dir.path(), false).await;
    let v = vcms(running.url(), dir.path());
    let d = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        v.json(&["login", "--email", EMAIL]);
        let json_of_run = |out: &Output, what: &str| -> serde_json::Value {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(
                out.status.signal(),
                None,
                "{what}: killed by a signal: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(!out.status.success(), "{what} should fail");
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                panic!(
                    "{what}: {e}: {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                )
            })
        };
        // /dev/zero behind a name ending in .csv: 0 bytes by its size, endless when read.
        let zero = d.join("zero.csv");
        std::os::unix::fs::symlink("/dev/zero", &zero).expect("symlink");
        // A FIFO named .csv: opening it waits for a writer that never comes.
        let fifo = d.join("pipe.csv");
        let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
        assert!(made.success());
        for (path, kind) in [(&zero, "a character device"), (&fifo, "a FIFO")] {
            let p = path.to_str().expect("path");
            let out = v.run_limited(
                &["--json", "account", "import", p, "--dry-run"],
                2 * 1024 * 1024,
                30,
            );
            let e = json_of_run(&out, p);
            assert_eq!(e["error"]["code"], "not_a_file", "{p}: {e}");
            assert_eq!(e["error"]["field"], "file", "{p}");
            let msg = e["error"]["message"].as_str().expect("message");
            assert!(msg.contains(kind), "{msg}");
            assert!(msg.contains("only regular files can be imported"), "{msg}");
        }
        // The sub-kilobyte .ods declaring rows × 16,384 columns repeated thousands of times,
        // under a 1 GiB address-space limit: a clear error, not an abort.
        let bomb = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fuzz/regressions/ods-repeated-rows-and-columns.ods"
        );
        let out = v.run_limited(
            &["--json", "account", "import", bomb, "--dry-run"],
            1024 * 1024,
            60,
        );
        let e = json_of_run(&out, "bomb.ods");
        assert_eq!(e["error"]["code"], "too_many_rows", "{e}");
        assert_eq!(e["error"]["field"], "file");
    })
    .await
    .expect("steps");
    running.shutdown().await;
}
