//! Storage for data-subject erasure: requests and their lookup digests, and the one transaction
//! that carries a request out (values erased, blind index and subject rows deleted, the erasure
//! entry appended, the request completed). Implemented for both backends by `erasure_sql.rs`.

use super::{Linker, NewRecord, StoreError};
use crate::domain::{Category, Digest, ErasureState, SubjectId};
use async_trait::async_trait;
use std::collections::BTreeMap;

/// An erasure request as stored. Reference and requester are sealed under the system key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasureRow {
    pub id: String,
    pub details: Vec<u8>,
    pub received_at: i64,
    pub due_at: i64,
    /// The extension's reason, sealed; `Some` once the deadline was extended.
    pub extension: Option<Vec<u8>>,
    pub state: ErasureState,
    pub completed_at: Option<i64>,
    pub entries_erased: i64,
    /// Entries erased per category (JSON), once completed.
    pub counts: Option<String>,
    /// The subject ids erased (JSON), once completed.
    pub subjects: Option<String>,
    /// The legal hold that refused it.
    pub refused_by: Option<String>,
    /// Position and hash of the chain entry that completed or refused it.
    pub chain_seq: Option<i64>,
    pub chain_hash: Option<Vec<u8>>,
    pub created_at: i64,
}

/// A change to a pending request other than carrying it out.
#[derive(Debug, Clone)]
pub enum ErasureUpdate {
    Extend { due_at: i64, reason: Vec<u8> },
    Refuse { hold: String, at: i64 },
}

/// What carrying out a request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasureDone {
    pub subjects: Vec<SubjectId>,
    pub counts: BTreeMap<Category, u64>,
    pub total: u64,
    pub seq: i64,
    pub hash: Digest,
}

/// Builds the erasure entry from the subjects erased and the values erased per category.
pub type Eraser<'a> =
    dyn Fn(&[SubjectId], &BTreeMap<Category, u64>) -> NewRecord + Send + Sync + 'a;

#[async_trait]
pub trait ErasureStore: Send + Sync {
    /// Registers a request with the digests that find its subject, and ledgers it.
    async fn add_erasure_request(
        &self,
        row: &ErasureRow,
        lookup: &[Digest],
        record: &NewRecord,
        link: &Linker,
    ) -> Result<(), StoreError>;
    /// Requests, oldest received first (all, or only pending ones).
    async fn erasure_requests(&self, pending_only: bool) -> Result<Vec<ErasureRow>, StoreError>;
    async fn erasure_request(&self, id: &str) -> Result<Option<ErasureRow>, StoreError>;
    /// Requests made under any of these blind-index digests, oldest first.
    async fn erasure_requests_by_lookup(
        &self,
        digests: &[Digest],
    ) -> Result<Vec<ErasureRow>, StoreError>;
    /// The subjects a request's digests lead to now.
    async fn erasure_subjects(&self, id: &str) -> Result<Vec<SubjectId>, StoreError>;
    /// Extends or refuses a pending request and ledgers it, one transaction; `false` when the
    /// request is not pending (or, for an extension, was extended before).
    async fn update_erasure(
        &self,
        id: &str,
        update: &ErasureUpdate,
        record: &NewRecord,
        link: &Linker,
    ) -> Result<Option<(i64, Digest)>, StoreError>;
    /// Carries out a pending request in one transaction: every held value of its subjects is
    /// erased, their blind-index, duplicate-detection and subject rows deleted, the erasure entry
    /// appended and the request completed. `None` when it is no longer pending.
    async fn complete_erasure(
        &self,
        id: &str,
        now: i64,
        eraser: &Eraser<'_>,
        link: &Linker,
    ) -> Result<Option<ErasureDone>, StoreError>;
    /// Leaves no copy of removed bytes in the database's own files where the backend allows it
    /// (SQLite: folds the WAL back and truncates it; PostgreSQL: vacuums the key table).
    async fn scrub(&self) -> Result<(), StoreError>;
}
