//! Secrets never reach the logs (issue 8): a full run at `RUST_LOG=trace` — SCIM requests with
//! tokens, a user created with a password and an email, the activation email written as an
//! .eml file, the activation link opened and the code redeemed, `scimd token create`, requests
//! with wrong credentials, an SMTP server URL with a password — and then the complete log
//! output (server stderr of every start, CLI stderr) must contain none of the secrets.
//! On SQLite and PostgreSQL (whose client library logs statement parameters at debug level).

#![allow(clippy::unwrap_used)]

#[path = "../crash/proc.rs"]
mod proc;

use proc::{Backend, Node, Running};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const USER_PASSWORD: &str = "Us3r-Pa55word-7f3a9c";
const SMTP_PASSWORD: &str = "Smtp-Pa55word-41d2e8";
const WRONG_TOKEN: &str = "scimd_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const BASIC_PASSWORD: &str = "Basic-Pa55word-9e7b21";

async fn scim(
    c: &reqwest::Client,
    srv: &Running,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = c.request(method, format!("{}{path}", srv.base)).bearer_auth(token);
    if let Some(b) = body {
        req = req.header("content-type", "application/scim+json").body(b.to_string());
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The activation code in the first .eml file under `DATA_DIR/outbox/` (quoted-printable
/// bodies encode `=` as `=3D` and wrap lines with `=\r\n`).
async fn activation_code(node: &Node) -> String {
    let dir = node.data_dir().join("outbox");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                let raw = std::fs::read_to_string(e.path()).unwrap_or_default();
                let text = raw.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=");
                if let Some(rest) = text.split("code=").nth(1) {
                    let code: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
                    if code.len() == 32 {
                        return code;
                    }
                }
            }
        }
        assert!(Instant::now() < deadline, "no activation email under {}; log:\n{}", dir.display(), node.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn full_run(backend: Backend) {
    let Some(mut node) = Node::new(backend, &["--rate-limit-per-token", "0", "--outbox-poll-ms", "50"]).await else {
        return;
    };
    node.rust_log = "trace".to_owned();
    let mut secrets: Vec<(String, String)> = Vec::new();
    let srv = node.start().await;
    secrets.push(("first-start SCIM token".into(), node.token.clone()));
    // The console administrator's first password, when this build prints one.
    if let Some(p) = node.stdout.iter().find_map(|l| l.split("Password:").nth(1)) {
        secrets.push(("first-start administrator password".into(), p.trim().to_owned()));
    }
    let c = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();

    // `scimd token create` (the CLI logs at trace too) and SCIM requests with that token.
    let (ok, out, err) = node.cli(&["token", "create", "--service", "default"]).await;
    assert!(ok, "token create failed: {err}");
    let token = out.trim().to_owned();
    secrets.push(("CLI-created SCIM token".into(), token.clone()));
    let mut cli_logs = err;

    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "secret.flow@contoso.com", "password": USER_PASSWORD,
        "emails": [{"type": "work", "primary": true, "value": "secret.flow@contoso.com"}],
        "name": {"givenName": "Secret", "familyName": "Flow"},
    });
    let (s, u) = scim(&c, &srv, &token, reqwest::Method::POST, "/Users", Some(body)).await;
    assert_eq!(s, 201, "{u}");
    let id = u["id"].as_str().unwrap().to_owned();
    assert!(u.get("password").is_none(), "password returned: {u}");
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "password", "value": USER_PASSWORD}]});
    let (s, _) = scim(&c, &srv, &token, reqwest::Method::PATCH, &format!("/Users/{id}"), Some(patch)).await;
    assert!(s < 500, "PATCH password: {s}");
    let (s, _) = scim(
        &c,
        &srv,
        &node.token,
        reqwest::Method::GET,
        "/Users?filter=userName+eq+%22secret.flow%40contoso.com%22",
        None,
    )
    .await;
    assert_eq!(s, 200);
    secrets.push(("user password".into(), USER_PASSWORD.into()));

    // Wrong credentials are refused and not logged either.
    let (s, _) = scim(&c, &srv, WRONG_TOKEN, reqwest::Method::GET, "/Users", None).await;
    assert_eq!(s, 401);
    let r = c.get(format!("{}/Users", srv.base)).basic_auth("entra", Some(BASIC_PASSWORD)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    secrets.push(("refused token".into(), WRONG_TOKEN.into()));
    secrets.push(("refused Basic password".into(), BASIC_PASSWORD.into()));

    // The activation email, its link opened (GET never redeems), the code redeemed.
    let code = activation_code(&node).await;
    secrets.push(("activation code".into(), code.clone()));
    let r = c.get(format!("{}/activate?code={code}", srv.root)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = c.post(format!("{}/activate", srv.root)).form(&[("code", code.as_str())]).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap_or_default());
    let (_, u) = scim(&c, &srv, &token, reqwest::Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(u["urn:scimd:schemas:extension:mfa:1.0:User"]["status"], json!("activated"), "{u}");
    // The console's sign-in with the administrator password, when there is a console.
    if let Some((_, password)) = secrets.iter().find(|(what, _)| what.contains("administrator")) {
        let _ = c
            .post(format!("{}/console/login", srv.root))
            .form(&[("name", "admin"), ("password", password)])
            .send()
            .await;
    }
    srv.signal("TERM").await;
    let mut srv = srv;
    assert!(srv.wait_exit(Duration::from_secs(20)).await.is_some_and(|s| s.success()));

    // An SMTP URL with a password: the worker fails to deliver (nothing listens) and logs why.
    node.args.extend([
        "--smtp-url".to_owned(),
        format!("smtp://mailer:{SMTP_PASSWORD}@127.0.0.1:9"),
        "--smtp-timeout-secs".to_owned(),
        "1".to_owned(),
        "--outbox-retry-base-ms".to_owned(),
        "50".to_owned(),
    ]);
    let srv = node.start().await;
    secrets.push(("SMTP password".into(), SMTP_PASSWORD.into()));
    let body =
        json!({"userName": "smtp.flow@contoso.com", "emails": [{"type": "work", "value": "smtp.flow@contoso.com"}]});
    let (s, _) = scim(&c, &srv, &token, reqwest::Method::POST, "/Users", Some(body)).await;
    assert_eq!(s, 201);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !node.log().contains("email not sent") {
        assert!(Instant::now() < deadline, "the failed send was not logged:\n{}", node.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (ok, _, err) = node.cli(&["outbox", "list"]).await;
    assert!(ok, "{err}");
    cli_logs.push_str(&err);
    srv.signal("TERM").await;
    let mut srv = srv;
    srv.wait_exit(Duration::from_secs(20)).await;

    // The whole log: trace level was really on, and no secret is in it.
    let log = format!("{}\n{cli_logs}", node.log());
    assert!(log.contains("TRACE"), "RUST_LOG=trace produced no trace lines:\n{log}");
    assert!(log.contains("/scim/v2/Users"), "requests are not logged at all at trace level");
    let leaked: Vec<String> = secrets
        .iter()
        .filter(|(_, secret)| log.contains(secret.as_str()))
        .map(|(what, secret)| {
            let line = log.lines().find(|l| l.contains(secret.as_str())).unwrap_or_default();
            format!("{what} in: {}", line.chars().take(400).collect::<String>())
        })
        .collect();
    assert!(
        leaked.is_empty(),
        "{backend:?}: secrets in the logs ({} lines):\n  {}",
        log.lines().count(),
        leaked.join("\n  ")
    );
    assert!(!log.contains("panicked"), "{log}");
    let names: Vec<&str> = secrets.iter().map(|(what, _)| what.as_str()).collect();
    eprintln!("{backend:?}: {} log lines, none contains: {}", log.lines().count(), names.join(", "));
}

#[tokio::test]
async fn sqlite_full_run_at_trace_level_logs_no_secret() {
    full_run(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_full_run_at_trace_level_logs_no_secret() {
    full_run(Backend::Postgres).await;
}
