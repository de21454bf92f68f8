//! The `vcms-endpoint` binary's command line, as users and scripts call it. (This test also
//! makes `cargo test --workspace` build the binary with the workspace's features, so the
//! server's tests find it ready in the target directory instead of building it again.)

use std::process::Command;

#[test]
fn help_names_the_commands_and_the_sign_in_options() {
    let out = Command::new(env!("CARGO_BIN_EXE_vcms-endpoint"))
        .arg("--help")
        .output()
        .expect("run vcms-endpoint");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    for command in ["login", "call", "directory"] {
        assert!(text.contains(command), "{command} missing from:\n{text}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_vcms-endpoint"))
        .args(["login", "--help"])
        .output()
        .expect("run vcms-endpoint login --help");
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--server",
        "--pincode",
        "--cloud-number",
        "--password",
        "--serial",
    ] {
        assert!(text.contains(flag), "{flag} missing from:\n{text}");
    }
}
