//! Send requests and their answers: the body of `POST /{phone_number_id}/messages` for every
//! message type the simulator produces (template, text, media, document, interactive
//! button/list/cta_url, location, contacts, reaction, contextual reply) and the Cloud API's
//! success response (`contacts[].input`/`wa_id`, `messages[].id`, pacing `message_status`).
//! Error answers are in `errors`; which subject and when are decided by the caller.

use rand::Rng;
use serde_json::{json, Value};

use super::ids;
use super::templates::{self, ReplyHint};
use super::webhooks::Category;
use super::words::{fill, pick, Vars, BUTTON_SETS, CAPTIONS, LIST_ROWS, OUTBOUND_TEXTS, STORES};
use super::{subjects::Subject, Business};

/// The kinds of send, with their share of traffic (per mille).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SendKind {
    Template,
    Text,
    Image,
    Video,
    Audio,
    Sticker,
    Document,
    Buttons,
    List,
    CtaUrl,
    Location,
    Contacts,
    Reaction,
    ContextReply,
}

const MIX: &[(SendKind, u32)] = &[
    (SendKind::Template, 520),
    (SendKind::Text, 110),
    (SendKind::Image, 50),
    (SendKind::Video, 20),
    (SendKind::Audio, 20),
    (SendKind::Sticker, 15),
    (SendKind::Document, 35),
    (SendKind::Buttons, 40),
    (SendKind::List, 30),
    (SendKind::CtaUrl, 30),
    (SendKind::Location, 20),
    (SendKind::Contacts, 15),
    (SendKind::Reaction, 30),
    (SendKind::ContextReply, 65),
];

impl SendKind {
    pub fn choose<R: Rng>(rng: &mut R) -> Self {
        let mut ticket = rng.gen_range(0..1000);
        for &(kind, share) in MIX {
            if ticket < share {
                return kind;
            }
            ticket -= share;
        }
        SendKind::Text
    }

    /// Reactions and contextual replies point at a message the customer sent earlier.
    pub fn needs_inbound(self) -> bool {
        matches!(self, SendKind::Reaction | SendKind::ContextReply)
    }
}

/// A built request with what the rest of the message's life depends on.
pub struct Built {
    pub request: Value,
    pub category: Category,
    pub reply: ReplyHint,
    /// Template name and language code.
    pub template: Option<(&'static str, &'static str)>,
    pub media_link: Option<String>,
    pub opaque: Option<String>,
}

fn media<R: Rng>(rng: &mut R, slug: &str, file: &str) -> (Value, Option<String>) {
    if rng.gen_bool(0.5) {
        let link = format!("https://media.{slug}.example.com/wa/{file}");
        (json!({"link": link}), Some(link))
    } else {
        (json!({"id": ids::numeric_id(rng, 16)}), None)
    }
}

fn interactive<R: Rng>(rng: &mut R, kind: SendKind, v: &Vars<'_>) -> (Value, ReplyHint) {
    match kind {
        SendKind::Buttons => {
            let buttons = pick(rng, BUTTON_SETS);
            let action: Vec<Value> = buttons
                .iter()
                .map(|(id, title)| json!({"type": "reply", "reply": {"id": id, "title": title}}))
                .collect();
            let body = format!(
                "Hi {}! Your delivery of order {} is scheduled for tomorrow. Use the buttons if \
                 you need to change it.",
                v.first, v.order
            );
            let i = json!({
                "type": "button",
                "header": {"type": "text", "text": "Delivery"},
                "body": {"text": body},
                "footer": {"text": v.brand},
                "action": {"buttons": action},
            });
            (i, ReplyHint::Buttons(buttons))
        }
        SendKind::List => {
            let start = rng.gen_range(0..LIST_ROWS.len() - 1);
            let rows: Vec<_> = LIST_ROWS[start..].iter().copied().take(3).collect();
            let json_rows: Vec<Value> = rows
                .iter()
                .map(|(id, t, d)| json!({"id": id, "title": t, "description": d}))
                .collect();
            let body = format!(
                "{}, which delivery option do you prefer for {}?",
                v.first, v.product
            );
            let i = json!({
                "type": "list",
                "body": {"text": body},
                "action": {
                    "button": "Delivery options",
                    "sections": [{"title": "Choose one", "rows": json_rows}],
                },
            });
            (i, ReplyHint::List(rows))
        }
        _ => {
            let click: u64 = rng.gen();
            let url = format!("{}?clickID={click:016x}", v.url);
            let i = json!({
                "type": "cta_url",
                "body": {"text": format!("Tap below to see your order {}.", v.order)},
                "footer": {"text": v.brand},
                "action": {
                    "name": "cta_url",
                    "parameters": {"display_text": "See order", "url": url},
                },
            });
            (i, ReplyHint::None)
        }
    }
}

/// Builds the request body of one send. `context` is the customer's message a reaction or
/// contextual reply points at.
#[allow(clippy::too_many_arguments)]
pub fn build<R: Rng>(
    rng: &mut R,
    kind: SendKind,
    to: &str,
    subject: &Subject,
    business: &Business,
    v: &Vars<'_>,
    at: chrono::DateTime<chrono::Utc>,
    context: Option<&str>,
) -> Built {
    let slug = business.slug;
    let mut built = Built {
        request: Value::Null,
        category: Category::Service,
        reply: ReplyHint::None,
        template: None,
        media_link: None,
        opaque: None,
    };
    let caption = |rng: &mut R| fill(pick(rng, CAPTIONS), v);
    let (type_name, object): (&str, Value) = match kind {
        SendKind::Template => {
            let t = templates::build(rng, v, subject, slug, at);
            built.category = t.category;
            built.reply = t.reply;
            built.template = Some((t.name, subject.country.lang));
            if rng.gen_bool(0.3) {
                built.opaque = Some(format!("dd-campaign-{}", rng.gen_range(1000..9999)));
            }
            ("template", t.body)
        }
        SendKind::Text | SendKind::ContextReply => {
            let body = fill(pick(rng, OUTBOUND_TEXTS), v);
            let preview = body.contains("https://");
            (
                "text",
                if preview {
                    json!({"preview_url": true, "body": body})
                } else {
                    json!({"body": body})
                },
            )
        }
        SendKind::Image | SendKind::Video => {
            let (name, file) = if kind == SendKind::Image {
                ("image", "product-photo.jpg")
            } else {
                ("video", "how-to-repot.mp4")
            };
            let (mut m, link) = media(rng, slug, file);
            let c = caption(rng);
            if !c.is_empty() {
                m["caption"] = c.into();
            }
            built.media_link = link;
            (name, m)
        }
        SendKind::Audio | SendKind::Sticker => {
            let (name, file) = if kind == SendKind::Audio {
                ("audio", "order-update.ogg")
            } else {
                ("sticker", "thank-you.webp")
            };
            let (m, link) = media(rng, slug, file);
            built.media_link = link;
            (name, m)
        }
        SendKind::Document => {
            let filename = match rng.gen_range(0..3) {
                0 => format!("invoice-{}.pdf", v.order),
                1 => format!(
                    "{}-{}-receipt.pdf",
                    subject.first.to_lowercase(),
                    subject.last.to_lowercase().replace(' ', "-")
                ),
                _ => "care-guide.pdf".to_string(),
            };
            let (mut m, link) = media(rng, slug, &filename);
            m["filename"] = filename.into();
            m["caption"] = format!("Your documents for order {}", v.order).into();
            built.media_link = link;
            ("document", m)
        }
        SendKind::Buttons | SendKind::List | SendKind::CtaUrl => {
            let (i, reply) = interactive(rng, kind, v);
            built.reply = reply;
            ("interactive", i)
        }
        SendKind::Location => {
            let (name, address, lat, long) = pick(rng, STORES);
            (
                "location",
                json!({"latitude": lat, "longitude": long, "name": name, "address": address}),
            )
        }
        SendKind::Contacts => {
            let card = json!([{
                "name": {
                    "formatted_name": format!("{} Customer Care", v.brand),
                    "first_name": "Customer Care",
                    "last_name": v.brand,
                },
                "phones": [{
                    "phone": format!("+{}", business.display),
                    "type": "WORK",
                    "wa_id": business.display,
                }],
                "emails": [{"email": format!("support@{slug}.example.com"), "type": "WORK"}],
                "org": {"company": v.brand, "department": "Customer Care"},
                "urls": [{"url": format!("https://www.{slug}.example.com"), "type": "WORK"}],
            }]);
            ("contacts", card)
        }
        SendKind::Reaction => {
            let emoji = pick(rng, super::words::EMOJI);
            (
                "reaction",
                json!({"message_id": context.unwrap_or_default(), "emoji": emoji}),
            )
        }
    };
    let mut request = json!({"messaging_product": "whatsapp", "to": to, "type": type_name});
    request[type_name] = object;
    if rng.gen_bool(0.7) {
        request["recipient_type"] = "individual".into();
    }
    if let (SendKind::ContextReply, Some(id)) = (kind, context) {
        request["context"] = json!({"message_id": id});
    }
    if let Some(opaque) = &built.opaque {
        request["biz_opaque_callback_data"] = opaque.as_str().into();
    }
    built.request = request;
    built
}

/// The Cloud API's answer to an accepted send.
pub fn success_response(to: &str, wa_id: &str, wamid: &str, message_status: Option<&str>) -> Value {
    let mut message = json!({"id": wamid});
    if let Some(status) = message_status {
        message["message_status"] = status.into();
    }
    json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": wa_id}],
        "messages": [message],
    })
}
