//! The console over SSH, at the API (issue 20): SSH keys on an administrator's profile are
//! checked, personal and their own; the console's proof header is believed only when it is
//! this server's.

use crate::both;
use crate::common::*;
use vcms_api::client::Client;
use vcms_api::*;

/// A fresh key pair by ssh-keygen (OpenSSH's own format): the public line.
fn keygen(dir: &std::path::Path, name: &str, args: &[&str]) -> String {
    let path = dir.join(name);
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-N", "", "-C", "me@laptop", "-f"])
        .arg(&path)
        .args(args)
        .status()
        .expect("ssh-keygen (openssh-client)");
    assert!(st.success());
    std::fs::read_to_string(path.with_extension("pub"))
        .expect("pub")
        .trim()
        .to_string()
}

async fn ssh_keys_are_checked_personal_and_their_owners(db: Db) {
    let s = TestServer::start(db).await;
    let (_, owner) = s.owner("owner@keys.vcms").await;
    let dir = tempfile::tempdir().unwrap();
    let line = keygen(dir.path(), "a", &["-t", "ed25519"]);

    let k = owner
        .add_ssh_key(&NewSshKey {
            public_key: format!("  {line}  "),
            name: None,
        })
        .await
        .unwrap();
    assert_eq!(k.name, "me@laptop", "named after the key's comment");
    assert_eq!(k.algorithm, "ssh-ed25519");
    let printed = std::process::Command::new("ssh-keygen")
        .arg("-lf")
        .arg(dir.path().join("a.pub"))
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&printed.stdout).to_string();
    assert!(
        printed.contains(&k.fingerprint),
        "{printed} vs {}",
        k.fingerprint
    );

    // The same key again, garbage, a private key, a short RSA key: refused, naming the field.
    let again = err(owner
        .add_ssh_key(&NewSshKey {
            public_key: line.clone(),
            name: Some("again".into()),
        })
        .await);
    assert_eq!(again.status().map(|s| s.as_u16()), Some(409));
    assert_eq!(again.field(), Some("public_key"));
    // As pasted into a one-line field: the lines joined.
    let private = std::fs::read_to_string(dir.path().join("a"))
        .unwrap()
        .replace('\n', " ");
    let short_rsa = keygen(dir.path(), "rsa", &["-t", "rsa", "-b", "1024"]);
    for (bad, says) in [
        (
            "ssh-ed25519 AAAAnot-base64".to_string(),
            "not an OpenSSH public key",
        ),
        (private, "a private key"),
        (short_rsa, "1024 bits"),
        ("x".repeat(9000), "longer than"),
    ] {
        let e = err(owner
            .add_ssh_key(&NewSshKey {
                public_key: bad,
                name: None,
            })
            .await);
        assert_eq!(e.status().map(|s| s.as_u16()), Some(422), "{e}");
        assert_eq!(e.field(), Some("public_key"));
        assert!(e.to_string().contains(says), "{e}");
    }
    // At most ten.
    for i in 1..10 {
        let l = keygen(dir.path(), &format!("k{i}"), &["-t", "ed25519"]);
        owner
            .add_ssh_key(&NewSshKey {
                public_key: l,
                name: Some(format!("k{i}")),
            })
            .await
            .unwrap();
    }
    let eleventh = keygen(dir.path(), "k11", &["-t", "ecdsa"]);
    let e = err(owner
        .add_ssh_key(&NewSshKey {
            public_key: eleventh.clone(),
            name: None,
        })
        .await);
    assert!(e.to_string().contains("10 SSH keys"), "{e}");
    assert_eq!(owner.ssh_keys().await.unwrap().items.len(), 10);

    // Another enterprise's owner neither sees nor removes them.
    let (_, other) = s.owner("other@keys.vcms").await;
    assert!(other.ssh_keys().await.unwrap().items.is_empty());
    let e = err(other.remove_ssh_key(k.id).await);
    assert_eq!(e.status().map(|s| s.as_u16()), Some(404));
    // An API key has none and adds none.
    let key = owner
        .create_api_key(&NewApiKey {
            name: "ci".into(),
            role: Role::Owner,
            manage_admins: false,
        })
        .await
        .unwrap();
    let by_key = Client::new(&s.url).with_token(key.key);
    for e in [
        err(by_key.ssh_keys().await.map(|_| ())),
        err(by_key
            .add_ssh_key(&NewSshKey {
                public_key: eleventh,
                name: None,
            })
            .await
            .map(|_| ())),
        err(by_key.remove_ssh_key(k.id).await.map(|_| ())),
    ] {
        assert_eq!(e.code(), ErrorCode::NotForApiKeys, "{e}");
    }
    // Removed: gone from the list, audited.
    owner.remove_ssh_key(k.id).await.unwrap();
    let left = owner.ssh_keys().await.unwrap().items;
    assert!(left.iter().all(|x| x.id != k.id));
    let audit = owner.audit(&AuditQuery::default()).await.unwrap().items;
    assert!(audit
        .iter()
        .any(|e| e.action == "sshkey.remove" && e.detail == k.fingerprint));
}
both!(ssh_keys_are_checked_personal_and_their_owners);

/// The SSH console's header names the SSH client's address; from anyone without the
/// server's proof it changes nothing (no spoofed address, no "over SSH" in the audit).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_header_is_believed_only_with_this_servers_proof() {
    let s = TestServer::start(Db::Sqlite).await;
    let (_, spoofed) = s.owner("spoofed@proof.vcms").await;
    let (_, proven) = s.owner("proven@proof.vcms").await;
    let login = |email: &'static str, header: String| {
        let url = s.url.clone();
        async move {
            reqwest::Client::new()
                .post(format!("{url}/api/v1/login"))
                .header(vcms_server::ssh::origin::HEADER, header)
                .json(&serde_json::json!({"email": email, "password": "wrong-password-1"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let failed = |c: Client| async move {
        let items = c
            .audit(&AuditQuery {
                search: Some("signin.failed".into()),
                ..Default::default()
            })
            .await
            .unwrap()
            .items;
        assert_eq!(items.len(), 1, "{items:?}");
        items[0].clone()
    };
    let forged = "203.0.113.9 0123456789abcdef0123456789abcdef".to_string();
    assert_eq!(login("spoofed@proof.vcms", forged).await, 401);
    let e = failed(spoofed).await;
    assert_eq!(e.from, "127.0.0.1", "{e:?}");
    assert!(!e.detail.contains("SSH"), "{e:?}");

    let real =
        vcms_server::ssh::origin::header_value(&s.running.app, "198.51.100.7".parse().unwrap());
    assert_eq!(login("proven@proof.vcms", real).await, 401);
    let e = failed(proven).await;
    assert_eq!(e.from, "198.51.100.7", "{e:?}");
    assert!(e.detail.contains("over SSH"), "{e:?}");
}
