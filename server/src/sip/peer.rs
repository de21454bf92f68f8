//! Instances of one service (one database, one secret key) hand calls to each other: the
//! instance a caller reached, finding the callee's device registered on another instance,
//! forwards the INVITE there with this header. It proves that the caller was authenticated
//! by an instance of the service: an HMAC, under a key derived from the shared secret key,
//! of the time, the Call-ID, the From tag and both parties' numbers, good for 32 seconds.
//! The receiving instance then rings only its own bindings (never forwards again, so no
//! loop), and no device can pass for an instance without the secret key.

use rsipstack::sip::prelude::*;
use rsipstack::sip::{Header, Request};

use crate::clock::Millis;

use super::digest::{digest_eq, keyed_hex};

/// The header's name; it never reaches a device.
pub const HEADER: &str = "X-Vcms-Peer";

/// How long a forwarded INVITE's proof is good for (a SIP transaction's lifetime).
const TTL: Millis = 32_000;

pub struct PeerKey {
    key: [u8; 32],
}

fn is_ours(h: &Header) -> bool {
    matches!(h, Header::Other(n, _) if n.eq_ignore_ascii_case(HEADER))
}

/// Remove every copy of the header (a request leaving for a device, or one from outside).
pub fn strip(r: &mut Request) {
    r.headers.retain(|h| !is_ours(h));
}

/// What the proof covers: the Call-ID, the From tag and user, and the Request-URI's user
/// (the callee's cloud number).
fn covered(r: &Request) -> Option<String> {
    let call_id = r.call_id_header().ok()?.value().to_string();
    let from = r.from_header().ok()?.typed().ok()?;
    let tag = from.tag()?.to_string();
    let caller = from.uri.user().unwrap_or("").to_string();
    let callee = r.uri.user().unwrap_or("").to_string();
    Some(format!("{call_id}|{tag}|{caller}|{callee}"))
}

impl PeerKey {
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// The header to add to `r` (its Request-URI already the callee's cloud number).
    pub fn mark(&self, r: &Request, now: Millis) -> Option<Header> {
        let body = format!("{now:x}|{}", covered(r)?);
        let mac = keyed_hex(&self.key, &body, 16);
        Some(Header::Other(HEADER.into(), format!("{now:x}.{mac}")))
    }

    /// Whether `r` carries a proof made by an instance of this service, now.
    pub fn verify(&self, r: &Request, now: Millis) -> bool {
        let Some(v) = r.headers.iter().find_map(|h| match h {
            Header::Other(n, v) if n.eq_ignore_ascii_case(HEADER) => Some(v.trim()),
            _ => None,
        }) else {
            return false;
        };
        let Some((ts, mac)) = v.split_once('.') else {
            return false;
        };
        let Ok(at) = Millis::from_str_radix(ts, 16) else {
            return false;
        };
        if (now - at).abs() > TTL {
            return false;
        }
        let Some(c) = covered(r) else { return false };
        digest_eq(&keyed_hex(&self.key, &format!("{ts}|{c}"), 16), mac)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite(extra: &str) -> Request {
        let text = format!(
            "INVITE sip:123456789@vcms.local SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n\
             From: <sip:987654321@vcms.local>;tag=abc\r\nTo: <sip:123456789@vcms.local>\r\n\
             Call-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        Request::try_from(text.as_str()).unwrap()
    }

    #[test]
    fn only_a_fresh_proof_of_the_same_call_under_the_same_key_passes() {
        let k = PeerKey::new([7; 32]);
        let mut r = invite("");
        assert!(!k.verify(&r, 1_000));
        r.headers.push(k.mark(&r, 1_000).unwrap());
        assert!(k.verify(&r, 1_000));
        assert!(k.verify(&r, 30_000));
        assert!(!k.verify(&r, 1_000 + TTL + 1), "too old");
        assert!(!PeerKey::new([8; 32]).verify(&r, 1_000), "another key");
        let mut other = r.clone();
        other.uri = rsipstack::sip::Uri::try_from("sip:111111111@vcms.local").unwrap();
        assert!(!k.verify(&other, 1_000), "another callee");
        let forged = invite("X-Vcms-Peer: 3e8.00112233445566778899aabbccddeeff\r\n");
        assert!(!k.verify(&forged, 1_000));
        strip(&mut r);
        assert!(!k.verify(&r, 1_000));
    }
}
