//! Bearer tokens, compared in constant time: the admin token here, the SCIM token in the
//! receiver (one comparison for both, so neither can drift into a timing leak).

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

/// The token a request must carry.
#[derive(Debug, Clone)]
pub struct BearerToken(pub Arc<SecretString>);

impl BearerToken {
    /// Whether an `Authorization` header value carries this token.
    pub fn accepts(&self, header_value: Option<&[u8]>) -> bool {
        presented(header_value)
            .is_some_and(|t| bool::from(t.ct_eq(self.0.expose_secret().as_bytes())))
    }
}

/// The token of an `Authorization: Bearer …` header value (scheme in any case), or `None`.
pub fn presented(header_value: Option<&[u8]>) -> Option<&[u8]> {
    let value = header_value?;
    let scheme_end = value.iter().position(|b| *b == b' ')?;
    let (scheme, rest) = value.split_at(scheme_end);
    scheme
        .eq_ignore_ascii_case(b"bearer")
        .then(|| rest.trim_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> BearerToken {
        BearerToken(Arc::new(SecretString::from("s3cret-token-0123")))
    }

    #[test]
    fn only_the_exact_bearer_token_passes() {
        let t = token();
        assert!(t.accepts(Some(b"Bearer s3cret-token-0123")));
        assert!(t.accepts(Some(b"bearer s3cret-token-0123")));
        assert!(!t.accepts(Some(b"Bearer s3cret-token-012")));
        assert!(!t.accepts(Some(b"Basic s3cret-token-0123")));
        assert!(!t.accepts(Some(b"s3cret-token-0123")));
        assert!(!t.accepts(None));
    }
}
