//! End to end: the real `vcms` binary in a pseudo-terminal against a real in-process server
//! on port 0 with a fresh SQLite database.

use vcms_api::{AccountQuery, LoginRequest};

const EMAIL: &str = "owner@e2e.vcms";
const PASSWORD: &str = "E2eSecret2026";

mod support;
use support::Pty;

/// A server with the owner, a license and the demo accounts; the console's URL and home.
async fn seeded(
    dir: &std::path::Path,
) -> (
    vcms_server::Running,
    vcms_api::client::Client,
    String,
    std::path::PathBuf,
) {
    let running = support::server(dir, EMAIL, PASSWORD, |_| {}).await;
    let client = support::owner(&running, EMAIL, PASSWORD).await;
    let number = vcms_server::service::license::issue(&running.app, 100, 2)
        .await
        .expect("issue");
    client.add_license(&number).await.expect("license");
    support::add_demo_accounts(&client).await;
    let url = running.url();
    let home = dir.join("home");
    std::fs::create_dir_all(&home).expect("home");
    (running, client, url, home)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_page_search_reset_pincode_remove_two() {
    let dir = tempfile::tempdir().expect("tmp");
    let (running, client, url, home) = seeded(dir.path()).await;
    // The web console's page of 10 rows, set in the config (without it the page fills the
    // terminal: all 13 would fit on 24 rows).
    let config_dir = home.join("config").join("vcms");
    std::fs::create_dir_all(&config_dir).expect("config dir");
    std::fs::write(config_dir.join("config.toml"), "page_size = 10\n").expect("config");
    let steps = tokio::task::spawn_blocking(move || {
        let mut t = Pty::spawn(&url, &home);
        t.wait_for("Sign in");
        // Email is focused; then the password.
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
        let pin = t.reset_pincode("Mars");
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

/// Bulk Add from a LibreOffice .xlsx with Chinese headers: progress, the preview with its
/// counts and old → new, the confirm, the result; a bad file; export and the template.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_add_preview_confirm_export_template() {
    let dir = tempfile::tempdir().expect("tmp");
    let (running, _client, url, home) = seeded(dir.path()).await;
    let fixtures = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let steps = tokio::task::spawn_blocking(move || {
        let mut t = Pty::spawn(&url, &home);
        t.wait_for("Sign in");
        t.send(EMAIL);
        t.send("\t");
        t.send(PASSWORD);
        t.send("\r");
        t.wait_for("All records: 13");
        t.send("i");
        t.wait_for("Bulk Add");
        t.send(&format!("{fixtures}/chinese_headers.xlsx"));
        t.send("\r");
        let s = t.wait_for("1 to create, 1 to update, 1 unchanged, 0 in error");
        assert!(s.contains("email: Chenny@163.com → Chenyy@163.com"), "{s}");
        assert!(s.contains("王小明"), "{s}");
        t.send("\r");
        t.wait_for("Import 2 account(s)?");
        t.send("y");
        t.wait_for("Import 2 account(s) successfully");
        t.wait_for("All records: 14");
        // A file with bad rows: listed, nothing to apply.
        t.send("i");
        t.wait_for("Bulk Add");
        t.send(&format!("{fixtures}/bad_rows.xlsx"));
        t.send("\r");
        let s = t.wait_for("5 in error");
        assert!(s.contains("Nothing was imported"), "{s}");
        assert!(s.contains("row 4, column Extension"), "{s}");
        assert!(!s.contains("[Enter] Import"), "{s}");
        t.send("\x1b");
        // A text file named .xlsx.
        std::fs::write(home.join("x.xlsx"), "hello").expect("write");
        t.send("i");
        t.wait_for("Bulk Add");
        t.send(&home.join("x.xlsx").display().to_string());
        t.send("\r");
        t.wait_for("plain text");
        t.send("\x1b");
        // Export and the template.
        t.send("x");
        t.wait_for("Export accounts");
        t.send(&"\x7f".repeat(13));
        t.send(&home.join("out.csv").display().to_string());
        t.send("\r");
        t.wait_for("Exported 14 account(s)");
        let csv = std::fs::read_to_string(home.join("out.csv")).expect("export");
        assert!(csv.contains("王小明,2005"), "{csv}");
        t.send("t");
        t.wait_for("Download Template");
        t.send(&"\x7f".repeat(13));
        t.send(&home.join("t.xls").display().to_string());
        t.send("\r");
        t.wait_for("Wrote the blank template");
        assert!(home.join("t.xls").exists());
        t.send("q");
        t.wait_exit();
    })
    .await;
    running.shutdown().await;
    steps.expect("steps");
}

/// A device registers while the console shows the table: Anna's row turns "Registered" and
/// her details show the binding, without a key press; while she calls Bonnie her details
/// say "In a call", and after the BYE they no longer do; unregistering turns it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_shows_live_in_the_console() {
    use vcms_endpoint::{Options, Transport, Ua};
    let dir = tempfile::tempdir().expect("tmp");
    let (running, client, url, home) = seeded(dir.path()).await;
    let anna = client.account_by_extension("1001").await.expect("anna");
    // Read before the console signs in (that ends this client's session).
    let bonnie = client.account_by_extension("1002").await.expect("bonnie");
    let udp = running.sip.as_ref().and_then(|s| s.udp).expect("sip udp");
    let (shown_tx, shown_rx) = std::sync::mpsc::channel::<&'static str>();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let steps = tokio::task::spawn_blocking(move || {
        let mut t = Pty::spawn(&url, &home);
        t.wait_for("Sign in");
        t.send(EMAIL);
        t.send("\t");
        t.send(PASSWORD);
        t.send("\r");
        let s = t.wait_for("All records: 13");
        assert!(!s.contains("● Registered"), "{s}");
        shown_tx.send("table").expect("signal");
        let s = t.wait_for("● Registered");
        assert!(s.contains("Anna"), "{s}");
        // Anna is the first row: her details show the binding.
        t.send("\r");
        let s = t.wait_for("Registered(UDP)");
        assert!(s.contains("Yealink VCDesktop"), "{s}");
        assert!(!s.contains("In a call"), "{s}");
        shown_tx.send("details").expect("signal");
        t.wait_for("● In a call");
        shown_tx.send("in a call").expect("signal");
        t.wait_for("● Registered successfully");
        shown_tx.send("call over").expect("signal");
        go_rx.recv().expect("unregistered");
        t.wait_for("No endpoint");
        t.send("\x1b");
        t.wait_for("All records: 13");
        t.send("q");
        t.wait_exit();
    });
    let wait = |rx: &std::sync::mpsc::Receiver<&'static str>| {
        rx.recv_timeout(std::time::Duration::from_secs(30))
            .expect("console step")
    };
    // Blocking receives off the runtime's threads.
    let rx = std::sync::Arc::new(std::sync::Mutex::new(shown_rx));
    let r = rx.clone();
    tokio::task::spawn_blocking(move || wait(&r.lock().expect("rx")))
        .await
        .expect("wait");
    let mut ua = Ua::connect(Options {
        server: udp,
        transport: Transport::Udp,
        domain: "vcms.local".into(),
        user: anna.cloud_number.clone(),
        password: anna.password.clone(),
        instance: None,
        user_agent: "Yealink VCDesktop 1.0.50.16".into(),
        tls_ca: None,
        algorithm: vcms_endpoint::Algorithm::Md5,
        contact_addr: None,
    })
    .await
    .expect("ua");
    assert_eq!(ua.register(Some(600)).await.expect("register").code, 200);
    let step = |rx: std::sync::Arc<std::sync::Mutex<std::sync::mpsc::Receiver<&'static str>>>| {
        tokio::task::spawn_blocking(move || wait(&rx.lock().expect("rx")))
    };
    step(rx.clone()).await.expect("wait");
    // Anna calls Bonnie, who answers.
    let mut ub = Ua::connect(Options {
        user: bonnie.cloud_number.clone(),
        password: bonnie.password.clone(),
        ..ua.opts.clone()
    })
    .await
    .expect("ua");
    assert_eq!(ub.register(Some(600)).await.expect("register").code, 200);
    let (mut out, fin) = ua.call("1002", "").await.expect("call");
    assert!(fin.is_none(), "{fin:?}");
    let inv = ub.next_request().await.expect("invite");
    ub.reply(&inv, 200, "OK", "bonnie", "")
        .await
        .expect("answer");
    let (r, d) = ua
        .answer_of(&mut out, std::time::Duration::from_secs(5))
        .await
        .expect("answer");
    assert_eq!(r.code, 200);
    let mut d = d.expect("dialog");
    step(rx.clone()).await.expect("wait");
    let (bye, _) = tokio::join!(ua.request(&mut d, "BYE", ""), async {
        loop {
            let r = ub.next_request().await.expect("bye");
            if r.method.to_string() == "BYE" {
                ub.reply(&r, 200, "OK", "", "").await.expect("200");
                break;
            }
        }
    });
    assert_eq!(bye.expect("bye").code, 200);
    step(rx.clone()).await.expect("wait");
    assert_eq!(ua.register(Some(0)).await.expect("unregister").code, 200);
    go_tx.send(()).expect("go");
    steps.await.expect("console steps");
    running.shutdown().await;
}
