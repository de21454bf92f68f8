//! What the server's integration tests share beyond `vcms_server::testing` (re-exported
//! here): the failing-call helper, the SQLite-and-PostgreSQL test macro and the path of the
//! emulator binary.

#![allow(dead_code)]

use vcms_api::client::ClientError;
pub use vcms_server::testing::*;

/// The error of a call that must fail.
pub fn err<T: std::fmt::Debug>(r: Result<T, ClientError>) -> ClientError {
    r.expect_err("the call should have failed")
}

/// Run an async test body on SQLite, and on PostgreSQL when configured.
#[macro_export]
macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::common::Db::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = $crate::common::Db::postgres() {
                    super::$name(db).await
                }
            }
        }
    };
}

// ---------------- the emulator binary ----------------

/// The `vcms-endpoint` binary, built once per test run into this test binary's target
/// directory and profile: cargo hands a test the paths of its own package's binaries only,
/// and the emulator is package vcms-endpoint.
pub fn endpoint_exe() -> std::path::PathBuf {
    static BUILT: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("test binary path");
            // <target>/<profile>/deps/it-<hash>
            let profile_dir = exe.parent().and_then(|d| d.parent()).expect("profile dir");
            let target_dir = profile_dir.parent().expect("target dir");
            let built = profile_dir.join(format!("vcms-endpoint{}", std::env::consts::EXE_SUFFIX));
            // `cargo test --workspace` has built it already, with the workspace's features (a
            // `cargo build -p vcms-endpoint` would build every dependency again with its own).
            if fresh(&built) {
                return built;
            }
            let mut cmd = std::process::Command::new(option_env!("CARGO").unwrap_or("cargo"));
            cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
                .args([
                    "build",
                    "--quiet",
                    "-p",
                    "vcms-endpoint",
                    "--bin",
                    "vcms-endpoint",
                ])
                .arg("--target-dir")
                .arg(target_dir);
            match profile_dir.file_name().and_then(|n| n.to_str()) {
                Some("debug") | None => {}
                Some(p) => {
                    cmd.args(["--profile", p]);
                }
            }
            let status = cmd.status().expect("run cargo to build vcms-endpoint");
            assert!(status.success(), "cargo build -p vcms-endpoint failed");
            built
        })
        .clone()
}

/// Whether the binary at `exe` is newer than every source file it is built from.
fn fresh(exe: &std::path::Path) -> bool {
    fn newest(dir: &std::path::Path) -> Option<std::time::SystemTime> {
        let mut t = None;
        for e in std::fs::read_dir(dir).ok()?.flatten() {
            let p = e.path();
            let m = if p.is_dir() {
                newest(&p)
            } else {
                e.metadata().and_then(|m| m.modified()).ok()
            };
            t = t.max(m);
        }
        t
    }
    let Ok(built) = std::fs::metadata(exe).and_then(|m| m.modified()) else {
        return false;
    };
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    ["endpoint", "digest", "api"]
        .iter()
        .filter_map(|c| newest(&root.join(c)))
        .all(|t| t <= built)
}
