//! Harness of the activation tests: a real SMTP server (Debian's `python3-aiosmtpd`, driven
//! by `smtp_sink.py`) and the real `scimd` binary, both on loopback, each test with its own
//! ports and directories.
//!
//! The SMTP server can be started late (outage tests): [`Smtp::reserve`] only picks a port.

#![allow(dead_code)]

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const MFA: &str = "urn:scimd:schemas:extension:mfa:1.0:User";

/// The Python that has aiosmtpd: `SCIMD_TEST_PYTHON`, else Debian's `/usr/bin/python3` (a
/// pyenv `python3` on PATH would not see the Debian package), else `python3`.
fn python() -> String {
    if let Ok(p) = std::env::var("SCIMD_TEST_PYTHON") {
        return p;
    }
    if Path::new("/usr/bin/python3").exists() { "/usr/bin/python3".to_owned() } else { "python3".to_owned() }
}

/// A free loopback port (bound, then released: good enough on a test machine).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

/// Polls `f` until it returns `Some`, or panics with `what` after `timeout`.
pub async fn wait_until<T>(timeout: Duration, what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// --- SMTP --------------------------------------------------------------------------------------

/// A real SMTP server on loopback writing each message it accepts to a file.
pub struct Smtp {
    pub port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
    _tmp: tempfile::TempDir,
}

impl Smtp {
    /// A port for an SMTP server that is not running yet (connections are refused).
    pub fn reserve() -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        Self { port: free_port(), dir: tmp.path().join("mail"), child: None, _tmp: tmp }
    }

    pub async fn started() -> Self {
        let mut smtp = Self::reserve();
        smtp.start().await;
        smtp
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub async fn start(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/activation/smtp_sink.py");
        let mut child = Command::new(python())
            .arg(script)
            .arg(self.port.to_string())
            .arg(&self.dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start the SMTP sink (needs python3-aiosmtpd: apt-get install python3-aiosmtpd)");
        let stdout = child.stdout.take().expect("sink stdout");
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await;
        match ready {
            Ok(Ok(Some(line))) if line.trim() == "ready" => {}
            other => panic!("the SMTP sink did not start (is python3-aiosmtpd installed?): {other:?}"),
        }
        self.child = Some(child);
    }

    /// Every message received so far, in arrival order.
    pub fn messages(&self) -> Vec<Mail> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return Vec::new() };
        let mut numbered: Vec<(u64, PathBuf)> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter_map(|p| {
                let n = p.file_name()?.to_str()?.strip_suffix(".eml")?.parse().ok()?;
                Some((n, p))
            })
            .collect();
        numbered.sort();
        numbered.into_iter().map(|(_, p)| Mail::parse(&std::fs::read(p).expect("read message"))).collect()
    }

    /// Waits until at least `n` messages arrived, then returns them all.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Mail> {
        wait_until(timeout, &format!("{n} message(s) at the SMTP server"), async || {
            let m = self.messages();
            (m.len() >= n).then_some(m)
        })
        .await
    }
}

// --- messages ----------------------------------------------------------------------------------

/// A received message, parsed just enough: headers, and the decoded text and HTML parts.
#[derive(Debug, Clone)]
pub struct Mail {
    pub envelope_to: Vec<String>,
    pub headers: Vec<(String, String)>,
    pub text: String,
    pub html: String,
}

impl Mail {
    pub fn parse(raw: &[u8]) -> Self {
        let raw = String::from_utf8_lossy(raw).replace("\r\n", "\n");
        let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
        let headers = parse_headers(head);
        let envelope_to =
            headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("X-Envelope-To")).map(|(_, v)| v.clone()).collect();
        let mut mail = Mail { envelope_to, headers, text: String::new(), html: String::new() };
        let content_type = mail.header("Content-Type").unwrap_or("text/plain").to_owned();
        match boundary(&content_type) {
            Some(b) => {
                for part in body.split(&format!("--{b}")).skip(1) {
                    let part = part.trim_start_matches('\n');
                    if part.starts_with("--") {
                        break;
                    }
                    let (phead, pbody) = part.split_once("\n\n").unwrap_or((part, ""));
                    let ph = parse_headers(phead);
                    let get = |k: &str| ph.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)).map(|(_, v)| v.as_str());
                    let decoded = decode(get("Content-Transfer-Encoding"), pbody);
                    match get("Content-Type").unwrap_or_default() {
                        ct if ct.starts_with("text/plain") => mail.text = decoded,
                        ct if ct.starts_with("text/html") => mail.html = decoded,
                        _ => {}
                    }
                }
            }
            None => mail.text = decode(mail.header("Content-Transfer-Encoding"), body),
        }
        mail
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn message_id(&self) -> String {
        self.header("Message-ID").expect("a Message-ID").to_owned()
    }

    pub fn to(&self) -> String {
        self.header("To").expect("a To header").to_owned()
    }

    /// The activation link of the plain-text part.
    pub fn link(&self) -> String {
        self.text
            .split_whitespace()
            .find(|w| w.contains("/activate?code="))
            .unwrap_or_else(|| panic!("no activation link in:\n{}", self.text))
            .to_owned()
    }

    pub fn code(&self) -> String {
        self.link().rsplit_once("code=").map(|(_, c)| c.to_owned()).expect("code")
    }
}

fn parse_headers(head: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            out.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    out
}

fn boundary(content_type: &str) -> Option<String> {
    let (_, rest) = content_type.split_once("boundary=")?;
    Some(rest.trim_matches('"').split(['"', ';']).next()?.to_owned())
}

fn decode(encoding: Option<&str>, body: &str) -> String {
    match encoding.map(str::to_ascii_lowercase).as_deref() {
        Some("quoted-printable") => decode_qp(body),
        Some("base64") => decode_base64(body),
        _ => body.to_owned(),
    }
}

fn decode_qp(s: &str) -> String {
    let s = s.replace("=\n", "");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        if let (b'=', Some(Ok(b))) = (bytes[i], hex.map(|h| u8::from_str_radix(h, 16))) {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn decode_base64(s: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let Some(v) = ALPHABET.iter().position(|&a| a == c) else { continue };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

// --- scimd -------------------------------------------------------------------------------------

/// Which database the servers of the running test use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

tokio::task_local! {
    /// Set by `both_backends!` for the duration of one test.
    pub static BACKEND: Backend;
}

/// PostgreSQL variants are skipped only on explicit request (never in CI).
pub fn skip_postgres() -> bool {
    std::env::var("TEST_DATABASE_URL").is_err() && std::env::var("SCIMD_TEST_SKIP_POSTGRES").is_ok_and(|v| v == "1")
}

/// `SCIMD_DATABASE_URL` of a fresh PostgreSQL database when the test runs on PostgreSQL.
async fn database_env() -> Option<(String, String)> {
    if BACKEND.try_with(|b| *b).unwrap_or(Backend::Sqlite) != Backend::Postgres {
        return None;
    }
    let admin = std::env::var("TEST_DATABASE_URL")
        .expect("TEST_DATABASE_URL is not set: run scripts/test-all.sh, or set SCIMD_TEST_SKIP_POSTGRES=1");
    let url = store::postgres::create_scratch_database(&admin).await.expect("a fresh PostgreSQL database");
    Some(("SCIMD_DATABASE_URL".to_owned(), url))
}

/// What a CLI run printed.
#[derive(Debug)]
pub struct CliOutput {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// How to start `scimd serve`.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    pub smtp_url: Option<String>,
    /// Extra `SCIMD_*` environment variables (e.g. `SCIMD_OUTBOX_MAX_ATTEMPTS`).
    pub env: Vec<(String, String)>,
}

/// A `scimd serve` on its own data directory. The directory outlives restarts.
pub struct Server {
    pub root_url: String,
    pub token: String,
    pub data_dir: PathBuf,
    pub client: reqwest::Client,
    options: ServeOptions,
    child: Option<Child>,
    starts: u32,
    _dir: std::sync::Arc<tempfile::TempDir>,
}

/// Test defaults: quick polls and short retries, so outage tests finish in seconds.
const FAST_OUTBOX: [(&str, &str); 4] = [
    ("SCIMD_OUTBOX_POLL_MS", "100"),
    ("SCIMD_OUTBOX_RETRY_BASE_MS", "100"),
    ("SCIMD_OUTBOX_RETRY_MAX_MS", "800"),
    ("SCIMD_OUTBOX_LEASE_SECS", "5"),
];

fn clear_scimd_env(cmd: &mut Command) {
    for (k, _) in std::env::vars() {
        if k.starts_with("SCIMD_") {
            cmd.env_remove(k);
        }
    }
    // No WAL reserve: each of the many test servers would zero-fill and sync 128 MiB. The
    // reserve has its own tests (store crate; the crash tests run with a small one).
    cmd.env("SCIMD_SQLITE_WAL_RESERVE_MIB", "0");
}

impl Server {
    pub async fn start(mut options: ServeOptions) -> Self {
        options.env.extend(database_env().await);
        let dir = std::sync::Arc::new(tempfile::tempdir().expect("temp dir"));
        let mut srv = Self {
            root_url: String::new(),
            token: String::new(),
            data_dir: dir.path().join("data"),
            client: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client"),
            options,
            child: None,
            starts: 0,
            _dir: dir,
        };
        srv.spawn().await;
        srv
    }

    /// A second server process on the same database (its own port, same data directory).
    pub async fn sibling(&self) -> Self {
        let mut srv = Self {
            root_url: String::new(),
            token: self.token.clone(),
            data_dir: self.data_dir.clone(),
            client: self.client.clone(),
            options: self.options.clone(),
            child: None,
            starts: 100,
            _dir: std::sync::Arc::clone(&self._dir),
        };
        srv.spawn().await;
        srv
    }

    /// Every server log of this data directory (all starts, all processes).
    pub fn log(&self) -> String {
        let Ok(entries) = std::fs::read_dir(&self.data_dir) else { return String::new() };
        let mut logs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .collect();
        logs.sort();
        logs.iter().filter_map(|p| std::fs::read_to_string(p).ok()).collect::<Vec<_>>().join("\n")
    }

    async fn spawn(&mut self) {
        std::fs::create_dir_all(&self.data_dir).expect("data dir");
        self.starts += 1;
        let log = std::fs::File::create(self.data_dir.join(format!("server-{}.log", self.starts))).expect("log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_scimd"));
        cmd.arg("serve").arg("--listen").arg("127.0.0.1:0").arg("--data-dir").arg(&self.data_dir);
        if let Some(url) = &self.options.smtp_url {
            cmd.arg("--smtp-url").arg(url);
        }
        clear_scimd_env(&mut cmd);
        cmd.envs(FAST_OUTBOX).envs(self.options.env.iter().cloned()).env("RUST_LOG", "info");
        cmd.stdout(Stdio::piped()).stderr(Stdio::from(log)).stdin(Stdio::null()).kill_on_drop(true);
        let mut child = cmd.spawn().expect("start scimd serve");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first_start = self.token.is_empty();
        let mut addr = None;
        let read = async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(t) = line.split("Secret Token:").nth(1) {
                    self.token = t.trim().to_owned();
                }
                if let Some(a) = line.split("scimd listening on http://").nth(1) {
                    addr = Some(a.trim().to_owned());
                    return;
                }
            }
        };
        let timed_out = tokio::time::timeout(Duration::from_secs(30), read).await.is_err();
        let started = !timed_out && (!self.token.is_empty() || !first_start);
        let Some(addr) = addr.filter(|_| started) else {
            panic!("scimd serve did not start; log:\n{}", self.log());
        };
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.root_url = format!("http://{addr}");
        self.child = Some(child);
    }

    /// Kills the process at once (SIGKILL: no clean shutdown), as a crash would.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("kill scimd");
        }
    }

    /// SIGTERM, then waits for the exit; true when it exited with success.
    pub async fn terminate(&mut self) -> bool {
        let Some(mut child) = self.child.take() else { return false };
        let pid = child.id().expect("pid").to_string();
        let sent = std::process::Command::new("kill").arg("-TERM").arg(&pid).status().expect("kill -TERM");
        assert!(sent.success());
        let status = tokio::time::timeout(Duration::from_secs(20), child.wait()).await.expect("exit in time");
        status.expect("exit status").success()
    }

    pub async fn restart(&mut self) {
        self.kill().await;
        self.spawn().await;
    }

    /// Runs a `scimd` command on this server's data directory.
    pub async fn cli(&self, args: &[&str]) -> CliOutput {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_scimd"));
        cmd.args(args).arg("--data-dir").arg(&self.data_dir);
        clear_scimd_env(&mut cmd);
        cmd.envs(self.options.env.iter().filter(|(k, _)| k == "SCIMD_DATABASE_URL").cloned());
        let out = cmd.stdin(Stdio::null()).output().await.expect("run scimd");
        CliOutput {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `scimd outbox list` rows: (id, state, attempts, recipient).
    pub async fn outbox(&self) -> Vec<(i64, String, u32, String)> {
        let out = self.cli(&["outbox", "list", "--limit", "10000"]).await;
        assert!(out.success, "outbox list failed: {}", out.stderr);
        out.stdout
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (f[0].parse().expect("id"), f[1].to_owned(), f[2].parse().expect("attempts"), f[3].to_owned())
            })
            .collect()
    }

    /// Creates a user the way Entra does; returns the created resource.
    pub async fn create_user(
        &self,
        token: &str,
        user_name: &str,
        email: Option<&str>,
        language: Option<&str>,
    ) -> Value {
        let mut body = json!({
            "schemas": [USER_SCHEMA],
            "externalId": format!("ext-{user_name}"),
            "userName": user_name,
            "active": true,
            "displayName": format!("Display {user_name}"),
            "name": {"givenName": "Given", "familyName": format!("Family-{user_name}"), "formatted": "x"},
        });
        if let Some(e) = email {
            body["emails"] = json!([{"primary": true, "type": "work", "value": e}]);
        }
        if let Some(l) = language {
            body["preferredLanguage"] = json!(l);
        }
        let resp = self
            .client
            .post(format!("{}/scim/v2/Users", self.root_url))
            .bearer_auth(token)
            .header("Content-Type", "application/scim+json")
            .json(&body)
            .send()
            .await
            .expect("POST /Users");
        let status = resp.status();
        let v: Value = resp.json().await.expect("JSON");
        assert_eq!(status, StatusCode::CREATED, "create {user_name}: {v}");
        v
    }

    pub async fn user(&self, id: &str) -> Value {
        let resp = self
            .client
            .get(format!("{}/scim/v2/Users/{id}", self.root_url))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("GET user");
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json().await.expect("JSON")
    }

    pub async fn status(&self, id: &str) -> String {
        self.user(id).await[MFA]["status"].as_str().expect("MFA status").to_owned()
    }

    /// Entra's soft delete / restore: `active` as the string it sends.
    pub async fn set_active(&self, id: &str, active: bool) {
        let body = json!({
            "schemas": [PATCH_OP],
            "Operations": [{"op": "Replace", "path": "active", "value": if active { "True" } else { "False" }}],
        });
        let resp = self
            .client
            .patch(format!("{}/scim/v2/Users/{id}", self.root_url))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .expect("PATCH user");
        assert!(resp.status().is_success(), "PATCH active: {}", resp.status());
    }

    /// GET of a URL (the activation link): status and body.
    pub async fn get(&self, url: &str) -> (u16, String) {
        let resp = self.client.get(url).send().await.expect("GET");
        (resp.status().as_u16(), resp.text().await.expect("body"))
    }

    /// The form a browser submits: status and HTML.
    pub async fn activate_form(&self, code: &str) -> (u16, String) {
        let resp = self
            .client
            .post(format!("{}/activate", self.root_url))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("code={code}"))
            .send()
            .await
            .expect("POST /activate");
        (resp.status().as_u16(), resp.text().await.expect("body"))
    }

    /// The JSON variant: status and JSON answer.
    pub async fn activate_json(&self, code: &str) -> (u16, Value) {
        let resp = self
            .client
            .post(format!("{}/activate", self.root_url))
            .json(&json!({ "code": code }))
            .send()
            .await
            .expect("POST /activate");
        (resp.status().as_u16(), resp.json().await.expect("JSON answer"))
    }
}

/// Message-IDs and envelope recipients of messages, counted.
pub fn tally(messages: &[Mail]) -> (BTreeMap<String, usize>, BTreeMap<String, usize>) {
    let mut ids = BTreeMap::new();
    let mut rcpts = BTreeMap::new();
    for m in messages {
        *ids.entry(m.message_id()).or_default() += 1;
        for r in &m.envelope_to {
            *rcpts.entry(r.clone()).or_default() += 1;
        }
    }
    (ids, rcpts)
}
