//! Helpers for the admin API and console tests.

use crate::common::{Resp, TestServer, send};
use serde_json::Value;
use std::process::Stdio;
use tokio::io::AsyncWriteExt;

/// An `admin`-scope token of the service `default`.
pub async fn admin_token(srv: &TestServer) -> String {
    srv.cli_ok(&["token", "create", "--service", "default", "--scope", "admin"]).await.trim().to_owned()
}

/// Calls the admin API with `token`.
pub async fn api(srv: &TestServer, token: &str, method: reqwest::Method, path: &str, body: Option<&Value>) -> Resp {
    let mut req = srv.client.request(method, format!("{}/api/v1{path}", srv.root_url)).bearer_auth(token);
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b.to_string());
    }
    send(req).await
}

/// Asserts the admin API's error body: `{"error": code, "message": …}` as JSON.
#[track_caller]
pub fn expect_error(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status.as_u16(), status, "body: {}", r.text);
    assert!(r.header("content-type").is_some_and(|c| c.starts_with("application/json")), "{:?}", r.headers);
    assert_eq!(r.body["error"], Value::from(code), "body: {}", r.text);
    assert!(r.body["message"].as_str().is_some_and(|m| !m.is_empty()), "body: {}", r.text);
    assert_eq!(r.body.as_object().map(|o| o.len()), Some(2), "exactly error and message: {}", r.text);
}

/// Runs `scimd <args>` on the server's storage with `stdin` as standard input.
pub async fn cli_with_stdin(srv: &TestServer, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_scimd"));
    cmd.args(args).arg("--data-dir").arg(&srv.data_dir);
    if let Some(url) = &srv.database_url {
        cmd.arg("--database-url").arg(url);
    }
    for (k, _) in std::env::vars() {
        if k.starts_with("SCIMD_") {
            cmd.env_remove(k);
        }
    }
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let out = child.wait_with_output().await.unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Creates an administrator with a generated password; returns the password.
pub async fn new_admin(srv: &TestServer, name: &str) -> String {
    let out = srv.cli_ok(&["admin", "create", name]).await;
    out.lines()
        .find_map(|l| l.trim().strip_prefix("Password:"))
        .map(|p| p.trim().to_owned())
        .unwrap_or_else(|| panic!("no password printed: {out}"))
}

/// A browser-like console client: keeps cookies, follows nothing by itself.
pub struct Console<'a> {
    pub srv: &'a TestServer,
    pub client: reqwest::Client,
    pub cookies: std::collections::BTreeMap<String, String>,
}

impl<'a> Console<'a> {
    pub fn new(srv: &'a TestServer) -> Self {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { srv, client, cookies: Default::default() }
    }

    fn remember(&mut self, r: &reqwest::Response) {
        for v in r.headers().get_all("set-cookie") {
            let text = v.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (k, val) = pair.split_once('=').unwrap();
            if text.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), val.to_owned());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    pub async fn get(&mut self, path: &str) -> Resp {
        let r = self
            .client
            .get(format!("{}{path}", self.srv.root_url))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.finish(r).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Resp {
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let r = self
            .client
            .post(format!("{}{path}", self.srv.root_url))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        self.finish(r).await
    }

    async fn finish(&mut self, r: reqwest::Response) -> Resp {
        self.remember(&r);
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        Resp { status, headers, body: Value::Null, text }
    }

    /// Signs in; asserts the redirect to the console.
    pub async fn sign_in(&mut self, name: &str, password: &str) {
        let r = self.try_sign_in(name, password).await;
        assert_eq!(r.status.as_u16(), 303, "sign-in failed: {}", r.text);
        assert_eq!(r.header("location"), Some("/console"));
    }

    pub async fn try_sign_in(&mut self, name: &str, password: &str) -> Resp {
        let page = self.get("/console/login").await;
        let csrf = hidden(&page.text, "csrf");
        self.post("/console/login", &[("name", name), ("password", password), ("csrf", &csrf)]).await
    }
}

/// The value of the first hidden input `name` of a page.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no hidden {name} in {html}")) + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}
