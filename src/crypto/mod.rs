//! All cryptography, and the only module that imports `ring`: the master key and what is derived
//! from it, per-subject data keys, AES-256-GCM sealing with associated data, SHA-256 digests,
//! HMAC blind indexes and Ed25519 signatures. Key types cannot be cloned, printed or serialized
//! and are zeroed on drop; any raw access is spelled `dangerously_*`.

mod aead;
mod digest;
mod keys;
mod signing;
mod webhook;

pub use crate::domain::Digest;
pub use aead::{open, seal, SealError};
pub use digest::sha256;
pub use keys::{DataKey, KeyError, Keyring, MasterKey, WrappedKey, Wrapper};
pub use signing::{public_key_id, verify_signature, SignatureError, PUBLIC_KEY_ID_LEN};
pub use webhook::{digests_equal, new_token, token_parts, WebhookKey};

use ring::rand::{SecureRandom, SystemRandom};

/// Fills an array from the operating system's CSPRNG.
pub(crate) fn random_array<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    SystemRandom::new()
        .fill(&mut out)
        .expect("the operating system's random source is available");
    out
}
