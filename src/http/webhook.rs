//! Meta's webhook: `GET` is the subscription handshake (echo `hub.challenge` when
//! `hub.verify_token` matches), `POST` a notification. The signature is checked over the raw body
//! bytes before anything parses them; a missing or wrong one is 401 and records nothing. Without an
//! app secret every notification is refused (the log says why, once). A notification is
//! acknowledged only after the transaction that records it has committed; Meta's retries of the
//! same delivery are duplicates, not new entries.

use super::{error, AppState};
use crate::ingest::{prepare_envelope, Envelope};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::atomic::Ordering;

pub async fn handshake(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let token = state.verify_token.as_ref().map(|t| t.expose_secret());
    let matches = match (token, query.get("hub.verify_token")) {
        (Some(expected), Some(given)) => {
            crate::crypto::digests_equal(expected.as_bytes(), given.as_bytes())
        }
        _ => false,
    };
    match (
        query.get("hub.mode").map(String::as_str),
        matches,
        query.get("hub.challenge"),
    ) {
        (Some("subscribe"), true, Some(challenge)) => {
            (StatusCode::OK, challenge.clone()).into_response()
        }
        _ => error(
            StatusCode::FORBIDDEN,
            "the verify token does not match WALEDGER_VERIFY_TOKEN",
        ),
    }
}

pub async fn notification(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(key) = &state.webhook_key else {
        if !state.warned_no_secret.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "webhooks are refused: no app secret is configured (set WALEDGER_APP_SECRET)"
            );
        }
        return error(
            StatusCode::UNAUTHORIZED,
            "webhooks are refused until the service has an app secret (WALEDGER_APP_SECRET)",
        );
    };
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    if !key.verify(&body, signature) {
        return error(
            StatusCode::UNAUTHORIZED,
            "the X-Hub-Signature-256 header is missing or does not match the body",
        );
    }
    let payload: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "the body is not JSON (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )
        }
    };
    let received_at = crate::clock::now().to_rfc3339();
    let envelope =
        serde_json::json!({"kind": "webhook", "received_at": received_at, "payload": payload});
    let prepared = match Envelope::from_value(envelope, None)
        .map_err(|e| e.0)
        .and_then(prepare_envelope)
    {
        Ok(p) => p,
        Err(reason) => return error(StatusCode::BAD_REQUEST, &reason),
    };
    match state.committer.record(prepared).await {
        Ok(recorded) => (StatusCode::OK, axum::Json(serde_json::json!({"recorded": !recorded.duplicate, "duplicate": recorded.duplicate, "entries": recorded.entries}))).into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e.0),
    }
}
