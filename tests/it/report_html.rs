//! The HTML report as a reader's browser shows it: headless Chromium (installed by `.ci/run` from
//! the system's packages) loads the page of a ledger that has seen traffic, purges, an erasure
//! and a verification, on every backend. The DOM after load holds the three charts and the flows
//! table; the browser logs no console message (the page has no script, so any message is the
//! browser complaining about the page: a Content-Security-Policy violation is how a fetch from
//! the network would show); its network log holds no request made for the page; a screenshot of
//! the first A4 page is written to `target/report-screenshot.png` (the CI artefact).
//!
//! No Chromium on the machine fails the test, saying how to install it, unless
//! `WALEDGER_SKIP_BROWSER_TESTS=1` (then it says loudly that it skipped).
//! `WALEDGER_UPDATE_EXAMPLE_REPORT=1` also copies the screenshot to `reports/example-report.png`
//! (the README's picture; written too when it is missing, never otherwise, so that a test run
//! leaves the tree clean).

use crate::cli::{waledger, Run};
use crate::helpers::{backends, TestDb};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BROWSERS: [&str; 3] = ["chromium", "chromium-browser", "google-chrome"];
/// A4 at 150 dpi.
const WINDOW: (u32, u32) = (1240, 1754);
/// A browser run that takes longer than this has hung.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(60);

#[test]
fn the_html_report_loads_offline_with_its_charts_and_no_console_error() {
    let Some(browser) = find_browser() else {
        if std::env::var("WALEDGER_SKIP_BROWSER_TESTS").as_deref() == Ok("1") {
            // Straight to stderr so the test harness's capture cannot hide it.
            let _ = std::io::stderr().write_all(
                b"\n*** WARNING: HTML report browser test SKIPPED (WALEDGER_SKIP_BROWSER_TESTS=1): \
                  no chromium, chromium-browser or google-chrome on PATH ***\n\n",
            );
            return;
        }
        panic!(
            "headless Chromium is needed to check the HTML report, and none of {BROWSERS:?} is \
             on PATH: install it (`apt-get install --no-install-recommends chromium \
             fonts-dejavu-core`, as .ci/run does) or set WALEDGER_SKIP_BROWSER_TESTS=1 to skip"
        );
    };
    harness_sees_what_it_must(&browser);
    for db in backends() {
        let started = Instant::now();
        let html_path = report_of_a_busy_ledger(&db);
        let html = std::fs::read_to_string(&html_path).unwrap();
        offline_by_construction(&db, &html);

        let page = Page::open(&browser, &html_path, db.dir.path());
        dom_has_charts_and_flows(&db, &page.dom);
        assert_silent(&db, &page);
        let png = page.screenshot;
        assert_png(&db, &png);
        save_screenshot(&db, &png);
        eprintln!(
            "{}: report built and checked in headless Chromium in {:.1}s",
            db.name,
            started.elapsed().as_secs_f64()
        );
    }
}

/// `init`, simulated traffic ingested, `purge`, `erase` of one recipient, `verify`, then the
/// HTML report; returns its path.
fn report_of_a_busy_ledger(db: &TestDb) -> PathBuf {
    let ok = |what: &str, run: Run| {
        assert_eq!(run.code, 0, "{}: {what}: {}", db.name, run.stderr);
        run
    };
    let policies = db.dir.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    for file in ["retention.toml", "data_flows.toml", "terms.toml"] {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("policies")
            .join(file);
        std::fs::copy(shipped, policies.join(file)).unwrap();
    }
    ok("init", waledger(db, &["init"], None));
    let args = [
        "simulate",
        "--messages",
        "400",
        "--seed",
        "5",
        "--days",
        "20",
    ];
    let traffic = ok("simulate", waledger(db, &args, None)).stdout;
    let ingest = ["ingest", "-", "--format", "json"];
    ok("ingest", waledger(db, &ingest, Some(&traffic)));
    ok("purge", waledger(db, &["purge", "--format", "json"], None));
    let phone = first_recipient(&traffic);
    let erase = ["erase", "--phone", &phone, "--format", "json"];
    ok("erase", waledger(db, &erase, None));
    ok(
        "verify",
        waledger(db, &["verify", "--format", "json"], None),
    );
    let report = ["report", "--format", "html", "--out", "report.html"];
    ok("report", waledger(db, &report, None));
    db.dir.path().join("report.html")
}

fn first_recipient(traffic: &str) -> String {
    traffic
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|envelope| envelope["kind"] == "send")
        .and_then(|send| send["request"]["to"].as_str().map(str::to_string))
        .expect("the simulated traffic sends to someone")
}

/// Nothing in the page's text could fetch anything: no script, no remote source, no remote or
/// imported style. (Links to the governing documents are fine: a link is not fetched.)
fn offline_by_construction(db: &TestDb, html: &str) {
    let lower = html.to_ascii_lowercase();
    for needle in [
        "<script",
        "src=\"http",
        "src=\"//",
        "url(http",
        "url(//",
        "@import",
    ] {
        assert!(
            !lower.contains(needle),
            "{}: the report contains `{needle}`",
            db.name
        );
    }
    assert!(
        lower.contains("content-security-policy"),
        "{}: the report has lost its Content-Security-Policy",
        db.name
    );
}

/// The element with `id` in `dom`: from its id to the end of its (non-nested) element.
fn element<'a>(db: &TestDb, dom: &'a str, id: &str, end: &str) -> &'a str {
    let start = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("{}: no #{id} in the DOM after load", db.name));
    let len = dom[start..]
        .find(end)
        .unwrap_or_else(|| panic!("{}: #{id} is not closed", db.name));
    &dom[start..start + len]
}

fn dom_has_charts_and_flows(db: &TestDb, dom: &str) {
    for id in ["chart-held", "chart-removals", "chart-deadlines"] {
        let chart = element(db, dom, id, "</div>");
        assert_eq!(
            chart.matches("<svg").count(),
            1,
            "{}: #{id} holds no chart: {chart}",
            db.name
        );
        let shapes: usize = ["<path", "<rect", "<polyline", "<line"]
            .iter()
            .map(|tag| chart.matches(tag).count())
            .sum();
        assert!(shapes >= 5, "{}: #{id} draws only {shapes} shapes", db.name);
        assert!(
            chart.matches("<text").count() >= 4,
            "{}: #{id} has no axis labels",
            db.name
        );
    }
    // One line per category of values held.
    let held = element(db, dom, "chart-held", "</div>");
    assert!(
        held.matches("<polyline").count() >= 4,
        "{}: #chart-held draws fewer than four lines",
        db.name
    );
    let flows = element(db, dom, "flows", "</table>");
    assert!(
        flows.matches("<td").count() >= 10 && flows.contains("recipient_phone"),
        "{}: the #flows table has no rows: {flows}",
        db.name
    );
    let verdict = element(db, dom, "verdict", "</div>");
    assert!(
        verdict.contains("Compliant"),
        "{}: after purge, erasure and verify the ledger is compliant: {verdict}",
        db.name
    );
}

/// No console message and no request for the page in Chromium's logs.
fn assert_silent(db: &TestDb, page: &Page) {
    let complaints = console_complaints(&page.log);
    assert!(
        complaints.is_empty(),
        "{}: Chromium complained about the page:\n{}",
        db.name,
        complaints.join("\n")
    );
    let fetched = page_requests(&page.net_log);
    assert!(
        fetched.is_empty(),
        "{}: the page made network requests: {fetched:?}",
        db.name
    );
}

/// Lines of Chromium's log about the page: console messages (Chromium logs them all as
/// `INFO:CONSOLE`, whatever their level, so any counts: the page runs no script), uncaught
/// errors, refused loads, Content-Security-Policy violations.
fn console_complaints(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|line| {
            [
                "CONSOLE",
                "Uncaught",
                "Refused to",
                "Content Security Policy",
                "Content-Security-Policy",
            ]
            .iter()
            .any(|marker| line.contains(marker))
        })
        .collect()
}

/// URLs of the requests in a Chromium net log (`--log-net-log`) made for a page rather than by
/// the browser itself (its updater and time checks, blocked by the resolver rule anyway): a
/// page's requests have an origin as initiator, or a `file://` page in their isolation key.
fn page_requests(net_log: &str) -> Vec<String> {
    let log: serde_json::Value = serde_json::from_str(net_log)
        .unwrap_or_else(|e| panic!("Chromium's net log is not JSON ({e})"));
    let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
        .as_u64()
        .expect("the net log names its event types");
    log["events"]
        .as_array()
        .expect("the net log has events")
        .iter()
        .filter(|e| e["type"].as_u64() == Some(start_job))
        .map(|e| &e["params"])
        .filter(|p| {
            let initiator = p["initiator"].as_str().unwrap_or("not an origin");
            let isolation = p["network_isolation_key"].as_str().unwrap_or("");
            initiator != "not an origin" || isolation.contains("file://")
        })
        .map(|p| p["url"].as_str().unwrap_or("?").to_string())
        .collect()
}

/// The checks above would pass on a browser that logs nothing: a page that loads a stylesheet
/// its policy refuses and an image it allows (from a host that does not resolve) must show up
/// as a console complaint and as a request for the page.
fn harness_sees_what_it_must(browser: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("probe.html");
    std::fs::write(
        &path,
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         img-src http://probe.invalid\">\
         <link rel=\"stylesheet\" href=\"http://probe.invalid/refused.css\"></head>\
         <body><img src=\"http://probe.invalid/allowed.png\" alt=\"\"></body></html>",
    )
    .unwrap();
    let page = Page::open(browser, &path, dir.path());
    assert!(
        console_complaints(&page.log)
            .iter()
            .any(|line| line.contains("refused.css")),
        "the browser check cannot see a refused load in Chromium's log; the log was:\n{}",
        page.log
    );
    assert!(
        page_requests(&page.net_log)
            .iter()
            .any(|url| url.contains("allowed.png")),
        "the browser check cannot see a page's request in Chromium's net log"
    );
}

/// What headless Chromium made of a page: the DOM after load, its log (both runs), its network
/// log and a screenshot of the first A4 page.
struct Page {
    dom: String,
    log: String,
    net_log: String,
    screenshot: Vec<u8>,
}

impl Page {
    fn open(browser: &Path, html: &Path, scratch: &Path) -> Page {
        let url = format!("file://{}", html.canonicalize().unwrap().display());
        let net_log = scratch.join("chromium-netlog.json");
        let (dom, dump_log) = run_browser(
            browser,
            scratch,
            "dump",
            &[
                format!("--log-net-log={}", net_log.display()),
                "--dump-dom".into(),
                url.clone(),
            ],
        );
        let png = scratch.join("report.png");
        let (_, shot_log) = run_browser(
            browser,
            scratch,
            "shot",
            &[
                format!("--screenshot={}", png.display()),
                format!("--window-size={},{}", WINDOW.0, WINDOW.1),
                url,
            ],
        );
        Page {
            dom,
            log: dump_log + &shot_log,
            net_log: std::fs::read_to_string(&net_log).unwrap_or_default(),
            screenshot: std::fs::read(&png).unwrap_or_default(),
        }
    }
}

/// Runs headless Chromium with `args` after the common flags: a fresh profile, no sandbox (CI
/// containers run as root, where Chromium refuses its sandbox), no GPU, /tmp instead of a small
/// /dev/shm, its log on stderr, no background traffic and a resolver that resolves nothing (so
/// the machine stays offline even if something tried), 3 s of virtual time for the page to
/// settle. Returns its stdout and stderr.
fn run_browser(browser: &Path, scratch: &Path, name: &str, args: &[String]) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let out_path = scratch.join(format!("chromium-{name}.out"));
    let err_path = scratch.join(format!("chromium-{name}.err"));
    let mut child = Command::new(browser)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--enable-logging=stderr",
            "--v=0",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--hide-scrollbars",
            "--virtual-time-budget=3000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("{} does not start: {e}", browser.display()));
    let deadline = Instant::now() + BROWSER_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "headless Chromium ({name}) did not finish in {BROWSER_TIMEOUT:?}:\n{}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = std::fs::read_to_string(&out_path).unwrap_or_default();
    let err = std::fs::read_to_string(&err_path).unwrap_or_default();
    assert!(
        status.success(),
        "headless Chromium ({name}) failed ({status}):\n{err}"
    );
    (out, err)
}

/// A PNG of the window's size with something on it (a blank page of that size is about 10 kB).
fn assert_png(db: &TestDb, png: &[u8]) {
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 24,
        "{}: Chromium wrote no PNG screenshot",
        db.name
    );
    let be = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    assert_eq!(
        (be(16), be(20)),
        WINDOW,
        "{}: the screenshot is not of the A4 window",
        db.name
    );
    assert!(
        png.len() > 40_000,
        "{}: the screenshot is nearly blank ({} bytes)",
        db.name,
        png.len()
    );
}

/// `target/report-screenshot.png` (the first backend's; the CI artefact), one per backend beside
/// it, and the README's `reports/example-report.png` when it is missing or asked for.
fn save_screenshot(db: &TestDb, png: &[u8]) {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("target"));
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(
        target.join(format!("report-screenshot-{}.png", db.name)),
        png,
    )
    .unwrap();
    if db.name != "sqlite" {
        return;
    }
    std::fs::write(target.join("report-screenshot.png"), png).unwrap();
    let example = manifest.join("reports/example-report.png");
    if !example.exists() || std::env::var("WALEDGER_UPDATE_EXAMPLE_REPORT").as_deref() == Ok("1") {
        std::fs::write(&example, png).unwrap();
    }
}

fn find_browser() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    BROWSERS.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}
