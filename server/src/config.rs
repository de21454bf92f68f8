//! Server settings: defaults → TOML file → `VCMS_` environment variables.

use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the SQLite file, the outbox folder, the secret key and logs live.
    pub data_dir: PathBuf,
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub mail: MailConfig,
    pub smtp: SmtpConfig,
    pub security: SecurityConfig,
    pub jobs: JobsConfig,
    pub sip: SipConfig,
    pub endpoint: EndpointConfig,
    pub import: ImportConfig,
    pub metrics: MetricsConfig,
    pub ssh: SshConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// host:port; port 0 picks any free port (the chosen one is printed).
    pub listen: String,
    /// Base URL put in email links; defaults to http://<listen address>.
    pub public_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// sqlite://PATH or postgres://user@host:port/db. Empty: SQLite file in data_dir.
    pub url: Option<String>,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransportKind {
    Folder,
    Smtp,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    pub transport: MailTransportKind,
    /// Sender of every email.
    pub from: String,
    /// Folder for the folder transport; default DATA_DIR/outbox.
    pub folder: Option<PathBuf>,
    /// Attempts before a temporarily failing email is declared failed.
    pub max_attempts: i64,
    /// First retry delay; each further retry doubles it (capped at one hour).
    pub retry_base_secs: i64,
    /// How often the worker looks for due emails (it is also woken when one is queued).
    pub poll_millis: u64,
    /// After a configuration problem of the transport (certificate not trusted, sign-in
    /// refused), how often the worker tries the connection again; emails stay queued meanwhile.
    pub config_retry_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    None,
    Starttls,
    Tls,
}

#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<String>,
    pub timeout_secs: u64,
    /// PEM file of a CA to trust (besides the public ones) for STARTTLS and TLS: for an SMTP
    /// server with a certificate from a private CA, or self-signed.
    pub ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    /// 32-byte key, base64, that encrypts device secrets at rest. Empty: key_file.
    pub secret_key: Option<String>,
    /// Default DATA_DIR/secret.key, generated with mode 0600 on first start.
    pub key_file: Option<PathBuf>,
    /// Ask for a captcha at registration, forgotten password, and sign-in after a failure.
    pub captcha: bool,
    /// Difficulty of the captcha's proof of work: a solution takes 2^bits SHA-256 hashes on
    /// average (0 turns the proof of work off). Default 21: about 0.2 s for the console.
    pub captcha_pow_bits: u32,
}

impl std::fmt::Debug for SecurityConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecurityConfig")
            .field("secret_key", &self.secret_key.as_ref().map(|_| "***"))
            .field("key_file", &self.key_file)
            .field("captcha", &self.captcha)
            .field("captcha_pow_bits", &self.captcha_pow_bits)
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// How often the periodic jobs run (license expiry warnings, trial purge, clean-up).
    pub interval_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SipConfig {
    /// host:port of the UDP listener; empty turns it off; port 0 picks a free port.
    pub udp: String,
    /// host:port of the TCP listener; empty turns it off.
    pub tcp: String,
    /// host:port of the TLS listener; empty turns it off.
    pub tls: String,
    /// SIP domain (and digest realm) of the service; default "vcms.local".
    pub domain: String,
    /// Host that endpoints are told to reach SIP on; default: the listener's host.
    pub public_host: Option<String>,
    /// PEM certificate and key for TLS; empty: one is generated on first start in data_dir.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Expires a registration may ask for: below min is answered 423; above max is cut.
    pub min_expires: u32,
    pub max_expires: u32,
    /// Expires when the request names none.
    pub default_expires: u32,
    /// Endpoints one account may have registered at once.
    pub max_bindings: usize,
    /// How long a digest nonce is good for before `stale=true`.
    pub nonce_secs: u64,
    /// Failed digest answers for one account from one address (within 10 minutes) before
    /// 403 for 10 minutes.
    pub max_auth_failures: u32,
    /// Digest algorithms offered in a 401/407, one WWW-Authenticate line each, in order.
    /// Default `["MD5"]`: every common client accepts it, and some (baresip 1.0) give up
    /// on a challenge that also offers SHA-256. `["SHA-256", "MD5"]` offers both.
    pub challenge_algorithms: Vec<String>,
    /// Failed digest answers for one account from all addresses together in a day (UTC)
    /// before new sign-ins of that account are refused with 403 until the day ends; a
    /// device refreshing its live binding is exempt (up to twice this many).
    pub max_auth_failures_per_day: u32,
    /// How long a call rings before the caller is told 480 (no answer), in seconds.
    pub ring_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EndpointConfig {
    /// Failed endpoint sign-ins (pincode, password or device secret) allowed per source
    /// address per `address_window_secs`.
    pub address_failures: i64,
    pub address_window_secs: i64,
    /// Failed pincode sign-ins allowed across the whole service per `service_window_secs`
    /// (the budget that keeps the pincode space from being searched). Once it is spent, an
    /// address that has not failed a pincode today still gets one try a day.
    pub service_failures: i64,
    pub service_window_secs: i64,
    /// Failed cloud number + password sign-ins allowed per cloud number per
    /// `account_window_secs`, from all addresses together (same fresh-address rule).
    pub account_failures: i64,
    pub account_window_secs: i64,
}

impl Default for SipConfig {
    fn default() -> Self {
        Self {
            udp: "127.0.0.1:5060".into(),
            tcp: "127.0.0.1:5060".into(),
            tls: "127.0.0.1:5061".into(),
            domain: "vcms.local".into(),
            public_host: None,
            tls_cert: None,
            tls_key: None,
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            max_bindings: 5,
            nonce_secs: 300,
            max_auth_failures: 5,
            challenge_algorithms: vec!["MD5".into()],
            max_auth_failures_per_day: 100,
            ring_secs: 120,
        }
    }
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            address_failures: 20,
            address_window_secs: 600,
            service_failures: 100,
            service_window_secs: 60,
            account_failures: 20,
            account_window_secs: 600,
        }
    }
}

/// `GET /metrics` (Prometheus): on a listener of its own (`listen`, e.g. 127.0.0.1:9464),
/// or on the public HTTP listener to requests with `Authorization: Bearer <token>`. With
/// neither set, no metrics are served.
#[derive(Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    pub listen: Option<String>,
    pub token: Option<String>,
}

impl std::fmt::Debug for MetricsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsConfig")
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| "(hidden)"))
            .finish()
    }
}

/// The console over SSH (`ssh -p 2222 EMAIL@host`): off unless `listen` is set.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SshConfig {
    /// Where to listen, e.g. 0.0.0.0:2222 (`VCMS_SSH_LISTEN`).
    pub listen: Option<String>,
    /// Consoles open at once, in all.
    pub max_connections: usize,
    /// Connections at once from one address.
    pub max_per_address: usize,
    /// A console without a key pressed for this long ends (the web session's 30 minutes).
    pub idle_timeout_secs: u64,
}

impl Default for SshConfig {
    fn default() -> Self {
        Self {
            listen: None,
            max_connections: 100,
            max_per_address: 10,
            idle_timeout_secs: 30 * 60,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImportConfig {
    /// Most rows in one POST /api/v1/accounts/batch.
    pub max_rows: usize,
    /// Largest request body the server reads (any route), in bytes; a larger one is refused
    /// with 413 and a message saying so.
    pub max_body_bytes: usize,
}

impl Default for ImportConfig {
    fn default() -> Self {
        Self {
            max_rows: 100_000,
            max_body_bytes: 16 * 1024 * 1024,
        }
    }
}

pub fn default_data_dir() -> PathBuf {
    directories::ProjectDirs::from("", "", "vcms")
        .map(|d| d.data_dir().join("server"))
        .unwrap_or_else(|| PathBuf::from("./vcms-data"))
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: default_data_dir(),
            http: HttpConfig::default(),
            database: DatabaseConfig::default(),
            mail: MailConfig::default(),
            smtp: SmtpConfig::default(),
            security: SecurityConfig::default(),
            jobs: JobsConfig::default(),
            sip: SipConfig::default(),
            endpoint: EndpointConfig::default(),
            import: ImportConfig::default(),
            metrics: MetricsConfig::default(),
            ssh: SshConfig::default(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            public_url: None,
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 8,
        }
    }
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            transport: MailTransportKind::Folder,
            from: "vcms <noreply@vcms.localhost>".into(),
            folder: None,
            max_attempts: 8,
            retry_base_secs: 30,
            poll_millis: 1000,
            config_retry_secs: 60,
        }
    }
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            host: "localhost".into(),
            port: 25,
            security: SmtpSecurity::None,
            username: None,
            password: None,
            timeout_secs: 30,
            ca_file: None,
        }
    }
}

/// See [`SecurityConfig::captcha_pow_bits`].
pub const DEFAULT_POW_BITS: u32 = 21;

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            secret_key: None,
            key_file: None,
            captcha: true,
            captcha_pow_bits: DEFAULT_POW_BITS,
        }
    }
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            interval_secs: 3600,
        }
    }
}

/// The value of the environment variable `name`, parsed; an error says it must be `what`.
fn env_number<T: std::str::FromStr>(name: &str, what: &str, v: &str) -> anyhow::Result<T> {
    v.parse()
        .map_err(|_| anyhow::anyhow!("{name} must be {what} (got {v:?})"))
}

impl Config {
    /// Everything on 127.0.0.1 with free ports (HTTP, SIP over UDP, TCP and TLS), data in
    /// `data_dir`: what `vcms demo` and the tests start from.
    pub fn loopback(data_dir: &Path) -> Config {
        let mut cfg = Config {
            data_dir: data_dir.to_path_buf(),
            ..Default::default()
        };
        cfg.http.listen = "127.0.0.1:0".into();
        cfg.sip.udp = "127.0.0.1:0".into();
        cfg.sip.tcp = "127.0.0.1:0".into();
        cfg.sip.tls = "127.0.0.1:0".into();
        cfg
    }

    /// Defaults, then the TOML file if given, then the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut cfg = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", path.display()))?;
                toml::from_str(&text)
                    .map_err(|e| anyhow::anyhow!("config {}: {e}", path.display()))?
            }
            None => Config::default(),
        };
        cfg.apply_env(|k| std::env::var(k).ok())?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Overlay `VCMS_*` variables (the names are part of the interface; see README).
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        // SIP listeners: set but empty turns one off.
        for (k, slot) in [
            ("VCMS_SIP_UDP", &mut self.sip.udp),
            ("VCMS_SIP_TCP", &mut self.sip.tcp),
            ("VCMS_SIP_TLS", &mut self.sip.tls),
        ] {
            if let Some(v) = get(k) {
                *slot = v.trim().to_string();
            }
        }
        let get = |k: &str| get(k).filter(|v| !v.is_empty());
        if let Some(v) = get("VCMS_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(v) = get("VCMS_HTTP_LISTEN") {
            self.http.listen = v;
        }
        if let Some(v) = get("VCMS_PUBLIC_URL") {
            self.http.public_url = Some(v);
        }
        if let Some(v) = get("VCMS_DATABASE_URL") {
            self.database.url = Some(v);
        }
        self.apply_mail_env(&get)?;
        if let Some(v) = get("VCMS_SECRET_KEY") {
            self.security.secret_key = Some(v);
        }
        if let Some(v) = get("VCMS_SIP_DOMAIN") {
            self.sip.domain = v;
        }
        if let Some(v) = get("VCMS_SIP_PUBLIC_HOST") {
            self.sip.public_host = Some(v);
        }
        if let Some(v) = get("VCMS_SIP_CHALLENGE_ALGORITHMS") {
            self.sip.challenge_algorithms = v
                .split(',')
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty())
                .collect();
        }
        if let Some(v) = get("VCMS_SSH_LISTEN") {
            self.ssh.listen = Some(v);
        }
        if let Some(v) = get("VCMS_METRICS_LISTEN") {
            self.metrics.listen = Some(v);
        }
        if let Some(v) = get("VCMS_METRICS_TOKEN") {
            self.metrics.token = Some(v);
        }
        if let Some(v) = get("VCMS_IMPORT_MAX_ROWS") {
            self.import.max_rows = env_number("VCMS_IMPORT_MAX_ROWS", "a number", &v)?;
        }
        if let Some(v) = get("VCMS_MAX_BODY_BYTES") {
            self.import.max_body_bytes =
                env_number("VCMS_MAX_BODY_BYTES", "a number of bytes", &v)?;
        }
        if let Some(v) = get("VCMS_CAPTCHA") {
            self.security.captcha =
                !matches!(v.to_lowercase().as_str(), "0" | "false" | "off" | "no");
        }
        if let Some(v) = get("VCMS_CAPTCHA_POW_BITS") {
            self.security.captcha_pow_bits =
                env_number("VCMS_CAPTCHA_POW_BITS", "a number of bits", &v)?;
        }
        Ok(())
    }

    /// The mail transport's `VCMS_*` variables (`get` answers only those set and not empty).
    fn apply_mail_env(&mut self, get: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        if let Some(v) = get("VCMS_MAIL_TRANSPORT") {
            self.mail.transport = match v.to_lowercase().as_str() {
                "folder" => MailTransportKind::Folder,
                "smtp" => MailTransportKind::Smtp,
                _ => anyhow::bail!("VCMS_MAIL_TRANSPORT must be folder or smtp (got {v:?})"),
            };
        }
        if let Some(v) = get("VCMS_MAIL_FROM") {
            self.mail.from = v;
        }
        if let Some(v) = get("VCMS_SMTP_HOST") {
            self.smtp.host = v;
        }
        if let Some(v) = get("VCMS_SMTP_PORT") {
            self.smtp.port = env_number("VCMS_SMTP_PORT", "a port number", &v)?;
        }
        if let Some(v) = get("VCMS_SMTP_SECURITY") {
            self.smtp.security = match v.to_lowercase().as_str() {
                "none" => SmtpSecurity::None,
                "starttls" => SmtpSecurity::Starttls,
                "tls" => SmtpSecurity::Tls,
                _ => anyhow::bail!("VCMS_SMTP_SECURITY must be none, starttls or tls (got {v:?})"),
            };
        }
        if let Some(v) = get("VCMS_SMTP_USERNAME") {
            self.smtp.username = Some(v);
        }
        if let Some(v) = get("VCMS_SMTP_PASSWORD") {
            self.smtp.password = Some(v);
        }
        if let Some(v) = get("VCMS_SMTP_CA_FILE") {
            self.smtp.ca_file = (!v.is_empty()).then(|| PathBuf::from(v));
        }
        Ok(())
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        use std::net::ToSocketAddrs;
        self.http.listen.to_socket_addrs().map_err(|e| {
            anyhow::anyhow!("http.listen {:?} is not host:port: {e}", self.http.listen)
        })?;
        let url = self.database_url();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            anyhow::bail!("database.url must start with sqlite:// or postgres:// (got {url:?})");
        }
        if let Some(u) = &self.http.public_url {
            url::Url::parse(u).map_err(|e| anyhow::anyhow!("http.public_url {u:?}: {e}"))?;
        }
        self.validate_sip()?;
        self.validate_limits()
    }

    /// The SIP listeners (host:port, or empty to turn one off), expiry, failure and binding
    /// limits, challenge algorithms and the TLS certificate.
    fn validate_sip(&self) -> anyhow::Result<()> {
        use std::net::ToSocketAddrs;
        for (name, v) in [
            ("sip.udp", &self.sip.udp),
            ("sip.tcp", &self.sip.tcp),
            ("sip.tls", &self.sip.tls),
        ] {
            let v = v.trim();
            if !v.is_empty() && !matches!(v, "off" | "none") {
                v.to_socket_addrs().map_err(|e| {
                    anyhow::anyhow!("{name} {v:?} is not host:port (or empty to turn it off): {e}")
                })?;
            }
        }
        if self.sip.min_expires == 0 || self.sip.min_expires > self.sip.max_expires {
            anyhow::bail!("sip.min_expires must be at least 1 and at most sip.max_expires");
        }
        if self.sip.max_auth_failures == 0 || self.sip.max_auth_failures_per_day == 0 {
            anyhow::bail!(
                "sip.max_auth_failures and sip.max_auth_failures_per_day must be at least 1"
            );
        }
        if self.sip.max_bindings == 0 {
            anyhow::bail!("sip.max_bindings must be at least 1");
        }
        if self.sip.challenge_algorithms.is_empty() {
            anyhow::bail!("sip.challenge_algorithms must name at least one of MD5, SHA-256");
        }
        for a in &self.sip.challenge_algorithms {
            if vcms_digest::Algorithm::parse(a).is_none() {
                anyhow::bail!("sip.challenge_algorithms: {a:?} is not MD5 or SHA-256");
            }
        }
        if self.sip.tls_cert.is_some() != self.sip.tls_key.is_some() {
            anyhow::bail!("sip.tls_cert and sip.tls_key go together: give both or neither");
        }
        Ok(())
    }

    /// The endpoint sign-in throttles, the captcha, import, mail and SMTP settings.
    fn validate_limits(&self) -> anyhow::Result<()> {
        if self.endpoint.account_failures < 1 || self.endpoint.account_window_secs < 1 {
            anyhow::bail!(
                "endpoint.account_failures and endpoint.account_window_secs must be at least 1"
            );
        }
        if self.endpoint.address_failures < 1 || self.endpoint.service_failures < 1 {
            anyhow::bail!(
                "endpoint.address_failures and endpoint.service_failures must be at least 1"
            );
        }
        if self.endpoint.address_window_secs < 1 || self.endpoint.service_window_secs < 1 {
            anyhow::bail!("endpoint.*_window_secs must be at least 1");
        }
        if self.security.captcha_pow_bits > 32 {
            anyhow::bail!(
                "security.captcha_pow_bits must be 0 to 32 (got {})",
                self.security.captcha_pow_bits
            );
        }
        if self.import.max_rows < 1 || self.import.max_body_bytes < 64 * 1024 {
            anyhow::bail!(
                "import.max_rows must be at least 1 and import.max_body_bytes at least 65536"
            );
        }
        if self.mail.max_attempts < 1 {
            anyhow::bail!("mail.max_attempts must be at least 1");
        }
        if self.mail.transport == MailTransportKind::Smtp && self.smtp.host.trim().is_empty() {
            anyhow::bail!("smtp.host is required when mail.transport = \"smtp\"");
        }
        Ok(())
    }

    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(u) if !u.is_empty() => u.clone(),
            _ => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("vcms.db").display()
            ),
        }
    }

    pub fn outbox_dir(&self) -> PathBuf {
        self.mail
            .folder
            .clone()
            .unwrap_or_else(|| self.data_dir.join("outbox"))
    }

    pub fn key_file(&self) -> PathBuf {
        self.security
            .key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("secret.key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_toml_and_defaults() {
        let mut cfg: Config = toml::from_str("[http]\nlisten = \"127.0.0.1:9000\"\n").unwrap();
        assert_eq!(cfg.http.listen, "127.0.0.1:9000");
        let env = |k: &str| match k {
            "VCMS_HTTP_LISTEN" => Some("127.0.0.1:0".to_string()),
            "VCMS_DATA_DIR" => Some("/tmp/x".to_string()),
            "VCMS_MAIL_TRANSPORT" => Some("smtp".to_string()),
            "VCMS_SMTP_HOST" => Some("mail.example.com".to_string()),
            "VCMS_SMTP_PORT" => Some("2525".to_string()),
            _ => None,
        };
        cfg.apply_env(env).unwrap();
        assert_eq!(cfg.http.listen, "127.0.0.1:0");
        assert_eq!(cfg.sip.tls, "127.0.0.1:5061");
        cfg.apply_env(|k| (k == "VCMS_SIP_TLS").then(String::new))
            .unwrap();
        assert_eq!(
            (cfg.sip.tls.as_str(), cfg.sip.udp.as_str()),
            ("", "127.0.0.1:5060")
        );
        assert_eq!(cfg.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(cfg.mail.transport, MailTransportKind::Smtp);
        assert_eq!(
            (cfg.smtp.host.as_str(), cfg.smtp.port),
            ("mail.example.com", 2525)
        );
        assert!(cfg.database_url().starts_with("sqlite:///tmp/x/vcms.db"));
        cfg.validate().unwrap();
        let bad = |k: &str| (k == "VCMS_SMTP_PORT").then(|| "abc".to_string());
        assert!(cfg.apply_env(bad).is_err());
    }

    #[test]
    fn example_config_parses() {
        let text = include_str!("../vcms-server.example.toml");
        let cfg: Config = toml::from_str(text).unwrap();
        cfg.validate().unwrap();
    }
}
