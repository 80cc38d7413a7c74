//! The token-protected routes: sends (`ingest`), erasure requests (`support`), compliance reports
//! (`dpo`); and the open ones: health, metrics, the OpenAPI document. Request bodies are the
//! ingest envelopes; responses are the CLI's JSON.

use super::auth::{authorize, Role};
use super::{error, AppState};
use crate::domain::PhoneNumber;
use crate::erasure::NewRequest;
use crate::ingest::envelope::parse_time;
use crate::ingest::{prepare_envelope, Envelope};
use crate::report;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

/// Checks the token, or answers with its refusal.
macro_rules! require {
    ($state:expr, $headers:expr, $role:expr) => {
        if let Err(denied) = authorize($state.store.as_ref(), &$headers, $role).await {
            return error(denied.status(), denied.message());
        }
    };
}

pub async fn send(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    require!(state, headers, Role::Ingest);
    let Ok(text) = std::str::from_utf8(&body) else {
        return error(StatusCode::BAD_REQUEST, "the body is not UTF-8 text");
    };
    let envelope = match Envelope::parse(text, Some("send")) {
        Ok(envelope @ Envelope::Send { .. }) => envelope,
        Ok(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "this route takes send envelopes; Meta's webhooks go to /webhooks/whatsapp",
            )
        }
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.0),
    };
    let prepared = match prepare_envelope(envelope) {
        Ok(p) => p,
        Err(reason) => return error(StatusCode::BAD_REQUEST, &reason),
    };
    match state.committer.record(prepared).await {
        Ok(r) => Json(serde_json::json!({"accepted": 1, "duplicates": u64::from(r.duplicate), "entries": r.entries, "rejected": []})).into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e.0),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErasureBody {
    phone: String,
    reference: Option<String>,
    received_at: Option<String>,
    requested_by: Option<String>,
}

pub async fn create_erasure(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    require!(state, headers, Role::Support);
    let body: ErasureBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("the body is not a request object {{\"phone\", \"reference\", \"received_at\"}} ({})", e.classify_text())),
    };
    let Ok(phone) = PhoneNumber::parse(&body.phone) else {
        return error(
            StatusCode::BAD_REQUEST,
            "phone: not a phone number with its country code (e.g. +44 7700 900123)",
        );
    };
    let now = crate::clock::now();
    let received_at = match body.received_at.as_deref().map(parse_time) {
        None => now,
        Some(Some(t)) if t <= now => t,
        Some(Some(_)) => {
            return error(
                StatusCode::BAD_REQUEST,
                "received_at: the time is in the future",
            )
        }
        Some(None) => {
            return error(
                StatusCode::BAD_REQUEST,
                "received_at: not an RFC 3339 time or YYYY-MM-DD date",
            )
        }
    };
    let mut ledger = state.ledger.lock().await;
    let request = NewRequest {
        phone: &phone,
        reference: body.reference.as_deref(),
        requested_by: body.requested_by.as_deref(),
        received_at,
    };
    let result = async {
        let id = ledger.request_erasure(request, now).await?;
        let row = ledger
            .store()
            .erasure_request(&id)
            .await?
            .expect("just registered");
        ledger.erasure_views(std::slice::from_ref(&row), now).await
    }
    .await;
    match result {
        Ok(mut views) => (StatusCode::ACCEPTED, Json(views.remove(0))).into_response(),
        Err(e) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("the request could not be registered ({e}); retry"),
        ),
    }
}

pub async fn get_erasure(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    require!(state, headers, Role::Support);
    let mut ledger = state.ledger.lock().await;
    let now = crate::clock::now();
    let row = match ledger.store().erasure_request(&id).await {
        Ok(Some(row)) => row,
        Ok(None) => return error(StatusCode::NOT_FOUND, "no erasure request has this id"),
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, &format!("{e}")),
    };
    match ledger.erasure_views(std::slice::from_ref(&row), now).await {
        Ok(mut views) => Json(views.remove(0)).into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &format!("{e}")),
    }
}

#[derive(Deserialize)]
pub struct ReportQuery {
    format: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

pub async fn report(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ReportQuery>,
) -> Response {
    require!(state, headers, Role::Dpo);
    let bound = |t: &Option<String>| t.as_deref().map(report::parse_bound);
    let (from, to) = match (bound(&q.from), bound(&q.to)) {
        (Some(None), _) => {
            return error(
                StatusCode::BAD_REQUEST,
                "from: not an RFC 3339 time or YYYY-MM-DD date",
            )
        }
        (_, Some(None)) => {
            return error(
                StatusCode::BAD_REQUEST,
                "to: not an RFC 3339 time or YYYY-MM-DD date",
            )
        }
        (from, to) => (from.flatten(), to.flatten()),
    };
    let now = crate::clock::now();
    let period = report::period(from, to, now);
    if period.from >= period.to {
        return error(
            StatusCode::BAD_REQUEST,
            "from: the period is empty; give a from before to",
        );
    }
    let built = match report::build(state.store.as_ref(), &state.policies, period, now).await {
        Ok(r) => r,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, &format!("{e}")),
    };
    let (body, content_type) = match q.format.as_deref().unwrap_or("json") {
        "json" => (
            serde_json::to_string_pretty(&built).expect("a report serialises"),
            "application/json",
        ),
        "html" => match report::html::render(&built) {
            Ok(html) => (html, "text/html; charset=utf-8"),
            Err(e) => {
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("the HTML report failed to render: {e}"),
                )
            }
        },
        "markdown" => (report::markdown(&built), "text/markdown; charset=utf-8"),
        "csv" => match report::csv(&built) {
            Ok(csv) => (csv, "text/csv; charset=utf-8"),
            Err(e) => {
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("the CSV report failed: {e}"),
                )
            }
        },
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "format: use json, html, markdown or csv",
            )
        }
    };
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

pub async fn healthz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => Json(serde_json::json!({"status": "ok", "database": "ok"})).into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "degraded", "database": "unreachable"})),
        )
            .into_response(),
    }
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    match state
        .metrics
        .render(state.store.as_ref(), crate::clock::now())
        .await
    {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &format!("{e}")),
    }
}

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], super::OPENAPI).into_response()
}

trait ClassifyText {
    fn classify_text(&self) -> &'static str;
}

impl ClassifyText for serde_json::Error {
    fn classify_text(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Data => "a key is missing, unknown or of the wrong type",
            serde_json::error::Category::Eof => "it is cut short",
            _ => "it is not valid JSON",
        }
    }
}
