//! Parsers never panic, whatever arrives: random JSON shaped like Cloud API payloads (keys drawn
//! from the real vocabulary, values of every type) goes through envelope parsing and extraction;
//! random text goes through the phone-number normaliser, which also must agree with itself on
//! every written form of one number.

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use waledger::domain::PhoneNumber;
use waledger::ingest::{extract, Envelope};

const KEYS: &[&str] = &[
    "object",
    "entry",
    "changes",
    "value",
    "field",
    "statuses",
    "messages",
    "contacts",
    "errors",
    "metadata",
    "id",
    "from",
    "to",
    "type",
    "text",
    "body",
    "image",
    "video",
    "audio",
    "sticker",
    "document",
    "interactive",
    "template",
    "components",
    "parameters",
    "wa_id",
    "input",
    "recipient_id",
    "recipient_type",
    "timestamp",
    "status",
    "pricing",
    "conversation",
    "user_preferences",
    "message_echoes",
    "system",
    "reaction",
    "context",
    "button",
    "list_reply",
    "button_reply",
    "nfm_reply",
    "header",
    "footer",
    "action",
    "sections",
    "rows",
    "buttons",
    "reply",
    "title",
    "location",
    "name",
    "language",
    "code",
    "caption",
    "filename",
    "link",
    "url",
    "profile",
    "user_id",
    "phone_number_id",
    "message_id",
    "emoji",
    "currency",
    "date_time",
    "fallback_value",
    "payload",
    "order",
    "product_items",
    "referral",
    "revoke",
    "error",
    "error_data",
    "details",
    "biz_opaque_callback_data",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "[+0-9 ()-]{0,20}".prop_map(Value::String),
        ".{0,12}".prop_map(Value::String),
        prop::sample::select(KEYS).prop_map(|k| Value::String(k.to_string())),
    ]
}

fn payload_like() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(6, 96, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|pairs| {
                Value::Object(
                    pairs
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn webhook_extraction_never_panics(entry in payload_like()) {
        let line = json!({"kind": "webhook", "received_at": "2026-11-01T10:00:00Z",
                          "payload": {"object": "whatsapp_business_account", "entry": entry}});
        if let Ok(envelope) = Envelope::from_value(line, None) {
            let _ = extract(&envelope);
        }
    }

    #[test]
    fn send_extraction_never_panics(request in payload_like(), response in payload_like()) {
        let line = json!({"kind": "send", "sent_at": "2026-11-01T10:00:00Z", "phone_number_id": "1",
                          "request": request, "response": response});
        if let Ok(envelope) = Envelope::from_value(line, None) {
            let _ = extract(&envelope);
        }
    }

    #[test]
    fn envelope_refusals_never_echo_the_line(line in ".{0,200}") {
        if let Err(e) = Envelope::parse(&line, None) {
            let digits: String = line.chars().filter(char::is_ascii_digit).collect();
            prop_assert!(digits.len() < 6 || !e.0.contains(&digits), "{}", e.0);
        }
    }

    #[test]
    fn phone_parsing_never_panics(text in ".{0,40}") {
        let _ = PhoneNumber::parse(&text);
        let _ = PhoneNumber::from_wire(&text);
    }

    #[test]
    fn every_written_form_of_a_uk_mobile_is_one_number(tail in 0u32..1000) {
        let e164 = format!("+447700900{tail:03}");
        let forms = [
            e164.clone(),
            e164[1..].to_string(),
            format!("+44 7700 900{tail:03}"),
            format!("+44 (7700) 900-{tail:03}"),
            format!("44-7700-900-{tail:03}"),
        ];
        for form in forms {
            let parsed = PhoneNumber::parse(&form).unwrap();
            prop_assert_eq!(parsed.expose_e164(), e164.as_str());
        }
    }
}
