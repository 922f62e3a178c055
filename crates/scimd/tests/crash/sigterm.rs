//! Graceful shutdown: SIGTERM while requests are in flight. The in-flight requests complete
//! with 2xx, new connections are refused, the process exits 0 within a bound, and the outbox
//! worker leaves no email claimed (another process, or the next start, takes them at once).
//! After a clean stop, or a CLI command, SQLite's database file alone holds every change.

use crate::integrity;
use crate::proc::{Backend, Node, Running};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// An SMTP server that accepts connections and never says a word: every send hangs until the
/// SMTP timeout, so the outbox worker always holds claimed emails.
async fn silent_smtp() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    port
}

/// A request whose head and first half of the body are sent now; the rest by [`finish`].
struct SlowRequest {
    stream: TcpStream,
    rest: Vec<u8>,
}

async fn start_slow(srv: &Running, token: &str, method: &str, path: &str, body: &Value) -> SlowRequest {
    let body = body.to_string().into_bytes();
    let mut stream = TcpStream::connect(&srv.addr).await.expect("connect");
    let head = format!(
        "{method} /scim/v2{path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/scim+json\r\nContent-Length: {}\r\n\r\n",
        srv.addr,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("send head");
    let half = body.len() / 2;
    stream.write_all(&body[..half]).await.expect("send half the body");
    stream.flush().await.expect("flush");
    SlowRequest { stream, rest: body[half..].to_vec() }
}

/// Sends the rest of the body and returns the answer's status and body.
async fn finish(mut r: SlowRequest) -> (u16, String) {
    r.stream.write_all(&r.rest).await.expect("send the rest of the body");
    let mut raw = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), r.stream.read_to_end(&mut raw)).await;
    read.expect("an answer within 10 s").expect("read the answer");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("client")
}

async fn post(c: &reqwest::Client, srv: &Running, token: &str, path: &str, body: &Value) -> Value {
    let r = c
        .post(format!("{}{path}", srv.base))
        .bearer_auth(token)
        .header("content-type", "application/scim+json")
        .body(body.to_string())
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status().as_u16(), 201, "POST {path}");
    r.json().await.expect("JSON")
}

fn user(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name,
           "emails": [{"type": "work", "primary": true, "value": name}]})
}

async fn sigterm_in_flight(backend: Backend) {
    let smtp = silent_smtp().await;
    let smtp_url = format!("smtp://127.0.0.1:{smtp}");
    let args = ["--smtp-url", &smtp_url, "--smtp-timeout-secs", "1", "--outbox-poll-ms", "50"];
    let Some(mut node) = Node::new(backend, &args).await else { return };
    let mut srv = node.start().await;
    let c = client();
    let token = node.token.clone();

    // Emails to send (each send hangs on the silent SMTP server), a group and a user to change.
    for i in 0..30 {
        post(&c, &srv, &token, "/Users", &user(&format!("queued{i}@term.example"))).await;
    }
    let gid = post(&c, &srv, &token, "/Groups", &json!({"displayName": "Term"})).await["id"]
        .as_str()
        .expect("group id")
        .to_owned();
    let uid = post(&c, &srv, &token, "/Users", &user("member@term.example")).await["id"]
        .as_str()
        .expect("user id")
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(10);
    while integrity::claimed_rows(&node).await.is_empty() {
        assert!(Instant::now() < deadline, "the outbox worker claimed nothing; log:\n{}", node.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Three requests in flight: their heads are read, their bodies half sent.
    let create = start_slow(&srv, &token, "POST", "/Users", &user("inflight@term.example")).await;
    let add =
        json!({"schemas": [PATCH_OP], "Operations": [{"op": "Add", "path": "members", "value": [{"value": uid}]}]});
    let add = start_slow(&srv, &token, "PATCH", &format!("/Groups/{gid}"), &add).await;
    let deactivate =
        json!({"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
    let deactivate = start_slow(&srv, &token, "PATCH", &format!("/Users/{uid}"), &deactivate).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let signalled = Instant::now();
    srv.signal("TERM").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // No new connection is accepted.
    let refused = TcpStream::connect(&srv.addr).await;
    assert!(refused.is_err(), "a new connection was accepted after SIGTERM");

    // The in-flight requests complete.
    let (s, text) = finish(create).await;
    assert_eq!(s, 201, "in-flight create: {text}");
    let (s, text) = finish(add).await;
    assert!(s == 204 || s == 200, "in-flight member add: {text}");
    let (s, text) = finish(deactivate).await;
    assert!(s == 204 || s == 200, "in-flight deactivation: {text}");

    // Exits 0 within the bound: the email being sent finishes (a send is bounded by 4 SMTP timeouts: 4 s), the others
    // are released.
    let status = srv.wait_exit(Duration::from_secs(15)).await;
    let log = node.log();
    let status = status.unwrap_or_else(|| panic!("still running 15 s after SIGTERM; log:\n{log}"));
    assert!(status.success(), "exit status {status:?}; log:\n{log}");
    let took = signalled.elapsed();
    assert!(took < Duration::from_secs(8), "shutdown took {took:?}");
    assert!(log.contains("scimd stopped"), "no clean stop in the log:\n{log}");
    assert!(!log.contains("panicked"), "{log}");
    let claimed = integrity::claimed_rows(&node).await;
    assert!(claimed.is_empty(), "emails still claimed after a clean stop: {claimed:?}");
    integrity::check(&node, "after SIGTERM").await;

    // What was answered is there after a restart.
    let srv = node.start().await;
    let r: Value = c
        .get(format!("{}/Users?filter=userName+eq+%22inflight%40term.example%22", srv.base))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert_eq!(r["totalResults"], json!(1), "{r}");
    let g: Value = c
        .get(format!("{}/Groups/{gid}", srv.base))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert_eq!(g["members"][0]["value"], json!(uid), "{g}");
    let u: Value = c
        .get(format!("{}/Users/{uid}", srv.base))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert_eq!(u["active"], json!(false), "{u}");
    srv.sigkill().await;
}

#[tokio::test]
async fn sqlite_sigterm_completes_in_flight_requests_and_releases_outbox_claims() {
    sigterm_in_flight(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_sigterm_completes_in_flight_requests_and_releases_outbox_claims() {
    sigterm_in_flight(Backend::Postgres).await;
}

/// A client that never finishes its request does not hold the process past
/// `--shutdown-timeout-secs`.
#[tokio::test]
async fn sigterm_exits_within_the_grace_period_despite_a_stuck_client() {
    let Some(mut node) = Node::new(Backend::Sqlite, &["--shutdown-timeout-secs", "1"]).await else { return };
    let mut srv = node.start().await;
    let token = node.token.clone();
    let _stuck = start_slow(&srv, &token, "POST", "/Users", &user("stuck@term.example")).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let signalled = Instant::now();
    srv.signal("TERM").await;
    let status = srv.wait_exit(Duration::from_secs(10)).await;
    let log = node.log();
    let status = status.unwrap_or_else(|| panic!("still running 10 s after SIGTERM; log:\n{log}"));
    assert!(status.success(), "exit status {status:?}; log:\n{log}");
    let took = signalled.elapsed();
    assert!(took < Duration::from_secs(5), "shutdown took {took:?} with a 1 s grace period");
    assert!(log.contains("scimd stopped"), "{log}");
}

/// The database file of a stopped node, copied alone (without `-wal` or `-shm`), as an
/// operator moving `scimd.db` would; and the WAL's size left beside the original.
fn copy_database_file_alone(node: &Node) -> (tempfile::TempDir, rusqlite::Connection, u64) {
    let wal = node.data_dir().join("scimd.db-wal");
    let wal_len = std::fs::metadata(&wal).map_or(0, |m| m.len());
    let copy = tempfile::tempdir().expect("temp dir");
    std::fs::copy(node.data_dir().join("scimd.db"), copy.path().join("scimd.db")).expect("copy the database file");
    let db = rusqlite::Connection::open(copy.path().join("scimd.db")).expect("open the copy");
    (copy, db, wal_len)
}

/// After a clean stop `scimd.db` alone holds every change: the server copies its WAL into the
/// database file before it exits (an operator who moves or copies the file without its `-wal`
/// loses nothing). A copy of the file alone, opened by SQLite, has the user created last.
#[tokio::test]
async fn after_sigterm_the_sqlite_database_file_alone_holds_every_change() {
    let Some(mut node) = Node::new(Backend::Sqlite, &[]).await else { return };
    let mut srv = node.start().await;
    let c = reqwest::Client::new();
    post(&c, &srv, &node.token.clone(), "/Users", &user("last@term.example")).await;
    srv.signal("TERM").await;
    let status = srv.wait_exit(Duration::from_secs(15)).await;
    let log = node.log();
    assert!(status.is_some_and(|s| s.success()), "exit {status:?}; log:\n{log}");

    let (_copy, db, wal_len) = copy_database_file_alone(&node);
    assert_eq!(wal_len, 0, "the WAL still holds {wal_len} bytes after a clean stop; log:\n{log}");
    let found: i64 = db
        .query_row("SELECT count(*) FROM users WHERE user_name = 'last@term.example'", [], |r| r.get(0))
        .expect("query the copy");
    assert_eq!(found, 1, "the copied database file lacks the last user");
}

/// The same for a CLI command run while no server is: its change is in `scimd.db` when it exits.
#[tokio::test]
async fn after_a_cli_command_the_sqlite_database_file_alone_holds_its_change() {
    let Some(node) = Node::new(Backend::Sqlite, &[]).await else { return };
    let (ok, _, err) = node.cli(&["service", "create", "copied"]).await;
    assert!(ok, "service create failed: {err}");

    let (_copy, db, wal_len) = copy_database_file_alone(&node);
    assert_eq!(wal_len, 0, "the WAL still holds {wal_len} bytes after the command");
    let found: i64 =
        db.query_row("SELECT count(*) FROM services WHERE name = 'copied'", [], |r| r.get(0)).expect("query the copy");
    assert_eq!(found, 1, "the copied database file lacks the service the command created");
}
