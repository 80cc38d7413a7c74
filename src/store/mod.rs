//! Storage: the one module that writes SQL. A narrow [`Store`] trait of domain types, implemented
//! for SQLite (embedded, the default) and PostgreSQL, chosen once from the URL by [`connect`].
//! Each store spans two databases: the ledger (chain, sealed content, blind index) and the key
//! store (wrapped data keys), kept apart so that a copy of the ledger never carries the keys that
//! open it. Times are integer Unix seconds on both backends.

mod append_rows;
mod common;
mod erasure;
mod erasure_sql;
mod keystore;
mod keystore_sql;
mod postgres;
mod report;
mod report_sql;
mod retention;
mod retention_sql;
mod rows;
mod sqlite;
mod tokens;
mod url;

pub use self::url::{default_keystore_url, Backend, DatabaseUrl};
pub use erasure::{Eraser, ErasureDone, ErasureRow, ErasureStore, ErasureUpdate};
pub use keystore::{KeyStore, KeystoreMeta};
pub use postgres::PgStore;
pub use report::{ChainEvent, DayCount, FlowCount, ReportStore, Verification};
pub use retention::{HoldRow, JobRun, PlanRow, RetentionStore, Tombstoner};
pub use sqlite::{SqliteStore, TUNING as SQLITE_TUNING};
pub use tokens::{TokenRow, TokenStore};

use crate::crypto::WrappedKey;
use crate::domain::{ChainHead, ChainRecord, Digest, EntryState, RecordBody, SubjectId};
use async_trait::async_trait;
use std::sync::Arc;
use thiserror::Error;

/// Failures at the storage boundary. Messages carry no personal data and no credentials.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error(
        "cannot open the database at {url}: {reason}; check the URL and that the server is running"
    )]
    Connect { url: String, reason: String },
    #[error("cannot migrate the database: {0}")]
    Migrate(String),
    #[error("a data subject of this batch was forgotten by a purge while the batch was in flight; run the ingest again (recorded envelopes are skipped as duplicates)")]
    SubjectForgotten,
    #[error("the master key changed (a rotation) while this process was running; restart it with the new key")]
    KeyChanged,
    #[error("the database holds a malformed value ({0}); run `waledger verify`")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// Subjects created while a batch was sealed, with the blind-index digests that find them; they
/// are written with the batch, so sealing never takes the ledger's write lock.
#[derive(Debug, Default, Clone)]
pub struct NewSubjects {
    pub created_at: i64,
    pub bindings: Vec<(SubjectId, Vec<Digest>)>,
}

/// Computes a record's chain hash from its position, the previous hash and its body.
pub type Linker = dyn Fn(i64, &Digest, &RecordBody) -> Digest + Send + Sync;

/// A sealed value and the subject whose key sealed it (`None`: the system key).
#[derive(Debug, Clone)]
pub struct SealedContent {
    pub subject: Option<SubjectId>,
    pub sealed: Vec<u8>,
}

/// One record to append; field records carry their sealed content.
#[derive(Debug, Clone)]
pub struct NewRecord {
    pub body: RecordBody,
    pub content: Option<SealedContent>,
}

/// One envelope's records, appended whole or not at all.
#[derive(Debug, Clone)]
pub struct NewEnvelope {
    /// Keyed digest of the envelope's content: a second delivery of the same content is a duplicate.
    pub digest: Digest,
    pub subject: Option<SubjectId>,
    pub records: Vec<NewRecord>,
}

/// What an append did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AppendOutcome {
    pub accepted: u64,
    pub duplicates: u64,
    pub entries: u64,
    pub head: Option<ChainHead>,
    /// Per envelope, in input order: `false` for a duplicate (already recorded, or repeated in
    /// the same batch).
    pub fresh: Vec<bool>,
}

/// A chain record with its content row, as `show` and `export` read it.
#[derive(Debug, Clone)]
pub struct StoredEntry {
    pub record: ChainRecord,
    pub state: EntryState,
    pub subject: Option<SubjectId>,
    pub sealed: Option<Vec<u8>>,
    /// Sealed under its owner's key combined with its retention bucket's key.
    pub bucketed: bool,
}

/// A chain record with the sealed bytes its digest covers, as `verify` reads it.
#[derive(Debug, Clone)]
pub struct ScannedRecord {
    pub seq: i64,
    /// The record, or why its row could not be read back (a changed kind, a short digest).
    pub record: Result<ChainRecord, String>,
    /// `None`: no content row; `Some(None)`: a content row whose value was removed.
    pub content: Option<Option<Vec<u8>>>,
    /// Unhashed columns that disagree with the hashed ones (lookup keys, content state).
    pub inconsistency: Option<String>,
}

/// A signed statement of the chain head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: Digest,
    pub signed_at: i64,
    pub public_key: Vec<u8>,
    pub signature: Vec<u8>,
}

/// The storage operations the ledger needs, in domain types. Both backends behave identically.
#[async_trait]
pub trait Store:
    KeyStore + RetentionStore + ErasureStore + ReportStore + TokenStore + Send + Sync
{
    /// Which backend this is (for messages and benchmarks).
    fn backend(&self) -> Backend;

    /// Stores wrapped data keys, one statement per thousand; an owner that already has a key
    /// keeps it.
    /// Refused ([`StoreError::KeyChanged`]) unless `key_check` is the key store's master key
    /// and no rotation is in flight: a key wrapped under a retired master would be lost.
    async fn put_data_keys(
        &self,
        keys: &[(String, WrappedKey)],
        key_check: &[u8],
        now: i64,
    ) -> Result<(), StoreError>;
    /// The wrapped data keys of `owners` that exist.
    async fn data_keys(&self, owners: &[&str]) -> Result<Vec<(String, WrappedKey)>, StoreError>;

    /// Subjects bound to any of these blind-index digests.
    async fn find_subjects(&self, index: &[Digest])
        -> Result<Vec<(Digest, SubjectId)>, StoreError>;
    /// Binds each subject's digests to it (creating the subject), one transaction. Digests already
    /// bound to another subject keep their binding; returns the binding of every digest afterwards.
    async fn bind_subjects(
        &self,
        bindings: &[(SubjectId, Vec<Digest>)],
        now: i64,
    ) -> Result<Vec<(Digest, SubjectId)>, StoreError>;

    /// Appends envelopes to the chain in one transaction; duplicates are skipped. The subjects in
    /// `new_subjects` (made while the batch was sealed) are created and bound in the same
    /// transaction; if another writer bound one of their digests first, nothing is written and
    /// the error is [`StoreError::SubjectForgotten`] (seal the batch again).
    async fn append(
        &self,
        envelopes: &[NewEnvelope],
        new_subjects: &NewSubjects,
        link: &Linker,
    ) -> Result<AppendOutcome, StoreError>;
    /// Appends one record that is not a field value, in a transaction of its own.
    async fn append_record(
        &self,
        record: &NewRecord,
        link: &Linker,
    ) -> Result<ChainHead, StoreError>;
    /// The current end of the chain.
    async fn head(&self) -> Result<ChainHead, StoreError>;
    /// Every record of one message (by message digest), in chain order.
    async fn entries_for_message(&self, digest: &Digest) -> Result<Vec<StoredEntry>, StoreError>;
    /// Every record whose content belongs to one of `subjects`, in chain order.
    async fn entries_for_subjects(
        &self,
        subjects: &[SubjectId],
    ) -> Result<Vec<StoredEntry>, StoreError>;
    /// Up to `limit` records after `after_seq`, in chain order, with their content rows.
    async fn entries_after(
        &self,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<StoredEntry>, StoreError>;
    /// Up to `limit` records after `after_seq`, in order, with their content, for verification.
    async fn scan(&self, after_seq: i64, limit: i64) -> Result<Vec<ScannedRecord>, StoreError>;
    /// The hash of the record at `seq`, if there is one.
    async fn hash_at(&self, seq: i64) -> Result<Option<Digest>, StoreError>;

    async fn add_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), StoreError>;
    async fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError>;

    /// Closes both pools, flushing SQLite's WAL.
    async fn close(&self);
    /// Copies committed pages from SQLite's write-ahead logs into the database files without
    /// waiting for anyone (a passive checkpoint), so a long-running writer's commits do not pay
    /// for it. Nothing to do on PostgreSQL.
    async fn fold_wal(&self) -> Result<(), StoreError>;
    /// The caller will [`fold_wal`](Self::fold_wal) from now on, often: SQLite's automatic
    /// checkpoint, which an appending commit would otherwise run itself, becomes a far backstop,
    /// so appends do not pay for checkpoints and pages written again between two folds are
    /// copied once. Nothing to do on PostgreSQL.
    async fn take_over_wal_folding(&self) -> Result<(), StoreError>;
}

/// Opens (creating and migrating when missing) the ledger and key store at these URLs.
pub async fn connect(
    ledger: &DatabaseUrl,
    keys: &DatabaseUrl,
) -> Result<Arc<dyn Store>, StoreError> {
    match ledger.backend() {
        Backend::Sqlite => Ok(Arc::new(SqliteStore::connect(ledger, keys).await?)),
        Backend::Postgres => Ok(Arc::new(PgStore::connect(ledger, keys).await?)),
    }
}
