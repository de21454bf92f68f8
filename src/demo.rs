//! `vcms demo`: the bundled server in-process on loopback, a demo enterprise with a license
//! and 13 accounts, and the console signed in.

use std::path::PathBuf;
use std::sync::Arc;

use vcms_api::client::Client;
use vcms_api::{AccountQuery, LoginRequest, NewAccount};
use vcms_server::config::{Config as ServerConfig, MailTransportKind};
use vcms_server::service::auth::{create_enterprise, NewEnterprise};

pub const OWNER: &str = "owner@demo.vcms";
pub const PASSWORD: &str = "Demo2026vcms";

/// The ten accounts of the guide with its emails, and three more (one without email). The
/// demo mails into a folder, so these addresses are never written to.
pub const ACCOUNTS: [(&str, &str, Option<&str>); 13] = [
    ("Anna", "1001", Some("Anna@hotmail.com")),
    ("Bonnie", "1002", Some("Bonnie@yahoo.com")),
    ("Clare", "1003", Some("Clare@outlook.com")),
    ("Jane", "3578", Some("test1@yealink.com")),
    ("Jannie", "1004", Some("Jannie@gmail.com")),
    ("Maggie", "1005", Some("Maggie@aol.com")),
    ("Mark", "8908", Some("test3@yealink.com")),
    ("Mars", "3567", Some("test2@yealink.com")),
    ("陈媛媛", "2002", Some("Chenny@163.com")),
    ("何以言", "2004", Some("Heyy@sohu.com")),
    ("Linda", "1006", Some("linda@demo.vcms")),
    ("王小明", "2006", Some("wangxm@demo.vcms")),
    ("Oscar", "1007", None),
];

pub struct Demo {
    pub running: vcms_server::Running,
    pub client: Client,
    pub profile: vcms_api::Profile,
    pub data_dir: PathBuf,
    pub outbox: PathBuf,
    pub notes: Vec<String>,
    _temp: Option<tempfile::TempDir>,
}

impl Demo {
    pub async fn start(data: Option<PathBuf>) -> anyhow::Result<Demo> {
        let (data_dir, temp) = match data {
            Some(d) => (d, None),
            None => {
                let t = tempfile::Builder::new().prefix("vcms-demo-").tempdir()?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        // SIP on free ports: `vcms-endpoint` learns them at sign-in.
        let mut cfg = ServerConfig::loopback(&data_dir);
        cfg.mail.transport = MailTransportKind::Folder;
        cfg.security.captcha = false;
        let outbox = cfg.outbox_dir();
        let clock: vcms_server::clock::SharedClock = Arc::new(vcms_server::clock::SystemClock);
        let server = vcms_server::Server::build(cfg, clock).await?;
        // Port 8080 when it is free, so that the README's `vcms-endpoint --server` line works
        // as written; any free port otherwise (System → Server shows it).
        let listener = match tokio::net::TcpListener::bind("127.0.0.1:8080").await {
            Ok(l) => l,
            Err(_) => tokio::net::TcpListener::bind("127.0.0.1:0").await?,
        };
        let running = server.start(listener, true).await?;
        let app = running.app.clone();
        let mut notes = vec![];
        let new = NewEnterprise::parse(
            "Demo Owner",
            "Demo Company",
            "China",
            OWNER,
            PASSWORD,
            Some("en"),
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        // With --data the enterprise may exist already: then just sign in.
        let fresh = create_enterprise(&app, new, true).await.is_ok();
        let mut client = Client::new(&running.url());
        let login = client
            .login(&LoginRequest {
                email: OWNER.into(),
                password: PASSWORD.into(),
                language: Some("en".into()),
                ..Default::default()
            })
            .await
            .map_err(|e| anyhow::anyhow!("demo sign-in: {e}"))?;
        if fresh {
            let number = vcms_server::service::license::issue(&app, 200, 2)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            client
                .add_license(&number)
                .await
                .map_err(|e| anyhow::anyhow!("demo license: {e}"))?;
            for (name, ext, email) in ACCOUNTS {
                let r = client
                    .add_account(&NewAccount {
                        name: name.into(),
                        extension: ext.into(),
                        email: email.map(str::to_string),
                        send_email: false,
                    })
                    .await;
                if let Err(e) = r {
                    notes.push(format!("demo accounts not created: {e}"));
                    break;
                }
            }
        } else if let Err(e) = client.accounts(&AccountQuery::default()).await {
            notes.push(format!("the server cannot list accounts: {e}"));
        }
        Ok(Demo {
            running,
            client,
            profile: login.profile,
            data_dir,
            outbox,
            notes,
            _temp: temp,
        })
    }

    pub fn kept(&self) -> bool {
        self._temp.is_none()
    }

    pub async fn stop(self) -> (PathBuf, PathBuf, bool) {
        let kept = self.kept();
        let Demo {
            running,
            data_dir,
            outbox,
            _temp,
            ..
        } = self;
        running.shutdown().await;
        drop(_temp);
        (data_dir, outbox, kept)
    }
}
