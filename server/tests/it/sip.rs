//! Endpoint sign-in and SIP registration over real sockets: UDP, TCP and TLS, digest
//! authentication, the five-endpoint limit, expiry, unregister, license and removal, NAT,
//! restarts, provisioned devices, live status, and hostile input.

use std::net::SocketAddr;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;

use crate::both;
use crate::common::*;
use vcms_api::client::{Client, StreamItem};
use vcms_api::{self as api, *};
use vcms_endpoint::Algorithm;
use vcms_endpoint::{Options, Transport, Ua};
use vcms_server::clock::{DAY, MINUTE, SECOND};

pub(crate) fn new(name: &str, ext: &str) -> NewAccount {
    NewAccount {
        name: name.into(),
        extension: ext.into(),
        email: None,
        send_email: false,
    }
}

fn device(instance: &str) -> Device {
    Device {
        model: "VC Desktop".into(),
        version: "1.0.50.16".into(),
        instance: instance.into(),
    }
}

pub(crate) fn sip_addr(s: &TestServer, t: Transport) -> SocketAddr {
    let sip = s.running.sip.as_ref().unwrap();
    match t {
        Transport::Udp => sip.udp,
        Transport::Tcp => sip.tcp,
        Transport::Tls => sip.tls,
    }
    .unwrap()
}

pub(crate) fn options(
    s: &TestServer,
    t: Transport,
    user: &str,
    password: &str,
    instance: Option<&str>,
) -> Options {
    Options {
        server: sip_addr(s, t),
        transport: t,
        domain: "vcms.local".into(),
        user: user.into(),
        password: password.into(),
        instance: instance.map(Into::into),
        user_agent: "Yealink VCDesktop 1.0.50.16".into(),
        tls_ca: None,
        algorithm: Algorithm::Md5,
        contact_addr: None,
    }
}

pub(crate) async fn ua(
    s: &TestServer,
    t: Transport,
    user: &str,
    password: &str,
    instance: Option<&str>,
) -> Ua {
    Ua::connect(options(s, t, user, password, instance))
        .await
        .unwrap()
}

/// A UDP UA sending from 127.0.0.`host` (all of 127/8 is loopback on Linux).
async fn ua_at(s: &TestServer, host: u8, user: &str, password: &str) -> Ua {
    let local: SocketAddr = format!("127.0.0.{host}:0").parse().unwrap();
    Ua::connect_from(
        options(s, Transport::Udp, user, password, None),
        Some(local),
    )
    .await
    .unwrap()
}

/// Move the test clock to an hour past the next midnight (UTC), so that a test of the
/// per-day limit does not straddle two days.
fn start_of_a_day(s: &TestServer) {
    s.advance(DAY - s.now().rem_euclid(DAY) + 60 * MINUTE);
}

/// A UA with the account's own credentials.
pub(crate) async fn ua_of(
    s: &TestServer,
    t: Transport,
    a: &AccountDetails,
    instance: Option<&str>,
) -> Ua {
    ua(s, t, &a.cloud_number, &a.password, instance).await
}

/// Wait (up to 3 s) until the account's details satisfy `f`.
pub(crate) async fn wait_details(
    c: &Client,
    id: i64,
    f: impl Fn(&AccountDetails) -> bool,
) -> AccountDetails {
    for _ in 0..60 {
        let d = c.account(id).await.unwrap();
        if f(&d) {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let d = c.account(id).await.unwrap();
    panic!("details never matched: {d:?}");
}

async fn pincode_then_register_on_every_transport(db: Db) {
    // SHA-256 is offered when configured (first, so clients that can use it do).
    let s = TestServer::start_with(db, Smtp::start(), |c| {
        c.sip.challenge_algorithms = vec!["SHA-256".into(), "MD5".into()]
    })
    .await;
    let (number, c) = s.owner("sip@example.com").await;
    let a = c.add_account(&new("Anna", "1001")).await.unwrap();
    let login = s
        .client()
        .endpoint_login(&EndpointLoginRequest {
            pincode: a.pincode.clone(),
            device: device("6f1e3c52-7c3e-4a55-9d0b-2d7f4a0e9a11"),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(login.cloud_number, a.cloud_number);
    assert_eq!(login.enterprise_number, number);
    let sip = &login.sip;
    assert_eq!(
        (sip.domain.as_str(), sip.username.as_str()),
        ("vcms.local", a.cloud_number.as_str())
    );
    assert_eq!(sip.password, a.password);
    assert_eq!(sip.instance, "6f1e3c52-7c3e-4a55-9d0b-2d7f4a0e9a11");
    let transports: Vec<api::Transport> = sip.servers.iter().map(|s| s.transport).collect();
    assert_eq!(
        transports,
        [
            api::Transport::Udp,
            api::Transport::Tcp,
            api::Transport::Tls
        ]
    );
    // The pincode works once.
    let e = err(s
        .client()
        .endpoint_login(&EndpointLoginRequest {
            pincode: a.pincode.clone(),
            ..Default::default()
        })
        .await);
    assert_eq!(e.code(), ErrorCode::PincodeInvalid);

    // The signed-in device registers with what it was given; the model comes from the
    // sign-in, not the User-Agent.
    let mut u = ua(
        &s,
        Transport::Udp,
        &sip.username,
        &sip.password,
        Some(&sip.instance),
    )
    .await;
    let r = u.register(Some(3600)).await.unwrap();
    assert_eq!(r.code, 200, "{}", r.reason);
    assert_eq!(r.headers("Contact").len(), 1);
    assert!(r.header("Contact").unwrap().contains("expires=3600"));
    let d = wait_details(&c, a.id, |d| d.bindings.len() == 1).await;
    assert_eq!(d.status_text, "Registered successfully");
    assert_eq!(d.bindings[0].state, "Registered(UDP)");
    assert_eq!(d.bindings[0].device_model, "VC Desktop");

    // TCP and TLS, SHA-256 on one of them; the model from the User-Agent this time.
    let mut t = ua_of(
        &s,
        Transport::Tcp,
        &a,
        Some("11111111-2222-3333-4444-555555555555"),
    )
    .await;
    t.opts.algorithm = Algorithm::Sha256;
    assert_eq!(t.register(Some(600)).await.unwrap().code, 200);
    let mut l = ua_of(
        &s,
        Transport::Tls,
        &a,
        Some("21111111-2222-3333-4444-555555555555"),
    )
    .await;
    let r = l.register(None).await.unwrap();
    assert_eq!(r.code, 200, "{}", r.reason);
    assert_eq!(r.headers("Contact").len(), 3);
    let d = wait_details(&c, a.id, |d| d.bindings.len() == 3).await;
    let mut states: Vec<&str> = d.bindings.iter().map(|b| b.state.as_str()).collect();
    states.sort();
    assert_eq!(
        states,
        ["Registered(TCP)", "Registered(TLS)", "Registered(UDP)"]
    );
    assert!(d
        .bindings
        .iter()
        .any(|b| b.device_model == "Yealink VCDesktop" && b.device_version == "1.0.50.16"));

    // A device behind NAT: its Contact is not where its packets come from.
    let mut n = ua_of(&s, Transport::Udp, &a, None).await;
    n.opts.contact_addr = Some("10.1.2.3:5060".parse().unwrap());
    assert_eq!(n.register(Some(600)).await.unwrap().code, 200);
    let d = wait_details(&c, a.id, |d| d.bindings.len() == 4).await;
    assert!(d
        .bindings
        .iter()
        .any(|b| b.state == "Registered(UDP-NAT)" && b.nat));

    // A query lists them all; Contact * removes them all.
    let r = u.query().await.unwrap();
    assert_eq!((r.code, r.headers("Contact").len()), (200, 4));
    let r = u.unregister_all().await.unwrap();
    assert_eq!((r.code, r.headers("Contact").len()), (200, 0));
    let d = wait_details(&c, a.id, |d| d.bindings.is_empty()).await;
    assert_eq!(d.status_text, "Unregistered");
}
both!(pincode_then_register_on_every_transport);

async fn wrong_password_is_challenged_then_forbidden(db: Db) {
    let s = TestServer::start(db).await;
    let (_, c) = s.owner("wrong@example.com").await;
    let a = c.add_account(&new("Bonnie", "1002")).await.unwrap();
    let mut bad = ua(
        &s,
        Transport::Udp,
        &a.cloud_number,
        "not-the-password",
        None,
    )
    .await;
    let mut codes = vec![];
    for _ in 0..7 {
        codes.push(bad.register(Some(600)).await.unwrap().code);
    }
    assert_eq!(codes, [401, 401, 401, 401, 401, 403, 403]);
    let r = bad.register(Some(600)).await.unwrap();
    assert!(r.reason.contains("too many failed"), "{}", r.reason);
    // Shut out from this address for a while, even with the right password...
    let mut good = ua_of(&s, Transport::Udp, &a, None).await;
    assert_eq!(good.register(Some(600)).await.unwrap().code, 403);
    // ...then let in again.
    s.advance(10 * MINUTE + SECOND);
    assert_eq!(good.register(Some(600)).await.unwrap().code, 200);
    // An unknown cloud number looks exactly like a wrong password.
    let mut ghost = ua(&s, Transport::Tcp, "999999999", "whatever", None).await;
    assert_eq!(ghost.register(Some(600)).await.unwrap().code, 401);
}
both!(wrong_password_is_challenged_then_forbidden);

async fn five_endpoints_at_most_and_the_same_device_replaces_its_own(db: Db) {
    let s = TestServer::start(db).await;
    let (_, c) = s.owner("five@example.com").await;
    let a = c.add_account(&new("Clare", "1003")).await.unwrap();
    let inst = |i: usize| format!("00000000-0000-4000-8000-00000000000{i}");
    for i in 1..=5 {
        let mut u = ua_of(&s, Transport::Udp, &a, Some(&inst(i))).await;
        assert_eq!(u.register(Some(600)).await.unwrap().code, 200);
    }
    let mut sixth = ua_of(&s, Transport::Tcp, &a, Some(&inst(6))).await;
    let r = sixth.register(Some(600)).await.unwrap();
    assert_eq!(r.code, 403);
    assert!(r.reason.contains("at most 5"), "{}", r.reason);
    // Device 3 restarts (new socket, new Call-ID, same instance): it takes its own slot.
    let mut again = ua_of(&s, Transport::Tcp, &a, Some(&inst(3))).await;
    let r = again.register(Some(600)).await.unwrap();
    assert_eq!((r.code, r.headers("Contact").len()), (200, 5));
    let d = wait_details(&c, a.id, |d| {
        d.bindings
            .iter()
            .any(|b| b.transport == api::Transport::Tcp)
    })
    .await;
    assert_eq!(d.bindings.len(), 5);
    // A device without an instance refreshing from the same contact keeps one binding.
    let mut plain = ua_of(&s, Transport::Udp, &a, None).await;
    assert_eq!(plain.register(Some(600)).await.unwrap().code, 403);
    let mut one = ua_of(&s, Transport::Udp, &a, Some(&inst(1))).await;
    assert_eq!(one.register(Some(0)).await.unwrap().code, 200);
    assert_eq!(plain.register(Some(600)).await.unwrap().code, 200);
    let r = plain.register(Some(600)).await.unwrap();
    assert_eq!((r.code, r.headers("Contact").len()), (200, 5));
}
both!(five_endpoints_at_most_and_the_same_device_replaces_its_own);

async fn expiry_and_min_expires(db: Db) {
    let s = TestServer::start(db).await;
    let (_, c) = s.owner("expiry@example.com").await;
    let a = c.add_account(&new("Jane", "3578")).await.unwrap();
    let mut u = ua_of(&s, Transport::Udp, &a, None).await;
    let r = u.register(Some(30)).await.unwrap();
    assert_eq!(r.code, 423);
    assert_eq!(r.header("Min-Expires").as_deref(), Some("60"));
    // Too long is cut to the maximum.
    let r = u.register(Some(999_999)).await.unwrap();
    assert_eq!(r.code, 200);
    assert!(r.header("Contact").unwrap().ends_with("expires=3600"));
    let r = u.register(Some(60)).await.unwrap();
    assert_eq!(r.code, 200);
    wait_details(&c, a.id, |d| d.bindings.len() == 1).await;
    let mut events = c.events(None).await.unwrap();
    s.advance(61 * SECOND);
    // The timer drops it and says so on the event stream.
    let ev = tokio::time::timeout(Duration::from_secs(3), events.next())
        .await
        .expect("a change within 3 s")
        .unwrap()
        .unwrap();
    assert!(
        matches!(ev, StreamItem::Change(ref e) if e.kind == EventKind::BindingChanged && e.account_id == Some(a.id)),
        "{ev:?}"
    );
    let d = c.account(a.id).await.unwrap();
    assert_eq!(
        (d.bindings.len(), d.status_text.as_str()),
        (0, "Unregistered")
    );
    let mut conn = s.running.app.store.conn().await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bindings")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(n, 0);
}
both!(expiry_and_min_expires);

async fn license_removal_and_password_reset_end_registrations(db: Db) {
    let s = TestServer::start(db).await;
    let (_, c) = s.owner("lic@example.com").await;
    let a = c.add_account(&new("Mark", "8908")).await.unwrap();
    let b = c.add_account(&new("Mars", "3567")).await.unwrap();
    let mut ua_a = ua_of(&s, Transport::Tcp, &a, None).await;
    assert_eq!(ua_a.register(Some(600)).await.unwrap().code, 200);
    let mut ua_b = ua_of(&s, Transport::Udp, &b, None).await;
    assert_eq!(ua_b.register(Some(600)).await.unwrap().code, 200);

    // Password reset: signed out at once; the old password no longer registers.
    let reset = c.reset_account_password(a.id).await.unwrap();
    assert!(reset.bindings.is_empty());
    assert_ne!(ua_a.register(Some(600)).await.unwrap().code, 200);
    let mut fresh = ua(&s, Transport::Tcp, &a.cloud_number, &reset.password, None).await;
    let r = fresh.register(Some(600)).await.unwrap();
    assert_eq!((r.code, r.headers("Contact").len()), (200, 1));

    // Removed while registered: gone, and cannot come back.
    c.remove_accounts(&[b.id]).await.unwrap();
    let mut conn = s.running.app.store.conn().await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bindings WHERE account_id = $1")
        .bind(b.id)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(n, 0);
    drop(conn);
    assert_eq!(ua_b.register(Some(600)).await.unwrap().code, 401);

    // Trial over, no license: refused with the reason.
    s.advance(31 * DAY);
    let r = fresh.register(Some(600)).await.unwrap();
    assert_eq!(r.code, 403);
    assert_eq!(r.reason, "Unavailable terminals for invalid license");
}
both!(license_removal_and_password_reset_end_registrations);

async fn bindings_survive_a_restart(db: Db) {
    let s = TestServer::start(db).await;
    let (_, c) = s.owner("restart@example.com").await;
    let a = c.add_account(&new("Maggie", "1005")).await.unwrap();
    for i in 0..5 {
        let mut u = ua_of(
            &s,
            Transport::Udp,
            &a,
            Some(&format!("10000000-0000-4000-8000-00000000000{i}")),
        )
        .await;
        assert_eq!(u.register(Some(3600)).await.unwrap().code, 200);
    }
    let s = s.restart().await;
    let c = s.login("restart@example.com", "secret123").await.unwrap();
    let d = c.account(a.id).await.unwrap();
    assert_eq!(d.bindings.len(), 5);
    assert_eq!(d.status_text, "Registered successfully");
    // The new process knows them: a sixth device is still refused.
    let mut sixth = ua_of(
        &s,
        Transport::Udp,
        &a,
        Some("20000000-0000-4000-8000-000000000000"),
    )
    .await;
    assert_eq!(sixth.register(Some(600)).await.unwrap().code, 403);
}
both!(bindings_survive_a_restart);

async fn provisioned_device_signs_in_and_logout_unregisters(db: Db) {
    let s = TestServer::start(db).await;
    let (_, c) = s.owner("builtin@example.com").await;
    let a = c.add_account(&new("Anna", "1001")).await.unwrap();
    let dev = c.provision_device(a.id, "YEA-VC800-0001").await.unwrap();
    let secret = dev.secret.clone().unwrap();
    assert_eq!(secret.len(), 24);
    // Listed without the secret; a second provisioning of the serial is refused.
    let list = c.devices(a.id).await.unwrap();
    assert_eq!((list.len(), list[0].secret.is_none()), (1, true));
    let e = err(c.provision_device(a.id, "YEA-VC800-0001").await);
    assert_eq!(e.body().and_then(|b| b.field.as_deref()), Some("serial"));
    let builtin = |secret: &str| EndpointLoginRequest {
        builtin: Some(BuiltinCredentials {
            serial: "YEA-VC800-0001".into(),
            secret: secret.into(),
        }),
        device: device("30000000-0000-4000-8000-000000000000"),
        ..Default::default()
    };
    assert_eq!(
        err(s.client().endpoint_login(&builtin("wrong")).await).code(),
        ErrorCode::BuiltinUnknown
    );
    let login = s.client().endpoint_login(&builtin(&secret)).await.unwrap();
    assert_eq!(login.cloud_number, a.cloud_number);
    let mut u = ua(
        &s,
        Transport::Tls,
        &login.sip.username,
        &login.sip.password,
        Some(&login.sip.instance),
    )
    .await;
    assert_eq!(u.register(Some(600)).await.unwrap().code, 200);
    wait_details(&c, a.id, |d| d.bindings.len() == 1).await;
    s.client().endpoint_logout(&login.token).await.unwrap();
    let d = c.account(a.id).await.unwrap();
    assert!(d.bindings.is_empty(), "{d:?}");
    assert_eq!(
        err(s.client().endpoint_logout(&login.token).await).code(),
        ErrorCode::EndpointSession
    );
    // Removed device: no more sign-in. Another enterprise cannot see or remove it.
    let (_, other) = s.owner("other@example.com").await;
    assert_eq!(
        err(other.devices(a.id).await).status().map(|s| s.as_u16()),
        Some(404)
    );
    c.remove_device(a.id, "YEA-VC800-0001").await.unwrap();
    assert_eq!(
        err(s.client().endpoint_login(&builtin(&secret)).await).code(),
        ErrorCode::BuiltinUnknown
    );
}
both!(provisioned_device_signs_in_and_logout_unregisters);

async fn hostile_sip_never_takes_the_server_down(db: Db) {
    let s = TestServer::start(db).await;
    let (_, c) = s.owner("hostile@example.com").await;
    let a = c.add_account(&new("Anna", "1001")).await.unwrap();
    let udp = sip_addr(&s, Transport::Udp);
    let tcp = sip_addr(&s, Transport::Tcp);
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let huge = format!(
        "REGISTER sip:vcms.local SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKx\r\nX-Big: {}\r\n\r\n",
        "a".repeat(60_000)
    );
    let base = "REGISTER sip:vcms.local SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK1\r\nFrom: <sip:{n}@vcms.local>;tag=1\r\nTo: <sip:{n}@vcms.local>\r\nCall-ID: c1\r\nCSeq: 1 REGISTER\r\nContact: <sip:{n}@127.0.0.1:9>\r\n";
    let bad_auths = [
        "Digest",
        "Digest username=",
        "Digest username=\"{n}\", realm=\"vcms.local\", nonce=\"x\", uri=\"sip:vcms.local\", response=\"zz\"",
        "Digest username=\"{n}\", realm=\"vcms.local\", nonce=\"1.2.3\", uri=\"sip:vcms.local\", response=\"00\", qop=auth, nc=zz, cnonce=\"a\"",
        "Digest username=\"{n}\", realm=\"vcms.local\", nonce=\"\\\"unterminated",
        "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
    ];
    let mut messages: Vec<Vec<u8>> = vec![
        b"\x00\x01\x02garbage\xff\xfe".to_vec(),
        b"REGISTER".to_vec(),
        b"REGISTER sip:vcms.local SIP/2.0\r\nVia: SIP/2.0/UDP".to_vec(),
        huge.into_bytes(),
        b"SIP/2.0 200 OK\r\n\r\n".to_vec(),
        b"INVITE sip:x SIP/2.0\r\nContent-Length: 99999999\r\n\r\n".to_vec(),
    ];
    for h in bad_auths {
        let m = format!("{}Authorization: {}\r\nContent-Length: 0\r\n\r\n", base, h)
            .replace("{n}", &a.cloud_number);
        messages.push(m.into_bytes());
    }
    messages.push(
        format!("{}Expires: soon\r\nContent-Length: 0\r\n\r\n", base)
            .replace("{n}", &a.cloud_number)
            .into_bytes(),
    );
    messages.push(
        format!("{}Contact: <sip:x@[::1\r\nContent-Length: 0\r\n\r\n", base)
            .replace("{n}", &a.cloud_number)
            .into_bytes(),
    );
    for m in &messages {
        let _ = sock.send_to(m, udp).await;
        if let Ok(mut t) = tokio::net::TcpStream::connect(tcp).await {
            use tokio::io::AsyncWriteExt;
            let _ = t.write_all(m).await;
            let _ = t.shutdown().await;
        }
    }
    for _ in 0..200 {
        let junk: Vec<u8> = (0..rand_len()).map(|_| rand::random::<u8>()).collect();
        let _ = sock.send_to(&junk, udp).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Still serving, on both transports.
    let mut u = ua_of(&s, Transport::Udp, &a, None).await;
    assert_eq!(u.register(Some(600)).await.unwrap().code, 200);
    let mut t = ua_of(
        &s,
        Transport::Tcp,
        &a,
        Some("40000000-0000-4000-8000-000000000000"),
    )
    .await;
    assert_eq!(t.register(Some(600)).await.unwrap().code, 200);
}
both!(hostile_sip_never_takes_the_server_down);

fn rand_len() -> usize {
    1 + (rand::random::<u16>() as usize % 1400)
}

/// The emulator as a user runs it: signs in with a pincode, registers over TCP, shows up in
/// the details while it holds, then unregisters and signs out.
async fn endpoint_emulator_comes_online_and_leaves(db: Db) {
    let s = TestServer::start(db).await;
    let (_, c) = s.owner("emu@example.com").await;
    let a = c.add_account(&new("Anna", "1001")).await.unwrap();
    let child = tokio::process::Command::new(endpoint_exe())
        .args([
            "login",
            "--server",
            &s.url,
            "--pincode",
            a.pincode.as_deref().unwrap(),
            "--transport",
            "tcp",
            "--model",
            "VC Desktop",
            "--version",
            "1.0.50.16",
            "--hold",
            "3",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let d = wait_details(&c, a.id, |d| d.bindings.len() == 1).await;
    assert_eq!(d.bindings[0].state, "Registered(TCP)");
    assert_eq!(
        (
            d.bindings[0].device_model.as_str(),
            d.bindings[0].device_version.as_str()
        ),
        ("VC Desktop", "1.0.50.16")
    );
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("the emulator exits after --hold")
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!(
            "signed in as Anna (cloud number {}",
            a.cloud_number
        )),
        "{text}"
    );
    assert!(text.contains("registered over TCP"), "{text}");
    assert!(
        text.contains("unregistered") && text.contains("signed out"),
        "{text}"
    );
    let d = c.account(a.id).await.unwrap();
    assert_eq!(d.status_text, "Unregistered");
    // A used pincode: the emulator says why and fails.
    let out = tokio::process::Command::new(endpoint_exe())
        .args([
            "login",
            "--server",
            &s.url,
            "--pincode",
            a.pincode.as_deref().unwrap(),
        ])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("pincode is not valid"));
}
both!(endpoint_emulator_comes_online_and_leaves);

/// The directory an endpoint sees: its own enterprise only, with an ETag, and a change
/// stream that delivers an edit, an add, a removal and a registration within a second.
async fn endpoint_directory_and_its_live_changes(db: Db) {
    let s = TestServer::start(db).await;
    let (_, c) = s.owner("dir@example.com").await;
    let a = c.add_account(&new("Anna", "1001")).await.unwrap();
    let b = c.add_account(&new("陈媛媛", "2002")).await.unwrap();
    let (_, other) = s.owner("elsewhere@example.com").await;
    other.add_account(&new("Outsider", "1001")).await.unwrap();
    let login = s
        .client()
        .endpoint_login(&EndpointLoginRequest {
            cloud_number: Some(a.cloud_number.clone()),
            password: Some(a.password.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    let ep = s.client().with_token(login.token.clone());
    let d = ep.directory().await.unwrap();
    let names: Vec<&str> = d.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["Anna", "陈媛媛"]);
    assert!(d.entries.iter().all(|e| !e.registered));
    // Not signed in: refused.
    assert_eq!(
        err(s.client().directory().await).code(),
        ErrorCode::EndpointSession
    );
    // The ETag: 304 while nothing changes.
    let http = reqwest::Client::new();
    let url = format!("{}/endpoint/v1/directory", s.url);
    let r = http
        .get(&url)
        .bearer_auth(&login.token)
        .send()
        .await
        .unwrap();
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(etag, format!("\"{}\"", d.version));
    let r = http
        .get(&url)
        .bearer_auth(&login.token)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 304);

    let mut events = ep.directory_events(None).await.unwrap();
    async fn next(events: &mut vcms_api::client::EventStream) -> DirectoryChange {
        tokio::time::timeout(Duration::from_secs(1), events.next_directory_change())
            .await
            .expect("a change within a second")
            .unwrap()
            .unwrap()
            .unwrap()
    }
    c.update_account(
        b.id,
        &AccountUpdate {
            name: Some("Chen Yuanyuan".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let ch = next(&mut events).await;
    assert_eq!(
        (ch.kind, ch.entry.as_ref().map(|e| e.name.as_str())),
        (DirectoryChangeKind::Changed, Some("Chen Yuanyuan"))
    );
    let m = c.add_account(&new("Mark", "8908")).await.unwrap();
    let ch = next(&mut events).await;
    assert_eq!(
        (ch.kind, ch.entry.as_ref().map(|e| e.extension.as_str())),
        (DirectoryChangeKind::Added, Some("8908"))
    );
    let mut u = ua_of(&s, Transport::Udp, &m, None).await;
    assert_eq!(u.register(Some(600)).await.unwrap().code, 200);
    let ch = next(&mut events).await;
    assert_eq!(
        (ch.kind, ch.entry.as_ref().map(|e| e.registered)),
        (DirectoryChangeKind::Registration, Some(true))
    );
    c.remove_accounts(&[m.id]).await.unwrap();
    let ch = next(&mut events).await;
    assert_eq!(
        (ch.kind, ch.account_id),
        (DirectoryChangeKind::Removed, Some(m.id))
    );
    // The version moved on: the old ETag no longer matches.
    let r = http
        .get(&url)
        .bearer_auth(&login.token)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // Signing out ends the stream.
    s.client().endpoint_logout(&login.token).await.unwrap();
    assert_eq!(err(ep.directory().await).code(), ErrorCode::EndpointSession);
}
both!(endpoint_directory_and_its_live_changes);

/// TLS with the certificate verified: the one generated on first start, trusted as a CA
/// file, works for the SIP domain; a certificate of someone else is refused.
async fn tls_certificate_can_be_verified(db: Db) {
    let s = TestServer::start(db).await;
    let (_, c) = s.owner("tlsv@example.com").await;
    let a = c.add_account(&new("Anna", "1001")).await.unwrap();
    let cert = s.dir.path().join("sip-tls.crt");
    assert!(cert.exists());
    let mut o = Options {
        server: sip_addr(&s, Transport::Tls),
        transport: Transport::Tls,
        domain: "vcms.local".into(),
        user: a.cloud_number.clone(),
        password: a.password.clone(),
        instance: None,
        user_agent: "t".into(),
        tls_ca: Some(cert),
        algorithm: Algorithm::Md5,
        contact_addr: None,
    };
    let mut u = Ua::connect(o.clone()).await.unwrap();
    assert_eq!(u.register(Some(600)).await.unwrap().code, 200);
    let other = rcgen::generate_simple_self_signed(vec!["vcms.local".to_string()]).unwrap();
    let path = s.dir.path().join("other.crt");
    std::fs::write(&path, other.cert.pem()).unwrap();
    o.tls_ca = Some(path);
    assert!(Ua::connect(o).await.is_err());
}
both!(tls_certificate_can_be_verified);

/// The generated certificate carries every host sign-in advertises: a device that checks
/// it against the address it was told to use (127.0.0.1, an IP SAN) connects.
async fn tls_certificate_names_the_advertised_address(db: Db) {
    let s = TestServer::start(db).await;
    let (_, c) = s.owner("tlsname@example.com").await;
    let a = c.add_account(&new("Anna", "1001")).await.unwrap();
    let login = s
        .client()
        .endpoint_login(&EndpointLoginRequest {
            pincode: a.pincode.clone(),
            device: device("7f1e3c52-7c3e-4a55-9d0b-2d7f4a0e9a11"),
            ..Default::default()
        })
        .await
        .unwrap();
    let tls = login
        .sip
        .servers
        .iter()
        .find(|x| x.transport == api::Transport::Tls)
        .unwrap();
    let pem = std::fs::read(s.dir.path().join("sip-tls.crt")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(tls.host.clone()).unwrap();
    assert!(
        matches!(name, rustls::pki_types::ServerName::IpAddress(_)),
        "{}",
        tls.host
    );
    let tcp = tokio::net::TcpStream::connect((tls.host.as_str(), tls.port))
        .await
        .unwrap();
    let r = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg))
        .connect(name, tcp)
        .await;
    assert!(r.is_ok(), "certificate does not name {}: {r:?}", tls.host);
}
both!(tls_certificate_names_the_advertised_address);

/// The default challenge is one MD5 line, which every common client accepts (baresip 1.0
/// gives up on a challenge that also offers SHA-256); SHA-256 is a setting.
async fn default_challenge_is_md5_only(db: Db) {
    let s = TestServer::start(db).await;
    let (_, c) = s.owner("md5@example.com").await;
    let a = c.add_account(&new("Anna", "1001")).await.unwrap();
    let mut bad = ua(&s, Transport::Udp, &a.cloud_number, "wrong", None).await;
    let r = bad.register(Some(600)).await.unwrap();
    assert_eq!(r.code, 401);
    let ch = r.headers("WWW-Authenticate");
    assert_eq!(ch.len(), 1, "{ch:?}");
    assert!(ch[0].contains("algorithm=MD5"), "{}", ch[0]);
    // A client that insists on SHA-256 finds no challenge for it.
    let mut sha = ua_of(&s, Transport::Udp, &a, None).await;
    sha.opts.algorithm = Algorithm::Sha256;
    assert!(sha.register(Some(600)).await.is_err());
    let mut md5 = ua_of(&s, Transport::Tcp, &a, None).await;
    assert_eq!(md5.register(Some(600)).await.unwrap().code, 200);
}
both!(default_challenge_is_md5_only);

async fn guessing_from_many_addresses_is_bounded_per_account(db: Db) {
    let s = TestServer::start(db).await;
    start_of_a_day(&s);
    let (_, c) = s.owner("guess@example.com").await;
    let a = c.add_account(&new("Gus", "1010")).await.unwrap();
    // A device registered before the attack.
    let mut device = ua_of(
        &s,
        Transport::Udp,
        &a,
        Some("7a0e1111-2222-4333-8444-555555555555"),
    )
    .await;
    assert_eq!(device.register(Some(3600)).await.unwrap().code, 200);
    let mut desk = ua_of(
        &s,
        Transport::Tcp,
        &a,
        Some("7a0e2222-2222-4333-8444-555555555555"),
    )
    .await;
    assert_eq!(desk.register(Some(3600)).await.unwrap().code, 200);

    // 200 wrong answers from 40 addresses (5 each, under the per-address lock), all at once.
    let mut attackers = Vec::new();
    for host in 2..=41u8 {
        let mut u = ua_at(&s, host, &a.cloud_number, "not-the-password").await;
        attackers.push(tokio::spawn(async move {
            let mut codes = Vec::new();
            for _ in 0..5 {
                codes.push(u.register(Some(600)).await.unwrap().code);
            }
            codes
        }));
    }
    let mut codes = Vec::new();
    for t in attackers {
        codes.extend(t.await.unwrap());
    }
    let checked = codes.iter().filter(|c| **c == 401).count();
    assert!(
        checked <= 100,
        "{checked} of 200 wrong digests from 40 addresses were checked (at most 100 a day per account): {codes:?}"
    );
    assert!(codes.iter().all(|c| matches!(c, 401 | 403)), "{codes:?}");
    let mut conn = s.running.app.store.conn().await.unwrap();
    let counted: i64 = sqlx::query_scalar("SELECT count FROM rate_limits WHERE key = $1")
        .bind(format!("sip-digest:{}", a.cloud_number))
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    assert_eq!(
        counted, 100,
        "the per-account count, shared through the database"
    );

    // Now the right password from a new address is refused too, with the reason.
    let mut fresh = ua_at(&s, 42, &a.cloud_number, &a.password).await;
    let r = fresh.register(Some(600)).await.unwrap();
    assert_eq!(
        r.code, 403,
        "the right password from a new address after 100 wrong answers: {} {}",
        r.code, r.reason
    );
    assert!(r.reason.contains("try again later"), "{}", r.reason);
    // So is a call made with it (the proxy's 407 digest is the same account's).
    let mut caller = ua_at(&s, 43, &a.cloud_number, &a.password).await;
    let (_, fin) = caller.call("1010", "").await.unwrap();
    assert_eq!(fin.unwrap().code, 403);

    // Meanwhile the device that registered before keeps refreshing, and its binding stays.
    for _ in 0..3 {
        let r = device.register(Some(3600)).await.unwrap();
        assert_eq!(
            (r.code, r.headers("Contact").len()),
            (200, 2),
            "the device's refresh during the attack: {}",
            r.reason
        );
        s.advance(9 * MINUTE);
    }
    // A device registered over TCP refreshes too, and calls over its own connection
    // (authenticated: the dialled extension does not exist).
    assert_eq!(desk.register(Some(3600)).await.unwrap().code, 200);
    let (_, fin) = desk.call("9999", "").await.unwrap();
    let fin = fin.unwrap();
    assert_eq!(fin.code, 404, "{}", fin.reason);
    // So does the UDP device, from the address and port it registered from.
    let (_, fin) = device.call("9999", "").await.unwrap();
    let fin = fin.unwrap();
    assert_eq!(
        fin.code, 404,
        "the refreshing UDP device's call: {}",
        fin.reason
    );
    let d = wait_details(&c, a.id, |d| d.bindings.len() == 2).await;
    assert_eq!(d.status_text, "Registered successfully");
    // Its wrong answers count as well: one is challenged again, the next right one passes.
    device.opts.password = "not-the-password".into();
    assert_eq!(device.register(Some(3600)).await.unwrap().code, 401);
    device.opts.password = a.password.clone();
    assert_eq!(device.register(Some(3600)).await.unwrap().code, 200);
    let r = fresh.register(Some(600)).await.unwrap();
    assert_eq!(r.code, 403, "still the same day: {}", r.reason);

    // The day ends: the new address gets in with the right password.
    s.advance(DAY);
    let r = fresh.register(Some(600)).await.unwrap();
    assert_eq!(r.code, 200, "the next day: {}", r.reason);
}
both!(guessing_from_many_addresses_is_bounded_per_account);

async fn a_forged_source_cannot_lock_out_a_refreshing_device(db: Db) {
    let s = TestServer::start(db).await;
    let (_, c) = s.owner("forged@example.com").await;
    let a = c.add_account(&new("Vic", "1011")).await.unwrap();
    let mut device = ua_at(&s, 1, &a.cloud_number, &a.password).await;
    assert_eq!(device.register(Some(3600)).await.unwrap().code, 200);

    // Someone sends wrong answers from the device's own address (another port, their own
    // Call-ID, a nonce fetched elsewhere) until that address is shut out.
    let mut forger = ua_at(&s, 1, &a.cloud_number, "not-the-password").await;
    let mut codes = Vec::new();
    for _ in 0..7 {
        codes.push(forger.register(Some(600)).await.unwrap().code);
    }
    assert_eq!(codes, [401, 401, 401, 401, 401, 403, 403]);

    // The device keeps refreshing its binding.
    for _ in 0..3 {
        let r = device.register(Some(3600)).await.unwrap();
        assert_eq!(
            (r.code, r.headers("Contact").len()),
            (200, 1),
            "the device's refresh from its address after 5 forged wrong answers: {}",
            r.reason
        );
        s.advance(3 * MINUTE);
    }
    // Its Call-ID from another port is not enough, nor is a new registration from there.
    forger.opts.password = a.password.clone();
    forger.call_id = device.call_id.clone();
    assert_eq!(forger.register(Some(600)).await.unwrap().code, 403);
    let mut other = ua_at(&s, 1, &a.cloud_number, &a.password).await;
    assert_eq!(other.register(Some(600)).await.unwrap().code, 403);
    let d = wait_details(&c, a.id, |d| d.bindings.len() == 1).await;
    assert_eq!(d.bindings[0].state, "Registered(UDP)");

    // The per-address lock ends after 10 minutes.
    s.advance(10 * MINUTE);
    assert_eq!(other.register(Some(600)).await.unwrap().code, 200);
    assert_eq!(device.register(Some(3600)).await.unwrap().code, 200);
}
both!(a_forged_source_cannot_lock_out_a_refreshing_device);
