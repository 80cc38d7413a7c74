//! The SQL of [`ReportStore`](super::ReportStore), shared by both backends like `common.rs`.

macro_rules! impl_report_sql {
    ($store:ty, $db:ty) => {
        use crate::domain::{Category, Direction, EntryState, FieldKind, RecordKind};
        use crate::store::report::{ChainEvent, DayCount, FlowCount, ReportStore, Verification};
        use crate::store::retention::active_holds;
        use std::str::FromStr;

        fn parse<T: FromStr>(text: &str, what: &str) -> Result<T, StoreError> {
            T::from_str(text).map_err(|_| StoreError::Corrupt(format!("unknown {what} '{text}'")))
        }

        #[async_trait::async_trait]
        impl ReportStore for $store {
            async fn flow_counts(&self, from: i64, to: i64) -> Result<Vec<FlowCount>, StoreError> {
                let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
                    "SELECT field, direction, state, count(*) FROM content \
                     WHERE occurred_at >= $1 AND occurred_at < $2 AND field IS NOT NULL AND direction IS NOT NULL \
                     GROUP BY field, direction, state",
                )
                .bind(from)
                .bind(to)
                .fetch_all(&self.ledger)
                .await?;
                rows.into_iter()
                    .map(|(field, direction, state, count)| {
                        Ok(FlowCount {
                            field: parse(&field, "field kind")?,
                            direction: parse(&direction, "direction")?,
                            state: parse::<EntryState>(&state, "state")?,
                            count: count as u64,
                        })
                    })
                    .collect()
            }

            async fn flow_days(&self, until: i64) -> Result<Vec<DayCount>, StoreError> {
                let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(
                    "SELECT day, field, direction, recorded FROM flow_days WHERE day < $1 ORDER BY day",
                )
                .bind(until.div_euclid(86_400) + 1)
                .fetch_all(&self.ledger)
                .await?;
                rows.into_iter()
                    .map(|(day, field, direction, recorded)| {
                        Ok(DayCount { day, field: parse(&field, "field kind")?, direction: parse(&direction, "direction")?, recorded: recorded as u64 })
                    })
                    .collect()
            }

            async fn chain_events(&self, kinds: &[RecordKind], until: i64) -> Result<Vec<ChainEvent>, StoreError> {
                if kinds.is_empty() {
                    return Ok(Vec::new());
                }
                // `kind <> 'field'` lets both backends use the partial index of non-field records.
                let mut qb = QueryBuilder::<$db>::new(
                    "SELECT seq, kind, category, recorded_at, detail FROM chain WHERE kind <> 'field' AND recorded_at < ",
                );
                qb.push_bind(until).push(" AND kind IN (");
                push_list(&mut qb, kinds.iter().map(|k| k.as_ref().to_string()));
                qb.push(" ORDER BY seq");
                let rows: Vec<(i64, String, Option<String>, i64, Option<String>)> =
                    qb.build_query_as().persistent(false).fetch_all(&self.ledger).await?;
                rows.into_iter()
                    .map(|(seq, kind, category, recorded_at, detail)| {
                        Ok(ChainEvent {
                            seq,
                            kind: parse(&kind, "record kind")?,
                            category: category.as_deref().map(|c| parse::<Category>(c, "category")).transpose()?,
                            recorded_at,
                            detail,
                        })
                    })
                    .collect()
            }

            async fn held_past_window(&self, field: FieldKind, cutoff: i64, now: i64) -> Result<Vec<(Direction, u64)>, StoreError> {
                let sql = concat!(
                    "SELECT direction, count(*) FROM content WHERE state = 'held' AND field = $1 AND occurred_at <= $2 \
                     AND (subject_key IS NULL OR subject_key NOT IN ", active_holds!(3), ") GROUP BY direction"
                );
                let name: &'static str = field.into();
                let rows: Vec<(Option<String>, i64)> =
                    sqlx::query_as(sql).bind(name).bind(cutoff).bind(now).fetch_all(&self.ledger).await?;
                rows.into_iter()
                    .filter_map(|(d, n)| d.map(|d| (d, n)))
                    .map(|(d, n)| Ok((parse(&d, "direction")?, n as u64)))
                    .collect()
            }

            async fn oldest_held(&self, field: FieldKind, direction: Direction) -> Result<Option<i64>, StoreError> {
                let name: &'static str = field.into();
                let dir: &'static str = direction.into();
                // ORDER BY … LIMIT 1 walks the index to its first entry on both backends, whatever
                // the planner's statistics say.
                Ok(sqlx::query_scalar(
                    "SELECT occurred_at FROM content WHERE field = $1 AND direction = $2 AND state = 'held' \
                     ORDER BY occurred_at LIMIT 1",
                )
                .bind(name)
                .bind(dir)
                .fetch_optional(&self.ledger)
                .await?)
            }

            async fn record_verification(&self, run: &Verification) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO verifications (verified_at, ok, entries_checked, head_seq, first_bad_seq, reason) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(run.verified_at)
                .bind(i64::from(run.ok))
                .bind(run.entries_checked as i64)
                .bind(run.head_seq)
                .bind(run.first_bad_seq)
                .bind(run.reason.as_deref())
                .execute(&self.ledger)
                .await?;
                Ok(())
            }

            async fn refresh_statistics(&self) -> Result<(), StoreError> {
                sqlx::query(Self::ANALYZE_CONTENT).execute(&self.ledger).await?;
                Ok(())
            }

            async fn latest_verification(&self) -> Result<Option<Verification>, StoreError> {
                let row: Option<(i64, i64, i64, i64, Option<i64>, Option<String>)> = sqlx::query_as(
                    "SELECT verified_at, ok, entries_checked, head_seq, first_bad_seq, reason FROM verifications \
                     ORDER BY verified_at DESC LIMIT 1",
                )
                .fetch_optional(&self.ledger)
                .await?;
                Ok(row.map(|(verified_at, ok, entries_checked, head_seq, first_bad_seq, reason)| Verification {
                    verified_at,
                    ok: ok != 0,
                    entries_checked: entries_checked as u64,
                    head_seq,
                    first_bad_seq,
                    reason,
                }))
            }
        }
    };
}

pub(super) use impl_report_sql;
