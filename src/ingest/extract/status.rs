//! Delivery statuses (`value.statuses[]`): each belongs to its message id and to the recipient
//! (for a group message, the participant). Records the status with its time, the recipient's
//! number and business-scoped ids, pricing and conversation objects, errors, the echoed
//! `biz_opaque_callback_data`, and the business phone number id the status came through.

use super::collector::{Collector, Scope};
use super::values;
use crate::domain::{Direction, FieldKind};
use serde_json::Value;

/// Extracts one status; `originator` is the value's `metadata.phone_number_id`.
pub fn extract(c: &mut Collector, status: &Value, originator: Option<&Value>) {
    let group = status.get("recipient_type").and_then(Value::as_str) == Some("group");
    let person = if group {
        "recipient_participant_id"
    } else {
        "recipient_id"
    };
    let subject = values::phone(status, person);
    let scope = Scope {
        message: values::message_id(status, "id"),
        subject,
        direction: Direction::Inbound,
    };
    c.within(scope, |c| {
        c.field(FieldKind::MessageId, status, "id");
        state(c, status);
        recipient_id(c, status, group);
        c.field(
            FieldKind::RecipientPhone,
            status,
            "recipient_participant_id",
        );
        c.user_ids(status);
        c.json(FieldKind::Pricing, status.get("pricing"));
        c.json(FieldKind::Pricing, status.get("conversation"));
        for error in values::items(status, "errors") {
            c.json(FieldKind::ErrorDetail, Some(error));
        }
        c.field(FieldKind::MessageText, status, "biz_opaque_callback_data");
        c.without_subject(|c| c.scalar(FieldKind::OriginatorPhoneId, originator));
    });
}

/// `"{status}"`, plus `" at {RFC 3339}"` when the timestamp can be read.
fn state(c: &mut Collector, status: &Value) {
    let Some(state) = values::field(status, "status") else {
        return;
    };
    let value = match values::unix_rfc3339(status.get("timestamp")) {
        Some(at) => format!("{state} at {at}"),
        None => state,
    };
    c.push(FieldKind::MessageStatus, value);
}

/// `recipient_id` is about the number it names; a group id names nobody. Outside a group it is
/// the number the status is about, read already for the scope (numbers are costly to parse).
fn recipient_id(c: &mut Collector, status: &Value, group: bool) {
    if !group {
        c.field(FieldKind::RecipientPhone, status, "recipient_id");
        return;
    }
    let scope = Scope {
        subject: values::phone(status, "recipient_id"),
        ..c.scope()
    };
    c.within(scope, |c| {
        c.field(FieldKind::RecipientPhone, status, "recipient_id")
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FieldValue;
    use chrono::DateTime;
    use serde_json::json;

    fn run(status: Value) -> Vec<FieldValue> {
        let mut c = Collector::new(DateTime::UNIX_EPOCH, Direction::Inbound);
        extract(&mut c, &status, Some(&json!(106540352242922u64)));
        c.finish().fields
    }

    fn find(fields: &[FieldValue], kind: FieldKind) -> Vec<&FieldValue> {
        fields.iter().filter(|f| f.kind == kind).collect()
    }

    fn subject(field: &FieldValue) -> Option<&str> {
        field.subject.as_ref().map(|p| p.expose_e164())
    }

    #[test]
    fn numeric_timestamps_and_numeric_originator_are_read() {
        let fields = run(
            json!({"id": "wamid.A", "status": "read", "timestamp": 1750263790,
            "recipient_id": "16505551234"}),
        );
        let status = find(&fields, FieldKind::MessageStatus);
        assert_eq!(status[0].value.expose(), "read at 2025-06-18T16:23:10Z");
        let phones = find(&fields, FieldKind::RecipientPhone);
        assert_eq!(phones.len(), 1);
        assert_eq!(subject(phones[0]), Some("+16505551234"));
        assert_eq!(subject(status[0]), Some("+16505551234"));
        let originator = find(&fields, FieldKind::OriginatorPhoneId);
        assert_eq!(originator[0].value.expose(), "106540352242922");
        assert!(originator[0].subject.is_none());
        assert_eq!(
            originator[0].message.as_ref().map(|m| m.expose()),
            Some("wamid.A")
        );
        let unreadable = run(json!({"status": "sent", "timestamp": "later"}));
        assert_eq!(
            find(&unreadable, FieldKind::MessageStatus)[0]
                .value
                .expose(),
            "sent"
        );
    }

    #[test]
    fn group_status_belongs_to_the_participant() {
        let fields = run(
            json!({"id": "wamid.G", "status": "read", "recipient_id": "fowefinoewcnw",
            "recipient_type": "group", "recipient_participant_id": "447700900123",
            "recipient_participant_user_id": "US.1", "biz_opaque_callback_data": "cb"}),
        );
        let phones = find(&fields, FieldKind::RecipientPhone);
        assert_eq!(phones.len(), 2);
        assert_eq!(subject(phones[0]), None, "a group id names nobody");
        assert_eq!(subject(phones[1]), Some("+447700900123"));
        let user = find(&fields, FieldKind::UserId);
        assert_eq!(
            (user[0].value.expose(), subject(user[0])),
            ("US.1", Some("+447700900123"))
        );
        assert_eq!(
            find(&fields, FieldKind::MessageText)[0].value.expose(),
            "cb"
        );
    }

    #[test]
    fn malformed_statuses_do_not_panic() {
        for status in [
            json!(null),
            json!([1]),
            json!({"errors": {"a": 1}, "pricing": "x",
            "recipient_type": 5, "timestamp": {"t": 1}, "status": ""}),
        ] {
            let fields = run(status);
            assert!(find(&fields, FieldKind::MessageStatus).is_empty());
        }
    }
}
