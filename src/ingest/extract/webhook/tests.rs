//! Unit tests for the webhook walk: changes, contacts, preferences and refusals.

use super::*;
use crate::domain::FieldValue;
use serde_json::json;

fn run(payload: Value) -> Result<Extracted, EnvelopeError> {
    let map = payload.as_object().cloned().unwrap_or_default();
    extract(DateTime::UNIX_EPOCH, &map)
}

fn changes(list: Value) -> Extracted {
    run(json!({"object": "whatsapp_business_account", "entry": [{"changes": list}]}))
        .expect("a payload with an entry array is accepted")
}

fn of(fields: &[FieldValue], kind: FieldKind) -> Vec<&str> {
    fields
        .iter()
        .filter(|f| f.kind == kind)
        .map(|f| f.value.expose())
        .collect()
}

#[test]
fn missing_entry_is_refused_without_quoting_the_payload() {
    for payload in [
        json!({"object": "x"}),
        json!({"entry": {"id": "447700900123"}}),
    ] {
        let err = run(payload).expect_err("no entry array");
        assert!(err.0.contains("entry") && !err.0.contains("7700"), "{err}");
        assert_eq!(err.0, err.0.to_lowercase());
    }
}

#[test]
fn other_fields_are_kept_whole_and_odd_shapes_skipped() {
    let out = changes(json!([
        {"field": "message_template_status_update", "value": {"event": "APPROVED"}},
        {"field": 5, "value": {"x": "y"}},
        {"value": "not an object"},
        "not a change", {"field": "messages"}, {"field": "messages", "value": {"statuses": "x"}}]));
    assert_eq!(
        of(&out.fields, FieldKind::MessageText),
        [r#"{"event":"APPROVED"}"#, r#"{"x":"y"}"#]
    );
    assert_eq!(out.fields.len(), 2);
}

#[test]
fn contacts_attach_to_the_message_from_them() {
    let out = changes(json!([{"field": "messages", "value": {
        "contacts": [{"wa_id": "447700900123", "profile": {"name": "Ann", "username": "ann"},
                      "user_id": "US.1", "identity_key_hash": "h"},
                     {"wa_id": "16505551234", "profile": {"name": ""}}],
        "messages": [{"from": "16505551234", "id": "wamid.B", "type": "text", "text": {"body": "x"}},
                     {"from": "447700900123", "id": "wamid.A", "type": "text", "text": {"body": "y"}}],
        "errors": [{"code": 131000}]}}]));
    let contact = |name: &str| out.fields.iter().find(|f| f.value.expose() == name);
    let ann = contact("Ann").expect("profile name");
    assert_eq!(ann.message.as_ref().map(|m| m.expose()), Some("wamid.A"));
    assert_eq!(
        ann.subject.as_ref().map(|p| p.expose_e164()),
        Some("+447700900123")
    );
    assert_eq!(of(&out.fields, FieldKind::ProfileName), ["Ann", "ann"]);
    assert_eq!(of(&out.fields, FieldKind::UserId), ["h", "US.1"]);
    assert_eq!(of(&out.fields, FieldKind::SenderPhone).len(), 4);
    let error = out
        .fields
        .iter()
        .find(|f| f.kind == FieldKind::ErrorDetail)
        .expect("error");
    assert!(error.message.is_none() && error.subject.is_none());
}

#[test]
fn status_only_contacts_are_recipients_of_the_matching_status() {
    let out = changes(json!([{"value": {
        "metadata": {"phone_number_id": "106"},
        "contacts": [{"wa_id": "16505551234"}],
        "statuses": [{"id": "wamid.S1", "recipient_id": "447700900123"},
                     {"id": "wamid.S2", "recipient_id": "16505551234"}]}}]));
    let wa_id = out
        .fields
        .iter()
        .rfind(|f| f.kind == FieldKind::RecipientPhone)
        .expect("wa_id");
    assert_eq!(wa_id.value.expose(), "16505551234");
    assert_eq!(wa_id.message.as_ref().map(|m| m.expose()), Some("wamid.S2"));
    assert_eq!(
        of(&out.fields, FieldKind::OriginatorPhoneId),
        ["106", "106"]
    );
}

#[test]
fn preferences_record_the_opt_out_signal() {
    let out = changes(json!([{"field": "user_preferences", "value": {
        "metadata": {"phone_number_id": "106"},
        "user_preferences": [{"wa_id": "16505551234", "category": "marketing_messages",
            "value": "stop", "timestamp": 1731705721}, {"value": ""}]}}]));
    assert_eq!(
        of(&out.fields, FieldKind::OptOut),
        ["stop marketing_messages"]
    );
    assert_eq!(of(&out.fields, FieldKind::SenderPhone), ["16505551234"]);
    let originator = out
        .fields
        .iter()
        .find(|f| f.kind == FieldKind::OriginatorPhoneId);
    assert!(originator.is_some_and(|f| f.subject.is_none() && f.message.is_none()));
}
