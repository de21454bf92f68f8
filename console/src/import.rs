//! Bulk add, batch edit and export, shared by the console and the scripting CLI: a
//! spreadsheet file → JSON rows for the server's batch endpoint (whose dry run is the
//! preview), the preview as lines of text, and all accounts → an export file.

use std::path::Path;

use vcms_api::client::{Client, ClientError, ClientResult};
use vcms_api::{AccountStatus, BatchResult, BatchRow, RowAction, RowPlan};
use vcms_sheet::{Limits, ReadError, Sheet};

use crate::config::Config;

/// The name of the console's reader thread (see `term::install_panic_hook`).
pub const READER_THREAD: &str = "sheet-reader";

/// [`read_file`] on the reader thread, for the console: the event loop goes on meanwhile.
pub async fn read_file_in_background(
    path: std::path::PathBuf,
    limits: Limits,
    progress: std::sync::Arc<ImportProgress>,
) -> Result<Sheet, ReadError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name(READER_THREAD.into())
        .spawn(move || {
            let r = read_file(&path, &limits, &mut |d, t| progress.set(d, t));
            let _ = tx.send(r);
        });
    if let Err(e) = spawned {
        return Err(ReadError::Corrupt(format!("cannot start the reader: {e}")));
    }
    rx.await
        .unwrap_or_else(|_| Err(ReadError::Corrupt("the reader stopped".into())))
}

/// Progress of a console import, written by the background tasks, read by drawing.
#[derive(Debug, Default)]
pub struct ImportProgress {
    pub done: std::sync::atomic::AtomicU64,
    pub total: std::sync::atomic::AtomicU64,
}

impl ImportProgress {
    pub fn set(&self, done: u64, total: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        self.done.store(done, Relaxed);
        self.total.store(total, Relaxed);
    }

    /// 0 to 100.
    pub fn percent(&self) -> u16 {
        use std::sync::atomic::Ordering::Relaxed;
        let (d, t) = (self.done.load(Relaxed), self.total.load(Relaxed));
        (d * 100).checked_div(t).unwrap_or(0).min(100) as u16
    }
}

/// The reader's limits from the console config (`[import]`).
pub fn limits(cfg: &Config) -> Limits {
    Limits {
        max_file_bytes: cfg.import.max_file_mb * 1024 * 1024,
        max_rows: cfg.import.max_rows,
        ..Limits::default()
    }
}

/// Read `path` through the reader's guarded entry point ([`vcms_sheet::read_path`]): only
/// a regular file, never more than the size limit, memory bounded whatever the file declares.
pub fn read_file(
    path: &Path,
    limits: &Limits,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Sheet, ReadError> {
    vcms_sheet::read_path(path, limits, progress)
}

/// The sheet's rows as the batch endpoint's rows, with their spreadsheet row numbers.
pub fn batch_rows(sheet: &Sheet) -> Vec<BatchRow> {
    sheet
        .rows
        .iter()
        .map(|r| BatchRow {
            name: r.name.clone(),
            extension: r.extension.clone(),
            email: r.email.clone(),
            row: Some(i64::from(r.row)),
        })
        .collect()
}

/// A key for one apply: a retry of the same apply sends the same key, so the server
/// imports it once.
pub fn idempotency_key() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("vcms-{}-{nanos:x}", std::process::id())
}

/// Apply with `key`, retrying (with the same key) when the answer was lost on the way.
pub async fn apply(
    client: &Client,
    rows: Vec<BatchRow>,
    send_email: bool,
    key: &str,
) -> ClientResult<BatchResult> {
    let req = vcms_api::BatchRequest {
        rows,
        dry_run: false,
        send_email,
    };
    let mut tries = 0;
    loop {
        match client.batch_accounts_once(&req, key).await {
            Err(ClientError::Transport(_)) if tries < 2 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            r => return r,
        }
    }
}

/// "3 to create, 1 to update, 5 unchanged, 2 in error".
pub fn counts(r: &BatchResult) -> String {
    let bad = r
        .plan
        .iter()
        .filter(|p| p.action == RowAction::Error)
        .count();
    format!(
        "{} to create, {} to update, {} unchanged, {bad} in error",
        r.created, r.updated, r.unchanged
    )
}

fn or_dash(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("-")
}

/// One line per row of the preview, in row order: what it does, and for an update what
/// changes (old → new); then one line per problem ("row 7, column Extension: …").
pub fn preview_lines(r: &BatchResult, rows: &[BatchRow]) -> Vec<String> {
    let by_row: std::collections::HashMap<i64, &BatchRow> =
        rows.iter().filter_map(|b| b.row.map(|n| (n, b))).collect();
    let mut out: Vec<String> = r.plan.iter().map(|p| plan_line(p, &by_row)).collect();
    out.extend(r.errors.iter().map(|e| {
        if e.row == 0 {
            format!("file: {}", e.reason)
        } else {
            format!("row {}, column {}: {}", e.row, e.column, e.reason)
        }
    }));
    out
}

fn plan_line(p: &RowPlan, by_row: &std::collections::HashMap<i64, &BatchRow>) -> String {
    let name = by_row.get(&p.row).map(|b| b.name.as_str()).unwrap_or("");
    let what = match p.action {
        RowAction::Update => p
            .diff
            .iter()
            .map(|d| format!("{}: {} → {}", d.field, or_dash(&d.old), or_dash(&d.new)))
            .collect::<Vec<_>>()
            .join("; "),
        _ => name.to_string(),
    };
    format!(
        "row {:<6} {:<9} {:<5} {what}",
        p.row,
        p.action,
        if p.extension.is_empty() {
            "-"
        } else {
            &p.extension
        }
    )
}

/// Every account (matching `search`) as export rows: the template's columns plus the cloud
/// number and status.
pub async fn export_rows(
    client: &Client,
    search: Option<String>,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> ClientResult<Vec<Vec<String>>> {
    let rows = crate::api::all_accounts(client, search, progress).await?;
    Ok(rows
        .iter()
        .map(|a| {
            vec![
                a.name.clone(),
                a.extension.clone(),
                a.email.clone().unwrap_or_default(),
                a.cloud_number.clone(),
                if a.status == AccountStatus::Registered {
                    "Registered".into()
                } else {
                    "Unregistered".into()
                },
            ]
        })
        .collect())
}

/// Write `rows` to `path` as .xlsx or .csv (by its extension).
pub fn write_export(path: &Path, rows: &[Vec<String>]) -> anyhow::Result<()> {
    let name = path.to_string_lossy();
    let bytes = vcms_sheet::write(&name, &vcms_sheet::EXPORT_HEADERS, rows)?;
    std::fs::write(path, bytes).map_err(|e| anyhow::anyhow!("cannot write {name}: {e}"))
}

/// Write the blank template to `path` (.xlsx, .xls or .csv).
pub fn write_template(path: &Path) -> anyhow::Result<()> {
    let name = path.to_string_lossy();
    let bytes = vcms_sheet::template(&name)?;
    std::fs::write(path, bytes).map_err(|e| anyhow::anyhow!("cannot write {name}: {e}"))
}
