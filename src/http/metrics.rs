//! Prometheus metrics (text format at `/metrics`): entries recorded by field kind and direction,
//! values purged and erased, erasure requests pending and overdue, scheduled job runs, HTTP
//! requests by route and status with latency histograms, commit batch sizes. Labels are route
//! templates, kinds, directions, jobs and status codes only: never a number, a text or an id.

use crate::domain::{FieldValue, RecordKind};
use crate::erasure::is_overdue;
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::collections::HashMap;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Flow {
    kind: String,
    direction: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Request {
    route: String,
    method: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Route {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Removal {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Job {
    job: String,
    outcome: String,
}

type Seconds = Family<Route, Histogram, fn() -> Histogram>;

fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.000_5, 2.0, 16))
}

/// Every metric the service exports.
pub struct Metrics {
    registry: Registry,
    recorded: Family<Flow, Counter>,
    requests: Family<Request, Counter>,
    duration: Seconds,
    batch: Histogram,
    removed: Family<Removal, Gauge>,
    pending: Gauge,
    overdue: Gauge,
    runs: Family<Job, Gauge>,
    run_seconds: Family<Job, Gauge<f64, std::sync::atomic::AtomicU64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("waledger");
        let recorded = Family::<Flow, Counter>::default();
        registry.register(
            "entries_recorded",
            "Ledger entries recorded through the service, by field kind and direction",
            recorded.clone(),
        );
        let requests = Family::<Request, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route template, method and status",
            requests.clone(),
        );
        let duration: Seconds = Family::new_with_constructor(latency);
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route template",
            duration.clone(),
        );
        let batch = Histogram::new(exponential_buckets(1.0, 2.0, 11));
        registry.register(
            "commit_batch_envelopes",
            "Envelopes committed per transaction (group commit)",
            batch.clone(),
        );
        let removed = Family::<Removal, Gauge>::default();
        registry.register(
            "values_removed",
            "Values removed from the ledger, by reason (purged, erased)",
            removed.clone(),
        );
        let pending = Gauge::default();
        registry.register(
            "erasure_requests_pending",
            "Erasure requests not yet carried out",
            pending.clone(),
        );
        let overdue = Gauge::default();
        registry.register(
            "erasure_requests_overdue",
            "Pending erasure requests past their legal deadline",
            overdue.clone(),
        );
        let runs = Family::<Job, Gauge>::default();
        registry.register(
            "job_runs",
            "Recent scheduled job runs by job and outcome (the last 200)",
            runs.clone(),
        );
        let run_seconds = Family::<Job, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        registry.register(
            "job_last_run_duration_seconds",
            "Duration of the latest finished run of each job",
            run_seconds.clone(),
        );
        Self {
            registry,
            recorded,
            requests,
            duration,
            batch,
            removed,
            pending,
            overdue,
            runs,
            run_seconds,
        }
    }
}

impl Metrics {
    /// Counts the entries of one recorded envelope.
    pub fn recorded(&self, fields: &[FieldValue]) {
        let mut counts: HashMap<(&'static str, &'static str), u64> = HashMap::new();
        for f in fields {
            *counts
                .entry((f.kind.into(), f.direction.into()))
                .or_default() += 1;
        }
        for ((kind, direction), n) in counts {
            self.recorded
                .get_or_create(&Flow {
                    kind: kind.into(),
                    direction: direction.into(),
                })
                .inc_by(n);
        }
    }

    pub fn batch(&self, envelopes: usize) {
        self.batch.observe(envelopes as f64);
    }

    /// One answered request.
    pub fn request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&Request {
                route: route.into(),
                method: method.into(),
                status: status.to_string(),
            })
            .inc();
        self.duration
            .get_or_create(&Route {
                route: route.into(),
            })
            .observe(seconds);
    }

    /// The text exposition, with the gauges read from the store now.
    pub async fn render(
        &self,
        store: &dyn Store,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let requests = store.erasure_requests(true).await?;
        self.pending.set(requests.len() as i64);
        self.overdue
            .set(requests.iter().filter(|r| is_overdue(r, now)).count() as i64);
        let mut purged = 0i64;
        let mut erased = 0i64;
        for event in store
            .chain_events(&[RecordKind::Purge, RecordKind::Erasure], i64::MAX)
            .await?
        {
            let n: u64 = crate::report::removed_values(&event).values().sum();
            match event.kind {
                RecordKind::Purge => purged += n as i64,
                _ => erased += n as i64,
            }
        }
        self.removed
            .get_or_create(&Removal {
                reason: "purged".into(),
            })
            .set(purged);
        self.removed
            .get_or_create(&Removal {
                reason: "erased".into(),
            })
            .set(erased);
        self.runs.clear();
        let mut latest: HashMap<String, f64> = HashMap::new();
        for run in store.runs(None, 200).await? {
            let outcome = run.outcome.clone().unwrap_or_else(|| "running".into());
            self.runs
                .get_or_create(&Job {
                    job: run.job.clone(),
                    outcome,
                })
                .inc();
            if let Some(finished) = run.finished_at {
                latest
                    .entry(run.job.clone())
                    .or_insert((finished - run.started_at) as f64);
            }
        }
        for (job, seconds) in latest {
            self.run_seconds
                .get_or_create(&Job {
                    job,
                    outcome: "finished".into(),
                })
                .set(seconds);
        }
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String does not fail");
        Ok(out)
    }
}
