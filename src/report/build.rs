//! Computing the report from chain and content metadata alone: no value is read or decrypted, so
//! no master key is needed. Counts per flow come from one covering index; the series over time
//! from the daily rollup and the chain's purge and erasure records.

use super::model::*;
use crate::crypto::public_key_id;
use crate::domain::{Category, Direction, EntryState, ErasureState, FieldKind, RecordKind};
use crate::erasure::is_overdue;
use crate::policy::Policies;
use crate::store::{ErasureRow, Store, StoreError};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use strum::IntoEnumIterator;

const DAY: i64 = 86_400;

fn time(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

/// The report for `[from, to)` as of `now`.
pub async fn build(
    store: &dyn Store,
    policies: &Policies,
    period: Period,
    now: DateTime<Utc>,
) -> Result<Report, StoreError> {
    let (from, to) = (period.from.timestamp(), period.to.timestamp());
    let flows = flows(store, policies, from, to, now).await?;
    let requests = store.erasure_requests(false).await?;
    let erasures = erasures(&requests, from, to, now);
    let holds = holds(store, now).await?;
    let integrity = integrity(store).await?;
    let daily = daily(store, &requests, from, to).await?;
    let catalogue = &policies.catalogue;
    let observed: BTreeSet<(FieldKind, Direction)> =
        flows.iter().map(|f| (f.field, f.direction)).collect();
    let documented_not_observed = catalogue
        .flows
        .iter()
        .filter(|f| {
            !f.fields
                .iter()
                .any(|k| observed.contains(&(*k, f.direction)))
        })
        .map(|f| CatalogueFlow {
            id: f.id.clone(),
            name: f.name.clone(),
            direction: f.direction,
            fields: f.fields.clone(),
        })
        .collect();
    let retention = Category::iter()
        .map(|category| {
            let ours = FieldKind::iter()
                .filter(|k| k.category() == category)
                .map(|k| policies.retention.window_for(k))
                .max()
                .map(|w| w.to_string())
                .unwrap_or_default();
            let meta = catalogue.meta_retention.get(&category);
            RetentionComparison {
                category,
                ours,
                meta: meta.map(|m| m.window.to_string()),
                meta_document: meta
                    .and_then(|m| catalogue.documents.get(&m.document))
                    .map(|d| d.title.clone()),
            }
        })
        .collect();
    let summary = Summary {
        recorded: flows.iter().map(|f| f.recorded).sum(),
        held: flows.iter().map(|f| f.held).sum(),
        purged: flows.iter().map(|f| f.purged).sum(),
        erased: flows.iter().map(|f| f.erased).sum(),
        flows: flows.len() as u64,
        undocumented_flows: flows.iter().filter(|f| !f.documented).count() as u64,
        non_compliant_flows: flows.iter().filter(|f| !f.compliant).count() as u64,
        compliant: flows.iter().all(|f| f.compliant)
            && erasures.overdue == 0
            && integrity.verified == Some(true)
            && integrity.checkpoint_in_chain != Some(false),
    };
    Ok(Report {
        format: FORMAT.to_string(),
        generated_at: now,
        period,
        summary,
        flows,
        documented_not_observed,
        erasures,
        holds,
        integrity,
        retention,
        daily,
        policy_sha256: policies.retention.digest.clone(),
        catalogue_sha256: catalogue.digest.clone(),
    })
}

async fn flows(
    store: &dyn Store,
    policies: &Policies,
    from: i64,
    to: i64,
    now: DateTime<Utc>,
) -> Result<Vec<Flow>, StoreError> {
    let mut counts: BTreeMap<(FieldKind, Direction), HashMap<EntryState, u64>> = BTreeMap::new();
    for c in store.flow_counts(from, to).await? {
        *counts
            .entry((c.field, c.direction))
            .or_default()
            .entry(c.state)
            .or_default() += c.count;
    }
    let mut past: BTreeMap<(FieldKind, Direction), u64> = BTreeMap::new();
    let fields: BTreeSet<FieldKind> = counts.keys().map(|(f, _)| *f).collect();
    for field in fields {
        let cutoff = policies.retention.cutoff(field, now.timestamp());
        for (direction, n) in store
            .held_past_window(field, cutoff, now.timestamp())
            .await?
        {
            past.insert((field, direction), n);
        }
    }
    let catalogue = &policies.catalogue;
    let mut flows = Vec::with_capacity(counts.len());
    for ((field, direction), states) in counts {
        let get = |s: EntryState| states.get(&s).copied().unwrap_or(0);
        let oldest = store.oldest_held(field, direction).await?;
        let documented = catalogue.flow_for(field, direction);
        let window = policies.retention.window_for(field);
        let meta = catalogue.meta_retention.get(&field.category());
        let held_past_window = past.get(&(field, direction)).copied().unwrap_or(0);
        flows.push(Flow {
            field,
            direction,
            category: field.category(),
            documented: documented.is_some(),
            flow: documented.map(|f| f.id.clone()),
            name: documented.map(|f| f.name.clone()),
            purpose: documented.map(|f| f.purpose.clone()),
            lawful_basis: documented.map(|f| f.lawful_basis.clone()),
            terms: catalogue
                .terms_for(field, direction)
                .into_iter()
                .map(|d| TermRef {
                    owner: d.owner,
                    document: d.title.clone(),
                    id: d.id.clone(),
                    url: d.url.clone(),
                    reviewed: d.reviewed,
                })
                .collect(),
            retention: window.to_string(),
            recorded: states.values().sum(),
            held: get(EntryState::Held),
            purged: get(EntryState::Purged),
            erased: get(EntryState::Erased),
            held_past_window,
            oldest_held_age_days: oldest
                .map(|t| ((now.timestamp() - t) as f64 / DAY as f64 * 10.0).round() / 10.0),
            compliant: held_past_window == 0,
            meta_retention: meta.map(|m| m.window.to_string()),
            meta_retention_document: meta
                .and_then(|m| catalogue.documents.get(&m.document))
                .map(|d| d.title.clone()),
            meta_copy_outlives_ours_days: meta
                .map(|m| ((m.window.seconds() - window.seconds()) / DAY).max(0)),
        });
    }
    Ok(flows)
}

fn erasures(requests: &[ErasureRow], from: i64, to: i64, now: DateTime<Utc>) -> Erasures {
    let in_period: Vec<&ErasureRow> = requests
        .iter()
        .filter(|r| r.received_at >= from && r.received_at < to)
        .collect();
    let count = |state: ErasureState| in_period.iter().filter(|r| r.state == state).count() as u64;
    let completed: Vec<&&ErasureRow> = in_period
        .iter()
        .filter(|r| r.state == ErasureState::Completed)
        .collect();
    let on_time = completed
        .iter()
        .filter(|r| r.completed_at.is_some_and(|c| c <= r.due_at))
        .count() as u64;
    let mut hours: Vec<f64> = completed
        .iter()
        .filter_map(|r| r.completed_at.map(|c| (c - r.received_at) as f64 / 3600.0))
        .collect();
    hours.sort_by(f64::total_cmp);
    let median = match hours.len() {
        0 => None,
        n if n % 2 == 1 => Some(hours[n / 2]),
        n => Some((hours[n / 2 - 1] + hours[n / 2]) / 2.0),
    };
    let round = |h: f64| (h * 100.0).round() / 100.0;
    Erasures {
        received: in_period.len() as u64,
        completed: completed.len() as u64,
        completed_on_time: on_time,
        completed_late: completed.len() as u64 - on_time,
        pending: count(ErasureState::Pending),
        overdue: in_period.iter().filter(|r| is_overdue(r, now)).count() as u64,
        refused: count(ErasureState::Refused),
        median_hours_to_complete: median.map(round),
        slowest_hours_to_complete: hours.last().copied().map(round),
        requests: in_period
            .iter()
            .map(|r| ErasureLine {
                id: r.id.clone(),
                state: r.state,
                received_at: time(r.received_at),
                due_at: time(r.due_at),
                completed_at: r.completed_at.map(time),
                on_time: match r.state {
                    ErasureState::Completed => r.completed_at.map(|c| c <= r.due_at),
                    _ => None,
                },
                overdue: is_overdue(r, now),
                entries_erased: r.entries_erased as u64,
            })
            .collect(),
    }
}

async fn holds(store: &dyn Store, now: DateTime<Utc>) -> Result<Holds, StoreError> {
    let now = now.timestamp();
    let holds: Vec<HoldLine> = store
        .holds()
        .await?
        .into_iter()
        .filter(|h| h.released_at.is_none() && h.until.is_none_or(|u| u > now))
        .map(|h| HoldLine {
            id: h.id,
            subject_id: h.subject.as_str().to_string(),
            from: time(h.created_at),
            until: h.until.map(time),
        })
        .collect();
    Ok(Holds {
        in_force: holds.len() as u64,
        holds,
    })
}

async fn integrity(store: &dyn Store) -> Result<Integrity, StoreError> {
    let head = store.head().await?;
    let verification = store.latest_verification().await?;
    let checkpoint = store.latest_checkpoint().await?;
    let in_chain = match &checkpoint {
        Some(cp) => Some(store.hash_at(cp.seq).await? == Some(cp.hash)),
        None => None,
    };
    Ok(Integrity {
        verified: verification.as_ref().map(|v| v.ok),
        verified_at: verification.as_ref().map(|v| time(v.verified_at)),
        entries_checked: verification.as_ref().map(|v| v.entries_checked),
        first_bad_seq: verification.as_ref().and_then(|v| v.first_bad_seq),
        entries_since_verification: (head.seq - verification.as_ref().map_or(0, |v| v.head_seq))
            .max(0) as u64,
        chain_head_seq: head.seq,
        checkpoint_seq: checkpoint.as_ref().map(|c| c.seq),
        checkpoint_signed_at: checkpoint.as_ref().map(|c| time(c.signed_at)),
        checkpoint_key_id: checkpoint.as_ref().map(|c| public_key_id(&c.public_key)),
        checkpoint_in_chain: in_chain,
    })
}

/// The values a purge tombstone or an erasure record removed, per category.
pub fn removed_values(event: &crate::store::ChainEvent) -> BTreeMap<Category, u64> {
    let detail: serde_json::Value = event
        .detail
        .as_deref()
        .and_then(|d| serde_json::from_str(d).ok())
        .unwrap_or_default();
    match event.kind {
        RecordKind::Purge => event
            .category
            .map(|c| BTreeMap::from([(c, detail["count"].as_u64().unwrap_or(0))]))
            .unwrap_or_default(),
        RecordKind::Erasure => serde_json::from_value(detail["erased"].clone()).unwrap_or_default(),
        _ => BTreeMap::new(),
    }
}

fn day_of(seconds: i64) -> i64 {
    seconds.div_euclid(DAY)
}

async fn daily(
    store: &dyn Store,
    requests: &[ErasureRow],
    from: i64,
    to: i64,
) -> Result<Vec<Day>, StoreError> {
    let (first, last) = (day_of(from), day_of(to - 1));
    let mut recorded: BTreeMap<i64, BTreeMap<Category, i64>> = BTreeMap::new();
    for d in store.flow_days(to).await? {
        *recorded
            .entry(d.day.max(first - 1))
            .or_default()
            .entry(d.field.category())
            .or_default() += d.recorded as i64;
    }
    let mut purged: BTreeMap<i64, BTreeMap<Category, i64>> = BTreeMap::new();
    let mut erased: BTreeMap<i64, BTreeMap<Category, i64>> = BTreeMap::new();
    for event in store
        .chain_events(&[RecordKind::Purge, RecordKind::Erasure], to)
        .await?
    {
        let target = if event.kind == RecordKind::Purge {
            &mut purged
        } else {
            &mut erased
        };
        let day = target
            .entry(day_of(event.recorded_at).max(first - 1))
            .or_default();
        for (category, n) in removed_values(&event) {
            *day.entry(category).or_default() += n as i64;
        }
    }
    let mut held: BTreeMap<Category, i64> = Category::iter().map(|c| (c, 0)).collect();
    let apply = |day: i64, held: &mut BTreeMap<Category, i64>| {
        for (map, sign) in [(&recorded, 1), (&purged, -1), (&erased, -1)] {
            for (c, n) in map.get(&day).into_iter().flatten() {
                *held.entry(*c).or_default() += sign * n;
            }
        }
    };
    apply(first - 1, &mut held);
    let mut days = Vec::new();
    for day in first..=last {
        apply(day, &mut held);
        let total = |map: &BTreeMap<i64, BTreeMap<Category, i64>>| {
            map.get(&day).map_or(0, |m| m.values().sum::<i64>()).max(0) as u64
        };
        let completed_on = |on_time: bool| {
            requests
                .iter()
                .filter(|r| r.state == ErasureState::Completed)
                .filter(|r| {
                    r.completed_at
                        .is_some_and(|c| day_of(c) == day && (c <= r.due_at) == on_time)
                })
                .count() as u64
        };
        days.push(Day {
            date: NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch") + Duration::days(day),
            held: held.iter().map(|(c, n)| (*c, (*n).max(0) as u64)).collect(),
            recorded: total(&recorded),
            purged: total(&purged),
            erased: total(&erased),
            erasures_on_time: completed_on(true),
            erasures_late: completed_on(false),
        });
    }
    Ok(days)
}
