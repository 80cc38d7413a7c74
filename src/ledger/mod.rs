//! The ledger: turns extracted field values into sealed content and chain records, appends them
//! envelope by envelope, signs checkpoints of the chain head, and reads entries back decrypted.
//! It owns the rules of the two layers (DESIGN.md): the chain holds only non-personal metadata
//! and ciphertext digests; content is always sealed under its subject's data key combined with
//! the key of its retention bucket (`buckets`).

pub mod buckets;
pub mod chain;
mod checkpoint;
mod read;
mod rotate;
mod subjects;
mod verify;

pub use checkpoint::{foreign_key, CheckpointError, CheckpointFile};
pub use read::EntryView;
pub use rotate::{rotate, RotationOutcome, ROTATION_BATCH};
pub use subjects::SYSTEM_OWNER;
pub use verify::{BadEntry, VerifyReport};

use crate::crypto::{sha256, DataKey, KeyError, Keyring, MasterKey, Wrapper};
use crate::domain::{
    Digest, EntryId, FieldValue, MessageId, PhoneNumber, RecordBody, RecordKind, SubjectId,
};
use crate::ingest::Extracted;
use crate::store::{
    AppendOutcome, NewEnvelope, NewRecord, NewSubjects, SealedContent, Store, StoreError,
};
use buckets::bucket_owner;
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use subjects::Subjects;
use thiserror::Error;

/// Times `record` looks a forgotten subject up again before giving up.
const RETRIES: u64 = 5;

/// Failures of ledger operations. No message carries personal data.
#[derive(Debug, Error)]
pub enum LedgerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("the key store is empty but the ledger has entries; point --keystore-url at this ledger's key store (or restore it from its backup)")]
    KeyStoreMissing,
    #[error("a stored value failed to decrypt (entry {seq}); run `waledger verify`")]
    Undecryptable { seq: i64 },
}

/// One envelope ready to record: its canonical content (for duplicate detection) and its values.
#[derive(Debug)]
pub struct PreparedEnvelope {
    pub canonical: Vec<u8>,
    pub extracted: Extracted,
}

/// Sealed envelopes waiting to be linked into the chain, in one transaction.
pub struct SealedBatch {
    store: Arc<dyn Store>,
    envelopes: Vec<NewEnvelope>,
    new_subjects: NewSubjects,
}

impl SealedBatch {
    /// Adds a batch sealed later by the same ledger, so both are appended in one transaction.
    pub fn absorb(&mut self, later: SealedBatch) {
        if self.new_subjects.bindings.is_empty() {
            self.new_subjects.created_at = later.new_subjects.created_at;
        }
        self.envelopes.extend(later.envelopes);
        self.new_subjects
            .bindings
            .extend(later.new_subjects.bindings);
    }

    /// Appends the batch: each envelope whole, duplicates skipped, one transaction.
    #[tracing::instrument(name = "ledger.append", skip_all, fields(envelopes = self.envelopes.len()), err)]
    pub async fn append(self) -> Result<AppendOutcome, LedgerError> {
        Ok(self
            .store
            .append(&self.envelopes, &self.new_subjects, &chain::link)
            .await?)
    }
}

/// An open ledger: a store and the keys derived from the master key.
pub struct Ledger {
    store: Arc<dyn Store>,
    keyring: Keyring,
    subjects: Subjects,
}

impl Ledger {
    /// Opens the ledger, checking that `master` is the key its key store was made with (the
    /// first open of an empty key store records which key that is).
    pub async fn open(
        store: Arc<dyn Store>,
        master: &MasterKey,
        now: DateTime<Utc>,
    ) -> Result<Self, LedgerError> {
        let wrapper = Wrapper::of(master);
        let meta = match store.keystore_meta().await? {
            Some(meta) => meta,
            // An empty key store beside a ledger that has entries is the wrong key store (or a
            // lost one): starting a new one would make every recorded value unreadable.
            None if store.head().await?.seq > 0 => return Err(LedgerError::KeyStoreMissing),
            None => {
                let root = wrapper.new_root();
                store
                    .init_keystore(&wrapper.key_check(), &root, now.timestamp())
                    .await?
            }
        };
        if meta.next_check.is_some() {
            return Err(KeyError::RotationInProgress.into());
        }
        wrapper.confirm_key_check(&meta.key_check)?;
        let root = match meta.root {
            Some(root) => root,
            // A key store made before roots were stored: its root is the master key itself.
            None => {
                store
                    .set_root_if_missing(&wrapper.legacy_root(master))
                    .await?
            }
        };
        let keyring = Keyring::open(wrapper, &root)?;
        Ok(Self {
            store,
            keyring,
            subjects: Subjects::default(),
        })
    }

    /// Gives up the keys and keeps the store (for jobs that never decrypt).
    pub fn into_store(self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// A shared handle to the store.
    pub fn store_arc(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// The subject of a number (under any alias), created with a fresh data key if never seen.
    pub async fn subject_for(
        &mut self,
        phone: &PhoneNumber,
        now: DateTime<Utc>,
    ) -> Result<SubjectId, LedgerError> {
        let group = vec![phone.clone()];
        let found = self
            .subjects
            .resolve(
                self.store.as_ref(),
                &self.keyring,
                &[group],
                now.timestamp(),
            )
            .await?;
        Ok(found
            .into_iter()
            .next()
            .expect("one group in, one subject out"))
    }

    /// Seals business data (a hold's reason) under the system key, bound to `aad`.
    pub async fn seal_system(
        &mut self,
        aad: &[u8],
        plaintext: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Vec<u8>, LedgerError> {
        let key = self.system_key(now).await?;
        Ok(key.seal(aad, plaintext))
    }

    /// Opens a value sealed by [`seal_system`](Self::seal_system).
    pub async fn open_system(
        &mut self,
        aad: &[u8],
        sealed: &[u8],
        now: DateTime<Utc>,
    ) -> Result<String, LedgerError> {
        let key = self.system_key(now).await?;
        let plain = key
            .open(aad, sealed)
            .map_err(|_| LedgerError::Undecryptable { seq: 0 })?;
        Ok(String::from_utf8_lossy(&plain).into_owned())
    }

    async fn system_key(
        &mut self,
        now: DateTime<Utc>,
    ) -> Result<&crate::crypto::DataKey, LedgerError> {
        self.subjects
            .load_keys(
                self.store.as_ref(),
                &self.keyring,
                &[SYSTEM_OWNER],
                now.timestamp(),
                true,
            )
            .await?;
        Ok(self
            .subjects
            .key(SYSTEM_OWNER)
            .expect("the system key was loaded or created"))
    }

    /// Records envelopes in one transaction, each whole; already-recorded ones count as
    /// duplicates. Times after `now` are clamped to `now`.
    #[tracing::instrument(name = "ledger.record", skip_all, fields(envelopes = envelopes.len()), err)]
    pub async fn record(
        &mut self,
        envelopes: &[PreparedEnvelope],
        now: DateTime<Utc>,
    ) -> Result<AppendOutcome, LedgerError> {
        // A purge or an erasure may forget a subject this process still has cached (or be
        // between destroying its key and forgetting it): look again, a few times.
        let mut attempt = 0;
        loop {
            let outcome = match self.seal(envelopes, now).await {
                Ok(sealed) => sealed.append().await,
                Err(e) => Err(e),
            };
            match outcome {
                Err(LedgerError::Store(StoreError::SubjectForgotten)) if attempt < RETRIES => {
                    attempt += 1;
                    self.forget_cached_subjects();
                    tokio::time::sleep(std::time::Duration::from_millis(20 * attempt)).await;
                }
                Err(e) => {
                    // Subjects made for the batch were cached but not written.
                    self.forget_cached_subjects();
                    return Err(e);
                }
                ok => return ok,
            }
        }
    }

    /// Drops cached subjects and keys (after a purge elsewhere forgot some of them).
    pub fn forget_cached_subjects(&mut self) {
        self.subjects = Subjects::default();
    }

    /// The first half of [`record`](Self::record): finds or creates the subjects and seals every
    /// value. The returned batch can be appended while the next one is being sealed.
    #[tracing::instrument(name = "ledger.seal", skip_all, fields(envelopes = envelopes.len()), err)]
    pub async fn seal(
        &mut self,
        envelopes: &[PreparedEnvelope],
        now: DateTime<Utc>,
    ) -> Result<SealedBatch, LedgerError> {
        let now_s = now.timestamp();
        let new_subjects = self.resolve_subjects(envelopes, now_s).await?;
        // Each field's subject, looked up once (a keyed hash per lookup) for all that follows.
        let subjects: Vec<Vec<Option<SubjectId>>> = envelopes
            .iter()
            .map(|e| {
                e.extracted
                    .fields
                    .iter()
                    .map(|f| self.subject_of(f))
                    .collect()
            })
            .collect();
        // Each field's retention bucket (field kind and day), whose key its own is combined with.
        let buckets: Vec<Vec<String>> = envelopes
            .iter()
            .map(|e| {
                e.extracted
                    .fields
                    .iter()
                    .map(|f| bucket_owner(f.kind, f.occurred_at.timestamp().min(now_s)))
                    .collect()
            })
            .collect();
        let subject_owners: Vec<Vec<&str>> = subjects
            .iter()
            .map(|row| {
                row.iter()
                    .map(|s| s.as_ref().map_or(SYSTEM_OWNER, SubjectId::as_str))
                    .collect()
            })
            .collect();
        let mut owners: Vec<&str> = subject_owners
            .iter()
            .flatten()
            .copied()
            .chain(buckets.iter().flatten().map(String::as_str))
            .collect();
        owners.sort_unstable();
        owners.dedup();
        self.subjects
            .load_keys(self.store.as_ref(), &self.keyring, &owners, now_s, true)
            .await?;
        if owners.iter().any(|o| self.subjects.key(o).is_none()) {
            // An erasure destroyed this subject's key and is about to forget the subject.
            return Err(StoreError::SubjectForgotten.into());
        }
        let mut combined: HashMap<(&str, &str), DataKey> = HashMap::new();
        for (owner, bucket) in subject_owners
            .iter()
            .flatten()
            .zip(buckets.iter().flatten())
        {
            combined
                .entry((*owner, bucket.as_str()))
                .or_insert_with(|| self.key_of(owner).with_bucket(self.key_of(bucket)));
        }
        let envelopes = envelopes
            .iter()
            .zip(&subjects)
            .zip(subject_owners.iter().zip(&buckets))
            .map(|((e, subjects), (owners, buckets))| {
                let keys: Vec<&DataKey> = owners
                    .iter()
                    .zip(buckets)
                    .map(|(o, b)| &combined[&(*o, b.as_str())])
                    .collect();
                self.seal_envelope(e, subjects, &keys, now_s)
            })
            .collect();
        Ok(SealedBatch {
            store: self.store.clone(),
            envelopes,
            new_subjects,
        })
    }

    fn key_of(&self, owner: &str) -> &DataKey {
        self.subjects
            .key(owner)
            .expect("keys of every owner in the batch were loaded")
    }

    /// Subjects of every number in the batch, grouped by the aliases the payloads pair up; the
    /// new ones are returned to be written with the batch.
    async fn resolve_subjects(
        &mut self,
        envelopes: &[PreparedEnvelope],
        now: i64,
    ) -> Result<NewSubjects, LedgerError> {
        let mut seen: HashSet<PhoneNumber> = HashSet::new();
        let mut groups: Vec<Vec<PhoneNumber>> = Vec::new();
        for e in envelopes {
            for group in &e.extracted.same_person {
                if !group.is_empty() {
                    seen.extend(group.iter().cloned());
                    groups.push(group.clone());
                }
            }
        }
        for field in envelopes.iter().flat_map(|e| &e.extracted.fields) {
            if let Some(phone) = &field.subject {
                if seen.insert(phone.clone()) {
                    groups.push(vec![phone.clone()]);
                }
            }
        }
        let (_, new_subjects) = self
            .subjects
            .resolve_deferred(self.store.as_ref(), &self.keyring, &groups, now)
            .await?;
        Ok(new_subjects)
    }

    fn subject_of(&self, field: &FieldValue) -> Option<SubjectId> {
        field
            .subject
            .as_ref()
            .and_then(|p| self.subjects.cached(&self.keyring, p))
    }

    fn seal_envelope(
        &self,
        envelope: &PreparedEnvelope,
        subjects: &[Option<SubjectId>],
        keys: &[&DataKey],
        now: i64,
    ) -> NewEnvelope {
        let subject = subjects.iter().find_map(Clone::clone);
        // Fields of one message sit together: its id's keyed hash is computed once per run of them.
        let mut last: Option<(&MessageId, Digest)> = None;
        let records: Vec<NewRecord> = envelope
            .extracted
            .fields
            .iter()
            .zip(subjects.iter().cloned())
            .zip(keys)
            .map(|((field, subject), key)| {
                let message_digest = field.message.as_ref().map(|m| match last {
                    Some((id, digest)) if id == m => digest,
                    _ => {
                        let digest = self.keyring.message_digest(m);
                        last = Some((m, digest));
                        digest
                    }
                });
                seal_field(field, subject, key, message_digest, now)
            })
            .collect();
        NewEnvelope {
            digest: self.keyring.envelope_digest(&envelope.canonical),
            subject,
            records,
        }
    }
}

/// One value sealed under `key` (its owner's key combined with its bucket's), as a chain record
/// with its content.
fn seal_field(
    field: &FieldValue,
    subject: Option<SubjectId>,
    key: &DataKey,
    message_digest: Option<Digest>,
    now: i64,
) -> NewRecord {
    let mut body = RecordBody {
        entry_id: EntryId::new(),
        kind: RecordKind::Field,
        message_digest,
        direction: Some(field.direction),
        field: Some(field.kind),
        category: Some(field.kind.category()),
        occurred_at: field.occurred_at.timestamp().min(now),
        recorded_at: now,
        content_digest: None,
        detail: None,
    };
    let sealed = key.seal(
        &chain::content_aad(&body, subject.as_ref()),
        field.value.expose().as_bytes(),
    );
    body.content_digest = Some(sha256(&[&sealed]));
    NewRecord {
        body,
        content: Some(SealedContent { subject, sealed }),
    }
}
