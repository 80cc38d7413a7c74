//! Cloud API error objects: the Graph error envelope a refused send gets back, and the
//! `errors[]` entry of a `failed` status. The codes, titles and `error_data.details` texts follow
//! Meta's error-code list; some details echo what was sent (a number, a template name, a media
//! URL), as real ones do, because that is why the ledger treats error details as personal text.

use rand::Rng;
use serde_json::{json, Value};

use super::ids;
use super::words::pick;

const ERROR_CODES_URL: &str =
    "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/";

/// What the failing send was, so the error can fit it.
pub struct SendFacts<'a> {
    pub to: &'a str,
    pub wa_id: &'a str,
    /// Template name and language code.
    pub template: Option<(&'a str, &'a str)>,
    pub media_link: Option<&'a str>,
    pub marketing: bool,
    pub free_form: bool,
}

/// Refusals whose details do not depend on the send: (code, title, details).
const PLAIN_REFUSALS: &[(u32, &str, &str)] = &[
    (
        131030,
        "Recipient phone number not in allowed list",
        "Recipient phone number not in allowed list: Add recipient phone number to recipient list \
         and try again.",
    ),
    (
        130429,
        "Rate limit hit",
        "Cloud API message throughput has been reached.",
    ),
    (
        131009,
        "Parameter value is not valid",
        "Parameter value is not valid: the text contains new lines, tabs or more than 4 \
         consecutive spaces",
    ),
    (
        131008,
        "Required parameter is missing",
        "The parameter messaging_product is required.",
    ),
];

/// Delivery failures that fit any message: (code, title, details).
const PLAIN_FAILURES: &[(u32, &str, &str)] = &[
    (131026, "Message undeliverable", "Message Undeliverable."),
    (
        130472,
        "User's number is part of an experiment",
        "Failed to send message because this user's phone number is part of an experiment",
    ),
    (131000, "Something went wrong", "Something went wrong"),
    (
        131042,
        "Business eligibility payment issue",
        "Message failed to send because there were one or more errors related to your payment \
         method.",
    ),
];

/// The Graph error envelope for a refused send (`send_error_response.json`).
pub fn send_error<R: Rng>(rng: &mut R, facts: &SendFacts<'_>) -> Value {
    let (code, title, details): (u32, &str, String) = match (rng.gen_range(0..8), facts.template) {
        (0, _) => (
            100,
            "Invalid parameter",
            format!(
                "Invalid parameter: the value '{}' of 'to' is not a valid WhatsApp user phone \
                 number",
                facts.to
            ),
        ),
        (1, _) => (
            131056,
            "(Business Account, Consumer Account) pair rate limit hit",
            format!(
                "Message failed to send because there were too many messages sent from this phone \
                 number to the phone number {} in a short period of time.",
                facts.wa_id
            ),
        ),
        (2, Some((name, lang))) => (
            132001,
            "Template name does not exist in the translation",
            format!("template name ({name}) does not exist in {lang}"),
        ),
        (3, Some(_)) => (
            132000,
            "Number of parameters does not match the expected number of params",
            "body: number of localizable_params (2) does not match the expected number of params \
             (3)"
            .into(),
        ),
        _ => {
            let (code, title, details) = pick(rng, PLAIN_REFUSALS);
            (code, title, details.into())
        }
    };
    json!({"error": {
        "message": format!("(#{code}) {title}"),
        "type": "OAuthException",
        "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": details},
        "fbtrace_id": ids::fbtrace(rng),
    }})
}

/// The `errors[]` entry of a `failed` status that fits the send.
pub fn status_error<R: Rng>(rng: &mut R, facts: &SendFacts<'_>, opted_out: bool) -> Value {
    let (code, title, details): (u32, &str, String) = if opted_out && facts.marketing {
        let t = "Unable to deliver the message. This recipient has chosen to stop receiving \
                 marketing messages on WhatsApp from your business";
        (131050, t, t.into())
    } else if let (Some(link), true) = (facts.media_link, rng.gen_bool(0.5)) {
        let details = format!(
            "Downloading media from weblink failed with http code 404, status message Not Found \
             for URL {link}"
        );
        (131053, "Media upload error", details)
    } else if facts.free_form && rng.gen_bool(0.4) {
        let details = "Message failed to send because more than 24 hours have passed since the \
                       customer last replied to this number.";
        (131047, "Re-engagement message", details.into())
    } else if facts.marketing && rng.gen_bool(0.5) {
        let title = "This message was not delivered to maintain healthy ecosystem engagement.";
        let details = "In order to maintain a healthy ecosystem engagement, the message failed \
                       to be delivered.";
        (131049, title, details.into())
    } else {
        let (code, title, details) = pick(rng, PLAIN_FAILURES);
        (code, title, details.into())
    };
    json!({
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": details},
        "href": ERROR_CODES_URL,
    })
}
