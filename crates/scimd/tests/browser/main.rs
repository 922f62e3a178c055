//! The admin console in a real browser: headless Chromium driven over WebDriver
//! (chromedriver + fantoccini), against the real `scimd serve` on a fresh database.
//!
//! The flow is what a new operator does: start scimd, sign in with the credentials it printed,
//! see a user that Entra provisioned over SCIM with its status, block it, switch off the
//! activation email, create and revoke a token, read the provisioning log. Screenshots of the
//! main pages are saved under `target/screenshots/`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (scripts/test-all.sh installs them). Without
//! them the test fails, unless `SCIMD_TEST_SKIP_BROWSER=1` says to skip it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// What `scimd serve` printed at its first start.
struct Server {
    root: String,
    scim_token: String,
    console_url: String,
    admin: String,
    password: String,
    data_dir: PathBuf,
    _child: Child,
    _dir: tempfile::TempDir,
}

async fn start_scimd() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_path_buf();
    let log = std::fs::File::create(data_dir.join("server.log")).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_scimd"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"]).arg(&data_dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("SCIMD_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("RUST_LOG", "info,tower_http=warn");
    // No WAL reserve: each of the many test servers would zero-fill and sync 128 MiB. The
    // reserve has its own tests (store crate; the crash tests run with a small one).
    cmd.env("SCIMD_SQLITE_WAL_RESERVE_MIB", "0");
    cmd.stdout(Stdio::piped()).stderr(Stdio::from(log)).stdin(Stdio::null()).kill_on_drop(true);
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut root, mut token, mut console, mut name, mut password) = (None, None, None, None, None);
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let l = line.trim();
            let after = |p: &str| l.strip_prefix(p).map(|v| v.trim().to_owned());
            token = token.take().or_else(|| after("Secret Token:"));
            console = console.take().or_else(|| after("Console:"));
            name = name.take().or_else(|| after("Name:"));
            password = password.take().or_else(|| after("Password:"));
            if let Some(a) = after("scimd listening on") {
                root = Some(a);
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read).await.expect("scimd printed its address");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Server {
        root: root.unwrap(),
        scim_token: token.expect("a SCIM token printed at first start"),
        console_url: console.expect("the console URL printed at first start"),
        admin: name.expect("the administrator printed at first start"),
        password: password.expect("the administrator's password printed at first start"),
        data_dir,
        _child: child,
        _dir: dir,
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn start_chromedriver() -> (Child, String) {
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start chromedriver");
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if http.get(format!("{url}/status")).send().await.is_ok_and(|r| r.status().is_success()) {
            return (child, url);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start on port {port}");
}

async fn browser(webdriver: &str, profile: &Path) -> Client {
    let args = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,950",
        &format!("--user-data-dir={}", profile.display()),
    ];
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), json!({"binary": CHROMIUM, "args": args}));
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector).capabilities(caps).connect(webdriver).await.expect("a Chromium session")
}

fn screenshots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshots_dir().join(format!("{name}.png")), png).unwrap();
}

async fn text_of(c: &Client, css: &str) -> String {
    c.wait().for_element(Locator::Css(css)).await.unwrap().text().await.unwrap()
}

async fn click(c: &Client, css: &str) {
    c.wait().for_element(Locator::Css(css)).await.unwrap().click().await.unwrap();
}

/// Waits until the page's title is `h1` (the navigation a click started has finished).
async fn expect_h1(c: &Client, h1: &str) {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(e) = c.find(Locator::Css("main h1")).await
            && let Ok(t) = e.text().await
        {
            if t == h1 {
                return;
            }
            last = t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the page never showed {h1:?}; last title {last:?} at {:?}", c.current_url().await);
}

async fn body(c: &Client) -> String {
    text_of(c, "body").await
}

#[tokio::test]
async fn an_operator_runs_the_console_in_chromium() {
    let missing = !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists();
    if missing {
        if std::env::var("SCIMD_TEST_SKIP_BROWSER").is_ok_and(|v| v == "1") {
            eprintln!("skipping the browser test: SCIMD_TEST_SKIP_BROWSER=1");
            return;
        }
        panic!(
            "{CHROMIUM} or {CHROMEDRIVER} is missing: run scripts/test-all.sh (or apt-get install chromium chromium-driver), or set SCIMD_TEST_SKIP_BROWSER=1"
        );
    }
    let srv = start_scimd().await;
    let (_driver, webdriver) = start_chromedriver().await;
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&webdriver, profile.path()).await;
    // The flow runs in its own task so that the browser is closed even when it fails.
    let flow = tokio::spawn(flow(c.clone(), srv));
    let outcome = flow.await;
    let _ = c.close().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn scim(srv: &Server, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req =
        reqwest::Client::new().request(method, format!("{}/scim/v2{path}", srv.root)).bearer_auth(&srv.scim_token);
    if let Some(b) = body {
        req = req.header("content-type", "application/scim+json").body(b.to_string());
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn flow(c: Client, srv: Server) {
    let mfa = "urn:scimd:schemas:extension:mfa:1.0:User";
    // 1. Sign in with what `scimd serve` printed.
    c.goto(&srv.console_url).await.unwrap();
    c.wait().for_element(Locator::Css("input[name=password]")).await.unwrap();
    assert!(c.current_url().await.unwrap().path().ends_with("/console/login"));
    shot(&c, "01-sign-in").await;
    c.wait().for_element(Locator::Css("input[name=name]")).await.unwrap().send_keys(&srv.admin).await.unwrap();
    c.wait().for_element(Locator::Css("input[name=password]")).await.unwrap().send_keys(&srv.password).await.unwrap();
    click(&c, "button[type=submit]").await;
    expect_h1(&c, "Services").await;
    assert!(body(&c).await.contains(&format!("Signed in as {}", srv.admin)));
    shot(&c, "02-services").await;

    // 2. Entra provisions a user (an Entra-shaped POST /Users).
    let (status, created) = scim(
        &srv,
        reqwest::Method::POST,
        "/Users",
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "externalId": "7c1f2e9a",
            "userName": "adele.vance@contoso.com",
            "active": true,
            "displayName": "Adele Vance",
            "emails": [{"primary": true, "type": "work", "value": "adele.vance@contoso.com"}],
            "name": {"formatted": "Adele Vance", "familyName": "Vance", "givenName": "Adele"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Retail"}
        })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    for (login, family) in [("megan.bowen@contoso.com", "Bowen"), ("lee.gu@contoso.com", "Gu")] {
        let (s, _) = scim(
            &srv,
            reqwest::Method::POST,
            "/Users",
            Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": login, "active": true,
            "name": {"familyName": family, "givenName": "X"}})),
        )
        .await;
        assert_eq!(s, 201);
    }
    let (s, group) = scim(&srv, reqwest::Method::POST, "/Groups", Some(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Retail", "externalId": "g-retail"})))
    .await;
    assert_eq!(s, 201);
    let gid = group["id"].as_str().unwrap().to_owned();
    let (s, _) = scim(
        &srv,
        reqwest::Method::PATCH,
        &format!("/Groups/{gid}"),
        Some(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Add", "path": "members", "value": [{"value": id}]}]})),
    )
    .await;
    assert_eq!(s, 204);
    scim(&srv, reqwest::Method::GET, "/Users/does-not-exist", None).await;

    // The dashboard counts it.
    click(&c, "main table a").await;
    expect_h1(&c, "Dashboard").await;
    let dash = body(&c).await;
    assert!(dash.contains("Users per status") && dash.contains("Last SCIM request"), "{dash}");
    shot(&c, "03-dashboard").await;

    // 3. The users page shows it with its status badge.
    c.wait().for_element(Locator::LinkText("Users")).await.unwrap().click().await.unwrap();
    expect_h1(&c, "Users").await;
    let row = c.wait().for_element(Locator::XPath("//tr[td/a[text()='adele.vance@contoso.com']]")).await.unwrap();
    let row_text = row.text().await.unwrap();
    assert!(row_text.contains("pending activation"), "{row_text}");
    assert!(row_text.contains("Adele Vance") && row_text.contains("scim"), "{row_text}");
    shot(&c, "04-users").await;
    // Search by name.
    c.wait().for_element(Locator::Css("input[name=q]")).await.unwrap().send_keys("vance").await.unwrap();
    click(&c, "form.filters button").await;
    url_containing(&c, "q=vance").await;
    let rows = c.find_all(Locator::Css("table.users tbody tr")).await.unwrap();
    assert_eq!(rows.len(), 1);

    // 4. Block it and see the badge.
    c.wait().for_element(Locator::LinkText("adele.vance@contoso.com")).await.unwrap().click().await.unwrap();
    expect_h1(&c, "adele.vance@contoso.com").await;
    assert!(body(&c).await.contains("Managed by Entra ID — changes here are overwritten"));
    click(&c, "button.warn").await;
    assert_eq!(text_of(&c, "p.notice").await, "The user is blocked (reason: admin).");
    assert_eq!(text_of(&c, ".badges .badge.blocked").await, "blocked: admin");
    shot(&c, "05-user-blocked").await;
    let (_, user) = scim(&srv, reqwest::Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(user[mfa]["blockReasons"], json!(["admin"]));
    assert_eq!(user["active"], json!(true), "an administrator's block never touches SCIM active");
    c.wait().for_element(Locator::LinkText("← Users")).await.unwrap().click().await.unwrap();
    let row = c.wait().for_element(Locator::XPath("//tr[td/a[text()='adele.vance@contoso.com']]")).await.unwrap();
    assert!(row.text().await.unwrap().contains("blocked: admin"));

    // 5. Switch off the activation email.
    c.wait().for_element(Locator::LinkText("SCIM")).await.unwrap().click().await.unwrap();
    expect_h1(&c, "Service parameters › SCIM").await;
    let tenant = c.wait().for_element(Locator::Css("input.wide")).await.unwrap().prop("value").await.unwrap().unwrap();
    assert_eq!(tenant, format!("{}/scim/v2", srv.root));
    let checkbox = c.wait().for_element(Locator::Css("input[name=send_activation_email]")).await.unwrap();
    assert!(checkbox.is_selected().await.unwrap());
    checkbox.click().await.unwrap();
    shot(&c, "06-settings").await;
    click(&c, "form.stack button.primary").await;
    assert_eq!(text_of(&c, "p.notice").await, "Saved.");
    assert!(
        !c.wait()
            .for_element(Locator::Css("input[name=send_activation_email]"))
            .await
            .unwrap()
            .is_selected()
            .await
            .unwrap()
    );
    let (s, later) = scim(
        &srv,
        reqwest::Method::POST,
        "/Users",
        Some(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "nestor.wilke@contoso.com",
        "emails": [{"type": "work", "value": "nestor.wilke@contoso.com"}]})),
    )
    .await;
    assert_eq!(s, 201);
    assert_eq!(later[mfa]["status"], json!("notActivated"), "no activation email any more");

    // 6. Create an admin token (shown once), use it, revoke it.
    c.wait().for_element(Locator::LinkText("API tokens")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Css("select[name=scope]")).await.unwrap().select_by_value("admin").await.unwrap();
    c.wait()
        .for_element(Locator::Css("input[name=description]"))
        .await
        .unwrap()
        .send_keys("browser test")
        .await
        .unwrap();
    c.wait().for_element(Locator::Css("input[name=expires_in_days]")).await.unwrap().send_keys("30").await.unwrap();
    click(&c, "form.filters button.primary").await;
    let secret = c.wait().for_element(Locator::Css("input.token")).await.unwrap().prop("value").await.unwrap().unwrap();
    assert!(secret.starts_with("scimd_"), "{secret}");
    shot(&c, "07-token-created").await;
    let api = |token: String| {
        let root = srv.root.clone();
        async move {
            reqwest::Client::new()
                .get(format!("{root}/api/v1/users"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(api(secret.clone()).await, 200);
    let prefix = &secret[..14];
    let revoke = format!("//tr[td/code[starts-with(text(), '{prefix}')]]//button");
    c.wait().for_element(Locator::XPath(&revoke)).await.unwrap().click().await.unwrap();
    assert_eq!(text_of(&c, "p.notice").await, "The token was revoked; it stops working at once.");
    let row =
        c.wait().for_element(Locator::XPath(&format!("//tr[td/code[starts-with(text(), '{prefix}')]]"))).await.unwrap();
    assert!(row.text().await.unwrap().contains("revoked"));
    assert!(!body(&c).await.contains(&secret), "the secret is shown only once");
    assert_eq!(api(secret).await, 401);
    shot(&c, "08-tokens").await;

    // 7. The provisioning log, then only failures.
    c.wait().for_element(Locator::LinkText("Provisioning log")).await.unwrap().click().await.unwrap();
    expect_h1(&c, "Provisioning log").await;
    let log = body(&c).await;
    assert!(log.contains("create user adele.vance@contoso.com"), "{log}");
    shot(&c, "09-provisioning-log").await;
    c.wait().for_element(Locator::Css("select[name=outcome]")).await.unwrap().select_by_value("failed").await.unwrap();
    click(&c, "form.filters button").await;
    url_containing(&c, "outcome=failed").await;
    let rows = c.find_all(Locator::Css("table.log tbody tr")).await.unwrap();
    assert_eq!(rows.len(), 1, "only the 404");
    assert!(rows[0].text().await.unwrap().contains("404"));

    // Groups and deleted groups render too.
    c.wait().for_element(Locator::LinkText("Groups")).await.unwrap().click().await.unwrap();
    let row = c.wait().for_element(Locator::XPath("//tr[td/a[text()='Retail']]")).await.unwrap();
    assert!(row.text().await.unwrap().contains('1'));
    shot(&c, "10-groups").await;

    // 8. Sign out: back to the sign-in page, and the console is closed again.
    click(&c, "header button.link").await;
    c.wait().for_element(Locator::Css("input[name=password]")).await.unwrap();
    c.goto(&format!("{}/console/services/1/users", srv.root)).await.unwrap();
    assert!(c.current_url().await.unwrap().path().ends_with("/console/login"));
    let _ = &srv.data_dir;
}

/// Waits until the browser's URL contains `part` (a form's navigation finished).
async fn url_containing(c: &Client, part: &str) -> url::Url {
    for _ in 0..50 {
        let u = c.current_url().await.unwrap();
        if u.as_str().contains(part) {
            return u;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the browser never reached a URL containing {part:?}");
}
