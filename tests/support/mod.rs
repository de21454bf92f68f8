//! Shared by the console's test binaries: an in-process server on port 0 with an activated
//! enterprise, and the real `vcms` binary in a pseudo-terminal read through vt100.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, CommandBuilder, PtySize};
use vcms_api::client::Client;
use vcms_api::{LoginRequest, NewAccount};
use vcms_server::config::Config;

/// A server on 127.0.0.1:0 with a fresh SQLite in `dir`, captcha off, and an activated
/// enterprise owned by `email` / `password`. `tweak` adjusts the settings first.
pub async fn server(
    dir: &std::path::Path,
    email: &str,
    password: &str,
    tweak: impl FnOnce(&mut Config),
) -> vcms_server::Running {
    let clock = Arc::new(vcms_server::clock::SystemClock);
    server_with_clock(dir, email, password, clock, tweak).await
}

/// [`server`] with the server's clock given.
pub async fn server_with_clock(
    dir: &std::path::Path,
    email: &str,
    password: &str,
    clock: vcms_server::clock::SharedClock,
    tweak: impl FnOnce(&mut Config),
) -> vcms_server::Running {
    let mut cfg = Config::loopback(&dir.join("server"));
    cfg.sip.tls = String::new();
    cfg.security.captcha = false;
    tweak(&mut cfg);
    let running = vcms_server::testing::serve(cfg, clock).await;
    let new = vcms_server::service::auth::NewEnterprise::parse(
        "Test Owner",
        "Test Co",
        "China",
        email,
        password,
        Some("en"),
    )
    .expect("enterprise");
    vcms_server::service::auth::create_enterprise(&running.app, new, true)
        .await
        .expect("create");
    running
}

/// The owner signed in through the API.
pub async fn owner(running: &vcms_server::Running, email: &str, password: &str) -> Client {
    let mut c = Client::new(&running.url());
    c.login(&LoginRequest {
        email: email.into(),
        password: password.into(),
        ..Default::default()
    })
    .await
    .expect("login");
    c
}

/// Invite `email` as a help-desk colleague of `owner`'s enterprise and accept the invitation
/// from the email (`inbox` is the server's SMTP server) with `password`.
pub async fn helpdesk_colleague(
    running: &vcms_server::Running,
    owner: &Client,
    inbox: &vcms_server::testing::Smtp,
    email: &str,
    password: &str,
) {
    owner
        .invite(&vcms_api::InviteRequest {
            first_name: "Desk".into(),
            last_name: "Helper".into(),
            email: email.into(),
            role: vcms_api::Role::Helpdesk,
            manage_admins: false,
        })
        .await
        .expect("invite");
    let invitation = inbox.wait_for(email, 1).await;
    Client::new(&running.url())
        .accept_invitation(&vcms_api::AcceptInvitation {
            token: invitation.token(),
            password: password.into(),
            confirm_password: password.into(),
        })
        .await
        .expect("accept");
}

/// Add the demo's 13 accounts.
pub async fn add_demo_accounts(c: &Client) {
    for (name, ext, email) in vcms::demo::ACCOUNTS {
        c.add_account(&NewAccount {
            name: name.into(),
            extension: ext.into(),
            email: email.map(str::to_string),
            send_email: false,
        })
        .await
        .expect("add account");
    }
}

/// A program in a pseudo-terminal (the real `vcms` binary, or OpenSSH's `ssh`), its
/// screen read through vt100.
pub struct Pty {
    screen: Arc<Mutex<vt100::Parser>>,
    writer: Box<dyn Write + Send>,
    master: Box<dyn portable_pty::MasterPty + Send>,
    pub child: Box<dyn portable_pty::Child + Send + Sync>,
}

impl Pty {
    /// Start `vcms --server url --lang en` with its config, data and cache under `home`.
    pub fn spawn(url: &str, home: &std::path::Path) -> Pty {
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
        Pty::run(cmd, (80, 24))
    }

    /// Start `cmd` in a `cols`×`rows` pseudo-terminal.
    pub fn run(cmd: CommandBuilder, (cols, rows): (u16, u16)) -> Pty {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("pty");
        let child = pty.slave.spawn_command(cmd).expect("spawn");
        drop(pty.slave);
        let mut reader = pty.master.try_clone_reader().expect("reader");
        let writer = pty.master.take_writer().expect("writer");
        let screen = Arc::new(Mutex::new(vt100::Parser::new(rows, cols, 0)));
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
        Pty {
            screen,
            writer,
            master: pty.master,
            child,
        }
    }

    /// Resize the terminal, as a user dragging the window does (the program gets SIGWINCH).
    pub fn resize(&mut self, cols: u16, rows: u16) {
        self.screen.lock().expect("lock").set_size(rows, cols);
        self.master
            .resize(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("resize");
    }

    /// How many cells on screen have a colour of their own.
    pub fn coloured_cells(&self) -> usize {
        let parser = self.screen.lock().expect("lock");
        let screen = parser.screen();
        let (rows, cols) = screen.size();
        (0..rows)
            .flat_map(|r| (0..cols).map(move |c| (r, c)))
            .filter_map(|(r, c)| screen.cell(r, c))
            .filter(|cell| {
                cell.fgcolor() != vt100::Color::Default || cell.bgcolor() != vt100::Color::Default
            })
            .count()
    }

    /// The widest line on screen, in columns.
    pub fn widest_line(&self) -> usize {
        self.contents()
            .lines()
            .map(|l| l.trim_end().chars().count())
            .max()
            .unwrap_or(0)
    }

    pub fn contents(&self) -> String {
        self.screen.lock().expect("lock").screen().contents()
    }

    /// Wait (up to 20 s) until the screen shows `what`; return the screen.
    pub fn wait_for(&self, what: &str) -> String {
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

    /// Type `s`.
    pub fn send(&mut self, s: &str) {
        self.writer.write_all(s.as_bytes()).expect("write");
        self.writer.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(60));
    }

    /// Search the account table for `name` (one match), open its details, reset its pincode
    /// (confirmed with y), read the new pincode off the screen and go back to the table (the
    /// search still on).
    pub fn reset_pincode(&mut self, name: &str) -> String {
        self.send("/");
        self.send(name);
        self.wait_for("All records: 1 ");
        self.send("\r"); // stop typing
        self.send("\r"); // open
        self.wait_for("Login pincode");
        self.send("p");
        self.wait_for("Reset the pincode?");
        self.send("y");
        let s = self.wait_for("As typed:");
        let pin = Pty::pincode_on_screen(&s);
        assert_eq!(pin.len(), 9, "pincode on screen:\n{s}");
        self.send("\x1b"); // close the popup
        self.send("\x1b"); // back to the table
        pin
    }

    /// The 9-digit pincode shown after "As typed:" in the new-secret popup.
    pub fn pincode_on_screen(screen: &str) -> String {
        screen
            .lines()
            .find_map(|l| l.split("As typed:").nth(1))
            .map(|r| {
                r.trim()
                    .chars()
                    .take_while(|c| c.is_ascii_digit())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Wait (up to 10 s) for the program to exit successfully.
    pub fn wait_exit(&mut self) {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "vcms exited with {status:?}");
                return;
            }
            if start.elapsed() > Duration::from_secs(10) {
                let _ = self.child.kill();
                panic!("vcms did not quit");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
