//! Retention: the purge job (plan and run, one function of store, policy and `now`) and legal
//! holds. A purge removes due values in bounded batches, one transaction each, ledgering each
//! batch as a tombstone; then it forgets subjects that have nothing left, so no keyed hash of a
//! number outlives the data. Killed at any moment, it loses at most the batch in flight, which the
//! next run completes.

mod holds;
mod purge;

pub use holds::{HoldView, HOLD_ID_PREFIX};
pub use purge::{plan, run_once, PurgeOptions, PurgeOutcome, PurgePlan, PurgePlanRow, BATCH};
