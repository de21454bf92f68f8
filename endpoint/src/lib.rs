//! vcms-endpoint: a small SIP user agent for the `vcms-endpoint` emulator and the tests:
//! REGISTER over UDP, TCP or TLS with digest authentication, and calls (INVITE with proxy
//! authentication, answering, ACK, CANCEL, BYE and other requests inside a dialog). Messages
//! are parsed with rsipstack's parser. It shares only the digest code (`vcms-digest`) with
//! the server, and signs in through `vcms-api`'s client (in the binary).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rsipstack::sip as rsip;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

pub use vcms_digest::Algorithm;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "udp" => Some(Self::Udp),
            "tcp" => Some(Self::Tcp),
            "tls" => Some(Self::Tls),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
            Self::Tls => "TLS",
        }
    }
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

enum Conn {
    Udp(UdpSocket),
    Stream(Box<dyn Stream>, Vec<u8>),
}

pub use rsipstack::sip::Request;

/// A final or provisional response, parsed.
#[derive(Debug, Clone)]
pub struct Response {
    pub code: u16,
    pub reason: String,
    pub msg: rsip::Response,
}

impl Response {
    fn of(msg: rsip::Response) -> Self {
        let code = msg.status_code.code();
        let reason = msg
            .wire_reason
            .clone()
            .unwrap_or_else(|| msg.status_code.text().to_string());
        Response { code, reason, msg }
    }
    /// The method of the request this answers (from CSeq).
    pub fn method(&self) -> String {
        self.header("CSeq")
            .and_then(|c| c.split_whitespace().nth(1).map(str::to_string))
            .unwrap_or_default()
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers(name).into_iter().next()
    }
    pub fn headers(&self, name: &str) -> Vec<String> {
        self.msg
            .headers
            .iter()
            .filter(|h| h.name().eq_ignore_ascii_case(name))
            .map(|h| h.value().to_string())
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub server: SocketAddr,
    pub transport: Transport,
    pub domain: String,
    pub user: String,
    pub password: String,
    /// `+sip.instance` UUID; None sends no instance (the binding is then keyed by Contact).
    pub instance: Option<String>,
    pub user_agent: String,
    /// Trust this PEM certificate for TLS; None accepts any certificate (self-signed).
    pub tls_ca: Option<std::path::PathBuf>,
    pub algorithm: Algorithm,
    /// Advertise this contact address instead of the socket's (pretend to be behind NAT).
    pub contact_addr: Option<SocketAddr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Mine,
    Star,
    Query,
}

pub struct Ua {
    pub opts: Options,
    conn: Conn,
    pub local: SocketAddr,
    pub call_id: String,
    cseq: u32,
    tag: String,
    nc: u32,
    /// Requests that arrived while a response was awaited, and the other way round.
    requests: std::collections::VecDeque<rsip::Request>,
    responses: std::collections::VecDeque<Response>,
}

/// `n` random lowercase hexadecimal digits (Call-IDs, tags, branches, cnonces).
fn rand_hex(n: usize) -> String {
    use rand::Rng;
    let mut rng = rand::rngs::OsRng;
    (0..n)
        .map(|_| char::from(b"0123456789abcdef"[rng.gen_range(0..16)]))
        .collect()
}

#[derive(Debug)]
struct AcceptAny;

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &rustls::pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            m,
            c,
            d,
            &rustls::crypto::ring::default_provider().signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &rustls::pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            m,
            c,
            d,
            &rustls::crypto::ring::default_provider().signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

async fn tls_connect(
    addr: SocketAddr,
    host: &str,
    ca: Option<&std::path::Path>,
) -> anyhow::Result<(Box<dyn Stream>, SocketAddr)> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cfg = match ca {
        Some(path) => {
            let pem = std::fs::read(path)?;
            let mut roots = rustls::RootCertStore::empty();
            for c in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
                roots.add(c?)?;
            }
            rustls::ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth()
        }
        None => rustls::ClientConfig::builder()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny))
            .with_no_client_auth(),
    };
    let tcp = TcpStream::connect(addr).await?;
    let local = tcp.local_addr()?;
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .unwrap_or_else(|_| rustls::pki_types::ServerName::IpAddress(addr.ip().into()));
    let s = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await?;
    Ok((Box::new(s), local))
}

use rustls::pki_types::pem::PemObject;

impl Ua {
    pub async fn connect(opts: Options) -> anyhow::Result<Self> {
        Self::connect_from(opts, None).await
    }

    /// Like [`Self::connect`], sending from `local` (an address of this host; port 0 picks
    /// one) over UDP instead of the one the system picks. TCP and TLS ignore it.
    pub async fn connect_from(opts: Options, local: Option<SocketAddr>) -> anyhow::Result<Self> {
        let (conn, local) = match opts.transport {
            Transport::Udp => {
                let bind: SocketAddr = match local {
                    Some(a) => a,
                    None if opts.server.is_ipv6() => "[::]:0".parse()?,
                    None => "0.0.0.0:0".parse()?,
                };
                let s = UdpSocket::bind(bind).await?;
                s.connect(opts.server).await?;
                let local = s.local_addr()?;
                (Conn::Udp(s), local)
            }
            Transport::Tcp => {
                let s = TcpStream::connect(opts.server).await?;
                let local = s.local_addr()?;
                (Conn::Stream(Box::new(s), Vec::new()), local)
            }
            Transport::Tls => {
                let host = if opts.domain.is_empty() {
                    "localhost".to_string()
                } else {
                    opts.domain.clone()
                };
                let (s, local) = tls_connect(opts.server, &host, opts.tls_ca.as_deref()).await?;
                (Conn::Stream(s, Vec::new()), local)
            }
        };
        Ok(Self {
            opts,
            conn,
            local,
            call_id: format!("{}@vcms-endpoint", rand_hex(20)),
            cseq: 0,
            tag: rand_hex(10),
            nc: 0,
            requests: Default::default(),
            responses: Default::default(),
        })
    }

    /// The address this UA puts in its Contact.
    pub fn contact_addr(&self) -> SocketAddr {
        self.opts.contact_addr.unwrap_or(self.local)
    }

    fn register_text(&mut self, expires: Option<u32>, mode: Mode, auth: Option<String>) -> String {
        self.cseq += 1;
        let o = &self.opts;
        let t = o.transport.name();
        let contact = if mode == Mode::Star {
            "Contact: *\r\n".to_string()
        } else if mode == Mode::Query {
            String::new()
        } else {
            let inst = o
                .instance
                .as_ref()
                .map(|i| format!(";+sip.instance=\"<urn:uuid:{i}>\""))
                .unwrap_or_default();
            format!(
                "Contact: <sip:{}@{};transport={}>{inst}\r\n",
                o.user,
                self.contact_addr(),
                t.to_ascii_lowercase()
            )
        };
        let mut m = format!(
            "REGISTER sip:{domain} SIP/2.0\r\n\
             Via: SIP/2.0/{t} {local};rport;branch=z9hG4bK{branch}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{user}@{domain}>;tag={tag}\r\n\
             To: <sip:{user}@{domain}>\r\n\
             Call-ID: {cid}\r\n\
             CSeq: {cseq} REGISTER\r\n\
             {contact}\
             User-Agent: {ua}\r\n",
            domain = o.domain,
            local = self.contact_addr(),
            branch = rand_hex(16),
            user = o.user,
            tag = self.tag,
            cid = self.call_id,
            cseq = self.cseq,
            ua = o.user_agent,
        );
        if let Some(e) = expires {
            m.push_str(&format!("Expires: {e}\r\n"));
        }
        if let Some(a) = auth {
            m.push_str(&format!("Authorization: {a}\r\n"));
        }
        m.push_str("Content-Length: 0\r\n\r\n");
        m
    }

    /// The Authorization answer to a 401's challenge (or a 407's: Proxy-Authenticate).
    pub fn answer(&mut self, resp: &Response, method: &str, uri: &str) -> anyhow::Result<String> {
        let want = self.opts.algorithm;
        let mut challenges = resp.headers("WWW-Authenticate");
        challenges.extend(resp.headers("Proxy-Authenticate"));
        let ch = challenges
            .iter()
            .find(|c| {
                let alg = c
                    .to_ascii_lowercase()
                    .split("algorithm=")
                    .nth(1)
                    .map(|a| a.trim_start_matches('"').to_string())
                    .unwrap_or_default();
                match want {
                    Algorithm::Md5 => alg.starts_with("md5") || !c.contains("algorithm="),
                    Algorithm::Sha256 => alg.starts_with("sha-256"),
                }
            })
            .ok_or_else(|| anyhow::anyhow!("the server offered no {} challenge", want.name()))?;
        let p = vcms_digest::parse_challenge(ch).map_err(|e| anyhow::anyhow!(e))?;
        let realm = p.get("realm").cloned().unwrap_or_default();
        let nonce = p.get("nonce").cloned().unwrap_or_default();
        self.nc += 1;
        let cred = vcms_digest::Credentials {
            username: self.opts.user.clone(),
            realm: realm.clone(),
            nonce: nonce.clone(),
            uri: uri.to_string(),
            response: String::new(),
            algorithm: Some(want.name().into()),
            qop: Some("auth".into()),
            nc: Some(format!("{:08x}", self.nc)),
            cnonce: Some(rand_hex(16)),
            opaque: p.get("opaque").cloned(),
        };
        let ha1 = vcms_digest::ha1(want, &self.opts.user, &realm, &self.opts.password);
        let response = vcms_digest::expected_response(want, &ha1, method, &cred);
        let mut h = format!(
            "Digest username=\"{}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", algorithm={}, qop=auth, nc={}, cnonce=\"{}\"",
            self.opts.user,
            want.name(),
            cred.nc.as_deref().unwrap_or_default(),
            cred.cnonce.as_deref().unwrap_or_default()
        );
        if let Some(o) = &cred.opaque {
            h.push_str(&format!(", opaque=\"{o}\""));
        }
        Ok(h)
    }

    /// REGISTER (with `expires`, or none to let the server choose), answering one challenge.
    pub async fn register(&mut self, expires: Option<u32>) -> anyhow::Result<Response> {
        self.register_as(expires, Mode::Mine).await
    }

    /// `Contact: *` with `Expires: 0`: remove every binding of the account.
    pub async fn unregister_all(&mut self) -> anyhow::Result<Response> {
        self.register_as(Some(0), Mode::Star).await
    }

    /// A REGISTER without Contact: the answer lists the account's bindings.
    pub async fn query(&mut self) -> anyhow::Result<Response> {
        self.register_as(None, Mode::Query).await
    }

    async fn register_as(&mut self, expires: Option<u32>, mode: Mode) -> anyhow::Result<Response> {
        let first = self.register_text(expires, mode, None);
        let r = self.transact(&first).await?;
        if r.code != 401 {
            return Ok(r);
        }
        let uri = format!("sip:{}", self.opts.domain);
        let auth = self.answer(&r, "REGISTER", &uri)?;
        let second = self.register_text(expires, mode, Some(auth));
        self.transact(&second).await
    }

    /// Send a request (retransmitting over UDP) and wait for its final response.
    pub async fn transact(&mut self, text: &str) -> anyhow::Result<Response> {
        self.send_raw(text.as_bytes()).await?;
        let mut wait = Duration::from_millis(500);
        let mut tries = 0;
        loop {
            match tokio::time::timeout(wait, self.recv()).await {
                Ok(r) => {
                    let r = r?;
                    if r.code >= 200 {
                        return Ok(r);
                    }
                }
                Err(_) => {
                    tries += 1;
                    if tries > 6 {
                        anyhow::bail!("no answer from {}", self.opts.server);
                    }
                    if matches!(self.conn, Conn::Udp(_)) {
                        self.send_raw(text.as_bytes()).await?;
                        wait = (wait * 2).min(Duration::from_secs(4));
                    }
                }
            }
        }
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        match &mut self.conn {
            Conn::Udp(s) => {
                s.send(bytes).await?;
            }
            Conn::Stream(s, _) => {
                s.write_all(bytes).await?;
                s.flush().await?;
            }
        }
        Ok(())
    }

    /// The next response that arrives (requests that arrive meanwhile are kept for
    /// [`Self::next_request`]).
    pub async fn recv(&mut self) -> anyhow::Result<Response> {
        if let Some(r) = self.responses.pop_front() {
            return Ok(r);
        }
        loop {
            match self.recv_message().await? {
                rsip::SipMessage::Response(msg) => return Ok(Response::of(msg)),
                rsip::SipMessage::Request(r) => self.requests.push_back(r),
            }
        }
    }

    /// The next request the server sends us (an INVITE, ACK, BYE, CANCEL, …); responses that
    /// arrive meanwhile are kept for [`Self::recv`]. Cancel-safe.
    pub async fn next_request(&mut self) -> anyhow::Result<rsip::Request> {
        if let Some(r) = self.requests.pop_front() {
            return Ok(r);
        }
        loop {
            match self.recv_message().await? {
                rsip::SipMessage::Request(r) => return Ok(r),
                rsip::SipMessage::Response(msg) => self.responses.push_back(Response::of(msg)),
            }
        }
    }

    /// The next message of any kind.
    async fn recv_message(&mut self) -> anyhow::Result<rsip::SipMessage> {
        loop {
            let bytes = match &mut self.conn {
                Conn::Udp(s) => {
                    let mut buf = vec![0u8; 65535];
                    let n = s.recv(&mut buf).await?;
                    buf.truncate(n);
                    buf
                }
                Conn::Stream(s, pending) => read_stream_message(s, pending).await?,
            };
            if bytes.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            match rsip::SipMessage::try_from(bytes.as_slice()) {
                Ok(m) => return Ok(m),
                Err(e) => anyhow::bail!("unreadable message from the server: {e}"),
            }
        }
    }
}

/// One message from a stream: the head up to the blank line, then Content-Length bytes.
async fn read_stream_message(
    s: &mut Box<dyn Stream>,
    pending: &mut Vec<u8>,
) -> anyhow::Result<Vec<u8>> {
    loop {
        while pending.starts_with(b"\r\n") {
            pending.drain(..2);
        }
        if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&pending[..end]).to_string();
            let len = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    let k = k.trim();
                    (k.eq_ignore_ascii_case("content-length") || k == "l")
                        .then(|| v.trim().parse::<usize>().ok())
                        .flatten()
                })
                .unwrap_or(0);
            let total = end + 4 + len;
            if pending.len() >= total {
                let msg: Vec<u8> = pending.drain(..total).collect();
                return Ok(msg);
            }
        }
        let mut buf = [0u8; 8192];
        let n = s.read(&mut buf).await?;
        if n == 0 {
            anyhow::bail!("the server closed the connection");
        }
        pending.extend_from_slice(&buf[..n]);
    }
}

impl std::fmt::Debug for Ua {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ua")
            .field("server", &self.opts.server)
            .field("user", &self.opts.user)
            .finish()
    }
}

/// One side's view of a call (RFC 3261 §12): what its requests inside the call carry.
#[derive(Debug, Clone)]
pub struct Dialog {
    pub call_id: String,
    /// Our From header value, with our tag.
    pub local: String,
    /// The peer's, with its tag.
    pub remote: String,
    /// The peer's Contact URI.
    pub remote_target: String,
    /// Route set, first hop first.
    pub route: Vec<String>,
    pub cseq: u32,
    pub invite_cseq: u32,
}

/// An INVITE we sent that has no final answer yet.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub call_id: String,
    pub tag: String,
    pub uri: String,
    pub cseq: u32,
    pub branch: String,
    pub body: String,
    auth: Option<String>,
    /// The provisional responses seen so far (100, 180, 183).
    pub provisional: Vec<Response>,
}

/// The values of a request's headers called `name`.
pub fn request_headers(r: &rsip::Request, name: &str) -> Vec<String> {
    r.headers
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case(name))
        .map(|h| h.value().to_string())
        .collect()
}

/// The first value of a request's header called `name`, or "".
pub fn request_header(r: &rsip::Request, name: &str) -> String {
    request_headers(r, name)
        .into_iter()
        .next()
        .unwrap_or_default()
}

/// The URI inside `<>` of a name-addr, or the value up to its parameters.
fn addr_spec(v: &str) -> String {
    match (v.find('<'), v.find('>')) {
        (Some(a), Some(b)) if b > a => v[a + 1..b].to_string(),
        _ => v.split(';').next().unwrap_or(v).trim().to_string(),
    }
}

/// A header value with its `tag` parameter, if it has one.
fn tag_of(v: &str) -> Option<String> {
    let params = match v.rfind('>') {
        Some(i) => &v[i + 1..],
        None => v,
    };
    params
        .split(';')
        .find_map(|p| p.trim().strip_prefix("tag=").map(str::to_string))
}

fn all_entries(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| vcms_digest::route_entries(v))
        .collect()
}

/// A minimal audio offer or answer; media never passes through the server, so any port the
/// device picks is carried as it is.
pub fn sdp(addr: SocketAddr, port: u16) -> String {
    let ip = addr.ip();
    let v = if ip.is_ipv6() { "IP6" } else { "IP4" };
    format!(
        "v=0\r\no=vcms 1 1 IN {v} {ip}\r\ns=vcms\r\nc=IN {v} {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n"
    )
}

impl Ua {
    /// Our Contact header value.
    pub fn contact(&self) -> String {
        format!(
            "<sip:{}@{};transport={}>",
            self.opts.user,
            self.contact_addr(),
            self.opts.transport.name().to_ascii_lowercase()
        )
    }

    fn via(&self, branch: &str) -> String {
        format!(
            "SIP/2.0/{} {};rport;branch={branch}",
            self.opts.transport.name(),
            self.contact_addr()
        )
    }

    fn body_headers(body: &str) -> String {
        if body.is_empty() {
            "Content-Length: 0\r\n\r\n".to_string()
        } else {
            format!(
                "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
        }
    }

    /// The start of a request on the INVITE's branch: request line, Via, From, To,
    /// Call-ID and CSeq.
    fn branch_head(&self, o: &Outgoing, method: &str, to: &str) -> String {
        format!(
            "{method} {uri} SIP/2.0\r\n\
             Via: {via}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{user}@{domain}>;tag={tag}\r\n\
             To: {to}\r\n\
             Call-ID: {cid}\r\n\
             CSeq: {cseq} {method}\r\n",
            uri = o.uri,
            via = self.via(&o.branch),
            user = self.opts.user,
            domain = self.opts.domain,
            tag = o.tag,
            cid = o.call_id,
            cseq = o.cseq,
        )
    }

    fn invite_text(&self, o: &Outgoing) -> String {
        let mut m = self.branch_head(o, "INVITE", &format!("<{}>", o.uri));
        m.push_str(&format!(
            "Contact: {}\r\nUser-Agent: {}\r\n",
            self.contact(),
            self.opts.user_agent
        ));
        if let Some(a) = &o.auth {
            m.push_str(&format!("Proxy-Authorization: {a}\r\n"));
        }
        m.push_str(&Self::body_headers(&o.body));
        m
    }

    /// The hop-by-hop ACK of a non-2xx answer to an INVITE (RFC 3261 §17.1.1.3).
    async fn ack_failure(&mut self, o: &Outgoing, r: &Response) -> anyhow::Result<()> {
        let to = r.header("To").unwrap_or_default();
        self.send_on_branch(o, "ACK", &to).await
    }

    /// A request on the INVITE's own branch (its ACK for a failure, or its CANCEL).
    async fn send_on_branch(&mut self, o: &Outgoing, method: &str, to: &str) -> anyhow::Result<()> {
        let mut m = self.branch_head(o, method, to);
        m.push_str("Content-Length: 0\r\n\r\n");
        self.send_raw(m.as_bytes()).await
    }

    /// The next response to `o`'s INVITE (others are dropped), within `wait`.
    async fn invite_response(&mut self, o: &Outgoing, wait: Duration) -> anyhow::Result<Response> {
        let until = tokio::time::Instant::now() + wait;
        loop {
            let r = tokio::time::timeout_at(until, self.recv())
                .await
                .map_err(|_| anyhow::anyhow!("no answer to the INVITE"))??;
            let cseq = r.header("CSeq").unwrap_or_default();
            let mine = r.header("Call-ID").as_deref() == Some(o.call_id.as_str())
                && cseq.split_whitespace().next() == Some(o.cseq.to_string().as_str())
                && r.method().eq_ignore_ascii_case("INVITE");
            if mine {
                return Ok(r);
            }
        }
    }

    /// Place a call to an extension or cloud number: send the INVITE (answering the proxy's
    /// challenge) and return once it is ringing somewhere (a provisional response) or was
    /// answered with a final response already.
    pub async fn call(
        &mut self,
        dial: &str,
        body: &str,
    ) -> anyhow::Result<(Outgoing, Option<Response>)> {
        self.cseq += 1;
        let mut o = Outgoing {
            call_id: format!("{}@vcms-endpoint", rand_hex(20)),
            tag: rand_hex(10),
            uri: format!("sip:{dial}@{}", self.opts.domain),
            cseq: self.cseq,
            branch: format!("z9hG4bK{}", rand_hex(16)),
            body: body.to_string(),
            auth: None,
            provisional: Vec::new(),
        };
        self.send_raw(self.invite_text(&o).as_bytes()).await?;
        let mut challenged = false;
        loop {
            let r = self.invite_response(&o, Duration::from_secs(10)).await?;
            if r.code < 200 {
                o.provisional.push(r);
                return Ok((o, None));
            }
            if (r.code == 407 || r.code == 401) && !challenged {
                challenged = true;
                self.ack_failure(&o, &r).await?;
                let uri = o.uri.clone();
                o.auth = Some(self.answer(&r, "INVITE", &uri)?);
                self.cseq += 1;
                o.cseq = self.cseq;
                o.branch = format!("z9hG4bK{}", rand_hex(16));
                self.send_raw(self.invite_text(&o).as_bytes()).await?;
                continue;
            }
            if r.code >= 300 {
                self.ack_failure(&o, &r).await?;
            }
            return Ok((o, Some(r)));
        }
    }

    /// Wait for the final answer to a call (ACKing it); a 2xx gives the dialog.
    pub async fn answer_of(
        &mut self,
        o: &mut Outgoing,
        wait: Duration,
    ) -> anyhow::Result<(Response, Option<Dialog>)> {
        loop {
            let r = self.invite_response(o, wait).await?;
            if r.code < 200 {
                o.provisional.push(r);
                continue;
            }
            if r.code >= 300 {
                self.ack_failure(o, &r).await?;
                return Ok((r, None));
            }
            let d = self.dialog_of_answer(o, &r);
            self.ack(&d).await?;
            return Ok((r, Some(d)));
        }
    }

    /// The dialog a 2xx to our INVITE sets up: the route set is its Record-Route reversed.
    pub fn dialog_of_answer(&self, o: &Outgoing, r: &Response) -> Dialog {
        let mut route = all_entries(&r.headers("Record-Route"));
        route.reverse();
        Dialog {
            call_id: o.call_id.clone(),
            local: format!(
                "<sip:{}@{}>;tag={}",
                self.opts.user, self.opts.domain, o.tag
            ),
            remote: r.header("To").unwrap_or_default(),
            remote_target: addr_spec(&r.header("Contact").unwrap_or_default()),
            route,
            cseq: o.cseq,
            invite_cseq: o.cseq,
        }
    }

    /// CANCEL a call that was not answered yet; its INVITE then ends with 487 (see
    /// [`Self::answer_of`]).
    pub async fn cancel(&mut self, o: &Outgoing) -> anyhow::Result<()> {
        let to = format!("<{}>", o.uri);
        self.send_on_branch(o, "CANCEL", &to).await
    }

    fn in_dialog_text(&self, d: &Dialog, method: &str, cseq: u32, body: &str) -> String {
        let mut m = format!(
            "{method} {target} SIP/2.0\r\n\
             Via: {via}\r\n\
             Max-Forwards: 70\r\n",
            target = d.remote_target,
            via = self.via(&format!("z9hG4bK{}", rand_hex(16))),
        );
        for r in &d.route {
            m.push_str(&format!("Route: {r}\r\n"));
        }
        m.push_str(&format!(
            "From: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {cseq} {method}\r\n",
            d.local, d.remote, d.call_id
        ));
        if method == "INVITE" || method == "UPDATE" {
            m.push_str(&format!("Contact: {}\r\n", self.contact()));
        }
        m.push_str(&Self::body_headers(body));
        m
    }

    /// The ACK of a 2xx, end to end along the route set.
    pub async fn ack(&mut self, d: &Dialog) -> anyhow::Result<()> {
        let m = self.in_dialog_text(d, "ACK", d.invite_cseq, "");
        self.send_raw(m.as_bytes()).await
    }

    /// A request inside the call (BYE, INFO, UPDATE, OPTIONS, or a re-INVITE, which is then
    /// ACKed) and its final response.
    pub async fn request(
        &mut self,
        d: &mut Dialog,
        method: &str,
        body: &str,
    ) -> anyhow::Result<Response> {
        d.cseq += 1;
        let cseq = d.cseq;
        let text = self.in_dialog_text(d, method, cseq, body);
        self.send_raw(text.as_bytes()).await?;
        let until = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut resend = tokio::time::Instant::now() + Duration::from_millis(500);
        loop {
            let r = tokio::select! {
                r = self.recv() => r?,
                _ = tokio::time::sleep_until(resend) => {
                    if tokio::time::Instant::now() >= until {
                        anyhow::bail!("no answer to the {method}");
                    }
                    if matches!(self.conn, Conn::Udp(_)) {
                        self.send_raw(text.as_bytes()).await?;
                    }
                    resend += Duration::from_secs(1);
                    continue;
                }
            };
            let mine = r.header("Call-ID").as_deref() == Some(d.call_id.as_str())
                && r.header("CSeq")
                    .unwrap_or_default()
                    .split_whitespace()
                    .next()
                    == Some(cseq.to_string().as_str());
            if !mine || r.code < 200 {
                continue;
            }
            if method == "INVITE" && r.code < 300 {
                let mut ack = d.clone();
                ack.invite_cseq = cseq;
                self.ack(&ack).await?;
            }
            return Ok(r);
        }
    }

    /// The dialog an INVITE we answer with `tag` sets up (its Record-Route in order).
    pub fn dialog_of_invite(&self, invite: &rsip::Request, tag: &str) -> Dialog {
        let to = request_header(invite, "To");
        let local = if tag_of(&to).is_some() {
            to
        } else {
            format!("{to};tag={tag}")
        };
        let cseq = request_header(invite, "CSeq")
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        Dialog {
            call_id: request_header(invite, "Call-ID"),
            local,
            remote: request_header(invite, "From"),
            remote_target: addr_spec(&request_header(invite, "Contact")),
            route: all_entries(&request_headers(invite, "Record-Route")),
            cseq: 0,
            invite_cseq: cseq,
        }
    }

    /// Answer a request the server sent us. For an INVITE, `tag` goes into To and our
    /// Contact and the Record-Route come back.
    pub async fn reply(
        &mut self,
        req: &rsip::Request,
        code: u16,
        reason: &str,
        tag: &str,
        body: &str,
    ) -> anyhow::Result<()> {
        let mut m = format!("SIP/2.0 {code} {reason}\r\n");
        for v in request_headers(req, "Via") {
            m.push_str(&format!("Via: {v}\r\n"));
        }
        let invite = req.method == rsip::Method::Invite;
        let dialog = invite && (101..300).contains(&code);
        if dialog {
            for v in request_headers(req, "Record-Route") {
                m.push_str(&format!("Record-Route: {v}\r\n"));
            }
        }
        let to = request_header(req, "To");
        let to = if code > 100 && tag_of(&to).is_none() {
            format!("{to};tag={tag}")
        } else {
            to
        };
        m.push_str(&format!(
            "From: {}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {}\r\n",
            request_header(req, "From"),
            request_header(req, "Call-ID"),
            request_header(req, "CSeq"),
        ));
        if dialog {
            m.push_str(&format!("Contact: {}\r\n", self.contact()));
        }
        m.push_str(&Self::body_headers(body));
        self.send_raw(m.as_bytes()).await
    }
}
