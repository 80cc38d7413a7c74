//! Data-subject erasure requests as the domain sees them: their states and their legal deadline.
//! GDPR Art. 12(3) gives one month from receipt, extendable by two further months; months are
//! counted as Regulation 1182/71 Art. 3(2)(c) counts them: the same day of the later month, or
//! that month's last day when it has no such day. Times keep their time of day.

use chrono::{DateTime, Months, Utc};
use serde::{Deserialize, Serialize};
use strum::{AsRefStr, Display, EnumString, IntoStaticStr};

/// Where a request stands. Each change is ledgered.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    Display,
    EnumString,
    AsRefStr,
    IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ErasureState {
    /// Registered, not yet carried out.
    Pending,
    /// Carried out: the subject's key and values are destroyed.
    Completed,
    /// Not carried out because a legal hold covers the subject (Art. 12(4): the requester is told why).
    Refused,
}

/// Months a request may take (Art. 12(3)).
pub const DEADLINE_MONTHS: u32 = 1;
/// Further months one extension adds (Art. 12(3)).
pub const EXTENSION_MONTHS: u32 = 2;

/// `received_at` plus `months` calendar months, clamped to the last day of the target month.
pub fn add_months(received_at: DateTime<Utc>, months: u32) -> DateTime<Utc> {
    // chrono's `checked_add_months` clamps to the month's last day, as Art. 3 counts.
    received_at
        .checked_add_months(Months::new(months))
        .expect("a deadline months away is within chrono's range")
}

/// When a request received at `received_at` is due, with or without its one extension.
pub fn due_at(received_at: DateTime<Utc>, extended: bool) -> DateTime<Utc> {
    let months = DEADLINE_MONTHS + if extended { EXTENSION_MONTHS } else { 0 };
    add_months(received_at, months)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn one_month_is_the_same_day_or_the_months_last_day() {
        let cases = [
            ("2026-01-31T10:00:00Z", "2026-02-28T10:00:00Z"),
            ("2028-01-31T10:00:00Z", "2028-02-29T10:00:00Z"),
            ("2026-03-31T10:00:00Z", "2026-04-30T10:00:00Z"),
            ("2026-12-15T10:00:00Z", "2027-01-15T10:00:00Z"),
            ("2026-05-31T23:59:59Z", "2026-06-30T23:59:59Z"),
            ("2026-11-27T23:59:59Z", "2026-12-27T23:59:59Z"),
            ("2026-02-28T00:00:00Z", "2026-03-28T00:00:00Z"),
        ];
        for (received, due) in cases {
            assert_eq!(due_at(at(received), false), at(due), "received {received}");
        }
    }

    #[test]
    fn an_extension_adds_two_further_months_from_receipt() {
        assert_eq!(
            due_at(at("2026-11-30T12:00:00Z"), true),
            at("2027-02-28T12:00:00Z")
        );
        assert_eq!(
            due_at(at("2026-10-31T23:59:59Z"), true),
            at("2027-01-31T23:59:59Z")
        );
    }
}
