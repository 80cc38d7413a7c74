//! Unit tests for inbound messages and echoes.

use super::*;
use crate::domain::FieldValue;
use crate::ingest::extract::Extracted;
use chrono::DateTime;
use serde_json::json;

fn run(f: impl FnOnce(&mut Collector)) -> Extracted {
    let mut c = Collector::new(DateTime::UNIX_EPOCH, Direction::Inbound);
    f(&mut c);
    c.finish()
}

fn inbound(value: Value) -> Extracted {
    run(|c| message(c, &value, Some(&json!("1122334455667"))))
}

fn pairs(fields: &[FieldValue]) -> Vec<(FieldKind, &str)> {
    fields.iter().map(|f| (f.kind, f.value.expose())).collect()
}

#[test]
fn unknown_type_keeps_every_string_leaf() {
    let out = inbound(
        json!({"from": "972987654321", "id": "wamid.1", "type": "poll",
        "poll": {"question": "Tea?", "options": [{"name": "Yes"}, {"name": ""}], "n": 2}}),
    );
    let got = pairs(&out.fields);
    assert!(got.contains(&(FieldKind::MessageText, "Tea?")));
    assert!(got.contains(&(FieldKind::MessageText, "Yes")));
    assert_eq!(
        got.iter()
            .filter(|(k, _)| *k == FieldKind::MessageText)
            .count(),
        2
    );
    let from = out.fields.iter().find(|f| f.kind == FieldKind::SenderPhone);
    assert_eq!(
        from.and_then(|f| f.subject.as_ref())
            .map(|p| p.expose_e164()),
        Some("+972987654321")
    );
}

#[test]
fn replies_buttons_and_orders_are_read() {
    let out = inbound(json!({"from": "1", "id": "wamid.2", "type": "interactive",
        "interactive": {"type": "nfm_reply", "nfm_reply": {"name": "flow", "body": "Sent",
            "response_json": "{\"name\":\"Alex\"}"}},
        "button": {"payload": "STOP", "text": "Stop promotions"},
        "order": {"text": "", "product_items": [{"product_retailer_id": "X", "quantity": 1}]}}));
    let got = pairs(&out.fields);
    assert!(got.contains(&(FieldKind::MessageText, "Sent")));
    assert!(got.contains(&(FieldKind::MessageText, "{\"name\":\"Alex\"}")));
    assert!(!got.contains(&(FieldKind::MessageText, "flow")));
    assert!(got.contains(&(FieldKind::TemplateField, "STOP")));
    assert!(got.contains(&(FieldKind::MessageText, "Stop promotions")));
    assert!(got.contains(&(
        FieldKind::MessageText,
        r#"[{"product_retailer_id":"X","quantity":1}]"#
    )));
    assert!(!got.contains(&(FieldKind::MessageText, "")));
}

#[test]
fn changed_number_links_old_and_new() {
    let out = inbound(
        json!({"from": "972987654321", "id": "wamid.3", "type": "system",
        "system": {"body": "changed", "wa_id": "972912345678", "type": "user_changed_number"}}),
    );
    let group: Vec<&str> = out.same_person[0].iter().map(|p| p.expose_e164()).collect();
    assert_eq!(group, ["+972987654321", "+972912345678"]);
    let phones = out
        .fields
        .iter()
        .filter(|f| f.kind == FieldKind::SenderPhone)
        .count();
    assert_eq!(phones, 2);
}

#[test]
fn echoes_are_outbound_to_the_recipient() {
    let value = json!({"from": "15550783881", "to": "447700900123", "id": "wamid.4",
        "to_user_id": "US.1", "type": "text", "text": {"body": "Hello"}});
    let out = run(|c| echo(c, &value, None));
    assert!(out
        .fields
        .iter()
        .all(|f| f.direction == Direction::Outbound));
    let got = pairs(&out.fields);
    assert_eq!(
        got,
        [
            (FieldKind::MessageId, "wamid.4"),
            (FieldKind::RecipientPhone, "447700900123"),
            (FieldKind::UserId, "US.1"),
            (FieldKind::MessageText, "Hello")
        ]
    );
    assert!(out.fields.iter().all(|f| f.subject.is_some()));
}

#[test]
fn malformed_messages_do_not_panic() {
    for value in [
        json!(null),
        json!("x"),
        json!([{"id": 1}]),
        json!({"id": {"a": 1}, "from": [], "type": ["x"], "text": "body", "image": 5,
            "contacts": {"a": 1}, "interactive": {"type": 3, "button_reply": "x"},
            "system": {"type": "user_changed_number"}, "errors": "x", "context": null}),
        json!({"type": "interactive", "interactive": {"type": "mystery"}}),
    ] {
        let out = inbound(value);
        assert!(out.fields.iter().all(|f| !f.value.expose().is_empty()));
    }
}
