//! End to end: the real `vcms` binary in a pseudo-terminal against a real in-process server
//! on port 0 with a fresh SQLite database.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, CommandBuilder, PtySize};
use vcms_server::api::{AccountQuery, LoginRequest, NewAccount};
use vcms_server::client::Client;

const EMAIL: &str = "owner@e2e.vcms";
const PASSWORD: &str = "E2eSecret2026";

struct Env {
    running: vcms_server::Running,
    client: Client,
    _dir: tempfile::TempDir,
}

async fn server(dir: &std::path::Path) -> Env {
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
        "E2E Owner",
        "E2E",
        "China",
        EMAIL,
        PASSWORD,
        Some("en"),
    )
    .expect("enterprise");
    vcms_server::service::auth::create_enterprise(&app, new, true)
        .await
        .expect("create");
    let mut client = Client::new(&running.url());
    client
        .login(&LoginRequest {
            email: EMAIL.into(),
            password: PASSWORD.into(),
            ..Default::default()
        })
        .await
        .expect("login");
    let number = vcms_server::service::license::issue(&app, 100, 2)
        .await
        .expect("issue");
    client.add_license(&number).await.expect("license");
    for (name, ext, email) in vcms::demo::ACCOUNTS {
        client
            .add_account(&NewAccount {
                name: name.into(),
                extension: ext.into(),
                email: email.map(str::to_string),
                send_email: false,
            })
            .await
            .expect("add account");
    }
    Env {
        running,
        client,
        _dir: tempfile::tempdir().expect("tmp"),
    }
}

struct Pty {
    screen: Arc<Mutex<vt100::Parser>>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
}

impl Pty {
    fn contents(&self) -> String {
        self.screen.lock().expect("lock").screen().contents()
    }

    fn wait_for(&self, what: &str) -> String {
        let start = Instant::now();
        loop {
            let c = self.contents();
            if c.contains(what) {
                return c;
            }
            if start.elapsed() > Duration::from_secs(20) {
                panic!("timed out waiting for {what:?}; screen:\n{c}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn send(&mut self, s: &str) {
        self.writer.write_all(s.as_bytes()).expect("write");
        self.writer.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(60));
    }
}

fn spawn(url: &str, home: &std::path::Path) -> Pty {
    let pty = native_pty_system()
        .openpty(PtySize {
            rows: 24,
            cols: 80,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("pty");
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_vcms"));
    cmd.args(["--server", url, "--lang", "en"]);
    for (k, v) in [
        ("HOME", home.to_path_buf()),
        ("XDG_CONFIG_HOME", home.join("config")),
        ("XDG_DATA_HOME", home.join("data")),
        ("XDG_CACHE_HOME", home.join("cache")),
    ] {
        cmd.env(k, v);
    }
    cmd.env("TERM", "xterm-256color");
    cmd.env("NO_COLOR", "1");
    let child = pty.slave.spawn_command(cmd).expect("spawn vcms");
    drop(pty.slave);
    let mut reader = pty.master.try_clone_reader().expect("reader");
    let writer = pty.master.take_writer().expect("writer");
    let screen = Arc::new(Mutex::new(vt100::Parser::new(24, 80, 0)));
    let s2 = screen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            s2.lock().expect("lock").process(&buf[..n]);
        }
    });
    // Keep the master alive as long as the child runs.
    std::mem::forget(pty.master);
    Pty {
        screen,
        writer,
        child,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_page_search_reset_pincode_remove_two() {
    let dir = tempfile::tempdir().expect("tmp");
    let env = server(dir.path()).await;
    let url = env.running.url();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let client = env.client.clone();
    let steps = tokio::task::spawn_blocking(move || {
        let mut t = spawn(&url, &home);
        t.wait_for("Sign in");
        // Email is focused (empty config); then the password.
        t.send(EMAIL);
        t.send("\t");
        t.send(PASSWORD);
        t.send("\r");
        let s = t.wait_for("All records: 13");
        assert!(s.contains("Account (13/100)"), "{s}");
        assert!(s.contains("Page 1 of 2"), "{s}");
        // Page.
        t.send("\x1b[6~"); // PgDn
        t.wait_for("Page 2 of 2");
        t.send("g");
        t.wait_for("Page 1 of 2");
        // Search as you type (CJK).
        t.send("/");
        t.send("何以");
        let s = t.wait_for("All records: 1 ");
        assert!(s.contains("何以言") && s.contains("2004"), "{s}");
        t.send("\x1b"); // Esc clears
        t.wait_for("All records: 13");
        // Details of Mars, reset its pincode, read it off the screen.
        t.send("/");
        t.send("Mars");
        t.wait_for("All records: 1 ");
        t.send("\r"); // stop typing
        t.send("\r"); // open
        t.wait_for("Login pincode");
        t.send("p");
        t.wait_for("Reset the pincode?");
        t.send("y");
        let s = t.wait_for("As typed:");
        let pin: String = s
            .lines()
            .find_map(|l| l.split("As typed:").nth(1))
            .map(|r| {
                r.trim()
                    .chars()
                    .take_while(|c| c.is_ascii_digit())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(pin.len(), 9, "pincode on screen:\n{s}");
        t.send("\x1b"); // close the popup
        t.send("\x1b"); // back to the table
        t.send("\x1b"); // clear the search
        t.wait_for("All records: 13");
        // Add an account with the form.
        t.send("n");
        t.wait_for("Add account");
        t.send("Zoe 周");
        t.send("\t");
        t.send("1234");
        t.send("\t");
        t.send("zoe@e2e.vcms");
        t.send("\r");
        t.wait_for("All records: 14");
        // Mark two and remove them.
        t.send(" ");
        t.send(" ");
        t.wait_for("Marked: 2");
        t.send("d");
        t.wait_for("Confirm to revoke the selected user?");
        t.send("y");
        t.wait_for("All records: 12");
        // The failed email list.
        t.send(":failed\r");
        t.wait_for("Failed Email List");
        t.wait_for("No failed email.");
        t.send("q");
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = t.child.try_wait() {
                assert!(status.success(), "vcms exited with {status:?}");
                break;
            }
            if start.elapsed() > Duration::from_secs(10) {
                let _ = t.child.kill();
                panic!("vcms did not quit");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        pin
    })
    .await
    .expect("pty steps");
    // The console's sign-in replaced this client's session: sign in again.
    let mut client = client;
    client
        .login(&LoginRequest {
            email: EMAIL.into(),
            password: PASSWORD.into(),
            ..Default::default()
        })
        .await
        .expect("login again");
    let mars = client.account_by_extension("3567").await.expect("mars");
    assert_eq!(mars.pincode.as_deref(), Some(steps.as_str()));
    let page = client
        .accounts(&AccountQuery::default())
        .await
        .expect("page");
    assert_eq!(page.total, 12);
    client
        .account_by_extension("1234")
        .await
        .expect("added account");
    env.running.shutdown().await;
}
