//! Retention through the library, with time as a parameter, on every backend: the due boundary
//! to the second, per-field overrides, holds that keep and whose end releases, dry runs that
//! change nothing, a ledger that still verifies and reads `purged`, subjects forgotten with their
//! keys once nothing is held about them, purged ciphertext gone from the SQLite files, and, on
//! every backend, purged ciphertext restored from a copy unopenable once its bucket's key is gone.

use crate::helpers::{backends, dump_text, TestDb};
use crate::ledger_roundtrip::envelope;
use chrono::{DateTime, Duration, Utc};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use waledger::crypto::MasterKey;
use waledger::domain::{
    Category, Direction, EntryState, FieldKind, FieldValue, MessageId, PhoneNumber, Plaintext,
};
use waledger::ledger::Ledger;
use waledger::policy::RetentionPolicy;
use waledger::retention::{self, PurgeOptions, PurgeOutcome};

pub const POLICY: &str = "[windows]\nphone_number = \"90d\"\ntext = \"30d\"\nmedia = \"30d\"\nmetadata = \"400d\"\n\n[fields]\nmessage_status = \"1d\"\n\n[schedule]\npurge = \"0 0 3 * * *\"\n";

pub fn policy() -> RetentionPolicy {
    RetentionPolicy::parse(Path::new("test-retention.toml"), POLICY).unwrap()
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-01T08:00:00Z")
        .unwrap()
        .to_utc()
}

fn value(kind: FieldKind, text: &str, phone: &str, wamid: &str) -> FieldValue {
    FieldValue {
        message: MessageId::parse(wamid),
        direction: Direction::Outbound,
        kind,
        subject: Some(PhoneNumber::parse(phone).unwrap()),
        value: Plaintext::new(text),
        occurred_at: t0(),
    }
}

/// One message to `phone` at t0: a number, a text, a status (1d override) and a template name.
async fn seed(ledger: &mut Ledger, phone: &str, wamid: &str) {
    let fields = vec![
        value(FieldKind::RecipientPhone, phone, phone, wamid),
        value(
            FieldKind::MessageText,
            "Canary text for the purge test",
            phone,
            wamid,
        ),
        value(FieldKind::MessageStatus, "delivered", phone, wamid),
        value(
            FieldKind::TemplateId,
            "order_update_v1 (en_GB)",
            phone,
            wamid,
        ),
    ];
    ledger
        .record(&[envelope(wamid, fields, vec![])], t0())
        .await
        .unwrap();
}

async fn purge(ledger: &Ledger, at: DateTime<Utc>) -> PurgeOutcome {
    retention::run_once(
        ledger.store(),
        &policy(),
        at,
        PurgeOptions::RUN,
        &mut |_, _| {},
        &AtomicBool::new(false),
    )
    .await
    .unwrap()
}

async fn states(ledger: &mut Ledger, wamid: &str) -> Vec<(FieldKind, EntryState)> {
    let shown = ledger
        .show_message(&MessageId::parse(wamid).unwrap())
        .await
        .unwrap();
    shown.iter().map(|e| (e.field, e.state)).collect()
}

#[tokio::test]
async fn values_go_exactly_when_due_and_overrides_win() {
    for db in backends() {
        let mut ledger = db.ledger(&MasterKey::generate()).await;
        seed(&mut ledger, "+447700900123", "wamid.A").await;

        let early = purge(&ledger, t0() + Duration::days(1) - Duration::seconds(1)).await;
        assert_eq!(early.total, 0, "{}: nothing is due a second early", db.name);
        let status = purge(&ledger, t0() + Duration::days(1)).await;
        assert_eq!(
            (status.total, status.purged[&Category::Metadata]),
            (1, 1),
            "{}: the 1d override wins",
            db.name
        );

        assert_eq!(
            purge(&ledger, t0() + Duration::days(30) - Duration::seconds(1))
                .await
                .total,
            0,
            "{}",
            db.name
        );
        let text = purge(&ledger, t0() + Duration::days(30)).await;
        assert_eq!(text.purged[&Category::Text], 1, "{}", db.name);
        let number = purge(&ledger, t0() + Duration::days(90)).await;
        assert_eq!(number.purged[&Category::PhoneNumber], 1, "{}", db.name);

        let read = states(&mut ledger, "wamid.A").await;
        let (purged, held) = (EntryState::Purged, EntryState::Held);
        let expected = [
            (FieldKind::RecipientPhone, purged),
            (FieldKind::MessageText, purged),
            (FieldKind::MessageStatus, purged),
            (FieldKind::TemplateId, held),
        ];
        assert_eq!(read, expected, "{}", db.name);
        let shown = ledger
            .show_message(&MessageId::parse("wamid.A").unwrap())
            .await
            .unwrap();
        assert!(
            shown
                .iter()
                .filter(|e| e.state == purged)
                .all(|e| e.value.is_none()),
            "{}",
            db.name
        );
        let report = ledger.verify(&mut |_| {}).await.unwrap();
        assert!(report.ok, "{}: {:?}", db.name, report.first_bad);
        assert_eq!(
            report.entries_checked,
            4 + 3,
            "{}: three tombstones were ledgered",
            db.name
        );
    }
}

#[tokio::test]
async fn a_dry_run_changes_nothing_and_predicts_the_purge() {
    for db in backends() {
        let mut ledger = db.ledger(&MasterKey::generate()).await;
        seed(&mut ledger, "+447700900123", "wamid.A").await;
        seed(&mut ledger, "+447700900124", "wamid.B").await;
        let at = t0() + Duration::days(45);
        let before = dump_text(&db).await;
        let planned = retention::run_once(
            ledger.store(),
            &policy(),
            at,
            PurgeOptions::DRY_RUN,
            &mut |_, _| {},
            &AtomicBool::new(false),
        )
        .await
        .unwrap();
        assert_eq!(
            dump_text(&db).await,
            before,
            "{}: a dry run must not change a row",
            db.name
        );
        let plan = retention::plan(ledger.store(), &policy(), at)
            .await
            .unwrap();
        let text_row = plan
            .rows
            .iter()
            .find(|r| r.field == FieldKind::MessageText)
            .unwrap();
        assert_eq!((text_row.due, text_row.subjects), (2, 2), "{}", db.name);
        assert_eq!(text_row.oldest_due, Some(t0()), "{}", db.name);
        let done = purge(&ledger, at).await;
        assert_eq!(planned.purged, done.purged, "{}", db.name);
        assert_eq!(planned.total, 4, "{}: two texts and two statuses", db.name);
    }
}

#[tokio::test]
async fn holds_keep_until_they_end_or_are_released() {
    for db in backends() {
        let mut ledger = db.ledger(&MasterKey::generate()).await;
        seed(&mut ledger, "+447700900123", "wamid.A").await;
        seed(&mut ledger, "+447700900124", "wamid.B").await;
        let uk_a = PhoneNumber::parse("+44 7700 900123").unwrap();
        let uk_b = PhoneNumber::parse("447700900124").unwrap();
        let expiring = ledger
            .add_hold(
                &uk_a,
                "case 1",
                "dpo",
                Some(t0() + Duration::days(40)),
                t0(),
            )
            .await
            .unwrap();
        let open = ledger
            .add_hold(&uk_b, "case 2", "dpo", None, t0())
            .await
            .unwrap();

        let held = purge(&ledger, t0() + Duration::days(31)).await;
        assert_eq!(
            held.kept_by_holds, 4,
            "{}: both subjects' text and status are kept",
            db.name
        );
        assert_eq!(held.total, 0, "{}", db.name);

        let expired = purge(&ledger, t0() + Duration::days(41)).await;
        assert_eq!(
            expired.total, 2,
            "{}: the expired hold no longer keeps",
            db.name
        );
        assert!(
            ledger
                .release_hold(&open, t0() + Duration::days(42))
                .await
                .unwrap(),
            "{}",
            db.name
        );
        assert!(
            !ledger
                .release_hold(&open, t0() + Duration::days(42))
                .await
                .unwrap(),
            "{}: released once",
            db.name
        );
        assert_eq!(
            purge(&ledger, t0() + Duration::days(42)).await.total,
            2,
            "{}",
            db.name
        );

        let holds = ledger.list_holds(t0() + Duration::days(43)).await.unwrap();
        assert_eq!(holds.len(), 2);
        assert!(holds.iter().all(|h| !h.active), "{}", db.name);
        assert_eq!(
            holds.iter().find(|h| h.id == expiring).unwrap().reason,
            "case 1"
        );
        assert!(ledger.verify(&mut |_| {}).await.unwrap().ok, "{}", db.name);
        let text = dump_text(&db).await;
        assert!(
            !text.contains("case 1") && !text.contains("case 2"),
            "{}: hold reasons are sealed",
            db.name
        );
    }
}

#[tokio::test]
async fn a_subject_with_nothing_left_is_forgotten_with_its_key() {
    for db in backends() {
        let master = MasterKey::generate();
        let mut ledger = db.ledger(&master).await;
        seed(&mut ledger, "+447700900123", "wamid.A").await;
        let phone = PhoneNumber::parse("+447700900123").unwrap();
        let subject = ledger.export_subject(&phone).await.unwrap();
        assert_eq!(subject.len(), 4);

        let partial = purge(&ledger, t0() + Duration::days(90)).await;
        assert_eq!(
            partial.subjects_forgotten, 0,
            "{}: the template name is still held",
            db.name
        );
        let all = purge(&ledger, t0() + Duration::days(400)).await;
        assert_eq!(all.subjects_forgotten, 1, "{}", db.name);
        assert!(
            ledger.export_subject(&phone).await.unwrap().is_empty(),
            "{}: no index row is left",
            db.name
        );
        let digests: Vec<_> = phone
            .aliases()
            .iter()
            .map(|p| ledger.keyring().phone_index(p))
            .collect();
        assert!(
            ledger
                .store()
                .find_subjects(&digests)
                .await
                .unwrap()
                .is_empty(),
            "{}",
            db.name
        );
        assert_eq!(
            count(&db, "SELECT count(*) FROM subjects").await,
            0,
            "{}",
            db.name
        );
        assert!(ledger.verify(&mut |_| {}).await.unwrap().ok, "{}", db.name);

        // New traffic for the same number starts a new subject under a new key.
        seed(&mut ledger, "+447700900123", "wamid.C").await;
        assert_eq!(
            ledger.export_subject(&phone).await.unwrap().len(),
            4,
            "{}",
            db.name
        );
    }
}

#[tokio::test]
async fn purged_ciphertext_is_gone_from_the_sqlite_files() {
    let db = backends().remove(0);
    let mut ledger = db.ledger(&MasterKey::generate()).await;
    for i in 0..50 {
        seed(
            &mut ledger,
            &format!("+4477009001{i:02}"),
            &format!("wamid.{i}"),
        )
        .await;
    }
    let sealed = sealed_values(&db, "message_text").await;
    assert_eq!(sealed.len(), 50);
    assert_eq!(
        purge(&ledger, t0() + Duration::days(30)).await.purged[&Category::Text],
        50
    );
    ledger.store().close().await;
    for (file, bytes) in db.file_bytes() {
        for ct in &sealed {
            let found = bytes.windows(ct.len()).any(|w| w == ct.as_slice());
            assert!(!found, "purged ciphertext still in {}", file.display());
        }
    }
}

async fn sealed_values(db: &TestDb, field: &str) -> Vec<Vec<u8>> {
    let pool = sqlx::SqlitePool::connect(db.ledger_url.expose())
        .await
        .unwrap();
    let rows: Vec<Vec<u8>> = sqlx::query_scalar("SELECT sealed FROM content WHERE field = $1")
        .bind(field)
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    rows
}

pub async fn count(db: &TestDb, sql: &str) -> i64 {
    match db.name {
        "sqlite" => {
            let pool = sqlx::SqlitePool::connect(db.ledger_url.expose())
                .await
                .unwrap();
            sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap()
        }
        _ => {
            let pool = sqlx::PgPool::connect(db.ledger_url.expose()).await.unwrap();
            sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap()
        }
    }
}

/// Seq and sealed bytes of one field kind's content rows (a "backup" of them).
async fn sealed_rows(db: &TestDb, field: &str) -> Vec<(i64, Vec<u8>)> {
    let sql = format!("SELECT seq, sealed FROM content WHERE field = '{field}' ORDER BY seq");
    crate::helpers::query_ledger(db, &sql).await
}

#[tokio::test]
async fn purged_values_cannot_be_opened_from_any_copy_once_their_bucket_is_empty() {
    for db in backends() {
        let master = MasterKey::generate().dangerously_to_base64();
        let key = || MasterKey::from_base64(&master).unwrap();
        let mut ledger = db.ledger(&key()).await;
        seed(&mut ledger, "+447700900123", "wamid.A").await;
        seed(&mut ledger, "+447700900124", "wamid.B").await;
        let held = PhoneNumber::parse("+447700900123").unwrap();
        let hold = ledger
            .add_hold(&held, "case 9", "dpo", None, t0())
            .await
            .unwrap();
        let texts = sealed_rows(&db, "message_text").await;
        assert_eq!(texts.len(), 2);

        let first = purge(&ledger, t0() + Duration::days(30)).await;
        assert_eq!(first.purged[&Category::Text], 1, "{}: B's text", db.name);
        // A's text (under the hold) shares the day's text bucket: its key must stay.
        crate::helpers::restore_sealed(&db, &texts[1..]).await;
        let b = states_and_values(&mut ledger, "wamid.B").await;
        assert_eq!(
            b[&FieldKind::MessageText].as_deref(),
            Some("Canary text for the purge test"),
            "{}: the bucket is still needed by the held value",
            db.name
        );
        crate::helpers::raw_sql(
            &db,
            &format!(
                "UPDATE content SET sealed = NULL, state = 'purged' WHERE seq = {}",
                texts[1].0
            ),
        )
        .await;

        ledger
            .release_hold(&hold, t0() + Duration::days(31))
            .await
            .unwrap();
        let second = purge(&ledger, t0() + Duration::days(31)).await;
        assert_eq!(
            second.purged[&Category::Text],
            1,
            "{}: A's text after the hold",
            db.name
        );
        assert!(second.buckets_shredded >= 1, "{}: {second:?}", db.name);

        // Restore both purged ciphertexts, as from a backup or PostgreSQL's dead tuples: the
        // subjects' keys are alive (their template ids are still held), the values stay shut.
        crate::helpers::restore_sealed(&db, &texts).await;
        // A fresh process: nothing cached from before the purge.
        let mut reader = db.ledger(&key()).await;
        for wamid in ["wamid.A", "wamid.B"] {
            let read = states_and_values(&mut reader, wamid).await;
            assert_eq!(
                read[&FieldKind::MessageText],
                None,
                "{}: {wamid} text opens",
                db.name
            );
            assert_eq!(
                read[&FieldKind::TemplateId].as_deref(),
                Some("order_update_v1 (en_GB)"),
                "{}: {wamid}: values of other buckets still open",
                db.name
            );
        }
        let seqs: Vec<String> = texts.iter().map(|(s, _)| s.to_string()).collect();
        crate::helpers::raw_sql(
            &db,
            &format!(
                "UPDATE content SET sealed = NULL, state = 'purged' WHERE seq IN ({})",
                seqs.join(",")
            ),
        )
        .await;
        assert!(ledger.verify(&mut |_| {}).await.unwrap().ok, "{}", db.name);
    }
}

async fn states_and_values(
    ledger: &mut Ledger,
    wamid: &str,
) -> std::collections::HashMap<FieldKind, Option<String>> {
    ledger
        .show_message(&MessageId::parse(wamid).unwrap())
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.field, e.value))
        .collect()
}
