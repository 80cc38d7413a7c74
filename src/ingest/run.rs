//! The ingest loop: lines in, envelopes recorded. Each line is parsed and extracted on its own
//! (a bad line is refused with its number and reason and the rest go on); good envelopes are
//! gathered into batches and recorded one transaction per batch. A checkpoint of the chain head
//! is signed when the run finishes.

use super::{extract, Envelope};
use crate::ledger::{Ledger, LedgerError, PreparedEnvelope};
use crate::store::{AppendOutcome, Checkpoint, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Envelopes per transaction, and a cap on entries per transaction.
const BATCH_ENVELOPES: usize = 1_000;
const BATCH_ENTRIES: usize = 10_000;

/// A refused line.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RejectedLine {
    pub source: String,
    pub line: u64,
    pub error: String,
}

/// What an ingest run did (CONTRACT.md: `accepted`, `rejected`, `entries`, `duplicates`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestSummary {
    pub accepted: u64,
    pub rejected: Vec<RejectedLine>,
    pub entries: u64,
    pub duplicates: u64,
    pub checkpoint_seq: Option<i64>,
}

/// A batch being appended, kept until its append succeeds (it is recorded again if a purge
/// forgot one of its subjects meanwhile).
type InFlight = (
    Vec<PreparedEnvelope>,
    tokio::task::JoinHandle<Result<AppendOutcome, LedgerError>>,
);

/// Feeds lines into the ledger in batches.
pub struct Ingestor<'a> {
    ledger: &'a mut Ledger,
    now: DateTime<Utc>,
    batch: Vec<PreparedEnvelope>,
    batch_entries: usize,
    /// The batch being appended, kept until its append succeeds.
    in_flight: Option<InFlight>,
    summary: IngestSummary,
}

impl<'a> Ingestor<'a> {
    pub fn new(ledger: &'a mut Ledger, now: DateTime<Utc>) -> Self {
        Self {
            ledger,
            now,
            batch: Vec::new(),
            batch_entries: 0,
            in_flight: None,
            summary: IngestSummary::default(),
        }
    }

    /// Parses one line; a good envelope joins the batch, a bad one is refused. Blank lines are
    /// skipped. `default_kind` fills a missing `kind` (HTTP routes).
    pub async fn push_line(
        &mut self,
        source: &str,
        line_no: u64,
        line: &[u8],
        default_kind: Option<&str>,
    ) -> Result<(), LedgerError> {
        let text = match std::str::from_utf8(line) {
            Ok(text) => text.trim(),
            Err(_) => {
                self.reject(
                    source,
                    line_no,
                    "the line is not UTF-8 text; save the file as UTF-8".into(),
                );
                return Ok(());
            }
        };
        if text.is_empty() {
            return Ok(());
        }
        match prepare(text, default_kind) {
            Ok(envelope) => self.push(envelope).await,
            Err(error) => {
                self.reject(source, line_no, error);
                Ok(())
            }
        }
    }

    /// Adds an already-prepared envelope to the batch, flushing when the batch is full.
    pub async fn push(&mut self, envelope: PreparedEnvelope) -> Result<(), LedgerError> {
        self.batch_entries += envelope.extracted.fields.len();
        self.batch.push(envelope);
        if self.batch.len() >= BATCH_ENVELOPES || self.batch_entries >= BATCH_ENTRIES {
            self.flush().await?;
        }
        Ok(())
    }

    /// Lines refused so far.
    pub fn rejected(&self) -> &[RejectedLine] {
        &self.summary.rejected
    }

    /// Envelopes recorded so far (excluding the batch in flight).
    pub fn accepted(&self) -> u64 {
        self.summary.accepted
    }

    /// Records what is left and signs a checkpoint of the new head.
    pub async fn finish(mut self) -> Result<IngestSummary, LedgerError> {
        self.flush().await?;
        self.settle().await?;
        let checkpoint: Option<Checkpoint> = if self.summary.entries > 0 {
            self.ledger.sign_checkpoint(self.now).await?
        } else {
            None
        };
        self.summary.checkpoint_seq = checkpoint.map(|c| c.seq);
        Ok(self.summary)
    }

    /// Seals the batch, then hands it to a task that appends it while the next batch is read
    /// and sealed (appends stay in order: one is in flight at a time).
    async fn flush(&mut self) -> Result<(), LedgerError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let sealed = match self.ledger.seal(&self.batch, self.now).await {
            Ok(sealed) => Some(sealed),
            // A subject of the batch is being erased: `settle` records the batch afresh.
            Err(LedgerError::Store(StoreError::SubjectForgotten)) => None,
            Err(e) => return Err(e),
        };
        let batch = std::mem::take(&mut self.batch);
        self.batch_entries = 0;
        self.settle().await?;
        let task = match sealed {
            Some(sealed) => tokio::spawn(sealed.append()),
            None => tokio::spawn(async { Err(StoreError::SubjectForgotten.into()) }),
        };
        self.in_flight = Some((batch, task));
        Ok(())
    }

    /// Waits for the append in flight, if any, and counts what it did.
    async fn settle(&mut self) -> Result<(), LedgerError> {
        let Some((batch, task)) = self.in_flight.take() else {
            return Ok(());
        };
        let outcome = match task.await.expect("the append task does not panic") {
            Err(LedgerError::Store(StoreError::SubjectForgotten)) => {
                // A purge or an erasure forgot a subject cached by this run: look again and record it.
                self.ledger.forget_cached_subjects();
                self.ledger.record(&batch, self.now).await?
            }
            other => other?,
        };
        tracing::debug!(
            accepted = outcome.accepted,
            duplicates = outcome.duplicates,
            entries = outcome.entries,
            "batch recorded"
        );
        self.summary.accepted += outcome.accepted;
        self.summary.duplicates += outcome.duplicates;
        self.summary.entries += outcome.entries;
        Ok(())
    }

    fn reject(&mut self, source: &str, line: u64, error: String) {
        self.summary.rejected.push(RejectedLine {
            source: source.to_string(),
            line,
            error,
        });
    }
}

/// Parses and extracts one envelope; the error is one line without personal data.
pub fn prepare(text: &str, default_kind: Option<&str>) -> Result<PreparedEnvelope, String> {
    let envelope = Envelope::parse(text, default_kind).map_err(|e| e.0)?;
    prepare_envelope(envelope)
}

/// Extracts an envelope already parsed.
pub fn prepare_envelope(envelope: Envelope) -> Result<PreparedEnvelope, String> {
    let extracted = extract(&envelope).map_err(|e| e.0)?;
    Ok(PreparedEnvelope {
        canonical: envelope.canonical_content(),
        extracted,
    })
}
