//! What an operator watches: counters and histograms kept by the request path, the sign-in
//! rules, the SIP service and the mailer, plus gauges read when Prometheus scrapes
//! (`GET /metrics`, OpenMetrics text from the `prometheus-client` crate). One [`Metrics`]
//! per server, so two servers in one process (the tests) count apart.

use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: &'static str,
    /// The route's pattern (`/api/v1/accounts/{id}`), never the raw path: ids and
    /// unknown paths do not make new series.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabel {
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransportLabel {
    transport: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

pub(crate) fn latency() -> Histogram {
    // 0.5 ms … 8 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

/// How a sign-in (or its second step) ended, for `vcms_sign_ins_total{result}`.
#[derive(Debug, Clone, Copy)]
pub enum SignIn {
    Ok,
    Failed,
    Frozen,
    Throttled,
    MfaRequired,
    MfaOk,
    MfaFailed,
    Refused,
}

impl SignIn {
    /// How a sign-in request ended: `error` is its error code, None when it succeeded;
    /// `mfa_step` for the second step (the emailed code).
    pub fn of(error: Option<vcms_api::ErrorCode>, mfa_step: bool) -> Self {
        use vcms_api::ErrorCode as E;
        match error {
            None if mfa_step => SignIn::MfaOk,
            None => SignIn::Ok,
            Some(E::MfaRequired) => SignIn::MfaRequired,
            Some(E::Frozen | E::Locked) => SignIn::Frozen,
            Some(E::Throttled | E::CaptchaRequired | E::CaptchaExpired) => SignIn::Throttled,
            Some(E::InvalidCredentials) => SignIn::Failed,
            Some(E::MfaWrong | E::MfaLocked | E::MfaExpired | E::MfaInvalid | E::MfaUsed) => {
                SignIn::MfaFailed
            }
            Some(_) => SignIn::Refused,
        }
    }

    fn label(self) -> &'static str {
        match self {
            SignIn::Ok => "ok",
            SignIn::Failed => "failed",
            SignIn::Frozen => "frozen",
            SignIn::Throttled => "throttled",
            SignIn::MfaRequired => "mfa_required",
            SignIn::MfaOk => "mfa_ok",
            SignIn::MfaFailed => "mfa_failed",
            SignIn::Refused => "refused",
        }
    }
}

/// What an email did, for `vcms_emails_total{event}`.
#[derive(Debug, Clone, Copy)]
pub enum Email {
    Queued,
    Sent,
    Retried,
    Failed,
}

/// What the scrape reads from the SIP service (set once it listens).
pub trait SipGauges: Send + Sync {
    /// Live bindings by transport (`udp`, `tcp`, `tls`).
    fn bindings_by_transport(&self) -> Vec<(&'static str, i64)>;
    /// Calls answered and not ended on this instance.
    fn calls_in_progress(&self) -> i64;
    /// The transaction layer's transactions (INVITE, BYE and what the proxy relays; REGISTER
    /// and OPTIONS never make one) by state: `running`, `finished` (kept to absorb
    /// retransmissions until their timers end), `waiting_ack`.
    fn transactions(&self) -> Vec<(&'static str, i64)>;
}

/// The gauges a scrape sets from the database.
#[derive(Debug, Default, Clone, Copy)]
pub struct DbReadings {
    pub pool_size: i64,
    pub pool_idle: i64,
    pub pool_max: i64,
    pub ping: Option<Duration>,
    pub outbox_queued: i64,
    pub outbox_oldest_age: Option<Duration>,
}

pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_latency: Histograms<HttpLabels>,
    sign_ins: Family<ResultLabel, Counter>,
    sip_requests: Family<MethodLabel, Counter>,
    sip_responses: Family<CodeLabel, Counter>,
    registrations: Family<ResultLabel, Counter>,
    digest_failures: Counter,
    bindings: Family<TransportLabel, Gauge>,
    calls: Family<ResultLabel, Counter>,
    calls_in_progress: Gauge,
    transactions: Family<StateLabel, Gauge>,
    emails: Family<ResultLabel, Counter>,
    outbox_queued: Gauge,
    outbox_oldest: Gauge<f64, AtomicU64>,
    pool: Family<StateLabel, Gauge>,
    pool_max: Gauge,
    db_acquire: Histogram,
    db_ping: Gauge<f64, AtomicU64>,
    binding_commit: Histogram,
    memory: Gauge<i64, AtomicI64>,
    ssh_connections: Family<ResultLabel, Counter>,
    ssh_consoles: Gauge,
    sip: OnceLock<Arc<dyn SipGauges>>,
}

impl Metrics {
    /// `db_waits`: the store's own histogram of connection and transaction waits.
    pub fn new(db_waits: Histogram) -> Self {
        let mut m = Metrics {
            registry: Registry::with_prefix("vcms"),
            http_requests: Family::default(),
            http_latency: Family::new_with_constructor(latency),
            sign_ins: Family::default(),
            sip_requests: Family::default(),
            sip_responses: Family::default(),
            registrations: Family::default(),
            digest_failures: Counter::default(),
            bindings: Family::default(),
            calls: Family::default(),
            calls_in_progress: Gauge::default(),
            transactions: Family::default(),
            emails: Family::default(),
            outbox_queued: Gauge::default(),
            outbox_oldest: Gauge::default(),
            pool: Family::default(),
            pool_max: Gauge::default(),
            db_acquire: db_waits,
            db_ping: Gauge::default(),
            binding_commit: latency(),
            memory: Gauge::default(),
            ssh_connections: Family::default(),
            ssh_consoles: Gauge::default(),
            sip: OnceLock::new(),
        };
        let r = &mut m.registry;
        r.register(
            "http_requests",
            "HTTP requests answered, by method, route and status",
            m.http_requests.clone(),
        );
        r.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route and status",
            m.http_latency.clone(),
        );
        r.register(
            "sign_ins",
            "Administrator sign-ins by result (ok, failed, frozen, throttled, mfa_required, mfa_ok, mfa_failed, refused)",
            m.sign_ins.clone(),
        );
        r.register(
            "sip_requests",
            "SIP requests received, by method",
            m.sip_requests.clone(),
        );
        r.register(
            "sip_responses",
            "SIP responses this service answered itself (registrar, refusals), by code",
            m.sip_responses.clone(),
        );
        r.register(
            "sip_registrations",
            "REGISTER requests by result (ok, challenged, refused)",
            m.registrations.clone(),
        );
        r.register(
            "sip_digest_failures",
            "Wrong digest answers (REGISTER and INVITE)",
            m.digest_failures.clone(),
        );
        r.register(
            "sip_bindings",
            "Live registrations held by this instance, by transport",
            m.bindings.clone(),
        );
        r.register(
            "sip_calls",
            "Calls by outcome (set_up: answered; failed: a final error to the caller)",
            m.calls.clone(),
        );
        r.register(
            "sip_calls_in_progress",
            "Calls answered and not ended on this instance",
            m.calls_in_progress.clone(),
        );
        r.register(
            "sip_transactions",
            "SIP transactions held by the transaction layer, by state (running, finished, waiting_ack)",
            m.transactions.clone(),
        );
        r.register(
            "emails",
            "Emails by event (queued, sent, retried, failed)",
            m.emails.clone(),
        );
        r.register(
            "outbox_queued",
            "Emails waiting in the outbox",
            m.outbox_queued.clone(),
        );
        r.register(
            "outbox_oldest_age_seconds",
            "Age of the oldest email waiting in the outbox (0 when it is empty)",
            m.outbox_oldest.clone(),
        );
        r.register(
            "db_pool_connections",
            "Database connections of this instance's pool, by state (idle, busy)",
            m.pool.clone(),
        );
        r.register(
            "db_pool_max_connections",
            "Most connections the pool opens (database.max_connections)",
            m.pool_max.clone(),
        );
        r.register(
            "db_wait_seconds",
            "Wait for a database connection, or for a transaction to start (on SQLite: the write lock)",
            m.db_acquire.clone(),
        );
        r.register(
            "db_ping_seconds",
            "Round trip of a SELECT 1, measured at the last scrape",
            m.db_ping.clone(),
        );
        r.register(
            "sip_binding_commit_duration_seconds",
            "Time to commit a batch of registrations to the database (they are answered after it)",
            m.binding_commit.clone(),
        );
        r.register(
            "process_resident_memory_bytes",
            "Resident memory of the server process",
            m.memory.clone(),
        );
        r.register(
            "ssh_connections",
            "Connections to the console over SSH, by result (accepted, refused: too many open)",
            m.ssh_connections.clone(),
        );
        r.register(
            "ssh_consoles",
            "Consoles open over SSH",
            m.ssh_consoles.clone(),
        );
        m
    }

    /// A connection to the SSH console let in (`true`) or refused for the limits.
    pub fn ssh_connection(&self, accepted: bool) {
        let result = if accepted { "accepted" } else { "refused" };
        self.ssh_connections
            .get_or_create(&ResultLabel { result })
            .inc();
    }

    /// A console over SSH opened (`true`) or ended.
    pub fn ssh_console(&self, opened: bool) {
        if opened {
            self.ssh_consoles.inc();
        } else {
            self.ssh_consoles.dec();
        }
    }

    /// Count an HTTP request answered in `took`.
    pub fn http(&self, labels: HttpLabels, took: Duration) {
        self.http_latency
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        self.http_requests.get_or_create(&labels).inc();
    }

    pub fn sign_in(&self, r: SignIn) {
        self.sign_ins
            .get_or_create(&ResultLabel { result: r.label() })
            .inc();
    }

    /// A SIP request received. Methods outside RFC 3261's and its extensions' are counted
    /// as `other`, so a flood of invented methods makes no new series.
    pub fn sip_request(&self, method: &str) {
        const KNOWN: [&str; 14] = [
            "INVITE",
            "ACK",
            "CANCEL",
            "BYE",
            "OPTIONS",
            "REGISTER",
            "UPDATE",
            "INFO",
            "PRACK",
            "REFER",
            "NOTIFY",
            "MESSAGE",
            "SUBSCRIBE",
            "PUBLISH",
        ];
        let method = KNOWN.into_iter().find(|k| *k == method).unwrap_or("other");
        self.sip_requests
            .get_or_create(&MethodLabel { method })
            .inc();
    }

    /// A SIP response this service made (codes are 100–699 by construction).
    pub fn sip_response(&self, code: u16) {
        self.sip_responses.get_or_create(&CodeLabel { code }).inc();
    }

    /// A REGISTER answered with `code`.
    pub fn registration(&self, code: u16) {
        let result = match code {
            200..=299 => "ok",
            401 | 407 => "challenged",
            _ => "refused",
        };
        self.registrations
            .get_or_create(&ResultLabel { result })
            .inc();
    }

    pub fn digest_failure(&self) {
        self.digest_failures.inc();
    }

    /// A call answered (`true`) or refused or failed before any answer (`false`).
    pub fn call(&self, set_up: bool) {
        let result = if set_up { "set_up" } else { "failed" };
        self.calls.get_or_create(&ResultLabel { result }).inc();
    }

    pub fn email(&self, e: Email) {
        let result = match e {
            Email::Queued => "queued",
            Email::Sent => "sent",
            Email::Retried => "retried",
            Email::Failed => "failed",
        };
        self.emails.get_or_create(&ResultLabel { result }).inc();
    }

    pub fn binding_commit(&self, took: Duration) {
        self.binding_commit.observe(took.as_secs_f64());
    }

    /// The SIP service's gauges, read at every scrape.
    pub fn watch_sip(&self, sip: Arc<dyn SipGauges>) {
        let _ = self.sip.set(sip);
    }

    /// The text a scrape gets, with the gauges read now.
    pub fn render(&self, db: DbReadings) -> String {
        self.pool
            .get_or_create(&StateLabel { state: "idle" })
            .set(db.pool_idle);
        self.pool
            .get_or_create(&StateLabel { state: "busy" })
            .set((db.pool_size - db.pool_idle).max(0));
        self.pool_max.set(db.pool_max);
        self.db_ping
            .set(db.ping.map(|d| d.as_secs_f64()).unwrap_or(f64::NAN));
        self.outbox_queued.set(db.outbox_queued);
        self.outbox_oldest
            .set(db.outbox_oldest_age.map(|d| d.as_secs_f64()).unwrap_or(0.0));
        if let Some(sip) = self.sip.get() {
            let mut seen = vec![("udp", 0), ("tcp", 0), ("tls", 0)];
            for (t, n) in sip.bindings_by_transport() {
                match seen.iter_mut().find(|(k, _)| *k == t) {
                    Some(s) => s.1 += n,
                    None => seen.push((t, n)),
                }
            }
            for (transport, n) in seen {
                self.bindings
                    .get_or_create(&TransportLabel { transport })
                    .set(n);
            }
            self.calls_in_progress.set(sip.calls_in_progress());
            for (state, n) in sip.transactions() {
                self.transactions
                    .get_or_create(&StateLabel { state })
                    .set(n);
            }
        }
        self.memory.set(resident_bytes());
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// The process's resident memory (Linux `/proc/self/statm`; 0 elsewhere).
fn resident_bytes() -> i64 {
    let Ok(s) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: i64 = s
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // x86_64 and aarch64 Linux use 4 KiB pages unless configured otherwise.
    pages * 4096
}

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_show_in_the_text_and_unknown_methods_make_no_series() {
        let m = Metrics::new(latency());
        m.sign_in(SignIn::Failed);
        m.sign_in(SignIn::Failed);
        m.sip_request("REGISTER");
        m.sip_request("FOOBAR1");
        m.sip_request("FOOBAR2");
        let text = m.render(DbReadings::default());
        assert!(
            text.contains("vcms_sign_ins_total{result=\"failed\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("vcms_sip_requests_total{method=\"other\"} 2"),
            "{text}"
        );
        assert!(!text.contains("FOOBAR"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
