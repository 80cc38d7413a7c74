//! Audit reports a DPO can sign: for a period, every observed flow of personal data to and from
//! Meta mapped to the Dotdigital and Meta documents that govern it, its retention against ours
//! and Meta's, whether anything is held past its window, how erasure requests went against their
//! deadlines, legal holds in force, and the ledger's integrity. Computed from metadata alone (no
//! master key needed), rendered as a table, JSON, CSV, Markdown or a self-contained HTML page
//! with inline SVG charts, and optionally signed with the ledger's key.

mod build;
pub mod html;
pub mod model;
mod render;
mod sign;

pub use build::{build, removed_values};
pub use model::{Period, Report};
pub use render::{csv, markdown, table};
pub use sign::{ReportSignature, SignatureCheck, SignedReportError};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

/// Days a report covers when no `--from` is given.
pub const DEFAULT_DAYS: i64 = 30;

/// The period of `--from`/`--to`: dates are whole UTC days (a `--to` date includes that day),
/// times are exact; `to` defaults to now (the end of its second) and `from` to 30 days before.
pub fn period(
    from: Option<(DateTime<Utc>, bool)>,
    to: Option<(DateTime<Utc>, bool)>,
    now: DateTime<Utc>,
) -> Period {
    let to = match to {
        Some((t, true)) => t + Duration::days(1),
        Some((t, false)) => t,
        // The end of the current second: entries are timed in whole seconds.
        None => DateTime::from_timestamp(now.timestamp() + 1, 0).unwrap_or(now),
    };
    let from = from.map_or(to - Duration::days(DEFAULT_DAYS), |(t, _)| t);
    Period { from, to }
}

/// A `--from`/`--to` value: the time, and whether it was a whole date (RFC 3339 or YYYY-MM-DD).
pub fn parse_bound(text: &str) -> Option<(DateTime<Utc>, bool)> {
    let is_date = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").is_ok();
    crate::ingest::envelope::parse_time(text).map(|t| (t, is_date))
}

/// The month before the one `now` is in: the period of a scheduled report.
pub fn previous_month(now: DateTime<Utc>) -> Period {
    let first = |y: i32, m: u32| {
        NaiveDate::from_ymd_opt(y, m, 1)
            .expect("the first of a month exists")
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc()
    };
    let this = first(now.year(), now.month());
    let prev = this
        .checked_sub_months(chrono::Months::new(1))
        .expect("a month back is in range");
    Period {
        from: prev,
        to: this,
    }
}

/// A file name for a report of `period`: `compliance-2026-11-01_2026-12-01`.
pub fn file_stem(period: &Period) -> String {
    format!(
        "compliance-{}_{}",
        period.from.format("%Y-%m-%d"),
        period.to.format("%Y-%m-%d")
    )
}
