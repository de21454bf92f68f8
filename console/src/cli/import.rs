//! `vcms account import FILE`: read the spreadsheet, show the server's preview, confirm,
//! apply; with a progress bar on a terminal.

use vcms_api::client::Client;
use vcms_api::*;

use super::output::{err, print, CliError, R};
use crate::config::Config;

/// A progress bar on stderr, drawn only when stderr is a terminal.
pub(super) struct Progress {
    label: &'static str,
    tty: bool,
    last: u64,
}

impl Progress {
    pub(super) fn new(label: &'static str) -> Self {
        use std::io::IsTerminal;
        Progress {
            label,
            tty: std::io::stderr().is_terminal(),
            last: u64::MAX,
        }
    }

    pub(super) fn show(&mut self, done: u64, total: u64) {
        if !self.tty {
            return;
        }
        let pct = (done * 100).checked_div(total).unwrap_or(0).min(100);
        if pct == self.last {
            return;
        }
        self.last = pct;
        let fill = (pct / 5) as usize;
        eprint!(
            "\r{:<10} [{}{}] {pct:>3}%",
            self.label,
            "#".repeat(fill),
            " ".repeat(20 - fill)
        );
    }

    /// A stage without steps (one request): its label alone.
    fn stage(label: &'static str, what: &str) {
        use std::io::IsTerminal;
        if std::io::stderr().is_terminal() {
            eprint!("\r{label:<10} {what}\x1b[K");
        }
    }

    pub(super) fn done(&mut self) {
        if self.tty {
            eprint!("\r\x1b[K");
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) struct ImportOpts {
    pub(super) dry_run: bool,
    pub(super) yes: bool,
    pub(super) send_email: bool,
}

/// `vcms account import FILE`: read, preview (the server's dry run), confirm, apply.
pub(super) async fn import(
    c: &Client,
    cfg: &Config,
    json: bool,
    file: &std::path::Path,
    o: ImportOpts,
) -> R<()> {
    let limits = crate::import::limits(cfg);
    let mut bar = Progress::new("Reading");
    let sheet =
        crate::import::read_file(file, &limits, &mut |d, t| bar.show(d, t)).map_err(|e| {
            bar.done();
            CliError {
                code: e.code().into(),
                message: format!("{}: {e}", file.display()),
                field: Some("file".into()),
                details: None,
            }
        })?;
    bar.done();
    let rows = crate::import::batch_rows(&sheet);
    Progress::stage("Checking", &format!("{} row(s)…", rows.len()));
    let preview = c
        .batch_accounts(&BatchRequest {
            rows: rows.clone(),
            dry_run: true,
            send_email: o.send_email,
        })
        .await;
    Progress::new("").done();
    let preview = preview?;
    let lines = crate::import::preview_lines(&preview, &rows);
    let summary = format!(
        "{}: {} row(s) from row {} on: {}",
        file.display(),
        rows.len(),
        sheet.header_row + 1,
        crate::import::counts(&preview)
    );
    if !json {
        println!("{summary}");
        for l in &lines {
            println!("  {l}");
        }
    }
    if !preview.errors.is_empty() {
        return Err(row_errors(&preview));
    }
    if o.dry_run {
        if json {
            print(true, &preview, String::new)?;
        } else {
            println!("{} (dry run: nothing was changed)", preview.message);
        }
        return Ok(());
    }
    if preview.created + preview.updated == 0 {
        return print(json, &preview, || "Nothing to change".into());
    }
    if !o.yes {
        confirm(json, &preview)?;
    }
    Progress::stage("Sending", &format!("{} row(s)…", rows.len()));
    let key = crate::import::idempotency_key();
    let r = crate::import::apply(c, rows, o.send_email, &key).await;
    Progress::new("").done();
    let r = r?;
    if !r.errors.is_empty() {
        return Err(row_errors(&r));
    }
    print(json, &r, || {
        let mut s = r.message.clone();
        if r.emails_queued > 0 {
            s.push_str(&format!("; {} email(s) queued", r.emails_queued));
        }
        s
    })
}

/// Asks on the terminal whether to apply (scripts and --json need --yes).
fn confirm(json: bool, preview: &BatchResult) -> R<()> {
    use std::io::{BufRead, IsTerminal, Write};
    if json || !std::io::stdin().is_terminal() {
        return Err(err("confirm", "Apply the import? Add --yes to apply"));
    }
    print!(
        "Import {} account(s) ({} to create, {} to update)? [y/N] ",
        preview.created + preview.updated,
        preview.created,
        preview.updated
    );
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if !matches!(answer.trim(), "y" | "Y" | "yes") {
        return Err(err("cancelled", "Nothing was imported"));
    }
    Ok(())
}

/// The rows in error, as the command's error (all of them in `details`).
fn row_errors(r: &BatchResult) -> CliError {
    CliError {
        code: "import_errors".into(),
        message: r.message.clone(),
        field: None,
        details: serde_json::to_value(r).ok(),
    }
}
