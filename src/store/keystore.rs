//! Storage of the key store's own state: which master key it is wrapped under (the key check),
//! the wrapped root secret, and the moves of a master key rotation, one batch per transaction.
//! Implemented for both backends by the macro in `keystore_sql.rs`.

use super::StoreError;
use crate::crypto::WrappedKey;
use async_trait::async_trait;

/// The key store's header row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeystoreMeta {
    pub key_check: Vec<u8>,
    /// `None` in key stores made before roots were stored.
    pub root: Option<WrappedKey>,
    /// How many rotations the key store has been through.
    pub generation: i64,
    /// The key check of the master key a rotation in flight moves to.
    pub next_check: Option<Vec<u8>>,
}

#[async_trait]
pub trait KeyStore: Send + Sync {
    async fn keystore_meta(&self) -> Result<Option<KeystoreMeta>, StoreError>;
    /// Owners of the data keys whose owner starts with `prefix`.
    async fn key_owners_with_prefix(&self, prefix: &str) -> Result<Vec<String>, StoreError>;
    /// Writes the header of a new key store unless one is there; returns the one in force.
    async fn init_keystore(
        &self,
        key_check: &[u8],
        root: &WrappedKey,
        now: i64,
    ) -> Result<KeystoreMeta, StoreError>;
    /// Stores a root where none is (a key store made before roots); returns the one in force.
    async fn set_root_if_missing(&self, root: &WrappedKey) -> Result<WrappedKey, StoreError>;
    /// Marks a rotation to the key with `next_check` as begun; `false` if another one is.
    async fn begin_rotation(&self, next_check: &[u8]) -> Result<bool, StoreError>;
    /// Up to `limit` data keys not yet moved to generation `generation`.
    async fn keys_outside_generation(
        &self,
        generation: i64,
        limit: i64,
    ) -> Result<Vec<(String, WrappedKey)>, StoreError>;
    /// Replaces these data keys' wrapping and moves them to `generation`, one transaction.
    async fn rewrap_keys(
        &self,
        keys: &[(String, WrappedKey)],
        generation: i64,
    ) -> Result<(), StoreError>;
    /// Completes a rotation: the next key's check, the re-wrapped root and the new generation,
    /// unless a data key is still under the old one. Returns whether it completed.
    async fn finish_rotation(&self, root: &WrappedKey, generation: i64)
        -> Result<bool, StoreError>;
}
