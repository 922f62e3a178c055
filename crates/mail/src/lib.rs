//! Email for scimd: templates and delivery.
//!
//! - [`template`]: the embedded templates (subject, text, HTML; `en` and `fr`) and their
//!   renderer;
//! - [`Mailer`]: the delivery port, with [`SmtpMailer`] (SMTP with lettre, plain, STARTTLS or
//!   implicit TLS, one connection kept open between messages), [`FileMailer`] (`.eml` files: the default when no SMTP server is
//!   configured, so a newcomer sees the messages) and [`MemoryMailer`] (tests).
//!
//! The outbox worker owns retries: a mailer makes exactly one attempt per call and says
//! whether a failure is worth retrying ([`SendError`]).

mod background;
mod smtp;
pub mod template;

use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use std::path::PathBuf;
use std::sync::Mutex;

pub use background::{BACKGROUND_NICE, BackgroundMailer};
pub use smtp::SmtpMailer;
pub use template::{Language, RenderError, Rendered, render};

/// One message to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// `<…@…>`; see [`message_id`].
    pub message_id: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Email {
    pub fn new(message_id: String, to: String, rendered: Rendered) -> Self {
        Self { message_id, to, subject: rendered.subject, text: rendered.text, html: rendered.html }
    }
}

/// The Message-ID of an outbox row: derived from the row's id and creation instant only, so
/// every retry of the row carries the same Message-ID (a receiver, or an administrator, can
/// spot a duplicate) and two databases are unlikely to produce the same one.
pub fn message_id(outbox_id: i64, created: time::OffsetDateTime, domain: &str) -> String {
    let created_ms = created.unix_timestamp_nanos() / 1_000_000;
    format!("<outbox-{outbox_id}.{created_ms}@{domain}>")
}

/// Why a delivery attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth retrying later: server unreachable, timeout, 4xx reply.
    #[error("{0}")]
    Transient(String),
    /// Retrying cannot help: invalid address, 5xx reply.
    #[error("{0}")]
    Permanent(String),
}

impl SendError {
    pub fn is_permanent(&self) -> bool {
        matches!(self, SendError::Permanent(_))
    }
}

/// A wrong mailer configuration, found at startup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

/// Delivers messages. One attempt per call; the caller retries.
#[async_trait::async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// Delivers `email`. On success, a short note for the log (the server's reply, the file
    /// written).
    async fn send(&self, email: &Email) -> Result<String, SendError>;
    /// What this mailer delivers to, without secrets (startup log).
    fn describe(&self) -> String;
}

/// Builds the MIME message: multipart/alternative with the text and HTML parts.
pub fn build_message(from: &Mailbox, email: &Email) -> Result<Message, SendError> {
    let to: Mailbox = email.to.parse().map_err(|e| SendError::Permanent(format!("invalid recipient address: {e}")))?;
    Message::builder()
        .message_id(Some(email.message_id.clone()))
        .from(from.clone())
        .to(to)
        .subject(email.subject.clone())
        .multipart(MultiPart::alternative_plain_html(email.text.clone(), email.html.clone()))
        .map_err(|e| SendError::Permanent(format!("cannot build the message: {e}")))
}

/// Parses a sender such as `MFA <noreply@example.com>`.
pub fn parse_from(from: &str) -> Result<Mailbox, ConfigError> {
    from.parse().map_err(|e| ConfigError(format!("invalid sender address {from:?}: {e}")))
}

/// Writes each message as an `.eml` file (RFC 5322, openable by any mail client) into a
/// directory: the embedded default when no SMTP server is configured.
pub struct FileMailer {
    dir: PathBuf,
    from: Mailbox,
}

impl FileMailer {
    pub fn new(dir: PathBuf, from: Mailbox) -> Self {
        Self { dir, from }
    }
}

#[async_trait::async_trait]
impl Mailer for FileMailer {
    async fn send(&self, email: &Email) -> Result<String, SendError> {
        let message = build_message(&self.from, email)?;
        // Named after the Message-ID: a retry overwrites the same file instead of adding one.
        let stem: String = email
            .message_id
            .trim_matches(['<', '>'])
            .split('@')
            .next()
            .unwrap_or_default()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' })
            .collect();
        let dir = self.dir.clone();
        let path = self.dir.join(format!("{stem}.eml"));
        let tmp = self.dir.join(format!(".{stem}.eml.tmp"));
        let bytes = message.formatted();
        // One blocking task for the three file operations (one thread handoff, not three).
        let target = path.clone();
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            // Written then renamed, so a reader never sees half a message.
            std::fs::write(&tmp, bytes).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
            std::fs::rename(&tmp, &target).map_err(|e| format!("cannot write {}: {e}", target.display()))
        })
        .await
        .map_err(|e| SendError::Transient(e.to_string()))?
        .map_err(SendError::Transient)?;
        Ok(format!("written to {}", path.display()))
    }

    fn describe(&self) -> String {
        format!(".eml files in {}", self.dir.display())
    }
}

/// Keeps messages in memory (tests).
#[derive(Default)]
pub struct MemoryMailer {
    sent: Mutex<Vec<Email>>,
}

impl MemoryMailer {
    pub fn sent(&self) -> Vec<Email> {
        self.sent.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

#[async_trait::async_trait]
impl Mailer for MemoryMailer {
    async fn send(&self, email: &Email) -> Result<String, SendError> {
        if let Ok(mut v) = self.sent.lock() {
            v.push(email.clone());
        }
        Ok("kept in memory".to_owned())
    }

    fn describe(&self) -> String {
        "memory".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn email(to: &str) -> Email {
        let rendered = render(
            "activation",
            &serde_json::json!({
                "login": "jane", "service": "S", "link": "https://x/activate?code=c",
                "expires_at": "2026-12-19T15:52:28.123Z", "language": "fr"
            }),
        )
        .expect("render");
        Email::new(message_id(7, time::macros::datetime!(2026-01-01 0:00 UTC), "mfa.example.com"), to.into(), rendered)
    }

    #[test]
    fn message_ids_are_stable_per_row() {
        let t = time::macros::datetime!(2026-01-01 0:00 UTC);
        assert_eq!(message_id(7, t, "h"), message_id(7, t, "h"));
        assert_ne!(message_id(7, t, "h"), message_id(8, t, "h"));
        assert_eq!(message_id(7, t, "h"), "<outbox-7.1767225600000@h>");
    }

    #[test]
    fn urls_are_checked_and_passwords_hidden() {
        let from = parse_from("MFA <noreply@example.com>").expect("from");
        let t = Duration::from_secs(5);
        let plain = SmtpMailer::new("smtp://127.0.0.1:2525", from.clone(), t).expect("plain");
        assert_eq!(plain.describe(), "SMTP smtp://127.0.0.1:2525 (no encryption)");
        let starttls = SmtpMailer::new("smtp://mail.example.com:587?tls=starttls", from.clone(), t).expect("starttls");
        assert!(starttls.describe().ends_with("(STARTTLS)"));
        let tls = SmtpMailer::new("smtps://user:s3cret@mail.example.com:465", from.clone(), t).expect("smtps");
        assert_eq!(tls.describe(), "SMTP smtps://user:***@mail.example.com:465 (implicit TLS)");
        for bad in ["http://x", "mail.example.com:25", "smtp://x?tls=bogus"] {
            assert!(SmtpMailer::new(bad, from.clone(), t).is_err(), "{bad}");
        }
    }

    #[test]
    fn messages_carry_id_both_parts_and_an_invalid_recipient_is_permanent() {
        let from = parse_from("noreply@127.0.0.1").expect("from");
        let m = build_message(&from, &email("jane@example.com")).expect("message");
        let raw = String::from_utf8(m.formatted()).expect("utf8");
        assert!(raw.contains("Message-ID: <outbox-7.1767225600000@mfa.example.com>"), "{raw}");
        assert!(raw.contains("multipart/alternative") && raw.contains("text/html"));
        let err = build_message(&from, &email("not an address")).expect_err("refused");
        assert!(err.is_permanent());
    }

    /// Regression (issue 8): lettre bounds only the TCP connect; a server that accepts and
    /// never speaks held the send, the outbox worker and a graceful shutdown forever.
    #[tokio::test]
    async fn a_silent_smtp_server_fails_the_send_within_four_timeouts() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let _held = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                held.push(s);
            }
        });
        let from = parse_from("noreply@localhost").expect("from");
        let mailer =
            SmtpMailer::new(&format!("smtp://127.0.0.1:{port}"), from, Duration::from_millis(250)).expect("mailer");
        let started = std::time::Instant::now();
        let err = mailer.send(&email("jane@example.com")).await.expect_err("a silent server cannot take mail");
        assert!(!err.is_permanent(), "{err}");
        assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    }

    #[tokio::test]
    async fn file_mailer_writes_one_file_per_message_id() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mailer = FileMailer::new(dir.path().join("outbox"), parse_from("noreply@localhost").expect("from"));
        let e = email("jane@example.com");
        mailer.send(&e).await.expect("first");
        mailer.send(&e).await.expect("retry");
        let files: Vec<_> = std::fs::read_dir(dir.path().join("outbox")).expect("dir").collect();
        assert_eq!(files.len(), 1);
        let raw = std::fs::read_to_string(dir.path().join("outbox/outbox-7.1767225600000.eml")).expect("eml");
        assert!(raw.contains("To: jane@example.com"));
    }
}
