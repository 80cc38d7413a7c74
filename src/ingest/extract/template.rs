//! Outbound template messages: the template's identity (`name (language)`) and one entry per
//! occurrence of each component parameter value, including carousel cards. Header media become
//! media or attachments, a header location a location; anything unrecognised is kept whole as
//! compact JSON, so no parameter value is lost.

use super::collector::Collector;
use super::values;
use crate::domain::FieldKind;
use serde_json::Value;

/// Extracts a request's `template` object.
pub fn extract(c: &mut Collector, template: &Value) {
    if let Some(name) = values::field(template, "name") {
        let code = template
            .get("language")
            .and_then(|l| values::field(l, "code"));
        let id = match code {
            Some(code) => format!("{name} ({code})"),
            None => name,
        };
        c.push(FieldKind::TemplateId, id);
    }
    components(c, values::items(template, "components"));
}

fn components(c: &mut Collector, list: &[Value]) {
    for component in list {
        for parameter in values::items(component, "parameters") {
            self::parameter(c, parameter);
        }
        for card in values::items(component, "cards") {
            components(c, values::items(card, "components"));
        }
    }
}

fn parameter(c: &mut Collector, parameter: &Value) {
    let kind = parameter
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let inner = parameter.get(kind);
    match kind {
        "text" | "payload" | "coupon_code" => scalar_or_whole(c, inner, parameter),
        "currency" | "date_time" => {
            scalar_or_whole(c, inner.and_then(|i| i.get("fallback_value")), parameter)
        }
        "action" => match inner {
            Some(action) => c.json(FieldKind::TemplateField, Some(action)),
            None => c.json(FieldKind::TemplateField, Some(parameter)),
        },
        "image" | "video" => media(c, FieldKind::Media, inner, parameter),
        "document" => media(c, FieldKind::Attachment, inner, parameter),
        "location" => c.json(FieldKind::Location, inner),
        _ => c.json(FieldKind::TemplateField, Some(parameter)),
    }
}

/// A scalar parameter value (blank ones are skipped); any other shape is kept as the whole
/// parameter's JSON.
fn scalar_or_whole(c: &mut Collector, value: Option<&Value>, parameter: &Value) {
    match value {
        Some(value @ (Value::String(_) | Value::Number(_))) => {
            c.scalar(FieldKind::TemplateField, Some(value))
        }
        _ => c.json(FieldKind::TemplateField, Some(parameter)),
    }
}

fn media(c: &mut Collector, kind: FieldKind, inner: Option<&Value>, parameter: &Value) {
    match inner {
        Some(object) if object.is_object() => c.media(kind, object),
        _ => c.json(FieldKind::TemplateField, Some(parameter)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Direction;
    use chrono::DateTime;
    use serde_json::json;

    fn run(template: Value) -> Vec<(FieldKind, String)> {
        let mut c = Collector::new(DateTime::UNIX_EPOCH, Direction::Outbound);
        extract(&mut c, &template);
        c.finish()
            .fields
            .iter()
            .map(|f| (f.kind, f.value.expose().to_string()))
            .collect()
    }

    fn field(value: &str) -> (FieldKind, String) {
        (FieldKind::TemplateField, value.to_string())
    }

    #[test]
    fn repeated_parameters_give_one_entry_each() {
        let got = run(json!({"name": "t", "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "Alex"},
                {"type": "text", "parameter_name": "again", "text": "Alex"}]}]}));
        assert_eq!(
            got,
            [
                (FieldKind::TemplateId, "t".into()),
                field("Alex"),
                field("Alex")
            ]
        );
    }

    #[test]
    fn odd_parameters_are_kept_whole() {
        let got = run(
            json!({"name": "t", "language": {"code": "en"}, "components": [
            {"type": "button", "parameters": [
                {"type": "coupon_code", "coupon_code": "SAVE10"},
                {"type": "action", "action": {"flow_token": "abc"}},
                {"type": "limited_time_offer", "limited_time_offer": {"expiration_time_ms": 1}},
                {"type": "text", "text": {"nested": true}},
                {"type": "currency", "currency": {"code": "GBP"}},
                {"type": "text", "text": ""}]},
            {"type": "carousel", "cards": [{"components": [{"parameters": [
                {"type": "image", "image": {"id": "77"}}]}]}]}]}),
        );
        assert_eq!(got[0], (FieldKind::TemplateId, "t (en)".into()));
        assert_eq!(got[1], field("SAVE10"));
        assert_eq!(got[2], field(r#"{"flow_token":"abc"}"#));
        assert!(got[3].1.contains("limited_time_offer"));
        assert!(got[4].1.contains("nested"));
        assert!(got[5].1.contains("GBP"));
        assert_eq!(got[6], (FieldKind::Media, "77".into()));
        assert_eq!(got.len(), 7);
    }

    #[test]
    fn malformed_templates_do_not_panic() {
        for t in [
            json!(null),
            json!("x"),
            json!({"components": "x"}),
            json!({"components": [1, {"parameters": [null, 2, {"type": 3}]}]}),
        ] {
            run(t);
        }
    }
}
