//! What ingest produces and the ledger records: one `FieldValue` per transmitted value, and the
//! kinds of chain record. The plaintext value is wrapped so it cannot reach a log by accident.

use super::{Direction, FieldKind, MessageId, PhoneNumber};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use strum::{AsRefStr, Display, EnumString};
use zeroize::Zeroize;

/// A plaintext value as it crossed the boundary. Personal data: redacted `Debug`, zeroed on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Plaintext(String);

impl Plaintext {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Drop for Plaintext {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Plaintext([redacted; {} bytes])", self.0.len())
    }
}

/// One value of one message that crossed to or from Meta.
#[derive(Debug, Clone)]
pub struct FieldValue {
    /// The message it belongs to, when the payload names one.
    pub message: Option<MessageId>,
    pub direction: Direction,
    pub kind: FieldKind,
    /// The data subject it is about; `None` for business data and unattributable values.
    pub subject: Option<PhoneNumber>,
    pub value: Plaintext,
    pub occurred_at: DateTime<Utc>,
}

/// What a chain record stands for. Stable string forms: they are hashed into the chain.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Display, EnumString, AsRefStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum RecordKind {
    /// One transmitted value; its content row holds the ciphertext.
    Field,
    /// Values removed by the retention policy: field kind, category, count, policy digest.
    Purge,
    /// A legal hold placed on a subject (by id); its sealed content holds the reason.
    Hold,
    /// A legal hold released.
    HoldRelease,
    /// An erasure request registered (request id, received and due times; no number).
    ErasureRequest,
    /// An erasure request's deadline extended (Art. 12(3)); the reason's digest.
    ErasureExtension,
    /// An erasure request refused because a legal hold covers its subject.
    ErasureRefusal,
    /// An erasure carried out: request id, subject ids, entries erased per category.
    Erasure,
    /// The master key rotated: every wrapped key moved to the new generation.
    KeyRotation,
}

/// A SHA-256 or HMAC-SHA256 output.
pub type Digest = [u8; 32];

/// The first eight bytes of a digest as an integer: a compact index key for lookups by digest
/// (lookups also compare the full digest).
pub fn digest_key(digest: &Digest) -> i64 {
    i64::from_be_bytes(
        digest[..8]
            .try_into()
            .expect("a digest has 8 bytes and more"),
    )
}

/// The non-personal metadata of one chain record: everything the chain hash covers except the
/// position and the link to the previous record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordBody {
    pub entry_id: super::EntryId,
    pub kind: RecordKind,
    /// HMAC of the message id, so `show --message` can find the record without storing the id.
    pub message_digest: Option<Digest>,
    pub direction: Option<Direction>,
    pub field: Option<FieldKind>,
    pub category: Option<super::Category>,
    /// Unix seconds: when the value crossed the boundary (clamped to `recorded_at`).
    pub occurred_at: i64,
    /// Unix seconds: when the ledger recorded it.
    pub recorded_at: i64,
    /// SHA-256 of the sealed content (nonce ‖ ciphertext ‖ tag).
    pub content_digest: Option<Digest>,
    /// Canonical JSON of non-personal details, for records that are not field values.
    pub detail: Option<String>,
}

/// A record as it sits in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainRecord {
    pub seq: i64,
    pub body: RecordBody,
    pub prev_hash: Digest,
    pub hash: Digest,
}

/// The end of the chain: the last sequence number and its hash (`0` and zeros when empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    pub seq: i64,
    pub hash: Digest,
}

impl ChainHead {
    pub const GENESIS: ChainHead = ChainHead {
        seq: 0,
        hash: [0; 32],
    };
}
