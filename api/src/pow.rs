//! The captcha's proof of work (hashcash): find a decimal `nonce` such that
//! SHA-256("{challenge}:{nonce}") starts with `bits` zero bits. The server issues the challenge
//! (the captcha id: random, stored, single use, valid 5 minutes) and checks a solution with one
//! hash; a solver needs 2^bits hashes on average. Shared by the server and its clients.

use sha2::{Digest, Sha256};

/// Longest nonce accepted (a u64 in decimal).
pub const MAX_NONCE_LEN: usize = 20;

/// Leading zero bits of SHA-256("{challenge}:{nonce}").
pub fn zero_bits(challenge: &str, nonce: &str) -> u32 {
    let mut h = Sha256::new();
    h.update(challenge.as_bytes());
    h.update(b":");
    h.update(nonce.as_bytes());
    leading_zeros(&h.finalize())
}

fn leading_zeros(d: &[u8]) -> u32 {
    let mut bits = 0;
    for b in d {
        if *b == 0 {
            bits += 8;
        } else {
            return bits + b.leading_zeros();
        }
    }
    bits
}

/// Whether `nonce` (decimal digits only) solves `challenge` at `bits`.
pub fn verify(challenge: &str, nonce: &str, bits: u32) -> bool {
    !nonce.is_empty()
        && nonce.len() <= MAX_NONCE_LEN
        && nonce.bytes().all(|b| b.is_ascii_digit())
        && zero_bits(challenge, nonce) >= bits
}

/// Find a solution (CPU-bound: run it on a blocking thread). The hash state of the
/// challenge prefix is computed once and cloned for every try.
pub fn solve(challenge: &str, bits: u32) -> String {
    let mut prefix = Sha256::new();
    prefix.update(challenge.as_bytes());
    prefix.update(b":");
    let mut buf = itoa_buf();
    for n in 0u64.. {
        let digits = itoa(n, &mut buf);
        let mut h = prefix.clone();
        h.update(digits);
        if leading_zeros(&h.finalize()) >= bits {
            return String::from_utf8_lossy(digits).into_owned();
        }
    }
    // 2^64 tries never finish; unreachable in practice.
    String::new()
}

fn itoa_buf() -> [u8; MAX_NONCE_LEN] {
    [0; MAX_NONCE_LEN]
}

/// The decimal digits of `n`, written at the end of `buf`.
fn itoa(mut n: u64, buf: &mut [u8; MAX_NONCE_LEN]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_solution_verifies_and_a_wrong_one_does_not() {
        let n = solve("abc", 10);
        assert!(verify("abc", &n, 10));
        assert!(zero_bits("abc", &n) >= 10);
        assert!(!verify("abd", &n, 30));
        assert!(!verify("abc", "", 0));
        assert!(!verify("abc", "12a", 0));
        assert!(!verify("abc", &"9".repeat(21), 0));
        assert_eq!(itoa(0, &mut itoa_buf()), b"0");
        assert_eq!(
            itoa(u64::MAX, &mut itoa_buf()),
            u64::MAX.to_string().as_bytes()
        );
    }
}
