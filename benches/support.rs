//! What the benches share: reading `--name value` arguments, and the peak memory of a run of the
//! real binary (its VmHWM, polled from /proc while it runs).

use std::path::Path;

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
