//! The registrar (RFC 3261 §10.3) for cloud accounts: the AOR's user is the cloud number,
//! digest authentication with the account password, at most `max_bindings` endpoints per
//! account, NAT detection (RFC 3581), and durable bindings without a database write per
//! REGISTER: the bindings live in memory and a committer writes each batch of changes in
//! one transaction before the 200s of that batch are sent (group commit).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rsipstack::sip::prelude::*;
use rsipstack::sip::{self as rsip, Header, Param, StatusCode};
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transport::SipConnection;
use tokio::sync::{mpsc, oneshot};

use crate::clock::{Millis, MINUTE};
use crate::config::SipConfig;
use crate::service::endpoint::registration::{self as rules, Refusal};
use crate::service::{App, AppState};
use crate::sip::digest::{self, Algorithm, NonceState, Nonces};
use crate::store::sip::{self as st, BindingRecord, SipAccount};

/// One registered endpoint of an account.
#[derive(Clone)]
pub struct Binding {
    /// What identifies the device: its `+sip.instance`, else its Contact URI.
    pub key: String,
    pub contact: String,
    pub call_id: String,
    pub cseq: u32,
    pub registered_at: Millis,
    pub expires_at: Millis,
    pub transport: String,
    pub source: String,
    pub nat: bool,
    pub device_model: String,
    pub device_version: String,
    /// The connection it registered on (TCP/TLS), for requests towards it.
    pub connection: Option<SipConnection>,
}

impl Binding {
    fn from_record(r: BindingRecord) -> Self {
        Binding {
            key: r.instance,
            contact: r.contact,
            call_id: r.call_id,
            cseq: 0,
            registered_at: r.registered_at,
            expires_at: r.expires_at,
            transport: r.transport,
            source: r.address,
            nat: r.nat != 0,
            device_model: r.device_model,
            device_version: r.device_version,
            connection: None,
        }
    }

    fn record(&self, account_id: i64, holder: &str) -> BindingRecord {
        BindingRecord {
            account_id,
            instance: self.key.clone(),
            device_model: self.device_model.clone(),
            device_version: self.device_version.clone(),
            transport: self.transport.clone(),
            nat: i64::from(self.nat),
            address: self.source.clone(),
            contact: self.contact.clone(),
            call_id: self.call_id.clone(),
            registered_at: self.registered_at,
            expires_at: self.expires_at,
            holder: holder.to_string(),
            sip_epoch: 0,
            enterprise_id: 0,
        }
    }
}

#[derive(Default)]
struct AccountState {
    /// The account's `sip_epoch` these bindings belong to; None: not loaded yet.
    epoch: Option<i64>,
    enterprise_id: i64,
    bindings: Vec<Binding>,
}

enum Op {
    Upsert(BindingRecord),
    Delete(i64, String),
    /// Forget a binding that expired, unless another instance has refreshed it meanwhile.
    Expire(i64, String),
    Event(i64, i64),
    /// A call of this account (Call-ID, account) was answered at that time.
    CallUp(String, i64, Millis),
    /// The call with this Call-ID ended.
    CallDown(String),
    /// After the commit's other operations the account (id) must have at most this many
    /// live bindings in the database, whichever instances hold them; its row is locked
    /// first, so that registrations on several instances take turns.
    Limit(i64, usize),
}

struct Commit {
    ops: Vec<Op>,
    done: Option<oneshot::Sender<Written>>,
}

/// What became of a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Written {
    Saved,
    /// An `Op::Limit` did not hold: the account has this many live bindings without the
    /// commit's new ones.
    Full(usize),
    Failed,
}

/// The error of a batch whose `Op::Limit` did not hold.
#[derive(Debug)]
struct LimitReached(usize);

impl std::fmt::Display for LimitReached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "endpoint limit reached ({} registered)", self.0)
    }
}

impl std::error::Error for LimitReached {}

pub struct Registrar {
    app: AppState,
    cfg: SipConfig,
    /// This instance's SIP address (host:port, UDP) as other instances reach it; written
    /// with every binding (empty: not reachable by other instances).
    holder: String,
    /// Proves to other instances that a forwarded call's caller was authenticated.
    pub(crate) peers: super::peer::PeerKey,
    pub realm: String,
    /// Algorithms offered in a challenge, in order (`sip.challenge_algorithms`).
    algorithms: Vec<Algorithm>,
    nonces: Nonces,
    accounts: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<AccountState>>>>,
    /// Accounts read recently, by cloud number: (account, read at, generation then).
    creds: Mutex<HashMap<String, (SipAccount, Millis, u64)>>,
    failures: Mutex<HashMap<(String, IpAddr), (u32, Millis)>>,
    fail_sweep_at: std::sync::atomic::AtomicUsize,
    /// Wrong digest answers per cloud number today, as this instance knows them: the
    /// database is the truth (`rate_limits`, key `sip-digest:<number>`, shared by every
    /// instance); this is read on every request instead of the database.
    guesses: Mutex<HashMap<String, Guesses>>,
    guess_sweep_at: std::sync::atomic::AtomicUsize,
    commits: mpsc::UnboundedSender<Commit>,
    /// Call starts and ends, gathered for `CALL_BATCH` before they go to the committer.
    calls: mpsc::UnboundedSender<Vec<Op>>,
}

/// What this instance knows of one cloud number's wrong digest answers in the current day.
#[derive(Debug, Clone, Copy, Default)]
struct Guesses {
    /// Start of the day (UTC) the counts belong to.
    window: Millis,
    /// The highest count the database answered for that day.
    counted: i64,
    /// Wrong answers found here whose count the database has not answered yet.
    pending: i64,
}

/// The window of the per-account count of wrong digest answers.
const GUESS_WINDOW: Millis = crate::clock::DAY;

/// Which challenge: a registrar's (401, WWW-Authenticate / Authorization) or a proxy's
/// (407, Proxy-Authenticate / Proxy-Authorization).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    Www,
    Proxy,
}

/// What to answer.
pub struct Reply {
    pub status: StatusCode,
    pub headers: Vec<Header>,
}

impl Reply {
    pub(crate) fn new(code: u16) -> Self {
        Self {
            status: StatusCode::from(code),
            headers: vec![],
        }
    }
    /// A reply with our own reason phrase, so that a device shows why.
    pub(crate) fn because(code: u16, reason: &str) -> Self {
        Self {
            status: StatusCode::Other(code, reason.to_string()),
            headers: vec![Header::Warning(rsip::Warning::new(format!(
                "399 vcms \"{}\"",
                reason.replace('"', "'")
            )))],
        }
    }
    pub(crate) fn with(mut self, h: Header) -> Self {
        self.headers.push(h);
        self
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Where a request came from and over what.
pub struct Source {
    pub transport: String,
    pub addr: Option<SocketAddr>,
    pub connection: Option<SipConnection>,
}

pub fn source_of(req: &rsip::Request, conn: Option<&SipConnection>) -> Source {
    let transport = conn
        .map(|c| match c {
            // Our TCP and TLS connections reach rsipstack as channels that carry the
            // transport in their address (see sip::transport).
            SipConnection::Channel(ch) => ch.get_addr().r#type.unwrap_or_default(),
            c => c.transport(),
        })
        .map(|t| t.to_string().to_ascii_lowercase())
        .unwrap_or_else(|| "udp".into());
    let mut addr = conn
        .and_then(|c| c.get_remote_addr())
        .and_then(|a| SocketAddr::try_from(a.addr.clone()).ok());
    if addr.is_none() {
        // UDP: the transport wrote the source into the top Via (received / rport).
        if let Ok(via) = req.top_via_header().and_then(|v| v.typed()) {
            let mut host = via.uri.host_with_port.host.to_string();
            let mut port = via.uri.host_with_port.port.map(u16::from).unwrap_or(5060);
            for p in &via.params {
                match p {
                    Param::Received(r) => host = r.to_string(),
                    Param::Rport(Some(p)) => port = *p,
                    _ => {}
                }
            }
            addr = host
                .trim_matches(['[', ']'])
                .parse::<IpAddr>()
                .ok()
                .map(|ip| SocketAddr::new(ip, port));
        }
    }
    let connection = conn.filter(|c| c.is_reliable()).cloned();
    Source {
        transport,
        addr,
        connection,
    }
}

/// `Yealink VCDesktop 1.0.50.16` → ("Yealink VCDesktop", "1.0.50.16").
pub fn model_and_version(user_agent: &str) -> (String, String) {
    let ua: String = user_agent
        .chars()
        .filter(|c| !c.is_control())
        .take(128)
        .collect();
    let ua = ua.trim();
    match ua.rsplit_once(' ') {
        Some((m, v)) if v.starts_with(|c: char| c.is_ascii_digit()) => {
            (m.trim().to_string(), v.to_string())
        }
        _ => match ua.split_once('/') {
            Some((m, v)) => (m.trim().to_string(), v.trim().to_string()),
            None => (ua.to_string(), String::new()),
        },
    }
}

/// The key that identifies a device's binding: `+sip.instance` (its UUID for a urn:uuid),
/// else the Contact URI without parameters.
fn binding_key(c: &rsip::typed::Contact) -> String {
    for p in &c.params {
        if let Param::Other(name, Some(v)) = p {
            if name.to_string().eq_ignore_ascii_case("+sip.instance") {
                let v = v.to_string();
                let v = v.trim_matches('"').trim_matches(['<', '>']);
                let v = v.strip_prefix("urn:uuid:").unwrap_or(v);
                return v.to_ascii_lowercase();
            }
        }
    }
    let u = &c.uri;
    format!(
        "uri:{}:{}@{}",
        u.scheme.as_ref().map(|s| s.to_string()).unwrap_or_default(),
        u.user().unwrap_or(""),
        u.host_with_port
    )
}

impl Registrar {
    pub fn new(
        app: AppState,
        cfg: SipConfig,
        nonce_key: [u8; 32],
        peer_key: [u8; 32],
        holder: String,
    ) -> Arc<Self> {
        let (tx, rx) = mpsc::unbounded_channel();
        let (calls_tx, calls_rx) = mpsc::unbounded_channel();
        let realm = cfg.domain.clone();
        let mut algorithms: Vec<Algorithm> = cfg
            .challenge_algorithms
            .iter()
            .filter_map(|a| Algorithm::parse(a))
            .collect();
        if algorithms.is_empty() {
            algorithms.push(Algorithm::Md5);
        }
        let r = Arc::new(Self {
            algorithms,
            nonces: Nonces::new(nonce_key, cfg.nonce_secs as i64 * 1000),
            app: app.clone(),
            cfg,
            holder,
            peers: super::peer::PeerKey::new(peer_key),
            realm,
            accounts: Mutex::new(HashMap::new()),
            creds: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            fail_sweep_at: std::sync::atomic::AtomicUsize::new(100_000),
            guesses: Mutex::new(HashMap::new()),
            guess_sweep_at: std::sync::atomic::AtomicUsize::new(100_000),
            commits: tx.clone(),
            calls: calls_tx,
        });
        tokio::spawn(committer(app, rx));
        tokio::spawn(call_batcher(calls_rx, tx));
        r
    }

    pub(crate) fn now(&self) -> Millis {
        self.app.now()
    }

    /// Load the live bindings of the database (they survived a restart).
    pub async fn load(&self) -> anyhow::Result<usize> {
        let now = self.app.now();
        let mut c = self.app.store.conn().await?;
        st::delete_expired(&mut c, now).await?;
        st::drop_calls_before(&mut c, now - 12 * crate::clock::HOUR).await?;
        let rows = st::live_bindings(&mut c, now).await?;
        let n = rows.len();
        let mut by_account: HashMap<i64, AccountState> = HashMap::new();
        for r in rows {
            let s = by_account.entry(r.account_id).or_default();
            s.epoch = Some(r.sip_epoch);
            s.enterprise_id = r.enterprise_id;
            s.bindings.push(Binding::from_record(r));
        }
        let mut accounts = lock(&self.accounts);
        for (id, mut s) in by_account {
            s.bindings.shrink_to_fit();
            accounts.insert(id, Arc::new(tokio::sync::Mutex::new(s)));
        }
        Ok(n)
    }

    fn state(&self, account_id: i64) -> Arc<tokio::sync::Mutex<AccountState>> {
        lock(&self.accounts).entry(account_id).or_default().clone()
    }

    fn challenge_as(&self, stale: bool, kind: Auth) -> Reply {
        let now = self.app.now();
        let mut r = Reply::new(match kind {
            Auth::Www => 401,
            Auth::Proxy => 407,
        });
        // One nonce serves every algorithm offered (it binds no algorithm).
        let nonce = self.nonces.mint(now);
        for &alg in &self.algorithms {
            let stale = if stale { ", stale=true" } else { "" };
            let v = format!(
                "Digest realm=\"{}\", nonce=\"{nonce}\", algorithm={}, qop=\"auth\"{stale}",
                self.realm,
                alg.name()
            );
            r = r.with(match kind {
                Auth::Www => Header::WwwAuthenticate(rsip::WwwAuthenticate::new(v)),
                Auth::Proxy => Header::ProxyAuthenticate(rsip::ProxyAuthenticate::new(v)),
            });
        }
        r
    }

    /// The longest registration granted (`sip.max_expires`), in seconds.
    pub fn max_expires(&self) -> u32 {
        self.cfg.max_expires
    }

    /// A REGISTER for an address of another domain: 404 (RFC 3261 §10.3 step 5). Only
    /// `sip:CLOUD@DOMAIN` addresses of our own domain are registered here.
    fn foreign_aor(&self, req: &rsip::Request) -> Option<Reply> {
        let to = req.to_header().and_then(|t| t.typed()).ok()?;
        let host = to.uri.host_with_port.host.to_string();
        (!host.eq_ignore_ascii_case(&self.realm)).then(|| {
            Reply::because(
                404,
                &format!(
                    "Not Found: this service registers addresses of {} only",
                    self.realm
                ),
            )
        })
    }

    /// What is answered before any transaction is made (so a spoofed source gets one
    /// reply, never retransmissions, and nothing is kept): the challenge to a REGISTER or
    /// an out-of-dialog INVITE that carries no credentials (or, for an INVITE, credentials
    /// that cannot be right), the 483 to an INVITE out of hops, the 404 to a REGISTER for
    /// another domain, and the 200 to an OPTIONS keep-alive.
    pub fn stateless(&self, req: &rsip::Request) -> Option<Reply> {
        let has = |f: fn(&Header) -> bool| req.headers.iter().any(f);
        let in_dialog = req
            .to_header()
            .ok()
            .and_then(|t| t.tag().ok().flatten())
            .is_some();
        match req.method {
            rsip::Method::Register => {
                if let Some(r) = self.foreign_aor(req) {
                    return Some(r);
                }
                (!has(|h| matches!(h, Header::Authorization(_))))
                    .then(|| self.challenge_as(false, Auth::Www))
            }
            rsip::Method::Invite if !in_dialog => {
                let hops_left = req.headers.iter().all(|h| match h {
                    Header::MaxForwards(m) => m.value().trim() != "0",
                    _ => true,
                });
                if !hops_left {
                    return Some(Reply::because(483, "Too Many Hops"));
                }
                if self.peers.verify(req, self.app.now()) {
                    // Another instance authenticated the caller (see `sip::peer`).
                    return None;
                }
                let credentials = req.headers.iter().find_map(|h| match h {
                    Header::ProxyAuthorization(p) => Some(p.value()),
                    _ => None,
                });
                match credentials {
                    None => Some(self.challenge_as(false, Auth::Proxy)),
                    // Credentials that cannot be right whatever the password (unreadable,
                    // another realm, a nonce we never gave) get their answer here too:
                    // only an answer worth checking makes a transaction.
                    Some(h) => match digest::parse_authorization(h) {
                        Err(e) => Some(Reply::because(
                            400,
                            &format!("Bad Authorization header: {e}"),
                        )),
                        Ok(c)
                            if c.realm != self.realm
                                || self.nonces.check(&c.nonce, self.app.now())
                                    == NonceState::Invalid =>
                        {
                            Some(self.challenge_as(false, Auth::Proxy))
                        }
                        Ok(_) => None,
                    },
                }
            }
            rsip::Method::Options if !in_dialog => {
                Some(Reply::new(200).with(Header::Allow(rsip::Allow::new(super::proxy::ALLOW))))
            }
            _ => None,
        }
    }

    /// Count a failed answer; true when this user from this address is now shut out.
    fn fail(&self, user: &str, ip: Option<IpAddr>, now: Millis) -> bool {
        let Some(ip) = ip else { return false };
        let mut f = lock(&self.failures);
        // Sweep old entries only when the map has doubled since the last sweep, so that a
        // flood of failures costs amortised O(1) per request.
        let sweep_at = self
            .fail_sweep_at
            .load(std::sync::atomic::Ordering::Relaxed);
        if f.len() > sweep_at {
            f.retain(|_, (_, t)| now - *t < 10 * MINUTE);
            self.fail_sweep_at.store(
                (f.len() * 2).max(100_000),
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        let e = f.entry((user.to_string(), ip)).or_insert((0, now));
        if now - e.1 >= 10 * MINUTE {
            *e = (0, now);
        }
        e.0 += 1;
        e.1 = now;
        e.0 > self.cfg.max_auth_failures
    }

    fn shut_out(&self, user: &str, ip: Option<IpAddr>, now: Millis) -> bool {
        let Some(ip) = ip else { return false };
        lock(&self.failures)
            .get(&(user.to_string(), ip))
            .is_some_and(|(n, t)| *n >= self.cfg.max_auth_failures && now - *t < 10 * MINUTE)
    }

    fn succeeded(&self, user: &str, ip: Option<IpAddr>) {
        if let Some(ip) = ip {
            let mut f = lock(&self.failures);
            if !f.is_empty() {
                f.remove(&(user.to_string(), ip));
            }
        }
    }

    /// Wrong digest answers for `user` today as this instance knows them: the count the
    /// database last answered plus those being counted here.
    fn guesses_today(&self, user: &str, now: Millis) -> i64 {
        let window = now - now.rem_euclid(GUESS_WINDOW);
        lock(&self.guesses)
            .get(user)
            .filter(|g| g.window == window)
            .map_or(0, |g| g.counted + g.pending)
    }

    /// Take one of today's tries of `user` before its digest is compared (memory only, no
    /// database): refused when the day's wrong answers and the tries being checked now
    /// reach the limit, so that parallel guesses on this instance cannot run past it. Give
    /// it back with [`Self::release_try`] on a right answer, or count it with
    /// [`Self::count_guess`] on a wrong one.
    fn take_try(&self, user: &str, now: Millis, exempt: bool) -> Result<(), Reply> {
        use std::sync::atomic::Ordering;
        let window = now - now.rem_euclid(GUESS_WINDOW);
        let per_day = i64::from(self.cfg.max_auth_failures_per_day);
        let mut g = lock(&self.guesses);
        if g.len() > self.guess_sweep_at.load(Ordering::Relaxed) {
            g.retain(|_, e| e.window == window || e.pending > 0);
            self.guess_sweep_at
                .store((g.len() * 2).max(100_000), Ordering::Relaxed);
        }
        let e = g.entry(user.to_string()).or_default();
        if e.window != window {
            *e = Guesses {
                window,
                ..Guesses::default()
            };
        }
        rules::may_try(e.counted + e.pending, per_day, exempt)?;
        e.pending += 1;
        Ok(())
    }

    /// Give back a try taken with [`Self::take_try`] (the answer was right).
    fn release_try(&self, user: &str, now: Millis) {
        let window = now - now.rem_euclid(GUESS_WINDOW);
        let mut g = lock(&self.guesses);
        if let Some(e) = g.get_mut(user) {
            if e.window == window {
                e.pending = (e.pending - 1).max(0);
            }
            if e.counted == 0 && e.pending == 0 {
                // Only accounts with wrong answers today are kept.
                g.remove(user);
            }
        }
    }

    /// Count a wrong digest answer (its try taken with [`Self::take_try`]) in the shared
    /// per-day count — one upsert, on a failure only — and return today's count.
    async fn count_guess(&self, user: &str, now: Millis) -> i64 {
        let window = now - now.rem_euclid(GUESS_WINDOW);
        let key = format!("sip-digest:{user}");
        let counted = match self.app.store.conn().await {
            Ok(mut c) => crate::store::accounts::hit(&mut c, &key, GUESS_WINDOW, now).await,
            Err(e) => Err(e),
        };
        if let Err(e) = &counted {
            tracing::warn!(error = %e, "sip: counting a wrong digest answer");
        }
        let mut g = lock(&self.guesses);
        let Some(e) = g.get_mut(user).filter(|e| e.window == window) else {
            // The day turned meanwhile: this answer belongs to the day before.
            return counted.unwrap_or(0);
        };
        e.pending = (e.pending - 1).max(0);
        // Without the database, count it here so that this instance still bounds it.
        e.counted = e.counted.max(counted.unwrap_or(e.counted + 1));
        e.counted + e.pending
    }

    /// Why a request of `user` is refused before its digest is checked, if it is:
    /// `exempt` says it refreshes a live binding (see [`Self::refusal`]).
    fn locked(&self, user: &str, ip: Option<IpAddr>, now: Millis, exempt: bool) -> Option<Reply> {
        let day = self.guesses_today(user, now);
        let per_day = i64::from(self.cfg.max_auth_failures_per_day);
        let shut_out = !exempt && self.shut_out(user, ip, now);
        rules::locked(day, per_day, shut_out, exempt).map(Reply::from)
    }

    /// Whether `req` comes from a device that holds a live binding of `account_id`: a
    /// REGISTER with that binding's Call-ID, from its source address and port, over its
    /// transport (over TCP or TLS the source is the connection's peer, so the same
    /// connection); a proxied request (INVITE) from the binding's source and transport.
    /// Over UDP that source could be forged by someone who knows the device's address and
    /// port; what that gains is bounded: the exempt guesses share the second daily
    /// allowance (see [`Self::refusal`]), and the answers go to the device, not the forger.
    async fn refreshes(
        &self,
        account_id: i64,
        req: &rsip::Request,
        src: &Source,
        kind: Auth,
    ) -> bool {
        let Some(addr) = src.addr else { return false };
        let addr = addr.to_string();
        let call_id = req.call_id_header().map(|c| c.value().to_string()).ok();
        let Some(st) = lock(&self.accounts).get(&account_id).cloned() else {
            return false;
        };
        let now = self.app.now();
        let s = st.lock().await;
        s.bindings.iter().any(|b| {
            b.expires_at > now
                && b.transport == src.transport
                && b.source == addr
                && match kind {
                    Auth::Www => call_id.as_deref() == Some(b.call_id.as_str()),
                    Auth::Proxy => true,
                }
        })
    }

    /// Whether a request of `user` may have its digest checked: Err(the 403) when a lock
    /// holds, Ok(true) when it does but the request refreshes a live binding (exempt),
    /// Ok(false) when no lock holds. The locks:
    ///
    /// - per cloud number and source address: `max_auth_failures` (5) wrong answers within
    ///   10 minutes, then 403 for 10 minutes;
    /// - per cloud number, from every address and every instance together:
    ///   `max_auth_failures_per_day` (100) wrong answers in a day (UTC), then 403 "try again
    ///   later" until the day ends — the right password included.
    ///
    /// A request that refreshes a live binding of the account (see [`Self::refreshes`]) is
    /// refused by neither, so no one locks out a device that keeps its registration: the
    /// Call-ID is not known to someone who merely forges the device's address. Its wrong
    /// answers still count, and past twice the daily limit it is refused too, so the
    /// guesses at one account's password are at most 2 × `max_auth_failures_per_day` a day
    /// (the second half only through a live binding's own Call-ID and source), plus, with
    /// several instances, what another instance checks before its first count answers.
    async fn refusal(
        &self,
        req: &rsip::Request,
        user: &str,
        src: &Source,
        kind: Auth,
        now: Millis,
    ) -> Result<bool, Reply> {
        let ip = src.addr.map(|a| a.ip());
        let Some(refused) = self.locked(user, ip, now, false) else {
            return Ok(false);
        };
        let account = match self.account(user, now).await {
            Ok(Some(a)) => a,
            _ => return Err(refused),
        };
        if !self.refreshes(account.id, req, src, kind).await {
            return Err(refused);
        }
        match self.locked(user, ip, now, true) {
            Some(r) => Err(r),
            None => Ok(true),
        }
    }

    /// The account of a cloud number: from the cache while no account or license changed on
    /// this instance since it was read and it is younger than `CREDENTIAL_TTL` (changes made
    /// through another instance are seen within that time), else from the database.
    pub(crate) async fn account(
        &self,
        user: &str,
        now: Millis,
    ) -> Result<Option<SipAccount>, sqlx::Error> {
        self.cached(user, now, None).await
    }

    /// The account with `extension` in an enterprise, cached like [`Self::account`].
    pub(crate) async fn account_by_extension(
        &self,
        enterprise_id: i64,
        extension: &str,
        now: Millis,
    ) -> Result<Option<SipAccount>, sqlx::Error> {
        let key = format!("x{enterprise_id}:{extension}");
        self.cached(&key, now, Some((enterprise_id, extension)))
            .await
    }

    async fn cached(
        &self,
        key: &str,
        now: Millis,
        extension: Option<(i64, &str)>,
    ) -> Result<Option<SipAccount>, sqlx::Error> {
        use std::sync::atomic::Ordering;
        let generation = self.app.generation.load(Ordering::SeqCst);
        if let Some((a, at, g)) = lock(&self.creds).get(key) {
            if *g == generation && now - *at < CREDENTIAL_TTL && now >= *at {
                return Ok(Some(a.clone()));
            }
        }
        let mut c = self.app.store.conn().await?;
        let a = match extension {
            None => st::account_by_number(&mut c, key, now).await?,
            Some((e, x)) => st::account_by_extension(&mut c, e, x, now).await?,
        };
        let mut creds = lock(&self.creds);
        if creds.len() > 200_000 {
            creds.clear();
        }
        match &a {
            Some(a) => {
                creds.insert(key.to_string(), (a.clone(), now, generation));
            }
            None => {
                creds.remove(key);
            }
        }
        Ok(a)
    }

    /// Authenticate a request from `user` (the AOR's cloud number): the account, or the
    /// reply to send instead.
    pub async fn authenticate(
        &self,
        req: &rsip::Request,
        user: &str,
        src: &Source,
        kind: Auth,
    ) -> Result<SipAccount, Reply> {
        let now = self.app.now();
        let ip = src.addr.map(|a| a.ip());
        self.refusal(req, user, src, kind, now).await?;
        let header = match kind {
            Auth::Www => req.authorization_header().map(|h| h.value().to_string()),
            Auth::Proxy => req.headers.iter().find_map(|h| match h {
                Header::ProxyAuthorization(p) => Some(p.value().to_string()),
                _ => None,
            }),
        };
        let Some(h) = header else {
            return Err(self.challenge_as(false, kind));
        };
        let cred = digest::parse_authorization(&h)
            .map_err(|e| Reply::because(400, &format!("Bad Authorization header: {e}")))?;
        if cred.realm != self.realm {
            return Err(self.challenge_as(false, kind));
        }
        let alg = match cred.algorithm.as_deref() {
            None => Algorithm::Md5,
            Some(a) => match Algorithm::parse(a) {
                Some(a) => a,
                None => {
                    return Err(Reply::because(
                        400,
                        "Bad Authorization header: algorithm must be MD5 or SHA-256",
                    ))
                }
            },
        };
        if cred.username != user {
            return Err(Reply::because(
                403,
                match kind {
                    Auth::Www => {
                        "Forbidden: the digest username must be the cloud number of the To header"
                    }
                    Auth::Proxy => {
                        "Forbidden: the digest username must be the cloud number of the From header"
                    }
                },
            ));
        }
        let nonce_state = self.nonces.check(&cred.nonce, now);
        if nonce_state == NonceState::Invalid {
            return Err(self.challenge_as(false, kind));
        }
        let account = self.account(user, now).await.map_err(|e| {
            tracing::error!(error = %e, "sip: account lookup");
            Reply::new(500)
        })?;
        // Again after the awaits above, then the day's try is taken with no await before
        // the comparison below: a guess made while the limit is being reached on this
        // instance is refused, not checked.
        let exempt = self.refusal(req, user, src, kind, now).await?;
        self.take_try(user, now, exempt)?;
        let ok = match &account {
            Some(a) => {
                let Ok(password) = self.app.secrets.open(&a.password_enc) else {
                    self.release_try(user, now);
                    return Err(Reply::new(500));
                };
                let ha1 = digest::ha1(alg, user, &self.realm, &password);
                let expected =
                    digest::expected_response(alg, &ha1, &req.method().to_string(), &cred);
                digest::digest_eq(&expected, &cred.response)
            }
            None => false,
        };
        let account = match (ok, account) {
            (true, Some(a)) => {
                self.release_try(user, now);
                a
            }
            _ => {
                // Counted on every path, the exempt one included.
                let here = self.fail(user, ip, now);
                let day = self.count_guess(user, now).await;
                let per_day = i64::from(self.cfg.max_auth_failures_per_day);
                self.app.metrics.digest_failure();
                return Err(
                    match rules::after_wrong_answer(day, per_day, here, exempt) {
                        Some(r) => r.into(),
                        None => {
                            // One line per wrong answer until the throttles refuse the
                            // source (those refusals are not logged): what fail2ban reads.
                            let ip = ip.map(|a| a.to_string()).unwrap_or_else(|| "-".into());
                            tracing::warn!(user, %ip, "sip: wrong digest answer");
                            self.challenge_as(false, kind)
                        }
                    },
                );
            }
        };
        if nonce_state == NonceState::Stale {
            return Err(self.challenge_as(true, kind));
        }
        if !self
            .nonces
            .accept_count(&cred.nonce, cred.nc.as_deref(), now)
        {
            // A replayed nonce-count: make the client start again with a fresh nonce.
            return Err(self.challenge_as(true, kind));
        }
        if !exempt {
            // A refresh says nothing about the other devices behind its address.
            self.succeeded(user, ip);
        }
        Ok(account)
    }

    /// The answer to a REGISTER (the transport sends it without a transaction).
    pub async fn answer(&self, req: &rsip::Request, src: &Source) -> Reply {
        match self.register(req, src).await {
            Ok(r) | Err(r) => r,
        }
    }

    /// Handle a REGISTER that reached the transaction layer (the transport answers them
    /// itself; this is for one that comes another way).
    pub async fn handle(&self, tx: &mut Transaction) {
        let src = source_of(&tx.original, tx.connection.as_ref());
        let reply = self.answer(&tx.original, &src).await;
        if let Err(e) = tx.reply_with(reply.status, reply.headers, None).await {
            tracing::debug!(error = %e, "sip: reply not sent");
        }
    }

    /// A REGISTER to the end: parsed, authenticated, the account allowed to bind (the
    /// service's rules), the new bindings planned, committed and listed in the 200.
    async fn register(&self, req: &rsip::Request, src: &Source) -> Result<Reply, Reply> {
        if let Some(r) = self.foreign_aor(req) {
            return Err(r);
        }
        // Parse everything before authenticating, so that a bad request costs nothing.
        let r = RegisterRequest::parse(req)?;
        let account = self.authenticate(req, &r.user, src, Auth::Www).await?;
        rules::licence_in_force(account.in_force != 0)?;

        let now = self.app.now();
        let state = self.state(account.id);
        let mut s = state.lock().await;
        self.load_bindings(&mut s, &account, now).await?;

        let before: Vec<String> = s.bindings.iter().map(|b| b.key.clone()).collect();
        let mut ops = Vec::new();
        if r.star {
            for b in s.bindings.drain(..) {
                ops.push(Op::Delete(account.id, b.key));
            }
        }
        let mut next = s.bindings.clone();
        for c in &r.contacts {
            self.apply_contact(&mut next, &mut ops, c, &r, &account, src, now)
                .await?;
        }
        rules::within_binding_limit(s.bindings.len(), next.len(), self.cfg.max_bindings)?;
        if next
            .iter()
            .any(|n| !s.bindings.iter().any(|b| b.key == n.key))
        {
            // A new device: other instances may hold bindings of this account too.
            ops.push(Op::Limit(account.id, self.cfg.max_bindings));
        }
        let after: Vec<&String> = next.iter().map(|b| &b.key).collect();
        let changed = before.len() != after.len() || before.iter().any(|k| !after.contains(&k));
        if changed {
            ops.push(Op::Event(account.enterprise_id, account.id));
            tracing::info!(
                account = account.id,
                bindings = after.len(),
                transport = %src.transport,
                source = %src.addr.map(|a| a.to_string()).unwrap_or_default(),
                "sip: registration changed"
            );
        }
        if !ops.is_empty() {
            match self.commit(ops).await {
                Written::Saved => {}
                Written::Full(n) => {
                    s.epoch = None;
                    return Err(rules::binding_limit_reached(n, self.cfg.max_bindings).into());
                }
                Written::Failed => {
                    s.epoch = None;
                    return Err(Reply::because(
                        500,
                        "Server Internal Error: bindings not saved",
                    ));
                }
            }
        }
        s.bindings = next;
        // A pushed-to Vec holds room for four bindings: most accounts have one device, and
        // at 10,000 accounts the spare room was the largest item of the heap profile.
        s.bindings.shrink_to_fit();
        Ok(bindings_reply(&s.bindings, now))
    }

    /// The account's bindings in memory, (re)loaded from the database on first touch or
    /// when its endpoints were signed out since (another `sip_epoch`); expired ones dropped.
    async fn load_bindings(
        &self,
        s: &mut AccountState,
        account: &SipAccount,
        now: Millis,
    ) -> Result<(), Reply> {
        if s.epoch != Some(account.sip_epoch) {
            let rows = match self.app.store.conn().await {
                Ok(mut c) => st::bindings_of(&mut c, account.id).await,
                Err(e) => Err(e),
            }
            .map_err(|_| Reply::new(500))?;
            s.bindings = rows
                .into_iter()
                .filter(|r| r.expires_at > now)
                .map(Binding::from_record)
                .collect();
            s.epoch = Some(account.sip_epoch);
        }
        s.enterprise_id = account.enterprise_id;
        s.bindings.retain(|b| b.expires_at > now);
        Ok(())
    }

    /// One Contact of a REGISTER applied to the planned bindings `next`: removed (expires
    /// 0), refreshed or added, with the database operation it needs pushed to `ops`.
    #[allow(clippy::too_many_arguments)]
    async fn apply_contact(
        &self,
        next: &mut Vec<Binding>,
        ops: &mut Vec<Op>,
        c: &rsip::typed::Contact,
        r: &RegisterRequest,
        account: &SipAccount,
        src: &Source,
        now: Millis,
    ) -> Result<(), Reply> {
        let key = binding_key(c);
        let secs = c
            .expires()
            .or(r.expires)
            .unwrap_or(self.cfg.default_expires);
        if secs != 0 && secs < self.cfg.min_expires {
            return Err(
                Reply::new(423).with(Header::MinExpires(rsip::MinExpires::new(
                    self.cfg.min_expires.to_string(),
                ))),
            );
        }
        let secs = secs.min(self.cfg.max_expires);
        let existing = next.iter().position(|b| b.key == key);
        if let Some(i) = existing {
            if next[i].call_id == r.call_id && next[i].cseq != 0 && r.cseq <= next[i].cseq {
                return Err(Reply::because(
                    500,
                    "Server Internal Error: request out of order",
                ));
            }
        }
        if secs == 0 {
            if let Some(i) = existing {
                next.remove(i);
                ops.push(Op::Delete(account.id, key));
            }
            return Ok(());
        }
        let (model, version, registered_at) = match existing {
            Some(i) => (
                next[i].device_model.clone(),
                next[i].device_version.clone(),
                next[i].registered_at,
            ),
            None => {
                let (m, v) = self.device_of(account.id, &key, &r.user_agent).await;
                (m, v, now)
            }
        };
        let b = Binding {
            key,
            contact: c.uri.to_string(),
            call_id: r.call_id.clone(),
            cseq: r.cseq,
            registered_at,
            expires_at: now + i64::from(secs) * 1000,
            transport: src.transport.clone(),
            source: src.addr.map(|a| a.to_string()).unwrap_or_default(),
            nat: behind_nat(c, src),
            device_model: model,
            device_version: version,
            connection: src.connection.clone(),
        };
        ops.push(Op::Upsert(b.record(account.id, &self.holder)));
        match existing {
            Some(i) => next[i] = b,
            None => next.push(b),
        }
        Ok(())
    }

    /// A new binding's device model and version: those its endpoint session (signed in
    /// over HTTP with this instance) recorded, else read from its User-Agent.
    async fn device_of(&self, account_id: i64, key: &str, user_agent: &str) -> (String, String) {
        let from_session = match self.app.store.conn().await {
            Ok(mut conn) => st::session_device(&mut conn, account_id, key)
                .await
                .ok()
                .flatten(),
            Err(_) => None,
        };
        match from_session {
            Some(d) => (d.device_model, d.device_version),
            None => model_and_version(user_agent),
        }
    }

    /// Hand `ops` to the committer and wait for its transaction.
    async fn commit(&self, ops: Vec<Op>) -> Written {
        let (done, wait) = oneshot::channel();
        let sent = self.commits.send(Commit {
            ops,
            done: Some(done),
        });
        if sent.is_err() {
            return Written::Failed;
        }
        wait.await.unwrap_or(Written::Failed)
    }

    /// Bindings of an account that other instances hold, by binding key: the address of
    /// the instance to forward a call to. Only PostgreSQL is shared by several instances.
    pub(crate) async fn held_elsewhere(&self, account_id: i64) -> Vec<(String, String)> {
        if self.app.store.backend != crate::store::Backend::Postgres {
            return vec![];
        }
        let found = match self.app.store.conn().await {
            Ok(mut c) => st::held_elsewhere(&mut c, account_id, &self.holder, self.app.now()).await,
            Err(e) => Err(e),
        };
        found.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "sip: bindings of other instances");
            vec![]
        })
    }

    /// Drop expired bindings from memory and the database, publishing the change.
    pub async fn expire(&self) {
        let now = self.app.now();
        self.nonces.sweep(now);
        let states: Vec<(i64, Arc<tokio::sync::Mutex<AccountState>>)> = lock(&self.accounts)
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        let mut ops = Vec::new();
        for (id, st) in states {
            let Ok(mut s) = st.try_lock() else { continue };
            let n = s.bindings.len();
            let mut gone = Vec::new();
            s.bindings.retain(|b| {
                let live = b.expires_at > now;
                if !live {
                    gone.push(b.key.clone());
                }
                live
            });
            if s.bindings.len() != n {
                for k in gone {
                    ops.push(Op::Expire(id, k));
                }
                ops.push(Op::Event(s.enterprise_id, id));
            }
            if s.bindings.is_empty() {
                drop(s);
                let mut all = lock(&self.accounts);
                let idle = all.get(&id).is_some_and(|a| {
                    Arc::strong_count(a) <= 2 && a.try_lock().is_ok_and(|s| s.bindings.is_empty())
                });
                if idle {
                    all.remove(&id);
                }
            }
        }
        if !ops.is_empty() {
            let _ = self.commits.send(Commit { ops, done: None });
        }
    }

    pub(crate) fn metrics(&self) -> &crate::metrics::Metrics {
        &self.app.metrics
    }

    /// Live bindings held here, by transport (for the metrics). An account whose bindings
    /// are being changed at this instant is left out of this reading.
    pub fn bindings_by_transport(&self) -> Vec<(&'static str, i64)> {
        let accounts: Vec<_> = lock(&self.accounts).values().cloned().collect();
        let now = self.app.now();
        let mut n = [0i64; 3];
        for st in accounts {
            let Ok(st) = st.try_lock() else { continue };
            for b in st.bindings.iter().filter(|b| b.expires_at > now) {
                let i = match b.transport.to_ascii_lowercase().as_str() {
                    "tcp" => 1,
                    "tls" => 2,
                    _ => 0,
                };
                n[i] += 1;
            }
        }
        vec![("udp", n[0]), ("tcp", n[1]), ("tls", n[2])]
    }

    /// Live bindings of an account as this registrar holds them.
    pub async fn bindings(&self, account_id: i64) -> Vec<Binding> {
        let st = lock(&self.accounts).get(&account_id).cloned();
        let now = self.app.now();
        match st {
            Some(st) => st
                .lock()
                .await
                .bindings
                .iter()
                .filter(|b| b.expires_at > now)
                .cloned()
                .collect(),
            None => vec![],
        }
    }

    /// Record that a call between `parties` (enterprise, account) started or ended, and
    /// tell the consoles; written with the next batch, nobody waits for it.
    pub(crate) fn call_state(&self, call_id: &str, parties: &[(i64, i64)], up: bool, now: Millis) {
        // One INFO line per call change; the messages themselves are DEBUG (rsipstack's).
        let accounts: Vec<i64> = parties.iter().map(|(_, a)| *a).collect();
        if up {
            tracing::info!(call = %call_id, ?accounts, "sip: call up");
        } else {
            tracing::info!(call = %call_id, "sip: call ended");
        }
        let mut ops = Vec::new();
        if up {
            for (_, a) in parties {
                ops.push(Op::CallUp(call_id.to_string(), *a, now));
            }
        } else {
            ops.push(Op::CallDown(call_id.to_string()));
        }
        for (e, a) in parties {
            ops.push(Op::Event(*e, *a));
        }
        let _ = self.calls.send(ops);
    }

    /// Remove one device's binding (endpoint sign-out).
    pub async fn unbind(&self, account_id: i64, enterprise_id: i64, key: &str) {
        let st = self.state(account_id);
        let mut s = st.lock().await;
        let n = s.bindings.len();
        s.bindings.retain(|b| b.key != key);
        let mut ops = vec![Op::Delete(account_id, key.to_string())];
        if s.bindings.len() != n {
            ops.push(Op::Event(enterprise_id, account_id));
        }
        let (done, wait) = oneshot::channel();
        if self
            .commits
            .send(Commit {
                ops,
                done: Some(done),
            })
            .is_ok()
        {
            let _ = wait.await;
        }
    }
}

/// A REGISTER's parts, parsed before authentication so that a bad request costs nothing.
struct RegisterRequest {
    /// The AOR's user: a 9-digit cloud number.
    user: String,
    call_id: String,
    cseq: u32,
    /// The Expires header, for contacts without an `expires` parameter.
    expires: Option<u32>,
    contacts: Vec<rsip::typed::Contact>,
    /// `Contact: *` (remove every binding).
    star: bool,
    user_agent: String,
}

impl RegisterRequest {
    fn parse(req: &rsip::Request) -> Result<Self, Reply> {
        let user = aor_user(req)?;
        let call_id = req
            .call_id_header()
            .map(|c| c.value().to_string())
            .map_err(|_| Reply::because(400, "Bad Request: Call-ID is missing"))?;
        let cseq = req
            .cseq_header()
            .and_then(|c| c.seq())
            .map_err(|_| Reply::because(400, "Bad Request: CSeq is missing or malformed"))?;
        let expires = match req.expires_header() {
            Some(e) => Some(e.value().trim().parse::<u32>().map_err(|_| {
                Reply::because(400, "Bad Request: Expires must be a number of seconds")
            })?),
            None => None,
        };
        let (contacts, star) = contacts_of(req)?;
        if star && (!contacts.is_empty() || expires != Some(0)) {
            return Err(Reply::because(
                400,
                "Bad Request: Contact * needs Expires: 0 and no other contact",
            ));
        }
        let user_agent = req
            .user_agent_header()
            .map(|u| u.value().to_string())
            .unwrap_or_default();
        Ok(Self {
            user,
            call_id,
            cseq,
            expires,
            contacts,
            star,
            user_agent,
        })
    }
}

/// The cloud number a REGISTER's To header names.
fn aor_user(req: &rsip::Request) -> Result<String, Reply> {
    let to = req
        .to_header()
        .and_then(|t| t.typed())
        .map_err(|_| Reply::because(400, "Bad Request: the To header is missing or malformed"))?;
    let user = to
        .uri
        .user()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| Reply::because(404, "Not Found: the To header must name a cloud number"))?
        .to_string();
    if user.len() != 9 || !user.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Reply::because(
            404,
            "Not Found: the To header must name a 9-digit cloud number",
        ));
    }
    Ok(user)
}

/// A REGISTER's contacts (at most 16) and whether it said `Contact: *`.
fn contacts_of(req: &rsip::Request) -> Result<(Vec<rsip::typed::Contact>, bool), Reply> {
    let mut contacts = Vec::new();
    let mut star = false;
    for h in req.headers.iter() {
        if let Header::Contact(c) = h {
            if c.value().trim() == "*" {
                star = true;
                continue;
            }
            let list = rsip::typed::Contact::parse_header_list(c.value())
                .map_err(|_| Reply::because(400, "Bad Request: a Contact header is malformed"))?;
            contacts.extend(list);
        }
    }
    if contacts.len() > 16 {
        return Err(Reply::because(
            400,
            "Bad Request: too many contacts in one REGISTER",
        ));
    }
    Ok((contacts, star))
}

/// Whether a contact sits behind NAT: its address is not the one the request came from
/// (RFC 3581); with a host name or no port, compare what we can.
fn behind_nat(c: &rsip::typed::Contact, src: &Source) -> bool {
    match (src.addr, SocketAddr::try_from(c.uri.host_with_port.clone())) {
        (Some(a), Ok(ca)) => a != ca,
        (Some(a), Err(_)) => a.ip().to_string() != c.uri.host_with_port.host.to_string(),
        _ => false,
    }
}

/// The 200 to a REGISTER: every binding of the account with the seconds it has left.
fn bindings_reply(bindings: &[Binding], now: Millis) -> Reply {
    let mut reply = Reply::new(200);
    for b in bindings {
        let left = ((b.expires_at - now) / 1000).max(0);
        reply = reply.with(Header::Contact(rsip::Contact::new(format!(
            "<{}>;expires={left}",
            b.contact
        ))));
    }
    reply.with(Header::Date(rsip::Date::new(http_date(now))))
}

impl From<Refusal> for Reply {
    fn from(r: Refusal) -> Self {
        Reply::because(r.status, &r.reason)
    }
}

fn http_date(ms: Millis) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms / 1000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.format(&f).unwrap_or_default()
}

/// Writes batches of binding changes, one transaction per batch, and answers each waiter
/// after the commit.
async fn committer(app: AppState, mut rx: mpsc::UnboundedReceiver<Commit>) {
    let mut batch: Vec<Commit> = Vec::new();
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < 1024 {
            match rx.try_recv() {
                Ok(c) => batch.push(c),
                Err(_) => break,
            }
        }
        let had_event = batch
            .iter()
            .any(|c| c.ops.iter().any(|o| matches!(o, Op::Event(..))));
        if write_batch(&app, &batch).await.is_ok() {
            for c in batch.drain(..) {
                if let Some(d) = c.done {
                    let _ = d.send(Written::Saved);
                }
            }
        } else {
            // One bad change (say, an account removed meanwhile) must not fail the others:
            // write them one by one.
            for c in batch.drain(..) {
                let one = std::slice::from_ref(&c);
                let written = match write_batch(&app, one).await {
                    Ok(()) => Written::Saved,
                    Err(e) => match e.downcast_ref::<LimitReached>() {
                        Some(LimitReached(n)) => Written::Full(*n),
                        None => {
                            tracing::warn!(error = %e, "sip: saving bindings failed");
                            Written::Failed
                        }
                    },
                };
                if let Some(d) = c.done {
                    let _ = d.send(written);
                }
            }
        }
        if had_event {
            // Streams look now; registrations do not invalidate credentials.
            app.changed.notify_waiters();
        }
    }
}

async fn write_batch(app: &App, batch: &[Commit]) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let mut tx = app.store.begin().await?;
    let now = app.now();
    // Accounts whose limit is checked: locked first, in one order on every instance.
    let mut limited: Vec<(i64, usize)> = batch
        .iter()
        .flat_map(|c| &c.ops)
        .filter_map(|o| match o {
            Op::Limit(a, max) => Some((*a, *max)),
            _ => None,
        })
        .collect();
    limited.sort_unstable();
    limited.dedup_by_key(|(a, _)| *a);
    for (a, _) in &limited {
        st::lock_account(&mut tx, *a).await?;
    }
    for c in batch {
        for op in &c.ops {
            match op {
                Op::Limit(..) => {}
                Op::Upsert(b) => st::upsert_binding(&mut tx, b).await?,
                Op::Delete(a, k) => st::delete_binding(&mut tx, *a, k).await?,
                Op::Expire(a, k) => st::delete_binding_if_expired(&mut tx, *a, k, now).await?,
                Op::Event(e, a) => {
                    crate::store::events::insert(
                        &mut tx,
                        *e,
                        vcms_api::EventKind::BindingChanged.as_str(),
                        Some(*a),
                        now,
                    )
                    .await?
                }
                Op::CallUp(call_id, a, at) => st::call_up(&mut tx, call_id, *a, *at).await?,
                Op::CallDown(call_id) => st::call_down(&mut tx, call_id).await?,
            }
        }
    }
    for (a, max) in limited {
        let n = usize::try_from(st::live_count(&mut tx, a, now).await?).unwrap_or(usize::MAX);
        if n > max {
            // Without this batch's new bindings the account has at least `max`; the
            // batch is rolled back (and written again commit by commit).
            return Err(LimitReached(max).into());
        }
    }
    tx.commit().await?;
    app.metrics.binding_commit(started.elapsed());
    Ok(())
}

/// Gathers call starts and ends for `CALL_BATCH` and hands them to the committer as one
/// batch, with one change event per account: nobody waits for these writes, and at a few
/// hundred calls a second one transaction per call would cost more than the call.
async fn call_batcher(
    mut rx: mpsc::UnboundedReceiver<Vec<Op>>,
    commits: mpsc::UnboundedSender<Commit>,
) {
    while let Some(first) = rx.recv().await {
        tokio::time::sleep(CALL_BATCH).await;
        let mut ops = first;
        while let Ok(more) = rx.try_recv() {
            ops.extend(more);
        }
        let mut seen = std::collections::HashSet::new();
        let mut events = Vec::new();
        ops.retain(|o| match o {
            Op::Event(e, a) => {
                if seen.insert((*e, *a)) {
                    events.push(Op::Event(*e, *a));
                }
                false
            }
            _ => true,
        });
        ops.extend(events);
        if commits.send(Commit { ops, done: None }).is_err() {
            break;
        }
    }
}

/// How long call starts and ends wait to be written together.
pub const CALL_BATCH: Duration = Duration::from_millis(100);

/// How long a credential read stays good when nothing changed on this instance.
pub const CREDENTIAL_TTL: Millis = 2_000;

/// How often the expiry timer runs.
pub const EXPIRY_TICK: Duration = Duration::from_millis(500);
