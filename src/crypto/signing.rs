//! Verification of Ed25519 (RFC 8032) signatures made by [`Keyring::sign`](super::Keyring::sign),
//! and the short public key id printed on checkpoints and receipts.

use thiserror::Error;

/// Bytes of SHA-256(public key) shown as a key id (hex-encoded).
pub const PUBLIC_KEY_ID_LEN: usize = 8;

#[derive(Debug, Error, PartialEq, Eq)]
#[error("the signature does not match the signed content and public key")]
pub struct SignatureError;

/// Checks an Ed25519 signature.
pub fn verify_signature(
    public_key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public_key)
        .verify(message, signature)
        .map_err(|_| SignatureError)
}

/// The hex id of a public key: the first bytes of its SHA-256.
pub fn public_key_id(public_key: &[u8]) -> String {
    hex::encode(&super::sha256(&[public_key])[..PUBLIC_KEY_ID_LEN])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{Keyring, MasterKey};

    #[test]
    fn signatures_verify_and_any_change_is_refused() {
        let ring = Keyring::derive(&MasterKey::generate());
        let sig = ring.sign(b"checkpoint 42");
        assert!(verify_signature(ring.public_key(), b"checkpoint 42", &sig).is_ok());
        assert!(verify_signature(ring.public_key(), b"checkpoint 43", &sig).is_err());
        let other = Keyring::derive(&MasterKey::generate());
        assert!(verify_signature(other.public_key(), b"checkpoint 42", &sig).is_err());
        assert_eq!(public_key_id(ring.public_key()).len(), 16);
    }
}
