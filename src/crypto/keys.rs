//! The key hierarchy. A 256-bit master key (a file of mode 0600, or `WALEDGER_MASTER_KEY`) is
//! never used directly: HKDF-SHA256 (RFC 5869) derives from it a key-wrapping key and a key-check
//! value ([`Wrapper`]). Everything that must survive a change of master key (the blind-index keys
//! and the Ed25519 signing seed) derives from a random root secret kept wrapped in the key store,
//! so `keys rotate` re-wraps the root and the data keys and no lookup or signature changes. Each
//! data subject gets a random data key, stored only wrapped (AES-256-GCM, bound to the subject
//! id), so that destroying the wrapped key makes every copy of the subject's ciphertext unreadable.

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
    #[error("a master key rotation is in progress; run `waledger keys rotate` again to finish it")]
    RotationInProgress,
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
        derive(&self.0, label)
    }
}

/// HKDF-SHA256 of `secret` for one purpose.
fn derive(secret: &[u8; 32], label: &'static str) -> Zeroizing<[u8; 32]> {
    let mut out = hkdf(b"waledger/v1", secret, label);
    let kept = Zeroizing::new(out);
    out.zeroize();
    kept
}

fn hkdf(salt: &[u8], secret: &[u8], label: &'static str) -> [u8; 32] {
    struct Len32;
    impl KeyType for Len32 {
        fn len(&self) -> usize {
            32
        }
    }
    let mut out = [0u8; 32];
    Salt::new(HKDF_SHA256, salt)
        .extract(secret)
        .expand(&[label.as_bytes()], Len32)
        .expect("HKDF-SHA256 can expand 32 bytes")
        .fill(&mut out)
        .expect("HKDF-SHA256 can fill 32 bytes");
    out
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

/// A data key, unwrapped, ready to seal and open values.
pub struct DataKey {
    aead: LessSafeKey,
    raw: Zeroizing<[u8; 32]>,
}

impl DataKey {
    fn from_bytes(bytes: &[u8; 32]) -> Self {
        Self {
            aead: LessSafeKey::new(
                UnboundKey::new(&AES_256_GCM, bytes).expect("32 bytes is an AES-256 key"),
            ),
            raw: Zeroizing::new(*bytes),
        }
    }

    /// The key a value is sealed under: this (subject or system) key combined with the key of the
    /// value's retention bucket (field kind and day), by HKDF-SHA256 over both. Destroying either
    /// key makes the value unreadable: the subject's at erasure, the bucket's once a purge has
    /// removed every value in it.
    pub fn with_bucket(&self, bucket: &DataKey) -> DataKey {
        let mut both = Zeroizing::new([0u8; 64]);
        both[..32].copy_from_slice(self.raw.as_slice());
        both[32..].copy_from_slice(bucket.raw.as_slice());
        let mut derived = hkdf(b"waledger/content-key/v2", both.as_slice(), "content");
        let key = DataKey::from_bytes(&derived);
        derived.zeroize();
        key
    }

    /// AES-256-GCM seal of `plaintext`, bound to `aad` (the entry's identity).
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        aead::seal(&self.aead, aad, plaintext)
    }

    /// Opens a value sealed by [`DataKey::seal`] with the same `aad`.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, aead::SealError> {
        aead::open(&self.aead, aad, sealed).map(Zeroizing::new)
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

/// What the master key alone gives: the key that wraps data keys and the root, and the key check.
pub struct Wrapper {
    wrapping: LessSafeKey,
    key_check: hmac::Key,
}

impl Wrapper {
    pub fn of(master: &MasterKey) -> Self {
        let wrapping = master.derive("key-wrapping");
        Self {
            wrapping: LessSafeKey::new(
                UnboundKey::new(&AES_256_GCM, wrapping.as_slice())
                    .expect("32 bytes is an AES-256 key"),
            ),
            key_check: hmac::Key::new(hmac::HMAC_SHA256, master.derive("key-check").as_slice()),
        }
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

    fn wrap(&self, aad: &[u8], raw: &[u8; 32]) -> WrappedKey {
        WrappedKey(aead::seal(&self.wrapping, aad, raw))
    }

    fn unwrap(&self, aad: &[u8], wrapped: &WrappedKey) -> Result<Zeroizing<[u8; 32]>, KeyError> {
        let raw = Zeroizing::new(
            aead::open(&self.wrapping, aad, &wrapped.0).map_err(|_| KeyError::Unwrap)?,
        );
        let bytes: [u8; 32] = raw.as_slice().try_into().map_err(|_| KeyError::Unwrap)?;
        Ok(Zeroizing::new(bytes))
    }

    /// A fresh random root secret, wrapped under this master key (for a new key store).
    pub fn new_root(&self) -> WrappedKey {
        let raw = Zeroizing::new(random_array::<32>());
        self.wrap(ROOT_AAD, &raw)
    }

    /// The root of a key store made before roots were stored: the master key itself, so that
    /// every blind index and signature it made stays valid. A later rotation replaces the master.
    pub fn legacy_root(&self, master: &MasterKey) -> WrappedKey {
        self.wrap(ROOT_AAD, &master.0)
    }
}

/// Everything derived from the master key and the root secret, built once per process.
pub struct Keyring {
    wrapper: Wrapper,
    root: Zeroizing<[u8; 32]>,
    phone_index: hmac::Key,
    message_index: hmac::Key,
    envelope_index: hmac::Key,
    signing: Ed25519KeyPair,
}

impl Keyring {
    /// A keyring whose root is the master key itself (key stores made before roots were
    /// stored, and tests).
    pub fn derive(master: &MasterKey) -> Self {
        Self::build(Wrapper::of(master), master.0.clone())
    }

    /// Opens the key store's wrapped root with the master key's wrapper.
    pub fn open(wrapper: Wrapper, wrapped_root: &WrappedKey) -> Result<Self, KeyError> {
        let root = wrapper.unwrap(ROOT_AAD, wrapped_root)?;
        Ok(Self::build(wrapper, root))
    }

    fn build(wrapper: Wrapper, root: Zeroizing<[u8; 32]>) -> Self {
        let hmac_key = |label| hmac::Key::new(hmac::HMAC_SHA256, derive(&root, label).as_slice());
        let seed = derive(&root, "checkpoint-signing/ed25519");
        Self {
            wrapper,
            phone_index: hmac_key("blind-index/phone"),
            message_index: hmac_key("blind-index/message"),
            envelope_index: hmac_key("blind-index/envelope"),
            signing: Ed25519KeyPair::from_seed_unchecked(seed.as_slice())
                .expect("any 32-byte seed is an Ed25519 key"),
            root,
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

    /// The key check of the master key in use.
    pub fn key_check(&self) -> Digest {
        self.wrapper.key_check()
    }

    /// A fresh random data key for `owner` (a subject id, or the system owner), and its wrapped form.
    pub fn new_data_key(&self, owner: &str) -> (DataKey, WrappedKey) {
        let mut raw: [u8; 32] = random_array();
        let key = DataKey::from_bytes(&raw);
        let wrapped = self.wrapper.wrap(&wrap_aad(owner), &raw);
        raw.zeroize();
        (key, wrapped)
    }

    /// Unwraps a stored data key; fails if it belongs to another owner or another master key.
    pub fn unwrap_data_key(&self, owner: &str, wrapped: &WrappedKey) -> Result<DataKey, KeyError> {
        let raw = self.wrapper.unwrap(&wrap_aad(owner), wrapped)?;
        Ok(DataKey::from_bytes(&raw))
    }

    /// Re-wraps a stored data key under the next master key (a rotation); the key itself is
    /// unchanged, so every value sealed under it still opens.
    pub fn rewrap_data_key(
        &self,
        owner: &str,
        wrapped: &WrappedKey,
        next: &Wrapper,
    ) -> Result<WrappedKey, KeyError> {
        let raw = self.wrapper.unwrap(&wrap_aad(owner), wrapped)?;
        Ok(next.wrap(&wrap_aad(owner), &raw))
    }

    /// The root secret wrapped under the next master key (a rotation).
    pub fn rewrap_root(&self, next: &Wrapper) -> WrappedKey {
        next.wrap(ROOT_AAD, &self.root)
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
/// Associated data of the wrapped root secret. Do *not* modify.
const ROOT_AAD: &[u8] = b"waledger/root/v1";

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
        assert!(ring_a
            .wrapper
            .confirm_key_check(&ring_a.key_check())
            .is_ok());
        assert!(ring_b
            .wrapper
            .confirm_key_check(&ring_a.key_check())
            .is_err());
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

#[cfg(test)]
mod rotation_tests {
    use super::*;

    #[test]
    fn rotation_keeps_indexes_and_signatures_and_the_old_master_opens_nothing() {
        let (old, next) = (MasterKey::generate(), MasterKey::generate());
        let wrapped_root = Wrapper::of(&old).new_root();
        let ring = Keyring::open(Wrapper::of(&old), &wrapped_root).unwrap();
        let (key, wrapped) = ring.new_data_key("subject-1");
        let sealed = key.seal(b"aad", b"value");

        let rewrapped = ring
            .rewrap_data_key("subject-1", &wrapped, &Wrapper::of(&next))
            .unwrap();
        let next_root = ring.rewrap_root(&Wrapper::of(&next));
        let rotated = Keyring::open(Wrapper::of(&next), &next_root).unwrap();
        let back = rotated.unwrap_data_key("subject-1", &rewrapped).unwrap();
        assert_eq!(back.open(b"aad", &sealed).unwrap().as_slice(), b"value");

        let phone = PhoneNumber::parse("+447700900123").unwrap();
        assert_eq!(ring.phone_index(&phone), rotated.phone_index(&phone));
        assert_eq!(ring.public_key(), rotated.public_key());
        // The old master key opens neither the re-wrapped keys nor the re-wrapped root.
        assert!(ring.unwrap_data_key("subject-1", &rewrapped).is_err());
        assert!(Keyring::open(Wrapper::of(&old), &next_root).is_err());
    }

    #[test]
    fn a_legacy_root_keeps_what_the_master_key_derived() {
        let master = MasterKey::generate();
        let wrapper = Wrapper::of(&master);
        let legacy = wrapper.legacy_root(&master);
        let opened = Keyring::open(Wrapper::of(&master), &legacy).unwrap();
        let direct = Keyring::derive(&master);
        let phone = PhoneNumber::parse("+447700900123").unwrap();
        assert_eq!(opened.phone_index(&phone), direct.phone_index(&phone));
        assert_eq!(opened.public_key(), direct.public_key());
    }
}
