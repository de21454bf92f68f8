//! Our side of the wire. The UDP socket and the TCP and TLS listeners are ours; rsipstack's
//! transaction layer gets the messages that pass, through a channel. That way every message
//! is checked before any state is made for it, and the limits that keep the server from
//! being turned into a weapon hold:
//!
//! - datagrams are read whole (up to 65,535 bytes; rsipstack's own reader cuts at 8 KiB);
//! - a message that breaks RFC 3261's rules gets its answer (400, 505, 416, 420 …) without
//!   a transaction, a REGISTER or INVITE without credentials gets its challenge without one
//!   (once, never retransmitted), and so does an OPTIONS keep-alive;
//! - a REGISTER is answered without a transaction too, as a stateless registrar does
//!   (Kamailio's `sl_send_reply`): its answer is kept a short while in a bounded cache, so
//!   that a retransmission gets the same one; nothing else outlives the reply, and memory
//!   follows bindings, not the registration rate;
//! - over UDP, replies to an address that has never completed a handshake (no 2xx to a
//!   REGISTER or INVITE from it) are limited to three times what it sent and to
//!   `UNTRUSTED_REPLY_BYTES` a minute, so a spoofed source cannot make us a reflector;
//! - TCP and TLS connections are capped per address and overall, a TLS handshake must end
//!   within `HANDSHAKE_TIMEOUT`, a connection must send a message within `FIRST_MESSAGE`,
//!   and the accept loops back off (and log once a minute) when accepting fails, say when
//!   file descriptors run out.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use rsipstack::sip::{Header, Method, Request, SipMessage, Transport};
use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transport::channel::ChannelConnection;
use rsipstack::transport::udp::UdpConnection;
use rsipstack::transport::{SipAddr, SipConnection, TransportEvent};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use super::proxy::Proxy;
use super::registrar::{Registrar, Reply, Source};

/// Largest message read or accepted, on every transport.
pub const MAX_MESSAGE: usize = 65_535;
/// Reply bytes a minute to an address that never completed a handshake.
pub const UNTRUSTED_REPLY_BYTES: u64 = 64 * 1024;
/// Reply bytes allowed per byte received from an untrusted address.
const AMPLIFICATION: u64 = 3;
/// Reply bytes always allowed to an untrusted address in a minute (one challenge).
const UNTRUSTED_FLOOR: u64 = 1500;
/// How long an address stays trusted after its last 2xx to a REGISTER or INVITE.
const TRUST_FOR: Duration = Duration::from_secs(2 * 3600);
/// Addresses tracked for reply budgets before new untrusted ones get nothing.
const MAX_TRACKED: usize = 100_000;
/// Open TCP/TLS connections per source address, and overall.
pub const MAX_CONNS_PER_ADDR: usize = 32;
pub const MAX_CONNS: usize = 4096;
/// TLS handshakes in progress per source address.
pub const MAX_HANDSHAKES_PER_ADDR: usize = 4;
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A new connection must deliver a whole first message within this.
pub const FIRST_MESSAGE: Duration = Duration::from_secs(30);
/// Messages waiting to be written to one connection (a slow reader holds no more).
const OUT_QUEUE: usize = 64;
/// REGISTERs being handled at once: from one TCP or TLS connection (more wait, and the
/// connection is not read meanwhile), and from all UDP sources (more are dropped; the
/// device retransmits).
const REGISTERS_PER_CONN: usize = OUT_QUEUE;
const REGISTERS_OVER_UDP: usize = 4096;
/// Answers to REGISTERs kept for retransmissions: at most this many, none longer than
/// `REPLY_KEEP` (64 × T1, the time a client retransmits a non-INVITE request).
const REPLY_CACHE: usize = 8192;
const REPLY_KEEP: Duration = Duration::from_secs(32);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

#[derive(Default)]
struct Budget {
    start: Option<Instant>,
    recv: u64,
    sent: u64,
}

#[derive(Default)]
struct Conns {
    per_addr: HashMap<IpAddr, (usize, usize)>,
}

/// A warning said at most once per interval, with how many were held back.
struct Quiet {
    last: Mutex<Option<Instant>>,
    held: AtomicUsize,
}

impl Quiet {
    fn new() -> Self {
        Self {
            last: Mutex::new(None),
            held: AtomicUsize::new(0),
        }
    }
    fn say(&self, what: &str, detail: &dyn std::fmt::Display) {
        let now = Instant::now();
        let mut last = lock(&self.last);
        if last.is_some_and(|t| now.duration_since(t) < Duration::from_secs(60)) {
            self.held.fetch_add(1, Ordering::Relaxed);
            return;
        }
        *last = Some(now);
        let held = self.held.swap(0, Ordering::Relaxed);
        tracing::warn!(error = %detail, more = held, "sip: {what}");
    }
}

/// The state shared by the listeners: budgets, trust, connection counts.
pub struct Guard {
    budgets: Mutex<HashMap<IpAddr, Budget>>,
    trusted: Mutex<HashMap<IpAddr, Instant>>,
    conns: Mutex<Conns>,
    total: AtomicUsize,
    dropped: Quiet,
    accept: Quiet,
}

impl Guard {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            budgets: Mutex::new(HashMap::new()),
            trusted: Mutex::new(HashMap::new()),
            conns: Mutex::new(Conns::default()),
            total: AtomicUsize::new(0),
            dropped: Quiet::new(),
            accept: Quiet::new(),
        })
    }

    fn is_trusted(&self, ip: IpAddr, now: Instant) -> bool {
        lock(&self.trusted)
            .get(&ip)
            .is_some_and(|until| *until > now)
    }

    fn trust(&self, ip: IpAddr, now: Instant) {
        let mut t = lock(&self.trusted);
        if t.len() >= MAX_TRACKED && !t.contains_key(&ip) {
            t.retain(|_, until| *until > now);
            if t.len() >= MAX_TRACKED {
                return;
            }
        }
        t.insert(ip, now + TRUST_FOR);
    }

    fn received(&self, ip: IpAddr, n: usize) {
        let now = Instant::now();
        if self.is_trusted(ip, now) {
            return;
        }
        let mut b = lock(&self.budgets);
        if b.len() >= MAX_TRACKED && !b.contains_key(&ip) {
            b.retain(|_, x| x.start.is_some_and(|s| now.duration_since(s) < MINUTE));
            if b.len() >= MAX_TRACKED {
                return;
            }
        }
        let e = b.entry(ip).or_default();
        if e.start.is_none_or(|s| now.duration_since(s) >= MINUTE) {
            *e = Budget {
                start: Some(now),
                ..Default::default()
            };
        }
        e.recv = e.recv.saturating_add(n as u64);
    }

    /// Whether a UDP datagram may go to `ip`. Requests always may (they go to registered
    /// devices); replies to an untrusted address are within its budget.
    fn may_send(&self, ip: IpAddr, bytes: &[u8]) -> bool {
        let now = Instant::now();
        let is_reply = bytes.starts_with(b"SIP/2.0 ") || bytes == b"\r\n";
        if !is_reply {
            return true;
        }
        if self.is_trusted(ip, now) {
            return true;
        }
        // Only an address not yet trusted has its 2xx read (not every reply on the hot path).
        if bytes.starts_with(b"SIP/2.0 2") && completes_handshake(bytes) {
            self.trust(ip, now);
            lock(&self.budgets).remove(&ip);
            return true;
        }
        let mut b = lock(&self.budgets);
        let Some(e) = b.get_mut(&ip) else {
            return false;
        };
        if e.start.is_none_or(|s| now.duration_since(s) >= MINUTE) {
            return false;
        }
        let allowed = e
            .recv
            .saturating_mul(AMPLIFICATION)
            .clamp(UNTRUSTED_FLOOR, UNTRUSTED_REPLY_BYTES);
        let n = bytes.len() as u64;
        if e.sent.saturating_add(n) > allowed {
            drop(b);
            self.dropped.say(
                "replies to an unverified address held back",
                &format!("{ip}: reply budget spent"),
            );
            return false;
        }
        e.sent += n;
        true
    }

    /// Take a connection slot for `ip`; None when the caps are reached.
    fn open(self: &Arc<Self>, ip: IpAddr) -> Option<ConnSlot> {
        let mut c = lock(&self.conns);
        let e = c.per_addr.entry(ip).or_default();
        if e.0 >= MAX_CONNS_PER_ADDR || self.total.load(Ordering::Relaxed) >= MAX_CONNS {
            return None;
        }
        e.0 += 1;
        self.total.fetch_add(1, Ordering::Relaxed);
        Some(ConnSlot {
            guard: self.clone(),
            ip,
            handshaking: false,
        })
    }
}

const MINUTE: Duration = Duration::from_secs(60);

/// A 2xx to a REGISTER or INVITE: the address answered a challenge (or a callee answered).
fn completes_handshake(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(4096)];
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    text.lines().any(|l| {
        let l = l.trim_start();
        (l.starts_with("cseq:") || l.starts_with("cseq :"))
            && (l.ends_with(" register") || l.ends_with(" invite"))
    })
}

/// A held TCP/TLS connection slot, given back on drop.
struct ConnSlot {
    guard: Arc<Guard>,
    ip: IpAddr,
    handshaking: bool,
}

impl ConnSlot {
    fn start_handshake(&mut self) -> bool {
        let mut c = lock(&self.guard.conns);
        let e = c.per_addr.entry(self.ip).or_default();
        if e.1 >= MAX_HANDSHAKES_PER_ADDR {
            return false;
        }
        e.1 += 1;
        self.handshaking = true;
        true
    }
    fn end_handshake(&mut self) {
        if self.handshaking {
            let mut c = lock(&self.guard.conns);
            if let Some(e) = c.per_addr.get_mut(&self.ip) {
                e.1 = e.1.saturating_sub(1);
            }
            self.handshaking = false;
        }
    }
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        self.end_handshake();
        let mut c = lock(&self.guard.conns);
        if let Some(e) = c.per_addr.get_mut(&self.ip) {
            e.0 = e.0.saturating_sub(1);
            if *e == (0, 0) {
                c.per_addr.remove(&self.ip);
            }
        }
        self.guard.total.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The UDP socket as rsipstack sees it: it sends through the reply budget and never
/// reads (our loop does, with a buffer that holds any datagram).
struct GuardedUdp {
    sock: Arc<UdpSocket>,
    guard: Arc<Guard>,
}

#[async_trait::async_trait]
impl rsipstack::platform::net::UdpSocket for GuardedUdp {
    async fn recv_from(&self, _buf: &mut [u8]) -> rsipstack::Result<(usize, SocketAddr)> {
        std::future::pending().await
    }
    async fn send_to(&self, buf: &[u8], addr: SocketAddr) -> rsipstack::Result<usize> {
        if !self.guard.may_send(addr.ip(), buf) {
            return Ok(buf.len());
        }
        Ok(self.sock.send_to(buf, addr).await?)
    }
    fn local_addr(&self) -> rsipstack::Result<SocketAddr> {
        Ok(self.sock.local_addr()?)
    }
}

/// What becomes of one received message.
enum Outcome {
    /// Into the transaction layer.
    Pass(SipMessage),
    /// A REGISTER, handled here without a transaction ([`Wire::register`]).
    Register(Request),
    /// Answered here, statelessly.
    Answer(Vec<u8>),
    /// Nothing to answer (a response nobody waits for, or bytes that are not SIP).
    Drop,
}

/// The checks every received message goes through, and the answers given without a
/// transaction.
pub struct Wire {
    pub guard: Arc<Guard>,
    registrar: Arc<Registrar>,
    proxy: Arc<Proxy>,
    /// Feeds the transaction layer.
    inject: mpsc::UnboundedSender<TransportEvent>,
    endpoint: EndpointInnerRef,
    cancel: CancellationToken,
    user_agent: String,
    replies: Replies,
    udp_registers: Arc<Semaphore>,
}

/// Answers to REGISTERs by request (source, Call-ID, CSeq and top Via), kept so that a
/// retransmission gets the answer the first copy got: a registration answered twice would
/// see its own nonce-count again and be challenged the second time. Bounded in number and
/// age; a copy that arrives while the first is still being handled is dropped (the first
/// one's answer is on its way).
#[derive(Default)]
struct Replies {
    inner: Mutex<RepliesInner>,
}

#[derive(Default)]
struct RepliesInner {
    /// None while the first copy is being handled.
    answers: HashMap<String, Option<Arc<[u8]>>>,
    order: VecDeque<(Instant, String)>,
}

enum Seen {
    New,
    InFlight,
    Answered(Arc<[u8]>),
}

impl Replies {
    fn begin(&self, key: &str, now: Instant) -> Seen {
        let mut g = lock(&self.inner);
        while g.order.len() >= REPLY_CACHE
            || g.order
                .front()
                .is_some_and(|(at, _)| now.duration_since(*at) > REPLY_KEEP)
        {
            let Some((_, k)) = g.order.pop_front() else {
                break;
            };
            g.answers.remove(&k);
        }
        match g.answers.get(key) {
            Some(Some(b)) => Seen::Answered(b.clone()),
            Some(None) => Seen::InFlight,
            None => {
                g.answers.insert(key.to_string(), None);
                g.order.push_back((now, key.to_string()));
                Seen::New
            }
        }
    }

    fn finish(&self, key: &str, answer: &[u8]) {
        if let Some(e) = lock(&self.inner).answers.get_mut(key) {
            *e = Some(answer.into());
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.inner).answers.len()
    }
}

/// What tells one request from another, retransmissions being the same request.
fn request_key(req: &Request, src: SocketAddr) -> String {
    let mut key = src.to_string();
    let mut top_via = true;
    for h in req.headers.iter() {
        let take = match h {
            // Only the top Via: the rest is the same for every copy anyway.
            Header::Via(_) => std::mem::replace(&mut top_via, false),
            Header::CallId(_) | Header::CSeq(_) => true,
            _ => false,
        };
        if take {
            key.push('|');
            key.push_str(&h.to_string());
        }
    }
    key
}

impl Wire {
    /// Set up the channel into `endpoint`'s transaction layer.
    pub async fn new(
        endpoint: EndpointInnerRef,
        registrar: Arc<Registrar>,
        proxy: Arc<Proxy>,
        cancel: CancellationToken,
    ) -> anyhow::Result<Arc<Self>> {
        let (tx, rx) = mpsc::unbounded_channel();
        let (out_tx, _out_rx) = mpsc::unbounded_channel();
        // A pseudo-connection whose serve loop forwards what we inject; nothing is ever
        // sent on it (every event names the real connection it came on).
        let feed = ChannelConnection::create_connection(
            rx,
            out_tx,
            SipAddr {
                r#type: None,
                addr: SocketAddr::from(([0, 0, 0, 0], 0)).into(),
            },
            Some(cancel.child_token()),
        )
        .await
        .map_err(|e| anyhow::anyhow!("sip: {e}"))?;
        endpoint
            .transport_layer
            .add_connection(SipConnection::Channel(feed));
        Ok(Arc::new(Self {
            guard: Guard::new(),
            registrar,
            proxy,
            inject: tx,
            endpoint,
            cancel,
            user_agent: concat!("vcms/", env!("CARGO_PKG_VERSION")).to_string(),
            replies: Replies::default(),
            udp_registers: Arc::new(Semaphore::new(REGISTERS_OVER_UDP)),
        }))
    }

    /// A REGISTER answered here, without a transaction: the registrar's answer, or the
    /// one an earlier copy of the same request got; None while that copy is still being
    /// handled (its answer is on its way).
    async fn register(&self, req: Request, src: Source) -> Option<Vec<u8>> {
        let key = request_key(&req, src.addr?);
        match self.replies.begin(&key, Instant::now()) {
            Seen::Answered(b) => return Some(b.to_vec()),
            Seen::InFlight => return None,
            Seen::New => {}
        }
        let reply = self.registrar.answer(&req, &src).await;
        self.registrar.metrics().registration(reply.status.code());
        let bytes = self.stateless_response(&req, reply);
        self.replies.finish(&key, &bytes);
        Some(bytes)
    }

    fn inspect(&self, mut raw: &[u8], src: SocketAddr, transport: Transport) -> Outcome {
        let policy = super::wire_policy();
        match vcms_sipcheck::check(raw, &policy) {
            vcms_sipcheck::Verdict::Ignore => return Outcome::Drop,
            vcms_sipcheck::Verdict::Reject(r) => {
                tracing::debug!(%src, status = r.status, why = r.detail, "sip: refused");
                // The reason names the field and the rule, so a device (or its user) sees why.
                let reason = format!("{}: {}", r.reason, r.detail);
                return self.answer(raw, r.status, &reason, r.headers);
            }
            vcms_sipcheck::Verdict::Accept(info) => {
                // A datagram longer than its Content-Length: the rest is not the body.
                if info.ignored > 0 {
                    raw = &raw[..raw.len().saturating_sub(info.ignored)];
                }
            }
        }
        let msg = match SipMessage::try_from(raw) {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(%src, error = %e, "sip: unparsable message");
                return if unknown_method(raw) {
                    let allow = ("Allow".to_string(), super::proxy::ALLOW.to_string());
                    self.answer(raw, 501, "Not Implemented", vec![allow])
                } else {
                    self.answer(raw, 400, "Bad Request", vec![])
                };
            }
        };
        if let SipMessage::Request(req) = &msg {
            self.registrar
                .metrics()
                .sip_request(&req.method.to_string());
            if req.method == Method::Ack && answered_statelessly(req) {
                // The ACK of a failure we answered without a transaction: absorbed.
                return Outcome::Drop;
            }
            let reply = self
                .proxy
                .foreign_route(req)
                .or_else(|| self.registrar.stateless(req));
            if let Some(reply) = reply {
                if req.method == Method::Register {
                    self.registrar.metrics().registration(reply.status.code());
                }
                return Outcome::Answer(self.stateless_response(req, reply));
            }
        }
        match SipConnection::update_msg_received(msg, src, transport) {
            Ok(SipMessage::Request(req)) if req.method == Method::Register => {
                Outcome::Register(req)
            }
            Ok(m) => Outcome::Pass(m),
            Err(_) => Outcome::Drop,
        }
    }

    /// A refusal built from the raw request (it may not parse further), with our Server
    /// header; nothing when the request lacks what a response must copy.
    fn answer(
        &self,
        raw: &[u8],
        status: u16,
        reason: &str,
        mut headers: Vec<(String, String)>,
    ) -> Outcome {
        headers.push(("Server".into(), self.user_agent.clone()));
        self.registrar.metrics().sip_response(status);
        match vcms_sipcheck::reply(raw, status, reason, &headers, &to_tag()) {
            Some(b) => Outcome::Answer(b),
            None => Outcome::Drop,
        }
    }

    /// A response made here, without a transaction (RFC 3261 §8.2.6): the request's Via,
    /// From, To (with our tag), Call-ID and CSeq, then the reply's own headers.
    fn stateless_response(&self, req: &Request, reply: Reply) -> Vec<u8> {
        let mut headers: Vec<Header> = Vec::new();
        for h in req.headers.iter() {
            match h {
                Header::Via(_) | Header::From(_) | Header::CallId(_) | Header::CSeq(_) => {
                    headers.push(h.clone())
                }
                Header::To(t) => {
                    let v = t.value().to_string();
                    if v.to_ascii_lowercase().contains(";tag=") {
                        headers.push(h.clone());
                    } else {
                        headers.push(Header::To(rsipstack::sip::headers::To::new(format!(
                            "{v};tag={}",
                            to_tag()
                        ))));
                    }
                }
                _ => {}
            }
        }
        headers.extend(reply.headers);
        headers.push(Header::Server(self.user_agent.clone().into()));
        headers.push(Header::ContentLength(0u32.into()));
        self.registrar.metrics().sip_response(reply.status.code());
        let r = rsipstack::sip::Response {
            status_code: reply.status,
            wire_reason: None,
            version: rsipstack::sip::Version::V2,
            headers: headers.into(),
            body: vec![],
        };
        r.to_bytes()
    }

    /// Serve UDP on `sock`; returns the connection rsipstack sends on.
    pub async fn serve_udp(self: &Arc<Self>, sock: UdpSocket) -> anyhow::Result<SipConnection> {
        let sock = Arc::new(sock);
        let guarded: Arc<dyn rsipstack::platform::net::UdpSocket> = Arc::new(GuardedUdp {
            sock: sock.clone(),
            guard: self.guard.clone(),
        });
        let conn =
            UdpConnection::from_socket(guarded, None, Some(self.cancel.child_token())).await?;
        let conn = SipConnection::Udp(conn);
        let me = self.clone();
        let c = conn.clone();
        tokio::spawn(async move { me.udp_loop(sock, c).await });
        Ok(conn)
    }

    async fn udp_loop(self: Arc<Self>, sock: Arc<UdpSocket>, conn: SipConnection) {
        let mut buf = vec![0u8; MAX_MESSAGE];
        loop {
            let r = tokio::select! {
                r = sock.recv_from(&mut buf) => r,
                _ = self.cancel.cancelled() => break,
            };
            let (n, src) = match r {
                Ok(x) => x,
                Err(e) => {
                    // ICMP port unreachable from an earlier send shows up here on Linux.
                    tracing::debug!(error = %e, "sip: udp receive");
                    continue;
                }
            };
            let raw = &buf[..n];
            self.guard.received(src.ip(), n);
            if raw == b"\r\n\r\n" {
                if self.guard.may_send(src.ip(), b"\r\n") {
                    let _ = sock.send_to(b"\r\n", src).await;
                }
                continue;
            }
            if raw.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            match self.inspect(raw, src, Transport::Udp) {
                Outcome::Pass(msg) => {
                    let from = SipAddr {
                        r#type: Some(Transport::Udp),
                        addr: src.into(),
                    };
                    let _ = self
                        .inject
                        .send(TransportEvent::Incoming(msg, conn.clone(), from));
                }
                Outcome::Register(req) => {
                    let Ok(permit) = self.udp_registers.clone().try_acquire_owned() else {
                        continue;
                    };
                    let me = self.clone();
                    let sock = sock.clone();
                    tokio::spawn(async move {
                        let from = Source {
                            transport: "udp".into(),
                            addr: Some(src),
                            connection: None,
                        };
                        if let Some(b) = me.register(req, from).await {
                            if me.guard.may_send(src.ip(), &b) {
                                let _ = sock.send_to(&b, src).await;
                            }
                        }
                        drop(permit);
                    });
                }
                Outcome::Answer(b) => {
                    if self.guard.may_send(src.ip(), &b) {
                        let _ = sock.send_to(&b, src).await;
                    }
                }
                Outcome::Drop => {}
            }
        }
    }

    /// Accept TCP (or, with `tls`, TLS) connections on `listener`.
    pub fn serve_stream(
        self: &Arc<Self>,
        listener: TcpListener,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) {
        let me = self.clone();
        tokio::spawn(async move { me.accept_loop(listener, tls).await });
    }

    async fn accept_loop(
        self: Arc<Self>,
        listener: TcpListener,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) {
        let mut backoff = Duration::from_millis(10);
        loop {
            let r = tokio::select! {
                r = listener.accept() => r,
                _ = self.cancel.cancelled() => break,
            };
            let (stream, peer) = match r {
                Ok(x) => {
                    backoff = Duration::from_millis(10);
                    x
                }
                Err(e) => {
                    // Out of file descriptors (or memory): wait before trying again
                    // instead of spinning, and say so once a minute.
                    self.guard.accept.say("cannot accept connections", &e);
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = self.cancel.cancelled() => break,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            };
            let Some(mut slot) = self.guard.open(peer.ip()) else {
                tracing::debug!(%peer, "sip: connection refused: too many connections");
                drop(stream);
                continue;
            };
            let _ = stream.set_nodelay(true);
            let me = self.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    None => me.serve_conn(stream, peer, Transport::Tcp, slot).await,
                    Some(acceptor) => {
                        if !slot.start_handshake() {
                            return;
                        }
                        let hs = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream));
                        let s = tokio::select! {
                            r = hs => r,
                            _ = me.cancel.cancelled() => return,
                        };
                        slot.end_handshake();
                        match s {
                            Ok(Ok(s)) => me.serve_conn(s, peer, Transport::Tls, slot).await,
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, error = %e, "sip: TLS handshake failed")
                            }
                            Err(_) => tracing::debug!(%peer, "sip: TLS handshake timed out"),
                        }
                    }
                }
            });
        }
    }

    /// One TCP or TLS connection: frame, check, pass on or answer; write what the
    /// transaction layer sends on it.
    async fn serve_conn<S>(
        self: Arc<Self>,
        stream: S,
        peer: SocketAddr,
        transport: Transport,
        _slot: ConnSlot,
    ) where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (mut rd, mut wr) = tokio::io::split(stream);
        let cancel = self.cancel.child_token();
        let (in_tx, in_rx) = mpsc::unbounded_channel();
        let (out_tx, mut out_rx) = mpsc::channel::<TransportEvent>(OUT_QUEUE);
        let (raw_tx, mut raw_rx) = mpsc::channel::<Vec<u8>>(OUT_QUEUE);
        let remote = SipAddr {
            r#type: Some(transport),
            addr: peer.into(),
        };
        let Ok(ch) = ChannelConnection::create_connection_bounded(
            in_rx,
            out_tx,
            remote.clone(),
            // Its own token: rsipstack cancels it when it retires the connection, which
            // must not cut our writer short.
            Some(cancel.child_token()),
        )
        .await
        else {
            return;
        };
        let conn = SipConnection::Channel(ch);
        self.endpoint.transport_layer.add_connection(conn.clone());
        let registers = Arc::new(Semaphore::new(REGISTERS_PER_CONN));
        // The writer: what the transaction layer sends, and our own answers.
        let wcancel = cancel.clone();
        let writer = tokio::spawn(async move {
            loop {
                let bytes = tokio::select! {
                    biased;
                    b = raw_rx.recv() => match b {
                        Some(b) => b,
                        None => {
                            // The reader is done: write what is queued, then close.
                            while let Ok(TransportEvent::Incoming(m, _, _)) = out_rx.try_recv() {
                                if wr.write_all(&m.to_bytes()).await.is_err() {
                                    break;
                                }
                            }
                            break;
                        }
                    },
                    ev = out_rx.recv() => match ev {
                        Some(TransportEvent::Incoming(m, _, _)) => m.to_bytes(),
                        Some(_) => continue,
                        None => break,
                    },
                    _ = wcancel.cancelled() => break,
                };
                if wr.write_all(&bytes).await.is_err() {
                    break;
                }
            }
            let _ = wr.shutdown().await;
            wcancel.cancel();
        });
        let idle = Duration::from_secs(u64::from(self.registrar.max_expires()) + 120);
        let mut buf = BytesMut::with_capacity(4096);
        let mut chunk = vec![0u8; 16 * 1024];
        let mut got_message = false;
        'read: loop {
            let wait = if got_message { idle } else { FIRST_MESSAGE };
            let n = tokio::select! {
                r = tokio::time::timeout(wait, rd.read(&mut chunk)) => match r {
                    Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
                    Ok(Ok(n)) => n,
                },
                _ = cancel.cancelled() => break,
            };
            buf.extend_from_slice(&chunk[..n]);
            loop {
                match vcms_sipcheck::frame(&buf, MAX_MESSAGE) {
                    vcms_sipcheck::Frame::NeedMore => break,
                    vcms_sipcheck::Frame::Keepalive(k) => {
                        let ping = buf.len() >= 4 && &buf[..4] == b"\r\n\r\n" && k >= 4;
                        buf.advance(k.min(buf.len()));
                        if ping && raw_tx.send(b"\r\n".to_vec()).await.is_err() {
                            break 'read;
                        }
                    }
                    vcms_sipcheck::Frame::Bad(r) => {
                        // The stream cannot be framed any more: answer if we can, close.
                        let reason = format!("{}: {}", r.reason, r.detail);
                        if let Outcome::Answer(b) = self.answer(&buf, r.status, &reason, r.headers)
                        {
                            let _ = raw_tx.send(b).await;
                        }
                        break 'read;
                    }
                    vcms_sipcheck::Frame::Message(len) => {
                        let len = len.min(buf.len());
                        let raw = buf.split_to(len);
                        got_message = true;
                        match self.inspect(&raw, peer, transport) {
                            Outcome::Pass(msg) => {
                                if in_tx
                                    .send(TransportEvent::Incoming(
                                        msg,
                                        conn.clone(),
                                        remote.clone(),
                                    ))
                                    .is_err()
                                {
                                    break 'read;
                                }
                            }
                            Outcome::Register(req) => {
                                let Ok(permit) = registers.clone().acquire_owned().await else {
                                    break 'read;
                                };
                                let me = self.clone();
                                let out = raw_tx.clone();
                                let from = Source {
                                    transport: transport.to_string().to_ascii_lowercase(),
                                    addr: Some(peer),
                                    connection: Some(conn.clone()),
                                };
                                tokio::spawn(async move {
                                    if let Some(b) = me.register(req, from).await {
                                        let _ = out.send(b).await;
                                    }
                                    drop(permit);
                                });
                            }
                            Outcome::Answer(b) => {
                                if raw_tx.send(b).await.is_err() {
                                    break 'read;
                                }
                            }
                            Outcome::Drop => {}
                        }
                    }
                }
            }
        }
        // Let what is queued, and the answers to the last requests, go out; then close.
        drop(raw_tx);
        let _ = tokio::time::timeout(Duration::from_secs(1), writer).await;
        drop(in_tx);
        cancel.cancel();
        self.endpoint.transport_layer.remove_connection(&conn);
    }
}

/// A method token rsip does not know (RFC 3261 §8.2.1: 501 for an unknown method).
fn unknown_method(raw: &[u8]) -> bool {
    let end = raw.iter().position(|b| *b == b' ').unwrap_or(0);
    let m = String::from_utf8_lossy(&raw[..end]);
    !m.starts_with("SIP/") && m.parse::<Method>().is_err() && !m.is_empty()
}

/// To tags of stateless answers start with this, so that their ACKs are known.
const STATELESS_TAG: &str = "vs";

fn to_tag() -> String {
    let mut b = [0u8; 6];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut b);
    format!("{STATELESS_TAG}{}", hex::encode(b))
}

fn answered_statelessly(req: &Request) -> bool {
    use rsipstack::sip::prelude::*;
    req.to_header()
        .ok()
        .and_then(|t| t.tag().ok().flatten())
        .is_some_and(|t| t.to_string().starts_with(STATELESS_TAG))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_cache_is_bounded_in_number_and_age() {
        let r = Replies::default();
        let t0 = Instant::now();
        for i in 0..REPLY_CACHE + 100 {
            assert!(matches!(r.begin(&format!("k{i}"), t0), Seen::New));
            r.finish(&format!("k{i}"), b"SIP/2.0 200 OK\r\n\r\n");
        }
        assert_eq!(r.len(), REPLY_CACHE);
        // The newest are kept and answered again; the oldest were dropped.
        let last = format!("k{}", REPLY_CACHE + 99);
        assert!(matches!(r.begin(&last, t0), Seen::Answered(_)));
        assert!(matches!(r.begin("k0", t0), Seen::New));
        // A copy that comes while the first is being handled is not answered twice.
        assert!(matches!(r.begin("k0", t0), Seen::InFlight));
        // Past their age, all of them go.
        let later = t0 + REPLY_KEEP + Duration::from_secs(1);
        assert!(matches!(r.begin("fresh", later), Seen::New));
        assert_eq!(r.len(), 1);
    }
}
