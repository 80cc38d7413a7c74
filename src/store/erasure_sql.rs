//! The SQL of [`ErasureStore`](super::ErasureStore), shared by both backends like `common.rs`.
//! Every change takes the chain-head lock first, so it is serialised with appends, purges and
//! other erasures, and its ledger entry is written in the same transaction.

macro_rules! impl_erasure_sql {
    ($store:ty, $db:ty) => {
        use crate::domain::{Category, ErasureState, FieldKind};
        use crate::store::erasure::{ErasureDone, ErasureRow, ErasureStore, ErasureUpdate, Eraser};
        use std::collections::BTreeMap;
        use std::str::FromStr;

        const REQUEST_COLUMNS: &str = "r.id, r.details, r.received_at, r.due_at, r.extension, r.state, r.completed_at, \
             r.entries_erased, r.counts, r.subjects, r.refused_by, r.chain_seq, r.chain_hash, r.created_at";

        /// The subjects a request's lookup digests lead to now.
        const REQUEST_SUBJECTS: &str = "SELECT DISTINCT si.subject_id FROM erasure_lookup el \
             JOIN subject_index si ON si.digest = el.digest WHERE el.request_id = $1 ORDER BY si.subject_id";

        type RequestRow = (
            String, Vec<u8>, i64, i64, Option<Vec<u8>>, String, Option<i64>,
            i64, Option<String>, Option<String>, Option<String>, Option<i64>, Option<Vec<u8>>, i64,
        );

        fn request(row: RequestRow) -> Result<ErasureRow, StoreError> {
            let state = ErasureState::from_str(&row.5)
                .map_err(|_| StoreError::Corrupt(format!("erasure request {} has an unknown state", row.0)))?;
            Ok(ErasureRow {
                id: row.0, details: row.1, received_at: row.2, due_at: row.3, extension: row.4, state,
                completed_at: row.6, entries_erased: row.7, counts: row.8, subjects: row.9, refused_by: row.10,
                chain_seq: row.11, chain_hash: row.12, created_at: row.13,
            })
        }

        fn requests(rows: Vec<RequestRow>) -> Result<Vec<ErasureRow>, StoreError> {
            rows.into_iter().map(request).collect()
        }

        #[async_trait::async_trait]
        impl ErasureStore for $store {
            async fn add_erasure_request(&self, row: &ErasureRow, lookup: &[Digest], record: &NewRecord, link: &Linker) -> Result<(), StoreError> {
                let mut tx = self.ledger.begin().await?;
                let head = Self::lock_head(&mut tx).await?;
                sqlx::query(
                    "INSERT INTO erasure_requests (id, details, received_at, due_at, state, entries_erased, created_at) \
                     VALUES ($1, $2, $3, $4, $5, 0, $6)",
                )
                .bind(row.id.as_str())
                .bind(row.details.as_slice())
                .bind(row.received_at)
                .bind(row.due_at)
                .bind(<&'static str>::from(row.state))
                .bind(row.created_at)
                .execute(&mut *tx)
                .await?;
                let mut digests: Vec<&Digest> = lookup.iter().collect();
                digests.sort_unstable();
                digests.dedup();
                if !digests.is_empty() {
                    let mut qb = QueryBuilder::<$db>::new("INSERT INTO erasure_lookup (digest, request_id) ");
                    qb.push_values(digests, |mut b, d| {
                        b.push_bind(d.as_slice()).push_bind(row.id.as_str());
                    });
                    qb.build().persistent(false).execute(&mut *tx).await?;
                }
                Self::insert_linked(&mut tx, head, &[record], link).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn erasure_requests(&self, pending_only: bool) -> Result<Vec<ErasureRow>, StoreError> {
                let sql = format!(
                    "SELECT {REQUEST_COLUMNS} FROM erasure_requests r WHERE ($1 = 0 OR r.state = 'pending') \
                     ORDER BY r.received_at, r.id"
                );
                let rows: Vec<RequestRow> =
                    sqlx::query_as(&sql).bind(i64::from(pending_only)).fetch_all(&self.ledger).await?;
                requests(rows)
            }

            async fn erasure_request(&self, id: &str) -> Result<Option<ErasureRow>, StoreError> {
                let sql = format!("SELECT {REQUEST_COLUMNS} FROM erasure_requests r WHERE r.id = $1");
                let row: Option<RequestRow> = sqlx::query_as(&sql).bind(id).fetch_optional(&self.ledger).await?;
                row.map(request).transpose()
            }

            async fn erasure_requests_by_lookup(&self, digests: &[Digest]) -> Result<Vec<ErasureRow>, StoreError> {
                if digests.is_empty() {
                    return Ok(Vec::new());
                }
                let mut qb = QueryBuilder::<$db>::new(format!(
                    "SELECT {REQUEST_COLUMNS} FROM erasure_requests r WHERE r.id IN \
                     (SELECT request_id FROM erasure_lookup WHERE digest IN ("
                ));
                push_list(&mut qb, digests.iter().map(|d| d.as_slice()));
                qb.push(") ORDER BY r.received_at, r.id");
                let rows: Vec<RequestRow> = qb.build_query_as().persistent(false).fetch_all(&self.ledger).await?;
                requests(rows)
            }

            async fn erasure_subjects(&self, id: &str) -> Result<Vec<SubjectId>, StoreError> {
                let ids: Vec<String> = sqlx::query_scalar(
                    REQUEST_SUBJECTS,
                )
                .bind(id)
                .fetch_all(&self.ledger)
                .await?;
                Ok(ids.into_iter().map(SubjectId::from_stored).collect())
            }

            async fn update_erasure(&self, id: &str, update: &ErasureUpdate, record: &NewRecord, link: &Linker) -> Result<Option<(i64, Digest)>, StoreError> {
                let mut tx = self.ledger.begin().await?;
                let head = Self::lock_head(&mut tx).await?;
                let changed = match update {
                    ErasureUpdate::Extend { due_at, reason } => sqlx::query(
                        "UPDATE erasure_requests SET due_at = $1, extension = $2 \
                         WHERE id = $3 AND state = 'pending' AND extension IS NULL",
                    )
                    .bind(*due_at)
                    .bind(reason.as_slice())
                    .bind(id)
                    .execute(&mut *tx)
                    .await?,
                    ErasureUpdate::Refuse { hold, at } => sqlx::query(
                        "UPDATE erasure_requests SET state = 'refused', refused_by = $1, completed_at = $2, \
                         chain_seq = $3 WHERE id = $4 AND state = 'pending'",
                    )
                    .bind(hold.as_str())
                    .bind(*at)
                    .bind(head.seq + 1)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?,
                };
                if changed.rows_affected() == 0 {
                    tx.rollback().await?;
                    return Ok(None);
                }
                let new_head = Self::insert_linked(&mut tx, head, &[record], link).await?;
                if matches!(update, ErasureUpdate::Refuse { .. }) {
                    sqlx::query("UPDATE erasure_requests SET chain_hash = $1 WHERE id = $2")
                        .bind(new_head.hash.as_slice())
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(Some((new_head.seq, new_head.hash)))
            }

            async fn complete_erasure(&self, id: &str, now: i64, eraser: &Eraser<'_>, link: &Linker) -> Result<Option<ErasureDone>, StoreError> {
                let mut tx = self.ledger.begin().await?;
                let head = Self::lock_head(&mut tx).await?;
                let state: Option<String> = sqlx::query_scalar("SELECT state FROM erasure_requests WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if state.as_deref() != Some("pending") {
                    tx.rollback().await?;
                    return Ok(None);
                }
                let subject_ids: Vec<String> = sqlx::query_scalar(
                    REQUEST_SUBJECTS,
                )
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
                let subjects: Vec<SubjectId> = subject_ids.into_iter().map(SubjectId::from_stored).collect();
                let mut counts: BTreeMap<Category, u64> = BTreeMap::new();
                for chunk in subjects.chunks(IN_CHUNK) {
                    let mut qb = QueryBuilder::<$db>::new("SELECT field, count(*) FROM content WHERE state = 'held' AND subject_key IN (");
                    push_list(&mut qb, chunk.iter().map(SubjectId::index_key));
                    qb.push(" AND subject_id IN (");
                    push_list(&mut qb, chunk.iter().map(|s| s.as_str()));
                    qb.push(" GROUP BY field");
                    let rows: Vec<(Option<String>, i64)> = qb.build_query_as().persistent(false).fetch_all(&mut *tx).await?;
                    for (field, n) in rows {
                        let category = field
                            .as_deref()
                            .and_then(|f| FieldKind::from_str(f).ok())
                            .map(FieldKind::category)
                            .ok_or_else(|| StoreError::Corrupt("a content row has no known field kind".into()))?;
                        *counts.entry(category).or_default() += n as u64;
                    }
                    let mut qb = QueryBuilder::<$db>::new(
                        "UPDATE content SET state = 'erased', sealed = NULL WHERE state = 'held' AND subject_key IN (",
                    );
                    push_list(&mut qb, chunk.iter().map(SubjectId::index_key));
                    qb.push(" AND subject_id IN (");
                    push_list(&mut qb, chunk.iter().map(|s| s.as_str()));
                    qb.build().persistent(false).execute(&mut *tx).await?;
                    for (table, column) in [("subject_index", "subject_id"), ("envelopes", "subject_id"), ("subjects", "id")] {
                        let mut qb = QueryBuilder::<$db>::new(format!("DELETE FROM {table} WHERE {column} IN ("));
                        push_list(&mut qb, chunk.iter().map(|s| s.as_str()));
                        qb.build().persistent(false).execute(&mut *tx).await?;
                    }
                }
                let total: u64 = counts.values().sum();
                let record = eraser(&subjects, &counts);
                let new_head = Self::insert_linked(&mut tx, head, &[&record], link).await?;
                let subjects_json = serde_json::to_string(&subjects.iter().map(|s| s.as_str()).collect::<Vec<_>>())
                    .expect("strings serialise");
                let counts_json = serde_json::to_string(&counts).expect("counts serialise");
                sqlx::query(
                    "UPDATE erasure_requests SET state = 'completed', completed_at = $1, entries_erased = $2, counts = $3, \
                     subjects = $4, chain_seq = $5, chain_hash = $6 WHERE id = $7",
                )
                .bind(now)
                .bind(total as i64)
                .bind(counts_json)
                .bind(subjects_json)
                .bind(new_head.seq)
                .bind(new_head.hash.as_slice())
                .bind(id)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(Some(ErasureDone { subjects, counts, total, seq: new_head.seq, hash: new_head.hash }))
            }

            async fn scrub(&self) -> Result<(), StoreError> {
                self.scrub_files().await
            }
        }
    };
}

pub(super) use impl_erasure_sql;
