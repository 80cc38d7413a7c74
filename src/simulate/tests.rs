//! Tests of the whole generator: reproducibility, envelope shape (each line is an envelope the
//! ingest parser accepts), coverage of every message kind and quirk, the time window, and that
//! every number it writes is one subject under Meta's rewrites.

use std::collections::{HashMap, HashSet};

use chrono::{TimeZone, Utc};
use serde_json::Value;

use super::{generate, SimulateOptions, SimulateSummary};
use crate::domain::PhoneNumber;
use crate::ingest::Envelope;

fn options(messages: u64, seed: u64) -> SimulateOptions {
    SimulateOptions {
        messages,
        seed,
        days: 30,
        until: Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap(),
    }
}

fn run(options: &SimulateOptions) -> (Vec<u8>, SimulateSummary) {
    let mut out = Vec::new();
    let summary = generate(options, &mut out).unwrap();
    (out, summary)
}

fn lines(bytes: &[u8]) -> Vec<Value> {
    std::str::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The change `value`s and `field`s of a webhook envelope.
fn changes(envelope: &Value) -> Vec<(&str, &Value)> {
    let mut all = Vec::new();
    for entry in envelope["payload"]["entry"].as_array().unwrap() {
        for change in entry["changes"].as_array().unwrap() {
            all.push((change["field"].as_str().unwrap(), &change["value"]));
        }
    }
    all
}

fn unix(value: &Value) -> i64 {
    match value {
        Value::String(s) => s.parse().unwrap(),
        other => other.as_i64().unwrap(),
    }
}

#[test]
fn same_options_give_the_same_bytes_and_another_seed_does_not() {
    let (a, _) = run(&options(300, 11));
    let (b, _) = run(&options(300, 11));
    let (c, _) = run(&options(300, 12));
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn every_line_is_an_envelope_with_its_required_keys() {
    let (bytes, summary) = run(&options(500, 3));
    let text = std::str::from_utf8(&bytes).unwrap();
    let mut count = 0;
    for line in text.lines() {
        count += 1;
        let v: Value = serde_json::from_str(line).unwrap();
        match v["kind"].as_str().unwrap() {
            "send" => {
                assert!(
                    v["sent_at"].is_string() && v["phone_number_id"].is_string(),
                    "{line}"
                );
                assert!(
                    v["request"].is_object() && v["response"].is_object(),
                    "{line}"
                );
            }
            "webhook" => {
                assert!(v["received_at"].is_string(), "{line}");
                assert_eq!(
                    v["payload"]["object"], "whatsapp_business_account",
                    "{line}"
                );
            }
            other => panic!("unexpected kind {other}"),
        }
        Envelope::parse(line, None).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
    assert_eq!(count, summary.envelopes);
    assert!(text.ends_with('\n'));
}

#[test]
fn one_send_envelope_per_message() {
    for messages in [0, 1, 7, 400] {
        let (bytes, summary) = run(&options(messages, 5));
        let sends = lines(&bytes).iter().filter(|v| v["kind"] == "send").count() as u64;
        assert_eq!((sends, summary.messages), (messages, messages));
    }
}

/// What a 2000-message run contains, tallied once for the coverage tests.
#[derive(Default)]
struct Tally {
    sends: HashSet<String>,
    inbound: HashSet<String>,
    statuses: HashSet<String>,
    preferences: HashSet<String>,
    rewritten: HashSet<String>,
    send_errors: usize,
    status_errors: usize,
    old_shape: usize,
    times: Vec<i64>,
}

fn send_features(request: &Value, features: &mut HashSet<String>) {
    let kind = request["type"].as_str().unwrap();
    let object = &request[kind];
    features.insert(kind.to_string());
    match kind {
        "interactive" => {
            features.insert(format!("interactive/{}", object["type"].as_str().unwrap()));
        }
        "document" if object["filename"].is_string() => {
            features.insert("document/filename".into());
        }
        "template" => {
            for c in object["components"].as_array().unwrap() {
                if let Some(sub) = c["sub_type"].as_str() {
                    features.insert(format!("template/button/{sub}"));
                }
                for p in c["parameters"].as_array().unwrap() {
                    let t = p["type"].as_str().unwrap();
                    features.insert(format!("template/{}/{t}", c["type"].as_str().unwrap()));
                    if p.get("parameter_name").is_some() {
                        features.insert("template/named".into());
                    }
                }
            }
        }
        _ => {}
    }
    if request
        .get("context")
        .and_then(|c| c.get("message_id"))
        .is_some()
    {
        features.insert("context".into());
    }
}

fn tally(seed: u64) -> Tally {
    let (bytes, _) = run(&options(2000, seed));
    let mut t = Tally::default();
    for v in lines(&bytes) {
        if v["kind"] == "send" {
            t.times.push(
                crate::ingest::envelope::parse_time(v["sent_at"].as_str().unwrap())
                    .unwrap()
                    .timestamp(),
            );
            send_features(&v["request"], &mut t.sends);
            let response = &v["response"];
            if response.get("error").is_some() {
                assert!(response["error"]["error_data"]["details"].is_string());
                t.send_errors += 1;
                continue;
            }
            let contact = &response["contacts"][0];
            let (input, wa_id) = (
                contact["input"].as_str().unwrap(),
                contact["wa_id"].as_str().unwrap(),
            );
            assert_eq!(input, v["request"]["to"].as_str().unwrap());
            let digits: String = input.chars().filter(char::is_ascii_digit).collect();
            if digits != wa_id {
                t.rewritten.insert(wa_id[..2].to_string());
            }
            continue;
        }
        t.times.push(
            crate::ingest::envelope::parse_time(v["received_at"].as_str().unwrap())
                .unwrap()
                .timestamp(),
        );
        for (field, value) in changes(&v) {
            for s in value["statuses"].as_array().into_iter().flatten() {
                t.statuses.insert(s["status"].as_str().unwrap().to_string());
                t.times.push(unix(&s["timestamp"]));
                t.old_shape += usize::from(s.get("conversation").is_some());
                if let Some(errors) = s.get("errors") {
                    assert!(errors[0]["error_data"]["details"].is_string());
                    t.status_errors += 1;
                }
            }
            for m in value["messages"].as_array().into_iter().flatten() {
                let kind = m["type"].as_str().unwrap();
                let kind = if kind == "interactive" {
                    format!("interactive/{}", m[kind]["type"].as_str().unwrap())
                } else {
                    kind.to_string()
                };
                if kind == "image" {
                    assert!(m["image"]["caption"].is_string());
                }
                let contact = &value["contacts"][0];
                assert!(contact["profile"]["name"].is_string() && contact["wa_id"] == m["from"]);
                t.inbound.insert(kind);
                t.times.push(unix(&m["timestamp"]));
            }
            for p in value["user_preferences"].as_array().into_iter().flatten() {
                assert_eq!(field, "user_preferences");
                t.preferences
                    .insert(p["value"].as_str().unwrap().to_string());
                t.times.push(unix(&p["timestamp"]));
            }
        }
    }
    t
}

#[test]
fn two_thousand_messages_cover_every_kind_and_quirk() {
    let t = tally(2026);
    for kind in [
        "template",
        "text",
        "image",
        "video",
        "audio",
        "sticker",
        "document",
        "document/filename",
        "interactive/button",
        "interactive/list",
        "interactive/cta_url",
        "location",
        "contacts",
        "reaction",
        "context",
        "template/named",
        "template/header/image",
        "template/header/document",
        "template/header/location",
        "template/body/currency",
        "template/body/date_time",
        "template/button/quick_reply",
        "template/button/url",
    ] {
        assert!(t.sends.contains(kind), "no {kind} send in {:?}", t.sends);
    }
    for kind in [
        "text",
        "button",
        "image",
        "location",
        "reaction",
        "interactive/button_reply",
        "interactive/list_reply",
    ] {
        assert!(
            t.inbound.contains(kind),
            "no inbound {kind} in {:?}",
            t.inbound
        );
    }
    for status in ["sent", "delivered", "read", "failed"] {
        assert!(t.statuses.contains(status), "no {status} status");
    }
    assert_eq!(
        t.preferences,
        HashSet::from(["stop".to_string(), "resume".to_string()])
    );
    assert_eq!(
        t.rewritten,
        HashSet::from(["55".to_string(), "52".to_string()]),
        "only Brazil and Mexico are rewritten"
    );
    assert!(t.send_errors > 0 && t.status_errors > 0 && t.old_shape > 0);
}

#[test]
fn all_times_lie_in_the_window() {
    let o = options(2000, 2026);
    let (from, to) = (
        o.until.timestamp() - 30 * 86_400,
        o.until.timestamp() + 86_400,
    );
    let t = tally(2026);
    assert!(t.times.iter().all(|&x| (from..=to).contains(&x)));
    let (lo, hi) = (t.times.iter().min().unwrap(), t.times.iter().max().unwrap());
    assert!(
        lo - from < 3 * 86_400 && *hi > o.until.timestamp() - 86_400,
        "spread over the whole window"
    );
}

#[test]
fn every_written_number_and_wa_id_is_one_subject_and_statuses_follow_it() {
    let (bytes, _) = run(&options(1500, 8));
    let mut wa_id_of: HashMap<String, String> = HashMap::new();
    for v in lines(&bytes) {
        if v["kind"] == "send" {
            let Some(contact) = v["response"]["contacts"].get(0) else {
                continue;
            };
            let written = PhoneNumber::parse(contact["input"].as_str().unwrap())
                .expect("every written form parses");
            let wa_id = PhoneNumber::from_wire(contact["wa_id"].as_str().unwrap()).unwrap();
            assert!(written.aliases().contains(&wa_id), "{contact}");
            let e164 = written.expose_e164();
            if e164.starts_with("+44") {
                assert!(
                    e164.starts_with("+447700900"),
                    "UK numbers stay in Ofcom's drama range: {e164}"
                );
            }
            if e164.starts_with("+1") {
                assert_eq!(&e164[5..9], "5550", "US/CA numbers are 555-01xx: {e164}");
            }
            let wamid = v["response"]["messages"][0]["id"]
                .as_str()
                .unwrap()
                .to_string();
            assert!(
                wa_id_of
                    .insert(wamid, contact["wa_id"].as_str().unwrap().to_string())
                    .is_none(),
                "wamids are unique"
            );
        } else {
            for (_, value) in changes(&v) {
                for s in value["statuses"].as_array().into_iter().flatten() {
                    assert_eq!(
                        wa_id_of[s["id"].as_str().unwrap()],
                        s["recipient_id"],
                        "a status names its send's wa_id"
                    );
                }
            }
        }
    }
}

#[test]
fn the_pool_has_distinct_numbers_in_every_written_form() {
    use super::subjects::{build_pool, pool_size, Form};
    use rand::SeedableRng;
    assert_eq!(
        (
            pool_size(0),
            pool_size(4),
            pool_size(1000),
            pool_size(10_000_000)
        ),
        (1, 1, 200, 50_000)
    );
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    let pool = build_pool(&mut rng, 50_000);
    let distinct: HashSet<String> = pool.iter().map(|s| s.e164_digits()).collect();
    assert_eq!(distinct.len(), pool.len());
    for s in pool.iter().step_by(97) {
        let e164 = format!("+{}", s.e164_digits());
        for form in [
            Form::Compact,
            Form::Digits,
            Form::Spaced,
            Form::Dashed,
            Form::Local,
        ] {
            let written = s.write(form);
            assert_eq!(
                PhoneNumber::parse(&written).unwrap().expose_e164(),
                e164,
                "{written}"
            );
        }
    }
}

#[test]
fn zero_days_puts_every_send_at_until() {
    let o = SimulateOptions {
        days: 0,
        ..options(50, 4)
    };
    let (bytes, _) = run(&o);
    let until = o.until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let sends: Vec<Value> = lines(&bytes)
        .into_iter()
        .filter(|v| v["kind"] == "send")
        .collect();
    assert_eq!(sends.len(), 50);
    assert!(sends.iter().all(|v| v["sent_at"] == until.as_str()));
}
