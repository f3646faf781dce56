//! SCIM bearer tokens of a tenants file: stored as their SHA-256, compared in constant
//! time, and only hashed when they are long and random enough to make the hash safe to
//! keep (a SHA-256 of a guessable token is the token).

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Fewest characters a tenant's SCIM token may have.
pub const MIN_TOKEN_CHARS: usize = 32;

/// Least estimated entropy, in bits, of a tenant's SCIM token: the token's length times the
/// Shannon entropy of its characters. A random 32-character base64 or hex token passes; a
/// repeated word or a short alphabet cycled does not.
pub const MIN_TOKEN_BITS: f64 = 100.0;

/// The SHA-256 of a tenant's SCIM token, as the tenants file holds it.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenHash([u8; 32]);

impl std::fmt::Debug for TokenHash {
    /// Only a prefix: enough to tell two tenants apart in a log, useless to an attacker.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenHash({}…)", &self.to_hex()[..8])
    }
}

impl TokenHash {
    /// The hash of `token`.
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// Reads 64 hexadecimal digits (either case), or `None`.
    pub fn parse_hex(hex: &str) -> Option<Self> {
        let hex = hex.trim();
        if hex.len() != 64 || !hex.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Self(bytes))
    }

    /// Lowercase hexadecimal, as `splashsync tenants hash-token` prints it.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether `presented` hashes to this value, in time independent of where they differ.
    pub fn matches(&self, presented: &[u8]) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented).into();
        bool::from(digest.ct_eq(&self.0))
    }
}

/// Refuses a token too short or too regular to be stored as a bare SHA-256, saying why.
pub fn check_strength(token: &str) -> Result<(), String> {
    let chars = token.chars().count();
    if chars < MIN_TOKEN_CHARS {
        return Err(format!(
            "the SCIM token has {chars} characters; use at least {MIN_TOKEN_CHARS} random ones \
             (for example `openssl rand -base64 32`)"
        ));
    }
    if token.chars().any(char::is_whitespace) {
        return Err("the SCIM token must not contain whitespace".into());
    }
    let bits = estimated_bits(token);
    if bits < MIN_TOKEN_BITS {
        return Err(format!(
            "the SCIM token looks guessable (about {bits:.0} bits of entropy, at least \
             {MIN_TOKEN_BITS:.0} needed): use random characters, for example `openssl rand -base64 32`"
        ));
    }
    Ok(())
}

/// Length times the Shannon entropy of the token's character frequencies: a lower bound
/// for a random token's strength, and low for repetitions and short alphabets.
fn estimated_bits(token: &str) -> f64 {
    let mut counts = std::collections::HashMap::<char, usize>::new();
    for c in token.chars() {
        *counts.entry(c).or_default() += 1;
    }
    let n = token.chars().count() as f64;
    let per_char: f64 = counts
        .values()
        .map(|&k| {
            let p = k as f64 / n;
            -p * p.log2()
        })
        .sum();
    per_char * n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_matches_its_token_only() {
        let hash = TokenHash::of("k3J9x0Qm2LrT7vWc8ZpA1sDf4GhJ6kLz");
        assert!(hash.matches(b"k3J9x0Qm2LrT7vWc8ZpA1sDf4GhJ6kLz"));
        assert!(!hash.matches(b"k3J9x0Qm2LrT7vWc8ZpA1sDf4GhJ6kL"));
        assert!(!hash.matches(b""));
    }

    #[test]
    fn hex_round_trips_and_refuses_what_is_not_a_hash() {
        let hash = TokenHash::of("anything");
        assert_eq!(TokenHash::parse_hex(&hash.to_hex()), Some(hash.clone()));
        assert_eq!(
            TokenHash::parse_hex(&hash.to_hex().to_uppercase()),
            Some(hash.clone())
        );
        assert_eq!(
            TokenHash::parse_hex("k3J9x0Qm2LrT7vWc8ZpA1sDf4GhJ6kLz"),
            None
        );
        assert_eq!(TokenHash::parse_hex(&"g".repeat(64)), None);
        assert_eq!(TokenHash::parse_hex(&"é".repeat(32)), None);
        assert!(!format!("{hash:?}").contains(&hash.to_hex()));
    }

    #[test]
    fn the_sha256_is_the_standard_one() {
        // SHA-256("abc") from FIPS 180-2, appendix B.1.
        assert_eq!(
            TokenHash::of("abc").to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn short_or_regular_tokens_are_refused_random_ones_pass() {
        assert!(check_strength("short-token")
            .unwrap_err()
            .contains("at least 32"));
        assert!(check_strength(&"a".repeat(64))
            .unwrap_err()
            .contains("guessable"));
        assert!(check_strength(&"abcd".repeat(10))
            .unwrap_err()
            .contains("guessable"));
        assert!(check_strength("k3J9x0Qm2LrT7vWc8Zp A1sDf4GhJ6kLz9").is_err());
        assert!(check_strength("k3J9x0Qm2LrT7vWc8ZpA1sDf4GhJ6kLz").is_ok());
        assert!(check_strength("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b").is_ok());
    }
}
