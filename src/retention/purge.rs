//! The purge job. Due: `occurred_at + window <= now` for the entry's field kind, and no active
//! legal hold on its subject. Needs no master key: it deletes ciphertext and never decrypts.

use crate::domain::{Category, EntryId, FieldKind, RecordBody, RecordKind};
use crate::ledger::buckets::{parse_bucket, BUCKET_PREFIX};
use crate::ledger::chain;
use crate::policy::RetentionPolicy;
use crate::store::{NewRecord, Store, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use strum::IntoEnumIterator;

/// Values removed per transaction by default: bounds memory and what a crash can lose.
pub const BATCH: i64 = 5_000;

/// How to run a purge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeOptions {
    /// Report what would be removed and change nothing.
    pub dry_run: bool,
    /// Values removed per transaction (`WALEDGER_PURGE_BATCH`).
    pub batch: i64,
}

impl PurgeOptions {
    pub const RUN: PurgeOptions = PurgeOptions {
        dry_run: false,
        batch: BATCH,
    };
    pub const DRY_RUN: PurgeOptions = PurgeOptions {
        dry_run: true,
        batch: BATCH,
    };
}

/// What a purge did (or, for a dry run, would do). CONTRACT.md: `dry_run`, `purged`, `total`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PurgeOutcome {
    pub dry_run: bool,
    pub purged: BTreeMap<Category, u64>,
    pub total: u64,
    pub kept_by_holds: u64,
    pub subjects_forgotten: u64,
    /// Retention buckets whose key was destroyed because nothing in them is held any more.
    pub buckets_shredded: u64,
    pub batches: u64,
    /// Stopped early (shutdown) after committing the batch in flight.
    pub stopped: bool,
}

/// One line of a purge plan.
#[derive(Debug, Clone, Serialize)]
pub struct PurgePlanRow {
    pub category: Category,
    pub field: FieldKind,
    pub window: String,
    pub due: u64,
    pub subjects: u64,
    pub kept_by_holds: u64,
    pub oldest_due: Option<DateTime<Utc>>,
}

/// What a purge at `now` would remove, per category and field kind.
#[derive(Debug, Clone, Serialize)]
pub struct PurgePlan {
    pub rows: Vec<PurgePlanRow>,
}

impl PurgePlan {
    pub fn total(&self) -> u64 {
        self.rows.iter().map(|r| r.due).sum()
    }

    /// The outcome a dry run reports: what would be purged.
    pub fn outcome(&self) -> PurgeOutcome {
        let mut outcome = empty_outcome(true);
        for row in &self.rows {
            *outcome.purged.entry(row.category).or_default() += row.due;
            outcome.kept_by_holds += row.kept_by_holds;
        }
        outcome.total = self.total();
        outcome
    }
}

fn empty_outcome(dry_run: bool) -> PurgeOutcome {
    PurgeOutcome {
        dry_run,
        purged: Category::iter().map(|c| (c, 0)).collect(),
        total: 0,
        kept_by_holds: 0,
        subjects_forgotten: 0,
        buckets_shredded: 0,
        batches: 0,
        stopped: false,
    }
}

fn cutoffs(policy: &RetentionPolicy, now: i64) -> Vec<(FieldKind, i64)> {
    FieldKind::iter()
        .map(|kind| (kind, policy.cutoff(kind, now)))
        .collect()
}

/// The plan of a purge at `now`; changes nothing.
pub async fn plan(
    store: &dyn Store,
    policy: &RetentionPolicy,
    now: DateTime<Utc>,
) -> Result<PurgePlan, StoreError> {
    let rows = store
        .purge_plan(&cutoffs(policy, now.timestamp()), now.timestamp())
        .await?;
    Ok(PurgePlan {
        rows: rows
            .into_iter()
            .map(|r| PurgePlanRow {
                category: r.field.category(),
                field: r.field,
                window: policy.window_for(r.field).to_string(),
                due: r.due,
                subjects: r.subjects,
                kept_by_holds: r.kept_by_holds,
                oldest_due: r.oldest_due.and_then(|t| DateTime::from_timestamp(t, 0)),
            })
            .collect(),
    })
}

/// Applies the policy at `now` (or, with `dry_run`, reports what it would do). `progress` is
/// called with the number of values removed so far and the number due when the run began.
#[tracing::instrument(name = "purge.run_once", skip_all, fields(dry_run = options.dry_run, policy = %policy.digest), err)]
pub async fn run_once(
    store: &dyn Store,
    policy: &RetentionPolicy,
    now: DateTime<Utc>,
    options: PurgeOptions,
    progress: &mut dyn FnMut(u64, u64),
    stop: &AtomicBool,
) -> Result<PurgeOutcome, StoreError> {
    let plan = plan(store, policy, now).await?;
    if options.dry_run {
        return Ok(plan.outcome());
    }
    let mut outcome = empty_outcome(false);
    outcome.kept_by_holds = plan.outcome().kept_by_holds;
    let due = plan.total();
    progress(0, due);
    let now_s = now.timestamp();
    for (field, cutoff) in cutoffs(policy, now_s) {
        let tombstone =
            |count: u64, first: i64, last: i64| tombstone(policy, field, count, first, last, now_s);
        while !stop.load(Ordering::Relaxed) {
            let removed = store
                .purge_batch(
                    field,
                    cutoff,
                    now_s,
                    options.batch.max(1),
                    &tombstone,
                    &chain::link,
                )
                .await?;
            if removed == 0 {
                break;
            }
            *outcome.purged.entry(field.category()).or_default() += removed;
            outcome.total += removed;
            outcome.batches += 1;
            progress(outcome.total, due);
            tracing::info!(field = %field, removed, "purge batch committed");
        }
    }
    if stop.load(Ordering::Relaxed) {
        // Asked to stop: the batch in flight was committed; the next run does the rest.
        outcome.stopped = true;
        return Ok(outcome);
    }
    outcome.subjects_forgotten = forget_orphans(store, now_s).await?;
    outcome.buckets_shredded = shred_buckets(store, policy, now_s).await?;
    let longest = FieldKind::iter()
        .map(|k| policy.window_for(k).seconds())
        .max()
        .unwrap_or_default();
    store.forget_envelopes_before(now_s - longest).await?;
    if outcome.total > 0 {
        store.refresh_statistics().await?;
    }
    tracing::info!(
        total = outcome.total,
        subjects_forgotten = outcome.subjects_forgotten,
        buckets_shredded = outcome.buckets_shredded,
        "purge finished"
    );
    Ok(outcome)
}

/// Destroys the key of every retention bucket whose window has passed and that holds no value
/// any more (a value a legal hold keeps keeps its bucket), so no purged ciphertext can be opened.
async fn shred_buckets(
    store: &dyn Store,
    policy: &RetentionPolicy,
    now: i64,
) -> Result<u64, StoreError> {
    let mut shred = Vec::new();
    for owner in store.key_owners_with_prefix(BUCKET_PREFIX).await? {
        let Some((field, from, to)) = parse_bucket(&owner) else {
            continue;
        };
        // Every value in [from, to) is due once its last second is: to - 1 <= cutoff.
        if to - 1 <= policy.cutoff(field, now)
            && !store.holds_values_between(field, from, to).await?
        {
            shred.push(owner);
        }
    }
    let owners: Vec<&str> = shred.iter().map(String::as_str).collect();
    store.delete_data_keys(&owners).await?;
    Ok(owners.len() as u64)
}

/// Subjects with no held value and no hold lose their blind-index rows, then their data key.
async fn forget_orphans(store: &dyn Store, now: i64) -> Result<u64, StoreError> {
    let mut forgotten = 0;
    loop {
        let orphans = store.orphan_subjects(now, 1_000).await?;
        if orphans.is_empty() {
            return Ok(forgotten);
        }
        let gone = store.forget_subjects(&orphans, now).await?;
        let owners: Vec<&str> = gone.iter().map(|s| s.as_str()).collect();
        store.delete_data_keys(&owners).await?;
        forgotten += gone.len() as u64;
        if gone.len() < orphans.len() {
            // Some became active again under the lock; the rest are done, stop here.
            return Ok(forgotten);
        }
    }
}

/// The chain record of one purge batch: nothing personal, just what and how many under which policy.
fn tombstone(
    policy: &RetentionPolicy,
    field: FieldKind,
    count: u64,
    first: i64,
    last: i64,
    now: i64,
) -> NewRecord {
    let detail = serde_json::json!({
        "count": count,
        "first_seq": first,
        "last_seq": last,
        "policy_sha256": policy.digest,
        "window": policy.window_for(field).to_string(),
    });
    NewRecord {
        body: RecordBody {
            entry_id: EntryId::new(),
            kind: RecordKind::Purge,
            message_digest: None,
            direction: None,
            field: Some(field),
            category: Some(field.category()),
            occurred_at: now,
            recorded_at: now,
            content_digest: None,
            detail: Some(detail.to_string()),
        },
        content: None,
    }
}
