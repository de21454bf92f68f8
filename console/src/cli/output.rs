//! What the scripting commands print: `--json` (the API's JSON, errors as
//! `{"error":{"code","message","field","details"}}`) or text for people, and the error type
//! every command returns.

use serde::Serialize;
use vcms_api::client::ClientError;

/// An error of a scripting command: message for people, code for scripts.
#[derive(Debug)]
pub struct CliError {
    pub code: String,
    pub message: String,
    pub field: Option<String>,
    /// More for scripts (`--json`), e.g. the per-row report of an import.
    pub details: Option<serde_json::Value>,
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        CliError {
            code: e.code_str().to_string(),
            message: e.to_string(),
            field: e.field().map(str::to_string),
            details: None,
        }
    }
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        CliError {
            code: "error".into(),
            message: e.to_string(),
            field: None,
            details: None,
        }
    }
}

pub(crate) fn err(code: &str, message: impl Into<String>) -> CliError {
    CliError {
        code: code.into(),
        message: message.into(),
        field: None,
        details: None,
    }
}

pub(crate) type R<T> = Result<T, CliError>;

pub(crate) fn print<T: Serialize>(json: bool, value: &T, human: impl FnOnce() -> String) -> R<()> {
    if json {
        let s = serde_json::to_string_pretty(value).map_err(|e| err("error", e.to_string()))?;
        println!("{s}");
    } else {
        println!("{}", human());
    }
    Ok(())
}

/// A table for people: a line of column titles, then a line per row, one space between
/// columns; every column but the last is padded to its width in `widths`.
pub(crate) fn text_table(
    titles: &[&str],
    widths: &[usize],
    rows: impl IntoIterator<Item = Vec<String>>,
) -> String {
    use crate::widgets::text::pad;
    let line = |cells: Vec<String>| {
        let cells: Vec<String> = cells
            .into_iter()
            .enumerate()
            .map(|(i, c)| match widths.get(i) {
                Some(w) => pad(&c, *w),
                None => c,
            })
            .collect();
        cells.join(" ") + "\n"
    };
    let mut s = line(titles.iter().map(|t| t.to_string()).collect());
    for r in rows {
        s.push_str(&line(r));
    }
    s
}

/// Print a scripting error (JSON on stdout with --json, else a line on stderr).
pub fn report_error(json: bool, e: &CliError) {
    if json {
        let mut v =
            serde_json::json!({"error": {"code": e.code, "message": e.message, "field": e.field}});
        if let Some(d) = &e.details {
            v["error"]["details"] = d.clone();
        }
        println!("{v}");
    } else {
        eprintln!("error: {}", e.message);
    }
}

#[cfg(test)]
mod tests {
    use super::text_table;

    #[test]
    fn text_table_pads_every_column_but_the_last() {
        let rows = [
            vec!["1".to_string(), "Anna".to_string(), "ok".to_string()],
            vec![
                "22".to_string(),
                "陈媛媛何以言".to_string(),
                "ok (MFA)".to_string(),
            ],
        ];
        let s = text_table(&["ID", "NAME", "STATUS"], &[3, 6], rows);
        assert_eq!(s, "ID  NAME   STATUS\n1   Anna   ok\n22  陈媛…  ok (MFA)\n");
    }
}
