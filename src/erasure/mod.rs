//! Data-subject erasure (GDPR Art. 17) within the Art. 12(3) deadline. A request names its subject
//! only through the blind-index digests of every alias of the number; carrying it out destroys
//! the subject's data key first (crypto-shredding: every copy of its ciphertext, in backups, WAL
//! or free pages, becomes unreadable), then in one ledger transaction erases the values, deletes
//! the blind-index and subject rows, appends the erasure entry and completes the request. A
//! number under a legal hold is refused with the hold named. Signed receipts live in `receipt`.

mod access;
mod receipt;
mod run;

pub use access::SubjectAccess;
pub use receipt::{ReceiptBody, ReceiptError, SignedReceipt};
pub use run::{carry_out, run_pending, RunOutcome};

use crate::crypto::sha256;
use crate::domain::request::due_at;
use crate::domain::{Category, ErasureState, PhoneNumber, RecordKind};
use crate::ledger::{chain, Ledger, LedgerError};
use crate::store::{ErasureRow, ErasureUpdate};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Request ids are `era-` and a UUIDv7 (sortable by creation).
pub const REQUEST_ID_PREFIX: &str = "era-";

/// A new request as support staff file it.
#[derive(Debug)]
pub struct NewRequest<'a> {
    pub phone: &'a PhoneNumber,
    pub reference: Option<&'a str>,
    pub requested_by: Option<&'a str>,
    pub received_at: DateTime<Utc>,
}

/// A request as `erasure list` and `erase` print it (CONTRACT.md keys first).
#[derive(Debug, Clone, Serialize)]
pub struct ErasureView {
    pub id: String,
    pub state: ErasureState,
    pub received_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub entries_erased: u64,
    pub erased: BTreeMap<Category, u64>,
    pub reference: Option<String>,
    pub requested_by: Option<String>,
    pub extended: bool,
    pub extension_reason: Option<String>,
    /// The legal hold that refused it, and the reason the requester must be given (Art. 12(4)).
    pub refused_by: Option<String>,
    pub refusal_reason: Option<String>,
    pub overdue: bool,
    pub ledger_seq: Option<i64>,
    pub ledger_hash: Option<String>,
}

fn details_aad(id: &str) -> Vec<u8> {
    [b"waledger/erasure-details/v1\0".as_slice(), id.as_bytes()].concat()
}

fn extension_aad(id: &str) -> Vec<u8> {
    [b"waledger/erasure-extension/v1\0".as_slice(), id.as_bytes()].concat()
}

/// Why an extension was not made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExtendError {
    #[error("no erasure request has that id; list them with `waledger erasure list`")]
    Unknown,
    #[error("the request is no longer pending; only a pending request can be extended")]
    NotPending,
    #[error("the request was extended before; Art. 12(3) allows one extension of two months")]
    AlreadyExtended,
}

impl Ledger {
    /// Registers an erasure request (ledgered) for `erasure run` or the scheduler to carry out.
    pub async fn request_erasure(
        &mut self,
        request: NewRequest<'_>,
        now: DateTime<Utc>,
    ) -> Result<String, LedgerError> {
        let id = format!("{REQUEST_ID_PREFIX}{}", uuid::Uuid::now_v7());
        let details = serde_json::json!({
            "reference": request.reference, "requested_by": request.requested_by,
        })
        .to_string();
        let sealed = self
            .seal_system(&details_aad(&id), details.as_bytes(), now)
            .await?;
        let lookup: Vec<_> = request
            .phone
            .aliases()
            .iter()
            .map(|p| self.keyring().phone_index(p))
            .collect();
        let due = due_at(request.received_at, false);
        let record = chain::system_record(
            RecordKind::ErasureRequest,
            serde_json::json!({
                "request": id, "received_at": request.received_at.timestamp(), "due_at": due.timestamp(),
            }),
            now.timestamp(),
            Some(sha256(&[&sealed])),
        );
        let row = ErasureRow {
            id: id.clone(),
            details: sealed,
            received_at: request.received_at.timestamp(),
            due_at: due.timestamp(),
            extension: None,
            state: ErasureState::Pending,
            completed_at: None,
            entries_erased: 0,
            counts: None,
            subjects: None,
            refused_by: None,
            chain_seq: None,
            chain_hash: None,
            created_at: now.timestamp(),
        };
        self.store()
            .add_erasure_request(&row, &lookup, &record, &chain::link)
            .await?;
        Ok(id)
    }

    /// Extends a pending request's deadline by two further months, once, with the reason
    /// sealed and ledgered (Art. 12(3)).
    pub async fn extend_erasure(
        &mut self,
        id: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<(), ExtendError>, LedgerError> {
        let Some(row) = self.store().erasure_request(id).await? else {
            return Ok(Err(ExtendError::Unknown));
        };
        if row.state != ErasureState::Pending {
            return Ok(Err(ExtendError::NotPending));
        }
        if row.extension.is_some() {
            return Ok(Err(ExtendError::AlreadyExtended));
        }
        let received = DateTime::from_timestamp(row.received_at, 0).unwrap_or_default();
        let due = due_at(received, true).timestamp();
        let sealed = self
            .seal_system(&extension_aad(id), reason.as_bytes(), now)
            .await?;
        let record = chain::system_record(
            RecordKind::ErasureExtension,
            serde_json::json!({"request": id, "due_at": due}),
            now.timestamp(),
            Some(sha256(&[&sealed])),
        );
        let update = ErasureUpdate::Extend {
            due_at: due,
            reason: sealed,
        };
        Ok(
            match self
                .store()
                .update_erasure(id, &update, &record, &chain::link)
                .await?
            {
                Some(_) => Ok(()),
                None => Err(ExtendError::NotPending),
            },
        )
    }

    /// The requests about a number (under any alias), oldest first.
    pub async fn erasure_history(
        &mut self,
        phone: &PhoneNumber,
    ) -> Result<Vec<ErasureRow>, LedgerError> {
        let digests: Vec<_> = phone
            .aliases()
            .iter()
            .map(|p| self.keyring().phone_index(p))
            .collect();
        Ok(self.store().erasure_requests_by_lookup(&digests).await?)
    }

    /// Requests as printed, with reference, requester and reasons decrypted.
    pub async fn erasure_views(
        &mut self,
        rows: &[ErasureRow],
        now: DateTime<Utc>,
    ) -> Result<Vec<ErasureView>, LedgerError> {
        let reasons: HashMap<String, String> = if rows.iter().any(|r| r.refused_by.is_some()) {
            self.list_holds(now)
                .await?
                .into_iter()
                .map(|h| (h.id, h.reason))
                .collect()
        } else {
            HashMap::new()
        };
        let mut views = Vec::with_capacity(rows.len());
        for row in rows {
            let details = self
                .open_system(&details_aad(&row.id), &row.details, now)
                .await?;
            let details: serde_json::Value = serde_json::from_str(&details).unwrap_or_default();
            let extension_reason = match &row.extension {
                Some(sealed) => Some(
                    self.open_system(&extension_aad(&row.id), sealed, now)
                        .await?,
                ),
                None => None,
            };
            views.push(view(row, &details, extension_reason, &reasons, now));
        }
        Ok(views)
    }
}

fn time(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

fn view(
    row: &ErasureRow,
    details: &serde_json::Value,
    extension_reason: Option<String>,
    hold_reasons: &HashMap<String, String>,
    now: DateTime<Utc>,
) -> ErasureView {
    let text = |key: &str| details[key].as_str().map(str::to_string);
    ErasureView {
        id: row.id.clone(),
        state: row.state,
        received_at: time(row.received_at),
        due_at: time(row.due_at),
        completed_at: row.completed_at.map(time),
        entries_erased: row.entries_erased as u64,
        erased: erased_counts(row),
        reference: text("reference"),
        requested_by: text("requested_by"),
        extended: row.extension.is_some(),
        extension_reason,
        refused_by: row.refused_by.clone(),
        refusal_reason: row
            .refused_by
            .as_ref()
            .and_then(|h| hold_reasons.get(h).cloned()),
        overdue: is_overdue(row, now),
        ledger_seq: row.chain_seq,
        ledger_hash: row.chain_hash.as_ref().map(hex::encode),
    }
}

/// Entries erased per category (every category present, zero when none).
pub fn erased_counts(row: &ErasureRow) -> BTreeMap<Category, u64> {
    use strum::IntoEnumIterator;
    let stored: BTreeMap<Category, u64> = row
        .counts
        .as_deref()
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or_default();
    Category::iter()
        .map(|c| (c, stored.get(&c).copied().unwrap_or(0)))
        .collect()
}

/// Pending past its deadline.
pub fn is_overdue(row: &ErasureRow, now: DateTime<Utc>) -> bool {
    row.state == ErasureState::Pending && row.due_at < now.timestamp()
}
