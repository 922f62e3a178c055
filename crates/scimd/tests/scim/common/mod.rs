//! Black-box harness: runs the real `scimd` binary on a loopback port with its own data
//! directory, and talks to it over HTTP like Entra ID does.
//!
//! Every test gets its own server (own temp dir, own port), so tests are independent and run
//! in parallel. Servers are killed when the [`TestServer`] is dropped.

// Not every test uses every helper.
#![allow(dead_code)]

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The storage backend a test server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const MFA: &str = "urn:scimd:schemas:extension:mfa:1.0:User";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// The TrustBuilder-compatible alias of `/scim/v2`.
pub const ALIAS_BASE: &str = "/auth/v1/customer/services/scim";

/// **To be implemented by the lead together with the PostgreSQL backend.** Creates a fresh,
/// empty database on the cluster named by `TEST_DATABASE_URL` and returns its URL, so each
/// test gets a database of its own.
pub async fn fresh_postgres_database_url() -> Result<String, String> {
    let cluster = std::env::var("TEST_DATABASE_URL").map_err(|_| {
        "TEST_DATABASE_URL is not set: run scripts/test-all.sh, or set SCIMD_TEST_SKIP_POSTGRES=1".to_owned()
    })?;
    store::postgres::create_scratch_database(&cluster).await
}

/// True when PostgreSQL variants are to be skipped (only on an explicit request: CI never
/// sets it, so nothing is skipped silently there).
pub fn skip_postgres() -> bool {
    std::env::var("TEST_DATABASE_URL").is_err() && std::env::var("SCIMD_TEST_SKIP_POSTGRES").is_ok_and(|v| v == "1")
}

/// One HTTP answer: status, headers, body as JSON (`Value::Null` when empty or not JSON) and
/// as text.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status, printing the body on failure.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.text);
        self
    }

    /// Asserts a SCIM Error (RFC 7644 §3.12) with this status, served as application/scim+json.
    #[track_caller]
    pub fn expect_scim_error(&self, status: u16) -> &Self {
        self.expect(status);
        assert!(
            self.header("content-type").is_some_and(|ct| ct.starts_with("application/scim+json")),
            "error content type: {:?}",
            self.header("content-type")
        );
        assert_eq!(self.body["schemas"], json!([ERROR_SCHEMA]), "error body: {}", self.text);
        assert_eq!(self.body["status"], json!(status.to_string()), "error body: {}", self.text);
        assert!(self.body["detail"].as_str().is_some_and(|d| !d.is_empty()), "error without detail: {}", self.text);
        self
    }

    /// Asserts a 400 with this `scimType` whose detail contains every one of `words`.
    #[track_caller]
    pub fn expect_bad_request(&self, scim_type: &str, words: &[&str]) -> &Self {
        self.expect_scim_error(400);
        assert_eq!(self.body["scimType"], json!(scim_type), "body: {}", self.text);
        self.expect_detail(words)
    }

    #[track_caller]
    pub fn expect_detail(&self, words: &[&str]) -> &Self {
        let detail = self.body["detail"].as_str().unwrap_or_default();
        for w in words {
            assert!(detail.contains(w), "detail {detail:?} does not mention {w:?}");
        }
        self
    }

    /// `Resources` of a ListResponse (asserting it is one).
    #[track_caller]
    pub fn resources(&self) -> &Vec<Value> {
        assert_eq!(self.body["schemas"], json!([LIST_RESPONSE]), "not a ListResponse: {}", self.text);
        self.body["Resources"].as_array().expect("ListResponse without a Resources array")
    }

    #[track_caller]
    pub fn total(&self) -> u64 {
        self.body["totalResults"].as_u64().expect("ListResponse without totalResults")
    }

    /// The `id`s of a ListResponse's resources, in order.
    #[track_caller]
    pub fn ids(&self) -> Vec<String> {
        self.resources().iter().map(|r| r["id"].as_str().expect("resource without id").to_owned()).collect()
    }

    /// The `userName`s of a ListResponse's resources, in order.
    #[track_caller]
    pub fn user_names(&self) -> Vec<String> {
        self.resources().iter().map(|r| r["userName"].as_str().unwrap_or_default().to_owned()).collect()
    }
}

/// What a CLI run printed.
#[derive(Debug)]
pub struct CliOutput {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// A running `scimd serve`.
pub struct TestServer {
    pub backend: Backend,
    /// The SCIM base URL: `http://127.0.0.1:PORT/scim/v2`.
    pub base_url: String,
    /// `http://127.0.0.1:PORT`.
    pub root_url: String,
    /// The `scim` token of the service `default`, as printed at first start.
    pub token: String,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub client: reqwest::Client,
    // Dropped in this order: the process first, then its data directory.
    _child: Child,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, &[]).await
    }

    /// Starts the server with extra `scimd serve` flags.
    pub async fn start_with(backend: Backend, extra_args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = dir.path().to_path_buf();
        let database_url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(fresh_postgres_database_url().await.expect("a fresh PostgreSQL database")),
        };
        let stderr = std::fs::File::create(data_dir.join("server.log")).expect("server log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_scimd"));
        cmd.arg("serve").arg("--listen").arg("127.0.0.1:0").args(extra_args);
        storage_args(&mut cmd, &data_dir, database_url.as_deref());
        clear_env(&mut cmd);
        cmd.stdout(Stdio::piped()).stderr(Stdio::from(stderr)).stdin(Stdio::null()).kill_on_drop(true);
        let mut child = cmd.spawn().expect("start scimd serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut token = None;
        let mut addr = None;
        let read = async {
            while let Some(line) = lines.next_line().await.expect("read scimd stdout") {
                if let Some(t) = line.split("Secret Token:").nth(1) {
                    token = Some(t.trim().to_owned());
                }
                if let Some(a) = line.split("scimd listening on http://").nth(1) {
                    addr = Some(a.trim().to_owned());
                }
                if token.is_some() && addr.is_some() {
                    return;
                }
            }
        };
        if tokio::time::timeout(Duration::from_secs(30), read).await.is_err() || token.is_none() || addr.is_none() {
            let log = std::fs::read_to_string(data_dir.join("server.log")).unwrap_or_default();
            panic!("scimd serve did not print its token and address; server log:\n{log}");
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let addr = addr.expect("address");
        let root_url = format!("http://{addr}");
        let srv = Self {
            backend,
            base_url: format!("{root_url}/scim/v2"),
            root_url,
            token: token.expect("token"),
            data_dir,
            database_url,
            client: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client"),
            _child: child,
            _dir: dir,
        };
        let health = srv.client.get(format!("{}/healthz", srv.root_url)).send().await.expect("healthz");
        assert_eq!(health.status(), StatusCode::OK);
        srv
    }

    /// The server's log (stderr) so far, for failure messages.
    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("server.log")).unwrap_or_default()
    }

    // --- HTTP ------------------------------------------------------------------------------

    /// `path` is relative to the SCIM base (`/Users?filter=…`); an absolute `http…` URL is
    /// used as is.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") { path.to_owned() } else { format!("{}{path}", self.base_url) }
    }

    /// Sends a request with the default token.
    pub async fn request(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Resp {
        self.request_as(&self.token, method, path, body).await
    }

    /// Sends a request with `token`.
    pub async fn request_as(&self, token: &str, method: reqwest::Method, path: &str, body: Option<&Value>) -> Resp {
        let mut req = self.client.request(method, self.url(path)).bearer_auth(token);
        if let Some(b) = body {
            req = req.header("content-type", "application/scim+json").body(b.to_string());
        }
        send(req).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.request(reqwest::Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.request(reqwest::Method::POST, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        self.request(reqwest::Method::PUT, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: &Value) -> Resp {
        self.request(reqwest::Method::PATCH, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> Resp {
        self.request(reqwest::Method::DELETE, path, None).await
    }

    /// `GET /{resource}?k=v&…` with the pairs form-encoded (as Entra sends them: `+` for
    /// spaces, `%22` for quotes).
    pub async fn query(&self, resource: &str, pairs: &[(&str, &str)]) -> Resp {
        let q = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        self.get(&format!("/{resource}?{q}")).await
    }

    /// `GET /Users?filter=…`.
    pub async fn filter_users(&self, filter: &str) -> Resp {
        self.query("Users", &[("filter", filter)]).await
    }

    /// `GET /Groups?filter=…`.
    pub async fn filter_groups(&self, filter: &str) -> Resp {
        self.query("Groups", &[("filter", filter)]).await
    }

    /// PATCH with a PatchOp body made of `ops`.
    pub async fn patch_ops(&self, path: &str, ops: Value) -> Resp {
        self.patch(path, &json!({"schemas": [PATCH_OP], "Operations": ops})).await
    }

    // --- fixtures --------------------------------------------------------------------------

    /// Creates a user from a full body; asserts 201 and returns the resource.
    pub async fn create_user_with(&self, body: Value) -> Value {
        let r = self.post("/Users", &body).await;
        r.expect(201);
        r.body
    }

    /// Creates a user with a work email; returns its id.
    pub async fn create_user(&self, user_name: &str) -> String {
        let body = json!({
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "userName": user_name,
            "externalId": format!("ext-{user_name}"),
            "active": true,
            "emails": [{"primary": true, "type": "work", "value": user_name}],
            "name": {"givenName": "Given", "familyName": "Family"},
        });
        id_of(&self.create_user_with(body).await)
    }

    /// Creates a user without any email; returns its id.
    pub async fn create_bare_user(&self, user_name: &str) -> String {
        id_of(&self.create_user_with(json!({"schemas": [USER_SCHEMA], "userName": user_name})).await)
    }

    /// Creates a group as Entra does (no members); returns its id.
    pub async fn create_group(&self, display_name: &str, external_id: Option<&str>) -> String {
        let mut body = json!({
            "schemas": [GROUP_SCHEMA, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "displayName": display_name,
            "meta": {"resourceType": "Group"},
        });
        if let Some(e) = external_id {
            body["externalId"] = json!(e);
        }
        let r = self.post("/Groups", &body).await;
        r.expect(201);
        id_of(&r.body)
    }

    /// Adds members the way Entra's default mode does; asserts 204.
    pub async fn add_members(&self, group: &str, users: &[&str]) {
        let value: Vec<Value> = users.iter().map(|u| json!({"$ref": null, "value": u})).collect();
        self.patch_ops(&format!("/Groups/{group}"), json!([{"op": "Add", "path": "members", "value": value}]))
            .await
            .expect(204);
    }

    /// Member ids of a group, sorted.
    pub async fn member_ids(&self, group: &str) -> Vec<String> {
        let r = self.get(&format!("/Groups/{group}")).await;
        r.expect(200);
        let mut ids: Vec<String> = r.body["members"]
            .as_array()
            .expect("members array")
            .iter()
            .map(|m| m["value"].as_str().expect("member value").to_owned())
            .collect();
        ids.sort();
        ids
    }

    /// GET /Users/{id}, asserting 200.
    pub async fn user(&self, id: &str) -> Value {
        let r = self.get(&format!("/Users/{id}")).await;
        r.expect(200);
        r.body
    }

    /// The MFA extension of a user.
    pub async fn mfa(&self, id: &str) -> Value {
        self.user(id).await[MFA].clone()
    }

    // --- CLI -------------------------------------------------------------------------------

    /// Runs `scimd <args> --data-dir <this server's dir>` (or `--database-url`).
    pub async fn cli(&self, args: &[&str]) -> CliOutput {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_scimd"));
        cmd.args(args);
        storage_args(&mut cmd, &self.data_dir, self.database_url.as_deref());
        clear_env(&mut cmd);
        let out = cmd.stdin(Stdio::null()).output().await.expect("run scimd");
        CliOutput {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs a CLI command that must succeed; returns its stdout.
    pub async fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args).await;
        assert!(out.success, "scimd {args:?} failed:\nstdout: {}\nstderr: {}", out.stdout, out.stderr);
        out.stdout
    }

    /// `scimd service set default k=v …`. The server trusts a verified token and its service's
    /// parameters for up to a second (`tokens::AUTH_CACHE_TTL`); a change made by the CLI, another
    /// process, applies after that.
    pub async fn set_param(&self, assignment: &str) {
        self.cli_ok(&["service", "set", "default", assignment]).await;
        tokio::time::sleep(scimd::tokens::AUTH_CACHE_TTL + std::time::Duration::from_millis(100)).await;
    }

    /// A new `scim` token for `service`.
    pub async fn new_token(&self, service: &str) -> String {
        self.cli_ok(&["token", "create", "--service", service]).await.trim().to_owned()
    }

    /// Creates another service and returns a `scim` token for it.
    pub async fn other_service(&self, name: &str) -> String {
        self.cli_ok(&["service", "create", name]).await;
        self.new_token(name).await
    }

    /// Provisioning-log entries of `service` (newest first) as JSON, via `scimd log --json`.
    pub async fn log(&self, service: &str, failed_only: bool) -> Vec<Value> {
        let mut args = vec!["log", "--service", service, "--json", "--limit", "1000"];
        if failed_only {
            args.push("--failed");
        }
        self.cli_ok(&args)
            .await
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("log line is JSON"))
            .collect()
    }

    /// Polls the provisioning log until an entry satisfies `pred` (entries are written by a
    /// batching task, a few milliseconds after the answer).
    pub async fn wait_for_log(&self, service: &str, failed_only: bool, pred: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..50 {
            if let Some(e) = self.log(service, failed_only).await.into_iter().find(|e| pred(e)) {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no matching provisioning-log entry; log: {:#?}", self.log(service, failed_only).await);
    }
}

fn storage_args(cmd: &mut Command, data_dir: &Path, database_url: Option<&str>) {
    cmd.arg("--data-dir").arg(data_dir);
    if let Some(url) = database_url {
        cmd.arg("--database-url").arg(url);
    }
}

/// The tests must not pick up a developer's `SCIMD_*` configuration.
fn clear_env(cmd: &mut Command) {
    for (k, _) in std::env::vars() {
        if k.starts_with("SCIMD_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("RUST_LOG", "info,tower_http=warn");
    // No WAL reserve: each of the many test servers would zero-fill and sync 128 MiB. The
    // reserve has its own tests (store crate; the crash tests run with a small one).
    cmd.env("SCIMD_SQLITE_WAL_RESERVE_MIB", "0");
}

pub async fn send(req: reqwest::RequestBuilder) -> Resp {
    let resp = req.send().await.expect("HTTP request");
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("response body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp { status, headers, body, text }
}

#[track_caller]
pub fn id_of(resource: &Value) -> String {
    resource["id"].as_str().unwrap_or_else(|| panic!("resource without id: {resource}")).to_owned()
}

/// Seconds between two RFC 3339 timestamps.
pub fn seconds_between(a: &str, b: &str) -> i64 {
    let parse = |s: &str| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|e| panic!("not RFC 3339: {s:?}: {e}"))
    };
    (parse(b) - parse(a)).whole_seconds()
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).expect("format now")
}

/// Declares tests that run against every storage backend: each `async fn name(srv:
/// TestServer) { … }` becomes a module `name` with a test `sqlite` and a test `postgres`
/// (skipped only with SCIMD_TEST_SKIP_POSTGRES=1 and no TEST_DATABASE_URL), each on a fresh server.
macro_rules! backend_tests {
    ($( $(#[$meta:meta])* async fn $name:ident($srv:ident : TestServer) $body:block )*) => {
        $(
            $(#[$meta])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn run($srv: $crate::common::TestServer) $body

                #[tokio::test]
                async fn sqlite() {
                    run($crate::common::TestServer::start($crate::common::Backend::Sqlite).await).await;
                }

                #[tokio::test]
                async fn postgres() {
                    if $crate::common::skip_postgres() {
                        return;
                    }
                    run($crate::common::TestServer::start($crate::common::Backend::Postgres).await).await;
                }
            }
        )*
    };
}
