//! Row types as both backends return them, and their conversion to domain types. A row that does
//! not convert (a changed kind string, a digest of the wrong length) is reported as corrupt, which
//! `verify` turns into a finding rather than a crash.

use super::{ScannedRecord, StoredEntry};
use crate::domain::{digest_key, ChainRecord, Digest, EntryId, EntryState, RecordBody, SubjectId};
use std::str::FromStr;

/// `content.key_scheme` of values sealed under their owner's key combined with their bucket's.
pub(super) const KEY_SCHEME_BUCKETED: i32 = 2;

/// A chain record joined with its content row.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct EntryRow {
    pub seq: i64,
    pub entry_id: Vec<u8>,
    pub kind: String,
    pub message_digest: Option<Vec<u8>>,
    pub message_key: Option<i64>,
    pub direction: Option<String>,
    pub field: Option<String>,
    pub category: Option<String>,
    pub occurred_at: i64,
    pub recorded_at: i64,
    pub content_digest: Option<Vec<u8>>,
    pub detail: Option<String>,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
    pub subject_id: Option<String>,
    pub subject_key: Option<i64>,
    pub state: Option<String>,
    pub sealed: Option<Vec<u8>>,
    pub key_scheme: Option<i32>,
}

/// The columns of [`EntryRow`], for `SELECT … FROM chain c LEFT JOIN content ct …`.
pub(super) const ENTRY_COLUMNS: &str =
    "c.seq, c.entry_id, c.kind, c.message_digest, c.message_key, \
     c.direction, c.field, c.category, c.occurred_at, c.recorded_at, c.content_digest, c.detail, \
     c.prev_hash, c.hash, ct.subject_id, ct.subject_key, ct.state, ct.sealed, ct.key_scheme";

fn digest(bytes: &[u8], what: &str) -> Result<Digest, String> {
    bytes
        .try_into()
        .map_err(|_| format!("{what} is not 32 bytes"))
}

fn opt_digest(bytes: &Option<Vec<u8>>, what: &str) -> Result<Option<Digest>, String> {
    bytes.as_deref().map(|b| digest(b, what)).transpose()
}

fn parse_opt<T: FromStr>(text: &Option<String>, what: &str) -> Result<Option<T>, String> {
    text.as_deref()
        .map(|t| T::from_str(t).map_err(|_| format!("unknown {what}")))
        .transpose()
}

impl EntryRow {
    fn record(&self) -> Result<ChainRecord, String> {
        let entry_id: [u8; 16] = self
            .entry_id
            .as_slice()
            .try_into()
            .map_err(|_| "entry id is not 16 bytes".to_string())?;
        Ok(ChainRecord {
            seq: self.seq,
            body: RecordBody {
                entry_id: EntryId::from_bytes(entry_id),
                kind: self
                    .kind
                    .parse()
                    .map_err(|_| "unknown record kind".to_string())?,
                message_digest: opt_digest(&self.message_digest, "message digest")?,
                direction: parse_opt(&self.direction, "direction")?,
                field: parse_opt(&self.field, "field kind")?,
                category: parse_opt(&self.category, "category")?,
                occurred_at: self.occurred_at,
                recorded_at: self.recorded_at,
                content_digest: opt_digest(&self.content_digest, "content digest")?,
                detail: self.detail.clone(),
            },
            prev_hash: digest(&self.prev_hash, "previous hash")?,
            hash: digest(&self.hash, "hash")?,
        })
    }

    /// For `show`/`export`: a row that does not convert is an error (run `verify`).
    pub fn into_stored(self) -> Result<StoredEntry, sqlx::Error> {
        let record = self.record().map_err(|why| corrupt(self.seq, &why))?;
        let state = match self.state.as_deref() {
            Some(s) => EntryState::from_str(s).map_err(|_| corrupt(self.seq, "unknown state"))?,
            None => EntryState::Erased,
        };
        Ok(StoredEntry {
            record,
            state,
            subject: self.subject_id.map(SubjectId::from_stored),
            sealed: self.sealed,
            bucketed: self.key_scheme == Some(KEY_SCHEME_BUCKETED),
        })
    }

    /// For `verify`: conversion failures are findings, not errors.
    pub fn into_scanned(self) -> ScannedRecord {
        let inconsistency = self.inconsistency();
        ScannedRecord {
            seq: self.seq,
            record: self.record(),
            content: self.state.is_some().then_some(self.sealed),
            inconsistency,
        }
    }

    /// Columns that the chain hash does not cover but that must agree with what it does: the
    /// lookup keys (a changed key would hide the entry from `show`, `export` and erasure) and the
    /// content state (a value removed while marked held, or kept while marked removed).
    fn inconsistency(&self) -> Option<String> {
        let message_key = self
            .message_digest
            .as_deref()
            .and_then(|d| Digest::try_from(d).ok())
            .map(|d| digest_key(&d));
        if self.message_key != message_key {
            return Some(
                "its message lookup key does not match its message digest: `show` would miss it"
                    .into(),
            );
        }
        let subject_key = self
            .subject_id
            .clone()
            .map(|s| SubjectId::from_stored(s).index_key());
        if self.subject_key != subject_key {
            return Some("its subject lookup key does not match its subject: export and erasure would miss it".into());
        }
        match (self.state.as_deref(), &self.sealed) {
            (Some("held"), None) => Some("it is marked held but its value is gone".into()),
            (Some(state), Some(_)) if state != "held" => {
                Some(format!("it is marked {state} but still holds a value"))
            }
            _ => None,
        }
    }
}

fn corrupt(seq: i64, why: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("ledger entry {seq}: {why}; run `waledger verify`").into())
}

/// A stored checkpoint.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct CheckpointRow {
    pub seq: i64,
    pub hash: Vec<u8>,
    pub signed_at: i64,
    pub public_key: Vec<u8>,
    pub signature: Vec<u8>,
}

impl CheckpointRow {
    pub fn into_checkpoint(self) -> Result<super::Checkpoint, sqlx::Error> {
        Ok(super::Checkpoint {
            seq: self.seq,
            hash: digest(&self.hash, "checkpoint hash").map_err(|why| corrupt(self.seq, &why))?,
            signed_at: self.signed_at,
            public_key: self.public_key,
            signature: self.signature,
        })
    }
}
