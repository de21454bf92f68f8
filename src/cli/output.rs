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
