//! Outbound interactive messages (reply buttons, lists, call-to-action URLs, flows, products):
//! the header (text or media), body and footer text, every button and list label, and every
//! string of `action.parameters` (a CTA's display text and URL, a flow's token and prefill data).

use super::collector::Collector;
use super::values;
use crate::domain::FieldKind;
use serde_json::Value;

/// Extracts a request's `interactive` object.
pub fn extract(c: &mut Collector, interactive: &Value) {
    if let Some(header) = interactive.get("header") {
        self::header(c, header);
    }
    for part in ["body", "footer"] {
        if let Some(part) = interactive.get(part) {
            c.field(FieldKind::MessageText, part, "text");
        }
    }
    if let Some(action) = interactive.get("action") {
        self::action(c, action);
    }
}

fn header(c: &mut Collector, header: &Value) {
    c.field(FieldKind::MessageText, header, "text");
    for key in ["image", "video"] {
        if let Some(media) = header.get(key) {
            c.media(FieldKind::Media, media);
        }
    }
    if let Some(document) = header.get("document") {
        c.media(FieldKind::Attachment, document);
    }
}

fn action(c: &mut Collector, action: &Value) {
    for button in values::items(action, "buttons") {
        if let Some(reply) = button.get("reply") {
            c.field(FieldKind::MessageText, reply, "title");
        }
    }
    c.field(FieldKind::MessageText, action, "button");
    for section in values::items(action, "sections") {
        c.field(FieldKind::MessageText, section, "title");
        for row in values::items(section, "rows") {
            c.field(FieldKind::MessageText, row, "title");
            c.field(FieldKind::MessageText, row, "description");
        }
    }
    c.leaves(FieldKind::MessageText, action.get("parameters"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Direction;
    use chrono::DateTime;
    use serde_json::json;

    fn run(interactive: Value) -> Vec<(FieldKind, String)> {
        let mut c = Collector::new(DateTime::UNIX_EPOCH, Direction::Outbound);
        extract(&mut c, &interactive);
        c.finish()
            .fields
            .iter()
            .map(|f| (f.kind, f.value.expose().to_string()))
            .collect()
    }

    #[test]
    fn media_headers_and_flow_parameters_are_read() {
        let got = run(json!({"type": "flow",
            "header": {"type": "document", "document": {"link": "https://x/a.pdf", "filename": "a.pdf"}},
            "body": {"text": "Book"}, "footer": {"text": ""},
            "action": {"name": "flow", "parameters": {"flow_cta": "Go",
                "flow_action_payload": {"data": {"name": "Alex"}}}}}));
        assert_eq!(
            got,
            [
                (FieldKind::Attachment, "https://x/a.pdf".to_string()),
                (FieldKind::Attachment, "a.pdf".to_string()),
                (FieldKind::MessageText, "Book".to_string()),
                // Object keys are read in sorted order: `flow_action_payload` before `flow_cta`.
                (FieldKind::MessageText, "Alex".to_string()),
                (FieldKind::MessageText, "Go".to_string()),
            ]
        );
    }

    #[test]
    fn malformed_interactive_does_not_panic() {
        let got = run(
            json!({"header": [1], "body": "text", "action": {"buttons": {"a": 1},
            "sections": [{"rows": "x"}, 3], "parameters": 5}}),
        );
        assert!(got.is_empty());
    }
}
