//! SIP on the wire, tried as an attacker and a conformance tester would: what is answered
//! without a transaction, what a spoofed source can draw, large datagrams, connection
//! limits, RFC 3261 answers to broken and unusual requests. The transport does not depend
//! on the store, so these run on the embedded default only.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::common::*;
use crate::sip::{new, sip_addr, ua_of};
use vcms_endpoint::{sdp, Transport};

/// Everything that comes back to `sock` within `wait` (one datagram per entry).
async fn collect(sock: &UdpSocket, wait: Duration) -> Vec<String> {
    let mut out = Vec::new();
    let until = tokio::time::Instant::now() + wait;
    let mut buf = vec![0u8; 65535];
    while let Ok(Ok(n)) = tokio::time::timeout_at(until, sock.recv(&mut buf)).await {
        out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    out
}

/// Send `msg` once over UDP from `bind` and gather the answers for `wait`.
async fn udp_once(to: SocketAddr, bind: &str, msg: &str, wait: Duration) -> Vec<String> {
    let sock = UdpSocket::bind(bind).await.unwrap();
    sock.connect(to).await.unwrap();
    sock.send(msg.as_bytes()).await.unwrap();
    collect(&sock, wait).await
}

/// Send `msg` on a new TCP connection and read what comes back within `wait`.
async fn tcp_once(to: SocketAddr, msg: &str, wait: Duration) -> String {
    let mut t = TcpStream::connect(to).await.unwrap();
    t.write_all(msg.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let until = tokio::time::Instant::now() + wait;
    let mut buf = vec![0u8; 65535];
    while let Ok(Ok(n)) = tokio::time::timeout_at(until, t.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        if out.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn status(r: &str) -> u16 {
    r.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn header<'a>(r: &'a str, name: &str) -> Option<&'a str> {
    r.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// A request from `from_user` (a cloud number) to `target`, over `transport`.
fn request(method: &str, ruri: &str, from_user: &str, extra: &str, body: &str) -> String {
    let n: u32 = rand::random();
    format!(
        "{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{n}\r\nMax-Forwards: 70\r\nFrom: <sip:{from_user}@vcms.local>;tag=f{n}\r\nTo: <{ruri}>\r\nCall-ID: {n}@test\r\nCSeq: 1 {method}\r\nContact: <sip:{from_user}@127.0.0.1:9>\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// An INVITE without credentials is challenged once, statelessly: no retransmitted 407s
/// (a spoofed source would make us a reflector), and however many arrive from an address
/// that never completed a handshake, the replies to it stay within three times what it
/// sent and 64 KiB a minute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_requests_draw_one_bounded_reply() {
    let s = TestServer::start(Db::Sqlite).await;
    let (_, c) = s.owner("reflect@example.com").await;
    let anna = c.add_account(&new("Anna", "1001")).await.unwrap();
    let udp = sip_addr(&s, Transport::Udp);
    let invite = request(
        "INVITE",
        "sip:1002@vcms.local",
        &anna.cloud_number,
        "",
        &sdp("127.0.0.1:9".parse().unwrap(), 4000),
    );
    let got = udp_once(udp, "127.0.0.66:0", &invite, Duration::from_secs(4)).await;
    assert_eq!(got.len(), 1, "one challenge, no retransmissions: {got:#?}");
    assert_eq!(status(&got[0]), 407);

    // Credentials that cannot be right (another realm, a nonce we never gave) and an
    // INVITE out of hops are answered once too: no transaction retransmits them.
    let realm = got[0]
        .split("realm=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let with = |realm: &str, nonce: &str| {
        let auth = format!(
            "Proxy-Authorization: Digest username=\"{0}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"sip:1002@vcms.local\", response=\"0123456789abcdef0123456789abcdef\"\r\n",
            anna.cloud_number
        );
        request(
            "INVITE",
            "sip:1002@vcms.local",
            &anna.cloud_number,
            &auth,
            &sdp("127.0.0.1:9".parse().unwrap(), 4000),
        )
    };
    let hopless = invite.replace("Max-Forwards: 70", "Max-Forwards: 0");
    let cases = [
        (with("elsewhere.test", "00ff"), "127.0.0.68:0", 407),
        (with(&realm, "0000.1111.2222"), "127.0.0.69:0", 407),
        (hopless, "127.0.0.70:0", 483),
    ];
    let answers = futures_util::future::join_all(
        cases
            .iter()
            .map(|(m, from, _)| udp_once(udp, from, m, Duration::from_secs(4))),
    )
    .await;
    for ((_, from, code), got) in cases.iter().zip(answers) {
        assert_eq!(
            got.len(),
            1,
            "{from}: one answer, no retransmissions: {got:#?}"
        );
        assert_eq!(status(&got[0]), *code, "{from}");
    }

    // A flood from one unverified address: the replies are bounded.
    let sock = UdpSocket::bind("127.0.0.67:0").await.unwrap();
    sock.connect(udp).await.unwrap();
    let mut sent = 0usize;
    for i in 0..300 {
        let m = invite.replace("CSeq: 1 ", &format!("CSeq: {} ", i + 2));
        sent += m.len();
        sock.send(m.as_bytes()).await.unwrap();
        if i % 50 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let replies = collect(&sock, Duration::from_secs(4)).await;
    let bytes: usize = replies.iter().map(String::len).sum();
    assert!(!replies.is_empty());
    assert!(
        bytes <= 64 * 1024 && bytes <= 3 * sent,
        "{bytes} reply bytes to {sent} sent from one unverified address"
    );

    // A device that signs in is not held back.
    let mut a = ua_of(&s, Transport::Udp, &anna, None).await;
    assert_eq!(a.register(Some(600)).await.unwrap().code, 200);
}

/// A datagram larger than 8 KiB is read whole and forwarded whole; a body shorter than its
/// Content-Length is refused, never forwarded. (A UDP callee is reached over UDP even for a
/// large INVITE: it registered over UDP, so there is no TCP flow to it — RFC 3261 §18.1.1's
/// switch to TCP is for clients that can; the datagram is fragmented by IP instead.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_datagrams_are_read_whole_and_short_bodies_refused() {
    let s = TestServer::start(Db::Sqlite).await;
    let (_, c) = s.owner("large@example.com").await;
    let anna = c.add_account(&new("Anna", "1001")).await.unwrap();
    let ben = c.add_account(&new("Ben", "1002")).await.unwrap();
    let mut a = ua_of(&s, Transport::Udp, &anna, None).await;
    let mut b = ua_of(&s, Transport::Udp, &ben, None).await;
    assert_eq!(a.register(Some(600)).await.unwrap().code, 200);
    assert_eq!(b.register(Some(600)).await.unwrap().code, 200);
    let mut body = sdp(a.local, 40000);
    while body.len() < 9012 {
        body.push_str("a=x-padding:0123456789abcdef0123456789abcdef0123456789abcdef\r\n");
    }
    let (_out, fin) = a.call("1002", &body).await.unwrap();
    assert!(fin.is_none(), "{fin:?}");
    let inv = loop {
        let r = tokio::time::timeout(Duration::from_secs(5), b.next_request())
            .await
            .unwrap()
            .unwrap();
        if r.method.to_string() == "INVITE" {
            break r;
        }
    };
    assert_eq!(inv.body.len(), body.len());
    assert_eq!(
        vcms_endpoint::request_header(&inv, "Content-Length"),
        body.len().to_string()
    );

    // Content-Length says more than arrived: 400, and nothing reaches Ben.
    let cut = request(
        "INVITE",
        "sip:1002@vcms.local",
        &anna.cloud_number,
        "",
        "v=0\r\n",
    )
    .replace("Content-Length: 5", "Content-Length: 500");
    let got = udp_once(
        sip_addr(&s, Transport::Udp),
        "127.0.0.1:0",
        &cut,
        Duration::from_secs(1),
    )
    .await;
    assert_eq!(got.iter().map(|r| status(r)).collect::<Vec<_>>(), [400]);
}

/// The answers RFC 3261 gives: 505 for another SIP version, 501 for an unknown method,
/// 405 whose Allow names what the reason says, 420 for an extension we do not support,
/// 404 for another domain's address, 403 for a request routed through someone else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc3261_answers_to_unusual_requests() {
    let s = TestServer::start(Db::Sqlite).await;
    let (_, c) = s.owner("rfc@example.com").await;
    let anna = c.add_account(&new("Anna", "1001")).await.unwrap();
    let n = anna.cloud_number.as_str();
    let udp = sip_addr(&s, Transport::Udp);
    let tcp = sip_addr(&s, Transport::Tcp);
    let ask = |m: String| async move {
        let u = udp_once(udp, "127.0.0.1:0", &m, Duration::from_millis(800)).await;
        let t = tcp_once(tcp, &m, Duration::from_millis(800)).await;
        (u.first().cloned().unwrap_or_default(), t)
    };

    let v7 = request("OPTIONS", "sip:vcms.local", n, "", "")
        .replace(" SIP/2.0\r\nVia", " SIP/7.0\r\nVia");
    let (u, t) = ask(v7).await;
    assert_eq!((status(&u), status(&t)), (505, 505), "{u}\n{t}");
    assert!(u.starts_with("SIP/2.0 505"), "{u}");

    let (u, t) = ask(request("FOOBAR", "sip:vcms.local", n, "", "")).await;
    assert_eq!((status(&u), status(&t)), (501, 501), "{u}\n{t}");

    let (u, _) = ask(request("MESSAGE", "sip:1002@vcms.local", n, "", "hi")).await;
    assert_eq!(status(&u), 405, "{u}");
    let reason = u.lines().next().unwrap().to_string();
    let allow: Vec<&str> = header(&u, "Allow")
        .unwrap()
        .split(',')
        .map(str::trim)
        .collect();
    for m in &allow {
        assert!(
            reason.contains(m),
            "Allow names {m}, the reason does not: {reason}"
        );
    }
    for m in ["INVITE", "REGISTER", "OPTIONS"] {
        assert!(allow.contains(&m), "{allow:?}");
    }

    let (u, t) = ask(request(
        "OPTIONS",
        "sip:vcms.local",
        n,
        "Require: x-foo\r\n",
        "",
    ))
    .await;
    assert_eq!((status(&u), status(&t)), (420, 420), "{u}\n{t}");
    assert_eq!(header(&u, "Unsupported"), Some("x-foo"));

    let (u, t) = ask(request("INVITE", "sip:1002@vcms.local", n, "", "")
        .replace("sip:1002@", "xyz:1002@")
        .replace("<xyz:", "<sip:"))
    .await;
    assert_eq!((status(&u), status(&t)), (416, 416), "{u}\n{t}");

    // Another domain's address is not registered here, with or without credentials.
    let foreign = request("REGISTER", "sip:127.0.0.1", n, "", "")
        .replace("To: <sip:127.0.0.1>", &format!("To: <sip:{n}@127.0.0.1>"));
    let (u, t) = ask(foreign).await;
    assert_eq!((status(&u), status(&t)), (404, 404), "{u}\n{t}");

    // A new request routed through another proxy is not relayed.
    let mut a = ua_of(&s, Transport::Udp, &anna, None).await;
    assert_eq!(a.register(Some(600)).await.unwrap().code, 200);
    let routed = request(
        "INVITE",
        "sip:1002@vcms.local",
        n,
        "Route: <sip:evil.example.com;lr>\r\n",
        "",
    );
    let (u, t) = ask(routed).await;
    assert_eq!((status(&u), status(&t)), (403, 403), "{u}\n{t}");
}

/// TCP connections are capped per address; TLS connections that never finish their
/// handshake are closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_capped_and_stalled_handshakes_closed() {
    let s = TestServer::start(Db::Sqlite).await;
    let (_, c) = s.owner("conns@example.com").await;
    let anna = c.add_account(&new("Anna", "1001")).await.unwrap();
    let tcp = sip_addr(&s, Transport::Tcp);
    let tls = sip_addr(&s, Transport::Tls);
    let mut held = Vec::new();
    let mut closed = 0;
    for _ in 0..40 {
        let mut t = TcpStream::connect(tcp).await.unwrap();
        let mut b = [0u8; 1];
        match tokio::time::timeout(Duration::from_millis(150), t.read(&mut b)).await {
            Ok(Ok(0)) | Ok(Err(_)) => closed += 1,
            _ => held.push(t),
        }
    }
    assert_eq!(held.len(), 32, "{closed} closed");
    drop(held);

    // Stalled TLS handshakes: closed after the handshake timeout.
    let mut stalled = Vec::new();
    for _ in 0..4 {
        stalled.push(TcpStream::connect(tls).await.unwrap());
    }
    let started = tokio::time::Instant::now();
    for mut t in stalled {
        let mut b = [0u8; 1];
        let r = tokio::time::timeout(Duration::from_secs(15), t.read(&mut b)).await;
        assert!(matches!(r, Ok(Ok(0)) | Ok(Err(_))), "still open: {r:?}");
    }
    assert!(started.elapsed() < Duration::from_secs(14));
    // Honest clients still get in.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut t = ua_of(&s, Transport::Tls, &anna, None).await;
    assert_eq!(t.register(Some(600)).await.unwrap().code, 200);
    let mut u = ua_of(&s, Transport::Tcp, &anna, None).await;
    assert_eq!(u.register(Some(600)).await.unwrap().code, 200);
}

/// The 49 RFC 4475 torture messages, from `tests/sip/torture/`, over UDP and TCP: each gets
/// the answer `index.txt` gives it (a status, `any` well-formed processing — never 400 or a
/// 5xx other than 501 — or `none`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc4475_torture_messages_get_their_answers() {
    let s = TestServer::start(Db::Sqlite).await;
    let udp = sip_addr(&s, Transport::Udp);
    let tcp = sip_addr(&s, Transport::Tcp);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/sip/torture");
    let index = std::fs::read_to_string(dir.join("index.txt")).unwrap();
    let mut set = tokio::task::JoinSet::new();
    let mut count = 0;
    // Fewer connections at once than the per-address cap (32).
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(16));
    for line in index
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let (name, udp_want, tcp_want) = (
            cols[0].to_string(),
            cols[3].to_string(),
            cols[4].to_string(),
        );
        let msg = std::fs::read(dir.join(format!("{name}.sip"))).unwrap();
        count += 1;
        let m = msg.clone();
        let n = name.clone();
        set.spawn(async move {
            let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            sock.connect(udp).await.unwrap();
            sock.send(&m).await.unwrap();
            let got = collect(&sock, Duration::from_millis(2500)).await;
            (n, "udp", udp_want, got.first().cloned())
        });
        let slots = slots.clone();
        set.spawn(async move {
            let _slot = slots.acquire_owned().await.unwrap();
            let mut t = TcpStream::connect(tcp).await.unwrap();
            t.write_all(&msg).await.unwrap();
            let mut out = Vec::new();
            let mut buf = vec![0u8; 65535];
            let until = tokio::time::Instant::now() + Duration::from_millis(2500);
            while let Ok(Ok(k)) = tokio::time::timeout_at(until, t.read(&mut buf)).await {
                if k == 0 {
                    break;
                }
                out.extend_from_slice(&buf[..k]);
                if out.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            let r = (!out.is_empty()).then(|| String::from_utf8_lossy(&out).into_owned());
            (name, "tcp", tcp_want, r)
        });
    }
    assert_eq!(count, 49, "the corpus has all 49 messages");
    let mut wrong = Vec::new();
    while let Some(r) = set.join_next().await {
        let (name, t, want, got) = r.unwrap();
        let code = got.as_deref().map(status);
        let ok = match (want.as_str(), code) {
            ("none", None) => true,
            ("any", Some(c)) => c != 400 && (c < 500 || c == 501),
            (w, Some(c)) => w.parse::<u16>().ok() == Some(c),
            _ => false,
        };
        if !ok {
            wrong.push(format!(
                "{name} over {t}: want {want}, got {}",
                got.as_deref()
                    .and_then(|g| g.lines().next())
                    .unwrap_or("nothing")
            ));
        }
    }
    wrong.sort();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A REGISTER for account `a` sent from `local` over `t` ("UDP" or "TCP"), answering the
/// challenge in `challenge` (a 401's text) with nonce-count `nc`; `None` for no credentials.
fn register_msg(
    a: &vcms_api::AccountDetails,
    t: &str,
    local: SocketAddr,
    call_id: &str,
    cseq: u32,
    challenge: Option<(&str, u32)>,
) -> String {
    let n = &a.cloud_number;
    let auth = challenge
        .map(|(c, nc)| {
            let v = header(c, "WWW-Authenticate").unwrap();
            let p = vcms_digest::parse_challenge(v).unwrap();
            let mut cred = vcms_digest::Credentials {
                username: n.clone(),
                realm: p["realm"].clone(),
                nonce: p["nonce"].clone(),
                uri: "sip:vcms.local".into(),
                qop: Some("auth".into()),
                nc: Some(format!("{nc:08x}")),
                cnonce: Some("c0ffee".into()),
                ..Default::default()
            };
            let md5 = vcms_digest::Algorithm::Md5;
            let ha1 = vcms_digest::ha1(md5, n, &cred.realm, &a.password);
            cred.response = vcms_digest::expected_response(md5, &ha1, "REGISTER", &cred);
            format!(
                "Authorization: Digest username=\"{n}\", realm=\"{}\", nonce=\"{}\", uri=\"sip:vcms.local\", response=\"{}\", algorithm=MD5, qop=auth, nc={nc:08x}, cnonce=\"c0ffee\"\r\n",
                cred.realm, cred.nonce, cred.response
            )
        })
        .unwrap_or_default();
    format!(
        "REGISTER sip:vcms.local SIP/2.0\r\nVia: SIP/2.0/{t} {local};branch=z9hG4bK{call_id}{cseq};rport\r\nMax-Forwards: 70\r\nFrom: <sip:{n}@vcms.local>;tag=f{call_id}\r\nTo: <sip:{n}@vcms.local>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{n}@{local};transport={}>\r\nExpires: 300\r\n{auth}Content-Length: 0\r\n\r\n",
        t.to_ascii_lowercase()
    )
}

/// Send `m` on `t` and read one answer (up to its blank line) within 5 s.
async fn exchange(t: &mut TcpStream, m: String) -> String {
    t.write_all(m.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65535];
    while !out.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), t.read(&mut buf))
            .await
            .expect("an answer within 5 s")
            .unwrap();
        assert!(n > 0, "connection closed");
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The Contact lines of a response, in order.
fn contacts(r: &str) -> Vec<&str> {
    r.lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("contact:"))
        .collect()
}

/// REGISTER is answered without a transaction, as a stateless registrar does: nothing
/// outlives the reply, so memory follows bindings and not the registration rate. A
/// retransmitted REGISTER (the same bytes: its 200 was lost) and a retransmitted
/// challenged REGISTER get the same answer as the first and make one binding, over UDP
/// and TCP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_leaves_no_transaction_and_retransmissions_agree() {
    let s = TestServer::start(Db::Sqlite).await;
    let (_, c) = s.owner("stateless@example.com").await;
    let anna = c.add_account(&new("Anna", "1001")).await.unwrap();
    let sip = s.running.sip.as_ref().unwrap();

    // UDP: challenge, answer, then the answer again (its 200 was lost).
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let local = sock.local_addr().unwrap();
    sock.connect(sip_addr(&s, Transport::Udp)).await.unwrap();
    let ask = |m: String| {
        let sock = &sock;
        async move {
            sock.send(m.as_bytes()).await.unwrap();
            collect(sock, Duration::from_millis(700)).await
        }
    };
    let first = register_msg(&anna, "UDP", local, "udp1", 1, None);
    let challenge = ask(first.clone()).await;
    assert_eq!(challenge.len(), 1, "{challenge:#?}");
    assert_eq!(status(&challenge[0]), 401);
    let authorized = register_msg(&anna, "UDP", local, "udp1", 2, Some((&challenge[0], 1)));
    let ok = ask(authorized.clone()).await;
    assert_eq!(ok.len(), 1, "one answer, no retransmissions: {ok:#?}");
    assert_eq!(status(&ok[0]), 200, "{}", ok[0]);
    assert_eq!(contacts(&ok[0]).len(), 1, "{}", ok[0]);
    let again = ask(authorized.clone()).await;
    assert_eq!(again.len(), 1, "{again:#?}");
    assert_eq!(status(&again[0]), 200, "the same answer: {}", again[0]);
    assert_eq!(contacts(&again[0]), contacts(&ok[0]));
    // The first REGISTER retransmitted: challenged again, like the first time.
    let rechallenge = ask(first).await;
    assert_eq!(rechallenge.len(), 1, "{rechallenge:#?}");
    assert_eq!(status(&rechallenge[0]), 401);

    // TCP: the same on one connection.
    let mut t = TcpStream::connect(sip_addr(&s, Transport::Tcp))
        .await
        .unwrap();
    let tlocal = t.local_addr().unwrap();
    let challenge = exchange(&mut t, register_msg(&anna, "TCP", tlocal, "tcp1", 1, None)).await;
    assert_eq!(status(&challenge), 401, "{challenge}");
    let authorized = register_msg(&anna, "TCP", tlocal, "tcp1", 2, Some((&challenge, 1)));
    let ok = exchange(&mut t, authorized.clone()).await;
    assert_eq!(status(&ok), 200, "{ok}");
    let again = exchange(&mut t, authorized).await;
    assert_eq!(status(&again), 200, "the same answer: {again}");
    assert_eq!(contacts(&again), contacts(&ok));

    // Two bindings (one per transport), and no transaction kept for any of it.
    let d = crate::sip::wait_details(&c, anna.id, |d| d.bindings.len() == 2).await;
    assert_eq!(d.bindings.len(), 2, "{d:?}");
    assert_eq!(sip.transactions(), 0, "transactions kept after REGISTERs");
}
