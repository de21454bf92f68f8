//! License numbers (the rules are in `vcms_api::license_number`, shared with the console).

pub use vcms_api::license_number::*;

/// A new random license number.
pub fn generate() -> String {
    with_checksum(&crate::crypto::random_from(ALPHABET, BODY))
}
