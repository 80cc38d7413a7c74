//! Storage of API bearer tokens: id, role, the SHA-256 of the secret (never the token), when it
//! was made and revoked. Implemented for both backends by the macro below.

use super::StoreError;
use async_trait::async_trait;

/// A token as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub id: String,
    pub role: String,
    pub digest: Vec<u8>,
    pub label: Option<String>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn add_token(&self, token: &TokenRow) -> Result<(), StoreError>;
    async fn token(&self, id: &str) -> Result<Option<TokenRow>, StoreError>;
    async fn tokens(&self) -> Result<Vec<TokenRow>, StoreError>;
    /// Revokes an active token; `false` when there is no such active token.
    async fn revoke_token(&self, id: &str, now: i64) -> Result<bool, StoreError>;
    /// Whether the ledger database answers (for health checks).
    async fn ping(&self) -> Result<(), StoreError>;
}

macro_rules! impl_token_sql {
    ($store:ty) => {
        use crate::store::tokens::{TokenRow, TokenStore};

        type Row = (String, String, Vec<u8>, Option<String>, i64, Option<i64>);

        fn token(r: Row) -> TokenRow {
            TokenRow { id: r.0, role: r.1, digest: r.2, label: r.3, created_at: r.4, revoked_at: r.5 }
        }

        #[async_trait::async_trait]
        impl TokenStore for $store {
            async fn add_token(&self, t: &TokenRow) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO tokens (id, role, digest, label, created_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(t.id.as_str())
                    .bind(t.role.as_str())
                    .bind(t.digest.as_slice())
                    .bind(t.label.as_deref())
                    .bind(t.created_at)
                    .execute(&self.ledger)
                    .await?;
                Ok(())
            }

            async fn token(&self, id: &str) -> Result<Option<TokenRow>, StoreError> {
                let row: Option<Row> = sqlx::query_as(
                    "SELECT id, role, digest, label, created_at, revoked_at FROM tokens WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.ledger)
                .await?;
                Ok(row.map(token))
            }

            async fn tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
                let rows: Vec<Row> = sqlx::query_as(
                    "SELECT id, role, digest, label, created_at, revoked_at FROM tokens ORDER BY created_at, id",
                )
                .fetch_all(&self.ledger)
                .await?;
                Ok(rows.into_iter().map(token).collect())
            }

            async fn revoke_token(&self, id: &str, now: i64) -> Result<bool, StoreError> {
                let done = sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                    .bind(now)
                    .bind(id)
                    .execute(&self.ledger)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.ledger).await?;
                Ok(())
            }
        }
    };
}

pub(super) use impl_token_sql;
