//! Signed erasure receipts: what a support agent hands the requester. The receipt names the
//! request, its times, the entries erased per category and the chain position and hash of the
//! erasure entry, and is signed with the ledger's Ed25519 key. It holds no phone number and no
//! digest of one. The signature covers the exact bytes of the `receipt` object, and the file's
//! layout is fixed, so any changed byte fails verification.

use super::{erased_counts, ErasureView};
use crate::crypto::{public_key_id, verify_signature};
use crate::domain::{Category, ErasureState};
use crate::ledger::{Ledger, LedgerError};
use crate::store::ErasureRow;
use base64::{engine::general_purpose::STANDARD, Engine};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use thiserror::Error;

const FORMAT: &str = "waledger-erasure-receipt/v1";

/// The signed part of a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptBody {
    pub format: String,
    pub request: String,
    pub reference: Option<String>,
    pub state: ErasureState,
    pub received_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub completed_at: DateTime<Utc>,
    pub on_time: bool,
    pub entries_erased: u64,
    pub erased: BTreeMap<Category, u64>,
    pub ledger_seq: i64,
    pub ledger_hash: String,
    pub issued_at: DateTime<Utc>,
    pub key_id: String,
    pub public_key: String,
}

/// Why a receipt was not issued or not accepted.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ReceiptError {
    #[error("the request is {0}, not completed; only a completed erasure has a receipt")]
    NotCompleted(ErasureState),
    #[error("the receipt is not a waledger erasure receipt ({0})")]
    Malformed(String),
    #[error("the receipt's signature does not verify: the file was changed or not made by a waledger ledger")]
    BadSignature,
    #[error("the receipt names ledger entry {seq}, but the ledger holds another entry there (or none): it does not come from this ledger or the ledger was rewritten")]
    NotInLedger { seq: i64 },
    #[error("the receipt was signed by key {found}, not by this ledger's key {expected}")]
    ForeignKey { expected: String, found: String },
}

/// A receipt and its signature, as written to a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedReceipt {
    pub body: ReceiptBody,
    raw: String,
    signature: Vec<u8>,
}

fn signed_message(raw: &str) -> Vec<u8> {
    [FORMAT.as_bytes(), b"\n", raw.as_bytes()].concat()
}

fn layout(raw: &str, signature: &[u8]) -> String {
    format!(
        "{{\n\"receipt\": {raw},\n\"signature\": \"{}\"\n}}\n",
        STANDARD.encode(signature)
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReceiptFile<'a> {
    #[serde(borrow)]
    receipt: &'a RawValue,
    signature: String,
}

impl SignedReceipt {
    /// The file's bytes.
    pub fn to_file(&self) -> String {
        layout(&self.raw, &self.signature)
    }

    /// Parses a receipt file and checks its signature against the public key it names. Whether
    /// that key and the entry it names are this ledger's is [`check_ledger`](Self::check_ledger).
    pub fn verify(file: &[u8]) -> Result<Self, ReceiptError> {
        let text = std::str::from_utf8(file)
            .map_err(|_| ReceiptError::Malformed("not UTF-8 text".into()))?;
        let parsed: ReceiptFile<'_> = serde_json::from_str(text).map_err(|e| {
            ReceiptError::Malformed(format!("line {}: {}", e.line(), e.classify_kind()))
        })?;
        let signature = STANDARD
            .decode(&parsed.signature)
            .map_err(|_| ReceiptError::BadSignature)?;
        let raw = parsed.receipt.get().to_string();
        if layout(&raw, &signature) != text {
            return Err(ReceiptError::BadSignature);
        }
        let body: ReceiptBody = serde_json::from_str(&raw)
            .map_err(|e| ReceiptError::Malformed(format!("receipt: {e}")))?;
        if body.format != FORMAT {
            return Err(ReceiptError::Malformed(format!("format is not {FORMAT}")));
        }
        let public_key = STANDARD
            .decode(&body.public_key)
            .map_err(|_| ReceiptError::BadSignature)?;
        if public_key_id(&public_key) != body.key_id {
            return Err(ReceiptError::BadSignature);
        }
        verify_signature(&public_key, &signed_message(&raw), &signature)
            .map_err(|_| ReceiptError::BadSignature)?;
        Ok(Self {
            body,
            raw,
            signature,
        })
    }

    /// Checks that the receipt comes from the ledger at hand: signed with its key (as its
    /// checkpoints are), and its erasure entry at that position with that hash.
    pub async fn check_ledger(&self, store: &dyn crate::store::Store) -> Result<(), ReceiptError> {
        if let Some(expected) = crate::ledger::foreign_key(store, &self.body.key_id).await {
            return Err(ReceiptError::ForeignKey {
                expected,
                found: self.body.key_id.clone(),
            });
        }
        let seq = self.body.ledger_seq;
        match store.hash_at(seq).await {
            Ok(Some(hash)) if hex::encode(hash) == self.body.ledger_hash => Ok(()),
            _ => Err(ReceiptError::NotInLedger { seq }),
        }
    }
}

trait ClassifyKind {
    fn classify_kind(&self) -> &'static str;
}

impl ClassifyKind for serde_json::Error {
    fn classify_kind(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax => "not valid JSON",
            serde_json::error::Category::Data => "missing or unexpected keys",
            serde_json::error::Category::Eof => "cut short",
        }
    }
}

impl Ledger {
    /// Signs the receipt of a completed request with the ledger's key.
    pub fn sign_receipt(
        &self,
        row: &ErasureRow,
        view: &ErasureView,
        now: DateTime<Utc>,
    ) -> Result<Result<SignedReceipt, ReceiptError>, LedgerError> {
        let (Some(completed), Some(seq), Some(hash), ErasureState::Completed) =
            (view.completed_at, row.chain_seq, &row.chain_hash, row.state)
        else {
            return Ok(Err(ReceiptError::NotCompleted(row.state)));
        };
        let public_key = self.keyring().public_key();
        let body = ReceiptBody {
            format: FORMAT.to_string(),
            request: row.id.clone(),
            reference: view.reference.clone(),
            state: row.state,
            received_at: view.received_at,
            due_at: view.due_at,
            completed_at: completed,
            on_time: completed <= view.due_at,
            entries_erased: row.entries_erased as u64,
            erased: erased_counts(row),
            ledger_seq: seq,
            ledger_hash: hex::encode(hash),
            issued_at: now,
            key_id: public_key_id(public_key),
            public_key: STANDARD.encode(public_key),
        };
        let raw = serde_json::to_string_pretty(&body).expect("a receipt serialises");
        let signature = self.keyring().sign(&signed_message(&raw));
        Ok(Ok(SignedReceipt {
            body,
            raw,
            signature,
        }))
    }
}
