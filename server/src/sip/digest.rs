//! The server's side of SIP digest authentication: stateless nonces that carry their own
//! time and MAC, and the nonce-count replay check. The digest math and header parsing it
//! shares with the user agent live in `vcms-digest` and are re-exported here.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

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
/// replays, for at most `MAX_COUNTED` nonces: the memory is the same at any sign-in rate.
pub struct Nonces {
    key: [u8; 32],
    ttl: Millis,
    seen: Mutex<Seen>,
}

/// The counts seen, and the nonces in the order they were first counted (with the time
/// each was issued). Past `MAX_COUNTED` the oldest are forgotten, and a nonce issued no
/// later than the newest forgotten one is refused as stale: forgetting never lets a replay
/// through, it only makes a device that kept an old nonce answer one fresh challenge.
struct Seen {
    counts: HashMap<Arc<str>, u32>,
    order: VecDeque<(Arc<str>, Millis)>,
    forgotten: Millis,
}

/// Nonces whose counts are kept: a few MiB, and at 10,000 sign-ins a second still over
/// six seconds of them (a device answers its challenge within milliseconds).
const MAX_COUNTED: usize = 65_536;

type HmacSha256 = Hmac<Sha256>;

/// The first `bytes` bytes of HMAC-SHA-256 of `body` under `key`, in hex.
pub fn keyed_hex(key: &[u8; 32], body: &str, bytes: usize) -> String {
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).expect("any key length");
    m.update(body.as_bytes());
    hex::encode(&m.finalize().into_bytes()[..bytes.min(32)])
}

impl Nonces {
    pub fn new(key: [u8; 32], ttl: Millis) -> Self {
        Self {
            key,
            ttl,
            seen: Mutex::new(Seen {
                counts: HashMap::new(),
                order: VecDeque::new(),
                forgotten: Millis::MIN,
            }),
        }
    }

    fn mac(&self, body: &str) -> String {
        keyed_hex(&self.key, body, 12)
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
        let Some(issued) = issued_at(body) else {
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
        let issued = issued_at(nonce).unwrap_or(now);
        let mut seen = match self.seen.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        let seen = &mut *seen;
        // The oldest counted, if expired (they are refused as stale anyway).
        while let Some((old, t)) = seen.order.front() {
            if now - *t <= self.ttl {
                break;
            }
            seen.counts.remove(old);
            seen.order.pop_front();
        }
        match seen.counts.get_mut(nonce) {
            Some(last) if *last >= n => false,
            Some(last) => {
                *last = n;
                true
            }
            None if issued <= seen.forgotten => false,
            None => {
                let key: Arc<str> = nonce.into();
                seen.counts.insert(key.clone(), n);
                seen.order.push_back((key, issued));
                while seen.order.len() > MAX_COUNTED {
                    if let Some((old, t)) = seen.order.pop_front() {
                        seen.counts.remove(&old);
                        seen.forgotten = seen.forgotten.max(t);
                    }
                }
                true
            }
        }
    }

    /// Forget counts of nonces past their lifetime.
    pub fn sweep(&self, now: Millis) {
        let ttl = self.ttl;
        if let Ok(mut seen) = self.seen.lock() {
            let seen = &mut *seen;
            seen.order.retain(|(_, t)| now - *t <= ttl);
            let live: std::collections::HashSet<&Arc<str>> =
                seen.order.iter().map(|(k, _)| k).collect();
            seen.counts.retain(|k, _| live.contains(k));
        }
    }
}

/// When a nonce (or its body, without the MAC) was issued.
fn issued_at(nonce: &str) -> Option<Millis> {
    nonce
        .split_once('.')
        .and_then(|(t, _)| i64::from_str_radix(t, 16).ok())
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
    fn counts_are_kept_for_a_bounded_number_of_nonces_and_no_replay_gets_through() {
        let n = Nonces::new([7; 32], 300_000);
        let mut minted = Vec::new();
        for i in 0..MAX_COUNTED + 1000 {
            let nonce = n.mint(1_000_000 + i as Millis);
            assert!(n.accept_count(&nonce, Some("00000001"), 1_100_000));
            minted.push(nonce);
        }
        assert_eq!(n.seen.lock().unwrap().counts.len(), MAX_COUNTED);
        // A forgotten nonce is refused, not taken for a new one: no replay gets through.
        assert!(!n.accept_count(&minted[0], Some("00000001"), 1_100_000));
        assert!(!n.accept_count(&minted[999], Some("00000002"), 1_100_000));
        // The ones still counted keep their counts.
        let last = minted.last().unwrap();
        assert!(!n.accept_count(last, Some("00000001"), 1_100_000));
        assert!(n.accept_count(last, Some("00000002"), 1_100_000));
        // A nonce issued after them is counted.
        assert!(n.accept_count(&n.mint(1_100_000), Some("00000001"), 1_100_000));
    }
}
