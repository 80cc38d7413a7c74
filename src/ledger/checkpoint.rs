//! Signed checkpoints: an Ed25519 signature over the chain head (position and hash). One is
//! stored after every ingest run; exported to an auditor, it lets `verify --checkpoint` prove the
//! ledger still extends that head, so a rollback or a rewrite is caught even by someone who can
//! rewrite the whole database.

use super::{Ledger, LedgerError};
use crate::crypto::{public_key_id, verify_signature};
use crate::domain::Digest;
use crate::store::Checkpoint;
use base64::{engine::general_purpose::STANDARD, Engine};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

const FORMAT: &str = "waledger-checkpoint/v1";

/// Why a checkpoint was not accepted.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CheckpointError {
    #[error("the checkpoint file is not a waledger checkpoint ({0}); export one with `waledger verify --checkpoint-out FILE`")]
    Malformed(String),
    #[error("the checkpoint's signature does not verify; the file was changed or was not made by this ledger")]
    BadSignature,
    #[error("the checkpoint was signed by key {found}, not by this ledger's key {expected}")]
    ForeignKey { expected: String, found: String },
    #[error("the ledger no longer extends the checkpoint: entry {seq} is missing or has another hash (rolled back or rewritten)")]
    NotExtended { seq: i64 },
}

/// The portable form of a checkpoint, as `verify --checkpoint-out` writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointFile {
    pub format: String,
    pub seq: i64,
    pub hash: String,
    pub signed_at: DateTime<Utc>,
    pub key_id: String,
    pub public_key: String,
    pub signature: String,
}

/// The exact bytes a checkpoint signature covers. Do *not* modify.
fn signed_message(seq: i64, hash: &Digest, signed_at: i64) -> Vec<u8> {
    format!("{FORMAT}\n{seq}\n{}\n{signed_at}\n", hex::encode(hash)).into_bytes()
}

impl CheckpointFile {
    pub fn from_checkpoint(cp: &Checkpoint) -> Self {
        Self {
            format: FORMAT.to_string(),
            seq: cp.seq,
            hash: hex::encode(cp.hash),
            signed_at: DateTime::from_timestamp(cp.signed_at, 0).unwrap_or_default(),
            key_id: public_key_id(&cp.public_key),
            public_key: STANDARD.encode(&cp.public_key),
            signature: STANDARD.encode(&cp.signature),
        }
    }

    pub fn to_checkpoint(&self) -> Result<Checkpoint, CheckpointError> {
        let bad = |what: &str| CheckpointError::Malformed(what.to_string());
        if self.format != FORMAT {
            return Err(bad("unknown format"));
        }
        let hash: Digest = hex::decode(&self.hash)
            .ok()
            .and_then(|h| h.try_into().ok())
            .ok_or_else(|| bad("hash is not 32 bytes of hex"))?;
        Ok(Checkpoint {
            seq: self.seq,
            hash,
            signed_at: self.signed_at.timestamp(),
            public_key: STANDARD
                .decode(&self.public_key)
                .map_err(|_| bad("public key is not base64"))?,
            signature: STANDARD
                .decode(&self.signature)
                .map_err(|_| bad("signature is not base64"))?,
        })
    }
}

impl Ledger {
    /// Signs the current chain head and stores the checkpoint; `None` for an empty chain.
    #[tracing::instrument(name = "ledger.checkpoint", skip_all, err)]
    pub async fn sign_checkpoint(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Option<Checkpoint>, LedgerError> {
        let head = self.store.head().await?;
        if head.seq == 0 {
            return Ok(None);
        }
        let signed_at = now.timestamp();
        let checkpoint = Checkpoint {
            seq: head.seq,
            hash: head.hash,
            signed_at,
            public_key: self.keyring.public_key().to_vec(),
            signature: self
                .keyring
                .sign(&signed_message(head.seq, &head.hash, signed_at)),
        };
        self.store.add_checkpoint(&checkpoint).await?;
        Ok(Some(checkpoint))
    }

    /// Checks a checkpoint's signature against this ledger's key, and that the chain still holds
    /// the checkpointed hash at its position.
    pub async fn check_checkpoint(
        &self,
        cp: &Checkpoint,
    ) -> Result<Result<(), CheckpointError>, LedgerError> {
        if let Err(e) = self.check_signature(cp) {
            return Ok(Err(e));
        }
        Ok(match self.store.hash_at(cp.seq).await? {
            Some(hash) if hash == cp.hash => Ok(()),
            _ => Err(CheckpointError::NotExtended { seq: cp.seq }),
        })
    }

    fn check_signature(&self, cp: &Checkpoint) -> Result<(), CheckpointError> {
        let ours = self.keyring.public_key();
        if cp.public_key != ours {
            return Err(CheckpointError::ForeignKey {
                expected: public_key_id(ours),
                found: public_key_id(&cp.public_key),
            });
        }
        verify_signature(
            ours,
            &signed_message(cp.seq, &cp.hash, cp.signed_at),
            &cp.signature,
        )
        .map_err(|_| CheckpointError::BadSignature)
    }
}

/// The ledger's own signing key id (from its latest checkpoint) when `key_id` is another one;
/// `None` when they match or the ledger has no checkpoint to tell.
pub async fn foreign_key(store: &dyn crate::store::Store, key_id: &str) -> Option<String> {
    let cp = store.latest_checkpoint().await.ok().flatten()?;
    let expected = public_key_id(&cp.public_key);
    (expected != key_id).then_some(expected)
}
