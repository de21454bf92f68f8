//! The only code that speaks SQL. One `Store` over sqlx's `Any` driver: SQLite (the embedded
//! default) and PostgreSQL (several server instances sharing one database) run the same
//! portable queries (`$N` parameters, `RETURNING`, `ON CONFLICT`, 0/1 flags, BIGINT times).
//! Backend-specific code is limited to connection set-up and the migrations, one folder per
//! backend, embedded in the binary and applied at start.

pub(crate) mod accounts;
pub(crate) mod admin;
pub mod backup;
pub(crate) mod events;
pub(crate) mod license;
pub(crate) mod mail_requests;
pub(crate) mod outbox;
mod query;
pub mod sip;
pub(crate) mod team;
pub(crate) mod throttle;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, Executor};
use std::str::FromStr;
use std::time::Duration;

pub type Conn = AnyConnection;
pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub struct Store {
    pub pool: AnyPool,
    pub backend: Backend,
    /// How long connections and transactions were waited for (`vcms_db_wait_seconds`).
    pub waits: prometheus_client::metrics::histogram::Histogram,
}

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Connect to `url` (sqlite://… or postgres://…). Does not migrate.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            anyhow::bail!("unsupported database URL {url:?}: use sqlite://PATH or postgres://…");
        };
        if backend == Backend::Sqlite {
            if let Some(path) = sqlite_path(url) {
                if let Some(dir) = std::path::Path::new(&path).parent() {
                    if !dir.as_os_str().is_empty() {
                        std::fs::create_dir_all(dir)?;
                    }
                }
                private_sqlite_files(&path)?;
            }
        }
        let opts = AnyConnectOptions::from_str(url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            // No ping before handing out a pooled SQLite connection: the file cannot go away
            // like a server, and the ping is one more round trip to sqlx's worker thread on
            // every acquire (it showed in the SIP REGISTER profile).
            .test_before_acquire(backend != Backend::Sqlite)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(opts)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open database {}: {e}", redact_url(url)))?;
        Ok(Self {
            pool,
            backend,
            waits: crate::metrics::latency(),
        })
    }

    /// The last migration this build knows for its backend.
    pub fn latest_schema(&self) -> i64 {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        };
        migrator.iter().map(|m| m.version).max().unwrap_or(0)
    }

    /// Apply the embedded migrations of this backend.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    pub async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, sqlx::Error> {
        let started = std::time::Instant::now();
        let c = self.pool.acquire().await;
        self.waits.observe(started.elapsed().as_secs_f64());
        c
    }

    /// A transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`): a
    /// deferred transaction that reads and then writes fails outright (SQLITE_BUSY) when
    /// another connection wrote in between, while an immediate one waits its turn.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        let started = std::time::Instant::now();
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        };
        self.waits.observe(started.elapsed().as_secs_f64());
        tx
    }

    /// The pool and outbox readings of a metrics scrape.
    pub async fn readings(&self, now: crate::clock::Millis) -> crate::metrics::DbReadings {
        let mut r = crate::metrics::DbReadings {
            pool_size: i64::from(self.pool.size()),
            pool_idle: self.pool.num_idle() as i64,
            pool_max: i64::from(self.pool.options().get_max_connections()),
            ..Default::default()
        };
        let probe = tokio::time::timeout(Duration::from_secs(2), async {
            let mut c = self.pool.acquire().await?;
            let started = std::time::Instant::now();
            query::scalar::<i64>(&mut c, "SELECT 1", query::Params::default()).await?;
            let ping = started.elapsed();
            let pending = outbox::pending_summary(&mut c).await?;
            Ok::<_, sqlx::Error>((ping, pending))
        })
        .await;
        if let Ok(Ok((ping, (queued, oldest)))) = probe {
            r.ping = Some(ping);
            r.outbox_queued = queued;
            r.outbox_oldest_age =
                oldest.map(|t| Duration::from_millis(now.saturating_sub(t).max(0) as u64));
        }
        r
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A round trip to the database (the health check).
pub async fn ping(c: &mut Conn) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(c).await?;
    Ok(())
}

/// The SQLite database holds sealed secrets, hashes and personal data: create it (and its
/// WAL and shared-memory files, which SQLite creates with the database file's mode) readable
/// by the owner only, and tighten files left by older versions.
fn private_sqlite_files(path: &str) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let p = format!("{path}{suffix}");
            if std::path::Path::new(&p).exists() {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// The file path of a sqlite:// URL (without query string).
pub fn sqlite_path(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then(|| path.to_string())
}

/// A database URL without its password, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// `%q%` for `LIKE … ESCAPE '\\'`: lower-cased, with LIKE's wildcards taken literally.
pub fn like_pattern(q: &str) -> String {
    let mut p = String::from("%");
    for ch in q.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

/// True when a database error is a unique-key clash.
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            db.kind() == sqlx::error::ErrorKind::UniqueViolation
                || db.code().as_deref() == Some("23505")
                || db.message().contains("UNIQUE constraint failed")
        }
        _ => false,
    }
}
