//! Calls through the proxy over real sockets: by extension inside an enterprise, by cloud
//! number across enterprises, forking to every endpoint of the callee, a callee behind NAT
//! over TCP, CANCEL before the answer, BYE from either side, the refusals (407, 404, 480,
//! 403), and "in a call" in the account's details.

use std::net::SocketAddr;
use std::time::Duration;

use crate::both;
use crate::common::*;
use crate::sip::{new, ua, ua_of, wait_details};
use vcms_endpoint::Algorithm;
use vcms_endpoint::{request_headers, sdp, Dialog, Transport, Ua};
use vcms_server::clock::DAY;

/// The next request of `method` the UA receives within 5 s (retransmissions of others are
/// skipped).
pub(crate) async fn expect(ua: &mut Ua, method: &str) -> rsipstack::sip::Request {
    let until = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let r = tokio::time::timeout_at(until, ua.next_request())
            .await
            .unwrap_or_else(|_| panic!("no {method} arrived at {}", ua.opts.user))
            .unwrap();
        if r.method.to_string() == method {
            return r;
        }
    }
}

/// Nothing of `method` arrives within `ms`.
pub(crate) async fn expect_none(ua: &mut Ua, method: &str, ms: u64) {
    let until = tokio::time::Instant::now() + Duration::from_millis(ms);
    while let Ok(r) = tokio::time::timeout_at(until, ua.next_request()).await {
        let r = r.unwrap();
        assert_ne!(r.method.to_string(), method, "unexpected {method}: {r}");
    }
}

pub(crate) fn offer(ua: &Ua, port: u16) -> String {
    sdp(ua.local, port)
}

/// Register, and check it took.
pub(crate) async fn online(ua: &mut Ua) {
    let r = ua.register(Some(600)).await.unwrap();
    assert_eq!(r.code, 200, "{}", r.reason);
}

/// The callee side: ring, then answer; gives the callee's dialog (the ACK follows once the
/// caller has seen the answer).
pub(crate) async fn ring_and_answer(
    callee: &mut Ua,
    invite: &rsipstack::sip::Request,
    body: &str,
) -> Dialog {
    let tag = format!("t{}", callee.local.port());
    callee
        .reply(invite, 180, "Ringing", &tag, "")
        .await
        .unwrap();
    callee.reply(invite, 200, "OK", &tag, body).await.unwrap();
    callee.dialog_of_invite(invite, &tag)
}

async fn extension_call_inside_an_enterprise_and_bye_from_either_side(db: Db) {
    let s = TestServer::start(db).await;
    let (_, c) = s.owner("calls@example.com").await;
    let anna = c.add_account(&new("Anna", "1001")).await.unwrap();
    let ben = c.add_account(&new("Ben", "1002")).await.unwrap();
    let mut a = ua_of(
        &s,
        Transport::Udp,
        &anna,
        Some("aaaaaaaa-0000-4000-8000-000000000001"),
    )
    .await;
    let mut b = ua_of(
        &s,
        Transport::Udp,
        &ben,
        Some("bbbbbbbb-0000-4000-8000-000000000001"),
    )
    .await;
    online(&mut a).await;
    online(&mut b).await;

    // Anna dials Ben's extension: the proxy challenges, then Ben's endpoint rings.
    let a_sdp = offer(&a, 40000);
    let (mut out, fin) = a.call("1002", &a_sdp).await.unwrap();
    assert!(fin.is_none(), "answered at once: {fin:?}");
    assert_eq!(out.provisional[0].code, 100);
    let inv = expect(&mut b, "INVITE").await;
    // Sent to Ben's registered contact, with the offer untouched and the proxy on the route.
    assert!(
        inv.uri.to_string().contains(&b.local.to_string()),
        "{}",
        inv.uri
    );
    assert_eq!(String::from_utf8_lossy(&inv.body), a_sdp);
    assert!(!request_headers(&inv, "Record-Route").is_empty());
    assert!(request_headers(&inv, "Proxy-Authorization").is_empty());
    let b_sdp = offer(&b, 50000);
    let mut bd = ring_and_answer(&mut b, &inv, &b_sdp).await;
    let (r, ad) = a.answer_of(&mut out, Duration::from_secs(5)).await.unwrap();
    assert_eq!(r.code, 200);
    expect(&mut b, "ACK").await;
    assert!(out.provisional.iter().any(|p| p.code == 180));
    assert_eq!(String::from_utf8_lossy(&r.msg.body), b_sdp);
    let mut ad = ad.unwrap();

    // Both are "in a call" in the console's details.
    let d = wait_details(&c, anna.id, |d| d.in_call).await;
    assert_eq!(d.status_text, "In a call");
    wait_details(&c, ben.id, |d| d.in_call).await;

    // Inside the call: a re-INVITE and an INFO from Anna reach Ben.
    let (ra, rb) = tokio::join!(a.request(&mut ad, "INFO", ""), async {
        let info = expect(&mut b, "INFO").await;
        b.reply(&info, 200, "OK", "", "").await.unwrap();
    });
    assert_eq!(ra.unwrap().code, 200);
    let () = rb;
    let (ra, _) = tokio::join!(a.request(&mut ad, "INVITE", &a_sdp), async {
        let re = expect(&mut b, "INVITE").await;
        b.reply(&re, 200, "OK", "", &b_sdp).await.unwrap();
        expect(&mut b, "ACK").await;
    });
    assert_eq!(ra.unwrap().code, 200);

    // The callee hangs up.
    let (rb, _) = tokio::join!(b.request(&mut bd, "BYE", ""), async {
        let bye = expect(&mut a, "BYE").await;
        a.reply(&bye, 200, "OK", "", "").await.unwrap();
    });
    assert_eq!(rb.unwrap().code, 200);
    let d = wait_details(&c, anna.id, |d| !d.in_call).await;
    assert_eq!(d.status_text, "Registered successfully");
    wait_details(&c, ben.id, |d| !d.in_call).await;

    // A second call, and this time the caller hangs up.
    let (mut out, _) = a.call("1002", &a_sdp).await.unwrap();
    let inv = expect(&mut b, "INVITE").await;
    ring_and_answer(&mut b, &inv, &b_sdp).await;
    let (r, ad) = a.answer_of(&mut out, Duration::from_secs(5)).await.unwrap();
    assert_eq!(r.code, 200);
    expect(&mut b, "ACK").await;
    let mut ad = ad.unwrap();
    wait_details(&c, ben.id, |d| d.in_call).await;
    let (ra, _) = tokio::join!(a.request(&mut ad, "BYE", ""), async {
        let bye = expect(&mut b, "BYE").await;
        b.reply(&bye, 200, "OK", "", "").await.unwrap();
    });
    assert_eq!(ra.unwrap().code, 200);
    wait_details(&c, ben.id, |d| !d.in_call).await;
}
both!(extension_call_inside_an_enterprise_and_bye_from_either_side);

async fn cloud_number_call_across_enterprises(db: Db) {
    let s = TestServer::start(db).await;
    let (_, ca) = s.owner("alpha@example.com").await;
    let (_, cb) = s.owner("beta@example.com").await;
    let anna = ca.add_account(&new("Anna", "1001")).await.unwrap();
    let carl = cb.add_account(&new("Carl", "2001")).await.unwrap();
    let mut a = ua_of(&s, Transport::Tcp, &anna, None).await;
    let mut k = ua_of(&s, Transport::Udp, &carl, None).await;
    online(&mut a).await;
    online(&mut k).await;

    // Carl's extension means nothing in Anna's enterprise.
    let (_, fin) = a.call("2001", "").await.unwrap();
    let fin = fin.expect("a final answer");
    assert_eq!(fin.code, 404);
    assert!(fin.reason.contains("extension 2001"), "{}", fin.reason);

    // His cloud number reaches him, over another transport.
    let (mut out, _) = a.call(&carl.cloud_number, &offer(&a, 40002)).await.unwrap();
    let inv = expect(&mut k, "INVITE").await;
    let k_sdp = offer(&k, 50002);
    let mut kd = ring_and_answer(&mut k, &inv, &k_sdp).await;
    let (r, _) = a.answer_of(&mut out, Duration::from_secs(5)).await.unwrap();
    assert_eq!(r.code, 200);
    expect(&mut k, "ACK").await;
    wait_details(&cb, carl.id, |d| d.in_call).await;
    let (rk, _) = tokio::join!(k.request(&mut kd, "BYE", ""), async {
        let bye = expect(&mut a, "BYE").await;
        a.reply(&bye, 200, "OK", "", "").await.unwrap();
    });
    assert_eq!(rk.unwrap().code, 200);
    wait_details(&cb, carl.id, |d| !d.in_call).await;
}
both!(cloud_number_call_across_enterprises);

async fn forking_rings_every_endpoint_and_the_first_answer_wins(db: Db) {
    let s = TestServer::start(db).await;
    let (_, c) = s.owner("fork@example.com").await;
    let anna = c.add_account(&new("Anna", "1001")).await.unwrap();
    let ben = c.add_account(&new("Ben", "1002")).await.unwrap();
    let mut a = ua_of(&s, Transport::Udp, &anna, None).await;
    let mut desk = ua_of(
        &s,
        Transport::Udp,
        &ben,
        Some("bbbbbbbb-0000-4000-8000-00000000000d"),
    )
    .await;
    let mut phone = ua_of(
        &s,
        Transport::Tcp,
        &ben,
        Some("bbbbbbbb-0000-4000-8000-00000000000f"),
    )
    .await;
    online(&mut a).await;
    online(&mut desk).await;
    online(&mut phone).await;

    let (mut out, _) = a.call("1002", &offer(&a, 40004)).await.unwrap();
    let on_desk = expect(&mut desk, "INVITE").await;
    let on_phone = expect(&mut phone, "INVITE").await;
    desk.reply(&on_desk, 180, "Ringing", "desk", "")
        .await
        .unwrap();
    phone
        .reply(&on_phone, 180, "Ringing", "phone", "")
        .await
        .unwrap();
    // The phone answers; the desk is cancelled.
    let p_sdp = offer(&phone, 50004);
    phone
        .reply(&on_phone, 200, "OK", "phone", &p_sdp)
        .await
        .unwrap();
    let cancel = expect(&mut desk, "CANCEL").await;
    desk.reply(&cancel, 200, "OK", "desk", "").await.unwrap();
    desk.reply(&on_desk, 487, "Request Terminated", "desk", "")
        .await
        .unwrap();
    expect(&mut desk, "ACK").await;
    let (r, d) = a.answer_of(&mut out, Duration::from_secs(5)).await.unwrap();
    assert_eq!(r.code, 200);
    expect(&mut phone, "ACK").await;
    assert!(r.header("To").unwrap().contains("tag=phone"));
    // The call continues with the phone only.
    let mut d = d.unwrap();
    let (ra, _) = tokio::join!(a.request(&mut d, "BYE", ""), async {
        let bye = expect(&mut phone, "BYE").await;
        phone.reply(&bye, 200, "OK", "", "").await.unwrap();
    });
    assert_eq!(ra.unwrap().code, 200);
    expect_none(&mut desk, "BYE", 300).await;
}
both!(forking_rings_every_endpoint_and_the_first_answer_wins);

async fn callee_behind_nat_over_tcp(db: Db) {
    let s = TestServer::start(db).await;
    let (_, c) = s.owner("nat@example.com").await;
    let anna = c.add_account(&new("Anna", "1001")).await.unwrap();
    let ben = c.add_account(&new("Ben", "1002")).await.unwrap();
    let mut a = ua_of(&s, Transport::Udp, &anna, None).await;
    let mut b = ua_of(&s, Transport::Tcp, &ben, None).await;
    // Ben's contact is a private address nobody can reach: only his TCP flow leads to him.
    let private: SocketAddr = "10.11.12.13:5070".parse().unwrap();
    b.opts.contact_addr = Some(private);
    online(&mut a).await;
    online(&mut b).await;
    let d = wait_details(&c, ben.id, |d| !d.bindings.is_empty()).await;
    assert_eq!(d.bindings[0].state, "Registered(TCP-NAT)");

    let (mut out, _) = a.call("1002", &offer(&a, 40006)).await.unwrap();
    let inv = expect(&mut b, "INVITE").await;
    assert!(
        inv.uri.to_string().contains("10.11.12.13:5070"),
        "{}",
        inv.uri
    );
    let b_sdp = offer(&b, 50006);
    let mut bd = ring_and_answer(&mut b, &inv, &b_sdp).await;
    let (r, ad) = a.answer_of(&mut out, Duration::from_secs(5)).await.unwrap();
    assert_eq!(r.code, 200);
    expect(&mut b, "ACK").await;
    let mut ad = ad.unwrap();
    // Requests inside the call reach him over the same flow, both ways.
    let (ra, _) = tokio::join!(a.request(&mut ad, "OPTIONS", ""), async {
        let o = expect(&mut b, "OPTIONS").await;
        b.reply(&o, 200, "OK", "", "").await.unwrap();
    });
    assert_eq!(ra.unwrap().code, 200);
    let (rb, _) = tokio::join!(b.request(&mut bd, "BYE", ""), async {
        let bye = expect(&mut a, "BYE").await;
        a.reply(&bye, 200, "OK", "", "").await.unwrap();
    });
    assert_eq!(rb.unwrap().code, 200);
}
both!(callee_behind_nat_over_tcp);

async fn cancel_before_answer_and_no_answer(db: Db) {
    let s = TestServer::start_with(db, Smtp::start(), |c| c.sip.ring_secs = 2).await;
    let (_, c) = s.owner("cancel@example.com").await;
    let anna = c.add_account(&new("Anna", "1001")).await.unwrap();
    let ben = c.add_account(&new("Ben", "1002")).await.unwrap();
    let mut a = ua_of(&s, Transport::Tcp, &anna, None).await;
    let mut b = ua_of(&s, Transport::Udp, &ben, None).await;
    online(&mut a).await;
    online(&mut b).await;

    let (mut out, _) = a.call("1002", &offer(&a, 40008)).await.unwrap();
    let inv = expect(&mut b, "INVITE").await;
    b.reply(&inv, 180, "Ringing", "bt", "").await.unwrap();
    let mut tries = 0;
    while !out.provisional.iter().any(|p| p.code == 180) {
        // Wait for the ringing to reach Anna before she gives up.
        let r = tokio::time::timeout(Duration::from_secs(5), a.recv())
            .await
            .unwrap()
            .unwrap();
        out.provisional.push(r);
        tries += 1;
        assert!(tries < 10);
    }
    a.cancel(&out).await.unwrap();
    let cancel = expect(&mut b, "CANCEL").await;
    b.reply(&cancel, 200, "OK", "bt", "").await.unwrap();
    b.reply(&inv, 487, "Request Terminated", "bt", "")
        .await
        .unwrap();
    let (r, d) = a.answer_of(&mut out, Duration::from_secs(5)).await.unwrap();
    assert_eq!(r.code, 487);
    assert!(d.is_none());
    // A cancelled call never counts as one (call records are written within 100 ms).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let d = c.account(anna.id).await.unwrap();
    assert!(!d.in_call);

    // Nobody picks up: after ring_secs the caller hears 480 and the endpoint a CANCEL.
    let (mut out, _) = a.call("1002", "").await.unwrap();
    let inv = expect(&mut b, "INVITE").await;
    b.reply(&inv, 180, "Ringing", "bt2", "").await.unwrap();
    let (r, _) = a.answer_of(&mut out, Duration::from_secs(6)).await.unwrap();
    assert_eq!(r.code, 480);
    assert!(r.reason.contains("no answer"), "{}", r.reason);
    expect(&mut b, "CANCEL").await;
}
both!(cancel_before_answer_and_no_answer);

async fn refusals_name_their_reason(db: Db) {
    let s = TestServer::start_with(db, Smtp::start(), |c| {
        c.sip.challenge_algorithms = vec!["SHA-256".into(), "MD5".into()]
    })
    .await;
    let (_, c) = s.owner("refuse@example.com").await;
    let anna = c.add_account(&new("Anna", "1001")).await.unwrap();
    let ben = c.add_account(&new("Ben", "1002")).await.unwrap();
    let mut a = ua_of(&s, Transport::Udp, &anna, None).await;
    online(&mut a).await;

    // Unknown extension and cloud number: 404.
    let (_, fin) = a.call("1999", "").await.unwrap();
    let fin = fin.unwrap();
    assert_eq!(fin.code, 404);
    assert!(fin.reason.contains("extension 1999"), "{}", fin.reason);
    let (_, fin) = a.call("999999999", "").await.unwrap();
    assert_eq!(fin.unwrap().code, 404);
    let (_, fin) = a.call("12", "").await.unwrap();
    assert_eq!(fin.unwrap().code, 404);
    // Ben has no endpoint online: 480.
    let (_, fin) = a.call("1002", "").await.unwrap();
    let fin = fin.unwrap();
    assert_eq!(fin.code, 480);
    assert!(fin.reason.contains("Ben"), "{}", fin.reason);
    let _ = ben;

    // A wrong password gets the challenge again (never a call), then 403 after five tries.
    let mut wrong = ua(
        &s,
        Transport::Udp,
        &anna.cloud_number,
        "not-the-password",
        None,
    )
    .await;
    let mut last = 0;
    for _ in 0..6 {
        let (_, fin) = wrong.call("1002", "").await.unwrap();
        last = fin.unwrap().code;
        if last == 403 {
            break;
        }
        assert_eq!(last, 407);
    }
    assert_eq!(last, 403);
    // Pretending to be someone else in From: the digest must be that account's.
    let mut liar = ua(&s, Transport::Udp, "123456789", &anna.password, None).await;
    let (_, fin) = liar.call("1002", "").await.unwrap();
    assert!(matches!(fin.unwrap().code, 403 | 407));

    // The trial is over and no license is in force: 403 with the reason.
    s.advance(31 * DAY);
    let mut a = ua_of(&s, Transport::Udp, &anna, None).await;
    a.opts.algorithm = Algorithm::Sha256;
    let (_, fin) = a.call("1002", "").await.unwrap();
    let fin = fin.unwrap();
    assert_eq!(fin.code, 403);
    assert!(fin.reason.contains("license"), "{}", fin.reason);
}
both!(refusals_name_their_reason);

async fn unauthenticated_invite_is_challenged(db: Db) {
    let s = TestServer::start(db).await;
    let (_, c) = s.owner("challenge@example.com").await;
    let anna = c.add_account(&new("Anna", "1001")).await.unwrap();
    let mut a = ua_of(&s, Transport::Udp, &anna, None).await;
    let text = format!(
        "INVITE sip:1002@vcms.local SIP/2.0\r\nVia: SIP/2.0/UDP {l};rport;branch=z9hG4bKabc1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:{n}@vcms.local>;tag=x1\r\nTo: <sip:1002@vcms.local>\r\n\
         Call-ID: chal-1\r\nCSeq: 1 INVITE\r\nContact: <sip:{n}@{l}>\r\nContent-Length: 0\r\n\r\n",
        l = a.local,
        n = anna.cloud_number
    );
    let r = a.transact(&text).await.unwrap();
    assert_eq!(r.code, 407);
    let ch = r.header("Proxy-Authenticate").unwrap();
    assert!(ch.contains("realm=\"vcms.local\""), "{ch}");
    assert!(r.header("WWW-Authenticate").is_none());
}
both!(unauthenticated_invite_is_challenged);

/// A running `vcms-endpoint`, its stdout read line by line.
struct Emulator {
    child: tokio::process::Child,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
    seen: Vec<String>,
}

impl Emulator {
    fn start(args: &[&str]) -> Self {
        use tokio::io::AsyncBufReadExt;
        let mut child = tokio::process::Command::new(endpoint_exe())
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut r = tokio::io::BufReader::new(out).lines();
            while let Ok(Some(l)) = r.next_line().await {
                let _ = tx.send(l);
            }
        });
        Self {
            child,
            lines,
            seen: vec![],
        }
    }

    /// Wait up to `secs` for a line containing `text`.
    async fn wait_line(&mut self, text: &str, secs: f64) -> String {
        let until = tokio::time::Instant::now() + Duration::from_secs_f64(secs);
        loop {
            match tokio::time::timeout_at(until, self.lines.recv()).await {
                Ok(Some(l)) => {
                    self.seen.push(l.clone());
                    if l.contains(text) {
                        return l;
                    }
                }
                _ => panic!(
                    "no line with {text:?} within {secs} s; saw:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    async fn finish(mut self) {
        let st = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("the emulator exits")
            .unwrap();
        while let Ok(l) = self.lines.try_recv() {
            self.seen.push(l);
        }
        assert!(st.success(), "{}", self.seen.join("\n"));
    }
}

/// Two emulators as users run them: Ben stays online with --auto-answer, Anna calls his
/// extension, stays in the call for 2 s (her details say so) and hangs up.
async fn endpoint_emulators_call_each_other(db: Db) {
    let s = TestServer::start(db).await;
    let (_, c) = s.owner("emucall@example.com").await;
    let anna = c.add_account(&new("Anna", "1001")).await.unwrap();
    let ben = c.add_account(&new("Ben", "1002")).await.unwrap();
    let mut b = Emulator::start(&[
        "login",
        "--server",
        &s.url,
        "--cloud-number",
        &ben.cloud_number,
        "--password",
        &ben.password,
        "--transport",
        "tcp",
        "--auto-answer",
        "--hold",
        "8",
    ]);
    b.wait_line("registered over TCP", 10.0).await;
    let mut a = Emulator::start(&[
        "call",
        "--server",
        &s.url,
        "--pincode",
        anna.pincode.as_deref().unwrap(),
        "1002",
        "--hold",
        "2",
    ]);
    a.wait_line("answered: in a call with 1002", 10.0).await;
    b.wait_line(
        &format!("incoming call from <sip:{}@", anna.cloud_number),
        2.0,
    )
    .await;
    let d = wait_details(&c, anna.id, |d| d.in_call).await;
    assert_eq!(d.status_text, "In a call");
    wait_details(&c, ben.id, |d| d.in_call).await;
    a.wait_line("hung up (200", 5.0).await;
    b.wait_line("the other side hung up", 2.0).await;
    a.wait_line("signed out", 5.0).await;
    a.finish().await;
    wait_details(&c, ben.id, |d| !d.in_call).await;
    b.finish().await;
}
both!(endpoint_emulators_call_each_other);

/// `vcms-endpoint directory --follow` prints an edit made through the console's API
/// within a second.
async fn endpoint_directory_follow_prints_an_edit_within_a_second(db: Db) {
    let s = TestServer::start(db).await;
    let (_, c) = s.owner("follow@example.com").await;
    let anna = c.add_account(&new("Anna", "1001")).await.unwrap();
    let ben = c.add_account(&new("Ben", "1002")).await.unwrap();
    let mut e = Emulator::start(&[
        "directory",
        "--server",
        &s.url,
        "--cloud-number",
        &anna.cloud_number,
        "--password",
        &anna.password,
        "--follow",
        "--hold",
        "6",
    ]);
    e.wait_line("1002", 10.0).await;
    // Let it open the change stream.
    tokio::time::sleep(Duration::from_millis(500)).await;
    c.update_account(
        ben.id,
        &vcms_api::AccountUpdate {
            name: Some("Benjamin".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let l = e.wait_line("Benjamin", 1.0).await;
    assert!(l.starts_with("changed: 1002"), "{l}");
    c.add_account(&new("Cleo", "1003")).await.unwrap();
    let l = e.wait_line("Cleo", 1.0).await;
    assert!(l.starts_with("added: 1003"), "{l}");
    e.finish().await;
}
both!(endpoint_directory_follow_prints_an_edit_within_a_second);

/// Requests that try to use the proxy as a relay, or to loop, are refused and go nowhere.
async fn hostile_requests_are_refused_and_never_relayed(db: Db) {
    let s = TestServer::start(db).await;
    let (_, c) = s.owner("hostile-calls@example.com").await;
    let anna = c.add_account(&new("Anna", "1001")).await.unwrap();
    let mut a = ua_of(&s, Transport::Udp, &anna, None).await;
    // Somebody the attacker would like to reach through us.
    let victim = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let v = victim.local_addr().unwrap();
    let (local, number) = (a.local, anna.cloud_number.clone());
    let seq = std::cell::Cell::new(0);
    let req = |method: &str, mf: &str, uri: &str, to_tag: &str| {
        seq.set(seq.get() + 1);
        let k = seq.get();
        format!(
            "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {l};rport;branch=z9hG4bK{method}{k}\r\n\
             Max-Forwards: {mf}\r\nFrom: <sip:{n}@vcms.local>;tag=h1\r\nTo: <sip:x@vcms.local>{to_tag}\r\n\
             Call-ID: hostile-{method}-{k}\r\nCSeq: 1 {method}\r\nContact: <sip:{n}@{l}>\r\nContent-Length: 0\r\n\r\n",
            l = local,
            n = number
        )
    };
    // A made-up call's BYE / INFO towards a third party: 481.
    for m in ["BYE", "INFO", "INVITE"] {
        let r = a
            .transact(&req(m, "70", &format!("sip:x@{v}"), ";tag=made-up"))
            .await
            .unwrap();
        assert_eq!(r.code, 481, "{m}: {}", r.reason);
    }
    // Loops and nonsense hop counts.
    let r = a
        .transact(&req("INVITE", "0", "sip:1002@vcms.local", ""))
        .await
        .unwrap();
    assert_eq!(r.code, 483);
    let r = a
        .transact(&req("INVITE", "abc", "sip:1002@vcms.local", ""))
        .await
        .unwrap();
    assert_eq!(r.code, 400);
    assert!(r.reason.contains("Max-Forwards"), "{}", r.reason);
    // A method that needs a call, outside one.
    let r = a
        .transact(&req("INFO", "70", "sip:1002@vcms.local", ""))
        .await
        .unwrap();
    assert_eq!(r.code, 405);
    let mut buf = [0u8; 2048];
    let got = tokio::time::timeout(Duration::from_millis(300), victim.recv_from(&mut buf)).await;
    assert!(got.is_err(), "the proxy relayed something to {v}");
    // And it still serves.
    online(&mut a).await;
}
both!(hostile_requests_are_refused_and_never_relayed);
