//! Several `scimd serve` processes on one PostgreSQL database (issue 5): concurrent writes
//! through both lose nothing and duplicate nothing; an unreachable database is reported at
//! start and answered with 503 while running, and service resumes when it returns.
//!
//! Needs `TEST_DATABASE_URL` (scripts/test-all.sh provides it); fails without it unless
//! `SCIMD_TEST_SKIP_POSTGRES=1`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    base: String,
    root: String,
    token: Option<String>,
    data_dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn admin_url() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(u) => Some(u),
        Err(_) if std::env::var("SCIMD_TEST_SKIP_POSTGRES").is_ok_and(|v| v == "1") => None,
        Err(_) => panic!("TEST_DATABASE_URL is not set: run scripts/test-all.sh, or set SCIMD_TEST_SKIP_POSTGRES=1"),
    }
}

/// Starts `scimd serve` on `database_url` and waits until it listens.
fn start(database_url: &str) -> Server {
    let data_dir = tempfile::tempdir().unwrap();
    #[allow(clippy::zombie_processes)] // waited for in Drop
    let mut child = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", database_url, "--db-pool-size", "8"])
        .arg("--data-dir")
        .arg(data_dir.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut token = None;
    loop {
        let line = lines.next().expect("scimd exited before listening").unwrap();
        if let Some(t) = line.split("Secret Token: ").nth(1) {
            token = Some(t.trim().to_owned());
        }
        if let Some(addr) = line.strip_prefix("scimd listening on ") {
            let root = addr.trim().to_owned();
            // Keep draining stdout so the child never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            return Server { child, base: format!("{root}/scim/v2"), root, token, data_dir };
        }
    }
}

async fn scratch() -> Option<String> {
    let admin = admin_url()?;
    Some(store::postgres::create_scratch_database(&admin).await.unwrap())
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
}

async fn send(
    c: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = c.request(method, url).bearer_auth(token).header("content-type", "application/scim+json");
    if let Some(b) = body {
        req = req.body(b.to_string());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_share_one_database_without_losing_or_duplicating_writes() {
    let Some(url) = scratch().await else { return };
    let a = start(&url);
    let b = start(&url);
    assert!(b.token.is_none(), "the second process must not create a second default service");
    let token = a.token.clone().unwrap();
    let c = client();
    let bases = [a.base.clone(), b.base.clone()];

    // 16 users with emails, created alternately through both processes.
    let mut users = Vec::new();
    for i in 0..16 {
        let body = json!({"userName": format!("u{i}@contoso.com"), "emails": [{"type": "work", "value": format!("u{i}@contoso.com")}]});
        let (s, v) = send(&c, reqwest::Method::POST, format!("{}/Users", bases[i % 2]), &token, Some(body)).await;
        assert_eq!(s, 201, "{v}");
        users.push(v["id"].as_str().unwrap().to_owned());
    }
    let (s, g) =
        send(&c, reqwest::Method::POST, format!("{}/Groups", a.base), &token, Some(json!({"displayName": "Shared"})))
            .await;
    assert_eq!(s, 201);
    let gid = g["id"].as_str().unwrap().to_owned();

    // 16 concurrent member-add PATCHes to one group, split across both processes.
    let mut tasks = Vec::new();
    for (i, uid) in users.iter().enumerate() {
        let (c, token, url) = (c.clone(), token.clone(), format!("{}/Groups/{gid}", bases[i % 2]));
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Add", "path": "members", "value": [{"value": uid}]}]});
        tasks.push(tokio::spawn(async move { send(&c, reqwest::Method::PATCH, url, &token, Some(body)).await.0 }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 204);
    }
    let (_, group) = send(&c, reqwest::Method::GET, format!("{}/Groups/{gid}", b.base), &token, None).await;
    assert_eq!(group["members"].as_array().unwrap().len(), 16, "no member lost: {group}");

    // Concurrent creates of one login through both processes: exactly one wins.
    for round in 0..10 {
        let body = json!({"userName": format!("race{round}@contoso.com")});
        let (ra, rb) = tokio::join!(
            send(&c, reqwest::Method::POST, format!("{}/Users", a.base), &token, Some(body.clone())),
            send(&c, reqwest::Method::POST, format!("{}/Users", b.base), &token, Some(body))
        );
        let mut codes = [ra.0, rb.0];
        codes.sort();
        assert_eq!(codes, [201, 409], "round {round}: {ra:?} {rb:?}");
    }

    // Each activation email is written exactly once, by one of the two processes.
    let deadline = Instant::now() + Duration::from_secs(30);
    let count = |dir: &std::path::Path| -> Vec<String> {
        std::fs::read_dir(dir.join("outbox"))
            .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default()
    };
    loop {
        let mut all = count(a.data_dir.path());
        all.extend(count(b.data_dir.path()));
        all.retain(|n| n.ends_with(".eml"));
        if all.len() >= 16 || Instant::now() > deadline {
            let mut dedup = all.clone();
            dedup.sort();
            dedup.dedup();
            assert_eq!(all.len(), 16, "one email per user with an email: {all:?}");
            assert_eq!(dedup.len(), 16, "no email written twice");
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn an_unreachable_database_at_start_exits_non_zero_with_the_reason() {
    if admin_url().is_none() {
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", "postgres://scimd@127.0.0.1:1/nothing"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot connect to PostgreSQL"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_answers_503_and_service_resumes_when_it_returns() {
    let Some(url) = scratch().await else { return };
    let db = url.rsplit('/').next().unwrap().to_owned();
    let server = start(&url);
    let token = server.token.clone().unwrap();
    let c = client();
    let probe = format!("{}/Users?filter=userName%20eq%20%22x%22", server.base);
    assert_eq!(send(&c, reqwest::Method::GET, probe.clone(), &token, None).await.0, 200);

    // Take the database away: refuse new connections and end the existing ones.
    let (admin, conn) = tokio_postgres::connect(&admin_url().unwrap(), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    admin.batch_execute(&format!("ALTER DATABASE {db} ALLOW_CONNECTIONS false")).await.unwrap();
    admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", &[&db]).await.unwrap();

    let resp = c.get(probe.clone()).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    assert_eq!(resp.headers()["content-type"], "application/scim+json");
    let ready = c.get(format!("{}/readyz", server.root)).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 503);

    admin.batch_execute(&format!("ALTER DATABASE {db} ALLOW_CONNECTIONS true")).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = send(&c, reqwest::Method::GET, probe.clone(), &token, None).await.0;
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "service did not resume: {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ready = c.get(format!("{}/readyz", server.root)).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
}
