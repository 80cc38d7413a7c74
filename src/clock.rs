//! The one place that reads the system clock. Everything else takes `now` as a parameter, so
//! retention, erasure and ingest logic can be tested at any instant.

use chrono::{DateTime, Utc};

/// The current time, truncated to whole seconds (the ledger stores Unix seconds).
#[allow(clippy::disallowed_methods)]
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now)
}
