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
        let Some(value) = header_value else {
            return false;
        };
        let Some(scheme_end) = value.iter().position(|b| *b == b' ') else {
            return false;
        };
        let (scheme, rest) = value.split_at(scheme_end);
        if !scheme.eq_ignore_ascii_case(b"bearer") {
            return false;
        }
        let presented = rest.trim_ascii();
        bool::from(presented.ct_eq(self.0.expose_secret().as_bytes()))
    }
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
