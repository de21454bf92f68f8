//! The test harness, behind the `testing` feature (the server's, the console's and the
//! endpoint's tests enable it as a dev-dependency): [`TestServer`], a real server on port 0
//! with a fresh database (SQLite file, or a new PostgreSQL database when
//! VCMS_TEST_POSTGRES_URL is set) and a clock the test moves; [`Smtp`], the one SMTP catcher,
//! a real SMTP server on port 0 keeping what it receives; the settings they run with
//! ([`test_config`], on top of [`Config::loopback`]) and [`serve`], which starts a server on
//! port 0; and [`SipBed`], a licensed enterprise on a real-time server for the tests that
//! drive real SIP clients.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use vcms_api::client::{Client, ClientError};
use vcms_api::*;

use crate::clock::{Clock, ManualClock, SharedClock, SystemClock};
use crate::config::{Config, MailTransportKind};
use crate::service::AppState;
use crate::{Running, Server};

pub use crate::crypto::token_hash;
pub use crate::jobs::JobReport;
pub use crate::store::outbox::OutboxRow;

// ---------------- SMTP ----------------

#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub message_id: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Mail {
    /// The value of `token=` in the first link of the email.
    pub fn token(&self) -> String {
        let i = self.text.find("token=").expect("no token in email") + 6;
        self.text[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }
}

#[derive(Default)]
pub struct SmtpPolicy {
    /// Recipients answered with 550 at RCPT.
    pub reject: HashSet<String>,
    /// Answer every RCPT with 451 (a temporary failure).
    pub temp_fail: bool,
    /// Wait this long before accepting each message's data (a slow server).
    pub delay_ms: u64,
    /// With AUTH offered (after STARTTLS): the only (username, password) accepted.
    pub login: Option<(String, String)>,
}

#[derive(Clone)]
struct Handler {
    inbox: Arc<Mutex<Vec<Mail>>>,
    policy: Arc<Mutex<SmtpPolicy>>,
    hellos: Arc<std::sync::atomic::AtomicUsize>,
    to: Vec<String>,
    buf: Vec<u8>,
}

impl mailin_embedded::Handler for Handler {
    fn helo(&mut self, _ip: std::net::IpAddr, _domain: &str) -> mailin_embedded::Response {
        self.hellos
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        mailin_embedded::response::OK
    }
    fn auth_plain(
        &mut self,
        _authorization_id: &str,
        authentication_id: &str,
        password: &str,
    ) -> mailin_embedded::Response {
        let p = self.policy.lock().unwrap();
        match &p.login {
            Some((u, pw)) if u == authentication_id && pw == password => {
                mailin_embedded::response::AUTH_OK
            }
            _ => mailin_embedded::response::INVALID_CREDENTIALS,
        }
    }
    fn rcpt(&mut self, to: &str) -> mailin_embedded::Response {
        let p = self.policy.lock().unwrap();
        if p.temp_fail {
            return mailin_embedded::Response::custom(451, "Try again later".into());
        }
        if p.reject.contains(&to.to_lowercase()) {
            return mailin_embedded::Response::custom(550, "No such user here".into());
        }
        mailin_embedded::response::OK
    }
    fn data_start(
        &mut self,
        _d: &str,
        _f: &str,
        _is8bit: bool,
        to: &[String],
    ) -> mailin_embedded::Response {
        self.to = to.to_vec();
        self.buf.clear();
        mailin_embedded::response::OK
    }
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.buf.extend_from_slice(buf);
        Ok(())
    }
    fn data_end(&mut self) -> mailin_embedded::Response {
        let delay = self.policy.lock().unwrap().delay_ms;
        if delay > 0 {
            std::thread::sleep(Duration::from_millis(delay));
        }
        let parsed = mail_parser::MessageParser::default().parse(&self.buf);
        let (message_id, subject, text, html) = match &parsed {
            Some(m) => (
                m.message_id().unwrap_or_default().to_string(),
                m.subject().unwrap_or_default().to_string(),
                m.body_text(0).map(|t| t.to_string()).unwrap_or_default(),
                m.body_html(0).map(|t| t.to_string()).unwrap_or_default(),
            ),
            None => Default::default(),
        };
        self.inbox.lock().unwrap().push(Mail {
            to: self.to.clone(),
            message_id,
            subject,
            text,
            html,
        });
        mailin_embedded::response::OK
    }
}

#[derive(Clone)]
pub struct Smtp {
    pub port: u16,
    pub inbox: Arc<Mutex<Vec<Mail>>>,
    pub policy: Arc<Mutex<SmtpPolicy>>,
    /// HELO/EHLO commands received (a client says EHLO again after STARTTLS).
    pub hellos: Arc<std::sync::atomic::AtomicUsize>,
}

impl Smtp {
    /// Start a real SMTP server on `listener` (a thread that lives as long as the test binary).
    pub fn start_on(listener: std::net::TcpListener) -> Self {
        Self::start_with_tls(listener, None)
    }

    /// A real SMTP server offering STARTTLS with the certificate and key (PEM files), and AUTH
    /// PLAIN once TLS is on (see [`SmtpPolicy::login`]).
    pub fn start_starttls(cert_path: &std::path::Path, key_path: &std::path::Path) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self::start_with_tls(
            std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
            Some(mailin_embedded::SslConfig::SelfSigned {
                cert_path: cert_path.display().to_string(),
                key_path: key_path.display().to_string(),
            }),
        )
    }

    fn start_with_tls(
        listener: std::net::TcpListener,
        tls: Option<mailin_embedded::SslConfig>,
    ) -> Self {
        let port = listener.local_addr().unwrap().port();
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let policy = Arc::new(Mutex::new(SmtpPolicy::default()));
        let hellos = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let handler = Handler {
            inbox: inbox.clone(),
            policy: policy.clone(),
            hellos: hellos.clone(),
            to: vec![],
            buf: vec![],
        };
        let mut server = mailin_embedded::Server::new(handler);
        server
            .with_name("smtp.test")
            .with_num_threads(4)
            .with_tcp_listener(listener);
        if let Some(tls) = tls {
            server.with_ssl(tls).unwrap();
            server.with_auth(mailin_embedded::AuthMechanism::Plain);
        }
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        Self {
            port,
            inbox,
            policy,
            hellos,
        }
    }

    pub fn hello_count(&self) -> usize {
        self.hellos.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn start() -> Self {
        Self::start_on(std::net::TcpListener::bind("127.0.0.1:0").unwrap())
    }

    pub fn mails_to(&self, to: &str) -> Vec<Mail> {
        let to = to.to_lowercase();
        self.inbox
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.to.iter().any(|t| t.to_lowercase() == to))
            .cloned()
            .collect()
    }

    /// Wait (up to 10 s) until `to` has received `n` emails and return the last.
    pub async fn wait_for(&self, to: &str, n: usize) -> Mail {
        for _ in 0..200 {
            if let Some(m) = self.mails_to(to).into_iter().nth(n - 1) {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.never_came(to, n)
    }

    /// [`Self::wait_for`] for a thread that may block (outside the runtime, or in
    /// `spawn_blocking`).
    pub fn wait_blocking(&self, to: &str, n: usize) -> Mail {
        for _ in 0..200 {
            if let Some(m) = self.mails_to(to).into_iter().nth(n - 1) {
                return m;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.never_came(to, n)
    }

    fn never_came(&self, to: &str, n: usize) -> ! {
        panic!(
            "{to} did not receive email #{n}; inbox: {:?}",
            self.inbox.lock().unwrap()
        );
    }
}

// ---------------- database ----------------

#[derive(Debug, Clone)]
pub enum Db {
    Sqlite,
    Postgres(String),
}

impl Db {
    /// A PostgreSQL backend when VCMS_TEST_POSTGRES_URL is set; otherwise None (the test is
    /// skipped with a note).
    pub fn postgres() -> Option<Db> {
        match std::env::var("VCMS_TEST_POSTGRES_URL") {
            Ok(u) if !u.is_empty() => Some(Db::Postgres(u)),
            _ => {
                eprintln!("skipped: VCMS_TEST_POSTGRES_URL is not set");
                None
            }
        }
    }

    /// A URL of a fresh database of this backend.
    pub async fn fresh_url(&self, dir: &std::path::Path) -> String {
        match self {
            Db::Sqlite => format!("sqlite://{}?mode=rwc", dir.join("vcms.db").display()),
            Db::Postgres(admin_url) => {
                use sqlx::Connection;
                static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs();
                let name = format!(
                    "vcms_t_{now}_{}_{}",
                    std::process::id(),
                    N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                );
                let mut c = sqlx::PgConnection::connect(admin_url)
                    .await
                    .expect("connect to VCMS_TEST_POSTGRES_URL");
                drop_stale_databases(&mut c, now).await;
                sqlx::query(&format!("CREATE DATABASE {name} TEMPLATE template0"))
                    .execute(&mut c)
                    .await
                    .expect("create test database");
                let mut u = url::Url::parse(admin_url).unwrap();
                u.set_path(&format!("/{name}"));
                u.to_string()
            }
        }
    }
}

/// Test databases of earlier runs (older than an hour) are dropped, so runs never collide
/// and do not pile up.
async fn drop_stale_databases(c: &mut sqlx::PgConnection, now: u64) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    let mut first = false;
    ONCE.call_once(|| first = true);
    if !first {
        return;
    }
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'vcms_t_%'")
            .fetch_all(&mut *c)
            .await
            .unwrap_or_default();
    for n in names {
        let ts: u64 = n
            .split('_')
            .nth(2)
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        if ts + 3600 < now {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {n}"))
                .execute(&mut *c)
                .await;
        }
    }
}

// ---------------- server ----------------

/// A server with the settings `cfg` on the clock `clock`, serving HTTP on 127.0.0.1:0.
pub async fn serve(cfg: Config, clock: SharedClock) -> Running {
    let server = Server::build(cfg, clock).await.expect("build server");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    server.start(listener, false).await.expect("start server")
}

pub struct TestServer {
    pub running: Running,
    pub clock: ManualClock,
    pub smtp: Smtp,
    pub url: String,
    pub dir: tempfile::TempDir,
    pub db_url: String,
}

pub fn test_config(dir: &std::path::Path, db_url: &str, smtp_port: u16) -> Config {
    let mut cfg = Config::loopback(dir);
    cfg.database.url = Some(db_url.to_string());
    cfg.mail.transport = MailTransportKind::Smtp;
    cfg.smtp.host = "127.0.0.1".into();
    cfg.smtp.port = smtp_port;
    cfg.smtp.timeout_secs = 5;
    cfg.mail.poll_millis = 50;
    // A light proof of work: every captcha in the tests still carries one.
    cfg.security.captcha_pow_bits = 8;
    cfg
}

impl TestServer {
    pub async fn start(db: Db) -> Self {
        Self::start_with(db, Smtp::start(), |_| {}).await
    }

    pub async fn start_with(db: Db, smtp: Smtp, tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db_url = db.fresh_url(dir.path()).await;
        let mut cfg = test_config(dir.path(), &db_url, smtp.port);
        tweak(&mut cfg);
        Self::boot(cfg, ManualClock::default(), smtp, dir, db_url).await
    }

    async fn boot(
        cfg: Config,
        clock: ManualClock,
        smtp: Smtp,
        dir: tempfile::TempDir,
        db_url: String,
    ) -> Self {
        let running = serve(cfg, Arc::new(clock.clone())).await;
        let url = running.url();
        Self {
            running,
            clock,
            smtp,
            url,
            dir,
            db_url,
        }
    }

    pub fn client(&self) -> Client {
        Client::new(&self.url)
    }

    /// Stop the server and start a new one on the same data and database (same clock), with
    /// settings changed by `tweak`.
    pub async fn restart_with(self, tweak: impl FnOnce(&mut Config)) -> Self {
        let Self {
            running,
            clock,
            smtp,
            dir,
            db_url,
            ..
        } = self;
        running.shutdown().await;
        let mut cfg = test_config(dir.path(), &db_url, smtp.port);
        tweak(&mut cfg);
        Self::boot(cfg, clock, smtp, dir, db_url).await
    }

    /// Stop the server and start a new one on the same data and database (same clock).
    pub async fn restart(self) -> Self {
        self.restart_with(|_| {}).await
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// A second instance on the same database, secret key and clock (a directory of its
    /// own, its own SMTP settings as this one's): several servers behind one name.
    pub async fn second_instance(&self) -> (Running, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            self.dir.path().join("secret.key"),
            dir.path().join("secret.key"),
        )
        .unwrap();
        let cfg = test_config(dir.path(), &self.db_url, self.smtp.port);
        let running = serve(cfg, Arc::new(self.clock.clone())).await;
        (running, dir)
    }

    /// Move the clock and let the outbox worker look at what became due.
    pub fn advance(&self, ms: i64) {
        self.clock.advance(ms);
        self.running.app.mailer.wake();
    }

    /// Ask for a captcha and read its answer, as a person reading the art would; the
    /// proof of work is solved as the console does. Returns (id, answer, pow).
    pub async fn captcha(&self) -> (String, String, String) {
        let c = self.client().captcha().await.unwrap();
        let pow = vcms_api::client::solve_captcha(&c).await;
        let answer = self.captcha_answer(&c.id).await.expect("a live captcha");
        (c.id, answer, pow)
    }

    /// The answer of a live captcha without consuming it; `None` once it is gone.
    pub async fn captcha_answer(&self, id: &str) -> Option<String> {
        let mut conn = self.running.app.store.conn().await.unwrap();
        crate::store::admin::peek_captcha(&mut conn, id)
            .await
            .unwrap()
    }

    /// A forgot-password or activation-resend request for `email` with a solved captcha.
    pub async fn email_request(&self, email: &str) -> EmailRequest {
        let (captcha_id, captcha_answer, captcha_pow) = self.captcha().await;
        EmailRequest {
            email: email.into(),
            captcha_id,
            captcha_answer,
            captcha_pow,
        }
    }

    pub fn register_request(&self, email: &str, password: &str) -> RegisterRequest {
        RegisterRequest {
            full_name: "Anna Owner".into(),
            company: "Yealink".into(),
            country: "China".into(),
            email: email.into(),
            password: password.into(),
            language: None,
            captcha_id: String::new(),
            captcha_answer: String::new(),
            captcha_pow: String::new(),
        }
    }

    pub async fn register(
        &self,
        email: &str,
        password: &str,
    ) -> Result<RegisterResponse, ClientError> {
        let (captcha_id, captcha_answer, captcha_pow) = self.captcha().await;
        let req = RegisterRequest {
            captcha_id,
            captcha_answer,
            captcha_pow,
            ..self.register_request(email, password)
        };
        self.client().register(&req).await
    }

    /// Register, read the activation email, activate. Returns the enterprise number.
    pub async fn register_and_activate(&self, email: &str, password: &str) -> String {
        let before = self.smtp.mails_to(email).len();
        let r = self.register(email, password).await.expect("register");
        let mail = self.smtp.wait_for(email, before + 1).await;
        self.client()
            .activate(&mail.token())
            .await
            .expect("activate");
        r.enterprise_number
    }

    pub async fn login(&self, email: &str, password: &str) -> Result<Client, ClientError> {
        self.sign_in(LoginRequest {
            email: email.into(),
            password: password.into(),
            ..Default::default()
        })
        .await
    }

    /// Sign in, answering a captcha.
    pub async fn login_with_captcha(
        &self,
        email: &str,
        password: &str,
    ) -> Result<Client, ClientError> {
        let (id, answer, pow) = self.captcha().await;
        self.sign_in(LoginRequest {
            email: email.into(),
            password: password.into(),
            captcha_id: Some(id),
            captcha_answer: Some(answer),
            captcha_pow: Some(pow),
            ..Default::default()
        })
        .await
    }

    /// A client signed in with `req`.
    async fn sign_in(&self, req: LoginRequest) -> Result<Client, ClientError> {
        let mut c = self.client();
        c.login(&req).await?;
        Ok(c)
    }

    /// An enterprise ready to use: registered, activated, owner signed in.
    pub async fn owner(&self, email: &str) -> (String, Client) {
        let number = self.register_and_activate(email, "secret123").await;
        (number, self.login(email, "secret123").await.expect("login"))
    }

    /// Issue a license as the distributor would.
    pub async fn issue_license(&self, quantity: i64, years: i64) -> String {
        crate::service::license::issue(&self.running.app, quantity, years)
            .await
            .unwrap()
    }

    pub async fn run_jobs(&self) -> crate::jobs::JobReport {
        crate::jobs::run_once(&self.running.app).await.unwrap()
    }

    /// Row counts of the tables a failed request must leave alone.
    pub async fn counts(&self) -> Vec<(String, i64)> {
        let mut out = vec![];
        let mut c = self.running.app.store.conn().await.unwrap();
        for t in [
            "enterprises",
            "admins",
            "sessions",
            "tokens",
            "licenses",
            "accounts",
            "outbox",
        ] {
            let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {t}"))
                .fetch_one(&mut *c)
                .await
                .unwrap();
            out.push((t.to_string(), n));
        }
        out
    }

    pub async fn outbox(&self) -> Vec<crate::store::outbox::OutboxRow> {
        let mut c = self.running.app.store.conn().await.unwrap();
        crate::store::outbox::recent(&mut c, 1000).await.unwrap()
    }

    /// Wait until the outbox row `id` reaches `status`.
    pub async fn wait_outbox(&self, id: i64, status: &str) -> crate::store::outbox::OutboxRow {
        for _ in 0..200 {
            let mut c = self.running.app.store.conn().await.unwrap();
            let row = crate::store::outbox::by_id(&mut c, id)
                .await
                .unwrap()
                .unwrap();
            if row.status == status {
                return row;
            }
            drop(c);
            self.running.app.mailer.wake();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("outbox {id} never reached {status}");
    }
}

// ---------------- SIP test bed ----------------

/// For the tests that drive real SIP clients: a server on SQLite on the system clock (the
/// clients and the SIP timers run in real time), its mail caught by its own [`Smtp`]; one
/// enterprise with a license for 50 accounts, and its accounts.
pub struct SipBed {
    pub running: Running,
    pub app: AppState,
    pub enterprise_id: i64,
    pub users: Vec<AccountDetails>,
    pub smtp: Smtp,
}

impl SipBed {
    /// The bed with its data in `dir`, the settings of [`test_config`] changed by `tweak`,
    /// and an account per name in `names` (extensions 1001, 1002, …).
    pub async fn start(
        dir: &std::path::Path,
        names: &[String],
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        use crate::service::{accounts, auth, license, Actor};
        let smtp = Smtp::start();
        let mut cfg = test_config(dir, &Db::Sqlite.fresh_url(dir).await, smtp.port);
        tweak(&mut cfg);
        let running = serve(cfg, Arc::new(SystemClock)).await;
        let app = running.app.clone();
        let new = auth::NewEnterprise::parse(
            "SIP Owner",
            "SIP Ltd",
            "NL",
            "sip@example.com",
            "secret12345",
            None,
        )
        .unwrap();
        let (enterprise_id, _) = auth::create_enterprise(&app, new, true).await.unwrap();
        let owner = Actor::operator(enterprise_id);
        let raw = license::issue(&app, 50, 1).await.unwrap();
        license::add(&app, &owner, &raw).await.unwrap();
        let mut users = vec![];
        for (i, name) in names.iter().enumerate() {
            let account = NewAccount {
                name: name.clone(),
                extension: format!("{}", 1001 + i),
                email: None,
                send_email: false,
            };
            users.push(accounts::add(&app, &owner, &account).await.unwrap());
        }
        Self {
            running,
            app,
            enterprise_id,
            users,
            smtp,
        }
    }
}
