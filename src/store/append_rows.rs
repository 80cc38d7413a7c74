//! The hot statements of an append, written per backend: SQLite takes multi-row `VALUES` lists
//! and `IN (…)` lists (cheap to prepare in process); PostgreSQL takes one array per column
//! (`UNNEST`, `= ANY`), so each statement has one text whatever the batch size and the server
//! parses and plans it once per connection instead of once per batch.

use super::common::{push_list, LinkedRow, INSERT_CHUNK, IN_CHUNK};
use super::rows::KEY_SCHEME_BUCKETED;
use super::{PgStore, SqliteStore, StoreError};
use crate::domain::{digest_key, Digest, EntryState, SubjectId};
use sqlx::{Postgres, QueryBuilder, Sqlite, Transaction};
use std::collections::HashSet;

const CHAIN_COLUMNS: &str = "seq, entry_id, kind, message_digest, message_key, direction, field, \
                             category, occurred_at, recorded_at, content_digest, detail, prev_hash, hash";
const CONTENT_COLUMNS: &str =
    "seq, subject_id, subject_key, state, sealed, field, occurred_at, key_scheme, direction";

fn digests_of(rows: Vec<(Vec<u8>,)>) -> HashSet<Digest> {
    rows.into_iter()
        .filter_map(|(d,)| Digest::try_from(d.as_slice()).ok())
        .collect()
}

impl SqliteStore {
    /// Which of these envelope digests are recorded already.
    pub(super) async fn recorded_envelopes(
        tx: &mut Transaction<'_, Sqlite>,
        digests: &[&[u8]],
    ) -> Result<HashSet<Digest>, StoreError> {
        let mut seen = HashSet::new();
        for chunk in digests.chunks(IN_CHUNK) {
            let mut qb =
                QueryBuilder::<Sqlite>::new("SELECT digest FROM envelopes WHERE digest IN (");
            push_list(&mut qb, chunk.iter().copied());
            let rows = qb
                .build_query_as()
                .persistent(false)
                .fetch_all(&mut **tx)
                .await?;
            seen.extend(digests_of(rows));
        }
        Ok(seen)
    }

    /// How many of these (distinct) subjects exist.
    pub(super) async fn count_subjects(
        tx: &mut Transaction<'_, Sqlite>,
        ids: &[&str],
    ) -> Result<usize, StoreError> {
        let mut found = 0;
        for chunk in ids.chunks(IN_CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new("SELECT count(*) FROM subjects WHERE id IN (");
            push_list(&mut qb, chunk.iter().copied());
            let (n,): (i64,) = qb
                .build_query_as()
                .persistent(false)
                .fetch_one(&mut **tx)
                .await?;
            found += n as usize;
        }
        Ok(found)
    }

    pub(super) async fn insert_chain_rows(
        tx: &mut Transaction<'_, Sqlite>,
        rows: &[LinkedRow<'_>],
    ) -> Result<(), StoreError> {
        for chunk in rows.chunks(INSERT_CHUNK) {
            let mut qb =
                QueryBuilder::<Sqlite>::new(format!("INSERT INTO chain ({CHAIN_COLUMNS}) "));
            qb.push_values(chunk, |mut b, r| {
                b.push_bind(r.seq)
                    .push_bind(r.body.entry_id.as_bytes().as_slice())
                    .push_bind(r.body.kind.as_ref())
                    .push_bind(r.body.message_digest.as_ref().map(|d| d.as_slice()))
                    .push_bind(r.body.message_digest.as_ref().map(digest_key))
                    .push_bind(r.body.direction.map(<&'static str>::from))
                    .push_bind(r.body.field.map(<&'static str>::from))
                    .push_bind(r.body.category.map(<&'static str>::from))
                    .push_bind(r.body.occurred_at)
                    .push_bind(r.body.recorded_at)
                    .push_bind(r.body.content_digest.as_ref().map(|d| d.as_slice()))
                    .push_bind(r.body.detail.as_deref())
                    .push_bind(r.prev_hash.as_slice())
                    .push_bind(r.hash.as_slice());
            });
            qb.build()
                .persistent(Self::CACHE_FULL_CHUNKS && chunk.len() == INSERT_CHUNK)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    pub(super) async fn insert_content_rows(
        tx: &mut Transaction<'_, Sqlite>,
        rows: &[&LinkedRow<'_>],
    ) -> Result<(), StoreError> {
        for chunk in rows.chunks(INSERT_CHUNK) {
            let mut qb =
                QueryBuilder::<Sqlite>::new(format!("INSERT INTO content ({CONTENT_COLUMNS}) "));
            qb.push_values(chunk, |mut b, r| {
                let content = r.content.expect("rows with content only");
                b.push_bind(r.seq)
                    .push_bind(content.subject.as_ref().map(|s| s.as_str()))
                    .push_bind(content.subject.as_ref().map(SubjectId::index_key))
                    .push_bind(<&'static str>::from(EntryState::Held))
                    .push_bind(content.sealed.as_slice())
                    .push_bind(r.body.field.map(<&'static str>::from))
                    .push_bind(r.body.occurred_at)
                    .push_bind(KEY_SCHEME_BUCKETED)
                    .push_bind(r.body.direction.map(<&'static str>::from));
            });
            qb.build()
                .persistent(Self::CACHE_FULL_CHUNKS && chunk.len() == INSERT_CHUNK)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }
}

fn content_of<'a>(row: &LinkedRow<'a>) -> &'a super::SealedContent {
    row.content.expect("rows with content only")
}

impl PgStore {
    /// Which of these envelope digests are recorded already.
    pub(super) async fn recorded_envelopes(
        tx: &mut Transaction<'_, Postgres>,
        digests: &[&[u8]],
    ) -> Result<HashSet<Digest>, StoreError> {
        let rows = sqlx::query_as("SELECT digest FROM envelopes WHERE digest = ANY($1)")
            .bind(digests)
            .fetch_all(&mut **tx)
            .await?;
        Ok(digests_of(rows))
    }

    /// How many of these (distinct) subjects exist.
    pub(super) async fn count_subjects(
        tx: &mut Transaction<'_, Postgres>,
        ids: &[&str],
    ) -> Result<usize, StoreError> {
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM subjects WHERE id = ANY($1)")
            .bind(ids)
            .fetch_one(&mut **tx)
            .await?;
        Ok(n as usize)
    }

    pub(super) async fn insert_chain_rows(
        tx: &mut Transaction<'_, Postgres>,
        rows: &[LinkedRow<'_>],
    ) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "INSERT INTO chain ({CHAIN_COLUMNS}) SELECT * FROM UNNEST($1::bigint[], $2::bytea[], \
             $3::text[], $4::bytea[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::bigint[], \
             $10::bigint[], $11::bytea[], $12::text[], $13::bytea[], $14::bytea[])"
        );
        let column = |f: &dyn Fn(&LinkedRow<'_>) -> Option<Vec<u8>>| -> Vec<Option<Vec<u8>>> {
            rows.iter().map(f).collect()
        };
        let text =
            |f: &dyn Fn(&LinkedRow<'_>) -> Option<&'static str>| -> Vec<Option<&'static str>> {
                rows.iter().map(f).collect()
            };
        let kinds: Vec<&str> = rows.iter().map(|r| r.body.kind.as_ref()).collect();
        sqlx::query(&sql)
            .bind(rows.iter().map(|r| r.seq).collect::<Vec<i64>>())
            .bind(column(&|r| Some(r.body.entry_id.as_bytes().to_vec())))
            .bind(kinds)
            .bind(column(&|r| r.body.message_digest.map(|d| d.to_vec())))
            .bind(
                rows.iter()
                    .map(|r| r.body.message_digest.as_ref().map(digest_key))
                    .collect::<Vec<Option<i64>>>(),
            )
            .bind(text(&|r| r.body.direction.map(<&'static str>::from)))
            .bind(text(&|r| r.body.field.map(<&'static str>::from)))
            .bind(text(&|r| r.body.category.map(<&'static str>::from)))
            .bind(
                rows.iter()
                    .map(|r| r.body.occurred_at)
                    .collect::<Vec<i64>>(),
            )
            .bind(
                rows.iter()
                    .map(|r| r.body.recorded_at)
                    .collect::<Vec<i64>>(),
            )
            .bind(column(&|r| r.body.content_digest.map(|d| d.to_vec())))
            .bind(
                rows.iter()
                    .map(|r| r.body.detail.as_deref())
                    .collect::<Vec<Option<&str>>>(),
            )
            .bind(column(&|r| Some(r.prev_hash.to_vec())))
            .bind(column(&|r| Some(r.hash.to_vec())))
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    pub(super) async fn insert_content_rows(
        tx: &mut Transaction<'_, Postgres>,
        rows: &[&LinkedRow<'_>],
    ) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "INSERT INTO content ({CONTENT_COLUMNS}) SELECT * FROM UNNEST($1::bigint[], $2::text[], \
             $3::bigint[], $4::text[], $5::bytea[], $6::text[], $7::bigint[], $8::int[], $9::text[])"
        );
        sqlx::query(&sql)
            .bind(rows.iter().map(|r| r.seq).collect::<Vec<i64>>())
            .bind(
                rows.iter()
                    .map(|r| content_of(r).subject.as_ref().map(|s| s.as_str()))
                    .collect::<Vec<Option<&str>>>(),
            )
            .bind(
                rows.iter()
                    .map(|r| content_of(r).subject.as_ref().map(SubjectId::index_key))
                    .collect::<Vec<Option<i64>>>(),
            )
            .bind(vec![<&'static str>::from(EntryState::Held); rows.len()])
            .bind(
                rows.iter()
                    .map(|r| content_of(r).sealed.clone())
                    .collect::<Vec<Vec<u8>>>(),
            )
            .bind(
                rows.iter()
                    .map(|r| r.body.field.map(<&'static str>::from))
                    .collect::<Vec<Option<&str>>>(),
            )
            .bind(
                rows.iter()
                    .map(|r| r.body.occurred_at)
                    .collect::<Vec<i64>>(),
            )
            .bind(vec![KEY_SCHEME_BUCKETED; rows.len()])
            .bind(
                rows.iter()
                    .map(|r| r.body.direction.map(<&'static str>::from))
                    .collect::<Vec<Option<&str>>>(),
            )
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}
