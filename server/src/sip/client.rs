//! A small SIP user agent for `vcms-endpoint` and the tests: REGISTER over UDP, TCP or TLS
//! with digest authentication. Messages are parsed with rsipstack's parser.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rsipstack::sip as rsip;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::sip::digest::{self, Algorithm};

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

/// A final or provisional response, parsed.
#[derive(Debug, Clone)]
pub struct Response {
    pub code: u16,
    pub reason: String,
    pub msg: rsip::Response,
}

impl Response {
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
}

fn rand_hex(n: usize) -> String {
    crate::crypto::random_from(b"0123456789abcdef", n)
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
        let (conn, local) = match opts.transport {
            Transport::Udp => {
                let bind: SocketAddr = if opts.server.is_ipv6() {
                    "[::]:0".parse()?
                } else {
                    "0.0.0.0:0".parse()?
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

    /// The Authorization answer to a 401's challenge.
    pub fn answer(&mut self, resp: &Response, method: &str, uri: &str) -> anyhow::Result<String> {
        let want = self.opts.algorithm;
        let challenges = resp.headers("WWW-Authenticate");
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
        let p = digest::parse_challenge(ch).map_err(|e| anyhow::anyhow!(e))?;
        let realm = p.get("realm").cloned().unwrap_or_default();
        let nonce = p.get("nonce").cloned().unwrap_or_default();
        self.nc += 1;
        let cred = digest::Credentials {
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
        let ha1 = digest::ha1(want, &self.opts.user, &realm, &self.opts.password);
        let response = digest::expected_response(want, &ha1, method, &cred);
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

    /// The next response that arrives (requests from the server are skipped).
    pub async fn recv(&mut self) -> anyhow::Result<Response> {
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
                Ok(rsip::SipMessage::Response(msg)) => {
                    let code = msg.status_code.code();
                    let reason = msg
                        .wire_reason
                        .clone()
                        .unwrap_or_else(|| msg.status_code.text().to_string());
                    return Ok(Response { code, reason, msg });
                }
                Ok(rsip::SipMessage::Request(_)) => continue,
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
