//! The server's side of SIP digest authentication: stateless nonces that carry their own
//! time and MAC, and the nonce-count replay check. The digest math and header parsing it
//! shares with the user agent live in `vcms-digest` and are re-exported here.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::Mutex;

pub use vcms_digest::{digest_eq, expected_response, ha1, parse_authorization, Algorithm};

use crate::clock::Millis;

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
