//! End to end: the real `vcms` binary in a pseudo-terminal against a real in-process server
//! on port 0 with a fresh SQLite database.

use vcms_server::api::{AccountQuery, LoginRequest};

const EMAIL: &str = "owner@e2e.vcms";
const PASSWORD: &str = "E2eSecret2026";

mod support;
use support::Pty;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_page_search_reset_pincode_remove_two() {
    let dir = tempfile::tempdir().expect("tmp");
    let running = support::server(dir.path(), EMAIL, PASSWORD, |_| {}).await;
    let client = support::owner(&running, EMAIL, PASSWORD).await;
    let number = vcms_server::service::license::issue(&running.app, 100, 2)
        .await
        .expect("issue");
    client.add_license(&number).await.expect("license");
    support::add_demo_accounts(&client).await;
    let url = running.url();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let steps = tokio::task::spawn_blocking(move || {
        let mut t = Pty::spawn(&url, &home);
        t.wait_for("Sign in");
        // Email is focused (empty config); then the password.
        t.send(EMAIL);
        t.send("\t");
        t.send(PASSWORD);
        t.send("\r");
        let s = t.wait_for("All records: 13");
        assert!(s.contains("Account (13/100)"), "{s}");
        assert!(s.contains("Page 1 of 2"), "{s}");
        // Page.
        t.send("\x1b[6~"); // PgDn
        t.wait_for("Page 2 of 2");
        t.send("g");
        t.wait_for("Page 1 of 2");
        // Search as you type (CJK).
        t.send("/");
        t.send("何以");
        let s = t.wait_for("All records: 1 ");
        assert!(s.contains("何以言") && s.contains("2004"), "{s}");
        t.send("\x1b"); // Esc clears
        t.wait_for("All records: 13");
        // Details of Mars, reset its pincode, read it off the screen.
        t.send("/");
        t.send("Mars");
        t.wait_for("All records: 1 ");
        t.send("\r"); // stop typing
        t.send("\r"); // open
        t.wait_for("Login pincode");
        t.send("p");
        t.wait_for("Reset the pincode?");
        t.send("y");
        let s = t.wait_for("As typed:");
        let pin = Pty::pincode_on_screen(&s);
        assert_eq!(pin.len(), 9, "pincode on screen:\n{s}");
        t.send("\x1b"); // close the popup
        t.send("\x1b"); // back to the table
        t.send("\x1b"); // clear the search
        t.wait_for("All records: 13");
        // Add an account with the form.
        t.send("n");
        t.wait_for("Add account");
        t.send("Zoe 周");
        t.send("\t");
        t.send("1234");
        t.send("\t");
        t.send("zoe@e2e.vcms");
        t.send("\r");
        t.wait_for("All records: 14");
        // Mark two and remove them.
        t.send(" ");
        t.send(" ");
        t.wait_for("Marked: 2");
        t.send("d");
        t.wait_for("Confirm to revoke the selected user?");
        t.send("y");
        t.wait_for("All records: 12");
        // The failed email list.
        t.send(":failed\r");
        t.wait_for("Failed Email List");
        t.wait_for("No failed email.");
        t.send("q");
        t.wait_exit();
        pin
    })
    .await
    .expect("pty steps");
    // The console's sign-in replaced this client's session: sign in again.
    let mut client = client;
    client
        .login(&LoginRequest {
            email: EMAIL.into(),
            password: PASSWORD.into(),
            ..Default::default()
        })
        .await
        .expect("login again");
    let mars = client.account_by_extension("3567").await.expect("mars");
    assert_eq!(mars.pincode.as_deref(), Some(steps.as_str()));
    let page = client
        .accounts(&AccountQuery::default())
        .await
        .expect("page");
    assert_eq!(page.total, 12);
    client
        .account_by_extension("1234")
        .await
        .expect("added account");
    running.shutdown().await;
}
