//! Secrets: random tokens (stored hashed), admin password hashing (argon2id, off the async
//! threads), and encryption at rest of device secrets (AES-256-GCM).

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};
use std::path::Path;
use subtle::ConstantTimeEq;

use crate::error::AppError;

/// A fresh token of 256 random bits, URL-safe.
pub fn new_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// How a token is kept in the database: its SHA-256, hex. Lookups by hash are exact-match
/// index probes; the final comparison is constant-time.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

pub fn ct_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Random string of `len` characters from `alphabet`.
pub fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rngs::OsRng;
    (0..len)
        .map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char)
        .collect()
}

pub fn random_digits(len: usize) -> String {
    random_from(b"0123456789", len)
}

fn argon2() -> Argon2<'static> {
    Argon2::default() // argon2id, 19 MiB, t=2, p=1 (OWASP minimum)
}

/// Slow-hash an admin password on a blocking thread.
pub async fn hash_password(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AppError::internal(format!("argon2 hash: {e}")))
    })
    .await
    .map_err(AppError::internal)?
}

/// Check a password against a stored argon2 hash on a blocking thread. A malformed hash
/// counts as a mismatch.
pub async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                argon2()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// Encrypts secrets that must be shown again (account passwords, pincodes, SIP digest
/// material). Layout: 12-byte random nonce || ciphertext+tag.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
    /// Key for keyed lookups (HMAC-like SHA-256 of key || value) of secrets that must be
    /// found by value, such as live pincodes.
    lookup_key: [u8; 32],
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(***)")
    }
}

impl SecretBox {
    pub fn from_key(key: &[u8; 32]) -> Self {
        let lookup_key: [u8; 32] = Sha256::new()
            .chain_update(b"vcms-lookup-key")
            .chain_update(key)
            .finalize()
            .into();
        Self {
            cipher: Aes256Gcm::new(key.into()),
            lookup_key,
        }
    }

    /// Key from base64 text (config) or from a key file, generated with mode 0600 when absent.
    pub fn load(key_b64: Option<&str>, key_file: &Path) -> anyhow::Result<Self> {
        let decode = |s: &str| -> anyhow::Result<[u8; 32]> {
            let bytes = base64::engine::general_purpose::STANDARD.decode(s.trim())?;
            bytes
                .try_into()
                .map_err(|_| anyhow::anyhow!("the secret key must be 32 bytes, base64-encoded"))
        };
        if let Some(k) = key_b64.filter(|k| !k.trim().is_empty()) {
            return Ok(Self::from_key(&decode(k)?));
        }
        if key_file.exists() {
            let text = std::fs::read_to_string(key_file)
                .map_err(|e| anyhow::anyhow!("reading key file {}: {e}", key_file.display()))?;
            return Ok(Self::from_key(&decode(&text)?));
        }
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        if let Some(dir) = key_file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let text = base64::engine::general_purpose::STANDARD.encode(key);
        write_private(key_file, text.as_bytes())?;
        Ok(Self::from_key(&key))
    }

    pub fn seal(&self, plain: &str) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        // Encryption with a valid key and nonce cannot fail for in-memory buffers.
        let ct = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plain.as_bytes())
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend(ct);
        out
    }

    pub fn open(&self, sealed: &[u8]) -> Result<String, AppError> {
        if sealed.len() < 12 {
            return Err(AppError::internal("sealed secret too short"));
        }
        let (nonce, ct) = sealed.split_at(12);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| {
                AppError::internal("a sealed secret does not open with the configured key")
            })?;
        String::from_utf8(plain).map_err(AppError::internal)
    }

    /// A 32-byte key for one purpose, derived from the secret key (so that every instance
    /// sharing the secret derives the same one).
    pub fn derive_key(&self, purpose: &str) -> [u8; 32] {
        Sha256::new()
            .chain_update(self.lookup_key)
            .chain_update(b"derive:")
            .chain_update(purpose.as_bytes())
            .finalize()
            .into()
    }

    /// Deterministic keyed digest for finding a secret by value without storing it in clear.
    pub fn lookup(&self, value: &str) -> String {
        hex::encode(
            Sha256::new()
                .chain_update(self.lookup_key)
                .chain_update(value.as_bytes())
                .finalize(),
        )
    }
}

/// Write a file readable by its owner only.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_roundtrip_and_key_file_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let a = SecretBox::load(None, &path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let b = SecretBox::load(None, &path).unwrap();
        let sealed = a.seal("rq4p4u0n");
        assert!(!sealed.windows(8).any(|w| w == b"rq4p4u0n"));
        assert_eq!(b.open(&sealed).unwrap(), "rq4p4u0n");
        assert_eq!(a.lookup("123"), b.lookup("123"));
        let other = SecretBox::from_key(&[7u8; 32]);
        assert!(other.open(&sealed).is_err());
    }

    #[test]
    fn tokens_are_long_and_distinct() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert!(a.len() >= 43);
        assert_eq!(token_hash(&a).len(), 64);
    }
}
