//! What customers send back: inbound `messages` webhooks (text, template quick-reply `button`,
//! image with caption, shared location, reaction, voice note, interactive `button_reply` and
//! `list_reply`) with the sender's `contacts[]` entry, and `user_preferences` stop/resume
//! webhooks. Builds notification payloads only; whether and when a customer answers is the
//! caller's choice.

use rand::Rng;
use serde_json::{json, Value};

use super::ids;
use super::subjects::Subject;
use super::templates::ReplyHint;
use super::webhooks::{contact, metadata, notification, Notification};
use super::words::{fill, pick, Vars, EMOJI, IMAGE_CAPTIONS, INBOUND_TEXTS, STORES, STREETS};
use super::Business;

/// The kinds of inbound message the simulator produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InboundKind {
    Text,
    Button,
    Image,
    Location,
    Reaction,
    Voice,
    ButtonReply,
    ListReply,
}

impl InboundKind {
    /// A customer mostly taps what the message offered, else writes, reacts or sends media.
    pub fn choose<R: Rng>(rng: &mut R, hint: &ReplyHint) -> Self {
        match hint {
            ReplyHint::QuickReply(..) if rng.gen_bool(0.6) => return InboundKind::Button,
            ReplyHint::Buttons(_) if rng.gen_bool(0.8) => return InboundKind::ButtonReply,
            ReplyHint::List(rows) if !rows.is_empty() && rng.gen_bool(0.8) => {
                return InboundKind::ListReply
            }
            _ => {}
        }
        match rng.gen_range(0..100) {
            0..55 => InboundKind::Text,
            55..67 => InboundKind::Image,
            67..75 => InboundKind::Location,
            75..93 => InboundKind::Reaction,
            _ => InboundKind::Voice,
        }
    }
}

/// One inbound message.
pub struct Inbound<'a> {
    pub kind: InboundKind,
    pub wamid: &'a str,
    /// The business message this one answers (quoted in `context`, or reacted to).
    pub replied_to: &'a str,
    pub timestamp: i64,
}

/// Builds the notification; the flag says the customer wrote "STOP".
pub fn message<'a, R: Rng>(
    rng: &mut R,
    m: &Inbound<'_>,
    hint: &ReplyHint,
    subject: &Subject,
    business: &'a Business,
    v: &Vars<'_>,
) -> (Notification<'a, Value>, bool) {
    let mut stop = false;
    let (type_name, object, quoted) = match (m.kind, hint) {
        (InboundKind::Button, ReplyHint::QuickReply(payload, text)) => {
            ("button", json!({"payload": payload, "text": text}), true)
        }
        (InboundKind::ButtonReply, ReplyHint::Buttons(buttons)) => {
            let (id, title) = pick(rng, buttons);
            (
                "interactive",
                json!({"type": "button_reply", "button_reply": {"id": id, "title": title}}),
                true,
            )
        }
        (InboundKind::ListReply, ReplyHint::List(rows)) => {
            let (id, title, description) = pick(rng, rows);
            (
                "interactive",
                json!({"type": "list_reply", "list_reply": {
                    "id": id, "title": title, "description": description,
                }}),
                true,
            )
        }
        (InboundKind::Image, _) => {
            let media_id = ids::numeric_id(rng, 16);
            let mut image = json!({
                "caption": fill(pick(rng, IMAGE_CAPTIONS), v),
                "mime_type": "image/jpeg",
                "sha256": ids::sha256_b64(rng),
                "id": media_id,
            });
            if rng.gen_bool(0.3) {
                let ext: u64 = rng.gen_range(1_000_000_000..9_999_999_999);
                image["url"] = format!(
                    "https://lookaside.fbsbx.com/whatsapp_business/attachments/\
                     ?mid={media_id}&source=webhook&ext={ext}"
                )
                .into();
            }
            ("image", image, false)
        }
        (InboundKind::Location, _) => {
            let (_, _, lat, long) = pick(rng, STORES);
            let (dlat, dlong): (f64, f64) =
                (rng.gen_range(-0.05..0.05), rng.gen_range(-0.05..0.05));
            let mut location = json!({"latitude": lat + dlat, "longitude": long + dlong});
            if rng.gen_bool(0.5) {
                location["name"] = "Home".into();
                location["address"] = (pick(rng, STREETS)).into();
            }
            ("location", location, false)
        }
        (InboundKind::Reaction, _) => (
            "reaction",
            json!({"message_id": m.replied_to, "emoji": pick(rng, EMOJI)}),
            false,
        ),
        (InboundKind::Voice, _) => {
            let voice = json!({
                "mime_type": "audio/ogg; codecs=opus",
                "sha256": ids::sha256_b64(rng),
                "id": ids::numeric_id(rng, 16),
                "voice": true,
            });
            ("audio", voice, false)
        }
        _ => {
            let body = fill(pick(rng, INBOUND_TEXTS), v);
            stop = body == "STOP";
            ("text", json!({"body": body}), rng.gen_bool(0.3))
        }
    };
    let mut msg = json!({
        "from": subject.wa_id,
        "id": m.wamid,
        "timestamp": m.timestamp.to_string(),
        "type": type_name,
    });
    msg[type_name] = object;
    if quoted {
        msg["context"] = json!({"from": business.display, "id": m.replied_to});
    }
    let value = json!({
        "messaging_product": "whatsapp",
        "metadata": metadata(business),
        "contacts": [contact(subject)],
        "messages": [msg],
    });
    (notification(business, "messages", value), stop)
}

/// A `user_preferences` notification: the customer stopped or resumed marketing messages.
pub fn preference<'a>(
    business: &'a Business,
    subject: &Subject,
    stop: bool,
    timestamp: i64,
) -> Notification<'a, Value> {
    let (value, detail) = if stop {
        ("stop", "User requested to stop marketing messages")
    } else {
        ("resume", "User requested to resume marketing messages")
    };
    // Unlike other webhooks, `user_preferences` carries its timestamp as an integer.
    let pref = json!({
        "wa_id": subject.wa_id,
        "detail": detail,
        "category": "marketing_messages",
        "value": value,
        "timestamp": timestamp,
    });
    let value = json!({
        "messaging_product": "whatsapp",
        "metadata": metadata(business),
        "contacts": [contact(subject)],
        "user_preferences": [pref],
    });
    notification(business, "user_preferences", value)
}
