//! Carrying requests out. Needs no master key: it destroys keys and ciphertext and never
//! decrypts, so the scheduler runs it as it runs purges. Each request is done whole or left
//! pending: the key is destroyed first (idempotent), then one ledger transaction erases the rest.
//! Killed in between, the request is still pending, its values already unreadable, and the
//! next run completes it.

use crate::domain::{Category, ErasureState, RecordKind, SubjectId};
use crate::ledger::chain;
use crate::store::{ErasureRow, ErasureUpdate, Store, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

/// What one `erasure run` did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct RunOutcome {
    pub completed: u64,
    pub refused: u64,
    pub entries_erased: u64,
    /// Pending requests past their deadline when the run started.
    pub overdue: u64,
    /// Stopped early (shutdown) after finishing the request in flight.
    pub stopped: bool,
}

fn erasure_record(
    id: &str,
    subjects: &[SubjectId],
    counts: &BTreeMap<Category, u64>,
    now: i64,
) -> crate::store::NewRecord {
    let ids: Vec<&str> = subjects.iter().map(SubjectId::as_str).collect();
    chain::system_record(
        RecordKind::Erasure,
        serde_json::json!({
            "request": id, "subjects": ids, "erased": counts, "total": counts.values().sum::<u64>(),
        }),
        now,
        None,
    )
}

/// Carries out one request: refused if an active legal hold covers its subject, else erased.
/// Returns the request as it stands afterwards (`None`: no such request). A request that is no
/// longer pending is left as it is, so running one twice is harmless.
pub async fn carry_out(
    store: &dyn Store,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Option<ErasureRow>, StoreError> {
    let row = match store.erasure_request(id).await? {
        Some(row) if row.state == ErasureState::Pending => row,
        other => return Ok(other),
    };
    let now_s = now.timestamp();
    let subjects = store.erasure_subjects(&row.id).await?;
    if let Some(hold) = covering_hold(store, &subjects, now_s).await? {
        let record = chain::system_record(
            RecordKind::ErasureRefusal,
            serde_json::json!({"request": row.id, "hold": hold}),
            now_s,
            None,
        );
        let update = ErasureUpdate::Refuse { hold, at: now_s };
        store
            .update_erasure(&row.id, &update, &record, &chain::link)
            .await?;
        tracing::warn!(request = %row.id, "erasure refused: a legal hold covers the subject");
        return store.erasure_request(id).await;
    }
    // Crypto-shred first: from here on every copy of the values is unreadable.
    let owners: Vec<&str> = subjects.iter().map(SubjectId::as_str).collect();
    store.delete_data_keys(&owners).await?;
    let eraser = |subjects: &[SubjectId], counts: &BTreeMap<Category, u64>| {
        erasure_record(&row.id, subjects, counts, now_s)
    };
    if let Some(done) = store
        .complete_erasure(&row.id, now_s, &eraser, &chain::link)
        .await?
    {
        // A subject that appeared between the two steps (new traffic under another alias).
        let late: Vec<&str> = done
            .subjects
            .iter()
            .map(SubjectId::as_str)
            .filter(|s| !owners.contains(s))
            .collect();
        if !late.is_empty() {
            store.delete_data_keys(&late).await?;
        }
        tracing::info!(request = %row.id, entries = done.total, subjects = done.subjects.len(), seq = done.seq, "erasure completed");
    }
    store.erasure_request(id).await
}

/// The id of an active legal hold on any of `subjects`.
async fn covering_hold(
    store: &dyn Store,
    subjects: &[SubjectId],
    now: i64,
) -> Result<Option<String>, StoreError> {
    if subjects.is_empty() {
        return Ok(None);
    }
    Ok(store
        .holds()
        .await?
        .into_iter()
        .find(|h| {
            h.released_at.is_none()
                && h.until.is_none_or(|u| u > now)
                && subjects.contains(&h.subject)
        })
        .map(|h| h.id))
}

/// Re-applies completed erasures to the key store, carries out every pending request, oldest
/// first, then scrubs the database files. Overdue
/// requests are counted (and logged by id) before the run. `progress(done, total)` after each.
pub async fn run_pending(
    store: &dyn Store,
    now: DateTime<Utc>,
    progress: &mut (dyn FnMut(u64, u64) + Send),
    stop: &AtomicBool,
) -> Result<RunOutcome, StoreError> {
    reapply_completed(store).await?;
    let pending = store.erasure_requests(true).await?;
    let mut outcome = RunOutcome::default();
    for row in pending.iter().filter(|r| super::is_overdue(r, now)) {
        outcome.overdue += 1;
        tracing::warn!(request = %row.id, due_at = row.due_at, "erasure request is overdue");
    }
    let total = pending.len() as u64;
    for (i, row) in pending.iter().enumerate() {
        if stop.load(Ordering::SeqCst) {
            outcome.stopped = true;
            break;
        }
        if let Some(after) = carry_out(store, &row.id, now).await? {
            match after.state {
                ErasureState::Completed if after.completed_at == Some(now.timestamp()) => {
                    outcome.completed += 1;
                    outcome.entries_erased += after.entries_erased as u64;
                }
                ErasureState::Refused => outcome.refused += 1,
                _ => {}
            }
        }
        progress(i as u64 + 1, total);
    }
    if total > 0 {
        store.scrub().await?;
    }
    Ok(outcome)
}

/// Destroys again the keys of every subject a completed request erased. A no-op normally; after
/// a key store was restored from a backup older than some erasures, it re-applies them.
async fn reapply_completed(store: &dyn Store) -> Result<(), StoreError> {
    let erased: Vec<String> = store
        .erasure_requests(false)
        .await?
        .iter()
        .filter(|r| r.state == ErasureState::Completed)
        .filter_map(|r| r.subjects.as_deref())
        .filter_map(|s| serde_json::from_str::<Vec<String>>(s).ok())
        .flatten()
        .collect();
    if !erased.is_empty() {
        let owners: Vec<&str> = erased.iter().map(String::as_str).collect();
        store.delete_data_keys(&owners).await?;
    }
    Ok(())
}
