//! Identifiers. `SubjectId` and `EntryId` are random and carry nothing personal, so they may be
//! logged and written to the chain. `MessageId` (a `wamid`) embeds the recipient's number in
//! base64, so it is treated as personal data: redacted `Debug`, no `Display`.

use std::fmt;

/// A data subject's internal random id (UUIDv7 text). Names a subject in the chain and the key
/// store without revealing the number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubjectId(String);

impl SubjectId {
    pub fn new() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }

    /// Rebuilds an id read back from storage.
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A small integer derived from the id (FNV-1a, 64 bits), indexed in place of the text so
    /// the subject index stays small. Not unique: lookups also compare the id itself.
    pub fn index_key(&self) -> i64 {
        let hash = self.0.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        hash as i64
    }
}

impl Default for SubjectId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for SubjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The random identity of one ledger entry; bound into the AEAD associated data so a ciphertext
/// cannot be moved to another entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EntryId([u8; 16]);

impl EntryId {
    pub fn new() -> Self {
        Self(*uuid::Uuid::new_v4().as_bytes())
    }

    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl Default for EntryId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&uuid::Uuid::from_bytes(self.0).to_string())
    }
}

/// A Cloud API message id (`wamid.…`). Personal: it encodes the user's number.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MessageId(String);

impl MessageId {
    /// A message id as found on the wire; `None` when empty.
    pub fn parse(raw: &str) -> Option<Self> {
        let trimmed = raw.trim();
        (!trimmed.is_empty() && trimmed.len() <= 256).then(|| Self(trimmed.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MessageId([redacted])")
    }
}
