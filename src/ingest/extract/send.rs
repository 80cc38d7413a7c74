//! A send envelope: the request body (outbound) and the Cloud API's response (inbound). Every field
//! belongs to the response's first message id and to the `to` number, except the originator phone
//! number id, which is business data. The response's `contacts` tie `to` to the `wa_id` Meta
//! delivered to (Brazil and Mexico rewrite numbers), so they form one same-person group.

use super::collector::{Collector, Scope};
use super::{interactive, template, values, Extracted};
use crate::domain::{Direction, FieldKind, PhoneNumber};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// Message types whose content is read field by field; any other `type` is read by its leaves.
const KNOWN_TYPES: [&str; 11] = [
    "text",
    "image",
    "video",
    "audio",
    "sticker",
    "document",
    "location",
    "contacts",
    "interactive",
    "reaction",
    "template",
];

type Object = Map<String, Value>;

/// Extracts every field of a send: request, then response.
pub fn extract(
    sent_at: DateTime<Utc>,
    phone_number_id: &str,
    request: &Object,
    response: Option<&Object>,
) -> Extracted {
    let mut c = Collector::new(sent_at, Direction::Outbound);
    let to = values::text(request.get("to")).and_then(|raw| PhoneNumber::from_wire(&raw));
    let message = response
        .and_then(|r| r.get("messages"))
        .and_then(|m| m.get(0))
        .and_then(|m| values::message_id(m, "id"))
        .or_else(|| mark_as_read_target(request));
    let scope = Scope {
        message,
        subject: to.clone(),
        direction: Direction::Outbound,
    };
    c.within(scope, |c| {
        c.without_subject(|c| c.push(FieldKind::OriginatorPhoneId, phone_number_id));
        request_fields(c, request);
        if let Some(response) = response {
            response_fields(c, response, to);
        }
    });
    c.finish()
}

/// A mark-as-read call (`{"status":"read","message_id":…}`) is about the message it marks.
fn mark_as_read_target(request: &Object) -> Option<crate::domain::MessageId> {
    let raw = request.get("message_id")?.as_str()?;
    request
        .contains_key("status")
        .then(|| crate::domain::MessageId::parse(raw))
        .flatten()
}

fn request_fields(c: &mut Collector, request: &Object) {
    c.scalar(FieldKind::RecipientPhone, request.get("to"));
    if let Some(context) = request.get("context") {
        c.field(FieldKind::MessageId, context, "message_id");
    }
    // Mark-as-read: `{"status":"read","message_id":"wamid…"}`.
    c.scalar(FieldKind::MessageId, request.get("message_id"));
    c.scalar(FieldKind::MessageStatus, request.get("status"));
    c.scalar(
        FieldKind::MessageText,
        request.get("biz_opaque_callback_data"),
    );
    content(c, request);
}

/// The message content, read from every type object present (not only the declared `type`).
fn content(c: &mut Collector, request: &Object) {
    c.shared_content(request);
    if let Some(object) = request.get("interactive") {
        interactive::extract(c, object);
    }
    if let Some(object) = request.get("template") {
        template::extract(c, object);
    }
    unknown_type(c, request);
}

/// A `type` this reader does not know: every string in its object is kept as message text.
fn unknown_type(c: &mut Collector, request: &Object) {
    let Some(kind) = request.get("type").and_then(Value::as_str) else {
        return;
    };
    if !KNOWN_TYPES.contains(&kind) {
        c.leaves(FieldKind::MessageText, request.get(kind));
    }
}

fn response_fields(c: &mut Collector, response: &Object, to: Option<PhoneNumber>) {
    let contacts = response
        .get("contacts")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let scope = Scope {
        direction: Direction::Inbound,
        ..c.scope()
    };
    c.within(scope, |c| {
        for contact in contacts {
            c.field(FieldKind::RecipientPhone, contact, "input");
            c.field(FieldKind::RecipientPhone, contact, "wa_id");
        }
        for message in response
            .get("messages")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            c.field(FieldKind::MessageId, message, "id");
            c.field(FieldKind::MessageStatus, message, "message_status");
        }
        if let Some(error) = response.get("error").filter(|e| !e.is_null()) {
            c.json(FieldKind::ErrorDetail, Some(error));
            c.push(FieldKind::MessageStatus, "failed");
        }
    });
    if !contacts.is_empty() {
        let written = contacts.iter().flat_map(|contact| {
            [
                values::phone(contact, "input"),
                values::phone(contact, "wa_id"),
            ]
        });
        c.same_person(std::iter::once(to).chain(written));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Object {
        value.as_object().cloned().unwrap_or_default()
    }

    fn pairs(out: &Extracted) -> Vec<(FieldKind, String)> {
        out.fields
            .iter()
            .map(|f| (f.kind, f.value.expose().to_string()))
            .collect()
    }

    #[test]
    fn numeric_to_and_unknown_type_are_read() {
        let request = object(json!({"to": 447700900123u64, "type": "poll",
            "poll": {"question": "Tea?", "options": ["Yes", "", {"x": "No"}]}}));
        let out = extract(DateTime::UNIX_EPOCH, "1065", &request, None);
        let got = pairs(&out);
        assert!(got.contains(&(FieldKind::RecipientPhone, "447700900123".into())));
        for text in ["Tea?", "Yes", "No"] {
            assert!(
                got.contains(&(FieldKind::MessageText, text.into())),
                "{text}"
            );
        }
        assert_eq!(got.len(), 5);
        let subject = out.fields[1]
            .subject
            .as_ref()
            .map(|p| p.expose_e164().to_string());
        assert_eq!(subject.as_deref(), Some("+447700900123"));
        assert!(
            out.fields[0].subject.is_none(),
            "originator_phone_id is business data"
        );
        assert!(out.same_person.is_empty());
    }

    #[test]
    fn error_response_adds_failed_status_inbound() {
        let request = object(json!({"to": "+447700900123", "text": {"body": ""}}));
        let response = object(json!({"error": {"code": 131030, "message": "x"}}));
        let out = extract(DateTime::UNIX_EPOCH, "1065", &request, Some(&response));
        let got = pairs(&out);
        assert!(
            !got.iter().any(|(k, _)| *k == FieldKind::MessageText),
            "empty body skipped"
        );
        let failed = out
            .fields
            .iter()
            .find(|f| f.kind == FieldKind::MessageStatus);
        assert_eq!(
            failed.map(|f| (f.value.expose(), f.direction)),
            Some(("failed", Direction::Inbound))
        );
        assert!(got.contains(&(
            FieldKind::ErrorDetail,
            r#"{"code":131030,"message":"x"}"#.into()
        )));
    }

    #[test]
    fn malformed_shapes_do_not_panic() {
        let request = object(
            json!({"to": ["x"], "context": 5, "text": "body", "image": [1],
            "contacts": {"a": 1}, "reaction": null, "interactive": "x", "template": [],
            "type": 7, "location": {}}),
        );
        let response = object(json!({"contacts": "x", "messages": {"id": 1}, "error": null}));
        let out = extract(DateTime::UNIX_EPOCH, "1065", &request, Some(&response));
        assert_eq!(
            pairs(&out),
            [(FieldKind::OriginatorPhoneId, "1065".to_string())]
        );
    }
}
