//! The chain's canonical encoding. A record's hash is SHA-256 over the previous hash and the
//! record's canonical bytes; the encoding is versioned and length-prefixed so no two records
//! share bytes. The associated data that binds sealed content to its entry lives here too.
//!
//! Do *not* modify the encodings below: every existing ledger's hashes and ciphertexts depend
//! on them. A new layout needs a new version tag.

use crate::crypto::sha256;
use crate::domain::{Digest, RecordBody, SubjectId};

const CHAIN_VERSION: &[u8] = b"waledger/chain/v1";
const CONTENT_VERSION: &[u8] = b"waledger/content/v1";

/// The hash of the record at `seq` whose predecessor's hash is `prev`.
pub fn link(seq: i64, prev: &Digest, body: &RecordBody) -> Digest {
    let bytes = canonical_bytes(seq, body);
    sha256(&[prev, &bytes])
}

fn canonical_bytes(seq: i64, body: &RecordBody) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    push(&mut out, CHAIN_VERSION);
    push(&mut out, &seq.to_be_bytes());
    push(&mut out, body.entry_id.as_bytes());
    push(&mut out, body.kind.as_ref().as_bytes());
    push_opt(&mut out, body.message_digest.as_ref().map(|d| d.as_slice()));
    push_opt(
        &mut out,
        body.direction.map(|d| <&'static str>::from(d).as_bytes()),
    );
    push_opt(
        &mut out,
        body.field.map(|f| <&'static str>::from(f).as_bytes()),
    );
    push_opt(
        &mut out,
        body.category.map(|c| <&'static str>::from(c).as_bytes()),
    );
    push(&mut out, &body.occurred_at.to_be_bytes());
    push(&mut out, &body.recorded_at.to_be_bytes());
    push_opt(&mut out, body.content_digest.as_ref().map(|d| d.as_slice()));
    push_opt(&mut out, body.detail.as_deref().map(str::as_bytes));
    out
}

/// The associated data of an entry's sealed value: its identity, its owner and its kind. A
/// ciphertext copied to another entry, owner or kind fails to open.
pub fn content_aad(body: &RecordBody, subject: Option<&SubjectId>) -> Vec<u8> {
    let mut out = Vec::with_capacity(96);
    push(&mut out, CONTENT_VERSION);
    push(&mut out, body.entry_id.as_bytes());
    push_opt(&mut out, subject.map(|s| s.as_str().as_bytes()));
    push_opt(
        &mut out,
        body.field.map(|f| <&'static str>::from(f).as_bytes()),
    );
    push_opt(
        &mut out,
        body.category.map(|c| <&'static str>::from(c).as_bytes()),
    );
    out
}

/// A record that is not a field value (a hold, an erasure, a rotation): non-personal details as
/// JSON and, where it commits to sealed business data, that data's digest.
pub fn system_record(
    kind: crate::domain::RecordKind,
    detail: serde_json::Value,
    now: i64,
    content_digest: Option<Digest>,
) -> crate::store::NewRecord {
    crate::store::NewRecord {
        body: RecordBody {
            entry_id: crate::domain::EntryId::new(),
            kind,
            message_digest: None,
            direction: None,
            field: None,
            category: None,
            occurred_at: now,
            recorded_at: now,
            content_digest,
            detail: Some(detail.to_string()),
        },
        content: None,
    }
}

fn push(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(1);
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn push_opt(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        Some(b) => push(out, b),
        None => out.push(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Category, Direction, EntryId, FieldKind, RecordKind};

    fn body() -> RecordBody {
        RecordBody {
            entry_id: EntryId::from_bytes([7; 16]),
            kind: RecordKind::Field,
            message_digest: Some([1; 32]),
            direction: Some(Direction::Outbound),
            field: Some(FieldKind::MessageText),
            category: Some(Category::Text),
            occurred_at: 1_700_000_000,
            recorded_at: 1_700_000_005,
            content_digest: Some([2; 32]),
            detail: None,
        }
    }

    #[test]
    fn every_field_changes_the_hash() {
        let base = link(5, &[0; 32], &body());
        assert_ne!(base, link(6, &[0; 32], &body()));
        assert_ne!(base, link(5, &[9; 32], &body()));
        type Change = Box<dyn Fn(&mut RecordBody)>;
        let variants: Vec<Change> = vec![
            Box::new(|b| b.entry_id = EntryId::from_bytes([8; 16])),
            Box::new(|b| b.message_digest = None),
            Box::new(|b| b.direction = Some(Direction::Inbound)),
            Box::new(|b| b.field = Some(FieldKind::TemplateField)),
            Box::new(|b| b.category = Some(Category::Media)),
            Box::new(|b| b.occurred_at += 1),
            Box::new(|b| b.recorded_at += 1),
            Box::new(|b| b.content_digest = Some([3; 32])),
            Box::new(|b| b.detail = Some(String::new())),
        ];
        for change in variants {
            let mut b = body();
            change(&mut b);
            assert_ne!(base, link(5, &[0; 32], &b));
        }
    }

    #[test]
    fn aad_differs_per_entry_owner_and_kind() {
        let subject = SubjectId::from_stored("s-1".into());
        let a = content_aad(&body(), Some(&subject));
        assert_ne!(a, content_aad(&body(), None));
        let mut other = body();
        other.entry_id = EntryId::from_bytes([9; 16]);
        assert_ne!(a, content_aad(&other, Some(&subject)));
    }
}
