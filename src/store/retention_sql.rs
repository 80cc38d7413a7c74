//! The SQL of [`RetentionStore`](super::RetentionStore), shared by both backends like
//! `common.rs`. Purge batches and hold changes take the chain-head lock first, so they are
//! serialised with appends and with each other.

macro_rules! impl_retention_sql {
    ($store:ty, $db:ty) => {
        use crate::store::retention::{active_holds, HoldRow, JobRun, PlanRow, RetentionStore, Tombstoner};
        use crate::domain::FieldKind;

        #[async_trait::async_trait]
        impl RetentionStore for $store {
            async fn purge_plan(&self, cutoffs: &[(FieldKind, i64)], now: i64) -> Result<Vec<PlanRow>, StoreError> {
                let due_sql = concat!(
                    "SELECT count(*), count(DISTINCT subject_key), min(occurred_at) FROM content \
                     WHERE state = 'held' AND field = $1 AND occurred_at <= $2 \
                     AND (subject_key IS NULL OR subject_key NOT IN ", active_holds!(3), ")"
                );
                let kept_sql = concat!(
                    "SELECT count(*) FROM content WHERE state = 'held' AND field = $1 AND occurred_at <= $2 \
                     AND subject_key IN ", active_holds!(3)
                );
                let mut plan = Vec::with_capacity(cutoffs.len());
                for (field, cutoff) in cutoffs {
                    let name: &'static str = (*field).into();
                    let (due, subjects, oldest): (i64, i64, Option<i64>) =
                        sqlx::query_as(due_sql).bind(name).bind(*cutoff).bind(now).fetch_one(&self.ledger).await?;
                    let kept: i64 = sqlx::query_scalar(kept_sql).bind(name).bind(*cutoff).bind(now).fetch_one(&self.ledger).await?;
                    plan.push(PlanRow { field: *field, due: due as u64, subjects: subjects as u64, kept_by_holds: kept as u64, oldest_due: oldest });
                }
                Ok(plan)
            }

            async fn purge_batch(&self, field: FieldKind, cutoff: i64, now: i64, limit: i64, tombstone: &Tombstoner<'_>, link: &Linker) -> Result<u64, StoreError> {
                let mut tx = self.ledger.begin().await?;
                let head = Self::lock_head(&mut tx).await?;
                let select = concat!(
                    "SELECT seq FROM content WHERE state = 'held' AND field = $1 AND occurred_at <= $2 \
                     AND (subject_key IS NULL OR subject_key NOT IN ", active_holds!(3), ") ORDER BY occurred_at LIMIT $4"
                );
                let name: &'static str = field.into();
                let seqs: Vec<i64> = sqlx::query_scalar(select).bind(name).bind(cutoff).bind(now).bind(limit).fetch_all(&mut *tx).await?;
                if seqs.is_empty() {
                    tx.rollback().await?;
                    return Ok(0);
                }
                for chunk in seqs.chunks(IN_CHUNK) {
                    let mut qb = QueryBuilder::<$db>::new("UPDATE content SET state = 'purged', sealed = NULL WHERE seq IN (");
                    push_list(&mut qb, chunk.iter().copied());
                    qb.build().persistent(false).execute(&mut *tx).await?;
                }
                let (first, last) = (*seqs.iter().min().expect("not empty"), *seqs.iter().max().expect("not empty"));
                let record = tombstone(seqs.len() as u64, first, last);
                Self::insert_linked(&mut tx, head, &[&record], link).await?;
                tx.commit().await?;
                Ok(seqs.len() as u64)
            }

            async fn holds_values_between(&self, field: FieldKind, from: i64, to: i64) -> Result<bool, StoreError> {
                let name: &'static str = field.into();
                let found: Option<i64> = sqlx::query_scalar(
                    "SELECT seq FROM content WHERE state = 'held' AND field = $1 AND occurred_at >= $2 AND occurred_at < $3 LIMIT 1",
                )
                .bind(name)
                .bind(from)
                .bind(to)
                .fetch_optional(&self.ledger)
                .await?;
                Ok(found.is_some())
            }

            async fn orphan_subjects(&self, now: i64, limit: i64) -> Result<Vec<SubjectId>, StoreError> {
                let ids: Vec<String> = sqlx::query_scalar(ORPHANS).bind(now).bind(limit).fetch_all(&self.ledger).await?;
                Ok(ids.into_iter().map(SubjectId::from_stored).collect())
            }

            async fn forget_subjects(&self, subjects: &[SubjectId], now: i64) -> Result<Vec<SubjectId>, StoreError> {
                let mut tx = self.ledger.begin().await?;
                // Under the head lock no append is in flight: an orphan now stays one.
                Self::lock_head(&mut tx).await?;
                let mut forgotten = Vec::new();
                for chunk in subjects.chunks(IN_CHUNK) {
                    let mut qb = QueryBuilder::<$db>::new(
                        "SELECT s.id FROM subjects s WHERE NOT EXISTS (SELECT 1 FROM content ct \
                         WHERE ct.subject_key = s.key AND ct.subject_id = s.id AND ct.state = 'held') \
                         AND s.id NOT IN (SELECT subject_id FROM holds WHERE released_at IS NULL AND (until IS NULL OR until > "
                    );
                    qb.push_bind(now).push(")) AND s.id IN (");
                    push_list(&mut qb, chunk.iter().map(|subject| subject.as_str()));
                    let still: Vec<String> = qb.build_query_scalar().persistent(false).fetch_all(&mut *tx).await?;
                    for (table, column) in [("subject_index", "subject_id"), ("envelopes", "subject_id"), ("subjects", "id")] {
                        if still.is_empty() {
                            break;
                        }
                        let mut qb = QueryBuilder::<$db>::new(format!("DELETE FROM {table} WHERE {column} IN ("));
                        push_list(&mut qb, still.iter().map(|id| id.as_str()));
                        qb.build().persistent(false).execute(&mut *tx).await?;
                    }
                    forgotten.extend(still.into_iter().map(SubjectId::from_stored));
                }
                tx.commit().await?;
                Ok(forgotten)
            }

            async fn delete_data_keys(&self, owners: &[&str]) -> Result<(), StoreError> {
                let mut tx = self.keys.begin().await?;
                for chunk in owners.chunks(IN_CHUNK) {
                    let mut qb = QueryBuilder::<$db>::new("DELETE FROM data_keys WHERE owner IN (");
                    push_list(&mut qb, chunk.iter().copied());
                    qb.build().persistent(false).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn forget_envelopes_before(&self, before: i64) -> Result<u64, StoreError> {
                let done = sqlx::query("DELETE FROM envelopes WHERE recorded_at < $1").bind(before).execute(&self.ledger).await?;
                Ok(done.rows_affected())
            }

            async fn add_hold(&self, hold: &HoldRow, record: &NewRecord, link: &Linker) -> Result<(), StoreError> {
                let mut tx = self.ledger.begin().await?;
                let head = Self::lock_head(&mut tx).await?;
                sqlx::query("INSERT INTO holds (id, subject_id, reason, created_at, until, released_at) VALUES ($1, $2, $3, $4, $5, NULL)")
                    .bind(hold.id.as_str())
                    .bind(hold.subject.as_str())
                    .bind(hold.reason.as_slice())
                    .bind(hold.created_at)
                    .bind(hold.until)
                    .execute(&mut *tx)
                    .await?;
                Self::insert_linked(&mut tx, head, &[record], link).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn holds(&self) -> Result<Vec<HoldRow>, StoreError> {
                let rows: Vec<(String, String, Vec<u8>, i64, Option<i64>, Option<i64>)> = sqlx::query_as(
                    "SELECT id, subject_id, reason, created_at, until, released_at FROM holds ORDER BY created_at, id",
                )
                .fetch_all(&self.ledger)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(id, subject, reason, created_at, until, released_at)| HoldRow {
                        id,
                        subject: SubjectId::from_stored(subject),
                        reason,
                        created_at,
                        until,
                        released_at,
                    })
                    .collect())
            }

            async fn release_hold(&self, id: &str, now: i64, record: &NewRecord, link: &Linker) -> Result<bool, StoreError> {
                let mut tx = self.ledger.begin().await?;
                let head = Self::lock_head(&mut tx).await?;
                let done = sqlx::query("UPDATE holds SET released_at = $1 WHERE id = $2 AND released_at IS NULL")
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                Self::insert_linked(&mut tx, head, &[record], link).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn claim_run(&self, job: &str, scheduled_for: i64, instance: &str, now: i64, lease_until: i64) -> Result<bool, StoreError> {
                let mut tx = self.ledger.begin().await?;
                Self::lock_jobs(&mut tx).await?;
                let inserted = sqlx::query(
                    "INSERT INTO job_runs (job, scheduled_for, instance, started_at, lease_until) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (job, scheduled_for) DO NOTHING",
                )
                .bind(job)
                .bind(scheduled_for)
                .bind(instance)
                .bind(now)
                .bind(lease_until)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                let claimed = if inserted == 1 {
                    true
                } else {
                    // Take over a run whose instance died: unfinished and its lease expired.
                    sqlx::query(
                        "UPDATE job_runs SET instance = $3, started_at = $4, lease_until = $5 \
                         WHERE job = $1 AND scheduled_for = $2 AND finished_at IS NULL AND lease_until < $4",
                    )
                    .bind(job)
                    .bind(scheduled_for)
                    .bind(instance)
                    .bind(now)
                    .bind(lease_until)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                        == 1
                };
                tx.commit().await?;
                Ok(claimed)
            }

            async fn finish_run(&self, job: &str, scheduled_for: i64, instance: &str, now: i64, outcome: &str, counts: &str) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE job_runs SET finished_at = $4, outcome = $5, counts = $6 \
                     WHERE job = $1 AND scheduled_for = $2 AND instance = $3",
                )
                .bind(job)
                .bind(scheduled_for)
                .bind(instance)
                .bind(now)
                .bind(outcome)
                .bind(counts)
                .execute(&self.ledger)
                .await?;
                Ok(())
            }

            async fn runs(&self, job: Option<&str>, limit: i64) -> Result<Vec<JobRun>, StoreError> {
                let rows: Vec<(String, i64, String, i64, i64, Option<i64>, Option<String>, Option<String>)> = sqlx::query_as(
                    "SELECT job, scheduled_for, instance, started_at, lease_until, finished_at, outcome, counts FROM job_runs \
                     WHERE ($1 IS NULL OR job = $1) ORDER BY scheduled_for DESC, job LIMIT $2",
                )
                .bind(job)
                .bind(limit)
                .fetch_all(&self.ledger)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(job, scheduled_for, instance, started_at, lease_until, finished_at, outcome, counts)| JobRun {
                        job, scheduled_for, instance, started_at, lease_until, finished_at, outcome, counts,
                    })
                    .collect())
            }
        }
    };
}

/// Subjects with no held value and no active hold at `$1`, at most `$2` of them.
macro_rules! orphans_sql {
    () => {
        concat!(
            "SELECT s.id FROM subjects s \
             WHERE NOT EXISTS (SELECT 1 FROM content ct WHERE ct.subject_key = s.key AND ct.subject_id = s.id AND ct.state = 'held') \
             AND s.key NOT IN ", crate::store::retention::active_holds!(1), " LIMIT $2"
        )
    };
}

pub(super) const ORPHANS: &str = orphans_sql!();
pub(super) use impl_retention_sql;
