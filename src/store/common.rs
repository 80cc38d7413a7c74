//! The SQL both backends share. SQLite and PostgreSQL accept the same statements here (`$N`
//! placeholders, `ON CONFLICT … DO NOTHING`, multi-row `VALUES`), so one macro implements
//! [`Store`](super::Store) for each pool type; only connecting and closing differ per backend.

/// Rows per multi-row INSERT: 14 columns × 1,000 stays under SQLite's 32,766 bind limit.
pub(super) const INSERT_CHUNK: usize = 1_000;
/// Values per `IN (…)` list.
pub(super) const IN_CHUNK: usize = 500;

/// Appends `v1, v2, …)` to a query that ends in `IN (`: one bound parameter per item.
pub(super) fn push_list<'a, DB, T>(
    qb: &mut sqlx::QueryBuilder<'a, DB>,
    items: impl IntoIterator<Item = T>,
) where
    DB: sqlx::Database,
    T: 'a + sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    {
        let mut list = qb.separated(", ");
        for item in items {
            list.push_bind(item);
        }
    }
    qb.push(")");
}

/// One linked chain record waiting to be written.
pub(super) struct LinkedRow<'a> {
    pub seq: i64,
    pub body: &'a crate::domain::RecordBody,
    pub prev_hash: crate::domain::Digest,
    pub hash: crate::domain::Digest,
    pub content: Option<&'a super::SealedContent>,
}

/// A day's count of values recorded per field kind and direction: `((day, field, direction), n)`.
pub(super) type FlowDay = ((i64, &'static str, &'static str), i64);

/// Everything one append writes after linking, handed to the backend's `write_linked`.
pub(super) struct LinkedWrites<'a> {
    pub rows: Vec<LinkedRow<'a>>,
    pub days: Vec<FlowDay>,
    /// The head after the last row.
    pub head: crate::domain::ChainHead,
    pub envelopes: &'a [&'a super::NewEnvelope],
    pub recorded_at: i64,
}

impl<'a> LinkedWrites<'a> {
    /// Links `records` after `head` (each gets the next position and a hash over the previous
    /// one) and counts the daily rollup reports read: values recorded per day, field kind and
    /// direction. `envelopes` are the duplicate-detection rows written with them.
    pub fn link(
        head: crate::domain::ChainHead,
        records: &[&'a super::NewRecord],
        link: &super::Linker,
        envelopes: &'a [&'a super::NewEnvelope],
    ) -> Self {
        let (mut seq, mut prev) = (head.seq, head.hash);
        let mut rows = Vec::with_capacity(records.len());
        let mut days: std::collections::BTreeMap<(i64, &'static str, &'static str), i64> =
            Default::default();
        for record in records {
            seq += 1;
            let hash = link(seq, &prev, &record.body);
            rows.push(LinkedRow {
                seq,
                body: &record.body,
                prev_hash: prev,
                hash,
                content: record.content.as_ref(),
            });
            prev = hash;
            if let (Some(_), Some(field), Some(direction)) =
                (&record.content, record.body.field, record.body.direction)
            {
                let day = record.body.occurred_at.div_euclid(86_400);
                *days
                    .entry((day, field.into(), direction.into()))
                    .or_default() += 1;
            }
        }
        Self {
            rows,
            days: days.into_iter().collect(),
            head: crate::domain::ChainHead { seq, hash: prev },
            envelopes,
            recorded_at: records.first().map_or(0, |r| r.body.recorded_at),
        }
    }

    /// The rows that carry sealed content (their content rows).
    pub fn with_content(&self) -> Vec<&LinkedRow<'a>> {
        self.rows.iter().filter(|r| r.content.is_some()).collect()
    }
}

/// A chain head read from the database.
pub(super) fn head_of(
    seq: i64,
    hash: &[u8],
) -> Result<crate::domain::ChainHead, super::StoreError> {
    let hash = hash
        .try_into()
        .map_err(|_| super::StoreError::Corrupt("the chain head hash is not 32 bytes".into()))?;
    Ok(crate::domain::ChainHead { seq, hash })
}

/// The subjects an append's values were sealed for that must exist already when it writes (a
/// purge or an erasure may have forgotten one since it was sealed); subjects the batch creates
/// itself are left out. Sorted, each once.
pub(super) fn subjects_to_check<'a>(
    envelopes: &'a [super::NewEnvelope],
    new_subjects: &'a super::NewSubjects,
) -> Vec<&'a str> {
    let created: std::collections::HashSet<&str> = new_subjects
        .bindings
        .iter()
        .map(|(s, _)| s.as_str())
        .collect();
    let mut subjects: Vec<&str> = envelopes
        .iter()
        .flat_map(|e| &e.records)
        .filter_map(|r| r.content.as_ref().and_then(|c| c.subject.as_ref()))
        .map(|s| s.as_str())
        .filter(|s| !created.contains(s))
        .collect();
    subjects.sort_unstable();
    subjects.dedup();
    subjects
}

/// Splits a batch into the envelopes to write and the duplicates (recorded before, per `seen`,
/// or earlier in the same batch), in the batch's order; returns the outcome so far (all but the
/// head), the envelopes to write and their records.
pub(super) fn split_fresh(
    envelopes: &[super::NewEnvelope],
    mut seen: std::collections::HashSet<crate::domain::Digest>,
) -> (
    super::AppendOutcome,
    Vec<&super::NewEnvelope>,
    Vec<&super::NewRecord>,
) {
    let mut outcome = super::AppendOutcome::default();
    let mut fresh = Vec::new();
    for envelope in envelopes {
        let is_fresh = seen.insert(envelope.digest);
        outcome.fresh.push(is_fresh);
        if is_fresh {
            outcome.accepted += 1;
            fresh.push(envelope);
        } else {
            outcome.duplicates += 1;
        }
    }
    let records: Vec<&super::NewRecord> = fresh.iter().flat_map(|e| e.records.iter()).collect();
    outcome.entries = records.len() as u64;
    (outcome, fresh, records)
}

macro_rules! impl_sql_store {
    ($store:ty, $db:ty) => {
        use crate::crypto::WrappedKey;
        use crate::domain::{digest_key, ChainHead, Digest, SubjectId};
        use crate::store::common::{
            head_of, push_list, split_fresh, subjects_to_check, LinkedWrites, INSERT_CHUNK, IN_CHUNK,
        };
        use crate::store::rows::{CheckpointRow, EntryRow, ENTRY_COLUMNS};
        use crate::store::{
            AppendOutcome, Backend, Checkpoint, Linker, NewEnvelope, NewRecord, NewSubjects, ScannedRecord, Store,
            StoreError, StoredEntry,
        };
        use sqlx::QueryBuilder;

        #[async_trait::async_trait]
        impl Store for $store {
            fn backend(&self) -> Backend {
                Self::BACKEND
            }

            /// Stores new data keys, each in one statement per chunk (one round trip; the group
            /// commit seals, and so stores keys, several times per transaction). A statement
            /// inserts only while the header holds `key_check` and no rotation is under way, and
            /// holds the header while it inserts (PostgreSQL: its row lock; SQLite: the write
            /// lock), so a rotation cannot finish in between and leave a key under the old root.
            async fn put_data_keys(&self, keys: &[(String, WrappedKey)], key_check: &[u8], now: i64) -> Result<(), StoreError> {
                for chunk in keys.chunks(INSERT_CHUNK) {
                    let mut qb = QueryBuilder::<$db>::new(
                        "INSERT INTO data_keys (owner, wrapped, created_at, generation) SELECT v.column1, v.column2, ",
                    );
                    qb.push_bind(now).push(", m.generation FROM (");
                    qb.push_values(chunk, |mut b, (owner, wrapped)| {
                        b.push_bind(owner.as_str()).push_bind(wrapped.0.as_slice());
                    });
                    qb.push(") AS v, keystore_meta m WHERE m.id = 1 AND m.next_check IS NULL AND m.key_check = ")
                        .push_bind(key_check)
                        .push(Self::LOCK_KEYSTORE_HEADER)
                        .push(" ON CONFLICT (owner) DO NOTHING");
                    let inserted = qb.build().persistent(chunk.len() <= 64).execute(&self.keys).await?.rows_affected();
                    if inserted < chunk.len() as u64 {
                        // Owners stored already (a concurrent writer's key won), or the header
                        // changed: only the header says which.
                        let header: Option<(Vec<u8>, Option<Vec<u8>>)> =
                            sqlx::query_as("SELECT key_check, next_check FROM keystore_meta WHERE id = 1")
                                .fetch_optional(&self.keys)
                                .await?;
                        if !matches!(header, Some((check, None)) if check == key_check) {
                            return Err(StoreError::KeyChanged);
                        }
                    }
                }
                Ok(())
            }

            async fn data_keys(&self, owners: &[&str]) -> Result<Vec<(String, WrappedKey)>, StoreError> {
                let mut found = Vec::with_capacity(owners.len());
                for chunk in owners.chunks(IN_CHUNK) {
                    let mut qb = QueryBuilder::<$db>::new("SELECT owner, wrapped FROM data_keys WHERE owner IN (");
                    push_list(&mut qb, chunk.iter().copied());
                    let rows: Vec<(String, Vec<u8>)> = qb.build_query_as().persistent(false).fetch_all(&self.keys).await?;
                    found.extend(rows.into_iter().map(|(o, w)| (o, WrappedKey(w))));
                }
                Ok(found)
            }

            async fn find_subjects(&self, index: &[Digest]) -> Result<Vec<(Digest, SubjectId)>, StoreError> {
                let mut found = Vec::new();
                for chunk in index.chunks(IN_CHUNK) {
                    let mut qb = QueryBuilder::<$db>::new("SELECT digest, subject_id FROM subject_index WHERE digest IN (");
                    push_list(&mut qb, chunk.iter().map(|digest| digest.as_slice()));
                    let rows: Vec<(Vec<u8>, String)> = qb.build_query_as().persistent(false).fetch_all(&self.ledger).await?;
                    for (digest, subject) in rows {
                        if let Ok(d) = Digest::try_from(digest.as_slice()) {
                            found.push((d, SubjectId::from_stored(subject)));
                        }
                    }
                }
                Ok(found)
            }

            async fn bind_subjects(&self, bindings: &[(SubjectId, Vec<Digest>)], now: i64) -> Result<Vec<(Digest, SubjectId)>, StoreError> {
                let mut tx = self.ledger.begin().await?;
                Self::insert_subjects(&mut tx, bindings, now).await?;
                // A subject that lost every race to another writer would be an orphan.
                for chunk in bindings.chunks(IN_CHUNK) {
                    let mut qb = QueryBuilder::<$db>::new("DELETE FROM subjects WHERE id IN (");
                    push_list(&mut qb, chunk.iter().map(|(s, _)| s.as_str()));
                    qb.push(" AND NOT EXISTS (SELECT 1 FROM subject_index i WHERE i.subject_id = subjects.id)");
                    qb.build().persistent(false).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                let digests: Vec<Digest> = bindings.iter().flat_map(|(_, ds)| ds.iter().copied()).collect();
                self.find_subjects(&digests).await
            }

            async fn append(&self, envelopes: &[NewEnvelope], new_subjects: &NewSubjects, link: &Linker) -> Result<AppendOutcome, StoreError> {
                let digests: Vec<&[u8]> = envelopes.iter().map(|e| e.digest.as_slice()).collect();
                let subjects = subjects_to_check(envelopes, new_subjects);
                if let Some(outcome) = Self::append_optimistically(&self.appender, envelopes, new_subjects, &digests, &subjects, link).await? {
                    return Ok(outcome);
                }
                let (mut tx, checked) = Self::begin_append(&self.appender, &digests, &subjects).await?;
                if checked.subjects_found != subjects.len() {
                    return Self::abandon_append(tx, StoreError::SubjectForgotten).await;
                }
                let bound = Self::insert_subjects(Self::append_conn(&mut tx), &new_subjects.bindings, new_subjects.created_at).await?;
                if bound < new_subjects.bindings.iter().map(|(_, ds)| ds.len()).sum::<usize>() {
                    // Another writer bound one of these numbers first: the batch was sealed for a
                    // subject that will not exist. Nothing is written; the caller seals it again.
                    return Self::abandon_append(tx, StoreError::SubjectForgotten).await;
                }
                let (mut outcome, fresh, records) = split_fresh(envelopes, checked.seen);
                let new_head = Self::link_and_write(Self::append_conn(&mut tx), checked.head, &records, link, &fresh, Self::COMMITS_WITH_WRITES).await?;
                Self::end_append(tx).await?;
                outcome.head = Some(new_head);
                Ok(outcome)
            }

            async fn append_record(&self, record: &NewRecord, link: &Linker) -> Result<ChainHead, StoreError> {
                let mut tx = self.ledger.begin().await?;
                let head = Self::lock_head(&mut tx).await?;
                let new_head = Self::insert_linked(&mut tx, head, &[record], link).await?;
                tx.commit().await?;
                Ok(new_head)
            }

            async fn head(&self) -> Result<ChainHead, StoreError> {
                let (seq, hash): (i64, Vec<u8>) =
                    sqlx::query_as("SELECT seq, hash FROM chain_head WHERE id = 1").fetch_one(&self.ledger).await?;
                head_of(seq, &hash)
            }

            async fn entries_for_message(&self, digest: &Digest) -> Result<Vec<StoredEntry>, StoreError> {
                let sql = format!(
                    "SELECT {ENTRY_COLUMNS} FROM chain c LEFT JOIN content ct ON ct.seq = c.seq \
                     WHERE c.message_key = $1 AND c.message_digest = $2 ORDER BY c.seq"
                );
                let rows: Vec<EntryRow> = sqlx::query_as(&sql).bind(digest_key(digest)).bind(digest.as_slice()).fetch_all(&self.ledger).await?;
                Ok(rows.into_iter().map(EntryRow::into_stored).collect::<Result<_, _>>()?)
            }

            async fn entries_for_subjects(&self, subjects: &[SubjectId]) -> Result<Vec<StoredEntry>, StoreError> {
                let mut entries = Vec::new();
                for chunk in subjects.chunks(IN_CHUNK) {
                    let mut qb = QueryBuilder::<$db>::new(format!(
                        "SELECT {ENTRY_COLUMNS} FROM content ct JOIN chain c ON c.seq = ct.seq WHERE ct.subject_key IN ("
                    ));
                    push_list(&mut qb, chunk.iter().map(|s| s.index_key()));
                    qb.push(" AND ct.subject_id IN (");
                    push_list(&mut qb, chunk.iter().map(|s| s.as_str()));
                    qb.push(" ORDER BY c.seq");
                    let rows: Vec<EntryRow> = qb.build_query_as().persistent(false).fetch_all(&self.ledger).await?;
                    for row in rows {
                        entries.push(row.into_stored()?);
                    }
                }
                entries.sort_by_key(|e| e.record.seq);
                Ok(entries)
            }

            async fn entries_after(&self, after_seq: i64, limit: i64) -> Result<Vec<StoredEntry>, StoreError> {
                let sql = format!(
                    "SELECT {ENTRY_COLUMNS} FROM chain c LEFT JOIN content ct ON ct.seq = c.seq \
                     WHERE c.seq > $1 ORDER BY c.seq LIMIT $2"
                );
                let rows: Vec<EntryRow> =
                    sqlx::query_as(&sql).bind(after_seq).bind(limit).fetch_all(&self.ledger).await?;
                Ok(rows.into_iter().map(EntryRow::into_stored).collect::<Result<_, _>>()?)
            }

            async fn scan(&self, after_seq: i64, limit: i64) -> Result<Vec<ScannedRecord>, StoreError> {
                let sql = format!(
                    "SELECT {ENTRY_COLUMNS} FROM chain c LEFT JOIN content ct ON ct.seq = c.seq \
                     WHERE c.seq > $1 ORDER BY c.seq LIMIT $2"
                );
                let rows: Vec<EntryRow> =
                    sqlx::query_as(&sql).bind(after_seq).bind(limit).fetch_all(&self.ledger).await?;
                Ok(rows.into_iter().map(EntryRow::into_scanned).collect())
            }

            async fn hash_at(&self, seq: i64) -> Result<Option<Digest>, StoreError> {
                let hash: Option<Vec<u8>> = sqlx::query_scalar("SELECT hash FROM chain WHERE seq = $1")
                    .bind(seq)
                    .fetch_optional(&self.ledger)
                    .await?;
                Ok(hash.and_then(|h| Digest::try_from(h.as_slice()).ok()))
            }

            async fn add_checkpoint(&self, cp: &Checkpoint) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO checkpoints (seq, hash, signed_at, public_key, signature) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (seq) DO NOTHING",
                )
                .bind(cp.seq)
                .bind(cp.hash.as_slice())
                .bind(cp.signed_at)
                .bind(cp.public_key.as_slice())
                .bind(cp.signature.as_slice())
                .execute(&self.ledger)
                .await?;
                Ok(())
            }

            async fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
                let row: Option<CheckpointRow> = sqlx::query_as(
                    "SELECT seq, hash, signed_at, public_key, signature FROM checkpoints ORDER BY seq DESC LIMIT 1",
                )
                .fetch_optional(&self.ledger)
                .await?;
                Ok(row.map(CheckpointRow::into_checkpoint).transpose()?)
            }

            async fn take_over_wal_folding(&self) -> Result<(), StoreError> {
                self.leave_checkpoints_to_caller().await
            }

            async fn fold_wal(&self) -> Result<(), StoreError> {
                self.fold_wal_files().await
            }

            async fn close(&self) {
                self.before_close().await;
                self.ledger.close().await;
                self.keys.close().await;
            }
        }

        impl $store {
            /// Creates subjects and binds their digests; digests already bound keep their binding.
            /// Returns how many digests were bound here.
            async fn insert_subjects(conn: &mut <$db as sqlx::Database>::Connection, bindings: &[(SubjectId, Vec<Digest>)], now: i64) -> Result<usize, StoreError> {
                for chunk in bindings.chunks(INSERT_CHUNK) {
                    let mut qb = QueryBuilder::<$db>::new("INSERT INTO subjects (id, created_at, key) ");
                    qb.push_values(chunk, |mut b, (subject, _)| {
                        b.push_bind(subject.as_str()).push_bind(now).push_bind(subject.index_key());
                    });
                    qb.push(" ON CONFLICT (id) DO NOTHING");
                    qb.build().persistent(Self::CACHE_FULL_CHUNKS && chunk.len() == INSERT_CHUNK).execute(&mut *conn).await?;
                }
                let pairs: Vec<(&Digest, &SubjectId)> =
                    bindings.iter().flat_map(|(s, ds)| ds.iter().map(move |d| (d, s))).collect();
                let mut bound = 0;
                for chunk in pairs.chunks(INSERT_CHUNK) {
                    let mut qb = QueryBuilder::<$db>::new("INSERT INTO subject_index (digest, subject_id) ");
                    qb.push_values(chunk, |mut b, (digest, subject)| {
                        b.push_bind(digest.as_slice()).push_bind(subject.as_str());
                    });
                    qb.push(" ON CONFLICT (digest) DO NOTHING");
                    bound += qb.build().persistent(Self::CACHE_FULL_CHUNKS && chunk.len() == INSERT_CHUNK).execute(&mut *conn).await?.rows_affected() as usize;
                }
                Ok(bound)
            }

            /// Takes the writer's lock on the chain head and reads it. Concurrent appenders queue
            /// here instead of forking the chain (a row lock on PostgreSQL, the write lock on SQLite).
            pub(super) async fn lock_head(tx: &mut sqlx::Transaction<'_, $db>) -> Result<ChainHead, StoreError> {
                let (seq, hash): (i64, Vec<u8>) = sqlx::query_as("UPDATE chain_head SET version = version + 1 WHERE id = 1 RETURNING seq, hash")
                    .fetch_one(&mut **tx)
                    .await?;
                head_of(seq, &hash)
            }

            /// Links `records` after `head`, writes their chain rows and content rows, and moves the
            /// head marker. Runs inside the caller's transaction, which holds the head lock.
            async fn insert_linked(
                tx: &mut sqlx::Transaction<'_, $db>,
                head: ChainHead,
                records: &[&NewRecord],
                link: &Linker,
            ) -> Result<ChainHead, StoreError> {
                Self::link_and_write(tx, head, records, link, &[], false).await
            }

            /// Links `records` after `head` and writes their chain and content rows, the daily
            /// rollup, the new head and the duplicate-detection rows of `envelopes`. Runs inside the
            /// caller's transaction, which holds the head lock.
            async fn link_and_write(
                conn: &mut <$db as sqlx::Database>::Connection,
                head: ChainHead,
                records: &[&NewRecord],
                link: &Linker,
                envelopes: &[&NewEnvelope],
                commit: bool,
            ) -> Result<ChainHead, StoreError> {
                let writes = LinkedWrites::link(head, records, link, envelopes);
                Self::write_linked(conn, &writes, commit).await?;
                Ok(writes.head)
            }
        }
    };
}

pub(super) use impl_sql_store;
