//! AES-256-GCM (NIST SP 800-38D) with a fresh random 96-bit nonce per seal, stored in front of
//! the ciphertext: `sealed = nonce (12) ‖ ciphertext ‖ tag (16)`. The associated data binds a
//! ciphertext to the entry it belongs to, so a sealed value copied to another row fails to open.

use super::random_array;
use ring::aead::{Aad, LessSafeKey, Nonce, NONCE_LEN};
use thiserror::Error;

/// Opening failed: the key is wrong, the ciphertext was changed, or it was moved to another
/// entry. Deliberately one variant: the reason is not revealed (OWASP ASVS 6.2.1).
#[derive(Debug, Error, PartialEq, Eq)]
#[error(
    "a sealed value failed authentication (wrong key, changed bytes, or moved to another entry)"
)]
pub struct SealError;

/// Seals `plaintext` under `key`, binding `aad`.
pub fn seal(key: &LessSafeKey, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let nonce_bytes: [u8; NONCE_LEN] = random_array();
    let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + 16);
    out.extend_from_slice(&nonce_bytes);
    out.extend_from_slice(plaintext);
    let mut body = out.split_off(NONCE_LEN);
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce_bytes),
        Aad::from(aad),
        &mut body,
    )
    .expect("AES-GCM sealing cannot fail for inputs under 64 GiB");
    out.append(&mut body);
    out
}

/// Opens a value sealed by [`seal`] under the same key and associated data.
pub fn open(key: &LessSafeKey, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError> {
    if sealed.len() < NONCE_LEN + 16 {
        return Err(SealError);
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError)?;
    let mut buf = body.to_vec();
    let plain = key
        .open_in_place(nonce, Aad::from(aad), &mut buf)
        .map_err(|_| SealError)?;
    let len = plain.len();
    buf.truncate(len);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::aead::{UnboundKey, AES_256_GCM};

    fn key(byte: u8) -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[byte; 32]).unwrap())
    }

    #[test]
    fn round_trips_and_uses_a_fresh_nonce_each_time() {
        let k = key(1);
        let a = seal(&k, b"entry-1", b"hello");
        let b = seal(&k, b"entry-1", b"hello");
        assert_ne!(a[..12], b[..12]);
        assert_eq!(open(&k, b"entry-1", &a).unwrap(), b"hello");
    }

    #[test]
    fn every_flipped_bit_wrong_aad_or_wrong_key_is_refused() {
        let k = key(1);
        let sealed = seal(&k, b"entry-1", b"a value of some length");
        for bit in 0..sealed.len() * 8 {
            let mut bad = sealed.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(open(&k, b"entry-1", &bad), Err(SealError));
        }
        assert_eq!(open(&k, b"entry-2", &sealed), Err(SealError));
        assert_eq!(open(&key(2), b"entry-1", &sealed), Err(SealError));
        assert_eq!(open(&k, b"entry-1", &sealed[..20]), Err(SealError));
        assert_eq!(open(&k, b"entry-1", &[]), Err(SealError));
    }
}
