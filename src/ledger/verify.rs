//! Integrity verification: recomputes the chain from the first record, checks that sequence
//! numbers run without gaps, that each record links to its predecessor, that each hash is
//! right, that each held value is the ciphertext its record committed to, that the head marker
//! agrees, and that every stored checkpoint is signed by this ledger and still on the chain.
//! Reads in bounded pages, so memory stays flat whatever the ledger's size.

use super::{chain, Ledger, LedgerError};
use crate::crypto::sha256;
use crate::domain::{ChainHead, Digest, RecordKind};
use crate::store::{ScannedRecord, StoreError};
use serde::Serialize;

const PAGE: i64 = 20_000;

/// The first record that does not check, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadEntry {
    pub seq: i64,
    pub reason: String,
}

/// What `verify` found (CONTRACT.md: `ok`, `entries_checked`, `first_bad`).
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    pub entries_checked: u64,
    pub first_bad: Option<BadEntry>,
    pub head_seq: i64,
    pub head_hash: String,
    pub checkpoints_checked: u64,
    pub latest_checkpoint_seq: Option<i64>,
}

impl VerifyReport {
    /// The run as stored for reports.
    pub fn as_run(&self, verified_at: i64) -> crate::store::Verification {
        crate::store::Verification {
            verified_at,
            ok: self.ok,
            entries_checked: self.entries_checked,
            head_seq: self.head_seq,
            first_bad_seq: self.first_bad.as_ref().map(|b| b.seq),
            reason: self.first_bad.as_ref().map(|b| b.reason.clone()),
        }
    }
}

impl Ledger {
    /// Verifies the whole ledger. `progress` is called with the number of records checked so far.
    #[tracing::instrument(name = "ledger.verify", skip_all, err)]
    pub async fn verify(&self, progress: &mut dyn FnMut(u64)) -> Result<VerifyReport, LedgerError> {
        let stored_head = self.store.head().await?;
        let mut expected = ChainHead::GENESIS;
        let mut checked = 0u64;
        let mut first_bad = None;
        // The next page is read while this one is checked.
        let mut next = self.prefetch(0);
        'pages: loop {
            let page = next.await.expect("the scan task does not panic")?;
            let Some(last) = page.last() else { break };
            next = self.prefetch(last.seq);
            for scanned in &page {
                if let Err(reason) = check_record(scanned, &expected) {
                    first_bad = Some(BadEntry {
                        seq: scanned.seq.min(expected.seq + 1),
                        reason,
                    });
                    break 'pages;
                }
                expected = ChainHead {
                    seq: scanned.seq,
                    hash: scanned.record.as_ref().map(|r| r.hash).unwrap_or_default(),
                };
                checked += 1;
            }
            progress(checked);
        }
        if first_bad.is_none()
            && (stored_head.seq != expected.seq || stored_head.hash != expected.hash)
        {
            first_bad = Some(BadEntry {
                seq: expected.seq.min(stored_head.seq) + 1,
                reason: format!("the chain ends at entry {} but the head marker says {}: entries were removed or added", expected.seq, stored_head.seq),
            });
        }
        let (checkpoints_checked, latest, checkpoint_bad) = self.verify_checkpoints().await?;
        if first_bad.is_none() {
            first_bad = checkpoint_bad;
        }
        Ok(VerifyReport {
            ok: first_bad.is_none(),
            entries_checked: checked,
            first_bad,
            head_seq: expected.seq,
            head_hash: hex::encode(expected.hash),
            checkpoints_checked,
            latest_checkpoint_seq: latest,
        })
    }

    fn prefetch(
        &self,
        after_seq: i64,
    ) -> tokio::task::JoinHandle<Result<Vec<ScannedRecord>, StoreError>> {
        let store = self.store.clone();
        tokio::spawn(async move { store.scan(after_seq, PAGE).await })
    }

    async fn verify_checkpoints(
        &self,
    ) -> Result<(u64, Option<i64>, Option<BadEntry>), LedgerError> {
        let Some(cp) = self.store.latest_checkpoint().await? else {
            return Ok((0, None, None));
        };
        let bad = self.check_checkpoint(&cp).await?.err().map(|e| BadEntry {
            seq: cp.seq,
            reason: format!("stored checkpoint: {e}"),
        });
        Ok((1, Some(cp.seq), bad))
    }
}

fn check_record(scanned: &ScannedRecord, prev: &ChainHead) -> Result<(), String> {
    let record = scanned
        .record
        .as_ref()
        .map_err(|why| format!("unreadable record: {why}"))?;
    if record.seq != prev.seq + 1 {
        return Err(format!(
            "expected entry {} next but found {}: an entry was removed or inserted",
            prev.seq + 1,
            record.seq
        ));
    }
    if record.prev_hash != prev.hash {
        return Err(
            "does not link to the entry before it: entries were reordered, removed or inserted"
                .into(),
        );
    }
    if chain::link(record.seq, &prev.hash, &record.body) != record.hash {
        return Err("its hash does not match its content: the entry was changed".into());
    }
    check_content(
        record.body.kind,
        record.body.content_digest.as_ref(),
        scanned,
    )?;
    scanned.inconsistency.clone().map_or(Ok(()), Err)
}

fn check_content(
    kind: RecordKind,
    digest: Option<&Digest>,
    scanned: &ScannedRecord,
) -> Result<(), String> {
    match (kind, digest, &scanned.content) {
        (RecordKind::Field, Some(_), None) => Err("its content row is missing".into()),
        (RecordKind::Field, Some(d), Some(Some(sealed))) if sha256(&[sealed]) != *d => {
            Err("its stored ciphertext is not the one the chain committed to: the value was changed or moved".into())
        }
        _ => Ok(()),
    }
}
