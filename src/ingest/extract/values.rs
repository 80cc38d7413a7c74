//! Small readers over untrusted JSON: a value's text form (strings, and numbers written where a
//! string belongs), the compact JSON of an object, the string leaves of an unknown object, array
//! items that tolerate any shape, and unix timestamps as RFC 3339. None of them can panic.

use crate::domain::{MessageId, PhoneNumber};
use chrono::{DateTime, SecondsFormat};
use serde_json::Value;

/// The text of a scalar: a non-blank string as it is, a number in its decimal form.
pub fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The text of `object[key]`, when `object` is an object holding a scalar there.
pub fn field(object: &Value, key: &str) -> Option<String> {
    text(object.get(key))
}

/// Compact JSON of a value; `None` for null and for empty objects, arrays and strings.
pub fn compact(value: &Value) -> Option<String> {
    let empty = match value {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::String(s) => s.trim().is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    };
    (!empty).then(|| value.to_string())
}

/// Every non-blank string inside `value`, depth first, in document order.
pub fn string_leaves(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect_leaves(value, &mut out);
    out
}

fn collect_leaves(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) if !s.trim().is_empty() => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|item| collect_leaves(item, out)),
        Value::Object(map) => map.values().for_each(|item| collect_leaves(item, out)),
        _ => {}
    }
}

/// The elements of `object[key]` when it is an array; nothing for any other shape.
pub fn items<'a>(object: &'a Value, key: &str) -> &'a [Value] {
    object
        .get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// A phone number found at `object[key]`, read leniently (`PhoneNumber::from_wire`).
pub fn phone(object: &Value, key: &str) -> Option<PhoneNumber> {
    field(object, key).and_then(|raw| PhoneNumber::from_wire(&raw))
}

/// A message id found at `object[key]`.
pub fn message_id(object: &Value, key: &str) -> Option<MessageId> {
    field(object, key).and_then(|raw| MessageId::parse(&raw))
}

/// A unix-seconds timestamp (string or integer) as RFC 3339 UTC, e.g. `2025-06-18T16:23:10Z`.
pub fn unix_rfc3339(value: Option<&Value>) -> Option<String> {
    let seconds = match value? {
        Value::String(s) => s.trim().parse::<i64>().ok()?,
        Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    let time = DateTime::from_timestamp(seconds, 0)?;
    Some(time.to_rfc3339_opts(SecondsFormat::Secs, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_accepts_numbers_and_skips_blanks() {
        assert_eq!(
            text(Some(&json!(447700900123u64))).as_deref(),
            Some("447700900123")
        );
        assert_eq!(text(Some(&json!("  "))), None);
        assert_eq!(text(Some(&json!({"a": 1}))), None);
        assert_eq!(text(None), None);
        assert_eq!(field(&json!("not an object"), "to"), None);
    }

    #[test]
    fn compact_skips_empty_shapes() {
        assert_eq!(compact(&json!({})), None);
        assert_eq!(compact(&json!([])), None);
        assert_eq!(compact(&Value::Null), None);
        assert_eq!(
            compact(&json!({"a": [1, "b"]})).as_deref(),
            Some(r#"{"a":[1,"b"]}"#)
        );
    }

    #[test]
    fn leaves_walk_nested_shapes() {
        let v = json!({"a": "x", "b": [{"c": "y"}, 3, ""], "d": {"e": "z"}});
        assert_eq!(string_leaves(&v), ["x", "y", "z"]);
    }

    #[test]
    fn items_tolerate_any_shape() {
        assert!(items(&json!({"a": "not an array"}), "a").is_empty());
        assert!(items(&json!(7), "a").is_empty());
        assert_eq!(items(&json!({"a": [1, 2]}), "a").len(), 2);
    }

    #[test]
    fn timestamps_read_strings_and_integers() {
        let want = Some("2025-06-18T16:23:10Z".to_string());
        assert_eq!(unix_rfc3339(Some(&json!("1750263790"))), want);
        assert_eq!(unix_rfc3339(Some(&json!(1750263790))), want);
        assert_eq!(unix_rfc3339(Some(&json!("soon"))), None);
        assert_eq!(unix_rfc3339(Some(&json!(1.5))), None);
        assert_eq!(unix_rfc3339(Some(&json!(i64::MAX))), None);
    }
}
