//! Tests over the RFC 4475 corpus in `tests/sip/torture/` (repository root) and a few
//! messages real phones send.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use std::path::PathBuf;

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/sip/torture")
}

struct Case {
    name: String,
    section: String,
    class: String,
    udp: String,
    tcp: String,
    bytes: Vec<u8>,
}

fn corpus() -> Vec<Case> {
    let dir = corpus_dir();
    let index = std::fs::read_to_string(dir.join("index.txt")).expect("index.txt");
    index
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 5, "bad index line: {l}");
            let bytes = std::fs::read(dir.join(format!("{}.sip", f[0])))
                .unwrap_or_else(|e| panic!("{}.sip: {e}", f[0]));
            Case {
                name: f[0].to_string(),
                section: f[1].to_string(),
                class: f[2].to_string(),
                udp: f[3].to_string(),
                tcp: f[4].to_string(),
                bytes,
            }
        })
        .collect()
}

/// What a registrar/proxy built on this crate puts on the wire.
#[derive(Debug, PartialEq, Eq)]
enum Wire {
    /// Handed to the SIP stack (a request the server will answer by its own rules).
    Processed,
    /// Nothing sent.
    Silent,
    /// A stateless response with this status.
    Answered(u16),
}

fn expect(s: &str) -> Wire {
    match s {
        "any" => Wire::Processed,
        "none" => Wire::Silent,
        n => Wire::Answered(n.parse().expect("status")),
    }
}

fn answer(msg: &[u8], r: &Reject) -> Wire {
    match r.reply_to(msg, "sipcheck-tag") {
        Some(resp) => {
            assert!(resp.starts_with(format!("SIP/2.0 {} ", r.status).as_bytes()));
            Wire::Answered(r.status)
        }
        None => Wire::Silent,
    }
}

fn on_datagram(msg: &[u8]) -> Wire {
    match check(msg, &Policy::DEFAULT) {
        Verdict::Accept(info) if info.is_request => Wire::Processed,
        Verdict::Accept(_) | Verdict::Ignore => Wire::Silent,
        Verdict::Reject(r) => answer(msg, &r),
    }
}

/// Feeds `stream` through `frame` + `check`; returns what happens to each message, in
/// order, stopping at NeedMore or at a framing error (after which the connection closes).
fn on_stream(stream: &[u8]) -> Vec<Wire> {
    let mut out = Vec::new();
    let mut buf = stream;
    loop {
        match frame(buf, Policy::DEFAULT.max_len) {
            Frame::NeedMore => {
                if out.is_empty() || !buf.is_empty() {
                    out.push(Wire::Silent);
                }
                return out;
            }
            Frame::Keepalive(n) => buf = &buf[n..],
            Frame::Bad(r) => {
                out.push(answer(buf, &r));
                return out;
            }
            Frame::Message(n) => {
                out.push(on_datagram(&buf[..n]));
                buf = &buf[n..];
                if buf.is_empty() {
                    return out;
                }
            }
        }
    }
}

#[test]
fn corpus_is_complete() {
    let cases = corpus();
    assert_eq!(cases.len(), 49, "RFC 4475 has 49 messages");
    let count = |p: &str| cases.iter().filter(|c| c.section.starts_with(p)).count();
    assert_eq!(count("3.1.1."), 13);
    assert_eq!(count("3.1.2."), 19);
    assert_eq!(count("3.2."), 1);
    assert_eq!(count("3.3."), 15);
    assert_eq!(count("3.4."), 1);
    let mut on_disk: Vec<String> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().to_string_lossy().into_owned();
            n.strip_suffix(".sip").map(str::to_string)
        })
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = cases.iter().map(|c| c.name.clone()).collect();
    listed.sort();
    assert_eq!(on_disk, listed);
    for c in &cases {
        assert!(c.class == "valid" || c.class == "invalid", "{}", c.name);
        assert!(
            c.bytes.windows(2).any(|w| w == b"\r\n"),
            "{} has no CRLF",
            c.name
        );
    }
}

#[test]
fn corpus_over_udp() {
    let mut failures = Vec::new();
    for c in corpus() {
        let got = on_datagram(&c.bytes);
        if got != expect(&c.udp) {
            failures.push(format!(
                "{}: expected {}, got {got:?} ({:?})",
                c.name,
                c.udp,
                check(&c.bytes, &Policy::DEFAULT)
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn corpus_over_tcp() {
    let mut failures = Vec::new();
    for c in corpus() {
        let got = on_stream(&c.bytes);
        let first = got.first();
        if first != Some(&expect(&c.tcp)) {
            failures.push(format!("{}: expected {}, got {got:?}", c.name, c.tcp));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn dblreq_is_two_messages_on_tcp_and_one_on_udp() {
    let c = corpus().into_iter().find(|c| c.name == "dblreq").unwrap();
    // The trailing INVITE says Content-Length 150 but 155 octets follow it (as in the
    // RFC): on a stream both requests are processed, then the 5 stray octets cannot be
    // framed and the connection is closed without an answer.
    assert_eq!(
        on_stream(&c.bytes),
        vec![Wire::Processed, Wire::Processed, Wire::Silent]
    );
    let Verdict::Accept(info) = check(&c.bytes, &Policy::DEFAULT) else {
        panic!("dblreq not accepted")
    };
    assert_eq!(info.method, "REGISTER");
    assert_eq!(info.body_len, 0);
    assert!(info.ignored > 0);
    assert_eq!(info.message_len() + info.ignored, c.bytes.len());
}

#[test]
fn classes_agree_with_verdicts() {
    // Every message the index calls valid must pass the syntax stage: it is accepted, or
    // rejected only for policy (416, 420) or the registrar's To rule (unksm2).
    for c in corpus().iter().filter(|c| c.class == "valid") {
        match check(&c.bytes, &Policy::DEFAULT) {
            Verdict::Accept(_) => {}
            Verdict::Reject(r) if r.status == 416 || r.status == 420 => {}
            Verdict::Reject(r) if c.name == "unksm2" => {
                assert_eq!(r.detail, "REGISTER To is not a SIP or SIPS URI")
            }
            v => panic!("{} is valid but got {v:?}", c.name),
        }
    }
}

fn header_values(msg: &[u8], name: &str) -> Vec<Vec<u8>> {
    let end = find_head_end(msg).map_or(msg.len(), |(e, _)| e);
    parse_head(&msg[..end])
        .all(name)
        .map(|h| h.value.clone())
        .collect()
}

#[test]
fn replies_to_rejected_requests() {
    let mut answered = 0;
    for c in corpus() {
        let Verdict::Reject(r) = check(&c.bytes, &Policy::DEFAULT) else {
            continue;
        };
        let resp = reply(&c.bytes, r.status, r.reason, &r.headers, "abc")
            .unwrap_or_else(|| panic!("{}: every rejected request is answered", c.name));
        answered += 1;
        // A complete, framed response.
        assert_eq!(
            frame(&resp, 65535),
            Frame::Message(resp.len()),
            "{}",
            c.name
        );
        let status_line = format!("SIP/2.0 {} {}\r\n", r.status, r.reason);
        assert!(resp.starts_with(status_line.as_bytes()), "{}", c.name);
        for name in ["via", "call-id", "cseq", "from"] {
            assert_eq!(
                header_values(&resp, name),
                header_values(&c.bytes, name)
                    .into_iter()
                    .take(if name == "via" { usize::MAX } else { 1 })
                    .collect::<Vec<_>>(),
                "{}: {name}",
                c.name
            );
        }
        if c.name == "insuf" {
            // It has no From, To or Call-ID to copy: Via and CSeq are enough to match it.
            assert!(header_values(&resp, "to").is_empty());
            continue;
        }
        let to = header_values(&resp, "to").remove(0);
        // (quotbal's To is an unterminated quoted string, so its tag lands inside it.)
        assert!(
            has_tag(&to) || to.ends_with(b";tag=abc"),
            "{}: To has no tag",
            c.name
        );
        assert_eq!(header_values(&resp, "content-length"), vec![b"0".to_vec()]);
        for (n, v) in &r.headers {
            assert_eq!(
                header_values(&resp, &n.to_ascii_lowercase()),
                vec![v.as_bytes().to_vec()]
            );
        }
        // Where the request's own headers are well formed, the reply passes check() too.
        let broken = [
            "badinv01",
            "quotbal",
            "badaspec",
            "baddn",
            "scalar02",
            "multi01",
            "badbranch",
        ];
        if !broken.contains(&c.name.as_str()) {
            match check(&resp, &Policy::DEFAULT) {
                Verdict::Accept(info) => {
                    assert!(!info.is_request);
                    assert_eq!(info.status, r.status);
                }
                v => panic!("{}: reply not accepted: {v:?}", c.name),
            }
        }
    }
    assert!(answered >= 20, "only {answered} replies");
}

#[test]
fn bext01_gets_420_for_the_role_it_is_in() {
    let c = corpus().into_iter().find(|c| c.name == "bext01").unwrap();
    // As a proxy (OPTIONS is not answered locally by default): the Proxy-Require tags.
    let Verdict::Reject(r) = check(&c.bytes, &Policy::DEFAULT) else {
        panic!()
    };
    assert_eq!(r.status, 420);
    assert_eq!(
        r.headers,
        vec![(
            "Unsupported".to_string(),
            "noProxiesSupportThis, norDoAnyProxiesSupportThis".to_string()
        )]
    );
    let resp = reply(&c.bytes, r.status, r.reason, &r.headers, "t1").unwrap();
    let text = String::from_utf8(resp).unwrap();
    assert!(text.contains("\r\nUnsupported: noProxiesSupportThis, norDoAnyProxiesSupportThis\r\n"));
    // Answering OPTIONS itself, the element is bound by Require too.
    let uas = Policy {
        uas_methods: &["REGISTER", "OPTIONS"],
        ..Policy::DEFAULT
    };
    let Verdict::Reject(r) = check(&c.bytes, &uas) else {
        panic!()
    };
    assert_eq!(
        r.headers[0].1,
        "nothingSupportsThis, nothingSupportsThisEither, noProxiesSupportThis, \
         norDoAnyProxiesSupportThis"
    );
    // Supported tags are not listed; all supported means accepted.
    let all = Policy {
        supported: &[
            "nothingSupportsThis",
            "nothingSupportsThisEither",
            "noProxiesSupportThis",
            "norDoAnyProxiesSupportThis",
        ],
        ..uas
    };
    assert!(matches!(check(&c.bytes, &all), Verdict::Accept(_)));
}

fn simple(method: &str, extra: &str) -> String {
    format!(
        "{method} sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
         To: <sip:a@example.com>\r\nFrom: <sip:b@example.com>;tag=1\r\nCall-ID: x\r\n\
         CSeq: 1 {method}\r\n{extra}Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
}

#[test]
fn require_binds_only_the_uas() {
    // A proxied INVITE may require 100rel from the callee: not the proxy's business.
    let m = simple("INVITE", "Require: 100rel\r\n");
    assert!(matches!(
        check(m.as_bytes(), &Policy::DEFAULT),
        Verdict::Accept(_)
    ));
    // The registrar answers REGISTER itself.
    let m = simple("REGISTER", "Require: foo\r\n");
    let Verdict::Reject(r) = check(m.as_bytes(), &Policy::DEFAULT) else {
        panic!()
    };
    assert_eq!((r.status, r.headers[0].1.as_str()), (420, "foo"));
    // Proxy-Require binds every proxy.
    let m = simple("INVITE", "Proxy-Require: foo\r\n");
    assert!(matches!(
        check(m.as_bytes(), &Policy::DEFAULT),
        Verdict::Reject(Reject { status: 420, .. })
    ));
}

#[test]
fn no_420_for_ack_and_cancel() {
    let uas = Policy {
        uas_methods: &["ACK", "CANCEL"],
        ..Policy::DEFAULT
    };
    for method in ["ACK", "CANCEL"] {
        let m = simple(method, "Require: foo\r\nProxy-Require: bar\r\n");
        assert!(
            matches!(check(m.as_bytes(), &uas), Verdict::Accept(_)),
            "{method}"
        );
    }
}

#[test]
fn badvers_is_answered_with_sip_2_0() {
    let c = corpus().into_iter().find(|c| c.name == "badvers").unwrap();
    let Verdict::Reject(r) = check(&c.bytes, &Policy::DEFAULT) else {
        panic!()
    };
    let resp = reply(&c.bytes, r.status, r.reason, &r.headers, "t").unwrap();
    assert!(resp.starts_with(b"SIP/2.0 505 Version Not Supported\r\n"));
}

#[test]
fn reply_keeps_an_existing_to_tag_and_refuses_responses() {
    let c = corpus().into_iter().find(|c| c.name == "lwsruri").unwrap();
    let resp = reply(&c.bytes, 400, "Bad Request", &[], "new").unwrap();
    let to = header_values(&resp, "to").remove(0);
    assert_eq!(to, b"sip:user@example.com;tag=3xfe-9921883-z9f".to_vec());
    let c = corpus().into_iter().find(|c| c.name == "noreason").unwrap();
    assert_eq!(reply(&c.bytes, 400, "Bad Request", &[], "x"), None);
    assert_eq!(reply(b"", 400, "Bad Request", &[], "x"), None);
    // CR/LF in caller-supplied text cannot split the response.
    let c = corpus()
        .into_iter()
        .find(|c| c.name == "mismatch01")
        .unwrap();
    let resp = reply(
        &c.bytes,
        400,
        "Bad\r\nX: y",
        &[("Warning".into(), "399 h \"a\r\nb\"".into())],
        "t",
    )
    .unwrap();
    assert!(!String::from_utf8_lossy(&resp).contains("\r\nX: y"));
    assert_eq!(frame(&resp, 65535), Frame::Message(resp.len()));
}

#[test]
fn frame_keepalives_and_partial_messages() {
    assert_eq!(frame(b"", 100), Frame::NeedMore);
    assert_eq!(frame(b"\r\n\r\n", 100), Frame::Keepalive(4));
    assert_eq!(frame(b"\r\n\r\nINVITE", 100), Frame::Keepalive(4));
    assert_eq!(frame(b"\r\nINVITE", 100), Frame::Keepalive(2));
    assert_eq!(frame(b"\r\n", 100), Frame::NeedMore);
    assert_eq!(frame(b"\r", 100), Frame::NeedMore);
    assert_eq!(frame(b"\nX", 100), Frame::Keepalive(1));
    let c = corpus().into_iter().find(|c| c.name == "wsinv").unwrap();
    for cut in 0..c.bytes.len() {
        assert_eq!(
            frame(&c.bytes[..cut], 65535),
            Frame::NeedMore,
            "cut at {cut}"
        );
    }
    assert_eq!(frame(&c.bytes, 65535), Frame::Message(c.bytes.len()));
    let mut two = c.bytes.clone();
    two.extend_from_slice(b"\r\n\r\n");
    two.extend_from_slice(&c.bytes);
    assert_eq!(on_stream(&two), vec![Wire::Processed, Wire::Processed]);
    // Too large.
    assert!(matches!(
        frame(&c.bytes, 100),
        Frame::Bad(Reject { status: 413, .. })
    ));
    let big = vec![b'a'; 200];
    assert!(matches!(
        frame(&big, 100),
        Frame::Bad(Reject { status: 413, .. })
    ));
    let huge_cl = b"OPTIONS sip:a SIP/2.0\r\nContent-Length: 99999999999999999999\r\n\r\n";
    assert!(matches!(
        frame(huge_cl, 65535),
        Frame::Bad(Reject { status: 400, .. })
    ));
    let big_cl = b"OPTIONS sip:a SIP/2.0\r\nContent-Length: 70000\r\n\r\n";
    assert!(matches!(
        frame(big_cl, 65535),
        Frame::Bad(Reject { status: 413, .. })
    ));
}

#[test]
fn oversized_datagram_is_413() {
    let c = corpus().into_iter().find(|c| c.name == "longreq").unwrap();
    let small = Policy {
        max_len: 1000,
        ..Policy::DEFAULT
    };
    assert!(matches!(
        check(&c.bytes, &small),
        Verdict::Reject(Reject { status: 413, .. })
    ));
}

#[test]
fn garbage_without_via_is_ignored() {
    for g in [
        &b"hello world"[..],
        b"\r\n\r\n",
        b"INVITE sip:a@b SIP/2.0\r\nTo: <sip:a@b>\r\n\r\n",
        b"\x00\x01\x02\r\n\r\n",
        b"SIP/2.0 200 OK\r\n\r\n",
    ] {
        assert_eq!(check(g, &Policy::DEFAULT), Verdict::Ignore, "{g:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Messages real phones send (RFC 3261 / RFC 3665 shapes).
// ---------------------------------------------------------------------------------------

const REGISTER_DIGEST: &str = "REGISTER sip:vc.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-524287-1---0f3eb40b11f97a9c;rport\r\n\
Max-Forwards: 70\r\n\
Contact: <sip:6002@192.0.2.10:5060;rinstance=1964f334d2b5ba69;transport=UDP>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\";reg-id=1\r\n\
To: \"Room 6002\" <sip:6002@vc.example.com>\r\n\
From: \"Room 6002\" <sip:6002@vc.example.com>;tag=5e00e125\r\n\
Call-ID: wSSsR1c-lUjKuRhxr0iEKA..\r\n\
CSeq: 2 REGISTER\r\n\
Expires: 3600\r\n\
Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r\n\
Supported: replaces, outbound, path\r\n\
User-Agent: Z 5.6.1 v2.10.19.9\r\n\
Authorization: Digest username=\"6002\",realm=\"vc.example.com\",nonce=\"84a4cc6f3082121f32b42a2187831a9e\",uri=\"sip:vc.example.com\",response=\"7587245234b3434cc3412213e5f113a5\",cnonce=\"0a4f113b\",nc=00000001,qop=auth,algorithm=MD5\r\n\
Allow-Events: presence, kpml, talk\r\n\
Content-Length: 0\r\n\
\r\n";

const INVITE_SDP: &str = "INVITE sip:1001@vc.example.com SIP/2.0\r\n\
Via: SIP/2.0/TCP [2001:db8::10]:50944;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:1001@vc.example.com>\r\n\
From: \"Alice\" <sip:alice@vc.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@[2001:db8::10]:50944;transport=tcp;ob>\r\n\
Proxy-Authorization: Digest username=\"alice\", realm=\"vc.example.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"sip:1001@vc.example.com\", response=\"6629fae49393a05397450978507c4ef1\"\r\n\
Supported: timer, 100rel\r\n\
Session-Expires: 1800;refresher=uac\r\n\
Date: Sat, 13 Nov 2010 23:29:00 GMT\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 134\r\n\
\r\n\
v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n\
s=-\r\n\
c=IN IP4 192.0.2.10\r\n\
t=0 0\r\n\
m=audio 49170 RTP/AVP 0\r\n\
a=rtpmap:0 PCMU/8000\r\n";

const COMPACT: &str = "OPTIONS sip:vc.example.com SIP/2.0\r\n\
v: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKnashds7\r\n\
v: SIP/2.0/UDP 192.0.2.5;branch=z9hG4bKnashds8;received=192.0.2.1\r\n\
Max-Forwards: 69\r\n\
t: <sip:vc.example.com>\r\n\
f: sip:bob@vc.example.com;tag=456248\r\n\
i: 843817637684230@998sdasdh09\r\n\
CSeq: 1826 OPTIONS\r\n\
m: <sip:bob@192.0.2.4>;expires=60, \"Bob, mobile\" <sip:bob@192.0.2.6>\r\n\
k: path\r\n\
c: text/plain\r\n\
l: 5\r\n\
\r\n\
hello";

#[test]
fn real_phone_messages_are_accepted() {
    let expected = [
        (REGISTER_DIGEST, "REGISTER", 2, Some(3600)),
        (INVITE_SDP, "INVITE", 314159, None),
        (COMPACT, "OPTIONS", 1826, None),
    ];
    for (m, method, cseq, expires) in expected {
        assert_eq!(on_datagram(m.as_bytes()), Wire::Processed, "{m}");
        let Verdict::Accept(info) = check(m.as_bytes(), &Policy::DEFAULT) else {
            panic!(
                "not accepted: {m}\n{:?}",
                check(m.as_bytes(), &Policy::DEFAULT)
            )
        };
        assert_eq!(info.method, method);
        assert_eq!(info.cseq, cseq);
        assert_eq!(info.expires, expires);
        assert_eq!(info.message_len(), m.len());
        assert_eq!(on_stream(m.as_bytes()), vec![Wire::Processed]);
    }
    let Verdict::Accept(info) = check(COMPACT.as_bytes(), &Policy::DEFAULT) else {
        panic!()
    };
    assert_eq!(info.call_id, "843817637684230@998sdasdh09");
    assert_eq!(info.from_tag.as_deref(), Some("456248"));
    assert_eq!(info.to_tag, None);
    assert_eq!(info.vias, 2);
    assert_eq!(info.branch.as_deref(), Some("z9hG4bKnashds7"));
    assert_eq!(info.body_len, 5);
    // Bare-LF line endings are tolerated too.
    let lf = REGISTER_DIGEST.replace("\r\n", "\n");
    assert!(matches!(
        check(lf.as_bytes(), &Policy::DEFAULT),
        Verdict::Accept(_)
    ));
}

#[test]
fn info_of_wsinv() {
    let c = corpus().into_iter().find(|c| c.name == "wsinv").unwrap();
    let Verdict::Accept(info) = check(&c.bytes, &Policy::DEFAULT) else {
        panic!()
    };
    assert!(info.is_request);
    assert_eq!(info.method, "INVITE");
    assert_eq!(
        info.request_uri,
        "sip:vivekg@chair-dnrc.example.com;unknownparam"
    );
    assert_eq!(info.call_id, "wsinv.ndaksdj@192.0.2.1");
    assert_eq!(info.cseq, 9);
    assert_eq!(info.max_forwards, Some(68));
    assert_eq!(info.from_tag.as_deref(), Some("98asjd8"));
    assert_eq!(info.to_tag.as_deref(), Some("1918181833n"));
    assert_eq!(info.vias, 3);
    assert_eq!(info.branch.as_deref(), Some("390skdjuw"));
    assert_eq!(info.body_len, 150);
    assert_eq!(info.ignored, 0);
}

// ---------------------------------------------------------------------------------------
// No panics on damaged input.
// ---------------------------------------------------------------------------------------

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % (n.max(1) as u64)) as usize
    }
}

fn exercise(m: &[u8]) {
    let _ = check(m, &Policy::DEFAULT);
    let _ = frame(m, 65535);
    let _ = frame(m, 64);
    let _ = reply(m, 400, "Bad Request", &[], "t");
}

#[test]
fn no_panic_on_truncations() {
    for c in corpus() {
        for cut in 0..=c.bytes.len() {
            exercise(&c.bytes[..cut]);
            exercise(&c.bytes[cut..]);
        }
    }
}

#[test]
fn no_panic_on_random_damage() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    const SPECIAL: &[u8] = b"\r\n \t:;,<>\"\\@?%=/[]0\x00\xff";
    let mut cases: Vec<Vec<u8>> = corpus().into_iter().map(|c| c.bytes).collect();
    cases.push(REGISTER_DIGEST.as_bytes().to_vec());
    cases.push(INVITE_SDP.as_bytes().to_vec());
    cases.push(COMPACT.as_bytes().to_vec());
    for base in cases {
        for _ in 0..300 {
            let mut m = base.clone();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(m.len());
                match rng.below(4) {
                    0 => m[i] ^= 1 << rng.below(8),
                    1 => m[i] = SPECIAL[rng.below(SPECIAL.len())],
                    2 => m.insert(i, SPECIAL[rng.below(SPECIAL.len())]),
                    _ => {
                        m.remove(i);
                    }
                }
                if m.is_empty() {
                    break;
                }
            }
            exercise(&m);
        }
    }
}

#[test]
fn lenient_where_phones_stray() {
    let base = |from: &str, contact: &str, call_id: &str| {
        format!(
            "REGISTER sip:vc.example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa\r\n\
             Max-Forwards: 70\r\nTo: <sip:1@vc.example.com>\r\nFrom: {from};tag=9\r\n\
             Call-ID: {call_id}\r\nCSeq: 1 REGISTER\r\nContact: {contact}\r\n\
             Content-Length: 0\r\n\r\n"
        )
    };
    let ok = [
        base(
            "<sip:1@vc.example.com>",
            "<sip:1@192.0.2.1>",
            "MzQ1Njc4OTAx==",
        ),
        base(
            "\u{5f20}\u{4e09} <sip:1@vc.example.com>",
            "sip:1@192.0.2.1;+sip.instance=\"<urn:uuid:1>\"",
            "abc",
        ),
        base(
            "<sip:1@vc.example.com>",
            "<sip:1@my_host.example.com>",
            "abc",
        ),
    ];
    for m in ok {
        assert!(
            matches!(check(m.as_bytes(), &Policy::DEFAULT), Verdict::Accept(_)),
            "{m}\n{:?}",
            check(m.as_bytes(), &Policy::DEFAULT)
        );
    }
    let bad = [
        base("<sip:1@vc.example.com>", "<sip:1@192.0.2.1>", "a b"),
        base(
            "Bell, Alexander <sip:1@vc.example.com>",
            "<sip:1@192.0.2.1>",
            "abc",
        ),
        base("<sip:1@vc.example.com>", "sip:1@192.0.2.1?x=y", "abc"),
    ];
    for m in bad {
        assert!(
            matches!(
                check(m.as_bytes(), &Policy::DEFAULT),
                Verdict::Reject(Reject { status: 400, .. })
            ),
            "{m}"
        );
    }
}

#[test]
fn phone_responses_are_accepted() {
    let ok = "SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK74bf9;received=192.0.2.1;rport=5060\r\n\
Via: SIP/2.0/TCP 192.0.2.9:50944;branch=z9hG4bK776asdhds;rport=50944\r\n\
Record-Route: <sip:192.0.2.1;lr;transport=udp>\r\n\
From: \"Alice\" <sip:alice@vc.example.com>;tag=1928301774\r\n\
To: <sip:1001@vc.example.com>;tag=a6c85cf\r\n\
Call-ID: a84b4c76e66710@pc33.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:1001@192.0.2.20:5062;transport=udp>\r\n\
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE\r\n\
Supported: replaces, timer\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 5\r\n\
\r\n\
v=0\r\n";
    let Verdict::Accept(info) = check(ok.as_bytes(), &Policy::DEFAULT) else {
        panic!("{:?}", check(ok.as_bytes(), &Policy::DEFAULT))
    };
    assert!(!info.is_request);
    assert_eq!(
        (info.status, info.method.as_str(), info.cseq),
        (200, "INVITE", 314159)
    );
    assert_eq!(info.to_tag.as_deref(), Some("a6c85cf"));
    assert_eq!(info.vias, 2);
    assert_eq!(on_stream(ok.as_bytes()), vec![Wire::Silent]);
    // A response is never answered, whatever the caller asks for.
    assert_eq!(reply(ok.as_bytes(), 400, "Bad Request", &[], "t"), None);
    let ringing = "SIP/2.0 180 Ringing\r\nv: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx\r\n\
f: <sip:a@b.example>;tag=1\r\nt: <sip:c@b.example>;tag=2\r\ni: abc\r\nCSeq: 1 INVITE\r\nl: 0\r\n\r\n";
    assert!(matches!(
        check(ringing.as_bytes(), &Policy::DEFAULT),
        Verdict::Accept(Info { status: 180, .. })
    ));
}
