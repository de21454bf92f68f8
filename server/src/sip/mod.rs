//! SIP: the UDP, TCP and TLS listeners (rsipstack's transport and transaction layers) and
//! what we answer on them: REGISTER (the registrar), calls (the proxy), OPTIONS (keep-alive
//! pings).

pub mod client;
pub mod digest;
pub mod proxy;
pub mod registrar;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use rsipstack::sip::Method;
use rsipstack::transport::tcp_listener::TcpListenerConnection;
use rsipstack::transport::tls::{TlsConfig, TlsListenerConnection};
use rsipstack::transport::udp::UdpConnection;
use rsipstack::transport::TransportLayer;
use rsipstack::EndpointBuilder;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api;
use crate::config::Config;
use crate::service::AppState;

pub use proxy::Proxy;
pub use registrar::Registrar;

/// The SIP service of a running server.
pub struct SipServer {
    pub registrar: Arc<Registrar>,
    pub proxy: Arc<Proxy>,
    pub udp: Option<SocketAddr>,
    pub tcp: Option<SocketAddr>,
    pub tls: Option<SocketAddr>,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

fn listen_addr(v: &str) -> anyhow::Result<Option<SocketAddr>> {
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

/// A free TCP port on `addr`'s host when `addr` asks for port 0 (the stream listeners
/// bind when they start serving, so the port must be known before).
fn concrete_tcp(addr: SocketAddr) -> anyhow::Result<SocketAddr> {
    if addr.port() != 0 {
        return Ok(addr);
    }
    let l = std::net::TcpListener::bind(addr)?;
    Ok(l.local_addr()?)
}

/// The certificate and key for TLS: the configured files, or a self-signed pair made on
/// first start in the data directory (kept, so that devices can pin it).
fn tls_material(config: &Config) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    if let (Some(c), Some(k)) = (&config.sip.tls_cert, &config.sip.tls_key) {
        let cert =
            std::fs::read(c).map_err(|e| anyhow::anyhow!("sip.tls_cert {}: {e}", c.display()))?;
        let key =
            std::fs::read(k).map_err(|e| anyhow::anyhow!("sip.tls_key {}: {e}", k.display()))?;
        return Ok((cert, key));
    }
    let cert_path = config.data_dir.join("sip-tls.crt");
    let key_path = config.data_dir.join("sip-tls.key");
    if cert_path.exists() && key_path.exists() {
        return Ok((std::fs::read(&cert_path)?, std::fs::read(&key_path)?));
    }
    let mut names = vec![config.sip.domain.clone(), "localhost".to_string()];
    if let Some(h) = &config.sip.public_host {
        names.push(h.clone());
    }
    let ck = rcgen::generate_simple_self_signed(names)?;
    let cert = ck.cert.pem().into_bytes();
    let key = ck.signing_key.serialize_pem().into_bytes();
    write_file(&cert_path, &cert, false)?;
    write_file(&key_path, &key, true)?;
    tracing::info!(cert = %cert_path.display(), "sip: generated a self-signed TLS certificate");
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
        let mut udp = None;
        let mut tcp = None;
        let mut tls = None;
        if let Some(a) = listen_addr(&config.sip.udp)? {
            let c = UdpConnection::create_connection(a, None, Some(cancel.child_token()))
                .await
                .map_err(|e| anyhow::anyhow!("sip.udp {a}: {e}"))?;
            let bound = SocketAddr::try_from(c.get_addr().addr.clone()).unwrap_or(a);
            udp = Some(SocketAddr::new(a.ip(), bound.port()));
            layer.add_transport(c.into());
        }
        if let Some(a) = listen_addr(&config.sip.tcp)? {
            let a = concrete_tcp(a).map_err(|e| anyhow::anyhow!("sip.tcp {a}: {e}"))?;
            let c = TcpListenerConnection::new(a, None)
                .await
                .map_err(|e| anyhow::anyhow!("sip.tcp {a}: {e}"))?;
            tcp = Some(a);
            layer.add_transport(c.into());
        }
        if let Some(a) = listen_addr(&config.sip.tls)? {
            let a = concrete_tcp(a).map_err(|e| anyhow::anyhow!("sip.tls {a}: {e}"))?;
            let (cert, key) = tls_material(config)?;
            let c = TlsListenerConnection::new(
                a,
                None,
                TlsConfig {
                    cert: Some(cert),
                    key: Some(key),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("sip.tls {a}: {e}"))?;
            tls = Some(a);
            layer.add_transport(c.into());
        }
        let endpoint = EndpointBuilder::new()
            .with_cancel_token(cancel.clone())
            .with_transport_layer(layer)
            .with_user_agent(concat!("vcms/", env!("CARGO_PKG_VERSION")))
            .with_allows(vec![
                Method::Register,
                Method::Invite,
                Method::Ack,
                Method::Cancel,
                Method::Bye,
                Method::Options,
                Method::Update,
                Method::Info,
            ])
            .build();
        let mut incoming = endpoint
            .incoming_transactions()
            .map_err(|e| anyhow::anyhow!("sip: {e}"))?;
        let nonce_key = app.secrets.derive_key("sip-digest-nonce");
        let registrar = Registrar::new(app.clone(), config.sip.clone(), nonce_key);
        let proxy = Proxy::new(
            registrar.clone(),
            endpoint.inner.clone(),
            local_names(config, udp, tcp, tls),
            std::time::Duration::from_secs(config.sip.ring_secs.max(1)),
        );
        let loaded = registrar.load().await?;
        if loaded > 0 {
            tracing::info!(bindings = loaded, "sip: bindings restored");
        }
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
            cancel,
            tasks,
        })
    }

    /// What a device is told: the domain and where to register.
    pub fn settings(&self, config: &Config) -> Vec<api::SipServer> {
        [("udp", self.udp), ("tcp", self.tcp), ("tls", self.tls)]
            .into_iter()
            .filter_map(|(t, a)| {
                a.map(|a| api::SipServer {
                    transport: t.into(),
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
