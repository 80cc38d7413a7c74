//! Legal holds: while a hold is active its subject's values are kept past their windows (and, once
//! erasure lands, not erased). Each hold and each release is ledgered: the chain names the subject
//! only by its random id; the reason and who asked are sealed under the system key.

use crate::crypto::sha256;
use crate::domain::{PhoneNumber, RecordKind};
use crate::ledger::{chain, Ledger, LedgerError};
use crate::store::HoldRow;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Hold ids are `hold-` and a UUIDv7.
pub const HOLD_ID_PREFIX: &str = "hold-";

/// A hold as `hold list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct HoldView {
    pub id: String,
    pub subject_id: String,
    pub reason: String,
    pub from: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
    pub released_at: Option<DateTime<Utc>>,
    pub active: bool,
}

fn reason_aad(id: &str) -> Vec<u8> {
    [b"waledger/hold-reason/v1\0".as_slice(), id.as_bytes()].concat()
}

impl Ledger {
    /// Places a hold on the subject of `phone` (created if the number was never seen, so future
    /// traffic is held too). Returns the hold's id.
    pub async fn add_hold(
        &mut self,
        phone: &PhoneNumber,
        reason: &str,
        requested_by: &str,
        until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<String, LedgerError> {
        let subject = self.subject_for(phone, now).await?;
        let id = format!("{HOLD_ID_PREFIX}{}", uuid::Uuid::now_v7());
        let secret =
            serde_json::json!({"reason": reason, "requested_by": requested_by}).to_string();
        let sealed = self
            .seal_system(&reason_aad(&id), secret.as_bytes(), now)
            .await?;
        let detail = serde_json::json!({
            "hold": id, "subject": subject.as_str(), "from": now.timestamp(), "until": until.map(|t| t.timestamp()),
        });
        let record = chain::system_record(
            RecordKind::Hold,
            detail,
            now.timestamp(),
            Some(sha256(&[&sealed])),
        );
        let row = HoldRow {
            id: id.clone(),
            subject,
            reason: sealed,
            created_at: now.timestamp(),
            until: until.map(|t| t.timestamp()),
            released_at: None,
        };
        self.store().add_hold(&row, &record, &chain::link).await?;
        Ok(id)
    }

    /// Releases a hold; `false` when no active hold has that id.
    pub async fn release_hold(
        &mut self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, LedgerError> {
        let detail = serde_json::json!({"hold": id, "released_at": now.timestamp()});
        let record = chain::system_record(RecordKind::HoldRelease, detail, now.timestamp(), None);
        Ok(self
            .store()
            .release_hold(id, now.timestamp(), &record, &chain::link)
            .await?)
    }

    /// Every hold, oldest first, with its reason decrypted.
    pub async fn list_holds(&mut self, now: DateTime<Utc>) -> Result<Vec<HoldView>, LedgerError> {
        let rows = self.store().holds().await?;
        let mut views = Vec::with_capacity(rows.len());
        for row in rows {
            let secret = self
                .open_system(&reason_aad(&row.id), &row.reason, now)
                .await?;
            let reason = serde_json::from_str::<serde_json::Value>(&secret)
                .ok()
                .and_then(|v| v["reason"].as_str().map(str::to_string))
                .unwrap_or_default();
            let active = row.released_at.is_none() && row.until.is_none_or(|u| u > now.timestamp());
            views.push(HoldView {
                id: row.id,
                subject_id: row.subject.as_str().to_string(),
                reason,
                from: DateTime::from_timestamp(row.created_at, 0).unwrap_or_default(),
                until: row.until.and_then(|t| DateTime::from_timestamp(t, 0)),
                released_at: row.released_at.and_then(|t| DateTime::from_timestamp(t, 0)),
                active,
            });
        }
        Ok(views)
    }
}
