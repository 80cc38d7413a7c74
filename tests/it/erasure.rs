//! Data-subject erasure as support staff run it, on every backend, through the real binary:
//! requests reach every alias Meta used (Brazil's ninth digit, Mexico's `1`, both ways round);
//! afterwards nothing about the subject can be read back, not even from a copy of the ledger taken
//! before, while the chain verifies and the signed receipt checks out (and a changed byte does
//! not); legal holds refuse; deadlines, extensions and overdue requests follow Art. 12(3); the
//! master key rotates without losing a value; the scheduler carries out pending requests.

use crate::cli::{waledger, webhook_line, Run};
use crate::helpers::{backends, dump_text, TestDb, FIXTURES};
use crate::retention::count;
use serde_json::{json, Value};
use std::path::Path;

fn json_of(run: &Run) -> Value {
    assert_eq!(run.code, 0, "exit {}: {}", run.code, run.stderr);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", run.stdout))
}

fn fixture(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(Path::new(FIXTURES).join(name)).unwrap()).unwrap()
}

/// A text send to `to` answered by `response` (a fixture whose `wa_id` may differ from `to`).
fn send_to(to: &str, body: &str, response: Value) -> String {
    let mut request = fixture("send_text_request.json");
    request["to"] = json!(to);
    request["text"]["body"] = json!(body);
    json!({"kind": "send", "sent_at": "2026-11-01T10:00:00Z", "phone_number_id": "106540352242922",
           "request": request, "response": response})
    .to_string()
}

/// A response naming `wamid`, resolving `input` to `wa_id`.
fn response(input: &str, wa_id: &str, wamid: &str) -> Value {
    json!({"messaging_product": "whatsapp", "contacts": [{"input": input, "wa_id": wa_id}],
           "messages": [{"id": wamid}]})
}

/// A delivered status for `wamid` to `recipient_id`, as Meta sends it.
fn status(wamid: &str, recipient_id: &str) -> String {
    let mut line: Value =
        serde_json::from_str(&webhook_line("webhook_status_sent_pmp_v24.json")).unwrap();
    let s = &mut line["payload"]["entry"][0]["changes"][0]["value"]["statuses"][0];
    s["id"] = json!(wamid);
    s["recipient_id"] = json!(recipient_id);
    line.to_string()
}

fn ingest(db: &TestDb, lines: &[String]) {
    let run = waledger(db, &["ingest", "--format", "json"], Some(&lines.join("\n")));
    assert_eq!(run.code, 0, "{}: {}", db.name, run.stderr);
}

fn export(db: &TestDb, phone: &str) -> Value {
    json_of(&waledger(
        db,
        &["export", "--phone", phone, "--format", "json"],
        None,
    ))
}

fn states(export: &Value) -> Vec<String> {
    export["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["state"].as_str().unwrap().to_string())
        .collect()
}

fn erase(db: &TestDb, phone: &str, extra: &[&str]) -> Value {
    let mut args = vec!["erase", "--phone", phone, "--format", "json"];
    args.extend_from_slice(extra);
    json_of(&waledger(db, &args, None))
}

#[test]
fn an_erasure_reaches_every_form_of_the_number_meta_used() {
    // (written form as sent, wa_id Meta answered with, the form the support agent is given)
    let cases = [
        ("+55 92 98172 3241", "559281723241", "+55 92 98172 3241"),
        ("+55 92 98172 3242", "559281723242", "559281723242"),
        ("+52 56 3969 1841", "5215639691841", "5215639691841"),
        ("+52 56 3969 1842", "5215639691842", "+52 56 3969 1842"),
    ];
    for db in backends() {
        assert_eq!(waledger(&db, &["init"], None).code, 0);
        for (i, (to, wa_id, asked)) in cases.iter().enumerate() {
            let wamid = format!("wamid.ALIAS{i}{}", db.name);
            ingest(
                &db,
                &[
                    send_to(
                        to,
                        &format!("alias canary {i}"),
                        response(to, wa_id, &wamid),
                    ),
                    status(&wamid, wa_id),
                ],
            );
            let before = export(&db, to);
            let held = states(&before).iter().filter(|s| *s == "held").count();
            // to, wa_id, text, message id, status, pricing, ... under both forms.
            assert!(held >= 6, "{}: case {i}: {held} entries", db.name);
            assert_eq!(
                export(&db, wa_id)["entries"],
                before["entries"],
                "{}: one subject",
                db.name
            );

            let done = erase(&db, asked, &[]);
            assert_eq!(done["state"], "completed", "{}: case {i}", db.name);
            assert_eq!(done["entries_erased"], held, "{}: case {i}", db.name);
            for form in [to, wa_id] {
                let after = states(&export(&db, form));
                assert_eq!(after.len(), held, "{}: case {i} via {form}", db.name);
                assert!(
                    after.iter().all(|s| s == "erased"),
                    "{}: case {i} via {form}: {after:?}",
                    db.name
                );
            }
            let shown = json_of(&waledger(
                &db,
                &["show", "--message", &wamid, "--format", "json"],
                None,
            ));
            for entry in shown["entries"].as_array().unwrap() {
                let field = entry["field"].as_str().unwrap();
                if field != "originator_phone_id" {
                    assert_eq!(entry["state"], "erased", "{}: {field}", db.name);
                    assert!(entry["value"].is_null(), "{}: {field}", db.name);
                }
            }
        }
        let verify = json_of(&waledger(&db, &["verify", "--format", "json"], None));
        assert_eq!(verify["ok"], true, "{}", db.name);
    }
}

/// Sealed values of one subject's content rows, by position (a "backup" of the ledger).
async fn sealed_rows(db: &TestDb, seqs: &str) -> Vec<(i64, Vec<u8>)> {
    let sql = format!("SELECT seq, sealed FROM content WHERE seq IN ({seqs}) ORDER BY seq");
    crate::helpers::query_ledger(db, &sql).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_erasure_nothing_about_the_subject_can_be_read_back() {
    const CANARY_TEXT: &str = "canary-erasure-7d1f3 please forget me";
    const OTHER_TEXT: &str = "canary-keep-55ab another customer";
    for db in backends() {
        assert_eq!(waledger(&db, &["init"], None).code, 0);
        ingest(
            &db,
            &[
                send_to(
                    "+44 7700 900123",
                    CANARY_TEXT,
                    response("+44 7700 900123", "447700900123", "wamid.CANARY1"),
                ),
                status("wamid.CANARY1", "447700900123"),
                send_to(
                    "+44 7700 900456",
                    OTHER_TEXT,
                    response("+44 7700 900456", "447700900456", "wamid.OTHER1"),
                ),
            ],
        );
        let before = export(&db, "+447700900123");
        let seqs: Vec<String> = before["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].to_string())
            .collect();
        let backup = sealed_rows(&db, &seqs.join(",")).await;
        let ledger_copy = db.dir.path().join("before-erasure.db");
        if db.name == "sqlite" {
            // A backup of the ledger file alone, as an operator's nightly copy would be.
            let ledger = db.ledger_url.sqlite_path().unwrap().to_string();
            let conn = sqlx::SqlitePool::connect(db.ledger_url.expose())
                .await
                .unwrap();
            sqlx::query(&format!("VACUUM INTO '{}'", ledger_copy.display()))
                .execute(&conn)
                .await
                .unwrap();
            conn.close().await;
            assert!(Path::new(&ledger).exists());
        }

        let receipt = db.dir.path().join("receipt.json");
        let done = erase(
            &db,
            "447700900123",
            &[
                "--reference",
                "TICKET-42",
                "--receipt",
                receipt.to_str().unwrap(),
            ],
        );
        assert_eq!(done["state"], "completed", "{}", db.name);
        assert_eq!(done["entries_erased"], seqs.len(), "{}", db.name);
        for key in ["id", "received_at", "due_at", "completed_at"] {
            assert!(!done[key].is_null(), "{}: {key}", db.name);
        }

        // show and export read erased; the other customer is untouched.
        assert!(states(&export(&db, "+447700900123"))
            .iter()
            .all(|s| s == "erased"));
        let other = export(&db, "+447700900456");
        assert!(other["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["value"] == OTHER_TEXT));
        let history = export(&db, "+447700900123")["erasure_requests"].clone();
        assert_eq!(
            history[0]["id"], done["id"],
            "{}: the request is in the access history",
            db.name
        );

        // No canary in any table (both databases), and for SQLite in no file, WAL included.
        let dump = dump_text(&db).await;
        for canary in [CANARY_TEXT, "447700900123", "TICKET-42"] {
            assert!(!dump.contains(canary), "{}: {canary} in a table", db.name);
        }
        if db.name == "sqlite" {
            let databases = db.file_bytes().into_iter().filter(|(f, _)| {
                f.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("ledger"))
            });
            for (file, bytes) in databases {
                for canary in [CANARY_TEXT.as_bytes(), b"447700900123", b"TICKET-42"] {
                    assert!(
                        !bytes.windows(canary.len()).any(|w| w == canary),
                        "{} holds a canary",
                        file.display()
                    );
                }
            }
        }

        // The ciphertext restored from before the erasure no longer decrypts: its key is gone.
        crate::helpers::restore_sealed(&db, &backup).await;
        let shown = json_of(&waledger(
            &db,
            &["show", "--message", "wamid.CANARY1", "--format", "json"],
            None,
        ));
        for entry in shown["entries"].as_array().unwrap() {
            if entry["field"] != "originator_phone_id" {
                assert!(
                    entry["value"].is_null(),
                    "{}: {} still decrypts",
                    db.name,
                    entry["field"]
                );
            }
        }
        if db.name == "sqlite" {
            let copy_url = format!("sqlite://{}", ledger_copy.display());
            let keys_url = db.keys_url.expose().to_string();
            let run = crate::cli::command(
                &db,
                &["show", "--message", "wamid.CANARY1", "--format", "json"],
            )
            .env("WALEDGER_DATABASE_URL", &copy_url)
            .env("WALEDGER_KEYSTORE_URL", &keys_url)
            .output()
            .unwrap();
            let shown: Value = serde_json::from_slice(&run.stdout).unwrap();
            let entries = shown["entries"].as_array().unwrap();
            assert!(
                entries.iter().any(|e| e["state"] == "held"),
                "the copy predates the erasure"
            );
            assert!(
                entries
                    .iter()
                    .filter(|e| e["field"] != "originator_phone_id")
                    .all(|e| e["value"].is_null()),
                "a ledger backup taken before the erasure still opens"
            );
        }
        // Put the erased state back so the chain's own checks pass again.
        crate::helpers::raw_sql(
            &db,
            &format!(
                "UPDATE content SET sealed = NULL, state = 'erased' WHERE seq IN ({})",
                seqs.join(",")
            ),
        )
        .await;

        let verify = json_of(&waledger(&db, &["verify", "--format", "json"], None));
        assert_eq!(verify["ok"], true, "{}", db.name);
        let checked = waledger(
            &db,
            &[
                "receipt",
                "verify",
                receipt.to_str().unwrap(),
                "--format",
                "json",
            ],
            None,
        );
        assert_eq!(checked.code, 0, "{}: {}", db.name, checked.stderr);
        assert_eq!(json_of(&checked)["ledger_checked"], true);

        // The receipt holds no number (in any form) and no digest of one.
        let text = std::fs::read_to_string(&receipt).unwrap();
        for form in ["447700900123", "7700 900123", "7700900123"] {
            assert!(
                !text.contains(form),
                "{}: the receipt names the number",
                db.name
            );
        }
        assert!(text.contains("TICKET-42"));
        // Every single changed byte makes verification fail with exit 3.
        let bytes = text.into_bytes();
        let tampered = db.dir.path().join("tampered.json");
        for (i, step) in [
            (0usize, 1u8),
            (15, 1),
            (40, 2),
            (bytes.len() / 2, 1),
            (bytes.len() - 5, 1),
            (bytes.len() - 1, 1),
        ] {
            let mut changed = bytes.clone();
            changed[i] = changed[i].wrapping_add(step);
            std::fs::write(&tampered, &changed).unwrap();
            let run = waledger(
                &db,
                &["receipt", "verify", tampered.to_str().unwrap()],
                None,
            );
            assert_eq!(run.code, 3, "{}: byte {i} changed: {}", db.name, run.stderr);
            assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
        }
        // A receipt edited to claim more, re-serialised neatly, fails too.
        let edited = String::from_utf8(bytes)
            .unwrap()
            .replace("\"entries_erased\": ", "\"entries_erased\": 1");
        std::fs::write(&tampered, edited).unwrap();
        assert_eq!(
            waledger(
                &db,
                &["receipt", "verify", tampered.to_str().unwrap()],
                None
            )
            .code,
            3
        );
    }
}

#[test]
fn holds_refuse_unseen_numbers_complete_empty_and_erasing_twice_is_harmless() {
    for db in backends() {
        assert_eq!(waledger(&db, &["init"], None).code, 0);
        ingest(
            &db,
            &[send_to(
                "+1 (415) 555-0134",
                "held text",
                response("+1 (415) 555-0134", "14155550134", "wamid.HELD1"),
            )],
        );
        let hold = json_of(&waledger(
            &db,
            &[
                "hold",
                "add",
                "--phone",
                "14155550134",
                "--reason",
                "litigation L-7",
                "--format",
                "json",
            ],
            None,
        ));
        let refused = waledger(
            &db,
            &["erase", "--phone", "+14155550134", "--format", "json"],
            None,
        );
        let refused_json = json_of(&refused);
        assert_eq!(refused_json["state"], "refused", "{}", db.name);
        assert_eq!(refused_json["refused_by"], hold["id"]);
        assert_eq!(
            refused_json["refusal_reason"], "litigation L-7",
            "{}: the reason to give (Art. 12(4))",
            db.name
        );
        assert!(refused.stderr.contains("legal hold"), "{}", refused.stderr);
        assert!(
            states(&export(&db, "+14155550134"))
                .iter()
                .all(|s| s == "held"),
            "{}: kept",
            db.name
        );

        let id = hold["id"].as_str().unwrap();
        assert_eq!(waledger(&db, &["hold", "release", id], None).code, 0);
        let done = erase(&db, "+14155550134", &[]);
        assert_eq!(done["state"], "completed", "{}", db.name);
        assert!(done["entries_erased"].as_u64().unwrap() >= 3);

        let again = erase(&db, "+14155550134", &[]);
        assert_eq!(
            (again["state"].as_str(), again["entries_erased"].as_u64()),
            (Some("completed"), Some(0))
        );
        let never = erase(&db, "+44 7700 900999", &[]);
        assert_eq!(
            (never["state"].as_str(), never["entries_erased"].as_u64()),
            (Some("completed"), Some(0))
        );
        let table = waledger(
            &db,
            &["erase", "--phone", "+44 7700 900998", "--format", "table"],
            None,
        );
        assert!(table.stdout.contains("zero entries"), "{}", table.stdout);

        // Traffic after the erasure starts a new subject under a new key; the old stays erased.
        ingest(
            &db,
            &[send_to(
                "+14155550134",
                "after the erasure",
                response("+14155550134", "14155550134", "wamid.HELD2"),
            )],
        );
        let after = export(&db, "+14155550134");
        let st = states(&after);
        assert!(
            st.contains(&"held".to_string()) && st.contains(&"erased".to_string()),
            "{}: {st:?}",
            db.name
        );
        assert_eq!(
            after["erasure_requests"].as_array().unwrap().len(),
            3,
            "{}",
            db.name
        );
        assert_eq!(after["holds"].as_array().unwrap().len(), 1, "{}", db.name);
        let held_now = st.iter().filter(|s| *s == "held").count();
        assert_eq!(
            erase(&db, "+14155550134", &[])["entries_erased"],
            held_now,
            "{}",
            db.name
        );

        let list = json_of(&waledger(
            &db,
            &["erasure", "list", "--format", "json"],
            None,
        ));
        assert_eq!(list.as_array().unwrap().len(), 6, "{}", db.name);
        let verify = json_of(&waledger(&db, &["verify", "--format", "json"], None));
        assert_eq!(verify["ok"], true, "{}", db.name);
    }
}

#[test]
fn deadlines_extensions_and_overdue_requests() {
    for db in backends() {
        assert_eq!(waledger(&db, &["init"], None).code, 0);
        let request = |phone: &str, at: &str| {
            json_of(&waledger(
                &db,
                &[
                    "erasure",
                    "request",
                    "--phone",
                    phone,
                    "--received-at",
                    at,
                    "--reference",
                    "R",
                    "--format",
                    "json",
                ],
                None,
            ))
        };
        let jan = request("+44 7700 900001", "2026-01-31");
        assert_eq!(jan["due_at"], "2026-02-28T00:00:00Z");
        assert_eq!(
            (jan["state"].as_str(), jan["completed_at"].is_null()),
            (Some("pending"), true)
        );
        // Received at 23:59:59 UTC a few days ago: due the same time one calendar month later.
        let received = (waledger::clock::now() - chrono::Duration::days(5))
            .date_naive()
            .and_hms_opt(23, 59, 59)
            .unwrap()
            .and_utc();
        let months = |n| {
            received
                .checked_add_months(chrono::Months::new(n))
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        };
        let late = request("+44 7700 900002", &received.to_rfc3339());
        assert_eq!(late["due_at"], months(1));
        let dec = request("+44 7700 900003", "2025-12-15");
        assert_eq!(dec["due_at"], "2026-01-15T00:00:00Z");

        let id = late["id"].as_str().unwrap();
        let extended = json_of(&waledger(
            &db,
            &[
                "erasure",
                "extend",
                id,
                "--reason",
                "many systems to search",
                "--format",
                "json",
            ],
            None,
        ));
        assert_eq!(
            extended["due_at"],
            months(3),
            "{}: two further months",
            db.name
        );
        assert_eq!(extended["extension_reason"], "many systems to search");
        let twice = waledger(&db, &["erasure", "extend", id, "--reason", "again"], None);
        assert_eq!(twice.code, 2, "{}: one extension only", db.name);
        assert_eq!(twice.stderr.trim().lines().count(), 1);

        let overdue = json_of(&waledger(
            &db,
            &["erasure", "list", "--overdue", "--format", "json"],
            None,
        ));
        let ids: Vec<&str> = overdue
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids,
            [dec["id"].as_str().unwrap(), jan["id"].as_str().unwrap()],
            "{}: oldest first",
            db.name
        );

        for bad in [
            vec!["erasure", "request", "--phone", "not a number"],
            vec!["erase", "--phone", "+44 12"],
            vec![
                "erasure",
                "request",
                "--phone",
                "+447700900123",
                "--received-at",
                "2999-01-01",
            ],
            vec![
                "erasure",
                "request",
                "--phone",
                "+447700900123",
                "--received-at",
                "yesterday",
            ],
        ] {
            let run = waledger(&db, &bad, None);
            assert_eq!(run.code, 2, "{}: {bad:?}: {}", db.name, run.stderr);
            assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
            assert!(
                !run.stderr.contains("447700900123"),
                "no number in errors: {}",
                run.stderr
            );
        }

        let run = json_of(&waledger(
            &db,
            &["erasure", "run", "--format", "json"],
            None,
        ));
        assert_eq!(
            (run["completed"].as_u64(), run["overdue"].as_u64()),
            (Some(3), Some(2)),
            "{}",
            db.name
        );
        let after = json_of(&waledger(
            &db,
            &["erasure", "list", "--format", "json"],
            None,
        ));
        assert!(after
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["state"] == "completed"));
        let receipt = waledger(
            &db,
            &["erasure", "receipt", jan["id"].as_str().unwrap()],
            None,
        );
        assert_eq!(receipt.code, 0, "{}", receipt.stderr);
        let body: Value = serde_json::from_str(&receipt.stdout).unwrap();
        assert_eq!(
            body["receipt"]["on_time"], false,
            "{}: completed after its deadline",
            db.name
        );
        let kinds = count(
            &db,
            "SELECT count(*) FROM chain WHERE kind IN ('erasure_request', 'erasure_extension', 'erasure')",
        );
        assert_eq!(
            tokio_run(kinds),
            3 + 1 + 3,
            "{}: every change is ledgered",
            db.name
        );
    }
}

fn tokio_run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn a_key_rotation_keeps_every_value_and_the_old_key_opens_nothing() {
    for db in backends() {
        assert_eq!(waledger(&db, &["init"], None).code, 0);
        ingest(
            &db,
            &[
                send_to(
                    "+44 7700 900123",
                    "rotate me",
                    response("+44 7700 900123", "447700900123", "wamid.ROT1"),
                ),
                send_to(
                    "+34 600 094 581",
                    "me too",
                    response("+34 600 094 581", "34600094581", "wamid.ROT2"),
                ),
            ],
        );
        let receipt = db.dir.path().join("before.json");
        erase(
            &db,
            "+34 600 094 581",
            &["--receipt", receipt.to_str().unwrap()],
        );
        let before = export(&db, "+447700900123");
        let key_file = db.dir.path().join("waledger.key");
        let old = db.dir.path().join("old.key");
        std::fs::copy(&key_file, &old).unwrap();

        let rotated = json_of(&waledger(
            &db,
            &["keys", "rotate", "--format", "json"],
            None,
        ));
        assert_eq!(rotated["generation"], 1, "{}", db.name);
        assert!(
            rotated["keys_rewrapped"].as_u64().unwrap() >= 2,
            "{}: subject and system keys",
            db.name
        );
        assert_ne!(
            std::fs::read(&key_file).unwrap(),
            std::fs::read(&old).unwrap()
        );
        assert!(!db.dir.path().join("waledger.key.next").exists());

        assert_eq!(
            export(&db, "+447700900123")["entries"],
            before["entries"],
            "{}: values still open",
            db.name
        );
        let with_old = waledger(
            &db,
            &[
                "--key-file",
                old.to_str().unwrap(),
                "export",
                "--phone",
                "+447700900123",
            ],
            None,
        );
        assert_eq!(with_old.code, 1, "{}: the old key opens nothing", db.name);
        assert_eq!(with_old.stderr.trim().lines().count(), 1);
        let verify = json_of(&waledger(&db, &["verify", "--format", "json"], None));
        assert_eq!(verify["ok"], true, "{}", db.name);
        let check = waledger(&db, &["receipt", "verify", receipt.to_str().unwrap()], None);
        assert_eq!(
            check.code, 0,
            "{}: receipts signed before the rotation still verify: {}",
            db.name, check.stderr
        );
        let rotations = tokio_run(count(
            &db,
            "SELECT count(*) FROM chain WHERE kind = 'key_rotation'",
        ));
        assert_eq!(rotations, 1, "{}", db.name);
        // New traffic after the rotation is sealed under the new key and reads back.
        ingest(
            &db,
            &[send_to(
                "+44 7700 900123",
                "after rotation",
                response("+44 7700 900123", "447700900123", "wamid.ROT3"),
            )],
        );
        let after = export(&db, "+447700900123");
        assert!(after["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["value"] == "after rotation"));
        let again = json_of(&waledger(
            &db,
            &["keys", "rotate", "--format", "json"],
            None,
        ));
        assert_eq!(again["generation"], 2, "{}", db.name);
        assert_eq!(
            export(&db, "+447700900123")["entries"],
            after["entries"],
            "{}",
            db.name
        );
    }
}

#[tokio::test]
async fn the_scheduler_carries_out_pending_requests() {
    use waledger::erasure::NewRequest;
    use waledger::policy::Policies;
    use waledger::scheduler::Scheduler;
    for db in backends() {
        let mut ledger = db.ledger(&waledger::crypto::MasterKey::generate()).await;
        let phone = waledger::domain::PhoneNumber::parse("+447700900123").unwrap();
        let now = crate::helpers::now();
        let id = ledger
            .request_erasure(
                NewRequest {
                    phone: &phone,
                    reference: None,
                    requested_by: None,
                    received_at: now,
                },
                now,
            )
            .await
            .unwrap();
        let store = ledger.into_store();
        let scheduler = Scheduler::new(
            store.clone(),
            Policies::new(crate::retention::policy()),
            "solo".into(),
        );
        let stop = std::sync::atomic::AtomicBool::new(false);
        let runs = scheduler
            .tick(now + chrono::Duration::minutes(20), &stop)
            .await
            .unwrap();
        let erasures: Vec<_> = runs.iter().filter(|r| r.job == "erasures").collect();
        assert_eq!(erasures.len(), 1, "{}", db.name);
        assert_eq!(erasures[0].outcome, "ok");
        let row = store.erasure_request(&id).await.unwrap().unwrap();
        assert_eq!(
            row.state,
            waledger::domain::ErasureState::Completed,
            "{}",
            db.name
        );
        let history = store.runs(Some("erasures"), 5).await.unwrap();
        assert!(
            history[0]
                .counts
                .as_deref()
                .unwrap_or("")
                .contains("\"completed\":1"),
            "{:?}",
            history[0].counts
        );
    }
}
