//! The ledger through its library surface, on every backend: values round-trip encrypted, one
//! entry per occurrence, duplicates skipped, aliases lead to one subject, nothing readable at rest,
//! concurrent writers keep one chain, and a wrong master key is refused.

use crate::helpers::{backends, dump_text, now};
use chrono::Duration;
use waledger::crypto::MasterKey;
use waledger::domain::{
    Direction, EntryState, FieldKind, FieldValue, MessageId, PhoneNumber, Plaintext,
};
use waledger::ingest::Extracted;
use waledger::ledger::{Ledger, PreparedEnvelope};

pub fn field(
    kind: FieldKind,
    value: &str,
    phone: Option<&str>,
    message: Option<&str>,
) -> FieldValue {
    FieldValue {
        message: message.and_then(MessageId::parse),
        direction: Direction::Outbound,
        kind,
        subject: phone.map(|p| PhoneNumber::parse(p).unwrap()),
        value: Plaintext::new(value),
        occurred_at: now() - Duration::hours(1),
    }
}

pub fn envelope(
    tag: &str,
    fields: Vec<FieldValue>,
    same_person: Vec<Vec<&str>>,
) -> PreparedEnvelope {
    PreparedEnvelope {
        canonical: tag.as_bytes().to_vec(),
        extracted: Extracted {
            fields,
            same_person: same_person
                .into_iter()
                .map(|g| {
                    g.into_iter()
                        .map(|p| PhoneNumber::from_wire(p).unwrap())
                        .collect()
                })
                .collect(),
        },
    }
}

/// A send of a template to +44 7700 900123 with a repeated parameter (5 entries).
pub fn template_send(tag: &str, wamid: &str) -> PreparedEnvelope {
    let to = Some("+447700900123");
    envelope(
        tag,
        vec![
            field(
                FieldKind::RecipientPhone,
                "+44 7700 900123",
                to,
                Some(wamid),
            ),
            field(
                FieldKind::TemplateField,
                "Alexandra Canary",
                to,
                Some(wamid),
            ),
            field(
                FieldKind::TemplateField,
                "Alexandra Canary",
                to,
                Some(wamid),
            ),
            field(FieldKind::MessageId, wamid, to, Some(wamid)),
            field(
                FieldKind::OriginatorPhoneId,
                "106540352242922",
                None,
                Some(wamid),
            ),
        ],
        vec![],
    )
}

#[tokio::test]
async fn values_round_trip_per_occurrence_and_by_subject() {
    for db in backends() {
        let master = MasterKey::generate();
        let mut ledger = db.ledger(&master).await;
        let outcome = ledger
            .record(&[template_send("a", "wamid.AAA")], now())
            .await
            .unwrap();
        assert_eq!((outcome.accepted, outcome.entries), (1, 5), "{}", db.name);

        let shown = ledger
            .show_message(&MessageId::parse("wamid.AAA").unwrap())
            .await
            .unwrap();
        let values: Vec<_> = shown
            .iter()
            .map(|e| (e.field, e.value.clone().unwrap()))
            .collect();
        assert_eq!(values.len(), 5, "{}", db.name);
        assert_eq!(
            values
                .iter()
                .filter(|(_, v)| v == "Alexandra Canary")
                .count(),
            2,
            "{}",
            db.name
        );
        assert!(shown
            .iter()
            .all(|e| e.state == EntryState::Held && e.direction == Direction::Outbound));
        assert_eq!(shown[0].occurred_at, now() - Duration::hours(1));

        let exported = ledger
            .export_subject(&PhoneNumber::parse("447700900123").unwrap())
            .await
            .unwrap();
        assert_eq!(
            exported.len(),
            4,
            "{}: the originator id is business data, not the subject's",
            db.name
        );
        assert!(
            exported
                .iter()
                .all(|e| e.message_id == Some(Some("wamid.AAA".into()))),
            "{}",
            db.name
        );
        let nobody = ledger
            .export_subject(&PhoneNumber::parse("+447700900999").unwrap())
            .await
            .unwrap();
        assert!(nobody.is_empty(), "{}", db.name);
    }
}

/// A batch's new subjects are written by its own append. When another writer binds the same
/// number first (between this batch's seal and its append), the append writes nothing and says
/// so; recorded again, the batch joins the winner's subject, and the number has one subject.
#[tokio::test]
async fn a_number_bound_by_another_writer_between_seal_and_append_is_sealed_again() {
    for db in backends() {
        let master = MasterKey::generate();
        let mut slow = db.ledger(&master).await;
        let mut fast = db.ledger(&master).await;
        let batch = [template_send("slow", "wamid.SLOW")];
        let sealed = slow.seal(&batch, now()).await.unwrap();
        fast.record(&[template_send("fast", "wamid.FAST")], now())
            .await
            .unwrap();
        let head = slow.store().head().await.unwrap().seq;
        let lost = sealed.append().await;
        assert!(
            matches!(
                lost,
                Err(waledger::ledger::LedgerError::Store(
                    waledger::store::StoreError::SubjectForgotten
                ))
            ),
            "{}: {lost:?}",
            db.name
        );
        assert_eq!(
            slow.store().head().await.unwrap().seq,
            head,
            "{}: the losing append wrote nothing",
            db.name
        );
        slow.forget_cached_subjects();
        let outcome = slow.record(&batch, now()).await.unwrap();
        assert_eq!(outcome.accepted, 1, "{}", db.name);
        let exported = slow
            .export_subject(&PhoneNumber::parse("447700900123").unwrap())
            .await
            .unwrap();
        assert_eq!(exported.len(), 8, "{}: both sends, one subject", db.name);
        assert!(
            exported.iter().all(|e| e.value.is_some()),
            "{}: every value opens",
            db.name
        );
    }
}

#[tokio::test]
async fn duplicates_are_counted_not_recorded() {
    for db in backends() {
        let master = MasterKey::generate();
        let mut ledger = db.ledger(&master).await;
        let first = ledger
            .record(
                &[
                    template_send("same", "wamid.A"),
                    template_send("same", "wamid.A"),
                ],
                now(),
            )
            .await
            .unwrap();
        assert_eq!(
            (first.accepted, first.duplicates, first.entries),
            (1, 1, 5),
            "{}",
            db.name
        );
        let again = ledger
            .record(&[template_send("same", "wamid.A")], now())
            .await
            .unwrap();
        assert_eq!(
            (again.accepted, again.duplicates, again.entries),
            (0, 1, 0),
            "{}",
            db.name
        );
        assert_eq!(ledger.store().head().await.unwrap().seq, 5, "{}", db.name);
    }
}

#[tokio::test]
async fn meta_rewritten_numbers_lead_to_one_subject() {
    for db in backends() {
        let master = MasterKey::generate();
        let mut ledger = db.ledger(&master).await;
        let sent = "+5592981723241";
        let send = envelope(
            "send",
            vec![field(
                FieldKind::RecipientPhone,
                "+55 92 98172 3241",
                Some(sent),
                Some("wamid.BR"),
            )],
            vec![vec!["+55 92 98172 3241", "559281723241"]],
        );
        ledger.record(&[send], now()).await.unwrap();
        // The status webhook carries only Meta's form of the number.
        let mut status = field(
            FieldKind::MessageStatus,
            "delivered",
            None,
            Some("wamid.BR"),
        );
        status.subject = PhoneNumber::from_wire("559281723241");
        status.direction = Direction::Inbound;
        ledger
            .record(&[envelope("status", vec![status], vec![])], now())
            .await
            .unwrap();

        for written in ["+55 92 98172 3241", "559281723241"] {
            let all = ledger
                .export_subject(&PhoneNumber::parse(written).unwrap())
                .await
                .unwrap();
            assert_eq!(all.len(), 2, "{}: {written}", db.name);
        }
        let mx_a = envelope(
            "mx",
            vec![field(
                FieldKind::MessageText,
                "hola",
                Some("+525639691841"),
                None,
            )],
            vec![],
        );
        let mut mx_b_field = field(FieldKind::MessageText, "adios", None, None);
        mx_b_field.subject = PhoneNumber::from_wire("5215639691841");
        ledger
            .record(&[mx_a, envelope("mx2", vec![mx_b_field], vec![])], now())
            .await
            .unwrap();
        let mx = ledger
            .export_subject(&PhoneNumber::parse("+52 56 3969 1841").unwrap())
            .await
            .unwrap();
        assert_eq!(mx.len(), 2, "{}: Mexico's legacy 1 is an alias", db.name);
    }
}

#[tokio::test]
async fn nothing_personal_is_readable_at_rest() {
    for db in backends() {
        let master = MasterKey::generate();
        let mut ledger = db.ledger(&master).await;
        ledger
            .record(&[template_send("a", "wamid.HBgMNDQ3NzAwOTAwMTIz")], now())
            .await
            .unwrap();
        ledger.sign_checkpoint(now()).await.unwrap();
        ledger.store().close().await;
        let canaries = [
            "447700900123",
            "7700 900123",
            "Alexandra Canary",
            "wamid.HBgMNDQ3NzAwOTAwMTIz",
            "HBgMNDQ3NzAwOTAwMTIz",
        ];
        let text = dump_text(&db).await;
        for canary in canaries {
            assert!(
                !text.contains(canary),
                "{}: {canary} readable in a table",
                db.name
            );
            assert!(
                !text.contains(&hex::encode(canary)),
                "{}: {canary} readable as hex",
                db.name
            );
        }
        for (file, bytes) in db.file_bytes() {
            for canary in canaries {
                let found = bytes.windows(canary.len()).any(|w| w == canary.as_bytes());
                assert!(!found, "{canary} found in {}", file.display());
            }
        }
    }
}

#[tokio::test]
async fn concurrent_writers_keep_one_unbroken_chain() {
    for db in backends() {
        let master_text = MasterKey::generate().dangerously_to_base64();
        let mut tasks = Vec::new();
        for writer in 0..4 {
            let master = MasterKey::from_base64(&master_text).unwrap();
            let mut ledger: Ledger = db.ledger(&master).await;
            tasks.push(tokio::spawn(async move {
                for i in 0..10 {
                    let tag = format!("w{writer}-{i}");
                    let wamid = format!("wamid.{tag}");
                    ledger
                        .record(&[template_send(&tag, &wamid)], now())
                        .await
                        .unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let ledger = db
            .ledger(&MasterKey::from_base64(&master_text).unwrap())
            .await;
        let report = ledger.verify(&mut |_| {}).await.unwrap();
        assert!(report.ok, "{}: {:?}", db.name, report.first_bad);
        assert_eq!(report.entries_checked, 4 * 10 * 5, "{}", db.name);
    }
}

#[tokio::test]
async fn a_different_master_key_is_refused() {
    for db in backends() {
        let mut ledger = db.ledger(&MasterKey::generate()).await;
        ledger
            .record(&[template_send("a", "wamid.A")], now())
            .await
            .unwrap();
        let other = Ledger::open(db.store().await, &MasterKey::generate(), now()).await;
        let err = other
            .err()
            .expect("a foreign master key must not open the ledger")
            .to_string();
        assert!(err.contains("master key"), "{}: {err}", db.name);
    }
}

#[tokio::test]
async fn an_empty_key_store_beside_a_used_ledger_is_refused() {
    for db in backends() {
        let master = MasterKey::generate();
        let mut ledger = db.ledger(&master).await;
        ledger
            .record(&[template_send("a", "wamid.A")], now())
            .await
            .unwrap();
        ledger.store().close().await;
        let elsewhere = waledger::store::DatabaseUrl::parse(&match db.name {
            "sqlite" => format!("sqlite://{}", db.dir.path().join("other.keys.db").display()),
            _ => format!("{}_other", db.keys_url.expose()),
        })
        .unwrap();
        let store = waledger::store::connect(&db.ledger_url, &elsewhere)
            .await
            .unwrap();
        let err = Ledger::open(store, &master, now())
            .await
            .err()
            .expect("must refuse");
        assert!(
            err.to_string().contains("key store is empty"),
            "{}: {err}",
            db.name
        );
        if db.name != "sqlite" {
            crate::helpers::drop_pg_database(elsewhere.expose()).await;
        }
    }
}

#[tokio::test]
async fn data_keys_are_stored_only_under_the_key_stores_master_and_never_during_a_rotation() {
    use waledger::crypto::WrappedKey;
    use waledger::store::StoreError;
    for db in backends() {
        let store = db.store().await;
        let now = now().timestamp();
        let check = match store.keystore_meta().await.unwrap() {
            Some(meta) => meta.key_check,
            None => {
                let root = WrappedKey(vec![1; 40]);
                store
                    .init_keystore(b"check", &root, now)
                    .await
                    .unwrap()
                    .key_check
            }
        };
        let key = |owner: &str, byte: u8| (owner.to_string(), WrappedKey(vec![byte; 40]));
        let stored = |owners: &'static [&'static str]| {
            let store = store.clone();
            async move {
                let mut keys = store.data_keys(owners).await.unwrap();
                keys.sort_by(|a, b| a.0.cmp(&b.0));
                keys.into_iter()
                    .map(|(owner, wrapped)| (owner, wrapped.0[0]))
                    .collect::<Vec<_>>()
            }
        };

        store
            .put_data_keys(&[key("a", 1), key("b", 2)], &check, now)
            .await
            .unwrap();
        // An owner that has a key keeps it; the others are stored beside it.
        store
            .put_data_keys(&[key("a", 9), key("c", 3)], &check, now)
            .await
            .unwrap();
        let expected: Vec<(String, u8)> = vec![("a".into(), 1), ("b".into(), 2), ("c".into(), 3)];
        assert_eq!(stored(&["a", "b", "c"]).await, expected, "{}", db.name);

        // Under another master key's check: refused, nothing stored.
        let other = store
            .put_data_keys(&[key("d", 4)], b"another master", now)
            .await;
        assert!(
            matches!(other, Err(StoreError::KeyChanged)),
            "{}: {other:?}",
            db.name
        );
        // While a rotation is under way: refused, nothing stored.
        assert!(store.begin_rotation(b"the next master").await.unwrap());
        let during = store.put_data_keys(&[key("e", 5)], &check, now).await;
        assert!(
            matches!(during, Err(StoreError::KeyChanged)),
            "{}: {during:?}",
            db.name
        );
        assert_eq!(stored(&["d", "e"]).await, vec![], "{}", db.name);
    }
}
