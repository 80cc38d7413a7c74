//! Group commit: envelopes posted concurrently are recorded many per transaction, each request
//! answered only once the transaction holding its envelope has committed, so an acknowledged
//! delivery is never lost and the service is not limited to one transaction per request.

use super::metrics::Metrics;
use crate::clock;
use crate::ledger::{Ledger, PreparedEnvelope};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

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

struct Job {
    envelope: PreparedEnvelope,
    reply: oneshot::Sender<Result<Recorded, CommitError>>,
}

/// The handle requests record through; cloning it is cheap.
#[derive(Clone)]
pub struct Committer {
    jobs: mpsc::Sender<Job>,
}

impl Committer {
    /// Starts the writer task, which owns `ledger` and ends when every handle is dropped.
    pub fn start(ledger: Ledger, metrics: Arc<Metrics>) -> (Self, tokio::task::JoinHandle<()>) {
        let (jobs, rx) = mpsc::channel(QUEUE);
        let task = tokio::spawn(write(ledger, rx, metrics));
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

async fn write(mut ledger: Ledger, mut rx: mpsc::Receiver<Job>, metrics: Arc<Metrics>) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < BATCH {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let (envelopes, replies): (Vec<PreparedEnvelope>, Vec<_>) =
            jobs.into_iter().map(|j| (j.envelope, j.reply)).unzip();
        let outcome = ledger.record(&envelopes, clock::now()).await;
        match outcome {
            Ok(outcome) => {
                for ((envelope, reply), fresh) in envelopes.iter().zip(replies).zip(&outcome.fresh)
                {
                    let entries = if *fresh {
                        envelope.extracted.fields.len() as u64
                    } else {
                        0
                    };
                    if *fresh {
                        metrics.recorded(&envelope.extracted.fields);
                    }
                    let _ = reply.send(Ok(Recorded {
                        duplicate: !fresh,
                        entries,
                    }));
                }
                metrics.batch(envelopes.len());
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
