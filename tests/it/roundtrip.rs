//! What goes in comes back out: every fixture and a run of simulated traffic are recorded, then
//! read back decrypted from the ledger, and must give exactly the (kind, direction, value)
//! multiset that extraction produced; `export` finds a subject's entries under every alias.

use crate::extract_fixtures::{envelope, fixture_files};
use crate::helpers::{backends, now};
use std::collections::{BTreeMap, BTreeSet};
use waledger::crypto::MasterKey;
use waledger::domain::{Category, FieldValue, PhoneNumber};
use waledger::ingest::{extract, Envelope, Ingestor};
use waledger::ledger::{EntryView, Ledger, PreparedEnvelope};
use waledger::simulate::{generate, SimulateOptions};

type Multiset = BTreeMap<(String, String, String), usize>;

fn expected(fields: &[FieldValue]) -> Multiset {
    let mut m = Multiset::new();
    for f in fields {
        *m.entry((
            f.kind.to_string(),
            f.direction.to_string(),
            f.value.expose().to_string(),
        ))
        .or_default() += 1;
    }
    m
}

fn stored(views: &[EntryView]) -> Multiset {
    let mut m = Multiset::new();
    for v in views {
        let value = v.value.clone().expect("a fresh entry is held and decrypts");
        *m.entry((v.field.to_string(), v.direction.to_string(), value))
            .or_default() += 1;
    }
    m
}

fn prepared(envelope: &Envelope) -> PreparedEnvelope {
    PreparedEnvelope {
        canonical: envelope.canonical_content(),
        extracted: extract(envelope).unwrap(),
    }
}

#[tokio::test]
async fn every_fixture_round_trips_through_the_ledger() {
    for db in backends() {
        let mut ledger = db.ledger(&MasterKey::generate()).await;
        for rel in fixture_files() {
            let env = envelope(&rel);
            let want = expected(&extract(&env).unwrap().fields);
            let before = ledger.store().head().await.unwrap().seq;
            let outcome = ledger.record(&[prepared(&env)], now()).await.unwrap();
            let got = ledger.entries_after(before, 10_000).await.unwrap();
            if outcome.duplicates == 1 {
                assert!(
                    got.is_empty(),
                    "{}: {rel} is a duplicate but added entries",
                    db.name
                );
                continue;
            }
            assert_eq!(stored(&got), want, "{}: {rel}", db.name);
        }
        assert!(ledger.verify(&mut |_| {}).await.unwrap().ok, "{}", db.name);
    }
}

#[tokio::test]
async fn simulated_traffic_round_trips_and_exports_by_any_alias() {
    let mut traffic = Vec::new();
    let until = now();
    generate(
        &SimulateOptions {
            messages: 150,
            seed: 11,
            days: 3,
            until,
        },
        &mut traffic,
    )
    .unwrap();
    let text = String::from_utf8(traffic).unwrap();
    let envelopes: Vec<Envelope> = text
        .lines()
        .map(|l| Envelope::parse(l, None).unwrap())
        .collect();
    let all_fields: Vec<FieldValue> = envelopes
        .iter()
        .flat_map(|e| extract(e).unwrap().fields)
        .collect();

    for db in backends() {
        let mut ledger = db.ledger(&MasterKey::generate()).await;
        let mut ingestor = Ingestor::new(&mut ledger, now());
        for (i, line) in text.lines().enumerate() {
            ingestor
                .push_line("sim", i as u64 + 1, line.as_bytes(), None)
                .await
                .unwrap();
        }
        let summary = ingestor.finish().await.unwrap();
        assert!(
            summary.rejected.is_empty(),
            "{}: {:?}",
            db.name,
            summary.rejected
        );
        assert_eq!(summary.entries as usize, all_fields.len(), "{}", db.name);
        let got = ledger.entries_after(0, 1_000_000).await.unwrap();
        assert_eq!(stored(&got), expected(&all_fields), "{}", db.name);

        for envelope in envelopes
            .iter()
            .filter(|e| matches!(e, Envelope::Send { .. }))
            .take(25)
        {
            check_export(&mut ledger, envelope, &all_fields, db.name).await;
        }
        ledger.store().close().await;
        assert_nothing_readable(&db, &all_fields).await;
    }
}

/// A byte scan of the database files (SQLite, WAL included) or of every row (PostgreSQL) finds
/// none of the personal values that were recorded, in any of the forms they were written.
async fn assert_nothing_readable(db: &crate::helpers::TestDb, fields: &[FieldValue]) {
    let mut canaries: BTreeSet<String> = fields
        .iter()
        .filter(|f| f.kind.category() != Category::Metadata && f.value.expose().len() >= 10)
        .map(|f| f.value.expose().to_string())
        .collect();
    canaries.extend(
        fields
            .iter()
            .filter_map(|f| f.subject.as_ref())
            .map(|p| p.expose_e164()[1..].to_string()),
    );
    assert!(canaries.len() > 100, "the scan needs real canaries");
    let mut haystacks = vec![crate::helpers::dump_text(db).await];
    for (_, bytes) in db.file_bytes() {
        haystacks.push(String::from_utf8_lossy(&bytes).into_owned());
    }
    for canary in &canaries {
        for hay in &haystacks {
            assert!(
                !hay.contains(canary.as_str()),
                "{}: a recorded value is readable at rest",
                db.name
            );
        }
    }
}

/// `export` of the number a send was written to returns every entry about that person, whatever
/// form of the number each payload used (Meta's rewritten wa_ids included).
async fn check_export(ledger: &mut Ledger, send: &Envelope, all: &[FieldValue], backend: &str) {
    let Envelope::Send { request, .. } = send else {
        return;
    };
    let Some(to) = request.get("to").and_then(|v| v.as_str()) else {
        return;
    };
    let Ok(phone) = PhoneNumber::parse(to) else {
        return;
    };
    let aliases = phone.aliases();
    let about: Vec<FieldValue> = all
        .iter()
        .filter(|f| {
            f.subject
                .as_ref()
                .is_some_and(|s| s.aliases().iter().any(|a| aliases.contains(a)))
        })
        .cloned()
        .collect();
    for written in [
        to.to_string(),
        phone.expose_e164().trim_start_matches('+').to_string(),
    ] {
        let exported = ledger
            .export_subject(&PhoneNumber::parse(&written).unwrap())
            .await
            .unwrap();
        assert_eq!(
            stored(&exported),
            expected(&about),
            "{backend}: export of a subject"
        );
    }
}
