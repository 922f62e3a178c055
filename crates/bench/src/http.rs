//! The HTTP side: plain HTTP/1.1 keep-alive connections (no TLS: the tool targets a server on
//! this machine), every request bounded by a timeout.
//!
//! The tool shares the machine's cores with the server it measures, so the client is kept lean:
//! a plain stack of idle connections (no per-host pool map, no URL parsing per request), each
//! request written in origin form with its `Host` header, on the tool's single-threaded runtime.

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

const SCIM_JSON: &str = "application/scim+json";

type Connection = SendRequest<Full<Bytes>>;

#[derive(Clone)]
pub struct Http {
    /// `host:port` to connect to.
    authority: Arc<str>,
    /// The base URL's path without a trailing slash, e.g. `/scim/v2`.
    base_path: Arc<str>,
    host: HeaderValue,
    auth: HeaderValue,
    accept: HeaderValue,
    content_type: HeaderValue,
    timeout: Duration,
    /// Idle keep-alive connections; a request takes one (or opens one) and gives it back.
    idle: Arc<Mutex<Vec<Connection>>>,
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
    pub fn new(base: &str, token: &str, timeout: Duration, allow_remote: bool) -> anyhow::Result<Self> {
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
        let authority = match uri.port_u16() {
            Some(port) => format!("{host}:{port}"),
            None => format!("{host}:80"),
        };
        let host_header = uri.authority().map_or(host, |a| a.as_str());
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", token.trim()))
            .context("the token is not a valid header value")?;
        auth.set_sensitive(true);
        Ok(Http {
            authority: authority.into(),
            base_path: uri.path().trim_end_matches('/').into(),
            host: HeaderValue::from_str(host_header).context("--url: the host is not a valid header value")?,
            auth,
            accept: HeaderValue::from_static(SCIM_JSON),
            content_type: HeaderValue::from_static(SCIM_JSON),
            timeout,
            idle: Arc::default(),
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
            .uri(format!("{}{path}", self.base_path))
            .header(HOST, self.host.clone())
            .header(AUTHORIZATION, self.auth.clone())
            .header(ACCEPT, self.accept.clone());
        if body.is_some() {
            builder = builder.header(CONTENT_TYPE, self.content_type.clone());
        }
        let request = builder
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| Failure::Transport(format!("request: {e}")))?;
        let mut connection = self.connection().await?;
        let response = connection.send_request(request).await.map_err(|e| Failure::Transport(error_chain(&e)))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| Failure::Transport(format!("reading the body: {}", error_chain(&e))))?
            .to_bytes();
        // Only a connection whose exchange completed goes back: it is ready for the next request.
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(connection);
        }
        Ok(Response { status, body })
    }

    /// An idle connection that is still open, or a new one.
    async fn connection(&self) -> Result<Connection, Failure> {
        loop {
            let reused = self.idle.lock().ok().and_then(|mut idle| idle.pop());
            match reused {
                Some(mut c) if !c.is_closed() => {
                    if c.ready().await.is_ok() {
                        return Ok(c);
                    }
                }
                Some(_) => {}
                None => break,
            }
        }
        let stream = TcpStream::connect(&*self.authority)
            .await
            .map_err(|e| Failure::Transport(format!("connecting to {}: {e}", self.authority)))?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| Failure::Transport(format!("HTTP handshake: {}", error_chain(&e))))?;
        tokio::spawn(async move {
            // Ends when the server closes the connection or the sender is dropped.
            let _ = connection.await;
        });
        Ok(sender)
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
