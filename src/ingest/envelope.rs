//! Ingest envelopes (CONTRACT.md): one JSON object per line, either a Cloud API send (request and
//! response) or a webhook notification as Meta delivered it. Parsing checks the envelope's own
//! shape; what is inside `request`, `response` and `payload` is read by `extract`.
//!
//! Error messages name the problem and the fix, never a value from the line: a JSON error that
//! would quote the offending text is reduced to its kind and column.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};
use thiserror::Error;

/// Why an envelope was refused. One line, lower-case, no personal data.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{0}")]
pub struct EnvelopeError(pub String);

impl EnvelopeError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// A parsed envelope.
#[derive(Debug, Clone)]
pub enum Envelope {
    /// `POST /{version}/{phone_number_id}/messages` and what the Cloud API answered.
    Send {
        sent_at: DateTime<Utc>,
        phone_number_id: String,
        request: Map<String, Value>,
        /// `None` when the envelope carries no response at all.
        response: Option<Map<String, Value>>,
    },
    /// A webhook notification (`"object":"whatsapp_business_account"`).
    Webhook {
        received_at: DateTime<Utc>,
        payload: Map<String, Value>,
    },
}

impl Envelope {
    /// Parses one line. `default_kind` is used when `kind` is absent (`POST /v1/sends`).
    pub fn parse(line: &str, default_kind: Option<&str>) -> Result<Self, EnvelopeError> {
        let value: Value = serde_json::from_str(line).map_err(|e| json_error(&e))?;
        Self::from_value(value, default_kind)
    }

    /// Builds an envelope from an already-parsed JSON value.
    pub fn from_value(value: Value, default_kind: Option<&str>) -> Result<Self, EnvelopeError> {
        let Value::Object(mut obj) = value else {
            return Err(EnvelopeError::new(
                "an envelope must be a JSON object with a \"kind\" of \"send\" or \"webhook\"",
            ));
        };
        let kind = match obj.get("kind") {
            Some(Value::String(k)) => k.clone(),
            None => default_kind
                .ok_or_else(|| {
                    EnvelopeError::new(
                        "missing \"kind\"; add \"kind\":\"send\" or \"kind\":\"webhook\"",
                    )
                })?
                .to_string(),
            Some(_) => {
                return Err(EnvelopeError::new(
                    "\"kind\" must be the string \"send\" or \"webhook\"",
                ))
            }
        };
        match kind.as_str() {
            "send" => Ok(Envelope::Send {
                sent_at: time_field(&obj, "sent_at")?,
                phone_number_id: string_field(&obj, "phone_number_id")?,
                request: object_field(&mut obj, "request")?.ok_or_else(|| {
                    EnvelopeError::new(
                        "missing \"request\"; add the body of the Cloud API send call",
                    )
                })?,
                response: object_field(&mut obj, "response")?,
            }),
            "webhook" => {
                let received_at = time_field(&obj, "received_at")?;
                let payload = object_field(&mut obj, "payload")?.ok_or_else(|| {
                    EnvelopeError::new(
                        "missing \"payload\"; add the webhook notification as Meta delivered it",
                    )
                })?;
                if payload.get("object").and_then(Value::as_str)
                    != Some("whatsapp_business_account")
                {
                    return Err(EnvelopeError::new(
                        "\"payload.object\" is not \"whatsapp_business_account\"; only WhatsApp Business webhooks are recorded",
                    ));
                }
                Ok(Envelope::Webhook {
                    received_at,
                    payload,
                })
            }
            _ => Err(EnvelopeError::new(
                "unknown \"kind\"; use \"send\" or \"webhook\"",
            )),
        }
    }

    /// When the traffic crossed the boundary, as the envelope says.
    pub fn occurred_at(&self) -> DateTime<Utc> {
        match self {
            Envelope::Send { sent_at, .. } => *sent_at,
            Envelope::Webhook { received_at, .. } => *received_at,
        }
    }

    /// The envelope's content without its times, in a canonical byte form: two deliveries of the
    /// same content have the same bytes, so the second is recognised as a duplicate.
    pub fn canonical_content(&self) -> Vec<u8> {
        let value = match self {
            Envelope::Send {
                phone_number_id,
                request,
                response,
                ..
            } => serde_json::json!({
                "kind": "send",
                "phone_number_id": phone_number_id,
                "request": request,
                "response": response,
            }),
            Envelope::Webhook { payload, .. } => {
                serde_json::json!({"kind": "webhook", "payload": payload})
            }
        };
        canonical_json(&value)
    }
}

/// JSON with object keys sorted at every level, whatever order they arrived in.
fn canonical_json(value: &Value) -> Vec<u8> {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&map[k])))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    serde_json::to_vec(&sorted(value)).expect("a JSON value serializes")
}

fn json_error(e: &serde_json::Error) -> EnvelopeError {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Eof => "the line ends before the JSON object does",
        Category::Syntax => "the line is not valid JSON",
        Category::Data => "the line holds JSON of the wrong shape",
        Category::Io => "the line could not be read",
    };
    EnvelopeError::new(format!(
        "{what} (column {}); write one JSON envelope per line",
        e.column()
    ))
}

fn string_field(obj: &Map<String, Value>, name: &str) -> Result<String, EnvelopeError> {
    match obj.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(EnvelopeError::new(format!(
            "missing or empty \"{name}\"; add it as a string"
        ))),
    }
}

fn object_field(
    obj: &mut Map<String, Value>,
    name: &str,
) -> Result<Option<Map<String, Value>>, EnvelopeError> {
    match obj.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(_) => Err(EnvelopeError::new(format!(
            "\"{name}\" must be a JSON object"
        ))),
    }
}

fn time_field(obj: &Map<String, Value>, name: &str) -> Result<DateTime<Utc>, EnvelopeError> {
    let text = obj.get(name).and_then(Value::as_str).ok_or_else(|| {
        EnvelopeError::new(format!(
            "missing \"{name}\"; add an RFC 3339 time such as 2026-11-01T10:00:00Z"
        ))
    })?;
    parse_time(text).ok_or_else(|| {
        EnvelopeError::new(format!("\"{name}\" is not an RFC 3339 time or YYYY-MM-DD date; write e.g. 2026-11-01T10:00:00Z"))
    })
}

/// An RFC 3339 timestamp or a `YYYY-MM-DD` date (midnight UTC).
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text.trim()) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_kinds() {
        let send = r#"{"kind":"send","sent_at":"2026-11-01T10:00:00Z","phone_number_id":"1065","request":{"to":"+447700900123"},"response":{"messages":[{"id":"wamid.X"}]}}"#;
        assert!(matches!(
            Envelope::parse(send, None).unwrap(),
            Envelope::Send { .. }
        ));
        let hook = r#"{"kind":"webhook","received_at":"2026-11-01","payload":{"object":"whatsapp_business_account","entry":[]}}"#;
        assert!(matches!(
            Envelope::parse(hook, None).unwrap(),
            Envelope::Webhook { .. }
        ));
    }

    #[test]
    fn refusals_never_quote_the_line() {
        let cases = [
            r#"{"kind":"send","sent_at":"+447700900123","phone_number_id":"1","request":{}}"#,
            r#"{"kind":"send","sent_at":"2026-11-01T10:00:00Z","phone_number_id":"1"}"#,
            r#"{"kind":"webhook","received_at":"2026-11-01T10:00:00Z","payload":{"object":"page"}}"#,
            r#"{"kind":"fax"}"#,
            r#"{"kind":"send", "to": "+447700900123" "#,
            "[\"+447700900123\"]",
        ];
        for line in cases {
            let err = Envelope::parse(line, None).unwrap_err();
            assert!(!err.0.contains("7700"), "{err}");
        }
    }

    #[test]
    fn canonical_content_ignores_key_order_and_times() {
        let a = r#"{"kind":"webhook","received_at":"2026-11-01T10:00:00Z","payload":{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[]}]}}"#;
        let b = r#"{"payload":{"entry":[{"changes":[],"id":"1"}],"object":"whatsapp_business_account"},"received_at":"2026-11-02T11:00:00Z","kind":"webhook"}"#;
        let (a, b) = (
            Envelope::parse(a, None).unwrap(),
            Envelope::parse(b, None).unwrap(),
        );
        assert_eq!(a.canonical_content(), b.canonical_content());
    }
}
