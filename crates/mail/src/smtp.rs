//! Delivery over SMTP: lettre speaks the protocol (EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA);
//! this module opens the TCP connections and keeps one open between messages.
//!
//! Why not lettre's own transport: it leaves Nagle's algorithm on. lettre writes a message's
//! body and its final `<CRLF>.<CRLF>` in two writes, so the second waits for the server to
//! acknowledge the first, and a Linux server delays that acknowledgement by 40 ms when the
//! body fits in one segment, as it always does on loopback. Against a relay on the same host
//! every message took 40 ms: 24 activation emails a second (lettre/lettre#1159 fixes this
//! upstream, not yet released). Our sockets set `TCP_NODELAY`.

use crate::{ConfigError, Email, Mailer, SendError, build_message};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

/// How the connection is protected, from the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    /// `smtp://host` — no encryption.
    Plain,
    /// `smtp://host?tls=starttls` (or `required`): STARTTLS, refused if the server lacks it.
    StartTlsRequired,
    /// `smtp://host?tls=opportunistic`: STARTTLS when the server offers it.
    StartTlsOpportunistic,
    /// `smtps://host`: TLS from the first byte (RFC 8314 §3.3).
    Implicit,
}

/// Where and how to connect, parsed from `--smtp-url`.
#[derive(Debug)]
struct Endpoint {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    hello: ClientId,
}

impl Endpoint {
    fn parse(url: &str) -> Result<Self, ConfigError> {
        let parsed = url::Url::parse(url).map_err(|e| ConfigError(format!("invalid SMTP URL {}: {e}", redact(url))))?;
        let tls = parsed.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.to_ascii_lowercase());
        let security = match (parsed.scheme(), tls.as_deref()) {
            ("smtp", None) => Security::Plain,
            ("smtp", Some("starttls" | "required")) => Security::StartTlsRequired,
            ("smtp", Some("opportunistic")) => Security::StartTlsOpportunistic,
            ("smtps", None) => Security::Implicit,
            ("smtp" | "smtps", Some(other)) => {
                return Err(ConfigError(format!(
                    "invalid SMTP URL {}: tls={other} is not one of starttls, required, opportunistic",
                    redact(url)
                )));
            }
            _ => {
                return Err(ConfigError(format!(
                    "SMTP URL {} must start with smtp:// (plain or ?tls=starttls) or smtps:// (implicit TLS)",
                    redact(url)
                )));
            }
        };
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| ConfigError(format!("SMTP URL {} names no host", redact(url))))?
            .trim_matches(['[', ']'])
            .to_owned();
        // RFC 8314 §3.3 (465, implicit TLS), RFC 6409 §3.1 (587, submission), RFC 5321 §4.5.4 (25).
        let default_port = match security {
            Security::Plain => 25,
            Security::StartTlsRequired | Security::StartTlsOpportunistic => 587,
            Security::Implicit => 465,
        };
        let decode = |s: &str| -> Result<String, ConfigError> {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| ConfigError(format!("SMTP URL {}: credentials are not UTF-8", redact(url))))
        };
        let credentials = match (parsed.username(), parsed.password()) {
            ("", None) => None,
            (user, password) => Some(Credentials::new(decode(user)?, decode(password.unwrap_or_default())?)),
        };
        // A path names the EHLO host, as lettre's URLs do: smtp://relay:25/mfa.example.com.
        let path = parsed.path().trim_matches('/');
        let hello = if path.is_empty() { ClientId::default() } else { ClientId::Domain(path.to_owned()) };
        Ok(Self { host, port: parsed.port().unwrap_or(default_port), security, credentials, hello })
    }
}

/// An idle connection is reused for the next message if it is younger than this. Servers wait
/// at least 5 minutes for the next command (RFC 5321 §4.5.3.2.7), but busy relays shorten it
/// (Postfix under stress: 10 s); a message that finds its connection closed is sent again on a
/// new one.
const REUSE_WITHIN: Duration = Duration::from_secs(5);

/// Delivery over SMTP.
pub struct SmtpMailer {
    endpoint: Endpoint,
    from: Mailbox,
    described: String,
    /// Bounds the TCP connect; see [`SmtpMailer::send_timeout`] for the whole send.
    timeout: Duration,
    send_timeout: Duration,
    /// Built once: the root store is parsed at startup, not per connection.
    implicit_tls: Option<tokio_rustls::TlsConnector>,
    /// The connection left open by the previous message, and when it was last used.
    idle: Mutex<Option<(AsyncSmtpConnection, Instant)>>,
    /// [`REUSE_WITHIN`]; shorter in tests.
    reuse_within: Duration,
}

impl SmtpMailer {
    /// Accepts `smtp://host:port` (no encryption), `smtp://host:587?tls=starttls` (STARTTLS
    /// required; `tls=required` and `tls=opportunistic` are lettre's own spellings),
    /// `smtps://user:pass@host:465` (implicit TLS). Credentials may be given in any form;
    /// percent-encode special characters in them. `timeout` bounds the connect, and the whole
    /// send is bounded by [`SmtpMailer::send_timeout`], so a silent server cannot hold a
    /// message (and its lease) forever.
    pub fn new(url: &str, from: Mailbox, timeout: Duration) -> Result<Self, ConfigError> {
        let endpoint = Endpoint::parse(url)?;
        let mode = match endpoint.security {
            Security::Plain => "no encryption",
            Security::StartTlsRequired => "STARTTLS",
            Security::StartTlsOpportunistic => "STARTTLS if offered",
            Security::Implicit => "implicit TLS",
        };
        let implicit_tls = match endpoint.security {
            Security::Implicit => Some(tls_connector()?),
            _ => None,
        };
        Ok(Self {
            endpoint,
            from,
            described: format!("SMTP {} ({mode})", redact(url)),
            timeout,
            send_timeout: Self::send_timeout(timeout),
            implicit_tls,
            idle: Mutex::new(None),
            reuse_within: REUSE_WITHIN,
        })
    }

    /// The bound on one whole send. A server that accepts the connection and never answers
    /// held a send (the outbox worker, and a graceful shutdown waiting for it) forever
    /// (issue 8): the whole send is bounded by four timeouts, the margin the outbox lease keeps
    /// for one send (`WorkerConfig::lease_for`).
    pub fn send_timeout(timeout: Duration) -> Duration {
        timeout.saturating_mul(4)
    }

    /// Opens a connection: TCP (Nagle off), TLS if implicit, EHLO, STARTTLS, AUTH.
    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let Endpoint { host, port, security, credentials, hello } = &self.endpoint;
        let tcp = tokio::time::timeout(self.timeout, TcpStream::connect((host.as_str(), *port)))
            .await
            .map_err(|_| SendError::Transient(format!("cannot connect to {host}:{port}: timed out")))?
            .map_err(|e| SendError::Transient(format!("cannot connect to {host}:{port}: {e}")))?;
        tcp.set_nodelay(true).map_err(|e| SendError::Transient(format!("cannot set TCP_NODELAY: {e}")))?;
        let stream: Box<dyn AsyncTokioStream> = match &self.implicit_tls {
            Some(connector) => {
                let name = rustls::pki_types::ServerName::try_from(host.clone())
                    .map_err(|e| SendError::Permanent(format!("invalid TLS server name {host}: {e}")))?;
                let tls = connector.connect(name, tcp).await.map_err(|e| {
                    SendError::Transient(format!("TLS handshake with {host}:{port} failed: {e} {TLS_HINT}"))
                })?;
                Box::new(TlsTcp(tls))
            }
            None => Box::new(tcp),
        };
        let mut conn = AsyncSmtpConnection::connect_with_transport(stream, hello).await.map_err(|e| classify(&e))?;
        let starttls = match security {
            Security::StartTlsRequired => true,
            Security::StartTlsOpportunistic => conn.can_starttls(),
            Security::Plain | Security::Implicit => false,
        };
        if starttls {
            let parameters = TlsParameters::new(host.clone()).map_err(|e| classify(&e))?;
            conn.starttls(parameters, hello).await.map_err(|e| classify(&e))?;
        }
        if let Some(credentials) = credentials {
            conn.auth(DEFAULT_MECHANISMS, credentials).await.map_err(|e| classify(&e))?;
        }
        Ok(conn)
    }

    /// Sends on the idle connection if there is a fresh one, else on a new one; a failure on a
    /// reused connection (the server may have closed it meanwhile) is retried once on a new one.
    async fn deliver(&self, envelope: &lettre::address::Envelope, bytes: &[u8]) -> Result<String, SendError> {
        let mut idle = self.idle.lock().await;
        let reusable = match idle.take() {
            Some((conn, since)) if !conn.has_broken() && since.elapsed() < self.reuse_within => Some(conn),
            Some((mut stale, _)) => {
                // Said goodbye (RFC 5321 §4.1.1.10) rather than dropped: a relay logs a
                // dropped connection as lost. One second at most: it may be gone already.
                let _ = tokio::time::timeout(Duration::from_secs(1), stale.quit()).await;
                None
            }
            None => None,
        };
        if let Some(mut conn) = reusable {
            if let Ok(response) = conn.send(envelope, bytes).await {
                *idle = Some((conn, Instant::now()));
                return Ok(reply_note(&response));
            }
            conn.abort().await;
        }
        let mut conn = self.connect().await?;
        let response = conn.send(envelope, bytes).await.map_err(|e| classify(&e))?;
        if !conn.has_broken() {
            *idle = Some((conn, Instant::now()));
        }
        Ok(reply_note(&response))
    }
}

fn reply_note(response: &lettre::transport::smtp::response::Response) -> String {
    format!("{} {}", response.code(), response.message().collect::<Vec<_>>().join(" "))
}

#[async_trait::async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, email: &Email) -> Result<String, SendError> {
        let message = build_message(&self.from, email)?;
        let bytes = message.formatted();
        tokio::time::timeout(self.send_timeout, self.deliver(message.envelope(), &bytes)).await.map_err(|_| {
            SendError::Transient(format!(
                "the SMTP server did not complete the exchange within {} s",
                self.send_timeout.as_secs()
            ))
        })?
    }

    fn describe(&self) -> String {
        self.described.clone()
    }
}

/// rustls with the Mozilla root store (webpki-roots), as lettre's STARTTLS uses.
fn tls_connector() -> Result<tokio_rustls::TlsConnector, ConfigError> {
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError(format!("cannot set up TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// A TLS stream over TCP, in the shape lettre takes for a connection it did not open.
struct TlsTcp(tokio_rustls::client::TlsStream<TcpStream>);

impl std::fmt::Debug for TlsTcp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TlsTcp").field(self.0.get_ref().0).finish()
    }
}

impl AsyncTokioStream for TlsTcp {
    fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

impl AsyncRead for TlsTcp {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsTcp {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// The URL without its password, for logs.
fn redact(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, rest)), Some(at)) if at > scheme.len() + 3 => {
            let userinfo = &rest[..at - scheme.len() - 3];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{}", &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// The most common TLS mistake: the wrong scheme for the port.
const TLS_HINT: &str = "(hint: port 465 needs smtps://, port 587 needs smtp://…?tls=starttls)";

/// Turns a lettre error into a [`SendError`], with a hint for the most common mistake.
fn classify(e: &lettre::transport::smtp::Error) -> SendError {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    let lower = text.to_ascii_lowercase();
    if lower.contains("tls") || lower.contains("handshake") || lower.contains("certificate") {
        text.push(' ');
        text.push_str(TLS_HINT);
    }
    if e.is_permanent() { SendError::Permanent(text) } else { SendError::Transient(text) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    #[test]
    fn urls_give_ports_security_credentials_and_hello_name() {
        let e = Endpoint::parse("smtp://relay.example.com").expect("plain");
        assert_eq!((e.host.as_str(), e.port, e.security), ("relay.example.com", 25, Security::Plain));
        assert!(e.credentials.is_none());
        let e = Endpoint::parse("smtp://u%40x:p%3Aw@relay:2525/mfa.example.com?tls=STARTTLS").expect("starttls");
        assert_eq!((e.port, e.security), (2525, Security::StartTlsRequired));
        assert_eq!(e.credentials, Some(Credentials::new("u@x".into(), "p:w".into())));
        assert_eq!(e.hello, ClientId::Domain("mfa.example.com".into()));
        assert_eq!(Endpoint::parse("smtp://relay?tls=opportunistic").expect("opp").port, 587);
        assert_eq!(Endpoint::parse("smtps://relay").expect("smtps").port, 465);
        assert_eq!(Endpoint::parse("smtp://[::1]:25").expect("v6").host, "::1");
        let err = Endpoint::parse("smtp://relay?tls=sometimes").expect_err("bad tls");
        assert!(err.to_string().contains("tls=sometimes"), "{err}");
        let err = Endpoint::parse("smtps://user:secret@relay?tls=x").expect_err("bad tls");
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    /// An SMTP server that takes every message and hangs up after `per_connection` of them,
    /// as a relay closing an idle or long-lived connection does.
    async fn relay(per_connection: usize) -> (u16, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let (port, connections, messages, _) = relay_counting_quits(per_connection).await;
        (port, connections, messages)
    }

    async fn relay_counting_quits(
        per_connection: usize,
    ) -> (u16, Arc<AtomicUsize>, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (connections, messages) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let quits = Arc::new(AtomicUsize::new(0));
        let (c, m, q) = (Arc::clone(&connections), Arc::clone(&messages), Arc::clone(&quits));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                let (m, q) = (Arc::clone(&m), Arc::clone(&q));
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut lines = BufReader::new(read).lines();
                    let _ = write.write_all(b"220 test relay\r\n").await;
                    let (mut in_data, mut taken) = (false, 0);
                    while let Ok(Some(line)) = lines.next_line().await {
                        let reply: &[u8] = if in_data {
                            if line != "." {
                                continue;
                            }
                            in_data = false;
                            taken += 1;
                            m.fetch_add(1, Ordering::SeqCst);
                            b"250 queued\r\n"
                        } else if line.starts_with("EHLO") {
                            b"250-test relay\r\n250 8BITMIME\r\n"
                        } else if line == "DATA" {
                            in_data = true;
                            b"354 go on\r\n"
                        } else if line == "QUIT" {
                            q.fetch_add(1, Ordering::SeqCst);
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        } else {
                            b"250 OK\r\n"
                        };
                        if write.write_all(reply).await.is_err() || taken == per_connection {
                            return;
                        }
                    }
                });
            }
        });
        (port, connections, messages, quits)
    }

    fn email(n: usize) -> Email {
        Email {
            message_id: format!("<m{n}@test>"),
            to: "jane@example.com".into(),
            subject: "s".into(),
            text: "t".into(),
            html: "<p>h</p>".into(),
        }
    }

    fn mailer(port: u16) -> SmtpMailer {
        mailer_for(&format!("smtp://127.0.0.1:{port}"))
    }

    fn mailer_for(url: &str) -> SmtpMailer {
        let from = crate::parse_from("noreply@localhost").expect("from");
        SmtpMailer::new(url, from, Duration::from_secs(5)).expect("mailer")
    }

    #[tokio::test]
    async fn messages_in_a_row_share_one_connection() {
        let (port, connections, messages) = relay(usize::MAX).await;
        let mailer = mailer(port);
        for n in 0..3 {
            let note = mailer.send(&email(n)).await.expect("sent");
            assert_eq!(note, "250 queued");
        }
        assert_eq!((connections.load(Ordering::SeqCst), messages.load(Ordering::SeqCst)), (1, 3));
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_is_replaced_without_losing_the_message() {
        let (port, connections, messages) = relay(2).await;
        let mailer = mailer(port);
        for n in 0..5 {
            mailer.send(&email(n)).await.expect("sent");
        }
        assert_eq!(messages.load(Ordering::SeqCst), 5);
        assert_eq!(connections.load(Ordering::SeqCst), 3);
    }

    /// The test relay offers no STARTTLS: required refuses to send in the clear, opportunistic
    /// sends, and implicit TLS fails its handshake with the hint.
    #[tokio::test]
    async fn tls_modes_against_a_relay_without_tls() {
        let (port, _, messages) = relay(usize::MAX).await;
        let err =
            mailer_for(&format!("smtp://127.0.0.1:{port}?tls=starttls")).send(&email(0)).await.expect_err("clear");
        assert!(err.to_string().to_ascii_lowercase().contains("starttls"), "{err}");
        mailer_for(&format!("smtp://127.0.0.1:{port}?tls=opportunistic")).send(&email(1)).await.expect("plain");
        let err = mailer_for(&format!("smtps://127.0.0.1:{port}")).send(&email(2)).await.expect_err("no TLS");
        assert!(!err.is_permanent() && err.to_string().contains("hint: port 465 needs smtps://"), "{err}");
        assert_eq!(messages.load(Ordering::SeqCst), 1);
    }

    /// A connection idle for longer than the reuse window is closed with QUIT, not dropped,
    /// and the message goes on a new one.
    #[tokio::test]
    async fn a_stale_connection_is_closed_with_quit() {
        let (port, connections, messages, quits) = relay_counting_quits(usize::MAX).await;
        let mut mailer = mailer(port);
        mailer.reuse_within = Duration::from_millis(50);
        mailer.send(&email(0)).await.expect("first");
        tokio::time::sleep(Duration::from_millis(100)).await;
        mailer.send(&email(1)).await.expect("second");
        assert_eq!(quits.load(Ordering::SeqCst), 1);
        assert_eq!((connections.load(Ordering::SeqCst), messages.load(Ordering::SeqCst)), (2, 2));
    }
}
