//! Bearer tokens and roles. Each token has one role: `ingest` (posts sends), `support` (erasure
//! requests), `dpo` (reports), `admin` (every route). A missing or unknown token is 401, a
//! revoked one too, a token of another role 403. Only the SHA-256 of a token's secret is stored,
//! compared in constant time.

use crate::crypto::{digests_equal, token_parts};
use crate::store::Store;
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use strum::{AsRefStr, Display, EnumIter, EnumString, IntoStaticStr};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Display,
    EnumString,
    AsRefStr,
    IntoStaticStr,
    EnumIter,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Role {
    Ingest,
    Support,
    Dpo,
    Admin,
}

/// Why a request was not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    Unauthenticated,
    Forbidden,
    Unavailable,
}

impl Denied {
    pub fn status(self) -> StatusCode {
        match self {
            Denied::Unauthenticated => StatusCode::UNAUTHORIZED,
            Denied::Forbidden => StatusCode::FORBIDDEN,
            Denied::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Denied::Unauthenticated => "a valid bearer token is required: send `Authorization: Bearer <token>` (create one with `waledger token create`)",
            Denied::Forbidden => "this token's role may not use this route",
            Denied::Unavailable => "the token store is unavailable; retry",
        }
    }
}

/// Checks the bearer token of a request for `role` (an admin token passes every role).
pub async fn authorize(store: &dyn Store, headers: &HeaderMap, role: Role) -> Result<Role, Denied> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(Denied::Unauthenticated)?;
    let (id, digest) = token_parts(token.trim()).ok_or(Denied::Unauthenticated)?;
    let row = store
        .token(id)
        .await
        .map_err(|_| Denied::Unavailable)?
        .ok_or(Denied::Unauthenticated)?;
    if row.revoked_at.is_some() || !digests_equal(&row.digest, &digest) {
        return Err(Denied::Unauthenticated);
    }
    let granted: Role = row.role.parse().map_err(|_| Denied::Unauthenticated)?;
    if granted == role || granted == Role::Admin {
        Ok(granted)
    } else {
        Err(Denied::Forbidden)
    }
}
