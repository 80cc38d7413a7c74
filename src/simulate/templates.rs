//! The simulated template catalogue and the `template` objects of template sends: positional and
//! named parameters, image/video/document/location/text headers, currency and date_time
//! parameters, quick-reply, url and copy_code buttons. Each template knows its pricing category and
//! the quick-reply button (if any) a customer can tap, which the inbound builder echoes back.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde_json::{json, Value};

use super::ids;
use super::subjects::Subject;
use super::webhooks::Category;
use super::words::{pick, Vars, COUPONS, PRODUCTS, STORES, TIME_SLOTS};

/// What a customer can tap on a sent message, for the reply they may send.
#[derive(Debug, Clone, Default)]
pub enum ReplyHint {
    #[default]
    None,
    /// A template quick-reply button: payload and button text.
    QuickReply(&'static str, &'static str),
    /// Interactive reply buttons: (id, title).
    Buttons(&'static [(&'static str, &'static str)]),
    /// Interactive list rows: (id, title, description).
    List(Vec<(&'static str, &'static str, &'static str)>),
}

/// A built `template` object.
pub struct Template {
    pub body: Value,
    pub name: &'static str,
    pub category: Category,
    pub reply: ReplyHint,
}

const NAMES: &[(&str, Category)] = &[
    ("order_update_v1", Category::Utility),
    ("spring_sale_2026", Category::Marketing),
    ("invoice_ready", Category::Utility),
    ("store_location_update", Category::Utility),
    ("welcome_v2", Category::Marketing),
    ("delivery_reminder", Category::Utility),
    ("abandoned_cart_v3", Category::Marketing),
    ("login_code", Category::Authentication),
    ("appointment_reminder", Category::Utility),
    ("loyalty_points", Category::Marketing),
    ("back_in_stock", Category::Marketing),
];

fn text(t: impl Into<String>) -> Value {
    json!({"type": "text", "text": t.into()})
}

fn named(name: &str, t: impl Into<String>) -> Value {
    json!({"type": "text", "parameter_name": name, "text": t.into()})
}

fn currency<R: Rng>(rng: &mut R, code: &str) -> Value {
    let scale: u64 = match code {
        "BRL" | "MXN" | "ZAR" => 12,
        "INR" => 80,
        "NGN" => 1500,
        "IDR" => 15_000,
        _ => 1,
    };
    let cents = rng.gen_range(499..29_999u64) * scale;
    json!({"type": "currency", "currency": {
        "fallback_value": format!("{code} {}.{:02}", cents / 100, cents % 100),
        "code": code,
        "amount_1000": cents * 10,
    }})
}

fn date_time<R: Rng>(rng: &mut R, at: DateTime<Utc>) -> Value {
    let day = at + Duration::days(rng.gen_range(1..14));
    let fallback = day.format("%B %-d, %Y").to_string();
    json!({"type": "date_time", "date_time": {"fallback_value": fallback}})
}

fn media_header<R: Rng>(rng: &mut R, kind: &str, slug: &str, file: &str) -> Value {
    let source = if rng.gen_bool(0.5) {
        json!({"link": format!("https://media.{slug}.example.com/campaigns/{file}")})
    } else {
        json!({"id": ids::numeric_id(rng, 16)})
    };
    json!({"type": "header", "parameters": [{"type": kind, kind: source}]})
}

fn button(sub_type: &str, index: u8, parameter: Value) -> Value {
    json!({
        "type": "button",
        "sub_type": sub_type,
        "index": index.to_string(),
        "parameters": [parameter],
    })
}

fn quick_reply(index: u8, payload: &str) -> Value {
    button(
        "quick_reply",
        index,
        json!({"type": "payload", "payload": payload}),
    )
}

fn body(parameters: Vec<Value>) -> Value {
    json!({"type": "body", "parameters": parameters})
}

/// Builds one template send's `template` object for `subject`.
pub fn build<R: Rng>(
    rng: &mut R,
    v: &Vars<'_>,
    subject: &Subject,
    slug: &str,
    at: DateTime<Utc>,
) -> Template {
    let (name, category) = pick(rng, NAMES);
    let code = subject.country.currency;
    let first = v.first;
    let mut reply = ReplyHint::None;
    let components: Vec<Value> = match name {
        "order_update_v1" => {
            reply = ReplyHint::QuickReply("TRACK_ORDER", "Track my order");
            vec![
                media_header(rng, "image", slug, "order-banner.jpg"),
                body(vec![text(first), currency(rng, code), date_time(rng, at)]),
                quick_reply(0, "TRACK_ORDER"),
                button("url", 1, text(v.order.clone())),
            ]
        }
        "spring_sale_2026" => {
            reply = ReplyHint::QuickReply("STOP_PROMOS", "Stop promotions");
            let coupon = pick(rng, COUPONS);
            vec![
                media_header(rng, "image", slug, "spring-sale.jpg"),
                body(vec![
                    named("first_name", first),
                    named("discount", format!("{}%", rng.gen_range(1..9) * 5)),
                    named("coupon_code", coupon),
                ]),
                button(
                    "copy_code",
                    0,
                    json!({"type": "coupon_code", "coupon_code": coupon}),
                ),
                quick_reply(1, "STOP_PROMOS"),
            ]
        }
        "invoice_ready" => {
            let number = format!("INV-{}", rng.gen_range(100_000..999_999));
            let file = json!({"type": "document", "document": {
                "link": format!("https://billing.{slug}.example.com/invoices/{number}.pdf"),
                "filename": format!("invoice-{number}.pdf"),
            }});
            vec![
                json!({"type": "header", "parameters": [file]}),
                body(vec![text(number), currency(rng, code)]),
            ]
        }
        "store_location_update" => {
            let (store, address, lat, long) = pick(rng, STORES);
            let location = json!({"type": "location", "location": {
                "latitude": format!("{lat:.6}"),
                "longitude": format!("{long:.6}"),
                "name": store,
                "address": address,
            }});
            vec![
                json!({"type": "header", "parameters": [location]}),
                body(vec![text(first)]),
            ]
        }
        "welcome_v2" => {
            vec![body(vec![
                named("first_name", first),
                named("order_id", v.order.clone()),
            ])]
        }
        "delivery_reminder" => {
            reply = ReplyHint::QuickReply("RESCHEDULE", "Reschedule");
            vec![
                body(vec![
                    text(first),
                    date_time(rng, at),
                    text(pick(rng, TIME_SLOTS)),
                ]),
                button(
                    "url",
                    0,
                    text(format!("TRK{}", rng.gen_range(10_000_000..99_999_999))),
                ),
                quick_reply(1, "RESCHEDULE"),
            ]
        }
        "abandoned_cart_v3" => {
            reply = ReplyHint::QuickReply("NOT_INTERESTED", "Not interested");
            vec![
                media_header(rng, "image", slug, "cart-reminder.png"),
                body(vec![
                    text(first),
                    text(pick(rng, PRODUCTS)),
                    currency(rng, code),
                ]),
                button(
                    "url",
                    0,
                    text(format!("cart/{}", rng.gen_range(100_000..999_999))),
                ),
                quick_reply(1, "NOT_INTERESTED"),
            ]
        }
        "login_code" => {
            let otp = format!("{:06}", rng.gen_range(0..1_000_000));
            vec![body(vec![text(otp.clone())]), button("url", 0, text(otp))]
        }
        "appointment_reminder" => {
            reply = ReplyHint::QuickReply("CONFIRM", "Confirm");
            let (store, ..) = pick(rng, STORES);
            vec![
                body(vec![
                    named("first_name", first),
                    named(
                        "appointment_date",
                        format!("{}", (at + Duration::days(2)).format("%A %-d %B")),
                    ),
                    named("store_name", store),
                ]),
                quick_reply(0, "CONFIRM"),
                quick_reply(1, "RESCHEDULE"),
            ]
        }
        "loyalty_points" => {
            vec![
                json!({"type": "header", "parameters": [named("first_name", first)]}),
                body(vec![
                    named("points", rng.gen_range(50..5000).to_string()),
                    named(
                        "expiry_date",
                        format!("{}", (at + Duration::days(90)).format("%-d %B %Y")),
                    ),
                ]),
            ]
        }
        _ => {
            reply = ReplyHint::QuickReply("STOP_PROMOS", "Stop promotions");
            vec![
                media_header(rng, "video", slug, "back-in-stock.mp4"),
                body(vec![text(first), text(pick(rng, PRODUCTS))]),
                quick_reply(0, "STOP_PROMOS"),
            ]
        }
    };
    let language = if rng.gen_bool(0.4) {
        json!({"policy": "deterministic", "code": subject.country.lang})
    } else {
        json!({"code": subject.country.lang})
    };
    Template {
        body: json!({"name": name, "language": language, "components": components}),
        name,
        category,
        reply,
    }
}
