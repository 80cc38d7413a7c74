//! Storage for retention: the purge plan and purge batches (each one transaction that removes due
//! values and appends the tombstone that records it), forgetting subjects with nothing left to
//! protect, legal holds, and the scheduler's job runs. Implemented for both backends by one macro,
//! as `common.rs` is.

use super::{Linker, NewRecord, StoreError};
use crate::domain::{FieldKind, SubjectId};
use async_trait::async_trait;

/// What a purge would remove for one field kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRow {
    pub field: FieldKind,
    pub due: u64,
    pub subjects: u64,
    pub kept_by_holds: u64,
    pub oldest_due: Option<i64>,
}

/// A legal hold as stored (the reason sealed under the system key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldRow {
    pub id: String,
    pub subject: SubjectId,
    pub reason: Vec<u8>,
    pub created_at: i64,
    pub until: Option<i64>,
    pub released_at: Option<i64>,
}

/// A scheduled job run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRun {
    pub job: String,
    pub scheduled_for: i64,
    pub instance: String,
    pub started_at: i64,
    pub lease_until: i64,
    pub finished_at: Option<i64>,
    pub outcome: Option<String>,
    pub counts: Option<String>,
}

/// Builds the tombstone of a purge batch from what it removed: (count, first seq, last seq).
pub type Tombstoner<'a> = dyn Fn(u64, i64, i64) -> NewRecord + Send + Sync + 'a;

#[async_trait]
pub trait RetentionStore: Send + Sync {
    /// Due, subjects and kept-by-hold counts per field kind, for entries at or before each cutoff.
    async fn purge_plan(
        &self,
        cutoffs: &[(FieldKind, i64)],
        now: i64,
    ) -> Result<Vec<PlanRow>, StoreError>;
    /// Removes up to `limit` due values of one field kind and appends their tombstone, in one
    /// transaction. Returns how many were removed (0: nothing left).
    async fn purge_batch(
        &self,
        field: FieldKind,
        cutoff: i64,
        now: i64,
        limit: i64,
        tombstone: &Tombstoner<'_>,
        link: &Linker,
    ) -> Result<u64, StoreError>;
    /// Whether any value of `field` that occurred in `[from, to)` is still held.
    async fn holds_values_between(
        &self,
        field: FieldKind,
        from: i64,
        to: i64,
    ) -> Result<bool, StoreError>;
    /// Subjects with no held value and no active hold.
    async fn orphan_subjects(&self, now: i64, limit: i64) -> Result<Vec<SubjectId>, StoreError>;
    /// Deletes orphan subjects' blind-index rows, duplicate-detection digests and subject rows,
    /// re-checking under the chain lock that they are still orphans. Returns those deleted.
    async fn forget_subjects(
        &self,
        subjects: &[SubjectId],
        now: i64,
    ) -> Result<Vec<SubjectId>, StoreError>;
    /// Destroys wrapped data keys.
    async fn delete_data_keys(&self, owners: &[&str]) -> Result<(), StoreError>;
    /// Deletes duplicate-detection digests recorded before `before`.
    async fn forget_envelopes_before(&self, before: i64) -> Result<u64, StoreError>;

    async fn add_hold(
        &self,
        hold: &HoldRow,
        record: &NewRecord,
        link: &Linker,
    ) -> Result<(), StoreError>;
    async fn holds(&self) -> Result<Vec<HoldRow>, StoreError>;
    /// Releases an active hold and ledgers it; `false` when there is no such active hold.
    async fn release_hold(
        &self,
        id: &str,
        now: i64,
        record: &NewRecord,
        link: &Linker,
    ) -> Result<bool, StoreError>;

    /// Claims `(job, scheduled_for)` for `instance`: a new run, or one whose lease expired
    /// unfinished (its instance died). `false` when another instance holds it or it finished.
    async fn claim_run(
        &self,
        job: &str,
        scheduled_for: i64,
        instance: &str,
        now: i64,
        lease_until: i64,
    ) -> Result<bool, StoreError>;
    async fn finish_run(
        &self,
        job: &str,
        scheduled_for: i64,
        instance: &str,
        now: i64,
        outcome: &str,
        counts: &str,
    ) -> Result<(), StoreError>;
    /// The latest `limit` runs, newest first (all jobs, or one).
    async fn runs(&self, job: Option<&str>, limit: i64) -> Result<Vec<JobRun>, StoreError>;
}

/// Subject keys of the active holds at `$N` (the placeholder number of `now`). Holds are matched
/// by the subjects' integer keys so the due index covers the query; a (64-bit) key collision
/// could only keep another subject's values longer, never remove them early.
macro_rules! active_holds {
    ($n:literal) => {
        concat!(
            "(SELECT s.key FROM holds h JOIN subjects s ON s.id = h.subject_id \
             WHERE h.released_at IS NULL AND (h.until IS NULL OR h.until > $",
            $n,
            "))"
        )
    };
}
pub(super) use active_holds;
