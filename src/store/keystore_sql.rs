//! The SQL of [`KeyStore`](super::KeyStore), shared by both backends like `common.rs`.

macro_rules! impl_keystore_sql {
    ($store:ty, $db:ty) => {
        use crate::crypto::WrappedKey;
        use crate::store::keystore::{KeyStore, KeystoreMeta};

        type MetaRow = (Vec<u8>, Option<Vec<u8>>, i64, Option<Vec<u8>>);

        fn meta(row: MetaRow) -> KeystoreMeta {
            KeystoreMeta { key_check: row.0, root: row.1.map(WrappedKey), generation: row.2, next_check: row.3 }
        }

        const META: &str = "SELECT key_check, root, generation, next_check FROM keystore_meta WHERE id = 1";

        #[async_trait::async_trait]
        impl KeyStore for $store {
            async fn keystore_meta(&self) -> Result<Option<KeystoreMeta>, StoreError> {
                let row: Option<MetaRow> = sqlx::query_as(META).fetch_optional(&self.keys).await?;
                Ok(row.map(meta))
            }

            async fn key_owners_with_prefix(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
                let pattern = format!("{}%", prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
                Ok(sqlx::query_scalar("SELECT owner FROM data_keys WHERE owner LIKE $1 ESCAPE '\\' ORDER BY owner")
                    .bind(pattern)
                    .fetch_all(&self.keys)
                    .await?)
            }

            async fn init_keystore(&self, key_check: &[u8], root: &WrappedKey, now: i64) -> Result<KeystoreMeta, StoreError> {
                sqlx::query(
                    "INSERT INTO keystore_meta (id, key_check, created_at, root, generation) VALUES (1, $1, $2, $3, 0) \
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(key_check)
                .bind(now)
                .bind(root.0.as_slice())
                .execute(&self.keys)
                .await?;
                let row: MetaRow = sqlx::query_as(META).fetch_one(&self.keys).await?;
                Ok(meta(row))
            }

            async fn set_root_if_missing(&self, root: &WrappedKey) -> Result<WrappedKey, StoreError> {
                sqlx::query("UPDATE keystore_meta SET root = $1 WHERE id = 1 AND root IS NULL")
                    .bind(root.0.as_slice())
                    .execute(&self.keys)
                    .await?;
                let stored: Option<Vec<u8>> =
                    sqlx::query_scalar("SELECT root FROM keystore_meta WHERE id = 1").fetch_one(&self.keys).await?;
                stored.map(WrappedKey).ok_or_else(|| StoreError::Corrupt("the key store has no root".into()))
            }

            async fn begin_rotation(&self, next_check: &[u8]) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE keystore_meta SET next_check = $1 WHERE id = 1 AND (next_check IS NULL OR next_check = $1)",
                )
                .bind(next_check)
                .execute(&self.keys)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn keys_outside_generation(&self, generation: i64, limit: i64) -> Result<Vec<(String, WrappedKey)>, StoreError> {
                let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(
                    "SELECT owner, wrapped FROM data_keys WHERE generation <> $1 ORDER BY owner LIMIT $2",
                )
                .bind(generation)
                .bind(limit)
                .fetch_all(&self.keys)
                .await?;
                Ok(rows.into_iter().map(|(o, w)| (o, WrappedKey(w))).collect())
            }

            async fn rewrap_keys(&self, keys: &[(String, WrappedKey)], generation: i64) -> Result<(), StoreError> {
                let mut tx = self.keys.begin().await?;
                for (owner, wrapped) in keys {
                    sqlx::query("UPDATE data_keys SET wrapped = $1, generation = $2 WHERE owner = $3")
                        .bind(wrapped.0.as_slice())
                        .bind(generation)
                        .bind(owner.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn finish_rotation(&self, root: &WrappedKey, generation: i64) -> Result<bool, StoreError> {
                let mut tx = self.keys.begin().await?;
                let left: i64 = sqlx::query_scalar("SELECT count(*) FROM data_keys WHERE generation <> $1")
                    .bind(generation)
                    .fetch_one(&mut *tx)
                    .await?;
                if left > 0 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                let done = sqlx::query(
                    "UPDATE keystore_meta SET key_check = next_check, next_check = NULL, root = $1, generation = $2 \
                     WHERE id = 1 AND next_check IS NOT NULL",
                )
                .bind(root.0.as_slice())
                .bind(generation)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

pub(super) use impl_keystore_sql;
