//! Status webhooks: the `whatsapp_business_account` notification frame and the `statuses[]`
//! objects Meta posts after a send (sent, delivered, read, failed), with `pricing` in the v24 PMP
//! shape or, for some messages, the older CBP shape with a `conversation` object. These are the
//! bulk of the output, so they are serde structs borrowing their strings (no JSON tree per line);
//! when statuses happen is decided by the caller.

use rand::Rng;
use serde::Serialize;
use serde_json::Value;

use super::ids;
use super::subjects::Subject;
use super::Business;

/// The pricing category of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Marketing,
    Utility,
    Authentication,
    Service,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Marketing => "marketing",
            Category::Utility => "utility",
            Category::Authentication => "authentication",
            Category::Service => "service",
        }
    }
}

/// How one message is billed, fixed when it is sent and repeated on each of its statuses.
pub struct Pricing {
    pub category: Category,
    pub billable: bool,
    /// PMP `type`: `regular`, `free_customer_service` or `free_entry_point`.
    pub kind: &'static str,
    /// `Some(conversation id)` for the pre-v24 shape (CBP pricing and a `conversation` object).
    pub conversation: Option<String>,
}

impl Pricing {
    /// Free-form messages inside the customer service window are free; templates are billed,
    /// except utility templates sent inside an open window.
    pub fn choose<R: Rng>(rng: &mut R, category: Category, in_window: bool) -> Self {
        let (billable, kind) = match category {
            Category::Service if rng.gen_bool(0.05) => (false, "free_entry_point"),
            Category::Service => (false, "free_customer_service"),
            Category::Utility if in_window => (false, "free_customer_service"),
            _ => (true, "regular"),
        };
        let conversation = rng.gen_bool(0.15).then(|| ids::conversation_id(rng));
        Pricing {
            category,
            billable,
            kind,
            conversation,
        }
    }

    fn wire(&self) -> PricingWire {
        PricingWire {
            billable: self.billable,
            pricing_model: if self.conversation.is_some() {
                "CBP"
            } else {
                "PMP"
            },
            kind: self.conversation.is_none().then_some(self.kind),
            category: self.category.as_str(),
        }
    }
}

/// One `statuses[]` object, in the field order of Meta's reference.
#[derive(Serialize)]
pub struct Status<'a> {
    pub id: &'a str,
    pub status: &'static str,
    pub timestamp: String,
    pub recipient_id: &'a str,
    #[serde(
        rename = "biz_opaque_callback_data",
        skip_serializing_if = "Option::is_none"
    )]
    pub biz_opaque: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    conversation: Option<Conversation<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pricing: Option<PricingWire>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<[Value; 1]>,
}

#[derive(Serialize)]
struct Conversation<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration_timestamp: Option<String>,
    origin: Origin,
}

#[derive(Serialize)]
struct Origin {
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct PricingWire {
    billable: bool,
    pricing_model: &'static str,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    category: &'static str,
}

impl<'a> Status<'a> {
    /// A status of message `id`; `pricing` is repeated on sent, delivered and read.
    pub fn new(
        id: &'a str,
        status: &'static str,
        at: i64,
        recipient_id: &'a str,
        pricing: Option<&'a Pricing>,
    ) -> Self {
        let conversation = pricing.and_then(|p| {
            p.conversation.as_deref().map(|cid| Conversation {
                id: cid,
                // Conversations lasted 24 hours from the first message; only `sent` says so.
                expiration_timestamp: (status == "sent").then(|| (at + 86_400).to_string()),
                origin: Origin {
                    kind: p.category.as_str(),
                },
            })
        });
        Status {
            id,
            status,
            timestamp: at.to_string(),
            recipient_id,
            biz_opaque: None,
            conversation,
            pricing: pricing.map(Pricing::wire),
            errors: None,
        }
    }
}

/// `metadata`: which business number the notification is about.
#[derive(Serialize)]
pub struct Metadata<'a> {
    display_phone_number: &'a str,
    phone_number_id: &'a str,
}

pub fn metadata(business: &Business) -> Metadata<'_> {
    Metadata {
        display_phone_number: &business.display,
        phone_number_id: &business.phone_number_id,
    }
}

/// The `contacts[]` entry of an inbound message (and, since 2026, of some status webhooks).
#[derive(Serialize)]
pub struct Contact<'a> {
    profile: Profile<'a>,
    wa_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_user_id: Option<&'a str>,
}

#[derive(Serialize)]
struct Profile<'a> {
    name: &'a str,
}

pub fn contact(subject: &Subject) -> Contact<'_> {
    Contact {
        profile: Profile {
            name: &subject.profile_name,
        },
        wa_id: &subject.wa_id,
        user_id: subject.user_id.as_deref(),
        parent_user_id: subject.parent_user_id.as_deref(),
    }
}

/// The notification frame around one change `value`: `{"object":"whatsapp_business_account",
/// "entry":[{"id":WABA,"changes":[{"value":…,"field":…}]}]}`.
#[derive(Serialize)]
pub struct Notification<'a, V: Serialize> {
    object: &'static str,
    entry: [Entry<'a, V>; 1],
}

#[derive(Serialize)]
struct Entry<'a, V: Serialize> {
    id: &'a str,
    changes: [Change<V>; 1],
}

#[derive(Serialize)]
struct Change<V: Serialize> {
    value: V,
    field: &'static str,
}

pub fn notification<'a, V: Serialize>(
    business: &'a Business,
    field: &'static str,
    value: V,
) -> Notification<'a, V> {
    Notification {
        object: "whatsapp_business_account",
        entry: [Entry {
            id: &business.waba_id,
            changes: [Change { value, field }],
        }],
    }
}

/// The `value` of a `messages` change that carries `statuses` (and sometimes the recipient's
/// `contacts`).
#[derive(Serialize)]
pub struct StatusesValue<'a> {
    messaging_product: &'static str,
    metadata: Metadata<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    contacts: Option<[Contact<'a>; 1]>,
    statuses: Vec<Status<'a>>,
}

pub fn statuses_payload<'a>(
    business: &'a Business,
    statuses: Vec<Status<'a>>,
    contact_of: Option<&'a Subject>,
) -> Notification<'a, StatusesValue<'a>> {
    let value = StatusesValue {
        messaging_product: "whatsapp",
        metadata: metadata(business),
        contacts: contact_of.map(|s| [contact(s)]),
        statuses,
    };
    notification(business, "messages", value)
}
