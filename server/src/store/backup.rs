//! Backups of the embedded database: a consistent copy taken while the server runs
//! (`VACUUM INTO`), labelled inside with what restore checks (that it is a vcms backup, its
//! schema, and which secret key sealed its secrets).

use super::query::{execute, maybe_row, params, scalar};
use super::Conn;

/// What is written into a backup (table `vcms_backup`, one row).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BackupLabel {
    /// Always [`FORMAT`].
    pub format: String,
    /// The vcms version that wrote it.
    pub version: String,
    /// The last migration applied to the data.
    pub schema: i64,
    /// When it was taken (Unix ms).
    pub taken_at: i64,
    /// `SecretBox::lookup` of a fixed text: equal only under the same secret key.
    pub key_check: String,
}

pub const FORMAT: &str = "vcms-backup-1";

/// Copy the whole database, consistent as of one instant, into a new file at `path` (SQLite).
pub async fn vacuum_into(c: &mut Conn, path: &str) -> sqlx::Result<()> {
    // VACUUM INTO takes a literal; a path with a quote is written with it doubled.
    let sql = format!("VACUUM INTO '{}'", path.replace('\'', "''"));
    execute(c, &sql, params![]).await.map(|_| ())
}

/// The last migration applied to the database of `c`.
pub async fn schema_version(c: &mut Conn) -> sqlx::Result<i64> {
    scalar(
        c,
        "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success",
        params![],
    )
    .await
}

/// Label a backup (on a connection to the backup file itself), leaving it one file.
pub async fn write_label(c: &mut Conn, l: &BackupLabel) -> sqlx::Result<()> {
    execute(
        c,
        "CREATE TABLE vcms_backup (format TEXT NOT NULL, version TEXT NOT NULL, schema INTEGER NOT NULL, taken_at INTEGER NOT NULL, key_check TEXT NOT NULL)",
        params![],
    )
    .await?;
    execute(
        c,
        "INSERT INTO vcms_backup (format, version, schema, taken_at, key_check) VALUES ($1, $2, $3, $4, $5)",
        params![&l.format, &l.version, l.schema, l.taken_at, &l.key_check],
    )
    .await?;
    execute(c, "PRAGMA journal_mode = DELETE", params![]).await?;
    Ok(())
}

/// The label of a backup; None when the database has none (not a vcms backup).
pub async fn read_label(c: &mut Conn) -> sqlx::Result<Option<BackupLabel>> {
    let has: i64 = scalar(
        c,
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'vcms_backup'",
        params![],
    )
    .await?;
    if has == 0 {
        return Ok(None);
    }
    maybe_row(
        c,
        "SELECT format, version, schema, taken_at, key_check FROM vcms_backup",
        params![],
    )
    .await
}

/// Drop the label (from a restored copy: the live database carries none).
pub async fn drop_label(c: &mut Conn) -> sqlx::Result<()> {
    execute(c, "DROP TABLE IF EXISTS vcms_backup", params![]).await?;
    execute(c, "PRAGMA journal_mode = DELETE", params![]).await?;
    Ok(())
}

/// One sealed value of the data, to try the present key on (None: nothing sealed yet).
pub async fn a_sealed_value(c: &mut Conn) -> sqlx::Result<Option<Vec<u8>>> {
    let r: Option<(Vec<u8>,)> = maybe_row(
        c,
        "SELECT password_enc FROM accounts WHERE password_enc IS NOT NULL LIMIT 1",
        params![],
    )
    .await?;
    Ok(r.map(|r| r.0))
}
