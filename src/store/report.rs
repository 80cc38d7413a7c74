//! Storage for reports: aggregates over metadata only (no value is read or decrypted), each
//! answered from an index or a small table so a report over ten million entries stays fast, and
//! the history of `verify` runs. Implemented for both backends by `report_sql.rs`.

use super::StoreError;
use crate::domain::{Category, Direction, EntryState, FieldKind, RecordKind};
use async_trait::async_trait;

/// Values of one flow and state that occurred in a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowCount {
    pub field: FieldKind,
    pub direction: Direction,
    pub state: EntryState,
    pub count: u64,
}

/// Values of one flow recorded on one day (Unix day number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayCount {
    pub day: i64,
    pub field: FieldKind,
    pub direction: Direction,
    pub recorded: u64,
}

/// A chain record that is not a field value (purge, erasure, hold …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainEvent {
    pub seq: i64,
    pub kind: RecordKind,
    pub category: Option<Category>,
    pub recorded_at: i64,
    pub detail: Option<String>,
}

/// One `verify` run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub verified_at: i64,
    pub ok: bool,
    pub entries_checked: u64,
    pub head_seq: i64,
    pub first_bad_seq: Option<i64>,
    pub reason: Option<String>,
}

#[async_trait]
pub trait ReportStore: Send + Sync {
    /// Values per flow and state whose `occurred_at` is in `[from, to)`.
    async fn flow_counts(&self, from: i64, to: i64) -> Result<Vec<FlowCount>, StoreError>;
    /// Values recorded per day and flow, for days before `until` (Unix seconds).
    async fn flow_days(&self, until: i64) -> Result<Vec<DayCount>, StoreError>;
    /// Non-field chain records of these kinds recorded before `until`, in chain order.
    async fn chain_events(
        &self,
        kinds: &[RecordKind],
        until: i64,
    ) -> Result<Vec<ChainEvent>, StoreError>;
    /// Held values of `field` at or before `cutoff` that no active hold keeps, per direction.
    async fn held_past_window(
        &self,
        field: FieldKind,
        cutoff: i64,
        now: i64,
    ) -> Result<Vec<(Direction, u64)>, StoreError>;
    /// When the oldest value of a flow that is still held occurred.
    async fn oldest_held(
        &self,
        field: FieldKind,
        direction: Direction,
    ) -> Result<Option<i64>, StoreError>;
    async fn record_verification(&self, run: &Verification) -> Result<(), StoreError>;
    async fn latest_verification(&self) -> Result<Option<Verification>, StoreError>;
    /// Refreshes the planner's statistics of the content table after a large change (PostgreSQL
    /// `ANALYZE`; SQLite `PRAGMA optimize`), so reports and erasures keep their index plans
    /// without waiting for autovacuum.
    async fn refresh_statistics(&self) -> Result<(), StoreError>;
}
