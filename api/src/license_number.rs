//! License numbers: 24 characters from an alphabet without look-alikes; the last two are a
//! checksum so a mistyped number is caught before it is sent. Case-insensitive.

use sha2::{Digest, Sha256};

pub const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
pub const LEN: usize = 24;
/// The characters before the two check characters.
pub const BODY: usize = LEN - 2;

fn checksum(body: &str) -> [u8; 2] {
    let d = Sha256::new()
        .chain_update(b"vcms-license")
        .chain_update(body.as_bytes())
        .finalize();
    [
        ALPHABET[(d[0] & 31) as usize],
        ALPHABET[(d[1] & 31) as usize],
    ]
}

/// `body` ([`BODY`] characters of the [`ALPHABET`]) with its check characters.
pub fn with_checksum(body: &str) -> String {
    let sum = checksum(body);
    format!("{body}{}{}", sum[0] as char, sum[1] as char)
}

/// Why a typed license number is not a license number, or its canonical (upper-case) form.
/// Spaces and dashes people type between groups are ignored.
pub fn normalize(raw: &str) -> Result<String, String> {
    let s: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect::<String>()
        .to_uppercase();
    if s.chars().count() != LEN {
        return Err(format!(
            "license_number must be 24 characters (got {})",
            s.chars().count()
        ));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !ALPHABET.contains(&(*c as u8)) || !c.is_ascii())
    {
        return Err(format!(
            "license_number contains {c:?}, which is not used in license numbers (letters A-Z without I and O, digits 2-9)"
        ));
    }
    let sum = checksum(&s[..BODY]);
    if s.as_bytes()[BODY..] != sum {
        return Err("license_number is mistyped: its check characters do not match".into());
    }
    Ok(s)
}

/// The pattern (OpenAPI document) of a license number as typed: 24 characters of the
/// alphabet in either case, with dashes or spaces between (the check characters cannot be
/// stated in a pattern).
pub fn pattern() -> String {
    let mut class = String::new();
    for &b in ALPHABET {
        class.push(b as char);
        if b.is_ascii_alphabetic() {
            class.push(b.to_ascii_lowercase() as char);
        }
    }
    format!("^[- ]*(?:[{class}][- ]*){{{LEN}}}$")
}

/// Groups of four for display: ABCD-EFGH-...
pub fn display(number: &str) -> String {
    number
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generate() -> String {
        use sha2::Digest;
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let d = sha2::Sha256::digest(n.to_le_bytes());
        let body: String = (0..BODY)
            .map(|i| ALPHABET[(d[i] & 31) as usize] as char)
            .collect();
        with_checksum(&body)
    }

    #[test]
    fn generated_numbers_check_and_typos_are_caught() {
        for _ in 0..200 {
            let n = generate();
            assert_eq!(n.len(), 24);
            assert_eq!(normalize(&n.to_lowercase()).unwrap(), n);
            assert_eq!(normalize(&display(&n)).unwrap(), n);
        }
        let n = generate();
        let mut caught = 0;
        for i in 0..BODY {
            let mut b = n.clone().into_bytes();
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            if normalize(std::str::from_utf8(&b).unwrap()).is_err() {
                caught += 1;
            }
        }
        assert!(caught >= BODY - 1, "only {caught} of {BODY} typos caught");
        assert!(normalize("short").is_err());
        assert!(normalize(&"O".repeat(24)).is_err());
    }
}
