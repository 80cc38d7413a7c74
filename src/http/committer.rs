//! Group commit: envelopes posted concurrently are recorded many per transaction, each request
//! answered only once the transaction holding its envelope has committed, so an acknowledged
//! delivery is never lost and the service is not limited to one transaction per request.
//!
//! The writer is a two-stage pipeline: while one batch is being appended (the ledger's write
//! transaction), the requests that arrived meanwhile are sealed as the next batch (subjects
//! looked up, values encrypted), so the CPU work and the database work overlap. Appends stay in
//! order, one at a time. A batch whose append fails for a reason a fresh look can cure (a subject
//! forgotten by a purge or an erasure, a number bound by another writer first) is recorded again
//! from scratch before its requests are answered.

use super::metrics::Metrics;
use crate::clock;
use crate::ledger::{Ledger, LedgerError, PreparedEnvelope};
use crate::store::{AppendOutcome, StoreError};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Envelopes per transaction at most.
const BATCH: usize = 1_000;
/// Requests that may wait for the writer before new ones are held back.
const QUEUE: usize = 8_192;

/// What recording one envelope did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// Already recorded before (a retried delivery): nothing new was written.
    pub duplicate: bool,
    pub entries: u64,
}

/// Why an envelope was not recorded (the store failed; its message carries no personal data).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct CommitError(pub String);

type Reply = oneshot::Sender<Result<Recorded, CommitError>>;

struct Job {
    envelope: PreparedEnvelope,
    reply: Reply,
}

/// The handle requests record through; cloning it is cheap.
#[derive(Clone)]
pub struct Committer {
    jobs: mpsc::Sender<Job>,
}

impl Committer {
    /// Starts the writer task, which owns `ledger` and ends when every handle is dropped.
    pub fn start(ledger: Ledger, metrics: Arc<Metrics>) -> (Self, JoinHandle<()>) {
        let (jobs, rx) = mpsc::channel(QUEUE);
        let task = tokio::spawn(Writer { ledger, metrics }.run(rx));
        (Self { jobs }, task)
    }

    /// Records one envelope; returns once it is committed (or failed).
    pub async fn record(&self, envelope: PreparedEnvelope) -> Result<Recorded, CommitError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { envelope, reply })
            .await
            .map_err(|_| CommitError("the service is shutting down; retry".into()))?;
        answer
            .await
            .map_err(|_| CommitError("the writer stopped before committing; retry".into()))?
    }
}

/// A batch whose append is running.
struct InFlight {
    envelopes: Vec<PreparedEnvelope>,
    replies: Vec<Reply>,
    /// `None` when sealing failed: the batch is recorded afresh when it is settled.
    append: Option<JoinHandle<Result<AppendOutcome, LedgerError>>>,
}

struct Writer {
    ledger: Ledger,
    metrics: Arc<Metrics>,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        let mut in_flight: Option<InFlight> = None;
        let mut open = true;
        loop {
            let jobs = match self.gather(&mut rx, &mut in_flight, &mut open).await {
                Some(jobs) => jobs,
                None => break,
            };
            let (envelopes, replies): (Vec<PreparedEnvelope>, Vec<Reply>) =
                jobs.into_iter().map(|j| (j.envelope, j.reply)).unzip();
            let sealed = self.ledger.seal(&envelopes, clock::now()).await;
            if let Some(previous) = in_flight.take() {
                self.settle(previous).await;
            }
            let append = match sealed {
                Ok(sealed) => Some(tokio::spawn(sealed.append())),
                Err(e) => {
                    // Recorded afresh (with its own retries) when settled.
                    tracing::debug!(error.message = %e, "sealing a batch failed; it is recorded again");
                    self.ledger.forget_cached_subjects();
                    None
                }
            };
            in_flight = Some(InFlight {
                envelopes,
                replies,
                append,
            });
        }
        if let Some(last) = in_flight.take() {
            self.settle(last).await;
        }
    }

    /// The next batch to seal: every request waiting, at least one. While a batch is appending,
    /// requests are gathered until there are as many as it holds (the pipeline's stages stay
    /// balanced, rather than sealing one envelope at a time) or until it has committed, in which
    /// case it is settled here. `None` once the queue is closed and drained.
    async fn gather(
        &mut self,
        rx: &mut mpsc::Receiver<Job>,
        in_flight: &mut Option<InFlight>,
        open: &mut bool,
    ) -> Option<Vec<Job>> {
        let mut jobs: Vec<Job> = Vec::new();
        loop {
            while jobs.len() < BATCH {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            let target = in_flight.as_ref().map_or(1, |f| f.envelopes.len());
            if jobs.len() >= target.min(BATCH) && !jobs.is_empty() {
                return Some(jobs);
            }
            let appending = in_flight.as_mut().and_then(|f| f.append.as_mut());
            match appending {
                Some(append) if *open => {
                    let event = tokio::select! {
                        job = rx.recv() => Event::Arrived(job),
                        appended = append => Event::Committed(appended),
                    };
                    match event {
                        Event::Arrived(Some(job)) => jobs.push(job),
                        Event::Arrived(None) => *open = false,
                        Event::Committed(appended) => {
                            let done = in_flight.take().expect("a batch was in flight");
                            self.finish(done.envelopes, done.replies, Some(appended))
                                .await;
                        }
                    }
                }
                _ => {
                    if let Some(previous) = in_flight.take() {
                        self.settle(previous).await;
                    }
                    if !jobs.is_empty() {
                        return Some(jobs);
                    }
                    if !*open {
                        return None;
                    }
                    match rx.recv().await {
                        Some(job) => jobs.push(job),
                        None => *open = false,
                    }
                }
            }
        }
    }

    /// Waits for a batch's append and answers its requests.
    async fn settle(&mut self, batch: InFlight) {
        let appended = match batch.append {
            Some(handle) => Some(handle.await),
            None => None,
        };
        self.finish(batch.envelopes, batch.replies, appended).await;
    }

    /// Answers the requests of a batch whose append ended (`None`: it was never started).
    async fn finish(
        &mut self,
        envelopes: Vec<PreparedEnvelope>,
        replies: Vec<Reply>,
        appended: Option<Appended>,
    ) {
        let outcome = match appended {
            Some(Ok(Ok(outcome))) => Ok(outcome),
            Some(Ok(Err(LedgerError::Store(StoreError::SubjectForgotten)))) | None => {
                // A subject it was sealed for is gone or was bound elsewhere first: look again.
                self.ledger.forget_cached_subjects();
                self.ledger.record(&envelopes, clock::now()).await
            }
            Some(Ok(Err(e))) => {
                self.ledger.forget_cached_subjects();
                Err(e)
            }
            Some(Err(panicked)) => {
                self.ledger.forget_cached_subjects();
                Err(LedgerError::Store(StoreError::Corrupt(format!(
                    "the append task stopped: {panicked}"
                ))))
            }
        };
        match outcome {
            Ok(outcome) => {
                for ((envelope, reply), fresh) in envelopes.iter().zip(replies).zip(&outcome.fresh)
                {
                    let entries = if *fresh {
                        self.metrics.recorded(&envelope.extracted.fields);
                        envelope.extracted.fields.len() as u64
                    } else {
                        0
                    };
                    let _ = reply.send(Ok(Recorded {
                        duplicate: !fresh,
                        entries,
                    }));
                }
                self.metrics.batch(envelopes.len());
            }
            Err(e) => {
                tracing::error!(error.message = %e, envelopes = envelopes.len(), "a batch failed to commit");
                let error = CommitError(format!("the ledger could not record it ({e}); retry"));
                for reply in replies {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }
}

type Appended = Result<Result<AppendOutcome, LedgerError>, tokio::task::JoinError>;

/// What the writer woke up for while a batch was appending.
enum Event {
    Arrived(Option<Job>),
    Committed(Appended),
}
