//! Benchmark set-up for `scripts/bench-accounts.sh`: fills a running vcms-server with
//! enterprises and accounts and reports the batch path's time and the server's peak memory;
//! with `--sip-csv` it also writes the SIP credentials for `scripts/bench-sip.sh`.
//!
//! Big enterprises get 10,000 accounts each (every 4-digit extension: the most one
//! enterprise can hold) through the server's HTTP batch path, as an admin would; small
//! enterprises get 20 accounts each through the library (background data).

use clap::Parser;
use std::sync::Arc;
use std::time::Instant;

use vcms_api::client::Client;
use vcms_api::{BatchRequest, BatchRow, LoginRequest};
use vcms_server::clock::SystemClock;
use vcms_server::config::Config;
use vcms_server::service::{accounts, auth, license, Actor, App};
use vcms_server::Server;

#[derive(Parser)]
struct Args {
    /// URL of the running server.
    #[arg(long)]
    server: String,
    /// Its database URL and data directory (shared secret key).
    #[arg(long)]
    database_url: String,
    #[arg(long)]
    data_dir: std::path::PathBuf,
    /// PID of the server, to read its peak memory.
    #[arg(long)]
    server_pid: Option<u32>,
    #[arg(long, default_value_t = 10)]
    big: usize,
    #[arg(long, default_value_t = 1000)]
    small: usize,
    /// Also write a SIPp injection file (`SEQUENTIAL`, then `cloud_number;password;auth` rows)
    /// of the first `--sip-users` accounts, for `scripts/bench-sip.sh`.
    #[arg(long)]
    sip_csv: Option<std::path::PathBuf>,
    #[arg(long, default_value_t = 10_000)]
    sip_users: i64,
}

fn peak_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn rows(n: usize, tag: &str) -> Vec<BatchRow> {
    (0..n)
        .map(|i| BatchRow {
            name: format!("{tag} User {i:05}"),
            extension: format!("{i:04}"),
            // "@d42." matches 1% of the accounts.
            email: Some(format!("u{i}@d{}.example.com", i % 100)),
            row: None,
        })
        .collect()
}

/// The error of a library call, for `anyhow`.
fn err(e: vcms_server::error::AppError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

/// A new active enterprise `company` whose owner signs in as `email`; returns its id.
async fn bench_enterprise(app: &App, company: &str, email: &str) -> anyhow::Result<i64> {
    let new = auth::NewEnterprise::parse("Bench Owner", company, "NL", email, "bench12345", None)
        .map_err(err)?;
    let (eid, _) = auth::create_enterprise(app, new, true).await.map_err(err)?;
    Ok(eid)
}

/// The big enterprises, 10,000 accounts each through the HTTP batch path of the server at
/// `url`. Returns the first owner's session token and each batch's time in milliseconds.
async fn fill_big(app: &App, url: &str, big: usize) -> anyhow::Result<(String, Vec<f64>)> {
    let mut token = String::new();
    let mut batch_ms = vec![];
    for b in 0..big {
        let email = format!("big{b}@bench.example");
        bench_enterprise(app, &format!("Big {b}"), &email).await?;
        let mut c = Client::new(url);
        c.login(&LoginRequest {
            email: email.clone(),
            password: "bench12345".into(),
            ..Default::default()
        })
        .await?;
        c.add_license(&license::issue(app, 10_000, 5).await.map_err(err)?)
            .await?;
        let req = BatchRequest {
            rows: rows(10_000, &format!("B{b}")),
            dry_run: false,
            send_email: false,
        };
        let t = Instant::now();
        let r = c.batch_accounts(&req).await?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        anyhow::ensure!(
            r.applied && r.created == 10_000,
            "batch not applied: {}",
            r.message
        );
        batch_ms.push(ms);
        eprintln!(
            "big enterprise {b}: 10000 accounts through POST /api/v1/accounts/batch in {ms:.0} ms"
        );
        if b == 0 {
            token = c.token().unwrap_or_default().to_string();
        }
    }
    Ok((token, batch_ms))
}

/// The small enterprises, 20 accounts each through the library.
async fn fill_small(app: &App, small: usize) -> anyhow::Result<()> {
    let t = Instant::now();
    for s in 0..small {
        let eid = bench_enterprise(
            app,
            &format!("Small {s}"),
            &format!("small{s}@bench.example"),
        )
        .await?;
        let actor = Actor::operator(eid);
        let req = BatchRequest {
            rows: rows(20, &format!("S{s}")),
            dry_run: false,
            send_email: false,
        };
        accounts::batch(app, &actor, &req, None)
            .await
            .map_err(err)?;
    }
    eprintln!(
        "{small} small enterprises of 20 accounts in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The SIPp injection file of the first `users` accounts.
async fn write_sip_csv(app: &App, path: &std::path::Path, users: i64) -> anyhow::Result<()> {
    let mut c = app.store.conn().await?;
    let rows = vcms_server::store::sip::credentials(&mut c, users).await?;
    let mut out = String::from("SEQUENTIAL\n");
    for (number, sealed) in &rows {
        let password = app.secrets.open(sealed).map_err(err)?;
        // field2: SIPp's authentication keyword (it does not expand [fieldN] inside it).
        out.push_str(&format!(
            "{number};{password};[authentication username={number} password={password}]\n"
        ));
    }
    std::fs::write(path, out)?;
    eprintln!("{} SIP users written to {}", rows.len(), path.display());
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let mut cfg = Config {
        data_dir: a.data_dir.clone(),
        ..Default::default()
    };
    cfg.database.url = Some(a.database_url.clone());
    let server = Server::build(cfg, Arc::new(SystemClock)).await?;
    let app = server.app.clone();
    let (token, batch_ms) = fill_big(&app, &a.server, a.big).await?;
    fill_small(&app, a.small).await?;
    if let Some(path) = &a.sip_csv {
        write_sip_csv(&app, path, a.sip_users).await?;
    }
    let total: f64 = batch_ms.iter().sum();
    println!("TOKEN={token}");
    println!("BATCH_TOTAL_ACCOUNTS={}", a.big * 10_000);
    println!("BATCH_TOTAL_MS={total:.0}");
    if let Some(pid) = a.server_pid {
        println!("SERVER_PEAK_KIB={}", peak_kib(pid).unwrap_or(0));
    }
    Ok(())
}
