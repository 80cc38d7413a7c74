//! The key hierarchy. A 256-bit master key (a file of mode 0600, or `WALEDGER_MASTER_KEY`) is
//! never used directly: HKDF-SHA256 (RFC 5869) derives from it a key-wrapping key, the blind-index
//! keys, a key-check value and the Ed25519 signing seed. Each data subject gets a random data key,
//! stored only wrapped (AES-256-GCM under the wrapping key, bound to the subject id), so that
//! destroying the wrapped key makes every copy of the subject's ciphertext unreadable.

use super::{aead, random_array};
use crate::domain::Digest;
use crate::domain::{MessageId, PhoneNumber};
use base64::{engine::general_purpose::STANDARD, Engine};
use ring::aead::{LessSafeKey, UnboundKey, AES_256_GCM};
use ring::hkdf::{KeyType, Salt, HKDF_SHA256};
use ring::hmac;
use ring::signature::{Ed25519KeyPair, KeyPair};
use std::fmt;
use thiserror::Error;
use zeroize::{Zeroize, Zeroizing};

/// Problems with keys. Messages never contain key material.
#[derive(Debug, Error)]
pub enum KeyError {
    #[error("the master key is not base64 of 32 bytes; restore the right key file or WALEDGER_MASTER_KEY")]
    Malformed,
    #[error("the master key does not open this ledger's key store; use the key this ledger was created with")]
    WrongMasterKey,
    #[error("a wrapped data key failed to open; the key store or the master key is not the one this ledger was created with")]
    Unwrap,
}

/// The 256-bit root secret. Not `Clone`, not `Debug`-printable, zeroed on drop.
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl MasterKey {
    /// A fresh random master key.
    pub fn generate() -> Self {
        Self(Zeroizing::new(random_array()))
    }

    /// Reads the key from its base64 text (the key file's content or `WALEDGER_MASTER_KEY`).
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let bytes = Zeroizing::new(
            STANDARD
                .decode(text.trim())
                .map_err(|_| KeyError::Malformed)?,
        );
        let array: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::Malformed)?;
        Ok(Self(Zeroizing::new(array)))
    }

    /// The base64 text to write into a key file. Handle with care: this is the secret.
    pub fn dangerously_to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.0.as_slice()))
    }

    fn derive(&self, label: &'static str) -> Zeroizing<[u8; 32]> {
        struct Len32;
        impl KeyType for Len32 {
            fn len(&self) -> usize {
                32
            }
        }
        let mut out = Zeroizing::new([0u8; 32]);
        Salt::new(HKDF_SHA256, b"waledger/v1")
            .extract(self.0.as_slice())
            .expand(&[label.as_bytes()], Len32)
            .expect("HKDF-SHA256 can expand 32 bytes")
            .fill(out.as_mut_slice())
            .expect("HKDF-SHA256 can fill 32 bytes");
        out
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

/// A subject's data key, unwrapped, ready to seal and open values.
pub struct DataKey(LessSafeKey);

impl DataKey {
    fn from_bytes(bytes: &[u8; 32]) -> Self {
        Self(LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, bytes).expect("32 bytes is an AES-256 key"),
        ))
    }

    /// AES-256-GCM seal of `plaintext`, bound to `aad` (the entry's identity).
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        aead::seal(&self.0, aad, plaintext)
    }

    /// Opens a value sealed by [`DataKey::seal`] with the same `aad`.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, aead::SealError> {
        aead::open(&self.0, aad, sealed).map(Zeroizing::new)
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey([redacted])")
    }
}

/// A data key sealed under the master key's wrapping key: safe to store in the key store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey(pub Vec<u8>);

/// Everything derived from the master key, built once per process.
pub struct Keyring {
    wrapping: LessSafeKey,
    phone_index: hmac::Key,
    message_index: hmac::Key,
    envelope_index: hmac::Key,
    key_check: hmac::Key,
    signing: Ed25519KeyPair,
}

impl Keyring {
    /// Derives every working key from `master` (HKDF-SHA256, one label per purpose).
    pub fn derive(master: &MasterKey) -> Self {
        let hmac_key = |label| hmac::Key::new(hmac::HMAC_SHA256, master.derive(label).as_slice());
        let wrapping = master.derive("key-wrapping");
        let seed = master.derive("checkpoint-signing/ed25519");
        Self {
            wrapping: LessSafeKey::new(
                UnboundKey::new(&AES_256_GCM, wrapping.as_slice())
                    .expect("32 bytes is an AES-256 key"),
            ),
            phone_index: hmac_key("blind-index/phone"),
            message_index: hmac_key("blind-index/message"),
            envelope_index: hmac_key("blind-index/envelope"),
            key_check: hmac_key("key-check"),
            signing: Ed25519KeyPair::from_seed_unchecked(seed.as_slice())
                .expect("any 32-byte seed is an Ed25519 key"),
        }
    }

    /// HMAC-SHA256 blind index of an E.164 number: finds a subject without storing the number.
    pub fn phone_index(&self, phone: &PhoneNumber) -> Digest {
        mac(&self.phone_index, phone.expose_e164().as_bytes())
    }

    /// HMAC-SHA256 of a message id, stored in the chain so `show --message` finds the entries.
    pub fn message_digest(&self, id: &MessageId) -> Digest {
        mac(&self.message_index, id.expose().as_bytes())
    }

    /// HMAC-SHA256 of an envelope's canonical content, to recognise Meta's retried deliveries.
    pub fn envelope_digest(&self, canonical: &[u8]) -> Digest {
        mac(&self.envelope_index, canonical)
    }

    /// A value stored beside the wrapped keys that proves which master key made them.
    pub fn key_check(&self) -> Digest {
        mac(&self.key_check, KEY_CHECK_MESSAGE)
    }

    /// Checks a stored key-check value against this master key (constant time, by `ring`).
    pub fn confirm_key_check(&self, stored: &[u8]) -> Result<(), KeyError> {
        hmac::verify(&self.key_check, KEY_CHECK_MESSAGE, stored)
            .map_err(|_| KeyError::WrongMasterKey)
    }

    /// A fresh random data key for `owner` (a subject id, or the system owner), and its wrapped form.
    pub fn new_data_key(&self, owner: &str) -> (DataKey, WrappedKey) {
        let mut raw: [u8; 32] = random_array();
        let key = DataKey::from_bytes(&raw);
        let wrapped = aead::seal(&self.wrapping, &wrap_aad(owner), &raw);
        raw.zeroize();
        (key, WrappedKey(wrapped))
    }

    /// Unwraps a stored data key; fails if it belongs to another owner or another master key.
    pub fn unwrap_data_key(&self, owner: &str, wrapped: &WrappedKey) -> Result<DataKey, KeyError> {
        let raw = Zeroizing::new(
            aead::open(&self.wrapping, &wrap_aad(owner), &wrapped.0)
                .map_err(|_| KeyError::Unwrap)?,
        );
        let bytes: &[u8; 32] = raw.as_slice().try_into().map_err(|_| KeyError::Unwrap)?;
        Ok(DataKey::from_bytes(bytes))
    }

    /// Ed25519 (RFC 8032) signature over `message` with the ledger's signing key.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.signing.sign(message).as_ref().to_vec()
    }

    /// The signing key's public half, for auditors.
    pub fn public_key(&self) -> &[u8] {
        self.signing.public_key().as_ref()
    }
}

const KEY_CHECK_MESSAGE: &[u8] = b"waledger key check v1";

/// Associated data of a wrapped key. Do *not* modify: existing key stores depend on it.
fn wrap_aad(owner: &str) -> Vec<u8> {
    [b"waledger/data-key/v1\0".as_slice(), owner.as_bytes()].concat()
}

fn mac(key: &hmac::Key, message: &[u8]) -> Digest {
    hmac::sign(key, message)
        .as_ref()
        .try_into()
        .expect("HMAC-SHA256 output is 32 bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_key_round_trips_through_base64_and_never_prints() {
        let key = MasterKey::generate();
        let text = key.dangerously_to_base64();
        let again = MasterKey::from_base64(&text).unwrap();
        assert_eq!(again.dangerously_to_base64(), text);
        assert_eq!(format!("{key:?}"), "MasterKey([redacted])");
        assert!(matches!(
            MasterKey::from_base64("c2hvcnQ="),
            Err(KeyError::Malformed)
        ));
        assert!(matches!(
            MasterKey::from_base64("not base64!"),
            Err(KeyError::Malformed)
        ));
    }

    #[test]
    fn data_keys_unwrap_only_for_their_owner_and_master() {
        let ring_a = Keyring::derive(&MasterKey::generate());
        let ring_b = Keyring::derive(&MasterKey::generate());
        let (key, wrapped) = ring_a.new_data_key("subject-1");
        let sealed = key.seal(b"aad", b"value");
        let back = ring_a.unwrap_data_key("subject-1", &wrapped).unwrap();
        assert_eq!(back.open(b"aad", &sealed).unwrap().as_slice(), b"value");
        assert!(ring_a.unwrap_data_key("subject-2", &wrapped).is_err());
        assert!(ring_b.unwrap_data_key("subject-1", &wrapped).is_err());
    }

    #[test]
    fn key_check_tells_master_keys_apart() {
        let ring_a = Keyring::derive(&MasterKey::generate());
        let ring_b = Keyring::derive(&MasterKey::generate());
        assert!(ring_a.confirm_key_check(&ring_a.key_check()).is_ok());
        assert!(ring_b.confirm_key_check(&ring_a.key_check()).is_err());
    }

    #[test]
    fn blind_indexes_are_keyed() {
        let phone = PhoneNumber::parse("+447700900123").unwrap();
        let ring_a = Keyring::derive(&MasterKey::generate());
        let ring_b = Keyring::derive(&MasterKey::generate());
        assert_eq!(ring_a.phone_index(&phone), ring_a.phone_index(&phone));
        assert_ne!(ring_a.phone_index(&phone), ring_b.phone_index(&phone));
    }
}
