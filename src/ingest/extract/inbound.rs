//! Messages inside a webhook: inbound messages (`value.messages[]`, from a user) and SMB app echoes
//! (`value.message_echoes[]`, sent by the business from the WhatsApp Business app). Both carry
//! content of every message type in the same shape, read here; an unknown type keeps every string
//! of its object as message text.

use super::collector::{Collector, Scope};
use super::{interactive, values};
use crate::domain::{Direction, FieldKind};
use serde_json::Value;

/// Message types whose content is read field by field.
const KNOWN_TYPES: [&str; 14] = [
    "text",
    "image",
    "video",
    "audio",
    "sticker",
    "document",
    "location",
    "contacts",
    "reaction",
    "interactive",
    "button",
    "order",
    "system",
    "revoke",
];

/// Interactive replies and the parts of each that carry what the user chose or wrote.
const REPLIES: [&str; 3] = ["button_reply", "list_reply", "nfm_reply"];
const REPLY_TEXT: [&str; 4] = ["title", "description", "body", "response_json"];

/// Extracts one inbound message: it belongs to its id and to the `from` number.
pub fn message(c: &mut Collector, message: &Value, originator: Option<&Value>) {
    one(
        c,
        message,
        originator,
        ("from", FieldKind::SenderPhone),
        Direction::Inbound,
    );
}

/// Extracts one echo: an outbound message to the `to` number (`from` is the business's own).
pub fn echo(c: &mut Collector, echo: &Value, originator: Option<&Value>) {
    one(
        c,
        echo,
        originator,
        ("to", FieldKind::RecipientPhone),
        Direction::Outbound,
    );
}

/// A message that belongs to its id and to the customer's number under `party.0`.
fn one(
    c: &mut Collector,
    message: &Value,
    originator: Option<&Value>,
    party: (&str, FieldKind),
    direction: Direction,
) {
    let scope = Scope {
        message: values::message_id(message, "id"),
        subject: values::phone(message, party.0),
        direction,
    };
    c.within(scope, |c| {
        c.field(FieldKind::MessageId, message, "id");
        c.field(party.1, message, party.0);
        c.user_ids(message);
        c.without_subject(|c| c.scalar(FieldKind::OriginatorPhoneId, originator));
        content(c, message);
    });
}

fn content(c: &mut Collector, message: &Value) {
    if let Some(object) = message.as_object() {
        c.shared_content(object);
    }
    replies(c, message);
    commerce(c, message);
    annotations(c, message);
    unknown_type(c, message);
}

/// Interactive replies, template quick-reply buttons and the outbound interactive shape (echoes).
fn replies(c: &mut Collector, message: &Value) {
    if let Some(object) = message.get("interactive") {
        for reply in REPLIES.iter().filter_map(|key| object.get(key)) {
            REPLY_TEXT
                .iter()
                .for_each(|key| c.field(FieldKind::MessageText, reply, key));
        }
        match object.get("type").and_then(Value::as_str) {
            Some(kind) if !REPLIES.contains(&kind) => {
                c.leaves(FieldKind::MessageText, object.get(kind))
            }
            _ => {}
        }
        interactive::extract(c, object);
    }
    if let Some(button) = message.get("button") {
        c.field(FieldKind::TemplateField, button, "payload");
        c.field(FieldKind::MessageText, button, "text");
    }
}

fn commerce(c: &mut Collector, message: &Value) {
    if let Some(order) = message.get("order") {
        c.field(FieldKind::MessageText, order, "text");
        c.json(FieldKind::MessageText, order.get("product_items"));
    }
    c.json(FieldKind::MessageText, message.get("referral"));
}

/// System notices, revocations, replies' context, identity changes and per-message errors.
fn annotations(c: &mut Collector, message: &Value) {
    if let Some(system) = message.get("system") {
        c.field(FieldKind::MessageText, system, "body");
        c.field(FieldKind::SenderPhone, system, "wa_id");
        if system.get("type").and_then(Value::as_str) == Some("user_changed_number") {
            c.same_person([
                values::phone(message, "from"),
                values::phone(system, "wa_id"),
            ]);
        }
    }
    if let Some(revoke) = message.get("revoke") {
        c.field(FieldKind::MessageId, revoke, "original_message_id");
    }
    if let Some(context) = message.get("context") {
        c.field(FieldKind::MessageId, context, "id");
    }
    if let Some(identity) = message.get("identity") {
        c.field(FieldKind::UserId, identity, "hash");
    }
    for error in values::items(message, "errors") {
        c.json(FieldKind::ErrorDetail, Some(error));
    }
}

fn unknown_type(c: &mut Collector, message: &Value) {
    let Some(kind) = message.get("type").and_then(Value::as_str) else {
        return;
    };
    if !KNOWN_TYPES.contains(&kind) {
        c.leaves(FieldKind::MessageText, message.get(kind));
    }
}

#[cfg(test)]
mod tests;
