//! The scripting CLI's session: server and token in a 0600 file in the cache directory.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Session {
    pub server: String,
    pub email: String,
    pub token: String,
}

pub fn path() -> PathBuf {
    if let Some(p) = std::env::var_os("VCMS_SESSION_FILE") {
        return PathBuf::from(p);
    }
    crate::config::cache_dir().join("session.json")
}

pub fn load() -> Option<Session> {
    let text = std::fs::read_to_string(path()).ok()?;
    serde_json::from_str(&text).ok()
}

pub fn save(s: &Session) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let p = path();
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let _ = std::fs::remove_file(&p);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&p)?;
    f.write_all(serde_json::to_string(s)?.as_bytes())?;
    Ok(())
}

pub fn clear() -> bool {
    std::fs::remove_file(path()).is_ok()
}
