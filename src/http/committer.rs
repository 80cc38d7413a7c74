//! Group commit: envelopes posted concurrently are recorded many per transaction, each request
//! answered only once the transaction holding its envelope has committed, so an acknowledged
//! delivery is never lost and the service is not limited to one transaction per request.
//!
//! The writer is a two-stage pipeline: while one batch is being appended (the ledger's write
//! transaction), each request that arrives is sealed onto the next batch as it comes (subjects
//! looked up, values encrypted), and the moment the append commits, the next batch starts, so the
//! CPU work and the database work overlap and the database does not wait for sealing. Appends
//! stay in order, one at a time. A batch whose append fails for a reason a fresh look can cure (a
//! subject forgotten by a purge or an erasure, a number bound by another writer first) is
//! recorded again from scratch before its requests are answered.

use super::metrics::Metrics;
use crate::clock;
use crate::ledger::{Ledger, LedgerError, PreparedEnvelope, SealedBatch};
use crate::store::{AppendOutcome, StoreError};
use std::future::Future;
use std::pin::Pin;
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
        let writer = Writer {
            ledger: Some(ledger),
            sealing: None,
            next: Batch::default(),
            metrics,
        };
        let task = tokio::spawn(writer.run(rx));
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

/// Requests sealed (or not) into one batch, in arrival order.
#[derive(Default)]
struct Batch {
    envelopes: Vec<PreparedEnvelope>,
    replies: Vec<Reply>,
    /// What sealing made of them so far; `Sealing::Failed` once a part failed, in which case the
    /// whole batch is recorded afresh when its turn comes.
    sealed: Sealing,
}

#[derive(Default)]
enum Sealing {
    #[default]
    Empty,
    Sealed(SealedBatch),
    Failed,
}

impl Batch {
    fn len(&self) -> usize {
        self.envelopes.len()
    }
}

/// A batch whose append is running.
struct InFlight {
    envelopes: Vec<PreparedEnvelope>,
    replies: Vec<Reply>,
    append: JoinHandle<Result<AppendOutcome, LedgerError>>,
}

/// Requests being sealed, with the ledger they are sealed by (handed back when it ends).
struct SealRun {
    /// How many requests it holds.
    requests: usize,
    ended: Pin<Box<dyn Future<Output = Box<SealEnded>> + Send>>,
}

/// A sealing that ended: the ledger back, the requests, and what they were sealed into.
struct SealEnded {
    ledger: Ledger,
    envelopes: Vec<PreparedEnvelope>,
    replies: Vec<Reply>,
    sealed: Result<SealedBatch, LedgerError>,
}

struct Writer {
    /// The ledger, home unless a sealing holds it.
    ledger: Option<Ledger>,
    /// Requests being sealed now, while the writer keeps watching the running append.
    sealing: Option<SealRun>,
    /// Requests sealed since the running append started: the next batch.
    next: Batch,
    metrics: Arc<Metrics>,
}

impl Writer {
    /// Seals requests as they arrive onto the next batch; whenever no append is running, the next
    /// batch (everything sealed meanwhile) starts appending at once, so the database never waits
    /// for sealing and sealing never waits for the database. Sealing runs beside the wait for the
    /// running append (it waits on the key store and the ledger's reads itself), so an append
    /// that commits while requests are being sealed is followed by the next one at once; the
    /// requests being sealed go into the batch after.
    async fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        let mut in_flight: Option<InFlight> = None;
        let mut open = true;
        let mut arrived: Vec<Job> = Vec::new();
        loop {
            while self.next.len() + arrived.len() < BATCH {
                match rx.try_recv() {
                    Ok(job) => arrived.push(job),
                    Err(_) => break,
                }
            }
            if self.sealing.is_none() && !arrived.is_empty() {
                self.seal(std::mem::take(&mut arrived));
            }
            if in_flight.is_none() && self.next.len() > 0 {
                in_flight = self.start().await;
                continue;
            }
            if !open && in_flight.is_none() && self.sealing.is_none() && arrived.is_empty() {
                break;
            }
            let room = open && self.next.len() + arrived.len() < BATCH;
            let event = tokio::select! {
                job = rx.recv(), if room => Event::Arrived(job),
                ended = async { (&mut self.sealing.as_mut().expect("a sealing runs").ended).await },
                    if self.sealing.is_some() => Event::Sealed(ended),
                appended = async { (&mut in_flight.as_mut().expect("a batch is in flight").append).await },
                    if in_flight.is_some() => Event::Committed(appended),
            };
            match event {
                Event::Arrived(Some(job)) => arrived.push(job),
                Event::Arrived(None) => open = false,
                Event::Sealed(ended) => {
                    self.sealing = None;
                    self.sealed(ended);
                }
                Event::Committed(appended) => {
                    let done = in_flight.take().expect("a batch was in flight");
                    let committed = matches!(appended, Ok(Ok(_)));
                    if committed && self.next.len() > 0 {
                        // The next batch goes to the database before this one's callers are
                        // answered. After a failure it waits: this batch is recorded again first.
                        in_flight = self.start().await;
                    }
                    self.finish(done.envelopes, done.replies, Some(appended))
                        .await;
                }
            }
        }
    }

    /// Starts sealing newly arrived requests; the ledger goes with them until they are sealed.
    fn seal(&mut self, jobs: Vec<Job>) {
        let mut ledger = self.ledger.take().expect("the ledger is home");
        let (envelopes, replies): (Vec<PreparedEnvelope>, Vec<Reply>) =
            jobs.into_iter().map(|j| (j.envelope, j.reply)).unzip();
        let requests = envelopes.len();
        let ended = Box::pin(async move {
            let sealed = ledger.seal(&envelopes, clock::now()).await;
            Box::new(SealEnded {
                ledger,
                envelopes,
                replies,
                sealed,
            })
        });
        self.sealing = Some(SealRun { requests, ended });
    }

    /// Takes the ledger back from a sealing that ended and adds its requests to the next batch.
    fn sealed(&mut self, ended: Box<SealEnded>) {
        let SealEnded {
            mut ledger,
            envelopes,
            replies,
            sealed,
        } = *ended;
        let batch = &mut self.next;
        match (sealed, &mut batch.sealed) {
            (_, Sealing::Failed) => {}
            (Ok(sealed), Sealing::Sealed(earlier)) => earlier.absorb(sealed),
            (Ok(sealed), empty) => *empty = Sealing::Sealed(sealed),
            (Err(e), state) => {
                // Recorded afresh (with its own retries) when its turn comes.
                tracing::debug!(error.message = %e, "sealing a batch failed; it is recorded again");
                ledger.forget_cached_subjects();
                *state = Sealing::Failed;
            }
        }
        batch.envelopes.extend(envelopes);
        batch.replies.extend(replies);
        self.ledger = Some(ledger);
    }

    /// The ledger, once any sealing running has ended (its requests join the next batch).
    async fn ledger(&mut self) -> &mut Ledger {
        if let Some(sealing) = self.sealing.take() {
            let ended = sealing.ended.await;
            self.sealed(ended);
        }
        self.ledger.as_mut().expect("the ledger is home")
    }

    /// Starts appending the next batch; one whose sealing failed is recorded afresh here instead
    /// (and answered), so nothing is left in flight.
    async fn start(&mut self) -> Option<InFlight> {
        if self
            .sealing
            .as_ref()
            .is_some_and(|s| self.next.len() < s.requests)
        {
            // Most of what waits is still being sealed: a transaction for the few sealed would
            // cost the database nearly what one for all of them will, so they wait for the rest.
            self.ledger().await;
        }
        let batch = std::mem::take(&mut self.next);
        match batch.sealed {
            Sealing::Sealed(sealed) => Some(InFlight {
                envelopes: batch.envelopes,
                replies: batch.replies,
                append: tokio::spawn(sealed.append()),
            }),
            Sealing::Empty | Sealing::Failed => {
                self.finish(batch.envelopes, batch.replies, None).await;
                None
            }
        }
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
                let ledger = self.ledger().await;
                ledger.forget_cached_subjects();
                ledger.record(&envelopes, clock::now()).await
            }
            Some(Ok(Err(e))) => {
                self.ledger().await.forget_cached_subjects();
                Err(e)
            }
            Some(Err(panicked)) => {
                self.ledger().await.forget_cached_subjects();
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
    Sealed(Box<SealEnded>),
    Committed(Appended),
}
