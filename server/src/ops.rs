//! The operator's commands that look after a deployment: `backup`, `restore` and `doctor`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::clock::rfc3339;
use crate::config::Config;
use crate::crypto::SecretBox;
use crate::mail::worker::wall_now as wall_ms;
use crate::store::backup::{self, BackupLabel};
use crate::store::{redact_url, sqlite_path, Store};

/// What a backup's key check digests: equal only under the same secret key.
const KEY_CHECK: &str = "vcms backup key check";

/// The embedded database's file, or the refusal that names what to use for PostgreSQL.
fn sqlite_file(cfg: &Config, what: &str) -> anyhow::Result<PathBuf> {
    let url = cfg.database_url();
    match sqlite_path(&url) {
        Some(p) => Ok(PathBuf::from(p)),
        None => bail!(
            "the database is PostgreSQL ({}): {what} (README, \"Backup and restore\"); keep the secret key {} with the dump",
            redact_url(&url),
            cfg.key_file().display()
        ),
    }
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

/// The secret key in use, without ever making a new one (a new key would open nothing).
fn present_key(cfg: &Config) -> anyhow::Result<SecretBox> {
    let inline = cfg
        .security
        .secret_key
        .as_deref()
        .filter(|k| !k.trim().is_empty());
    if inline.is_none() && !cfg.key_file().exists() {
        bail!(
            "no secret key at {} (and VCMS_SECRET_KEY is not set): put there the key that sealed the data; without it the accounts' passwords, pincodes and device secrets cannot be opened",
            cfg.key_file().display()
        );
    }
    SecretBox::load(inline, &cfg.key_file())
}

/// Flush a file's or a directory's data to the disk.
fn sync(path: &Path) -> std::io::Result<()> {
    std::fs::File::open(path)?.sync_all()
}

fn private(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// `vcms-server backup FILE`: a consistent copy of the embedded database taken while the
/// server runs (`VACUUM INTO`), labelled with its schema and a check of the secret key.
/// Returns what to tell the operator.
pub async fn backup(cfg: &Config, file: &Path) -> anyhow::Result<String> {
    sqlite_file(
        cfg,
        "back it up with pg_dump -Fc -f FILE DATABASE_URL, restore with pg_restore",
    )?;
    if file.exists() {
        bail!(
            "{} exists: a backup never overwrites a file; choose a new name",
            file.display()
        );
    }
    let secrets = present_key(cfg)?;
    let partial = PathBuf::from(format!("{}.partial", file.display()));
    let _ = std::fs::remove_file(&partial);
    let store = Store::connect(&cfg.database_url(), 1).await?;
    let mut c = store.conn().await?;
    let schema = backup::schema_version(&mut c).await?;
    let copied = backup::vacuum_into(&mut c, &partial.display().to_string()).await;
    drop(c);
    store.close().await;
    copied.with_context(|| format!("copying the database into {}", partial.display()))?;
    private(&partial)?;
    let label = BackupLabel {
        format: backup::FORMAT.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        schema,
        taken_at: wall_ms(),
        key_check: secrets.lookup(KEY_CHECK),
    };
    let copy = Store::connect(&sqlite_url(&partial), 1).await?;
    let mut c = copy.conn().await?;
    let labelled = backup::write_label(&mut c, &label).await;
    drop(c);
    copy.close().await;
    if let Err(e) = labelled {
        let _ = std::fs::remove_file(&partial);
        bail!("labelling the backup: {e}");
    }
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", partial.display()));
    }
    sync(&partial)?;
    std::fs::rename(&partial, file)?;
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = sync(dir);
    }
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    Ok(format!(
        "backed up to {} ({} KiB, schema {schema})\nkeep the secret key {} with it, apart from the backup: the backup's secrets open only with that key",
        file.display(),
        size / 1024,
        cfg.key_file().display()
    ))
}

/// `vcms-server restore FILE`: put a backup in place of the embedded database, on a stopped
/// server. Refuses a file that is not a vcms backup, one of a newer schema, and one whose
/// secrets the present key cannot open; the database it replaces is kept beside it.
pub async fn restore(cfg: &Config, file: &Path) -> anyhow::Result<String> {
    let live = sqlite_file(
        cfg,
        "restore a pg_dump with pg_restore --clean -d DATABASE_URL FILE",
    )?;
    let meta =
        std::fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?;
    if !meta.is_file() {
        bail!("{} is not a regular file", file.display());
    }
    let secrets = present_key(cfg)?;
    if let Some(pid) = running_server(&live).await {
        bail!(
            "a vcms-server (pid {pid}) is using {}: stop it first, then restore",
            live.display()
        );
    }
    let dir = live.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let staging = dir.join(format!(
        "{}.restoring",
        live.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("vcms.db")
    ));
    let _ = std::fs::remove_file(&staging);
    std::fs::copy(file, &staging)
        .with_context(|| format!("copying {} into {}", file.display(), dir.display()))?;
    private(&staging)?;
    let checked = check_backup(&staging, file, &secrets).await;
    for suffix in ["-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", staging.display()));
    }
    let label = match checked {
        Ok(l) => l,
        Err(e) => {
            let _ = std::fs::remove_file(&staging);
            return Err(e);
        }
    };
    sync(&staging)?;
    let mut kept = None;
    if live.exists() {
        let aside = PathBuf::from(format!("{}.before-restore-{}", live.display(), wall_ms()));
        std::fs::rename(&live, &aside)?;
        for suffix in ["-wal", "-shm"] {
            let from = format!("{}{suffix}", live.display());
            if Path::new(&from).exists() {
                std::fs::rename(&from, format!("{}{suffix}", aside.display()))?;
            }
        }
        kept = Some(aside);
    }
    std::fs::rename(&staging, &live)?;
    let _ = sync(dir);
    let taken = rfc3339(label.taken_at);
    let mut out = format!(
        "restored {} (taken {taken} by vcms {}, schema {}) into {}",
        file.display(),
        label.version,
        label.schema,
        live.display()
    );
    if let Some(k) = kept {
        out.push_str(&format!(
            "\nthe database it replaced is kept as {}",
            k.display()
        ));
    }
    Ok(out)
}

/// Whether the staged copy `staging` of `file` is a vcms backup this build and key can use.
async fn check_backup(
    staging: &Path,
    file: &Path,
    secrets: &SecretBox,
) -> anyhow::Result<BackupLabel> {
    let not_ours = || {
        anyhow::anyhow!(
            "{} is not a vcms backup (make one with `vcms-server backup FILE`)",
            file.display()
        )
    };
    let store = Store::connect(&sqlite_url(staging), 1)
        .await
        .map_err(|_| not_ours())?;
    let checked = async {
        let mut c = store.conn().await?;
        let label = backup::read_label(&mut c)
            .await
            .map_err(|_| not_ours())?
            .filter(|l| l.format == backup::FORMAT)
            .ok_or_else(not_ours)?;
        let known = store.latest_schema();
        if label.schema > known {
            bail!(
                "{} comes from a newer vcms ({}, schema {}; this vcms-server {} knows schema {known}): restore it with that version or later",
                file.display(),
                label.version,
                label.schema,
                env!("CARGO_PKG_VERSION")
            );
        }
        if label.key_check != secrets.lookup(KEY_CHECK) {
            bail!(
                "{}'s secrets were sealed with another secret key: put that key in place (key file or VCMS_SECRET_KEY) and restore again",
                file.display()
            );
        }
        if let Some(sealed) = backup::a_sealed_value(&mut c).await? {
            if secrets.open(&sealed).is_err() {
                bail!(
                    "{}'s secrets do not open with the present secret key: put the key that sealed them in place and restore again",
                    file.display()
                );
            }
        }
        backup::drop_label(&mut c).await?;
        Ok(label)
    }
    .await;
    store.close().await;
    checked
}

/// The pid of a live vcms-server of this host using the database at `live`, if any.
async fn running_server(live: &Path) -> Option<i64> {
    if !live.exists() {
        return None;
    }
    let store = Store::connect(&sqlite_url(live), 1).await.ok()?;
    let me = crate::mail::worker::Identity::current();
    let found = async {
        let mut c = store.conn().await.ok()?;
        let host = me.host_key.clone()?;
        let workers = crate::store::outbox::workers_on_host(&mut c, &host, &me.id)
            .await
            .ok()?;
        workers.into_iter().find(|w| !me.is_dead(w)).map(|w| w.pid)
    }
    .await;
    store.close().await;
    found
}

/// One finding of `doctor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    /// Works, but worth a look.
    Warn,
    /// Breaks the deployment.
    Fail,
}

#[derive(Debug, Clone)]
pub struct Finding {
    pub check: &'static str,
    pub verdict: Verdict,
    /// What was found.
    pub found: String,
    /// What to do about it (empty when nothing).
    pub fix: String,
}

impl Finding {
    fn ok(check: &'static str, found: impl Into<String>) -> Self {
        Self {
            check,
            verdict: Verdict::Ok,
            found: found.into(),
            fix: String::new(),
        }
    }
    fn warn(check: &'static str, found: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            check,
            verdict: Verdict::Warn,
            found: found.into(),
            fix: fix.into(),
        }
    }
    fn fail(check: &'static str, found: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            check,
            verdict: Verdict::Fail,
            found: found.into(),
            fix: fix.into(),
        }
    }

    /// `[ ok ] check: found` or `[FAIL] check: found — fix: …`.
    pub fn line(&self) -> String {
        let tag = match self.verdict {
            Verdict::Ok => "[ ok ]",
            Verdict::Warn => "[warn]",
            Verdict::Fail => "[FAIL]",
        };
        if self.fix.is_empty() {
            format!("{tag} {}: {}", self.check, self.found)
        } else {
            format!("{tag} {}: {} — fix: {}", self.check, self.found, self.fix)
        }
    }
}

/// `vcms-server doctor`: what breaks deployments, checked without changing anything (no
/// email is sent, nothing is written to the database, no key is made).
pub async fn doctor(cfg: &Config) -> Vec<Finding> {
    let mut out = vec![data_dir(cfg)];
    out.extend(database_and_key(cfg).await);
    out.push(smtp(cfg).await);
    out.extend(sip_ports(cfg).await);
    out.push(public_host(cfg).await);
    out.push(clock());
    out.push(tls_certificate(cfg));
    out.push(ssh_console(cfg).await);
    out
}

/// The console over SSH: off, or its listener and host key (the fingerprint users compare
/// with what `ssh` shows the first time).
async fn ssh_console(cfg: &Config) -> Finding {
    const CHECK: &str = "ssh console";
    let Some(listen) = cfg.ssh.listen.as_deref().filter(|l| !l.trim().is_empty()) else {
        return Finding::ok(CHECK, "off (set ssh.listen, VCMS_SSH_LISTEN, to serve it)");
    };
    let path = crate::ssh::host_key_path(&cfg.data_dir);
    let key =
        if path.exists() {
            match russh::keys::load_secret_key(&path, None) {
                Ok(k) => format!("host key {}", crate::ssh::fingerprint(&k)),
                Err(e) => return Finding::fail(
                    CHECK,
                    format!("{} cannot be read: {e}", path.display()),
                    "move it away: a new one is made on start (users will see a new fingerprint)",
                ),
            }
        } else {
            "host key made on first start".to_string()
        };
    match tokio::net::TcpListener::bind(listen).await {
        Ok(_) => Finding::ok(CHECK, format!("{listen} can be bound, {key}")),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Finding::warn(
            CHECK,
            format!("{listen} is in use, {key}"),
            "fine if vcms-server runs; otherwise find the other program (ss -lpn)",
        ),
        Err(e) => Finding::fail(
            CHECK,
            format!("ssh.listen {listen}: {e}"),
            "use an address of this machine (ports below 1024 need CAP_NET_BIND_SERVICE)",
        ),
    }
}

fn data_dir(cfg: &Config) -> Finding {
    const CHECK: &str = "data directory";
    let dir = &cfg.data_dir;
    let Ok(meta) = std::fs::metadata(dir) else {
        return Finding::warn(
            CHECK,
            format!("{} does not exist yet", dir.display()),
            "it is made on first start; check that its parent is writable by the server's user",
        );
    };
    if !meta.is_dir() {
        return Finding::fail(
            CHECK,
            format!("{} is not a directory", dir.display()),
            "point data_dir (VCMS_DATA_DIR) at a directory",
        );
    }
    let probe = dir.join(format!(".doctor-{}", std::process::id()));
    if let Err(e) = std::fs::write(&probe, b"") {
        return Finding::fail(
            CHECK,
            format!("cannot write in {}: {e}", dir.display()),
            "give the server's user write access to it (chown)",
        );
    }
    let _ = std::fs::remove_file(&probe);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut open = Vec::new();
        let key = cfg.key_file();
        let db = sqlite_path(&cfg.database_url()).map(PathBuf::from);
        let files = [
            Some(key),
            db,
            Some(dir.join("sip-tls.key")),
            Some(crate::ssh::host_key_path(dir)),
        ];
        for f in files.into_iter().flatten() {
            if let Ok(m) = std::fs::metadata(&f) {
                let mode = m.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    open.push(format!("{} ({mode:o})", f.display()));
                }
            }
        }
        if !open.is_empty() {
            return Finding::fail(
                CHECK,
                format!("others may read {}", open.join(", ")),
                "chmod 600 those files (they hold the data and its keys)",
            );
        }
    }
    Finding::ok(
        CHECK,
        format!("{} writable, data files owner-only", dir.display()),
    )
}

async fn database_and_key(cfg: &Config) -> Vec<Finding> {
    const DB: &str = "database";
    const KEY: &str = "secret key";
    let url = cfg.database_url();
    let shown = redact_url(&url);
    if let Some(p) = sqlite_path(&url) {
        if !Path::new(&p).exists() {
            return vec![Finding::warn(
                DB,
                format!("{shown} does not exist yet"),
                "it is made and migrated on first start (or: vcms-server migrate)",
            )];
        }
    }
    let store = match tokio::time::timeout(
        std::time::Duration::from_secs(10),
        Store::connect(&url, 1),
    )
    .await
    {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            return vec![Finding::fail(
                DB,
                format!("{e:#}"),
                "check database.url (VCMS_DATABASE_URL), that the database server runs and accepts this user",
            )]
        }
        Err(_) => {
            return vec![Finding::fail(
                DB,
                format!("{shown} did not answer within 10 s"),
                "check the host, port and firewall of database.url",
            )]
        }
    };
    let mut out = Vec::new();
    let known = store.latest_schema();
    let checked = async {
        let mut c = store.conn().await?;
        let schema = backup::schema_version(&mut c).await?;
        let sealed = backup::a_sealed_value(&mut c).await?;
        Ok::<_, sqlx::Error>((schema, sealed))
    }
    .await;
    store.close().await;
    let (schema, sealed) = match checked {
        Ok(v) => v,
        Err(e) => {
            return vec![Finding::fail(
                DB,
                format!("{shown} opens but cannot be read: {e}"),
                "run vcms-server migrate; if it still fails, restore the last backup",
            )]
        }
    };
    out.push(if schema == known {
        Finding::ok(DB, format!("{shown} reachable, schema {schema} (current)"))
    } else if schema < known {
        Finding::fail(
            DB,
            format!("{shown} is at schema {schema}, this vcms-server needs {known}"),
            "run vcms-server migrate (starting the server does it too)",
        )
    } else {
        Finding::fail(
            DB,
            format!("{shown} is at schema {schema}, newer than this vcms-server ({known})"),
            "run the vcms-server version that migrated it, or later",
        )
    });
    let inline = cfg
        .security
        .secret_key
        .as_deref()
        .filter(|k| !k.trim().is_empty());
    let key_file = cfg.key_file();
    if inline.is_none() && !key_file.exists() {
        out.push(if sealed.is_some() {
            Finding::fail(
                KEY,
                format!(
                    "no key at {} but the data holds sealed secrets",
                    key_file.display()
                ),
                "put back the key that sealed them (from where the backup of the key is kept)",
            )
        } else {
            Finding::ok(KEY, "none yet: one is made on first start")
        });
        return out;
    }
    let secrets = match SecretBox::load(inline, &key_file) {
        Ok(s) => s,
        Err(e) => {
            out.push(Finding::fail(
                KEY,
                format!("{e:#}"),
                "the key is 32 bytes, base64-encoded; restore it from its backup",
            ));
            return out;
        }
    };
    out.push(match sealed {
        Some(s) if secrets.open(&s).is_err() => Finding::fail(
            KEY,
            "the data's secrets do not open with the present key",
            "put in place the key the data was sealed with (key file or VCMS_SECRET_KEY)",
        ),
        Some(_) => Finding::ok(KEY, "opens the data's secrets"),
        None => Finding::ok(KEY, "present (no sealed secrets yet to try it on)"),
    });
    out
}

async fn smtp(cfg: &Config) -> Finding {
    const CHECK: &str = "smtp";
    match cfg.mail.transport {
        crate::config::MailTransportKind::Folder => Finding::warn(
            CHECK,
            format!("folder transport: emails are written to {}, not sent", cfg.outbox_dir().display()),
            "set mail.transport = \"smtp\" and the [smtp] settings to send them",
        ),
        crate::config::MailTransportKind::Smtp => match crate::mail::check_smtp(cfg).await {
            Ok(what) => Finding::ok(
                CHECK,
                format!("{}:{} {what} (nothing sent)", cfg.smtp.host, cfg.smtp.port),
            ),
            Err(problem) => Finding::fail(
                CHECK,
                problem,
                "check smtp.host, port, security, the credentials, and smtp.ca_file for a private CA",
            ),
        },
    }
}

async fn sip_ports(cfg: &Config) -> Vec<Finding> {
    const CHECK: &str = "sip ports";
    let mut out = Vec::new();
    for (name, value, udp) in [
        ("sip.udp", &cfg.sip.udp, true),
        ("sip.tcp", &cfg.sip.tcp, false),
        ("sip.tls", &cfg.sip.tls, false),
    ] {
        let v = value.trim();
        let addr = match crate::sip::listen_addr(v) {
            Ok(None) => continue,
            Ok(Some(a)) => a,
            Err(_) => {
                out.push(Finding::fail(
                    CHECK,
                    format!("{name} = {v:?} is not a host:port that resolves"),
                    format!("set {name} to an address such as 0.0.0.0:5060"),
                ));
                continue;
            }
        };
        let bound = if udp {
            tokio::net::UdpSocket::bind(addr).await.map(drop)
        } else {
            tokio::net::TcpListener::bind(addr).await.map(drop)
        };
        out.push(match bound {
            Ok(()) => Finding::ok(CHECK, format!("{name} {addr} can be bound")),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Finding::warn(
                CHECK,
                format!("{name} {addr} is in use"),
                "fine if vcms-server runs; otherwise find the other program (ss -lpn)",
            ),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Finding::fail(
                CHECK,
                format!("{name} {addr}: {e}"),
                "ports below 1024 need CAP_NET_BIND_SERVICE (AmbientCapabilities= in the systemd unit)",
            ),
            Err(e) => Finding::fail(
                CHECK,
                format!("{name} {addr}: {e}"),
                "use an address of this machine",
            ),
        });
    }
    if out.is_empty() {
        out.push(Finding::warn(
            CHECK,
            "every SIP listener is off",
            "set sip.udp, sip.tcp or sip.tls",
        ));
    }
    out
}

async fn public_host(cfg: &Config) -> Finding {
    const CHECK: &str = "public host";
    let Some(host) = cfg.sip.public_host.as_deref().filter(|h| !h.is_empty()) else {
        return Finding::warn(
            CHECK,
            "sip.public_host is not set: devices are told the listeners' own addresses",
            "set sip.public_host (VCMS_SIP_PUBLIC_HOST) to the name devices reach this server by",
        );
    };
    match tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tokio::net::lookup_host((host, 5060)),
    )
    .await
    {
        Ok(Ok(mut a)) => match a.next() {
            Some(first) => Finding::ok(CHECK, format!("{host} resolves ({})", first.ip())),
            None => Finding::fail(
                CHECK,
                format!("{host} resolves to nothing"),
                "add an A or AAAA record",
            ),
        },
        Ok(Err(e)) => Finding::fail(
            CHECK,
            format!("{host} does not resolve: {e}"),
            "add a DNS record for it, or set sip.public_host to this server's address",
        ),
        Err(_) => Finding::fail(
            CHECK,
            format!("resolving {host} took more than 5 s"),
            "check /etc/resolv.conf",
        ),
    }
}

/// The clock: digest nonces, sessions, freezes and licenses all read it.
fn clock() -> Finding {
    const CHECK: &str = "clock";
    // This build's release year: a clock before it is certainly wrong.
    const NOT_BEFORE: i64 = 1_767_225_600_000; // 2026-01-01
    const NOT_AFTER: i64 = 4_102_444_800_000; // 2100-01-01
    let now = wall_ms();
    let shown = rfc3339(now);
    if !(NOT_BEFORE..NOT_AFTER).contains(&now) {
        return Finding::fail(
            CHECK,
            format!("the system clock says {shown}"),
            "set the time and run a time service (systemd-timesyncd, chrony)",
        );
    }
    let synced = std::process::Command::new("timedatectl")
        .args(["show", "-p", "NTPSynchronized", "--value"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "yes");
    match synced {
        Some(false) => Finding::warn(
            CHECK,
            format!("{shown}, not synchronised"),
            "run a time service (systemd-timesyncd, chrony): several instances must agree on the time",
        ),
        Some(true) => Finding::ok(CHECK, format!("{shown}, synchronised")),
        None => Finding::ok(CHECK, format!("{shown} (synchronisation unknown here)")),
    }
}

fn tls_certificate(cfg: &Config) -> Finding {
    const CHECK: &str = "tls certificate";
    if cfg.sip.tls.trim().is_empty() {
        return Finding::ok(CHECK, "SIP over TLS is off");
    }
    let path = cfg
        .sip
        .tls_cert
        .clone()
        .unwrap_or_else(|| cfg.data_dir.join("sip-tls.crt"));
    let Ok(pem) = std::fs::read(&path) else {
        return if cfg.sip.tls_cert.is_some() {
            Finding::fail(
                CHECK,
                format!("cannot read {}", path.display()),
                "fix sip.tls_cert or its permissions",
            )
        } else {
            Finding::ok(CHECK, "a self-signed one is made on first start")
        };
    };
    let parsed = x509_parser::pem::parse_x509_pem(&pem)
        .ok()
        .and_then(|(_, p)| {
            p.parse_x509()
                .ok()
                .map(|c| c.validity().not_after.timestamp())
        });
    let Some(not_after) = parsed else {
        return Finding::fail(
            CHECK,
            format!("{} is not a PEM certificate", path.display()),
            "point sip.tls_cert at the PEM certificate (chain)",
        );
    };
    let days = (not_after * 1000 - wall_ms()) / 86_400_000;
    let shown = format!("{} expires in {days} days", path.display());
    if days < 0 {
        Finding::fail(CHECK, format!("{} has expired", path.display()), "renew it")
    } else if days < 21 {
        Finding::warn(CHECK, shown, "renew it soon")
    } else {
        Finding::ok(CHECK, shown)
    }
}
