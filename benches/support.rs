//! What the benches share: reading `--name value` arguments, the peak memory of a run of the
//! real binary (its VmHWM, polled from /proc while it runs), simulated traffic of a given size,
//! and the server part of a PostgreSQL URL. Each bench uses some of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, BufWriter};
use std::path::Path;
use waledger::simulate::{generate, SimulateOptions};

/// The value after `name` on the command line, if any.
pub fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// Runs `waledger ARGS --format json` in `cwd` and returns its peak resident set in kB.
pub fn peak_kb(cwd: &Path, args: &[&str]) -> u64 {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_waledger"))
        .current_dir(cwd)
        .args(args)
        .args(["--format", "json"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("the binary runs");
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        let read = std::fs::read_to_string(&status).ok();
        let kb = read.as_deref().and_then(|text| {
            let line = text.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
            line.trim().trim_end_matches(" kB").trim().parse().ok()
        });
        peak = peak.max(kb.unwrap_or(0));
        if let Some(exit) = child.try_wait().expect("the child can be waited for") {
            assert!(exit.success(), "waledger {args:?} failed");
            return peak;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Writes `messages` simulated messages (reproducible from `seed`) spread over `days` up to now.
pub fn write_traffic(path: &Path, messages: u64, seed: u64, days: u32) {
    let options = SimulateOptions {
        messages,
        seed,
        days,
        until: waledger::clock::now(),
    };
    let mut out = BufWriter::new(std::fs::File::create(path).unwrap());
    generate(&options, &mut out).unwrap();
}

/// Field values the envelopes of a traffic file yield.
pub fn count_entries(path: &Path) -> u64 {
    BufReader::new(std::fs::File::open(path).unwrap())
        .lines()
        .map(|l| {
            waledger::ingest::run::prepare(&l.unwrap(), None)
                .map_or(0, |p| p.extracted.fields.len() as u64)
        })
        .sum()
}

/// How many simulated messages yield about `entries` entries (a message yields about 17: send,
/// statuses, replies), calibrated on a 2,000-message sample written beside `dir`'s traffic.
pub fn messages_for(dir: &Path, entries: u64, seed: u64, days: u32) -> u64 {
    let sample = dir.join("calibrate.jsonl");
    write_traffic(&sample, 2_000, seed, days);
    let per_message = count_entries(&sample) as f64 / 2_000.0;
    let _ = std::fs::remove_file(&sample);
    ((entries as f64 / per_message).ceil() as u64).max(1)
}

/// `postgres://user@host:port` of a PostgreSQL URL naming a database (what precedes the name).
pub fn server_base(url: &str) -> String {
    url.rsplit_once('/')
        .map_or(url, |(base, _)| base)
        .to_string()
}
