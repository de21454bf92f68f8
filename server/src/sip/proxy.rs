//! The call proxy (RFC 3261 §16): a caller authenticated as a cloud account dials a 4-digit
//! extension of its own enterprise or a 9-digit cloud number of any enterprise; every live
//! binding of the callee rings at once (parallel forking), the first 2xx wins and the other
//! branches get CANCEL. The proxy Record-Routes, so the in-dialog requests (ACK, BYE,
//! re-INVITE, UPDATE, INFO, OPTIONS, …) come through it and reach each side over the flow it
//! registered or called on (NAT, TCP). Bodies (SDP) pass untouched: media never comes here.
//!
//! rsipstack does the transactions: one server transaction towards the caller, one client
//! transaction per branch. Dialogs are kept in memory by Call-ID, for routing only.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rsipstack::sip::prelude::*;
use rsipstack::sip::uri::ParamsExt;
use rsipstack::sip::{self as rsip, Header, Method, Request, Response, SipMessage, StatusCode};
use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transaction::transaction::{Transaction, TransactionEvent};
use rsipstack::transport::{SipAddr, SipConnection};
use tokio::sync::mpsc;

use crate::clock::{Millis, HOUR};
use crate::sip::registrar::{source_of, Auth, Binding, Registrar, Reply, Source};
use crate::store::sip::SipAccount;

/// Where a request goes: the address, over what, and the flow to reuse (TCP/TLS).
#[derive(Clone)]
struct Target {
    addr: SipAddr,
    connection: Option<SipConnection>,
    /// Another instance of the service, which holds the callee's flow (see `sip::peer`).
    peer: bool,
}

fn transport_of(name: &str) -> rsip::Transport {
    match name.to_ascii_lowercase().as_str() {
        "tcp" => rsip::Transport::Tcp,
        "tls" => rsip::Transport::Tls,
        _ => rsip::Transport::Udp,
    }
}

impl Target {
    fn of_binding(b: &Binding) -> Option<(Self, rsip::Uri)> {
        let uri = rsip::Uri::try_from(b.contact.as_str()).ok()?;
        let addr = match b.source.parse::<SocketAddr>() {
            Ok(a) => SipAddr::from(a),
            Err(_) => SipAddr::try_from(&uri).ok()?,
        };
        let addr = SipAddr {
            r#type: Some(transport_of(&b.transport)),
            addr: addr.addr,
        };
        Some((
            Target {
                addr,
                connection: b.connection.clone(),
                peer: false,
            },
            uri,
        ))
    }

    /// Another instance at `holder` (host:port, UDP).
    fn of_peer(holder: &str) -> Option<Self> {
        let uri = rsip::Uri::try_from(format!("sip:{holder}")).ok()?;
        let addr = SipAddr::try_from(&uri).ok()?;
        Some(Target {
            addr: SipAddr {
                r#type: Some(rsip::Transport::Udp),
                addr: addr.addr,
            },
            connection: None,
            peer: true,
        })
    }
}

/// A call, by Call-ID: who called from where, and the callee's answering (or early) legs by
/// their To tag.
struct Dialog {
    caller_tag: String,
    caller: Target,
    callee: HashMap<String, Target>,
    parties: Vec<(i64, i64)>,
    answered: bool,
    touched: Millis,
}

/// What a branch task tells the INVITE's coordinator.
enum Ev {
    Cancel,
    Response(usize, Response),
    Done(usize),
}

/// Our addresses as devices reach them, per transport.
#[derive(Clone, Default)]
pub struct Local {
    pub udp: Option<(String, u16)>,
    pub tcp: Option<(String, u16)>,
    pub tls: Option<(String, u16)>,
    /// Every host:port that names us (advertised host and listener address).
    pub names: HashSet<String>,
}

impl Local {
    fn of(&self, t: rsip::Transport) -> Option<(rsip::Transport, &(String, u16))> {
        match t {
            rsip::Transport::Tcp => self.tcp.as_ref().map(|a| (t, a)),
            rsip::Transport::Tls => self.tls.as_ref().map(|a| (t, a)),
            _ => self.udp.as_ref().map(|a| (rsip::Transport::Udp, a)),
        }
        .or_else(|| {
            // A transport we do not listen on: speak from whatever we have.
            [
                (rsip::Transport::Udp, &self.udp),
                (rsip::Transport::Tcp, &self.tcp),
                (rsip::Transport::Tls, &self.tls),
            ]
            .into_iter()
            .find_map(|(t, a)| a.as_ref().map(|a| (t, a)))
        })
    }
}

fn tname(t: rsip::Transport) -> &'static str {
    match t {
        rsip::Transport::Tcp => "TCP",
        rsip::Transport::Tls => "TLS",
        _ => "UDP",
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// A new Via branch (rsipstack's generator).
fn branch_id() -> String {
    match rsipstack::transaction::make_via_branch() {
        rsip::Param::Branch(b) => b.to_string(),
        other => other.to_string(),
    }
}

fn call_id(r: &Request) -> Option<String> {
    r.call_id_header().ok().map(|c| c.value().to_string())
}

fn from_tag(r: &Request) -> Option<String> {
    r.from_header()
        .ok()
        .and_then(|f| f.tag().ok().flatten())
        .map(|t| t.to_string())
}

fn to_tag(r: &Request) -> Option<String> {
    r.to_header()
        .ok()
        .and_then(|f| f.tag().ok().flatten())
        .map(|t| t.to_string())
}

fn response_to_tag(r: &Response) -> Option<String> {
    r.to_header()
        .ok()
        .and_then(|f| f.tag().ok().flatten())
        .map(|t| t.to_string())
}

pub(crate) use vcms_digest::route_entries;

/// Remove the top Via value (ours) of a response, also when a device merged the Via values
/// into one header with commas.
fn pop_via(r: &mut Response) {
    let mut merged = false;
    if let Some(Header::Via(v)) = r.headers.iter_mut().find(|h| matches!(h, Header::Via(_))) {
        let entries = route_entries(v.value());
        if entries.len() > 1 {
            *v = rsip::Via::new(entries[1..].join(", "));
            merged = true;
        }
    }
    if !merged {
        r.headers.remove_first(|h| matches!(h, Header::Via(_)));
    }
}

/// host:port of a route entry's URI, lowercased, with the transport's default port.
fn entry_host_port(e: &str) -> Option<String> {
    let inner = match (e.find('<'), e.find('>')) {
        (Some(a), Some(b)) if b > a => &e[a + 1..b],
        _ => e.split(';').next().unwrap_or(e),
    };
    let uri = rsip::Uri::try_from(inner).ok()?;
    let host = uri.host_with_port.host.to_string().to_ascii_lowercase();
    let port = uri.host_with_port.port.map(u16::from).unwrap_or(
        if uri.scheme == Some(rsip::Scheme::Sips) || uri.transport() == Some(&rsip::Transport::Tls)
        {
            5061
        } else {
            5060
        },
    );
    Some(format!("{host}:{port}"))
}

/// The final response to forward upstream when no branch answered (RFC 3261 §16.7 step 6):
/// a 6xx if there is one, else the lowest code.
fn best(finals: &[Response]) -> Option<&Response> {
    finals
        .iter()
        .find(|r| r.status_code.code() >= 600)
        .or_else(|| finals.iter().min_by_key(|r| r.status_code.code()))
}

pub struct Proxy {
    registrar: Arc<Registrar>,
    endpoint: EndpointInnerRef,
    local: Local,
    ring: Duration,
    dialogs: Mutex<HashMap<String, Dialog>>,
}

/// How long a dialog is kept after its last request when no BYE came.
const DIALOG_IDLE: Millis = 12 * HOUR;

impl Proxy {
    pub fn new(
        registrar: Arc<Registrar>,
        endpoint: EndpointInnerRef,
        local: Local,
        ring: Duration,
    ) -> Arc<Self> {
        Arc::new(Self {
            registrar,
            endpoint,
            local,
            ring,
            dialogs: Mutex::new(HashMap::new()),
        })
    }

    fn now(&self) -> Millis {
        self.registrar.now()
    }

    /// Answer a request ourselves and see the server transaction to its end (final response
    /// retransmissions over UDP, the ACK of a non-2xx).
    async fn reply(&self, mut tx: Transaction, r: Reply) {
        if let Err(e) = tx.reply_with(r.status, r.headers, None).await {
            tracing::debug!(error = %e, "sip: reply not sent");
            return;
        }
        if tx.transaction_type == rsipstack::transaction::TransactionType::ServerInvite {
            tokio::spawn(async move { while tx.receive().await.is_some() {} });
        }
    }

    /// Any request other than REGISTER: a new call, or a request of a call in progress.
    pub async fn handle(self: &Arc<Self>, tx: Transaction) {
        let req = &tx.original;
        if let Some(r) = self.check_hops(req) {
            return self.reply(tx, r).await;
        }
        let in_dialog = to_tag(req).is_some();
        if let Some(r) = self.foreign_route(req) {
            return self.reply(tx, r).await;
        }
        match (&req.method, in_dialog) {
            (Method::Invite, false) => self.new_call(tx).await,
            (Method::Options, false) | (Method::Cancel, _) => {
                // An OPTIONS to us (keep-alive); a CANCEL that matched no transaction.
                let code = if req.method == Method::Cancel {
                    481
                } else {
                    200
                };
                let r = Reply::new(code).with(Header::Allow(rsip::Allow::new(ALLOW)));
                self.reply(tx, r).await
            }
            (_, true) => self.in_dialog(tx).await,
            _ => {
                let r = Reply::because(
                    405,
                    "Method Not Allowed: outside a call this service takes INVITE, ACK, CANCEL, OPTIONS and REGISTER",
                )
                .with(Header::Allow(rsip::Allow::new(ALLOW_OUTSIDE_CALLS)));
                self.reply(tx, r).await
            }
        }
    }

    /// RFC 3261 §16.4: Route entries that name us are ours to remove; a request whose
    /// route then leads elsewhere would make this service a relay for anyone, so a new
    /// request routed through another proxy is refused (403), never forwarded.
    pub fn foreign_route(&self, req: &Request) -> Option<Reply> {
        if to_tag(req).is_some() || matches!(req.method, Method::Ack | Method::Cancel) {
            return None;
        }
        let mut entries = req.headers.iter().filter_map(|h| match h {
            Header::Route(v) => Some(route_entries(v.value())),
            _ => None,
        });
        let ours = |e: &String| {
            entry_host_port(e).is_some_and(|hp| {
                // A URI without a port names us when its host does (DNS SRV style).
                let host = hp.rsplit_once(':').map_or(hp.as_str(), |(h, _)| h);
                let prefix = format!("{host}:");
                self.local.names.contains(&hp)
                    || (!e.contains(&format!("{host}:"))
                        && self.local.names.iter().any(|n| n.starts_with(&prefix)))
            })
        };
        let first_foreign = entries.by_ref().flatten().find(|e| !ours(e));
        first_foreign.map(|e| {
            Reply::because(
                403,
                &format!(
                    "Forbidden: this service does not relay to {}",
                    e.trim_matches(['<', '>'])
                ),
            )
        })
    }

    fn check_hops(&self, req: &Request) -> Option<Reply> {
        let mf = req
            .headers
            .iter()
            .find_map(|h| match h {
                Header::MaxForwards(m) => Some(m.value().trim().parse::<u32>()),
                _ => None,
            })
            .unwrap_or(Ok(70));
        match mf {
            Ok(0) if req.method != Method::Options => Some(Reply::because(483, "Too Many Hops")),
            Ok(_) => None,
            Err(_) => Some(Reply::because(
                400,
                "Bad Request: Max-Forwards must be a number",
            )),
        }
    }

    /// Who is calling whom, or why not.
    async fn route(&self, req: &Request, src: &Source, via_peer: bool) -> Result<Route, Reply> {
        let from = req
            .from_header()
            .and_then(|f| f.typed())
            .map_err(|_| Reply::because(400, "Bad Request: the From header is malformed"))?;
        if from.tag().is_none() {
            return Err(Reply::because(
                400,
                "Bad Request: the From header has no tag",
            ));
        }
        let caller_number = from.uri.user().unwrap_or("").to_string();
        if caller_number.len() != 9 || !caller_number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Reply::because(
                403,
                "Forbidden: the From header must name your 9-digit cloud number",
            ));
        }
        let dialed = req.uri.user().unwrap_or("").to_string();
        let is_ext = dialed.len() == 4 && dialed.bytes().all(|b| b.is_ascii_digit());
        let is_number = dialed.len() == 9 && dialed.bytes().all(|b| b.is_ascii_digit());
        let caller = if via_peer {
            // Authenticated by the instance that forwarded it (see `sip::peer`).
            self.registrar
                .account(&caller_number, self.now())
                .await
                .ok()
                .flatten()
                .ok_or_else(|| Reply::because(403, "Forbidden: unknown caller"))?
        } else {
            self.registrar
                .authenticate(req, &caller_number, src, Auth::Proxy)
                .await?
        };
        if caller.in_force == 0 {
            return Err(Reply::because(
                403,
                "Forbidden: your enterprise has no license in force",
            ));
        }
        let now = self.now();
        let callee = if is_ext {
            self.registrar
                .account_by_extension(caller.enterprise_id, &dialed, now)
                .await
        } else if is_number {
            self.registrar.account(&dialed, now).await
        } else {
            return Err(Reply::because(
                404,
                "Not Found: dial a 4-digit extension or a 9-digit cloud number",
            ));
        }
        .map_err(|e| {
            tracing::error!(error = %e, "sip: callee lookup");
            Reply::new(500)
        })?;
        let Some(callee) = callee else {
            return Err(Reply::because(
                404,
                &if is_ext {
                    format!("Not Found: no account has extension {dialed} in your enterprise")
                } else {
                    format!("Not Found: no account has cloud number {dialed}")
                },
            ));
        };
        if callee.in_force == 0 {
            return Err(Reply::because(
                403,
                "Forbidden: the called enterprise has no license in force",
            ));
        }
        Ok(Route { caller, callee })
    }

    async fn new_call(self: &Arc<Self>, mut stx: Transaction) {
        let src = source_of(&stx.original, stx.connection.as_ref());
        let req = stx.original.clone();
        // Forwarded by another instance: ring this instance's bindings only.
        let via_peer = self.registrar.peers.verify(&req, self.now());
        let route = match self.route(&req, &src, via_peer).await {
            Ok(r) => r,
            Err(r) => {
                // A challenge is the first half of a call, not a failed one.
                if !matches!(r.status.code(), 401 | 407) {
                    self.registrar.metrics().call(false);
                }
                return self.reply(stx, r).await;
            }
        };
        let mut legs = Vec::new();
        // Devices of the callee whose flows other instances hold: one leg to each such
        // instance, which rings them; this instance's copies of those bindings are stale.
        let elsewhere = if via_peer {
            vec![]
        } else {
            self.registrar.held_elsewhere(route.callee.id).await
        };
        for b in self.registrar.bindings(route.callee.id).await {
            if elsewhere.iter().any(|(key, _)| *key == b.key) {
                continue;
            }
            // Calling yourself: ring your other devices, not the one calling.
            let own = route.caller.id == route.callee.id
                && src.addr.map(|a| a.to_string()).as_deref() == Some(b.source.as_str());
            if own {
                continue;
            }
            if let Some(l) = Target::of_binding(&b) {
                legs.push(l);
            }
        }
        let mut holders: Vec<&str> = elsewhere.iter().map(|(_, h)| h.as_str()).collect();
        holders.sort_unstable();
        holders.dedup();
        for h in holders {
            let uri = rsip::Uri::try_from(format!(
                "sip:{}@{}",
                route.callee.cloud_number, self.registrar.realm
            ));
            if let (Some(t), Ok(uri)) = (Target::of_peer(h), uri) {
                legs.push((t, uri));
            }
        }
        if legs.is_empty() {
            let r = Reply::because(
                480,
                &format!(
                    "Temporarily Unavailable: {} has no endpoint registered",
                    route.callee.name.replace(['\r', '\n'], " ")
                ),
            );
            self.registrar.metrics().call(false);
            return self.reply(stx, r).await;
        }
        let (Some(cid), Some(ftag), Some(addr)) = (call_id(&req), from_tag(&req), src.addr) else {
            self.registrar.metrics().call(false);
            return self
                .reply(
                    stx,
                    Reply::because(400, "Bad Request: Call-ID or From tag missing"),
                )
                .await;
        };
        let _ = stx.send_trying().await;
        let caller = Target {
            addr: SipAddr {
                r#type: Some(transport_of(&src.transport)),
                addr: SipAddr::from(addr).addr,
            },
            connection: src.connection.clone(),
            peer: via_peer,
        };
        // A call forwarded by another instance is recorded there, not here.
        let parties = if via_peer {
            vec![]
        } else {
            vec![
                (route.caller.enterprise_id, route.caller.id),
                (route.callee.enterprise_id, route.callee.id),
            ]
        };
        lock(&self.dialogs).insert(
            cid.clone(),
            Dialog {
                caller_tag: ftag,
                caller,
                callee: HashMap::new(),
                parties,
                answered: false,
                touched: self.now(),
            },
        );
        let inbound = transport_of(&src.transport);
        let answered = self.fork(stx, req, legs, Some(inbound), Some(cid)).await;
        if !via_peer {
            self.registrar.metrics().call(answered);
        }
    }

    /// Forward an INVITE to every leg and relay what comes back: provisional responses, every
    /// 2xx (then CANCEL to the rest), or the best final response once all legs failed.
    /// `record_route` (the caller's transport) is set for a dialog-creating INVITE;
    /// `new_dialog` names the Call-ID whose legs are learnt from the answers.
    async fn fork(
        self: &Arc<Self>,
        stx: Transaction,
        req: Request,
        legs: Vec<(Target, rsip::Uri)>,
        record_route: Option<rsip::Transport>,
        new_dialog: Option<String>,
    ) -> bool {
        let (ev_tx, mut ev_rx) = mpsc::unbounded_channel::<Ev>();
        let upstream = stx.tu_sender.clone();
        // The caller's side: CANCEL and the ACK of a 2xx arrive here.
        {
            let ev = ev_tx.clone();
            let me = self.clone();
            let mut stx = stx;
            tokio::spawn(async move {
                while let Some(m) = stx.receive().await {
                    if let SipMessage::Request(r) = m {
                        match r.method {
                            Method::Cancel => {
                                let _ = ev.send(Ev::Cancel);
                            }
                            Method::Ack => me.forward_ack(r).await,
                            _ => {}
                        }
                    }
                }
            });
        }
        let mut branches = Vec::new();
        for (i, (target, uri)) in legs.into_iter().enumerate() {
            let Some(out) = self.prepare(&req, &target, Some(uri), record_route) else {
                continue;
            };
            let ev = ev_tx.clone();
            let b = Branch {
                request: out.clone(),
                target: target.clone(),
                done: false,
                provisional: false,
                cancel_wanted: false,
                cancel_sent: false,
            };
            let me = self.clone();
            tokio::spawn(async move {
                if let Some(mut ctx) = me.client(out, &target).await {
                    while let Some(m) = ctx.receive().await {
                        if let SipMessage::Response(r) = m {
                            let _ = ev.send(Ev::Response(i, r));
                        }
                    }
                }
                let _ = ev.send(Ev::Done(i));
            });
            branches.push(b);
        }
        drop(ev_tx);
        // Our own response, and one relayed from a leg (without our Via).
        let respond = |r: Response| {
            let _ = upstream.send(TransactionEvent::Respond(r));
        };
        let send_up = |r: Response| {
            let mut r = r;
            pop_via(&mut r);
            respond(r);
        };
        let mut finals: Vec<Response> = Vec::new();
        let mut answered = false;
        let mut final_sent = false;
        let mut cancelled = false;
        let ring_until = tokio::time::Instant::now() + self.ring;
        // Once answered or failed, wait this long at most for the legs being cancelled.
        let hard_stop = ring_until + Duration::from_secs(40);
        let n = branches.len();
        if n == 0 {
            let mut r = self
                .endpoint
                .make_response(&req, StatusCode::ServerInternalError, None);
            self.with_tag(&mut r);
            respond(r);
            return false;
        }
        loop {
            let deadline = if final_sent { hard_stop } else { ring_until };
            let ev = tokio::select! {
                ev = ev_rx.recv() => ev,
                _ = tokio::time::sleep_until(deadline) => {
                    if final_sent {
                        break;
                    }
                    // Nobody answered in time.
                    for b in branches.iter_mut() {
                        self.cancel(b);
                    }
                    let mut r = self.endpoint.make_response(
                        &req,
                        StatusCode::Other(480, "Temporarily Unavailable: no answer".into()),
                        None,
                    );
                    self.with_tag(&mut r);
                    respond(r);
                    final_sent = true;
                    continue;
                }
            };
            let Some(ev) = ev else { break };
            match ev {
                Ev::Cancel => {
                    if !final_sent && !cancelled {
                        cancelled = true;
                        for b in branches.iter_mut() {
                            self.cancel(b);
                        }
                    }
                }
                Ev::Response(i, r) => {
                    let code = r.status_code.code();
                    if code < 200 && !branches[i].provisional {
                        branches[i].provisional = true;
                        if branches[i].cancel_wanted {
                            // A CANCEL waited for the first provisional (RFC 3261 §9.1).
                            branches[i].cancel_wanted = false;
                            self.cancel(&mut branches[i]);
                        }
                    }
                    if code == 100 {
                        continue;
                    }
                    if code < 200 {
                        if let (Some(cid), Some(tag)) = (&new_dialog, response_to_tag(&r)) {
                            self.learn_leg(cid, tag, &branches[i].target, false);
                        }
                        if !final_sent {
                            send_up(r);
                        }
                    } else if code < 300 {
                        if let (Some(cid), Some(tag)) = (&new_dialog, response_to_tag(&r)) {
                            self.learn_leg(cid, tag, &branches[i].target, !answered);
                        }
                        if !answered {
                            answered = true;
                            for (j, b) in branches.iter_mut().enumerate() {
                                if j != i {
                                    self.cancel(b);
                                }
                            }
                        }
                        branches[i].done = true;
                        final_sent = true;
                        send_up(r);
                    } else {
                        branches[i].done = true;
                        finals.push(r);
                    }
                }
                Ev::Done(i) => {
                    if !branches[i].done {
                        branches[i].done = true;
                        finals.push(self.endpoint.make_response(
                            &branches[i].request,
                            StatusCode::RequestTimeout,
                            None,
                        ));
                    }
                }
            }
            if !final_sent && branches.iter().all(|b| b.done) {
                final_sent = true;
                if let Some(r) = best(&finals).cloned() {
                    let mut r = r;
                    if cancelled && r.status_code.code() < 600 {
                        r.status_code = StatusCode::RequestTerminated;
                        r.wire_reason = None;
                    }
                    send_up(r);
                }
                if let Some(cid) = &new_dialog {
                    lock(&self.dialogs).remove(cid);
                }
            }
            if final_sent && branches.iter().all(|b| b.done) {
                // The caller has its answer and no leg waits for a CANCEL's outcome; the
                // caller's server transaction repeats a 2xx on its own until the ACK.
                break;
            }
        }
        if !answered {
            if let Some(cid) = &new_dialog {
                lock(&self.dialogs).remove(cid);
            }
        }
        answered
    }

    /// Give a response we make ourselves a To tag.
    fn with_tag(&self, r: &mut Response) {
        for h in r.headers.iter_mut() {
            if let Header::To(t) = h {
                if t.tag().ok().flatten().is_none() {
                    *t = t.with_tag(rsipstack::transaction::make_tag());
                }
            }
        }
    }

    fn learn_leg(&self, cid: &str, tag: String, target: &Target, answered: bool) {
        let mut ds = lock(&self.dialogs);
        let Some(d) = ds.get_mut(cid) else { return };
        d.callee.entry(tag).or_insert_with(|| target.clone());
        if answered && !d.answered {
            d.answered = true;
            d.touched = self.now();
            if !d.parties.is_empty() {
                self.registrar.call_state(cid, &d.parties, true, self.now());
            }
        }
    }

    /// CANCEL one branch (RFC 3261 §9.1): the branch's Request-URI, top Via, Route, From, To,
    /// Call-ID and CSeq number; once it had a provisional response, and only once.
    fn cancel(self: &Arc<Self>, b: &mut Branch) {
        if b.done || b.cancel_sent {
            return;
        }
        if !b.provisional {
            b.cancel_wanted = true;
            return;
        }
        b.cancel_sent = true;
        let mut c = b.request.clone();
        c.method = Method::Cancel;
        c.body = Vec::new();
        let mut via_seen = false;
        c.headers.retain(|h| match h {
            Header::Via(_) => !std::mem::replace(&mut via_seen, true),
            Header::Route(_)
            | Header::From(_)
            | Header::To(_)
            | Header::CallId(_)
            | Header::MaxForwards(_) => true,
            _ => false,
        });
        let seq = b.request.cseq_header().and_then(|s| s.seq()).unwrap_or(1);
        c.headers
            .push(Header::CSeq(rsip::CSeq::new(format!("{seq} CANCEL"))));
        c.headers
            .push(Header::ContentLength(rsip::ContentLength::from(0u32)));
        let target = b.target.clone();
        let me = self.clone();
        tokio::spawn(async move {
            if let Some(mut tx) = me.client(c, &target).await {
                while tx.receive().await.is_some() {}
            }
        });
    }

    /// Send a request in a client transaction towards `target`.
    async fn client(&self, req: Request, target: &Target) -> Option<Transaction> {
        let key = TransactionKey::from_request(&req, TransactionRole::Client).ok()?;
        let (conn, dest) = self.resolve(target).await?;
        let mut tx = Transaction::new_client(key, req, self.endpoint.clone(), Some(conn));
        tx.destination = Some(dest);
        if let Err(e) = tx.send().await {
            tracing::debug!(error = %e, "sip: forward failed");
            return None;
        }
        Some(tx)
    }

    /// The flow and address to send to: the target's connection when it has one (a device's
    /// registered TCP/TLS flow), else what the transport layer finds (the UDP listener, or a
    /// new connection).
    async fn resolve(&self, t: &Target) -> Option<(SipConnection, SipAddr)> {
        if let Some(c) = &t.connection {
            return Some((c.clone(), t.addr.clone()));
        }
        match self.endpoint.transport_layer.lookup(&t.addr, None).await {
            Ok(x) => Some(x),
            Err(e) => {
                tracing::debug!(error = %e, addr = %t.addr, "sip: no route to target");
                None
            }
        }
    }

    /// The request to forward (RFC 3261 §16.6): a new Request-URI for an initial request,
    /// Max-Forwards one less, our Route entries gone, our credentials gone, our Via on top,
    /// and Record-Route for a dialog-creating request (two entries when the two sides speak
    /// different transports).
    fn prepare(
        &self,
        req: &Request,
        target: &Target,
        uri: Option<rsip::Uri>,
        record_route: Option<rsip::Transport>,
    ) -> Option<Request> {
        let mut r = req.clone();
        super::peer::strip(&mut r);
        let initial = uri.is_some();
        if let Some(u) = uri {
            r.uri = u;
        }
        if initial && target.peer {
            r.headers.push(self.registrar.peers.mark(&r, self.now())?);
        }
        let out_t = target.addr.r#type.unwrap_or(rsip::Transport::Udp);
        let (vt, (host, port)) = self.local.of(out_t)?;
        let mut mf = 70u32;
        let mut routes = Vec::new();
        r.headers.retain(|h| match h {
            Header::MaxForwards(m) => {
                mf = m.value().trim().parse::<u32>().unwrap_or(70);
                false
            }
            Header::Route(v) => {
                routes.extend(route_entries(v.value()));
                false
            }
            Header::ProxyAuthorization(_) => false,
            _ => true,
        });
        // Our own entries lead the route set; whatever follows is someone else's.
        let mut rest = routes
            .into_iter()
            .skip_while(|e| entry_host_port(e).is_some_and(|hp| self.local.names.contains(&hp)));
        let first_foreign = rest.next();
        if let Some(f) = first_foreign {
            r.headers.push(Header::Route(rsip::Route::new(f)));
            for e in rest {
                r.headers.push(Header::Route(rsip::Route::new(e)));
            }
        }
        r.headers.push(Header::MaxForwards(rsip::MaxForwards::new(
            mf.saturating_sub(1).to_string(),
        )));
        if let Some(inbound) = record_route {
            let rr = |t: rsip::Transport| {
                self.local.of(t).map(|(t, (h, p))| {
                    Header::RecordRoute(rsip::RecordRoute::new(format!(
                        "<sip:{h}:{p};transport={};lr>",
                        tname(t).to_ascii_lowercase()
                    )))
                })
            };
            let inbound_rr = rr(inbound);
            let outbound_rr = rr(out_t);
            let mut rrs = Vec::new();
            if let Some(o) = outbound_rr.clone() {
                rrs.push(o);
            }
            if let Some(i) = inbound_rr {
                if Some(i.value()) != outbound_rr.as_ref().map(|o| o.value()) {
                    rrs.push(i);
                }
            }
            for h in rrs.into_iter().rev() {
                r.headers.push_front(h);
            }
        }
        r.headers.push_front(Header::Via(rsip::Via::new(format!(
            "SIP/2.0/{} {host}:{port};branch={};rport",
            tname(vt),
            branch_id()
        ))));
        Some(r)
    }

    /// The other side of a call in progress, by Call-ID and tags: a request from the caller
    /// goes to the callee's leg with that To tag, anything else to the caller.
    fn dialog_target(&self, req: &Request) -> Option<Target> {
        let cid = call_id(req)?;
        let mut ds = lock(&self.dialogs);
        let d = ds.get_mut(&cid)?;
        d.touched = self.now();
        if from_tag(req).as_deref() == Some(d.caller_tag.as_str()) {
            d.callee.get(&to_tag(req)?).cloned()
        } else {
            Some(d.caller.clone())
        }
    }

    /// The ACK of a 2xx: end to end, forwarded without a transaction.
    async fn forward_ack(&self, ack: Request) {
        let Some(t) = self.dialog_target(&ack) else {
            return;
        };
        let Some(out) = self.prepare(&ack, &t, None, None) else {
            return;
        };
        if let Some((conn, dest)) = self.resolve(&t).await {
            if let Err(e) = conn.send(out.into(), Some(&dest)).await {
                tracing::debug!(error = %e, "sip: ACK not forwarded");
            }
        }
    }

    /// A request of a call in progress: BYE, re-INVITE, UPDATE, INFO, OPTIONS, PRACK, …
    async fn in_dialog(self: &Arc<Self>, mut stx: Transaction) {
        let req = stx.original.clone();
        // Only calls set up here are routed: anything else would make the proxy an open
        // relay for whoever sends a request with a To tag.
        let Some(target) = self.dialog_target(&req) else {
            if req.method == Method::Bye {
                self.end(&req);
            }
            return self
                .reply(stx, Reply::because(481, "Call/Transaction Does Not Exist"))
                .await;
        };
        if req.method == Method::Invite {
            let _ = stx.send_trying().await;
            let uri = req.uri.clone();
            self.fork(stx, req, vec![(target, uri)], None, None).await;
            return;
        }
        let Some(out) = self.prepare(&req, &target, None, None) else {
            return self.reply(stx, Reply::new(500)).await;
        };
        let mut final_code = 0;
        if let Some(mut ctx) = self.client(out, &target).await {
            while let Some(m) = ctx.receive().await {
                let SipMessage::Response(mut r) = m else {
                    continue;
                };
                let code = r.status_code.code();
                if code == 100 {
                    continue;
                }
                pop_via(&mut r);
                let _ = stx.respond(r).await;
                if code >= 200 {
                    final_code = code;
                    break;
                }
            }
        }
        if final_code == 0 {
            let _ = stx.reply(StatusCode::RequestTimeout).await;
        }
        if req.method == Method::Bye {
            self.end(&req);
        }
    }

    fn end(&self, req: &Request) {
        let Some(cid) = call_id(req) else { return };
        let d = lock(&self.dialogs).remove(&cid);
        let now = self.now();
        match d {
            Some(d) if d.answered && !d.parties.is_empty() => {
                self.registrar.call_state(&cid, &d.parties, false, now)
            }
            Some(_) => {}
            // A call this instance does not hold (a restart since): still end its record.
            None => self.registrar.call_state(&cid, &[], false, now),
        }
    }

    /// Forget dialogs idle for longer than `DIALOG_IDLE` (their BYE never came).
    pub fn sweep(&self) {
        let now = self.now();
        let mut gone = Vec::new();
        lock(&self.dialogs).retain(|cid, d| {
            let live = now - d.touched < DIALOG_IDLE;
            if !live && d.answered && !d.parties.is_empty() {
                gone.push((cid.clone(), d.parties.clone()));
            }
            live
        });
        for (cid, parties) in gone {
            self.registrar.call_state(&cid, &parties, false, now);
        }
    }

    /// Calls answered and not ended, on this instance.
    pub fn calls(&self) -> usize {
        lock(&self.dialogs)
            .values()
            .filter(|d| d.answered && !d.parties.is_empty())
            .count()
    }
}

struct Route {
    caller: SipAccount,
    callee: SipAccount,
}

struct Branch {
    request: Request,
    target: Target,
    done: bool,
    provisional: bool,
    cancel_wanted: bool,
    cancel_sent: bool,
}

/// What we answer to in `Allow`.
/// The methods taken outside a call (the `Allow` of a 405; its reason names the same).
pub const ALLOW_OUTSIDE_CALLS: &str = "INVITE, ACK, CANCEL, OPTIONS, REGISTER";
/// Every method this service takes: the ones outside a call and those it relays within one.
pub const ALLOW: &str =
    "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, PRACK, REFER, NOTIFY, MESSAGE, REGISTER";
