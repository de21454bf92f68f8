//! Console settings: `config.toml` in the platform config directory (or `--config FILE`),
//! overridden by command-line flags and `VCMS_SERVER`. Every key is documented in
//! `config.example.toml`.

use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Server address.
    pub server: Option<String>,
    /// The email to prefill on the sign-in screen.
    pub email: Option<String>,
    /// `en` or `zh-CN`.
    pub language: Option<String>,
    /// `color` or `mono`.
    pub theme: Option<String>,
    /// Rows per page of the account table (1 to 100).
    pub page_size: Option<i64>,
    /// Keep the password in the OS keyring after a successful sign-in.
    pub remember_password: bool,
    /// Milliseconds between the last search keystroke and the request.
    pub search_debounce_ms: Option<u64>,
    /// Seconds between silent refreshes of what is on screen (0 = never).
    pub refresh_secs: Option<u64>,
    /// Log file (default: `console.log` in the data directory).
    pub log_file: Option<PathBuf>,
    /// Key overrides: `[keys.<screen>] <command> = "<key>[, <key>]"`.
    pub keys: HashMap<String, HashMap<String, String>>,
    /// Bulk add limits.
    pub import: ImportSettings,
}

/// `[import]`: the largest spreadsheet the console reads, and the most rows.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ImportSettings {
    pub max_file_mb: u64,
    pub max_rows: usize,
}

impl Default for ImportSettings {
    fn default() -> Self {
        Self {
            max_file_mb: 10,
            max_rows: 100_000,
        }
    }
}

pub fn dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "vcms")
}

pub fn default_path() -> Option<PathBuf> {
    dirs().map(|d| d.config_dir().join("config.toml"))
}

pub fn data_dir() -> PathBuf {
    dirs()
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| std::env::temp_dir().join("vcms"))
}

pub fn cache_dir() -> PathBuf {
    dirs()
        .map(|d| d.cache_dir().to_path_buf())
        .unwrap_or_else(|| std::env::temp_dir().join("vcms-cache"))
}

impl Config {
    pub fn parse(text: &str) -> anyhow::Result<Config> {
        let cfg: Config = toml::from_str(text)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// `path` if given (must exist), else the default path if it exists, else defaults.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let (path, required) = match path {
            Some(p) => (Some(p.to_path_buf()), true),
            None => (default_path(), false),
        };
        let Some(path) = path else {
            return Ok(Config::default());
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                Config::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
            }
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Config::default())
            }
            Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
        }
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if let Some(n) = self.page_size {
            if !(1..=100).contains(&n) {
                anyhow::bail!("page_size must be 1 to 100 (got {n})");
            }
        }
        if let Some(t) = &self.theme {
            if !matches!(t.as_str(), "color" | "mono" | "monochrome") {
                anyhow::bail!("theme must be color or mono (got {t:?})");
            }
        }
        if self.import.max_file_mb == 0 || self.import.max_rows == 0 {
            anyhow::bail!("import.max_file_mb and import.max_rows must be at least 1");
        }
        crate::keymap::Keymap::new(&self.keys).map_err(|e| anyhow::anyhow!(e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses() {
        let text = include_str!("../../config.example.toml");
        let cfg = Config::parse(text).expect("config.example.toml parses");
        assert_eq!(cfg.server.as_deref(), Some(DEFAULT_SERVER));
        assert_eq!(
            cfg.page_size, None,
            "the example leaves the page size to the terminal"
        );
        assert!(cfg.keys.contains_key("accounts"));
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(Config::parse("nonsense = 1").is_err());
        assert!(Config::parse("page_size = 1000").is_err());
        assert!(Config::parse("[keys.accounts]\nadd = \"?\"\nno_such = \"x\"").is_err());
    }
}
