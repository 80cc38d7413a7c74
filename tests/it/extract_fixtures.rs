//! Every WhatsApp fixture in `tests/fixtures/whatsapp` (a copy of `shared/fixtures/whatsapp`) goes through `extract`: request files in a
//! send envelope (answered by `send_response.json`), response files as the answer to
//! `send_text_request.json`, everything else as a webhook. Each file must extract without error
//! and yield the (kind, value) pairs listed for it; a fixture without a row here fails the test.

use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use waledger::domain::{Direction, FieldKind, FieldValue};
use waledger::ingest::{extract, Envelope, Extracted};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/whatsapp");
const AT: &str = "2026-11-01T10:00:00Z";
const PHONE_ID: &str = "106540352242922";
const UK: &str = "+447700900123";
const US: &str = "+16505551234";
const SENT_ID: &str = "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA";
const QUOTED_ID: &str = "wamid.HBgLMTY0NjcwNDM1OTUVAgASGBQzQTdCNTg5RjY1MEMyRjlGMjRGNgA=";
const STATUS_ID: &str = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA";
const PYWA_USER: &str = "972987654321";
const PYWA_PHONE_ID: &str = "1122334455667";

type Pairs = &'static [(&'static str, &'static str)];

/// What every send with `send_response.json` as its answer carries.
const SENT: Pairs = &[
    ("originator_phone_id", PHONE_ID),
    ("recipient_phone", "+16505551234"),
    ("recipient_phone", "16505551234"),
    ("message_id", SENT_ID),
];
/// A send to the UK number.
const TO_UK: Pairs = &[("recipient_phone", UK)];
const TEXT_BODY: &str =
    "As requested, here is the link to our latest product: https://www.meta.com/quest/quest-3/";
/// `send_text_request.json` without its originator: the request of the response-only fixtures.
const TEXT_CONTENT: Pairs = &[("recipient_phone", US), ("message_text", TEXT_BODY)];
/// `send_text_request.json`, the request of every response-only fixture.
const TEXT: Pairs = &[
    ("originator_phone_id", PHONE_ID),
    ("recipient_phone", US),
    ("message_text", TEXT_BODY),
];
/// The `value.contacts[0]` of most pywa fixtures.
const PYWA_CONTACT: Pairs = &[
    ("profile_name", "Test Name"),
    ("user_id", "US.13491208655302741918"),
    ("user_id", "US.ENT.11815799212886844830"),
];
/// An inbound pywa message from the usual user (plus its contact as sender).
const PYWA_IN: Pairs = &[
    ("sender_phone", PYWA_USER),
    ("sender_phone", PYWA_USER),
    ("originator_phone_id", PYWA_PHONE_ID),
];
/// A pywa status to the usual user (plus its contact as recipient).
const PYWA_STATUS: Pairs = &[
    ("message_id", "wamid.xyzxyz"),
    ("recipient_phone", PYWA_USER),
    ("recipient_phone", PYWA_USER),
    ("originator_phone_id", PYWA_PHONE_ID),
];
const CBP_PRICING: Pairs = &[(
    "pricing",
    r#"{"billable":true,"category":"service","pricing_model":"CBP"}"#,
)];
const CONVERSATION: &str = r#"{"id":"7270432eae37498234f4444b35ffc5","origin":{"type":"service"}}"#;
const CONVERSATION_EXPIRING: &str = r#"{"expiration_timestamp":"1698339900","id":"7270432eae37498234f4444b35ffc5","origin":{"type":"service"}}"#;

/// File (relative to the fixtures folder) → the pairs it must yield (a multiset: a pair listed
/// twice must be extracted at least twice).
const EXPECTED: &[(&str, &[Pairs])] = &[
    ("send_audio_request.json", &[SENT, TO_UK, &[("media", "https://example.com/clip.ogg")]]),
    ("send_contacts_request.json", &[SENT, TO_UK, &[(
        "contact_card",
        r#"{"addresses":[{"city":"Menlo Park","country":"United States","country_code":"US","state":"CA","street":"1 Lucky Shrub Way","type":"WORK","zip":"94025"}],"birthday":"1999-01-23","emails":[{"email":"bjohnson@example.com","type":"WORK"}],"name":{"first_name":"Barbara","formatted_name":"Barbara J. Johnson","last_name":"Johnson"},"org":{"company":"Lucky Shrub","department":"Legal","title":"Lead Counsel"},"phones":[{"phone":"+1 (940) 555-1234","type":"HOME"},{"phone":"+1 (650) 555-1234","type":"WORK","wa_id":"16505551234"}],"urls":[{"type":"WORK","url":"https://www.example.com"}]}"#,
    )]]),
    ("send_document_request.json", &[SENT, TO_UK, &[
        ("attachment", "1037543291543636"),
        ("attachment", "lucky-shrub-invoice.pdf"),
        ("message_text", "Your invoice"),
    ]]),
    ("send_error_response.json", &[TEXT, &[
        ("message_status", "failed"),
        ("error_detail", r#"{"code":131030,"error_data":{"details":"Recipient phone number not in allowed list: Add recipient phone number to recipient list and try again.","messaging_product":"whatsapp"},"fbtrace_id":"AqX4bq3XmQ0nN8m7K1ZfK3c","message":"(#131030) Recipient phone number not in allowed list","type":"OAuthException"}"#),
    ]]),
    ("send_image_request.json", &[SENT, TO_UK, &[
        ("media", "https://example.com/succulent.jpg"),
        ("message_text", "The best succulent ever?"),
    ]]),
    ("send_interactive_button_request.json", &[SENT, TO_UK, &[
        ("message_text", "Workshop"),
        ("message_text", "Hi Pablo! Your gardening workshop is scheduled for 9am tomorrow. Use the buttons if you need to reschedule."),
        ("message_text", "Lucky Shrub"),
        ("message_text", "Change"),
        ("message_text", "Cancel"),
    ]]),
    ("send_interactive_cta_url_request.json", &[SENT, TO_UK, &[
        ("message_text", "Tap the button below to see available dates."),
        ("message_text", "See Dates"),
        ("message_text", "https://www.example.com?clickID=kqDGWd24Q5TRwoEQTICY7W1JKoXvaZOXWAS7h1P76s0R7Paec4"),
    ]]),
    ("send_interactive_list_request.json", &[SENT, TO_UK, &[
        ("message_text", "Which shipping option do you prefer?"),
        ("message_text", "Shipping Options"),
        ("message_text", "I want it ASAP!"),
        ("message_text", "Priority Mail Express"),
        ("message_text", "Next Day to 2 Days"),
    ]]),
    ("send_location_request.json", &[SENT, TO_UK, &[(
        "location",
        r#"{"address":"101 Forest Ave, Palo Alto, CA 94301","latitude":37.44216251868683,"longitude":-122.16153582049394,"name":"Philz Coffee"}"#,
    )]]),
    ("send_mark_as_read_request.json", &[&[
        ("originator_phone_id", PHONE_ID),
        ("message_id", QUOTED_ID),
        ("message_status", "read"),
    ]]),
    ("send_reaction_request.json", &[SENT, TO_UK, &[("message_text", "😀"), ("message_id", QUOTED_ID)]]),
    ("send_reply_with_context_request.json", &[SENT, &[
        ("recipient_phone", US),
        ("message_id", QUOTED_ID),
        ("message_text", "You're welcome, Pablo!"),
    ]]),
    ("send_response.json", &[SENT, TEXT_CONTENT]),
    ("send_response_brazil_wa_id_differs.json", &[TEXT, &[
        ("recipient_phone", "+55 92 98172 3241"),
        ("recipient_phone", "559281723241"),
        ("message_id", "wamid.HBgMNTU5MjgxNzIzMjQxFQIAERgSNDQ1NUY3NjdBODk5QkNEMDAA"),
    ]]),
    ("send_response_mexico_wa_id_differs.json", &[TEXT, &[
        ("recipient_phone", "+52 56 3969 1841"),
        ("recipient_phone", "5215639691841"),
        ("message_id", "wamid.HBgNNTIxNTYzOTY5MTg0MRUCABEYEjQ0NTVGNzY3QTg5OUJDRDAwAA=="),
    ]]),
    ("send_response_template_paced.json", &[TEXT, &[
        ("recipient_phone", "+447700900123"),
        ("recipient_phone", "447700900123"),
        ("message_id", "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAERgSMDhFNzkzQ0QzQUMzQTVGQjA2AA=="),
        ("message_status", "accepted"),
    ]]),
    ("send_sticker_request.json", &[SENT, TO_UK, &[("media", "798882015472548")]]),
    ("send_template_request_document_header.json", &[SENT, TO_UK, &[
        ("template_id", "invoice_ready (en_US)"),
        ("attachment", "1037543291543636"),
        ("attachment", "invoice-123.pdf"),
        ("template_field", "123"),
    ]]),
    ("send_template_request_location_header.json", &[SENT, TO_UK, &[
        ("template_id", "location_update (en_US)"),
        ("location", r#"{"address":"1 Hacker Way, Menlo Park, CA 94025","latitude":"37.483307","longitude":"122.148981","name":"Company HQ"}"#),
        ("template_field", "Alex"),
    ]]),
    ("send_template_request_named_params.json", &[SENT, TO_UK, &[
        ("template_id", "welcome_v2 (en)"),
        ("template_field", "Alex"),
        ("template_field", "A12345"),
    ]]),
    ("send_template_request_positional.json", &[SENT, TO_UK, &[
        ("template_id", "order_update_v1 (en_GB)"),
        ("media", "https://example.com/banner.jpg"),
        ("template_field", "Alex"),
        ("template_field", "GBP 10.99"),
        ("template_field", "June 1, 2026"),
        ("template_field", "STOP_PROMOS"),
        ("template_field", "A12345"),
        ("message_text", "dd-campaign-4711"),
    ]]),
    ("send_text_request.json", &[SENT, TEXT_CONTENT]),
    ("send_video_request.json", &[SENT, TO_UK, &[
        ("media", "1166846181421424"),
        ("message_text", "A succulent eclipse!"),
    ]]),
    ("webhook_batched_two_entries.json", &[&[
        ("message_id", "wamid.A1"),
        ("message_status", "read at 2025-06-18T16:23:10Z"),
        ("recipient_phone", "16505551234"),
        ("message_id", "wamid.A2"),
        ("message_status", "delivered at 2025-06-18T16:23:11Z"),
        ("recipient_phone", "447700900123"),
        ("pricing", r#"{"billable":true,"category":"utility","pricing_model":"PMP","type":"regular"}"#),
        ("message_id", "wamid.B1"),
        ("sender_phone", "16505551234"),
        ("sender_phone", "16505551234"),
        ("message_text", "STOP"),
        ("profile_name", "Sheena Nelson"),
        ("originator_phone_id", PHONE_ID),
        ("originator_phone_id", PHONE_ID),
        ("originator_phone_id", PHONE_ID),
    ]]),
    ("webhook_status_delivered_free_service_pmp.json", &[&[
        ("message_id", STATUS_ID),
        ("message_status", "delivered at 2025-06-18T16:22:55Z"),
        ("recipient_phone", "16505551234"),
        ("pricing", r#"{"billable":false,"category":"service","pricing_model":"PMP","type":"free_customer_service"}"#),
        ("originator_phone_id", PHONE_ID),
    ]]),
    ("webhook_status_failed_generic.json", &[&[
        ("message_id", STATUS_ID),
        ("message_status", "failed at 2025-06-18T16:23:00Z"),
        ("recipient_phone", "16505551234"),
        ("error_detail", r#"{"code":131026,"error_data":{"details":"Message Undeliverable."},"href":"https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/","message":"Message undeliverable","title":"Message undeliverable"}"#),
        ("originator_phone_id", PHONE_ID),
    ]]),
    ("webhook_status_sent_pmp_v24.json", &[&[
        ("message_id", STATUS_ID),
        ("message_status", "sent at 2025-06-18T16:22:53Z"),
        ("recipient_phone", "16505551234"),
        ("pricing", r#"{"billable":true,"category":"marketing","pricing_model":"PMP","type":"regular"}"#),
        ("message_text", "dd-campaign-4711"),
        ("originator_phone_id", PHONE_ID),
    ]]),
    ("signature/body.raw.json", &[&[
        ("message_id", "wamid.SIGTEST"),
        ("message_status", "read at 2025-06-18T16:23:10Z"),
        ("recipient_phone", "16505551234"),
        ("originator_phone_id", PHONE_ID),
    ]]),
    ("pywa/inbound_audio.json", &[PYWA_IN, PYWA_CONTACT, &[
        ("message_id", "wamid.xyzxyz"),
        ("media", "1234567890987654321"),
    ]]),
    ("pywa/inbound_button_button.json", &[PYWA_IN, PYWA_CONTACT, &[
        ("message_id", "wamid.xyzxyz"),
        ("message_id", "wamid.xyzxyz"),
        ("message_text", "title"),
    ]]),
    ("pywa/inbound_button_quick_reply.json", &[PYWA_IN, PYWA_CONTACT, &[
        ("message_id", "wamid.xsidjw"),
        ("message_id", "wamid.xyzxyz=="),
        ("template_field", "callback_data"),
        ("message_text", "title"),
    ]]),
    ("pywa/inbound_chosen_location.json", &[PYWA_IN, PYWA_CONTACT, &[
        ("message_id", "wamid.xyzxyz"),
        ("location", r#"{"address":"1 Hacker Way, Menlo Park, CA 94025","latitude":37.4611978,"longitude":-122.2164385,"name":"Facebook HQ","url":"https://maps.google.com/?cid=2000000000000000000"}"#),
    ]]),
    ("pywa/inbound_contacts.json", &[PYWA_IN, PYWA_CONTACT, &[
        ("message_id", "wamid.xyzxyz"),
        ("contact_card", r#"{"name":{"first_name":"Chandler","formatted_name":"Chandler Bing","last_name":"Bing"},"phones":[{"phone":"+1 555-555-5555","type":"CELL","wa_id":"972987654321"}]}"#),
        ("contact_card", r#"{"name":{"first_name":"Monica","formatted_name":"Monica"},"phones":[{"phone":"+1 666-666-6666","type":"HOME","wa_id":"972987654321"}]}"#),
        ("contact_card", r#"{"name":{"first_name":"Rachel","formatted_name":"Rachel Green","last_name":"Green"},"phones":[{"phone":"+1 777-777-7777","type":"WORK","wa_id":"972987654321"}]}"#),
    ]]),
    ("pywa/inbound_document.json", &[PYWA_IN, PYWA_CONTACT, &[
        ("message_id", "wamid.xyzxyz"),
        ("attachment", "1234567890987654321"),
        ("attachment", "filename.pdf"),
        ("message_text", "caption"),
    ]]),
    ("pywa/inbound_forwarded.json", &[PYWA_IN, PYWA_CONTACT, &[
        ("message_id", "wamid.xyzxyz"),
        ("message_text", "forwarded text"),
    ]]),
    ("pywa/inbound_image.json", &[PYWA_IN, PYWA_CONTACT, &[
        ("message_id", "wamid.xyzxyz"),
        ("media", "65463453"),
    ]]),
    ("pywa/inbound_interactive_callback.json", &[PYWA_IN, PYWA_CONTACT, &[
        ("message_id", "wamid.zyzxyz"),
        ("message_id", "wamid.xyzxyz"),
        ("message_text", "title"),
    ]]),
    ("pywa/inbound_interactive_message_with_err.json", &[PYWA_IN, PYWA_CONTACT, &[
        ("message_id", "wamid.wegrchytvwcggt="),
        ("message_id", "wamid.gvwegfretge=="),
        ("error_detail", r#"{"code":131000,"error_data":{"details":"Unsupported webhook payload"},"message":"Something went wrong","title":"Something went wrong"}"#),
    ]]),
    ("pywa/inbound_media_with_url.json", &[PYWA_IN, PYWA_CONTACT, &[
        ("message_id", "wamid.xyzxyz"),
        ("media", "65463453"),
        ("media", "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=65463453&source=webhook&ext=487r9re&hash=heiwchueowbcew-dnedcw"),
    ]]),
    ("pywa/inbound_order.json", &[PYWA_IN, PYWA_CONTACT, &[
        ("message_id", "wamid.xyzxyz"),
        ("message_text", r#"[{"currency":"ILS","item_price":30,"product_retailer_id":"HAMBURGER","quantity":3},{"currency":"ILS","item_price":35,"product_retailer_id":"FRENCH_FRIES","quantity":2},{"currency":"ILS","item_price":10,"product_retailer_id":"SODA","quantity":2}]"#),
    ]]),
    ("pywa/inbound_reaction.json", &[PYWA_IN, PYWA_CONTACT, &[
        ("message_id", "wamid.xyzxyz"),
        ("message_id", "wamid.yzxyzx="),
        ("message_text", "😮"),
    ]]),
    ("pywa/inbound_referral.json", &[PYWA_IN, PYWA_CONTACT, &[
        ("message_id", "wamid.ID"),
        ("message_text", "BODY"),
        ("message_text", r#"{"body":"AD_DESCRIPTION","ctwa_clid":"CTWA_CLID","headline":"AD_TITLE","image_url":"RAW_IMAGE_URL","media_type":"image or video","source_id":"ADID","source_type":"ad or post","source_url":"AD_OR_POST_FB_URL","thumbnail_url":"RAW_THUMBNAIL_URL","video_url":"RAW_VIDEO_URL"}"#),
    ]]),
    ("pywa/inbound_reply.json", &[PYWA_IN, PYWA_CONTACT, &[
        ("message_id", "wamid.xyzxyz"),
        ("message_id", "wamid.xyzxyz=="),
        ("message_text", "replied text"),
    ]]),
    ("pywa/inbound_revoke.json", &[PYWA_CONTACT, &[
        ("message_id", "<WHATSAPP_MESSAGE_ID>"),
        ("message_id", "<ORIGINAL_WHATSAPP_MESSAGE_ID>"),
        ("sender_phone", "<WHATSAPP_USER_PHONE_NUMBER>"),
        ("sender_phone", PYWA_USER),
        ("originator_phone_id", "<BUSINESS_PHONE_NUMBER_ID>"),
    ]]),
    ("pywa/inbound_static_sticker.json", &[PYWA_IN, PYWA_CONTACT, &[
        ("message_id", "wamid.xyzxyz"),
        ("media", "1234567890987654321"),
    ]]),
    ("pywa/inbound_text.json", &[PYWA_IN, PYWA_CONTACT, &[
        ("message_id", "wamid.xyzxyz"),
        ("message_text", "Body Text"),
    ]]),
    ("pywa/inbound_unsupported.json", &[PYWA_IN, PYWA_CONTACT, &[
        ("message_id", "wamid.xyzxyz"),
        ("error_detail", r#"{"code":131051,"error_data":{"details":"Message type is currently not supported."},"message":"Message type unknown","title":"Message type unknown"}"#),
    ]]),
    ("pywa/inbound_unsupported_with_type.json", &[PYWA_IN, PYWA_CONTACT, &[
        ("message_id", "wamid.xyzxyz"),
        ("error_detail", r#"{"code":131051,"error_data":{"details":"Message type is currently not supported."},"message":"Message type unknown","title":"Message type unknown"}"#),
        ("message_text", "pool"),
    ]]),
    ("pywa/inbound_voice.json", &[PYWA_IN, PYWA_CONTACT, &[
        ("message_id", "wamid.xyzxyz"),
        ("media", "1234567890987654321"),
    ]]),
    ("pywa/smb_echo_text.json", &[PYWA_CONTACT, &[
        ("message_id", "<WHATSAPP_MESSAGE_ID>"),
        ("recipient_phone", "<WHATSAPP_USER_PHONE_NUMBER>"),
        ("recipient_phone", PYWA_USER),
        ("user_id", "<BSUID>"),
        ("user_id", "<PARENT_BSUID>"),
        ("originator_phone_id", PYWA_PHONE_ID),
        ("message_text", "Test message"),
    ]]),
    ("pywa/status_delivered.json", &[PYWA_STATUS, PYWA_CONTACT, CBP_PRICING, &[
        ("message_status", "delivered at 2023-10-25T20:49:05Z"),
        ("pricing", CONVERSATION),
    ]]),
    ("pywa/status_failed.json", &[PYWA_STATUS, PYWA_CONTACT, &[
        ("message_status", "failed at 2023-07-15T00:20:58Z"),
        ("error_detail", r#"{"code":130472,"error_data":{"details":"Failed to send message because this user's phone number is part of an experiment"},"href":"https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/","message":"User's number is part of an experiment","title":"User's number is part of an experiment"}"#),
    ]]),
    ("pywa/status_group.json", &[&[
        ("message_id", "<WHATSAPP_MESSAGE_ID>"),
        ("message_status", "read at 2023-10-25T20:49:05Z"),
        ("recipient_phone", "fowefinoewcnw"),
        ("recipient_phone", "<GROUP_PARTICIPANT_USER_PHONE_NUMBER>"),
        ("recipient_phone", "<USER_PHONE_NUMBER>"),
        ("user_id", "US.123456"),
        ("user_id", "US.123456"),
        ("user_id", "<PARENT_BSUID>"),
        ("user_id", "<PARENT_BSUID>"),
        ("profile_name", "<USER_DISPLAY_NAME>"),
        ("profile_name", "<USERNAME>"),
        ("originator_phone_id", "<BUSINESS_PHONE_NUMBER_ID>"),
    ]]),
    ("pywa/status_played.json", &[PYWA_STATUS, PYWA_CONTACT, CBP_PRICING, &[
        ("message_status", "played at 2023-07-15T00:20:58Z"),
        ("pricing", CONVERSATION),
    ]]),
    ("pywa/status_read.json", &[PYWA_STATUS, PYWA_CONTACT, CBP_PRICING, &[
        ("message_status", "read at 2023-07-15T00:20:58Z"),
        ("pricing", CONVERSATION),
    ]]),
    ("pywa/status_sent.json", &[PYWA_STATUS, PYWA_CONTACT, CBP_PRICING, &[
        ("message_status", "sent at 2023-10-25T20:49:05Z"),
        ("pricing", CONVERSATION_EXPIRING),
    ]]),
    ("pywa/status_with_tracker.json", &[PYWA_STATUS, PYWA_CONTACT, CBP_PRICING, &[
        ("message_status", "sent at 2023-10-25T20:49:05Z"),
        ("pricing", CONVERSATION_EXPIRING),
        ("message_text", "some data"),
    ]]),
    ("pywa/system_identity_change.json", &[PYWA_IN, &[
        ("message_id", "wamid.xyzxyz"),
        ("message_text", "User identity changed"),
        ("profile_name", "User A"),
        ("user_id", "xyzxyz"),
    ]]),
    ("pywa/system_phone_number_change.json", &[&[
        ("message_id", "wamid.xyzxyz=="),
        ("sender_phone", PYWA_USER),
        ("sender_phone", "972912345678"),
        ("originator_phone_id", PYWA_PHONE_ID),
        ("message_text", "User A changed from 972987654321 to 972912345678"),
    ]]),
    ("pywa/user_preferences_resume.json", &[PYWA_CONTACT, &[
        ("recipient_phone", PYWA_USER),
        ("sender_phone", "16505551234"),
        ("opt_out", "resume marketing_messages"),
        ("originator_phone_id", PHONE_ID),
    ]]),
    ("pywa/user_preferences_signup.json", &[PYWA_CONTACT, &[
        ("recipient_phone", PYWA_USER),
        ("sender_phone", "16505551234"),
        ("opt_out", "signup marketing_messages"),
        ("originator_phone_id", PHONE_ID),
    ]]),
];

fn load(rel: &str) -> Value {
    let path = Path::new(FIXTURES).join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The envelope a fixture travels in, chosen by its name.
pub fn envelope(rel: &str) -> Envelope {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let send = |request: Value, response: Value| {
        json!({"kind": "send", "sent_at": AT, "phone_number_id": PHONE_ID,
               "request": request, "response": response})
    };
    let value = if name.starts_with("send_") && name.contains("_request") {
        let response = match name.contains("mark_as_read") {
            true => json!({"success": true}),
            false => load("send_response.json"),
        };
        send(load(rel), response)
    } else if name.starts_with("send_") {
        send(load("send_text_request.json"), load(rel))
    } else {
        json!({"kind": "webhook", "received_at": AT, "payload": load(rel)})
    };
    Envelope::from_value(value, None).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn run(rel: &str) -> Extracted {
    extract(&envelope(rel)).unwrap_or_else(|e| panic!("{rel} does not extract: {e}"))
}

/// Every `.json` fixture: the top folder, `pywa/`, and the signature test body.
pub fn fixture_files() -> BTreeSet<String> {
    let mut files = BTreeSet::from(["signature/body.raw.json".to_string()]);
    for dir in ["", "pywa/"] {
        let entries = std::fs::read_dir(Path::new(FIXTURES).join(dir)).expect("fixtures folder");
        for entry in entries {
            let name = entry
                .expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned();
            if name.ends_with(".json") {
                files.insert(format!("{dir}{name}"));
            }
        }
    }
    files
}

fn kind(name: &str) -> FieldKind {
    name.parse()
        .unwrap_or_else(|_| panic!("{name} is not a field kind"))
}

fn count(fields: &[FieldValue], kind: FieldKind, value: &str) -> usize {
    fields
        .iter()
        .filter(|f| f.kind == kind && f.value.expose() == value)
        .count()
}

fn subject(field: &FieldValue) -> Option<&str> {
    field.subject.as_ref().map(|p| p.expose_e164())
}

#[test]
fn every_fixture_has_expectations() {
    let listed: BTreeSet<String> = EXPECTED.iter().map(|(rel, _)| rel.to_string()).collect();
    let files = fixture_files();
    let missing: Vec<_> = files.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "fixtures without an expectation in EXPECTED: {missing:?}"
    );
    let stale: Vec<_> = listed.difference(&files).collect();
    assert!(
        stale.is_empty(),
        "expectations for fixtures that do not exist: {stale:?}"
    );
    assert_eq!(listed.len(), EXPECTED.len(), "a fixture is listed twice");
}

#[test]
fn every_fixture_yields_its_expected_pairs() {
    let at = chrono::DateTime::parse_from_rfc3339(AT)
        .expect("time")
        .to_utc();
    for (rel, groups) in EXPECTED {
        let out = run(rel);
        let wanted: Vec<(&str, &str)> = groups.iter().flat_map(|g| g.iter().copied()).collect();
        for &(name, value) in &wanted {
            let need = wanted.iter().filter(|w| **w == (name, value)).count();
            let have = count(&out.fields, kind(name), value);
            assert!(
                have >= need,
                "{rel}: want {need}× {name} = {value:?}, got {have}"
            );
        }
        for field in &out.fields {
            assert!(
                !field.value.expose().trim().is_empty(),
                "{rel}: blank {}",
                field.kind
            );
            assert_eq!(
                field.occurred_at, at,
                "{rel}: {} has another time",
                field.kind
            );
            if field.kind == FieldKind::OriginatorPhoneId {
                assert!(
                    field.subject.is_none(),
                    "{rel}: originator_phone_id has a subject"
                );
            }
        }
    }
}

#[test]
fn brazil_and_mexico_responses_link_both_forms() {
    let cases = [
        (
            "send_response_brazil_wa_id_differs.json",
            "+5592981723241",
            "+559281723241",
        ),
        (
            "send_response_mexico_wa_id_differs.json",
            "+525639691841",
            "+5215639691841",
        ),
    ];
    for (rel, input, wa_id) in cases {
        let out = run(rel);
        let linked = out.same_person.iter().any(|group| {
            let forms: Vec<&str> = group.iter().map(|p| p.expose_e164()).collect();
            forms.contains(&input) && forms.contains(&wa_id) && forms.contains(&US)
        });
        assert!(
            linked,
            "{rel}: no same-person group holds to, input and wa_id"
        );
    }
}

#[test]
fn send_fields_belong_to_the_sent_message_and_the_recipient() {
    let out = run("send_template_request_positional.json");
    for field in &out.fields {
        assert_eq!(field.message.as_ref().map(|m| m.expose()), Some(SENT_ID));
        if field.kind != FieldKind::OriginatorPhoneId {
            assert_eq!(subject(field), Some(UK), "{}", field.kind);
        }
    }
    let direction = |kind, value| {
        out.fields
            .iter()
            .find(|f| f.kind == kind && f.value.expose() == value)
            .map(|f| f.direction)
    };
    assert_eq!(
        direction(FieldKind::TemplateField, "Alex"),
        Some(Direction::Outbound)
    );
    assert_eq!(
        direction(FieldKind::RecipientPhone, "16505551234"),
        Some(Direction::Inbound)
    );
    assert_eq!(
        direction(FieldKind::MessageId, SENT_ID),
        Some(Direction::Inbound)
    );
}

#[test]
fn webhook_fields_belong_to_their_message_and_person() {
    let out = run("webhook_batched_two_entries.json");
    let pricing = out
        .fields
        .iter()
        .find(|f| f.kind == FieldKind::Pricing)
        .expect("pricing");
    assert_eq!(
        pricing.message.as_ref().map(|m| m.expose()),
        Some("wamid.A2")
    );
    assert_eq!(subject(pricing), Some(UK));
    let name = out
        .fields
        .iter()
        .find(|f| f.kind == FieldKind::ProfileName)
        .expect("name");
    assert_eq!(name.message.as_ref().map(|m| m.expose()), Some("wamid.B1"));
    assert_eq!(subject(name), Some(US));
    assert!(out.fields.iter().all(|f| f.direction == Direction::Inbound));

    let echo = run("pywa/smb_echo_text.json");
    let text = echo
        .fields
        .iter()
        .find(|f| f.kind == FieldKind::MessageText)
        .expect("echo");
    assert_eq!(text.direction, Direction::Outbound);

    let changed = run("pywa/system_phone_number_change.json");
    let group: Vec<&str> = changed.same_person[0]
        .iter()
        .map(|p| p.expose_e164())
        .collect();
    assert_eq!(group, ["+972987654321", "+972912345678"]);

    let stop = run("pywa/user_preferences_resume.json");
    let opt = stop
        .fields
        .iter()
        .find(|f| f.kind == FieldKind::OptOut)
        .expect("opt_out");
    assert_eq!(subject(opt), Some(US));
}
