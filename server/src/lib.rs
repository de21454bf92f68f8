//! vcms-server: the cloud service. `Server::build` opens the store (migrating it), the secret
//! key and the mailer; `Server::start` serves HTTP on a listener and runs the outbox worker
//! and the periodic jobs until shut down.

pub mod clock;
pub mod config;
pub(crate) mod crypto;
pub mod error;
pub(crate) mod http;
pub mod jobs;
pub mod license_number;
pub mod mail;
pub mod metrics;
pub mod ops;
pub mod service;
pub mod sip;
pub mod ssh;
pub mod state;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod validate;

use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::service::{App, AppState};
use crate::store::Store;

pub struct Server {
    pub app: AppState,
    pub config: Config,
}

/// A server serving HTTP; stop it with [`Running::shutdown`].
pub struct Running {
    pub addr: SocketAddr,
    /// The SIP listeners (addresses and registrar).
    pub sip: Option<sip::SipServer>,
    pub app: AppState,
    /// Where `GET /metrics` is served without a token (`metrics.listen`).
    pub metrics: Option<SocketAddr>,
    /// The console over SSH (`ssh.listen`).
    pub ssh: Option<ssh::SshServer>,
    stop: watch::Sender<bool>,
    http: JoinHandle<()>,
    metrics_http: Option<JoinHandle<()>>,
    worker: JoinHandle<()>,
    jobs: Option<JoinHandle<()>>,
}

impl Server {
    /// Open (and migrate) the database, load or create the secret key, set up the mailer.
    pub async fn build(config: Config, clock: SharedClock) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            anyhow::anyhow!(
                "cannot create data directory {}: {e}",
                config.data_dir.display()
            )
        })?;
        let store = Store::connect(&config.database_url(), config.database.max_connections).await?;
        store.migrate().await?;
        let secrets =
            crypto::SecretBox::load(config.security.secret_key.as_deref(), &config.key_file())?;
        let metrics = Arc::new(metrics::Metrics::new(store.waits.clone()));
        let mailer = Arc::new(mail::Mailer::new(
            &config,
            store.clone(),
            clock.clone(),
            secrets.clone(),
            metrics.clone(),
        )?);
        let dummy_hash = crypto::hash_password(crypto::new_token())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let public_url = std::sync::OnceLock::new();
        if let Some(u) = &config.http.public_url {
            let _ = public_url.set(u.clone());
        }
        let app = Arc::new(App {
            store,
            clock,
            secrets,
            mailer,
            public_url,
            captcha: config.security.captcha,
            captcha_pow_bits: config.security.captcha_pow_bits,
            mail_requests: tokio::sync::Notify::new(),
            dummy_hash,
            changed: tokio::sync::Notify::new(),
            limits: config.endpoint.clone(),
            sip_domain: config.sip.domain.clone(),
            sip_expires: config.sip.default_expires,
            sip: std::sync::OnceLock::new(),
            generation: std::sync::atomic::AtomicU64::new(0),
            import: config.import.clone(),
            metrics,
            metrics_token: config.metrics.token.clone(),
        });
        Ok(Self { app, config })
    }

    /// Serve HTTP on `listener` and SIP on the configured listeners; runs the outbox
    /// worker and, when `run_jobs`, the periodic jobs.
    pub async fn start(
        self,
        listener: tokio::net::TcpListener,
        run_jobs: bool,
    ) -> anyhow::Result<Running> {
        let addr = listener.local_addr()?;
        let metrics_listener = match &self.config.metrics.listen {
            Some(a) => Some(
                tokio::net::TcpListener::bind(a)
                    .await
                    .map_err(|e| anyhow::anyhow!("metrics.listen: cannot listen on {a}: {e}"))?,
            ),
            None => None,
        };
        let sip = sip::SipServer::start(self.app.clone(), &self.config).await?;
        let _ = self.app.sip.set(service::SipHandle {
            servers: sip.settings(&self.config),
            registrar: sip.registrar.clone(),
        });
        let _ = self.app.public_url.set(format!("http://{addr}"));
        let (stop, stop_rx) = watch::channel(false);
        let router = http::router(self.app.clone());
        let mut http_stop = stop_rx.clone();
        let http = tokio::spawn(async move {
            let svc = router.into_make_service_with_connect_info::<SocketAddr>();
            // Hyper's own bare answers (414 for a request line over 65,534 characters,
            // 431, 400) are rewritten as JSON errors; `tap_io` keeps ConnectInfo working.
            let listener =
                axum::serve::ListenerExt::tap_io(http::wire::JsonErrorsListener(listener), |_| {});
            let res = axum::serve(listener, svc)
                .with_graceful_shutdown(async move {
                    let _ = http_stop.wait_for(|s| *s).await;
                })
                .await;
            if let Err(e) = res {
                tracing::error!(error = %e, "http server");
            }
        });
        let metrics = match &metrics_listener {
            Some(l) => Some(l.local_addr()?),
            None => None,
        };
        let metrics_http = metrics_listener.map(|l| {
            let router = http::metrics_router(self.app.clone());
            let mut stop = stop_rx.clone();
            tokio::spawn(async move {
                let res = axum::serve(l, router)
                    .with_graceful_shutdown(async move {
                        let _ = stop.wait_for(|s| *s).await;
                    })
                    .await;
                if let Err(e) = res {
                    tracing::error!(error = %e, "metrics server");
                }
            })
        });
        let ssh = ssh::start(
            self.app.clone(),
            &self.config.ssh,
            &self.config.data_dir,
            addr,
            stop_rx.clone(),
        )
        .await?;
        let worker = {
            let (mailer, requests) = (self.app.mailer.clone(), self.app.clone());
            let (stop_mail, stop_requests) = (stop_rx.clone(), stop_rx.clone());
            tokio::spawn(async move {
                tokio::join!(
                    mailer.run(stop_mail),
                    service::mail_requests::run(requests, stop_requests)
                );
            })
        };
        let jobs = run_jobs.then(|| {
            let every = std::time::Duration::from_secs(self.config.jobs.interval_secs.max(1));
            tokio::spawn(jobs::run(self.app.clone(), every, stop_rx))
        });
        Ok(Running {
            addr,
            sip: Some(sip),
            app: self.app,
            metrics,
            ssh,
            stop,
            http,
            metrics_http,
            worker,
            jobs,
        })
    }
}

impl Running {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop taking requests, let in-flight ones finish, let the worker finish the email it
    /// is sending, then close the database.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Some(s) = self.sip {
            s.shutdown().await;
        }
        let _ = self.http.await;
        if let Some(s) = self.ssh {
            s.join().await;
        }
        if let Some(m) = self.metrics_http {
            let _ = m.await;
        }
        let _ = self.worker.await;
        if let Some(j) = self.jobs {
            let _ = j.await;
        }
        self.app.store.close().await;
    }
}
