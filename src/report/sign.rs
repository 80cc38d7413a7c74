//! Signed reports: `report --sign` writes `FILE.sig` beside the report, an Ed25519 signature (the
//! ledger's key, as checkpoints and receipts use) over the SHA-256 of the report's exact bytes, in
//! any format. `report verify FILE` recomputes the digest and checks the signature, and, with the
//! ledger at hand, that the key is this ledger's; any changed byte fails it.

use crate::crypto::{public_key_id, sha256, verify_signature};
use crate::ledger::Ledger;
use base64::{engine::general_purpose::STANDARD, Engine};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

const FORMAT: &str = "waledger-report-signature/v1";

/// The contents of `FILE.sig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSignature {
    pub format: String,
    pub sha256: String,
    pub signed_at: DateTime<Utc>,
    pub key_id: String,
    pub public_key: String,
    pub signature: String,
}

/// Why a report was not accepted.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SignedReportError {
    #[error("the signature file is not a waledger report signature ({0})")]
    Malformed(String),
    #[error("the report was changed after it was signed (its SHA-256 differs)")]
    Changed,
    #[error("the signature does not verify: the signature file was changed or not made by a waledger ledger")]
    BadSignature,
    #[error("the report was signed by key {found}, not by this ledger's key {expected}")]
    ForeignKey { expected: String, found: String },
}

/// What a successful check established.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureCheck {
    pub sha256: String,
    pub signed_at: DateTime<Utc>,
    pub key_id: String,
}

fn message(sha256_hex: &str, signed_at: i64) -> Vec<u8> {
    format!("{FORMAT}\n{sha256_hex}\n{signed_at}\n").into_bytes()
}

impl Ledger {
    /// Signs a report's bytes with the ledger's key.
    pub fn sign_report(&self, bytes: &[u8], now: DateTime<Utc>) -> ReportSignature {
        let digest = hex::encode(sha256(&[bytes]));
        let public_key = self.keyring().public_key();
        ReportSignature {
            format: FORMAT.to_string(),
            signature: STANDARD.encode(self.keyring().sign(&message(&digest, now.timestamp()))),
            sha256: digest,
            signed_at: now,
            key_id: public_key_id(public_key),
            public_key: STANDARD.encode(public_key),
        }
    }
}

impl ReportSignature {
    pub fn parse(text: &[u8]) -> Result<Self, SignedReportError> {
        let sig: Self = serde_json::from_slice(text)
            .map_err(|e| SignedReportError::Malformed(format!("line {}: {}", e.line(), e)))?;
        if sig.format != FORMAT {
            return Err(SignedReportError::Malformed(format!(
                "format is not {FORMAT}"
            )));
        }
        Ok(sig)
    }

    /// Checks `report` (its exact bytes) against this signature.
    pub fn check(&self, report: &[u8]) -> Result<SignatureCheck, SignedReportError> {
        let digest = hex::encode(sha256(&[report]));
        if digest != self.sha256 {
            return Err(SignedReportError::Changed);
        }
        let public_key = STANDARD
            .decode(&self.public_key)
            .map_err(|_| SignedReportError::BadSignature)?;
        let signature = STANDARD
            .decode(&self.signature)
            .map_err(|_| SignedReportError::BadSignature)?;
        if public_key_id(&public_key) != self.key_id {
            return Err(SignedReportError::BadSignature);
        }
        verify_signature(
            &public_key,
            &message(&digest, self.signed_at.timestamp()),
            &signature,
        )
        .map_err(|_| SignedReportError::BadSignature)?;
        Ok(SignatureCheck {
            sha256: digest,
            signed_at: self.signed_at,
            key_id: self.key_id.clone(),
        })
    }

    /// Checks the signing key is the ledger's (the key its checkpoints are signed with).
    pub async fn check_key(
        &self,
        store: &dyn crate::store::Store,
    ) -> Result<(), SignedReportError> {
        if let Some(expected) = crate::ledger::foreign_key(store, &self.key_id).await {
            return Err(SignedReportError::ForeignKey {
                expected,
                found: self.key_id.clone(),
            });
        }
        Ok(())
    }
}
