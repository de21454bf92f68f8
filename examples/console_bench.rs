//! Console speed (issue 4), measured on the real `vcms` binary in a pseudo-terminal against
//! a running server: start to sign-in screen, sign-in to first page drawn, keystroke to
//! redrawn table when paging and when searching, and the console's peak memory.
//! Run by `scripts/bench-console.sh`.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, CommandBuilder, PtySize};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let get = |k: &str| {
        args.iter()
            .position(|a| a == k)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let server = get("--server").ok_or_else(|| anyhow::anyhow!("--server URL"))?;
    let email = get("--email").unwrap_or_else(|| "big0@bench.example".into());
    let password = get("--password").unwrap_or_else(|| "bench12345".into());
    let bin = get("--bin").unwrap_or_else(|| "target/release/vcms".into());
    let total = get("--total").unwrap_or_else(|| "10000".into());

    let home = tempfile::tempdir()?;
    let pty = native_pty_system().openpty(PtySize {
        rows: 24,
        cols: 80,
        pixel_width: 0,
        pixel_height: 0,
    })?;
    let mut cmd = CommandBuilder::new(&bin);
    cmd.args(["--server", &server, "--lang", "en"]);
    for (k, v) in [
        ("HOME", "."),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_CACHE_HOME", "cache"),
    ] {
        cmd.env(k, home.path().join(v));
    }
    cmd.env("TERM", "xterm-256color");
    let t0 = Instant::now();
    let mut child = pty.slave.spawn_command(cmd)?;
    let pid = child.process_id().unwrap_or(0);
    drop(pty.slave);
    let mut reader = pty.master.try_clone_reader()?;
    let mut writer = pty.master.take_writer()?;
    let screen = Arc::new(Mutex::new(vt100::Parser::new(24, 80, 0)));
    let s2 = screen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 16384];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Ok(mut p) = s2.lock() {
                p.process(&buf[..n]);
            }
        }
    });
    let contents = || {
        screen
            .lock()
            .map(|p| p.screen().contents())
            .unwrap_or_default()
    };
    let wait = |what: &str| -> anyhow::Result<Duration> {
        let start = Instant::now();
        loop {
            if contents().contains(what) {
                return Ok(start.elapsed());
            }
            if start.elapsed() > Duration::from_secs(30) {
                anyhow::bail!("timed out waiting for {what:?}; screen:\n{}", contents());
            }
            std::thread::sleep(Duration::from_micros(500));
        }
    };
    let mut send = |s: &str| -> anyhow::Result<Instant> {
        writer.write_all(s.as_bytes())?;
        writer.flush()?;
        Ok(Instant::now())
    };

    wait("Sign in")?;
    let to_signin = t0.elapsed();
    send(&email)?;
    send("\t")?;
    std::thread::sleep(Duration::from_millis(100));
    send(&password)?;
    std::thread::sleep(Duration::from_millis(100));
    let t = send("\r")?;
    wait(&format!("All records: {total}"))?;
    let first_page = t.elapsed();

    let pages: i64 = total.parse::<i64>().map(|n| (n + 9) / 10).unwrap_or(1);
    let mut paging = vec![];
    for p in 2..=21 {
        let t = send("\x1b[6~")?; // PgDn
        wait(&format!("Page {p} of {pages}"))?;
        paging.push(t.elapsed());
    }
    let t = send("G")?;
    wait(&format!("Page {pages} of {pages}"))?;
    let last = t.elapsed();

    send("/")?;
    std::thread::sleep(Duration::from_millis(100));
    let mut t = Instant::now();
    for ch in ["@", "d", "4", "2", "."] {
        t = send(ch)?;
        std::thread::sleep(Duration::from_millis(30));
    }
    wait("All records: 100 ")?;
    let search = t.elapsed();
    send("\x1b")?;
    wait(&format!("All records: {total}"))?;

    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        })
        .unwrap_or_default();
    send("q")?;
    let _ = child.wait();

    paging.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("start to sign-in screen drawn: {:.0} ms", ms(to_signin));
    println!(
        "sign-in (Enter) to first page drawn: {:.0} ms",
        ms(first_page)
    );
    println!(
        "PgDn to redrawn table (20 pages): median {:.1} ms, max {:.1} ms",
        ms(paging[paging.len() / 2]),
        ms(paging[paging.len() - 1])
    );
    println!("G (last page) to redrawn table: {:.1} ms", ms(last));
    println!(
        "last search keystroke to redrawn table (debounce included): {:.0} ms",
        ms(search)
    );
    println!("console peak RSS: {rss} kB");
    Ok(())
}
