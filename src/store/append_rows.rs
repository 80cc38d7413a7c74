//! The hot statements of an append, written per backend: SQLite takes multi-row `VALUES` lists
//! and `IN (…)` lists (cheap to prepare in process); PostgreSQL takes one array per column
//! (`UNNEST`, `= ANY`), so each statement has one text whatever the batch size and the server
//! parses and plans it once per connection instead of once per batch. Round trips are what a
//! small (webhook-sized) append costs most, so each backend opens, checks and closes an append in
//! as few as it can: on SQLite the begin, the head lock and the look-ups are one multi-statement
//! round trip to the connection's worker thread, and the writes and the commit another; on
//! PostgreSQL an append is first tried as two statements without a transaction (look-ups, then
//! every write guarded by the head's version), and only under the head's lock when that fails.

use super::common::{
    head_of, push_list, split_fresh, FlowDay, LinkedRow, LinkedWrites, INSERT_CHUNK, IN_CHUNK,
};
use super::postgres::PgAppender;
use super::rows::KEY_SCHEME_BUCKETED;
use super::sqlite::{Appender, RawTransaction};
use super::{AppendOutcome, Linker, NewEnvelope, NewSubjects, PgStore, SqliteStore, StoreError};
use crate::domain::{digest_key, ChainHead, Digest, EntryState, SubjectId};
use sqlx::{PgConnection, Postgres, QueryBuilder, Row, Sqlite, SqliteConnection, Transaction};
use std::collections::HashSet;

const CHAIN_COLUMNS: &str = "seq, entry_id, kind, message_digest, message_key, direction, field, \
                             category, occurred_at, recorded_at, content_digest, detail, prev_hash, hash";
const CONTENT_COLUMNS: &str =
    "seq, subject_id, subject_key, state, sealed, field, occurred_at, key_scheme, direction";

/// What an append found once it held the chain head.
pub(super) struct Checked {
    pub head: ChainHead,
    /// Envelope digests recorded already.
    pub seen: HashSet<Digest>,
    /// How many of the subjects asked about exist.
    pub subjects_found: usize,
}

fn digests_of(rows: Vec<(Vec<u8>,)>) -> HashSet<Digest> {
    rows.into_iter()
        .filter_map(|(d,)| Digest::try_from(d.as_slice()).ok())
        .collect()
}

impl SqliteStore {
    /// SQLite takes its lock in the same round trip as an append's lookups, so looking up first
    /// without the lock would save nothing: appends always go under the lock.
    pub(super) async fn append_optimistically(
        _: &Appender,
        _: &[NewEnvelope],
        _: &NewSubjects,
        _: &[&[u8]],
        _: &[&str],
        _: &Linker,
    ) -> Result<Option<AppendOutcome>, StoreError> {
        Ok(None)
    }

    /// Whether the append's writes also commit it (yes: its `COMMIT` rides with them).
    pub(super) const COMMITS_WITH_WRITES: bool = true;

    /// Opens an append: takes the write lock on the chain head and, in the same round trip to
    /// the connection's worker thread, reads which of `digests` are recorded already and how many
    /// of `subjects` (distinct) exist. The lookups run after the lock in one transaction, so they
    /// see every other writer's commits. Batches past the size of one statement's parameter list
    /// look the rest up chunk by chunk.
    ///
    /// The transaction is begun and committed by statements sent with the append's own (a
    /// round trip each saved, as sqlx's `begin` and `commit` are one each), so it is held by a
    /// [`RawTransaction`] rather than sqlx's `Transaction`.
    pub(super) async fn begin_append(
        appender: &Appender,
        digests: &[&[u8]],
        subjects: &[&str],
    ) -> Result<(RawTransaction, Checked), StoreError> {
        let mut tx = appender.take().await?;
        let checked = Self::lock_and_check(tx.conn(), digests, subjects).await?;
        Ok((tx, checked))
    }

    /// Rolls back an append that found it must not write.
    pub(super) async fn abandon_append<T>(
        mut tx: RawTransaction,
        reason: StoreError,
    ) -> Result<T, StoreError> {
        sqlx::query("ROLLBACK").execute(tx.conn()).await?;
        tx.ended();
        Err(reason)
    }

    /// The append's `COMMIT` went with its writes; the connection stays open for the next.
    pub(super) async fn end_append(tx: RawTransaction) -> Result<(), StoreError> {
        tx.ended();
        Ok(())
    }

    pub(super) fn append_conn(tx: &mut RawTransaction) -> &mut SqliteConnection {
        tx.conn()
    }

    /// Begins the append's transaction (`BEGIN IMMEDIATE`: the write lock, waiting out other
    /// writers within the busy timeout), takes the chain head and looks up duplicates and
    /// subjects, all in the one round trip.
    async fn lock_and_check(
        conn: &mut SqliteConnection,
        digests: &[&[u8]],
        subjects: &[&str],
    ) -> Result<Checked, StoreError> {
        // Every statement answers rows of one shape: (which statement, a number, a blob).
        let mut qb = QueryBuilder::<Sqlite>::new(
            "BEGIN IMMEDIATE; UPDATE chain_head SET version = version + 1 WHERE id = 1 RETURNING 0, seq, hash",
        );
        let (digests_now, digests_later) = digests.split_at(digests.len().min(IN_CHUNK));
        let (subjects_now, subjects_later) = subjects.split_at(subjects.len().min(IN_CHUNK));
        let cached = digests_now.len() <= CACHED_LIST && subjects_now.len() <= CACHED_LIST;
        if !digests_now.is_empty() {
            qb.push("; SELECT 1, NULL, digest FROM envelopes WHERE digest IN (");
            push_list(&mut qb, padded(digests_now));
        }
        if !subjects_now.is_empty() {
            qb.push("; SELECT 2, count(*), NULL FROM subjects WHERE id IN (");
            push_list(&mut qb, padded(subjects_now));
        }
        let rows: Vec<(i64, Option<i64>, Option<Vec<u8>>)> = qb
            .build_query_as()
            .persistent(cached)
            .fetch_all(&mut *conn)
            .await?;
        let mut head = None;
        let mut seen = HashSet::new();
        let mut subjects_found = 0;
        for (statement, number, blob) in rows {
            match (statement, number, blob) {
                (0, Some(seq), Some(hash)) => head = Some(head_of(seq, &hash)?),
                (1, _, Some(digest)) => seen.extend(Digest::try_from(digest.as_slice()).ok()),
                (2, Some(n), _) => subjects_found += n as usize,
                _ => {
                    return Err(StoreError::Corrupt(
                        "an append's lookup answered an unexpected row".into(),
                    ))
                }
            }
        }
        let head =
            head.ok_or_else(|| StoreError::Corrupt("the chain head row is missing".into()))?;
        let mut checked = Checked {
            head,
            seen,
            subjects_found,
        };
        for chunk in digests_later.chunks(IN_CHUNK) {
            let mut qb =
                QueryBuilder::<Sqlite>::new("SELECT digest FROM envelopes WHERE digest IN (");
            push_list(&mut qb, chunk.iter().copied());
            let rows = qb
                .build_query_as()
                .persistent(false)
                .fetch_all(&mut *conn)
                .await?;
            checked.seen.extend(digests_of(rows));
        }
        for chunk in subjects_later.chunks(IN_CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new("SELECT count(*) FROM subjects WHERE id IN (");
            push_list(&mut qb, chunk.iter().copied());
            let (n,): (i64,) = qb
                .build_query_as()
                .persistent(false)
                .fetch_one(&mut *conn)
                .await?;
            checked.subjects_found += n as usize;
        }
        Ok(checked)
    }

    /// Writes an append's rows. A batch of webhook size goes in one round trip to the
    /// connection's worker thread (the statements joined, `?` placeholders numbered per
    /// statement), since under load each round trip costs as much as a statement; a large batch
    /// goes statement by statement in chunks under SQLite's bound-parameter limit.
    ///
    /// With `commit`, the transaction's `COMMIT` goes in the last round trip too.
    pub(super) async fn write_linked(
        conn: &mut SqliteConnection,
        w: &LinkedWrites<'_>,
        commit: bool,
    ) -> Result<(), StoreError> {
        let with_content = w.with_content();
        let params = w.rows.len() * 14
            + with_content.len() * 9
            + w.days.len() * 4
            + w.envelopes.len() * 3
            + 2;
        if params <= ONE_ROUND_TRIP_PARAMS {
            let mut qb = QueryBuilder::<Sqlite>::new("");
            push_chain(&mut qb, &w.rows);
            push_content(&mut qb, &with_content);
            push_days(&mut qb, &w.days);
            push_envelopes(&mut qb, w.envelopes, w.recorded_at);
            push_head(&mut qb, &w.head);
            if commit {
                qb.push("; COMMIT");
            }
            qb.build()
                .persistent(params <= CACHED_WRITE_PARAMS)
                .execute(&mut *conn)
                .await?;
            return Ok(());
        }
        let cache = Self::CACHE_FULL_CHUNKS;
        in_chunks(conn, &w.rows, cache, push_chain).await?;
        in_chunks(conn, &with_content, cache, push_content).await?;
        in_chunks(conn, &w.days, false, push_days).await?;
        in_chunks(conn, w.envelopes, cache, |qb, chunk| {
            push_envelopes(qb, chunk, w.recorded_at)
        })
        .await?;
        let mut qb = QueryBuilder::<Sqlite>::new("");
        push_head(&mut qb, &w.head);
        if commit {
            qb.push("; COMMIT");
        }
        qb.build().persistent(false).execute(&mut *conn).await?;
        Ok(())
    }
}

/// Writes `items` a statement per chunk of [`INSERT_CHUNK`] (SQLite's bound-parameter limit),
/// each built by `push`; with `cache`, full chunks keep their prepared statement.
async fn in_chunks<'a, T>(
    conn: &mut SqliteConnection,
    items: &'a [T],
    cache: bool,
    push: impl Fn(&mut QueryBuilder<'a, Sqlite>, &'a [T]),
) -> Result<(), StoreError> {
    for chunk in items.chunks(INSERT_CHUNK) {
        let mut qb = QueryBuilder::<Sqlite>::new("");
        push(&mut qb, chunk);
        qb.build()
            .persistent(cache && chunk.len() == INSERT_CHUNK)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Bound parameters up to which an append's writes go as one multi-statement round trip (a
/// webhook batch of 64 envelopes with 5 values each is about 7,500).
const ONE_ROUND_TRIP_PARAMS: usize = 12_000;

/// Bound parameters up to which an append's one-round-trip writes keep their prepared statement
/// on the appending connection (webhook batches up to about 64 envelopes). Preparing the writes
/// of a 30-envelope batch was an eighth of the appending thread's time (perf, http bench); a
/// batch's text depends only on its row counts, so the texts repeat. Larger batches (file
/// ingest) are prepared each time: each would cost megabytes to keep.
const CACHED_WRITE_PARAMS: usize = 8_000;

/// Look-up lists up to this long are padded to the next power of two, so the look-ups of any
/// webhook batch take one of a few texts and stay prepared on the appending connection.
const CACHED_LIST: usize = 128;

/// `items`, padded with its last item up to the next power of two when it has at most
/// [`CACHED_LIST`] (an `IN` list with an item twice matches the same rows).
fn padded<T: Copy>(items: &[T]) -> Vec<T> {
    let mut list = items.to_vec();
    if let Some(&last) = list.last().filter(|_| list.len() <= CACHED_LIST) {
        list.resize(list.len().next_power_of_two(), last);
    }
    list
}

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
    qb.push(format!("{OR_FAIL} INTO chain ({CHAIN_COLUMNS}) "));
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
    qb.push(format!("{OR_FAIL} INTO content ({CONTENT_COLUMNS}) "));
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
    qb.push(OR_FAIL).push(&FLOW_DAYS_INSERT["INSERT".len()..]);
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
    qb.push(OR_FAIL).push(&ENVELOPES_INSERT["INSERT".len()..]);
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

/// How SQLite's appends insert. A multi-row statement that may abort on a constraint inside a
/// transaction makes SQLite keep a statement journal (a copy of every page it touches, to undo
/// that statement alone): a twelfth of the appending thread's time under the http bench (perf).
/// `OR FAIL` stops at a violation without undoing the statement, so no journal is kept; an
/// append that fails is rolled back whole anyway (its connection is closed, see
/// `RawTransaction`), and no statement of an append is ever partly kept.
const OR_FAIL: &str = "INSERT OR FAIL";

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
    ///
    /// A PostgreSQL append commits through its sqlx transaction: `commit` is always false here.
    pub(super) async fn write_linked(
        conn: &mut PgConnection,
        w: &LinkedWrites<'_>,
        commit: bool,
    ) -> Result<(), StoreError> {
        debug_assert!(
            !commit,
            "PostgreSQL appends commit through their transaction"
        );
        bind_writes(sqlx::query(&PG_APPEND), w)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// An append in two round trips and no explicit transaction, tried before the locking one:
    /// the lookups (duplicates, subjects, the head and its version) without a lock, then every
    /// write in one statement that first moves the head, but only if its version is still the
    /// one read. Every transaction that takes the head's lock moves the version, so an unchanged
    /// version means no append, purge or erasure committed in between, and the lookups still
    /// hold. `None` when they may not (the version moved, or a row the batch writes appeared
    /// meanwhile): nothing was written, and the caller appends under the lock instead.
    pub(super) async fn append_optimistically(
        appender: &PgAppender,
        envelopes: &[NewEnvelope],
        new_subjects: &NewSubjects,
        digests: &[&[u8]],
        subjects: &[&str],
        link: &Linker,
    ) -> Result<Option<AppendOutcome>, StoreError> {
        let (checked, version) = Self::look_up(&appender.pool, digests, subjects).await?;
        if checked.subjects_found != subjects.len() {
            // A subject is gone: the locking append says so (and the caller seals again).
            return Ok(None);
        }
        let (mut outcome, fresh, records) = split_fresh(envelopes, checked.seen);
        let writes = LinkedWrites::link(checked.head, &records, link, &fresh);
        let bindings = &new_subjects.bindings;
        let pairs: Vec<(&Digest, &SubjectId)> = bindings
            .iter()
            .flat_map(|(s, ds)| ds.iter().map(move |d| (d, s)))
            .collect();
        let written = bind_writes(sqlx::query(&PG_APPEND_GUARDED), &writes)
            .bind(version)
            .bind(
                bindings
                    .iter()
                    .map(|(s, _)| s.as_str())
                    .collect::<Vec<&str>>(),
            )
            .bind(vec![new_subjects.created_at; bindings.len()])
            .bind(
                bindings
                    .iter()
                    .map(|(s, _)| s.index_key())
                    .collect::<Vec<i64>>(),
            )
            .bind(
                pairs
                    .iter()
                    .map(|(d, _)| d.to_vec())
                    .collect::<Vec<Vec<u8>>>(),
            )
            .bind(pairs.iter().map(|(_, s)| s.as_str()).collect::<Vec<&str>>())
            .fetch_one(&appender.writes)
            .await;
        match written {
            Ok(row) if row.try_get::<i64, _>(0)? == 1 => {
                outcome.head = Some(writes.head);
                Ok(Some(outcome))
            }
            Ok(_) => Ok(None),
            // Another writer recorded one of these envelopes or bound one of these numbers
            // since the lookups (without taking the head's lock): the statement wrote nothing.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(UNIQUE_VIOLATION) => {
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// An append's look-ups in one statement: the chain head and its version, which of
    /// `digests` are recorded already and how many of `subjects` (distinct) exist.
    async fn look_up(
        conn: impl sqlx::PgExecutor<'_>,
        digests: &[&[u8]],
        subjects: &[&str],
    ) -> Result<(Checked, i64), StoreError> {
        let (seq, hash, version, seen, found): (i64, Vec<u8>, i64, Vec<Vec<u8>>, i64) =
            sqlx::query_as(
                "SELECT h.seq, h.hash, h.version, \
                 ARRAY(SELECT digest FROM envelopes WHERE digest = ANY($1)), \
                 (SELECT count(*) FROM subjects WHERE id = ANY($2)) FROM chain_head h WHERE h.id = 1",
            )
            .bind(digests)
            .bind(subjects)
            .fetch_one(conn)
            .await?;
        let checked = Checked {
            head: head_of(seq, &hash)?,
            seen: seen
                .iter()
                .filter_map(|d| Digest::try_from(d.as_slice()).ok())
                .collect(),
            subjects_found: found as usize,
        };
        Ok((checked, version))
    }

    /// Whether the append's writes also commit it (no: [`end_append`](Self::end_append) does).
    pub(super) const COMMITS_WITH_WRITES: bool = false;

    /// Opens an append: begins the transaction and takes the row lock on the chain head in one
    /// round trip (two statements, sent as one simple query), then [looks up](Self::look_up) the
    /// head, duplicates and subjects in one statement. The lookups are a statement of their own, after the lock: a statement that
    /// waited for the lock still reads from the snapshot it started with, so it would miss what
    /// the lock's previous holder committed.
    pub(super) async fn begin_append(
        appender: &PgAppender,
        digests: &[&[u8]],
        subjects: &[&str],
    ) -> Result<(Transaction<'static, Postgres>, Checked), StoreError> {
        let mut tx = appender
            .pool
            .begin_with("BEGIN; UPDATE chain_head SET version = version + 1 WHERE id = 1")
            .await?;
        let (checked, _) = Self::look_up(&mut *tx, digests, subjects).await?;
        Ok((tx, checked))
    }

    /// Rolls back an append that found it must not write.
    pub(super) async fn abandon_append<T>(
        tx: Transaction<'static, Postgres>,
        reason: StoreError,
    ) -> Result<T, StoreError> {
        tx.rollback().await?;
        Err(reason)
    }

    pub(super) async fn end_append(tx: Transaction<'static, Postgres>) -> Result<(), StoreError> {
        tx.commit().await?;
        Ok(())
    }

    pub(super) fn append_conn<'t>(
        tx: &'t mut Transaction<'static, Postgres>,
    ) -> &'t mut PgConnection {
        tx
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

/// The optimistic append ([`PgStore::append_optimistically`]): the rows of [`PG_APPEND`] ($1–$32),
/// each written only if the head's version is still $33, and the batch's new subjects ($34–$36)
/// with their blind-index digests ($37, $38). Answers 1 when it wrote, 0 when it did not.
static PG_APPEND_GUARDED: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    const MOVED: &str = "WHERE EXISTS (SELECT 1 FROM head)";
    format!(
        "WITH head AS (UPDATE chain_head SET seq = $31, hash = $32, version = version + 1 \
         WHERE id = 1 AND version = $33 RETURNING 1), \
         chain_rows AS (INSERT INTO chain ({CHAIN_COLUMNS}) SELECT * FROM UNNEST(\
         $1::bigint[], $2::bytea[], $3::text[], $4::bytea[], $5::bigint[], $6::text[], $7::text[], \
         $8::text[], $9::bigint[], $10::bigint[], $11::bytea[], $12::text[], $13::bytea[], \
         $14::bytea[]) {MOVED}), \
         content_rows AS (INSERT INTO content ({CONTENT_COLUMNS}) SELECT * FROM UNNEST(\
         $15::bigint[], $16::text[], $17::bigint[], $18::text[], $19::bytea[], $20::text[], \
         $21::bigint[], $22::int[], $23::text[]) {MOVED}), \
         day_rows AS ({FLOW_DAYS_INSERT}SELECT * FROM UNNEST($24::bigint[], $25::text[], \
         $26::text[], $27::bigint[]) {MOVED}{FLOW_DAYS_UPSERT}), \
         envelope_rows AS ({ENVELOPES_INSERT}SELECT * FROM UNNEST($28::bytea[], $29::text[], \
         $30::bigint[]) {MOVED}), \
         subject_rows AS (INSERT INTO subjects (id, created_at, key) SELECT * FROM UNNEST(\
         $34::text[], $35::bigint[], $36::bigint[]) {MOVED}), \
         index_rows AS (INSERT INTO subject_index (digest, subject_id) SELECT * FROM UNNEST(\
         $37::bytea[], $38::text[]) {MOVED}) \
         SELECT count(*) FROM head"
    )
});

/// PostgreSQL's code for a unique violation.
const UNIQUE_VIOLATION: &str = "23505";

/// Binds an append's rows and new head as [`PG_APPEND`]'s $1–$32.
fn bind_writes<'q>(query: PgQuery<'q>, w: &'q LinkedWrites<'q>) -> PgQuery<'q> {
    let query = bind_chain(query, &w.rows);
    let query = bind_content(query, &w.with_content());
    let days = &w.days;
    let envelopes = w.envelopes;
    query
        .bind(days.iter().map(|((d, _, _), _)| *d).collect::<Vec<i64>>())
        .bind(days.iter().map(|((_, f, _), _)| *f).collect::<Vec<&str>>())
        .bind(days.iter().map(|((_, _, d), _)| *d).collect::<Vec<&str>>())
        .bind(days.iter().map(|(_, n)| *n).collect::<Vec<i64>>())
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
}

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

fn bind_content<'q>(query: PgQuery<'q>, rows: &[&LinkedRow<'q>]) -> PgQuery<'q> {
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

#[cfg(test)]
mod tests {
    use super::{padded, CACHED_LIST};

    #[test]
    fn short_lookup_lists_pad_to_a_power_of_two_with_their_last_item() {
        assert_eq!(padded::<u8>(&[]), Vec::<u8>::new());
        assert_eq!(padded(&[7]), vec![7]);
        assert_eq!(padded(&[1, 2, 3]), vec![1, 2, 3, 3]);
        assert_eq!(padded(&[1, 2, 3, 4, 5]), vec![1, 2, 3, 4, 5, 5, 5, 5]);
        let long: Vec<usize> = (0..CACHED_LIST + 1).collect();
        assert_eq!(
            padded(&long),
            long,
            "lists past the cached size go as they are"
        );
    }
}
