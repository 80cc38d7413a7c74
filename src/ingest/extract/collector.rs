//! The `Collector`: accumulates `FieldValue`s for one envelope. It carries the current scope (the
//! message, data subject and direction the walker is inside) and the envelope's time, so the
//! walkers only say which kind a value is. Blank values are never recorded.

use super::values;
use super::Extracted;
use crate::domain::{Direction, FieldKind, FieldValue, MessageId, PhoneNumber, Plaintext};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// Who and what the values being pushed belong to.
#[derive(Debug, Clone)]
pub struct Scope {
    pub message: Option<MessageId>,
    pub subject: Option<PhoneNumber>,
    pub direction: Direction,
}

impl Scope {
    pub fn new(direction: Direction) -> Self {
        Self {
            message: None,
            subject: None,
            direction,
        }
    }
}

/// Accumulates the fields and same-person groups of one envelope.
pub struct Collector {
    occurred_at: DateTime<Utc>,
    scope: Scope,
    out: Extracted,
}

impl Collector {
    /// What a send and a received message carry alike: text body, media, documents, location,
    /// contact cards and reactions, read from every type object present.
    pub fn shared_content(&mut self, message: &serde_json::Map<String, Value>) {
        if let Some(text) = message.get("text") {
            self.field(FieldKind::MessageText, text, "body");
        }
        for key in ["image", "video", "audio", "sticker"] {
            if let Some(media) = message.get(key) {
                self.media(FieldKind::Media, media);
            }
        }
        if let Some(document) = message.get("document") {
            self.media(FieldKind::Attachment, document);
        }
        self.json(FieldKind::Location, message.get("location"));
        for card in message
            .get("contacts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.json(FieldKind::ContactCard, Some(card));
        }
        if let Some(reaction) = message.get("reaction") {
            self.field(FieldKind::MessageText, reaction, "emoji");
            self.field(FieldKind::MessageId, reaction, "message_id");
        }
    }

    pub fn new(occurred_at: DateTime<Utc>, direction: Direction) -> Self {
        Self {
            occurred_at,
            scope: Scope::new(direction),
            out: Extracted::default(),
        }
    }

    /// The current scope (cloned), as a starting point for a nested one.
    pub fn scope(&self) -> Scope {
        self.scope.clone()
    }

    /// Runs `f` with `scope` in force, then restores the previous scope.
    pub fn within(&mut self, scope: Scope, f: impl FnOnce(&mut Self)) {
        let previous = std::mem::replace(&mut self.scope, scope);
        f(self);
        self.scope = previous;
    }

    /// Runs `f` in the current scope without a data subject (business data).
    pub fn without_subject(&mut self, f: impl FnOnce(&mut Self)) {
        let scope = Scope {
            subject: None,
            ..self.scope()
        };
        self.within(scope, f);
    }

    /// Records `value` as `kind` in the current scope, unless it is blank.
    pub fn push(&mut self, kind: FieldKind, value: impl Into<String>) {
        let value = value.into();
        if value.trim().is_empty() {
            return;
        }
        self.out.fields.push(FieldValue {
            message: self.scope.message.clone(),
            direction: self.scope.direction,
            kind,
            subject: self.scope.subject.clone(),
            value: Plaintext::new(value),
            occurred_at: self.occurred_at,
        });
    }

    /// Records the text of a scalar (string or number), if any.
    pub fn scalar(&mut self, kind: FieldKind, value: Option<&Value>) {
        if let Some(text) = values::text(value) {
            self.push(kind, text);
        }
    }

    /// Records the text of `object[key]`, if any.
    pub fn field(&mut self, kind: FieldKind, object: &Value, key: &str) {
        self.scalar(kind, object.get(key));
    }

    /// Records the compact JSON of `value`, unless it is null or empty.
    pub fn json(&mut self, kind: FieldKind, value: Option<&Value>) {
        if let Some(json) = value.and_then(values::compact) {
            self.push(kind, json);
        }
    }

    /// Records every string leaf of `value` (content of an unknown shape).
    pub fn leaves(&mut self, kind: FieldKind, value: Option<&Value>) {
        for leaf in value.map(values::string_leaves).unwrap_or_default() {
            self.push(kind, leaf);
        }
    }

    /// Records every string field whose name marks a business-scoped user id or identity hash.
    pub fn user_ids(&mut self, object: &Value) {
        let Some(map) = object.as_object() else {
            return;
        };
        for (key, value) in map {
            if key.contains("user_id") || key.ends_with("identity_key_hash") {
                self.scalar(FieldKind::UserId, Some(value));
            }
        }
    }

    /// Records a media object (image, video, audio, sticker, document): its `id`, `link` and `url`
    /// as `kind`, its `filename` as an attachment and its `caption` as message text.
    pub fn media(&mut self, kind: FieldKind, object: &Value) {
        for key in ["id", "link", "url"] {
            self.field(kind, object, key);
        }
        self.field(FieldKind::Attachment, object, "filename");
        self.field(FieldKind::MessageText, object, "caption");
    }

    /// Adds a group of numbers that belong to one person; duplicates are dropped.
    pub fn same_person(&mut self, numbers: impl IntoIterator<Item = Option<PhoneNumber>>) {
        let mut group: Vec<PhoneNumber> = Vec::new();
        for number in numbers.into_iter().flatten() {
            if !group.contains(&number) {
                group.push(number);
            }
        }
        if !group.is_empty() {
            self.out.same_person.push(group);
        }
    }

    pub fn finish(self) -> Extracted {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn collector() -> Collector {
        Collector::new(DateTime::UNIX_EPOCH, Direction::Inbound)
    }

    #[test]
    fn blanks_are_skipped_and_scopes_restore() {
        let mut c = collector();
        c.push(FieldKind::MessageText, "");
        c.push(FieldKind::MessageText, "  ");
        let scope = Scope {
            subject: PhoneNumber::from_wire("447700900123"),
            ..c.scope()
        };
        c.within(scope, |c| {
            c.push(FieldKind::MessageText, "hi");
            c.without_subject(|c| c.push(FieldKind::OriginatorPhoneId, "1"));
        });
        c.push(FieldKind::MessageText, "after");
        let out = c.finish();
        let subjects: Vec<bool> = out.fields.iter().map(|f| f.subject.is_some()).collect();
        assert_eq!(subjects, [true, false, false]);
    }

    #[test]
    fn user_ids_match_by_name() {
        let mut c = collector();
        c.user_ids(&json!({"user_id": "US.1", "to_parent_user_id": "US.ENT.2",
            "recipient_identity_key_hash": "h", "wa_id": "1", "user_ids": ["x"]}));
        assert_eq!(c.finish().fields.len(), 3);
    }

    #[test]
    fn same_person_dedupes_and_skips_empty_groups() {
        let mut c = collector();
        c.same_person([
            PhoneNumber::from_wire("+16505551234"),
            PhoneNumber::from_wire("16505551234"),
        ]);
        c.same_person([None, PhoneNumber::from_wire("group-id")]);
        let out = c.finish();
        assert_eq!(out.same_person.len(), 1);
        assert_eq!(out.same_person[0].len(), 1);
    }
}
