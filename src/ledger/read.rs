//! Reading entries back: every entry of one message (`show`) or of one data subject under all
//! its aliases (`export`), decrypted where the value is still held.

use super::buckets::bucket_owner;
use super::{chain, Ledger, LedgerError, SYSTEM_OWNER};
use crate::domain::{
    Category, Digest, Direction, EntryState, FieldKind, MessageId, PhoneNumber, RecordKind,
};
use crate::store::StoredEntry;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;

/// One entry as `show` and `export` print it (CONTRACT.md).
#[derive(Debug, Clone, Serialize)]
pub struct EntryView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<Option<String>>,
    pub seq: i64,
    pub field: FieldKind,
    pub category: Category,
    pub direction: Direction,
    pub state: EntryState,
    pub value: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
}

impl Ledger {
    /// Every entry recorded for one message id, in chain order.
    pub async fn show_message(&mut self, id: &MessageId) -> Result<Vec<EntryView>, LedgerError> {
        let digest = self.keyring.message_digest(id);
        let entries = self.store.entries_for_message(&digest).await?;
        self.views(&entries, false).await
    }

    /// Every entry held about the subject of `phone`, under every alias, in chain order.
    pub async fn export_subject(
        &mut self,
        phone: &PhoneNumber,
    ) -> Result<Vec<EntryView>, LedgerError> {
        let subjects = self.subjects_of(phone).await?;
        self.export_subjects(&subjects).await
    }

    /// The subjects a number leads to now, under any alias (none are created).
    pub async fn subjects_of(
        &self,
        phone: &PhoneNumber,
    ) -> Result<Vec<crate::domain::SubjectId>, LedgerError> {
        super::subjects::Subjects::lookup(self.store.as_ref(), &self.keyring, phone).await
    }

    /// Every entry of these subjects (current ones, and ones an erasure forgot), in chain order.
    pub async fn export_subjects(
        &mut self,
        subjects: &[crate::domain::SubjectId],
    ) -> Result<Vec<EntryView>, LedgerError> {
        if subjects.is_empty() {
            return Ok(Vec::new());
        }
        let entries = self.store.entries_for_subjects(subjects).await?;
        self.views(&entries, true).await
    }

    /// Up to `limit` entries after position `after_seq`, decrypted where held (for audits and
    /// tests that compare what went in with what is stored).
    pub async fn entries_after(
        &mut self,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<EntryView>, LedgerError> {
        let mut entries = self.store.entries_after(after_seq, limit).await?;
        entries.retain(|e| e.record.body.kind == RecordKind::Field);
        self.views(&entries, false).await
    }

    async fn views(
        &mut self,
        entries: &[StoredEntry],
        with_message_ids: bool,
    ) -> Result<Vec<EntryView>, LedgerError> {
        let buckets: Vec<Option<String>> = entries
            .iter()
            .map(|e| match (e.bucketed, e.record.body.field) {
                (true, Some(field)) => Some(bucket_owner(field, e.record.body.occurred_at)),
                _ => None,
            })
            .collect();
        let mut owners: Vec<&str> = entries
            .iter()
            .zip(&buckets)
            .filter(|(e, _)| e.sealed.is_some())
            .flat_map(|(e, bucket)| {
                let owner = e.subject.as_ref().map_or(SYSTEM_OWNER, |s| s.as_str());
                std::iter::once(owner).chain(bucket.as_deref())
            })
            .collect();
        owners.sort_unstable();
        owners.dedup();
        let now = entries
            .iter()
            .map(|e| e.record.body.recorded_at)
            .max()
            .unwrap_or_default();
        // Never create keys here: a missing key means the value was erased or its bucket purged.
        self.subjects
            .load_keys(self.store.as_ref(), &self.keyring, &owners, now, false)
            .await?;

        let mut views = Vec::with_capacity(entries.len());
        for (entry, bucket) in entries.iter().zip(&buckets) {
            views.push(self.view(entry, bucket.as_deref())?);
        }
        if with_message_ids {
            self.attach_message_ids(entries, &mut views);
        }
        Ok(views)
    }

    fn view(&self, entry: &StoredEntry, bucket: Option<&str>) -> Result<EntryView, LedgerError> {
        let body = &entry.record.body;
        let value = match (&entry.sealed, entry.state) {
            (Some(sealed), EntryState::Held) => {
                let owner = entry.subject.as_ref().map_or(SYSTEM_OWNER, |s| s.as_str());
                let combined;
                let key = match bucket {
                    Some(bucket) => {
                        combined = self
                            .subjects
                            .key(owner)
                            .zip(self.subjects.key(bucket))
                            .map(|(key, bucket)| key.with_bucket(bucket));
                        combined.as_ref()
                    }
                    None => self.subjects.key(owner),
                };
                match key {
                    Some(key) => {
                        let plain = key
                            .open(&chain::content_aad(body, entry.subject.as_ref()), sealed)
                            .map_err(|_| LedgerError::Undecryptable {
                                seq: entry.record.seq,
                            })?;
                        Some(String::from_utf8_lossy(&plain).into_owned())
                    }
                    // A key was destroyed (erasure, or a purge emptied the bucket): the value
                    // is unreadable everywhere.
                    None => None,
                }
            }
            _ => None,
        };
        let field = body.field.unwrap_or(FieldKind::MessageText);
        Ok(EntryView {
            message_id: None,
            seq: entry.record.seq,
            field,
            category: body.category.unwrap_or(field.category()),
            direction: body.direction.unwrap_or(Direction::Outbound),
            state: entry.state,
            value,
            occurred_at: DateTime::from_timestamp(body.occurred_at, 0).unwrap_or_default(),
            recorded_at: DateTime::from_timestamp(body.recorded_at, 0).unwrap_or_default(),
        })
    }
}

impl Ledger {
    /// Export names each entry's message: the decrypted `message_id` entry whose own digest is
    /// the message's digest (a quoted or reacted-to id belongs to another message).
    fn attach_message_ids(&self, entries: &[StoredEntry], views: &mut [EntryView]) {
        let mut ids: HashMap<Digest, String> = HashMap::new();
        for (entry, view) in entries.iter().zip(views.iter()) {
            let (Some(digest), FieldKind::MessageId, Some(value)) =
                (entry.record.body.message_digest, view.field, &view.value)
            else {
                continue;
            };
            if MessageId::parse(value).is_some_and(|id| self.keyring.message_digest(&id) == digest)
            {
                ids.insert(digest, value.clone());
            }
        }
        for (entry, view) in entries.iter().zip(views.iter_mut()) {
            view.message_id = Some(
                entry
                    .record
                    .body
                    .message_digest
                    .and_then(|d| ids.get(&d).cloned()),
            );
        }
    }
}
