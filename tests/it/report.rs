//! The compliance report through the real binary, on every backend, over simulated traffic with
//! known purges, erasures (on time, late, refused, pending past due) and a legal hold: every
//! count equals what the test computes itself from the database; text held past a short window
//! makes its flows non-compliant (except what the hold keeps); the undocumented flows are exactly
//! those the seed page does not list; every format renders; a signed report verifies and a
//! changed byte fails with exit 3; the scheduler writes JSON and HTML named by period.

use crate::cli::{waledger, Run};
use crate::helpers::{backends, TestDb};
use chrono::{Duration, Utc};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use waledger::clock;

fn json_of(run: &Run) -> Value {
    assert_eq!(run.code, 0, "exit {}: {}", run.code, run.stderr);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", run.stdout))
}

/// The flows the seed page (Dotdigital's data-flow documentation) lists.
fn seed_flows() -> BTreeSet<(&'static str, &'static str)> {
    let outbound = [
        "recipient_phone",
        "message_text",
        "template_id",
        "template_field",
        "media",
        "attachment",
        "originator_phone_id",
    ];
    let inbound = ["message_status", "message_id", "originator_phone_id"];
    outbound
        .iter()
        .map(|f| (*f, "outbound"))
        .chain(inbound.iter().map(|f| (*f, "inbound")))
        .collect()
}

fn write_policies(dir: &Path, windows: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("retention.toml"),
        format!("[windows]\n{windows}\n\n[schedule]\npurge = \"0 0 3 * * *\"\nerasures = \"0 */15 * * * *\"\nreport = \"0 0 6 1 * *\"\n"),
    )
    .unwrap();
}

type StateCounts = BTreeMap<(String, String), BTreeMap<String, i64>>;

/// Values per (field, direction) and state that occurred in `[from, to)`, by the test's own SQL
/// (the chain's columns joined to the content rows; not the report's index).
async fn independent_counts(db: &TestDb, from: i64, to: i64, extra: &str) -> StateCounts {
    let sql = format!(
        "SELECT c.field, c.direction, ct.state, count(*) FROM chain c JOIN content ct ON ct.seq = c.seq \
         WHERE c.kind = 'field' AND c.occurred_at >= {from} AND c.occurred_at < {to} {extra} GROUP BY c.field, c.direction, ct.state"
    );
    let rows: Vec<(String, String, String, i64)> = crate::helpers::query_ledger(db, &sql).await;
    let mut out = StateCounts::new();
    for (field, direction, state, n) in rows {
        *out.entry((field, direction))
            .or_default()
            .entry(state)
            .or_default() += n;
    }
    out
}

fn run_async<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn every_count_of_the_report_is_what_the_ledger_holds() {
    for db in backends() {
        let dir = db.dir.path();
        assert_eq!(waledger(&db, &["init"], None).code, 0);
        let traffic = waledger(
            &db,
            &[
                "simulate",
                "--messages",
                "600",
                "--seed",
                "21",
                "--days",
                "20",
            ],
            None,
        );
        assert_eq!(traffic.code, 0);
        assert_eq!(
            waledger(&db, &["ingest"], Some(&traffic.stdout)).code,
            0,
            "{}",
            db.name
        );
        let numbers: Vec<String> = traffic
            .stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| e["kind"] == "send")
            .filter_map(|e| e["request"]["to"].as_str().map(str::to_string))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let [held, on_time, late, pending] = [&numbers[0], &numbers[1], &numbers[2], &numbers[3]];

        // A hold that refuses an erasure; an erasure on time; one received two months ago (late);
        // one received two months ago and never run (pending, overdue).
        let hold = json_of(&waledger(
            &db,
            &[
                "hold", "add", "--phone", held, "--reason", "case 12", "--format", "json",
            ],
            None,
        ));
        let hold_id = hold["id"].as_str().unwrap();
        let two_months_ago = (clock::now() - Duration::days(60))
            .format("%Y-%m-%d")
            .to_string();
        let refused = json_of(&waledger(
            &db,
            &["erase", "--phone", held, "--format", "json"],
            None,
        ));
        assert_eq!(refused["state"], "refused");
        let fast = json_of(&waledger(
            &db,
            &["erase", "--phone", on_time, "--format", "json"],
            None,
        ));
        let slow = json_of(&waledger(
            &db,
            &[
                "erase",
                "--phone",
                late,
                "--received-at",
                &two_months_ago,
                "--format",
                "json",
            ],
            None,
        ));
        let waiting = json_of(&waledger(
            &db,
            &[
                "erasure",
                "request",
                "--phone",
                pending,
                "--received-at",
                &two_months_ago,
                "--format",
                "json",
            ],
            None,
        ));
        assert_eq!(waiting["state"], "pending");

        // Purge media older than 6 days (nothing else); report under a policy where media keep
        // 7 days and text only one: media comply, text held past a day does not.
        let purge_policy = dir.join("purge-policies");
        write_policies(
            &purge_policy,
            "phone_number = \"400d\"\ntext = \"400d\"\nmedia = \"6d\"\nmetadata = \"400d\"",
        );
        let purged = json_of(&waledger(
            &db,
            &[
                "--policies",
                purge_policy.to_str().unwrap(),
                "purge",
                "--format",
                "json",
            ],
            None,
        ));
        assert!(
            purged["purged"]["media"].as_u64().unwrap() > 0,
            "{}: {purged}",
            db.name
        );
        let report_policy = dir.join("report-policies");
        write_policies(
            &report_policy,
            "phone_number = \"90d\"\ntext = \"1d\"\nmedia = \"7d\"\nmetadata = \"400d\"",
        );
        assert_eq!(waledger(&db, &["verify"], None).code, 0);

        let from = clock::now() - Duration::days(70);
        let from_text = from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let report = json_of(&waledger(
            &db,
            &[
                "--policies",
                report_policy.to_str().unwrap(),
                "report",
                "--from",
                &from_text,
                "--format",
                "json",
            ],
            None,
        ));
        let now = report["generated_at"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<Utc>>()
            .unwrap();
        let to = report["period"]["to"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<Utc>>()
            .unwrap();
        assert_eq!(report["period"]["from"], from_text);

        // Every flow's counts, exactly.
        let expected = run_async(independent_counts(
            &db,
            from.timestamp(),
            to.timestamp(),
            "",
        ));
        let flows = report["flows"].as_array().unwrap();
        assert_eq!(
            flows.len(),
            expected.len(),
            "{}: one row per observed flow",
            db.name
        );
        let state = |m: &BTreeMap<String, i64>, s: &str| m.get(s).copied().unwrap_or(0);
        for f in flows {
            let key = (
                f["field"].as_str().unwrap().to_string(),
                f["direction"].as_str().unwrap().to_string(),
            );
            let want = &expected[&key];
            assert_eq!(
                f["recorded"],
                want.values().sum::<i64>(),
                "{}: {key:?}",
                db.name
            );
            for s in ["held", "purged", "erased"] {
                assert_eq!(f[s], state(want, s), "{}: {key:?} {s}", db.name);
            }
            let documented = seed_flows().contains(&(key.0.as_str(), key.1.as_str()));
            assert_eq!(f["documented"], documented, "{}: {key:?}", db.name);
            assert!(
                !f["terms"].as_array().unwrap().is_empty(),
                "{}: {key:?} cites its terms",
                db.name
            );
            for t in f["terms"].as_array().unwrap() {
                assert!(t["owner"] == "Dotdigital" || t["owner"] == "Meta");
                assert!(t["document"].as_str().is_some_and(|d| !d.is_empty()));
            }
            for k in ["category", "retention", "compliant"] {
                assert!(!f[k].is_null(), "{k}");
            }
        }
        let undocumented: BTreeSet<(String, String)> = expected
            .keys()
            .filter(|(f, d)| !seed_flows().contains(&(f.as_str(), d.as_str())))
            .cloned()
            .collect();
        assert!(
            undocumented.contains(&("recipient_phone".into(), "inbound".into())),
            "status recipient_id is undocumented"
        );
        assert_eq!(report["summary"]["undocumented_flows"], undocumented.len());
        let totals = |s: &str| flows.iter().map(|f| f[s].as_i64().unwrap()).sum::<i64>();
        assert_eq!(
            totals("purged"),
            purged["total"].as_i64().unwrap(),
            "{}: the purge's own count",
            db.name
        );
        assert_eq!(
            totals("erased"),
            fast["entries_erased"].as_i64().unwrap() + slow["entries_erased"].as_i64().unwrap(),
            "{}: the erasures' own counts",
            db.name
        );

        // Held past the window: text past one day, except what the hold keeps.
        let held_subject = json_of(&waledger(&db, &["hold", "list", "--format", "json"], None))[0]
            ["subject_id"]
            .as_str()
            .unwrap()
            .to_string();
        let day_ago = now.timestamp() - 86_400;
        let past = run_async(independent_counts(
            &db,
            i64::MIN / 2,
            day_ago + 1,
            &format!("AND ct.state = 'held' AND (ct.subject_id IS NULL OR ct.subject_id <> '{held_subject}')"),
        ));
        let mut non_compliant = 0;
        for f in flows {
            let key = (
                f["field"].as_str().unwrap().to_string(),
                f["direction"].as_str().unwrap().to_string(),
            );
            let category = f["category"].as_str().unwrap();
            let want = if category == "text" {
                past.get(&key).map_or(0, |m| state(m, "held"))
            } else {
                0
            };
            assert_eq!(f["held_past_window"], want, "{}: {key:?}", db.name);
            assert_eq!(f["compliant"], want == 0, "{}: {key:?}", db.name);
            non_compliant += usize::from(want > 0);
        }
        assert!(
            non_compliant > 0,
            "{}: text held past a day is not compliant",
            db.name
        );
        assert_eq!(report["summary"]["non_compliant_flows"], non_compliant);
        assert_eq!(report["summary"]["compliant"], false);

        let e = &report["erasures"];
        let got: Vec<u64> = [
            "received",
            "completed_on_time",
            "completed_late",
            "refused",
            "pending",
            "overdue",
        ]
        .iter()
        .map(|k| e[k].as_u64().unwrap())
        .collect();
        assert_eq!(got, [4, 1, 1, 1, 1, 1], "{}: {e}", db.name);
        assert!(
            e["slowest_hours_to_complete"].as_f64().unwrap() >= 59.0 * 24.0,
            "{}: {e}",
            db.name
        );
        assert_eq!(report["holds"]["in_force"], 1);
        assert_eq!(report["holds"]["holds"][0]["id"], hold_id);
        let integrity = &report["integrity"];
        assert_eq!(
            (
                integrity["verified"].as_bool(),
                integrity["checkpoint_in_chain"].as_bool()
            ),
            (Some(true), Some(true)),
            "{integrity}"
        );
        let text_meta = report["retention"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["category"] == "text")
            .unwrap();
        assert_eq!(
            (text_meta["ours"].as_str(), text_meta["meta"].as_str()),
            (Some("1d"), Some("30d"))
        );
        let text_flow = flows.iter().find(|f| f["field"] == "message_text").unwrap();
        assert_eq!(
            text_flow["meta_copy_outlives_ours_days"], 29,
            "a copy may outlive ours at Meta by 29 days"
        );

        // The report never names a number or a text.
        for n in [held, on_time, late, pending] {
            let digits: String = n.chars().filter(char::is_ascii_digit).collect();
            assert!(
                !report.to_string().contains(&digits),
                "{}: a number in the report",
                db.name
            );
        }
    }
}

#[test]
fn formats_signatures_and_bad_input() {
    for db in backends() {
        let dir = db.dir.path();
        assert_eq!(waledger(&db, &["init"], None).code, 0);
        let traffic = waledger(
            &db,
            &["simulate", "--messages", "80", "--seed", "4", "--days", "3"],
            None,
        );
        assert_eq!(waledger(&db, &["ingest"], Some(&traffic.stdout)).code, 0);
        let flows = json_of(&waledger(&db, &["report", "--format", "json"], None))["flows"]
            .as_array()
            .unwrap()
            .len();
        let csv = waledger(&db, &["report", "--format", "csv"], None);
        assert_eq!(csv.code, 0, "{}", csv.stderr);
        assert_eq!(
            csv.stdout.lines().count(),
            flows + 1,
            "{}: one row per flow and a header",
            db.name
        );
        assert!(csv
            .stdout
            .starts_with("field,direction,category,documented"));
        let md = waledger(&db, &["report", "--format", "markdown"], None);
        assert!(
            md.stdout.contains("## Flows") && md.stdout.contains("| recipient_phone |"),
            "{}",
            md.stdout
        );
        let table = waledger(&db, &["report", "--format", "table"], None);
        assert!(table.stdout.contains("recipient_phone") && table.stdout.contains("overall:"));
        let html = waledger(&db, &["report", "--format", "html"], None);
        assert_eq!(
            html.stdout.matches("<svg").count(),
            3,
            "{}: three charts",
            db.name
        );
        assert!(!html.stdout.contains("<script") && !html.stdout.contains("src=\"http"));

        // Signed, in any format; any changed byte of the report or its signature fails.
        for (format, name) in [("json", "r.json"), ("html", "r.html")] {
            let out = dir.join(name);
            let signed = waledger(
                &db,
                &[
                    "report",
                    "--format",
                    format,
                    "--out",
                    out.to_str().unwrap(),
                    "--sign",
                ],
                None,
            );
            assert_eq!(signed.code, 0, "{}: {}", db.name, signed.stderr);
            let ok = waledger(
                &db,
                &[
                    "report",
                    "verify",
                    out.to_str().unwrap(),
                    "--format",
                    "json",
                ],
                None,
            );
            assert_eq!(json_of(&ok)["ledger_checked"], true);
            let bytes = std::fs::read(&out).unwrap();
            for i in [0, bytes.len() / 3, bytes.len() - 2] {
                let mut changed = bytes.clone();
                changed[i] ^= 0x01;
                std::fs::write(&out, &changed).unwrap();
                let bad = waledger(&db, &["report", "verify", out.to_str().unwrap()], None);
                assert_eq!(
                    bad.code, 3,
                    "{}: byte {i} of {name}: {}",
                    db.name, bad.stderr
                );
                assert_eq!(bad.stderr.trim().lines().count(), 1);
            }
            std::fs::write(&out, &bytes).unwrap();
            let sig = dir.join(format!("{name}.sig"));
            let text = std::fs::read_to_string(&sig).unwrap();
            let forged = text.replacen("\"signed_at\": \"2", "\"signed_at\": \"1", 1);
            assert_ne!(forged, text);
            std::fs::write(&sig, forged).unwrap();
            assert_eq!(
                waledger(&db, &["report", "verify", out.to_str().unwrap()], None).code,
                3,
                "{}: a changed signature",
                db.name
            );
        }

        for bad in [
            vec!["report", "--from", "last month"],
            vec!["report", "--from", "2026-11-20", "--to", "2026-11-01"],
            vec!["report", "--sign"],
            vec!["show", "--message", "wamid.X", "--format", "csv"],
        ] {
            let run = waledger(&db, &bad, None);
            assert_eq!(run.code, 2, "{}: {bad:?}: {}", db.name, run.stderr);
            assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
        }
        // A catalogue error is one line with the file and line, exit 2, for policy check and report.
        let broken = dir.join("broken");
        write_policies(
            &broken,
            "phone_number = \"90d\"\ntext = \"30d\"\nmedia = \"30d\"\nmetadata = \"400d\"",
        );
        std::fs::write(
            broken.join("data_flows.toml"),
            waledger::policy::DEFAULT_FLOWS.replacen("\"dd-dpa\"", "\"dd-dpa-typo\"", 1),
        )
        .unwrap();
        for args in [
            vec!["policy", "check", broken.to_str().unwrap()],
            vec!["--policies", broken.to_str().unwrap(), "report"],
        ] {
            let run = waledger(&db, &args, None);
            assert_eq!(run.code, 2, "{}: {args:?}", db.name);
            assert!(
                run.stderr.contains("data_flows.toml: line ") && run.stderr.contains("dd-dpa-typo"),
                "{}",
                run.stderr
            );
        }
    }
}

#[tokio::test]
async fn the_scheduler_writes_the_monthly_report_as_json_and_html() {
    use waledger::policy::Policies;
    use waledger::scheduler::Scheduler;
    for db in backends() {
        let ledger = db.ledger(&waledger::crypto::MasterKey::generate()).await;
        let store = ledger.store_arc();
        let folder = db.dir.path().join("reports");
        let scheduler = Scheduler::new(
            store.clone(),
            Policies::new(crate::retention::policy()),
            "solo".into(),
        )
        .with_reports(folder.clone(), Some(ledger));
        let stop = std::sync::atomic::AtomicBool::new(false);
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-01T07:00:00Z")
            .unwrap()
            .to_utc();
        let runs = scheduler.tick(at, &stop).await.unwrap();
        let report = runs
            .iter()
            .find(|r| r.job == "report")
            .expect("the report ran");
        assert_eq!(report.outcome, "ok", "{}: {}", db.name, report.counts);
        for ext in ["json", "html"] {
            let file = folder.join(format!("compliance-2026-11-01_2026-12-01.{ext}"));
            assert!(file.exists(), "{}: {}", db.name, file.display());
        }
        let json: Value = serde_json::from_str(
            &std::fs::read_to_string(folder.join("compliance-2026-11-01_2026-12-01.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(json["period"]["from"], "2026-11-01T00:00:00Z");
        assert_eq!(
            json["integrity"]["verified"], true,
            "{}: verified before the report",
            db.name
        );
        let history = store.runs(Some("report"), 5).await.unwrap();
        assert_eq!(history.len(), 1);
        assert!(history[0]
            .counts
            .as_deref()
            .unwrap()
            .contains("compliance-2026-11-01_2026-12-01.html"));
    }
}
