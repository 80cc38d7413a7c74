//! Master key rotation. Every wrapped data key and the root secret are re-wrapped under the new
//! master key, one batch per transaction; the key store's header names the key the rotation moves
//! to, so a rotation killed at any moment is finished by running it again with the same new key
//! (and the ledger refuses to open meanwhile, rather than mix keys). Afterwards the old master
//! key opens nothing in the key store. Blind indexes and the signing key derive from the root,
//! so no lookup, checkpoint or receipt changes. The rotation is ledgered.

use super::{chain, LedgerError};
use crate::crypto::{public_key_id, KeyError, Keyring, MasterKey, Wrapper};
use crate::domain::RecordKind;
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Data keys re-wrapped per transaction.
pub const ROTATION_BATCH: i64 = 1_000;

/// What a rotation did.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RotationOutcome {
    /// The key store's generation after the rotation.
    pub generation: i64,
    pub keys_rewrapped: u64,
    /// The key store had already moved to the new key (an earlier run was killed after it).
    pub already_done: bool,
}

/// Re-wraps everything under `next`. `progress(rewrapped so far)` after each batch.
pub async fn rotate(
    store: &dyn Store,
    current: &MasterKey,
    next: &MasterKey,
    now: DateTime<Utc>,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<RotationOutcome, LedgerError> {
    let meta = store
        .keystore_meta()
        .await?
        .ok_or(LedgerError::KeyStoreMissing)?;
    let next_wrapper = Wrapper::of(next);
    let next_check = next_wrapper.key_check();
    if meta.key_check == next_check && meta.next_check.is_none() {
        return Ok(RotationOutcome {
            generation: meta.generation,
            keys_rewrapped: 0,
            already_done: true,
        });
    }
    let wrapper = Wrapper::of(current);
    wrapper.confirm_key_check(&meta.key_check)?;
    if meta.next_check.as_deref().is_some_and(|c| c != next_check) {
        return Err(KeyError::RotationInProgress.into());
    }
    let root = match meta.root {
        Some(root) => root,
        None => {
            store
                .set_root_if_missing(&wrapper.legacy_root(current))
                .await?
        }
    };
    let keyring = Keyring::open(wrapper, &root)?;
    if !store.begin_rotation(&next_check).await? {
        return Err(KeyError::RotationInProgress.into());
    }
    let target = meta.generation + 1;
    let mut rewrapped = 0u64;
    loop {
        let batch = store
            .keys_outside_generation(target, ROTATION_BATCH)
            .await?;
        if batch.is_empty() {
            break;
        }
        let moved = batch
            .iter()
            .map(|(owner, wrapped)| {
                keyring
                    .rewrap_data_key(owner, wrapped, &next_wrapper)
                    .map(|w| (owner.clone(), w))
            })
            .collect::<Result<Vec<_>, _>>()?;
        store.rewrap_keys(&moved, target).await?;
        rewrapped += moved.len() as u64;
        progress(rewrapped);
    }
    // Ledgered before the key store switches over: a crash in between records it twice, never
    // not at all.
    let record = chain::system_record(
        RecordKind::KeyRotation,
        serde_json::json!({
            "generation": target, "keys_rewrapped": rewrapped,
            "signing_key": public_key_id(keyring.public_key()),
        }),
        now.timestamp(),
        None,
    );
    store.append_record(&record, &chain::link).await?;
    if !store
        .finish_rotation(&keyring.rewrap_root(&next_wrapper), target)
        .await?
    {
        return Err(StoreError::Corrupt(
            "a data key is still under the old master key after the rotation".into(),
        )
        .into());
    }
    Ok(RotationOutcome {
        generation: target,
        keys_rewrapped: rewrapped,
        already_done: false,
    })
}
