//! Subject access (GDPR Art. 15): everything held about a number under every alias, decrypted,
//! with the history of erasure requests and legal holds about it. Subjects an erasure forgot are
//! found again through the request's lookup digests, so their entries read `erased`.

use super::ErasureView;
use crate::domain::{PhoneNumber, SubjectId};
use crate::ledger::{EntryView, Ledger, LedgerError};
use crate::retention::HoldView;
use chrono::{DateTime, Utc};

/// What `export --phone` returns.
#[derive(Debug, Clone)]
pub struct SubjectAccess {
    pub entries: Vec<EntryView>,
    pub erasure_requests: Vec<ErasureView>,
    pub holds: Vec<HoldView>,
}

impl Ledger {
    pub async fn subject_access(
        &mut self,
        phone: &PhoneNumber,
        now: DateTime<Utc>,
    ) -> Result<SubjectAccess, LedgerError> {
        let requests = self.erasure_history(phone).await?;
        let mut subjects = self.subjects_of(phone).await?;
        for row in &requests {
            let erased: Vec<String> = row
                .subjects
                .as_deref()
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or_default();
            subjects.extend(erased.into_iter().map(SubjectId::from_stored));
        }
        subjects.sort();
        subjects.dedup();
        let entries = self.export_subjects(&subjects).await?;
        let erasure_requests = self.erasure_views(&requests, now).await?;
        let holds = self
            .list_holds(now)
            .await?
            .into_iter()
            .filter(|h| subjects.iter().any(|s| s.as_str() == h.subject_id))
            .collect();
        Ok(SubjectAccess {
            entries,
            erasure_requests,
            holds,
        })
    }
}
