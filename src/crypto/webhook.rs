//! Meta's webhook signature (`X-Hub-Signature-256: sha256=<lowercase hex>`): HMAC-SHA256 of the
//! raw request body under the app secret, checked in constant time by `ring` before anything
//! parses the body. And API bearer tokens: random, shown once, stored only as a SHA-256 digest.

use super::{random_array, sha256};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use ring::hmac;
use zeroize::Zeroizing;

/// The app secret as an HMAC key. Not printable.
pub struct WebhookKey(hmac::Key);

impl WebhookKey {
    pub fn new(app_secret: &str) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, app_secret.as_bytes()))
    }

    /// Whether `header` is `sha256=` and the lowercase hex HMAC-SHA256 of `body`.
    pub fn verify(&self, body: &[u8], header: Option<&str>) -> bool {
        let Some(hex_mac) = header.and_then(|h| h.strip_prefix("sha256=")) else {
            return false;
        };
        if hex_mac.len() != 64 || hex_mac.bytes().any(|b| b.is_ascii_uppercase()) {
            return false;
        }
        let Ok(mac) = hex::decode(hex_mac) else {
            return false;
        };
        hmac::verify(&self.0, body, &mac).is_ok()
    }

    /// The header value for `body` (for tests and load generators).
    pub fn sign(&self, body: &[u8]) -> String {
        format!("sha256={}", hex::encode(hmac::sign(&self.0, body).as_ref()))
    }
}

impl std::fmt::Debug for WebhookKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookKey([redacted])")
    }
}

/// A new API token: `wlt_<id>_<secret>` (shown once) and the SHA-256 of its secret (stored).
pub fn new_token() -> (String, Zeroizing<String>, [u8; 32]) {
    let id = hex::encode(random_array::<6>());
    let secret = Zeroizing::new(URL_SAFE_NO_PAD.encode(random_array::<32>()));
    let token = Zeroizing::new(format!("wlt_{id}_{}", secret.as_str()));
    let digest = sha256(&[secret.as_bytes()]);
    (id, token, digest)
}

/// Splits a presented token into its id and the SHA-256 of its secret.
pub fn token_parts(token: &str) -> Option<(&str, [u8; 32])> {
    let rest = token.strip_prefix("wlt_")?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == 12 && !secret.is_empty()).then(|| (id, sha256(&[secret.as_bytes()])))
}

/// Constant-time equality of two digests.
pub fn digests_equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = include_bytes!("../../tests/fixtures/whatsapp/signature/body.raw.json");
    const HEADER: &str = "sha256=92b6e2c60b0dac284dfc67293ce2f6d0e3a89dd433012529d679d813eb9c09e8";

    #[test]
    fn the_shared_test_vector_and_its_negative_cases() {
        let key = WebhookKey::new("test_app_secret_do_not_use");
        assert!(key.verify(BODY, Some(HEADER)));
        assert_eq!(key.sign(BODY), HEADER);
        assert!(!key.verify(BODY, None));
        assert!(!key.verify(BODY, Some(&HEADER.replace("sha256=", "sha1="))));
        assert!(!key.verify(
            BODY,
            Some(&format!("sha256={}", HEADER[7..].to_uppercase()))
        ));
        let mut changed = BODY.to_vec();
        changed[10] ^= 1;
        assert!(!key.verify(&changed, Some(HEADER)));
        let reserialised =
            serde_json::to_vec_pretty(&serde_json::from_slice::<serde_json::Value>(BODY).unwrap())
                .unwrap();
        assert!(!key.verify(&reserialised, Some(HEADER)));
        assert!(!WebhookKey::new("another secret").verify(BODY, Some(HEADER)));
    }

    #[test]
    fn tokens_are_checked_by_the_digest_of_their_secret() {
        let (id, token, digest) = new_token();
        let (parsed_id, parsed) = token_parts(&token).unwrap();
        assert_eq!((parsed_id, parsed), (id.as_str(), digest));
        assert!(token_parts("wlt_short_x").is_none());
        assert!(token_parts("Bearer abc").is_none());
        assert!(digests_equal(&digest, &parsed) && !digests_equal(&digest, &[0; 32]));
    }
}
