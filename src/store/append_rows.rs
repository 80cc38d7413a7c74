//! The hot statements of an append, written per backend: SQLite takes multi-row `VALUES` lists
//! and `IN (…)` lists (cheap to prepare in process); PostgreSQL takes one array per column
//! (`UNNEST`, `= ANY`), so each statement has one text whatever the batch size and the server
//! parses and plans it once per connection instead of once per batch. On SQLite a webhook-sized
//! append's writes go to the connection's worker thread as one multi-statement round trip.

use super::common::{push_list, FlowDay, LinkedRow, LinkedWrites, INSERT_CHUNK, IN_CHUNK};
use super::rows::KEY_SCHEME_BUCKETED;
use super::{NewEnvelope, PgStore, SqliteStore, StoreError};
use crate::domain::{digest_key, ChainHead, Digest, EntryState, SubjectId};
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

    /// Writes an append's rows. A batch of webhook size goes in one round trip to the
    /// connection's worker thread (the statements joined, `?` placeholders numbered per
    /// statement), since under load each round trip costs as much as a statement; a large batch
    /// goes statement by statement in chunks under SQLite's bound-parameter limit.
    pub(super) async fn write_linked(
        tx: &mut Transaction<'_, Sqlite>,
        w: &LinkedWrites<'_>,
    ) -> Result<(), StoreError> {
        let params = w.rows.len() * 14
            + w.with_content.len() * 9
            + w.days.len() * 4
            + w.envelopes.len() * 3
            + 2;
        if params <= ONE_ROUND_TRIP_PARAMS {
            let mut qb = QueryBuilder::<Sqlite>::new("");
            push_chain(&mut qb, w.rows);
            push_content(&mut qb, w.with_content);
            push_days(&mut qb, w.days);
            push_envelopes(&mut qb, w.envelopes, w.recorded_at);
            push_head(&mut qb, w.head);
            qb.build().persistent(false).execute(&mut **tx).await?;
            return Ok(());
        }
        let full = |n: usize| Self::CACHE_FULL_CHUNKS && n == INSERT_CHUNK;
        for chunk in w.rows.chunks(INSERT_CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new("");
            push_chain(&mut qb, chunk);
            qb.build()
                .persistent(full(chunk.len()))
                .execute(&mut **tx)
                .await?;
        }
        for chunk in w.with_content.chunks(INSERT_CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new("");
            push_content(&mut qb, chunk);
            qb.build()
                .persistent(full(chunk.len()))
                .execute(&mut **tx)
                .await?;
        }
        for chunk in w.days.chunks(INSERT_CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new("");
            push_days(&mut qb, chunk);
            qb.build().persistent(false).execute(&mut **tx).await?;
        }
        for chunk in w.envelopes.chunks(INSERT_CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new("");
            push_envelopes(&mut qb, chunk, w.recorded_at);
            qb.build()
                .persistent(full(chunk.len()))
                .execute(&mut **tx)
                .await?;
        }
        let mut qb = QueryBuilder::<Sqlite>::new("");
        push_head(&mut qb, w.head);
        qb.build().persistent(false).execute(&mut **tx).await?;
        Ok(())
    }
}

/// Bound parameters up to which an append's writes go as one multi-statement round trip (a
/// webhook batch of 64 envelopes with 5 values each is about 7,500).
const ONE_ROUND_TRIP_PARAMS: usize = 12_000;

/// Starts the next statement of a (possibly multi-statement) builder.
fn next_statement(qb: &mut QueryBuilder<'_, Sqlite>) {
    if !qb.sql().is_empty() {
        qb.push("; ");
    }
}

fn push_chain<'a>(qb: &mut QueryBuilder<'a, Sqlite>, rows: &'a [LinkedRow<'a>]) {
    if rows.is_empty() {
        return;
    }
    next_statement(qb);
    qb.push(format!("INSERT INTO chain ({CHAIN_COLUMNS}) "));
    qb.push_values(rows, |mut b, r| {
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
}

fn push_content<'a>(qb: &mut QueryBuilder<'a, Sqlite>, rows: &'a [&'a LinkedRow<'a>]) {
    if rows.is_empty() {
        return;
    }
    next_statement(qb);
    qb.push(format!("INSERT INTO content ({CONTENT_COLUMNS}) "));
    qb.push_values(rows, |mut b, r| {
        let content = content_of(r);
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
}

fn push_days<'a>(qb: &mut QueryBuilder<'a, Sqlite>, days: &'a [FlowDay]) {
    if days.is_empty() {
        return;
    }
    next_statement(qb);
    qb.push(FLOW_DAYS_INSERT);
    qb.push_values(days, |mut b, ((day, field, direction), n)| {
        b.push_bind(*day)
            .push_bind(*field)
            .push_bind(*direction)
            .push_bind(*n);
    });
    qb.push(FLOW_DAYS_UPSERT);
}

fn push_envelopes<'a>(
    qb: &mut QueryBuilder<'a, Sqlite>,
    envelopes: &'a [&'a NewEnvelope],
    recorded_at: i64,
) {
    if envelopes.is_empty() {
        return;
    }
    next_statement(qb);
    qb.push(ENVELOPES_INSERT);
    qb.push_values(envelopes, |mut b, e| {
        b.push_bind(e.digest.as_slice())
            .push_bind(e.subject.as_ref().map(|s| s.as_str()))
            .push_bind(recorded_at);
    });
}

fn push_head<'a>(qb: &mut QueryBuilder<'a, Sqlite>, head: &'a ChainHead) {
    next_statement(qb);
    qb.push("UPDATE chain_head SET seq = ")
        .push_bind(head.seq)
        .push(", hash = ")
        .push_bind(head.hash.as_slice())
        .push(" WHERE id = 1");
}

const FLOW_DAYS_INSERT: &str = "INSERT INTO flow_days (day, field, direction, recorded) ";
const FLOW_DAYS_UPSERT: &str = " ON CONFLICT (day, field, direction) DO UPDATE SET recorded = \
                                flow_days.recorded + excluded.recorded";
const ENVELOPES_INSERT: &str = "INSERT INTO envelopes (digest, subject_id, recorded_at) ";

fn content_of<'a>(row: &LinkedRow<'a>) -> &'a super::SealedContent {
    row.content.expect("rows with content only")
}

impl PgStore {
    /// Writes an append's rows in one statement (one round trip): each table's rows as arrays
    /// through `UNNEST` in a data-modifying `WITH`, then the new head. The statement has one text
    /// whatever the batch size, so the server parses it once per connection.
    pub(super) async fn write_linked(
        tx: &mut Transaction<'_, Postgres>,
        w: &LinkedWrites<'_>,
    ) -> Result<(), StoreError> {
        let query = sqlx::query(&PG_APPEND);
        let query = bind_chain(query, w.rows);
        let query = bind_content(query, w.with_content);
        let days = w.days;
        let query = query
            .bind(days.iter().map(|((d, _, _), _)| *d).collect::<Vec<i64>>())
            .bind(days.iter().map(|((_, f, _), _)| *f).collect::<Vec<&str>>())
            .bind(days.iter().map(|((_, _, d), _)| *d).collect::<Vec<&str>>())
            .bind(days.iter().map(|(_, n)| *n).collect::<Vec<i64>>());
        let envelopes = w.envelopes;
        query
            .bind(
                envelopes
                    .iter()
                    .map(|e| e.digest.to_vec())
                    .collect::<Vec<Vec<u8>>>(),
            )
            .bind(
                envelopes
                    .iter()
                    .map(|e| e.subject.as_ref().map(|s| s.as_str()))
                    .collect::<Vec<Option<&str>>>(),
            )
            .bind(vec![w.recorded_at; envelopes.len()])
            .bind(w.head.seq)
            .bind(w.head.hash.as_slice())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

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
}

/// The PostgreSQL append: chain ($1–$14), content ($15–$23), daily rollup ($24–$27) and
/// duplicate-detection rows ($28–$30) in sibling data-modifying CTEs, and the head ($31, $32).
static PG_APPEND: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH chain_rows AS (INSERT INTO chain ({CHAIN_COLUMNS}) SELECT * FROM UNNEST(\
         $1::bigint[], $2::bytea[], $3::text[], $4::bytea[], $5::bigint[], $6::text[], $7::text[], \
         $8::text[], $9::bigint[], $10::bigint[], $11::bytea[], $12::text[], $13::bytea[], \
         $14::bytea[])), \
         content_rows AS (INSERT INTO content ({CONTENT_COLUMNS}) SELECT * FROM UNNEST(\
         $15::bigint[], $16::text[], $17::bigint[], $18::text[], $19::bytea[], $20::text[], \
         $21::bigint[], $22::int[], $23::text[])), \
         day_rows AS ({FLOW_DAYS_INSERT}SELECT * FROM UNNEST($24::bigint[], $25::text[], \
         $26::text[], $27::bigint[]){FLOW_DAYS_UPSERT}), \
         envelope_rows AS ({ENVELOPES_INSERT}SELECT * FROM UNNEST($28::bytea[], $29::text[], \
         $30::bigint[])) \
         UPDATE chain_head SET seq = $31, hash = $32 WHERE id = 1"
    )
});

type PgQuery<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;

fn bind_chain<'q>(query: PgQuery<'q>, rows: &'q [LinkedRow<'q>]) -> PgQuery<'q> {
    let bytes = |f: &dyn Fn(&LinkedRow<'_>) -> Option<Vec<u8>>| -> Vec<Option<Vec<u8>>> {
        rows.iter().map(f).collect()
    };
    let text = |f: &dyn Fn(&LinkedRow<'_>) -> Option<&'static str>| -> Vec<Option<&'static str>> {
        rows.iter().map(f).collect()
    };
    query
        .bind(rows.iter().map(|r| r.seq).collect::<Vec<i64>>())
        .bind(bytes(&|r| Some(r.body.entry_id.as_bytes().to_vec())))
        .bind(
            rows.iter()
                .map(|r| r.body.kind.as_ref())
                .collect::<Vec<&str>>(),
        )
        .bind(bytes(&|r| r.body.message_digest.map(|d| d.to_vec())))
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
        .bind(bytes(&|r| r.body.content_digest.map(|d| d.to_vec())))
        .bind(
            rows.iter()
                .map(|r| r.body.detail.as_deref())
                .collect::<Vec<Option<&str>>>(),
        )
        .bind(bytes(&|r| Some(r.prev_hash.to_vec())))
        .bind(bytes(&|r| Some(r.hash.to_vec())))
}

fn bind_content<'q>(query: PgQuery<'q>, rows: &'q [&'q LinkedRow<'q>]) -> PgQuery<'q> {
    query
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
}
