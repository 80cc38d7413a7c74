//! Finding data subjects and their keys. A phone number (in every alias form Meta may use) is
//! looked up through its HMAC blind index; a number never seen gets a new subject with a fresh
//! random data key, wrapped into the key store before anything is sealed under it. Lookups and
//! unwrapped keys are cached for the life of one ingest run, and resolved a batch at a time so a
//! run of a million entries makes a handful of round trips per batch, not one per entry. A batch's
//! new subjects are written by the batch's own append (`resolve_deferred`), so sealing the next
//! batch never waits for the ledger's write lock.

use super::buckets::BUCKET_PREFIX;
use super::LedgerError;
use crate::crypto::{DataKey, Keyring};
use crate::domain::{Digest, PhoneNumber, SubjectId};
use crate::store::{NewSubjects, Store};
use std::collections::HashMap;

/// The key-store owner of the key that seals values with no data subject.
pub const SYSTEM_OWNER: &str = "system";

/// Cache entries kept before the caches are dropped, so memory stays flat on huge inputs.
const CACHE_LIMIT: usize = 10_000;

#[derive(Default)]
pub struct Subjects {
    by_digest: HashMap<Digest, SubjectId>,
    keys: HashMap<String, DataKey>,
}

impl Subjects {
    /// Resolves each group of numbers (one person) to its subject, creating (and binding at
    /// once) subjects for groups never seen. The result is in the order of `groups`.
    pub async fn resolve(
        &mut self,
        store: &dyn Store,
        keyring: &Keyring,
        groups: &[Vec<PhoneNumber>],
        now: i64,
    ) -> Result<Vec<SubjectId>, LedgerError> {
        let (digests, new_subjects) = self.resolve_deferred(store, keyring, groups, now).await?;
        if !new_subjects.bindings.is_empty() {
            // Another writer may have bound some digests first; its binding wins.
            self.by_digest
                .extend(store.bind_subjects(&new_subjects.bindings, now).await?);
        }
        Ok(digests
            .iter()
            .map(|g| {
                self.by_digest
                    .get(&g[0])
                    .cloned()
                    .expect("every digest was bound above")
            })
            .collect())
    }

    /// Like [`resolve`](Self::resolve), but new subjects are only made (their keys stored) and
    /// cached: the caller writes them with the batch sealed for them ([`NewSubjects`]). Returns
    /// each group's digests and the subjects to write.
    pub async fn resolve_deferred(
        &mut self,
        store: &dyn Store,
        keyring: &Keyring,
        groups: &[Vec<PhoneNumber>],
        now: i64,
    ) -> Result<(Vec<Vec<Digest>>, NewSubjects), LedgerError> {
        self.trim();
        let digests: Vec<Vec<Digest>> = groups
            .iter()
            .map(|g| {
                g.iter()
                    .flat_map(PhoneNumber::aliases)
                    .map(|p| keyring.phone_index(&p))
                    .collect()
            })
            .collect();
        let unknown: Vec<Digest> = digests
            .iter()
            .flatten()
            .filter(|d| !self.by_digest.contains_key(*d))
            .copied()
            .collect();
        if !unknown.is_empty() {
            self.by_digest.extend(store.find_subjects(&unknown).await?);
        }

        let mut new_subjects = NewSubjects {
            created_at: now,
            bindings: Vec::new(),
        };
        let mut new_keys = Vec::new();
        for group in &digests {
            let known = group.iter().find_map(|d| self.by_digest.get(d)).cloned();
            let subject = known.clone().unwrap_or_default();
            let mut unbound: Vec<Digest> = group
                .iter()
                .filter(|d| !self.by_digest.contains_key(*d))
                .copied()
                .collect();
            // Two forms of a number can share a digest; each is bound once.
            unbound.sort_unstable();
            unbound.dedup();
            if known.is_none() {
                let (key, wrapped) = keyring.new_data_key(subject.as_str());
                new_keys.push((subject.as_str().to_string(), wrapped));
                self.keys.insert(subject.as_str().to_string(), key);
            }
            if !unbound.is_empty() {
                for d in &unbound {
                    self.by_digest.insert(*d, subject.clone());
                }
                new_subjects.bindings.push((subject, unbound));
            }
        }
        // Keys first: a subject must never be findable without a key to open its values.
        if !new_keys.is_empty() {
            store
                .put_data_keys(&new_keys, &keyring.key_check(), now)
                .await?;
        }
        Ok((digests, new_subjects))
    }

    /// The subject a single number belongs to, if it was resolved in this run.
    pub fn cached(&self, keyring: &Keyring, phone: &PhoneNumber) -> Option<SubjectId> {
        self.by_digest.get(&keyring.phone_index(phone)).cloned()
    }

    /// Subjects already recorded for a number under any of its aliases (no creation).
    pub async fn lookup(
        store: &dyn Store,
        keyring: &Keyring,
        phone: &PhoneNumber,
    ) -> Result<Vec<SubjectId>, LedgerError> {
        let digests: Vec<Digest> = phone
            .aliases()
            .iter()
            .map(|p| keyring.phone_index(p))
            .collect();
        let mut subjects: Vec<SubjectId> = store
            .find_subjects(&digests)
            .await?
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        subjects.sort();
        subjects.dedup();
        Ok(subjects)
    }

    /// Loads the data keys of `owners` into the cache; with `create`, makes the missing ones that
    /// are made on demand (the system key and bucket keys; a subject's key is made with the subject).
    pub async fn load_keys(
        &mut self,
        store: &dyn Store,
        keyring: &Keyring,
        owners: &[&str],
        now: i64,
        create: bool,
    ) -> Result<(), LedgerError> {
        let missing: Vec<&str> = owners
            .iter()
            .copied()
            .filter(|o| !self.keys.contains_key(*o))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        for (owner, wrapped) in store.data_keys(&missing).await? {
            let key = keyring.unwrap_data_key(&owner, &wrapped)?;
            self.keys.insert(owner, key);
        }
        let absent: Vec<&str> = missing
            .into_iter()
            .filter(|o| !self.keys.contains_key(*o))
            .filter(|o| *o == SYSTEM_OWNER || o.starts_with(BUCKET_PREFIX))
            .collect();
        if !create || absent.is_empty() {
            return Ok(());
        }
        let fresh: Vec<(String, crate::crypto::WrappedKey)> = absent
            .iter()
            .map(|o| (o.to_string(), keyring.new_data_key(o).1))
            .collect();
        store
            .put_data_keys(&fresh, &keyring.key_check(), now)
            .await?;
        // Reload: a concurrent writer's key may have won.
        for (owner, wrapped) in store.data_keys(&absent).await? {
            let key = keyring.unwrap_data_key(&owner, &wrapped)?;
            self.keys.insert(owner, key);
        }
        Ok(())
    }

    /// A loaded key; `None` when the owner's key is gone (erased).
    pub fn key(&self, owner: &str) -> Option<&DataKey> {
        self.keys.get(owner)
    }

    fn trim(&mut self) {
        if self.by_digest.len() > CACHE_LIMIT {
            self.by_digest.clear();
        }
        if self.keys.len() > CACHE_LIMIT {
            self.keys.retain(|owner, _| owner == SYSTEM_OWNER);
        }
    }
}
