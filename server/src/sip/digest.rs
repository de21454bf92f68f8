//! HTTP digest authentication for SIP (RFC 3261 §22, RFC 2617, RFC 8760): MD5 and
//! SHA-256, `qop=auth`, stateless nonces that carry their own time and MAC, a nonce-count
//! replay check, and constant-time comparison.

use hmac::{Hmac, Mac};
use md5::Md5;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use subtle::ConstantTimeEq;

use crate::clock::Millis;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "MD5" => Some(Self::Md5),
            "SHA-256" | "SHA256" => Some(Self::Sha256),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Sha256 => "SHA-256",
        }
    }
    pub fn hash(self, data: &str) -> String {
        match self {
            Self::Md5 => hex::encode(Md5::digest(data.as_bytes())),
            Self::Sha256 => hex::encode(Sha256::digest(data.as_bytes())),
        }
    }
}

/// The fields of a `Digest` Authorization header that the check uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub response: String,
    pub algorithm: Option<String>,
    pub qop: Option<String>,
    pub nc: Option<String>,
    pub cnonce: Option<String>,
    pub opaque: Option<String>,
}

const MAX_PARAMS: usize = 32;
const MAX_VALUE: usize = 1024;

/// Parse `Digest a=b, c="d"` (the scheme is case-insensitive; quoted strings may hold
/// escaped characters and commas). Errors name what is wrong.
pub fn parse_authorization(value: &str) -> Result<Credentials, String> {
    let value = value.trim();
    let (scheme, rest) = value
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("digest") {
        return Err(format!(
            "unsupported authorization scheme {scheme:?}: use Digest"
        ));
    }
    let params = parse_params(rest)?;
    let get = |k: &str| params.get(k).cloned();
    let need = |k: &str| get(k).ok_or_else(|| format!("digest field {k} is missing"));
    let c = Credentials {
        username: need("username")?,
        realm: need("realm")?,
        nonce: need("nonce")?,
        uri: need("uri")?,
        response: need("response")?,
        algorithm: get("algorithm"),
        qop: get("qop"),
        nc: get("nc"),
        cnonce: get("cnonce"),
        opaque: get("opaque"),
    };
    if let Some(q) = &c.qop {
        if !q.eq_ignore_ascii_case("auth") {
            return Err(format!("digest qop {q:?} is not supported: use auth"));
        }
        let nc =
            c.nc.as_deref()
                .ok_or("digest field nc is missing (qop=auth needs it)")?;
        if nc.len() != 8 || u32::from_str_radix(nc, 16).is_err() {
            return Err("digest field nc must be 8 hexadecimal digits".into());
        }
        if c.cnonce.as_deref().is_none_or(str::is_empty) {
            return Err("digest field cnonce is missing (qop=auth needs it)".into());
        }
    }
    if c.response.len() > 128 || !c.response.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("digest field response must be hexadecimal".into());
    }
    Ok(c)
}

/// The parameters of a `Digest …` challenge (WWW-Authenticate).
pub fn parse_challenge(value: &str) -> Result<HashMap<String, String>, String> {
    let value = value.trim();
    let (scheme, rest) = value
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("digest") {
        return Err(format!("unsupported challenge scheme {scheme:?}"));
    }
    parse_params(rest)
}

fn parse_params(s: &str) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    let b = s.as_bytes();
    let mut i = 0;
    loop {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b',') {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && b[i] != b',' && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = s[start..i].to_ascii_lowercase();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' {
            return Err(format!("digest field {key:?} has no value"));
        }
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut val = Vec::new();
        if i < b.len() && b[i] == b'"' {
            i += 1;
            loop {
                match b.get(i) {
                    None => {
                        return Err(format!("digest field {key:?}: unterminated quoted string"))
                    }
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') => {
                        if let Some(&c) = b.get(i + 1) {
                            val.push(c);
                        }
                        i += 2;
                    }
                    Some(&c) => {
                        val.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            let vs = i;
            while i < b.len() && b[i] != b',' && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            val.extend_from_slice(&b[vs..i]);
        }
        if key.is_empty() {
            return Err("digest header has an empty field name".into());
        }
        if val.len() > MAX_VALUE {
            return Err(format!("digest field {key} is too long"));
        }
        let val = String::from_utf8(val).map_err(|_| format!("digest field {key} is not UTF-8"))?;
        out.insert(key, val);
        if out.len() > MAX_PARAMS {
            return Err("digest header has too many fields".into());
        }
    }
    Ok(out)
}

/// H(A1) for a user, realm and password.
pub fn ha1(alg: Algorithm, user: &str, realm: &str, password: &str) -> String {
    alg.hash(&format!("{user}:{realm}:{password}"))
}

/// The response a client with this HA1 computes for these credentials and method.
pub fn expected_response(alg: Algorithm, ha1: &str, method: &str, c: &Credentials) -> String {
    let ha2 = alg.hash(&format!("{method}:{}", c.uri));
    match (&c.qop, &c.nc, &c.cnonce) {
        (Some(qop), Some(nc), Some(cnonce)) => alg.hash(&format!(
            "{ha1}:{}:{nc}:{cnonce}:{}:{ha2}",
            c.nonce,
            qop.to_ascii_lowercase()
        )),
        _ => alg.hash(&format!("{ha1}:{}:{ha2}", c.nonce)),
    }
}

/// Constant-time comparison of two hex digests (case-insensitive).
pub fn digest_eq(a: &str, b: &str) -> bool {
    let a = a.to_ascii_lowercase();
    let b = b.to_ascii_lowercase();
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// What a nonce check says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceState {
    Fresh,
    /// Ours, but too old: the client should retry with a new one (`stale=true`).
    Stale,
    /// Not ours, or tampered with.
    Invalid,
}

/// Mints and checks stateless nonces: `<issued ms hex>.<random hex>.<mac hex>`, the MAC
/// keyed by the service secret, so that any instance sharing the secret accepts them.
/// Remembers the highest nonce-count seen per nonce (while the nonce is fresh) to refuse
/// replays.
pub struct Nonces {
    key: [u8; 32],
    ttl: Millis,
    seen: Mutex<Seen>,
}

/// The counts seen, and the size at which `accept_count` next drops the old ones (it grows
/// with the live set, so that the sweep stays amortised O(1) per request).
struct Seen {
    counts: HashMap<String, (u32, Millis)>,
    sweep_at: usize,
}

const SWEEP_AT_LEAST: usize = 100_000;

type HmacSha256 = Hmac<Sha256>;

impl Nonces {
    pub fn new(key: [u8; 32], ttl: Millis) -> Self {
        Self {
            key,
            ttl,
            seen: Mutex::new(Seen {
                counts: HashMap::new(),
                sweep_at: SWEEP_AT_LEAST,
            }),
        }
    }

    fn mac(&self, body: &str) -> String {
        let mut m = <HmacSha256 as Mac>::new_from_slice(&self.key).expect("any key length");
        m.update(body.as_bytes());
        hex::encode(&m.finalize().into_bytes()[..12])
    }

    pub fn mint(&self, now: Millis) -> String {
        let body = format!("{:x}.{:016x}", now, rand::random::<u64>());
        let mac = self.mac(&body);
        format!("{body}.{mac}")
    }

    pub fn check(&self, nonce: &str, now: Millis) -> NonceState {
        let Some((body, mac)) = nonce.rsplit_once('.') else {
            return NonceState::Invalid;
        };
        if !digest_eq(&self.mac(body), mac) {
            return NonceState::Invalid;
        }
        let Some(issued) = body
            .split_once('.')
            .and_then(|(t, _)| i64::from_str_radix(t, 16).ok())
        else {
            return NonceState::Invalid;
        };
        if issued > now + 60_000 {
            return NonceState::Invalid;
        }
        if now - issued > self.ttl {
            NonceState::Stale
        } else {
            NonceState::Fresh
        }
    }

    /// Accept nonce-count `nc` for `nonce` only if it is higher than any seen before.
    /// Without qop there is no count: the nonce is then good for one request.
    pub fn accept_count(&self, nonce: &str, nc: Option<&str>, now: Millis) -> bool {
        let n = match nc {
            Some(nc) => match u32::from_str_radix(nc, 16) {
                Ok(n) => n,
                Err(_) => return false,
            },
            None => 1,
        };
        let mut seen = match self.seen.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        if seen.counts.len() > seen.sweep_at {
            let ttl = self.ttl;
            seen.counts.retain(|_, (_, t)| now - *t <= ttl);
            // Every nonce of the last `ttl` may be live: sweep again only when the map has
            // doubled, not on every request (a full scan per REGISTER above 100,000 live
            // nonces, i.e. above ~333 sign-ins/s with 300 s nonces, capped throughput).
            seen.sweep_at = (seen.counts.len() * 2).max(SWEEP_AT_LEAST);
        }
        let seen = &mut seen.counts;
        match seen.get_mut(nonce) {
            Some((last, _)) if *last >= n => false,
            Some((last, _)) => {
                *last = n;
                true
            }
            None => {
                seen.insert(nonce.to_string(), (n, now));
                true
            }
        }
    }

    /// Forget counts of nonces past their lifetime.
    pub fn sweep(&self, now: Millis) {
        let ttl = self.ttl;
        if let Ok(mut seen) = self.seen.lock() {
            seen.counts.retain(|_, (_, t)| now - *t <= ttl);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_example_md5() {
        // RFC 2617 §3.5 (with HTTP's method and uri).
        let c = parse_authorization(
            r#"Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .unwrap();
        let h = ha1(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        let r = expected_response(Algorithm::Md5, &h, "GET", &c);
        assert!(digest_eq(&r, &c.response));
    }

    #[test]
    fn rfc7616_example_sha256() {
        // RFC 7616 §3.9.1.
        let c = parse_authorization(
            r#"Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#,
        )
        .unwrap();
        let h = ha1(
            Algorithm::Sha256,
            "Mufasa",
            "http-auth@example.org",
            "Circle of Life",
        );
        let r = expected_response(Algorithm::Sha256, &h, "GET", &c);
        assert_eq!(r, c.response);
    }

    #[test]
    fn bad_headers_name_the_problem() {
        assert!(parse_authorization("Basic abc")
            .unwrap_err()
            .contains("Digest"));
        assert!(parse_authorization(r#"Digest username="a""#)
            .unwrap_err()
            .contains("realm"));
        assert!(parse_authorization(r#"Digest username="a, realm="#).is_err());
        let e = parse_authorization(
            r#"Digest username="a", realm="r", nonce="n", uri="sip:x", response="00", qop=auth, nc=1, cnonce="c""#,
        )
        .unwrap_err();
        assert!(e.contains("nc"), "{e}");
    }

    #[test]
    fn nonces_expire_and_counts_only_rise() {
        let n = Nonces::new([7; 32], 300_000);
        let nonce = n.mint(1_000_000);
        assert_eq!(n.check(&nonce, 1_000_000), NonceState::Fresh);
        assert_eq!(n.check(&nonce, 1_300_001), NonceState::Stale);
        // Change the last character to one it is not (it may already be '0').
        let last = if nonce.ends_with('0') { '1' } else { '0' };
        let forged = format!("{}{last}", &nonce[..nonce.len() - 1]);
        assert_eq!(n.check(&forged, 1_000_000), NonceState::Invalid);
        assert_eq!(
            Nonces::new([8; 32], 300_000).check(&nonce, 1_000_000),
            NonceState::Invalid
        );
        assert!(n.accept_count(&nonce, Some("00000001"), 1_000_000));
        assert!(!n.accept_count(&nonce, Some("00000001"), 1_000_000));
        assert!(n.accept_count(&nonce, Some("00000002"), 1_000_000));
        let other = n.mint(1_000_000);
        assert!(n.accept_count(&other, None, 1_000_000));
        assert!(!n.accept_count(&other, None, 1_000_000));
    }

    #[test]
    fn many_live_nonces_keep_their_counts() {
        // Past the sweep threshold every nonce is still live: none is forgotten (a replay
        // is still refused), and the map is not rescanned on every request.
        let n = Nonces::new([7; 32], 300_000);
        let total = SWEEP_AT_LEAST + 50_000;
        for i in 0..total {
            assert!(n.accept_count(&format!("n{i}"), Some("00000001"), 1_000));
        }
        assert!(!n.accept_count("n0", Some("00000001"), 1_000));
        assert!(n.accept_count("n0", Some("00000002"), 1_000));
        let seen = n.seen.lock().unwrap();
        assert_eq!(seen.counts.len(), total);
        assert!(seen.sweep_at >= total);
    }
}
