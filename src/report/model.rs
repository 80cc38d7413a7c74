//! The compliance report as data: what every format renders. JSON keys follow CONTRACT.md
//! (`period`, `flows[]` with `field`, `direction`, `category`, `documented`, `terms`,
//! `retention`, `recorded`, `held`, `purged`, `erased`, `compliant`; `erasures`; `integrity`) and
//! add what a DPO needs beside them. Nothing here is personal: counts, kinds, ids and times.

use crate::domain::{Category, Direction, ErasureState, FieldKind};
use crate::policy::Owner;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Identifies the JSON layout.
pub const FORMAT: &str = "waledger-report/v1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub format: String,
    pub generated_at: DateTime<Utc>,
    pub period: Period,
    pub summary: Summary,
    pub flows: Vec<Flow>,
    /// Flows the catalogue documents that carried nothing in the period.
    pub documented_not_observed: Vec<CatalogueFlow>,
    pub erasures: Erasures,
    pub holds: Holds,
    pub integrity: Integrity,
    /// Per category: our window beside Meta's documented one.
    pub retention: Vec<RetentionComparison>,
    /// One point per day of the period, for the charts.
    pub daily: Vec<Day>,
    pub policy_sha256: String,
    pub catalogue_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub recorded: u64,
    pub held: u64,
    pub purged: u64,
    pub erased: u64,
    pub flows: u64,
    pub undocumented_flows: u64,
    pub non_compliant_flows: u64,
    /// Every flow compliant, no erasure overdue, the ledger verified intact.
    pub compliant: bool,
}

/// A governing document as a flow cites it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TermRef {
    pub owner: Owner,
    pub document: String,
    pub id: String,
    pub url: String,
    pub reviewed: NaiveDate,
}

/// One observed (field kind, direction).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flow {
    pub field: FieldKind,
    pub direction: Direction,
    pub category: Category,
    pub documented: bool,
    /// The catalogue flow it belongs to (its id and name), when documented.
    pub flow: Option<String>,
    pub name: Option<String>,
    pub purpose: Option<String>,
    pub lawful_basis: Option<String>,
    pub terms: Vec<TermRef>,
    /// Our window for this field kind (`"30d"`).
    pub retention: String,
    pub recorded: u64,
    pub held: u64,
    pub purged: u64,
    pub erased: u64,
    /// Held values (of any period) past their window that no legal hold keeps.
    pub held_past_window: u64,
    /// Age in days of the oldest value of this flow still held (of any period).
    pub oldest_held_age_days: Option<f64>,
    pub compliant: bool,
    /// Meta's documented retention for this category, and the document that says so.
    pub meta_retention: Option<String>,
    pub meta_retention_document: Option<String>,
    /// Days a copy may still exist at Meta after ours is gone (0 when ours outlives theirs).
    pub meta_copy_outlives_ours_days: Option<i64>,
}

/// A documented flow, as listed when nothing of it was observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogueFlow {
    pub id: String,
    pub name: String,
    pub direction: Direction,
    pub fields: Vec<FieldKind>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Erasures {
    /// Requests received in the period.
    pub received: u64,
    pub completed: u64,
    pub completed_on_time: u64,
    pub completed_late: u64,
    pub pending: u64,
    /// Pending and past their deadline now.
    pub overdue: u64,
    pub refused: u64,
    pub median_hours_to_complete: Option<f64>,
    pub slowest_hours_to_complete: Option<f64>,
    pub requests: Vec<ErasureLine>,
}

/// One request, by id only (reference and requester are sealed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureLine {
    pub id: String,
    pub state: ErasureState,
    pub received_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub on_time: Option<bool>,
    pub overdue: bool,
    pub entries_erased: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holds {
    pub in_force: u64,
    pub holds: Vec<HoldLine>,
}

/// A legal hold in force (its reason is sealed and not in the report).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldLine {
    pub id: String,
    pub subject_id: String,
    pub from: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Integrity {
    /// The last `verify` run: `None` when the ledger was never verified.
    pub verified: Option<bool>,
    pub verified_at: Option<DateTime<Utc>>,
    pub entries_checked: Option<u64>,
    pub first_bad_seq: Option<i64>,
    /// Entries appended since that run (not covered by it).
    pub entries_since_verification: u64,
    pub chain_head_seq: i64,
    pub checkpoint_seq: Option<i64>,
    pub checkpoint_signed_at: Option<DateTime<Utc>>,
    pub checkpoint_key_id: Option<String>,
    /// The chain still holds the checkpoint's hash at its position.
    pub checkpoint_in_chain: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionComparison {
    pub category: Category,
    /// Our longest window among the category's field kinds.
    pub ours: String,
    pub meta: Option<String>,
    pub meta_document: Option<String>,
}

/// One day of the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Day {
    pub date: NaiveDate,
    /// Values held at the end of the day, per category.
    pub held: BTreeMap<Category, u64>,
    pub recorded: u64,
    pub purged: u64,
    pub erased: u64,
    pub erasures_on_time: u64,
    pub erasures_late: u64,
}
