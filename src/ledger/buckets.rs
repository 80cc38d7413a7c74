//! Retention buckets: every value is sealed under its subject's key combined with the key of its
//! bucket, one per field kind and UTC day of `occurred_at`. A purge that has removed every value
//! of a bucket destroys the bucket's key, so a purged value is unreadable wherever a copy of its
//! ciphertext survives (PostgreSQL's dead tuples, a backup), as an erased one is. A bucket holding
//! a value a legal hold keeps stays until the hold ends.

use crate::domain::FieldKind;
use std::str::FromStr;

/// Key-store owners of bucket keys start with this.
pub const BUCKET_PREFIX: &str = "bucket/";

const DAY: i64 = 86_400;

/// The key-store owner of the bucket of a `field` value that occurred at `occurred_at`.
pub fn bucket_owner(field: FieldKind, occurred_at: i64) -> String {
    format!("{BUCKET_PREFIX}{field}/{}", occurred_at.div_euclid(DAY))
}

/// A bucket's field kind and the time range `[from, to)` it covers.
pub fn parse_bucket(owner: &str) -> Option<(FieldKind, i64, i64)> {
    let (field, day) = owner.strip_prefix(BUCKET_PREFIX)?.split_once('/')?;
    let day: i64 = day.parse().ok()?;
    Some((FieldKind::from_str(field).ok()?, day * DAY, (day + 1) * DAY))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_covers_its_utc_day() {
        let at = 1_767_225_599; // 2025-12-31T23:59:59Z
        let owner = bucket_owner(FieldKind::MessageText, at);
        let (field, from, to) = parse_bucket(&owner).unwrap();
        assert_eq!(field, FieldKind::MessageText);
        assert!(from <= at && at < to && to - from == DAY);
        assert_ne!(owner, bucket_owner(FieldKind::MessageText, at + 1));
        assert_ne!(owner, bucket_owner(FieldKind::Media, at));
        assert_eq!(parse_bucket("system"), None);
        assert_eq!(parse_bucket("bucket/nonsense/3"), None);
    }
}
