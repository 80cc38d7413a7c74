//! The HTTP service `serve` runs beside the scheduler (axum on tokio): Meta's signed webhooks,
//! sends from the sending platform, erasure requests from support staff, compliance reports for
//! the DPO, health and Prometheus metrics. Every request gets an id that its log lines carry;
//! errors are one JSON line `{"error": …}` with no personal data; shutdown drains requests in
//! flight. The OpenAPI document of the routes is `openapi.json` beside this file.

mod auth;
mod committer;
mod metrics;
mod routes;
mod webhook;

pub use auth::Role;
pub use committer::{CommitError, Committer, Recorded};
pub use metrics::Metrics;

use crate::config::Secret;
use crate::crypto::WebhookKey;
use crate::ledger::Ledger;
use crate::policy::Policies;
use crate::store::Store;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::future::Future;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tracing::Instrument;

/// The OpenAPI 3.1 document of the routes, served at `/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Request bodies above this are refused with 413.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// What every handler shares.
pub struct Service {
    pub store: Arc<dyn Store>,
    pub policies: Policies,
    pub committer: Committer,
    /// For erasure requests (sealing their reference) and reading them back.
    pub ledger: tokio::sync::Mutex<Ledger>,
    pub webhook_key: Option<WebhookKey>,
    pub verify_token: Option<Secret>,
    pub metrics: Arc<Metrics>,
    warned_no_secret: AtomicBool,
}

pub type AppState = Arc<Service>;

impl Service {
    pub fn new(
        store: Arc<dyn Store>,
        policies: Policies,
        committer: Committer,
        ledger: Ledger,
        app_secret: Option<&Secret>,
        verify_token: Option<Secret>,
        metrics: Arc<Metrics>,
    ) -> AppState {
        Arc::new(Self {
            store,
            policies,
            committer,
            ledger: tokio::sync::Mutex::new(ledger),
            webhook_key: app_secret.map(|s| WebhookKey::new(s.expose_secret())),
            verify_token,
            metrics,
            warned_no_secret: AtomicBool::new(false),
        })
    }
}

/// One line of error as JSON.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({"error": message}))).into_response()
}

/// Every route of the contract.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/webhooks/whatsapp",
            get(webhook::handshake).post(webhook::notification),
        )
        .route("/v1/sends", post(routes::send))
        .route("/v1/erasure-requests", post(routes::create_erasure))
        .route("/v1/erasure-requests/{id}", get(routes::get_erasure))
        .route("/v1/reports/compliance", get(routes::report))
        .route("/healthz", get(routes::healthz))
        .route("/metrics", get(routes::metrics))
        .route("/openapi.json", get(routes::openapi))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such route; see /openapi.json") })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Gives each request an id (logged on every line of it and returned as `x-request-id`) and
/// records its route template, status and latency.
async fn observe(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let id = uuid::Uuid::now_v7().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let method = request.method().to_string();
    let span = tracing::info_span!("http", request_id = %id, route = %route, method = %method);
    let started = std::time::Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    // axum's own refusals (a body over the limit, a wrong method) answer in the same JSON form.
    let plain = |r: &Response| {
        !r.headers()
            .get(axum::http::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/json"))
    };
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && plain(&response) {
        response = error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the body is over the 1 MiB limit",
        );
    } else if response.status() == StatusCode::METHOD_NOT_ALLOWED && plain(&response) {
        response = error(
            StatusCode::METHOD_NOT_ALLOWED,
            "this route does not take that method; see /openapi.json",
        );
    }
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        // The rest of the body was not read, so hyper drops the connection after answering; saying
        // so keeps a client from sending its next request on a connection about to close.
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            HeaderValue::from_static("close"),
        );
    }
    let status = response.status().as_u16();
    let seconds = started.elapsed().as_secs_f64();
    state.metrics.request(&route, &method, status, seconds);
    span.in_scope(|| tracing::info!(status, ms = seconds * 1000.0, "request answered"));
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// Serves until `shutdown` completes, then stops taking connections and drains requests in
/// flight (each is answered only after its envelope commits).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
