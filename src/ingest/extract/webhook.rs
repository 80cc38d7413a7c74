//! A webhook notification: walks `entry[].changes[]`. `messages`, `user_preferences` and
//! `smb_message_echoes` changes are read field by field (statuses, inbound messages, echoes,
//! contacts, out-of-band errors, marketing preferences); any other change is kept whole as message
//! text, so nothing that crossed the boundary is lost.

use super::collector::{Collector, Scope};
use super::{inbound, status, values, Extracted};
use crate::domain::{Direction, FieldKind, MessageId};
use crate::ingest::envelope::EnvelopeError;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// Extracts every field of a webhook payload; refuses one without an `entry` array.
pub fn extract(
    received_at: DateTime<Utc>,
    payload: &Map<String, Value>,
) -> Result<Extracted, EnvelopeError> {
    let Some(entries) = payload.get("entry").and_then(Value::as_array) else {
        return Err(EnvelopeError::new(
            "the webhook payload has no \"entry\" array; record the notification exactly as meta delivered it",
        ));
    };
    let mut c = Collector::new(received_at, Direction::Inbound);
    for change in entries
        .iter()
        .flat_map(|entry| values::items(entry, "changes"))
    {
        self::change(&mut c, change);
    }
    Ok(c.finish())
}

fn change(c: &mut Collector, change: &Value) {
    let field = match change.get("field") {
        None => "messages",
        Some(field) => field.as_str().unwrap_or_default(),
    };
    let Some(value) = change.get("value") else {
        return;
    };
    match field {
        "messages" | "user_preferences" | "smb_message_echoes" => messages_value(c, value),
        _ => c.json(FieldKind::MessageText, Some(value)),
    }
}

fn messages_value(c: &mut Collector, value: &Value) {
    let originator = value.get("metadata").and_then(|m| m.get("phone_number_id"));
    let statuses = values::items(value, "statuses");
    let messages = values::items(value, "messages");
    let echoes = values::items(value, "message_echoes");
    statuses
        .iter()
        .for_each(|s| status::extract(c, s, originator));
    messages
        .iter()
        .for_each(|m| inbound::message(c, m, originator));
    echoes.iter().for_each(|e| inbound::echo(c, e, originator));
    if statuses.is_empty() && messages.is_empty() && echoes.is_empty() {
        c.scalar(FieldKind::OriginatorPhoneId, originator);
    }
    contacts(c, value);
    for error in values::items(value, "errors") {
        c.json(FieldKind::ErrorDetail, Some(error));
    }
    for preference in values::items(value, "user_preferences") {
        self::preference(c, preference);
    }
}

/// `value.contacts[]`: the profile and ids of the user the value's messages or statuses are about.
fn contacts(c: &mut Collector, value: &Value) {
    let phone_kind = if values::items(value, "messages").is_empty() {
        FieldKind::RecipientPhone
    } else {
        FieldKind::SenderPhone
    };
    for contact in values::items(value, "contacts") {
        let scope = Scope {
            message: contact_message(value, contact),
            subject: values::phone(contact, "wa_id"),
            direction: Direction::Inbound,
        };
        c.within(scope, |c| {
            if let Some(profile) = contact.get("profile") {
                c.field(FieldKind::ProfileName, profile, "name");
                c.field(FieldKind::ProfileName, profile, "username");
            }
            c.field(phone_kind, contact, "wa_id");
            c.user_ids(contact);
        });
    }
}

/// The message a contact belongs to: the message from it, else the first message, else the echo
/// to it, else the first echo, else the status addressed to it, else none.
fn contact_message(value: &Value, contact: &Value) -> Option<MessageId> {
    let wa_id = values::field(contact, "wa_id");
    let names = |item: &&Value, keys: &[&str]| {
        wa_id.is_some() && keys.iter().any(|key| values::field(item, key) == wa_id)
    };
    let messages = values::items(value, "messages");
    let from_it = messages
        .iter()
        .find(|m| names(m, &["from"]))
        .or(messages.first());
    let echoes = values::items(value, "message_echoes");
    let echoed = || echoes.iter().find(|e| names(e, &["to"])).or(echoes.first());
    let status = || {
        let keys = ["recipient_id", "recipient_participant_id"];
        values::items(value, "statuses")
            .iter()
            .find(|s| names(s, &keys))
    };
    from_it
        .and_then(|m| values::message_id(m, "id"))
        .or_else(|| echoed().and_then(|e| values::message_id(e, "id")))
        .or_else(|| status().and_then(|s| values::message_id(s, "id")))
}

/// `user_preferences[]`: a user's marketing stop / resume signal.
fn preference(c: &mut Collector, preference: &Value) {
    let scope = Scope {
        message: None,
        subject: values::phone(preference, "wa_id"),
        direction: Direction::Inbound,
    };
    c.within(scope, |c| {
        c.field(FieldKind::SenderPhone, preference, "wa_id");
        let parts = [
            values::field(preference, "value"),
            values::field(preference, "category"),
        ];
        c.push(
            FieldKind::OptOut,
            parts.into_iter().flatten().collect::<Vec<_>>().join(" "),
        );
        c.user_ids(preference);
    });
}

#[cfg(test)]
mod tests;
