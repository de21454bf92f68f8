//! A SIP client nobody here wrote registers with the registrar: SIPp runs the scenario
//! `tests/sipp/register_auth.xml` (REGISTER → 401 → REGISTER with digest → 200) over UDP
//! and TCP against a real server, with the users injected from a CSV file.
//!
//! Without `sipp` on the PATH the test is skipped with a note, unless VCMS_REQUIRE_SIPP=1
//! (CI sets it), when it fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use vcms_api::{AccountDetails, Transport};
use vcms_server::service::{accounts, Actor, AppState};
use vcms_server::testing::SipBed;

fn sipp_available() -> bool {
    let found = std::process::Command::new("sipp")
        .arg("-v")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok();
    if !found {
        if std::env::var("VCMS_REQUIRE_SIPP").is_ok_and(|v| v == "1") {
            panic!("sipp is not installed and VCMS_REQUIRE_SIPP=1 (apt-get install sip-tester)");
        }
        eprintln!("skipped: sipp is not installed (apt-get install sip-tester)");
    }
    found
}

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../tests/sipp/{name}.xml"))
}

/// Run SIPp's REGISTER scenario against `addr`; panics with SIPp's own logs unless it
/// exits 0 (every call succeeded).
async fn run_sipp(dir: &Path, users: &Path, addr: SocketAddr, transport: &str, calls: u32) {
    let name = format!("sipp-{transport}");
    let args: Vec<String> = vec![
        addr.to_string(),
        "-sf".into(),
        scenario("register_auth").display().to_string(),
        "-inf".into(),
        users.display().to_string(),
    ];
    sipp(dir, &name, args, transport, calls).await;
}

/// Run SIPp with `args` (target and scenario) and the common options; panics with SIPp's
/// own logs unless it exits 0 and every one of `calls` succeeded.
async fn sipp(dir: &Path, name: &str, args: Vec<String>, transport: &str, calls: u32) {
    let file = |ext: &str| dir.join(format!("{name}.{ext}"));
    let out = tokio::process::Command::new("sipp")
        .args(&args)
        .args(["-key", "domain", "vcms.local"])
        .args(["-t", transport])
        .args(["-i", "127.0.0.1"])
        .args(["-m", &calls.to_string(), "-r", "10", "-l", "5"])
        .args([
            "-timeout",
            "60s",
            "-timeout_error",
            "-nostdin",
            "-max_socket",
            "100",
        ])
        .args(["-trace_stat", "-stf", file("stat.csv").to_str().unwrap()])
        .args([
            "-trace_err",
            "-error_file",
            file("err.log").to_str().unwrap(),
        ])
        .args([
            "-trace_msg",
            "-message_file",
            file("msg.log").to_str().unwrap(),
        ])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("run sipp");
    if out.status.code() != Some(0) {
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        let msgs = read(file("msg.log"));
        let tail: String = msgs
            .chars()
            .skip(msgs.chars().count().saturating_sub(6000))
            .collect();
        panic!(
            "sipp -t {transport} exited with {:?}\n--- stdout\n{}\n--- stderr\n{}\n--- errors\n{}\n--- last messages\n{tail}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            read(file("err.log")),
        );
    }
    let stat = std::fs::read_to_string(file("stat.csv")).unwrap_or_default();
    // The statistics' last line: SuccessfulCall(C) is the count of calls that ended well.
    let header: Vec<&str> = stat.lines().next().unwrap_or("").split(';').collect();
    let last: Vec<&str> = stat.lines().last().unwrap_or("").split(';').collect();
    let ok = header
        .iter()
        .position(|h| *h == "SuccessfulCall(C)")
        .and_then(|i| last.get(i))
        .and_then(|v| v.trim().parse::<u32>().ok());
    assert_eq!(ok, Some(calls), "sipp statistics:\n{stat}");
}

async fn details(app: &AppState, enterprise_id: i64, id: i64) -> AccountDetails {
    accounts::get(app, &Actor::operator(enterprise_id), id)
        .await
        .unwrap()
}

/// A server on SQLite with UDP and TCP, one enterprise with a license, and `n` accounts
/// (extensions 1001…).
async fn boot(dir: &Path, n: usize) -> SipBed {
    let names: Vec<String> = (0..n).map(|i| format!("Sipp {i}")).collect();
    SipBed::start(dir, &names, |cfg| {
        cfg.sip.ring_secs = 20;
        cfg.sip.tls = String::new();
    })
    .await
}

/// The server's UDP and TCP SIP addresses.
fn listeners(running: &vcms_server::Running) -> (SocketAddr, SocketAddr) {
    let sip = running.sip.as_ref().expect("sip is on");
    (sip.udp.unwrap(), sip.tcp.unwrap())
}

/// SIPp's injection file: number; password; authentication keyword.
fn users_csv(path: &Path, users: &[&AccountDetails]) {
    let mut text = String::from("SEQUENTIAL\n");
    for a in users {
        let (n, p) = (&a.cloud_number, &a.password);
        text.push_str(&format!(
            "{n};{p};[authentication username={n} password={p}]\n"
        ));
    }
    std::fs::write(path, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_registers_over_udp_and_tcp() {
    if !sipp_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bed = boot(dir.path(), 20).await;
    let (app, eid, users) = (&bed.app, bed.enterprise_id, &bed.users);
    let csv = dir.path().join("users.csv");
    users_csv(&csv, &users.iter().collect::<Vec<_>>());

    let (udp, tcp) = listeners(&bed.running);
    // One call per user: with `-t un` every call has its own socket, so a user calling
    // more than 5 times would be refused its 6th endpoint, as it should.
    run_sipp(dir.path(), &csv, udp, "un", 20).await;
    run_sipp(dir.path(), &csv, tcp, "t1", 20).await;

    // Every user is registered from SIPp over both transports, with its User-Agent.
    for a in users {
        let mut d = details(app, eid, a.id).await;
        for _ in 0..50 {
            if d.bindings.len() == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            d = details(app, eid, a.id).await;
        }
        let mut transports: Vec<Transport> = d.bindings.iter().map(|b| b.transport).collect();
        transports.sort_unstable_by_key(|t| t.as_str());
        assert_eq!(transports, [Transport::Tcp, Transport::Udp], "{d:?}");
        for b in &d.bindings {
            assert_eq!(
                (b.device_model.as_str(), b.device_version.as_str()),
                ("SIPp", "3.6")
            );
            assert!(b.address.starts_with("127.0.0.1:"), "{b:?}");
        }
        assert_eq!(d.status_text, "Registered successfully");
    }
    bed.running.shutdown().await;
}

/// A free UDP port on loopback.
fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// SIPp calls SIPp through the proxy: a SIPp UAS registers the callee (1002) from its port
/// and answers; a SIPp UAC calls extension 1002 as 1001 over UDP, then over TCP (so the
/// proxy bridges TCP to UDP with a double Record-Route), answering the 407 challenge, and
/// hangs up with BYE along the route set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_calls_through_the_proxy() {
    if !sipp_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bed = boot(dir.path(), 2).await;
    let (app, eid, users) = (&bed.app, bed.enterprise_id, &bed.users);
    let (caller, callee) = (&users[0], &users[1]);
    let caller_csv = dir.path().join("caller.csv");
    users_csv(&caller_csv, &[caller]);
    let callee_csv = dir.path().join("callee.csv");
    users_csv(&callee_csv, &[callee]);
    let (udp, tcp) = listeners(&bed.running);
    let port = free_udp_port().to_string();
    // The callee's endpoint registers from the port it will answer on.
    sipp(
        dir.path(),
        "sipp-callee-register",
        vec![
            udp.to_string(),
            "-sf".into(),
            scenario("register_auth").display().to_string(),
            "-inf".into(),
            callee_csv.display().to_string(),
            "-p".into(),
            port.clone(),
        ],
        "u1",
        1,
    )
    .await;
    let calls = 10u32;
    let uas_dir = dir.path().to_path_buf();
    let uas_port = port.clone();
    let uas = tokio::spawn(async move {
        sipp(
            &uas_dir,
            "sipp-uas",
            vec![
                "-sf".into(),
                scenario("uas_answer").display().to_string(),
                "-p".into(),
                uas_port,
            ],
            "u1",
            2 * calls,
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (addr, t) in [(udp, "u1"), (tcp, "t1")] {
        sipp(
            dir.path(),
            &format!("sipp-uac-{t}"),
            vec![
                addr.to_string(),
                "-sf".into(),
                scenario("uac_call").display().to_string(),
                "-inf".into(),
                caller_csv.display().to_string(),
                "-s".into(),
                "1002".into(),
                "-d".into(),
                "100".into(),
            ],
            t,
            calls,
        )
        .await;
    }
    tokio::time::timeout(Duration::from_secs(30), uas)
        .await
        .expect("the UAS answered every call")
        .unwrap();
    // Every call ended: within a second nobody is "in a call" any more.
    for a in [caller, callee] {
        let mut d = details(app, eid, a.id).await;
        for _ in 0..20 {
            if !d.in_call {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            d = details(app, eid, a.id).await;
        }
        assert!(!d.in_call, "{d:?}");
    }
    bed.running.shutdown().await;
}
