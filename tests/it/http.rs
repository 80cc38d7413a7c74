//! The HTTP service as Meta, the sending platform, support staff and the DPO use it: the real
//! binary (`waledger serve --listen 127.0.0.1:0`) on every backend, reached over TCP. Checks who
//! may use which route, the webhook signature over the raw body, bad bodies, the whole path from a
//! send to an erasure and a report, that no personal data leaves through logs, answers or metrics,
//! and that every acknowledged delivery survives a SIGKILL.

use crate::cli::{command, send_line, waledger};
use crate::helpers::{backends, TestDb, FIXTURES};
use reqwest::Method;
use serde_json::{json, Value};
use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use waledger::crypto::WebhookKey;

const SECRET: &str = "test_app_secret_do_not_use";
const VERIFY_TOKEN: &str = "meatyhamhock";
const WEBHOOK: &str = "/webhooks/whatsapp";
const ROLES: [&str; 4] = ["ingest", "support", "dpo", "admin"];

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

/// How a test server is started.
#[derive(Clone, Copy)]
struct Options {
    /// Whether `WALEDGER_APP_SECRET` is set (to the test vector's secret).
    app_secret: bool,
    /// `RUST_LOG`.
    log: &'static str,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            app_secret: true,
            log: "info",
        }
    }
}

/// `waledger serve --listen 127.0.0.1:0` in `db`'s folder; SIGKILLed if still running on drop.
struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`, from the line `serve` prints once listening.
    base: String,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

/// What a stopped server said, and how it ended (`None`: killed by a signal).
struct Said {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Collects a pipe line by line into `sink`, telling `address` the address `serve` announces.
fn drain(
    pipe: impl std::io::Read + Send + 'static,
    sink: Arc<Mutex<String>>,
    address: Option<mpsc::Sender<String>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = std::io::BufReader::new(pipe);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let text = String::from_utf8_lossy(&line);
            if let (Some(tx), Some(addr)) = (&address, announced_address(&text)) {
                let _ = tx.send(addr);
            }
            sink.lock().unwrap().push_str(&text);
        }
    })
}

/// `http://ADDR` from `waledger: serving as … on http://ADDR; …`.
fn announced_address(line: &str) -> Option<String> {
    if !line.starts_with("waledger: serving as ") {
        return None;
    }
    let (_, rest) = line.split_once(" on http://")?;
    let addr = rest.split(';').next()?.trim();
    Some(format!("http://{addr}"))
}

/// The shipped retention policy with every schedule moved to 1 January, 00:00 UTC: no scheduled
/// purge or erasure run appends to the chain while a test counts its rows (the one catch-up run at
/// first start is waited for), and erasures are carried out only when a test says so.
fn write_quiet_policy(db: &TestDb) {
    let folder = db.dir.path().join("policies");
    if folder.join("retention.toml").exists() {
        return;
    }
    let mut moved = 0;
    let policy: String = waledger::policy::DEFAULT_RETENTION
        .lines()
        .map(|line| {
            let key = line.split('=').next().unwrap_or("").trim();
            if line.contains('=') && ["purge", "erasures", "report"].contains(&key) {
                moved += 1;
                format!("{key} = \"0 0 0 1 1 *\"\n")
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    assert_eq!(moved, 3, "the shipped policy's schedules:\n{policy}");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("retention.toml"), policy).unwrap();
}

/// Whether each scheduled job has a finished run (the catch-up run at first start).
fn jobs_settled(db: &TestDb) -> bool {
    let run = waledger(db, &["jobs", "--format", "json"], None);
    let runs: Value = serde_json::from_str(&run.stdout).unwrap_or_default();
    let runs = runs.as_array().map(Vec::as_slice).unwrap_or_default();
    ["purge", "erasures", "report"].iter().all(|job| {
        runs.iter()
            .any(|r| r["job"] == *job && r["finished_at"].is_string())
    }) && runs.iter().all(|r| r["finished_at"].is_string())
}

impl Server {
    fn start(db: &TestDb, options: Options) -> Self {
        write_quiet_policy(db);
        let mut cmd = command(db, &["serve", "--listen", "127.0.0.1:0"]);
        cmd.env("WALEDGER_VERIFY_TOKEN", VERIFY_TOKEN)
            .env("RUST_LOG", options.log)
            .env_remove("WALEDGER_LISTEN");
        if options.app_secret {
            cmd.env("WALEDGER_APP_SECRET", SECRET);
        } else {
            cmd.env_remove("WALEDGER_APP_SECRET");
        }
        let mut child = cmd.spawn().expect("waledger serve starts");
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let readers = vec![
            drain(child.stdout.take().unwrap(), stdout.clone(), Some(tx)),
            drain(child.stderr.take().unwrap(), stderr.clone(), None),
        ];
        let mut server = Server {
            child: Some(child),
            base: String::new(),
            stdout,
            stderr,
            readers,
        };
        match rx.recv_timeout(Duration::from_secs(90)) {
            Ok(base) => server.base = base,
            Err(_) => {
                let said = server.kill();
                panic!(
                    "{}: serve did not announce its address (exit {:?}); stdout:\n{}\nstderr:\n{}",
                    db.name, said.code, said.stdout, said.stderr
                );
            }
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while !jobs_settled(db) {
            if Instant::now() > deadline {
                let said = server.kill();
                panic!(
                    "{}: the catch-up runs did not finish; stderr:\n{}",
                    db.name, said.stderr
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// SIGTERM; waits (up to 30 s) for the drain and clean stop.
    fn stop(mut self) -> Said {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                let said = self.said(None);
                panic!(
                    "serve did not stop within 30 s of SIGTERM; stderr:\n{}",
                    said.stderr
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        self.said(status.code())
    }

    /// SIGKILL: no drain, no clean stop.
    fn kill(&mut self) -> Said {
        let code = self.child.take().and_then(|mut child| {
            let _ = child.kill();
            child.wait().ok().and_then(|s| s.code())
        });
        self.said(code)
    }

    fn said(&mut self, code: Option<i32>) -> Said {
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        Said {
            code,
            stdout: self.stdout.lock().unwrap().clone(),
            stderr: self.stderr.lock().unwrap().clone(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A new API token of `role`: (id, token).
fn token(db: &TestDb, role: &str) -> (String, String) {
    let run = waledger(
        db,
        &["token", "create", "--role", role, "--format", "json"],
        None,
    );
    assert_eq!(run.code, 0, "{}: token create: {}", db.name, run.stderr);
    let v: Value = serde_json::from_str(&run.stdout).expect("token create prints JSON");
    assert_eq!(v["role"], role, "{}: {}", db.name, run.stdout);
    (
        v["id"].as_str().unwrap().to_string(),
        v["token"].as_str().unwrap().to_string(),
    )
}

fn revoke(db: &TestDb, id: &str) {
    let run = waledger(db, &["token", "revoke", id], None);
    assert_eq!(run.code, 0, "{}: token revoke: {}", db.name, run.stderr);
}

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

/// One answer, with what was asked (for failure messages).
#[derive(Debug)]
struct Reply {
    what: String,
    status: u16,
    content_type: String,
    body: String,
}

impl Reply {
    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {}", self.what, self.body))
    }

    #[track_caller]
    fn expect(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "{}: {}", self.what, self.body);
        self
    }

    /// `status` with a JSON body `{"error": "<one line>"}`.
    #[track_caller]
    fn expect_error(&self, status: u16) {
        self.expect(status);
        assert!(
            self.content_type.starts_with("application/json"),
            "{}: an error is JSON, not {:?}: {}",
            self.what,
            self.content_type,
            self.body
        );
        let v = self.json();
        let object = v
            .as_object()
            .unwrap_or_else(|| panic!("{}: {}", self.what, self.body));
        let message = object.get("error").and_then(Value::as_str);
        assert!(
            object.len() == 1 && message.is_some_and(|m| !m.trim().is_empty() && !m.contains('\n')),
            "{}: the error body must be {{\"error\": \"<one line>\"}}: {}",
            self.what,
            self.body
        );
    }
}

/// An HTTP client for one server; remembers every answer's body (for the leak scan).
struct Api {
    client: reqwest::Client,
    base: String,
    backend: &'static str,
    bodies: Mutex<Vec<String>>,
}

fn bearer(token: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {token}"))
}

impl Api {
    fn new(server: &Server, backend: &'static str) -> Self {
        Self {
            client: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            base: server.base.clone(),
            backend,
            bodies: Mutex::new(Vec::new()),
        }
    }

    async fn try_request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> Result<Reply, reqwest::Error> {
        let what = format!("{}: {method} {path}", self.backend);
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = response.text().await?;
        self.bodies.lock().unwrap().push(body.clone());
        Ok(Reply {
            what,
            status,
            content_type,
            body,
        })
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> Reply {
        let what = format!("{}: {method} {path}", self.backend);
        self.try_request(method, path, headers, body)
            .await
            .unwrap_or_else(|e| panic!("{what}: no answer: {e:?}"))
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let headers: Vec<_> = token.map(bearer).into_iter().collect();
        self.request(Method::GET, path, &headers, None).await
    }

    async fn post(&self, path: &str, token: Option<&str>, body: impl Into<Vec<u8>>) -> Reply {
        let headers: Vec<_> = token.map(bearer).into_iter().collect();
        self.request(Method::POST, path, &headers, Some(body.into()))
            .await
    }

    async fn webhook(&self, body: &[u8], signature: Option<&str>) -> Reply {
        let headers: Vec<_> = signature
            .map(|s| ("x-hub-signature-256", s.to_string()))
            .into_iter()
            .collect();
        self.request(Method::POST, WEBHOOK, &headers, Some(body.to_vec()))
            .await
    }

    /// A webhook signed with the test secret.
    async fn signed(&self, body: &[u8]) -> Reply {
        self.webhook(body, Some(&sign(body))).await
    }

    fn bodies(&self) -> String {
        self.bodies.lock().unwrap().join("\n")
    }
}

fn sign(body: &[u8]) -> String {
    WebhookKey::new(SECRET).sign(body)
}

// ---------------------------------------------------------------------------------------------
// What is recorded
// ---------------------------------------------------------------------------------------------

/// The ledger's tables, read straight from the database.
enum Tables {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// Row counts of the tables a request could write to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    chain: i64,
    envelopes: i64,
    erasure_requests: i64,
}

impl Tables {
    async fn open(db: &TestDb) -> Self {
        match db.name {
            "sqlite" => Tables::Sqlite(
                sqlx::SqlitePool::connect(db.ledger_url.expose())
                    .await
                    .unwrap(),
            ),
            _ => Tables::Postgres(sqlx::PgPool::connect(db.ledger_url.expose()).await.unwrap()),
        }
    }

    async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        match self {
            Tables::Sqlite(pool) => sqlx::query_scalar(&sql).fetch_one(pool).await.unwrap(),
            Tables::Postgres(pool) => sqlx::query_scalar(&sql).fetch_one(pool).await.unwrap(),
        }
    }

    async fn counts(&self) -> Counts {
        Counts {
            chain: self.count("chain").await,
            envelopes: self.count("envelopes").await,
            erasure_requests: self.count("erasure_requests").await,
        }
    }

    async fn close(self) {
        match self {
            Tables::Sqlite(pool) => pool.close().await,
            Tables::Postgres(pool) => pool.close().await,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Traffic
// ---------------------------------------------------------------------------------------------

fn fixture(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(Path::new(FIXTURES).join(name)).unwrap()).unwrap()
}

fn now_rfc3339() -> String {
    waledger::clock::now().to_rfc3339()
}

fn now_unix() -> String {
    waledger::clock::now().timestamp().to_string()
}

/// A text send to `to` (any written form) with `text`, answered with `wamid`, sent now.
fn send_envelope(wamid: &str, to: &str, text: &str) -> Value {
    let mut request = fixture("send_text_request.json");
    request["to"] = json!(to);
    request["text"]["body"] = json!(text);
    let mut response = fixture("send_response.json");
    let digits: String = to.chars().filter(char::is_ascii_digit).collect();
    response["contacts"][0] = json!({"input": to, "wa_id": digits});
    response["messages"][0]["id"] = json!(wamid);
    json!({
        "kind": "send", "sent_at": now_rfc3339(), "phone_number_id": "106540352242922",
        "request": request, "response": response,
    })
}

/// Meta's status notification for `wamid` (sent to `recipient`, digits only), timestamped now.
fn status_webhook(wamid: &str, recipient: &str, status: &str) -> Vec<u8> {
    let mut payload = fixture("webhook_status_sent_pmp_v24.json");
    let s = &mut payload["entry"][0]["changes"][0]["value"]["statuses"][0];
    s["id"] = json!(wamid);
    s["status"] = json!(status);
    s["recipient_id"] = json!(recipient);
    s["timestamp"] = json!(now_unix());
    serde_json::to_vec(&payload).unwrap()
}

/// An inbound text from `from` (digits only) whose profile says `name`.
fn inbound_webhook(wamid: &str, from: &str, name: &str, text: &str) -> Vec<u8> {
    let mut payload = fixture("pywa/inbound_text.json");
    let value = &mut payload["entry"][0]["changes"][0]["value"];
    value["contacts"][0]["profile"]["name"] = json!(name);
    value["contacts"][0]["wa_id"] = json!(from);
    let message = &mut value["messages"][0];
    message["from"] = json!(from);
    message["id"] = json!(wamid);
    message["timestamp"] = json!(now_unix());
    message["text"]["body"] = json!(text);
    serde_json::to_vec(&payload).unwrap()
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

/// `waledger ARGS --format json`, which must succeed.
fn cli_json(db: &TestDb, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let run = waledger(db, &all, None);
    assert_eq!(run.code, 0, "{}: {args:?}: {}", db.name, run.stderr);
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{}: {args:?}: not JSON ({e}): {}", db.name, run.stdout))
}

// ---------------------------------------------------------------------------------------------
// 1. Who may use which route
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_route_admits_its_role_and_admin_and_refuses_everyone_else_recording_nothing() {
    for db in backends() {
        let server = Server::start(&db, Options::default());
        let api = Api::new(&server, db.name);
        let tables = Tables::open(&db).await;
        let tokens: Vec<(&str, String)> = ROLES.iter().map(|r| (*r, token(&db, r).1)).collect();
        let support = tokens[1].1.clone();
        let admin = tokens[3].1.clone();

        // A token that worked, then revoked: an admin one, which every route would let in.
        let (revoked_id, revoked) = token(&db, "admin");
        api.get("/v1/reports/compliance", Some(&revoked))
            .await
            .expect(200);
        revoke(&db, &revoked_id);
        // The right token id with another secret.
        let mut forged = admin.clone();
        let last = forged.pop().unwrap();
        forged.push(if last == 'A' { 'B' } else { 'A' });

        let created = api
            .post(
                "/v1/erasure-requests",
                Some(&support),
                bytes(&json!({"phone": "+44 7700 900111", "reference": "matrix"})),
            )
            .await;
        created.expect(202);
        let id = created.json()["id"].as_str().unwrap().to_string();

        let unauthenticated: Vec<(&str, Option<String>)> = vec![
            ("no token", None),
            ("not a token", Some("Bearer not-a-token".into())),
            ("an empty bearer", Some("Bearer ".into())),
            ("a token id alone", Some("Bearer wlt_0123456789ab_".into())),
            ("another scheme", Some(format!("Basic {admin}"))),
            ("no scheme", Some(admin.clone())),
            ("a forged secret", Some(format!("Bearer {forged}"))),
            ("a revoked admin token", Some(format!("Bearer {revoked}"))),
        ];
        let get_path = format!("/v1/erasure-requests/{id}");
        let routes = [
            (Method::POST, "/v1/sends", "ingest"),
            (Method::POST, "/v1/erasure-requests", "support"),
            (Method::GET, get_path.as_str(), "support"),
            (Method::GET, "/v1/reports/compliance", "dpo"),
        ];
        let mut n = 0;
        for (method, path, role) in routes {
            // A valid body each time, never the same twice: a refused request that was
            // nevertheless recorded shows in the counts, not hidden as a duplicate.
            let body = |n: u32| match path {
                "/v1/sends" => {
                    let mut send =
                        send_envelope(&format!("wamid.MATRIX{n}"), "+16505551234", "hello");
                    if n.is_multiple_of(2) {
                        // `kind` may be left out on this route.
                        send.as_object_mut().unwrap().remove("kind");
                    }
                    Some(bytes(&send))
                }
                "/v1/erasure-requests" => Some(bytes(
                    &json!({"phone": format!("+44 7700 900{:03}", 200 + n), "reference": format!("ticket {n}")}),
                )),
                _ => None,
            };
            for (label, authorization) in &unauthenticated {
                n += 1;
                let headers: Vec<_> = authorization
                    .iter()
                    .map(|a| ("authorization", a.clone()))
                    .collect();
                let before = tables.counts().await;
                let reply = api.request(method.clone(), path, &headers, body(n)).await;
                assert_eq!(
                    reply.status, 401,
                    "{} with {label}: {}",
                    reply.what, reply.body
                );
                reply.expect_error(401);
                assert_eq!(
                    tables.counts().await,
                    before,
                    "{} with {label}: a refused request recorded something",
                    reply.what
                );
            }
            for (granted, token) in &tokens {
                n += 1;
                let before = tables.counts().await;
                let reply = api
                    .request(method.clone(), path, &[bearer(token)], body(n))
                    .await;
                let after = tables.counts().await;
                let what = format!("{} as {granted}", reply.what);
                if *granted != role && *granted != "admin" {
                    assert_eq!(reply.status, 403, "{what}: {}", reply.body);
                    reply.expect_error(403);
                    assert_eq!(
                        after, before,
                        "{what}: a refused request recorded something"
                    );
                    continue;
                }
                match path {
                    "/v1/sends" => {
                        assert_eq!(reply.status, 200, "{what}: {}", reply.body);
                        let v = reply.json();
                        assert_eq!(
                            (v["accepted"].as_u64(), v["duplicates"].as_u64()),
                            (Some(1), Some(0)),
                            "{what}: {v}"
                        );
                        let entries = v["entries"].as_i64().unwrap();
                        assert!(entries > 0, "{what}: {v}");
                        assert_eq!(
                            (
                                after.chain - before.chain,
                                after.envelopes - before.envelopes
                            ),
                            (entries, 1),
                            "{what}: the answer says {entries} entries"
                        );
                    }
                    "/v1/erasure-requests" => {
                        assert_eq!(reply.status, 202, "{what}: {}", reply.body);
                        let v = reply.json();
                        assert_eq!(v["state"], "pending", "{what}: {v}");
                        assert!(
                            v["id"].as_str().is_some_and(|i| !i.is_empty()),
                            "{what}: {v}"
                        );
                        assert_eq!(
                            after.erasure_requests,
                            before.erasure_requests + 1,
                            "{what}"
                        );
                    }
                    "/v1/reports/compliance" => {
                        assert_eq!(reply.status, 200, "{what}: {}", reply.body);
                        assert!(reply.json()["flows"].is_array(), "{what}: {}", reply.body);
                        assert_eq!(after, before, "{what}");
                    }
                    _ => {
                        assert_eq!(reply.status, 200, "{what}: {}", reply.body);
                        assert_eq!(reply.json()["id"], id.as_str(), "{what}");
                        assert_eq!(after, before, "{what}");
                    }
                }
            }
        }
        tables.close().await;
        let said = server.stop();
        assert_eq!(said.code, Some(0), "{}: {}", db.name, said.stderr);
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Meta's webhook
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_checks_the_handshake_token_and_the_signature_over_the_raw_body() {
    let raw = std::fs::read(Path::new(FIXTURES).join("signature/body.raw.json")).unwrap();
    let header = "sha256=92b6e2c60b0dac284dfc67293ce2f6d0e3a89dd433012529d679d813eb9c09e8";
    assert_eq!(
        sign(&raw),
        header,
        "the test vector signs as its README says"
    );
    let hex = header.strip_prefix("sha256=").unwrap();
    for db in backends() {
        let server = Server::start(&db, Options::default());
        let api = Api::new(&server, db.name);
        let tables = Tables::open(&db).await;

        // The subscription handshake.
        let hello = format!(
            "{WEBHOOK}?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={VERIFY_TOKEN}"
        );
        let reply = api.get(&hello, None).await;
        reply.expect(200);
        assert_eq!(
            reply.body, "1158201444",
            "{}: the challenge verbatim",
            reply.what
        );
        assert!(
            reply.content_type.starts_with("text/plain"),
            "{}: {}",
            reply.what,
            reply.content_type
        );
        for refused in [
            format!("{WEBHOOK}?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=wrong"),
            format!("{WEBHOOK}?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={VERIFY_TOKEN}x"),
            format!("{WEBHOOK}?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={SECRET}"),
            format!("{WEBHOOK}?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token="),
            format!("{WEBHOOK}?hub.mode=subscribe&hub.challenge=1158201444"),
            format!("{WEBHOOK}?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}"),
            format!("{WEBHOOK}?hub.mode=unsubscribe&hub.challenge=1158201444&hub.verify_token={VERIFY_TOKEN}"),
            format!("{WEBHOOK}?hub.challenge=1158201444&hub.verify_token={VERIFY_TOKEN}"),
            WEBHOOK.to_string(),
        ] {
            let reply = api.get(&refused, None).await;
            reply.expect_error(403);
            assert!(!reply.body.contains("1158201444"), "{}: {}", reply.what, reply.body);
        }

        // Notifications whose signature does not match the raw body: 401, nothing recorded.
        let mut one_byte = raw.clone();
        let at = one_byte
            .windows(10)
            .position(|w| w == b"1750263790")
            .unwrap();
        one_byte[at + 9] = b'1';
        let reserialised =
            serde_json::to_vec_pretty(&serde_json::from_slice::<Value>(&raw).unwrap()).unwrap();
        assert_ne!(reserialised, raw);
        let other_key = WebhookKey::new("another_app_secret").sign(&raw);
        let cases: Vec<(&str, &[u8], Option<String>)> = vec![
            ("no header", &raw, None),
            ("sha1=", &raw, Some(format!("sha1={hex}"))),
            (
                "uppercase hex",
                &raw,
                Some(format!("sha256={}", hex.to_uppercase())),
            ),
            ("no algorithm", &raw, Some(hex.to_string())),
            ("an empty header", &raw, Some(String::new())),
            ("another app's secret", &raw, Some(other_key)),
            (
                "a truncated MAC",
                &raw,
                Some(header[..header.len() - 2].to_string()),
            ),
            (
                "one byte of the body changed",
                &one_byte,
                Some(header.to_string()),
            ),
            (
                "the body re-serialised",
                &reserialised,
                Some(header.to_string()),
            ),
        ];
        for (label, body, signature) in cases {
            let before = tables.counts().await;
            let reply = api.webhook(body, signature.as_deref()).await;
            assert_eq!(
                reply.status, 401,
                "{} with {label}: {}",
                reply.what, reply.body
            );
            reply.expect_error(401);
            assert_eq!(
                tables.counts().await,
                before,
                "{}: {label}: recorded",
                db.name
            );
        }

        // The test vector itself, then Meta's retry of the same delivery.
        let before = tables.counts().await;
        let reply = api.webhook(&raw, Some(header)).await;
        reply.expect(200);
        let v = reply.json();
        assert_eq!(
            (v["recorded"].as_bool(), v["duplicate"].as_bool()),
            (Some(true), Some(false)),
            "{}: {v}",
            db.name
        );
        let entries = v["entries"].as_i64().unwrap();
        assert!(entries > 0, "{}: {v}", db.name);
        let after = tables.counts().await;
        assert_eq!(
            (
                after.chain - before.chain,
                after.envelopes - before.envelopes
            ),
            (entries, 1),
            "{}",
            db.name
        );
        let again = api.webhook(&raw, Some(header)).await;
        again.expect(200);
        let v = again.json();
        assert_eq!(
            (
                v["recorded"].as_bool(),
                v["duplicate"].as_bool(),
                v["entries"].as_u64()
            ),
            (Some(false), Some(true), Some(0)),
            "{}: the retry is a duplicate: {v}",
            db.name
        );
        assert_eq!(
            tables.counts().await,
            after,
            "{}: the retry recorded",
            db.name
        );
        let shown = cli_json(&db, &["show", "--message", "wamid.SIGTEST"]);
        assert!(
            shown["entries"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == "message_status"),
            "{}: {shown}",
            db.name
        );
        let said = server.stop();
        assert_eq!(said.code, Some(0), "{}: {}", db.name, said.stderr);

        // Without an app secret: every notification refused, the reason logged once.
        let server = Server::start(
            &db,
            Options {
                app_secret: false,
                ..Options::default()
            },
        );
        let api = Api::new(&server, db.name);
        let before = tables.counts().await;
        let fresh = status_webhook("wamid.NOSECRET", "16505551234", "delivered");
        for (body, signature) in [
            (&fresh, Some(sign(&fresh))),
            (&raw, Some(header.to_string())),
            (&fresh, None),
            (&fresh, Some(sign(&fresh))),
            (&raw, Some(header.to_string())),
        ] {
            let reply = api.webhook(body, signature.as_deref()).await;
            assert_eq!(
                reply.status, 401,
                "{} without an app secret: {}",
                reply.what, reply.body
            );
            reply.expect_error(401);
        }
        assert_eq!(
            tables.counts().await,
            before,
            "{}: recorded without a secret",
            db.name
        );
        api.get(&hello, None).await.expect(200);
        let said = server.stop();
        assert_eq!(said.code, Some(0), "{}: {}", db.name, said.stderr);
        assert_eq!(
            said.stderr.matches("webhooks are refused").count(),
            1,
            "{}: the refusal's reason is logged exactly once:\n{}",
            db.name,
            said.stderr
        );
        let mentions = said
            .stderr
            .lines()
            .filter(|l| l.contains("WALEDGER_APP_SECRET"))
            .count();
        assert!(
            mentions <= 2,
            "{}: at start-up and at the first refusal, not once per request ({mentions}):\n{}",
            db.name,
            said.stderr
        );
        tables.close().await;
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Bad bodies
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_are_refused_with_a_one_line_json_reason_and_record_nothing() {
    let big = waledger::http::BODY_LIMIT + 1;
    for db in backends() {
        let server = Server::start(&db, Options::default());
        let api = Api::new(&server, db.name);
        let tables = Tables::open(&db).await;
        let ingest = token(&db, "ingest").1;
        let support = token(&db, "support").1;
        let before = tables.counts().await;

        let good = bytes(&send_envelope("wamid.BAD1", "+16505551234", "hello"));
        let with = |edit: &dyn Fn(&mut Value)| {
            let mut v: Value = serde_json::from_slice(&good).unwrap();
            edit(&mut v);
            bytes(&v)
        };
        let mut huge = send_envelope("wamid.BAD2", "+16505551234", "hello");
        huge["request"]["text"]["body"] = json!("x".repeat(big));
        let huge = bytes(&huge);
        assert!(huge.len() > waledger::http::BODY_LIMIT);

        let sends: Vec<(&str, Vec<u8>)> = vec![
            ("empty", Vec::new()),
            ("not JSON", b"this is not JSON".to_vec()),
            ("cut short", good[..good.len() / 2].to_vec()),
            ("not UTF-8", vec![b'{', 0xff, 0xfe, b'}']),
            ("an array", b"[1, 2, 3]".to_vec()),
            ("a string", b"\"send\"".to_vec()),
            (
                "an object that is no envelope",
                b"{\"hello\": \"world\"}".to_vec(),
            ),
            ("an unknown kind", with(&|v| v["kind"] = json!("mail"))),
            (
                "no request",
                with(&|v| {
                    v.as_object_mut().unwrap().remove("request");
                }),
            ),
            (
                "a request that is not an object",
                with(&|v| v["request"] = json!("hi")),
            ),
            (
                "no sent_at",
                with(&|v| {
                    v.as_object_mut().unwrap().remove("sent_at");
                }),
            ),
            (
                "a sent_at that is no time",
                with(&|v| v["sent_at"] = json!("yesterday")),
            ),
            (
                "no phone_number_id",
                with(&|v| {
                    v.as_object_mut().unwrap().remove("phone_number_id");
                }),
            ),
            (
                "a webhook envelope",
                crate::cli::webhook_line("webhook_status_sent_pmp_v24.json").into_bytes(),
            ),
        ];
        for (label, body) in sends {
            let reply = api.post("/v1/sends", Some(&ingest), body).await;
            assert_eq!(
                reply.status, 400,
                "{} with {label}: {}",
                reply.what, reply.body
            );
            reply.expect_error(400);
        }
        // Over the limit: 413 (its body is checked last, below).
        let mut too_large = vec![api.post("/v1/sends", Some(&ingest), huge.clone()).await];

        let erasures: Vec<(&str, &[u8])> = vec![
            ("empty", b""),
            ("not JSON", b"phone=+447700900123"),
            ("an array", b"[\"+447700900123\"]"),
            ("no phone", b"{\"reference\": \"r\"}"),
            ("no phone number", b"{\"phone\": \"call me maybe\"}"),
            ("a number, not a string", b"{\"phone\": 447700900123}"),
            (
                "an unknown key",
                b"{\"phone\": \"+447700900123\", \"colour\": \"red\"}",
            ),
            (
                "a received_at that is no time",
                b"{\"phone\": \"+447700900123\", \"received_at\": \"last tuesday\"}",
            ),
            (
                "a received_at in the future",
                b"{\"phone\": \"+447700900123\", \"received_at\": \"2999-01-01\"}",
            ),
            ("cut short", b"{\"phone\": \"+4477009"),
        ];
        for (label, body) in erasures {
            let reply = api.post("/v1/erasure-requests", Some(&support), body).await;
            assert_eq!(
                reply.status, 400,
                "{} with {label}: {}",
                reply.what, reply.body
            );
            reply.expect_error(400);
        }
        let mut padded = json!({"phone": "+447700900123", "reference": "x".repeat(big)});
        let padded = bytes(&padded.take());
        too_large.push(
            api.post("/v1/erasure-requests", Some(&support), padded)
                .await,
        );

        // Correctly signed, but no notification.
        let webhooks: Vec<(&str, Vec<u8>)> = vec![
            ("not JSON", b"not JSON at all".to_vec()),
            (
                "cut short",
                b"{\"object\": \"whatsapp_business_account\", \"entry\": [".to_vec(),
            ),
            ("an array", b"[]".to_vec()),
            (
                "another object",
                b"{\"object\": \"page\", \"entry\": []}".to_vec(),
            ),
        ];
        for (label, body) in webhooks {
            let reply = api.signed(&body).await;
            assert_eq!(
                reply.status, 400,
                "{} with {label}: {}",
                reply.what, reply.body
            );
            reply.expect_error(400);
        }
        let mut huge_webhook: Value =
            serde_json::from_slice(&status_webhook("wamid.BAD3", "16505551234", "sent")).unwrap();
        huge_webhook["padding"] = json!("x".repeat(big));
        let huge_webhook = bytes(&huge_webhook);
        too_large.push(api.signed(&huge_webhook).await);

        // Routes that do not exist.
        for (method, path) in [
            (Method::GET, "/"),
            (Method::GET, "/v1/nothing"),
            (Method::POST, "/v1/send"),
            (Method::GET, "/v2/reports/compliance"),
            (Method::GET, "/webhooks/whatsapp/extra"),
            (Method::GET, "/v1/erasure-requests/a/b"),
        ] {
            let body = (method == Method::POST).then(|| good.clone());
            let reply = api.request(method, path, &[bearer(&ingest)], body).await;
            reply.expect_error(404);
        }
        // A route that exists, with the wrong method: refused, not served.
        let reply = api
            .request(
                Method::PUT,
                "/v1/sends",
                &[bearer(&ingest)],
                Some(good.clone()),
            )
            .await;
        assert_eq!(reply.status, 405, "{}: {}", reply.what, reply.body);

        assert_eq!(
            tables.counts().await,
            before,
            "{}: a bad body recorded something",
            db.name
        );
        // The same body, well-formed and sent where it belongs, is recorded: the refusals above
        // were about the bodies, not a broken route.
        api.post("/v1/sends", Some(&ingest), good).await.expect(200);
        assert!(tables.counts().await.chain > before.chain, "{}", db.name);
        tables.close().await;
        let said = server.stop();
        assert_eq!(said.code, Some(0), "{}: {}", db.name, said.stderr);
        // A body over the limit is refused like every other bad body: one line of JSON.
        for reply in &too_large {
            reply.expect_error(413);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 4. End to end
// ---------------------------------------------------------------------------------------------

/// `(path, methods)` of every route `router` in `src/http/mod.rs` declares.
fn router_routes() -> Vec<(String, Vec<&'static str>)> {
    let source =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/http/mod.rs")).unwrap();
    let start = source
        .find("pub fn router(")
        .expect("src/http/mod.rs has router()");
    let body = &source[start..];
    let body = &body[..body.find(".fallback(").expect("router() has a fallback")];
    body.split(".route(")
        .skip(1)
        .map(|part| {
            let path = part
                .split('"')
                .nth(1)
                .expect("a route path literal")
                .to_string();
            let methods = ["get", "post", "put", "patch", "delete"]
                .into_iter()
                .filter(|m| {
                    // `get(handler)` or `.post(handler)`, not `routes::get_erasure`.
                    part.match_indices(&format!("{m}(")).any(|(i, _)| {
                        let before = part[..i].chars().next_back().unwrap_or(' ');
                        !(before.is_alphanumeric() || before == '_')
                    })
                })
                .collect();
            (path, methods)
        })
        .collect()
}

fn metric_lines<'a>(metrics: &'a str, name: &str) -> Vec<&'a str> {
    metrics
        .lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .collect()
}

fn metric_sum(metrics: &str, name: &str) -> f64 {
    metric_lines(metrics, name)
        .iter()
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_its_status_an_erasure_and_the_report_end_to_end() {
    let routes = router_routes();
    assert!(routes.len() >= 8, "routes read from router(): {routes:?}");
    for db in backends() {
        let server = Server::start(&db, Options::default());
        let api = Api::new(&server, db.name);
        let ingest = token(&db, "ingest").1;
        let support = token(&db, "support").1;
        let dpo = token(&db, "dpo").1;

        // The send, as the sending platform posts it.
        let mut send: Value =
            serde_json::from_str(&send_line("send_text_request.json", "send_response.json"))
                .unwrap();
        send["sent_at"] = json!(now_rfc3339());
        let wamid = send["response"]["messages"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let reply = api.post("/v1/sends", Some(&ingest), bytes(&send)).await;
        reply.expect(200);
        let v = reply.json();
        assert_eq!(v["accepted"], 1, "{}: {v}", db.name);
        assert!(v["entries"].as_u64().unwrap() > 0, "{}: {v}", db.name);

        // Meta's status for it, signed.
        let status = status_webhook(&wamid, "16505551234", "sent");
        let reply = api.signed(&status).await;
        reply.expect(200);
        assert_eq!(
            reply.json()["recorded"],
            true,
            "{}: {}",
            db.name,
            reply.body
        );
        let shown = cli_json(&db, &["show", "--message", &wamid]);
        let fields: Vec<&str> = shown["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["field"].as_str())
            .collect();
        assert!(
            fields.contains(&"message_text") && fields.contains(&"message_status"),
            "{}: the send and its status under one message id: {fields:?}",
            db.name
        );

        // The recipient asks to be erased.
        let reply = api
            .post(
                "/v1/erasure-requests",
                Some(&support),
                bytes(&json!({"phone": "+1 (650) 555-1234", "reference": "ticket 4711", "requested_by": "support desk"})),
            )
            .await;
        reply.expect(202);
        let request = reply.json();
        assert_eq!(request["state"], "pending", "{}: {request}", db.name);
        assert_eq!(request["entries_erased"], 0, "{}: {request}", db.name);
        assert_eq!(
            request["reference"], "ticket 4711",
            "{}: {request}",
            db.name
        );
        assert!(request["due_at"].is_string(), "{}: {request}", db.name);
        let id = request["id"].as_str().unwrap().to_string();
        let metrics = api.get("/metrics", None).await;
        metrics.expect(200);
        assert_eq!(
            metric_sum(&metrics.body, "waledger_erasure_requests_pending"),
            1.0,
            "{}: {}",
            db.name,
            metrics.body
        );
        api.get(&format!("/v1/erasure-requests/{id}x"), Some(&support))
            .await
            .expect_error(404);

        let run = waledger(&db, &["erasure", "run"], None);
        assert_eq!(run.code, 0, "{}: erasure run: {}", db.name, run.stderr);
        let reply = api
            .get(&format!("/v1/erasure-requests/{id}"), Some(&support))
            .await;
        reply.expect(200);
        let done = reply.json();
        assert_eq!(
            (done["id"].as_str(), done["state"].as_str()),
            (Some(id.as_str()), Some("completed")),
            "{}: {done}",
            db.name
        );
        assert!(done["completed_at"].is_string(), "{}: {done}", db.name);
        assert!(
            done["entries_erased"].as_u64().unwrap() > 0,
            "{}: {done}",
            db.name
        );
        assert!(
            done["erased"]["text"].as_u64().unwrap_or(0) > 0
                && done["erased"]["phone_number"].as_u64().unwrap_or(0) > 0,
            "{}: the message text and the number are erased: {done}",
            db.name
        );
        let shown = cli_json(&db, &["show", "--message", &wamid]);
        let text = shown["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["field"] == "message_text")
            .unwrap();
        assert_eq!(
            (text["state"].as_str(), text["value"].is_null()),
            (Some("erased"), true),
            "{}: {shown}",
            db.name
        );

        // A later status for the same number: the service's writer still has the erased subject
        // (whose key is gone) cached, and must record it under a fresh subject, readable.
        let later = status_webhook(&wamid, "16505551234", "read");
        let reply = api.signed(&later).await;
        reply.expect(200);
        assert_eq!(
            reply.json()["recorded"],
            true,
            "{}: {}",
            db.name,
            reply.body
        );
        let shown = cli_json(&db, &["show", "--message", &wamid]);
        let read = shown["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["field"] == "recipient_phone" && e["state"] == "held");
        assert!(
            read.is_some_and(|e| e["value"].as_str().is_some()),
            "{}: the later status's number is held and readable: {shown}",
            db.name
        );

        // The DPO's report, through the end of today (by default it ends now, and what was
        // recorded in this very second would fall outside it).
        let today = waledger::clock::now().date_naive();
        let reply = api
            .get(
                &format!("/v1/reports/compliance?format=json&to={today}"),
                Some(&dpo),
            )
            .await;
        reply.expect(200);
        assert!(
            reply.content_type.starts_with("application/json"),
            "{}: {}",
            reply.what,
            reply.content_type
        );
        let report = reply.json();
        for key in ["period", "flows", "erasures", "integrity"] {
            assert!(report.get(key).is_some(), "{}: no {key}: {report}", db.name);
        }
        assert!(report["period"]["from"].is_string() && report["period"]["to"].is_string());
        let flows = report["flows"].as_array().unwrap();
        assert!(!flows.is_empty(), "{}: {report}", db.name);
        for flow in flows {
            for key in [
                "field",
                "direction",
                "category",
                "documented",
                "terms",
                "retention",
                "recorded",
                "held",
                "purged",
                "erased",
                "compliant",
            ] {
                assert!(
                    flow.get(key).is_some(),
                    "{}: a flow without {key}: {flow}",
                    db.name
                );
            }
        }
        let text_flow = flows
            .iter()
            .find(|f| f["field"] == "message_text" && f["direction"] == "outbound")
            .unwrap_or_else(|| panic!("{}: no outbound text flow: {report}", db.name));
        assert!(
            text_flow["recorded"].as_u64().unwrap() > 0
                && text_flow["erased"].as_u64().unwrap() > 0,
            "{}: {text_flow}",
            db.name
        );
        let reply = api
            .get(
                &format!("/v1/reports/compliance?format=html&to={today}"),
                Some(&dpo),
            )
            .await;
        reply.expect(200);
        assert!(
            reply.content_type.starts_with("text/html"),
            "{}: {}",
            reply.what,
            reply.content_type
        );
        assert!(
            reply.body.to_ascii_lowercase().contains("<html"),
            "{}",
            reply.what
        );
        api.get("/v1/reports/compliance?format=pdf", Some(&dpo))
            .await
            .expect_error(400);

        // Health, metrics, the API's own description.
        let reply = api.get("/healthz", None).await;
        reply.expect(200);
        assert_eq!(reply.json()["status"], "ok", "{}: {}", db.name, reply.body);
        let reply = api.get("/metrics", None).await;
        reply.expect(200);
        let metrics = &reply.body;
        for name in [
            "waledger_entries_recorded_total",
            "waledger_http_requests_total",
            "waledger_erasure_requests_pending",
        ] {
            assert!(
                !metric_lines(metrics, name).is_empty(),
                "{}: no {name}:\n{metrics}",
                db.name
            );
        }
        assert!(
            metric_sum(metrics, "waledger_entries_recorded_total") > 0.0,
            "{}:\n{metrics}",
            db.name
        );
        assert_eq!(
            metric_sum(metrics, "waledger_erasure_requests_pending"),
            0.0,
            "{}:\n{metrics}",
            db.name
        );
        assert!(
            metric_lines(metrics, "waledger_http_requests_total")
                .iter()
                .any(|l| {
                    l.contains("route=\"/v1/sends\"")
                        && l.contains("status=\"200\"")
                        && !l.ends_with(" 0")
                }),
            "{}: the send is counted by its route template:\n{metrics}",
            db.name
        );
        assert!(
            metric_lines(metrics, "waledger_http_requests_total")
                .iter()
                .any(|l| l.contains("route=\"/v1/erasure-requests/{id}\"")),
            "{}: routes are counted by template, not by id:\n{metrics}",
            db.name
        );
        assert!(
            !metrics.contains(&id),
            "{}: a request id in the metrics",
            db.name
        );

        let reply = api.get("/openapi.json", None).await;
        reply.expect(200);
        let openapi = reply.json();
        let paths = openapi["paths"]
            .as_object()
            .unwrap_or_else(|| panic!("{}: no paths", db.name));
        let mut documented: Vec<&String> = paths.keys().collect();
        documented.sort();
        let mut served: Vec<&String> = routes.iter().map(|(p, _)| p).collect();
        served.sort();
        assert_eq!(
            documented, served,
            "{}: /openapi.json lists exactly the router's routes",
            db.name
        );
        for (path, methods) in &routes {
            assert!(!methods.is_empty(), "no method read for {path}");
            for method in methods {
                assert!(
                    paths[path.as_str()].get(*method).is_some(),
                    "{}: /openapi.json lacks {method} {path}",
                    db.name
                );
            }
        }

        let said = server.stop();
        assert_eq!(said.code, Some(0), "{}: {}", db.name, said.stderr);
        let verify = cli_json(&db, &["verify"]);
        assert_eq!(verify["ok"], true, "{}: {verify}", db.name);
    }
}

// ---------------------------------------------------------------------------------------------
// 5. No personal data out
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_personal_data_leaves_through_logs_answers_or_metrics() {
    // Three numbers (UK drama range) and three texts, each found in no fixture.
    let (to, from, erased) = ("+44 7700 900461", "447700900872", "+44 7700 900313");
    let (text, name, said_text) = (
        "Zanzibar quokka canary 71",
        "Ottoline Canaryweather",
        "pangolin canary message 93",
    );
    let canaries = [
        "447700900461",
        "+447700900461",
        "07700900461",
        "7700900461",
        "7700 900461",
        "447700900872",
        "7700900872",
        "7700 900872",
        "447700900313",
        "7700900313",
        "7700 900313",
        "Zanzibar",
        "quokka",
        "Ottoline",
        "Canaryweather",
        "pangolin",
    ];
    for db in backends() {
        let server = Server::start(
            &db,
            Options {
                log: "debug",
                ..Options::default()
            },
        );
        let api = Api::new(&server, db.name);
        let ingest = token(&db, "ingest").1;
        let support = token(&db, "support").1;
        let dpo = token(&db, "dpo").1;

        // Good traffic through every route.
        let send = send_envelope("wamid.CANARY1", to, text);
        api.post("/v1/sends", Some(&ingest), bytes(&send))
            .await
            .expect(200);
        api.signed(&status_webhook(
            "wamid.CANARY1",
            "447700900461",
            "delivered",
        ))
        .await
        .expect(200);
        api.signed(&inbound_webhook("wamid.CANARY2", from, name, said_text))
            .await
            .expect(200);
        // A recipient that is no number is still what was sent: recorded (sealed), not refused.
        let mut odd = send_envelope("wamid.CANARY3", "Zanzibar 447700900872", text);
        odd["response"] = Value::Null;
        api.post("/v1/sends", Some(&ingest), bytes(&odd))
            .await
            .expect(200);
        let reply = api
            .post(
                "/v1/erasure-requests",
                Some(&support),
                bytes(&json!({"phone": erased, "reference": "ticket 93"})),
            )
            .await;
        reply.expect(202);
        let id = reply.json()["id"].as_str().unwrap().to_string();
        api.get(&format!("/v1/erasure-requests/{id}"), Some(&support))
            .await
            .expect(200);
        let reply = api
            .post(
                "/v1/erasure-requests",
                Some(&support),
                bytes(&json!({"phone": "+44 (0) 7700 900461"})),
            )
            .await;
        reply.expect(202);
        api.get("/v1/reports/compliance?format=json", Some(&dpo))
            .await
            .expect(200);
        api.get("/v1/reports/compliance?format=html", Some(&dpo))
            .await
            .expect(200);
        api.get("/v1/reports/compliance?format=csv", Some(&dpo))
            .await
            .expect(200);
        api.get("/v1/reports/compliance?format=markdown", Some(&dpo))
            .await
            .expect(200);

        // Bad traffic carrying the canaries.
        let send_text = bytes(&send);
        let cut = format!("{{\"kind\":\"send\",\"to\":\"+447700900461\",\"text\":\"{text}\"");
        let mut bad_time = send.clone();
        bad_time["sent_at"] = json!("+447700900461");
        let mut bad_kind = send.clone();
        bad_kind["kind"] = json!(text);
        let mut wrong_shape = send.clone();
        wrong_shape["request"] = json!(["+447700900461", text]);
        let inbound = inbound_webhook("wamid.CANARY4", from, name, said_text);
        let as_envelope = json!({"kind": "webhook", "received_at": now_rfc3339(),
            "payload": serde_json::from_slice::<Value>(&inbound).unwrap()});
        let mut big = send.clone();
        big["request"]["text"]["body"] = json!(format!("{text} ").repeat(60_000));
        let sends: Vec<Vec<u8>> = vec![
            cut.clone().into_bytes(),
            format!("{text} +447700900461").into_bytes(),
            bytes(&bad_time),
            bytes(&bad_kind),
            bytes(&wrong_shape),
            bytes(&as_envelope),
            bytes(&json!({"to": "+447700900461", "body": text})),
            bytes(&json!({"+447700900461": text})),
            bytes(&big),
        ];
        for (i, body) in sends.into_iter().enumerate() {
            let reply = api.post("/v1/sends", Some(&ingest), body).await;
            assert!(
                matches!(reply.status, 400 | 413),
                "{}: bad send {i}: {}",
                reply.what,
                reply.body
            );
        }
        for body in [
            bytes(&json!({"phone": text})),
            bytes(&json!({"phone": "+447700900461", "note": text})),
            bytes(&json!({"phone": 447700900461_u64})),
            bytes(&json!({"phone": "+447700900461", "received_at": text})),
            bytes(&json!({"phone": "+447700900461", "received_at": "2999-01-01"})),
            bytes(&json!({"+447700900461": text})),
            cut.clone().into_bytes(),
            text.as_bytes().to_vec(),
        ] {
            let reply = api.post("/v1/erasure-requests", Some(&support), body).await;
            reply.expect_error(400);
        }
        // Notifications with bad or no signatures, and signed ones that are no notification.
        api.webhook(&inbound, None).await.expect_error(401);
        api.webhook(&inbound, Some("sha256=447700900872"))
            .await
            .expect_error(401);
        api.webhook(&inbound, Some(&format!("sha256={}", "0".repeat(64))))
            .await
            .expect_error(401);
        let mut changed = inbound.clone();
        changed.push(b' ');
        api.webhook(&changed, Some(&sign(&inbound)))
            .await
            .expect_error(401);
        for body in [
            cut.clone().into_bytes(),
            format!("{name} +447700900872").into_bytes(),
            bytes(&json!({"object": text, "entry": [{"id": "447700900872"}]})),
        ] {
            api.signed(&body).await.expect_error(400);
        }
        // Numbers and texts in paths, queries and headers.
        for path in [
            "/v1/erasure-requests/447700900461".to_string(),
            "/v1/erasure-requests/Zanzibar%20quokka".to_string(),
        ] {
            api.get(&path, Some(&support)).await.expect_error(404);
        }
        api.get("/447700900461", None).await.expect_error(404);
        api.get("/v1/reports/447700900872/Zanzibar", Some(&dpo))
            .await
            .expect_error(404);
        api.get("/v1/reports/compliance?from=447700900461", Some(&dpo))
            .await
            .expect_error(400);
        api.get("/v1/reports/compliance?to=Zanzibar", Some(&dpo))
            .await
            .expect_error(400);
        api.get("/v1/reports/compliance?format=Zanzibar", Some(&dpo))
            .await
            .expect_error(400);
        api.get(
            &format!("{WEBHOOK}?hub.mode=subscribe&hub.challenge=1&hub.verify_token=447700900461"),
            None,
        )
        .await
        .expect_error(403);
        api.request(
            Method::POST,
            "/v1/sends",
            &[(
                "authorization",
                "Bearer wlt_447700900461_Zanzibar".to_string(),
            )],
            Some(send_text.clone()),
        )
        .await
        .expect_error(401);
        api.request(
            Method::POST,
            "/v1/sends",
            &[
                ("authorization", format!("Bearer {dpo}")),
                ("x-caller", "447700900461".into()),
            ],
            Some(send_text),
        )
        .await
        .expect_error(403);

        let metrics = api.get("/metrics", None).await;
        metrics.expect(200);
        let said = server.stop();
        assert_eq!(said.code, Some(0), "{}: {}", db.name, said.stderr);
        assert!(
            said.stderr.contains("request answered") && said.stderr.lines().count() > 50,
            "{}: debug logging said too little to be checked:\n{}",
            db.name,
            said.stderr
        );
        let answers = api.bodies();
        for canary in canaries {
            for (place, text) in [
                ("stdout", &said.stdout),
                ("stderr", &said.stderr),
                ("a response body", &answers),
                ("/metrics", &metrics.body),
            ] {
                if let Some(at) = text.find(canary) {
                    let from = text[..at]
                        .char_indices()
                        .rev()
                        .nth(200)
                        .map_or(0, |(i, _)| i);
                    let context: String = text[from..].chars().take(400).collect();
                    panic!("{}: {canary:?} in {place}: …{context}…", db.name);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Kill under load
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_delivery_survives_a_sigkill_under_load() {
    const CLIENTS: usize = 16;
    for db in backends() {
        let mut server = Server::start(&db, Options::default());
        let api = Arc::new(Api::new(&server, db.name));
        // Clients post until told to stop; the kill comes once the service is visibly under
        // load (acknowledgements flowing, however slow the machine), and the clients keep
        // posting for a while after it.
        let progress = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let mut clients = Vec::new();
        for client in 0..CLIENTS {
            let (api, progress, stop) = (api.clone(), progress.clone(), stop.clone());
            clients.push(tokio::spawn(async move {
                let (mut acked, mut failed, mut other) = (Vec::new(), 0usize, Vec::new());
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let wamid = format!("wamid.LOAD.{client}.{n}");
                    let body = status_webhook(&wamid, "16505551234", "delivered");
                    let headers = [("x-hub-signature-256", sign(&body))];
                    match api
                        .try_request(Method::POST, WEBHOOK, &headers, Some(body.clone()))
                        .await
                    {
                        Ok(reply) if reply.status == 200 => {
                            let v = reply.json();
                            if v["recorded"] != true {
                                other.push(format!("{wamid}: {}", reply.body));
                            }
                            acked.push((wamid, body));
                            progress.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(reply) => {
                            other.push(format!("{wamid}: {} {}", reply.status, reply.body))
                        }
                        Err(_) => {
                            failed += 1;
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
                (acked, failed, other)
            }));
        }
        let patience = Instant::now() + Duration::from_secs(30);
        tokio::time::sleep(Duration::from_millis(500)).await;
        while progress.load(Ordering::Relaxed) < 4 * CLIENTS && Instant::now() < patience {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let acked_before_kill = progress.load(Ordering::Relaxed);
        let killed = server.kill();
        let killed_after = started.elapsed();
        tokio::time::sleep(Duration::from_millis(500)).await;
        stop.store(true, Ordering::Relaxed);
        assert_eq!(
            killed.code, None,
            "{}: serve ended before the SIGKILL: {}",
            db.name, killed.stderr
        );
        assert!(
            acked_before_kill >= CLIENTS,
            "{}: only {acked_before_kill} deliveries acknowledged in {killed_after:?}",
            db.name
        );
        let (mut acked, mut failed, mut other) = (Vec::new(), 0, Vec::new());
        for client in clients {
            let (a, f, o) = client.await.unwrap();
            acked.extend(a);
            failed += f;
            other.extend(o);
        }
        drop(server);
        assert!(
            other.is_empty(),
            "{}: unexpected answers: {other:?}",
            db.name
        );
        assert!(
            failed > 0,
            "{}: no request failed: the kill was not in the middle",
            db.name
        );
        eprintln!(
            "{}: {} deliveries acknowledged, {failed} failed after the SIGKILL at {killed_after:?}",
            db.name,
            acked.len()
        );

        // The ledger after the kill: intact, and holding every acknowledged delivery.
        let verify = waledger(&db, &["verify", "--format", "json"], None);
        assert_eq!(
            verify.code, 0,
            "{}: verify after SIGKILL: {} {}",
            db.name, verify.stdout, verify.stderr
        );
        let verified: Value = serde_json::from_str(&verify.stdout).unwrap();
        assert_eq!(verified["ok"], true, "{}: {verified}", db.name);
        assert!(
            verified["entries_checked"].as_u64().unwrap() >= acked.len() as u64,
            "{}: {verified} for {} acknowledged",
            db.name,
            acked.len()
        );
        {
            let master =
                waledger::config::read_key_file(&db.dir.path().join("waledger.key")).unwrap();
            let mut ledger = db.ledger(&master).await;
            let mut lost = Vec::new();
            for (wamid, _) in &acked {
                let id = waledger::domain::MessageId::parse(wamid).unwrap();
                let entries =
                    serde_json::to_value(ledger.show_message(&id).await.unwrap()).unwrap();
                let statuses = entries
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|e| e["field"] == "message_status")
                    .count();
                if statuses != 1 {
                    lost.push(format!("{wamid}: {statuses} status entries"));
                }
            }
            ledger.store().close().await;
            assert!(
                lost.is_empty(),
                "{}: {} of {} acknowledged deliveries not in the ledger once: {:?}",
                db.name,
                lost.len(),
                acked.len(),
                &lost[..lost.len().min(10)]
            );
        }
        for (wamid, _) in [acked.first().unwrap(), acked.last().unwrap()] {
            let shown = cli_json(&db, &["show", "--message", wamid]);
            assert!(
                shown["entries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e["field"] == "message_status"),
                "{}: {wamid}: {shown}",
                db.name
            );
        }

        // Restarted, the service answers again; Meta's retry of an acknowledged delivery is a
        // duplicate, and a new one is recorded.
        let server = Server::start(&db, Options::default());
        let api = Api::new(&server, db.name);
        api.get("/healthz", None).await.expect(200);
        for (wamid, body) in [acked.first().unwrap(), acked.last().unwrap()] {
            let reply = api.signed(body).await;
            reply.expect(200);
            assert_eq!(
                reply.json()["duplicate"],
                true,
                "{}: {wamid} retried after the restart: {}",
                db.name,
                reply.body
            );
        }
        let reply = api
            .signed(&status_webhook("wamid.AFTER", "16505551234", "delivered"))
            .await;
        reply.expect(200);
        assert_eq!(
            reply.json()["recorded"],
            true,
            "{}: {}",
            db.name,
            reply.body
        );
        let said = server.stop();
        assert_eq!(said.code, Some(0), "{}: {}", db.name, said.stderr);
        let verify = cli_json(&db, &["verify"]);
        assert_eq!(verify["ok"], true, "{}: {verify}", db.name);
    }
}
