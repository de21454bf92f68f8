//! SIP: the UDP, TCP and TLS listeners (our own, in `transport`, feeding rsipstack's
//! transaction layer) and what we answer on them: REGISTER (the registrar), calls (the
//! proxy), OPTIONS (keep-alive pings).

pub(crate) mod digest;
pub(crate) mod peer;
pub(crate) mod proxy;
pub mod registrar;
pub(crate) mod transport;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use rsipstack::sip::Method;
use rsipstack::transport::TransportLayer;
use rsipstack::EndpointBuilder;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::service::AppState;
use vcms_api as api;

pub use proxy::Proxy;
pub use registrar::Registrar;

#[async_trait::async_trait]
impl crate::service::Bindings for Registrar {
    async fn unbind(&self, account_id: i64, enterprise_id: i64, key: &str) {
        Registrar::unbind(self, account_id, enterprise_id, key).await
    }
}

/// What a metrics scrape reads of the SIP service.
struct Gauges {
    registrar: Arc<Registrar>,
    proxy: Arc<Proxy>,
    endpoint: rsipstack::transaction::endpoint::EndpointInnerRef,
}

impl crate::metrics::SipGauges for Gauges {
    fn bindings_by_transport(&self) -> Vec<(&'static str, i64)> {
        self.registrar.bindings_by_transport()
    }
    fn calls_in_progress(&self) -> i64 {
        self.proxy.calls() as i64
    }
    fn transactions(&self) -> Vec<(&'static str, i64)> {
        let s = self.endpoint.get_stats();
        vec![
            ("running", s.running_transactions as i64),
            ("finished", s.finished_transactions as i64),
            ("waiting_ack", s.waiting_ack as i64),
        ]
    }
}

/// The SIP service of a running server.
pub struct SipServer {
    pub registrar: Arc<Registrar>,
    pub proxy: Arc<Proxy>,
    pub udp: Option<SocketAddr>,
    pub tcp: Option<SocketAddr>,
    pub tls: Option<SocketAddr>,
    /// The transaction layer (INVITE and the proxy's forks live there).
    endpoint: rsipstack::transaction::endpoint::EndpointInnerRef,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

/// Datagrams the kernel may hold for the UDP listener while it is busy: bursts of
/// REGISTERs past the default (≈208 KiB) were dropped and came back as retransmissions half
/// a second later. The kernel caps it at `net.core.rmem_max`.
const UDP_RECEIVE_BUFFER: usize = 4 << 20;

fn udp_socket(a: SocketAddr) -> std::io::Result<tokio::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(a), Type::DGRAM, Some(Protocol::UDP))?;
    if let Err(e) = s.set_recv_buffer_size(UDP_RECEIVE_BUFFER) {
        tracing::debug!(error = %e, "sip.udp: receive buffer left as the kernel set it");
    }
    s.set_nonblocking(true)?;
    s.bind(&a.into())?;
    tokio::net::UdpSocket::from_std(s.into())
}

/// A listener setting as an address: None when it is empty, `off` or `none`.
pub(crate) fn listen_addr(v: &str) -> anyhow::Result<Option<SocketAddr>> {
    use std::net::ToSocketAddrs;
    let v = v.trim();
    if v.is_empty() || v == "off" || v == "none" {
        return Ok(None);
    }
    let a = v
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| anyhow::anyhow!("{v:?} does not resolve"))?;
    Ok(Some(a))
}

/// The TLS side of the TLS listener.
fn tls_acceptor(cert: &[u8], key: &[u8]) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_slice_iter(cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("sip TLS certificate: {e}"))?;
    let key =
        PrivateKeyDer::from_pem_slice(key).map_err(|e| anyhow::anyhow!("sip TLS key: {e}"))?;
    let cfg = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| anyhow::anyhow!("sip TLS certificate and key: {e}"))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))
}

/// What `sipcheck` holds messages to: the URI schemes we route, the extensions we support
/// (none: a request we answer ourselves that requires one gets 420), the largest message.
pub(crate) fn wire_policy() -> vcms_sipcheck::Policy {
    vcms_sipcheck::Policy {
        schemes: &["sip", "sips", "tel"],
        supported: &[],
        uas_methods: &["REGISTER", "OPTIONS"],
        max_len: transport::MAX_MESSAGE,
    }
}

/// The certificate and key for TLS: the configured files, or a self-signed pair made in
/// the data directory (kept, so that devices can pin it). The generated certificate names
/// the domain, `localhost`, the public host and every address the listeners are advertised
/// on (IP SANs included), so a device that checks it against what sign-in told it succeeds.
/// When those names change (say, a new public host), it is made again; `sip-tls.names`
/// records which names the present one carries.
fn tls_material(config: &Config, advertised: &[String]) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    if let (Some(c), Some(k)) = (&config.sip.tls_cert, &config.sip.tls_key) {
        let cert =
            std::fs::read(c).map_err(|e| anyhow::anyhow!("sip.tls_cert {}: {e}", c.display()))?;
        let key =
            std::fs::read(k).map_err(|e| anyhow::anyhow!("sip.tls_key {}: {e}", k.display()))?;
        return Ok((cert, key));
    }
    let cert_path = config.data_dir.join("sip-tls.crt");
    let key_path = config.data_dir.join("sip-tls.key");
    let names_path = config.data_dir.join("sip-tls.names");
    let mut names = vec![config.sip.domain.clone(), "localhost".to_string()];
    names.extend(config.sip.public_host.iter().cloned());
    names.extend(advertised.iter().cloned());
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| !n.is_empty() && seen.insert(n.to_ascii_lowercase()));
    // The first line names the certificate's layout: one made before addresses were also
    // DNS names is made again.
    let listed = format!("names+ip-dns\n{}", names.join("\n"));
    if cert_path.exists() && key_path.exists() {
        // A certificate from before the names were recorded is kept only if nothing new
        // is advertised; otherwise devices that check it would fail.
        let same = std::fs::read_to_string(&names_path).is_ok_and(|n| n.trim() == listed);
        if same {
            return Ok((std::fs::read(&cert_path)?, std::fs::read(&key_path)?));
        }
    }
    let mut params = rcgen::CertificateParams::new(names.clone())?;
    // An address is named twice: as an IP address (RFC 5280, what rustls and OpenSSL
    // check) and as a DNS name, which is all that linphone's mbedTLS 2.28 compares with
    // the host it dialled.
    for n in names
        .iter()
        .filter(|n| n.parse::<std::net::IpAddr>().is_ok())
    {
        params
            .subject_alt_names
            .push(rcgen::SanType::DnsName(n.as_str().try_into()?));
    }
    let signing_key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&signing_key)?.pem().into_bytes();
    let key = signing_key.serialize_pem().into_bytes();
    write_file(&cert_path, &cert, false)?;
    write_file(&key_path, &key, true)?;
    write_file(&names_path, listed.as_bytes(), false)?;
    tracing::info!(cert = %cert_path.display(), names = %names.join(", "), "sip: generated a self-signed TLS certificate");
    Ok((cert, key))
}

fn write_file(path: &Path, bytes: &[u8], private: bool) -> anyhow::Result<()> {
    if private {
        crate::crypto::write_private(path, bytes)?;
    } else {
        std::fs::write(path, bytes)?;
    }
    Ok(())
}

/// The host devices reach a listener on: the configured public host, else its address
/// (127.0.0.1 for a wildcard one).
fn advertised_host(config: &Config, a: SocketAddr) -> String {
    config.sip.public_host.clone().unwrap_or_else(|| {
        if a.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            a.ip().to_string()
        }
    })
}

/// Our addresses for Via and Record-Route, and every host:port that names us in a Route.
fn local_names(
    config: &Config,
    udp: Option<SocketAddr>,
    tcp: Option<SocketAddr>,
    tls: Option<SocketAddr>,
) -> proxy::Local {
    let mut l = proxy::Local::default();
    for (a, slot) in [(udp, &mut l.udp), (tcp, &mut l.tcp), (tls, &mut l.tls)] {
        if let Some(a) = a {
            *slot = Some((advertised_host(config, a), a.port()));
        }
    }
    for a in [udp, tcp, tls].into_iter().flatten() {
        let p = a.port();
        for h in [
            advertised_host(config, a),
            a.ip().to_string(),
            config.sip.domain.clone(),
        ] {
            l.names.insert(format!("{}:{p}", h.to_ascii_lowercase()));
        }
    }
    l
}

impl SipServer {
    /// Bind the configured listeners, load the bindings that survived a restart, and serve.
    pub async fn start(app: AppState, config: &Config) -> anyhow::Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let cancel = CancellationToken::new();
        let layer = TransportLayer::new(cancel.clone());
        let mut udp_sock = None;
        let mut tcp_listener = None;
        let mut tls_listener = None;
        if let Some(a) = listen_addr(&config.sip.udp)? {
            let s = udp_socket(a).map_err(|e| anyhow::anyhow!("sip.udp {a}: {e}"))?;
            udp_sock = Some(s);
        }
        if let Some(a) = listen_addr(&config.sip.tcp)? {
            let l = tokio::net::TcpListener::bind(a)
                .await
                .map_err(|e| anyhow::anyhow!("sip.tcp {a}: {e}"))?;
            tcp_listener = Some(l);
        }
        if let Some(a) = listen_addr(&config.sip.tls)? {
            let l = tokio::net::TcpListener::bind(a)
                .await
                .map_err(|e| anyhow::anyhow!("sip.tls {a}: {e}"))?;
            tls_listener = Some(l);
        }
        let bound = |r: std::io::Result<SocketAddr>| r.ok();
        let udp = udp_sock.as_ref().and_then(|s| bound(s.local_addr()));
        let tcp = tcp_listener.as_ref().and_then(|s| bound(s.local_addr()));
        let tls = tls_listener.as_ref().and_then(|s| bound(s.local_addr()));
        let tls_acceptor = match tls {
            Some(a) => {
                let mut advertised = Vec::new();
                for l in [udp, tcp, Some(a)].into_iter().flatten() {
                    advertised.push(advertised_host(config, l));
                    if !l.ip().is_unspecified() {
                        advertised.push(l.ip().to_string());
                    }
                }
                let (cert, key) = tls_material(config, &advertised)?;
                Some(tls_acceptor(&cert, &key)?)
            }
            None => None,
        };
        let endpoint = EndpointBuilder::new()
            .with_cancel_token(cancel.clone())
            .with_transport_layer(layer)
            .with_user_agent(concat!("vcms/", env!("CARGO_PKG_VERSION")))
            .build();
        let mut incoming = endpoint
            .incoming_transactions()
            .map_err(|e| anyhow::anyhow!("sip: {e}"))?;
        let nonce_key = app.secrets.derive_key("sip-digest-nonce");
        // Other instances reach this one over UDP at its advertised address.
        let holder = udp
            .map(|a| format!("{}:{}", advertised_host(config, a), a.port()))
            .unwrap_or_default();
        let registrar = Registrar::new(
            app.clone(),
            config.sip.clone(),
            nonce_key,
            app.secrets.derive_key("sip-peer"),
            holder,
        );

        let proxy = Proxy::new(
            registrar.clone(),
            endpoint.inner.clone(),
            local_names(config, udp, tcp, tls),
            std::time::Duration::from_secs(config.sip.ring_secs.max(1)),
        );
        app.metrics.watch_sip(Arc::new(Gauges {
            registrar: registrar.clone(),
            proxy: proxy.clone(),
            endpoint: endpoint.inner.clone(),
        }));
        let wire = transport::Wire::new(
            endpoint.inner.clone(),
            registrar.clone(),
            proxy.clone(),
            cancel.clone(),
        )
        .await?;
        if let Some(s) = udp_sock {
            let conn = wire.serve_udp(s).await?;
            endpoint.inner.transport_layer.add_transport(conn);
        }
        if let Some(l) = tcp_listener {
            wire.serve_stream(l, None);
        }
        if let Some(l) = tls_listener {
            wire.serve_stream(l, tls_acceptor);
        }
        let loaded = registrar.load().await?;
        if loaded > 0 {
            tracing::info!(bindings = loaded, "sip: bindings restored");
        }
        let endpoint_inner = endpoint.inner.clone();
        let mut tasks = Vec::new();
        let serve_cancel = cancel.clone();
        tasks.push(tokio::spawn(async move {
            tokio::select! {
                _ = endpoint.serve() => {}
                _ = serve_cancel.cancelled() => {}
            }
            endpoint.shutdown();
        }));
        let r = registrar.clone();
        let p = proxy.clone();
        let c = cancel.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let tx = tokio::select! {
                    tx = incoming.recv() => tx,
                    _ = c.cancelled() => None,
                };
                let Some(mut tx) = tx else { break };
                let r = r.clone();
                let p = p.clone();
                tokio::spawn(async move {
                    match tx.original.method {
                        Method::Register => r.handle(&mut tx).await,
                        _ => p.handle(tx).await,
                    }
                });
            }
        }));
        let r = registrar.clone();
        let p = proxy.clone();
        let c = cancel.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(registrar::EXPIRY_TICK);
            let mut n = 0u32;
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        r.expire().await;
                        n = n.wrapping_add(1);
                        if n.is_multiple_of(120) {
                            p.sweep();
                        }
                    }
                    _ = c.cancelled() => break,
                }
            }
        }));
        for (name, a) in [("udp", udp), ("tcp", tcp), ("tls", tls)] {
            if let Some(a) = a {
                tracing::info!(transport = name, addr = %a, "sip: listening");
            }
        }
        Ok(Self {
            registrar,
            proxy,
            udp,
            tcp,
            tls,
            endpoint: endpoint_inner,
            cancel,
            tasks,
        })
    }

    /// Server transactions alive now, running or answered and waiting out their timers.
    pub fn transactions(&self) -> usize {
        let s = self.endpoint.get_stats();
        s.running_transactions + s.finished_transactions
    }

    /// What a device is told: the domain and where to register.
    pub fn settings(&self, config: &Config) -> Vec<api::SipServer> {
        [
            (api::Transport::Udp, self.udp),
            (api::Transport::Tcp, self.tcp),
            (api::Transport::Tls, self.tls),
        ]
        .into_iter()
        .filter_map(|(transport, a)| {
            a.map(|a| api::SipServer {
                transport,
                host: advertised_host(config, a),
                port: a.port(),
            })
        })
        .collect()
    }

    pub async fn shutdown(self) {
        self.cancel.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
    }
}
