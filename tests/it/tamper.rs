//! Every tampering a test can make to the database is caught by `verify`, which names the first
//! bad entry; a consistent rewrite of the whole chain is caught by a checkpoint given out earlier.

use crate::helpers::{backends, now, raw_sql};
use crate::ledger_roundtrip::template_send;
use waledger::crypto::MasterKey;
use waledger::ledger::{chain, CheckpointFile, Ledger};

/// A ledger of two sends (entries 1-10) with a stored checkpoint at entry 10.
async fn seeded(db: &crate::helpers::TestDb, master: &MasterKey) -> Ledger {
    let mut ledger = db.ledger(master).await;
    ledger
        .record(
            &[template_send("a", "wamid.A"), template_send("b", "wamid.B")],
            now(),
        )
        .await
        .unwrap();
    ledger.sign_checkpoint(now()).await.unwrap();
    ledger
}

const CASES: &[(&str, &str, i64)] = &[
    ("message lookup key changed", "UPDATE chain SET message_key = 42 WHERE seq = 2", 2),
    ("subject lookup key changed", "UPDATE content SET subject_key = 42 WHERE seq = 3", 3),
    ("value wiped while marked held", "UPDATE content SET sealed = NULL WHERE seq = 4", 4),
    ("marked purged while still holding its value", "UPDATE content SET state = 'purged' WHERE seq = 6", 6),
    ("changed field kind", "UPDATE chain SET field = 'media' WHERE seq = 3", 3),
    ("backdated entry", "UPDATE chain SET occurred_at = occurred_at - 86400 WHERE seq = 4", 4),
    ("changed message digest", "UPDATE chain SET message_digest = NULL WHERE seq = 2", 2),
    ("deleted entry", "DELETE FROM chain WHERE seq = 6", 6),
    ("ciphertext swapped between entries", "UPDATE content SET sealed = (SELECT sealed FROM content WHERE seq = 8) WHERE seq = 7", 7),
    ("content row deleted", "DELETE FROM content WHERE seq = 5", 5),
    (
        "two entries reordered",
        "UPDATE chain SET seq = -1 WHERE seq = 2; UPDATE chain SET seq = 2 WHERE seq = 3; UPDATE chain SET seq = 3 WHERE seq = -1",
        2,
    ),
    (
        "entry appended behind the ledger's back",
        "INSERT INTO chain SELECT seq + 10, entry_id, kind, message_digest, message_key, direction, field, category, occurred_at, \
         recorded_at, content_digest, detail, prev_hash, hash FROM chain WHERE seq = 1; \
         UPDATE chain_head SET seq = 11",
        11,
    ),
    ("tail truncated", "DELETE FROM chain WHERE seq = 10", 10),
    (
        "tail truncated and head marker rewound",
        "UPDATE chain_head SET seq = 9, hash = (SELECT hash FROM chain WHERE seq = 9); DELETE FROM chain WHERE seq = 10",
        10,
    ),
];

#[tokio::test]
async fn every_tampering_is_caught_at_its_entry() {
    for db in backends() {
        for (what, sql, bad_seq) in CASES {
            let fresh = crate::helpers::backends()
                .into_iter()
                .find(|d| d.name == db.name)
                .unwrap();
            let master = MasterKey::generate();
            let ledger = seeded(&fresh, &master).await;
            assert!(
                ledger.verify(&mut |_| {}).await.unwrap().ok,
                "{}: clean ledger must verify",
                db.name
            );
            raw_sql(&fresh, sql).await;
            let report = ledger.verify(&mut |_| {}).await.unwrap();
            assert!(!report.ok, "{} / {what}: not detected", db.name);
            assert_eq!(
                report.first_bad.as_ref().unwrap().seq,
                *bad_seq,
                "{} / {what}: {:?}",
                db.name,
                report.first_bad
            );
        }
    }
}

#[tokio::test]
async fn a_consistent_rewrite_is_caught_by_an_auditors_checkpoint() {
    for db in backends() {
        let master = MasterKey::generate();
        let ledger = seeded(&db, &master).await;
        let given = CheckpointFile::from_checkpoint(
            &ledger.store().latest_checkpoint().await.unwrap().unwrap(),
        );

        // The attacker changes entry 3 and recomputes every hash after it, then drops the
        // stored checkpoints: the chain is self-consistent again.
        raw_sql(&db, "UPDATE chain SET occurred_at = occurred_at - 864000 WHERE seq = 3; DELETE FROM checkpoints").await;
        rehash_from(&db, 3).await;
        assert!(
            ledger.verify(&mut |_| {}).await.unwrap().ok,
            "{}: the rewrite is self-consistent",
            db.name
        );

        let verdict = ledger
            .check_checkpoint(&given.to_checkpoint().unwrap())
            .await
            .unwrap();
        assert!(
            verdict.is_err(),
            "{}: the auditor's checkpoint must expose the rewrite",
            db.name
        );
    }
}

#[tokio::test]
async fn checkpoints_reject_changes_and_foreign_keys() {
    for db in backends() {
        let master = MasterKey::generate();
        let ledger = seeded(&db, &master).await;
        let good = CheckpointFile::from_checkpoint(
            &ledger.store().latest_checkpoint().await.unwrap().unwrap(),
        );
        assert!(ledger
            .check_checkpoint(&good.to_checkpoint().unwrap())
            .await
            .unwrap()
            .is_ok());

        let mut moved = good.clone();
        moved.seq = 9;
        assert!(ledger
            .check_checkpoint(&moved.to_checkpoint().unwrap())
            .await
            .unwrap()
            .is_err());

        // Kept alive for the whole test: dropping it deletes the other ledger's files.
        let other_db = crate::helpers::backends().remove(0);
        let other = seeded(&other_db, &MasterKey::generate()).await;
        let foreign = CheckpointFile::from_checkpoint(
            &other.store().latest_checkpoint().await.unwrap().unwrap(),
        );
        assert!(
            ledger
                .check_checkpoint(&foreign.to_checkpoint().unwrap())
                .await
                .unwrap()
                .is_err(),
            "{}",
            db.name
        );
    }
}

/// Recomputes the hashes of entries `from..` as an attacker with database access could.
async fn rehash_from(db: &crate::helpers::TestDb, from: i64) {
    let store = db.store().await;
    let records = store.scan(from - 1, 1_000).await.unwrap();
    let mut prev = store.hash_at(from - 1).await.unwrap().unwrap();
    let mut sql = String::new();
    for scanned in records {
        let record = scanned.record.unwrap();
        let hash = chain::link(record.seq, &prev, &record.body);
        let (p, h) = (hex::encode(prev), hex::encode(hash));
        let (p, h) = match db.name {
            "sqlite" => (format!("X'{p}'"), format!("X'{h}'")),
            _ => (format!("'\\x{p}'::bytea"), format!("'\\x{h}'::bytea")),
        };
        sql.push_str(&format!(
            "UPDATE chain SET prev_hash = {p}, hash = {h} WHERE seq = {};",
            record.seq
        ));
        prev = hash;
    }
    let head = store.head().await.unwrap();
    let hp = match db.name {
        "sqlite" => format!("X'{}'", hex::encode(prev)),
        _ => format!("'\\x{}'::bytea", hex::encode(prev)),
    };
    sql.push_str(&format!(
        "UPDATE chain_head SET hash = {hp} WHERE seq = {};",
        head.seq
    ));
    store.close().await;
    raw_sql(db, &sql).await;
}
