//! The HTTP side: one keep-alive connection pool shared by every worker, plain HTTP/1.1 (no
//! TLS: the tool targets a server on this machine), every request bounded by a timeout.

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SCIM_JSON: &str = "application/scim+json";

#[derive(Clone)]
pub struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    /// The SCIM base URL without a trailing slash, e.g. `http://127.0.0.1:8080/scim/v2`.
    base: Arc<str>,
    auth: HeaderValue,
    accept: HeaderValue,
    content_type: HeaderValue,
    timeout: Duration,
}

pub struct Response {
    pub status: u16,
    pub body: Bytes,
}

/// A request that got no HTTP response.
pub enum Failure {
    Timeout,
    Transport(String),
}

impl Failure {
    /// The key errors are counted under.
    pub fn key(&self) -> &'static str {
        match self {
            Failure::Timeout => "timeout",
            Failure::Transport(_) => "transport",
        }
    }

    pub fn detail(&self) -> String {
        match self {
            Failure::Timeout => "no response within the request timeout".to_owned(),
            Failure::Transport(e) => e.clone(),
        }
    }
}

impl Http {
    pub fn new(
        base: &str,
        token: &str,
        pool_size: usize,
        timeout: Duration,
        allow_remote: bool,
    ) -> anyhow::Result<Self> {
        let base = base.trim_end_matches('/');
        let uri: Uri = base.parse().with_context(|| format!("--url {base:?} is not a URL"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => bail!("--url: https is not supported (plain HTTP only; the tool targets a local server)"),
            _ => bail!("--url must start with http://"),
        }
        if uri.query().is_some() {
            bail!("--url: give the SCIM base URL without a query string");
        }
        let host = uri.host().context("--url has no host")?;
        if !allow_remote && !is_loopback(host) {
            bail!("--url host {host:?} is not a loopback address; pass --allow-remote to load a server elsewhere");
        }
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", token.trim()))
            .context("the token is not a valid header value")?;
        auth.set_sensitive(true);
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_keepalive(Some(Duration::from_secs(60)));
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(pool_size.max(1))
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        Ok(Http {
            client,
            base: base.into(),
            auth,
            accept: HeaderValue::from_static(SCIM_JSON),
            content_type: HeaderValue::from_static(SCIM_JSON),
            timeout,
        })
    }

    /// Sends `method base+path` and reads the whole response body. Returns the time from just
    /// before sending to the last body byte.
    pub async fn send(&self, method: Method, path: &str, body: Option<Bytes>) -> (Duration, Result<Response, Failure>) {
        let start = Instant::now();
        let result = tokio::time::timeout(self.timeout, self.exchange(method, path, body)).await;
        let elapsed = start.elapsed();
        match result {
            Ok(r) => (elapsed, r),
            Err(_) => (elapsed, Err(Failure::Timeout)),
        }
    }

    async fn exchange(&self, method: Method, path: &str, body: Option<Bytes>) -> Result<Response, Failure> {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header(AUTHORIZATION, self.auth.clone())
            .header(ACCEPT, self.accept.clone());
        if body.is_some() {
            builder = builder.header(CONTENT_TYPE, self.content_type.clone());
        }
        let request = builder
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| Failure::Transport(format!("request: {e}")))?;
        let response = self.client.request(request).await.map_err(|e| Failure::Transport(error_chain(&e)))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| Failure::Transport(format!("reading the body: {}", error_chain(&e))))?
            .to_bytes();
        Ok(Response { status, body })
    }
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn loopback_hosts() {
        for host in ["localhost", "127.0.0.1", "127.1.2.3", "[::1]", "::1"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["example.com", "10.0.0.1", "192.168.1.1", "0.0.0.0", "[::]"] {
            assert!(!is_loopback(host), "{host}");
        }
    }
}
