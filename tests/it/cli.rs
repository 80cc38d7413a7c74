//! The command line as a user runs it: the real binary in a scratch folder, on SQLite and (when
//! configured) PostgreSQL. Checks exit codes, one-line errors, and that the commands agree.

use crate::helpers::{backends, raw_sql, TestDb, FIXTURES};
use std::path::Path;
use std::process::{Command, Output, Stdio};

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// `waledger ARGS` in `db`'s folder against `db`'s databases, output piped.
pub fn command(db: &TestDb, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_waledger"));
    cmd.current_dir(db.dir.path())
        .args(args)
        .env("WALEDGER_DATABASE_URL", db.ledger_url.expose())
        .env("WALEDGER_KEYSTORE_URL", db.keys_url.expose())
        .env_remove("WALEDGER_MASTER_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Runs `waledger ARGS` in `db`'s folder against `db`'s databases.
pub fn waledger(db: &TestDb, args: &[&str], stdin: Option<&str>) -> Run {
    let mut cmd = command(db, args);
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.spawn().expect("the binary runs");
    if let Some(input) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    finish(child.wait_with_output().unwrap())
}

pub fn finish(out: Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A send envelope built from two fixture files.
pub fn send_line(request: &str, response: &str) -> String {
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(Path::new(FIXTURES).join(name)).unwrap())
            .unwrap()
    };
    serde_json::json!({
        "kind": "send", "sent_at": "2026-11-01T10:00:00Z", "phone_number_id": "106540352242922",
        "request": read(request), "response": read(response),
    })
    .to_string()
}

/// A webhook envelope around a fixture file.
pub fn webhook_line(payload: &str) -> String {
    let payload: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(Path::new(FIXTURES).join(payload)).unwrap())
            .unwrap();
    serde_json::json!({"kind": "webhook", "received_at": "2026-11-01T10:00:05Z", "payload": payload}).to_string()
}

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", run.stdout))
}

#[test]
fn init_creates_a_private_key_once_and_is_idempotent() {
    for db in backends() {
        let first = waledger(&db, &["init"], None);
        assert_eq!(first.code, 0, "{}: {}", db.name, first.stderr);
        let key = db.dir.path().join("waledger.key");
        let before = std::fs::read(&key).unwrap();
        #[cfg(unix)]
        // The key and the databases; the policy folder `init` writes holds no secret.
        for file in db.files().into_iter().filter(|f| !f.ends_with("policies")) {
            use std::os::unix::fs::PermissionsExt;
            // (A WAL file SQLite removes as the process exits is gone, not exposed.)
            let Ok(meta) = std::fs::metadata(&file) else {
                continue;
            };
            let mode = meta.permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{} is readable by others", file.display());
        }
        let second = waledger(&db, &["init"], None);
        assert_eq!(second.code, 0, "{}: {}", db.name, second.stderr);
        assert_eq!(
            std::fs::read(&key).unwrap(),
            before,
            "{}: init must never overwrite a key",
            db.name
        );
    }
}

#[test]
fn a_missing_or_wrong_key_is_a_clear_runtime_error() {
    for db in backends() {
        let missing = waledger(&db, &["export", "--phone", "+447700900123"], None);
        assert_eq!(missing.code, 1, "{}", db.name);
        assert!(
            missing.stderr.contains("waledger init"),
            "{}: {}",
            db.name,
            missing.stderr
        );
        assert_eq!(
            missing.stderr.trim().lines().count(),
            1,
            "{}: one line: {}",
            db.name,
            missing.stderr
        );

        assert_eq!(waledger(&db, &["init"], None).code, 0);
        let good_key = std::fs::read(db.dir.path().join("waledger.key")).unwrap();
        std::fs::write(
            db.dir.path().join("waledger.key"),
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        )
        .unwrap();
        let wrong = waledger(&db, &["verify"], None);
        assert_eq!(wrong.code, 1, "{}: {}", db.name, wrong.stderr);
        assert!(
            wrong.stderr.contains("master key does not open"),
            "{}: {}",
            db.name,
            wrong.stderr
        );
        assert!(
            wrong.stdout.is_empty(),
            "{}: no output on a wrong key",
            db.name
        );

        std::fs::write(db.dir.path().join("waledger.key"), "garbage").unwrap();
        let garbled = waledger(&db, &["verify"], None);
        assert_eq!(garbled.code, 1);
        assert!(
            garbled.stderr.contains("not base64 of 32 bytes"),
            "{}",
            garbled.stderr
        );
        std::fs::write(db.dir.path().join("waledger.key"), good_key).unwrap();
    }
}

#[test]
fn bad_lines_are_refused_with_their_number_and_the_rest_recorded() {
    for db in backends() {
        assert_eq!(waledger(&db, &["init"], None).code, 0);
        let input = [
            send_line("send_text_request.json", "send_response.json"),
            "{\"kind\":\"send\",\"to\":\"+447700900123\"".to_string(),
            webhook_line("webhook_status_sent_pmp_v24.json"),
            "{\"kind\":\"webhook\",\"received_at\":\"yesterday\",\"payload\":{}}".to_string(),
        ]
        .join("\n");
        let file = db.dir.path().join("traffic.jsonl");
        std::fs::write(&file, &input).unwrap();
        let run = waledger(&db, &["ingest", "traffic.jsonl", "--format", "json"], None);
        assert_eq!(run.code, 2, "{}: {}", db.name, run.stderr);
        let summary = json(&run);
        assert_eq!(summary["accepted"], 2, "{}", db.name);
        assert!(summary["entries"].as_u64().unwrap() > 0, "{}", db.name);
        let lines: Vec<u64> = summary["rejected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["line"].as_u64().unwrap())
            .collect();
        assert_eq!(lines, [2, 4], "{}", db.name);
        assert!(
            run.stderr.contains("traffic.jsonl:2: "),
            "{}: {}",
            db.name,
            run.stderr
        );
        assert!(
            run.stderr.contains("traffic.jsonl:4: "),
            "{}: {}",
            db.name,
            run.stderr
        );
        assert!(
            !run.stderr.contains("7700"),
            "{}: a refusal must not echo personal data",
            db.name
        );

        let again = waledger(&db, &["ingest", "--format", "json"], Some(&input));
        assert_eq!(
            json(&again)["duplicates"],
            2,
            "{}: a second delivery is a duplicate",
            db.name
        );
        assert_eq!(json(&again)["entries"], 0, "{}", db.name);
    }
}

#[test]
fn show_export_and_verify_agree_and_tampering_exits_3() {
    for db in backends() {
        assert_eq!(waledger(&db, &["init"], None).code, 0);
        let input = [
            send_line("send_text_request.json", "send_response.json"),
            webhook_line("webhook_status_sent_pmp_v24.json"),
        ]
        .join("\n");
        assert_eq!(
            waledger(&db, &["ingest"], Some(&input)).code,
            0,
            "{}",
            db.name
        );

        let wamid = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA";
        let shown = json(&waledger(
            &db,
            &["show", "--message", wamid, "--format", "json"],
            None,
        ));
        assert_eq!(shown["message_id"], wamid);
        let entries = shown["entries"].as_array().unwrap();
        assert!(
            entries
                .iter()
                .any(|e| e["field"] == "message_status" && e["state"] == "held"),
            "{}: {shown}",
            db.name
        );
        for e in entries {
            for key in [
                "field",
                "category",
                "direction",
                "state",
                "value",
                "occurred_at",
            ] {
                assert!(e.get(key).is_some(), "{}: missing {key}", db.name);
            }
        }

        let exported = json(&waledger(
            &db,
            &["export", "--phone", "+1 (650) 555-1234", "--format", "json"],
            None,
        ));
        assert_eq!(exported["subject"], "+16505551234");
        let texts: Vec<&str> = exported["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["value"].as_str())
            .collect();
        assert!(
            texts.iter().any(|t| t.contains("here is the link")),
            "{}: {texts:?}",
            db.name
        );

        let ok = waledger(
            &db,
            &["verify", "--checkpoint-out", "cp.json", "--format", "json"],
            None,
        );
        assert_eq!(ok.code, 0, "{}: {}", db.name, ok.stderr);
        assert_eq!(json(&ok)["ok"], true);
        assert_eq!(
            waledger(&db, &["verify", "--checkpoint", "cp.json"], None).code,
            0,
            "{}",
            db.name
        );

        let cp_path = db.dir.path().join("cp.json");
        let cp = std::fs::read_to_string(&cp_path).unwrap();
        let mut forged: serde_json::Value = serde_json::from_str(&cp).unwrap();
        forged["seq"] = serde_json::json!(1);
        std::fs::write(db.dir.path().join("forged.json"), forged.to_string()).unwrap();
        let forged_run = waledger(&db, &["verify", "--checkpoint", "forged.json"], None);
        assert_eq!(
            forged_run.code, 3,
            "{}: a changed checkpoint must fail",
            db.name
        );

        tokio_block(raw_sql(
            &db,
            "UPDATE chain SET category = 'metadata' WHERE seq = 2",
        ));
        let bad = waledger(&db, &["verify", "--format", "json"], None);
        assert_eq!(bad.code, 3, "{}: {}", db.name, bad.stdout);
        assert_eq!(json(&bad)["first_bad"]["seq"], 2);
        assert!(bad.stderr.contains("ledger entry 2"), "{}", bad.stderr);
    }
}

#[test]
fn logs_carry_no_personal_data_even_at_trace_level() {
    for db in backends() {
        assert_eq!(waledger(&db, &["init"], None).code, 0);
        let input = [
            send_line("send_text_request.json", "send_response.json"),
            webhook_line("pywa/inbound_text.json"),
            "{not json +16505551234".to_string(),
        ]
        .join("\n");
        let mut cmd = command(&db, &["ingest"]);
        cmd.env("RUST_LOG", "trace").stdin(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        let run = finish(child.wait_with_output().unwrap());
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(
            run.stderr.len() > 100,
            "{}: trace logging produced nothing",
            db.name
        );
        // The erasure path at trace level too: request, run, erase, export, receipt.
        let receipt = db.dir.path().join("r.json");
        let receipt = receipt.to_str().unwrap();
        let mut logs = run.stderr;
        for args in [
            vec![
                "erasure",
                "request",
                "--phone",
                "+972 98-765-4321",
                "--reference",
                "+16505551234",
            ],
            vec!["erasure", "run"],
            vec!["erase", "--phone", "+1 650-555-1234", "--receipt", receipt],
            vec!["export", "--phone", "16505551234"],
            vec!["receipt", "verify", receipt],
        ] {
            let out = command(&db, &args)
                .env("RUST_LOG", "trace")
                .output()
                .unwrap();
            let run = finish(out);
            assert_eq!(run.code, 0, "{}: {args:?}: {}", db.name, run.stderr);
            logs.push_str(&run.stderr);
        }
        for canary in [
            "16505551234",
            "6505551234",
            "972987654321",
            "Body Text",
            "here is the link",
            "wamid.HBgL",
        ] {
            assert!(!logs.contains(canary), "{}: {canary} in the logs", db.name);
        }
    }
}

#[test]
fn an_unreadable_phone_number_is_bad_input() {
    for db in backends() {
        assert_eq!(waledger(&db, &["init"], None).code, 0);
        let run = waledger(&db, &["export", "--phone", "call me maybe"], None);
        assert_eq!(run.code, 2);
        assert!(run.stderr.starts_with("error: --phone:"), "{}", run.stderr);
    }
}

#[test]
fn several_processes_append_to_one_chain() {
    for db in backends() {
        assert_eq!(waledger(&db, &["init"], None).code, 0);
        let sim = waledger(
            &db,
            &[
                "simulate",
                "--messages",
                "300",
                "--seed",
                "3",
                "--days",
                "2",
            ],
            None,
        );
        assert_eq!(sim.code, 0, "{}", sim.stderr);
        let lines: Vec<&str> = sim.stdout.lines().collect();
        let parts: Vec<String> = lines
            .chunks(lines.len().div_ceil(3))
            .map(|c| c.join("\n"))
            .collect();
        let children: Vec<_> = parts
            .iter()
            .enumerate()
            .map(|(i, part)| {
                let name = format!("part{i}.jsonl");
                std::fs::write(db.dir.path().join(&name), part).unwrap();
                command(&db, &["ingest", &name, "--format", "json"])
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut entries = 0;
        for child in children {
            let run = finish(child.wait_with_output().unwrap());
            assert_eq!(run.code, 0, "{}: {}", db.name, run.stderr);
            entries += json(&run)["entries"].as_u64().unwrap();
        }
        let verify = json(&waledger(&db, &["verify", "--format", "json"], None));
        assert_eq!(verify["ok"], true, "{}: {verify}", db.name);
        assert_eq!(
            verify["entries_checked"].as_u64().unwrap(),
            entries,
            "{}",
            db.name
        );
    }
}

fn tokio_block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn serve_initialises_a_fresh_folder_runs_the_purge_and_stops_on_sigterm() {
    for db in backends() {
        let input = [send_line("send_text_request.json", "send_response.json")].join("\n");
        let policy = "[windows]\nphone_number = \"1h\"\ntext = \"1h\"\nmedia = \"1h\"\nmetadata = \"1h\"\n\n[schedule]\npurge = \"*/1 * * * * *\"\n";
        let mut child = command(&db, &["serve", "--listen", "127.0.0.1:0"])
            .spawn()
            .unwrap();
        // A fresh folder: serve creates the key and the default policy, then runs; it is up and
        // scheduling once its first (catch-up) run is in the job history.
        wait_for(&mut child, || {
            // (`jobs` may fail while serve is still creating the databases: not ready yet.)
            let jobs = waledger(&db, &["jobs", "--format", "json"], None);
            db.dir.path().join("waledger.key").exists()
                && serde_json::from_str::<serde_json::Value>(&jobs.stdout)
                    .ok()
                    .and_then(|v| v.as_array().map(|runs| !runs.is_empty()))
                    .unwrap_or(false)
        });
        std::fs::write(db.dir.path().join("policies/retention.toml"), policy).unwrap();
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let first = finish(child.wait_with_output().unwrap());
        assert_eq!(first.code, 0, "{}: {}", db.name, first.stderr);
        assert!(
            first.stdout.contains("initialised"),
            "{}: {}",
            db.name,
            first.stdout
        );
        assert!(
            first.stderr.contains("scheduler stopped"),
            "{}: {}",
            db.name,
            first.stderr
        );

        // Old traffic, a one-hour window and a purge every second: the served purge removes it.
        assert_eq!(waledger(&db, &["ingest"], Some(&input)).code, 0);
        let mut child = command(&db, &["serve", "--listen", "127.0.0.1:0"])
            .spawn()
            .unwrap();
        wait_for(&mut child, || {
            let jobs: serde_json::Value =
                serde_json::from_str(&waledger(&db, &["jobs", "--format", "json"], None).stdout)
                    .unwrap_or_default();
            jobs.as_array().into_iter().flatten().any(|run| {
                let counts: serde_json::Value =
                    serde_json::from_str(run["counts"].as_str().unwrap_or("{}"))
                        .unwrap_or_default();
                counts["total"].as_u64().unwrap_or(0) > 0
            })
        });
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let second = finish(child.wait_with_output().unwrap());
        assert_eq!(second.code, 0, "{}: {}", db.name, second.stderr);
        assert!(
            !second.stdout.contains("initialised"),
            "{}: nothing to create the second time",
            db.name
        );
        let dry = json(&waledger(
            &db,
            &["purge", "--dry-run", "--format", "json"],
            None,
        ));
        assert_eq!(
            dry["total"], 0,
            "{}: the served purge left nothing due",
            db.name
        );
        for canary in ["16505551234", "here is the link"] {
            assert!(
                !second.stderr.contains(canary),
                "{}: {canary} in the serve logs",
                db.name
            );
        }
        assert_eq!(waledger(&db, &["verify"], None).code, 0, "{}", db.name);
    }
}

/// Waits up to a minute for `ready`; on a time-out stops `serve` and shows what it said.
fn wait_for(child: &mut std::process::Child, mut ready: impl FnMut() -> bool) {
    for _ in 0..600 {
        if ready() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let mut said = String::new();
    if let Some(mut err) = child.stderr.take() {
        use std::io::Read;
        let _ = err.read_to_string(&mut said);
    }
    panic!("timed out waiting for serve; it said:\n{said}");
}

#[test]
fn policy_holds_and_purge_from_the_command_line() {
    for db in backends() {
        assert_eq!(waledger(&db, &["init"], None).code, 0);
        std::fs::create_dir_all(db.dir.path().join("policies")).unwrap();
        let bad = "[windows]\nphone_nmber = \"90d\"\ntext = \"30 days\"\n";
        std::fs::write(db.dir.path().join("policies/retention.toml"), bad).unwrap();
        let check = waledger(&db, &["policy", "check"], None);
        assert_eq!(check.code, 2, "{}", db.name);
        assert!(
            check
                .stderr
                .contains("policies/retention.toml: line 2: unknown category 'phone_nmber'"),
            "{}",
            check.stderr
        );
        assert!(
            check.stderr.contains("line 3: bad duration '30 days'"),
            "{}",
            check.stderr
        );
        assert_eq!(
            waledger(&db, &["purge"], None).code,
            2,
            "{}: no purge under an invalid policy",
            db.name
        );

        let policy = "[windows]\nphone_number = \"90d\"\ntext = \"1h\"\nmedia = \"1h\"\nmetadata = \"400d\"\n";
        std::fs::write(db.dir.path().join("policies/retention.toml"), policy).unwrap();
        let shown = json(&waledger(
            &db,
            &["policy", "check", "--format", "json"],
            None,
        ));
        let text = shown["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["field"] == "message_text")
            .unwrap();
        assert_eq!(text["window"], "1h");
        assert_eq!(shown["schedules"][0]["next"].as_array().unwrap().len(), 3);

        let input = [send_line("send_text_request.json", "send_response.json")].join("\n");
        assert_eq!(waledger(&db, &["ingest"], Some(&input)).code, 0);
        let held = json(&waledger(
            &db,
            &[
                "hold",
                "add",
                "--phone",
                "+1 650 555 1234",
                "--reason",
                "claim 7",
                "--format",
                "json",
            ],
            None,
        ));
        let id = held["id"].as_str().unwrap().to_string();
        let dry = json(&waledger(
            &db,
            &["purge", "--dry-run", "--format", "json"],
            None,
        ));
        assert_eq!(
            (dry["dry_run"].as_bool(), dry["total"].as_u64()),
            (Some(true), Some(0)),
            "{}: {dry}",
            db.name
        );
        assert!(dry["kept_by_holds"].as_u64().unwrap() > 0, "{}", db.name);
        let list = json(&waledger(&db, &["hold", "list", "--format", "json"], None));
        assert_eq!(list[0]["reason"], "claim 7");
        assert_eq!(waledger(&db, &["hold", "release", &id], None).code, 0);
        assert_eq!(
            waledger(&db, &["hold", "release", &id], None).code,
            2,
            "{}: released once",
            db.name
        );

        let purged = json(&waledger(&db, &["purge", "--format", "json"], None));
        assert_eq!(purged["dry_run"], false);
        assert!(
            purged["purged"]["text"].as_u64().unwrap() > 0,
            "{}: {purged}",
            db.name
        );
        let total: u64 = ["phone_number", "text", "media", "metadata"]
            .iter()
            .map(|c| purged["purged"][c].as_u64().unwrap())
            .sum();
        assert_eq!(purged["total"].as_u64().unwrap(), total);
        let wamid = "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA";
        let shown = json(&waledger(
            &db,
            &["show", "--message", wamid, "--format", "json"],
            None,
        ));
        let text = shown["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["field"] == "message_text")
            .unwrap();
        assert_eq!(
            (text["state"].as_str(), text["value"].is_null()),
            (Some("purged"), true),
            "{}",
            db.name
        );
        assert_eq!(waledger(&db, &["verify"], None).code, 0, "{}", db.name);
    }
}
