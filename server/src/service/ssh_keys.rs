//! The public keys an administrator adds to their own profile to open the console over SSH
//! (issue 20): adding (parsed and checked as OpenSSH writes them), listing, removing, and
//! finding the key a connection proved it holds. Personal: an API key has none.

use russh::keys::ssh_key::{Algorithm, HashAlg, PublicKey};

use crate::clock;
use crate::error::{AppError, AppResult};
use crate::service::audit::record;
use crate::service::{Actor, App};
use crate::store::team;
use crate::validate;
use vcms_api as api;

/// Keys an administrator may have (laptop, jump host, phone, a spare…).
pub const MAX_KEYS: usize = 10;
/// RSA keys shorter than this are refused (OpenSSH's own minimum is 1024; NIST's is 2048).
const MIN_RSA_BITS: usize = 2048;
/// A public key line longer than this is not one (RSA 16384 is about 2,800 characters).
const MAX_LINE: usize = 8 * 1024;

/// `SHA256:…`, as `ssh-keygen -l` prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// The key of a typed line, or why it is not one we accept.
pub fn parse(line: &str) -> AppResult<PublicKey> {
    let line = line.trim();
    if line.is_empty() {
        return Err(AppError::invalid(
            "public_key",
            "public_key is required: paste one line of ~/.ssh/id_ed25519.pub",
        ));
    }
    if line.len() > MAX_LINE {
        return Err(AppError::invalid(
            "public_key",
            format!("public_key is longer than {MAX_LINE} characters: it is not an SSH public key"),
        ));
    }
    if line.contains("PRIVATE KEY") {
        return Err(AppError::invalid(
            "public_key",
            "public_key is a private key: never give it out; add the .pub file next to it",
        ));
    }
    let key = PublicKey::from_openssh(line).map_err(|_| {
        AppError::invalid(
            "public_key",
            "public_key is not an OpenSSH public key: paste one line like \"ssh-ed25519 AAAAC3… you@laptop\" (the .pub file, never the private key)",
        )
    })?;
    match key.algorithm() {
        Algorithm::Ed25519 | Algorithm::Ecdsa { .. } => {}
        Algorithm::Rsa { .. } => {
            let bits = key
                .key_data()
                .rsa()
                .map(|r| r.n().as_positive_bytes().map_or(0, |b| b.len() * 8))
                .unwrap_or(0);
            if bits < MIN_RSA_BITS {
                return Err(AppError::invalid(
                    "public_key",
                    format!("public_key is an RSA key of {bits} bits: use {MIN_RSA_BITS} bits or more, or an Ed25519 key (ssh-keygen -t ed25519)"),
                ));
            }
        }
        other => {
            return Err(AppError::invalid(
                "public_key",
                format!("public_key is of type {other}: use Ed25519, ECDSA or RSA"),
            ))
        }
    }
    Ok(key)
}

fn to_api(k: &team::SshKeyRow) -> api::SshKey {
    api::SshKey {
        id: k.id,
        name: k.name.clone(),
        algorithm: k.algorithm.clone(),
        fingerprint: k.fingerprint.clone(),
        created_at: clock::rfc3339(k.created_at),
        last_used_at: k.last_used_at.map(clock::rfc3339),
    }
}

pub async fn list(app: &App, actor: &Actor) -> AppResult<api::SshKeyList> {
    actor.require_person()?;
    let mut c = app.store.conn().await?;
    let rows = team::ssh_keys_of(&mut c, actor.admin_id).await?;
    Ok(api::SshKeyList {
        items: rows.iter().map(to_api).collect(),
    })
}

pub async fn add(app: &App, actor: &Actor, req: &api::NewSshKey) -> AppResult<api::SshKey> {
    actor.require_person()?;
    let key = parse(&req.public_key)?;
    let name = match req.name.as_deref() {
        Some(n) => validate::text("name", n, 64)?,
        None if !key.comment().as_str_lossy().trim().is_empty() => {
            validate::text("name", key.comment().as_str_lossy(), 64)
                .unwrap_or_else(|_| "key".into())
        }
        None => key.algorithm().as_str().to_string(),
    };
    let fp = fingerprint(&key);
    let line = key
        .to_openssh()
        .map_err(|e| AppError::internal(e.to_string()))?;
    // The comment is not part of the key: the stored line has none.
    let line = line.split(' ').take(2).collect::<Vec<_>>().join(" ");
    let algorithm = key.algorithm().as_str().to_string();
    let mut tx = app.store.begin().await?;
    if team::ssh_keys_of(&mut tx, actor.admin_id).await?.len() >= MAX_KEYS {
        return Err(AppError::invalid(
            "public_key",
            format!("You have {MAX_KEYS} SSH keys, the most one administrator may have: remove one first"),
        ));
    }
    let id = team::insert_ssh_key(
        &mut tx,
        actor.admin_id,
        (&name, &algorithm, &line, &fp),
        app.now(),
    )
    .await?
    .ok_or_else(|| {
        AppError::conflict("public_key", format!("You added this key already ({fp})"))
    })?;
    record(app, &mut tx, actor, "sshkey.add", &name, &fp).await?;
    tx.commit().await?;
    Ok(api::SshKey {
        id,
        name,
        algorithm,
        fingerprint: fp,
        created_at: clock::rfc3339(app.now()),
        last_used_at: None,
    })
}

pub async fn remove(app: &App, actor: &Actor, id: i64) -> AppResult<api::Message> {
    actor.require_person()?;
    let mut tx = app.store.begin().await?;
    let k = team::delete_ssh_key(&mut tx, actor.admin_id, id)
        .await?
        .ok_or_else(|| AppError::not_found("You have no SSH key with this id"))?;
    record(
        app,
        &mut tx,
        actor,
        "sshkey.remove",
        &k.name,
        &k.fingerprint,
    )
    .await?;
    tx.commit().await?;
    Ok(api::Message {
        message: format!(
            "The key {} ({}) no longer opens the console",
            k.name, k.fingerprint
        ),
    })
}
