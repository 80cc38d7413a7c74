//! Identifier shapes the Cloud API uses: `wamid.` message ids, media ids, `sha256` hashes,
//! `fbtrace_id`s, conversation ids and business-scoped user ids (BSUIDs). Message ids are a pure
//! function of a sequence number and a per-run salt (a bijective mix), so they are unique within
//! a run and can be rebuilt later from the number alone; everything else draws from the rng.
//! Nothing here encodes a phone number (real wamids do; ours must not leak subjects into metadata).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rand::Rng;

const HEX: &[u8; 16] = b"0123456789ABCDEF";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// SplitMix64's finaliser: a bijection on `u64`, so distinct inputs give distinct outputs.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn push_hex(buf: &mut Vec<u8>, value: u64, digits: u32) {
    for i in (0..digits).rev() {
        buf.push(HEX[((value >> (4 * i)) & 0xf) as usize]);
    }
}

/// Builds `wamid.` ids for one run.
#[derive(Debug, Clone, Copy)]
pub struct WamidGen {
    salt: u64,
}

impl WamidGen {
    pub fn new(salt: u64) -> Self {
        Self { salt }
    }

    /// The id of message number `seq`. Laid out like Meta's (a small protobuf-ish frame, base64):
    /// all 64 bits of `mix(seq + salt)` are in it, so ids never repeat within a run.
    pub fn wamid(&self, seq: u64, inbound: bool) -> String {
        let unique = mix(seq.wrapping_add(self.salt));
        let filler = mix(unique ^ 0x5bd1_e995_0000_0001);
        let mut frame = Vec::with_capacity(48);
        frame.extend_from_slice(&[0x1c, 0x18, 0x0c]);
        push_hex(&mut frame, unique >> 16, 12);
        frame.extend_from_slice(&[0x15, 0x02, 0x00, if inbound { 0x12 } else { 0x11 }, 0x18]);
        let tail = if inbound { 20 } else { 18 };
        frame.push(tail as u8);
        push_hex(&mut frame, unique & 0xffff, 4);
        push_hex(&mut frame, filler, 14);
        if inbound {
            push_hex(&mut frame, filler >> 56, 2);
        }
        frame.push(0x00);
        let mut id = String::with_capacity(6 + frame.len() * 4 / 3 + 4);
        id.push_str("wamid.");
        STANDARD.encode_string(&frame, &mut id);
        id
    }
}

/// A numeric Graph id (media ids, phone number ids, WABA ids): `digits` long, no leading zero.
pub fn numeric_id<R: Rng>(rng: &mut R, digits: u32) -> String {
    let low = 10u64.pow(digits - 1);
    rng.gen_range(low..low * 10).to_string()
}

/// A media `sha256` as the webhooks carry it: base64 of 32 bytes.
pub fn sha256_b64<R: Rng>(rng: &mut R) -> String {
    let bytes: [u8; 32] = rng.gen();
    STANDARD.encode(bytes)
}

/// A Graph `fbtrace_id`: 23 url-safe characters.
pub fn fbtrace<R: Rng>(rng: &mut R) -> String {
    (0..23)
        .map(|_| URL_SAFE[rng.gen_range(0..64)] as char)
        .collect()
}

/// A conversation id of the pre-v24 status shape: 32 lower-case hex digits.
pub fn conversation_id<R: Rng>(rng: &mut R) -> String {
    let (a, b): (u64, u64) = rng.gen();
    format!("{a:016x}{b:016x}")
}

/// A business-scoped user id such as `US.13491208655302741918`; `enterprise` gives the
/// `parent_user_id` form `US.ENT.…`.
pub fn bsuid<R: Rng>(rng: &mut R, iso: &str, enterprise: bool) -> String {
    let n: u64 = rng.gen_range(10_000_000_000_000_000_000..=u64::MAX);
    if enterprise {
        format!("{iso}.ENT.{n}")
    } else {
        format!("{iso}.{n}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::collections::HashSet;

    #[test]
    fn wamids_are_unique_and_look_like_meta_ids() {
        let ids = WamidGen::new(42);
        let all: HashSet<String> = (0..50_000).map(|s| ids.wamid(s, s % 3 == 0)).collect();
        assert_eq!(all.len(), 50_000);
        let one = ids.wamid(7, false);
        assert!(one.starts_with("wamid.HBgM"), "{one}");
        assert!(one.len() <= 128);
        assert_eq!(ids.wamid(7, false), one, "a pure function of seq and salt");
    }

    #[test]
    fn bsuids_have_twenty_digits() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let id = bsuid(&mut rng, "US", false);
        assert_eq!(id.len(), "US.".len() + 20, "{id}");
        assert!(bsuid(&mut rng, "GB", true).starts_with("GB.ENT."));
    }
}
