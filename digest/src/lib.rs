//! vcms-digest: the SIP digest authentication both ends compute (RFC 3261 §22, RFC 2617,
//! RFC 7616/8760): the algorithms (MD5, SHA-256), H(A1) and the expected response, parsing
//! of `Digest` challenges and credentials, and the Authorization value a client sends. The
//! server keeps its nonces and replay checks (`vcms-server`'s `sip::digest`); the user agent
//! (`vcms-endpoint`) answers challenges. Also the one SIP list-header splitter
//! ([`route_entries`]) the proxy and the user agent share. No I/O, no state.

use md5::Md5;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use subtle::ConstantTimeEq;

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

/// The entries of a Route / Record-Route header value (`<a>, <b>;p`), split outside `<>`
/// and quotes.
pub fn route_entries(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut angle, mut quote) = (false, false);
    for ch in v.chars() {
        match ch {
            '"' if !angle => quote = !quote,
            '<' if !quote => angle = true,
            '>' if !quote => angle = false,
            ',' if !angle && !quote => {
                if !cur.trim().is_empty() {
                    out.push(cur.trim().to_string());
                }
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
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
}
